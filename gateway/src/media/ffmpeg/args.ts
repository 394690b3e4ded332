/**
 * Typed builders for every ffmpeg/ffprobe argument list the gateway uses. Pure: they return arrays that
 * processes.ts passes to spawn unchanged (no shell), so reviewing this file is reviewing what runs.
 *
 * Findings behind the packager arguments (ffmpeg 5.1.9, Debian 12; see the media tests):
 *  - Timestamps. A raw Annex-B elementary stream carries none. The h264/hevc raw demuxers stamp frames at a
 *    constant rate: the SPS VUI timing info when the encoder wrote one (x264/x265 and most cameras do), else
 *    the `-framerate` input option (default 25). So `-framerate <measured fps>` is right for streams without
 *    VUI timing and harmless otherwise; it is NOT an override: a VUI saying 25 wins over `-framerate 15`.
 *    Fed in real time at 25 fps this gives exact 1.000000 s segments and 40 ms frame durations.
 *    `-use_wallclock_as_timestamps 1` is worse: the frames read during probing all get the same read time
 *    (dts 0.000, 0.000078, 0.0017 …), the first segment swallows the first keyframe interval (1.9 s), later
 *    durations jitter and the mp4 muxer warns about negative packet durations. `-fflags +genpts` changes nothing
 *    for raw input: the demuxer sets DTS, never PTS, and stream copy then warns "Timestamps are unset in a
 *    packet" (deprecated fallback pts = dts). `-bsf:v setts=pts=DTS` states that fallback explicitly. For
 *    streams with B-frames copied from raw ES, pts = dts is wrong; GB cameras send none in practice (transcode
 *    if one does).
 *  - Audio on a second pipe (fd 3): ffmpeg 5.1 opens inputs one after the other and its output advances at the
 *    pace of the input that is furthest behind, so video stalls while the audio pipe is silent. The packager
 *    therefore keeps the audio pipe fed (silence while the camera sends none; see hls-packager.ts).
 *  - `-thread_queue_size 64` on both inputs: the default 8 packets makes ffmpeg block and warn as soon as
 *    two live inputs are read.
 *  - HLS: `temp_file` makes ffmpeg write segments and the playlist as *.tmp and rename them, so a reader never
 *    sees a half-written file; init.mp4 is NOT covered (created empty at start, filled when the first segment
 *    is cut), so "playlist lists a segment" is the only safe readiness signal. `delete_segments` keeps
 *    list_size + 1 (hls_delete_threshold) segments on disk besides the one being written.
 */
import type { AudioCodec, VideoCodec } from '../../codecs/ps/stream-types.js';

export const PACKAGER_AUDIO_FD = 3;
/** G.711 is 8 kHz mono, one byte per sample. */
export const G711_SAMPLE_RATE = 8000;

export interface HlsArgsOptions {
  video: VideoCodec;
  audio?: AudioCodec;
  transcodeH265ToH264: boolean;
  segmentSeconds: number;
  listSize: number;
  /** Source frame rate, for `-framerate` (streams without VUI timing) and the transcoder's GOP. */
  frameRate: number;
  /** Absolute path of the playlist. */
  playlistPath: string;
  /** Absolute path pattern of the segments, with %d. */
  segmentPattern: string;
  /** Init segment file name, written next to the playlist. */
  initFileName: string;
}

/** True if this combination re-encodes video (only H.265 → H.264 is ever done). */
export function transcodesVideo(o: Pick<HlsArgsOptions, 'video' | 'transcodeH265ToH264'>): boolean {
  return o.video === 'h265' && o.transcodeH265ToH264;
}

const COMMON = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];

