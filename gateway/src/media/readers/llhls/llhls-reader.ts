/**
 * LL-HLS reader: a stream's access units → CMAF init segment, ~1 s segments cut at keyframes, 200 ms
 * partial segments, and the media playlist with blocking reload, all held in memory for a bounded window.
 * No I/O of its own: the HTTP / WebSocket layer calls `playlist()` and `resource()` and sends what they
 * return. The LL-HLS rules it relies on, and which hls.js / MediaMTX issues they come from, are in
 * docs/media-llhls.md.
 *
 * Names (relative URIs, so the signed media path in front of them carries over):
 *   index.m3u8            the media playlist (served through `playlist()`)
 *   init-<n>.mp4          init segment of the n-th set of codec parameters (new one on every epoch)
 *   seg-<msn>.m4s         a complete segment (its parts back to back: a CMAF segment of several fragments)
 *   part-<msn>-<i>.m4s    part i of segment msn
 */
import { buildFragment, type FragmentTrack } from '../../../codecs/fmp4/index.js';
import type { AccessUnit, StreamReader, TrackParameters } from '../../core/access-unit.js';
import { CLOCK_90K, CmafTimeline, type TimelineSample } from '../cmaf/cmaf-timeline.js';

export interface LlhlsOptions {
  /** A segment is cut at the first keyframe once it is this long (s). */
  segmentTargetSec?: number;
  /** Longest segment (s) when keyframes are rarer: cut there without a keyframe. EXT-X-TARGETDURATION. */
  maxSegmentSec?: number;
  /** PART-TARGET (s); 0.2–0.333 is what players handle well. */
  partTargetSec?: number;
  /** Complete segments kept (and listed) at most, default 8; older ones are dropped with their parts. */
  windowSegments?: number;
  /**
   * Keep segments by duration instead: the oldest goes once the others still last this long, and never below
   * 3 target durations (RFC 8216 §6.2.2; 6 s with 1 s segments). The bytes held are the window (~1.6 MB
   * per stream at 2 Mb/s with 6 s against ~2.3 MB with 8 segments), but hls.js has less room: after repeated
   * stalls it falls back to whole segments sooner (docs/media-llhls.md).
   */
  windowSec?: number;
  /**
   * A stream whose playlist, parts and segments no client asked for in this many seconds keeps only its newest
   * complete segment (+ the one being built) instead of the window: nobody reads the window, and at 2 Mb/s it
   * is ~2 MB per stream. The next request is answered at once from what is there (a playlist like one shortly
   * after a stream's start) and the window grows back as segments come. 0 = always keep the window. Default 10.
   */
  idleWindowSec?: number;
  /** Clock for the idle window (ms, monotonic); tests may pass their own. Default performance.now. */
  now?: () => number;
  /** Longest a blocking playlist / part request is held (ms); default 3 target durations. */
  holdBoundMs?: number;
  /** Wall clock for timers (tests may pass their own). */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

export interface LlhlsResource {
  body: Uint8Array;
  contentType: string;
  /** Segments and parts never change once published; the playlist does. */
  immutable: boolean;
}

export interface LlhlsStats {
  segments: number;
  parts: number;
  epochs: number;
  /** Units dropped: before the first keyframe of an epoch, of an epoch not announced, or unmuxable. */
  droppedUnits: number;
  /** Bytes of parts and init segments held right now. */
  heldBytes: number;
  blockingRequestsWaiting: number;
  /** Why the current epoch cannot be muxed (no H.264/H.265/AAC track, bad parameter sets), or null. */
  unplayableReason: string | null;
  /** No client asked for idleWindowSec: only the newest segment is kept. */
  windowIdle: boolean;
}

/** A request the server must refuse (400): an `_HLS_msn` too far ahead, `_HLS_part` without `_HLS_msn`. */
export class LlhlsRequestError extends Error {
  override readonly name = 'LlhlsRequestError';
}

/** The reader was closed (its stream ended); the server answers 404 / 410. */
export class LlhlsClosedError extends Error {
  override readonly name = 'LlhlsClosedError';
}

/** The playlist's name; every other resource is named relative to it. */
export const LLHLS_PLAYLIST_NAME = 'index.m3u8';
/** Every name `resource()` can answer (matches the media routes' file-name pattern). */
export const LLHLS_RESOURCE_PATTERN = /^(init-\d+\.mp4|seg-\d+\.m4s|part-\d+-\d+\.m4s)$/;

/**
 * The delivery directives of a playlist request's query (`_HLS_msn`, `_HLS_part`) as `playlist()` takes them;
 * a value that is not a non-negative integer is a LlhlsRequestError (400). `_HLS_skip` is ignored: the reader
 * does not offer delta playlists (no CAN-SKIP-UNTIL).
 */
export function blockingRequestOf(query: { get(name: string): string | null }): { msn?: number; part?: number } {
  const read = (name: string): number | undefined => {
    const raw = query.get(name);
    if (raw === null) return undefined;
    if (!/^\d{1,9}$/.test(raw)) throw new LlhlsRequestError(`${name} must be a non-negative integer (got ${JSON.stringify(raw.slice(0, 20))})`);
    return Number(raw);
  };
  const msn = read('_HLS_msn');
  const part = read('_HLS_part');
  return { ...(msn !== undefined ? { msn } : {}), ...(part !== undefined ? { part } : {}) };
}

interface Part {
  msn: number;
  index: number;
  name: string;
  duration90k: number;
  independent: boolean;
  bytes: Uint8Array;
}

interface Segment {
  msn: number;
  initName: string;
  discontinuity: boolean;
  /** Wall-clock time of its first sample (ms). */
  programDateTime: number;
  parts: Part[];
  duration90k: number;
  complete: boolean;
  /**
   * Its playlist lines from PROGRAM-DATE-TIME to the URI, once complete (they never change then): a playlist
   * request renders only the segment in progress (each of 200 streams is asked once a second or more).
   */
  rendered?: string;
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  timer: { cancel(): void };
}

/** ~10 s of AAC at 48 kHz. */
const MAX_QUEUED_AUDIO = 500;

const MIME = { playlist: 'application/vnd.apple.mpegurl', init: 'video/mp4', media: 'video/iso.segment' } as const;

const defaultTimer = (fn: () => void, ms: number): { cancel(): void } => {
  const handle = setTimeout(fn, ms);
  handle.unref?.();
  return { cancel: () => clearTimeout(handle) };
};

export class LlhlsReader implements StreamReader {
  readonly kind = 'llhls';
  private readonly segmentTarget90k: number;
  private readonly maxSegment90k: number;
  private readonly partTarget90k: number;
  private readonly targetDurationSec: number;
  private readonly partTargetSec: number;
  private readonly windowSegments: number;
  /** Listed duration below which no segment is dropped (infinite: by count only). */
  private readonly windowMin90k: number;
  private readonly holdBoundMs: number;
  private readonly setTimer: NonNullable<LlhlsOptions['setTimer']>;
  private readonly idleWindowMs: number;
  private readonly now: () => number;
  /** When a client last asked for the playlist or a resource (starts at creation: a play precedes its viewer). */
  private lastClientRequestAt: number;

