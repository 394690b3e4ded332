/** Real encoder output for the stream-core tests: H.264 (with B-frames), H.265 and AAC in ADTS, made by ffmpeg. */
import { splitAnnexBAccessUnits } from '../../src/codecs/ps/annexb.js';
import { runMediaTool } from '../../src/media/ffmpeg/index.js';

const QUIET = ['-hide_banner', '-loglevel', 'error'];

export interface EncodedVideo {
  annexB: Buffer;
  units: Buffer[];
}

export async function encodeH264(opts: { width: number; height: number; seconds: number; bframes: number; rate?: number }): Promise<EncodedVideo> {
  const rate = opts.rate ?? 25;
  const annexB = await runMediaTool(
    'ffmpeg',
    [...QUIET, '-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=${rate}`, '-t', String(opts.seconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(rate), '-bf', String(opts.bframes), '-pix_fmt', 'yuv420p',
      ...(opts.bframes > 0 ? ['-x264-params', 'b-adapt=0'] : []), '-f', 'h264', '-'],
    { timeoutMs: 120_000 },
  );
  return { annexB, units: splitAnnexBAccessUnits(annexB, 'h264') };
}

export async function encodeH265(opts: { width: number; height: number; seconds: number }): Promise<EncodedVideo> {
  const annexB = await runMediaTool(
    'ffmpeg',
    [...QUIET, '-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=25`, '-t', String(opts.seconds),
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:bframes=0', '-pix_fmt', 'yuv420p', '-f', 'hevc', '-'],
    { timeoutMs: 120_000 },
  );
  return { annexB, units: splitAnnexBAccessUnits(annexB, 'h265') };
}

/** AAC-LC in ADTS. */
export async function encodeAac(opts: { sampleRate: number; channels: number; seconds: number }): Promise<Buffer> {
  return runMediaTool(
    'ffmpeg',
    [...QUIET, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${opts.sampleRate}`, '-ac', String(opts.channels), '-t', String(opts.seconds),
      '-c:a', 'aac', '-b:a', '32k', '-f', 'adts', '-'],
    { timeoutMs: 120_000 },
  );
}

export interface TimedVideo {
  units: Buffer[];
  /** 90 kHz, per unit in decode order. */
  pts: number[];
  dts: number[];
}

/**
 * H.264 with B-frames and its real per-frame timing: encoded into MP4 (which stores PTS and DTS), the packet
 * times read back with ffprobe and the access units extracted as Annex-B in the same (decode) order.
 */
export async function encodeH264WithBFrames(dir: string, opts: { width: number; height: number; seconds: number }): Promise<TimedVideo> {
  const file = `${dir}/bframes.mp4`;
  await runMediaTool(
    'ffmpeg',
    [...QUIET, '-y', '-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=25`, '-t', String(opts.seconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2', '-x264-params', 'b-adapt=0', '-pix_fmt', 'yuv420p', file],
    { timeoutMs: 120_000 },
  );
  const json = await runMediaTool('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,dts_time', '-of', 'json', file]);
  const packets = (JSON.parse(json.toString('utf8')) as { packets: Array<{ pts_time: string; dts_time: string }> }).packets;
  const annexB = await runMediaTool('ffmpeg', [...QUIET, '-i', file, '-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', '-'], { timeoutMs: 60_000 });
  const units = splitAnnexBAccessUnits(annexB, 'h264');
  if (units.length !== packets.length) throw new Error(`${units.length} access units but ${packets.length} packets`);
  // MP4 starts DTS below zero (edit list) when B-frames delay presentation; shift so every time is ≥ 0.
  const shift = 2 * 3600;
  return {
    units,
    pts: packets.map((p) => Math.round(Number(p.pts_time) * 90_000) + shift),
    dts: packets.map((p) => Math.round(Number(p.dts_time) * 90_000) + shift),
  };
}
