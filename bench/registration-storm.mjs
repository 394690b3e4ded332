// Benchmark 1 — registration storm: N distinct devices register over UDP with digest, as fast as the gateway
// accepts them. Measured from the first REGISTER to
//   (a) every device answered 200 (the load generator's count),
//   (b) GET /api/devices?status=online reports total = N,
//   (c) the store itself holds N online device rows (SQLite file read-only / MongoDB driver, not the API).
// Plus failures, gateway CPU seconds and peak RSS (VmHWM, reset at the start of the storm) during the storm,
// and the load generator's CPU. Each run first measures the same generator against a trivial registrar (a
// sipp UAS that answers 401/200 without doing any work) to show what the generator alone can do here.
//
//   npm run build
//   node bench/registration-storm.mjs [--devices 50000] [--store sqlite|mongo] [--runs 3] [--generator sim|sipp]
//        [--catalog-on-register true|false] [--in-flight 2000] [--rate 0] [--profile] [--timeout-sec 180] [--keepalive]
//
// --generator sim: the gateway's own device simulator (DeviceFleet, 1 000 devices per UDP socket), in this
//   process; catalogOnRegister stays at its default (true) unless --catalog-on-register false.
// --generator sipp: sipp with test-fixtures/sipp/register.xml and an injection file of N device IDs, one UDP
//   socket (-t u1), -r/--rate calls per second (default 20 000) and at most --in-flight calls outstanding;
//   sipp does not answer DeviceInfo/Catalog queries, so the gateway runs with SE_SIP_CATALOG_ON_REGISTER=false.
// --keepalive (sipp only): each device sends its first Keepalive MESSAGE right after the 200 OK
//   (test-fixtures/sipp/register-keepalive.xml; baseline bench/sipp/trivial-registrar-keepalive.xml) — the scenario
//   of issue 8's target (50,000 devices, first REGISTER → all online in the API ≤ 10 s).
// --profile: the gateway child runs with --cpu-prof; the top self-time functions are printed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID, GATEWAY_DOMAIN } from './lib/gateway.mjs';
import { startFerretDb } from './lib/ferretdb.mjs';
import { openStoreProbe } from './lib/store-probe.mjs';
import { cpuSeconds, memory, resetPeakRss, selfCpuSeconds, udpCounters } from './lib/proc.mjs';
import {
  REGISTER_KEEPALIVE_SCENARIO,
  REGISTER_SCENARIO,
  TRIVIAL_REGISTRAR_KEEPALIVE_SCENARIO,
  TRIVIAL_REGISTRAR_SCENARIO,
  runSippClient,
  startTrivialRegistrar,
  writeDeviceCsv,
} from './lib/sipp.mjs';
import { storeWriteDelta, storeWriteSummary, metricValue } from './lib/api.mjs';
import { median, round } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport, OUT_DIR } from './lib/paths.mjs';
import { loadavg } from 'node:os';
import { log, writeResult } from './lib/out.mjs';
import { formatProfile, summariseProfile } from './lib/cpuprofile.mjs';

const USAGE = `usage: node bench/registration-storm.mjs [--devices N] [--store sqlite|mongo] [--runs R] [--generator sim|sipp]
       [--catalog-on-register true|false] [--in-flight K] [--rate PER_SEC] [--profile] [--timeout-sec S] [--no-baseline] [--commit-wait-ms MS] [--keepalive]`;
const opt = options(
  { devices: 50_000, store: 'sqlite', runs: 3, generator: 'sim', 'catalog-on-register': '', 'in-flight': 2_000, rate: 0, profile: false, 'timeout-sec': 180, 'no-baseline': false, 'commit-wait-ms': -1, keepalive: false },
  USAGE,
);
oneOf('store', opt.store, ['sqlite', 'mongo']);
oneOf('generator', opt.generator, ['sim', 'sipp']);
const N = opt.devices;
if (opt.keepalive && opt.generator !== 'sipp') {
  process.stderr.write('--keepalive needs --generator sipp (the simulator sends its first keepalive on its own schedule)\n');
  process.exit(2);
}
const catalogOnRegister = opt.generator === 'sipp' ? false : opt['catalog-on-register'] !== 'false';
if (opt.generator === 'sipp' && opt['catalog-on-register'] === 'true') {
  process.stderr.write('sipp does not answer DeviceInfo/Catalog queries: the sipp storm always runs with catalogOnRegister=false\n');
}
const sippRate = opt.rate > 0 ? opt.rate : 20_000;
const TIMEOUT_MS = opt['timeout-sec'] * 1000;
// Bound: every run (baseline + gateway storm + start/stop) within its timeout plus two minutes of set-up.
guardProcess(opt.runs * (opt['timeout-sec'] * 2 + 120) + 60);

