/**
 * hls.js settings of the live wall, kept apart from live-player.ts (which needs a browser) so that the benchmarks
 * (bench/glass-to-glass.mjs, bench/ttff.mjs) play with exactly these, and the choice of grid path is unit-tested.
 * Why each value: docs/media-llhls.md, "Which path a wall tile plays".
 */
import type { HlsConfig } from 'hls.js';

/**
 * LL-HLS (parts, blocking playlist reload): steered or maximised tiles that MSE cannot serve, and grid tiles on a
 * wall PC set to `parts` (GRID_HLS_STORAGE_KEY). hls.js targets the playlist's
 * PART-HOLD-BACK only when no liveSync* value is set: a user-set liveSyncDurationCount overrides PART-HOLD-BACK
 * even in lowLatencyMode (hls.js LatencyController.computeLatency) and parks the tile whole segments behind the
 * edge. maxLiveSyncPlaybackRate > 1 catches up after a stall on a busy PC.
 */
export const LL_HLS_TUNING: Partial<HlsConfig> = {
  lowLatencyMode: true,
  maxLiveSyncPlaybackRate: 1.1,
  maxBufferLength: 4,
  backBufferLength: 4,
  // fMP4 is passed through, not transmuxed: a worker per tile (25 threads) would buy nothing.
  enableWorker: false,
};

/**
 * Whole segments (no parts): grid tiles by default. In the 25-tile benchmark on the 2-core machine, grid tiles on
 * parts started sooner (all 25 playing after a median 3.4 s against 4.1 s) but in every run 3-4 of the 25 tiles stalled
 * during the minute and up to 13 % of frames were dropped, where whole segments had no stalled tile and ~2 %
 * (bench/RESULTS.md, "Web wall 3"). The distance is given in
 * seconds: a count is multiplied by EXT-X-TARGETDURATION, which is the 2 s upper bound of a segment in the
 * in-process playlist (segments are ~1 s), so `liveSyncDurationCount: 2` sat ~4.2 s behind the edge.
 * 2 s behind the edge with 1 s segments keeps about one segment buffered ahead of the playhead when the next
 * one is published.
 */
export const SEGMENT_HLS_TUNING: Partial<HlsConfig> = {
  lowLatencyMode: false,
  liveSyncDuration: 2,
  liveMaxLatencyDuration: 6,
  maxLiveSyncPlaybackRate: 1.1,
  maxBufferLength: 6,
  backBufferLength: 4,
  enableWorker: false,
};

/** How grid tiles (sub-streams, not steered) play the LL-HLS playlist. */
export type GridHlsMode = 'parts' | 'segments';

/**
 * `localStorage['sharp-eyes.grid-hls']` = 'parts' puts the grid tiles of one wall PC on LL-HLS parts (a PC with
 * the CPU for it: ~1 s behind live instead of ~2 s; the 25-tile benchmark compares the two this way). Anything
 * else: whole segments.
 */
export const GRID_HLS_STORAGE_KEY = 'sharp-eyes.grid-hls';

export function gridHlsMode(stored: string | null): GridHlsMode {
  return stored === 'parts' ? 'parts' : 'segments';
}
