// sipp (Debian package sip-tester) as a load generator and as the trivial-registrar baseline.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { REPO_ROOT } from './paths.mjs';
import { freeTcpUdpPort } from './ports.mjs';
import { stopChild, track } from './children.mjs';
import { reapedChildrenCpuSeconds } from './proc.mjs';

export const REGISTER_SCENARIO = join(REPO_ROOT, 'test-fixtures/sipp/register.xml');
export const TRIVIAL_REGISTRAR_SCENARIO = join(REPO_ROOT, 'bench/sipp/trivial-registrar.xml');
/** REGISTER with digest, then the first keepalive (issue 8's storm scenario), and its do-nothing counterpart. */
export const REGISTER_KEEPALIVE_SCENARIO = join(REPO_ROOT, 'test-fixtures/sipp/register-keepalive.xml');
export const TRIVIAL_REGISTRAR_KEEPALIVE_SCENARIO = join(REPO_ROOT, 'bench/sipp/trivial-registrar-keepalive.xml');

/** Injection file: one device per line, its ID and sipp's own [authentication …] keyword (see register.xml). */
export function writeDeviceCsv(file, ids, password) {
  const lines = ['SEQUENTIAL', ...ids.map((id) => `${id};[authentication username=${id} password=${password}]`)];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The last number on the last line containing `label` in sipp's final statistics screen. */
function statistic(output, label) {
  const lines = output.split('\n').filter((l) => l.includes(label));
  const nums = (lines[lines.length - 1] ?? '').match(/\d+/g);
  return nums ? Number(nums[nums.length - 1]) : -1;
}

/**
 * Run a sipp client to completion. `transport` 'u1' (one socket for every call) or 'un' (one per call).
 * Resolves { code, successful, failed, wallMs, cpuSeconds, startedAt, output }.
 */
export async function runSippClient({ target, scenario = REGISTER_SCENARIO, csv, calls, rate, ratePeriodMs = 1000, limit, keys = {}, transport = 'u1', timeoutSec = 120, onStart }) {
  const localPort = await freeTcpUdpPort();
  const args = [
    target,
    '-sf', scenario,
    '-inf', csv,
    ...Object.entries(keys).flatMap(([k, v]) => ['-key', k, String(v)]),
    '-i', '127.0.0.1',
    '-p', String(localPort),
    '-t', transport,
    '-m', String(calls),
    '-r', String(rate),
    '-rp', String(ratePeriodMs),
    '-l', String(limit),
    '-timeout', `${timeoutSec}s`,
    '-timeout_error',
    '-nostdin',
    // A large socket buffer, so that sipp's own receive side never drops the gateway's answers.
    '-buff_size', '8388608',
  ];
  const cpuBefore = reapedChildrenCpuSeconds();
  const startedAt = performance.now();
  const child = track(spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] }), 'sipp');
  onStart?.(startedAt);
  let output = '';
  child.stdout.on('data', (d) => {
    output = (output + d.toString()).slice(-200_000);
  });
  child.stderr.on('data', (d) => {
    output = (output + d.toString()).slice(-200_000);
  });
  const [code] = await once(child, 'exit');
  const wallMs = performance.now() - startedAt;
  return {
    code,
    successful: statistic(output, 'Successful call'),
    failed: statistic(output, 'Failed call'),
    wallMs,
    cpuSeconds: reapedChildrenCpuSeconds() - cpuBefore,
    args: `sipp ${args.join(' ')}`,
    output,
  };
}

/** The trivial registrar (bench/sipp/trivial-registrar.xml, or the given scenario) as a sipp UAS on a free port. */
export async function startTrivialRegistrar({ scenario = TRIVIAL_REGISTRAR_SCENARIO } = {}) {
  const port = await freeTcpUdpPort();
  const child = track(
    spawn('sipp', ['-sf', scenario, '-i', '127.0.0.1', '-p', String(port), '-t', 'u1', '-nostdin', '-timeout', '900s', '-buff_size', '8388608'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    }),
    'sipp-uas',
  );
  // sipp binds within a few ms; give it a moment and check it is still alive.
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`sipp UAS exited at start (code ${child.exitCode})`);
  return { port, pid: child.pid, child, stop: () => stopChild(child, 3_000) };
}
