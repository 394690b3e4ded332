// Issue 10, benchmark 1 — ONVIF health polling: N simulated ONVIF devices polled by the gateway. Targets: gateway
// CPU ≤ 10 % of one core, RSS ≤ 300 MB more than without them, offline detected within 2 polling intervals.
//
// Targets: N simulated ONVIF cameras (OnvifFleet, RTSP off), each an HTTP server on its own port of 127.0.0.1,
// so every probe is a separate SOAP conversation (GetDeviceInformation with WS-Security) with its own endpoint.
// They run in this benchmark's process, on the same cores as the gateway: the cameras' CPU is not in the
// gateway's figure, but it competes with it.
// The gateway is a child process (`node bin/sharp-eyes.js serve`, SQLite store), with a SHORT polling interval
// (--interval, default 15 s, SE_DEVICES_POLL_INTERVAL_SEC) so that a few intervals fit in minutes. Polling costs
// per second in proportion to N / interval: at the default 30 s the rate is half the one measured here.
// devices.pollMissesToOffline stays at its default (2), devices.pollConcurrency at 64.
// ONVIF events (PullPoint) are OFF unless --events: this measures health polling alone. With events on (the
// gateway's default) every online camera also holds a PullMessages request open (10 s) and renews its
// subscription every 30 s: one more socket per camera on both sides and ~0.13 requests/s per camera.
//
// One run, same gateway process throughout:
//   baseline  0 devices: gateway CPU % of one core and RSS over --windows windows of one interval each;
//   import    N devices through one POST /api/devices/import (checked: all N online);
//   settle    one interval (every device has had its first probe);
//   polling   the same --windows windows with N devices; probes per second counted on the cameras;
//   offline   --kill cameras (evenly spread) stop listening at t0; GET /api/devices?status=offline every 250 ms
//             until all are offline: each one's detection time, in seconds and in polling intervals. Then checked:
//             no other device went offline.
//
//   npm run build
//   node bench/onvif-polling.mjs [--devices 10000] [--interval 15] [--windows 3] [--kill 100] [--runs 1] [--profile] [--events] [--heap]
// --profile writes the gateway's CPU profile of the whole run to bench/out/profiles/onvif-polling-<time>/
// (summarise with bench/profile-summary.mjs; the log gives each phase's seconds after the gateway started, for
// --from/--to). --heap writes a heap snapshot of the gateway after the polling windows (summarised in the log).
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { options } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess } from './lib/gateway.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { OUT_DIR, distImport } from './lib/paths.mjs';
import { formatHeapSummary, summariseHeapSnapshot } from './lib/heapsnapshot.mjs';
import { ProcessSampler } from './lib/proc.mjs';
import { log, writeResult } from './lib/out.mjs';
import { median, percentile, round } from './lib/stats.mjs';

const opts = options(
  { devices: 10000, interval: 15, windows: 3, kill: 100, runs: 1, profile: false, events: false, heap: false },
  'node bench/onvif-polling.mjs [--devices 10000] [--interval 15] [--windows 3] [--kill 100] [--runs 1] [--profile] [--events] [--heap]',
);
const N = Number(opts.devices);
const intervalSec = Number(opts.interval);
const windows = Number(opts.windows);
const killCount = Math.min(Number(opts.kill), N);
guardProcess(3600);
const { OnvifFleet } = await distImport('sim/onvif/onvif-fleet.js');

