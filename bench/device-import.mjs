// Issue 10, benchmark 2 — bulk import: N ONVIF devices through POST /api/devices/import, time until all are
// added and probed (≤ 60 s for 5,000 is the target).
//
// Targets: N simulated ONVIF cameras (OnvifFleet, RTSP off), each an HTTP server on its own port of 127.0.0.1,
// so every row is a distinct endpoint with its own SOAP conversation (GetSystemDateAndTime, GetDeviceInformation,
// capabilities/services, profiles and stream URIs). They all run in this benchmark's process, which shares the 2
// cores with the gateway: the cameras' CPU is part of the figure.
// The gateway is a child process (`node bin/sharp-eyes.js serve`, sqlite store), a fresh one per run and mode.
//
// Modes, in the same round, each on a fresh gateway:
//   import   one POST /api/devices/import (JSON array): request → answer. The answer comes when every row is
//            done, and adding describes the device, so at the answer every device is added and probed once
//            (status decided). Checked: GET /api/devices?status=online total = N.
//   single   the baseline: N POST /api/devices one after the other (what an integrator's script without the
//            import route does), request → last answer; the same check.
// Import concurrency is devices.pollConcurrency (default 64).
//
//   npm run build
//   node bench/device-import.mjs [--count 5000] [--runs 3] [--modes import,single]
import { options } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess } from './lib/gateway.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport } from './lib/paths.mjs';
import { log, writeResult } from './lib/out.mjs';
import { median, round } from './lib/stats.mjs';

const opts = options({ count: 5000, runs: 3, modes: 'import,single' }, 'node bench/device-import.mjs [--count 5000] [--runs 3] [--modes import,single]');
guardProcess(3 * 3600);
const modes = opts.modes.split(',');
const { OnvifFleet } = await distImport('sim/onvif/onvif-fleet.js');

const machine = machineInfo();
log(`machine: ${machineLine(machine)}`);
const fleetStart = performance.now();
const fleet = new OnvifFleet({ cameras: opts.count, rtsp: false, discoveryInterface: null, password: 'bench-cam-pass' });
await fleet.start();
log(`${opts.count} ONVIF cameras on ports ${Math.min(...fleet.cameras.map((c) => c.port))}–${Math.max(...fleet.cameras.map((c) => c.port))} in ${round((performance.now() - fleetStart) / 1000)} s`);
const bodies = fleet.cameras.map((c, i) => ({ protocol: 'onvif', host: c.host, port: c.port, username: 'admin', password: 'bench-cam-pass', name: `bench cam ${i + 1}` }));

async function post(gw, path, body) {
  const res = await fetch(`${gw.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function onlineCount(gw) {
  const res = await fetch(`${gw.httpUrl}/api/devices?status=online&limit=1`, { headers: { authorization: `Bearer ${gw.token}` } });
  return (await res.json()).total;
}

async function runOnce(mode) {
  const gw = await startGatewayProcess();
  try {
    const load = (await import('node:os')).loadavg().map((x) => round(x, 2));
    const t0 = performance.now();
    let failed = 0;
    if (mode === 'import') {
      const r = await post(gw, '/api/devices/import', bodies);
      if (r.status !== 200) throw new Error(`import answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
      failed = r.body.failed;
    } else {
      for (const body of bodies) {
        const r = await post(gw, '/api/devices', body);
        if (r.status !== 201) failed++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const online = await onlineCount(gw);
    log(`${mode}: ${opts.count} devices in ${round(seconds, 1)} s, ${online} online, ${failed} failed (load before ${load.join(' ')})`);
    return { mode, seconds: round(seconds, 2), online, failed, loadBefore: load, gatewayWarnings: gw.warnings() };
  } finally {
    await gw.stop();
  }
}

const results = [];
try {
  for (let run = 1; run <= opts.runs; run++) {
    for (const mode of modes) results.push({ run, ...(await runOnce(mode)) });
  }
} finally {
  await fleet.stop();
  await stopAll();
}
const summary = Object.fromEntries(modes.map((m) => [m, { medianSeconds: round(median(results.filter((r) => r.mode === m).map((r) => r.seconds)), 1), runs: results.filter((r) => r.mode === m).map((r) => r.seconds) }]));
log(`summary: ${JSON.stringify(summary)}`);
const file = writeResult('device-import', { machine, count: opts.count, results, summary });
log(`written ${file}`);
