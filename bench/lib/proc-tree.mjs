// CPU and memory of a process TREE (Linux /proc): the gateway and every process under it (its ffmpeg and
// ffprobe children). A child that exits takes its CPU with it from the live tree, so the parent's cutime+cstime
// (CPU of children it has reaped, which Node does for every exited child) is added: live + reaped = all CPU
// the tree has used, with no gap when ffmpeg processes come and go during a measurement.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux we run on
}
let pageKB = 4;
try {
  pageKB = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) / 1024 || 4;
} catch {
  // 4 KiB pages
}

/** /proc/PID/stat → { pid, comm, ppid, cpu (s, user+sys), reapedCpu (s, cutime+cstime), rssMB } or null. */
export function readStat(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(open + 1, close);
  // Fields after ") ": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17) … rss(24), numbered from 1.
  const f = stat.slice(close + 2).split(' ');
  return {
    pid: Number(pid),
    comm,
    ppid: Number(f[1]),
    cpu: (Number(f[11]) + Number(f[12])) / clockTicks,
    userCpu: Number(f[11]) / clockTicks,
    sysCpu: Number(f[12]) / clockTicks,
    reapedCpu: (Number(f[13]) + Number(f[14])) / clockTicks,
    rssMB: (Number(f[21]) * pageKB) / 1024,
  };
}

