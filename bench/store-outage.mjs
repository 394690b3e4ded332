// Durability 2 — a store outage during keepalives (issue 8, part 2). N devices registered and keepaliving (our
// simulator, every --keepalive-sec) while the store is out for --outage-sec and M more devices register:
//   --store mongo (default): the MongoDB adapter on FerretDB; FerretDB SIGKILLed, then restarted on the same data.
//   --store sqlite: the embedded store; another process holds an exclusive write lock on the database file (what a
//     backup or an operator's sqlite3 shell in BEGIN EXCLUSIVE does) — every write fails with SQLITE_BUSY after the
//     busy timeout, reads keep working; then the lock is released. FerretDB cannot sustain 50,000 keepaliving
//     devices (it scans the collection per update), so 50,000 is measured on this mode.
// Measured:
//   - during the outage: REGISTERs answered, non-200 answers of GET /api/devices and /healthz, /healthz status;
//   - after the restart: time until the store (read directly) holds every device online with a keepalive
//     from after the outage began (the drain), and the rows still missing after --drain-limit-sec (writes lost).
//
//   npm run build
//   node bench/store-outage.mjs [--devices 10000] [--during 500] [--outage-sec 60] [--keepalive-sec 10] [--runs 1] [--store mongo|sqlite]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import Database from 'better-sqlite3';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll, stopChild, track } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { FERRETDB_BINARY } from './lib/ferretdb.mjs';
import { freePort } from './lib/ports.mjs';
import { median, round } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport } from './lib/paths.mjs';
import { metricValue } from './lib/api.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/store-outage.mjs [--devices N] [--during M] [--outage-sec S] [--keepalive-sec K] [--drain-limit-sec L] [--runs R] [--store mongo|sqlite]';
const opt = options({ devices: 10_000, during: 500, 'outage-sec': 60, 'keepalive-sec': 10, 'drain-limit-sec': 120, runs: 1, store: 'mongo' }, USAGE);
oneOf('store', opt.store, ['mongo', 'sqlite']);
const N = opt.devices;
const M = opt.during;
guardProcess(opt.runs * (opt['outage-sec'] + opt['drain-limit-sec'] + 400) + 60);
const { DeviceFleet } = await distImport('sim/index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** FerretDB that can be SIGKILLed and started again on the same port and data directory. */
async function ownFerretDb() {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-bench-outage-ferretdb-'));
  const port = await freePort();
  const debugPort = await freePort();
  const url = `mongodb://127.0.0.1:${port}/`;
  let child = null;
  const start = async () => {
    child = track(
      spawn(FERRETDB_BINARY, [`--listen-addr=127.0.0.1:${port}`, '--handler=sqlite', `--sqlite-url=file:${dataDir}/`, `--state-dir=${dataDir}`, '--telemetry=disable', '--log-level=error', `--debug-addr=127.0.0.1:${debugPort}`], { stdio: 'ignore' }),
      'ferretdb',
    );
    for (const end = Date.now() + 60_000; Date.now() < end; ) {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000 });
      try {
        await client.db('admin').command({ ping: 1 });
        return;
      } catch {
        await sleep(100);
      } finally {
        await client.close().catch(() => undefined);
      }
    }
    throw new Error('FerretDB did not start');
  };
  await start();
  return {
    url,
    start,
    kill: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      await stopChild(child, 5_000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The embedded store's outage: a child process opens the gateway's database and holds BEGIN EXCLUSIVE until told
 * to let go. Same interface as ownFerretDb's kill/start, plus counting helpers that read the file.
 */
function sqliteLocker(file) {
  let child = null;
  const script = `
    const Database = require(${JSON.stringify(join(process.cwd(), 'node_modules/better-sqlite3'))});
    const db = new Database(${JSON.stringify(file)}, { timeout: 60000 });
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    process.on('SIGTERM', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
    setInterval(() => {}, 1 << 30);`;
  return {
    kill: async () => {
      child = track(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }), 'sqlite-locker');
      await new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => d.toString().includes('locked') && resolve());
        child.once('exit', (code) => reject(new Error(`sqlite locker exited with ${code} before locking`)));
      });
    },
    start: async () => {
      await stopChild(child, 5_000);
    },
    stop: async () => {
      if (child && child.exitCode === null) await stopChild(child, 5_000);
    },
  };
}

