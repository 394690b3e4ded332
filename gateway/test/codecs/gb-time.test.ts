import { describe, expect, it } from 'vitest';
import { fromGbTime, toGbTime } from '../../src/codecs/gb/gb-time.js';

describe('GB local time (China Standard Time, no zone)', () => {
  it('converts both ways at +8 h, with T or a space', () => {
    const t = Date.UTC(2026, 11, 4, 17, 30, 0);
    expect(toGbTime(t)).toBe('2026-12-05T01:30:00');
    expect(fromGbTime('2026-12-05T01:30:00')).toBe(t);
    expect(fromGbTime('2026-12-05 01:30:00')).toBe(t);
  });

  it('refuses what is not a GB time instead of guessing', () => {
    for (const bad of ['', 'yesterday', '2026-12-05', '2026-12-05T01:30:00Z', '2026-13-05T01:30:00', '2026-12-05T24:00:00', '2026-12-05T01:60:00']) {
      expect(fromGbTime(bad), bad).toBeNull();
    }
  });
});
