/** Child processes of this test process (the harness runs the gateway in process, so its ffmpegs are ours). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How many ffmpeg processes the gateway in this process runs now (pgrep exits 1 when there are none). */
export async function ffmpegChildren(): Promise<number> {
  try {
    const { stdout } = await run('pgrep', ['-c', '-P', String(process.pid), 'ffmpeg']);
    return Number(stdout.trim());
  } catch {
    return 0;
  }
}
