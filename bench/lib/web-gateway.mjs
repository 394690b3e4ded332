// The gateway child for benchmarks that drive the web UI in a browser: the current web/ source built with
// vite into a fresh directory (never web/dist), served by a gateway child process configured like
// lib/gateway.mjs's (SE_* variables, 127.0.0.1, a fresh data directory, a random API token).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from './paths.mjs';
import { freePort, freeTcpUdpPort } from './ports.mjs';
import { stopChild, track } from './children.mjs';
import { ApiClient } from './api.mjs';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID } from './gateway.mjs';

export const ADMIN_PASSWORD = 'bench-admin-password';

/** vite build of web/ into a temporary directory; returns { dir, ms, remove() }. */
export async function buildWebUi() {
  const dir = mkdtempSync(join(tmpdir(), 'se-bench-web-'));
  const started = performance.now();
  const { build } = await import('vite');
  await build({ configFile: join(REPO_ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  return { dir, ms: Math.round(performance.now() - started), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startWebGatewayProcess({ webRoot, env = {}, startupMs = 60_000 }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-bench-gw-'));
  const sipPort = await freeTcpUdpPort();
  const httpPort = await freePort();
  const token = `bench-${randomBytes(12).toString('hex')}`;
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SE_') && k !== 'NODE_OPTIONS'));
  const child = track(
    spawn(process.execPath, [join(REPO_ROOT, 'bench/lib/web-gateway-child.mjs')], {
      cwd: REPO_ROOT,
      env: {
        ...baseEnv,
        SE_SIP_ID: GATEWAY_SIP_ID,
        SE_SIP_HOST: '127.0.0.1',
        SE_SIP_ADVERTISED_HOST: '127.0.0.1',
        SE_SIP_PORT: String(sipPort),
        SE_SIP_PASSWORD: DEVICE_PASSWORD,
        SE_HTTP_HOST: '127.0.0.1',
        SE_HTTP_PORT: String(httpPort),
        SE_API_TOKEN: token,
        SE_DATA_DIR: dataDir,
        SE_MONGO_URL: '',
        SE_ADMIN_PASSWORD: ADMIN_PASSWORD,
        SE_LOG_LEVEL: 'warn',
        SE_BENCH_WEB_ROOT: webRoot,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    'gateway',
  );
  let logTail = '';
  const onLog = (chunk) => {
    logTail = (logTail + chunk.toString()).slice(-8000);
  };
  child.stdout.on('data', onLog);
  child.stderr.on('data', onLog);
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const api = new ApiClient(httpUrl, token);
  const stop = async () => {
    await stopChild(child, 30_000);
    api.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + startupMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`gateway exited during start-up (code ${child.exitCode}):\n${logTail}`);
    }
    try {
      const res = await api.get('/healthz', { auth: false, timeoutMs: 2_000 });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gateway /healthz not 200 within ${startupMs} ms:\n${logTail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid, child, httpUrl, httpPort, sipPort, token, api, stop, logTail: () => logTail };
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
