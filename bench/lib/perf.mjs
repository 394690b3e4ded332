// Linux `perf` sampling of a set of processes (the gateway's Node process and its ffmpeg children), for the
// question "where does the CPU go" below what /proc totals and a V8 profile can say: the kernel (UDP/TCP
// receive, pipes, file system), libavformat/libavcodec, libc, V8. Optional: the caller checks perfAvailable().
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function perfAvailable() {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Sample `pids` for `seconds` at `hz` (cpu-clock, works in VMs without hardware counters) into `file`, then
 * summarise: share of samples by command, by command+shared object, and the top symbols.
 */
export async function perfProfile(pids, seconds, file, { hz = 499, top = 30 } = {}) {
  await run('perf', ['record', '-e', 'cpu-clock', '-F', String(hz), '-p', pids.join(','), '-o', file, '--', 'sleep', String(seconds)], {
    timeout: (seconds + 60) * 1000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const report = async (sort) => {
    const { stdout } = await run('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', sort, '--percent-limit', '0.3'], {
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout
      .split('\n')
      .filter((l) => /^\s+\d/.test(l))
      .map((l) => l.trim().replace(/\s+/g, ' '))
      .slice(0, top);
  };
  return {
    file,
    byCommand: await report('comm'),
    byCommandAndObject: await report('comm,dso'),
    topSymbols: await report('comm,dso,sym'),
  };
}
