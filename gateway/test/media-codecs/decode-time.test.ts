/**
 * Decode times from presentation times (RTP carries PTS only): the reorder window of decode-time.ts on
 * real encoder output (x264 with B-frames and B-pyramid, x265 with B-frames, and without), where ffmpeg's own
 * DTS is the reference; on the depth the SPS declares; on streams that do not declare it; with lost pictures;
 * across a timeline jump.
 */
import { describe, expect, it } from 'vitest';
import { DecodeTimeDeriver, declaredReorderDepth } from '../../src/codecs/rtp/payload/decode-time.js';
import { H264_NAL, h264NalType, parseH264Sps } from '../../src/codecs/h264/sps.js';
import { H265_NAL, h265NalType, parseH265Sps } from '../../src/codecs/h265/sps.js';
import { encodeTestMedia, type EncodedMedia } from '../support/encoded-media.js';

/** The invariants a muxer needs: DTS strictly increasing, PTS ≥ DTS. Returns how many pictures break PTS ≥ DTS. */
function checkTimeline(pts: number[], dts: number[]): number {
  for (let i = 1; i < dts.length; i++) expect(dts[i], `dts ${i}`).toBeGreaterThan(dts[i - 1]!);
  return pts.filter((p, i) => p < dts[i]!).length;
}

function spsOf(media: EncodedMedia): Uint8Array {
  return media.video.sps[0]!;
}

function videoPts(media: EncodedMedia): { pts: number[]; dts: number[] } {
  const video = media.units.filter((u) => u.kind === 'video');
  return { pts: video.map((u) => u.pts), dts: video.map((u) => u.dts) };
}

