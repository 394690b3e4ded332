// Durability 1 — kill -9 under a registration storm (issue 8, part 1): N devices register over UDP with
// digest (our simulator, in this process), the gateway child is SIGKILLed in the same tick as the N-th 200 OK
// arrives, and restarted on the same data directory / database. Counted: devices answered 200 OK but absent
// from the store after the restart (read directly from the store), and absent or offline in the API.
// Each run does the same with store.commitWaitMs=0 first (write-behind only, as before group commit): the
// baseline in the same run.
//
//   npm run build
//   node bench/kill-storm.mjs [--devices 10000] [--store sqlite|mongo] [--runs 3] [--no-baseline]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { MongoClient } from 'mongodb';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startFerretDb } from './lib/ferretdb.mjs';
import { median, round } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport } from './lib/paths.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/kill-storm.mjs [--devices N] [--store sqlite|mongo] [--runs R] [--no-baseline]';
const opt = options({ devices: 10_000, store: 'sqlite', runs: 3, 'no-baseline': false }, USAGE);
oneOf('store', opt.store, ['sqlite', 'mongo']);
const N = opt.devices;
guardProcess(opt.runs * 2 * 400 + 60);
const { DeviceFleet } = await distImport('sim/index.js');

async function storedDeviceIds(dataDir, mongoUrl, database) {
  if (opt.store === 'sqlite') {
    const db = new Database(join(dataDir, 'gateway.sqlite3'), { readonly: true, fileMustExist: true });
    try {
      return new Set(db.prepare('SELECT id FROM devices').all().map((r) => r.id));
    } finally {
      db.close();
    }
  }
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 10_000 });
  try {
    const docs = await client.db(database).collection('devices').find({}, { projection: { _id: 1 } }).toArray();
    return new Set(docs.map((d) => d._id));
  } finally {
    await client.close();
  }
}

async function onlineInApi(gw) {
  return (await gw.api.json('/api/devices?status=online&limit=1')).total;
}

async function oneRun(run, commitWaitMs) {
  const ferret = opt.store === 'mongo' ? await startFerretDb() : null;
  const dataDir = mkdtempSync(join(tmpdir(), 'se-bench-kill-'));
  const database = `bench_kill_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const env = { SE_SIP_CATALOG_ON_REGISTER: 'false', SE_DATA_DIR: dataDir, SE_STORE_MONGO_DATABASE: database, SE_STORE_COMMIT_WAIT_MS: String(commitWaitMs) };
  let gw = await startGatewayProcess({ store: opt.store, mongoUrl: ferret?.url, env });
  const fleet = new DeviceFleet({ server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, devices: N, keepaliveSec: 3600, retryDelaySec: 0, unregisterOnStop: false });
  const acknowledged = new Set();
  const first = gw;
  const exited = new Promise((r) => first.child.once('exit', r));
  let t0 = 0;
  let killedAtMs = 0;
  fleet.on('registered', (e) => {
    acknowledged.add(e.deviceId);
    if (acknowledged.size === N && killedAtMs === 0) {
      first.child.kill('SIGKILL');
      killedAtMs = performance.now() - t0;
    }
  });
  try {
    t0 = performance.now();
    await fleet.start();
    await Promise.race([exited, new Promise((_, rej) => setTimeout(() => rej(new Error(`not all ${N} answered within 300 s (${acknowledged.size})`)), 300_000))]);
    await fleet.stop({ unregister: false });
    await first.stop();
    gw = await startGatewayProcess({ store: opt.store, mongoUrl: ferret?.url, env });
    const stored = await storedDeviceIds(dataDir, ferret?.url, database);
    const lostInStore = [...acknowledged].filter((id) => !stored.has(id)).length;
    const online = await onlineInApi(gw);
    return {
      run,
      commitWaitMs,
      loadavg1m: round(loadavg()[0], 2),
      store: opt.store,
      devices: N,
      acknowledged: acknowledged.size,
      allAnsweredMs: round(killedAtMs, 0),
      lostInStore,
      onlineInApiAfterRestart: online,
    };
  } finally {
    await fleet.stop({ unregister: false }).catch(() => undefined);
    await gw.stop();
    if (ferret) await ferret.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const machine = machineInfo();
log(`kill -9 under a storm: ${N} devices, store ${opt.store}${opt.store === 'mongo' ? ' (FerretDB, not MongoDB)' : ''}, ${opt.runs} run(s)`);
log(`machine: ${machineLine(machine)}`);
const results = [];
try {
  for (let run = 1; run <= opt.runs; run++) {
    for (const commitWaitMs of opt['no-baseline'] ? [3000] : [0, 3000]) {
      const r = await oneRun(run, commitWaitMs);
      log(`run ${run} commitWaitMs=${commitWaitMs} (${commitWaitMs === 0 ? 'baseline: write-behind only' : 'group commit'}): all ${r.acknowledged} answered in ${r.allAnsweredMs} ms, killed; after restart lost in store ${r.lostInStore}, online in API ${r.onlineInApiAfterRestart}; load ${r.loadavg1m}`);
      results.push(r);
    }
  }
} finally {
  await stopAll();
}
const groupCommit = results.filter((r) => r.commitWaitMs > 0);
const baseline = results.filter((r) => r.commitWaitMs === 0);
log(`group commit: lost ${groupCommit.map((r) => r.lostInStore).join(', ')} (target 0); storm ${groupCommit.map((r) => r.allAnsweredMs).join(', ')} ms, median ${median(groupCommit.map((r) => r.allAnsweredMs))} ms`);
if (baseline.length) log(`baseline (write-behind only): lost ${baseline.map((r) => r.lostInStore).join(', ')}; storm median ${median(baseline.map((r) => r.allAnsweredMs))} ms`);
log(`result: ${writeResult(`kill-storm-${opt.store}-${N}`, { machine, results })}`);
process.exit(0);
