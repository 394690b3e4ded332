/** ffprobe and one-frame snapshot helpers (tests, the snapshot API). All spawns go through processes.ts. */
import type { VideoCodec } from '../../codecs/ps/stream-types.js';
import { buildProbeArgs, buildSnapshotArgs } from './args.js';
import { runMediaTool } from './processes.js';

export interface ProbedStream {
  index: number;
  type: 'video' | 'audio' | string;
  codec: string;
  /** e.g. avc1, hvc1, hev1, mp4a; "[0][0][0][0]" when the container has none. */
  codecTag: string;
  profile: string | null;
  width: number | null;
  height: number | null;
  sampleRate: number | null;
  channels: number | null;
  duration: number | null;
  /** Frames counted by decoding (-count_frames), or the container's count when not counting. */
  frames: number | null;
  /** Average frame rate in frames per second, when known. */
  frameRate: number | null;
}

export interface ProbeResult {
  formatName: string;
  duration: number | null;
  streams: ProbedStream[];
  /** The first video / audio stream, for convenience. */
  video: ProbedStream | null;
  audio: ProbedStream | null;
}

interface RawProbe {
  format?: { format_name?: string; duration?: string };
  streams?: Array<Record<string, string | number | undefined>>;
}

/** Runs ffprobe on a file (or playlist). `countFrames` decodes everything to count frames (default true). */
export async function probeFile(path: string, opts: { countFrames?: boolean; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const countFrames = opts.countFrames ?? true;
  const out = await runMediaTool('ffprobe', buildProbeArgs(path, countFrames), { timeoutMs: opts.timeoutMs ?? 20_000 });
  const raw = JSON.parse(out.toString('utf8')) as RawProbe;
  const streams = (raw.streams ?? []).map((s): ProbedStream => ({
    index: Number(s.index ?? 0),
    type: String(s.codec_type ?? ''),
    codec: String(s.codec_name ?? ''),
    codecTag: String(s.codec_tag_string ?? ''),
    profile: s.profile === undefined ? null : String(s.profile),
    width: numberOrNull(s.width),
    height: numberOrNull(s.height),
    sampleRate: numberOrNull(s.sample_rate),
    channels: numberOrNull(s.channels),
    duration: numberOrNull(s.duration),
    frames: numberOrNull(countFrames ? s.nb_read_frames : s.nb_frames),
    frameRate: rational(s.avg_frame_rate),
  }));
  return {
    formatName: raw.format?.format_name ?? '',
    duration: numberOrNull(raw.format?.duration),
    streams,
    video: streams.find((s) => s.type === 'video') ?? null,
    audio: streams.find((s) => s.type === 'audio') ?? null,
  };
}

/** Writes the first frame of `input` (a file or playlist ffmpeg can open) as a JPEG. */
export async function snapshotJpeg(input: string, out: string, opts: { width?: number; timeoutMs?: number } = {}): Promise<void> {
  await runMediaTool('ffmpeg', buildSnapshotArgs({ input: { path: input }, out, width: opts.width }), {
    timeoutMs: opts.timeoutMs ?? 10_000,
  });
}

/**
 * Writes a JPEG from one keyframe access unit (Annex-B, with its parameter sets) — the stream service keeps the
 * last keyframe, so a snapshot needs no segment on disk and no waiting.
 */
export async function snapshotJpegFromAccessUnit(
  accessUnit: Buffer,
  codec: VideoCodec,
  out: string,
  opts: { width?: number; timeoutMs?: number } = {},
): Promise<void> {
  await runMediaTool('ffmpeg', buildSnapshotArgs({ input: { stdinCodec: codec }, out, width: opts.width }), {
    input: accessUnit,
    timeoutMs: opts.timeoutMs ?? 10_000,
  });
}

function numberOrNull(value: string | number | undefined): number | null {
  if (value === undefined || value === 'N/A' || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function rational(value: string | number | undefined): number | null {
  if (typeof value !== 'string') return numberOrNull(value);
  const [num, den] = value.split('/').map(Number);
  if (!num || !den) return null;
  return num / den;
}
