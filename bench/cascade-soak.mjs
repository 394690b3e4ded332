// Cascade restart soak (issue 11; WVP #1927: "after hours of uptime and restarts of the upper platform, the lower
// devices and the gateway itself, an upper INVITE still works").
//
// Three parties, each a child process that can be killed and started again on the same ports:
//   - the gateway under test (`node bin/sharp-eyes.js serve`, fixed SIP/HTTP ports and data directory; the upper
//     platform comes from SE_CASCADE_PLATFORMS, share all, keepalive every --keepalive-sec);
//   - simulated GB devices (dist/sim DeviceFleet in bench/lib/soak-worker.mjs; IPCs and one NVR);
//   - the simulator's upper platform (dist/sim UpperPlatform in bench/lib/soak-worker.mjs; digest registrar,
//     Catalog query, INVITE + ffprobe on the RTP/PS it receives).
// Each cycle restarts one party, in turn: upper kill -9 (with a TCP and a UDP upward leg playing at that moment), upper clean
// stop, devices kill -9, devices clean stop (REGISTER Expires 0), gateway kill -9, gateway clean stop (SIGTERM).
// After each restart, the cycle passes when, within --recover-sec:
//   1. the gateway is registered with the upper again (a new REGISTER accepted by it since the restart) and
//      GET /api/platforms says online;
//   2. the upper's Catalog query answers every device channel, all ON;
//   3. an upper INVITE (UDP, and TCP passive every other cycle) of a channel delivers RTP/PS that ffprobe decodes
//      as H.264 with frames; then BYE;
//   4. nothing leaks: the gateway's upward legs (GET /api/platforms upwardLegs) and open streams (se_streams_active)
//      return to 0, the cameras' sending streams to 0, and the gateway's open file descriptors (/proc/PID/fd) stay
//      within --fd-slack of the first figure of the same gateway process.
// It records per cycle the action, the recovery time (restart → all checks passed) and the figures, and stops at
// the first failure (exit 1) or after --cycles cycles / --minutes minutes (whichever first; 0 = no bound).
//
//   npm run build
//   node bench/cascade-soak.mjs [--cycles 12] [--minutes 0] [--devices 3] [--keepalive-sec 5] [--recover-sec 90]
//        [--actions upper-kill,gateway-kill]   (the restarts to rotate through; default all six)
//        [--idle-sec 20]                       (media.idleSec of the gateway: a stream without viewers closes after it)
//   (mostly idle between restarts; no bench lock needed for CPU, but see bench/README.md)
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { options } from './lib/args.mjs';
import { guardProcess, isRunning, stopChild, track } from './lib/children.mjs';
import { REPO_ROOT } from './lib/paths.mjs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { ApiClient, metricValue } from './lib/api.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { median, round } from './lib/stats.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/cascade-soak.mjs [--cycles N] [--minutes M] [--devices D] [--keepalive-sec K] [--recover-sec R] [--fd-slack F] [--idle-sec S] [--actions upper-kill,upper-stop,devices-kill,devices-stop,gateway-kill,gateway-stop]';
const ALL_ACTIONS = ['upper-kill', 'upper-stop', 'devices-kill', 'devices-stop', 'gateway-kill', 'gateway-stop'];
const opt = options({ cycles: 12, minutes: 0, devices: 3, 'keepalive-sec': 5, 'recover-sec': 90, 'fd-slack': 8, 'idle-sec': 20, actions: ALL_ACTIONS.join(',') }, USAGE);
const ACTIONS = opt.actions.split(',').map((a) => a.trim()).filter(Boolean);
for (const a of ACTIONS) {
  if (!ALL_ACTIONS.includes(a)) {
    process.stderr.write(`--actions: unknown action ${a} (one of ${ALL_ACTIONS.join(', ')})\n`);
    process.exit(2);
  }
}
const boundSec = opt.minutes > 0 ? opt.minutes * 60 + 300 : opt.cycles * (opt['recover-sec'] + 120) + 300;
guardProcess(boundSec);

