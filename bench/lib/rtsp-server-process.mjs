// Parent side of rtsp-server-worker.mjs: the simulator's RTSP server in its own process.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.mjs';

const WORKER = fileURLToPath(new URL('./rtsp-server-worker.mjs', import.meta.url));

/** → { pid, port, fps, gop, stats({ resetDelay }), stop() } once the server listens. */
export async function startRtspServerProcess({ cameras, freeRunning, username, password, startupMs = 300_000 }) {
  const child = track(fork(WORKER, [JSON.stringify({ cameras, freeRunning, username, password })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] }), 'rtsp-server');
  let nextId = 1;
  const pending = new Map();
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`RTSP server not ready within ${startupMs} ms`)), startupMs);
    child.on('message', (msg) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg);
      } else if (msg.type === 'stats') {
        pending.get(msg.id)?.(msg);
        pending.delete(msg.id);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`RTSP server exited (code ${code})`));
      for (const r of pending.values()) r(null);
      pending.clear();
    });
  });
  const info = await ready;
  return {
    pid: child.pid,
    port: info.port,
    fps: info.fps,
    gop: info.gop,
    stats({ resetDelay = false } = {}) {
      if (!child.connected) return Promise.resolve(null);
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.send({ cmd: 'stats', id, resetDelay });
      });
    },
    async stop() {
      if (child.connected) child.send({ cmd: 'stop' });
      await stopChild(child, 10_000);
    },
  };
}
