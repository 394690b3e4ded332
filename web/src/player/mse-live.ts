/**
 * Live fMP4 over a WebSocket into a <video> through Media Source Extensions: the low-latency path the wall
 * uses for the tile an operator is steering (PTZ open, maximised). It speaks the gateway's live fMP4 wire
 * format (media/readers/fmp4-live): a JSON "init" message with the MSE type, the init segment, then one
 * fragment per frame; "end" with a reason before the gateway closes.
 *
 * Self-contained on purpose (no imports): the decisions below are pure functions with unit tests, and the
 * browser test loads this file as it is.
 *
 * Keeping latency low: the playhead is held `targetLatencySec` behind the end of what is buffered — played
 * slightly faster when it drifts behind, moved to the live edge when far behind, and moved over a gap (the
 * gateway skips a slow consumer to the next keyframe, leaving a hole in the buffer). What lies more than
 * `keepBehindSec` behind the playhead is removed, so a tile's memory stays flat.
 */

export interface MseInitMessage {
  type: 'init';
  mime: string;
  codecs: string;
  width: number;
  height: number;
  epoch: number;
}

export interface MseEndMessage {
  type: 'end';
  reason: string;
}

export type MseControlMessage = MseInitMessage | MseEndMessage;

/** A text frame from the gateway, checked; null when it is not one we know (ignored, never thrown). */
export function parseControlMessage(text: string): MseControlMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  if (m.type === 'init' && typeof m.mime === 'string' && typeof m.codecs === 'string') {
    return {
      type: 'init',
      mime: m.mime,
      codecs: m.codecs,
      width: typeof m.width === 'number' ? m.width : 0,
      height: typeof m.height === 'number' ? m.height : 0,
      epoch: typeof m.epoch === 'number' ? m.epoch : 0,
    };
  }
  if (m.type === 'end') return { type: 'end', reason: typeof m.reason === 'string' ? m.reason : 'stream ended' };
  return null;
}

export interface TimeRange {
  start: number;
  end: number;
}

export function rangesOf(buffered: TimeRanges): TimeRange[] {
  const out: TimeRange[] = [];
  for (let i = 0; i < buffered.length; i++) out.push({ start: buffered.start(i), end: buffered.end(i) });
  return out;
}

export interface LiveSyncOptions {
  /** Where to sit behind the buffered end (s). */
  targetLatencySec: number;
  /** Beyond this, jump to the live edge instead of catching up by speed (s). */
  maxLatencySec: number;
  /** Playback rate used to catch up. */
  catchUpRate: number;
}

export interface LiveSyncAction {
  /** Set currentTime to this, or null to leave it. */
  seekTo: number | null;
  playbackRate: number;
}

/**
 * What to do with the playhead given what is buffered: start at the live edge, jump a gap (or a playhead
 * left before the first range), jump when far behind, play a little faster when somewhat behind.
 */
export function planLiveSync(ranges: readonly TimeRange[], currentTime: number, options: LiveSyncOptions): LiveSyncAction {
  if (ranges.length === 0) return { seekTo: null, playbackRate: 1 };
  const last = ranges[ranges.length - 1];
  const edge = Math.max(last.start, last.end - options.targetLatencySec);
  const inside = ranges.find((r) => currentTime >= r.start - 0.01 && currentTime < r.end);
  if (!inside) {
    // Not in anything buffered: before the first range, in a gap, or past the end (starved).
    const next = ranges.find((r) => r.start > currentTime);
    if (next) return { seekTo: next === last ? edge : next.start, playbackRate: 1 };
    return { seekTo: null, playbackRate: 1 };
  }
  const latency = last.end - currentTime;
  if (latency > options.maxLatencySec) return { seekTo: edge, playbackRate: 1 };
  if (latency > options.targetLatencySec + 0.15) return { seekTo: null, playbackRate: options.catchUpRate };
  return { seekTo: null, playbackRate: 1 };
}

/** The part of the buffer to remove (older than keepBehindSec behind the playhead), or null. */
export function planTrim(ranges: readonly TimeRange[], currentTime: number, keepBehindSec: number): TimeRange | null {
  if (ranges.length === 0) return null;
  const start = ranges[0].start;
  const end = currentTime - keepBehindSec;
  return end - start > 1 ? { start, end } : null;
}

export type MseLiveState =
  | { kind: 'connecting' }
  | { kind: 'playing' }
  | { kind: 'error'; reason: string }
  | { kind: 'ended'; reason: string };

export interface MseLiveOptions {
  onState?: (state: MseLiveState) => void;
  targetLatencySec?: number;
  maxLatencySec?: number;
  keepBehindSec?: number;
  /** Bytes waiting to be appended before the player gives up (the gateway skips for us long before). */
  maxQueuedBytes?: number;
}

export interface MseLiveStats {
  latencySec: number | null;
  bufferedSec: number;
  appendedBytes: number;
  queuedBytes: number;
  epoch: number;
}

const TICK_MS = 250;

export function isMseLiveSupported(mime: string): boolean {
  return typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(mime);
}

export class MseLivePlayer {
  private socket: WebSocket | null = null;
  private mediaSource: MediaSource | null = null;
  private sourceBuffer: SourceBuffer | null = null;
  private objectUrl: string | null = null;
  private mime = '';
  private readonly queue: ArrayBuffer[] = [];
  private queuedBytes = 0;
  private appendedBytes = 0;
  private epoch = 0;
  private tick: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private state: MseLiveState = { kind: 'connecting' };
  private readonly sync: LiveSyncOptions;
  private readonly keepBehindSec: number;
  private readonly maxQueuedBytes: number;

