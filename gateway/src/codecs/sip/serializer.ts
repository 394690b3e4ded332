/**
 * SipMessage → wire bytes. Writes canonical header capitalisation (Call-ID, CSeq, WWW-Authenticate, X-GB-ver…),
 * one line per header value, CRLF line ends, and always a Content-Length computed from the body: a stale
 * Content-Length in msg.headers is ignored, so callers can edit bodies freely.
 */
import type { SipMessage } from './message.js';
import { canonicalHeaderName, displayHeaderName } from './headers.js';

/** CR/LF in a value would let a peer-supplied string inject headers; fold them into spaces instead. */
function safeValue(value: string): string {
  return /[\r\n]/.test(value) ? value.replace(/[\r\n]+[ \t]*/g, ' ') : value;
}

export function serializeSipMessage(msg: SipMessage): Buffer {
  let head =
    msg.kind === 'request'
      ? `${msg.method} ${safeValue(msg.uri)} ${msg.version}\r\n`
      : `${msg.version} ${msg.status} ${safeValue(msg.reason)}\r\n`;
  for (const [rawName, value] of msg.headers) {
    // Names should already be canonical (message.ts contract); canonicalising again is cheap insurance.
    const name = canonicalHeaderName(rawName);
    if (name === 'content-length') continue;
    head += `${displayHeaderName(name)}: ${safeValue(value)}\r\n`;
  }
  head += `Content-Length: ${msg.body.length}\r\n\r\n`;
  const headBytes = Buffer.from(head, 'utf8');
  return msg.body.length === 0 ? headBytes : Buffer.concat([headBytes, msg.body], headBytes.length + msg.body.length);
}
