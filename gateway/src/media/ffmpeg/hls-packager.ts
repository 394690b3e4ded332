/**
 * One ffmpeg process that turns a live elementary stream into HLS (fMP4 segments) in a stream directory.
 *
 * Video access units (Annex-B) go to ffmpeg's stdin, audio frames to a second pipe (fd 3). See args.ts for the
 * exact arguments and the timestamp findings behind them.
 *
 * Backpressure: if ffmpeg falls behind (a slow disk, an overloaded transcoder), what we wrote piles up in the
 * stdin stream's buffer. Beyond `maxBufferedBytes` the packager drops video until the next keyframe (a frame
 * dropped in the middle of a GOP would corrupt every frame after it until the next keyframe anyway) and counts
 * the dropped frames, so memory stays bounded whatever ffmpeg does.
 *
 * Audio clock (G.711): the video frame count is the master clock (ffmpeg stamps raw video at a constant rate)
 * and the audio byte count must follow it, because ffmpeg 5.1 only advances its output as far as its slowest
 * input: a camera whose PSM declares audio but sends none (or starts it late) would otherwise stall the whole
 * stream. When audio lags the video clock by more than 120 ms, silence is written to catch up (to 40 ms behind:
 * ffmpeg cuts a segment only once audio has reached the cut, so a smaller lag means an earlier first segment);
 * audio that runs more than 250 ms ahead (video frames were dropped) is dropped. AAC audio is passed through as is (no silence
 * frames are synthesised): an AAC track that stops stalls the output, which is why the stream service should
 * only name an audio codec it is actually receiving.
 */
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { isKeyframeAccessUnit } from '../../codecs/ps/annexb.js';
import type { AudioCodec, VideoCodec } from '../../codecs/ps/stream-types.js';
import { INIT_SEGMENT_NAME, PLAYLIST_NAME, SEGMENT_PATTERN } from '../hls-output.js';
import { buildHlsPackagerArgs, G711_SAMPLE_RATE, PACKAGER_AUDIO_FD, transcodesVideo } from './args.js';
import { hasExited, spawnMediaTool, terminate, TextTail } from './processes.js';

export interface HlsPackagerOptions {
  /** Existing, empty directory (HlsOutput.dir); ffmpeg writes index.m3u8, init.mp4 and seg-N.m4s there. */
  dir: string;
  video: VideoCodec;
  audio?: AudioCodec;
  transcodeH265ToH264: boolean;
  /** Target segment duration (segments follow the source GOP when copying). */
  segmentSeconds: number;
  /** Segments listed in the playlist. */
  listSize: number;
  /** Measured source frame rate (from PTS); default 25. Used where the SPS carries no timing, and for -g. */
  frameRate?: number;
  /** Bound on video bytes waiting for ffmpeg's stdin, default 8 MiB. */
  maxBufferedBytes?: number;
  logger?: Logger;
}

export interface HlsPackagerStats {
  videoFramesIn: number;
  videoFramesWritten: number;
  /** Dropped because ffmpeg fell behind (until the next keyframe). */
  videoFramesDropped: number;
  /** Dropped because no keyframe had been written yet (ffmpeg must start on one). */
  framesBeforeKeyframe: number;
  audioFramesIn: number;
  audioFramesWritten: number;
  audioFramesDropped: number;
  /** Silence written to keep G.711 audio up with the video clock. */
  audioSilenceMs: number;
  bytesWritten: number;
}

export interface HlsPackagerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines ffmpeg wrote to stderr (warnings and errors only). */
  stderrTail: string;
  /** True when the exit followed close() or finish(); false = ffmpeg stopped on its own (failure). */
  expected: boolean;
}

export interface HlsPackagerEvents {
  /** The playlist exists and lists at least one segment: players can start. */
  'first-segment': [{ playlistPath: string; afterMs: number }];
  exit: [HlsPackagerExit];
  error: [Error];
}

const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;
/** Audio waiting for fd 3 beyond this (8 s of G.711) is dropped. */
const MAX_AUDIO_BUFFERED = 64 * 1024;
const AUDIO_MAX_LAG_SAMPLES = 0.12 * G711_SAMPLE_RATE;
const AUDIO_MAX_AHEAD_SAMPLES = 0.25 * G711_SAMPLE_RATE;
const AUDIO_PAD_TARGET_SAMPLES = 0.04 * G711_SAMPLE_RATE;
/** G.711 encodings of a zero sample. */
const SILENCE: Record<'g711a' | 'g711u', number> = { g711a: 0xd5, g711u: 0xff };
const PLAYLIST_POLL_MS = 500;

/** Segment URIs listed in a playlist. */
export function countPlaylistSegments(playlist: string): number {
  return playlist.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')).length;
}

