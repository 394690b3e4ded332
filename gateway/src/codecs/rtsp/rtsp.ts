/**
 * RTSP 1.0 (RFC 2326) on the wire: a framer that splits a TCP byte stream into RTSP messages and
 * interleaved RTP/RTCP packets (`$`, channel, 16-bit length), request serialisation, and the headers a client
 * needs (Transport, Session, RTP-Info, WWW-Authenticate via codecs/sip/digest). Plus the DESCRIBE answer's SDP
 * as RTSP servers write it (rtpmap, fmtp, control URLs relative to Content-Base). Pure and total: bad input
 * is an `error` item with a reason, the framer then resynchronises or the caller drops the connection.
 *
 * Hand-written: npm's RTSP packages are clients bundled with their own sockets and no limits (or unmaintained
 * since 2019); the framing itself is a few dozen lines that must be bounded and fuzzed.
 */
export interface RtspResponse {
  kind: 'response';
  status: number;
  reason: string;
  /** Lower-cased names; a repeated header keeps its first value (RTSP never needs lists of them). */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RtspRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: Buffer;
}

export type RtspMessage = RtspResponse | RtspRequest;

export type RtspItem =
  | { kind: 'message'; message: RtspMessage }
  | { kind: 'interleaved'; channel: number; data: Buffer }
  | { kind: 'error'; reason: 'header-too-large' | 'body-too-large' | 'malformed-start-line' | 'garbage'; detail: string };

export interface RtspFramerLimits {
  maxHeaderBytes?: number;
  maxBodyBytes?: number;
}

export class RtspFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly maxHeader: number;
  private readonly maxBody: number;

  constructor(limits: RtspFramerLimits = {}) {
    this.maxHeader = limits.maxHeaderBytes ?? 64 * 1024;
    this.maxBody = limits.maxBodyBytes ?? 1024 * 1024;
  }

  /** Bytes held while waiting for the rest of an item. */
  get buffered(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): RtspItem[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: RtspItem[] = [];
    for (;;) {
      if (this.buffer.length === 0) break;
      if (this.buffer[0] === 0x24) {
        if (this.buffer.length < 4) break;
        const length = this.buffer.readUInt16BE(2);
        if (this.buffer.length < 4 + length) break;
        out.push({ kind: 'interleaved', channel: this.buffer[1]!, data: Buffer.from(this.buffer.subarray(4, 4 + length)) });
        this.buffer = this.buffer.subarray(4 + length);
        continue;
      }
      if (!startsLikeMessage(this.buffer)) {
        // Skip to the next '$' or line that starts an RTSP message.
        const next = nextResync(this.buffer);
        out.push({ kind: 'error', reason: 'garbage', detail: `${next < 0 ? this.buffer.length : next} bytes skipped` });
        this.buffer = next < 0 ? Buffer.alloc(0) : this.buffer.subarray(next);
        continue;
      }
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buffer.length > this.maxHeader) {
          out.push({ kind: 'error', reason: 'header-too-large', detail: `${this.buffer.length} bytes without the end of a header block` });
          this.buffer = Buffer.alloc(0);
        }
        break;
      }
      if (end > this.maxHeader) {
        out.push({ kind: 'error', reason: 'header-too-large', detail: `${end} bytes of header` });
        this.buffer = this.buffer.subarray(end + 4);
        continue;
      }
      const head = this.buffer.subarray(0, end).toString('latin1');
      const lines = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        if (!(name in headers)) headers[name] = line.slice(colon + 1).trim();
      }
      const length = headers['content-length'] === undefined ? 0 : Number(headers['content-length']);
      if (!Number.isInteger(length) || length < 0 || length > this.maxBody) {
        out.push({ kind: 'error', reason: 'body-too-large', detail: `Content-Length ${headers['content-length']}` });
        this.buffer = Buffer.alloc(0);
        break;
      }
      if (this.buffer.length < end + 4 + length) break;
      const body = Buffer.from(this.buffer.subarray(end + 4, end + 4 + length));
      this.buffer = this.buffer.subarray(end + 4 + length);
      const start = lines[0]!;
      const response = /^RTSP\/1\.0 (\d{3})(?: (.*))?$/.exec(start);
      if (response) {
        out.push({ kind: 'message', message: { kind: 'response', status: Number(response[1]), reason: response[2] ?? '', headers, body } });
        continue;
      }
      const request = /^([A-Z_]+) (\S+) RTSP\/1\.0$/.exec(start);
      if (request) {
        out.push({ kind: 'message', message: { kind: 'request', method: request[1]!, uri: request[2]!, headers, body } });
        continue;
      }
      out.push({ kind: 'error', reason: 'malformed-start-line', detail: start.slice(0, 80) });
    }
    return out;
  }
}

