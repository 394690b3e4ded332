import { describe, expect, it } from 'vitest';
import { DeadlineWheel } from '../../src/domain/registry/deadline-wheel.js';

describe('DeadlineWheel', () => {
  function wheel() {
    let now = 1_000_000;
    const fired: Array<[string, number]> = [];
    const w = new DeadlineWheel<string>((k, d) => fired.push([k, d]), () => now);
    return { w, fired, advanceTo: (t: number) => { now = t; w.advance(); } };
  }

  it('fires a deadline once it is due, not before', () => {
    const { w, fired, advanceTo } = wheel();
    w.set('a', 1_005_500);
    advanceTo(1_005_000);
    expect(fired).toEqual([]);
    advanceTo(1_006_000);
    expect(fired).toEqual([['a', 1_005_500]]);
    advanceTo(1_020_000);
    expect(fired).toHaveLength(1);
  });

  it('re-arming moves the deadline: the old bucket entry is ignored', () => {
    const { w, fired, advanceTo } = wheel();
    w.set('a', 1_002_000);
    w.set('a', 1_010_000);
    advanceTo(1_005_000);
    expect(fired).toEqual([]);
    advanceTo(1_010_000);
    expect(fired.map(([k]) => k)).toEqual(['a']);
  });

  it('deleted keys never fire, and an overdue deadline fires on the next walk', () => {
    const { w, fired, advanceTo } = wheel();
    w.set('gone', 1_001_000);
    w.delete('gone');
    w.set('late', 900_000);
    advanceTo(1_002_000);
    expect(fired.map(([k]) => k)).toEqual(['late']);
  });

  it('a key re-armed from inside the callback fires later, not lost', () => {
    let now = 1_000_000;
    const fired: string[] = [];
    const w: DeadlineWheel<string> = new DeadlineWheel<string>((k) => {
      fired.push(k);
      if (fired.length === 1) w.set(k, now);
    }, () => now);
    w.set('a', 1_000_500);
    now = 1_001_000;
    w.advance();
    now = 1_003_000;
    w.advance();
    expect(fired).toEqual(['a', 'a']);
  });

  it('handles 100,000 keys with one structure', () => {
    const { w, fired, advanceTo } = wheel();
    for (let i = 0; i < 100_000; i++) w.set(`d${i}`, 1_000_000 + (i % 180) * 1000 + 1);
    for (let i = 0; i < 1000; i++) w.set(`d${i}`, 2_000_000);
    advanceTo(1_200_000);
    expect(fired).toHaveLength(99_000);
    expect(w.size).toBe(1000);
  });
});
