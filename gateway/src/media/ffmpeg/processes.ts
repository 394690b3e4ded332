/**
 * The one place that starts ffmpeg/ffprobe, and the registry of every child still running.
 *
 * We spawn the binaries directly with typed argument lists (see args.ts) instead of using fluent-ffmpeg: that
 * package is archived upstream since 2025, and a plain `child_process.spawn` with an explicit argument array
 * (no shell, no string concatenation) is easier to audit: what runs is exactly what args.ts returns.
 *
 * A child never outlives the gateway: `terminate` sends SIGTERM and SIGKILL 2 s later; a process 'exit' hook
 * SIGKILLs whatever is left. If the gateway itself is SIGKILLed, the packagers' stdin closes and ffmpeg ends at
 * end of input on its own.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export type MediaTool = 'ffmpeg' | 'ffprobe';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
const binaries: Record<MediaTool, string> = {
  ffmpeg: process.env.SE_FFMPEG_PATH || 'ffmpeg',
  ffprobe: process.env.SE_FFPROBE_PATH || 'ffprobe',
};

/** ffmpeg/ffprobe children started through this module that have not exited yet. */
export function activeFfmpegProcesses(): number {
  return live.size;
}

/** The binary a tool runs as (a PATH name or a path). */
export function mediaToolPath(tool: MediaTool): string {
  return binaries[tool];
}

/** Overrides the binaries (default: `ffmpeg`/`ffprobe` from PATH, or SE_FFMPEG_PATH / SE_FFPROBE_PATH). */
export function setMediaToolPath(tool: MediaTool, path: string): void {
  binaries[tool] = path;
}

export function spawnMediaTool(tool: MediaTool, args: readonly string[], stdio: StdioOptions): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const child = spawn(binaries[tool], [...args], { stdio, windowsHide: true });
  live.add(child);
  const forget = (): void => {
    live.delete(child);
  };
  child.once('exit', forget);
  // A failed spawn (ENOENT) emits 'error' and may never emit 'exit'.
  child.once('error', forget);
  child.once('close', forget);
  return child;
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function terminate(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (hasExited(child)) {
    live.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  if ((await Promise.race([exited, killed])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
  live.delete(child);
}

/** Keeps the last `limit` characters of a stream of text (ffmpeg's stderr), for error reports. */
export class TextTail {
  private text = '';
  constructor(private readonly limit = 4096) {}

  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }

  toString(): string {
    return this.text.slice(-this.limit).trim();
  }
}

/** Runs a tool to completion, collecting stdout; rejects on non-zero exit (with the stderr tail) or timeout. */
export async function runMediaTool(
  tool: MediaTool,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: Buffer } = {},
): Promise<Buffer> {
  const child = spawnMediaTool(tool, args, [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe']);
  const stdout: Buffer[] = [];
  const stderr = new TextTail();
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (opts.input) {
    child.stdin!.on('error', () => undefined); // EPIPE when the tool stops reading early; the exit code tells
    child.stdin!.end(opts.input);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void terminate(child, 500);
  }, opts.timeoutMs ?? 20_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    if (timedOut) throw new Error(`${tool} timed out after ${opts.timeoutMs ?? 20_000} ms: ${stderr}`);
    if (code !== 0) throw new Error(`${tool} exited with code ${code}: ${stderr}`);
    return Buffer.concat(stdout);
  } finally {
    clearTimeout(timer);
  }
}
