/**
 * Per-stream HLS directories under the media directory: <mediaRoot>/<streamId>/{index.m3u8, init.mp4, seg-N.m4s}.
 *
 * Every path is built from a validated stream id and a validated file name and then checked to resolve inside
 * the media directory, so a request for "../../etc/passwd" or an id with a slash yields null, never a path
 * outside. Old segments of a running stream are deleted by ffmpeg itself (hls_flags delete_segments); this
 * module removes the whole directory when the stream ends, wipes a stale directory of the same id when a stream
 * starts, and sweeps directories left by a gateway that crashed.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

export const PLAYLIST_NAME = 'index.m3u8';
export const INIT_SEGMENT_NAME = 'init.mp4';
export const SEGMENT_PATTERN = 'seg-%d.m4s';

const STREAM_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** What ffmpeg writes and players may fetch: the playlist, the init segment, numbered segments, snapshots. */
const MEDIA_FILE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(m3u8|m4s|mp4|jpg)$/;

export function isValidStreamId(streamId: string): boolean {
  return STREAM_ID.test(streamId);
}

/** <mediaRoot>/<streamId>, or null if the id is not a plain name. */
export function streamDirectory(mediaRoot: string, streamId: string): string | null {
  if (!isValidStreamId(streamId)) return null;
  const root = path.resolve(mediaRoot);
  const dir = path.resolve(root, streamId);
  return path.dirname(dir) === root ? dir : null;
}

/** Path of one media file of a stream, or null if the id or name is not allowed (never a path outside). */
export function mediaFilePath(mediaRoot: string, streamId: string, fileName: string): string | null {
  const dir = streamDirectory(mediaRoot, streamId);
  if (dir === null || !MEDIA_FILE.test(fileName)) return null;
  const file = path.resolve(dir, fileName);
  return path.dirname(file) === dir ? file : null;
}

export class HlsOutput {
  private removed = false;

  private constructor(
    readonly mediaRoot: string,
    readonly streamId: string,
    readonly dir: string,
  ) {}

  /** Creates an empty directory for the stream (a stale one of the same id is wiped first). */
  static async create(mediaRoot: string, streamId: string): Promise<HlsOutput> {
    const root = path.resolve(mediaRoot);
    const dir = streamDirectory(root, streamId);
    if (dir === null) throw new RangeError(`stream id must be letters, digits, "_" or "-", got ${JSON.stringify(streamId)}`);
    await mkdir(root, { recursive: true });
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    return new HlsOutput(root, streamId, dir);
  }

  get playlistPath(): string {
    return path.join(this.dir, PLAYLIST_NAME);
  }

  get segmentPattern(): string {
    return path.join(this.dir, SEGMENT_PATTERN);
  }

  /** Path of a file of this stream for serving, or null if the name is not one we write. */
  filePath(fileName: string): string | null {
    return mediaFilePath(this.mediaRoot, this.streamId, fileName);
  }

  /** Removes the directory and everything in it. Safe to call twice. */
  async remove(): Promise<void> {
    this.removed = true;
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
  }

  get isRemoved(): boolean {
    return this.removed;
  }
}

/**
 * Removes stream directories under the media root that no running stream owns (left by a crash); returns how
 * many. Only entries that look like stream directories are touched.
 */
export async function sweepMediaRoot(mediaRoot: string, keep: ReadonlySet<string> = new Set()): Promise<number> {
  const root = path.resolve(mediaRoot);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  for (const entry of entries) {
    if (!entry.isDirectory() || !isValidStreamId(entry.name) || keep.has(entry.name)) continue;
    await rm(path.join(root, entry.name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