  private timeline: CmafTimeline | null = null;
  private epoch: number | null = null;
  private initCount = 0;
  private readonly inits = new Map<string, Uint8Array>();
  private currentInitName = '';
  private discontinuityPending = false;
  private discontinuitySequence = 0;
  /** Waiting for the first keyframe of the epoch (video streams only). */
  private awaitingKeyframe = true;

  private readonly segments: Segment[] = [];
  private nextMsn = 0;
  private fragmentSequence = 1;
  private partVideo: TimelineSample[] = [];
  private partAudio: TimelineSample[] = [];
  private audioQueue: TimelineSample[] = [];
  private partStart90k: number | null = null;
  private waiters: Waiter[] = [];
  private closedReason: string | null = null;
  private droppedUnits = 0;
  private unplayableReason: string | null = null;
  private partsPublished = 0;
  private segmentsPublished = 0;

  constructor(options: LlhlsOptions = {}) {
    const segmentTarget = options.segmentTargetSec ?? 1;
    const maxSegment = options.maxSegmentSec ?? 2;
    this.partTargetSec = options.partTargetSec ?? 0.2;
    if (!(this.partTargetSec > 0 && segmentTarget >= this.partTargetSec && maxSegment >= segmentTarget)) {
      throw new RangeError('LL-HLS options need 0 < partTargetSec ≤ segmentTargetSec ≤ maxSegmentSec');
    }
    this.segmentTarget90k = Math.round(segmentTarget * CLOCK_90K);
    this.maxSegment90k = Math.round(maxSegment * CLOCK_90K);
    this.partTarget90k = Math.round(this.partTargetSec * CLOCK_90K);
    this.targetDurationSec = Math.ceil(maxSegment);
    this.windowSegments = Math.max(3, options.windowSegments ?? (options.windowSec ? Number.POSITIVE_INFINITY : 8));
    this.windowMin90k = options.windowSec ? Math.max(3 * this.targetDurationSec, options.windowSec) * CLOCK_90K : Number.POSITIVE_INFINITY;
    this.holdBoundMs = options.holdBoundMs ?? 3 * this.targetDurationSec * 1000;
    this.setTimer = options.setTimer ?? defaultTimer;
    this.idleWindowMs = Math.max(0, options.idleWindowSec ?? 10) * 1000;
    this.now = options.now ?? (() => performance.now());
    this.lastClientRequestAt = this.now();
  }

