// Durability 2 — a store outage during keepalives (issue 8, part 2). MongoDB adapter on FerretDB: N devices
// registered and keepaliving (our simulator, every --keepalive-sec), FerretDB SIGKILLed for --outage-sec while
// M more devices register, then restarted on the same data. Measured:
//   - during the outage: REGISTERs answered, non-200 answers of GET /api/devices and /healthz, /healthz status;
//   - after the restart: time until the store (read directly) holds every device online with a keepalive
//     from after the outage began (the drain), and the rows still missing after --drain-limit-sec (writes lost).
//
//   npm run build
//   node bench/store-outage.mjs [--devices 10000] [--during 500] [--outage-sec 60] [--keepalive-sec 10] [--runs 1]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { options } from './lib/args.mjs';
import { guardProcess, stopAll, stopChild, track } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { FERRETDB_BINARY } from './lib/ferretdb.mjs';
import { freePort } from './lib/ports.mjs';
import { median, round } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport } from './lib/paths.mjs';
import { metricValue } from './lib/api.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/store-outage.mjs [--devices N] [--during M] [--outage-sec S] [--keepalive-sec K] [--drain-limit-sec L] [--runs R]';
const opt = options({ devices: 10_000, during: 500, 'outage-sec': 60, 'keepalive-sec': 10, 'drain-limit-sec': 120, runs: 1 }, USAGE);
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

async function oneRun(run) {
  const ferret = await ownFerretDb();
  const gw = await startGatewayProcess({ store: 'mongo', mongoUrl: ferret.url, env: { SE_SIP_CATALOG_ON_REGISTER: 'false', SE_SIP_KEEPALIVE_INTERVAL_SEC: String(opt['keepalive-sec']) } });
  const fleetOpts = { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, keepaliveSec: opt['keepalive-sec'], retryDelaySec: 5, unregisterOnStop: false };
  const before = new DeviceFleet({ ...fleetOpts, devices: N });
  const during = new DeviceFleet({ ...fleetOpts, devices: M, firstSerial: 500_001 });
  const probe = new MongoClient(ferret.url, { serverSelectionTimeoutMS: 2_000 });
  const devices = () => probe.db(gw.database).collection('devices');
  let keepalivesRejected = 0;
  before.on('keepalive-rejected', () => keepalivesRejected++);
  during.on('keepalive-rejected', () => keepalivesRejected++);
  try {
    await before.start();
    await before.waitForRegistered(N, 300_000);
    for (;;) {
      if ((await devices().countDocuments({ status: 'online' })) >= N) break;
      await sleep(500);
    }
    log(`  ${N} devices registered and in the store; killing FerretDB for ${opt['outage-sec']} s`);
    const killedAtEpoch = Date.now();
    await ferret.kill();
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
    await ferret.start();
    const tBack = performance.now();
    const probe2 = new MongoClient(ferret.url, { serverSelectionTimeoutMS: 2_000 });
    const col = probe2.db(gw.database).collection('devices');
    const fresh = killedAtEpoch + opt['keepalive-sec'] * 1000;
    let drainedMs = null;
    let last = { online: 0, fresh: 0 };
    try {
      while (performance.now() - tBack < opt['drain-limit-sec'] * 1000) {
        try {
          last = { online: await col.countDocuments({ status: 'online' }), fresh: await col.countDocuments({ status: 'online', lastKeepaliveAt: { $gte: fresh } }) };
          if (last.online >= N + M && last.fresh >= N + M) {
            drainedMs = round(performance.now() - tBack, 0);
            break;
          }
        } catch {
          // FerretDB still starting
        }
        await sleep(250);
      }
      if (drainedMs === null) {
        const ids = during.devices.map((d) => d.id);
        const rows = await col.find({ _id: { $in: ids } }, { projection: { _id: 1, status: 1, lastKeepaliveAt: 1 } }).toArray().catch((e) => String(e));
        log(`  not drained: all rows ${await col.countDocuments({}).catch(() => -1)}, rows of devices registered during the outage ${Array.isArray(rows) ? rows.length : rows} (first ${JSON.stringify(Array.isArray(rows) ? rows[0] : null)})`);
      }
    } finally {
      await probe2.close();
    }
    const healthAfter = await gw.api.get('/healthz', { auth: false }).catch(() => ({ body: null }));
    if (drainedMs === null) log(`  not drained; healthz ${JSON.stringify(healthAfter.body)}; gateway log tail:\n${gw.logTail().slice(-3000)}`);
    return {
      run,
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
      missingAfterLimit: drainedMs === null ? { online: N + M - last.online, keepaliveNotWritten: N + M - last.fresh } : { online: 0, keepaliveNotWritten: 0 },
      healthAfter: healthAfter.body?.status ?? null,
    };
  } finally {
    await before.stop({ unregister: false });
    await during.stop({ unregister: false });
    await probe.close().catch(() => undefined);
    await gw.stop();
    await ferret.stop();
  }
}

const machine = machineInfo();
log(`store outage: ${N} devices keepaliving every ${opt['keepalive-sec']} s, FerretDB killed for ${opt['outage-sec']} s while ${M} more register, ${opt.runs} run(s)`);
log(`machine: ${machineLine(machine)}`);
const results = [];
try {
  for (let run = 1; run <= opt.runs; run++) {
    const r = await oneRun(run);
    log(`run ${run}: during the outage ${r.registeredDuringOutage}/${M} registered (${r.allDuringAnsweredMs} ms), keepalives rejected ${r.keepalivesRejected}, API errors ${r.apiErrorsDuring}/${r.apiRequestsDuring}, healthz ${r.healthStatusesDuring.join('/')} (non-200: ${r.healthNot200During}), queue ${r.queueDepthAtEndOfOutage}; drained ${r.drainedMs ?? 'NOT'} ms after restart; missing ${JSON.stringify(r.missingAfterLimit)}; healthz after ${r.healthAfter}; load ${r.loadavg1m}`);
    results.push(r);
  }
} finally {
  await stopAll();
}
log(`drain median ${median(results.map((r) => r.drainedMs ?? Infinity))} ms`);
log(`result: ${writeResult(`store-outage-${N}`, { machine, results })}`);
process.exit(0);
