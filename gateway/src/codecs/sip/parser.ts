/**
 * SIP message parser (RFC 3261 §7), bytes in → SipMessage out, nothing else.
 *
 * Why hand-written: the only SIP package on npm with any following, `sip` (kirm/sip.js 0.0.6, unmaintained
 * since ~2019), fuses parsing with its own UDP/TCP transport, transaction layer and callbacks. Its parse
 * function returns `undefined` or half-filled objects on bad input instead of saying what is wrong, it
 * cannot tell us which socket a message came from (we must route by transport source, GB brief §2.3/§10),
 * and it cannot be fuzzed in isolation. A SIP header section is a small, well-specified grammar, so a pure
 * codec we control (strict errors with reasons, size limits, compact forms, folding, bare LF) is less risk
 * than wrapping that package. bench/sip-parse-bench.mjs compares the two for speed.
 *
 * Lenient where real devices deviate (bare LF line ends, mixed-case and compact names, LWS around ':',
 * leading CRLFs, missing Content-Length on UDP), strict where accepting would be dangerous (control bytes,
 * size, Content-Length larger than the data, missing transaction headers).
 */
import type { SipMessage, SipRequest } from './message.js';
import { SipParseError } from './errors.js';
import { MULTI_VALUE_HEADERS, canonicalHeaderName, parseCSeq, parseVia, splitHeaderValues } from './headers.js';

export { SipParseError, type SipParseErrorReason } from './errors.js';

/** Largest SIP message we accept by default (a UDP datagram can be no larger anyway). */
export const DEFAULT_MAX_MESSAGE_BYTES = 65535;

/** Headers without which no transaction can be matched or answered (RFC 3261 §8.1.1). */
export const REQUIRED_HEADERS: readonly string[] = ['via', 'from', 'to', 'call-id', 'cseq'];

export interface ParseOptions {
  /** Reject larger input with reason 'too-large'. Default 65535. */
  maxBytes?: number;
}

/** Zero-length and therefore immutable: safe to share between messages. */
const EMPTY_BODY = Buffer.alloc(0);

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const REQUEST_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(\S+)[ \t]+(SIP\/\d+\.\d+)[ \t]*$/i;
const STATUS_LINE = /^(SIP\/\d+\.\d+)[ \t]+(\d{3})(?:[ \t]+(.*))?$/i;

interface HeadBounds {
  /** Index of the '\n' that ends the last header line (exclusive end of the header text). */
  headEnd: number;
  /** First byte of the body (after the blank line). */
  bodyStart: number;
}

/** First blank line at or after `from`: "\n\n" or "\n\r\n" (covers CRLF, bare LF and mixtures). */
export function findHeadBounds(buf: Buffer, from: number): HeadBounds | null {
  let i = buf.indexOf(0x0a, from);
  while (i >= 0) {
    const next = buf[i + 1];
    if (next === 0x0a) return { headEnd: i, bodyStart: i + 2 };
    if (next === 0x0d && buf[i + 2] === 0x0a) return { headEnd: i, bodyStart: i + 3 };
    i = buf.indexOf(0x0a, i + 1);
  }
  return null;
}

/** Leading CR/LF bytes are ignored before a start line (RFC 3261 §7.5). */
export function skipLeadingLineEnds(buf: Buffer, from = 0): number {
  let i = from;
  while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) i++;
  return i;
}

const TEXT_PLAIN = 0;
const TEXT_HIGH_BYTES = 1;
const TEXT_BINARY = 2;

/**
 * One pass over the header section: TEXT_BINARY when it holds a control byte (not TAB/CR/LF),
 * TEXT_HIGH_BYTES when it needs UTF-8 decoding, else TEXT_PLAIN (decoded faster as latin1).
 */
function classifyText(buf: Buffer, start: number, end: number): number {
  let kind = TEXT_PLAIN;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b < 0x7f) continue;
    if (b >= 0x80) kind = TEXT_HIGH_BYTES;
    else if (b !== 0x09 && b !== 0x0a && b !== 0x0d) return TEXT_BINARY;
  }
  return kind;
}

