/**
 * Pure helpers of the health console: rate deltas against yesterday / last week, target checks, the
 * keepalive chart's geometry and the live-refresh throttle. Kept out of the components so they can be
 * unit-tested (web/test/health-math.test.ts); the gateway does the grading and aggregation, these only
 * turn its numbers into something to draw.
 */

export type DeltaDirection = 'up' | 'down' | 'flat';

export interface RateDelta {
  /** Difference in percentage points, rounded to 0.1. */
  points: number;
  direction: DeltaDirection;
}

/** Percentage-point change from `previous` to `current` (rates 0..1); null when there is nothing to compare with. */
export function rateDelta(current: number, previous: number | null | undefined): RateDelta | null {
  if (previous === null || previous === undefined || Number.isNaN(previous) || Number.isNaN(current)) return null;
  const points = Math.round((current - previous) * 1000) / 10;
  // Rounded to 0.1 pp, anything smaller reads as "no change" (0.0 with an arrow would be noise).
  const direction: DeltaDirection = points > 0 ? 'up' : points < 0 ? 'down' : 'flat';
  return { points: direction === 'flat' ? 0 : points, direction };
}

/** "+0.4" / "−1.2" / "0.0" (a real minus sign, so the column lines up and screen readers say "minus"). */
export function formatPoints(points: number): string {
  if (points === 0) return '0.0';
  return `${points > 0 ? '+' : '−'}${Math.abs(points).toFixed(1)}`;
}

/** A rate is only below target when there is something to measure (0 of 0 is not a failure). */
export function isBelowTarget(rate: number, total: number, target: number): boolean {
  return total > 0 && rate < target;
}

// ---- keepalive chart

export interface KeepaliveSample {
  at: number;
  intervalMs: number;
}

export interface ChartSize {
  width: number;
  height: number;
  /** Room for the axis labels. */
  padLeft: number;
  padRight: number;
  padTop: number;
  padBottom: number;
}

export interface ChartPoint {
  x: number;
  y: number;
  at: number;
  intervalMs: number;
  /** Late by more than one expected interval past the expected one (a missed keepalive). */
  late: boolean;
}

export interface ChartTick {
  value: number;
  pos: number;
}

export interface KeepaliveGeometry {
  points: ChartPoint[];
  /** Polyline "x,y x,y …" through the points in time order. */
  line: string;
  expectedY: number | null;
  meanY: number | null;
  /** Mean ± jitter as a band (top is the larger interval). */
  band: { top: number; bottom: number } | null;
  yTicks: ChartTick[];
  xTicks: ChartTick[];
  /** Plot area, for the frame and the axes. */
  plot: { left: number; right: number; top: number; bottom: number };
}

/** 1, 2, 5 × 10^n step that gives about `count` ticks over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || count < 1) return 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  const nice = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10;
  return nice * magnitude;
}

export function keepaliveGeometry(
  samples: readonly KeepaliveSample[],
  stats: { expectedIntervalSec: number | null; meanMs: number | null; jitterMs: number | null },
  size: ChartSize,
): KeepaliveGeometry {
  const plot = { left: size.padLeft, right: size.width - size.padRight, top: size.padTop, bottom: size.height - size.padBottom };
  const sorted = [...samples].filter((s) => Number.isFinite(s.at) && Number.isFinite(s.intervalMs)).sort((a, b) => a.at - b.at);
  const expectedMs = stats.expectedIntervalSec !== null && stats.expectedIntervalSec > 0 ? stats.expectedIntervalSec * 1000 : null;
  const mean = stats.meanMs !== null && Number.isFinite(stats.meanMs) ? stats.meanMs : null;
  const jitter = stats.jitterMs !== null && Number.isFinite(stats.jitterMs) ? Math.abs(stats.jitterMs) : null;

  // The y range always starts at 0 (an interval chart that does not would exaggerate jitter) and covers
  // the samples, the expected interval and the jitter band, with a little headroom.
  let yMax = 0;
  for (const s of sorted) yMax = Math.max(yMax, s.intervalMs);
  if (expectedMs !== null) yMax = Math.max(yMax, expectedMs);
  if (mean !== null) yMax = Math.max(yMax, mean + (jitter ?? 0));
  if (yMax <= 0) yMax = 1000;
  const yStep = niceStep(yMax * 1.1, 4);
  yMax = Math.ceil((yMax * 1.1) / yStep) * yStep;

  const tMin = sorted.length > 0 ? sorted[0]!.at : 0;
  const tMax = sorted.length > 0 ? sorted[sorted.length - 1]!.at : 1;
  const tSpan = tMax - tMin;
  const x = (at: number): number => (tSpan > 0 ? plot.left + ((at - tMin) / tSpan) * (plot.right - plot.left) : (plot.left + plot.right) / 2);
  const y = (ms: number): number => plot.bottom - (Math.min(Math.max(ms, 0), yMax) / yMax) * (plot.bottom - plot.top);
  const round = (v: number): number => Math.round(v * 10) / 10;

  const points = sorted.map((s) => ({
    x: round(x(s.at)),
    y: round(y(s.intervalMs)),
    at: s.at,
    intervalMs: s.intervalMs,
    late: expectedMs !== null && s.intervalMs > expectedMs * 2,
  }));
  const yTicks: ChartTick[] = [];
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) yTicks.push({ value: v, pos: round(y(v)) });
  const xTicks: ChartTick[] = [];
  if (sorted.length > 1) {
    for (let i = 0; i <= 3; i++) {
      const at = tMin + (tSpan * i) / 3;
      xTicks.push({ value: at, pos: round(x(at)) });
    }
  } else if (sorted.length === 1) {
    xTicks.push({ value: tMin, pos: round(x(tMin)) });
  }
  return {
    points,
    line: points.map((p) => `${p.x},${p.y}`).join(' '),
    expectedY: expectedMs !== null ? round(y(expectedMs)) : null,
    meanY: mean !== null ? round(y(mean)) : null,
    band: mean !== null && jitter !== null ? { top: round(y(mean + jitter)), bottom: round(y(Math.max(0, mean - jitter))) } : null,
    yTicks,
    xTicks,
    plot,
  };
}

// ---- live refresh

export interface TimerApi {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: TimerApi = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface Throttle {
  /** Ask for a run: at once if the last one is older than the interval, else once at the end of it. */
  request(): void;
  cancel(): void;
}

/**
 * At most one run per `intervalMs`, never losing the last request: an NVR dropping 5,000 channels sends a
 * burst of channel-status events, and the list should reload once at the start and once after the burst,
 * not 5,000 times.
 */
export function createThrottle(run: () => void, intervalMs: number, timers: TimerApi = realTimers): Throttle {
  let lastRun = Number.NEGATIVE_INFINITY;
  let pending: unknown = null;
  const fire = (): void => {
    pending = null;
    lastRun = timers.now();
    run();
  };
  return {
    request() {
      if (pending !== null) return;
      const wait = lastRun + intervalMs - timers.now();
      if (wait <= 0) fire();
      else pending = timers.setTimeout(fire, wait);
    },
    cancel() {
      if (pending !== null) timers.clearTimeout(pending);
      pending = null;
    },
  };
}

/** health-channels-20261125-2359.csv, in Asia/Shanghai time like everything else operators read. */
export function csvFileName(now: number): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).formatToParts(now);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '00';
  return `health-channels-${get('year')}${get('month')}${get('day')}-${get('hour')}${get('minute')}.csv`;
}