const { DeviceFleet, gbId, TYPE_CODE } = await distImport('sim/index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const workDir = mkdtempSync(join(tmpdir(), 'se-bench-storm-'));

/** Sum of the Retrans column of sipp's final message table (REGISTER lines). */
function sippRetransmissions(output) {
  const screen = output.slice(output.lastIndexOf('Messages  Retrans'));
  let total = 0;
  for (const line of screen.split('\n')) {
    const m = /REGISTER\s+-+>\s+(\d+)\s+(\d+)/.exec(line);
    if (m) total += Number(m[2]);
  }
  return total;
}

function deviceIds(n) {
  return Array.from({ length: n }, (_, i) => gbId('44030500', TYPE_CODE.ipc, i + 1));
}

/**
 * Drive one storm with the chosen generator against `sipTarget` ({host, port}). Resolves when every device has
 * an answer (200 or a failure) or at the deadline: { answeredMs, registered, failures, generatorCpu, detail }.
 * `onFirstRegister(t)` marks t0 (performance.now()).
 */
async function driveGenerator(sipPort, onFirstRegister, deadline) {
  if (opt.generator === 'sipp') {
    const csv = writeDeviceCsv(join(workDir, 'devices.csv'), deviceIds(N), DEVICE_PASSWORD);
    const r = await runSippClient({
      target: `127.0.0.1:${sipPort}`,
      scenario: opt.keepalive ? REGISTER_KEEPALIVE_SCENARIO : REGISTER_SCENARIO,
      csv,
      calls: N,
      rate: sippRate,
      limit: opt['in-flight'],
      keys: { gw: GATEWAY_SIP_ID, domain: GATEWAY_DOMAIN },
      transport: 'u1',
      timeoutSec: Math.ceil((deadline - performance.now()) / 1000),
      onStart: onFirstRegister,
    });
    return {
      answeredAt: r.successful === N ? performance.now() : null,
      registered: r.successful,
      failures: r.failed,
      generatorCpu: r.cpuSeconds,
      detail: { sippExit: r.code, command: r.args, retransmissions: sippRetransmissions(r.output), finalScreen: r.output.slice(r.output.lastIndexOf('Messages  Retrans') - 200) },
    };
  }
  const fleet = new DeviceFleet({
    server: `127.0.0.1:${sipPort}`,
    serverId: GATEWAY_SIP_ID,
    devices: N,
    password: DEVICE_PASSWORD,
    retryDelaySec: 0, // a failure is final and counted, never hidden by a retry
    maxInFlight: opt['in-flight'],
    ratePerSecond: opt.rate,
    keepaliveSec: 60,
    unregisterOnStop: false,
  });
  let registered = 0;
  let failures = 0;
  let answeredAt = null;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  fleet.on('registered', (e) => {
    if (e.refresh) return;
    registered++;
    if (registered + failures === N) {
      answeredAt = registered === N ? performance.now() : null;
      resolveDone();
    }
  });
  fleet.on('register-failed', (e) => {
    if (e.kind !== 'register') return;
    failures++;
    if (registered + failures === N) resolveDone();
  });
  const cpu0 = selfCpuSeconds();
  onFirstRegister(performance.now());
  await fleet.start();
  const timer = setTimeout(resolveDone, Math.max(0, deadline - performance.now()));
  await done;
  clearTimeout(timer);
  const generatorCpu = selfCpuSeconds() - cpu0;
  return { answeredAt, registered, failures, generatorCpu, detail: { stats: fleet.stats }, fleet };
}

async function baselineRun() {
  const uas = await startTrivialRegistrar({ scenario: opt.keepalive ? TRIVIAL_REGISTRAR_KEEPALIVE_SCENARIO : TRIVIAL_REGISTRAR_SCENARIO });
  try {
    let t0 = 0;
    const r = await driveGenerator(uas.port, (t) => (t0 = t), performance.now() + TIMEOUT_MS);
    await r.fleet?.stop({ unregister: false });
    const uasCpu = cpuSeconds(uas.pid);
    return { answeredMs: r.answeredAt ? r.answeredAt - t0 : null, registered: r.registered, failures: r.failures, generatorCpu: r.generatorCpu, responderCpu: uasCpu };
  } finally {
    await uas.stop();
  }
}

async function gatewayRun(run) {
  const ferret = opt.store === 'mongo' ? await startFerretDb() : null;
  const profileDir = opt.profile ? join(OUT_DIR, 'profiles', `storm-${opt.store}-${opt.generator}-${Date.now()}`) : null;
  const gw = await startGatewayProcess({
    store: opt.store,
    mongoUrl: ferret?.url,
    // --commit-wait-ms 0: REGISTER answered without waiting for the group commit (write-behind only), for comparison.
    env: { SE_SIP_CATALOG_ON_REGISTER: String(catalogOnRegister), ...(opt['commit-wait-ms'] >= 0 ? { SE_STORE_COMMIT_WAIT_MS: String(opt['commit-wait-ms']) } : {}) },
    cpuProfileDir: profileDir,
  });
  const probe = await openStoreProbe(gw, { store: opt.store, mongoUrl: ferret?.url });
  let fleet = null;
  try {
    const metricsBefore = storeWriteSummary(await gw.api.metrics());
    resetPeakRss(gw.pid);
    if (ferret) resetPeakRss(ferret.pid);
    const rssAtStart = memory(gw.pid).rssMB;
    let t0 = null;
    let gwCpu0 = 0;
    let ferretCpu0 = 0;
    const deadline = performance.now() + TIMEOUT_MS;
    const udp0 = udpCounters();
    const marks = { api: null, store: null };
    const peaks = { api: 0, store: 0 };
    let stopPolling = false;
    const onStart = (t) => {
      t0 = t;
      gwCpu0 = cpuSeconds(gw.pid);
      ferretCpu0 = ferret ? cpuSeconds(ferret.pid) : 0;
    };
    const watch = async (name, count, intervalMs) => {
      while (!stopPolling && performance.now() < deadline) {
        if (t0 !== null) {
          try {
            const n = await count();
            peaks[name] = Math.max(peaks[name], n);
            if (n >= N) {
              marks[name] = performance.now();
              return;
            }
          } catch (err) {
            log(`  ${name} poll failed: ${err.message}`);
          }
        }
        await sleep(intervalMs);
      }
    };
    const apiWatch = watch('api', async () => (await gw.api.json('/api/devices?status=online&limit=1')).total, 250);
    const storeWatch = watch('store', () => probe.countOnlineDevices(), 250);
    const gen = await driveGenerator(gw.sipPort, onStart, deadline);
    fleet = gen.fleet ?? null;
    await Promise.all([apiWatch, storeWatch]);
    stopPolling = true;
    const tEnd = Math.max(gen.answeredAt ?? performance.now(), marks.api ?? performance.now(), marks.store ?? performance.now());
    const gwCpu = cpuSeconds(gw.pid) - gwCpu0;
    const mem = memory(gw.pid);
    const ferretCpu = ferret ? cpuSeconds(ferret.pid) - ferretCpu0 : null;
    const ferretMem = ferret ? memory(ferret.pid) : null;
    const udp1 = udpCounters();
    const metricsAfter = await gw.api.metrics();
    const authFailures = metricValue(metricsAfter, 'se_sip_auth_failures_total');
    const result = {
      run,
      // 1-minute load average at the end of the storm: the machine is shared, so a slow run can be explained.
      loadavg1m: round(loadavg()[0], 2),
      store: opt.store,
      generator: opt.generator,
      catalogOnRegister,
      devices: N,
      answeredMs: gen.answeredAt ? round(gen.answeredAt - t0, 0) : null,
      apiOnlineMs: marks.api ? round(marks.api - t0, 0) : null,
      storeOnlineMs: marks.store ? round(marks.store - t0, 0) : null,
      registered: gen.registered,
      failures: gen.failures,
      peakApiOnline: peaks.api,
      peakStoreOnline: peaks.store,
      gatewayAuthFailures: authFailures,
      gatewayCpuSeconds: round(gwCpu, 2),
      gatewayCpuPercentOfOneCore: round((100 * gwCpu) / ((tEnd - t0) / 1000), 0),
      gatewayRssAtStartMB: round(rssAtStart, 0),
      gatewayPeakRssMB: round(mem.hwmMB, 0),
      gatewayRssAfterMB: round(mem.rssMB, 0),
      ferretDbCpuSeconds: ferretCpu === null ? null : round(ferretCpu, 2),
      ferretDbPeakRssMB: ferretMem ? round(ferretMem.hwmMB, 0) : null,
      generatorCpuSeconds: round(gen.generatorCpu, 2),
      storeWrites: storeWriteDelta(metricsBefore, storeWriteSummary(metricsAfter)),
      gatewayWarnings: gw.warnings(),
      // System-wide, but on this loopback run it is ours: datagrams dropped because a socket buffer was full.
      udpReceiveBufferDrops: udp1.RcvbufErrors - udp0.RcvbufErrors,
      detail: gen.detail,
    };
    const met = result.failures === 0 && result.answeredMs !== null && [result.answeredMs, result.apiOnlineMs, result.storeOnlineMs].every((x) => x !== null && x <= 10_000);
    result.targetMet = met;
    return result;
  } finally {
    await fleet?.stop({ unregister: false });
    await probe.close();
    await gw.stop();
    if (ferret) await ferret.stop();
    if (profileDir) {
      for (const f of gw.cpuProfiles()) log(formatProfile(summariseProfile(f, 25)));
    }
  }
}

const machine = machineInfo();
log(`registration storm: ${N} devices, store ${opt.store}${opt.store === 'mongo' ? ' (FerretDB 1.24 on SQLite, not MongoDB)' : ''}, generator ${opt.generator}${opt.keepalive ? ' (REGISTER + first keepalive)' : ''}, catalogOnRegister=${catalogOnRegister}, ${opt.runs} run(s)`);
log(`machine: ${machineLine(machine)}`);
const results = [];
try {
  for (let run = 1; run <= opt.runs; run++) {
    let baseline = null;
    if (!opt['no-baseline']) {
      baseline = await baselineRun();
      log(`run ${run} baseline (generator → trivial registrar): all answered in ${baseline.answeredMs === null ? 'n/a' : round(baseline.answeredMs, 0)} ms, ${baseline.registered} ok, ${baseline.failures} failed, generator CPU ${round(baseline.generatorCpu, 2)} s`);
    }
    const r = await gatewayRun(run);
    r.baseline = baseline;
    results.push(r);
    log(
      `run ${run}: 200s ${r.answeredMs} ms | API online=N ${r.apiOnlineMs} ms | store online=N ${r.storeOnlineMs} ms | ok ${r.registered} failed ${r.failures} | ` +
        `gateway CPU ${r.gatewayCpuSeconds} s (${r.gatewayCpuPercentOfOneCore} % of a core) peak RSS ${r.gatewayPeakRssMB} MB | generator CPU ${r.generatorCpuSeconds} s` +
        (r.ferretDbCpuSeconds !== null ? ` | FerretDB CPU ${r.ferretDbCpuSeconds} s peak RSS ${r.ferretDbPeakRssMB} MB` : '') +
        ` | target ${r.targetMet ? 'met' : 'MISSED'}`,
    );
    log(`  store writes: ${JSON.stringify(r.storeWrites)}`);
  }
} finally {
  await stopAll();
  rmSync(workDir, { recursive: true, force: true });
}
const med = (key) => median(results.map((r) => r[key]).filter((x) => x !== null));
const summaryLine = {
  answeredMs: med('answeredMs'),
  apiOnlineMs: med('apiOnlineMs'),
  storeOnlineMs: med('storeOnlineMs'),
  gatewayCpuSeconds: med('gatewayCpuSeconds'),
  gatewayPeakRssMB: med('gatewayPeakRssMB'),
  baselineAnsweredMs: median(results.map((r) => r.baseline?.answeredMs).filter((x) => x !== null && x !== undefined)),
  failures: results.reduce((s, r) => s + r.failures, 0),
};
log(`median of ${results.length}: ${JSON.stringify(summaryLine)}`);
const file = writeResult(`storm-${opt.store}-${opt.generator}${opt.keepalive ? '-keepalive' : ''}`, { benchmark: 'registration-storm', options: opt, catalogOnRegister, machine, results, median: summaryLine });
log(`results written to ${file}`);
process.exit(0);
