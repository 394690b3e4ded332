/**
 * Starts a real gateway (real SIP sockets on 127.0.0.1, real HTTP, real store) for end-to-end tests, and
 * gives tests a small authenticated API client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type DeepPartial, type GatewayConfig } from '../../src/config/load-config.js';
import { startGateway, type Gateway } from '../../src/app.js';
import { mongoTestUrl, uniqueDatabaseName } from './mongo.js';

export const TEST_TOKEN = 'test-token-0123456789';

export interface HarnessOptions {
  store?: 'sqlite' | 'mongo';
  dataDir?: string;
  overrides?: DeepPartial<GatewayConfig>;
  /** Reuse a database name (restart tests). */
  mongoDatabase?: string;
  /** Serve this directory at "/" (browser tests pass the web build from support/browser.ts). */
  webRoot?: string;
}

export interface Harness {
  gateway: Gateway;
  config: GatewayConfig;
  dataDir: string;
  sipTarget: string;
  api<T = unknown>(path: string, init?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; body: T; headers: Headers }>;
  /** Poll until `check` returns a truthy value (or throw after timeoutMs, with the last value in the message). */
  waitFor<T>(check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export function testConfig(opts: HarnessOptions = {}): { config: GatewayConfig; dataDir: string } {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'se-e2e-'));
  const mongo = opts.store === 'mongo';
  const base: DeepPartial<GatewayConfig> = {
    sip: { host: '127.0.0.1', advertisedHost: '127.0.0.1', port: 0, registerExpiresMin: 60 },
    http: { host: '127.0.0.1', port: 0, apiTokens: [TEST_TOKEN] },
    store: {
      dataDir,
      mongoUrl: mongo ? mongoTestUrl() : '',
      mongoDatabase: opts.mongoDatabase ?? (mongo ? uniqueDatabaseName('e2e') : 'sharp_eyes'),
      flushIntervalMs: 200,
    },
    admin: { username: 'admin', password: 'admin-password-1' },
    // No escalation timer crossing a test's alarms mid-run; escalation tests turn it on and drive tick(at).
    alarms: { escalateAfterMin: 0 },
    // Any free port: test gateways run side by side.
    rtmp: { host: '127.0.0.1', port: 0 },
  };
  const merged = deepMerge(base, opts.overrides ?? {});
  // loadConfig validates the merged overrides like any operator-supplied config (env ignored: tests are hermetic).
  const config = loadConfig({ env: {}, overrides: merged });
  return { config, dataDir };
}

function deepMerge<T>(a: T, b: DeepPartial<T>): T {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return (b ?? a) as T;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    if (v === undefined) continue;
    const cur = out[k];
    out[k] = typeof cur === 'object' && cur !== null && !Array.isArray(cur) && typeof v === 'object' && v !== null && !Array.isArray(v) ? deepMerge(cur, v as never) : v;
  }
  return out as T;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const { config, dataDir } = testConfig(opts);
  // Quiet by default; SE_TEST_LOG_LEVEL=debug shows the gateway's own logs when a test fails.
  const level = process.env.SE_TEST_LOG_LEVEL ?? 'silent';
  const gateway = await startGateway(config, { logger: pino({ level }), ...(opts.webRoot ? { webRoot: opts.webRoot } : {}) });
  const harness: Harness = {
    gateway,
    config,
    dataDir,
    sipTarget: `127.0.0.1:${gateway.sipPort}`,
    async api<T>(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) {
      const headers: Record<string, string> = {};
      const token = init.token === undefined ? TEST_TOKEN : init.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${gateway.httpUrl}${path}`, {
        method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
        headers,
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON (metrics, HTML) */
      }
      return { status: res.status, body: body as T, headers: res.headers };
    },
    async waitFor(check, timeoutMs = 20_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        last = await check();
        if (last) return last as never;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(stopOpts = {}) {
      await gateway.close();
      if (!stopOpts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}
