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

/**
 * Import a dependency-free module of the web app (type-only imports at most), e.g. the wall's hls.js settings, so a
 * benchmark uses exactly what the wall uses: transpiled here, imported from a data: URL.
 */
export async function importWebModule(relative) {
  const { readFileSync } = await import('node:fs');
  const ts = (await import('typescript')).default;
  const source = readFileSync(join(REPO_ROOT, relative), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
}
