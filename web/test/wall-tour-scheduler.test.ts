import { beforeEach, describe, expect, it } from 'vitest';
import { TourScheduler, type TourStepPlan } from '../src/components/wall/tour-scheduler';

const step = (id: string, dwellSec = 5, preset: number | null = null): TourStepPlan => ({ channelIds: [id], dwellSec, preset });

describe('tour scheduler', () => {
  let now: number;
  let offline: Set<string>;
  const clock = () => now;
  const available = (s: TourStepPlan) => s.channelIds.some((id) => !offline.has(id));
  const make = (steps: TourStepPlan[]) => new TourScheduler(steps, available, clock, 2_000);

  beforeEach(() => {
    now = 1_000_000;
    offline = new Set();
  });

  it('shows each step for its own dwell, in order, and wraps round', () => {
    const t = make([step('a', 5), step('b', 10), step('c', 5)]);
    expect(t.start().index).toBe(0);
    now += 4_999;
    expect(t.tick()).toBeNull();
    now += 1;
    expect(t.tick()?.step.channelIds).toEqual(['b']);
    now += 9_000;
    expect(t.tick()).toBeNull();
    now += 1_000;
    expect(t.tick()?.index).toBe(2);
    now += 5_000;
    expect(t.tick()?.index).toBe(0);
  });

  it('reports progress: step n of m and the countdown', () => {
    const t = make([step('a', 10), step('b', 10)]);
    t.start();
    now += 2_500;
    expect(t.progress()).toMatchObject({ index: 0, count: 2, paused: false, waiting: false, remainingMs: 7_500, dwellMs: 10_000, fraction: 0.25 });
  });

  it('pause freezes the remaining dwell; resume continues from there', () => {
    const t = make([step('a', 10), step('b', 10)]);
    t.start();
    now += 4_000;
    expect(t.toggle()).toBe(true);
    now += 60_000;
    expect(t.tick()).toBeNull();
    expect(t.progress()).toMatchObject({ paused: true, remainingMs: 6_000 });
    expect(t.toggle()).toBe(false);
    now += 5_999;
    expect(t.tick()).toBeNull();
    now += 1;
    expect(t.tick()?.index).toBe(1);
  });

  it('skips offline cameras when starting and when moving on', () => {
    offline = new Set(['a', 'c']);
    const t = make([step('a'), step('b'), step('c'), step('d')]);
    expect(t.start().index).toBe(1);
    now += 5_000;
    expect(t.tick()?.index).toBe(3);
    now += 5_000;
    expect(t.tick()?.index).toBe(1);
  });

  it('moves on at once when the showing camera goes offline', () => {
    const t = make([step('a', 60), step('b', 60)]);
    t.start();
    now += 1_000;
    expect(t.tick()).toBeNull();
    offline.add('a');
    expect(t.tick()?.index).toBe(1);
  });

  it('a wall step with one camera online is still shown', () => {
    offline = new Set(['a1']);
    const t = make([{ channelIds: ['a1', 'a2'], dwellSec: 5, preset: 3 }, step('b')]);
    expect(t.start()).toMatchObject({ index: 0, step: { preset: 3 } });
  });

  it('waits while every camera is offline and resumes as soon as one comes back', () => {
    offline = new Set(['a', 'b']);
    const t = make([step('a'), step('b')]);
    t.start();
    expect(t.progress()).toMatchObject({ waiting: true, dwellMs: 2_000 });
    now += 10_000;
    expect(t.tick()).toBeNull();
    offline.delete('b');
    expect(t.tick()?.index).toBe(1);
    expect(t.progress()).toMatchObject({ waiting: false, remainingMs: 5_000 });
  });

  it('a tour with one available step stays on it without reporting a change', () => {
    offline = new Set(['b']);
    const t = make([step('a'), step('b')]);
    t.start();
    now += 5_000;
    expect(t.tick()).toBeNull();
    expect(t.progress()).toMatchObject({ index: 0, remainingMs: 5_000 });
  });

  it('manual next/previous skip the same way and restart the dwell', () => {
    offline = new Set(['c']);
    const t = make([step('a'), step('b'), step('c')]);
    t.start();
    now += 3_000;
    expect(t.skip(-1)?.index).toBe(1);
    expect(t.progress().remainingMs).toBe(5_000);
    expect(t.skip(1)?.index).toBe(0);
  });

  it('refuses an empty tour', () => {
    expect(() => make([])).toThrow(RangeError);
  });
});