describe('declared reorder depth (SPS)', () => {
  it.each([
    ['x264 without B-frames', { codec: 'h264', bframes: 0 }, 0],
    ['x264 -bf 1', { codec: 'h264', bframes: 1 }, 1],
    ['x264 -bf 3 (B-pyramid)', { codec: 'h264', bframes: 3 }, 2],
    ['x265 bframes=0', { codec: 'h265', bframes: 0 }, 0],
  ] as const)('%s', async (_name, opts, expected) => {
    const media = await encodeTestMedia({ ...opts, seconds: 0.4, gop: 10 });
    const sps = spsOf(media);
    if (opts.codec === 'h264') {
      expect(h264NalType(sps)).toBe(H264_NAL.sps);
      expect(parseH264Sps(sps).maxNumReorderFrames).toBe(expected);
    } else {
      expect(h265NalType(sps)).toBe(H265_NAL.sps);
      expect(parseH265Sps(sps).maxNumReorderPics).toBe(expected);
    }
    expect(declaredReorderDepth(opts.codec, sps)).toBe(expected);
  }, 60_000);

  it('x265 with B-frames declares a depth ≥ 1', async () => {
    const media = await encodeTestMedia({ codec: 'h265', bframes: 3, seconds: 0.4, gop: 10 });
    expect(declaredReorderDepth('h265', spsOf(media))).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('a damaged SPS declares nothing (and does not throw)', () => {
    expect(declaredReorderDepth('h264', Uint8Array.of(0x67, 0x64))).toBeNull();
    expect(declaredReorderDepth('h265', Uint8Array.of(0x42, 0x01, 0x01))).toBeNull();
  });
});

describe('DecodeTimeDeriver on real encoder output', () => {
  it.each([
    ['H.264, 3 B-frames with pyramid', 'h264', 3],
    ['H.264, 2 B-frames', 'h264', 2],
    ['H.265, 3 B-frames', 'h265', 3],
    ['H.264 without B-frames', 'h264', 0],
  ] as const)('%s: the SPS depth gives ffmpeg’s DTS (shifted), PTS ≥ DTS, DTS increasing', async (_name, codec, bframes) => {
    const media = await encodeTestMedia({ codec, bframes, seconds: 4, gop: 25 });
    const { pts, dts: reference } = videoPts(media);
    const deriver = new DecodeTimeDeriver(declaredReorderDepth(codec, spsOf(media)));
    const dts = pts.map((p) => deriver.next(p));
    expect(checkTimeline(pts, dts)).toBe(0);
    expect(deriver.stats).toMatchObject({ depthRaised: 0, lateForDisplay: 0 });
    if (bframes === 0) expect(dts).toEqual(pts);
    // After the window filled, the decode times step exactly as the encoder's (ffmpeg's DTS), possibly shifted by
    // a constant (the muxer's choice of the first DTS).
    const depth = deriver.depth;
    const shift = dts[depth]! - reference[depth]!;
    for (let i = depth; i < dts.length; i++) expect(dts[i]! - reference[i]!, `picture ${i}`).toBe(shift);
    // Display order is kept: the pictures sorted by PTS are the decode order permuted, and no two PTS collide.
    expect(new Set(pts).size).toBe(pts.length);
  }, 60_000);

  it('an undeclared depth is found out: a few pictures late at the start, then in display order', async () => {
    const media = await encodeTestMedia({ codec: 'h264', bframes: 3, seconds: 6, gop: 25 });
    const { pts } = videoPts(media);
    const deriver = new DecodeTimeDeriver(null);
    const dts = pts.map((p) => deriver.next(p));
    checkTimeline(pts, dts);
    expect(deriver.depth).toBeGreaterThanOrEqual(2);
    expect(deriver.depth).toBeLessThanOrEqual(4);
    // Only the first GOP has pictures that cannot be shown at their time.
    const late = pts.map((p, i) => (p < dts[i]! ? i : -1)).filter((i) => i >= 0);
    expect(late.length).toBeGreaterThan(0);
    expect(Math.max(...late)).toBeLessThan(25);
  }, 60_000);

  it('lost pictures (every 7th dropped) keep the invariants without late pictures', async () => {
    const media = await encodeTestMedia({ codec: 'h264', bframes: 3, seconds: 4, gop: 25 });
    const { pts } = videoPts(media);
    const kept = pts.filter((_p, i) => i % 7 !== 3);
    const deriver = new DecodeTimeDeriver(declaredReorderDepth('h264', spsOf(media)));
    const dts = kept.map((p) => deriver.next(p));
    expect(checkTimeline(kept, dts)).toBe(0);
  }, 60_000);
});

describe('DecodeTimeDeriver rules', () => {
  // I0 P4 B2 b1 b3 P8 B6 b5 b7 …: x264's B-pyramid in decode order, one picture = 3600.
  const pyramid = (gops: number): number[] =>
    [0, ...Array.from({ length: gops }, (_v, g) => [4, 2, 1, 3].map((k) => (g * 4 + k) * 3600)).flat()];

  it('depth 2 on a B-pyramid: decode time is the presentation time two pictures back in display order', () => {
    const deriver = new DecodeTimeDeriver(2);
    const pts = pyramid(3);
    const dts = pts.map((p) => deriver.next(p));
    expect(dts).toEqual([-7200, -3600, 0, 3600, 7200, 10800, 14400, 18000, 21600, 25200, 28800, 32400, 36000]);
  });

  it('depth 0 with B-frames: raised to the depth needed; the late pictures are counted', () => {
    const deriver = new DecodeTimeDeriver(0);
    const pts = pyramid(6);
    const dts = pts.map((p) => deriver.next(p));
    checkTimeline(pts, dts);
    expect(deriver.stats.depthRaised).toBe(3);
    expect(deriver.stats.lateForDisplay).toBe(3);
    // From the third GOP on, every picture is decoded no later than shown.
    for (let i = 9; i < pts.length; i++) expect(pts[i]).toBeGreaterThanOrEqual(dts[i]!);
  });

  it('a jump of the clock starts over instead of raising the depth', () => {
    const deriver = new DecodeTimeDeriver(2);
    const before = pyramid(2).map((p) => deriver.next(p + 1_000_000));
    const after = pyramid(2).map((p) => deriver.next(p));
    expect(deriver.stats).toMatchObject({ timelineResets: 1, depthRaised: 0, lateForDisplay: 0 });
    expect(after[2]).toBe(0);
    expect(before[before.length - 1]).toBeGreaterThan(after[0]!);
  });

  it('a smaller declared depth (new SPS) takes effect, decode times keep increasing', () => {
    const deriver = new DecodeTimeDeriver(4);
    const first = pyramid(2).map((p) => deriver.next(p));
    deriver.declareDepth(0);
    const next = [9, 10, 11, 12].map((k) => deriver.next(k * 3600));
    const all = [...first, ...next];
    checkTimeline([...pyramid(2), 9, 10, 11, 12].map((k, i) => (i < 9 ? k : k * 3600)), all);
    expect(next[next.length - 1]).toBe(12 * 3600);
  });
});
