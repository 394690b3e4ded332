import { describe, expect, it } from 'vitest';
import { PsDemuxer, parseProgramStreamMap, type EsFrame } from '../../src/codecs/ps/ps-demuxer.js';
import { buildProgramStreamMap, PsMuxer } from '../../src/codecs/ps/ps-muxer.js';
import { isKeyframeAccessUnit, sniffVideoCodec, splitAnnexBAccessUnits } from '../../src/codecs/ps/annexb.js';
import { crc32Mpeg2, type AudioCodec, type VideoCodec } from '../../src/codecs/ps/stream-types.js';
import { prng, randomChunks } from './helpers.js';

/** The PSM a public device simulator sent with H.265 + AAC (brief §5.3). */
const OBSERVED_H265_PSM = Buffer.from('000001bc0012e0ff0000000824e000000fc00000e9ef970b', 'hex');

/** NAL unit body bytes in 1..255: no zero bytes, so no accidental start codes (emulation prevention). */
function body(rand: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = 1 + Math.floor(rand() * 255);
  return out;
}

function nal(header: number[], rest: Buffer, fourByteStartCode = true): Buffer {
  return Buffer.concat([Buffer.from(fourByteStartCode ? [0, 0, 0, 1] : [0, 0, 1]), Buffer.from(header), rest]);
}

/**
 * A GOP of synthetic access units: a keyframe (parameter sets + IDR/IRAP, optionally huge) then P-frames, some
 * with two slices (the second slice has first_mb_in_slice ≠ 0 / first_slice_segment_in_pic_flag = 0).
 */
function syntheticGop(codec: VideoCodec, rand: () => number, frames: number, keyframeBytes: number): Buffer[] {
  const aus: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const slice = (first: boolean, size: number): Buffer => {
      const rest = body(rand, size);
      rest[0] = first ? rest[0]! | 0x80 : rest[0]! & 0x7f || 0x01; // first_mb_in_slice = 0 ⇔ first bit 1
      return rest;
    };
    if (codec === 'h264') {
      aus.push(
        i === 0
          ? Buffer.concat([nal([0x67], body(rand, 12)), nal([0x68], body(rand, 4)), nal([0x06], body(rand, 20)), nal([0x65], slice(true, keyframeBytes))])
          : Buffer.concat([nal([0x41], slice(true, 300 + Math.floor(rand() * 3000))), ...(i % 3 === 0 ? [nal([0x41], slice(false, 500), false)] : [])]),
      );
    } else {
      aus.push(
        i === 0
          ? Buffer.concat([
              nal([0x40, 0x01], body(rand, 20)),
              nal([0x42, 0x01], body(rand, 30)),
              nal([0x44, 0x01], body(rand, 6)),
              nal([0x4e, 0x01], body(rand, 10)),
              nal([0x26, 0x01], slice(true, keyframeBytes)),
            ])
          : Buffer.concat([nal([0x02, 0x01], slice(true, 300 + Math.floor(rand() * 3000))), ...(i % 3 === 0 ? [nal([0x02, 0x01], slice(false, 500), false)] : [])]),
      );
    }
  }
  return aus;
}

interface MuxedStream {
  ps: Buffer;
  video: Array<{ data: Buffer; pts: number; keyframe: boolean }>;
  audio: Array<{ data: Buffer; pts: number }>;
}

function audioFrame(codec: AudioCodec, rand: () => number): Buffer {
  if (codec !== 'aac') return body(rand, 320); // 40 ms of 8 kHz G.711
  const payload = body(rand, 180);
  const header = Buffer.from([0xff, 0xf1, 0x50, 0x80, 0, 0x1f, 0xfc]);
  const length = header.length + payload.length;
  header[3] = 0x80 | ((length >> 11) & 0x03);
  header[4] = (length >> 3) & 0xff;
  header[5] = ((length & 0x07) << 5) | 0x1f;
  return Buffer.concat([header, payload]);
}

