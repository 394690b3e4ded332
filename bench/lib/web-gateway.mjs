// The gateway child for benchmarks that drive the web UI in a browser: the current web/ source built with
// vite into a fresh directory (never web/dist), served by a gateway child process configured like
// lib/gateway.mjs's (SE_* variables, 127.0.0.1, a fresh data directory, a random API token).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.mjs';
import { startGatewayProcess } from './gateway.mjs';

export { ADMIN_PASSWORD } from './gateway.mjs';

/** vite build of web/ into a temporary directory; returns { dir, ms, remove() }. */
export async function buildWebUi() {
  const dir = mkdtempSync(join(tmpdir(), 'se-bench-web-'));
  const started = performance.now();
  const { build } = await import('vite');
  await build({ configFile: join(REPO_ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  return { dir, ms: Math.round(performance.now() - started), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The gateway child serving `webRoot` at "/" (lib/gateway.mjs's child, with the web-gateway entry point). */
export function startWebGatewayProcess({ webRoot, env = {}, startupMs = 60_000 }) {
  return startGatewayProcess({ webRoot, env, startupMs });
}

/** POST/PUT JSON with a bearer token (or none); → { status, body }. */
export async function postJson(baseUrl, path, body, token) {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}
