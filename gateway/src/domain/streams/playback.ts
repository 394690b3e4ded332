/**
 * Device playback and download (录像回放 / 下载; GB 9.8, 9.9; docs/playback.md): the rules for the requested
 * span, the control actions and the MANSRTSP each one becomes, and where in the recording a stream is.
 *
 * - Spans: ISO instants, end after start, not in the future, playback at most a day, download at most
 *   MAX_DOWNLOAD_SPAN_MS (a download at 4× of that already takes 1 h); the device gets them as Unix seconds
 *   in the SDP t= line (brief §4.2: absolute, no time zone to get wrong).
 * - Control: pause → `PAUSE … PauseTime: now`, resume → `PLAY … Range: npt=now-`, seek → `PLAY … Range:
 *   npt=<seconds from the span's start>-` (value: seconds, or an ISO instant inside the span), speed →
 *   `PLAY … Scale: <n>` with n one of SCALES (the standard's must-support values 0.25–4, plus 8).
 * - Position: the media's own timestamps. The first video frame is the span's start; after a seek, the first
 *   keyframe is the position the device said it went to (its Range answer) or the one we asked for; a new
 *   timeline (epoch) without a seek continues where the last one was.
 */
import { ConflictError, UpstreamError, ValidationError } from '../services.js';
import { MANSRTSP_CONTENT_TYPE, MansrtspError, decodeMansrtspResponse, encodeMansrtspRequest, type MansrtspRequest, type MansrtspResponse } from '../../codecs/gb/mansrtsp.js';
import type { AccessUnit, StreamReader, TrackParameters } from '../../media/core/access-unit.js';

export type ControlAction = 'pause' | 'resume' | 'seek' | 'speed';

export interface ControlRequest {
  action: ControlAction;
  /** seek: seconds from the span's start, or an ISO instant inside it; speed: the scale. */
  value?: number | string;
}

/** Speeds accepted by `speed` (GB 2022 B.2: 0.25, 0.5, 1, 2, 4 must be supported; 8 is common). */
export const SCALES: readonly number[] = [0.25, 0.5, 1, 2, 4, 8];
/** Download speeds offered in a=downloadspeed (devices announce theirs in the catalog as "1/2/4/8"). */
export const DOWNLOAD_SPEEDS: readonly number[] = [1, 2, 4, 8];
export const MAX_PLAYBACK_SPAN_MS = 24 * 3600_000;
export const MAX_DOWNLOAD_SPAN_MS = 4 * 3600_000;
/** Clock skew between the gateway and a device that a span ending "now" may have. */
const FUTURE_TOLERANCE_MS = 60_000;
/** Before this, a span is a typo (a year 0 or 1970 default), not a recording. */
const EARLIEST = Date.UTC(2000, 0, 1);

export interface HistorySpan {
  /** Epoch ms. */
  start: number;
  end: number;
}

/** Checks a requested span; throws ValidationError naming the field (`body.start`, `querystring.end` …). */
export function validateSpan(startText: unknown, endText: unknown, opts: { fieldPrefix: string; maxSpanMs: number; now?: number }): HistorySpan {
  const now = opts.now ?? Date.now();
  const parse = (text: unknown, name: string): number => {
    const t = typeof text === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
    if (!Number.isFinite(t)) throw new ValidationError(`${name} must be an ISO 8601 date-time (e.g. 2026-12-05T08:00:00Z)`, `${opts.fieldPrefix}.${name}`);
    if (t < EARLIEST) throw new ValidationError(`${name} is before 2000: no device keeps recordings that old`, `${opts.fieldPrefix}.${name}`);
    return t;
  };
  const start = parse(startText, 'start');
  const end = parse(endText, 'end');
  if (!(end > start)) throw new ValidationError('end must be after start', `${opts.fieldPrefix}.end`);
  if (start > now + FUTURE_TOLERANCE_MS) throw new ValidationError('start is in the future: there is no recording yet', `${opts.fieldPrefix}.start`);
  if (end > now + FUTURE_TOLERANCE_MS) throw new ValidationError('end is in the future: there is no recording yet (use live play for now)', `${opts.fieldPrefix}.end`);
  if (end - start > opts.maxSpanMs) {
    throw new ValidationError(`a span is at most ${Math.round(opts.maxSpanMs / 3600_000)} h; ask for a shorter one`, `${opts.fieldPrefix}.end`);
  }
  // Whole seconds: t= carries seconds, and the position arithmetic should agree with what the device got.
  return { start: Math.floor(start / 1000) * 1000, end: Math.ceil(end / 1000) * 1000 };
}

/** The MANSRTSP request for a control action, or a ValidationError (400) naming `body.value`. */
export function controlRequest(req: ControlRequest, span: HistorySpan, cseq: number): { request: MansrtspRequest; offsetSec?: number; scale?: number } {
  switch (req.action) {
    case 'pause':
      return { request: { method: 'PAUSE', cseq, pauseTime: 'now' } };
    case 'resume':
      return { request: { method: 'PLAY', cseq, range: { start: 'now' } } };
    case 'seek': {
      const offsetSec = seekOffset(req.value, span);
      return { request: { method: 'PLAY', cseq, range: { start: offsetSec } }, offsetSec };
    }
    case 'speed': {
      const scale = typeof req.value === 'number' ? req.value : typeof req.value === 'string' && req.value.trim() !== '' ? Number(req.value) : Number.NaN;
      if (!SCALES.includes(scale)) throw new ValidationError(`speed must be one of ${SCALES.join(', ')}`, 'body.value');
      return { request: { method: 'PLAY', cseq, scale }, scale };
    }
  }
}