/** Counts of online rows and of online rows with a keepalive at or after `since`, read from the store itself. */
function storeCounter(gw) {
  if (opt.store === 'sqlite') {
    return {
      async counts(since) {
        const db = new Database(gw.sqliteFile, { readonly: true, fileMustExist: true });
        try {
          const online = db.prepare("SELECT COUNT(*) AS n FROM devices WHERE status = 'online'").get().n;
          const fresh = db.prepare("SELECT COUNT(*) AS n FROM devices WHERE status = 'online' AND json_extract(doc, '$.lastKeepaliveAt') >= ?").get(since).n;
          return { online, fresh };
        } finally {
          db.close();
        }
      },
      async close() {},
    };
  }
  let client = null;
  return {
    async counts(since) {
      client ??= new MongoClient(gw.mongoUrl, { serverSelectionTimeoutMS: 2_000 });
      const col = client.db(gw.database).collection('devices');
      return { online: await col.countDocuments({ status: 'online' }), fresh: await col.countDocuments({ status: 'online', lastKeepaliveAt: { $gte: since } }) };
    },
    async close() {
      const c = client;
      client = null;
      await c?.close().catch(() => undefined);
    },
  };
}

async function oneRun(run) {
  const ferret = opt.store === 'mongo' ? await ownFerretDb() : null;
  const gw = await startGatewayProcess({ store: opt.store, mongoUrl: ferret?.url, env: { SE_SIP_CATALOG_ON_REGISTER: 'false', SE_SIP_KEEPALIVE_INTERVAL_SEC: String(opt['keepalive-sec']) } });
  gw.mongoUrl = ferret?.url;
  const outage = ferret ?? sqliteLocker(gw.sqliteFile);
  const fleetOpts = { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, keepaliveSec: opt['keepalive-sec'], retryDelaySec: 5, unregisterOnStop: false };
  const before = new DeviceFleet({ ...fleetOpts, devices: N });
  const during = new DeviceFleet({ ...fleetOpts, devices: M, firstSerial: 500_001 });
  const probe = storeCounter(gw);
  let keepalivesRejected = 0;
  before.on('keepalive-rejected', () => keepalivesRejected++);
  during.on('keepalive-rejected', () => keepalivesRejected++);
  try {
    await before.start();
    await before.waitForRegistered(N, 300_000);
    for (;;) {
      if ((await probe.counts(0)).online >= N) break;
      await sleep(500);
    }
    log(`  ${N} devices registered and in the store; ${opt.store === 'mongo' ? 'killing FerretDB' : 'locking the database'} for ${opt['outage-sec']} s`);
    const killedAtEpoch = Date.now();
    await outage.kill();
    await probe.close();
    const tKill = performance.now();
    // Samples of what users see during the outage.
    const seen = { apiRequests: 0, apiErrors: 0, healthRequests: 0, healthNot200: 0, healthStatuses: new Set() };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const list = await gw.api.get('/api/devices?limit=100', { timeoutMs: 10_000 }).catch(() => ({ status: 0 }));
        seen.apiRequests++;
        if (list.status !== 200) seen.apiErrors++;
        const health = await gw.api.get('/healthz', { auth: false, timeoutMs: 10_000 }).catch(() => ({ status: 0, body: null }));
        seen.healthRequests++;
        if (health.status !== 200) seen.healthNot200++;
        seen.healthStatuses.add(health.body?.status ?? `http ${health.status}`);
        await sleep(1000);
      }
    })();
    await during.start();
    const registeredDuring = await during.waitForRegistered(M, opt['outage-sec'] * 1000).then(() => M, () => during.stats.registered);
    const answeredDuringMs = round(performance.now() - tKill, 0);
    await sleep(Math.max(0, opt['outage-sec'] * 1000 - (performance.now() - tKill)));
    sampling = false;
    await sampler;
    const metrics = await gw.api.metrics();
    const queueDepth = metricValue(metrics, 'se_store_queue_depth');
    await outage.start();
    const tBack = performance.now();
    const probe2 = storeCounter(gw);
    const fresh = killedAtEpoch + opt['keepalive-sec'] * 1000;
    let drainedMs = null;
    // The write queue itself: back to state ok with (almost) nothing queued — what is left then is the next
    // flush's keepalives. drainedMs (every device's keepalive from after the outage began, in the store) is
    // bounded below by the devices' keepalive cycle, not by the queue.
    let queueDrainedMs = null;
    const queueAtRelease = queueDepth;
    let last = { online: 0, fresh: 0 };
    try {
      while (performance.now() - tBack < opt['drain-limit-sec'] * 1000) {
        if (queueDrainedMs === null) {
          const h = await gw.api.get('/healthz', { auth: false, timeoutMs: 5_000 }).catch(() => ({ body: null }));
          const q = h.body?.storeQueue;
          if (q && q.state === 'ok' && q.queued <= Math.max(100, queueAtRelease / 100)) queueDrainedMs = round(performance.now() - tBack, 0);
        }
        try {
          last = await probe2.counts(fresh);
          if (last.online >= N + M && last.fresh >= N + M) {
            drainedMs = round(performance.now() - tBack, 0);
            break;
          }
        } catch {
          // FerretDB still starting / SQLite file busy for a moment
        }
        await sleep(250);
      }
      if (drainedMs === null) log(`  not drained: ${JSON.stringify(last)} of ${N + M}`);
    } finally {
      await probe2.close();
    }
    const healthAfter = await gw.api.get('/healthz', { auth: false }).catch(() => ({ body: null }));
    if (drainedMs === null) log(`  not drained; healthz ${JSON.stringify(healthAfter.body)}; gateway log tail:\n${gw.logTail().slice(-3000)}`);
    return {
      run,
      store: opt.store,
      loadavg1m: round(loadavg()[0], 2),
      devices: N,
      registeredDuringOutage: registeredDuring,
      allDuringAnsweredMs: answeredDuringMs,
      outageSec: opt['outage-sec'],
      keepaliveSec: opt['keepalive-sec'],
      keepalivesRejected,
      apiRequestsDuring: seen.apiRequests,
      apiErrorsDuring: seen.apiErrors,
      healthNot200During: seen.healthNot200,
      healthStatusesDuring: [...seen.healthStatuses],
      queueDepthAtEndOfOutage: queueDepth,
      drainedMs,
      queueDrainedMs,
      missingAfterLimit: drainedMs === null ? { online: N + M - last.online, keepaliveNotWritten: N + M - last.fresh } : { online: 0, keepaliveNotWritten: 0 },
      healthAfter: healthAfter.body?.status ?? null,
    };
  } finally {
    await before.stop({ unregister: false });
    await during.stop({ unregister: false });
    await probe.close().catch(() => undefined);
    await gw.stop();
    await outage.stop();
  }
}

