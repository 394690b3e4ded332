import { describe, expect, it } from 'vitest';
import { GRID_LL_HLS_TUNING, gridHlsMode, liveSeekTarget, LL_HLS_TUNING, SEGMENT_HLS_TUNING } from '../src/player/hls-tuning';

describe('wall: hls.js settings of live tiles', () => {
  it('grid tiles load LL-HLS parts unless the wall PC opted out to whole segments', () => {
    expect(gridHlsMode(null)).toBe('parts');
    expect(gridHlsMode('parts')).toBe('parts');
    expect(gridHlsMode('anything')).toBe('parts');
    expect(gridHlsMode('segments')).toBe('segments');
  });

  it('grid tiles on parts sit further from the edge than PART-HOLD-BACK (0.6 s), in seconds', () => {
    expect(GRID_LL_HLS_TUNING.lowLatencyMode).toBe(true);
    expect(GRID_LL_HLS_TUNING.liveSyncDurationCount).toBeUndefined();
    expect(GRID_LL_HLS_TUNING.liveSyncDuration).toBeGreaterThanOrEqual(1);
    expect(GRID_LL_HLS_TUNING.liveSyncDuration).toBeLessThanOrEqual(1.5);
    expect(GRID_LL_HLS_TUNING.liveMaxLatencyDuration).toBeGreaterThan(GRID_LL_HLS_TUNING.liveSyncDuration ?? Infinity);
    // More than 1 s buffered, or hls.js never speeds up to catch up.
    expect(GRID_LL_HLS_TUNING.maxLiveSyncPlaybackRate).toBeGreaterThan(1);
  });

  it('the seek to the live sync position goes forward only, stays inside the buffer, and skips tiny steps', () => {
    // Started a GOP back: 1.0 s behind the sync position, buffered to 0.6 s past it.
    expect(liveSeekTarget(4.0, 5.0, 5.6)).toBe(5.0);
    // Less than 0.5 s buffered past the sync position: only as far as leaves 0.5 s ahead.
    expect(liveSeekTarget(4.0, 5.0, 5.1)).toBeCloseTo(4.6, 5);
    // Already there (or ahead): no seek.
    expect(liveSeekTarget(4.95, 5.0, 5.8)).toBeNull();
    expect(liveSeekTarget(5.5, 5.0, 6.2)).toBeNull();
    // Right after a rebuffer, with little buffered: no seek that would empty it again.
    expect(liveSeekTarget(4.0, 5.0, 4.6)).toBeNull();
    // hls.js has no position yet, or nothing is buffered.
    expect(liveSeekTarget(4.0, null, 5.6)).toBeNull();
    expect(liveSeekTarget(4.0, 5.0, null)).toBeNull();
  });

  it('LL-HLS sets no liveSync distance, so hls.js targets the playlist PART-HOLD-BACK', () => {
    expect(LL_HLS_TUNING.lowLatencyMode).toBe(true);
    for (const key of ['liveSyncDurationCount', 'liveSyncDuration', 'liveMaxLatencyDurationCount', 'liveMaxLatencyDuration'] as const) {
      expect(LL_HLS_TUNING[key]).toBeUndefined();
    }
    expect(LL_HLS_TUNING.maxLiveSyncPlaybackRate).toBeGreaterThan(1);
  });

  it('whole segments keep a distance in seconds, not a count of the 2 s target duration', () => {
    expect(SEGMENT_HLS_TUNING.lowLatencyMode).toBe(false);
    expect(SEGMENT_HLS_TUNING.liveSyncDurationCount).toBeUndefined();
    expect(SEGMENT_HLS_TUNING.liveMaxLatencyDurationCount).toBeUndefined();
    expect(SEGMENT_HLS_TUNING.liveSyncDuration).toBeLessThanOrEqual(2);
    // hls.js refuses a config whose max latency is not above the sync distance.
    expect(SEGMENT_HLS_TUNING.liveMaxLatencyDuration).toBeGreaterThan(SEGMENT_HLS_TUNING.liveSyncDuration ?? Infinity);
  });
});
