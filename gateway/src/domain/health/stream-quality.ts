/**
 * Stream quality against what the channel should deliver: the expected figures and a grade. Pure functions.
 *
 * Expected values: the channel's own last good sample of the same stream (main or sub) when it is less than
 * 24 h old — a camera configured for 15 fps is then judged against 15, not against a global number — else
 * the configured `health.expectedFps`.
 *
 * Grade (of a sample from a stream that has been playing for a few seconds):
 * - good: fps ≥ 90 % of expected, packet loss ≤ 0.5 %, resolution as expected (when known), no stall in the
 *   last hour;
 * - poor: fps < 60 % of expected, or loss > 2 %, or ≥ 3 stalls in the last hour;
 * - fair: anything between;
 * - unknown: no sample, or the stream is still warming up (fps is measured over the last second, and the
 *   first second after the first segment is not representative).
 */
import type { ReasonCode, QualityGrade, StreamExpectation, StreamSample } from './types.js';

export const LAST_GOOD_MAX_AGE_MS = 24 * 3600_000;
export const WARM_UP_SEC = 3;

const GOOD_FPS_RATIO = 0.9;
const POOR_FPS_RATIO = 0.6;
const GOOD_MAX_LOSS = 0.005;
const POOR_MIN_LOSS = 0.02;
const POOR_MIN_STALLS = 3;
const FIRST_GOOD_FPS_RATIO = 0.5;

export function expectationFor(lastGood: StreamSample | null, configuredFps: number, now: number): StreamExpectation {
  if (lastGood && now - lastGood.at <= LAST_GOOD_MAX_AGE_MS) {
    return {
      fps: lastGood.fps,
      codec: lastGood.codec,
      width: lastGood.width,
      height: lastGood.height,
      bitrateKbps: lastGood.bitrateKbps,
      source: 'last-good',
    };
  }
  return { fps: configuredFps, codec: null, width: null, height: null, bitrateKbps: null, source: 'config' };
}

export interface GradeResult {
  grade: QualityGrade;
  reasons: string[];
  /** The same reasons as codes (`reason.<code>` in the UIs' catalogues). */
  codes: ReasonCode[];
}

export function gradeStream(sample: StreamSample | null, expected: StreamExpectation, stalls1h: number): GradeResult {
  const reasons: string[] = [];
  const codes: ReasonCode[] = [];
  let poor = false;
  let fair = false;
  if (stalls1h >= POOR_MIN_STALLS) {
    poor = true;
    reasons.push(`${stalls1h} stalls in the last hour`);
    codes.push({ code: 'stalls', params: { count: stalls1h } });
  } else if (stalls1h > 0) {
    fair = true;
    reasons.push(`${stalls1h} stall(s) in the last hour`);
    codes.push({ code: 'stalls', params: { count: stalls1h } });
  }
  if (sample && sample.uptimeSec >= WARM_UP_SEC) {
    const ratio = expected.fps > 0 ? sample.fps / expected.fps : 1;
    if (ratio < POOR_FPS_RATIO) {
      poor = true;
      reasons.push(`fps ${sample.fps} is below 60 % of the expected ${expected.fps}`);
      codes.push({ code: 'fps-poor', params: { fps: sample.fps, expected: expected.fps, percent: Math.round(POOR_FPS_RATIO * 100) } });
    } else if (ratio < GOOD_FPS_RATIO) {
      fair = true;
      reasons.push(`fps ${sample.fps} is below the expected ${expected.fps}`);
      codes.push({ code: 'fps-fair', params: { fps: sample.fps, expected: expected.fps } });
    }
    if (sample.packetLoss > POOR_MIN_LOSS) {
      poor = true;
      reasons.push(`packet loss ${percent(sample.packetLoss)}`);
      codes.push({ code: 'packet-loss', params: { loss: percent(sample.packetLoss) } });
    } else if (sample.packetLoss > GOOD_MAX_LOSS) {
      fair = true;
      reasons.push(`packet loss ${percent(sample.packetLoss)}`);
      codes.push({ code: 'packet-loss', params: { loss: percent(sample.packetLoss) } });
    }
    if (expected.width !== null && expected.height !== null && sample.width !== null && sample.height !== null) {
      if (sample.width * sample.height < expected.width * expected.height) {
        fair = true;
        reasons.push(`resolution ${sample.width}x${sample.height} is below the expected ${expected.width}x${expected.height}`);
        codes.push({ code: 'resolution-low', params: { actual: `${sample.width}×${sample.height}`, expected: `${expected.width}×${expected.height}` } });
      }
    }
  } else if (!poor && !fair) {
    return { grade: 'unknown', reasons, codes };
  }
  return { grade: poor ? 'poor' : fair ? 'fair' : 'good', reasons, codes };
}

/**
 * A sample that may become the channel's new "last good": warm, low loss, and not a drop against the previous
 * good one. Without a previous one, half the configured fps is enough: a camera set to 15 fps then becomes
 * its own reference, while one that starts at 5 fps is still judged against the configuration.
 */
export function isGoodSample(sample: StreamSample, previousGood: StreamSample | null, configuredFps: number): boolean {
  if (sample.uptimeSec < WARM_UP_SEC || sample.packetLoss > GOOD_MAX_LOSS || sample.fps <= 0) return false;
  if (!previousGood) return sample.fps >= configuredFps * FIRST_GOOD_FPS_RATIO;
  return sample.fps >= previousGood.fps * GOOD_FPS_RATIO;
}

function percent(x: number): string {
  return `${Math.round(x * 10_000) / 100} %`;
}
