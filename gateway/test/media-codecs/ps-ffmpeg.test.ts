/**
 * Real encoder output through our PS muxer and demuxer: ffmpeg encodes 2 s of test pattern (H.264 and H.265,
 * GOP 25, no B-frames) plus AAC / G.711A audio; we split the elementary streams into access units, mux them
 * into GB-shaped PS, let ffprobe (`-f mpeg`) check codec, resolution and frame count, and demux our PS back
 * comparing every access unit and audio frame byte for byte.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeyframeAccessUnit, splitAnnexBAccessUnits } from '../../src/codecs/ps/annexb.js';
import { PsDemuxer, type EsFrame } from '../../src/codecs/ps/ps-demuxer.js';
import { PsMuxer } from '../../src/codecs/ps/ps-muxer.js';
import type { AudioCodec, VideoCodec } from '../../src/codecs/ps/stream-types.js';
import { prng, randomChunks } from './helpers.js';

const run = promisify(execFile);
const FFMPEG = '/usr/bin/ffmpeg';
const FFPROBE = '/usr/bin/ffprobe';

let dir = '';
const media: Record<'h264' | 'h265' | 'aac' | 'g711a', Buffer> = {
  h264: Buffer.alloc(0),
  h265: Buffer.alloc(0),
  aac: Buffer.alloc(0),
  g711a: Buffer.alloc(0),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ps-ffmpeg-'));
  const video = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '2'];
  const tone = (rate: number): string[] => ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${rate}`, '-t', '2'];
  await Promise.all([
    run(FFMPEG, [...video, '-c:v', 'libx264', '-g', '25', '-bf', '0', '-f', 'h264', join(dir, 'out.h264')]),
    run(FFMPEG, [...video, '-c:v', 'libx265', '-x265-params', 'keyint=25:bframes=0:log-level=error', '-f', 'hevc', join(dir, 'out.h265')]),
    run(FFMPEG, [...tone(44100), '-c:a', 'aac', '-b:a', '64k', '-f', 'adts', join(dir, 'out.aac')]),
    run(FFMPEG, [...tone(8000), '-f', 'alaw', '-ar', '8000', '-ac', '1', join(dir, 'out.alaw')]),
  ]);
  media.h264 = await readFile(join(dir, 'out.h264'));
  media.h265 = await readFile(join(dir, 'out.h265'));
  media.aac = await readFile(join(dir, 'out.aac'));
  media.g711a = await readFile(join(dir, 'out.alaw'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** ADTS frames by their 13-bit frame length. */
function adtsFrames(buf: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at + 7 <= buf.length; ) {
    const length = ((buf[at + 3]! & 0x03) << 11) | (buf[at + 4]! << 3) | (buf[at + 5]! >> 5);
    if (buf[at] !== 0xff || length < 7) throw new Error(`not ADTS at ${at}`);
    frames.push(buf.subarray(at, at + length));
    at += length;
  }
  return frames;
}

interface AudioTrack {
  codec: AudioCodec;
  frames: Array<{ data: Buffer; pts: number }>;
}

function audioTrack(codec: 'aac' | 'g711a'): AudioTrack {
  if (codec === 'aac') {
    return { codec, frames: adtsFrames(media.aac).map((data, n) => ({ data, pts: Math.round((n * 1024 * 90000) / 44100) })) };
  }
  const frames: AudioTrack['frames'] = [];
  for (let at = 0, n = 0; at < media.g711a.length; at += 320, n++) frames.push({ data: media.g711a.subarray(at, at + 320), pts: n * 3600 });
  return { codec, frames };
}

function muxFile(codec: VideoCodec, aus: Buffer[], audio: AudioTrack | null): Buffer {
  const muxer = new PsMuxer({ video: codec, ...(audio ? { audio: audio.codec } : {}) });
  const packs: Buffer[] = [];
  let nextAudio = 0;
  aus.forEach((au, i) => {
    const pts = i * 3600;
    packs.push(muxer.muxVideo(au, pts, isKeyframeAccessUnit(au, codec)));
    const last = i === aus.length - 1;
    while (audio && nextAudio < audio.frames.length && (last || audio.frames[nextAudio]!.pts < pts + 3600)) {
      const frame = audio.frames[nextAudio++]!;
      packs.push(muxer.muxAudio(frame.data, frame.pts));
    }
  });
  return Buffer.concat(packs);
}

interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  nb_read_packets?: string;
}

async function probe(file: string): Promise<ProbedStream[]> {
  const { stdout } = await run(FFPROBE, [
    '-v', 'error', '-f', 'mpeg', '-count_packets',
    '-show_entries', 'stream=codec_type,codec_name,width,height,nb_read_packets', '-of', 'json', file,
  ]);
  return (JSON.parse(stdout) as { streams: ProbedStream[] }).streams;
}

const cases: Array<{ video: VideoCodec; ffprobeName: string; audio: 'aac' | 'g711a' }> = [
  { video: 'h264', ffprobeName: 'h264', audio: 'aac' },
  { video: 'h265', ffprobeName: 'hevc', audio: 'g711a' },
];

describe('PS with real ffmpeg-encoded streams', () => {
  for (const { video, ffprobeName, audio } of cases) {
    it(`${video} + ${audio}: ffprobe reads our PS; our demuxer returns every AU and audio frame byte for byte`, async () => {
      const aus = splitAnnexBAccessUnits(media[video], video);
      expect(aus.length).toBe(50); // 2 s × 25 fps
      expect(Buffer.concat(aus).equals(media[video])).toBe(true);
      const keyframes = aus.map((au, i) => (isKeyframeAccessUnit(au, video) ? i : -1)).filter((i) => i >= 0);
      expect(keyframes).toEqual([0, 25]);

      const track = audioTrack(audio);
      const ps = muxFile(video, aus, track);
      const file = join(dir, `out-${video}.ps`);
      await writeFile(file, ps);
      const streams = await probe(file);
      const probedVideo = streams.find((s) => s.codec_type === 'video');
      expect(probedVideo).toMatchObject({ codec_name: ffprobeName, width: 320, height: 240, nb_read_packets: '50' });
      // ffmpeg knows AAC in PS; G.711 it reads as MP2 (brief §5.4), which is why we demux ourselves.
      if (audio === 'aac') expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');

      const demuxer = new PsDemuxer();
      const frames: EsFrame[] = [];
      for (const chunk of randomChunks(ps, prng(1400), 1, 1400)) frames.push(...demuxer.push(chunk));
      frames.push(...demuxer.flush());
      const videoOut = frames.filter((f) => f.kind === 'video');
      expect(videoOut.length).toBe(aus.length);
      videoOut.forEach((frame, i) => {
        expect(frame.data.equals(aus[i]!), `AU ${i}`).toBe(true);
        expect(frame.pts90k).toBe(i * 3600);
        expect(frame.keyframe).toBe(keyframes.includes(i));
        expect(frame.codec).toBe(video);
      });
      const audioOut = frames.filter((f) => f.kind === 'audio');
      expect(audioOut.map((f) => f.pts90k)).toEqual(track.frames.map((f) => f.pts));
      audioOut.forEach((frame, i) => expect(frame.data.equals(track.frames[i]!.data), `audio ${i}`).toBe(true));
      expect(demuxer.streams).toEqual({ video, audio });
      expect(demuxer.stats).toMatchObject({ resyncs: 0, droppedBytes: 0, truncatedPes: 0, framesBeforeKeyframe: 0 });
    });
  }
});