/** Two GOPs of video at 25 fps, audio interleaved after each video frame, PTS starting near the 33-bit wrap. */
function muxStream(codec: VideoCodec, audio: AudioCodec | undefined, seed: number, startPts = 2 ** 33 - 10 * 3600): MuxedStream {
  const rand = prng(seed);
  const muxer = new PsMuxer({ video: codec, ...(audio ? { audio } : {}) });
  const aus = [...syntheticGop(codec, rand, 12, 150_000), ...syntheticGop(codec, rand, 13, 20_000)];
  const stream: MuxedStream = { ps: Buffer.alloc(0), video: [], audio: [] };
  const parts: Buffer[] = [];
  aus.forEach((au, i) => {
    const pts = (startPts + i * 3600) % 2 ** 33;
    const keyframe = i === 0 || i === 12;
    parts.push(muxer.muxVideo(au, pts, keyframe));
    stream.video.push({ data: au, pts, keyframe });
    if (audio) {
      const frame = audioFrame(audio, rand);
      parts.push(muxer.muxAudio(frame, pts + 1800));
      stream.audio.push({ data: frame, pts: (pts + 1800) % 2 ** 33 });
    }
  });
  stream.ps = Buffer.concat(parts);
  return stream;
}

function demuxAll(chunks: Buffer[], demuxer = new PsDemuxer()): EsFrame[] {
  const frames: EsFrame[] = [];
  for (const chunk of chunks) frames.push(...demuxer.push(chunk));
  frames.push(...demuxer.flush());
  return frames;
}

function expectSameFrames(frames: EsFrame[], stream: MuxedStream, videoCodec: VideoCodec, audioCodec?: AudioCodec): void {
  const video = frames.filter((f) => f.kind === 'video');
  const audio = frames.filter((f) => f.kind === 'audio');
  expect(video.length).toBe(stream.video.length);
  video.forEach((frame, i) => {
    const expected = stream.video[i]!;
    expect(frame.codec).toBe(videoCodec);
    expect(frame.pts90k, `pts of video frame ${i}`).toBe(expected.pts);
    expect(frame.dts90k).toBe(expected.pts);
    expect(frame.keyframe, `keyframe flag of video frame ${i}`).toBe(expected.keyframe);
    expect(frame.data.equals(expected.data), `bytes of video frame ${i}`).toBe(true);
  });
  expect(audio.length).toBe(stream.audio.length);
  audio.forEach((frame, i) => {
    expect(frame.codec).toBe(audioCodec);
    expect(frame.pts90k).toBe(stream.audio[i]!.pts);
    expect(frame.data.equals(stream.audio[i]!.data)).toBe(true);
  });
}

