// Benchmark 2 — steady state: N simulated devices keepaliving every 60 s (random phase), gateway configured
// for keepalive 60 s × 3. After the registration and the catalog sweep that follows it have settled, the gateway's
// CPU (% of one core) and RSS are sampled every --sample-sec for --minutes. Then --stop devices stop sending
// keepalives (silently: no unregister, they keep answering requests) and the offline transitions are watched on
// the event WebSocket (device-status offline): all of them, and no other device, must be offline within 185 s.
//
//   npm run build
//   node bench/steady-state.mjs [--devices 50000] [--minutes 5] [--store sqlite|mongo] [--stop 1000]
//        [--sample-sec 5] [--settle-timeout-sec 900] [--profile]
//
// A full run takes registration + catalog sweep (1–3 min) + --minutes + 185 s; --devices 2000 --minutes 1
// --stop 100 is a ~5 minute smoke run.
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startFerretDb } from './lib/ferretdb.mjs';
import { cpuSeconds, memory, ProcessSampler, selfCpuSeconds } from './lib/proc.mjs';
import { metricValue, storeWriteDelta, storeWriteSummary } from './lib/api.mjs';
import { mean, median, percentile, round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport, OUT_DIR } from './lib/paths.mjs';
import { loadavg } from 'node:os';
import { log, writeResult } from './lib/out.mjs';
import { formatProfile, summariseProfile } from './lib/cpuprofile.mjs';
import { summariseHeapSnapshot } from './lib/heapsnapshot.mjs';
import { join } from 'node:path';

const USAGE = `usage: node bench/steady-state.mjs [--devices N] [--minutes M] [--store sqlite|mongo] [--stop K] [--sample-sec S]
       [--settle-timeout-sec S] [--gateway-heap-mb MB] [--profile] [--heap-snapshot]`;
const opt = options({ devices: 50_000, minutes: 5, store: 'sqlite', stop: 1_000, 'sample-sec': 5, 'settle-timeout-sec': 900, 'gateway-heap-mb': 0, profile: false, 'heap-snapshot': false }, USAGE);
oneOf('store', opt.store, ['sqlite', 'mongo']);
const N = opt.devices;
const KEEPALIVE_SEC = 60;
const MISS_COUNT = 3;
const DETECTION_BOUND_MS = 185_000;
if (opt.stop > N) {
  process.stderr.write('--stop must not exceed --devices\n');
  process.exit(2);
}
guardProcess(opt['settle-timeout-sec'] + opt.minutes * 60 + 185 + 300);