export function buildHlsPackagerArgs(o: HlsArgsOptions): string[] {
  if (!(o.frameRate > 0 && o.frameRate <= 240)) throw new RangeError(`frameRate must be in (0, 240], got ${o.frameRate}`);
  if (!Number.isInteger(o.segmentSeconds) || o.segmentSeconds < 1) throw new RangeError('segmentSeconds must be a positive integer');
  if (!Number.isInteger(o.listSize) || o.listSize < 1) throw new RangeError('listSize must be a positive integer');
  const args = [...COMMON];

  // Input 0: video elementary stream on stdin. A small probe opens the input in ~0.1 s instead of ~5 s.
  args.push(
    '-probesize', '32768',
    '-analyzeduration', '500000',
    '-thread_queue_size', '64',
    '-framerate', formatRate(o.frameRate),
    '-f', o.video === 'h264' ? 'h264' : 'hevc',
    '-i', 'pipe:0',
  );
  // Input 1: audio on fd 3.
  if (o.audio) {
    // Raw audio needs no analysis; the default 5 s / 5 MB probe delayed the first segment by ~0.6 s.
    args.push('-thread_queue_size', '64', '-probesize', '2048', '-analyzeduration', '100000');
    if (o.audio === 'aac') args.push('-f', 'aac');
    else args.push('-f', o.audio === 'g711a' ? 'alaw' : 'mulaw', '-ar', String(G711_SAMPLE_RATE), '-ac', '1');
    args.push('-i', `pipe:${PACKAGER_AUDIO_FD}`);
  }

  args.push('-map', '0:v:0');
  if (o.audio) args.push('-map', '1:a:0');

  if (transcodesVideo(o)) {
    // Keyframes exactly every segment: -g from the measured rate, and forced on the timeline in case the
    // measured rate and the stream's own timing disagree.
    const gop = Math.max(1, Math.round(o.frameRate * o.segmentSeconds));
    args.push(
      '-c:v', 'libx264',
      '-preset', 'veryfast',
      '-tune', 'zerolatency',
      '-pix_fmt', 'yuv420p',
      '-g', String(gop),
      '-keyint_min', String(gop),
      '-sc_threshold', '0',
      '-force_key_frames', `expr:gte(t,n_forced*${o.segmentSeconds})`,
    );
  } else {
    // Copy keeps the camera's GOP: segments are cut at the first keyframe after each segmentSeconds.
    args.push('-c:v', 'copy', '-bsf:v', 'setts=pts=DTS');
    // Safari and MSE want HEVC in MP4 tagged hvc1 (parameter sets in the sample entry), not ffmpeg's hev1.
    if (o.video === 'h265') args.push('-tag:v', 'hvc1');
  }

  // ADTS in, MP4 out: the hls muxer's inner mp4 muxer does not insert aac_adtstoasc by itself and stops with
  // "Malformed AAC bitstream detected" (ffmpeg 5.1; cameras that send AAC in PS hit it on the first frame).
  if (o.audio === 'aac') args.push('-c:a', 'copy', '-bsf:a', 'aac_adtstoasc');
  else if (o.audio) args.push('-c:a', 'aac', '-b:a', '32k');

  args.push(
    '-max_muxing_queue_size', '1024',
    '-f', 'hls',
    '-hls_time', String(o.segmentSeconds),
    '-hls_list_size', String(o.listSize),
    '-hls_segment_type', 'fmp4',
    '-hls_fmp4_init_filename', o.initFileName,
    '-hls_flags', 'independent_segments+delete_segments+program_date_time+temp_file',
    '-hls_segment_filename', o.segmentPattern,
    o.playlistPath,
  );
  return args;
}

export function buildProbeArgs(path: string, countFrames: boolean): string[] {
  return [
    '-v', 'error',
    ...(countFrames ? ['-count_frames'] : []),
    '-show_entries',
    'format=format_name,duration:stream=index,codec_type,codec_name,codec_tag_string,profile,width,height,' +
      'sample_rate,channels,duration,nb_frames,nb_read_frames,avg_frame_rate,r_frame_rate',
    '-of', 'json',
    path,
  ];
}

export interface SnapshotArgsOptions {
  /** A file ffmpeg can open (playlist, mp4, …), or a raw elementary stream on stdin. */
  input: { path: string } | { stdinCodec: VideoCodec };
  out: string;
  /** Scale to this width (height keeps the aspect ratio); default: source size. */
  width?: number;
}

export function buildSnapshotArgs(o: SnapshotArgsOptions): string[] {
  const args = [...COMMON, '-y'];
  if ('path' in o.input) args.push('-i', o.input.path);
  else args.push('-f', o.input.stdinCodec === 'h264' ? 'h264' : 'hevc', '-i', 'pipe:0');
  args.push('-frames:v', '1', '-an');
  if (o.width) args.push('-vf', `scale=${Math.round(o.width)}:-2`);
  args.push('-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg', o.out);
  return args;
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(3);
}
