/**
 * The HLS packager and ffprobe helpers against the real ffmpeg/ffprobe: streams are fed at camera pace
 * (40 ms per frame) and what comes out is decoded by ffprobe.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { splitAnnexBAccessUnits } from '../../src/codecs/ps/annexb.js';
import {
  activeFfmpegProcesses,
  HlsPackager,
  probeFile,
  runMediaTool,
  setMediaToolPath,
  snapshotJpeg,
  snapshotJpegFromAccessUnit,
  type HlsPackagerExit,
  type HlsPackagerOptions,
} from '../../src/media/ffmpeg/index.js';
import { HlsOutput } from '../../src/media/hls-output.js';
import { waitUntil } from './rtp-helpers.js';

const FRAME_MS = 40;

let workDir: string;
/** 'error' events of any packager; every test ends with none. */
const packagerErrors: Error[] = [];
let mediaRoot: string;
const fixtures: { h264: Buffer[]; h265: Buffer[]; alaw: Buffer } = { h264: [], h265: [], alaw: Buffer.alloc(0) };

/** ffmpeg children of this test process right now (independent of our registry). */
function ffmpegChildren(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).trim());
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function encode(args: string[]): Promise<Buffer> {
  // Generous: the machine is shared, and a loaded box makes even a 4 s encode slow.
  return runMediaTool('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { timeoutMs: 90_000 });
}

/** Feeds access units at 40 ms per frame; G.711 audio (320 bytes per 40 ms) from `audioFromFrame` on. */
async function feedRealtime(
  packager: HlsPackager,
  frames: Buffer[],
  audio?: { data: Buffer; fromFrame: number },
): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < frames.length; i++) {
    packager.writeVideo(frames[i]!);
    if (audio && i >= audio.fromFrame) {
      const at = (i - audio.fromFrame) * 320;
      if (at < audio.data.length) packager.writeAudio(audio.data.subarray(at, at + 320));
    }
    const due = started + (i + 1) * FRAME_MS;
    await sleep(Math.max(0, due - Date.now()));
  }
}

async function startPackager(
  streamId: string,
  opts: Omit<HlsPackagerOptions, 'dir' | 'segmentSeconds' | 'listSize'>,
): Promise<{ packager: HlsPackager; output: HlsOutput; firstSegment: Promise<{ afterMs: number }> }> {
  const output = await HlsOutput.create(mediaRoot, streamId);
  const packager = new HlsPackager();
  packager.on('error', (err) => packagerErrors.push(err));
  const firstSegment = new Promise<{ afterMs: number }>((resolve, reject) => {
    packager.once('first-segment', resolve);
    packager.once('exit', (exit) => reject(new Error(`ffmpeg exited before the first segment: ${exit.stderrTail}`)));
  });
  firstSegment.catch(() => undefined); // observed by the test when it matters
  packager.start({ dir: output.dir, segmentSeconds: 1, listSize: 10, ...opts });
  return { packager, output, firstSegment };
}

