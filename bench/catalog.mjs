// Benchmark 3 — catalog: one simulated lower platform (type 200) with --channels channels in a region /
// business-group / virtual-org tree registers; measured from its registration to
//   (a) catalog-progress state "complete" for it on the event WebSocket (the gateway stores before it says so),
//   (b) GET /api/channels?limit=1 total = every item of the catalog (regions + groups + orgs + channels).
// Then, from a warm state, sequential latency (p50/p95/p99) of
//   GET /api/tree (the root and deep nodes: platform, county, police-station region, business group,
//   virtual org, nested virtual org), GET /api/channels?q=<Chinese substring of names>, and ?q=<ID prefix>.
// Baseline in the same run: the same rows (the simulator's items through the gateway's own toChannel) written
// straight to a fresh store of the same kind, in the same 5 000-row chunks the catalog service uses.
//
//   npm run build
//   node bench/catalog.mjs [--channels 150000] [--store sqlite|mongo] [--runs 3] [--transport tcp|udp]
//        [--requests 500] [--query-budget-sec 120] [--profile]
//
// --query-budget-sec bounds each query family: when requests are slow (FerretDB) fewer than --requests are made
// and the count is reported.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startFerretDb } from './lib/ferretdb.mjs';
import { cpuSeconds, memory, resetPeakRss } from './lib/proc.mjs';
import { storeWriteDelta, storeWriteSummary } from './lib/api.mjs';
import { median, round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport, OUT_DIR } from './lib/paths.mjs';
import { loadavg } from 'node:os';
import { log, writeResult } from './lib/out.mjs';
import { formatProfile, summariseProfile } from './lib/cpuprofile.mjs';

const USAGE = `usage: node bench/catalog.mjs [--channels N] [--store sqlite|mongo] [--runs R] [--transport tcp|udp] [--requests K]
       [--query-budget-sec S] [--catalog-timeout-sec S] [--baseline-budget-sec S] [--profile] [--no-baseline]`;
const opt = options(
  { channels: 150_000, store: 'sqlite', runs: 3, transport: 'tcp', requests: 500, 'query-budget-sec': 120, 'catalog-timeout-sec': 600, 'baseline-budget-sec': 300, profile: false, 'no-baseline': false },
  USAGE,
);
oneOf('store', opt.store, ['sqlite', 'mongo']);
oneOf('transport', opt.transport, ['tcp', 'udp']);
const CATALOG_TARGET_MS = 30_000;
const P99_TARGET_MS = 50;
guardProcess(opt.runs * (opt['catalog-timeout-sec'] + opt['baseline-budget-sec'] + 4 * opt['query-budget-sec'] + 180) + 60);

