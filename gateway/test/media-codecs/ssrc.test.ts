import { describe, expect, it } from 'vitest';
import { formatSsrc, parseSsrc, SsrcAllocator, SsrcExhaustedError, ssrcHexName, SSRC_SLOTS } from '../../src/codecs/gb/ssrc.js';

describe('SSRC rule (Annex G)', () => {
  it('builds d1 kind + digits 4-8 of the server ID + a 4-digit number', () => {
    const allocator = new SsrcAllocator('34020000002000000001');
    expect(allocator.allocate('live')).toBe('0200000001');
    expect(allocator.allocate('history')).toBe('1200000002');
    expect(new SsrcAllocator('13010000002000000001').allocate('live')).toBe('0100000001');
    expect(new SsrcAllocator('44030500002000000001').allocate('history')).toMatch(/^130500\d{4}$/);
    expect(() => new SsrcAllocator('3402000000')).toThrow(RangeError);
  });

  it('never hands out a number in use, does not reuse a released one at once, wraps the counter', () => {
    const allocator = new SsrcAllocator('34020000002000000001');
    const first = allocator.allocate('live');
    expect(allocator.release(first)).toBe(true);
    expect(allocator.release(first)).toBe(false);
    expect(allocator.allocate('live')).toBe('0200000002'); // rotating, not the just-released 0001
    const seen = new Set<string>();
    for (let i = 0; i < SSRC_SLOTS - 1; i++) seen.add(allocator.allocate(i % 2 ? 'live' : 'history').slice(6));
    expect(seen.size).toBe(SSRC_SLOTS - 1);
    expect(allocator.allocated).toBe(SSRC_SLOTS);
    expect(seen.has('0000')).toBe(true); // wrapped past 9999
    expect(() => allocator.allocate('live')).toThrow(SsrcExhaustedError);
    expect(() => allocator.allocate('live')).toThrow(/all 10000 SSRC numbers/);
    expect(allocator.release('0200004242')).toBe(true);
    expect(allocator.isInUse('1200004242')).toBe(false);
    expect(allocator.allocate('history')).toBe('1200004242'); // the only free number
    expect(allocator.release('0999994242')).toBe(false); // another domain's prefix
    expect(allocator.release('garbage')).toBe(false);
  });

  it('RTP SSRC is the decimal value of y=', () => {
    expect(parseSsrc('0200000001')).toBe(200000001);
    expect(parseSsrc('0200000001')).toBe(0x0bebc201);
    expect(parseSsrc('1999999999')).toBe(1999999999);
    expect(parseSsrc(' 0500000017 ')).toBe(500000017);
    expect(() => parseSsrc('')).toThrow(RangeError);
    expect(() => parseSsrc('0x12')).toThrow(RangeError);
    expect(() => parseSsrc('9999999999')).toThrow(/32 bits/);
    expect(formatSsrc(200000001)).toBe('0200000001');
    expect(ssrcHexName(200000001)).toBe('0BEBC201');
  });
});