  constructor(private readonly video: HTMLVideoElement, private readonly url: string, private readonly options: MseLiveOptions = {}) {
    this.sync = {
      targetLatencySec: options.targetLatencySec ?? 0.3,
      maxLatencySec: options.maxLatencySec ?? 1.5,
      catchUpRate: 1.1,
    };
    this.keepBehindSec = options.keepBehindSec ?? 10;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 16 << 20;
  }

  start(): void {
    if (this.closed || this.socket) return;
    const socket = new WebSocket(this.url);
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data === 'string') this.onControl(event.data);
      else if (event.data instanceof ArrayBuffer) this.enqueue(event.data);
    };
    socket.onclose = () => {
      if (this.state.kind !== 'ended' && this.state.kind !== 'error') this.fail('connection closed');
    };
    socket.onerror = () => this.fail('connection failed');
    this.socket = socket;
    this.tick = setInterval(() => this.onTick(), TICK_MS);
  }

  stats(): MseLiveStats {
    const ranges = this.sourceBuffer ? this.safeRanges() : [];
    const last = ranges[ranges.length - 1];
    return {
      latencySec: last ? Math.max(0, last.end - this.video.currentTime) : null,
      bufferedSec: ranges.reduce((sum, r) => sum + (r.end - r.start), 0),
      appendedBytes: this.appendedBytes,
      queuedBytes: this.queuedBytes,
      epoch: this.epoch,
    };
  }

  /** Idempotent: closes the socket, detaches the MediaSource from the element, stops the timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    if (this.socket) {
      this.socket.onmessage = null;
      this.socket.onclose = null;
      this.socket.onerror = null;
      this.socket.close();
    }
    this.socket = null;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.sourceBuffer = null;
    if (this.mediaSource?.readyState === 'open') {
      try {
        this.mediaSource.endOfStream();
      } catch {
        // already ended
      }
    }
    this.mediaSource = null;
    this.video.removeAttribute('src');
    this.video.load();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }

  private setState(state: MseLiveState): void {
    if (this.state.kind === state.kind) return;
    this.state = state;
    this.options.onState?.(state);
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.setState({ kind: 'error', reason });
  }

  private onControl(text: string): void {
    const message = parseControlMessage(text);
    if (!message) return;
    if (message.type === 'end') {
      this.setState({ kind: 'ended', reason: message.reason });
      return;
    }
    this.epoch = message.epoch;
    if (!isMseLiveSupported(message.mime)) {
      this.fail(`this browser cannot play ${message.codecs}`);
      return;
    }
    if (!this.mediaSource) {
      this.mime = message.mime;
      const mediaSource = new MediaSource();
      this.mediaSource = mediaSource;
      this.objectUrl = URL.createObjectURL(mediaSource);
      mediaSource.addEventListener('sourceopen', () => {
        if (this.closed || this.mediaSource !== mediaSource) return;
        const buffer = mediaSource.addSourceBuffer(this.mime);
        buffer.mode = 'segments';
        buffer.addEventListener('updateend', () => this.pump());
        buffer.addEventListener('error', () => this.fail('media decode error'));
        this.sourceBuffer = buffer;
        this.pump();
      });
      this.video.src = this.objectUrl;
      return;
    }
    if (message.mime !== this.mime && this.sourceBuffer) {
      // A new codec or profile mid-stream (a new epoch): same SourceBuffer, new type; the init follows.
      try {
        this.sourceBuffer.changeType(message.mime);
        this.mime = message.mime;
      } catch {
        this.fail(`cannot switch to ${message.codecs}`);
      }
    }
  }

  private enqueue(chunk: ArrayBuffer): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.byteLength;
    if (this.queuedBytes > this.maxQueuedBytes) {
      this.fail('the browser cannot keep up with this stream');
      this.close();
      return;
    }
    this.pump();
  }

  private pump(): void {
    const buffer = this.sourceBuffer;
    if (!buffer || buffer.updating || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.queuedBytes -= next.byteLength;
    try {
      buffer.appendBuffer(next);
      this.appendedBytes += next.byteLength;
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError') {
        // Buffer full: put it back and let the trim free space.
        this.queue.unshift(next);
        this.queuedBytes += next.byteLength;
        this.trim(0.5);
        return;
      }
      this.fail(`append failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private safeRanges(): TimeRange[] {
    try {
      return this.sourceBuffer ? rangesOf(this.sourceBuffer.buffered) : [];
    } catch {
      return [];
    }
  }

  private trim(keepBehindSec: number): void {
    const buffer = this.sourceBuffer;
    if (!buffer || buffer.updating) return;
    const range = planTrim(this.safeRanges(), this.video.currentTime, keepBehindSec);
    if (range) buffer.remove(range.start, range.end);
  }

  private onTick(): void {
    if (this.closed || !this.sourceBuffer) return;
    const ranges = this.safeRanges();
    const action = planLiveSync(ranges, this.video.currentTime, this.sync);
    if (action.seekTo !== null) this.video.currentTime = action.seekTo;
    if (this.video.playbackRate !== action.playbackRate) this.video.playbackRate = action.playbackRate;
    if (this.video.paused && ranges.length > 0) void this.video.play().catch(() => undefined);
    if (!this.video.paused && this.video.readyState >= 3) this.setState({ kind: 'playing' });
    this.trim(this.keepBehindSec);
  }
}
