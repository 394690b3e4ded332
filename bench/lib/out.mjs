// Results as JSON under bench/out/ (git-ignored); RESULTS.md quotes them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OUT_DIR } from './paths.mjs';

export function writeResult(name, data) {
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function log(...parts) {
  const t = new Date().toISOString().slice(11, 19);
  process.stdout.write(`[${t}] ${parts.join(' ')}\n`);
}