/** The buffer starts with an RTSP start line (or a prefix of one that may still become one). */
function startsLikeMessage(b: Buffer): boolean {
  const head = b.subarray(0, Math.min(b.length, 17)).toString('latin1');
  if (head.length < 8 && 'RTSP/1.0'.startsWith(head)) return true;
  if (head.startsWith('RTSP/1.0')) return true;
  const m = /^[A-Z_]{1,16}( |$)/.exec(head);
  return m !== null && (m[1] === ' ' || head.length < 17);
}

function nextResync(b: Buffer): number {
  for (let i = 1; i < b.length; i++) {
    if (b[i] === 0x24) return i;
    if (b[i - 1] === 0x0a && (b[i] === 0x52 /* R */ || (b[i]! >= 0x41 && b[i]! <= 0x5a))) return i;
  }
  return -1;
}

export function serializeRequest(method: string, uri: string, headers: Record<string, string | number>, body?: Buffer): Buffer {
  const lines = [`${method} ${uri} RTSP/1.0`];
  for (const [k, v] of Object.entries(headers)) {
    const value = String(v);
    if (/[\r\n]/.test(value) || /[\r\n:]/.test(k)) throw new RangeError(`RTSP header ${k} contains a line break`);
    lines.push(`${k}: ${value}`);
  }
  if (body && body.length > 0) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body && body.length > 0 ? Buffer.concat([head, body]) : head;
}

export function serializeResponse(status: number, reason: string, headers: Record<string, string | number>, body?: Buffer): Buffer {
  const lines = [`RTSP/1.0 ${status} ${reason}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${String(v)}`);
  if (body && body.length > 0) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body && body.length > 0 ? Buffer.concat([head, body]) : head;
}

export function interleave(channel: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + data.length);
  out[0] = 0x24;
  out[1] = channel;
  out.writeUInt16BE(data.length, 2);
  out.set(data, 4);
  return out;
}

export interface SessionHeader {
  id: string;
  timeoutSec: number;
}

/** "12345678;timeout=60" → id and timeout (RFC 2326 default 60 s). */
export function parseSession(value: string | undefined): SessionHeader | null {
  if (!value) return null;
  const [id, ...params] = value.split(';').map((s) => s.trim());
  if (!id) return null;
  const timeout = params.map((p) => /^timeout=(\d+)$/i.exec(p)).find((m) => m)?.[1];
  return { id, timeoutSec: timeout ? Math.max(1, Number(timeout)) : 60 };
}

export interface TransportHeader {
  protocol: 'tcp' | 'udp';
  interleaved?: [number, number];
  clientPort?: [number, number];
  serverPort?: [number, number];
  ssrc?: number;
}

export function parseTransport(value: string | undefined): TransportHeader | null {
  if (!value) return null;
  const first = value.split(',')[0]!;
  const parts = first.split(';').map((s) => s.trim());
  const spec = parts[0]!.toUpperCase();
  if (!spec.startsWith('RTP/AVP')) return null;
  const out: TransportHeader = { protocol: spec.endsWith('/TCP') ? 'tcp' : 'udp' };
  const pair = (v: string): [number, number] | undefined => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(v);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a + 1 : Number(m[2]);
    return a <= 65535 && b <= 65535 ? [a, b] : undefined;
  };
  for (const p of parts.slice(1)) {
    const [k, v = ''] = p.split('=');
    const key = k!.toLowerCase();
    if (key === 'interleaved') out.interleaved = pair(v);
    else if (key === 'client_port') out.clientPort = pair(v);
    else if (key === 'server_port') out.serverPort = pair(v);
    else if (key === 'ssrc' && /^[0-9a-f]{1,8}$/i.test(v)) out.ssrc = parseInt(v, 16) >>> 0;
  }
  return out;
}

