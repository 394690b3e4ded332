#!/usr/bin/env node
// REGISTER flood impact (issue 8, "under load"): one UDP source sends REGISTERs at 10× the rate at which 100
// normal devices register, while those devices register and keep alive. What the normal devices see is
// compared, in the same run, across three scenarios, each on a fresh gateway child:
//   baseline           no flood (throttle at its default)
//   flood              the flood, throttle at its default (sip.registerThrottle 20/s, burst 100 per source)
//   flood-unthrottled  the flood, throttle off (SE_SIP_REGISTER_THROTTLE_RATE_PER_SEC=0): what the throttle buys
//
//   npm run build
//   node bench/register-flood.mjs [--runs 3] [--devices 100] [--rate 50] [--flood-factor 10] [--window-sec 10]
//
// Normal devices: DeviceFleet (one UDP socket each), `--rate` registrations started per second, each
// REGISTER → 401 → REGISTER → 200; figures: registration time per device (first REGISTER → 200), time until
// all registered, failures, keepalives answered 403. A probe device (pre-provisioned, no auth, its own socket)
// sends a keepalive MESSAGE every 100 ms from the start of the flood to the end of the window: round-trip
// time and losses are the "others' latency" figure. The flood runs in a worker thread (its own event loop)
// at flood-factor × 2 × rate REGISTERs per second, a fresh device ID and Call-ID each.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const HERE = fileURLToPath(import.meta.url);
const PROBE_ID = '44030500001320099990';

// ------------------------------------------------------------------------------------------ flood worker
function floodWorker() {
  const { port, perSecond, durationMs } = workerData;
  const socket = createSocket('udp4');
  const answers = {};
  socket.on('message', (m) => {
    const status = /^SIP\/2\.0 (\d{3})/.exec(m.toString('latin1'))?.[1] ?? '?';
    answers[status] = (answers[status] ?? 0) + 1;
  });
  socket.bind(0, '127.0.0.1', () => {
    const local = socket.address().port;
    let sent = 0;
    const started = performance.now();
    const perTick = Math.max(1, Math.round(perSecond / 100));
    const timer = setInterval(() => {
      // Catch up to the target count (timers drift on a loaded machine).
      const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
      for (let k = 0; sent < due && k < perTick * 4; k++) {
        const n = ++sent;
        const id = `440305000013207${String(n % 100_000).padStart(5, '0')}`;
        socket.send(
          `REGISTER sip:44030500002000000001@4403050000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};rport;branch=z9hG4bKflood${n}\r\n` +
            `From: <sip:${id}@4403050000>;tag=f${n}\r\nTo: <sip:${id}@4403050000>\r\nCall-ID: flood-${n}@127.0.0.1\r\nCSeq: 1 REGISTER\r\n` +
            `Contact: <sip:${id}@127.0.0.1:${local}>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`,
          port,
          '127.0.0.1',
        );
      }
      if (performance.now() - started >= durationMs) {
        clearInterval(timer);
        setTimeout(() => {
          socket.close();
          parentPort.postMessage({ sent, seconds: (performance.now() - started) / 1000, answers });
        }, 500);
      }
    }, 10);
  });
}

