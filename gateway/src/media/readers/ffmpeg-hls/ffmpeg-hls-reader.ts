/**
 * The ffmpeg path as a reader of a Stream: access units → Annex-B / ADTS on pipes → the HLS packager
 * (media/ffmpeg/hls-packager.ts), which writes fMP4 HLS into a stream directory. It is the transcoder (H.265 →
 * H.264, G.711 → AAC) and, until the in-process LL-HLS muxer serves a codec, the packager for it.
 *
 * The packager starts on the first parameters with video (with the audio track those parameters list) and keeps
 * running across epochs: ffmpeg's raw readers follow new parameter sets in band. A change of video codec or of
 * the audio codec cannot be followed by one ffmpeg process: the reader then reports `exit` as unexpected so the
 * owner fails the stream with that reason instead of serving a broken playlist.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AccessUnit, AudioParameters, StreamReader, TrackParameters, VideoParameters } from '../../core/access-unit.js';
import { HlsPackager, type HlsPackagerExit, type HlsPackagerStats } from '../../ffmpeg/hls-packager.js';
import { annexBOf, audioBytesOf } from '../annexb-writer.js';

export interface FfmpegHlsReaderOptions {
  /** Existing, empty stream directory (HlsOutput.dir). */
  dir: string;
  transcodeH265ToH264: boolean;
  segmentSeconds: number;
  listSize: number;
  /** Leave audio out of the output (muted tiles). Default false. */
  withoutAudio?: boolean;
  logger?: Logger;
}

export interface FfmpegHlsReaderEvents {
  /** ffmpeg started (the first keyframe with its parameters arrived). */
  started: [{ video: VideoParameters; audio: AudioParameters | null; transcoding: boolean }];
  'first-segment': [{ playlistPath: string; afterMs: number }];
  exit: [HlsPackagerExit];
  error: [Error];
}

export class FfmpegHlsReader extends EventEmitter<FfmpegHlsReaderEvents> implements StreamReader {
  readonly kind = 'ffmpeg-hls';
  private packager: HlsPackager | null = null;
  private video: VideoParameters | null = null;
  private audio: AudioParameters | null = null;
  private closed = false;

  constructor(private readonly opts: FfmpegHlsReaderOptions) {
    super();
  }

  get stats(): HlsPackagerStats | null {
    return this.packager?.stats ?? null;
  }

  get transcoding(): boolean {
    return this.packager?.transcoding ?? false;
  }

  onParameters(tracks: readonly TrackParameters[], epoch: number): void {
    const video = (tracks.find((t) => t.kind === 'video') as VideoParameters | undefined) ?? null;
    const audio = this.opts.withoutAudio ? null : ((tracks.find((t) => t.kind === 'audio') as AudioParameters | undefined) ?? null);
    if (!video) return;
    if (this.packager) {
      if (video.codec !== this.video?.codec || (audio?.codec ?? null) !== (this.audio?.codec ?? null)) {
        this.opts.logger?.warn({ epoch, from: this.video?.codec, to: video.codec }, 'codec changed mid-stream; the ffmpeg packager cannot follow');
        this.emit('exit', { code: null, signal: null, stderrTail: `codec changed mid-stream (epoch ${epoch}): ${this.video?.codec}/${this.audio?.codec ?? 'no audio'} → ${video.codec}/${audio?.codec ?? 'no audio'}`, expected: false });
        void this.close('codec changed');
        return;
      }
      this.video = video;
      this.audio = audio;
      return;
    }
    if (this.closed) return;
    this.video = video;
    this.audio = audio;
    const packager = new HlsPackager();
    this.packager = packager;
    packager.on('first-segment', (info) => this.emit('first-segment', info));
    packager.on('exit', (info) => this.emit('exit', info));
    packager.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else this.opts.logger?.warn({ err: err.message }, 'packager error');
    });
    packager.start({
      dir: this.opts.dir,
      video: video.codec,
      audio: audio?.codec,
      transcodeH265ToH264: video.codec === 'h265' && this.opts.transcodeH265ToH264,
      segmentSeconds: this.opts.segmentSeconds,
      listSize: this.opts.listSize,
      logger: this.opts.logger,
    });
    this.emit('started', { video, audio, transcoding: packager.transcoding });
  }

  onAccessUnit(unit: AccessUnit): void {
    const packager = this.packager;
    if (!packager || this.closed) return;
    if (unit.kind === 'video') {
      if (this.video) packager.writeVideo(annexBOf(unit, this.video), unit.keyframe);
    } else if (this.audio) {
      packager.writeAudio(audioBytesOf(unit, this.audio));
    }
  }

  backlog(): number {
    return this.packager?.bufferedBytes ?? 0;
  }

  async close(_reason: string): Promise<void> {
    this.closed = true;
    await this.packager?.close();
  }
}
