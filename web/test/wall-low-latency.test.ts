import { describe, expect, it } from 'vitest';
import { lowLatencyTiles, parsePinned, swapPinned, togglePinned } from '../src/components/wall/low-latency';

describe('wall: which tiles play over the low-latency path', () => {
  const none = { tileCount: 9, maximised: null, ptzTile: null, steeredTile: null, pinned: [] as number[] };

  it('no tile by default; the maximised tile, the PTZ tile, the steered tile and pinned tiles', () => {
    expect([...lowLatencyTiles(none)]).toEqual([]);
    expect([...lowLatencyTiles({ ...none, maximised: 4 })]).toEqual([4]);
    expect([...lowLatencyTiles({ ...none, ptzTile: 2 })]).toEqual([2]);
    expect([...lowLatencyTiles({ ...none, steeredTile: 7 })]).toEqual([7]);
    expect([...lowLatencyTiles({ ...none, pinned: [0, 8], ptzTile: 0 })].sort()).toEqual([0, 8]);
  });

  it('ignores indices outside the layout (a pin kept from a larger layout)', () => {
    expect([...lowLatencyTiles({ ...none, tileCount: 4, pinned: [1, 6], maximised: 9 })]).toEqual([1]);
  });

  it('parses stored pins defensively', () => {
    expect(parsePinned('[3,1,1,"x",-1,2.5,99]')).toEqual([1, 3]);
    expect(parsePinned('{"a":1}')).toEqual([]);
    expect(parsePinned('not json')).toEqual([]);
    expect(parsePinned(null)).toEqual([]);
  });

  it('toggles and follows swapped cameras', () => {
    expect(togglePinned([1], 3)).toEqual([1, 3]);
    expect(togglePinned([1, 3], 1)).toEqual([3]);
    expect(swapPinned([1, 5], 1, 2)).toEqual([2, 5]);
    expect(swapPinned([1, 2], 1, 2)).toEqual([1, 2]);
  });
});