function seekOffset(value: unknown, span: HistorySpan): number {
  const spanSec = (span.end - span.start) / 1000;
  let offset: number;
  if (typeof value === 'number') offset = value;
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) offset = (Date.parse(value) - span.start) / 1000;
  else throw new ValidationError('seek needs a value: seconds from the start of the span, or an ISO date-time inside it', 'body.value');
  if (!Number.isFinite(offset) || offset < 0 || offset >= spanSec) {
    throw new ValidationError(`seek target must be inside the span (0 to ${spanSec} s from its start)`, 'body.value');
  }
  // Devices take whole seconds best; a tenth is as fine as a GOP lets a seek land anyway.
  return Math.round(offset * 10) / 10;
}

/** The INFO the gateway sends, and what it makes of the device's answer. */
export interface ControlExchange {
  send(body: string, contentType: string): Promise<{ status: number; reason: string; body: string }>;
}

/**
 * Sends one control request and reads the device's answer. A SIP refusal or a MANSRTSP status ≥ 300 → 502
 * naming it; an answer body that is not MANSRTSP → 502 with the decoder's code (the device said 200 but we
 * cannot tell what it did). An empty 200 is accepted (many devices answer INFO without a body).
 */
export async function exchangeControl(exchange: ControlExchange, request: MansrtspRequest): Promise<MansrtspResponse | null> {
  let answer: { status: number; reason: string; body: string };
  try {
    answer = await exchange.send(encodeMansrtspRequest(request), MANSRTSP_CONTENT_TYPE);
  } catch (err) {
    throw new UpstreamError(`the device did not answer the playback control (INFO): ${(err as Error).message}`);
  }
  if (answer.status >= 300) throw new UpstreamError(`the device refused the playback control: SIP ${answer.status} ${answer.reason}`);
  if (answer.body.trim() === '') return null;
  let res: MansrtspResponse;
  try {
    res = decodeMansrtspResponse(answer.body);
  } catch (err) {
    const code = err instanceof MansrtspError ? err.code : 'unreadable';
    throw new UpstreamError(`the device answered the playback control with an unreadable MANSRTSP body (${code})`, { code: 'playback.bad-mansrtsp', params: { reason: code } });
  }
  if (res.status >= 300) {
    // The RTSP status travels with the error: a cascade relay answers the upper platform with the device's own.
    throw new UpstreamError(`the device refused the playback control: RTSP ${res.status} ${res.reason}`, { code: 'playback.device-refused', params: { rtspStatus: res.status, rtspReason: res.reason.slice(0, 60) } });
  }
  return res;
}

export function notPlayback(kind: string): ConflictError {
  return new ConflictError(kind === 'live' ? 'live streams cannot be paused, sought or sped up; open a playback (POST /api/channels/:id/playback)' : `a ${kind} cannot be controlled`);
}

/**
 * Where in the recording a stream is, from the media's timestamps (see the file comment). A reader on the
 * stream's core: it holds nothing, so it never lags.
 */
export class PlaybackClock implements StreamReader {
  readonly kind = 'playback-clock';
  private anchor: { pts: number; offsetSec: number; epoch: number } | null = null;
  private pendingSeek: number | null = null;
  private position: number | null = null;
  /** Furthest position reached (download progress must not go backwards on a re-sent GOP). */
  private furthest = 0;

  onParameters(_tracks: readonly TrackParameters[], _epoch: number): void {
    // Timing only.
  }

  onAccessUnit(unit: AccessUnit): void {
    if (unit.kind !== 'video') return;
    if (this.pendingSeek !== null) {
      if (!unit.keyframe) return;
      this.anchor = { pts: unit.pts, offsetSec: this.pendingSeek, epoch: unit.epoch };
      this.pendingSeek = null;
    } else if (!this.anchor || this.anchor.epoch !== unit.epoch) {
      this.anchor = { pts: unit.pts, offsetSec: this.position ?? 0, epoch: unit.epoch };
    }
    const pos = this.anchor.offsetSec + Math.max(0, unit.pts - this.anchor.pts) / 90_000;
    this.position = Math.round(pos * 1000) / 1000;
    if (this.position > this.furthest) this.furthest = this.position;
  }

  /** The next keyframe is at this offset (seconds from the span's start). */
  seekTo(offsetSec: number): void {
    this.pendingSeek = offsetSec;
  }

  /** Seconds from the span's start of the latest video frame (null before the first). */
  get positionSec(): number | null {
    return this.position;
  }

  get furthestSec(): number {
    return this.furthest;
  }

  backlog(): number {
    return 0;
  }

  close(): void {
    // nothing held
  }
}
