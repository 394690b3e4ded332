/**
 * MANSRTSP: the RTSP-shaped playback control GB/T 28181 carries in the body of an in-dialog SIP INFO
 * (`Content-Type: Application/MANSRTSP`, 2022 Annex B, 9.8.3.2; protocol brief §4.6):
 *
 *   PAUSE RTSP/1.0            PLAY RTSP/1.0             PLAY RTSP/1.0          PLAY RTSP/1.0
 *   CSeq: 12                  CSeq: 13                  CSeq: 14               CSeq: 15
 *   PauseTime: now            Range: npt=now-           Scale: 2.0             Range: npt=100-
 *   (pause)                   (resume where it was)     (speed only)           (seek: seconds from t= start)
 *
 * and the device's answer in the INFO's 200 OK body: `RTSP/1.0 200 OK`, `CSeq`, optionally `Range`,
 * `Scale` and `RTP-Info: seq=…;rtptime=…` (where the new segment starts). TEARDOWN exists too.
 *
 * Pure and total: every input either decodes or throws MansrtspError with a stable `code` (the fuzz corpus in
 * test-fixtures/fuzz/mansrtsp/ replays that promise). Lenient like devices need: CRLF or LF, header names in
 * any case, spaces around ':', a missing trailing blank line. Strict where a wrong value would move the
 * video somewhere else: CSeq must be a non-negative integer, npt a non-negative number or `now`, Scale a
 * finite non-zero number (negative = reverse, which the standard allows down to -1).
 */

export type MansrtspMethod = 'PLAY' | 'PAUSE' | 'TEARDOWN';

/** `npt=<start>-[<end>]`; start `now` = where the stream is (resume). Seconds from the start of the requested span. */
export interface NptRange {
  start: number | 'now';
  end?: number;
}

export interface MansrtspRequest {
  method: MansrtspMethod;
  cseq: number;
  range?: NptRange;
  scale?: number;
  /** PAUSE: `now` or an npt position; kept as sent. */
  pauseTime?: string;
}

export interface MansrtspResponse {
  status: number;
  reason: string;
  cseq: number;
  range?: NptRange;
  scale?: number;
  /** RTP-Info: sequence number and RTP timestamp of the first packet of the new segment. */
  rtpInfo?: { seq?: number; rtptime?: number };
}

export type MansrtspErrorCode =
  | 'empty'
  | 'too-large'
  | 'bad-start-line'
  | 'unknown-method'
  | 'bad-version'
  | 'bad-header'
  | 'missing-cseq'
  | 'bad-cseq'
  | 'bad-range'
  | 'bad-scale'
  | 'bad-status';

export class MansrtspError extends Error {
  override readonly name = 'MansrtspError';
  constructor(
    readonly code: MansrtspErrorCode,
    detail?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
  }
}

/** INFO bodies are a few lines; anything this large is not MANSRTSP. */
export const MANSRTSP_MAX_BYTES = 4096;
export const MANSRTSP_CONTENT_TYPE = 'Application/MANSRTSP';
const METHODS = new Set<MansrtspMethod>(['PLAY', 'PAUSE', 'TEARDOWN']);

// ------------------------------------------------------------------------------------------ encoding

/** Numbers as devices read them: no exponent, at most 6 decimals (WVP writes `Scale: %.6f`), trailing zeros cut but one kept. */
function formatNumber(n: number): string {
  const fixed = n.toFixed(6).replace(/0+$/, '');
  return fixed.endsWith('.') ? `${fixed}0` : fixed;
}

function formatRange(r: NptRange): string {
  const start = r.start === 'now' ? 'now' : formatNumber(r.start);
  return `npt=${start}-${r.end !== undefined ? formatNumber(r.end) : ''}`;
}

function checkCseq(cseq: number): void {
  if (!Number.isInteger(cseq) || cseq < 0 || cseq > 0xffffffff) throw new MansrtspError('bad-cseq', String(cseq));
}

