// Parent side of sim-worker.mjs: start the simulator in its own process, wait for its devices to register,
// ask it for counters, stop it.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.mjs';

const WORKER = fileURLToPath(new URL('./sim-worker.mjs', import.meta.url));

/**
 * fleet: DeviceFleetOptions (JSON-able; server, serverId, password, devices, codec, audio, …).
 * Resolves once every device is registered: { pid, devices, loops, stats(perStream), stop() }.
 */
export async function startSimProcess({ fleet, profiles = ['main'], registerTimeoutMs = 120_000, startupMs = 300_000 }) {
  const child = track(
    fork(WORKER, [JSON.stringify({ fleet: { personalisedChannels: 0, ...fleet }, profiles, registerTimeoutMs })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    }),
    'simulator',
  );
  let nextId = 1;
  const pending = new Map();
  let readyResolve;
  let readyReject;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  child.on('message', (msg) => {
    if (msg.type === 'ready') readyResolve(msg);
    else if (msg.type === 'error') readyReject(new Error(`simulator: ${msg.message}`));
    else if (msg.type === 'stats') {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  child.once('exit', (code) => {
    readyReject(new Error(`simulator exited (code ${code}) before its devices registered`));
    for (const r of pending.values()) r(null);
    pending.clear();
  });
  const timer = setTimeout(() => readyReject(new Error(`simulator not ready within ${startupMs} ms`)), startupMs);
  let info;
  try {
    info = await ready;
  } finally {
    clearTimeout(timer);
  }
  return {
    pid: child.pid,
    child,
    devices: info.devices,
    loops: info.loops,
    prepareMs: info.prepareMs,
    registeredAfterMs: info.registeredAfterMs,
    /** Counters; perStream adds one record per call. resetDelay starts a new event-loop delay window. */
    stats({ perStream = false, resetDelay = false } = {}) {
      if (!child.connected) return Promise.resolve(null);
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.send({ cmd: 'stats', id, perStream, resetDelay });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      if (child.connected) child.send({ cmd: 'stop' });
      // The fleet closes its sockets and exits by itself; SIGTERM (then SIGKILL) if it takes too long.
      const late = await Promise.race([exited.then(() => false), new Promise((r) => setTimeout(() => r(true), 10_000))]);
      if (late) await stopChild(child, 5_000);
    },
  };
}
