/**
 * Keepalive arrival intervals per device: the last 32 of them, for the per-camera keepalive chart, its mean
 * and its jitter.
 *
 * 50,000 devices × 32 intervals must not cost an object per sample: every device gets a slot in shared typed
 * arrays (intervals as Uint32 milliseconds, two Float64 times, ring head and fill as Uint8), about 150 bytes
 * per device. Arrival times of older samples are not stored: they are the last keepalive's time minus the
 * later intervals.
 *
 * An interval is only measured within one online period: going offline stops measuring, and coming online
 * (registering) starts from the registration, so an outage is never recorded as keepalive jitter.
 */
import type { KeepaliveReport, KeepaliveSample } from './types.js';

export const KEEPALIVE_SAMPLES = 32;
/** Intervals from which a device's own keepalive period is taken (its median) instead of the configured one. */
export const DEVICE_INTERVAL_MIN_SAMPLES = 3;
const INITIAL_SLOTS = 1024;
/** Uint32 milliseconds hold 49 days; anything longer is clamped (it is an outage, not an interval). */
const MAX_INTERVAL_MS = 0xffff_fffe;

export class KeepaliveHistory {
  private readonly slots = new Map<string, number>();
  private intervals = new Uint32Array(INITIAL_SLOTS * KEEPALIVE_SAMPLES);
  /** Time of the latest keepalive (the end of the newest sample). */
  private lastKeepalive = new Float64Array(INITIAL_SLOTS);
  /** Start of the interval being measured; 0 = not measuring (offline). */
  private intervalStart = new Float64Array(INITIAL_SLOTS);
  private head = new Uint8Array(INITIAL_SLOTS);
  private fill = new Uint8Array(INITIAL_SLOTS);

  get devices(): number {
    return this.slots.size;
  }

  /** Bytes held by the buffers. */
  get bytes(): number {
    return this.intervals.byteLength + this.lastKeepalive.byteLength + this.intervalStart.byteLength + this.head.byteLength + this.fill.byteLength;
  }

  /** A keepalive arrived. */
  arrived(deviceId: string, at: number): void {
    const slot = this.slotOf(deviceId);
    const start = this.intervalStart[slot];
    this.intervalStart[slot] = at;
    if (start === 0 || at <= start) return;
    this.lastKeepalive[slot] = at;
    const base = slot * KEEPALIVE_SAMPLES;
    this.intervals[base + this.head[slot]] = Math.min(MAX_INTERVAL_MS, Math.round(at - start));
    this.head[slot] = (this.head[slot] + 1) % KEEPALIVE_SAMPLES;
    if (this.fill[slot] < KEEPALIVE_SAMPLES) this.fill[slot]++;
  }

  /** The device came online (registered): the next keepalive is measured from here. */
  online(deviceId: string, at: number): void {
    this.intervalStart[this.slotOf(deviceId)] = at;
  }

  /** The device went offline: the gap until it is back is not a keepalive interval. */
  offline(deviceId: string): void {
    const slot = this.slots.get(deviceId);
    if (slot !== undefined) this.intervalStart[slot] = 0;
  }

  report(deviceId: string, expectedIntervalSec: number): KeepaliveReport {
    const slot = this.slots.get(deviceId);
    const samples: KeepaliveSample[] = [];
    if (slot !== undefined) {
      const base = slot * KEEPALIVE_SAMPLES;
      let at = this.lastKeepalive[slot];
      // Newest first, walking back from the latest keepalive; reversed to oldest first below.
      for (let i = 0; i < this.fill[slot]; i++) {
        const index = (this.head[slot] - 1 - i + KEEPALIVE_SAMPLES) % KEEPALIVE_SAMPLES;
        const intervalMs = this.intervals[base + index];
        samples.push({ at, intervalMs });
        at -= intervalMs;
      }
      samples.reverse();
    }
    const intervals = samples.map((s) => s.intervalMs);
    const { mean, deviation } = meanAndDeviation(intervals);
    // Devices are set up with their own heartbeat period (often 10 or 30 s where the gateway's timeout assumes
    // 60): the chart is drawn against what this device does. The median, not the mean: a few late keepalives
    // are exactly what the chart must show as late, so they must not move the line they are judged against.
    const own = intervals.length >= DEVICE_INTERVAL_MIN_SAMPLES ? median(intervals) : null;
    return {
      expectedIntervalSec: own !== null ? Math.max(1, Math.round(own / 1000)) : expectedIntervalSec,
      expectedSource: own !== null ? 'device' : 'config',
      configuredIntervalSec: expectedIntervalSec,
      samples,
      meanMs: mean,
      jitterMs: deviation,
    };
  }

  private slotOf(deviceId: string): number {
    let slot = this.slots.get(deviceId);
    if (slot !== undefined) return slot;
    slot = this.slots.size;
    if (slot >= this.fill.length) this.grow();
    this.slots.set(deviceId, slot);
    return slot;
  }

  private grow(): void {
    const capacity = this.fill.length * 2;
    const intervals = new Uint32Array(capacity * KEEPALIVE_SAMPLES);
    intervals.set(this.intervals);
    this.intervals = intervals;
    const lastKeepalive = new Float64Array(capacity);
    lastKeepalive.set(this.lastKeepalive);
    this.lastKeepalive = lastKeepalive;
    const intervalStart = new Float64Array(capacity);
    intervalStart.set(this.intervalStart);
    this.intervalStart = intervalStart;
    const head = new Uint8Array(capacity);
    head.set(this.head);
    this.head = head;
    const fill = new Uint8Array(capacity);
    fill.set(this.fill);
    this.fill = fill;
  }
}

/** Mean and population standard deviation, rounded to whole milliseconds; nulls for no values. */
export function meanAndDeviation(values: readonly number[]): { mean: number | null; deviation: number | null } {
  if (values.length === 0) return { mean: null, deviation: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) * (v - mean), 0) / values.length;
  return { mean: Math.round(mean), deviation: Math.round(Math.sqrt(variance)) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
