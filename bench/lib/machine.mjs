// The machine a figure was measured on, recorded with every result.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, loadavg, release } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.mjs';

export function machineInfo() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch {
    // keep os.cpus()
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // keep os.cpus()
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  let distBuiltAt = 'missing';
  try {
    // The code under test is dist/, which may lag behind the commit: record when it was compiled.
    distBuiltAt = statSync(join(REPO_ROOT, 'dist', 'app.js')).mtime.toISOString();
  } catch {
    // not built
  }
  let dirtyGatewaySources = null;
  try {
    dirtyGatewaySources = execFileSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'gateway/src'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    nproc,
    cpuModel: model,
    ramGB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    kernel: release(),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    gitCommit: commit,
    distBuiltAt,
    dirtyGatewaySources,
  };
}

export function machineLine(m = machineInfo()) {
  return `${m.nproc} × ${m.cpuModel}, ${m.ramGB} GB RAM, Node ${m.node}, Linux ${m.kernel}, commit ${m.gitCommit} (dist built ${m.distBuiltAt}, ${m.dirtyGatewaySources} uncommitted gateway/src files), load ${m.loadavg.join(' ')}, ${m.date}`;
}
