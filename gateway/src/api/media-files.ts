/**
 * Resolving a signed media path (`/media/<token>/<file>`) to the HLS file it names: token check, stream
 * lookup, viewer heartbeat on playlist reads, content type and caching. A stream muxed in process (LL-HLS)
 * answers from its reader's memory, with blocking playlist reload (`_HLS_msn` / `_HLS_part`) and blocking
 * preload-hinted parts; a stream packaged by ffmpeg answers from its directory (path containment checked). One function for the
 * two ways a player fetches media — the plain GET /media route and the page's media WebSocket
 * (routes/media-mux.ts) — so both answer exactly alike.
 */
import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { StreamService } from '../domain/streams/stream-service.js';
import { LlhlsClosedError, LlhlsRequestError } from '../media/readers/llhls/llhls-reader.js';

/** HLS file names ffmpeg writes: playlist, init segment, media segments. */
export const MEDIA_FILE_PATTERN = /^[A-Za-z0-9_-]+\.(m3u8|m4s|mp4|ts)$/;
/** Longer tokens are refused before any work (ours are ~200 characters). */
export const MEDIA_TOKEN_MAX_LENGTH = 512;

const MEDIA_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
};

/** What resolving needs from the stream service (narrow, so tests can serve a directory of their own). */
export type MediaFileSource = Pick<StreamService, 'tokens' | 'mediaDirOf' | 'touch'> & Partial<Pick<StreamService, 'grants' | 'llhlsOf'>>;

/** LL-HLS delivery directives of a playlist request (RFC 8216bis §6.2.5.2). */
export interface HlsDirectives {
  msn?: number;
  part?: number;
}

/** `_HLS_msn` / `_HLS_part` from a query; malformed values are left for the reader to refuse (400). */
export function hlsDirectivesOf(query: URLSearchParams | Record<string, unknown> | undefined): HlsDirectives {
  if (!query) return {};
  const get = (key: string): unknown => (query instanceof URLSearchParams ? (query.get(key) ?? undefined) : query[key]);
  const out: HlsDirectives = {};
  const msn = get('_HLS_msn');
  const part = get('_HLS_part');
  if (msn !== undefined) out.msn = Number(msn);
  if (part !== undefined) out.part = Number(part);
  return out;
}

export type MediaFileResult =
  | { ok: true; body: Buffer; contentType: string; cacheControl: string }
  | { ok: false; status: 400 | 401 | 403 | 404; message: string; code?: string };

/** `/media/<token>/<file>[?query]` → its parts, or null when the path has another shape. */
export function parseMediaPath(path: string): { token: string; file: string; hls: HlsDirectives } | null {
  const q = path.indexOf('?');
  const match = /^\/media\/([^/]+)\/([^/]+)$/.exec(q >= 0 ? path.slice(0, q) : path);
  if (!match) return null;
  return { token: match[1], file: match[2], hls: q >= 0 ? hlsDirectivesOf(new URLSearchParams(path.slice(q + 1))) : {} };
}

/** The file a signed media path names, or why not (status and message as the /media route answers them). */
export async function readMediaFile(streams: MediaFileSource, token: string, file: string, hls: HlsDirectives = {}): Promise<MediaFileResult> {
  if (token.length > MEDIA_TOKEN_MAX_LENGTH) return { ok: false, status: 400, message: 'media token too long' };
  if (!MEDIA_FILE_PATTERN.test(file)) return { ok: false, status: 400, message: `invalid media file name ${JSON.stringify(file.slice(0, 64))}` };
  const verdict = streams.tokens.verify(token);
  if (!verdict.ok) return { ok: false, status: verdict.reason === 'expired' ? 403 : 401, message: `media token ${verdict.reason}` };
  const { streamId, viewerId } = verdict.claims;
  // The right it was opened with ended (session over, point removed, signed out): refused before the token expires.
  if (streams.grants?.isRevoked(viewerId)) return { ok: false, status: 403, message: 'media access revoked (the session ended, the point was removed or its user signed out)', code: 'media.revoked' };
  const llhls = streams.llhlsOf?.(streamId, viewerId);
  if (llhls) {
    const playlist = file.endsWith('.m3u8');
    if (playlist) streams.touch(streamId, viewerId);
    try {
      if (playlist) {
        const text = await llhls.playlist(hls);
        return { ok: true, body: Buffer.from(text, 'utf8'), contentType: MEDIA_TYPES['.m3u8']!, cacheControl: 'no-cache' };
      }
      const found = await llhls.resource(file);
      if (!found) return { ok: false, status: 404, message: `${file} not found (parts and segments leave the live window as it moves)` };
      return {
        ok: true,
        body: Buffer.from(found.body.buffer, found.body.byteOffset, found.body.byteLength),
        contentType: found.contentType,
        cacheControl: found.immutable ? 'max-age=60' : 'no-cache',
      };
    } catch (err) {
      if (err instanceof LlhlsRequestError) return { ok: false, status: 400, message: err.message };
      if (err instanceof LlhlsClosedError) return { ok: false, status: 404, message: 'stream not running (it may have been torn down after its viewers left)' };
      throw err;
    }
  }
  const dir = streams.mediaDirOf(streamId, viewerId);
  if (!dir) return { ok: false, status: 404, message: 'stream not running (it may have been torn down after its viewers left)' };
  const path = resolve(dir, file);
  // The pattern already forbids separators; this is the belt to that pair of braces.
  if (!path.startsWith(resolve(dir) + sep)) return { ok: false, status: 403, message: 'path outside the stream directory' };
  const ext = file.slice(file.lastIndexOf('.'));
  if (ext === '.m3u8') streams.touch(streamId, viewerId);
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    return { ok: false, status: 404, message: `${file} not found (segments are removed as the live window moves)` };
  }
  return {
    ok: true,
    body,
    contentType: MEDIA_TYPES[ext] ?? 'application/octet-stream',
    cacheControl: ext === '.m3u8' ? 'no-cache' : 'max-age=60',
  };
}