describe('PSM', () => {
  it('reads the observed H.265 + AAC map; its CRC is not the ISO one (the simulator starts at byte 2), which we tolerate', () => {
    const psm = parseProgramStreamMap(OBSERVED_H265_PSM);
    expect(psm).toEqual({
      version: 0,
      entries: [
        { streamType: 0x24, streamId: 0xe0 },
        { streamType: 0x0f, streamId: 0xc0 },
      ],
      crcValid: false,
    });
    expect(crc32Mpeg2(OBSERVED_H265_PSM.subarray(2, 20))).toBe(0xe9ef970b);
    expect(crc32Mpeg2(Buffer.from('123456789'))).toBe(0x0376e6e7); // CRC-32/MPEG-2 check value
  });

  it('our muxer writes the same map with an ISO CRC', () => {
    const ours = buildProgramStreamMap('h265', 'aac');
    expect(ours.subarray(0, 20).equals(OBSERVED_H265_PSM.subarray(0, 20))).toBe(true);
    expect(parseProgramStreamMap(ours)?.crcValid).toBe(true);
    expect(buildProgramStreamMap('h264', 'g711a').toString('hex')).toMatch(/^000001bc0012e0ff000000081be0000090c00000/);
    expect(buildProgramStreamMap('h264').toString('hex')).toMatch(/^000001bc000ee0ff000000041be00000/);
    expect(buildProgramStreamMap('h264', 'g711u').subarray(16, 18).toString('hex')).toBe('91c0');
  });

  it('demuxes a stream that uses the observed PSM bytes', () => {
    const rand = prng(7);
    const au = syntheticGop('h265', rand, 1, 5000)[0]!;
    const muxed = new PsMuxer({ video: 'h265', audio: 'aac' }).muxVideo(au, 9000, true);
    // Swap our PSM (after the 14-byte pack header and the 21-byte system header) for the observed one.
    const psmAt = muxed.indexOf(Buffer.from('000001bc', 'hex'));
    const spliced = Buffer.concat([muxed.subarray(0, psmAt), OBSERVED_H265_PSM, muxed.subarray(psmAt + OBSERVED_H265_PSM.length)]);
    const demuxer = new PsDemuxer();
    const frames = demuxAll([spliced], demuxer);
    expect(demuxer.streams).toEqual({ video: 'h265', audio: 'aac' });
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ kind: 'video', codec: 'h265', keyframe: true, pts90k: 9000 });
    expect(frames[0]!.data.equals(au)).toBe(true);
  });
});

describe('PS mux → demux round trip', () => {
  const cases: Array<[VideoCodec, AudioCodec | undefined]> = [
    ['h264', 'g711a'],
    ['h265', 'aac'],
    ['h264', 'aac'],
    ['h265', 'g711u'],
    ['h264', undefined],
  ];
  for (const [video, audio] of cases) {
    it(`${video}${audio ? ` + ${audio}` : ''}: frames, PTS (across the 33-bit wrap) and keyframe flags come back`, () => {
      const stream = muxStream(video, audio, 1000 + video.length + (audio?.length ?? 0));
      const demuxer = new PsDemuxer();
      expectSameFrames(demuxAll([stream.ps], demuxer), stream, video, audio);
      expect(demuxer.streams).toEqual({ video, ...(audio ? { audio } : {}) });
      expect(demuxer.stats).toMatchObject({ packs: stream.video.length + stream.audio.length, resyncs: 0, droppedBytes: 0, psms: 2, truncatedPes: 0 });
      // The 150 kB keyframe needed three PES packets.
      expect(demuxer.stats.pesPackets).toBeGreaterThan(stream.video.length + stream.audio.length);
    });
  }

  it('gives the same frames whatever the RTP-sized chunking (1 … 1400 bytes), and byte by byte', () => {
    const stream = muxStream('h264', 'g711a', 42);
    const rand = prng(99);
    for (const [min, max] of [
      [1, 1400],
      [1, 20],
      [1300, 1400],
      [700, 3000],
    ] as const) {
      expectSameFrames(demuxAll(randomChunks(stream.ps, rand, min, max)), stream, 'h264', 'g711a');
    }
    const small = muxStream('h265', 'aac', 43);
    const bytes: Buffer[] = [];
    for (let i = 0; i < small.ps.length; i++) bytes.push(small.ps.subarray(i, i + 1));
    expectSameFrames(demuxAll(bytes), small, 'h265', 'aac');
  });

  it('emits a frame as soon as the next one starts (one frame of latency), and the last one on flush', () => {
    const stream = muxStream('h264', undefined, 5);
    const muxer = new PsMuxer({ video: 'h264' });
    const demuxer = new PsDemuxer();
    expect(demuxer.push(muxer.muxVideo(stream.video[0]!.data, 0, true))).toHaveLength(0);
    const out = demuxer.push(muxer.muxVideo(stream.video[1]!.data, 3600, false));
    expect(out.map((f) => f.pts90k)).toEqual([0]);
    expect(demuxer.flush().map((f) => f.pts90k)).toEqual([3600]);
  });
});