/** RTP-Info: url=…;seq=…;rtptime=…, per stream. */
export function parseRtpInfo(value: string | undefined): Array<{ url: string; seq?: number; rtptime?: number }> {
  if (!value) return [];
  return value.split(',').map((entry) => {
    const out: { url: string; seq?: number; rtptime?: number } = { url: '' };
    for (const part of entry.split(';')) {
      const i = part.indexOf('=');
      if (i < 0) continue;
      const k = part.slice(0, i).trim().toLowerCase();
      const v = part.slice(i + 1).trim();
      if (k === 'url') out.url = v;
      else if (k === 'seq' && /^\d+$/.test(v)) out.seq = Number(v) & 0xffff;
      else if (k === 'rtptime' && /^\d+$/.test(v)) out.rtptime = Number(v) >>> 0;
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------------------
// The DESCRIBE answer's SDP

export interface RtspMediaDescription {
  type: 'video' | 'audio' | string;
  payloadType: number;
  /** Encoding name upper-cased: H264, H265, MPEG4-GENERIC, PCMA, PCMU, MP4A-LATM … */
  encoding: string;
  clockRate: number;
  channels: number;
  /** fmtp parameters with lower-cased names. */
  fmtp: Record<string, string>;
  /** Absolute control URL for SETUP. */
  control: string;
}

export interface RtspSessionDescription {
  media: RtspMediaDescription[];
  /** Aggregate control URL for PLAY/TEARDOWN. */
  control: string;
}

function resolveControl(control: string | undefined, base: string): string {
  if (!control || control === '*') return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  const b = base.endsWith('/') ? base : `${base}/`;
  return b + control.replace(/^\//, '');
}

/** `base`: Content-Base, else Content-Location, else the DESCRIBE URL (RFC 2326 C.1.1). */
export function parseRtspSdp(text: string, base: string): RtspSessionDescription {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  let sessionControl: string | undefined;
  const media: Array<Omit<RtspMediaDescription, 'control'> & { rawControl?: string }> = [];
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [type = '', , , pt = ''] = line.slice(2).split(/\s+/);
      const payloadType = Number(pt);
      media.push({ type, payloadType: Number.isInteger(payloadType) ? payloadType : -1, encoding: staticEncoding(payloadType), clockRate: staticClock(payloadType), channels: 1, fmtp: {} });
      continue;
    }
    const current = media[media.length - 1];
    if (line.startsWith('a=control:')) {
      if (current) current.rawControl = line.slice('a=control:'.length).trim();
      else sessionControl = line.slice('a=control:'.length).trim();
    } else if (current && line.startsWith('a=rtpmap:')) {
      const m = /^a=rtpmap:(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(line);
      if (m && Number(m[1]) === current.payloadType) {
        current.encoding = m[2]!.toUpperCase();
        current.clockRate = Number(m[3]);
        current.channels = m[4] ? Number(m[4]) : 1;
      }
    } else if (current && line.startsWith('a=fmtp:')) {
      const m = /^a=fmtp:(\d+)\s+(.*)$/.exec(line);
      if (m && Number(m[1]) === current.payloadType) {
        for (const kv of m[2]!.split(';')) {
          const i = kv.indexOf('=');
          if (i > 0) current.fmtp[kv.slice(0, i).trim().toLowerCase()] = kv.slice(i + 1).trim();
        }
      }
    }
  }
  const control = resolveControl(sessionControl, base);
  return { control, media: media.map(({ rawControl, ...m }) => ({ ...m, control: resolveControl(rawControl, control === base ? base : control) })) };
}

function staticEncoding(pt: number): string {
  return pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : '';
}

function staticClock(pt: number): number {
  return pt === 0 || pt === 8 ? 8000 : 90000;
}

/** H.264 sprop-parameter-sets / H.265 sprop-vps|sps|pps → parameter-set NAL units. */
export function spropParameterSets(m: RtspMediaDescription): { vps: Uint8Array[]; sps: Uint8Array[]; pps: Uint8Array[] } {
  const decode = (v: string | undefined): Uint8Array[] =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => new Uint8Array(Buffer.from(s, 'base64')))
      .filter((b) => b.length > 0);
  if (m.encoding === 'H264') {
    const sets = decode(m.fmtp['sprop-parameter-sets']);
    return { vps: [], sps: sets.filter((n) => (n[0]! & 0x1f) === 7), pps: sets.filter((n) => (n[0]! & 0x1f) === 8) };
  }
  return { vps: decode(m.fmtp['sprop-vps']), sps: decode(m.fmtp['sprop-sps']), pps: decode(m.fmtp['sprop-pps']) };
}