const machine = machineInfo();
log(`store outage (${opt.store === 'mongo' ? 'MongoDB adapter on FerretDB' : 'SQLite, database locked by another process'}): ${N} devices keepaliving every ${opt['keepalive-sec']} s, store out for ${opt['outage-sec']} s while ${M} more register, ${opt.runs} run(s)`);
log(`machine: ${machineLine(machine)}`);
const results = [];
try {
  for (let run = 1; run <= opt.runs; run++) {
    const r = await oneRun(run);
    log(`run ${run}: during the outage ${r.registeredDuringOutage}/${M} registered (${r.allDuringAnsweredMs} ms), keepalives rejected ${r.keepalivesRejected}, API errors ${r.apiErrorsDuring}/${r.apiRequestsDuring}, healthz ${r.healthStatusesDuring.join('/')} (non-200: ${r.healthNot200During}), queue ${r.queueDepthAtEndOfOutage}, written ${r.queueDrainedMs ?? 'NOT'} ms after the store came back; every device's fresh keepalive stored ${r.drainedMs ?? 'NOT'} ms after; missing ${JSON.stringify(r.missingAfterLimit)}; healthz after ${r.healthAfter}; load ${r.loadavg1m}`);
    results.push(r);
  }
} finally {
  await stopAll();
}
log(`drain median ${median(results.map((r) => r.drainedMs ?? Infinity))} ms`);
log(`result: ${writeResult(`store-outage-${opt.store}-${N}`, { machine, results })}`);
process.exit(0);