describe('PS demuxer: where output starts', () => {
  it('discards video before the first keyframe and audio until video has started', () => {
    const stream = muxStream('h265', 'g711a', 11);
    // Join mid-GOP: start at the third video pack (no PSM until the next keyframe at frame 12).
    const third = nthPackStart(stream.ps, 4); // packs alternate video/audio: pack 4 = video frame 2
    const demuxer = new PsDemuxer();
    const frames = demuxAll([stream.ps.subarray(third)], demuxer);
    const video = frames.filter((f) => f.kind === 'video');
    expect(video[0]).toMatchObject({ keyframe: true, pts90k: stream.video[12]!.pts });
    expect(video).toHaveLength(13);
    const audio = frames.filter((f) => f.kind === 'audio');
    expect(audio[0]!.pts90k).toBe(stream.audio[12]!.pts);
    expect(demuxer.stats.framesBeforeKeyframe).toBe(10 + 10);
  });
});

/** Offset of the n-th (0-based) pack header. */
function nthPackStart(ps: Buffer, n: number): number {
  let at = -1;
  for (let i = 0; i <= n; i++) at = ps.indexOf(Buffer.from('000001ba', 'hex'), at + 1);
  return at;
}

describe('PS demuxer: damaged and unusual input', () => {
  it('resyncs after garbage, a lost chunk inside a PES and a pack cut short, and keeps going', () => {
    const stream = muxStream('h264', 'aac', 21);
    const p3 = nthPackStart(stream.ps, 3);
    const p6 = nthPackStart(stream.ps, 6);
    const p7 = nthPackStart(stream.ps, 7);
    const garbage = Buffer.from('this is not a program stream \x00\x00\x01\x09 nor a NAL');
    const damaged = Buffer.concat([
      garbage,
      stream.ps.subarray(0, p3 + 200), // pack 3 (audio) cut short inside its PES
      Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      stream.ps.subarray(p6, p6 + 1000), // video pack 6: a "lost UDP packet" after 1000 bytes …
      stream.ps.subarray(p6 + 2400, p7), // … the PES length now runs into pack 7
      stream.ps.subarray(p7),
    ]);
    for (const chunks of [[damaged], randomChunks(damaged, prng(3), 1, 1400)]) {
      const demuxer = new PsDemuxer();
      const frames = demuxAll(chunks, demuxer);
      expect(demuxer.stats.resyncs).toBe(1); // the leading text; the rest was cut at embedded pack starts
      expect(demuxer.stats.droppedBytes).toBe(garbage.length);
      expect(demuxer.stats.truncatedPes).toBe(2); // audio 1 and video 3
      const video = frames.filter((f) => f.kind === 'video');
      // Packs 4-5 (video 2, audio 2) are gone; video 3 comes out damaged; everything else is intact.
      const expected = stream.video.filter((_, i) => i !== 2);
      expect(video.map((f) => f.pts90k)).toEqual(expected.map((v) => v.pts));
      video.forEach((frame, i) => expect(frame.data.equals(expected[i]!.data), `video ${i}`).toBe(i !== 2));
      const audio = frames.filter((f) => f.kind === 'audio');
      expect(audio.map((f) => f.pts90k)).toEqual(stream.audio.filter((_, i) => i !== 2).map((a) => a.pts));
    }
  });

  it('handles pack stuffing, MPEG-1 pack headers, padding/private packets and the end code', () => {
    const rand = prng(8);
    const au = syntheticGop('h264', rand, 1, 3000)[0]!;
    const muxed = new PsMuxer({ video: 'h264' }).muxVideo(au, 45000, true);
    const stuffedHeader = Buffer.concat([muxed.subarray(0, 13), Buffer.from([0xfb, 0xff, 0xff, 0xff])]); // 3 stuffing bytes
    const mpeg1Pack = Buffer.from('000001ba2100010001800001', 'hex');
    const padding = Buffer.concat([Buffer.from('000001be0005', 'hex'), Buffer.alloc(5, 0xff)]);
    const privateData = Buffer.concat([Buffer.from('000001bd0004', 'hex'), Buffer.from('494d4b48', 'hex')]);
    const input = Buffer.concat([mpeg1Pack, stuffedHeader, muxed.subarray(14), padding, privateData, Buffer.from('000001b9', 'hex')]);
    const demuxer = new PsDemuxer();
    const frames = demuxAll([input], demuxer);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.data.equals(au)).toBe(true);
    expect(demuxer.stats).toMatchObject({ packs: 2, resyncs: 0, droppedBytes: 0 });
  });

  it('without a PSM: sniffs H.264 / H.265 from NAL headers and AAC from the ADTS sync word', () => {
    for (const [codec, audio] of [
      ['h264', 'aac'],
      ['h265', 'aac'],
    ] as const) {
      const stream = muxStream(codec, audio, 31);
      const withoutPsm = stripPsm(stream.ps);
      const demuxer = new PsDemuxer();
      const frames = demuxAll([withoutPsm], demuxer);
      expect(demuxer.psm).toBeNull();
      expect(demuxer.streams).toEqual({ video: codec, audio });
      expectSameFrames(frames, stream, codec, audio);
    }
    expect(sniffVideoCodec(Buffer.from('0000000109f0', 'hex'))).toBe('h264'); // lone AUD
    expect(sniffVideoCodec(Buffer.from('00000001460150', 'hex'))).toBe('h265'); // lone AUD
    expect(sniffVideoCodec(Buffer.from('0102', 'hex'))).toBeNull();
  });

  it('frames PES without PTS by access-unit starts, and unbounded (length 0) video PES by the next start code', () => {
    const rand = prng(12);
    const aus = syntheticGop('h264', rand, 5, 4000);
    const pesWithoutPts = (data: Buffer, length: number | null): Buffer => {
      const header = Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x00, 0x00]);
      header.writeUInt16BE(length === null ? 3 + data.length : length, 4);
      return Buffer.concat([header, data]);
    };
    const packHeader = new PsMuxer({ video: 'h264' }).muxVideo(Buffer.alloc(0), 0, false).subarray(0, 14);
    // Frames 0-2 as bounded PES without PTS (frame 1 split over two PES), frames 3-4 as unbounded PES.
    const input = Buffer.concat([
      packHeader,
      buildProgramStreamMap('h264'),
      pesWithoutPts(aus[0]!, null),
      packHeader,
      pesWithoutPts(aus[1]!.subarray(0, 100), null),
      pesWithoutPts(aus[1]!.subarray(100), null),
      packHeader,
      pesWithoutPts(aus[2]!, null),
      packHeader,
      pesWithoutPts(aus[3]!, 0),
      packHeader,
      pesWithoutPts(aus[4]!, 0),
      packHeader,
    ]);
    for (const chunks of [[input], randomChunks(input, prng(1), 1, 1400)]) {
      const frames = demuxAll(chunks);
      expect(frames.map((f) => f.pts90k)).toEqual([null, null, null, null, null]);
      expect(frames.map((f) => f.keyframe)).toEqual([true, false, false, false, false]);
      frames.forEach((f, i) => expect(f.data.equals(aus[i]!), `frame ${i}`).toBe(true));
    }
  });

  it('drops video of codecs it does not output (SVAC in the PSM) and counts it', () => {
    const stream = muxStream('h264', 'g711a', 51);
    const svac = Buffer.from(stream.ps);
    for (let psm = svac.indexOf(Buffer.from('000001bc', 'hex')); psm >= 0; psm = svac.indexOf(Buffer.from('000001bc', 'hex'), psm + 1)) {
      svac[psm + 12] = 0x80; // video stream type: SVAC
      svac.writeUInt32BE(crc32Mpeg2(svac.subarray(psm, psm + 20)), psm + 20);
    }
    const demuxer = new PsDemuxer();
    const frames = demuxAll([svac], demuxer);
    expect(frames.every((f) => f.kind === 'audio')).toBe(true);
    expect(demuxer.streams).toEqual({ audio: 'g711a' });
    expect(demuxer.psm?.entries[0]).toEqual({ streamType: 0x80, streamId: 0xe0 });
    expect(demuxer.stats.unsupportedPes).toBeGreaterThan(0);
  });

  it('drops access units above maxFrameBytes and waits for the next keyframe', () => {
    const stream = muxStream('h264', undefined, 61);
    const demuxer = new PsDemuxer({ maxFrameBytes: 100_000 });
    const frames = demuxAll([stream.ps], demuxer);
    expect(demuxer.stats.oversizedFrames).toBe(1); // the 150 kB keyframe of GOP 1
    expect(frames[0]).toMatchObject({ keyframe: true, pts90k: stream.video[12]!.pts });
    expect(frames).toHaveLength(13);
  });
});