/** Rejects if `promise` takes longer than `ms` (generous; turns a hang into a failure that says what). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function segmentDurations(playlist: string): number[] {
  return [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
}

describe('ffmpeg HLS packager', () => {
  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'se-media-'));
    mediaRoot = path.join(workDir, 'media');
    const src = ['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '4'];
    const [h264, h265, alaw] = await Promise.all([
      encode([...src, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '0', '-f', 'h264', '-']),
      encode([...src, '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25:min-keyint=25:bframes=0', '-f', 'hevc', '-']),
      encode(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000', '-t', '4', '-f', 'alaw', '-ar', '8000', '-ac', '1', '-']),
    ]);
    fixtures.h264 = splitAnnexBAccessUnits(h264, 'h264');
    fixtures.h265 = splitAnnexBAccessUnits(h265, 'h265');
    fixtures.alaw = alaw;
    expect(fixtures.h264).toHaveLength(100);
    expect(fixtures.h265).toHaveLength(100);
  });

  afterEach(() => {
    expect(packagerErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('H.264 copy: playlist after the first GOP, 1 s fMP4 segments of 640x360 h264, nothing left after close', async () => {
    const registryBefore = activeFfmpegProcesses();
    const childrenBefore = ffmpegChildren();
    const { packager, output, firstSegment } = await startPackager('h264-copy', { video: 'h264', transcodeH265ToH264: false });
    expect(activeFfmpegProcesses()).toBe(registryBefore + 1);
    const pid = packager.pid!;

    let firstSegmentDuringFeed = false;
    void firstSegment.then(() => (firstSegmentDuringFeed = true));
    await feedRealtime(packager, fixtures.h264);
    const { afterMs } = await within(firstSegment, 8000, 'first segment');
    expect(firstSegmentDuringFeed).toBe(true); // live: not only when the input ends
    expect(afterMs).toBeLessThan(4000);

    const exit = (await packager.finish()) as HlsPackagerExit;
    expect(exit).toMatchObject({ code: 0, expected: true });
    const playlist = await readFile(output.playlistPath, 'utf8');
    expect(playlist).toContain('#EXT-X-TARGETDURATION:1');
    expect(playlist).toContain('#EXT-X-MAP:URI="init.mp4"');
    expect(playlist).toContain('#EXT-X-PROGRAM-DATE-TIME:');
    // Exact durations: the raw demuxer stamps frames from the SPS timing (25 fps), not from arrival times.
    expect(segmentDurations(playlist)).toEqual([1, 1, 1, 1]);

    const probe = await probeFile(output.playlistPath);
    expect(probe.video).toMatchObject({ codec: 'h264', codecTag: 'avc1', width: 640, height: 360, frames: 100 });
    expect(probe.audio).toBeNull();
    expect(packager.stats).toMatchObject({ videoFramesIn: 100, videoFramesWritten: 100, videoFramesDropped: 0 });

    await packager.close();
    await output.remove();
    expect(activeFfmpegProcesses()).toBe(registryBefore);
    expect(ffmpegChildren()).toBe(childrenBefore);
    expect(processExists(pid)).toBe(false);
    expect(existsSync(output.dir)).toBe(false);
  });

  it('H.265 copy: hevc segments tagged hvc1', async () => {
    const { packager, output, firstSegment } = await startPackager('h265-copy', { video: 'h265', transcodeH265ToH264: false });
    await feedRealtime(packager, fixtures.h265.slice(0, 75));
    await within(firstSegment, 8000, 'first segment');
    await packager.finish();
    const probe = await probeFile(output.playlistPath);
    expect(probe.video).toMatchObject({ codec: 'hevc', codecTag: 'hvc1', width: 640, height: 360, frames: 75 });
    await packager.close();
    await output.remove();
  });

  it('H.265 → H.264 transcode: h264 segments with a keyframe every second', async () => {
    const { packager, output, firstSegment } = await startPackager('h265-transcode', {
      video: 'h265',
      transcodeH265ToH264: true,
      frameRate: 25,
    });
    expect(packager.transcoding).toBe(true);
    await feedRealtime(packager, fixtures.h265.slice(0, 75));
    await within(firstSegment, 8000, 'first segment');
    await packager.finish();
    const playlist = await readFile(output.playlistPath, 'utf8');
    expect(segmentDurations(playlist)).toEqual([1, 1, 1]);
    const probe = await probeFile(output.playlistPath);
    expect(probe.video).toMatchObject({ codec: 'h264', width: 640, height: 360, frames: 75 });
    await packager.close();
    await output.remove();
  });

  it('G.711A audio becomes AAC; audio that starts late is padded so video is not held back', async () => {
    const { packager, output, firstSegment } = await startPackager('g711a', {
      video: 'h264',
      audio: 'g711a',
      transcodeH265ToH264: false,
    });
    // The camera's audio starts 3 s after its video. Without silence to keep fd 3 going, ffmpeg 5.1 would
    // wait for it (first segment only after ~3.6 s); with it the playlist is ready before any audio came.
    const audioFromFrame = 75;
    await feedRealtime(packager, fixtures.h264, { data: fixtures.alaw, fromFrame: audioFromFrame });
    const { afterMs } = await within(firstSegment, 8000, 'first segment');
    expect(afterMs).toBeLessThan(audioFromFrame * FRAME_MS);
    expect(packager.stats.audioSilenceMs).toBeGreaterThan(2500);
    expect(packager.stats.audioFramesWritten).toBe(100 - audioFromFrame);
    await packager.finish();
    const probe = await probeFile(output.playlistPath);
    expect(probe.video).toMatchObject({ codec: 'h264', width: 640, height: 360 });
    expect(probe.audio).toMatchObject({ codec: 'aac', sampleRate: 8000, channels: 1 });
    // Silence + camera audio cover the video's 4 s: the tracks stay together.
    const aacFrames = probe.audio!.frames!;
    expect(Math.abs((aacFrames * 1024) / 8000 - 4)).toBeLessThan(0.5);
    await packager.close();
    await output.remove();
  });

  it('drops video until the next keyframe while ffmpeg is stuck, and resumes on a keyframe', async () => {
    const maxBufferedBytes = 64 * 1024;
    const { packager, output } = await startPackager('stuck', { video: 'h264', transcodeH265ToH264: false, maxBufferedBytes });
    const pid = packager.pid!;
    const largest = Math.max(...fixtures.h264.map((au) => au.length));
    process.kill(pid, 'SIGSTOP');
    try {
      // Three times the stream at once: far more than the pipe and our bound hold.
      for (let round = 0; round < 3; round++) for (const au of fixtures.h264) packager.writeVideo(au);
      expect(packager.stats.videoFramesDropped).toBeGreaterThan(0);
      expect(packager.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + largest);
      // A non-keyframe is refused even after the backlog is gone; writing restarts at a keyframe.
      expect(packager.writeVideo(fixtures.h264[1]!)).toBe(false);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitUntil(() => packager.bufferedBytes < maxBufferedBytes / 2, 'ffmpeg works off the backlog');
    expect(packager.writeVideo(fixtures.h264[1]!)).toBe(false);
    expect(packager.writeVideo(fixtures.h264[0]!)).toBe(true);
    expect(packager.writeVideo(fixtures.h264[1]!)).toBe(true);

    // close() on a running packager: SIGTERM, and the process is gone when it resolves.
    const exit = await packager.close();
    expect(exit?.expected).toBe(true);
    expect(processExists(pid)).toBe(false);
    await output.remove();
  });

  it('reports an unexpected ffmpeg exit with its stderr', async () => {
    const { packager, output, firstSegment } = await startPackager('garbage', { video: 'h264', transcodeH265ToH264: false });
    const exited = new Promise<HlsPackagerExit>((resolve) => packager.once('exit', resolve));
    process.kill(packager.pid!, 'SIGKILL');
    const exit = await exited;
    expect(exit).toMatchObject({ expected: false, signal: 'SIGKILL' });
    await expect(firstSegment).rejects.toThrow('exited before the first segment');
    expect(packager.running).toBe(false);
    expect(packager.writeVideo(fixtures.h264[0]!)).toBe(false);
    await packager.close();
    await output.remove();
  });

  it('a missing ffmpeg binary is an error event and an exit, not a throw', async () => {
    const output = await HlsOutput.create(mediaRoot, 'no-binary');
    const registryBefore = activeFfmpegProcesses();
    const packager = new HlsPackager();
    const errors: Error[] = [];
    packager.on('error', (err) => errors.push(err));
    const exited = new Promise<HlsPackagerExit>((resolve) => packager.once('exit', resolve));
    setMediaToolPath('ffmpeg', path.join(workDir, 'no-such-ffmpeg'));
    try {
      packager.start({ dir: output.dir, video: 'h264', transcodeH265ToH264: false, segmentSeconds: 1, listSize: 3 });
    } finally {
      setMediaToolPath('ffmpeg', 'ffmpeg');
    }
    expect(await exited).toMatchObject({ expected: false });
    expect(errors.map((e) => e.message).join()).toContain('ENOENT');
    expect(packager.writeVideo(fixtures.h264[0]!)).toBe(false);
    expect(activeFfmpegProcesses()).toBe(registryBefore);
    await packager.close();
    await output.remove();
  });

  it('snapshots: a JPEG from a keyframe access unit and from a file', async () => {
    const fromAu = path.join(workDir, 'au.jpg');
    await snapshotJpegFromAccessUnit(fixtures.h264[0]!, 'h264', fromAu);
    expect((await probeFile(fromAu, { countFrames: false })).video).toMatchObject({ codec: 'mjpeg', width: 640, height: 360 });

    const clip = path.join(workDir, 'clip.h264');
    await encode(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '0.2', '-c:v', 'libx264', '-f', 'h264', '-y', clip]);
    const fromFile = path.join(workDir, 'file.jpg');
    await snapshotJpeg(clip, fromFile, { width: 160 });
    expect((await probeFile(fromFile, { countFrames: false })).video).toMatchObject({ codec: 'mjpeg', width: 160, height: 120 });
  });
});
