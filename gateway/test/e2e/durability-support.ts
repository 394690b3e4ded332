/**
 * Helpers for the durability tests: the gateway as a child process (so it can be SIGKILLed), a FerretDB
 * of the test's own (so it can be killed and restarted on the same data), and a TCP proxy that can
 * black-hole the store connection (stops forwarding and stops reading, without closing: no RST, no FIN).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';

export const ROOT = resolve(__dirname, '../../..');
export const GATEWAY_SIP_ID = '44030500002000000001';
export const DEVICE_PASSWORD = 'durability-pass-1';
export const API_TOKEN = 'durability-token-0123456789';

/** Compile the gateway (not the web wall) into dist/, so the child runs this tree's code. */
export function buildGateway(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}`);
}

export function freeTcpPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

/** A port free for both TCP and UDP (SIP binds both). */
export async function freeSipPort(): Promise<number> {
  for (;;) {
    const port = await freeTcpPort();
    const free = await new Promise<boolean>((res) => {
      const u = createSocket('udp4');
      u.once('error', () => res(false));
      u.bind(port, '127.0.0.1', () => u.close(() => res(true)));
    });
    if (free) return port;
  }
}

export async function waitUntil<T>(check: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as T;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface GatewayChild {
  child: ChildProcess;
  sipPort: number;
  httpUrl: string;
  exited: Promise<void>;
  log(): string;
  api<T>(path: string): Promise<{ status: number; body: T }>;
}

/** `node bin/sharp-eyes.js serve` on dataDir, configured through SE_* variables; resolves once /healthz answers. */
export async function startGatewayChild(opts: { dataDir: string; env?: Record<string, string> }): Promise<GatewayChild> {
  if (!existsSync(join(ROOT, 'dist/cli.js'))) buildGateway();
  const sipPort = await freeSipPort();
  const httpPort = await freeTcpPort();
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SE_') && k !== 'NODE_OPTIONS' && k !== 'MONGO_URL'));
  const child = spawn(process.execPath, [join(ROOT, 'bin/sharp-eyes.js'), 'serve'], {
    cwd: ROOT,
    env: {
      ...baseEnv,
      SE_SIP_ID: GATEWAY_SIP_ID,
      SE_SIP_HOST: '127.0.0.1',
      SE_SIP_ADVERTISED_HOST: '127.0.0.1',
      SE_SIP_PORT: String(sipPort),
      SE_SIP_PASSWORD: DEVICE_PASSWORD,
      SE_SIP_CATALOG_ON_REGISTER: 'false',
      SE_HTTP_HOST: '127.0.0.1',
      SE_HTTP_PORT: String(httpPort),
      SE_API_TOKEN: API_TOKEN,
      SE_DATA_DIR: opts.dataDir,
      SE_ADMIN_PASSWORD: 'durability-admin-1',
      SE_LOG_LEVEL: 'warn',
      // The fleets here put up to 1,000 devices on one UDP socket: the per-source REGISTER throttle (a flood
      // guard, tested in sip-trust) would hold them back, so these tests turn it off as the README says.
      SE_SIP_REGISTER_THROTTLE_RATE_PER_SEC: '0',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const onLog = (d: Buffer): void => {
    tail = (tail + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', onLog);
  child.stderr?.on('data', onLog);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const api = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* metrics text */
    }
    return { status: res.status, body: body as T };
  };
  await waitUntil(async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited during start-up:\n${tail}`);
    return (await fetch(`${httpUrl}/healthz`).catch(() => null))?.status === 200;
  }, 'gateway /healthz', 90_000).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${tail}`);
  });
  return { child, sipPort, httpUrl, exited, log: () => tail, api };
}

export async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Every device id in the gateway's list, page by page. */
export async function listedDeviceIds(api: GatewayChild['api'], query = ''): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let offset = 0; ; offset += 1000) {
    const page = await api<{ total: number; items: Array<{ id: string }> }>(`/api/devices?limit=1000&offset=${offset}${query}`);
    if (page.status !== 200) throw new Error(`GET /api/devices answered ${page.status}: ${JSON.stringify(page.body)}`);
    for (const d of page.body.items) ids.add(d.id);
    if (page.body.items.length === 0 || offset + 1000 >= page.body.total) return ids;
  }
}

// ---------------------------------------------------------------------------------------------- FerretDB

export interface OwnFerretDb {
  port: number;
  url: string;
  dataDir: string;
  /** SIGKILL (the data directory stays). */
  kill(): Promise<void>;
  /** Start again on the same port and data (nothing to do while it runs); resolves once it answers ping. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnFerretDb(): Promise<OwnFerretDb> {
  const binary = join(ROOT, '.tools/bin/ferretdb');
  if (!existsSync(binary)) throw new Error(`FerretDB binary not found at ${binary}; run "bash scripts/install-ferretdb.sh"`);
  const dataDir = mkdtempSync(join(tmpdir(), 'se-ferretdb-outage-'));
  const port = await freeTcpPort();
  const debugPort = await freeTcpPort();
  const url = `mongodb://127.0.0.1:${port}/`;
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const running = (): boolean => proc !== null && proc.exitCode === null && proc.signalCode === null;
  const start = async (): Promise<void> => {
    // Idempotent: a second FerretDB on the same port would answer the ping through the first one, and the first
    // would then outlive stop() (which only knows the newest process).
    if (running()) return;
    proc = spawn(
      binary,
      [`--listen-addr=127.0.0.1:${port}`, '--handler=sqlite', `--sqlite-url=file:${dataDir}/`, `--state-dir=${dataDir}`, '--telemetry=disable', '--log-level=error', `--debug-addr=127.0.0.1:${debugPort}`],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const p = proc;
    exited = new Promise<void>((r) => p.once('exit', () => r()));
    await waitUntil(async () => {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
      try {
        await client.db('admin').command({ ping: 1 });
        return true;
      } finally {
        await client.close().catch(() => undefined);
      }
    }, 'FerretDB ping', 60_000);
  };
  const kill = async (): Promise<void> => {
    if (!running()) return;
    proc?.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url,
    dataDir,
    kill,
    start,
    async stop() {
      if (!running()) return;
      proc?.kill('SIGTERM');
      const timer = setTimeout(() => proc?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------- proxy

/**
 * A TCP forwarder that can black-hole: while black-holed it neither forwards nor reads (both sides
 * paused, nothing closed, so the client sees a silent peer, as behind a dropping firewall), and new
 * connections are accepted but never forwarded. restore() lets everything flow again.
 */
export class BlackHoleProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | null }>();
  private holed = false;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<void> {
    this.server = createServer((client) => {
      const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
      this.pairs.add(pair);
      client.on('error', () => undefined);
      client.on('close', () => {
        pair.upstream?.destroy();
        this.pairs.delete(pair);
      });
      if (this.holed) client.pause();
      else this.connect(pair);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }

  get url(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  blackhole(): void {
    this.holed = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      client.pause();
      upstream?.unpipe();
      upstream?.pause();
    }
  }

  restore(): void {
    this.holed = false;
    for (const pair of this.pairs) {
      if (!pair.upstream) this.connect(pair);
      else {
        pair.client.pipe(pair.upstream);
        pair.upstream.pipe(pair.client);
      }
    }
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private connect(pair: { client: Socket; upstream: Socket | null }): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    pair.upstream = upstream;
    upstream.on('error', () => pair.client.destroy());
    upstream.on('close', () => pair.client.destroy());
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
  }
}