const WORKER = fileURLToPath(new URL('./lib/soak-worker.mjs', import.meta.url));
const GATEWAY_ID = '44030500002000000001';
const DEVICE_PASSWORD = 'soak-devices-12345';
const UPPER = { id: '44000000002000000001', domain: '4400000000', password: 'soak-upper-secret' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------- the parties

/** A soak-worker child (upper platform or devices) with request/answer over IPC. */
async function startWorker(config, name) {
  const child = track(fork(WORKER, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] }), name);
  let nextId = 1;
  const pending = new Map();
  let ready;
  const readyP = new Promise((resolve, reject) => {
    ready = { resolve, reject };
  });
  child.on('message', (msg) => {
    if (msg.type === 'ready') ready.resolve(msg);
    else if (msg.type === 'error') ready.reject(new Error(`${name}: ${msg.message}`));
    else if (msg.id !== undefined) {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  child.once('exit', (code, signal) => {
    ready.reject(new Error(`${name} exited (${code ?? signal}) before it was ready`));
    for (const r of pending.values()) r({ ok: false, error: `${name} exited` });
    pending.clear();
  });
  const timer = setTimeout(() => ready.reject(new Error(`${name} not ready within 120 s`)), 120_000);
  const info = await readyP.finally(() => clearTimeout(timer));
  const call = (cmd, args = {}, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${name} is not running`));
      const id = nextId++;
      const t = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${name}: ${cmd} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, (msg) => {
        clearTimeout(t);
        if (msg.ok) resolve(msg.result);
        else reject(new Error(`${name}: ${cmd}: ${msg.error}`));
      });
      child.send({ id, cmd, args });
    });
  return {
    child,
    info,
    call,
    async kill() {
      if (!isRunning(child)) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    async stopClean() {
      if (!isRunning(child)) return;
      const exited = once(child, 'exit');
      await call('stop', { unregister: true }, 20_000).catch(() => undefined);
      const late = await Promise.race([exited.then(() => false), sleep(15_000).then(() => true)]);
      if (late) await stopChild(child, 5_000);
    },
  };
}

// Ports that must stay ours across restarts are taken below the kernel's ephemeral range (32768+ here): a port
// handed out by the kernel is soon reused by some other process's outgoing socket, and the restarted gateway could
// not bind its own port again. The gateway's media ports get a block of their own for the same reason.
async function portOutsideEphemeral(from, to) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if ((await tcpPortFree(port)) && (await udpPortFree(port))) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}
const mediaBase = 21_000 + 500 * Math.floor(Math.random() * 16);
const ports = { sip: await portOutsideEphemeral(20_000, 20_999), http: await portOutsideEphemeral(20_000, 20_999), upper: await portOutsideEphemeral(20_000, 20_999), media: `${mediaBase}-${mediaBase + 499}` };
const dataDir = mkdtempSync(join(tmpdir(), 'se-soak-gw-'));
const token = `soak-${randomBytes(12).toString('hex')}`;
const api = new ApiClient(`http://127.0.0.1:${ports.http}`, token);

async function startGateway() {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SE_') && k !== 'NODE_OPTIONS'));
  const env = {
    ...baseEnv,
    SE_SIP_ID: GATEWAY_ID,
    SE_SIP_HOST: '127.0.0.1',
    SE_SIP_ADVERTISED_HOST: '127.0.0.1',
    SE_SIP_PORT: String(ports.sip),
    SE_SIP_PASSWORD: DEVICE_PASSWORD,
    SE_SIP_REGISTER_THROTTLE_RATE_PER_SEC: '0',
    SE_HTTP_HOST: '127.0.0.1',
    SE_HTTP_PORT: String(ports.http),
    SE_API_TOKEN: token,
    SE_DATA_DIR: dataDir,
    SE_MONGO_URL: '',
    SE_ADMIN_PASSWORD: 'soak-admin-password',
    SE_LOG_LEVEL: 'warn',
    SE_RTMP_PORT: '0',
    SE_MEDIA_PORTS: ports.media,
    // A stream without viewers closes after this (production default 20 s); the leak check waits for it.
    SE_MEDIA_IDLE_SEC: String(opt['idle-sec']),
    SE_CASCADE_PLATFORMS: JSON.stringify([{ ...UPPER, host: '127.0.0.1', port: ports.upper, transport: 'udp', keepaliveSec: opt['keepalive-sec'], keepaliveMisses: 2, shareAll: true }]),
  };
  const child = track(spawn(process.execPath, [join(REPO_ROOT, 'bin/sharp-eyes.js'), 'serve'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }), 'gateway');
  let tail = '';
  const onLog = (c) => {
    tail = (tail + c.toString()).slice(-6000);
  };
  child.stdout.on('data', onLog);
  child.stderr.on('data', onLog);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!isRunning(child)) throw new Error(`gateway exited during start-up:\n${tail}`);
    const res = await api.get('/healthz', { auth: false, timeoutMs: 2_000 }).catch(() => null);
    if (res?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`gateway /healthz not 200 within 60 s:\n${tail}`);
    await sleep(100);
  }
  return {
    child,
    pid: child.pid,
    tail: () => tail,
    async kill() {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    stopClean: () => stopChild(child, 30_000),
  };
}

const startUpper = () => startWorker({ role: 'upper', upper: { ...UPPER, port: ports.upper } }, 'upper');
const startDevices = () =>
  startWorker(
    {
      role: 'devices',
      fleet: { server: `127.0.0.1:${ports.sip}`, serverId: GATEWAY_ID, password: DEVICE_PASSWORD, devices: opt.devices, nvrEvery: opt.devices, channelsPerNvr: 2, keepaliveSec: opt['keepalive-sec'], personalisedChannels: 0, idPrefix: '44030600', firstSerial: 700 },
    },
    'devices',
  );

function tcpPortFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function udpPortFree(port) {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------------------- the checks

async function waitUntil(what, deadline, probe) {
  let last = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within the recovery bound${last ? ` (last: ${last})` : ''}`);
    await sleep(250);
  }
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

async function gatewayPlatform() {
  return api.json(`/api/platforms/${UPPER.id}`, { timeoutMs: 5_000 });
}

/** Everything that must hold after a restart; returns the figures. */
async function check(state, cycle, restartedAt) {
  const deadline = restartedAt + opt['recover-sec'] * 1000;
  const figures = {};
  // 1. Registered again: the upper accepted a REGISTER after the restart, and the gateway shows online.
  // (A restart of the devices leaves the link alone: then it must simply still be registered.)
  await waitUntil('upper registration', deadline, async () => {
    const s = await state.upper.call('state', {}, 5_000);
    return (!state.mustReregister || s.stats.registersAccepted > state.acceptedBefore) && s.lowers.some((l) => l.id === GATEWAY_ID);
  });
  figures.registeredMs = Date.now() - restartedAt;
  if (state.gatewayStartMs !== null) figures.gatewayStartMs = state.gatewayStartMs;
  state.gatewayStartMs = null;
  await waitUntil('platform online', deadline, async () => (await gatewayPlatform()).status === 'online');
  // 2. The catalog: every channel of the devices, all ON.
  const expected = state.channelIds;
  const catalog = await waitUntil('catalog with every channel ON', deadline, async () => {
    const r = await state.upper.call('catalog', { lowerId: GATEWAY_ID }, 30_000);
    const on = new Set(r.items.filter((i) => i.status === 'ON').map((i) => i.id));
    return r.complete && expected.every((id) => on.has(id)) ? r : null;
  });
  figures.catalogItems = catalog.sumNum;
  figures.catalogMs = round(catalog.totalMs, 0);
  figures.catalogReadyMs = Date.now() - restartedAt;
  // 3. INVITE from above: RTP/PS that ffprobe decodes.
  const channelId = expected[cycle % expected.length];
  const transports = cycle % 2 === 0 ? ['udp', 'tcp-passive'] : ['udp'];
  figures.plays = [];
  for (const transport of transports) {
    const play = await waitUntil(`INVITE ${channelId} over ${transport}`, deadline + 30_000, () => state.upper.call('play', { lowerId: GATEWAY_ID, channelId, transport }, 60_000));
    if (!play.video || play.video.codec !== 'h264' || !(play.video.frames > 5)) throw new Error(`INVITE ${channelId} over ${transport}: ffprobe found no H.264 frames: ${JSON.stringify(play.video)}`);
    figures.plays.push({ transport, firstPacketMs: round(play.firstPacketMs, 0), bytes: play.bytes, frames: play.video.frames, lost: play.lost, ssrc: play.answer?.ssrc });
  }
  figures.playedMs = Date.now() - restartedAt;
  // 4. No leaks: legs, streams, camera streams back to 0; descriptors near this gateway process's first figure.
  const leakDeadline = Date.now() + 60_000;
  await waitUntil('upward legs back to 0', leakDeadline, async () => (await gatewayPlatform()).upwardLegs === 0);
  await waitUntil('gateway streams back to 0', leakDeadline, async () => metricValue(await api.metrics(), 'se_streams_active') === 0);
  await waitUntil('camera streams back to 0', leakDeadline, async () => (await state.devices.call('state', {}, 5_000)).media.activeStreams === 0);
  const fds = fdCount(state.gateway.pid);
  state.fdBaseline ??= fds;
  figures.fds = fds;
  figures.fdBaseline = state.fdBaseline;
  if (fds !== null && fds > state.fdBaseline + opt['fd-slack']) throw new Error(`gateway file descriptors ${fds} > first figure ${state.fdBaseline} + ${opt['fd-slack']}`);
  const m = await api.metrics();
  figures.rssMB = round((metricValue(m, 'process_resident_memory_bytes') || 0) / 2 ** 20, 1);
  return figures;
}

// ---------------------------------------------------------------------------------------------- the run

const machine = machineInfo();
const startedAt = Date.now();
const loadStart = loadavg();
log(`cascade soak: ${machineLine(machine)}; load ${loadStart.map((x) => round(x, 2)).join(' ')}`);
const state = { upper: await startUpper(), gateway: null, devices: null, acceptedBefore: 0, mustReregister: true, channelIds: [], fdBaseline: null, gatewayStartMs: null };
state.gateway = await startGateway();
state.devices = await startDevices();
state.channelIds = state.devices.info.devices.flatMap((d) => d.channelIds).sort();
log(`parties up: gateway pid ${state.gateway.pid} (SIP ${ports.sip}), upper :${ports.upper}, ${state.devices.info.devices.length} devices / ${state.channelIds.length} channels`);

const cycles = [];
let failure = null;
try {
  const first = await check(state, 0, startedAt);
  log(`cycle 0 (start): ${JSON.stringify(first)}`);
  cycles.push({ cycle: 0, action: 'start', ...first });
  for (let cycle = 1; opt.cycles <= 0 || cycle <= opt.cycles; cycle++) {
    if (opt.minutes > 0 && Date.now() - startedAt > opt.minutes * 60_000) break;
    const action = ACTIONS[(cycle - 1) % ACTIONS.length];
    state.mustReregister = !action.startsWith('devices');
    state.acceptedBefore = (await state.upper.call('state', {}, 5_000)).stats.registersAccepted;
    let restartedAt;
    if (action.startsWith('upper')) {
      if (action === 'upper-kill') {
        // A platform that dies with streams running: the TCP leg's connection breaks, and the UDP leg's platform
        // answers the next keepalive 404 (it forgot us); the gateway must end both legs.
        await state.upper.call('play', { lowerId: GATEWAY_ID, channelId: state.channelIds[0], transport: 'tcp-passive', keep: true }, 60_000);
        await state.upper.call('play', { lowerId: GATEWAY_ID, channelId: state.channelIds[1], transport: 'udp', keep: true }, 60_000);
        await state.upper.kill();
      } else await state.upper.stopClean();
      state.upper = await startUpper();
      state.acceptedBefore = 0; // a new process counts from 0
      restartedAt = Date.now();
    } else if (action.startsWith('devices')) {
      if (action === 'devices-kill') await state.devices.kill();
      else await state.devices.stopClean();
      restartedAt = Date.now();
      state.devices = await startDevices();
    } else {
      if (action === 'gateway-kill') await state.gateway.kill();
      else await state.gateway.stopClean();
      restartedAt = Date.now();
      state.gateway = await startGateway();
      state.gatewayStartMs = Date.now() - restartedAt; // start-up until /healthz answers (part of registeredMs)
      state.fdBaseline = null; // a new process: its own first figure
    }
    try {
      const figures = await check(state, cycle, restartedAt);
      cycles.push({ cycle, action, ...figures });
      log(`cycle ${cycle} (${action}): ${JSON.stringify(figures)}`);
    } catch (err) {
      failure = { cycle, action, error: err.message };
      log(`cycle ${cycle} (${action}) FAILED: ${err.message}`);
      log(`gateway log tail:\n${state.gateway.tail()}`);
      break;
    }
  }
} catch (err) {
  failure = { cycle: cycles.length, action: 'start', error: err.message };
  log(`FAILED: ${err.message}`);
} finally {
  // The gateway first: its clean stop unregisters from the upper platform, which must still be there to answer.
  await state.gateway?.stopClean().catch(() => undefined);
  await Promise.allSettled([state.upper?.stopClean(), state.devices?.stopClean()]);
  api.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const loadEnd = loadavg();
const byAction = {};
for (const c of cycles.filter((c) => c.action !== 'start')) (byAction[c.action] ??= []).push(c.playedMs);
const result = {
  machine: machineLine(machine),
  date: new Date(startedAt).toISOString(),
  minutes: round((Date.now() - startedAt) / 60_000, 1),
  options: opt,
  loadavg: { start: loadStart.map((x) => round(x, 2)), end: loadEnd.map((x) => round(x, 2)) },
  cyclesPassed: cycles.filter((c) => c.action !== 'start').length,
  failure,
  // Restart → registered, catalog complete and an upper INVITE decoded (median ms per action).
  recoveryMedianMs: Object.fromEntries(Object.entries(byAction).map(([a, v]) => [a, round(median(v), 0)])),
  cycles,
};
const file = writeResult('cascade-soak', result);
log(`${failure ? 'FAILED' : 'passed'}: ${result.cyclesPassed} restart cycles in ${result.minutes} min; recovery medians ${JSON.stringify(result.recoveryMedianMs)}; load ${result.loadavg.start.join(' ')} → ${result.loadavg.end.join(' ')}; ${file}`);
process.exit(failure ? 1 : 0);