  // ---- StreamReader ------------------------------------------------------------------------------------

  onParameters(tracks: readonly TrackParameters[], epoch: number): void {
    if (this.closedReason !== null) return;
    const continueAt = this.timeline ? this.finishEpoch() : undefined;
    try {
      this.timeline = new CmafTimeline(tracks, continueAt);
      this.unplayableReason = null;
    } catch (err) {
      // Nothing a browser can play (G.711 only: the transcoder reader serves it), or parameter sets we cannot
      // put in an init segment. Units of this epoch are dropped and counted; the reason is in stats().
      this.timeline = null;
      this.epoch = epoch;
      this.unplayableReason = err instanceof Error ? err.message : String(err);
      return;
    }
    this.epoch = epoch;
    this.initCount++;
    this.currentInitName = `init-${this.initCount}.mp4`;
    this.inits.set(this.currentInitName, this.timeline.init);
    this.discontinuityPending = this.segments.length > 0;
    this.awaitingKeyframe = this.timeline.hasVideo;
  }

  onAccessUnit(unit: AccessUnit): void {
    const timeline = this.timeline;
    if (this.closedReason !== null || !timeline || unit.epoch !== this.epoch) {
      this.droppedUnits++;
      return;
    }
    if (this.awaitingKeyframe) {
      if (unit.kind !== 'video' || !unit.keyframe) {
        this.droppedUnits++;
        return;
      }
      this.awaitingKeyframe = false;
    }
    const primary: 'video' | 'audio' = timeline.hasVideo ? 'video' : 'audio';
    const before = timeline.dropped;
    const finished = timeline.push(unit);
    this.droppedUnits += timeline.dropped - before;
    // Silent frames filling a hole in the audio track (only next to video, so never the primary track).
    const fillers = timeline.takeFillers();
    if (!finished) {
      if (fillers.length > 0) this.audioQueue.push(...fillers);
      return;
    }
    if (finished.kind !== primary) {
      this.audioQueue.push(finished, ...fillers);
      // Audio waits for the video part it belongs to; when video stops coming, it must not pile up.
      if (this.audioQueue.length > MAX_QUEUED_AUDIO) this.droppedUnits += this.audioQueue.splice(0, this.audioQueue.length - MAX_QUEUED_AUDIO).length;
      return;
    }
    this.addPrimary(finished, unit.kind === primary ? unit : null);
  }

