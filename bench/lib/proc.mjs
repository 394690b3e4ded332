// CPU and memory of a process by PID, read from /proc (Linux): utime+stime from /proc/PID/stat, VmRSS and the
// peak VmHWM from /proc/PID/status. Used on the gateway child (and FerretDB) so their cost is measured apart
// from the load generator's.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux we run on
}

/** CPU seconds (user + system) the process has used so far, or null when it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** { rssMB, hwmMB } from /proc/PID/status, or null when the process is gone. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) : NaN;
    };
    return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Reset the peak RSS (VmHWM) to the current RSS, so a later VmHWM is the peak of the phase that follows. */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds of this process (the load generator). */
export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Samples a process every `intervalMs`: CPU seconds and RSS over time. `window()` gives CPU% of one core
 * per interval between consecutive samples.
 */
export class ProcessSampler {
  constructor(pid, intervalMs = 1000) {
    this.pid = pid;
    this.intervalMs = intervalMs;
    this.samples = [];
    this.timer = null;
  }

  sample() {
    const cpu = cpuSeconds(this.pid);
    const mem = memory(this.pid);
    if (cpu === null || mem === null) return null;
    const s = { t: performance.now(), cpu, rssMB: mem.rssMB, hwmMB: mem.hwmMB };
    this.samples.push(s);
    return s;
  }

  start() {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this;
  }

  /** CPU% of one core in each interval between consecutive samples. */
  cpuPercents() {
    const out = [];
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1];
      const b = this.samples[i];
      const dt = (b.t - a.t) / 1000;
      if (dt > 0) out.push((100 * (b.cpu - a.cpu)) / dt);
    }
    return out;
  }

  get cpuUsed() {
    if (this.samples.length < 2) return 0;
    return this.samples[this.samples.length - 1].cpu - this.samples[0].cpu;
  }

  get maxRssMB() {
    return this.samples.reduce((m, s) => Math.max(m, s.rssMB), 0);
  }

  get peakHwmMB() {
    return this.samples.reduce((m, s) => Math.max(m, s.hwmMB), 0);
  }
}

/** CPU seconds of this process's reaped children (cutime + cstime): a finished child's total CPU. */
export function reapedChildrenCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[13]) + Number(rest[14])) / clockTicks;
}

/** System-wide UDP counters from /proc/net/snmp (RcvbufErrors = datagrams dropped for a full socket buffer). */
export function udpCounters() {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}