function checkRange(r: NptRange): void {
  const ok = (v: number): boolean => Number.isFinite(v) && v >= 0;
  if ((r.start !== 'now' && !ok(r.start)) || (r.end !== undefined && !ok(r.end))) throw new MansrtspError('bad-range', JSON.stringify(r));
}

function checkScale(scale: number): void {
  if (!Number.isFinite(scale) || scale === 0) throw new MansrtspError('bad-scale', String(scale));
}

export function encodeMansrtspRequest(req: MansrtspRequest): string {
  checkCseq(req.cseq);
  const lines = [`${req.method} RTSP/1.0`, `CSeq: ${req.cseq}`];
  if (req.method === 'PAUSE') lines.push(`PauseTime: ${req.pauseTime ?? 'now'}`);
  if (req.range) {
    checkRange(req.range);
    lines.push(`Range: ${formatRange(req.range)}`);
  }
  if (req.scale !== undefined) {
    checkScale(req.scale);
    lines.push(`Scale: ${formatNumber(req.scale)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function encodeMansrtspResponse(res: MansrtspResponse): string {
  checkCseq(res.cseq);
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 699) throw new MansrtspError('bad-status', String(res.status));
  const lines = [`RTSP/1.0 ${res.status} ${res.reason.replace(/[\r\n]/g, ' ')}`, `CSeq: ${res.cseq}`];
  if (res.range) {
    checkRange(res.range);
    lines.push(`Range: ${formatRange(res.range)}`);
  }
  if (res.scale !== undefined) {
    checkScale(res.scale);
    lines.push(`Scale: ${formatNumber(res.scale)}`);
  }
  if (res.rtpInfo) {
    const parts = [];
    if (res.rtpInfo.seq !== undefined) parts.push(`seq=${res.rtpInfo.seq}`);
    if (res.rtpInfo.rtptime !== undefined) parts.push(`rtptime=${res.rtpInfo.rtptime}`);
    if (parts.length > 0) lines.push(`RTP-Info: ${parts.join(';')}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

// ------------------------------------------------------------------------------------------ decoding

interface Parsed {
  startLine: string;
  headers: Map<string, string>;
}

function split(input: Buffer | string): Parsed {
  const length = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (length > MANSRTSP_MAX_BYTES) throw new MansrtspError('too-large', `${length} bytes`);
  const text = (typeof input === 'string' ? input : input.toString('utf8')).replace(/^\uFEFF/, '');
  // Leading blank lines are tolerated (some stacks put a CRLF before the body text).
  const lines = text.split(/\r\n|\n|\r/);
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  if (lines.length === 0) throw new MansrtspError('empty');
  const startLine = lines.shift()!.trim();
  const headers = new Map<string, string>();
  for (const line of lines) {
    if (line.trim() === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MansrtspError('bad-header', line.slice(0, 40));
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9-]+$/.test(name)) throw new MansrtspError('bad-header', line.slice(0, 40));
    // A repeated header: the first wins (the one a device's parser would see first).
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { startLine, headers };
}

function readCseq(headers: Map<string, string>): number {
  const text = headers.get('cseq');
  if (text === undefined) throw new MansrtspError('missing-cseq');
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0xffffffff) throw new MansrtspError('bad-cseq', text.slice(0, 20));
  return Number(text);
}

const NUMBER = /^\d+(?:\.\d+)?$|^\.\d+$/;

/** `npt=10-`, `npt=now-`, `npt=10.5-20`; the `npt=` prefix may be missing (seen in the field), spaces ignored. */
export function parseNptRange(text: string): NptRange {
  const value = text.replace(/\s+/g, '').replace(/^npt=/i, '');
  const m = /^([^-]*)-(.*)$/.exec(value);
  if (!m) throw new MansrtspError('bad-range', text.slice(0, 40));
  const [, startText, endText] = m as unknown as [string, string, string];
  let start: number | 'now';
  if (startText.toLowerCase() === 'now' || startText === '') start = 'now';
  else if (NUMBER.test(startText)) start = Number(startText);
  else throw new MansrtspError('bad-range', text.slice(0, 40));
  if (start !== 'now' && !Number.isFinite(start)) throw new MansrtspError('bad-range', text.slice(0, 40));
  if (endText === '') return { start };
  if (!NUMBER.test(endText) || !Number.isFinite(Number(endText))) throw new MansrtspError('bad-range', text.slice(0, 40));
  return { start, end: Number(endText) };
}

function readScale(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?(?:\d+(?:\.\d+)?|\.\d+)$/.test(text)) throw new MansrtspError('bad-scale', text.slice(0, 20));
  const scale = Number(text);
  checkScale(scale);
  return scale;
}

export function decodeMansrtspRequest(input: Buffer | string): MansrtspRequest {
  const { startLine, headers } = split(input);
  const m = /^(\S+)\s+(\S+)$/.exec(startLine);
  if (!m) throw new MansrtspError('bad-start-line', startLine.slice(0, 40));
  const method = m[1]!.toUpperCase();
  if (!METHODS.has(method as MansrtspMethod)) throw new MansrtspError('unknown-method', method.slice(0, 20));
  if (!/^RTSP\/1\.0$/i.test(m[2]!)) throw new MansrtspError('bad-version', m[2]!.slice(0, 20));
  const req: MansrtspRequest = { method: method as MansrtspMethod, cseq: readCseq(headers) };
  const range = headers.get('range');
  if (range !== undefined) req.range = parseNptRange(range);
  const scale = readScale(headers.get('scale'));
  if (scale !== undefined) req.scale = scale;
  const pauseTime = headers.get('pausetime');
  if (pauseTime !== undefined) req.pauseTime = pauseTime;
  return req;
}

export function decodeMansrtspResponse(input: Buffer | string): MansrtspResponse {
  const { startLine, headers } = split(input);
  const m = /^(\S+)\s+(\d{3})(?:\s+(.*))?$/.exec(startLine);
  if (!m) throw new MansrtspError('bad-start-line', startLine.slice(0, 40));
  if (!/^RTSP\/1\.0$/i.test(m[1]!)) throw new MansrtspError('bad-version', m[1]!.slice(0, 20));
  const status = Number(m[2]);
  if (status < 100 || status > 699) throw new MansrtspError('bad-status', m[2]);
  const res: MansrtspResponse = { status, reason: (m[3] ?? '').trim(), cseq: readCseq(headers) };
  const range = headers.get('range');
  if (range !== undefined) res.range = parseNptRange(range);
  const scale = readScale(headers.get('scale'));
  if (scale !== undefined) res.scale = scale;
  const rtpInfo = headers.get('rtp-info');
  if (rtpInfo !== undefined) {
    // Only the two numbers we can use; an unreadable one is left out rather than refusing the answer.
    const seq = /(?:^|[;,\s])seq=(\d{1,5})(?:$|[;,\s])/i.exec(rtpInfo);
    const rtptime = /(?:^|[;,\s])rtptime=(\d{1,10})(?:$|[;,\s])/i.exec(rtpInfo);
    res.rtpInfo = {};
    if (seq && Number(seq[1]) <= 0xffff) res.rtpInfo.seq = Number(seq[1]);
    if (rtptime && Number(rtptime[1]) <= 0xffffffff) res.rtpInfo.rtptime = Number(rtptime[1]);
  }
  return res;
}

/** Either kind (the fuzz target): a start line beginning with RTSP/ is a response. */
export function decodeMansrtsp(input: Buffer | string): { kind: 'request'; request: MansrtspRequest } | { kind: 'response'; response: MansrtspResponse } {
  const text = typeof input === 'string' ? input : input.subarray(0, 16).toString('latin1');
  return /^\s*RTSP\//i.test(text) ? { kind: 'response', response: decodeMansrtspResponse(input) } : { kind: 'request', request: decodeMansrtspRequest(input) };
}
