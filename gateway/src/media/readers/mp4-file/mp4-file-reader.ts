/**
 * A stream written to an MP4 file (device download, docs/playback.md): the project's own fMP4 writer (the
 * live fMP4 reader's init segment + one fragment per frame) into a file, so a download costs no ffmpeg process
 * and no re-encode, and H.264 and H.265 come out as the device sent them. The result is a fragmented MP4
 * (ftyp, moov with mvex, moof+mdat…): browsers, VLC and ffmpeg play and read it; it has no global sample index,
 * so a player finds a position by walking the fragments (fine for files of a few hours).
 *
 * Tracks: video (H.264/H.265) and AAC audio; G.711 audio cannot go into MP4 without transcoding and is left
 * out (counted). A new epoch (the device restarted its timeline) with the same codecs and size continues the
 * same file on a continuous timeline; a change of codec or size cannot be written into one file and ends the
 * reader with an error (`error`).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { AccessUnit, StreamReader, TrackParameters } from '../../core/access-unit.js';
import { Fmp4LiveReader, type Fmp4LiveMessage } from '../fmp4-live/fmp4-live-reader.js';

export interface Mp4FileStats {
  bytes: number;
  videoUnits: number;
  /** G.711 (or other non-AAC) audio frames left out. */
  droppedAudio: number;
}

export class Mp4FileReader implements StreamReader {
  readonly kind = 'mp4-file';
  private readonly out: WriteStream;
  private readonly inner: Fmp4LiveReader;
  private readonly finished: Promise<void>;
  private shape: string | null = null;
  private skipNextBinary = false;
  private writeError: string | null = null;
  private endedReason: string | null = null;
  private audioUsable = false;
  readonly stats: Mp4FileStats = { bytes: 0, videoUnits: 0, droppedAudio: 0 };

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.finished = new Promise<void>((resolve) => {
      this.out.once('close', () => resolve());
    });
    this.out.on('error', (err) => {
      this.writeError = `cannot write ${path}: ${err.message}`;
    });
    this.inner = new Fmp4LiveReader(
      {
        sendText: (text) => this.onControl(text),
        sendBinary: (chunk) => this.onBinary(chunk),
        // A file never "falls behind": never skip frames.
        bufferedBytes: () => 0,
        close: (reason) => {
          this.endedReason ??= reason;
        },
      },
      { skipAboveBytes: Number.MAX_SAFE_INTEGER, cutAboveBytes: Number.MAX_SAFE_INTEGER },
    );
  }

  /** Why the file is unusable (null: fine so far). */
  get error(): string | null {
    return this.writeError ?? (this.endedReason?.startsWith('cannot mux') ? this.endedReason : null);
  }

  onParameters(tracks: readonly TrackParameters[], epoch: number): void {
    const usable = tracks.filter((t) => t.kind === 'video' || t.codec === 'aac');
    this.audioUsable = usable.some((t) => t.kind === 'audio');
    this.inner.onParameters(usable, epoch);
  }

  onAccessUnit(unit: AccessUnit): void {
    if (unit.kind === 'audio' && !this.audioUsable) {
      this.stats.droppedAudio++;
      return;
    }
    if (unit.kind === 'video') this.stats.videoUnits++;
    this.inner.onAccessUnit(unit);
  }

  backlog(): number {
    return 0;
  }

  /** Ends the file; resolves once it is on disk. */
  async close(reason: string): Promise<void> {
    this.inner.close(reason);
    if (!this.out.closed) this.out.end();
    await this.finished;
  }

  private onControl(text: string): void {
    let msg: Fmp4LiveMessage;
    try {
      msg = JSON.parse(text) as Fmp4LiveMessage;
    } catch {
      return;
    }
    if (msg.type !== 'init') return;
    const shape = `${msg.codecs} ${msg.width}x${msg.height}`;
    if (this.shape === null) {
      this.shape = shape;
      return;
    }
    // Same tracks: the timeline continues in the same file; the new init segment is not written.
    this.skipNextBinary = true;
    if (shape !== this.shape) {
      this.writeError = `the stream changed from ${this.shape} to ${shape} mid-download; one MP4 file cannot hold both`;
      this.inner.close(this.writeError);
    }
  }

  private onBinary(chunk: Uint8Array): void {
    if (this.skipNextBinary) {
      this.skipNextBinary = false;
      return;
    }
    if (this.writeError !== null || this.out.closed || this.out.writableEnded) return;
    this.stats.bytes += chunk.length;
    this.out.write(chunk);
  }
}