const { DeviceFleet, PlatformCatalog } = await distImport('sim/index.js');
const { vendorFor } = await distImport('sim/identity.js');
const { toChannel } = await distImport('domain/catalog/catalog-service.js');
const { createStore } = await distImport('store/index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const STORE_CHUNK = 5_000; // as in gateway/src/domain/catalog/catalog-service.ts

/** Baseline: the catalog's rows straight into a fresh store, no SIP, no XML. */
async function baselineStoreWrite(ferretUrl) {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-bench-catalog-baseline-'));
  const store = createStore({ mongoUrl: ferretUrl ?? '', mongoDatabase: `bench_baseline_${Date.now()}`, dataDir });
  try {
    await store.init();
    const platformId = '44030500002000900001';
    // The same platform the simulator builds in DeviceFleet (ID, prefix, first serial, vendor).
    const catalog = new PlatformCatalog(platformId, '44030500', opt.channels, 1, vendorFor(0));
    const now = Date.now();
    const t0 = performance.now();
    const channels = [];
    for (let i = 0; i < catalog.total; i++) channels.push(toChannel(platformId, catalog.itemAt(i), true, now));
    const built = performance.now();
    // Bounded: a slow store (FerretDB) stops after the budget and reports how far it got.
    let rowsWritten = 0;
    for (let i = 0; i < channels.length; i += STORE_CHUNK) {
      if (performance.now() - built > opt['baseline-budget-sec'] * 1000) break;
      await store.upsertChannels(channels.slice(i, i + STORE_CHUNK));
      rowsWritten = Math.min(channels.length, i + STORE_CHUNK);
    }
    const written = performance.now();
    if (rowsWritten < channels.length) {
      return { rows: channels.length, rowsWritten, complete: false, buildRowsMs: round(built - t0, 0), upsertMs: round(written - built, 0), rowsPerSecond: round(rowsWritten / ((written - built) / 1000), 0), totalStoreMs: null };
    }
    await store.deleteChannelsNotIn(platformId, channels.map((c) => c.id));
    const done = performance.now();
    return { rows: channels.length, rowsWritten, complete: true, rowsPerSecond: round(channels.length / ((done - built) / 1000), 0), buildRowsMs: round(built - t0, 0), upsertMs: round(written - built, 0), deleteNotInMs: round(done - written, 0), totalStoreMs: round(done - built, 0) };
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Sequential requests over `paths` (round robin) until `count` are done or the budget is spent. */
async function measure(api, paths, count, budgetMs) {
  const ms = [];
  const perPath = new Map(paths.map((p) => [p, []]));
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    if (performance.now() - started > budgetMs) break;
    const path = paths[i % paths.length];
    const res = await api.get(path, { timeoutMs: 120_000 });
    if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}`);
    bytes += res.bytes;
    ms.push(res.ms);
    perPath.get(path).push(res.ms);
  }
  const s = summary(ms);
  return {
    requests: ms.length,
    p50: round(s.p50, 2),
    p95: round(s.p95, 2),
    p99: round(s.p99, 2),
    max: round(s.max, 2),
    meanBytes: ms.length ? Math.round(bytes / ms.length) : 0,
    perPath: Object.fromEntries([...perPath.entries()].map(([p, v]) => {
      const x = summary(v);
      return [decodeURIComponent(p), { n: v.length, p50: round(x.p50, 2), p99: round(x.p99, 2) }];
    })),
  };
}

async function oneRun(run) {
  const ferret = opt.store === 'mongo' ? await startFerretDb() : null;
  const profileDir = opt.profile ? join(OUT_DIR, 'profiles', `catalog-${opt.store}-${Date.now()}`) : null;
  let gw = null;
  let fleet = null;
  let ws = null;
  try {
    const baseline = opt['no-baseline'] ? null : await baselineStoreWrite(ferret?.url);
    if (baseline) log(`run ${run} baseline: ${JSON.stringify(baseline)}`);
    gw = await startGatewayProcess({ store: opt.store, mongoUrl: ferret?.url, cpuProfileDir: profileDir });
    fleet = new DeviceFleet({
      server: `127.0.0.1:${gw.sipPort}`,
      serverId: GATEWAY_SIP_ID,
      platformChannels: opt.channels,
      transport: opt.transport,
      password: DEVICE_PASSWORD,
      unregisterOnStop: false,
    });
    const platformId = fleet.devices[0].id;
    const expectedItems = fleet.platformCatalog.total;
    let completeAt = null;
    let finalState = null;
    let progressEvents = 0;
    let lastProgress = null;
    ws = await gw.api.events((msg) => {
      if (msg.type !== 'catalog-progress' || msg.data.deviceId !== platformId) return;
      progressEvents++;
      lastProgress = msg.data;
      if (['complete', 'partial', 'failed'].includes(msg.data.state) && finalState === null) {
        finalState = msg.data;
        completeAt = performance.now();
      }
    });
    let registeredAt = null;
    fleet.on('registered', (e) => {
      if (!e.refresh && registeredAt === null) registeredAt = performance.now();
    });
    let sentAt = null;
    let sent = null;
    fleet.on('catalog-sent', (e) => {
      sentAt = performance.now();
      sent = e;
    });
    const stores0 = storeWriteSummary(await gw.api.metrics());
    resetPeakRss(gw.pid);
    const cpu0 = cpuSeconds(gw.pid);
    const ferretCpu0 = ferret ? cpuSeconds(ferret.pid) : 0;
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    const deadline = performance.now() + opt['catalog-timeout-sec'] * 1000;
    // Stored = the API's channel total reaches every item (polled); complete = the final catalog-progress event
    // (the gateway stores before announcing it). Both are watched, so a lost WebSocket cannot hang the run.
    let storedAt = null;
    let storedTotal = 0;
    while (performance.now() < deadline && (storedAt === null || (completeAt === null && performance.now() - storedAt < 5_000))) {
      if (storedAt === null && (completeAt !== null || performance.now() - registeredAt > 1_000)) {
        storedTotal = await gw.api
          .json('/api/channels?limit=1', { timeoutMs: 60_000 })
          .then((p) => p.total)
          .catch(() => storedTotal);
        if (storedTotal >= expectedItems) storedAt = performance.now();
      }
      await sleep(completeAt === null ? 100 : 20);
    }
    if (storedAt === null) {
      // Not stored in time: report how far it got, and skip the queries (they would not run on "that data").
      const stored = await gw.api.get('/api/channels?limit=1', { timeoutMs: 60_000 }).catch((err) => ({ status: 0, body: String(err) }));
      const partial = {
        expectedItems,
        finalState: finalState?.state ?? null,
        lastProgress,
        storedItemsAtDeadline: stored.status === 200 ? stored.body.total : `unknown (${stored.status || stored.body})`,
        simulatorCatalogSent: sent,
        gatewayCpuSeconds: round(cpuSeconds(gw.pid) - cpu0, 2),
        gatewayPeakRssMB: round(memory(gw.pid).hwmMB, 0),
        ferretDbCpuSeconds: ferret ? round(cpuSeconds(ferret.pid) - ferretCpu0, 2) : null,
        ferretDbPeakRssMB: ferret ? round(memory(ferret.pid).hwmMB, 0) : null,
        storeWrites: storeWriteDelta(stores0, storeWriteSummary(await gw.api.metrics())),
        targetMet: false,
      };
      log(`run ${run} catalog NOT stored after ${opt['catalog-timeout-sec']} s: ${JSON.stringify(partial)}`);
      return { run, loadavg1m: round(loadavg()[0], 2), store: opt.store, transport: opt.transport, channels: opt.channels, baseline, catalog: partial, queries: null, gatewayWarnings: gw.warnings() };
    }
    const cpuCatalog = cpuSeconds(gw.pid) - cpu0;
    const ferretCpu = ferret ? cpuSeconds(ferret.pid) - ferretCpu0 : null;
    const memCatalog = memory(gw.pid);
    const ferretMem = ferret ? memory(ferret.pid) : null;
    const stores1 = storeWriteSummary(await gw.api.metrics());
    const videoChannels = (await gw.api.json('/api/channels?kind=channel&limit=1')).total;
    const catalogResult = {
      expectedItems,
      storedItems: storedTotal,
      videoChannels,
      finalState: finalState?.state ?? 'no final event seen (WebSocket dropped?)',
      progressEvents,
      registrationToCompleteMs: completeAt === null ? null : round(completeAt - registeredAt, 0),
      registrationToStoredMs: storedAt ? round(storedAt - registeredAt, 0) : null,
      simulatorLastPartAckedMs: sentAt ? round(sentAt - registeredAt, 0) : null,
      simulatorCatalogSent: sent,
      gatewayCpuSeconds: round(cpuCatalog, 2),
      gatewayPeakRssMB: round(memCatalog.hwmMB, 0),
      gatewayRssAfterMB: round(memCatalog.rssMB, 0),
      ferretDbCpuSeconds: ferretCpu === null ? null : round(ferretCpu, 2),
      ferretDbPeakRssMB: ferretMem ? round(ferretMem.hwmMB, 0) : null,
      storeWrites: storeWriteDelta(stores0, stores1),
    };
    catalogResult.targetMet = catalogResult.registrationToStoredMs !== null && catalogResult.registrationToStoredMs <= CATALOG_TARGET_MS && storedTotal === expectedItems;
    log(`run ${run} catalog: ${JSON.stringify(catalogResult)}`);

    // ---- queries, from a warm state
    const cat = fleet.platformCatalog;
    const regions = cat.regionIds; // [4-digit city, 6-digit county, 8-digit units…]
    const treePaths = [
      '/api/tree',
      `/api/tree?parent=${platformId}`,
      `/api/tree?parent=${regions[1]}`,
      `/api/tree?parent=${regions[2]}`,
      `/api/tree?parent=${regions[regions.length - 1]}`,
      `/api/tree?parent=${cat.businessGroupIds[0]}`,
      `/api/tree?parent=${cat.virtualOrgIds[0]}`,
      `/api/tree?parent=${cat.virtualOrgIds[1]}`,
      `/api/tree?parent=${cat.virtualOrgIds[cat.virtualOrgIds.length - 1]}`,
    ];
    const sampleNames = (await gw.api.json('/api/channels?kind=channel&limit=50&offset=1000')).items.map((c) => c.name);
    // Substrings of real channel names: two characters from the middle of a few different names.
    const nameQueries = [...new Set(sampleNames.map((n) => n.slice(1, 3)))].slice(0, 5);
    const someChannel = cat.channelId(12_345 % opt.channels);
    const idQueries = [someChannel.slice(0, 14), someChannel.slice(0, 16), someChannel.slice(0, 18), someChannel.slice(0, 10)];
    const qPath = (q) => `/api/channels?q=${encodeURIComponent(q)}`;
    const cpuQ0 = cpuSeconds(gw.pid);
    // Warm-up: every path a few times (JIT, SQLite page cache, FerretDB).
    for (const p of [...treePaths, ...nameQueries.map(qPath), ...idQueries.map(qPath)]) for (let i = 0; i < 3; i++) await gw.api.get(p, { timeoutMs: 120_000 });
    const budget = opt['query-budget-sec'] * 1000;
    const tree = await measure(gw.api, treePaths, opt.requests, budget);
    log(`run ${run} GET /api/tree: ${JSON.stringify(tree)}`);
    const byName = await measure(gw.api, nameQueries.map(qPath), opt.requests, budget);
    log(`run ${run} GET /api/channels?q=<name substring ${nameQueries.join(',')}>: ${JSON.stringify(byName)}`);
    const byId = await measure(gw.api, idQueries.map(qPath), opt.requests, budget);
    log(`run ${run} GET /api/channels?q=<ID prefix ${idQueries.join(',')}>: ${JSON.stringify(byId)}`);
    const queryCpu = cpuSeconds(gw.pid) - cpuQ0;
    const queries = {
      tree: { ...tree, targetMet: tree.requests >= 500 && tree.p99 <= P99_TARGET_MS },
      channelsByName: { ...byName, queries: nameQueries, targetMet: byName.requests >= 500 && byName.p99 <= P99_TARGET_MS },
      channelsByIdPrefix: { ...byId, queries: idQueries, targetMet: byId.requests >= 500 && byId.p99 <= P99_TARGET_MS },
      gatewayCpuSecondsDuringQueries: round(queryCpu, 2),
      gatewayRssMB: round(memory(gw.pid).rssMB, 0),
    };
    return { run, loadavg1m: round(loadavg()[0], 2), store: opt.store, transport: opt.transport, channels: opt.channels, baseline, catalog: catalogResult, queries, gatewayWarnings: gw.warnings() };
  } finally {
    ws?.close();
    await fleet?.stop({ unregister: false });
    await gw?.stop();
    if (ferret) await ferret.stop();
    if (profileDir && gw) for (const f of gw.cpuProfiles()) log(formatProfile(summariseProfile(f, 25)));
  }
}

const machine = machineInfo();
log(`catalog: one lower platform with ${opt.channels} channels over ${opt.transport}, store ${opt.store}${opt.store === 'mongo' ? ' (FerretDB 1.24 on SQLite, not MongoDB)' : ''}, ${opt.runs} run(s)`);
log(`machine: ${machineLine(machine)}`);
const results = [];
try {
  for (let run = 1; run <= opt.runs; run++) results.push(await oneRun(run));
} finally {
  await stopAll();
}
const med = (f) => round(median(results.map(f).filter((x) => x !== null && x !== undefined)), 2);
const medians = {
  registrationToStoredMs: med((r) => r.catalog.registrationToStoredMs),
  registrationToCompleteMs: med((r) => r.catalog.registrationToCompleteMs),
  baselineStoreMs: med((r) => r.baseline?.totalStoreMs),
  gatewayCpuSeconds: med((r) => r.catalog.gatewayCpuSeconds),
  gatewayPeakRssMB: med((r) => r.catalog.gatewayPeakRssMB),
  treeP99: med((r) => r.queries?.tree.p99),
  nameP99: med((r) => r.queries?.channelsByName.p99),
  idPrefixP99: med((r) => r.queries?.channelsByIdPrefix.p99),
};
log(`median of ${results.length}: ${JSON.stringify(medians)}`);
const file = writeResult(`catalog-${opt.store}-${opt.transport}`, { benchmark: 'catalog', options: opt, machine, results, medians });
log(`results written to ${file}`);
process.exit(0);
