/**
 * `sharp-eyes sim --rtmp N`: N RTMP pushers (as a drone, a mobile unit or OBS would be) that publish real H.264 +
 * AAC to the gateway.
 *
 * Where they publish: an RTMP device's publish URL is signed per channel by the gateway, so the pushers cannot
 * make one up. By default the simulator asks the gateway's API for N RTMP devices named "<prefix> 1…N" through
 * POST /api/devices/import — the import's identity rule (an RTMP device is identified by its name) makes a
 * second run reuse the same devices and channel IDs instead of piling up new ones — and reads each one's
 * publishUrl from GET /api/devices/:id. The devices stay when the simulator stops (the wall keeps its tiles;
 * DELETE /api/devices/:id removes one). With `--rtmp-url` the URLs are given instead and the API is not used.
 *
 * Media: one 10 s loop (640×360 H.264 at 25 fps with a 1 s GOP, AAC-LC 44.1 kHz) is encoded once into the
 * simulator's media cache; each pusher is an `ffmpeg -re -stream_loop -1 … -c copy -f flv` of it, so N
 * pushers cost N remuxes and no encoding. ffmpeg runs through media/ffmpeg's process registry (one place that
 * starts ffmpeg, and no child outlives us). A pusher that stops (the gateway restarted, the device was deleted)
 * is restarted with a backoff of 1 s doubling to 30 s, and says so.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMediaTool, spawnMediaTool, terminate } from '../media/ffmpeg/index.js';

export interface RtmpPushersOptions {
  /** Publish URLs given by the user (--rtmp-url); when absent, `count` devices are created through `api`. */
  urls?: readonly string[];
  count: number;
  api?: { baseUrl: string; token: string };
  /** Device names: "<namePrefix> <i>". */
  namePrefix: string;
  cacheDir?: string;
  /** One line of what happens (the CLI prints it). */
  log: (line: string) => void;
}

export interface RtmpPushTarget {
  name: string;
  deviceId: string | null;
  publishUrl: string;
}

const LOOP_VERSION = 'v3';
const MAX_BACKOFF_MS = 30_000;

/** Where pushers publish, with the sign redacted for printing (it is the only secret of an RTMP device). */
export function redactPublishUrl(url: string): string {
  return url.replace(/([?&]sign=)[^&]*/, '$1…');
}

/** Logs in (username/password) or uses a token; answers the bearer token. */
export async function apiToken(baseUrl: string, credentials: { token?: string; username?: string; password?: string }): Promise<string> {
  if (credentials.token) return credentials.token;
  if (!credentials.username || !credentials.password) throw new Error('the gateway API needs --api-token, or --api-user and --api-password');
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: credentials.username, password: credentials.password }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!res.ok || !body.token) throw new Error(`login to ${baseUrl} as ${credentials.username} failed: ${res.status} ${body.message ?? ''}`.trim());
  return body.token;
}

/** N RTMP devices by name (created, or the existing ones of an earlier run), each with its publish URL. */
export async function rtmpDevicesThroughApi(api: { baseUrl: string; token: string }, count: number, namePrefix: string): Promise<RtmpPushTarget[]> {
  const headers = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
  const names = Array.from({ length: count }, (_, i) => `${namePrefix} ${i + 1}`);
  const res = await fetch(`${api.baseUrl}/api/devices/import`, { method: 'POST', headers, body: JSON.stringify(names.map((name) => ({ protocol: 'rtmp', name }))) });
  const result = (await res.json().catch(() => ({}))) as { message?: string; failed?: number; errors?: Array<{ line: number; field: string; message: string }>; devices?: Array<{ line: number; id: string }> };
  if (!res.ok) throw new Error(`POST ${api.baseUrl}/api/devices/import: ${res.status} ${result.message ?? ''}`.trim());
  if (result.failed) throw new Error(`the gateway refused ${result.failed} RTMP devices: ${JSON.stringify(result.errors?.slice(0, 3))}`);
  const targets: RtmpPushTarget[] = [];
  for (const { line, id } of result.devices ?? []) {
    const device = await fetch(`${api.baseUrl}/api/devices/${id}`, { headers: { authorization: headers.authorization } });
    const body = (await device.json()) as { publishUrl?: string };
    if (!device.ok || !body.publishUrl) throw new Error(`GET /api/devices/${id}: ${device.status}, no publishUrl`);
    targets.push({ name: names[line]!, deviceId: id, publishUrl: body.publishUrl });
  }
  return targets;
}