const { DeviceFleet } = await distImport('sim/index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const machine = machineInfo();
log(`steady state: ${N} devices, keepalive ${KEEPALIVE_SEC} s × ${MISS_COUNT}, store ${opt.store}${opt.store === 'mongo' ? ' (FerretDB 1.24 on SQLite, not MongoDB)' : ''}, ${opt.minutes} min sampled every ${opt['sample-sec']} s, then ${opt.stop} devices stop keepaliving`);
log(`machine: ${machineLine(machine)}`);

const ferret = opt.store === 'mongo' ? await startFerretDb() : null;
const profileDir = opt.profile ? join(OUT_DIR, 'profiles', `steady-${opt.store}-${Date.now()}`) : null;
const gw = await startGatewayProcess({
  store: opt.store,
  mongoUrl: ferret?.url,
  env: { SE_SIP_KEEPALIVE_INTERVAL_SEC: String(KEEPALIVE_SEC), SE_SIP_KEEPALIVE_MISS_COUNT: String(MISS_COUNT) },
  cpuProfileDir: profileDir,
  // Diagnostic: cap the gateway's V8 old space (--max-old-space-size) to see how much of its RSS is garbage.
  heapMB: opt['gateway-heap-mb'],
  heapSnapshots: opt['heap-snapshot'],
});
log(`gateway pid ${gw.pid}, SIP 127.0.0.1:${gw.sipPort}, HTTP ${gw.httpUrl}`);

// ---- event WebSocket: catalog sweep progress and offline transitions. The gateway drops a WebSocket client
// that falls too far behind (ws-hub.ts: backlog > 10 000 keys → close 1013); this client then reconnects, counts
// the drop, and the figures below are taken from the gateway's own records (HTTP API) rather than from events.
const catalogDone = new Map(); // deviceId → state
const offlineEvents = []; // { deviceId, reason, receivedAt (performance.now()), at (gateway epoch ms) }
let onlineEvents = 0;
const wsDrops = [];
let ws = null;
let closing = false;
const onEvent = (msg) => {
  if (msg.type === 'catalog-progress' && ['complete', 'partial', 'failed'].includes(msg.data.state)) catalogDone.set(msg.data.deviceId, msg.data.state);
  else if (msg.type === 'device-status') {
    if (msg.data.status === 'offline') offlineEvents.push({ deviceId: msg.data.deviceId, reason: msg.data.reason, receivedAt: performance.now(), at: msg.data.at });
    else onlineEvents++;
  }
};
async function connectEvents() {
  ws = await gw.api.events(onEvent);
  ws.on('close', (code, reason) => {
    if (closing) return;
    wsDrops.push({ at: new Date().toISOString(), code, reason: reason.toString() });
    log(`  event WebSocket closed by the gateway (${code} ${reason}); reconnecting`);
    setTimeout(() => void connectEvents().catch((err) => log(`  WebSocket reconnect failed: ${err.message}`)), 1_000);
  });
}
await connectEvents();

const fleet = new DeviceFleet({
  server: `127.0.0.1:${gw.sipPort}`,
  serverId: GATEWAY_SIP_ID,
  devices: N,
  password: DEVICE_PASSWORD,
  keepaliveSec: KEEPALIVE_SEC,
  keepaliveMissLimit: MISS_COUNT,
  unregisterOnStop: false,
});
let keepaliveRejected = 0;
let registerFailures = 0;
fleet.on('keepalive-rejected', () => keepaliveRejected++);
fleet.on('register-failed', (e) => {
  if (e.kind === 'register') registerFailures++;
});

const result = { benchmark: 'steady-state', options: opt, machine, store: opt.store, devices: N };
try {
  // ---- registration and catalog sweep
  const t0 = performance.now();
  const gwCpu0 = cpuSeconds(gw.pid);
  await fleet.start();
  await fleet.waitForRegistered(N, opt['settle-timeout-sec'] * 1000);
  result.registeredAfterMs = round(performance.now() - t0, 0);
  log(`all ${N} registered after ${result.registeredAfterMs} ms (${registerFailures} failed attempts)`);
  const settleDeadline = t0 + opt['settle-timeout-sec'] * 1000;
  // Done when every device's catalog answer is stored: each simulated IPC reports exactly one channel, so the
  // channel count through the API reaching N says so even if WebSocket events were lost; the WebSocket count of
  // final catalog-progress events (complete/partial/failed) is the other way to finish.
  let lastReport = 0;
  let storedChannels = 0;
  while (catalogDone.size < N && storedChannels < N && performance.now() < settleDeadline) {
    storedChannels = await gw.api
      .json('/api/channels?limit=1', { timeoutMs: 60_000 })
      .then((p) => p.total)
      .catch(() => storedChannels);
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      log(`  catalog sweep: ${storedChannels}/${N} channels stored, ${catalogDone.size} final catalog events`);
    }
    await sleep(2_000);
  }
  result.catalogSweepStoredChannels = storedChannels;
  result.catalogSweepAfterMs = round(performance.now() - t0, 0);
  result.catalogStates = [...catalogDone.values()].reduce((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
  result.settleGatewayCpuSeconds = round(cpuSeconds(gw.pid) - gwCpu0, 1);
  log(`catalog sweep finished after ${result.catalogSweepAfterMs} ms: ${JSON.stringify(result.catalogStates)}; gateway CPU so far ${result.settleGatewayCpuSeconds} s`);
  // Let the last write-behind flush and GC settle before measuring.
  await sleep(10_000);

  // ---- steady state
  const metrics0 = await gw.api.metrics();
  const stores0 = storeWriteSummary(metrics0);
  const keepalivesIn0 = metricValue(metrics0, 'se_sip_messages_total', { direction: 'in', method: 'MESSAGE' });
  const gen0 = selfCpuSeconds();
  const offlineBefore = offlineEvents.length;
  const sampler = new ProcessSampler(gw.pid, opt['sample-sec'] * 1000).start();
  const ferretSampler = ferret ? new ProcessSampler(ferret.pid, opt['sample-sec'] * 1000).start() : null;
  const steadyStart = performance.now();
  while (performance.now() - steadyStart < opt.minutes * 60_000) {
    const left = opt.minutes * 60_000 - (performance.now() - steadyStart);
    await sleep(Math.min(30_000, left));
    if (left <= 30_000) break;
    const p = sampler.cpuPercents();
    log(`  steady ${round((performance.now() - steadyStart) / 60_000, 1)} min: gateway CPU last ${opt['sample-sec']} s ${round(p[p.length - 1], 1)} %, RSS ${round(sampler.samples[sampler.samples.length - 1].rssMB, 0)} MB`);
  }
  sampler.stop();
  ferretSampler?.stop();
  const steadySeconds = (performance.now() - steadyStart) / 1000;
  const metrics1 = await gw.api.metrics();
  const cpu = sampler.cpuPercents();
  // RSS versus what the V8 heap actually holds (prom-client default metrics): a large gap is freed garbage
  // whose pages V8 keeps after the registration storm and catalog sweep.
  const heap = (name) => round(metricValue(metrics1, name) / 2 ** 20, 0);
  const heapAtEnd = {
    heapUsedMB: heap('nodejs_heap_size_used_bytes'),
    heapTotalMB: heap('nodejs_heap_size_total_bytes'),
    externalMB: heap('nodejs_external_memory_bytes'),
    residentMB: heap('process_resident_memory_bytes'),
  };
  if (opt['heap-snapshot']) {
    // After the steady phase's figures are taken: writing the snapshot pauses the gateway for seconds.
    const file = await gw.writeHeapSnapshot(join(OUT_DIR, 'profiles'));
    const summary = summariseHeapSnapshot(file, 30);
    log(`heap snapshot ${file}: ${summary.totalMB.toFixed(1)} MB in ${summary.nodeCount} nodes`);
    for (const r of summary.rows) log(`  ${(r.bytes / 2 ** 20).toFixed(1).padStart(7)} MB ${String(r.count).padStart(9)}  ${r.type} ${r.name.slice(0, 80)}`);
    result.heapSnapshot = { file, totalMB: round(summary.totalMB, 1), top: summary.rows.slice(0, 15) };
  }
  result.steady = {
    seconds: round(steadySeconds, 0),
    samples: cpu.length,
    gatewayCpuPercent: { mean: round(mean(cpu), 2), median: round(median(cpu), 2), p95: round(percentile(cpu, 95), 2), max: round(Math.max(...cpu), 2) },
    gatewayCpuSeconds: round(sampler.cpuUsed, 2),
    gatewayMaxRssMB: round(sampler.maxRssMB, 0),
    gatewayPeakRssSinceStartMB: round(sampler.peakHwmMB, 0),
    gatewayRssAtEndMB: round(sampler.samples[sampler.samples.length - 1].rssMB, 0),
    gatewayHeapAtEnd: heapAtEnd,
    ferretDbCpuPercentMean: ferretSampler ? round(mean(ferretSampler.cpuPercents()), 2) : null,
    ferretDbMaxRssMB: ferretSampler ? round(ferretSampler.maxRssMB, 0) : null,
    generatorCpuPercentMean: round((100 * (selfCpuSeconds() - gen0)) / steadySeconds, 2),
    keepalivesPerSecond: round((metricValue(metrics1, 'se_sip_messages_total', { direction: 'in', method: 'MESSAGE' }) - keepalivesIn0) / steadySeconds, 1),
    storeWrites: storeWriteDelta(stores0, storeWriteSummary(metrics1)),
    offlineDuringSteady: offlineEvents.length - offlineBefore,
    keepaliveRejected,
  };
  result.steady.cpuTargetMet = result.steady.gatewayCpuPercent.mean <= 10;
  result.steady.rssTargetMet = result.steady.gatewayMaxRssMB <= 400;
  result.steady.loadavg = loadavg().map((x) => round(x, 2));
  log(`steady state: ${JSON.stringify(result.steady)}`);

  // ---- silent stop of K devices
  const all = fleet.devices.map((d) => d.id);
  // Deterministic choice spread over the fleet: every (N/K)-th device.
  const stride = N / opt.stop;
  const stopped = Array.from({ length: opt.stop }, (_, i) => all[Math.floor(i * stride)]);
  const stoppedSet = new Set(stopped);
  const offlineMark = offlineEvents.length;
  const tStop = performance.now();
  const tStopEpoch = Date.now();
  fleet.stopKeepalive(stopped);
  log(`stopped keepalives of ${stopped.length} devices; watching offline events for ${DETECTION_BOUND_MS / 1000} s`);
  while (performance.now() - tStop < DETECTION_BOUND_MS) {
    await sleep(5_000);
    const seen = offlineEvents.slice(offlineMark);
    if ((performance.now() - tStop) % 30_000 < 5_000) log(`  +${round((performance.now() - tStop) / 1000, 0)} s: ${seen.filter((e) => stoppedSet.has(e.deviceId)).length}/${stopped.length} stopped devices offline, ${seen.filter((e) => !stoppedSet.has(e.deviceId)).length} others`);
  }
  const window = offlineEvents.slice(offlineMark);
  const wsDetected = new Set(window.filter((e) => stoppedSet.has(e.deviceId)).map((e) => e.deviceId));
  const wsOthers = window.filter((e) => !stoppedSet.has(e.deviceId));
  // The gateway's records: every stopped device's status, reason and status-change time (GET /api/devices/:id),
  // and every offline device (GET /api/devices?status=offline, paged) to find any other device taken offline.
  const delays = [];
  const sinceLastKeepalive = [];
  const reasons = {};
  let detected = 0;
  for (const id of stopped) {
    const d = await gw.api.json(`/api/devices/${id}`);
    const key = d.status === 'offline' ? d.offlineReason : 'still online';
    reasons[key] = (reasons[key] ?? 0) + 1;
    if (d.status !== 'offline') continue;
    const delay = (d.statusChangedAt - tStopEpoch) / 1000;
    delays.push(delay);
    if (delay <= DETECTION_BOUND_MS / 1000) detected++;
    if (d.lastKeepaliveAt) sinceLastKeepalive.push((d.statusChangedAt - d.lastKeepaliveAt) / 1000);
  }
  const others = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await gw.api.json(`/api/devices?status=offline&limit=1000&offset=${offset}`);
    for (const d of page.items) if (!stoppedSet.has(d.id)) others.push({ id: d.id, reason: d.offlineReason, at: d.statusChangedAt });
    if (offset + 1000 >= page.total) break;
  }
  result.offline = {
    stopped: stopped.length,
    detectedWithin185s: detected,
    othersOffline: others.length,
    otherExamples: others.slice(0, 5),
    reasons,
    detectionDelaySec: Object.fromEntries(Object.entries(summary(delays)).map(([k, v]) => [k, round(v, 1)])),
    lastKeepaliveToOfflineSec: Object.fromEntries(Object.entries(summary(sinceLastKeepalive)).map(([k, v]) => [k, round(v, 2)])),
    webSocket: { stoppedSeenOffline: wsDetected.size, othersSeenOffline: wsOthers.length, drops: wsDrops.length },
    stoppedAtEpochMs: tStopEpoch,
  };
  result.offline.targetMet = detected === stopped.length && others.length === 0;
  log(`offline detection: ${JSON.stringify(result.offline)}`);
  result.gatewayPeakRssMB = round(memory(gw.pid).hwmMB, 0);
  result.gatewayCpuTotalSeconds = round(cpuSeconds(gw.pid), 1);
  result.gatewayWarnings = gw.warnings();
  result.webSocketDrops = wsDrops;
  result.loadavgAtEnd = loadavg().map((x) => round(x, 2));
} finally {
  closing = true;
  ws?.close();
  await fleet.stop({ unregister: false });
  await gw.stop();
  if (ferret) await ferret.stop();
  await stopAll();
  if (profileDir) for (const f of gw.cpuProfiles()) log(formatProfile(summariseProfile(f, 25)));
}
const file = writeResult(`steady-${opt.store}`, result);
log(`results written to ${file}`);
process.exit(0);