/** Header text as lines with CR stripped and folded (continuation) lines joined. */
function unfoldLines(text: string): string[] {
  const raw = text.split('\n');
  const lines: string[] = [];
  for (let line of raw) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length > 0 && (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) && lines.length > 1) {
      // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header value.
      lines[lines.length - 1] += ` ${line.trim()}`;
    } else lines.push(line);
  }
  return lines;
}

/**
 * A copy of `s` that does not keep its parent string alive. V8 represents `split`/`slice` results of 13 or
 * more characters as views into the parent, so one retained header value (a device's User-Agent or Contact
 * kept by the registry, a branch kept as a transaction key) would pin the whole message text: at 50,000
 * registered devices the heap held 36 MB of REGISTER texts and 12 MB of keepalive MESSAGE texts that way.
 * Concatenating makes a cons string that `slice` must flatten into a new string of its own, so what stays
 * referenced is the value's length, not the message's.
 */
function detached(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** Parse "Name: value" header lines into canonical [name, value] pairs (splitting Via/Contact/Route lists). */
function parseHeaderLines(lines: readonly string[], from: number): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  for (let n = from; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.includes('\r')) throw new SipParseError('bad-header', 'stray CR inside a header line');
    const colon = line.indexOf(':');
    if (colon <= 0) {
      const what = line.length > 0 && (line[0] === ' ' || line[0] === '\t') ? 'continuation without a header' : 'no colon';
      throw new SipParseError('bad-header', `${what}: "${line.slice(0, 60)}"`);
    }
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) throw new SipParseError('bad-header', `bad header name "${rawName.slice(0, 60)}"`);
    const name = canonicalHeaderName(rawName);
    const value = line.slice(colon + 1).trim();
    if (MULTI_VALUE_HEADERS.has(name)) {
      for (const part of splitHeaderValues(value)) headers.push([name, detached(part)]);
    } else headers.push([name, detached(value)]);
  }
  return headers;
}

/** The Content-Length the headers announce, or undefined when absent. Throws 'bad-header' on garbage. */
export function contentLengthOf(headers: ReadonlyArray<readonly [string, string]>): number | undefined {
  let length: number | undefined;
  for (const [name, value] of headers) {
    if (name !== 'content-length') continue;
    if (!/^\d{1,10}$/.test(value)) throw new SipParseError('bad-header', `bad Content-Length "${value.slice(0, 40)}"`, name);
    const n = Number(value);
    if (length !== undefined && length !== n) throw new SipParseError('bad-header', 'conflicting Content-Length values', name);
    length = n;
  }
  return length;
}

/**
 * Parse one complete SIP message (a UDP datagram, or one frame cut by SipStreamFramer).
 * Without Content-Length the rest of the buffer is the body (RFC 3261 §18.3, datagram case);
 * with it, bytes beyond Content-Length are ignored and a shorter body is an error.
 * Throws SipParseError (and nothing else) on bad input.
 */
