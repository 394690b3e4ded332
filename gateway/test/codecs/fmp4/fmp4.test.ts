/**
 * The fMP4 writer on real encoder output: H.264 with B-frames + AAC, and H.265 with B-frames. The init
 * segment and the fragments (grouped the way the readers group them) are checked by two independent parsers:
 * ffprobe (codec, resolution, every frame decoded, monotonic DTS, PTS as encoded) and GPAC's MP4Box.js
 * (codec strings, sample count, per-sample DTS / CTS / sync flags read back from trun).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  avcCodecString,
  buildFragment,
  buildInitSegment,
  Fmp4InputError,
  hevcCodecString,
  lengthPrefixed,
  naluSample,
  parseHevcSps,
  type FragmentTrack,
} from '../../../src/codecs/fmp4/index.js';
import { CmafTimeline, type TimelineSample } from '../../../src/media/readers/cmaf/cmaf-timeline.js';
import { encodeTestMedia, FFPROBE, type EncodedMedia } from '../../support/encoded-media.js';
import { inspectWithMp4Box } from '../../support/mp4box-inspect.js';

const run = promisify(execFile);
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'se-fmp4-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** init + fragments of ~5 video frames each (audio samples go with the video time they belong to). */
function mux(media: EncodedMedia): { bytes: Uint8Array; timeline: CmafTimeline; samples: TimelineSample[] } {
  const timeline = new CmafTimeline(media.tracks);
  const samples: TimelineSample[] = [];
  for (const unit of media.units) {
    const done = timeline.push(unit);
    if (done) samples.push(done);
  }
  samples.push(...timeline.flush());
  const chunks: Uint8Array[] = [timeline.init];
  const video = samples.filter((s) => s.kind === 'video');
  const audio = samples.filter((s) => s.kind === 'audio');
  let sequence = 1;
  for (let i = 0; i < video.length; i += 5) {
    const group = video.slice(i, i + 5);
    const end = i + 5 >= video.length ? Infinity : group[group.length - 1].end90k;
    const groupAudio = audio.filter((a) => a.decodeTime90k < end && (i === 0 || a.decodeTime90k >= video[i].decodeTime90k));
    const tracks: FragmentTrack[] = [group, groupAudio]
      .filter((g) => g.length > 0)
      .map((g) => ({ trackId: g[0].trackId, baseMediaDecodeTime: g[0].decodeTime, samples: g.map((s) => s.sample) }));
    chunks.push(buildFragment(sequence++, tracks));
  }
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, timeline, samples };
}

interface FfprobeFrames {
  streams: Array<{ codec_name: string; codec_type: string; width?: number; height?: number; nb_read_frames?: string; sample_rate?: string }>;
  packets: Array<{ codec_type: string; pts: number; dts: number }>;
}

async function ffprobe(file: string): Promise<FfprobeFrames> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_streams', '-show_packets', '-of', 'json', file], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as FfprobeFrames;
}

describe('fMP4 writer on H.264 with B-frames + AAC', () => {
  let media: EncodedMedia;
  let file = '';
  let muxed: ReturnType<typeof mux>;

  beforeAll(async () => {
    media = await encodeTestMedia({ codec: 'h264', seconds: 3, bframes: 2, gop: 25, audio: true, width: 320, height: 240 });
    muxed = mux(media);
    file = join(dir, 'h264-aac.mp4');
    await writeFile(file, muxed.bytes);
  }, 120_000);

  it('has B-frames in the input (PTS ≠ DTS), or the test proves nothing', () => {
    expect(media.units.some((u) => u.kind === 'video' && u.pts !== u.dts)).toBe(true);
  });

  it('ffprobe decodes every video frame and sees the codec, size and audio', async () => {
    const probed = await ffprobe(file);
    const video = probed.streams.find((s) => s.codec_type === 'video');
    const audio = probed.streams.find((s) => s.codec_type === 'audio');
    expect(video).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(Number(video?.nb_read_frames)).toBe(media.units.filter((u) => u.kind === 'video').length);
    expect(audio).toMatchObject({ codec_name: 'aac', sample_rate: '48000' });
    const videoPackets = probed.packets.filter((p) => p.codec_type === 'video');
    for (let i = 1; i < videoPackets.length; i++) expect(videoPackets[i].dts).toBeGreaterThan(videoPackets[i - 1].dts);
    // PTS order as encoded: the presentation offsets survived the trun (B-frames reorder).
    const inputOffsets = media.units.filter((u) => u.kind === 'video').map((u) => u.pts - u.dts);
    const outputOffsets = videoPackets.map((p) => p.pts - p.dts);
    expect(outputOffsets).toEqual(inputOffsets);
  });

  it('MP4Box.js reads the codec strings, every sample and its timing back', () => {
    const report = inspectWithMp4Box(muxed.bytes);
    expect(report.errors).toEqual([]);
    expect(report.info.isFragmented).toBe(true);
    const videoTrack = report.info.videoTracks[0];
    expect(videoTrack.codec).toBe(avcCodecString(media.video.sps[0]));
    expect(videoTrack.video?.width).toBe(320);
    expect(report.info.audioTracks[0].codec).toBe('mp4a.40.2');
    const videoSamples = report.samples.get(videoTrack.id) ?? [];
    const input = media.units.filter((u) => u.kind === 'video');
    expect(videoSamples.length).toBe(input.length);
    const first = input[0];
    videoSamples.forEach((s, i) => {
      expect(s.is_sync).toBe(input[i].keyframe);
      expect(s.cts - s.dts).toBe(input[i].pts - input[i].dts);
      expect(s.dts - videoSamples[0].dts).toBe(input[i].dts - first.dts);
    });
    const audioSamples = report.samples.get(report.info.audioTracks[0].id) ?? [];
    expect(audioSamples.length).toBeGreaterThan(100); // 3 s at 48 kHz / 1024
    expect(audioSamples.every((s) => s.duration === 1024)).toBe(true);
  });

  it('drops parameter sets and delimiters from samples: they live in avcC', () => {
    const key = media.units.find((u) => u.kind === 'video' && u.keyframe);
    const sample = lengthPrefixed('h264', key?.nalus ?? []);
    const types: number[] = [];
    for (let at = 0; at < sample.length; ) {
      const length = new DataView(sample.buffer, sample.byteOffset + at).getUint32(0);
      types.push(sample[at + 4] & 0x1f);
      at += 4 + length;
    }
    expect(types).toContain(5);
    expect(types).not.toContain(7);
    expect(types).not.toContain(8);
  });
});