/** Removes every PSM packet from a PS (as a device that never sends one). */
function stripPsm(ps: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = ps.indexOf(Buffer.from('000001bc', 'hex')); at >= 0; at = ps.indexOf(Buffer.from('000001bc', 'hex'), from)) {
    parts.push(ps.subarray(from, at));
    from = at + 6 + ps.readUInt16BE(at + 4);
  }
  parts.push(ps.subarray(from));
  return Buffer.concat(parts);
}

describe('Annex-B access units', () => {
  it('splits a stream into the AUs it was made of, losslessly, multi-slice pictures kept whole', () => {
    for (const codec of ['h264', 'h265'] as const) {
      const aus = syntheticGop(codec, prng(77), 10, 2000);
      const stream = Buffer.concat(aus);
      const split = splitAnnexBAccessUnits(stream, codec);
      expect(split.length).toBe(aus.length);
      split.forEach((au, i) => expect(au.equals(aus[i]!)).toBe(true));
      expect(split.map((au) => isKeyframeAccessUnit(au, codec))).toEqual(aus.map((_, i) => i === 0));
    }
    expect(splitAnnexBAccessUnits(Buffer.from('garbage'), 'h264')).toEqual([]);
  });
});

describe('PS demuxer fuzz', () => {
  it('never throws on mutated, truncated and shuffled program streams (seeded)', () => {
    const base = [muxStream('h264', 'g711a', 90, 0), muxStream('h265', 'aac', 91, 0)].map((s) => s.ps);
    const rand = prng(20260301);
    let frames = 0;
    for (let round = 0; round < 300; round++) {
      const source = base[round % 2]!;
      const start = Math.floor(rand() * source.length * 0.5);
      const input = Buffer.from(source.subarray(start, start + 20_000 + Math.floor(rand() * 200_000)));
      const mutations = Math.floor(rand() * 40);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(rand() * input.length);
        const op = rand();
        if (op < 0.5) input[at] = Math.floor(rand() * 256);
        else if (op < 0.8) input.writeUInt16BE(Math.floor(rand() * 0x10000), Math.min(at, input.length - 2)); // lengths
        else input.fill(0, at, at + Math.floor(rand() * 50)); // zero runs: fake start codes
      }
      const demuxer = new PsDemuxer({ maxFrameBytes: 1_000_000 });
      for (const chunk of randomChunks(input, rand, 1, 1500)) {
        if (rand() < 0.02) continue; // a lost packet
        for (const frame of demuxer.push(chunk)) {
          frames++;
          expect(['video', 'audio']).toContain(frame.kind);
          expect(frame.data.length).toBeGreaterThan(0);
          expect(frame.data.length).toBeLessThanOrEqual(1_000_000);
        }
      }
      demuxer.flush();
    }
    expect(frames).toBeGreaterThan(100);
  });
});
