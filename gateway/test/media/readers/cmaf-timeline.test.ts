/** The CMAF timeline's timing rules on synthetic AAC units: held-back durations, overlaps, epochs continuing. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { adtsHeaderFor } from '../../../src/codecs/aac/adts.js';
import { silentAacFrame } from '../../../src/codecs/aac/silent-frame.js';
import type { AccessUnit, AudioParameters, VideoParameters } from '../../../src/media/core/access-unit.js';
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

describe('CmafTimeline: holes in an AAC track next to video', () => {
  const VIDEO: VideoParameters = {
    kind: 'video',
    codec: 'h264',
    sps: [Uint8Array.of(0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x58, 0xba, 0x80)],
    pps: [Uint8Array.of(0x68, 0xce, 0x3c, 0x80)],
    vps: [],
    width: 640,
    height: 360,
    codecString: 'avc1.42c01e',
  };

  function runWithFillers(timeline: CmafTimeline, units: AccessUnit[]): TimelineSample[] {
    const out: TimelineSample[] = [];
    for (const u of units) {
      const s = timeline.push(u);
      if (s) out.push(s);
      out.push(...timeline.takeFillers());
    }
    return [...out, ...timeline.flush()].filter((s) => s.kind === 'audio');
  }

  it('fills a hole of several frames with silent 1,024-sample frames, so the track stays contiguous', () => {
    const timeline = new CmafTimeline([VIDEO, AAC]);
    // Frames 0, 1, 2, then a hole of 3.5 frames (a lost burst), then 3 more.
    const holeStart = 3 * FRAME + 3.5 * FRAME;
    const units = [audio(0), audio(FRAME), audio(2 * FRAME), audio(holeStart), audio(holeStart + FRAME), audio(holeStart + 2 * FRAME)];
    const samples = runWithFillers(timeline, units);
    expect(timeline.filledAudioFrames).toBe(4); // 3.5 frames of hole after frame 2 ends: 3 silent frames + one stamped 0.5
    for (let i = 1; i < samples.length; i++) expect(samples[i].decodeTime).toBe(samples[i - 1].decodeTime + samples[i - 1].sample.duration);
    expect(samples.slice(0, 3).map((s) => s.sample.duration)).toEqual([1024, 1024, 1024]);
    const silent = samples.slice(3, 7);
    expect(silent.every((s) => Buffer.from(s.sample.data as Uint8Array).equals(Buffer.from(silentAacFrame(1)!)))).toBe(true);
    // The next real frame starts where the camera stamped it.
    expect(samples[7].decodeTime90k - samples[0].decodeTime90k).toBe(holeStart);
  });

  it('does not fill without video, nor a hole longer than 2 s (the camera stopped sending audio)', () => {
    const alone = new CmafTimeline([AAC]);
    runWithFillers(alone, [audio(0), audio(10 * FRAME), audio(11 * FRAME)]);
    expect(alone.filledAudioFrames).toBe(0);
    const long = new CmafTimeline([VIDEO, AAC]);
    runWithFillers(long, [audio(0), audio(3 * 90_000), audio(3 * 90_000 + FRAME)]);
    expect(long.filledAudioFrames).toBe(0);
  });

  it('the silent frames decode to silence in ffmpeg (mono and stereo)', async () => {
    for (const channels of [1, 2]) {
      const config = aacLcConfig(48000, channels);
      const frame = silentAacFrame(channels)!;
      const adts = Buffer.concat(Array.from({ length: 50 }, () => Buffer.concat([Buffer.from(adtsHeaderFor(config, frame.length)), Buffer.from(frame)])));
      const { stdout, stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'aac', '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], adts);
      expect(stderr).toBe('');
      expect(stdout.length).toBe(50 * 1024 * channels * 2);
      expect(stdout.every((b) => b === 0)).toBe(true);
    }
  });
});

function execFileAsync(cmd: string, args: string[], input: Buffer): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(input);
  });
}