describe('fMP4 writer: samples as NAL units (one copy per frame)', () => {
  it('writes the same bytes as length-prefixed samples, for H.264 and H.265, on every fragment of the media', async () => {
    for (const codec of ['h264', 'h265'] as const) {
      const media = await encodeTestMedia({ codec, seconds: 2, bframes: 2, gop: 25, width: 320, height: 240 });
      const video = media.units.filter((u) => u.kind === 'video');
      let fragments = 0;
      for (let i = 0; i < video.length; i += 5) {
        const group = video.slice(i, i + 5);
        const base = { duration: 3600, compositionTimeOffset: 0 };
        const asBytes: FragmentTrack = { trackId: 1, baseMediaDecodeTime: i * 3600, samples: group.map((u) => ({ ...base, keyframe: u.keyframe, data: lengthPrefixed(codec, u.nalus ?? []) })) };
        const asNalus: FragmentTrack = { trackId: 1, baseMediaDecodeTime: i * 3600, samples: group.map((u) => ({ ...base, keyframe: u.keyframe, data: naluSample(codec, u.nalus ?? []) })) };
        const a = buildFragment(i + 1, [asBytes]);
        const b = buildFragment(i + 1, [asNalus]);
        // Built twice: the output buffer is not zero-filled, so a byte the writer left unwritten would differ.
        const c = buildFragment(i + 1, [asNalus]);
        expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
        expect(Buffer.from(c).equals(Buffer.from(a))).toBe(true);
        fragments++;
      }
      expect(fragments).toBeGreaterThan(5);
    }
  }, 120_000);
});

describe('fMP4 writer on H.265 with B-frames', () => {
  let media: EncodedMedia;
  let muxed: ReturnType<typeof mux>;
  let file = '';

  beforeAll(async () => {
    media = await encodeTestMedia({ codec: 'h265', seconds: 2, bframes: 2, gop: 25, width: 352, height: 288 });
    muxed = mux(media);
    file = join(dir, 'h265.mp4');
    await writeFile(file, muxed.bytes);
  }, 120_000);

  it('parses the SPS profile_tier_level into a codec string', () => {
    const info = parseHevcSps(media.video.sps[0]);
    expect(info).toMatchObject({ profileIdc: 1, width: 352, height: 288, chromaFormatIdc: 1, bitDepthLumaMinus8: 0 });
    expect(hevcCodecString(info)).toMatch(/^hvc1\.1\.6\.L\d+\.[0-9A-F]+/);
  });

  it('ffprobe decodes every frame as hevc at the encoded size', async () => {
    const probed = await ffprobe(file);
    const video = probed.streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ codec_name: 'hevc', width: 352, height: 288 });
    expect(Number(video?.nb_read_frames)).toBe(media.units.length);
    expect(probed.packets.map((p) => p.pts - p.dts)).toEqual(media.units.map((u) => u.pts - u.dts));
  });

  it('MP4Box.js agrees on hvc1, the codec string and the samples', () => {
    const report = inspectWithMp4Box(muxed.bytes);
    expect(report.errors).toEqual([]);
    const track = report.info.videoTracks[0];
    expect(track.codec).toBe(muxed.timeline.codecs);
    expect(track.codec.startsWith('hvc1.1.6.')).toBe(true);
    const samples = report.samples.get(track.id) ?? [];
    expect(samples.length).toBe(media.units.length);
    expect(samples.filter((s) => s.is_sync).length).toBe(media.units.filter((u) => u.keyframe).length);
  });
});

describe('fMP4 writer refuses what it cannot write', () => {
  it('names the missing parameter set', () => {
    expect(() =>
      buildInitSegment([{ trackId: 1, timescale: 90000, parameters: { kind: 'video', codec: 'h264', sps: [], pps: [], width: 320, height: 240 } }]),
    ).toThrow(Fmp4InputError);
    expect(() =>
      buildInitSegment([{ trackId: 1, timescale: 8000, parameters: { kind: 'audio', codec: 'g711a', sampleRate: 8000, channels: 1, config: new Uint8Array(0) } }]),
    ).toThrow(/transcode/);
  });

  it('reports a truncated H.265 SPS as bad input, not a crash', () => {
    expect(() => parseHevcSps(Uint8Array.of(0x42, 0x01, 0x01, 0x01))).toThrow(Fmp4InputError);
  });

  it('an empty fragment is refused', () => {
    expect(() => buildFragment(1, [{ trackId: 1, baseMediaDecodeTime: 0, samples: [] }])).toThrow(Fmp4InputError);
  });
});
