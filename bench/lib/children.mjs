// Every child process a benchmark starts is registered here, so that it is stopped on every way out:
// normal end, an exception, Ctrl+C, SIGTERM, or the script's own deadline. Nothing outlives the script.
import { once } from 'node:events';

const children = new Set();
let deadlineTimer = null;
let exiting = false;

/** Register a ChildProcess; it is forgotten when it exits. */
export function track(child, name = 'child') {
  const entry = { child, name };
  children.add(entry);
  child.once('exit', () => children.delete(entry));
  return child;
}

export function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process has exited. */
export async function stopChild(child, graceMs = 15_000, signal = 'SIGTERM') {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => {
    if (isRunning(child)) child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(graceMs = 10_000) {
  await Promise.all([...children].map((e) => stopChild(e.child, graceMs).catch(() => undefined)));
}

function killAllNow() {
  for (const { child } of children) {
    try {
      if (isRunning(child)) child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function bailOut(code, message) {
  if (exiting) return;
  exiting = true;
  if (message) process.stderr.write(`${message}\n`);
  await stopAll(5_000);
  process.exit(code);
}

/**
 * Install the exit guards once per script: children are killed on exceptions, signals and process exit, and
 * the whole script is stopped after `maxSeconds` (the bound every benchmark promises).
 */
export function guardProcess(maxSeconds) {
  process.on('exit', killAllNow);
  process.on('SIGINT', () => void bailOut(130, 'bench: interrupted; stopping child processes'));
  process.on('SIGTERM', () => void bailOut(143, 'bench: terminated; stopping child processes'));
  process.on('uncaughtException', (err) => void bailOut(1, `bench: ${err?.stack ?? err}`));
  process.on('unhandledRejection', (err) => void bailOut(1, `bench: unhandled rejection: ${err?.stack ?? err}`));
  if (maxSeconds > 0) {
    deadlineTimer = setTimeout(() => void bailOut(3, `bench: deadline of ${maxSeconds} s reached; stopping`), maxSeconds * 1000);
    deadlineTimer.unref();
  }
}