class Pusher {
  private child: ChildProcess | null = null;
  private stopped = false;
  private backoffMs = 1_000;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  restarts = 0;

  constructor(
    readonly target: RtmpPushTarget,
    private readonly loopFile: string,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    if (this.stopped) return;
    this.startedAt = Date.now();
    // -re: at the loop's own pace, as a live camera; -c copy: no encoding; -flvflags: the gateway reads the
    // sequence headers from the stream, no duration/filesize rewrite at the end.
    const child = spawnMediaTool(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', this.loopFile, '-c', 'copy', '-flvflags', 'no_duration_filesize', '-f', 'flv', this.target.publishUrl],
      ['ignore', 'ignore', 'pipe'],
    );
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-500);
    });
    child.once('exit', (code, signal) => {
      this.child = null;
      if (this.stopped) return;
      // A pusher that ran for a while had a working URL: start over from a short delay.
      if (Date.now() - this.startedAt > 60_000) this.backoffMs = 1_000;
      this.restarts++;
      this.log(`RTMP pusher "${this.target.name}" stopped (${signal ?? `exit ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}); again in ${this.backoffMs / 1000} s`);
      this.timer = setTimeout(() => this.start(), this.backoffMs);
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.child) await terminate(this.child, 2_000);
  }
}

export class RtmpPushers {
  private readonly pushers: Pusher[] = [];

  constructor(private readonly opts: RtmpPushersOptions) {}

  get targets(): RtmpPushTarget[] {
    return this.pushers.map((p) => p.target);
  }

  /** The publish targets, the loop encoded (or found in the cache), every pusher started. */
  async start(): Promise<RtmpPushTarget[]> {
    const targets = this.opts.urls?.length
      ? this.opts.urls.map((publishUrl, i) => ({ name: `${this.opts.namePrefix} ${i + 1}`, deviceId: null, publishUrl }))
      : this.opts.api
        ? await rtmpDevicesThroughApi(this.opts.api, this.opts.count, this.opts.namePrefix)
        : [];
    if (targets.length === 0) throw new Error('no RTMP targets: give --rtmp N with --api, or --rtmp-url');
    const loop = await this.loopFile();
    for (const target of targets) {
      const pusher = new Pusher(target, loop, this.opts.log);
      this.pushers.push(pusher);
      pusher.start();
    }
    return targets;
  }

  async stop(): Promise<void> {
    await Promise.all(this.pushers.map((p) => p.stop()));
  }

  /** The shared loop, encoded once per machine (written under a temporary name and renamed: never half a file). */
  private async loopFile(): Promise<string> {
    const dir = this.opts.cacheDir ?? join(tmpdir(), 'sharp-eyes-sim-media');
    const file = join(dir, `rtmp-loop-${LOOP_VERSION}.flv`);
    if (existsSync(file)) return file;
    await mkdir(dir, { recursive: true });
    const partial = `${file}.${process.pid}.part`;
    // x264's B-frames left on (as ffmpeg and OBS push by default): the gateway keeps them (PTS ≠ DTS).
    await runMediaTool(
      'ffmpeg',
      [
        '-hide_banner', '-loglevel', 'error',
        '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-t', '10',
        '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0',
        '-c:a', 'aac', '-b:a', '64k', '-ac', '1',
        '-f', 'flv', '-y', partial,
      ],
      { timeoutMs: 120_000 },
    );
    await rename(partial, file);
    return file;
  }
}
