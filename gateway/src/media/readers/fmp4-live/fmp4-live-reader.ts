/**
 * Live fMP4 for Media Source Extensions, one reader per consumer (a WebSocket): a JSON control message with
 * the MSE type, the init segment, then one small fragment per video frame (audio rides along with the video
 * time it belongs to) — the lowest-latency path to a <video>. Playback starts at a keyframe.
 *
 * Slow consumers. The sink reports what it has queued but not sent (WebSocket bufferedAmount). Past
 * `skipAboveBytes` the reader stops sending and waits for the next keyframe with the queue drained below
 * half that, so the player jumps ahead instead of falling further behind (the player skips the gap in its
 * buffer); past `cutAboveBytes`, or when skipping lasts longer than `maxSkipMs`, the consumer is cut with a
 * reason. Memory held per consumer is therefore bounded by those two numbers, never by how slow it is.
 *
 * Wire format (text messages are JSON, binary messages are fMP4):
 *   {"type":"init","mime":"video/mp4; codecs=\"avc1.64001f,mp4a.40.2\"","codecs":"…","width":W,"height":H,"epoch":N}
 *   <binary init segment>        after every init message (a new epoch: new parameters, same timeline)
 *   <binary moof+mdat>…
 *   {"type":"end","reason":"…"}  before the reader closes the connection
 */
import { buildFragment, type FragmentTrack } from '../../../codecs/fmp4/index.js';
import type { AccessUnit, StreamReader, TrackParameters } from '../../core/access-unit.js';
import { CmafTimeline, type TimelineSample } from '../cmaf/cmaf-timeline.js';

export interface Fmp4LiveSink {
  sendText(text: string): void;
  sendBinary(chunk: Uint8Array): void;
  /** Bytes accepted but not yet written to the network (a WebSocket's bufferedAmount). */
  bufferedBytes(): number;
  /** Ends the connection; called once, after the reader's "end" message. */
  close(reason: string): void;
}

export interface Fmp4LiveOptions {
  skipAboveBytes?: number;
  cutAboveBytes?: number;
  maxSkipMs?: number;
  now?: () => number;
}

export interface Fmp4LiveInitMessage {
  type: 'init';
  mime: string;
  codecs: string;
  width: number;
  height: number;
  epoch: number;
}

export interface Fmp4LiveEndMessage {
  type: 'end';
  reason: string;
}

export type Fmp4LiveMessage = Fmp4LiveInitMessage | Fmp4LiveEndMessage;

export interface Fmp4LiveStats {
  fragments: number;
  bytes: number;
  /** Times the consumer fell behind and was moved to the next keyframe. */
  skips: number;
  /** Video frames not sent because of skipping or waiting for a keyframe. */
  skippedFrames: number;
}

/** ~10 s of AAC at 48 kHz. */
const MAX_QUEUED_AUDIO = 500;

/** `video/mp4; codecs="…"` for MediaSource.isTypeSupported / addSourceBuffer. */
export function mseMimeType(codecs: string): string {
  return `video/mp4; codecs="${codecs}"`;
}

export class Fmp4LiveReader implements StreamReader {
  readonly kind = 'fmp4-live';
  private readonly skipAbove: number;
  private readonly cutAbove: number;
  private readonly maxSkipMs: number;
  private readonly now: () => number;
  private timeline: CmafTimeline | null = null;
  private epoch: number | null = null;
  /** Waiting for a keyframe: at the start of an epoch, or after the consumer fell behind. */
  private waitingForKeyframe = true;
  private skippingSince: number | null = null;
  private audioQueue: TimelineSample[] = [];
  private sequence = 1;
  private closedReason: string | null = null;
  private readonly counters: Fmp4LiveStats = { fragments: 0, bytes: 0, skips: 0, skippedFrames: 0 };

