import { describe, expect, it } from 'vitest';
import { createThrottle, csvFileName, formatPoints, isBelowTarget, keepaliveGeometry, niceStep, rateDelta, type TimerApi } from '../src/components/health/health-math';

describe('health: rate deltas and targets', () => {
  it('gives the change in percentage points with a direction, and nothing without a previous figure', () => {
    expect(rateDelta(0.985, 0.98)).toEqual({ points: 0.5, direction: 'up' });
    expect(rateDelta(0.9, 0.95)).toEqual({ points: -5, direction: 'down' });
    expect(rateDelta(0.95, 0.95)).toEqual({ points: 0, direction: 'flat' });
    // Below 0.05 pp rounds to 0.0: no arrow for noise.
    expect(rateDelta(0.9500004, 0.95)).toEqual({ points: 0, direction: 'flat' });
    expect(rateDelta(0.9, null)).toBeNull();
    expect(rateDelta(0.9, undefined)).toBeNull();
  });

  it('formats points with a sign and a real minus', () => {
    expect(formatPoints(0.5)).toBe('+0.5');
    expect(formatPoints(-5)).toBe('−5.0');
    expect(formatPoints(0)).toBe('0.0');
  });

  it('is below target only with something to measure', () => {
    expect(isBelowTarget(0.9, 10, 0.95)).toBe(true);
    expect(isBelowTarget(0.96, 10, 0.95)).toBe(false);
    expect(isBelowTarget(0, 0, 0.95)).toBe(false);
  });
});

describe('health: keepalive chart geometry', () => {
  const size = { width: 500, height: 200, padLeft: 50, padRight: 10, padTop: 10, padBottom: 30 };

  it('places points in time order inside the plot, y from 0, with expected, mean and jitter band', () => {
    const samples = [
      { at: 30_000, intervalMs: 10_000 },
      { at: 10_000, intervalMs: 10_000 },
      { at: 20_000, intervalMs: 11_000 },
      { at: 60_000, intervalMs: 30_000 },
    ];
    const g = keepaliveGeometry(samples, { expectedIntervalSec: 10, meanMs: 15_250, jitterMs: 8_700 }, size);
    expect(g.points.map((p) => p.at)).toEqual([10_000, 20_000, 30_000, 60_000]);
    expect(g.points[0]!.x).toBe(50);
    expect(g.points[3]!.x).toBe(490);
    for (const p of g.points) {
      expect(p.y).toBeGreaterThanOrEqual(10);
      expect(p.y).toBeLessThanOrEqual(170);
    }
    // Longer interval = higher on the chart (smaller y).
    expect(g.points[3]!.y).toBeLessThan(g.points[0]!.y);
    expect(g.points.map((p) => p.late)).toEqual([false, false, false, true]);
    expect(g.yTicks[0]).toEqual({ value: 0, pos: 170 });
    expect(g.yTicks[g.yTicks.length - 1]!.value).toBeGreaterThanOrEqual(30_000);
    expect(g.expectedY).toBeGreaterThan(g.meanY!);
    expect(g.band!.top).toBeLessThan(g.meanY!);
    expect(g.band!.bottom).toBeGreaterThan(g.meanY!);
    expect(g.line.split(' ')).toHaveLength(4);
    expect(g.xTicks).toHaveLength(4);
  });

  it('copes with one sample and with none', () => {
    const one = keepaliveGeometry([{ at: 5, intervalMs: 60_000 }], { expectedIntervalSec: 60, meanMs: 60_000, jitterMs: 0 }, size);
    expect(one.points).toHaveLength(1);
    expect(one.points[0]!.x).toBe(270);
    const none = keepaliveGeometry([], { expectedIntervalSec: null, meanMs: null, jitterMs: null }, size);
    expect(none.points).toEqual([]);
    expect(none.band).toBeNull();
    expect(none.yTicks.length).toBeGreaterThan(1);
  });

  it('picks 1-2-5 steps', () => {
    expect(niceStep(66_000, 4)).toBe(20_000);
    expect(niceStep(11, 4)).toBe(5);
    expect(niceStep(0, 4)).toBe(1);
  });
});

describe('health: live refresh throttle', () => {
  function fakeTimers(): TimerApi & { advance(ms: number): void } {
    let now = 1_000;
    let queue: { at: number; fn: () => void; id: number }[] = [];
    let nextId = 1;
    return {
      now: () => now,
      setTimeout(fn, ms) {
        const id = nextId++;
        queue.push({ at: now + ms, fn, id });
        return id;
      },
      clearTimeout(handle) {
        queue = queue.filter((x) => x.id !== handle);
      },
      advance(ms) {
        const end = now + ms;
        for (;;) {
          queue.sort((a, b) => a.at - b.at);
          const next = queue[0];
          if (!next || next.at > end) break;
          queue.shift();
          now = next.at;
          next.fn();
        }
        now = end;
      },
    };
  }

  it('runs at once, then once at the end of a burst, never more than once per interval', () => {
    const timers = fakeTimers();
    const runs: number[] = [];
    const throttle = createThrottle(() => runs.push(timers.now()), 3_000, timers);
    throttle.request();
    expect(runs).toEqual([1_000]);
    for (let i = 0; i < 100; i++) {
      timers.advance(10);
      throttle.request();
    }
    expect(runs).toEqual([1_000]);
    timers.advance(3_000);
    expect(runs).toEqual([1_000, 4_000]);
    timers.advance(10_000);
    expect(runs).toHaveLength(2);
    throttle.request();
    expect(runs).toEqual([1_000, 4_000, 15_000]);
  });

  it('cancel drops the pending run', () => {
    const timers = fakeTimers();
    let runs = 0;
    const throttle = createThrottle(() => runs++, 1_000, timers);
    throttle.request();
    throttle.request();
    throttle.cancel();
    timers.advance(5_000);
    expect(runs).toBe(1);
  });
});

describe('health: CSV file name', () => {
  it('is dated in Asia/Shanghai time', () => {
    // 2026-11-25 16:05 UTC = 2026-11-26 00:05 in Shanghai.
    expect(csvFileName(Date.UTC(2026, 10, 25, 16, 5))).toBe('health-channels-20261126-0005.csv');
  });
});
