import { describe, expect, it } from 'vitest';
import { gridHlsMode, LL_HLS_TUNING, SEGMENT_HLS_TUNING } from '../src/player/hls-tuning';

describe('wall: hls.js settings of live tiles', () => {
  it('grid tiles load whole segments unless the wall PC is set to LL-HLS parts', () => {
    expect(gridHlsMode(null)).toBe('segments');
    expect(gridHlsMode('segments')).toBe('segments');
    expect(gridHlsMode('anything')).toBe('segments');
    expect(gridHlsMode('parts')).toBe('parts');
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
