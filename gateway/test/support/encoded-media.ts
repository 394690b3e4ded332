/**
 * Real encoder output as access units, for the muxer tests: ffmpeg encodes a test pattern (H.264 or H.265,
 * optionally with B-frames) and AAC into an MP4, ffprobe lists every packet (timestamps, keyframe flag, file
 * position), and the packets are read back from the file: length-prefixed NAL units for video, raw AAC frames
 * for audio. That gives exactly what a source hands the readers (decode order, PTS ≠ DTS with B-frames)
 * without depending on the source code of the other branch.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findNalUnits } from '../../src/codecs/ps/annexb.js';
import type { AccessUnit, AudioParameters, TrackParameters, VideoParameters } from '../../src/media/core/access-unit.js';

const run = promisify(execFile);
export const FFMPEG = '/usr/bin/ffmpeg';
export const FFPROBE = '/usr/bin/ffprobe';

export interface EncodeOptions {
  codec: 'h264' | 'h265';
  seconds: number;
  fps?: number;
  width?: number;
  height?: number;
  /** Keyframe interval in frames. */
  gop?: number;
  bframes?: number;
  audio?: boolean;
}

export interface EncodedMedia {
  tracks: TrackParameters[];
  video: VideoParameters;
  audio?: AudioParameters;
  /** Video and audio units interleaved by decode time, as a source emits them. */
  units: AccessUnit[];
}

interface ProbedPacket {
  codec_type: 'video' | 'audio';
  stream_index: number;
  pts: number;
  dts: number;
  size: string;
  pos: string;
  flags: string;
}

const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** AAC-LC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): object type 2, rate index, channel configuration. */
export function aacLcConfig(sampleRate: number, channels: number): Uint8Array {
  const index = AAC_SAMPLE_RATES.indexOf(sampleRate);
  if (index < 0) throw new Error(`no AAC rate index for ${sampleRate}`);
  return Uint8Array.of((2 << 3) | (index >> 1), ((index & 1) << 7) | (channels << 3));
}

export async function encodeTestMedia(options: EncodeOptions): Promise<EncodedMedia> {
  const fps = options.fps ?? 25;
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const gop = options.gop ?? fps;
  const bframes = options.bframes ?? 0;
  const dir = await mkdtemp(join(tmpdir(), 'se-encode-'));
  try {
    const file = join(dir, 'in.mp4');
    const videoArgs =
      options.codec === 'h264'
        ? ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-bf', String(bframes), '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0']
        : ['-c:v', 'libx265', '-preset', 'veryfast', '-tag:v', 'hvc1', '-x265-params', `log-level=error:bframes=${bframes}:keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0`];
    await run(FFMPEG, [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
      ...(options.audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
      '-t', String(options.seconds),
      '-pix_fmt', 'yuv420p', ...videoArgs,
      ...(options.audio ? ['-c:a', 'aac', '-b:a', '64k', '-ac', '1'] : []),
      '-threads', '1',
      file,
    ]);
    const bytes = await readFile(file);
    const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_packets', '-show_streams', '-of', 'json', file], { maxBuffer: 64 << 20 });
    const probed = JSON.parse(stdout) as { packets: ProbedPacket[]; streams: Array<{ index: number; codec_type: string; time_base: string; sample_rate?: string; channels?: number }> };
    const timeBase = new Map(probed.streams.map((s) => [s.index, s.time_base.split('/').map(Number) as [number, number]]));
    const to90k = (value: number, index: number): number => {
      const [num, den] = timeBase.get(index) ?? [1, 90000];
      return Math.round((value * num * 90000) / den);
    };
    const annexB = (await run(FFMPEG, ['-v', 'error', '-i', file, '-map', '0:v', '-c:v', 'copy', '-frames:v', '1', '-f', options.codec === 'h264' ? 'h264' : 'hevc', '-'], { encoding: 'buffer', maxBuffer: 16 << 20 })).stdout;
    const nals = findNalUnits(annexB).map((n) => new Uint8Array(annexB.subarray(n.header, n.end)));
    const typeOf = (nal: Uint8Array): number => (options.codec === 'h264' ? nal[0] & 0x1f : (nal[0] >> 1) & 0x3f);
    const [spsType, ppsType, vpsType] = options.codec === 'h264' ? [7, 8, -1] : [33, 34, 32];
    const video: VideoParameters = {
      kind: 'video',
      codec: options.codec,
      sps: nals.filter((n) => typeOf(n) === spsType),
      pps: nals.filter((n) => typeOf(n) === ppsType),
      ...(options.codec === 'h265' ? { vps: nals.filter((n) => typeOf(n) === vpsType) } : {}),
      width,
      height,
      codecString: '',
    };
    const audioStream = probed.streams.find((s) => s.codec_type === 'audio');
    const audio: AudioParameters | undefined = audioStream
      ? {
          kind: 'audio',
          codec: 'aac',
          sampleRate: Number(audioStream.sample_rate),
          channels: audioStream.channels ?? 1,
          config: aacLcConfig(Number(audioStream.sample_rate), audioStream.channels ?? 1),
          codecString: 'mp4a.40.2',
        }
      : undefined;
    const startedAt = Date.now();
    const units: AccessUnit[] = probed.packets.map((p) => {
      const data = bytes.subarray(Number(p.pos), Number(p.pos) + Number(p.size));
      const dts = to90k(p.dts, p.stream_index);
      const pts = to90k(p.pts, p.stream_index);
      const base = { pts, dts, epoch: 1, receivedAt: startedAt + Math.round(dts / 90) };
      if (p.codec_type === 'audio') return { ...base, kind: 'audio', keyframe: true, data: new Uint8Array(data) };
      const nalus: Uint8Array[] = [];
      for (let at = 0; at + 4 <= data.length; ) {
        const length = data.readUInt32BE(at);
        nalus.push(new Uint8Array(data.subarray(at + 4, at + 4 + length)));
        at += 4 + length;
      }
      const keyframe = p.flags.startsWith('K');
      // Sources put the parameter sets in front of keyframes, as cameras send them: the muxer must drop them.
      const withParameterSets = keyframe ? [...(video.vps ?? []), ...video.sps, ...video.pps, ...nalus] : nalus;
      return { ...base, kind: 'video', keyframe, nalus: withParameterSets };
    });
    units.sort((a, b) => a.dts - b.dts);
    return { tracks: audio ? [video, audio] : [video], video, audio, units };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
