/**
 * Per-channel stream history, from the stream service's events and from probes: consecutive failed and
 * successful opens (for "stream failing" and the N-failures / P-successes alert rule), stalls (a playing
 * stream that then failed: RTP stopped, BYE, ffmpeg exit), the latest figures per stream type and the last
 * good ones (the expected values).
 *
 * A success is a stream that reached "playing" (counted once per stream, not per viewer). A failure is a
 * stream that failed before playing ('stream-failed' for a stream never seen playing) or a failed probe.
 *
 * Only channels that were ever played hold an entry; entries are kept in recency order and the least recently
 * touched are dropped beyond `maxChannels`.
 */
import type { StreamFailure } from '../events.js';
import type { StreamView } from '../streams/stream-service.js';
import { isGoodSample } from './stream-quality.js';
import type { StreamFailureRecord, StreamKind, StreamSample } from './types.js';

const RECENT_FAILURES_KEPT = 10;
const STALL_WINDOW_MS = 3600_000;
const STALLS_KEPT = 20;

export interface ChannelStreamRecord {
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** When the current run of consecutive failures began. */
  failureRunStartedAt: number | null;
  lastFailure: StreamFailureRecord | null;
  recentFailures: StreamFailureRecord[];
  /** Times of stalls (playing streams that failed), at most the last hour's. */
  stalls: number[];
  lastSuccessAt: number | null;
  samples: Partial<Record<StreamKind, StreamSample>>;
  lastGood: Partial<Record<StreamKind, StreamSample>>;
  probes: { ok: number; failed: number };
}

export interface StreamHealthOptions {
  configuredFps: number;
  maxChannels?: number;
  now?: () => number;
}

export function sampleOf(view: StreamView, at: number): StreamSample {
  return {
    at,
    stream: view.stream,
    fps: view.fps,
    bitrateKbps: view.bitrateKbps,
    packetLoss: view.packetLoss,
    codec: view.codec,
    width: view.width,
    height: view.height,
    viewers: view.viewers,
    uptimeSec: view.uptimeSec,
  };
}

export class StreamHealthTracker {
  private readonly records = new Map<string, ChannelStreamRecord>();
  /** Streams seen playing (bounded by the running streams: removed when they end). */
  private readonly playing = new Set<string>();
  private readonly now: () => number;
  private readonly maxChannels: number;

  constructor(private readonly options: StreamHealthOptions) {
    this.now = options.now ?? Date.now;
    this.maxChannels = options.maxChannels ?? 100_000;
  }

  /** A 'stream-status' event. */
  onStatus(view: StreamView): void {
    if (view.state === 'playing') {
      const rec = this.touch(view.channelId);
      const at = this.now();
      if (!this.playing.has(view.streamId)) {
        this.playing.add(view.streamId);
        this.succeeded(rec, at);
      }
      const sample = sampleOf(view, at);
      rec.samples[view.stream] = sample;
      if (isGoodSample(sample, rec.lastGood[view.stream] ?? null, this.options.configuredFps)) rec.lastGood[view.stream] = sample;
    } else if (view.state === 'closed' || view.state === 'failed') {
      this.playing.delete(view.streamId);
    }
  }

  /** A 'stream-failed' event. */
  onFailed(failure: StreamFailure): void {
    const rec = this.touch(failure.channelId);
    const record: StreamFailureRecord = { at: this.now(), step: failure.step, message: failure.message };
    if (this.playing.has(failure.streamId)) {
      this.playing.delete(failure.streamId);
      rec.stalls.push(record.at);
      if (rec.stalls.length > STALLS_KEPT) rec.stalls.shift();
      this.remember(rec, record);
      return;
    }
    this.failed(rec, record);
  }

  /**
   * A probe's outcome. A probe that started its own stream was already counted from the stream's events (its
   * success, or its failure for steps after the stream began): only a probe that joined a running stream
   * adds a success, and only failures the stream service did not announce (channel, device, resources
   * before any stream) add a failure.
   */
  probed(channelId: string, outcome: { ok: true; reused: boolean } | { ok: false; step: string; message: string; startedAt: number }): void {
    const rec = this.touch(channelId);
    if (outcome.ok) {
      rec.probes.ok++;
      if (outcome.reused) this.succeeded(rec, this.now());
      return;
    }
    rec.probes.failed++;
    const announced = rec.lastFailure !== null && rec.lastFailure.at >= outcome.startedAt && rec.lastFailure.step === outcome.step;
    if (!announced) this.failed(rec, { at: this.now(), step: outcome.step, message: outcome.message });
  }

  get(channelId: string): ChannelStreamRecord | undefined {
    return this.records.get(channelId);
  }

  entries(): IterableIterator<[string, ChannelStreamRecord]> {
    return this.records.entries();
  }

  /** Stalls in the last hour. */
  stalls1h(rec: ChannelStreamRecord, now: number): number {
    const from = now - STALL_WINDOW_MS;
    while (rec.stalls.length > 0 && rec.stalls[0] < from) rec.stalls.shift();
    return rec.stalls.length;
  }

  get size(): number {
    return this.records.size;
  }

  private succeeded(rec: ChannelStreamRecord, at: number): void {
    rec.consecutiveSuccesses++;
    rec.consecutiveFailures = 0;
    rec.failureRunStartedAt = null;
    rec.lastSuccessAt = at;
  }

  private failed(rec: ChannelStreamRecord, record: StreamFailureRecord): void {
    rec.consecutiveFailures++;
    rec.consecutiveSuccesses = 0;
    rec.failureRunStartedAt ??= record.at;
    this.remember(rec, record);
  }

  private remember(rec: ChannelStreamRecord, record: StreamFailureRecord): void {
    rec.lastFailure = record;
    rec.recentFailures.push(record);
    if (rec.recentFailures.length > RECENT_FAILURES_KEPT) rec.recentFailures.shift();
  }

  /** The channel's record, created on first use and moved to the recent end. */
  private touch(channelId: string): ChannelStreamRecord {
    let rec = this.records.get(channelId);
    if (rec) {
      this.records.delete(channelId);
    } else {
      rec = {
        consecutiveFailures: 0,
        consecutiveSuccesses: 0,
        failureRunStartedAt: null,
        lastFailure: null,
        recentFailures: [],
        stalls: [],
        lastSuccessAt: null,
        samples: {},
        lastGood: {},
        probes: { ok: 0, failed: 0 },
      };
    }
    this.records.set(channelId, rec);
    if (this.records.size > this.maxChannels) {
      const oldest = this.records.keys().next();
      if (!oldest.done) this.records.delete(oldest.value);
    }
    return rec;
  }
}