export function parseSipMessage(buf: Buffer, opts: ParseOptions = {}): SipMessage {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (buf.length > maxBytes) throw new SipParseError('too-large', `${buf.length} bytes > ${maxBytes}`);
  const start = skipLeadingLineEnds(buf);
  if (start >= buf.length) throw new SipParseError('truncated', 'empty message');
  const bounds = findHeadBounds(buf, start);
  const textKind = classifyText(buf, start, bounds ? bounds.headEnd : buf.length);
  if (textKind === TEXT_BINARY) throw new SipParseError('binary', 'control bytes in the header section');
  if (!bounds) throw new SipParseError('truncated', 'no blank line after the headers');

  const text = buf.toString(textKind === TEXT_HIGH_BYTES ? 'utf8' : 'latin1', start, bounds.headEnd);
  const lines = unfoldLines(text);
  const startLine = lines[0]!;
  const headers = parseHeaderLines(lines, 1);

  const available = buf.length - bounds.bodyStart;
  const announced = contentLengthOf(headers);
  let body = EMPTY_BODY;
  if (announced === undefined) {
    if (available > 0) body = Buffer.from(buf.subarray(bounds.bodyStart));
  } else if (announced > available) {
    throw new SipParseError('content-length-mismatch', `Content-Length ${announced} but ${available} body bytes`);
  } else if (announced > 0) {
    // Copy: the body must not pin a large datagram or framer buffer in memory.
    body = Buffer.from(buf.subarray(bounds.bodyStart, bounds.bodyStart + announced));
  }

  let msg: SipMessage;
  const status = STATUS_LINE.exec(startLine);
  if (status) {
    const code = Number(status[2]);
    if (code < 100 || code > 699) throw new SipParseError('bad-start-line', `status ${code} out of range`);
    msg = { kind: 'response', status: code, reason: (status[3] ?? '').trim(), version: status[1]!.toUpperCase(), headers, body };
  } else {
    const req = REQUEST_LINE.exec(startLine);
    if (!req) throw new SipParseError('bad-start-line', `"${startLine.slice(0, 80)}"`);
    msg = { kind: 'request', method: req[1]!, uri: detached(req[2]!), version: req[3]!.toUpperCase(), headers, body };
  }
  checkTransactionHeaders(msg);
  return msg;
}

/** Via, From, To, Call-ID, CSeq present; CSeq and the top Via parse (the endpoint relies on both). */
function checkTransactionHeaders(msg: SipMessage): void {
  const present = new Set<string>();
  let topVia: string | undefined;
  let cseq: string | undefined;
  for (const [name, value] of msg.headers) {
    present.add(name);
    if (name === 'via' && topVia === undefined) topVia = value;
    if (name === 'cseq' && cseq === undefined) cseq = value;
  }
  for (const name of REQUIRED_HEADERS) {
    if (!present.has(name)) throw new SipParseError('missing-header', name, name);
  }
  parseVia(topVia!);
  parseCSeq(cseq!);
}

/**
 * Best-effort recovery of what a 400 needs from a message the parser rejected: a skeleton request holding
 * every Via plus From, To, Call-ID and CSeq. Returns null when no well-formed response is possible or
 * allowed: the input is a response, one of those headers is missing, the top Via or CSeq cannot be read,
 * or it is an ACK (never answered). We would rather drop than send a response that is itself malformed.
 */
export function tryExtractResponseContext(buf: Buffer, opts: ParseOptions = {}): SipRequest | null {
  const limit = Math.min(buf.length, opts.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  const start = skipLeadingLineEnds(buf);
  if (start >= limit) return null;
  const bounds = findHeadBounds(buf, start);
  const end = bounds ? Math.min(bounds.headEnd, limit) : limit;
  const lines = unfoldLines(buf.toString('utf8', start, end));
  const startLine = lines[0]!;
  if (/^SIP\//i.test(startLine)) return null;

  const wanted = new Set(REQUIRED_HEADERS);
  const headers: Array<[string, string]> = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN.test(rawName)) continue;
    const name = canonicalHeaderName(rawName);
    if (!wanted.has(name)) continue;
    const value = line.slice(colon + 1).trim();
    if (name === 'via') {
      for (const part of splitHeaderValues(value)) headers.push([name, part]);
    } else if (!headers.some(([n2]) => n2 === name)) headers.push([name, value]);
  }
  for (const name of REQUIRED_HEADERS) if (!headers.some(([n]) => n === name)) return null;
  const topVia = headers.find(([n]) => n === 'via')![1];
  const cseqValue = headers.find(([n]) => n === 'cseq')![1];
  let cseqMethod: string;
  try {
    parseVia(topVia);
    cseqMethod = parseCSeq(cseqValue).method;
  } catch {
    return null;
  }
  const req = REQUEST_LINE.exec(startLine);
  const method = req ? req[1]! : cseqMethod;
  if (method.toUpperCase() === 'ACK') return null;
  return { kind: 'request', method, uri: req ? req[2]! : '', version: 'SIP/2.0', headers, body: EMPTY_BODY };
}
