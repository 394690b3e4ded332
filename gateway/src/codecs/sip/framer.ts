/**
 * Cuts a TCP byte stream into SIP messages (RFC 3261 §18.3: Content-Length frames the body on streams).
 * A pure state machine — no sockets, no timers — so it can be driven byte by byte in tests.
 *
 * - CR/LF between messages are skipped; a "\r\n\r\n" run is reported as a keep-alive ping (RFC 5626 §4.4.1)
 *   so the transport can answer the single-CRLF pong.
 * - A message whose header section or frame exceeds maxMessageBytes, a Content-Length that cannot be read,
 *   or control bytes before the end of the header section make the stream unframeable: the framer returns
 *   a `fatal` error, drops everything it holds, and the caller should close the connection.
 * - A frame that is cut correctly but does not parse (e.g. missing Call-ID) is a non-fatal error with the
 *   raw bytes, so the caller can answer 400 and keep the connection.
 */
import type { SipMessage } from './message.js';
import { SipParseError } from './errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, findHeadBounds, parseSipMessage } from './parser.js';

export interface FramerOutput {
  message?: SipMessage;
  error?: SipParseError;
  /** With `error`: the stream cannot continue; close the connection. */
  fatal?: boolean;
  /** With a non-fatal `error`: the offending frame, for building a 400. */
  raw?: Buffer;
  /** A CRLFCRLF keep-alive ping was received; answer "\r\n". */
  keepalivePing?: boolean;
}

const CONTENT_LENGTH_LINE = /^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)$/gim;

function controlByteIn(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return true;
  }
  return false;
}

/** Content-Length from the raw header section; absent → 0 (it is mandatory on streams; be lenient). */
function frameContentLength(head: string): number {
  let length: number | undefined;
  for (const m of head.matchAll(CONTENT_LENGTH_LINE)) {
    const value = m[1]!.trim();
    if (!/^\d{1,10}$/.test(value)) throw new SipParseError('bad-header', `bad Content-Length "${value.slice(0, 40)}"`, 'content-length');
    const n = Number(value);
    if (length !== undefined && n !== length) throw new SipParseError('bad-header', 'conflicting Content-Length values', 'content-length');
    length = n;
  }
  return length ?? 0;
}

export class SipStreamFramer {
  private readonly maxMessageBytes: number;
  private pending: Buffer = Buffer.alloc(0);
  /** Where to resume looking for the blank line, so a slowly arriving header is not rescanned from 0. */
  private scanFrom = 0;
  /** Total bytes of the current frame once its header section has been read. */
  private frameLength: number | undefined;
  /** Consecutive LF bytes skipped between messages (2+ = a CRLFCRLF ping). */
  private lineFeedsSkipped = 0;

  constructor(opts: { maxMessageBytes?: number } = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Bytes held while waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
    this.scanFrom = 0;
    this.frameLength = undefined;
    this.lineFeedsSkipped = 0;
  }

  push(chunk: Buffer): FramerOutput[] {
    const out: FramerOutput[] = [];
    if (chunk.length === 0) return out;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.frameLength === undefined) {
        if (!this.skipLineEnds(out)) break;
        const fatal = this.readHead();
        if (fatal) {
          out.push({ error: fatal, fatal: true });
          this.reset();
          break;
        }
        if (this.frameLength === undefined) break; // header section incomplete
      }
      if (this.pending.length < this.frameLength) break;
      const frame = this.pending.subarray(0, this.frameLength);
      this.pending = this.pending.subarray(this.frameLength);
      this.frameLength = undefined;
      this.scanFrom = 0;
      try {
        out.push({ message: parseSipMessage(frame, { maxBytes: this.maxMessageBytes }) });
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        out.push({ error: err, raw: Buffer.from(frame) });
      }
    }
    if (this.pending.length === 0) this.pending = Buffer.alloc(0); // drop the reference to the last chunk
    return out;
  }

  /** Skip CR/LF before a message; false when nothing else is buffered. */
  private skipLineEnds(out: FramerOutput[]): boolean {
    let i = 0;
    const buf = this.pending;
    while (i < buf.length && (buf[i] === 0x0d || buf[i] === 0x0a)) {
      if (buf[i] === 0x0a && ++this.lineFeedsSkipped === 2) out.push({ keepalivePing: true });
      i++;
    }
    if (i > 0) {
      this.pending = buf.subarray(i);
      this.scanFrom = Math.max(0, this.scanFrom - i);
    }
    if (this.pending.length === 0) return false;
    this.lineFeedsSkipped = 0;
    return true;
  }

  /** Find the end of the header section and the frame length; returns a fatal error or undefined. */
  private readHead(): SipParseError | undefined {
    const buf = this.pending;
    const bounds = findHeadBounds(buf, this.scanFrom);
    const scanEnd = bounds ? bounds.headEnd : buf.length;
    if (controlByteIn(buf, this.scanFrom, scanEnd)) return new SipParseError('binary', 'control bytes in the header section');
    if (!bounds) {
      if (buf.length > this.maxMessageBytes) {
        return new SipParseError('too-large', `header section over ${this.maxMessageBytes} bytes`);
      }
      this.scanFrom = Math.max(0, buf.length - 2);
      return undefined;
    }
    let contentLength: number;
    try {
      contentLength = frameContentLength(buf.toString('latin1', 0, bounds.headEnd));
    } catch (err) {
      return err as SipParseError;
    }
    const total = bounds.bodyStart + contentLength;
    if (total > this.maxMessageBytes) return new SipParseError('too-large', `${total} bytes > ${this.maxMessageBytes}`);
    this.frameLength = total;
    return undefined;
  }
}