const load1 = () => round(loadavg()[0], 2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const machine = machineInfo();
log(`machine: ${machineLine(machine)}`);

async function request(gw, method, path, body) {
  const res = await fetch(`${gw.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const totalOf = async (gw, status) => (await request(gw, 'GET', `/api/devices?status=${status}&limit=1`)).body.total;

/** Gateway CPU % of one core and RSS over `count` windows of one polling interval; camera requests per second. */
async function measure(gw, fleet, label, count) {
  const out = [];
  for (let w = 1; w <= count; w++) {
    const requestsBefore = fleet ? fleet.cameras.reduce((n, c) => n + c.stats.requests, 0) : 0;
    const sampler = new ProcessSampler(gw.pid, 1000).start();
    const t0 = performance.now();
    const loadAtStart = load1();
    await sleep(intervalSec * 1000);
    sampler.stop();
    const seconds = (performance.now() - t0) / 1000;
    const requests = fleet ? fleet.cameras.reduce((n, c) => n + c.stats.requests, 0) - requestsBefore : 0;
    const cpuPercent = (100 * sampler.cpuUsed) / seconds;
    const rss = sampler.samples.map((s) => s.rssMB);
    // What the RSS is made of, from the gateway's own /metrics (prom-client's default metrics).
    const m = await gw.api.metrics();
    const mb = (name) => round((m.get(name)?.[0]?.value ?? NaN) / 2 ** 20, 1);
    const heap = { heapUsedMB: mb('nodejs_heap_size_used_bytes'), heapTotalMB: mb('nodejs_heap_size_total_bytes'), externalMB: mb('nodejs_external_memory_bytes') };
    const row = { label, window: w, seconds: round(seconds, 1), cpuPercent: round(cpuPercent, 1), rssMedianMB: round(median(rss), 1), rssMaxMB: round(Math.max(...rss), 1), probesPerSec: round(requests / seconds, 1), ...heap, load1Start: loadAtStart, load1End: load1() };
    log(`${label} window ${w}: gateway CPU ${row.cpuPercent} % of one core, RSS ${row.rssMedianMB} MB (max ${row.rssMaxMB}; JS heap used ${row.heapUsedMB} of ${row.heapTotalMB}, external ${row.externalMB}), ${row.probesPerSec} camera requests/s, load ${row.load1Start} → ${row.load1End}`);
    out.push(row);
  }
  return out;
}

async function runOnce(run) {
  const fleetStart = performance.now();
  const fleet = new OnvifFleet({ cameras: N, rtsp: false, discoveryInterface: null, password: 'bench-cam-pass' });
  await fleet.start();
  const fleetSeconds = (performance.now() - fleetStart) / 1000;
  log(`run ${run}: ${N} ONVIF cameras on ports ${Math.min(...fleet.cameras.map((c) => c.port))}–${Math.max(...fleet.cameras.map((c) => c.port))} in ${round(fleetSeconds, 1)} s`);
  const profileDir = opts.profile ? join(OUT_DIR, 'profiles', `onvif-polling-${new Date().toISOString().replace(/[:.]/g, '-')}`) : null;
  const gwStart = performance.now();
  const gw = await startGatewayProcess({ env: { SE_DEVICES_POLL_INTERVAL_SEC: String(intervalSec), SE_ONVIF_EVENTS: String(opts.events) }, cpuProfileDir: profileDir, heapSnapshots: opts.heap });
  const sinceStart = () => round((performance.now() - gwStart) / 1000, 1);
  try {
    await sleep(3000);
    const baseline = await measure(gw, null, 'baseline (0 devices)', windows);

    const bodies = fleet.cameras.map((c, i) => ({ protocol: 'onvif', host: c.host, port: c.port, username: 'admin', password: 'bench-cam-pass', name: `poll cam ${i + 1}` }));
    const importStart = performance.now();
    const imported = await request(gw, 'POST', '/api/devices/import', bodies);
    const importSeconds = (performance.now() - importStart) / 1000;
    if (imported.status !== 200) throw new Error(`import answered ${imported.status}: ${JSON.stringify(imported.body).slice(0, 300)}`);
    const onlineAfterImport = await totalOf(gw, 'online');
    log(`import: ${N} devices in ${round(importSeconds, 1)} s, ${imported.body.failed} failed, ${onlineAfterImport} online`);
    if (onlineAfterImport !== N) throw new Error(`${onlineAfterImport} of ${N} devices online after the import`);

    log(`settling for one interval (${intervalSec} s)`);
    await sleep(intervalSec * 1000);
    const pollingFromSec = sinceStart();
    const polling = await measure(gw, fleet, `polling (${N} devices)`, windows);
    const pollingToSec = sinceStart();
    log(`polling windows: ${pollingFromSec}–${pollingToSec} s after the gateway started (profile-summary --from/--to)`);
    if (opts.heap) {
      const file = await gw.writeHeapSnapshot(join(OUT_DIR, 'heap'));
      log(`heap snapshot ${file}:\n${formatHeapSummary(summariseHeapSnapshot(file, 25))}`);
    }

    // Offline detection: evenly spread cameras stop listening (their HTTP servers close: connection refused).
    const step = N / killCount;
    const victims = Array.from({ length: killCount }, (_, i) => fleet.cameras[Math.floor(i * step)]);
    const byPort = new Map(victims.map((c) => [c.port, c]));
    const deviceIds = new Map(imported.body.devices.map((d) => [bodies[d.line].port, d.id]));
    const victimIds = new Set(victims.map((c) => deviceIds.get(c.port)));
    const seenOffline = new Map();
    const loadAtKill = load1();
    const t0 = performance.now();
    await Promise.all([...byPort.values()].map((c) => c.close()));
    const deadline = t0 + (3 * intervalSec + 30) * 1000;
    while (seenOffline.size < victimIds.size && performance.now() < deadline) {
      const page = (await request(gw, 'GET', `/api/devices?status=offline&limit=1000`)).body;
      const at = (performance.now() - t0) / 1000;
      for (const d of page.items) if (victimIds.has(d.id) && !seenOffline.has(d.id)) seenOffline.set(d.id, { at, reason: d.offlineReason });
      await sleep(250);
    }
    const times = [...seenOffline.values()].map((v) => v.at);
    const reasons = [...new Set([...seenOffline.values()].map((v) => v.reason))];
    const offlineTotal = await totalOf(gw, 'offline');
    const offline = {
      killed: killCount,
      detected: seenOffline.size,
      medianSec: round(median(times), 1),
      p95Sec: round(percentile(times, 95), 1),
      maxSec: round(Math.max(...times), 1),
      maxIntervals: round(Math.max(...times) / intervalSec, 2),
      withinTwoIntervals: times.filter((t) => t <= 2 * intervalSec).length,
      reasons,
      othersOffline: offlineTotal - seenOffline.size,
      load1AtKill: loadAtKill,
      load1End: load1(),
    };
    log(`offline: ${offline.detected}/${killCount} detected, median ${offline.medianSec} s, p95 ${offline.p95Sec} s, max ${offline.maxSec} s (= ${offline.maxIntervals} intervals of ${intervalSec} s), ${offline.withinTwoIntervals} within 2 intervals, reasons ${reasons.join(',')}, other devices offline: ${offline.othersOffline}`);

    const base = { cpu: median(baseline.map((r) => r.cpuPercent)), rss: median(baseline.map((r) => r.rssMedianMB)) };
    const poll = { cpu: median(polling.map((r) => r.cpuPercent)), rss: median(polling.map((r) => r.rssMedianMB)) };
    const result = {
      run,
      fleetSeconds: round(fleetSeconds, 1),
      importSeconds: round(importSeconds, 1),
      baseline,
      polling,
      offline,
      pollingFromSec,
      pollingToSec,
      medians: {
        baselineCpuPercent: round(base.cpu, 1),
        pollingCpuPercent: round(poll.cpu, 1),
        addedCpuPercent: round(poll.cpu - base.cpu, 1),
        baselineRssMB: round(base.rss, 1),
        pollingRssMB: round(poll.rss, 1),
        addedRssMB: round(poll.rss - base.rss, 1),
      },
      gatewayWarnings: gw.warnings(),
    };
    log(`run ${run} medians: ${JSON.stringify(result.medians)}`);
    return result;
  } finally {
    await gw.stop();
    if (profileDir) log(`CPU profile: ${gw.cpuProfiles().join(' ')}`);
    await fleet.stop();
  }
}

log(`devices ${N}, polling interval ${intervalSec} s, ${windows} windows, kill ${killCount}, events ${opts.events ? 'on' : 'off'}`);
const results = [];
try {
  for (let run = 1; run <= Number(opts.runs); run++) results.push(await runOnce(run));
} finally {
  await stopAll();
}
const summary = {
  devices: N,
  intervalSec,
  pollingCpuPercent: round(median(results.map((r) => r.medians.pollingCpuPercent)), 1),
  addedRssMB: round(median(results.map((r) => r.medians.addedRssMB)), 1),
  offlineMaxIntervals: round(median(results.map((r) => r.offline.maxIntervals)), 2),
};
log(`summary: ${JSON.stringify(summary)}`);
const file = writeResult('onvif-polling', { machine, devices: N, intervalSec, windows, kill: killCount, events: opts.events, results, summary });
log(`written ${file}`);
