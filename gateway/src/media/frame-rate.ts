/**
 * Source frame rate from video PTS values (90 kHz), for the packager's `frameRate` (ffmpeg's `-framerate` for
 * streams without SPS timing, and the transcoder's GOP). Pure.
 *
 * The median of the positive PTS steps is robust against a dropped frame (a double step) or a reordered one;
 * the result snaps to the usual camera rates when within 3 %, since camera clocks are slightly off.
 */

const PTS_WRAP = 2 ** 33;
const COMMON_RATES = [5, 6.25, 8, 10, 12, 12.5, 15, 20, 24, 25, 30, 50, 60];

/** Frames per second, or null with fewer than two usable PTS values. */
export function estimateFrameRate(pts90k: ReadonlyArray<number | null>): number | null {
  const values = pts90k.filter((p): p is number => p !== null);
  const steps: number[] = [];
  for (let i = 1; i < values.length; i++) {
    const step = (values[i]! - values[i - 1]! + PTS_WRAP) % PTS_WRAP; // 33-bit wraparound
    if (step > 0 && step < 90_000) steps.push(step);
  }
  if (steps.length === 0) return null;
  steps.sort((a, b) => a - b);
  const median = steps[Math.floor(steps.length / 2)]!;
  const rate = 90_000 / median;
  const near = COMMON_RATES.find((r) => Math.abs(rate - r) / r < 0.03);
  return near ?? Math.round(rate * 100) / 100;
}
