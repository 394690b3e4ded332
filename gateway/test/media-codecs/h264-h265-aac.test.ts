/**
 * Parameter sets and ADTS from real encoder output: picture size (with cropping), profile / level and the
 * RFC 6381 codec strings checked against what ffprobe reads from the same streams; ADTS frames → raw frames +
 * AudioSpecificConfig and back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { adtsHeaderFor, audioSpecificConfigOf, parseAdtsHeader, splitAdts } from '../../src/codecs/aac/adts.js';
import { removeEmulationPrevention } from '../../src/codecs/h264/rbsp.js';
import { H264_NAL, h264NalType, parseH264Sps } from '../../src/codecs/h264/sps.js';
import { H265_NAL, h265CodecString, h265NalType, parseH265Sps, parseH265VpsProfile } from '../../src/codecs/h265/sps.js';
import { findNalUnits } from '../../src/codecs/ps/annexb.js';
import { runMediaTool } from '../../src/media/ffmpeg/index.js';
import { encodeAac, encodeH264, encodeH265 } from '../media-core/media-fixtures.js';

function nalsOf(annexB: Buffer): Buffer[] {
  return findNalUnits(annexB).map((n) => annexB.subarray(n.header, n.end));
}

async function ffprobeVideo(input: Buffer, format: string): Promise<{ profile: string; level: number; width: number; height: number }> {
  const out = await runMediaTool('ffprobe', ['-v', 'error', '-f', format, '-show_entries', 'stream=profile,level,width,height', '-of', 'json', 'pipe:0'], { input });
  return (JSON.parse(out.toString('utf8')) as { streams: Array<{ profile: string; level: number; width: number; height: number }> }).streams[0]!;
}

describe('H.264 SPS', () => {
  let hd: Buffer;
  let full: Buffer;
  beforeAll(async () => {
    [hd, full] = await Promise.all([
      encodeH264({ width: 1280, height: 720, seconds: 0.2, bframes: 0 }).then((v) => v.annexB),
      encodeH264({ width: 1920, height: 1080, seconds: 0.2, bframes: 0 }).then((v) => v.annexB),
    ]);
  }, 120_000);

  it.each([
    ['720p', () => hd],
    ['1080p (coded 1088, cropped)', () => full],
  ])('%s: size, profile, level and codec string agree with ffprobe', async (_name, get) => {
    const stream = get();
    const sps = nalsOf(stream).find((n) => h264NalType(n) === H264_NAL.sps)!;
    const info = parseH264Sps(sps);
    const probe = await ffprobeVideo(stream, 'h264');
    expect([info.width, info.height]).toEqual([probe.width, probe.height]);
    expect(info.levelIdc).toBe(probe.level);
    expect(info.profileIdc).toBe({ High: 100, Main: 77, Baseline: 66, 'Constrained Baseline': 66 }[probe.profile]);
    expect(info.codecString).toBe(`avc1.${sps.subarray(1, 4).toString('hex')}`);
    expect(info.codecString).toMatch(/^avc1\.[0-9a-f]{6}$/);
  });

  it('refuses what is not a whole SPS', () => {
    const sps = nalsOf(hd).find((n) => h264NalType(n) === H264_NAL.sps)!;
    expect(() => parseH264Sps(sps.subarray(0, 5))).toThrow();
    expect(() => parseH264Sps(Uint8Array.of(0x68, 1, 2, 3))).toThrow(/not an H.264 SPS/);
  });

  it('removes emulation prevention bytes', () => {
    expect([...removeEmulationPrevention(Uint8Array.of(0, 0, 3, 1, 0, 0, 3, 0, 0, 3))]).toEqual([0, 0, 1, 0, 0, 0, 0]);
    const plain = Uint8Array.of(1, 2, 3);
    expect(removeEmulationPrevention(plain)).toBe(plain);
  });
});

describe('H.265 VPS/SPS', () => {
  let stream: Buffer;
  beforeAll(async () => {
    stream = (await encodeH265({ width: 1280, height: 720, seconds: 0.2 })).annexB;
  }, 120_000);

  it('size, level and the ISO 14496-15 codec string (x265 Main: hvc1.1.6.L<level>.90, progressive and frame-only)', async () => {
    const nals = nalsOf(stream);
    const sps = nals.find((n) => h265NalType(n) === H265_NAL.sps)!;
    const vps = nals.find((n) => h265NalType(n) === H265_NAL.vps)!;
    const info = parseH265Sps(sps);
    const probe = await ffprobeVideo(stream, 'hevc');
    expect([info.width, info.height]).toEqual([probe.width, probe.height]);
    expect(info.ptl.levelIdc).toBe(probe.level);
    expect(probe.profile).toBe('Main');
    expect(info.codecString).toBe(`hvc1.1.6.L${probe.level}.90`);
    expect(h265CodecString(parseH265VpsProfile(vps))).toBe(info.codecString);
  });

  it('a high-tier Main 10 profile with profile space reads as in the spec example', () => {
    expect(
      h265CodecString({ profileSpace: 0, tierFlag: true, profileIdc: 2, compatibilityFlags: 0x20000000, constraintIndicator: Uint8Array.of(0xb0, 0, 0, 0, 0, 0), levelIdc: 120 }),
    ).toBe('hvc1.2.4.H120.B0');
  });
});

describe('AAC in ADTS', () => {
  let adts: Buffer;
  beforeAll(async () => {
    adts = await encodeAac({ sampleRate: 16000, channels: 1, seconds: 1 });
  }, 120_000);

  it('splits ADTS into raw frames with the AudioSpecificConfig of AAC-LC 16 kHz mono, and back', () => {
    const { frames, droppedBytes } = splitAdts(adts);
    expect(droppedBytes).toBe(0);
    expect(frames.length).toBeGreaterThanOrEqual(15); // 1 s at 16 kHz = 15.6 frames of 1024 samples
    const h = frames[0]!.header;
    expect(h).toMatchObject({ objectType: 2, sampleRate: 16000, channelConfiguration: 1, headerLength: 7 });
    const asc = audioSpecificConfigOf(h);
    expect([...asc]).toEqual([0x14, 0x08]);
    const rebuilt = Buffer.concat(frames.map((f) => Buffer.concat([adtsHeaderFor(asc, f.raw.length), f.raw])));
    expect(splitAdts(rebuilt).frames.map((f) => Buffer.from(f.raw).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f.raw).toString('hex')));
    expect(parseAdtsHeader(rebuilt)).toMatchObject({ objectType: 2, sampleRate: 16000, channelConfiguration: 1 });
  });

  it('skips garbage and a truncated last frame, counting the bytes', () => {
    const frames = splitAdts(adts).frames.slice(0, 3);
    const whole = Buffer.concat(frames.map((f) => Buffer.concat([adtsHeaderFor(audioSpecificConfigOf(f.header), f.raw.length), f.raw])));
    const garbage = Buffer.from([1, 2, 3, 0xff, 0x00, 9]);
    const input = Buffer.concat([garbage, whole, whole.subarray(0, 20)]);
    const out = splitAdts(input);
    expect(out.frames).toHaveLength(3);
    expect(out.droppedBytes).toBe(garbage.length + 20);
  });
});
