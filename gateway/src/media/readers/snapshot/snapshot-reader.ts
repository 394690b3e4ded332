/**
 * Snapshots: one JPEG decoded by ffmpeg (once) from a stream's last keyframe — at once when the Stream holds
 * one, else from the next keyframe through a short-lived reader. Used by the snapshot API, the health console
 * and the wall.
 */
import type { AccessUnit, StreamReader, TrackParameters, VideoParameters } from '../../core/access-unit.js';
import type { Stream } from '../../core/stream.js';
import { snapshotJpegFromAccessUnit } from '../../ffmpeg/probe.js';
import { annexBOf } from '../annexb-writer.js';

/** Waits for the next video keyframe of a stream (one-shot reader). */
export class KeyframeReader implements StreamReader {
  readonly kind = 'snapshot';
  readonly keyframe: Promise<{ unit: AccessUnit; video: VideoParameters }>;
  private video: VideoParameters | null = null;
  private resolve!: (v: { unit: AccessUnit; video: VideoParameters }) => void;
  private reject!: (e: Error) => void;
  private done = false;

  constructor() {
    this.keyframe = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.keyframe.catch(() => undefined);
  }

  onParameters(tracks: readonly TrackParameters[]): void {
    this.video = (tracks.find((t) => t.kind === 'video') as VideoParameters | undefined) ?? null;
  }

  onAccessUnit(unit: AccessUnit): void {
    if (this.done || unit.kind !== 'video' || !unit.keyframe || !this.video) return;
    this.done = true;
    this.resolve({ unit, video: this.video });
  }

  backlog(): number {
    return 0;
  }

  close(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.reject(new Error(`stream closed before a keyframe: ${reason}`));
  }
}

/** Writes a JPEG of the stream's last (or next) keyframe to `outFile`. */
export async function snapshotOfStream(stream: Stream, outFile: string, opts: { width?: number; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let frame = stream.lastKeyframe();
  if (!frame) {
    const reader = new KeyframeReader();
    const id = stream.addReader(reader);
    let timer: NodeJS.Timeout | undefined;
    try {
      frame = await Promise.race([
        reader.keyframe,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no keyframe within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      await stream.removeReader(id, 'snapshot taken');
    }
  }
  await snapshotJpegFromAccessUnit(annexBOf(frame.unit, frame.video), frame.video.codec, outFile, { width: opts.width, timeoutMs });
}