// ------------------------------------------------------------------------------------------ main
async function main() {
  const { options } = await import('./lib/args.mjs');
  const { distImport } = await import('./lib/paths.mjs');
  const { startGatewayProcess, DEVICE_PASSWORD } = await import('./lib/gateway.mjs');
  const { guardProcess } = await import('./lib/children.mjs');
  const { machineInfo, machineLine } = await import('./lib/machine.mjs');
  const { writeResult, log } = await import('./lib/out.mjs');
  const { cpuSeconds } = await import('./lib/proc.mjs');
  const { summary, median, round } = await import('./lib/stats.mjs');
  const usage = 'node bench/register-flood.mjs [--runs 3] [--devices 100] [--rate 50] [--flood-factor 10] [--window-sec 10] [--deadline-sec 900]';
  const o = options({ runs: 3, devices: 100, rate: 50, 'flood-factor': 10, 'window-sec': 10, 'deadline-sec': 900 }, usage);
  guardProcess(o['deadline-sec']);
  const { DeviceFleet } = await distImport('sim/index.js');
  const floodPerSecond = o['flood-factor'] * 2 * o.rate;
  const machine = machineInfo();
  log(`register flood: ${o.devices} devices at ${o.rate} registrations/s (${2 * o.rate} REGISTER/s), flood ${floodPerSecond} REGISTER/s from one source; ${machineLine(machine)}`);

  const scenarios = [
    { name: 'baseline', flood: false, env: {} },
    { name: 'flood', flood: true, env: { SE_SIP_REGISTER_THROTTLE_RATE_PER_SEC: '20', SE_SIP_REGISTER_THROTTLE_BURST: '100' } },
    { name: 'flood-unthrottled', flood: true, env: { SE_SIP_REGISTER_THROTTLE_RATE_PER_SEC: '0' } },
  ];
  const runs = [];
  let idSerial = 0;

  for (let run = 1; run <= o.runs; run++) {
    for (const sc of scenarios) {
      const gw = await startGatewayProcess({
        env: {
          SE_SIP_CATALOG_ON_REGISTER: 'false',
          SE_SIP_KEEPALIVE_INTERVAL_SEC: '2',
          SE_SIP_DEVICES: JSON.stringify([{ id: PROBE_ID, noAuth: true }]),
          ...sc.env,
        },
      });
      try {
        // Probe device: registers, then keepalives every 100 ms with their round-trip times.
        const probe = createSocket('udp4');
        await new Promise((r) => probe.bind(0, '127.0.0.1', r));
        const probePort = probe.address().port;
        const pending = new Map();
        probe.on('message', (m) => {
          const text = m.toString('latin1');
          const callId = /\r\nCall-ID: ([^\r]+)/i.exec(text)?.[1];
          const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
          const p = callId && pending.get(callId);
          if (p && status >= 200) {
            pending.delete(callId);
            p(status);
          }
        });
        let probeSeq = 0;
        const probeSend = (method, body, extra = '') =>
          new Promise((resolve) => {
            const callId = `probe-${++probeSeq}`;
            const b = Buffer.from(body);
            const t0 = performance.now();
            const timer = setTimeout(() => {
              pending.delete(callId);
              resolve({ status: 0, ms: null });
            }, 2000);
            pending.set(callId, (status) => {
              clearTimeout(timer);
              resolve({ status, ms: performance.now() - t0 });
            });
            probe.send(
              `${method} sip:44030500002000000001@4403050000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${probePort};rport;branch=z9hG4bK${callId}\r\n` +
                `From: <sip:${PROBE_ID}@4403050000>;tag=${callId}\r\nTo: <sip:44030500002000000001@4403050000>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n${extra}` +
                `Content-Length: ${b.length}\r\n\r\n${body}`,
              gw.sipPort,
              '127.0.0.1',
            );
          });
        const reg = await probeSend('REGISTER', '', 'Expires: 3600\r\n');
        if (reg.status !== 200) throw new Error(`probe REGISTER answered ${reg.status}`);
        const keepaliveBody = (sn) => `<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType><SN>${sn}</SN><DeviceID>${PROBE_ID}</DeviceID><Status>OK</Status></Notify>`;

        const cpu0 = cpuSeconds(gw.pid);
        const wall0 = performance.now();
        let flood = null;
        let floodDone = null;
        const floodMs = 60_000;
        if (sc.flood) {
          flood = new Worker(HERE, { workerData: { port: gw.sipPort, perSecond: floodPerSecond, durationMs: floodMs } });
          floodDone = new Promise((resolve) => flood.once('message', resolve));
          await new Promise((r) => setTimeout(r, 1000));
        }
        const probeResults = [];
        let probing = true;
        const probeLoop = (async () => {
          let sn = 1;
          while (probing) {
            const r = await probeSend('MESSAGE', keepaliveBody(sn++), 'Content-Type: Application/MANSCDP+xml\r\n');
            probeResults.push(r);
            await new Promise((res) => setTimeout(res, 100));
          }
        })();

        const regTimes = [];
        let failures = 0;
        let rejectedKeepalives = 0;
        idSerial += o.devices + 10;
        const fleet = new DeviceFleet({
          server: `127.0.0.1:${gw.sipPort}`,
          password: DEVICE_PASSWORD,
          devices: o.devices,
          keepaliveSec: 2,
          ratePerSecond: o.rate,
          retryDelaySec: 60,
          idPrefix: '44030600',
          firstSerial: idSerial,
        });
        fleet.on('registered', (e) => {
          if (!e.refresh) regTimes.push(e.elapsedMs);
        });
        fleet.on('register-failed', () => failures++);
        fleet.on('keepalive-rejected', () => rejectedKeepalives++);
        const fleetStart = performance.now();
        await fleet.start();
        let allRegisteredMs = null;
        try {
          await fleet.waitForRegistered(o.devices, 60_000);
          allRegisteredMs = performance.now() - fleetStart;
        } catch {
          // counted below as not registered
        }
        await new Promise((r) => setTimeout(r, o['window-sec'] * 1000));
        probing = false;
        await probeLoop;
        const cpu1 = cpuSeconds(gw.pid);
        const wallSec = (performance.now() - wall0) / 1000;
        const registered = fleet.stats.everRegistered;
        await fleet.stop({ unregister: false });
        let floodResult = null;
        if (flood) {
          await flood.terminate();
          floodResult = { note: 'stopped at the end of the window' };
          void floodDone;
        }
        const metrics = await gw.api.metrics();
        const sum = (name, label) => (metrics.get(name) ?? []).filter((s) => !label || Object.entries(label).every(([k, v]) => s.labels[k] === v)).reduce((t, s) => t + s.value, 0);
        const probeOk = probeResults.filter((r) => r.status === 200);
        const row = {
          run,
          scenario: sc.name,
          registered,
          failures,
          rejectedKeepalives,
          allRegisteredMs: allRegisteredMs === null ? null : Math.round(allRegisteredMs),
          registrationMs: summary(regTimes),
          probe: { sent: probeResults.length, ok: probeOk.length, lost: probeResults.filter((r) => r.status === 0).length, other: probeResults.filter((r) => r.status !== 0 && r.status !== 200).length, rttMs: summary(probeOk.map((r) => r.ms)) },
          gatewayCpuPercent: cpu0 !== null && cpu1 !== null ? round(((cpu1 - cpu0) / wallSec) * 100) : null,
          throttled: { answered503: sum('se_sip_throttled_total', { outcome: '503' }), dropped: sum('se_sip_throttled_total', { outcome: 'dropped' }) },
          challengesSent: sum('se_sip_messages_total', { direction: 'out', kind: 'response', method: 'REGISTER', code: '401' }),
          flood: floodResult,
        };
        runs.push(row);
        log(
          `run ${run} ${sc.name}: registered ${registered}/${o.devices} (failures ${failures}, keepalives refused ${rejectedKeepalives}), all in ${row.allRegisteredMs} ms, ` +
            `registration p50 ${round(row.registrationMs.p50)} p95 ${round(row.registrationMs.p95)} ms; probe ok ${row.probe.ok}/${row.probe.sent} rtt p50 ${round(row.probe.rttMs.p50, 2)} p99 ${round(row.probe.rttMs.p99, 2)} ms; ` +
            `gateway CPU ${row.gatewayCpuPercent} %; 401s sent ${row.challengesSent}, throttled 503 ${row.throttled.answered503} dropped ${row.throttled.dropped}`,
        );
        probe.close();
      } finally {
        await gw.stop();
      }
    }
  }

  const medians = {};
  for (const sc of scenarios) {
    const rows = runs.filter((r) => r.scenario === sc.name);
    medians[sc.name] = {
      successPercent: round((100 * median(rows.map((r) => r.registered))) / o.devices, 2),
      failures: median(rows.map((r) => r.failures)),
      rejectedKeepalives: median(rows.map((r) => r.rejectedKeepalives)),
      allRegisteredMs: median(rows.map((r) => r.allRegisteredMs ?? Infinity)),
      registrationP50Ms: round(median(rows.map((r) => r.registrationMs.p50))),
      registrationP95Ms: round(median(rows.map((r) => r.registrationMs.p95))),
      probeOkPercent: round(median(rows.map((r) => (100 * r.probe.ok) / Math.max(1, r.probe.sent))), 2),
      probeRttP50Ms: round(median(rows.map((r) => r.probe.rttMs.p50)), 2),
      probeRttP99Ms: round(median(rows.map((r) => r.probe.rttMs.p99)), 2),
      gatewayCpuPercent: round(median(rows.map((r) => r.gatewayCpuPercent ?? NaN))),
      challengesSent: median(rows.map((r) => r.challengesSent)),
      throttled: median(rows.map((r) => r.throttled.answered503 + r.throttled.dropped)),
    };
    log(`median ${sc.name}: ${JSON.stringify(medians[sc.name])}`);
  }
  const file = writeResult('register-flood', { options: o, floodPerSecond, machine, machineAfter: machineInfo(), runs, medians });
  log(`written ${file}`);
}

if (isMainThread) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
} else {
  floodWorker();
}
