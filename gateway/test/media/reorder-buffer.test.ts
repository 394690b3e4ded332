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

  /** Pushes (seq, timestamp) pairs; the item is the sequence number. */
  function runTs(buffer: ReorderBuffer<number>, packets: Array<[number, number]>): number[] {
    return packets.flatMap(([seq, ts]) => buffer.push(seq, seq, ts));
  }

  /** `count` packets from `firstSeq` at `ticks` timestamp ticks per packet from `firstTs` (32-bit wrap). */
  function paced(firstSeq: number, count: number, firstTs: number, ticks = 470): Array<[number, number]> {
    return Array.from({ length: count }, (_, i) => [(firstSeq + i) & 0xffff, (firstTs + i * ticks) >>> 0]);
  }

  it('counts a long forward jump as loss when the timestamp advanced in step (an overflowing socket)', () => {
    const buffer = new ReorderBuffer<number>(32);
    runTs(buffer, paced(60_000, 500, 4_294_000_000));
    buffer.skipGap();
    // 5,000 packets dropped (sequence and 32-bit timestamp both wrap inside the gap), then the stream goes on.
    const after = paced((60_000 + 500 + 5_000) & 0xffff, 100, (4_294_000_000 + (500 + 5_000) * 470) >>> 0);
    const out = runTs(buffer, after);
    expect(out).toEqual(after.map(([seq]) => seq));
    expect(buffer.stats).toMatchObject({ lost: 5_000, resyncs: 0, lossJumps: 1 });
  });

  it('still takes a jump for a restart when the timestamp did not follow it, or the SSRC changed', () => {
    // Renumbered: the sequence jumps by 20,000 but only 1 s of timestamps passed.
    const renumbered = new ReorderBuffer<number>(32);
    runTs(renumbered, paced(100, 500, 0));
    renumbered.skipGap();
    runTs(renumbered, paced(20_600, 10, 500 * 470 + 90_000));
    expect(renumbered.stats).toMatchObject({ lost: 0, resyncs: 1, lossJumps: 0 });
    // The same jump as the loss case above, but after senderChanged(): a restart.
    const changed = new ReorderBuffer<number>(32);
    runTs(changed, paced(100, 500, 0));
    changed.skipGap();
    changed.senderChanged();
    runTs(changed, paced(5_600, 10, 5_500 * 470));
    expect(changed.stats).toMatchObject({ lost: 0, resyncs: 1, lossJumps: 0 });
    // Without timestamps (callers that have none): a restart as before.
    const plain = new ReorderBuffer<number>(32);
    run(plain, Array.from({ length: 500 }, (_, i) => 100 + i));
    plain.skipGap();
    run(plain, [5_600, 5_601]);
    expect(plain.stats).toMatchObject({ lost: 0, resyncs: 1, lossJumps: 0 });
  });

  it('rejects windows it cannot honour', () => {
    expect(() => new ReorderBuffer(0)).toThrow(RangeError);
    expect(() => new ReorderBuffer(10_000)).toThrow(RangeError);
  });
});
