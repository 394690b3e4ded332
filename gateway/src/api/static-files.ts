/**
 * Serves the web UI's files from one directory (web/ now, web/dist once the UI is built).
 *
 * Written by hand because @fastify/static is not a direct dependency of the project and this needs only
 * GET of plain files: resolve the path under the root, refuse anything that escapes it (also through
 * symlinks) or names a dotfile, map the extension to a content type, stream the file.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from './errors.js';

export interface StaticFilesOptions {
  root: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

const isWithin = (root: string, path: string): boolean => path === root || path.startsWith(root + sep);

/**
 * The file a URL path (already percent-decoded, without the leading "/") names under `root`, or null when
 * it does not exist, is not a regular file, or would be outside the root. A directory means its index.html.
 */
export async function resolveStaticFile(root: string, urlPath: string): Promise<{ path: string; size: number } | null> {
  if (urlPath.includes('\0')) return null;
  const segments = urlPath.split(/[/\\]/).filter((s) => s !== '');
  // Dotfiles (.git, .env) are never part of a built UI; ".." is refused here and by the prefix check below.
  if (segments.some((s) => s.startsWith('.'))) return null;
  const absoluteRoot = resolve(root);
  let candidate = resolve(absoluteRoot, ...segments);
  if (!isWithin(absoluteRoot, candidate)) return null;
  try {
    let info = await stat(candidate);
    if (info.isDirectory()) {
      candidate = join(candidate, 'index.html');
      info = await stat(candidate);
    }
    if (!info.isFile()) return null;
    // A symlink inside the root may point anywhere: compare where things really are.
    const [realRoot, realFile] = await Promise.all([realpath(absoluteRoot), realpath(candidate)]);
    if (!isWithin(realRoot, realFile)) return null;
    return { path: realFile, size: info.size };
  } catch {
    return null;
  }
}

export const staticFiles: FastifyPluginAsync<StaticFilesOptions> = async (app, { root }) => {
  app.get<{ Params: { '*': string } }>(
    '/*',
    {
      schema: {
        hide: true,
        params: { type: 'object', properties: { '*': { type: 'string', maxLength: 2048 } } },
      },
    },
    async (request, reply) => {
      const requested = request.params['*'];
      const file = await resolveStaticFile(root, requested);
      if (!file) return reply.code(404).send(errorBody(404, `no route or file for ${request.method} /${requested}`));
      return reply
        .header('Content-Type', contentTypeOf(file.path))
        .header('Content-Length', file.size)
        .header('X-Content-Type-Options', 'nosniff')
        // The UI is small and changes with each deployment: always revalidate.
        .header('Cache-Control', 'no-cache')
        .send(createReadStream(file.path));
    },
  );
};
