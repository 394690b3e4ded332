// The gateway under test as a CHILD PROCESS (`node bin/sharp-eyes.js serve`, configured through SE_*
// variables), so its CPU and memory are read from /proc/PID apart from the load generator's.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from './paths.mjs';
import { freePort, freeTcpUdpPort } from './ports.mjs';
import { stopChild, track } from './children.mjs';
import { ApiClient } from './api.mjs';

export const GATEWAY_SIP_ID = '44030500002000000001';
export const GATEWAY_DOMAIN = '4403050000';
export const DEVICE_PASSWORD = 'bench-pass-12345';
export const ADMIN_PASSWORD = 'bench-admin-password';

/**
 * Start the gateway.
 *   store: 'sqlite' | 'mongo' (then mongoUrl is required; a fresh database name is used)
 *   env: extra SE_* variables (e.g. { SE_SIP_CATALOG_ON_REGISTER: 'false' })
 *   cpuProfileDir: when set, the gateway runs with --cpu-prof and writes its profile there on exit
 */
export async function startGatewayProcess({ store = 'sqlite', mongoUrl = '', env = {}, cpuProfileDir = null, startupMs = 60_000, heapMB = 0, heapSnapshots = false, webRoot = null, nodeFlags: extraNodeFlags = [] } = {}) {
  if (store === 'mongo' && !mongoUrl) throw new Error('store mongo needs mongoUrl');
  const dataDir = mkdtempSync(join(tmpdir(), 'se-bench-gw-'));
  const sipPort = await freeTcpUdpPort();
  const httpPort = await freePort();
  const token = `bench-${randomBytes(12).toString('hex')}`;
  const database = `bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  // A clean environment: SE_* variables of the caller's shell must not leak into the gateway under test.
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SE_') && k !== 'NODE_OPTIONS'));
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so the flags go on the command line of the child.
  // extraNodeFlags: V8/Node flags for the gateway's node (e.g. --max-semi-space-size=32).
  const nodeFlags = [...extraNodeFlags];
  if (cpuProfileDir) {
    mkdirSync(cpuProfileDir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
  }
  if (heapMB > 0) nodeFlags.push(`--max-old-space-size=${heapMB}`);
  // SIGUSR2 makes V8 write a heap snapshot into the child's working directory (see writeHeapSnapshot below).
  if (heapSnapshots) nodeFlags.push('--heapsnapshot-signal=SIGUSR2');
  const snapshotCwd = heapSnapshots ? mkdtempSync(join(tmpdir(), 'se-bench-heap-')) : REPO_ROOT;
  const childEnv = {
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
    SE_MONGO_URL: store === 'mongo' ? mongoUrl : '',
    SE_STORE_MONGO_DATABASE: database,
    SE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SE_LOG_LEVEL: 'warn',
    // The simulator puts up to 1 000 devices on one UDP socket (bench scale); the per-source REGISTER
    // throttle would take them for one flooding source. Off here; bench/register-flood.mjs sets its own.
    SE_SIP_REGISTER_THROTTLE_RATE_PER_SEC: '0',
    ...(webRoot ? { SE_BENCH_WEB_ROOT: webRoot } : {}),
    ...env,
  };
  const child = track(
    // With webRoot: a child that serves that directory as the web UI (a fresh build, see web-gateway.mjs).
    spawn(process.execPath, [...nodeFlags, ...(webRoot ? [join(REPO_ROOT, 'bench/lib/web-gateway-child.mjs')] : [join(REPO_ROOT, 'bin/sharp-eyes.js'), 'serve'])], {
      cwd: snapshotCwd,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    'gateway',
  );
  let logTail = '';
  let warnings = 0;
  const onLog = (chunk) => {
    const text = chunk.toString();
    warnings += (text.match(/"level":40/g) ?? []).length;
    logTail = (logTail + text).slice(-8000);
  };
  child.stdout.on('data', onLog);
  child.stderr.on('data', onLog);

  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const api = new ApiClient(httpUrl, token);
  const stop = async () => {
    // SIGTERM: the gateway flushes its write-behind buffer and exits 0 (and writes the CPU profile).
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
  return {
    pid: child.pid,
    child,
    sipPort,
    httpPort,
    httpUrl,
    token,
    dataDir,
    database,
    sqliteFile: join(dataDir, 'gateway.sqlite3'),
    api,
    stop,
    logTail: () => logTail,
    warnings: () => warnings,
    /**
     * Ask the gateway for a heap snapshot (needs heapSnapshots: true) and move it to destDir once V8 has
     * finished writing it (the gateway pauses while it does). Returns the file path.
     */
    async writeHeapSnapshot(destDir, timeoutMs = 300_000) {
      if (!heapSnapshots) throw new Error('start the gateway with heapSnapshots: true');
      const before = new Set(readdirSync(snapshotCwd));
      process.kill(child.pid, 'SIGUSR2');
      const end = Date.now() + timeoutMs;
      for (;;) {
        const file = readdirSync(snapshotCwd).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
        // The gateway answers HTTP again only after V8 has written the whole snapshot.
        if (file) {
          try {
            const res = await api.get('/healthz', { auth: false, timeoutMs: 5_000 });
            if (res.status === 200) {
              mkdirSync(destDir, { recursive: true });
              const dest = join(destDir, file);
              renameSync(join(snapshotCwd, file), dest);
              return dest;
            }
          } catch {
            // still writing
          }
        }
        if (Date.now() > end) throw new Error('heap snapshot not written in time');
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    /** CPU profiles written by --cpu-prof (after stop()). */
    cpuProfiles: () => (cpuProfileDir ? readdirSync(cpuProfileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(cpuProfileDir, f)) : []),
  };
}
