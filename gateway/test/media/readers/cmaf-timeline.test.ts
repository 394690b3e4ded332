/** The CMAF timeline's timing rules on synthetic AAC units: held-back durations, overlaps, epochs continuing. */
import { describe, expect, it } from 'vitest';
import type { AccessUnit, AudioParameters } from '../../../src/media/core/access-unit.js';
import { CmafTimeline, type TimelineSample } from '../../../src/media/readers/cmaf/cmaf-timeline.js';
import { aacLcConfig } from '../../support/encoded-media.js';

const AAC: AudioParameters = { kind: 'audio', codec: 'aac', sampleRate: 48000, channels: 1, config: aacLcConfig(48000, 1), codecString: 'mp4a.40.2' };
const FRAME = 1920; // 1024 samples at 48 kHz on the 90 kHz clock

const audio = (dts: number): AccessUnit => ({ kind: 'audio', pts: dts, dts, keyframe: true, data: Uint8Array.of(1, 2, 3), epoch: 1, receivedAt: 0 });

function run(timeline: CmafTimeline, units: AccessUnit[]): TimelineSample[] {
  const out: TimelineSample[] = [];
  for (const u of units) {
    const s = timeline.push(u);
    if (s) out.push(s);
  }
  return [...out, ...timeline.flush()];
}

describe('CmafTimeline', () => {
  it('starts at 1 s, gives each sample the distance to the next as its duration', () => {
    const samples = run(new CmafTimeline([AAC]), [audio(5000), audio(5000 + FRAME), audio(5000 + 2 * FRAME)]);
    expect(samples.map((s) => s.decodeTime)).toEqual([48000, 49024, 50048]);
    expect(samples.map((s) => s.sample.duration)).toEqual([1024, 1024, 1024]);
  });

  it('shifts a slight overlap forward and drops a unit that repeats or goes back', () => {
    const timeline = new CmafTimeline([AAC]);
    const samples = run(timeline, [audio(0), audio(FRAME), audio(2 * FRAME - 300), audio(FRAME), audio(3 * FRAME)]);
    const times = samples.map((s) => s.decodeTime90k);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(samples[i - 1].end90k);
    expect(timeline.dropped).toBe(1);
  });

  it('continues a new epoch where the previous one ended', () => {
    const first = new CmafTimeline([AAC]);
    run(first, [audio(0), audio(FRAME), audio(2 * FRAME)]);
    const second = new CmafTimeline([AAC], first.end90k());
    const samples = run(second, [audio(777_777)]);
    expect(samples[0].decodeTime90k).toBe(90000 + 3 * FRAME);
  });
});