  constructor(private readonly sink: Fmp4LiveSink, options: Fmp4LiveOptions = {}) {
    this.skipAbove = options.skipAboveBytes ?? 1 << 20;
    this.cutAbove = options.cutAboveBytes ?? 8 << 20;
    this.maxSkipMs = options.maxSkipMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  onParameters(tracks: readonly TrackParameters[], epoch: number): void {
    if (this.closedReason !== null) return;
    const continueAt = this.timeline ? this.finishEpoch() : undefined;
    this.epoch = epoch;
    try {
      this.timeline = new CmafTimeline(tracks, continueAt);
    } catch (err) {
      this.timeline = null;
      this.end(`cannot mux this stream for the browser: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const t = this.timeline;
    const init: Fmp4LiveInitMessage = { type: 'init', mime: mseMimeType(t.codecs), codecs: t.codecs, width: t.width, height: t.height, epoch };
    this.send(JSON.stringify(init));
    this.send(t.init);
    this.waitingForKeyframe = t.hasVideo;
  }

  onAccessUnit(unit: AccessUnit): void {
    const t = this.timeline;
    if (this.closedReason !== null || !t || unit.epoch !== this.epoch) return;
    const buffered = this.sink.bufferedBytes();
    if (buffered > this.cutAbove) return this.end(`consumer too slow: ${buffered} bytes queued`);
    if (!this.waitingForKeyframe && buffered > this.skipAbove) {
      this.waitingForKeyframe = true;
      this.skippingSince = this.now();
      this.counters.skips++;
    }
    if (this.skippingSince !== null && this.now() - this.skippingSince > this.maxSkipMs) {
      return this.end(`consumer too slow: still ${buffered} bytes queued after ${this.maxSkipMs} ms of skipping`);
    }
    if (this.waitingForKeyframe && t.hasVideo) {
      const resumable = unit.kind === 'video' && unit.keyframe && (this.skippingSince === null || buffered <= this.skipAbove / 2);
      if (!resumable) {
        if (unit.kind === 'video') this.counters.skippedFrames++;
        // Keep the timeline's held-back unit from an earlier run out of the next fragment.
        this.resetPending();
        return;
      }
      this.waitingForKeyframe = false;
      this.skippingSince = null;
    }
    const finished = t.push(unit);
    // Silent frames filling a hole in the audio track (only next to video).
    const fillers = t.takeFillers();
    if (!finished) {
      if (fillers.length > 0) this.audioQueue.push(...fillers);
      return;
    }
    if (finished.kind === 'audio' && t.hasVideo) {
      this.audioQueue.push(finished, ...fillers);
      // Audio waits for the video frame it goes with; when video stops coming, it must not pile up.
      if (this.audioQueue.length > MAX_QUEUED_AUDIO) this.audioQueue.splice(0, this.audioQueue.length - MAX_QUEUED_AUDIO);
      return;
    }
    this.sendFragment([finished]);
  }

  backlog(): number {
    return this.closedReason === null ? this.sink.bufferedBytes() : 0;
  }

  close(reason: string): void {
    this.end(reason);
  }

  stats(): Fmp4LiveStats {
    return { ...this.counters };
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  private resetPending(): void {
    const t = this.timeline;
    if (!t) return;
    // Samples finished now would be sent out of order after the gap: drop them (their frames are skipped).
    const dropped = t.flush();
    this.counters.skippedFrames += dropped.filter((s) => s.kind === 'video').length;
    this.audioQueue = [];
  }

  private sendFragment(primary: TimelineSample[]): void {
    const end = primary[primary.length - 1].end90k;
    const audio = this.audioQueue.filter((a) => a.decodeTime90k < end);
    this.audioQueue = this.audioQueue.filter((a) => a.decodeTime90k >= end);
    const tracks: FragmentTrack[] = [primary, audio]
      .filter((group) => group.length > 0)
      .map((group) => ({ trackId: group[0].trackId, baseMediaDecodeTime: group[0].decodeTime, samples: group.map((s) => s.sample) }));
    let fragment: Uint8Array;
    try {
      fragment = buildFragment(this.sequence++, tracks);
    } catch {
      // Refused by the box writer (out-of-range values): skip to the next keyframe rather than throw at the stream.
      this.counters.skippedFrames += primary.length;
      this.waitingForKeyframe = true;
      return;
    }
    this.counters.fragments++;
    this.send(fragment);
  }

  private finishEpoch(): number | undefined {
    const t = this.timeline;
    if (!t) return undefined;
    const continueAt = t.end90k();
    if (!this.waitingForKeyframe) {
      const rest = t.flush();
      for (const s of rest) (s.kind === 'audio' && t.hasVideo ? this.audioQueue : []).push(s);
      const primary = rest.filter((s) => !(s.kind === 'audio' && t.hasVideo));
      if (primary.length > 0) this.sendFragment(primary);
    }
    this.audioQueue = [];
    return continueAt;
  }

  private send(data: string | Uint8Array): void {
    if (this.closedReason !== null) return;
    try {
      if (typeof data === 'string') {
        this.sink.sendText(data);
      } else {
        this.counters.bytes += data.length;
        this.sink.sendBinary(data);
      }
    } catch (err) {
      this.end(`send failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private end(reason: string): void {
    if (this.closedReason !== null) return;
    const message: Fmp4LiveEndMessage = { type: 'end', reason };
    try {
      this.sink.sendText(JSON.stringify(message));
    } catch {
      // the connection is already gone
    }
    this.closedReason = reason;
    this.timeline = null;
    this.audioQueue = [];
    try {
      this.sink.close(reason);
    } catch {
      // idem
    }
  }
}
