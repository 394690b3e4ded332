// System-call counts of a running process with `strace -c` (attach, count for a while, detach), for the
// question "where does the CPU go" in processes whose user-space profile we cannot take: `perf` sampling does
// not work in this VM (perf record gets no samples, perf stat counts nothing). ptrace slows the traced process
// down, so callers run this AFTER their measurement window, never during it.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { track } from './children.mjs';

export function straceAvailable() {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Attach to `pid` (all its threads) for `seconds`; → { seconds, totalCalls, callsPerSec, rows: [{ syscall,
 * calls, callsPerSec, errors, pctTime }] } sorted by calls, or { error }.
 */
export async function straceCounts(pid, seconds, top = 12) {
  const child = track(spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] }), 'strace');
  let text = '';
  child.stderr.on('data', (c) => (text += c.toString()));
  const exited = once(child, 'exit');
  await new Promise((r) => setTimeout(r, seconds * 1000));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  const rows = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length < 5 || !/^\d+\.\d+$/.test(f[0]) || f[f.length - 1] === 'total') continue;
    const hasErrors = f.length >= 6;
    rows.push({ syscall: f[f.length - 1], calls: Number(f[3]), errors: hasErrors ? Number(f[4]) : 0, pctTime: Number(f[0]) });
  }
  if (!rows.length) return { error: text.slice(-300) };
  rows.sort((a, b) => b.calls - a.calls);
  const totalCalls = rows.reduce((s, r) => s + r.calls, 0);
  return {
    seconds,
    totalCalls,
    callsPerSec: Math.round(totalCalls / seconds),
    rows: rows.slice(0, top).map((r) => ({ ...r, callsPerSec: Math.round(r.calls / seconds) })),
  };
}