export class HlsPackager extends EventEmitter<HlsPackagerEvents> {
  readonly stats: HlsPackagerStats = {
    videoFramesIn: 0,
    videoFramesWritten: 0,
    videoFramesDropped: 0,
    framesBeforeKeyframe: 0,
    audioFramesIn: 0,
    audioFramesWritten: 0,
    audioFramesDropped: 0,
    audioSilenceMs: 0,
    bytesWritten: 0,
  };
  private opts: HlsPackagerOptions | null = null;
  private child: ChildProcess | null = null;
  private videoIn: Writable | null = null;
  private audioIn: Writable | null = null;
  private readonly stderr = new TextTail();
  private frameRate = 25;
  private maxBuffered = DEFAULT_MAX_BUFFERED;
  private startedAt = 0;
  private seenKeyframe = false;
  private droppingUntilKeyframe = false;
  private audioSamples = 0;
  private stopping = false;
  private exitInfo: HlsPackagerExit | null = null;
  private exited: Promise<HlsPackagerExit> | null = null;
  private watcher: FSWatcher | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private firstSegmentSeen = false;
  private log: Logger | undefined;

  /** Spawns ffmpeg. Problems starting it arrive as 'error' then 'exit' (never thrown, except bad options). */
  start(opts: HlsPackagerOptions): void {
    if (this.child) throw new Error('HlsPackager.start was already called');
    this.opts = opts;
    this.log = opts.logger;
    this.frameRate = opts.frameRate ?? 25;
    this.maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    const dir = path.resolve(opts.dir);
    const args = buildHlsPackagerArgs({
      video: opts.video,
      audio: opts.audio,
      transcodeH265ToH264: opts.transcodeH265ToH264,
      segmentSeconds: opts.segmentSeconds,
      listSize: opts.listSize,
      frameRate: this.frameRate,
      playlistPath: path.join(dir, PLAYLIST_NAME),
      segmentPattern: path.join(dir, SEGMENT_PATTERN),
      initFileName: INIT_SEGMENT_NAME,
    });
    const stdio: Array<'pipe' | 'ignore'> = ['pipe', 'ignore', 'pipe'];
    if (opts.audio) stdio[PACKAGER_AUDIO_FD] = 'pipe';
    const child = spawnMediaTool('ffmpeg', args, stdio);
    this.child = child;
    this.startedAt = Date.now();
    this.log?.debug({ args, pid: child.pid }, 'ffmpeg HLS packager started');
    child.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    this.videoIn = child.stdin!;
    this.audioIn = opts.audio ? (child.stdio[PACKAGER_AUDIO_FD] as Writable) : null;
    for (const pipe of [this.videoIn, this.audioIn]) {
      pipe?.on('error', (err: NodeJS.ErrnoException) => {
        // EPIPE & co: ffmpeg is gone; its exit is reported with the stderr tail, which says why.
        if (err.code === 'EPIPE' || err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_DESTROYED') return;
        this.fail(err);
      });
    }
    this.exited = new Promise<HlsPackagerExit>((resolve) => {
      const report = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exitInfo) return;
        this.stopWatching();
        this.exitInfo = { code, signal, stderrTail: this.stderr.toString(), expected: this.stopping };
        if (!this.stopping) this.log?.warn({ code, signal, stderr: this.exitInfo.stderrTail }, 'ffmpeg packager stopped');
        resolve(this.exitInfo);
        this.emit('exit', this.exitInfo);
      };
      // 'close' comes after stderr is drained, so the tail is complete.
      child.once('close', (code, signal) => report(code, signal));
      child.once('error', (err) => {
        this.fail(new Error(`could not run ffmpeg: ${err.message}`));
        if (child.pid === undefined) report(null, null);
      });
    });
    this.watchForFirstSegment(dir);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && !this.stopping && !hasExited(this.child) && this.exitInfo === null;
  }

  get playlistPath(): string | null {
    return this.opts ? path.join(path.resolve(this.opts.dir), PLAYLIST_NAME) : null;
  }

  /** Bytes waiting for ffmpeg's stdin. */
  get bufferedBytes(): number {
    return this.videoIn?.writableLength ?? 0;
  }

  get transcoding(): boolean {
    return this.opts !== null && transcodesVideo(this.opts);
  }

  /**
   * Writes one Annex-B access unit. `keyframe` defaults to a NAL scan. Returns false if the frame was dropped
   * (not started or stopped, waiting for the first keyframe, or ffmpeg behind).
   */
  writeVideo(accessUnit: Buffer, keyframe?: boolean): boolean {
    this.stats.videoFramesIn++;
    if (!this.running || !this.videoIn || !this.opts) return false;
    const isKey = keyframe ?? isKeyframeAccessUnit(accessUnit, this.opts.video);
    if (!this.seenKeyframe) {
      if (!isKey) {
        this.stats.framesBeforeKeyframe++;
        return false;
      }
      this.seenKeyframe = true;
    }
    const buffered = this.videoIn.writableLength;
    if (this.droppingUntilKeyframe) {
      // Resume only on a keyframe, and only once ffmpeg has worked off half the backlog.
      if (!isKey || buffered > this.maxBuffered / 2) {
        this.stats.videoFramesDropped++;
        return false;
      }
      this.droppingUntilKeyframe = false;
      this.log?.info({ dropped: this.stats.videoFramesDropped }, 'ffmpeg caught up, writing video again');
    } else if (buffered + accessUnit.length > this.maxBuffered) {
      this.droppingUntilKeyframe = true;
      this.stats.videoFramesDropped++;
      this.log?.warn({ buffered }, 'ffmpeg is not keeping up; dropping video until the next keyframe');
      return false;
    }
    this.videoIn.write(accessUnit);
    this.stats.videoFramesWritten++;
    this.stats.bytesWritten += accessUnit.length;
    this.padAudioToVideoClock();
    return true;
  }

  /** Writes one audio frame (G.711 bytes or an ADTS frame). Returns false if it was dropped. */
  writeAudio(frame: Buffer): boolean {
    this.stats.audioFramesIn++;
    const codec = this.opts?.audio;
    if (!this.running || !this.audioIn || !codec) return false;
    // Audio before the first video frame would sit before the video in the output; both start together.
    if (!this.seenKeyframe || this.audioIn.writableLength > MAX_AUDIO_BUFFERED) {
      this.stats.audioFramesDropped++;
      return false;
    }
    if (codec !== 'aac') {
      if (this.audioSamples + frame.length - this.videoClockSamples() > AUDIO_MAX_AHEAD_SAMPLES) {
        this.stats.audioFramesDropped++;
        return false;
      }
      this.audioSamples += frame.length;
    }
    this.audioIn.write(frame);
    this.stats.audioFramesWritten++;
    return true;
  }

  /**
   * Ends the input and lets ffmpeg write the last segment and #EXT-X-ENDLIST; kills it if it takes longer than
   * `timeoutMs`. For recordings and tests; a live stream that ends just calls close().
   */
  async finish(timeoutMs = 5000): Promise<HlsPackagerExit | null> {
    if (!this.child || !this.exited) return null;
    this.stopping = true;
    this.videoIn?.end();
    this.audioIn?.end();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') await terminate(this.child);
    return this.exited;
  }

  /** Stops ffmpeg (SIGTERM, SIGKILL after 2 s) and resolves once it has exited. Safe to call twice. */
  async close(): Promise<HlsPackagerExit | null> {
    this.stopWatching();
    if (!this.child || !this.exited) return null;
    this.stopping = true;
    // Close the pipes first: ffmpeg waiting in read() on an idle pipe does not act on SIGTERM (its handler
    // only sets a flag and the read restarts), so without EOF every close would wait for the SIGKILL.
    this.videoIn?.destroy();
    this.audioIn?.destroy();
    await terminate(this.child);
    return this.exited;
  }

  private videoClockSamples(): number {
    return (this.stats.videoFramesWritten * G711_SAMPLE_RATE) / this.frameRate;
  }

  private padAudioToVideoClock(): void {
    const codec = this.opts?.audio;
    if (!this.audioIn || !codec || codec === 'aac') return;
    const lag = this.videoClockSamples() - this.audioSamples;
    if (lag <= AUDIO_MAX_LAG_SAMPLES || this.audioIn.writableLength > MAX_AUDIO_BUFFERED) return;
    const samples = Math.round(lag - AUDIO_PAD_TARGET_SAMPLES);
    this.audioIn.write(Buffer.alloc(samples, SILENCE[codec]));
    this.audioSamples += samples;
    this.stats.audioSilenceMs += (samples * 1000) / G711_SAMPLE_RATE;
  }

  private watchForFirstSegment(dir: string): void {
    const playlist = path.join(dir, PLAYLIST_NAME);
    let reading = false;
    const check = (): void => {
      if (this.firstSegmentSeen || reading) return;
      reading = true;
      readFile(playlist, 'utf8').then(
        (text) => {
          reading = false;
          if (this.firstSegmentSeen || this.exitInfo || countPlaylistSegments(text) === 0) return;
          this.firstSegmentSeen = true;
          this.stopWatching();
          this.emit('first-segment', { playlistPath: playlist, afterMs: Date.now() - this.startedAt });
        },
        () => {
          reading = false; // not there yet
        },
      );
    };
    try {
      // ffmpeg renames index.m3u8.tmp to index.m3u8 (temp_file), which fs.watch reports as 'rename'.
      this.watcher = watch(dir, (_event, name) => {
        if (name === PLAYLIST_NAME) check();
      });
      this.watcher.on('error', () => undefined); // the directory went away; the poll below still ends
    } catch {
      this.watcher = null;
    }
    // fs.watch can miss events (network filesystems, overlayfs): a slow poll backs it up.
    this.pollTimer = setInterval(check, PLAYLIST_POLL_MS);
    this.pollTimer.unref();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log?.error({ err: err.message }, 'ffmpeg packager error (no listener)');
  }
}