/** Every live process under `rootPid` (not the root itself), as readStat() records. */
export function descendants(rootPid) {
  const byParent = new Map();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(name);
    if (!s) continue;
    const list = byParent.get(s.ppid) ?? [];
    list.push(s);
    byParent.set(s.ppid, list);
  }
  const out = [];
  const queue = [Number(rootPid)];
  while (queue.length) {
    const p = queue.shift();
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/**
 * One reading of a tree: the root's own CPU, its children's (live + reaped) CPU by command name, RSS of the
 * root and the sum over the children (shared library pages counted once per process: an upper bound; see
 * pssMB() for the proportional figure).
 */
export function treeReading(rootPid) {
  const started = performance.now();
  const root = readStat(rootPid);
  if (!root) return null;
  const kids = descendants(rootPid);
  const byComm = {};
  for (const k of kids) {
    const c = (byComm[k.comm] ??= { processes: 0, cpu: 0, rssMB: 0 });
    c.processes++;
    c.cpu += k.cpu + k.reapedCpu;
    c.rssMB += k.rssMB;
  }
  const childrenLiveCpu = kids.reduce((s, k) => s + k.cpu + k.reapedCpu, 0);
  return {
    // Walking /proc for hundreds of processes takes a while on a loaded box: the reading is dated at its middle.
    t: (started + performance.now()) / 2,
    rootCpu: root.cpu,
    rootUserCpu: root.userCpu,
    rootSysCpu: root.sysCpu,
    rootRssMB: root.rssMB,
    childrenCpu: childrenLiveCpu + root.reapedCpu,
    reapedCpu: root.reapedCpu,
    children: kids.length,
    childrenRssMB: kids.reduce((s, k) => s + k.rssMB, 0),
    byComm,
    pids: kids.map((k) => ({ pid: k.pid, comm: k.comm })),
  };
}

/** Proportional set size (MB) from /proc/PID/smaps_rollup: shared pages split between their users. */
export function pssMB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** PSS of the root and of all its descendants (expensive with hundreds of processes: call it once, not per sample). */
export function treePss(rootPid) {
  const kids = descendants(rootPid);
  let children = 0;
  let n = 0;
  for (const k of kids) {
    const p = pssMB(k.pid);
    if (p !== null) {
      children += p;
      n++;
    }
  }
  return { rootPssMB: pssMB(rootPid), childrenPssMB: children, childrenMeasured: n };
}

/**
 * Samples a tree every `intervalMs`. Differences between readings give CPU % of one core for the root
 * (the gateway's Node process), its children (ffmpeg…), and the total.
 */
export class TreeSampler {
  constructor(rootPid, intervalMs = 1000) {
    this.pid = rootPid;
    this.intervalMs = intervalMs;
    this.readings = [];
    this.timer = null;
  }

  sample() {
    const r = treeReading(this.pid);
    if (r) {
      // Per-process lists are large with hundreds of children: keep them only on the latest reading.
      const prev = this.readings[this.readings.length - 1];
      if (prev) delete prev.pids;
      this.readings.push(r);
    }
    return r;
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

  /** CPU % of one core between the first and last reading: { root, rootUser, rootSys, children, total, byComm }. */
  average(from = 0, to = this.readings.length - 1) {
    const a = this.readings[from];
    const b = this.readings[to];
    if (!a || !b || b.t <= a.t) return null;
    const dt = (b.t - a.t) / 1000;
    const pct = (x) => (100 * x) / dt;
    const byComm = {};
    for (const [comm, v] of Object.entries(b.byComm)) {
      const before = a.byComm[comm]?.cpu ?? 0;
      // A command whose processes all exited between a and b shows up only in the root's reaped CPU.
      byComm[comm] = { processes: v.processes, cpuPercent: pct(Math.max(0, v.cpu - before)), rssMB: v.rssMB };
    }
    return {
      seconds: dt,
      root: pct(b.rootCpu - a.rootCpu),
      rootUser: pct(b.rootUserCpu - a.rootUserCpu),
      rootSys: pct(b.rootSysCpu - a.rootSysCpu),
      children: pct(b.childrenCpu - a.childrenCpu),
      total: pct(b.rootCpu - a.rootCpu + b.childrenCpu - a.childrenCpu),
      byComm,
    };
  }

  /** Per-interval total CPU % (for the peak). */
  totals() {
    const out = [];
    for (let i = 1; i < this.readings.length; i++) {
      const a = this.readings[i - 1];
      const b = this.readings[i];
      const dt = (b.t - a.t) / 1000;
      if (dt > 0) out.push((100 * (b.rootCpu - a.rootCpu + b.childrenCpu - a.childrenCpu)) / dt);
    }
    return out;
  }

  get maxRootRssMB() {
    return this.readings.reduce((m, r) => Math.max(m, r.rootRssMB), 0);
  }

  get maxChildrenRssMB() {
    return this.readings.reduce((m, r) => Math.max(m, r.childrenRssMB), 0);
  }

  get last() {
    return this.readings[this.readings.length - 1];
  }
}

/** Machine-wide CPU from /proc/stat: { busy, total } jiffies; differences give how busy the whole box was. */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Busy % of all cores (100 = every core busy) between two machineCpu() readings. */
export function machineBusyPercent(a, b) {
  const dt = b.total - a.total;
  return dt > 0 ? (100 * (b.busy - a.busy)) / dt : NaN;
}

/**
 * UDP datagrams the kernel dropped on the sockets a process holds (the "drops" column of /proc/net/udp{,6}:
 * receive buffer full, or a bad checksum), summed. Unlike /proc/net/snmp RcvbufErrors this counts only that
 * process's sockets, not every other test on the machine. → { sockets, drops, rxQueueBytes }
 */
export function udpSocketDrops(pid) {
  const inodes = new Set();
  let fds = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let sockets = 0;
  let drops = 0;
  let rxQueueBytes = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13 || !inodes.has(f[9])) continue;
      sockets++;
      rxQueueBytes += Number.parseInt(f[4].split(':')[1], 16);
      drops += Number(f[12]);
    }
  }
  return { sockets, drops, rxQueueBytes };
}

/**
 * System-call and scheduling counters of a process, summed over its threads: read/write syscalls and bytes
 * (/proc/PID/io: syscr counts read/readv/pread…, not recvmsg on sockets) and context switches
 * (voluntary = it blocked waiting for input; involuntary = preempted). null when it is gone.
 */
export function ioAndSwitches(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const num = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    let voluntary = 0;
    let involuntary = 0;
    let threads = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
        involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
        threads++;
      } catch {
        // thread ended
      }
    }
    return { syscr: num('syscr'), syscw: num('syscw'), rchar: num('rchar'), wchar: num('wchar'), voluntary, involuntary, threads };
  } catch {
    return null;
  }
}

/** Per-second rates between two ioAndSwitches() readings. */
export function ioRates(a, b, seconds) {
  if (!a || !b) return null;
  const r = (k) => (b[k] - a[k]) / seconds;
  return { readsPerSec: r('syscr'), writesPerSec: r('syscw'), readKBps: r('rchar') / 1024, writeKBps: r('wchar') / 1024, wakeupsPerSec: r('voluntary'), preemptionsPerSec: r('involuntary'), threads: b.threads };
}
