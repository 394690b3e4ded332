/** The MSE live player's pure decisions: control messages, holding the playhead near the live edge, trimming. */
import { describe, expect, it } from 'vitest';
import { parseControlMessage, planLiveSync, planTrim } from '../src/player/mse-live';

const SYNC = { targetLatencySec: 0.3, maxLatencySec: 1.5, catchUpRate: 1.1 };

describe('parseControlMessage', () => {
  it('reads init and end messages', () => {
    expect(parseControlMessage('{"type":"init","mime":"video/mp4; codecs=\\"avc1.64001f\\"","codecs":"avc1.64001f","width":640,"height":360,"epoch":2}')).toEqual({
      type: 'init',
      mime: 'video/mp4; codecs="avc1.64001f"',
      codecs: 'avc1.64001f',
      width: 640,
      height: 360,
      epoch: 2,
    });
    expect(parseControlMessage('{"type":"end","reason":"camera stopped sending"}')).toEqual({ type: 'end', reason: 'camera stopped sending' });
  });

  it('ignores what it does not know instead of throwing', () => {
    expect(parseControlMessage('not json')).toBeNull();
    expect(parseControlMessage('{"type":"init"}')).toBeNull();
    expect(parseControlMessage('{"type":"later-feature"}')).toBeNull();
    expect(parseControlMessage('null')).toBeNull();
  });
});

describe('planLiveSync', () => {
  it('does nothing with nothing buffered or when on target', () => {
    expect(planLiveSync([], 0, SYNC)).toEqual({ seekTo: null, playbackRate: 1 });
    expect(planLiveSync([{ start: 1, end: 5 }], 4.75, SYNC)).toEqual({ seekTo: null, playbackRate: 1 });
  });

  it('starts at the live edge when the playhead is before the buffer', () => {
    expect(planLiveSync([{ start: 1, end: 5 }], 0, SYNC).seekTo).toBeCloseTo(4.7, 5);
  });

  it('jumps over a gap left by a skip to the next keyframe', () => {
    const ranges = [{ start: 1, end: 3 }, { start: 4, end: 4.2 }, { start: 5, end: 8 }];
    expect(planLiveSync(ranges, 3, SYNC).seekTo).toBe(4);
  });

  it('catches up by speed when a little behind, by a jump when far behind', () => {
    expect(planLiveSync([{ start: 1, end: 5 }], 4.3, SYNC)).toEqual({ seekTo: null, playbackRate: 1.1 });
    expect(planLiveSync([{ start: 1, end: 9 }], 5, SYNC)).toEqual({ seekTo: 8.7, playbackRate: 1 });
  });

  it('waits when starved at the end of the buffer', () => {
    expect(planLiveSync([{ start: 1, end: 5 }], 5, SYNC)).toEqual({ seekTo: null, playbackRate: 1 });
  });
});

describe('planTrim', () => {
  it('removes what lies well behind the playhead, and nothing when little is there', () => {
    expect(planTrim([{ start: 0, end: 30 }], 25, 10)).toEqual({ start: 0, end: 15 });
    expect(planTrim([{ start: 14.5, end: 30 }], 25, 10)).toBeNull();
    expect(planTrim([], 25, 10)).toBeNull();
  });
});
