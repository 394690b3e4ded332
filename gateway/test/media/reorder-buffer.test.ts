import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../../src/media/reorder-buffer.js';

/** Pushes sequence numbers (the item is the sequence number itself) and returns everything released. */
function run(buffer: ReorderBuffer<number>, seqs: number[]): number[] {
  return seqs.flatMap((seq) => buffer.push(seq, seq));
}

describe('ReorderBuffer', () => {
  it('holds the start so a swapped first packet is not lost', () => {
    const buffer = new ReorderBuffer<number>(8); // start depth 4
    expect(run(buffer, [11, 10, 12])).toEqual([]);
    expect(run(buffer, [13])).toEqual([10, 11, 12, 13]);
    expect(run(buffer, [14])).toEqual([14]);
    expect(buffer.stats).toMatchObject({ lost: 0, reordered: 1 });
  });

  it('the hold timer (skipGap) ends the start early with what arrived', () => {
    const buffer = new ReorderBuffer<number>(32);
    expect(run(buffer, [5, 4])).toEqual([]);
    expect(buffer.skipGap()).toEqual([4, 5]);
    expect(run(buffer, [6])).toEqual([6]);
  });

  it('gives up the oldest gaps when a packet would not fit the window', () => {
    const buffer = new ReorderBuffer<number>(4);
    run(buffer, [0, 1]);
    buffer.skipGap();
    // 2 and 3 missing; 4, 5 wait; 6 does not fit (6 - 2 >= 4) so 2 is given up, 3 too for 7.
    expect(run(buffer, [4, 5, 6])).toEqual([]);
    expect(run(buffer, [7])).toEqual([4, 5, 6, 7]);
    expect(buffer.stats.lost).toBe(2);
    // 3 now comes late: dropped and counted as late, not as a duplicate.
    expect(run(buffer, [3, 6])).toEqual([]);
    expect(buffer.stats).toMatchObject({ late: 1, duplicates: 1 });
  });

  it('counts a duplicate of a waiting packet', () => {
    const buffer = new ReorderBuffer<number>(8);
    run(buffer, [0, 1, 2, 3]);
    expect(run(buffer, [5, 5, 4])).toEqual([4, 5]);
    expect(buffer.stats.duplicates).toBe(1);
  });

  it('wraps around 65535 → 0', () => {
    const buffer = new ReorderBuffer<number>(8);
    expect([...run(buffer, [65533, 65534, 0, 65535, 1, 2]), ...buffer.flush()]).toEqual([65533, 65534, 65535, 0, 1, 2]);
    expect(buffer.stats.lost).toBe(0);
  });

  it('follows a sender restart only when the next packet confirms it', () => {
    const buffer = new ReorderBuffer<number>(4);
    run(buffer, [100, 101]);
    buffer.skipGap();
    // A single stray far-off packet is held, then dropped when the old numbering continues.
    expect(run(buffer, [30000, 102])).toEqual([102]);
    expect(buffer.stats).toMatchObject({ late: 1, resyncs: 0 });
    // Two consecutive far-off packets: a restart. Waiting packets (104) go out first, nothing counted lost.
    expect(run(buffer, [104, 5000, 5001])).toEqual([104, 5000, 5001]);
    expect(run(buffer, [5002])).toEqual([5002]);
    expect(buffer.stats).toMatchObject({ resyncs: 1, lost: 0 });
  });

  it('rejects windows it cannot honour', () => {
    expect(() => new ReorderBuffer(0)).toThrow(RangeError);
    expect(() => new ReorderBuffer(10_000)).toThrow(RangeError);
  });
});
