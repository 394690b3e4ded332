/**
 * hls.js settings of the live wall, kept apart from live-player.ts (which needs a browser) so that the benchmarks
 * (bench/glass-to-glass.mjs, bench/ttff.mjs) play with exactly these, and the choice of grid path is unit-tested.
 * Why each value: docs/media-llhls.md, "Which path a wall tile plays".
 */
import type { HlsConfig } from 'hls.js';

/**
 * LL-HLS (parts, blocking playlist reload): steered or maximised tiles that MSE cannot serve (grid tiles add a
 * larger distance from the edge: GRID_LL_HLS_TUNING). hls.js targets the playlist's
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
 * Whole segments (no parts): grid tiles on a wall PC set to `segments` (the opt-out of GRID_HLS_STORAGE_KEY). In
 * the 25-tile benchmark on the 2-core machine this was the lighter load: no stalled tile and ~2 % dropped frames
 * where parts at PART-HOLD-BACK stalled 3-4 tiles a run (bench/RESULTS.md, "Web wall 3"). The distance is given in
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

/**
 * LL-HLS parts for grid tiles (the wall's default, issue 9): the same as LL_HLS_TUNING but held further from the
 * edge than PART-HOLD-BACK (0.6 s). At 0.6 s hls.js keeps ~0.6-1 s buffered, and on the 25-tile benchmark (2-core
 * machine, Chromium at 100 % of a core decoding 25 tiles) 3-4 tiles a run stalled out of `playing` (bench/RESULTS.md,
 * "Web wall 3"). 1.2 s from the edge (a set liveSyncDuration overrides PART-HOLD-BACK in lowLatencyMode) keeps
 * about a second of parts buffered, so a scheduling hiccup of the decoder is absorbed, and lets hls.js's
 * catch-up (maxLiveSyncPlaybackRate, only while > 1 s is buffered) work at all. A tile that fell further than
 * liveMaxLatencyDuration behind (a long stall) is moved back to the sync position by hls.js. Measured in "Web wall 4":
 * all 25 tiles playing after a median 2.5 s, ~2 % dropped, ~1.2 s behind the edge (Web wall 3's parts figures were
 * taken while the media socket broke hls.js's blocking reloads).
 */
export const GRID_LL_HLS_TUNING: Partial<HlsConfig> = {
  ...LL_HLS_TUNING,
  liveSyncDuration: 1.2,
  liveMaxLatencyDuration: 5,
};

/** How grid tiles (sub-streams, not steered) play the LL-HLS playlist. */
export type GridHlsMode = 'parts' | 'segments';

/**
 * `localStorage['sharp-eyes.grid-hls']` = 'segments' puts the grid tiles of one wall PC on whole segments (~2 s
 * behind live instead of ~1.2 s, fewer requests; for a PC that cannot keep 25 tiles of parts fed). Anything else:
 * LL-HLS parts (GRID_LL_HLS_TUNING), the default.
 */
export const GRID_HLS_STORAGE_KEY = 'sharp-eyes.grid-hls';

export function gridHlsMode(stored: string | null): GridHlsMode {
  return stored === 'segments' ? 'segments' : 'parts';
}

/**
 * `localStorage['sharp-eyes.live-seek'] = 'off'` turns the seek below off on one wall PC (bench/wall-25.mjs
 * measures the wall with and without it this way).
 */
export const LIVE_SEEK_STORAGE_KEY = 'sharp-eyes.live-seek';

/** A seek shorter than this is not worth a decoder flush. */
const LIVE_SEEK_MIN_GAIN_SEC = 0.15;
/**
 * Keep at least this much buffered ahead of the new position. A seek that leaves less (the clamp to a short
 * buffer, right after a rebuffer) empties it again at once on a busy wall PC: on the 25-tile wall with a 0.1 s
 * margin the tiles seeked ~2 times each and every one stalled (bench/RESULTS.md, "Web wall 4").
 */
const LIVE_SEEK_MIN_AHEAD_SEC = 0.5;
/** After a `playing` event, how long the player looks for a seek that pays (the buffer may still be filling). */
const LIVE_SEEK_WINDOW_MS = 3_000;
const LIVE_SEEK_POLL_MS = 250;
/** After a seek, `playing` events are its own for this long (no second seek on top of it). */
const LIVE_SEEK_QUIET_MS = 5_000;

/**
 * Where to seek an LL-HLS tile to bring it to hls.js's live sync position, or null to leave it. hls.js starts
 * from the last independent part before that position (up to a GOP back) and speeds up only while more than 1 s
 * is buffered, so at PART-HOLD-BACK a tile stays where it started (~0.8-1.0 s behind instead of 0.6 s,
 * bench/RESULTS.md "Glass-to-glass 2"). Only forward, and only so far that LIVE_SEEK_MIN_AHEAD_SEC stays buffered.
 */
export function liveSeekTarget(currentTime: number, liveSyncPosition: number | null, bufferedEnd: number | null): number | null {
  if (liveSyncPosition === null || bufferedEnd === null || !Number.isFinite(liveSyncPosition) || !Number.isFinite(bufferedEnd)) return null;
  const target = Math.min(liveSyncPosition, bufferedEnd - LIVE_SEEK_MIN_AHEAD_SEC);
  return target - currentTime >= LIVE_SEEK_MIN_GAIN_SEC ? target : null;
}

/** End of the buffered range the playhead is in (null when it is in none). */
function bufferedEndAt(video: HTMLMediaElement): number | null {
  const t = video.currentTime;
  for (let i = 0; i < video.buffered.length; i++) {
    if (video.buffered.start(i) <= t + 0.05 && video.buffered.end(i) > t) return video.buffered.end(i);
  }
  return null;
}

/**
 * Each time the video starts playing (the first frame, and again after a rebuffer), seek once to hls.js's
 * live sync position if that gains at least LIVE_SEEK_MIN_GAIN_SEC (liveSeekTarget). Works on anything with
 * hls.js's `liveSyncPosition`. Returns the function that stops it. Shared by the wall's player and
 * bench/glass-to-glass.mjs (which injects this module into its page), so the benchmark measures this logic.
 */
export function seekToLiveOnPlaying(hls: { readonly liveSyncPosition: number | null }, video: HTMLMediaElement, onSeek?: (fromSec: number, toSec: number) => void): () => void {
  let timer: ReturnType<typeof setInterval> | null = null;
  let until = 0;
  // The seek itself makes the video wait and play again: that `playing` is not a new start.
  let quietUntil = 0;
  const stop = (): void => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  const attempt = (): void => {
    if (Date.now() > until || video.paused) return stop();
    const target = liveSeekTarget(video.currentTime, hls.liveSyncPosition, bufferedEndAt(video));
    if (target === null) return;
    const from = video.currentTime;
    video.currentTime = target;
    quietUntil = Date.now() + LIVE_SEEK_QUIET_MS;
    stop();
    onSeek?.(from, target);
  };
  const onPlaying = (): void => {
    if (Date.now() < quietUntil) return;
    until = Date.now() + LIVE_SEEK_WINDOW_MS;
    if (timer === null) timer = setInterval(attempt, LIVE_SEEK_POLL_MS);
    attempt();
  };
  video.addEventListener('playing', onPlaying);
  return () => {
    stop();
    video.removeEventListener('playing', onPlaying);
  };
}