  backlog(): number {
    let bytes = 0;
    for (const s of this.partVideo) bytes += s.sample.data.length;
    for (const s of this.partAudio) bytes += s.sample.data.length;
    for (const s of this.audioQueue) bytes += s.sample.data.length;
    return bytes;
  }

  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const waiter of this.waiters) {
      waiter.timer.cancel();
      waiter.resolve();
    }
    this.waiters = [];
    this.segments.length = 0;
    this.inits.clear();
    this.partVideo = [];
    this.partAudio = [];
    this.audioQueue = [];
    this.timeline = null;
  }

  // ---- serving -----------------------------------------------------------------------------------------

  /**
   * The media playlist. Without `msn` it is answered at once (a first request must never wait: hls.js
   * #4766), except before the first part exists, when it waits for that part (bounded). With `msn` (and
   * `part`) it is held until the playlist holds that part / segment or the hold bound passes. `internal`: the
   * gateway itself waiting (for the first segment), not a client: it does not keep the window (idleWindowSec).
   */
  async playlist(request: { msn?: number; part?: number } = {}, internal = false): Promise<string> {
    this.assertOpen();
    if (!internal) this.lastClientRequestAt = this.now();
    const { msn, part } = request;
    if (part !== undefined && msn === undefined) throw new LlhlsRequestError('_HLS_part needs _HLS_msn');
    if (msn !== undefined && (!Number.isInteger(msn) || msn < 0)) throw new LlhlsRequestError(`bad _HLS_msn ${msn}`);
    if (part !== undefined && (!Number.isInteger(part) || part < 0)) throw new LlhlsRequestError(`bad _HLS_part ${part}`);
    if (msn === undefined) {
      await this.waitFor(() => this.hasAnyPart());
    } else {
      // The spec allows refusing a request more than two segments ahead of the last one.
      const last = this.lastMsn();
      if (last !== null && msn > last + 2) throw new LlhlsRequestError(`_HLS_msn=${msn} is too far ahead of ${last}`);
      await this.waitFor(() => this.satisfies(msn, part));
    }
    this.assertOpen();
    return this.renderPlaylist();
  }

  /**
   * A segment, part or init segment by name. The part named in EXT-X-PRELOAD-HINT (or the one after the last
   * published part) is waited for, bounded; anything else is answered at once (undefined: not there).
   */
  async resource(name: string): Promise<LlhlsResource | undefined> {
    this.assertOpen();
    this.lastClientRequestAt = this.now();
    const found = this.findResource(name);
    if (found) return found;
    const wanted = /^part-(\d+)-(\d+)\.m4s$/.exec(name);
    if (!wanted) return undefined;
    const hint = this.preloadHint();
    const msn = Number(wanted[1]);
    const index = Number(wanted[2]);
    if (!hint || hint.msn !== msn || hint.index !== index) {
      // A part of the next segment asked for ahead of its hint (hls.js may do that at a segment boundary).
      const next = hint && hint.index > 0 && msn === hint.msn + 1 && index === 0;
      if (!next) return undefined;
    }
    // Give up once the stream has moved past it (a new epoch may have ended the segment early).
    await this.waitFor(() => this.findResource(name) !== undefined || (this.lastMsn() ?? -1) > msn + 1);
    if (this.closedReason !== null) return undefined;
    return this.findResource(name);
  }

  /** A multivariant playlist naming the codecs and size (players pick the right decoder before loading). */
  multivariantPlaylist(mediaPlaylistUri = 'index.m3u8'): string | null {
    const t = this.timeline;
    if (!t) return null;
    const resolution = t.hasVideo ? `,RESOLUTION=${t.width}x${t.height}` : '';
    return `#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=4000000,CODECS="${t.codecs}"${resolution}\n${mediaPlaylistUri}\n`;
  }

  /** RFC 6381 codec strings of what is being muxed (empty before the first parameters or when unmuxable). */
  codecs(): string {
    return this.timeline?.codecs ?? '';
  }

  stats(): LlhlsStats {
    let heldBytes = 0;
    for (const seg of this.segments) for (const p of seg.parts) heldBytes += p.bytes.length;
    for (const init of this.inits.values()) heldBytes += init.length;
    return {
      segments: this.segmentsPublished,
      parts: this.partsPublished,
      epochs: this.initCount,
      droppedUnits: this.droppedUnits,
      heldBytes,
      blockingRequestsWaiting: this.waiters.length,
      unplayableReason: this.unplayableReason,
      windowIdle: this.windowIdle(),
    };
  }

  /** True while no client has asked for anything for idleWindowSec (and none is waiting on a blocking request). */
  private windowIdle(): boolean {
    return this.idleWindowMs > 0 && this.waiters.length === 0 && this.now() - this.lastClientRequestAt >= this.idleWindowMs;
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  // ---- segmenting --------------------------------------------------------------------------------------

  /** A finished primary-track sample; `next` is the unit now held back (its keyframe flag decides cuts). */
  private addPrimary(sample: TimelineSample, next: AccessUnit | null): void {
    this.partStart90k ??= sample.decodeTime90k;
    this.partVideo.push(sample);
    const segment = this.openSegment(sample);
    const partDuration = sample.end90k - (this.partStart90k ?? sample.decodeTime90k);
    const segmentDuration = segment.duration90k + partDuration;
    const nextDuration = sample.end90k - sample.decodeTime90k; // the next sample is about as long as this one
    const nextIsKey = next !== null && (next.kind === 'audio' || next.keyframe);
    if (nextIsKey && segmentDuration >= this.segmentTarget90k - nextDuration / 2) {
      this.closePart();
      this.closeSegment();
    } else if (segmentDuration + nextDuration > this.maxSegment90k + nextDuration / 2) {
      this.closePart();
      this.closeSegment();
    } else if (partDuration + nextDuration > this.partTarget90k + 90 /* 1 ms of rounding */) {
      this.closePart();
    }
  }

  private openSegment(first: TimelineSample): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last && !last.complete) return last;
    const segment: Segment = {
      msn: this.nextMsn++,
      initName: this.currentInitName,
      discontinuity: this.discontinuityPending,
      programDateTime: first.receivedAt,
      parts: [],
      duration90k: 0,
      complete: false,
    };
    this.discontinuityPending = false;
    this.segments.push(segment);
    return segment;
  }

  private closePart(): void {
    const segment = this.segments[this.segments.length - 1];
    if (!segment || segment.complete || this.partVideo.length === 0 || this.partStart90k === null) return;
    const first = this.partVideo[0];
    const last = this.partVideo[this.partVideo.length - 1];
    const end = last.end90k;
    // Audio goes with the part its time falls in; audio that arrives late rides along with the next part.
    const audio: TimelineSample[] = [];
    const keep: TimelineSample[] = [];
    for (const a of this.audioQueue) (a.decodeTime90k < end ? audio : keep).push(a);
    this.audioQueue = keep;
    const tracks: FragmentTrack[] = [this.partVideo, audio]
      .filter((group) => group.length > 0)
      .map((group) => ({ trackId: group[0].trackId, baseMediaDecodeTime: group[0].decodeTime, samples: group.map((s) => s.sample) }));
    let bytes: Uint8Array;
    try {
      bytes = buildFragment(this.fragmentSequence++, tracks);
    } catch {
      // Samples the box writer refuses (out-of-range values) are dropped with their part, never thrown at
      // the stream that feeds us.
      this.droppedUnits += this.partVideo.length + audio.length;
      this.partVideo = [];
      this.partStart90k = null;
      return;
    }
    const part: Part = {
      msn: segment.msn,
      index: segment.parts.length,
      name: `part-${segment.msn}-${segment.parts.length}.m4s`,
      duration90k: end - this.partStart90k,
      independent: first.sample.keyframe,
      bytes,
    };
    segment.parts.push(part);
    segment.duration90k += part.duration90k;
    this.partsPublished++;
    this.partVideo = [];
    this.partStart90k = null;
    this.wake();
  }

  private closeSegment(): void {
    const segment = this.segments[this.segments.length - 1];
    if (!segment || segment.complete) return;
    if (segment.parts.length === 0) {
      this.segments.pop();
      this.nextMsn--;
      return;
    }
    segment.complete = true;
    this.segmentsPublished++;
    this.trimWindow();
    this.wake();
  }

  /** Ends the current epoch: publishes what is held back; returns where the next timeline continues. */
  private finishEpoch(): number | undefined {
    const timeline = this.timeline;
    if (!timeline) return undefined;
    const continueAt = timeline.end90k();
    for (const sample of timeline.flush()) {
      if (sample.kind === (timeline.hasVideo ? 'video' : 'audio')) {
        this.partStart90k ??= sample.decodeTime90k;
        this.partVideo.push(sample);
        this.openSegment(sample);
      } else {
        this.audioQueue.push(sample);
      }
    }
    this.closePart();
    this.closeSegment();
    this.audioQueue = [];
    return continueAt;
  }

  private trimWindow(): void {
    // RFC 8216 §6.2.2: a segment may leave the playlist only if the rest still lasts 3 target durations. That
    // protects clients that loaded the playlist; when none asked for idleWindowSec (several reload intervals),
    // there are none, and only the newest complete segment is kept: a client arriving then gets a playlist
    // like one shortly after a stream's start (one segment + parts), valid and played at once.
    const idle = this.windowIdle();
    const minimum90k = this.windowMin90k;
    let complete = 0;
    let listed90k = 0;
    for (const s of this.segments) {
      if (!s.complete) continue;
      complete++;
      listed90k += s.duration90k;
    }
    while (this.segments.length > 1 && this.segments[0].complete) {
      const oldest = this.segments[0];
      if (idle) {
        if (complete <= 1) break;
      } else {
        const tooMany = complete > this.windowSegments;
        if (!tooMany && listed90k - oldest.duration90k < minimum90k) break;
        if (complete - 1 < 3) break; // never fewer than three complete segments
      }
      this.segments.shift();
      complete--;
      listed90k -= oldest.duration90k;
      if (oldest.discontinuity) this.discontinuitySequence++;
    }
    const used = new Set(this.segments.map((s) => s.initName));
    used.add(this.currentInitName);
    for (const name of [...this.inits.keys()]) if (!used.has(name)) this.inits.delete(name);
  }

  // ---- blocking ----------------------------------------------------------------------------------------

  private waitFor(ready: () => boolean): Promise<void> {
    if (ready() || this.closedReason !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready,
        resolve,
        timer: this.setTimer(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve();
        }, this.holdBoundMs),
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.ready()) {
        waiter.timer.cancel();
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  private satisfies(msn: number, part: number | undefined): boolean {
    const last = this.segments[this.segments.length - 1];
    if (!last) return false;
    // A later segment exists: segment msn is complete, and a part index past its last part means the first
    // part of the next segment, which exists too.
    if (last.msn > msn) return true;
    if (last.msn < msn) return false;
    return part === undefined ? last.complete : last.parts.length > part;
  }

  // ---- playlist text -----------------------------------------------------------------------------------

  private hasAnyPart(): boolean {
    return this.segments.some((s) => s.parts.length > 0);
  }

  private lastMsn(): number | null {
    return this.segments.length > 0 ? this.segments[this.segments.length - 1].msn : null;
  }

  private preloadHint(): { msn: number; index: number } | null {
    const last = this.segments[this.segments.length - 1];
    if (!last) return null;
    return last.complete ? { msn: last.msn + 1, index: 0 } : { msn: last.msn, index: last.parts.length };
  }

  private renderPlaylist(): string {
    const seconds = (t90k: number): string => (t90k / CLOCK_90K).toFixed(3);
    const lines: string[] = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${this.targetDurationSec}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(3 * this.partTargetSec).toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${this.partTargetSec.toFixed(3)}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.segments[0]?.msn ?? 0}`,
    ];
    if (this.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${this.discontinuitySequence}`);
    // Parts are listed for every segment of the window, not only the last three target durations: hls.js loads
    // parts only while its playhead is within a segment of the first listed part, and falls back to whole
    // segments (and back again) once stalls have pushed its target latency past that (seen after ~230 s in
    // the 10-minute Chromium run with parts listed for 6 s; hls.js #7431).
    let mapName = '';
    for (const segment of this.segments) {
      if (segment.parts.length === 0) continue;
      if (segment.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      if (segment.initName !== mapName) {
        lines.push(`#EXT-X-MAP:URI="${segment.initName}"`);
        mapName = segment.initName;
      }
      if (segment.rendered !== undefined) {
        lines.push(segment.rendered);
        continue;
      }
      const own: string[] = [`#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.programDateTime).toISOString()}`];
      // A segment's parts come before its EXTINF line (MediaMTX #997: parts after it make hls.js fetch both).
      for (const part of segment.parts) {
        own.push(`#EXT-X-PART:DURATION=${seconds(part.duration90k)},URI="${part.name}"${part.independent ? ',INDEPENDENT=YES' : ''}`);
      }
      if (segment.complete) {
        own.push(`#EXTINF:${seconds(segment.duration90k)},`, `seg-${segment.msn}.m4s`);
        segment.rendered = own.join('\n');
      }
      lines.push(...own);
    }
    const hint = this.preloadHint();
    if (hint) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${hint.msn}-${hint.index}.m4s"`);
    return `${lines.join('\n')}\n`;
  }

  private findResource(name: string): LlhlsResource | undefined {
    const init = this.inits.get(name);
    if (init) return { body: init, contentType: MIME.init, immutable: true };
    let match = /^part-(\d+)-(\d+)\.m4s$/.exec(name);
    if (match) {
      const part = this.segments.find((s) => s.msn === Number(match?.[1]))?.parts[Number(match[2])];
      return part ? { body: part.bytes, contentType: MIME.media, immutable: true } : undefined;
    }
    match = /^seg-(\d+)\.m4s$/.exec(name);
    if (match) {
      const segment = this.segments.find((s) => s.msn === Number(match?.[1]));
      if (!segment?.complete) return undefined;
      return { body: concat(segment.parts.map((p) => p.bytes)), contentType: MIME.media, immutable: true };
    }
    return undefined;
  }

  private assertOpen(): void {
    if (this.closedReason !== null) throw new LlhlsClosedError(`stream closed: ${this.closedReason}`);
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
