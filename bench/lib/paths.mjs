// Where things are: the repository root and the compiled gateway (dist/, from `npm run build`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(REPO_ROOT, 'dist');
export const OUT_DIR = join(REPO_ROOT, 'bench', 'out');

/** Import a compiled gateway module, e.g. distImport('sim/index.js'). */
export async function distImport(relative) {
  const file = join(DIST, relative);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  return import(pathToFileURL(file).href);
}
