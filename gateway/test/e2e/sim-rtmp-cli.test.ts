/**
 * `sharp-eyes sim --rtmp N` (issue 10): the simulator CLI logs in to the gateway's API, creates N RTMP devices (or
 * reuses them by name), and pushes H.264 + AAC with ffmpeg to their signed publish URLs. The devices come online,
 * a channel plays and its HLS output decodes; SIGTERM stops the pushers (the devices go back to no-publisher);
 * a second run reuses the same devices.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Device, Page } from '../../src/domain/model.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { decodedFrames } from '../support/hls-decode.js';

const BIN = join(resolve(__dirname, '../../..'), 'bin/sharp-eyes.js');

describe('sharp-eyes sim --rtmp', () => {
  let h: Harness;
  let dir: string;
  const sims: ChildProcess[] = [];

  /** Starts the CLI and resolves with its output once the pushers run (or rejects with the output if it exits). */
  const startSim = async (): Promise<{ child: ChildProcess; output: () => string }> => {
    const child = spawn(
      process.execPath,
      [BIN, 'sim', '--rtmp', '2', '--rtmp-name', '测试推流', '--api', h.gateway.httpUrl, '--api-user', 'admin', '--api-password', 'admin-password-1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    sims.push(child);
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    await h.waitFor(() => {
      if (child.exitCode !== null) throw new Error(`sim exited ${child.exitCode}: ${output}`);
      return output.includes('RTMP pushers publishing') ? true : null;
    }, 120_000, 'the RTMP pushers');
    return { child, output: () => output };
  };
  const stopSim = async (child: ChildProcess): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    return exited;
  };
  const rtmpDevices = async () => (await h.api<Page<Device>>('/api/devices?limit=100')).body.items.filter((d) => d.protocol === 'rtmp');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-sim-rtmp-'));
    h = await startHarness({ overrides: { media: { idleSec: 8 } } });
  }, 60_000);

  afterAll(async () => {
    for (const s of sims) if (s.exitCode === null) s.kill('SIGKILL');
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the RTMP devices through the API, pushes to them, they come online and a channel plays with audio', async () => {
    const { child, output } = await startSim();
    // What it did, printed: one line per pusher with its device; the sign is not printed.
    const lines = [...output().matchAll(/RTMP pusher "(测试推流 \d)" \(device (\d{20})\) → (rtmp:\/\/\S+)/g)];
    expect(lines.map((m) => m[1]).sort()).toEqual(['测试推流 1', '测试推流 2']);
    expect(lines.every((m) => m[3]!.endsWith('sign=…'))).toBe(true);

    const ids = lines.map((m) => m[2]!);
    await h.waitFor(async () => {
      const devices = await rtmpDevices();
      return devices.length === 2 && devices.every((d) => d.status === 'online') ? true : null;
    }, 30_000, 'both RTMP devices online');
    expect((await rtmpDevices()).map((d) => d.id).sort()).toEqual([...ids].sort());

    const channels = (await h.api<Page<Channel>>(`/api/devices/${ids[0]}/channels`)).body;
    expect(channels.total).toBe(1);
    const p = await h.api<StreamView>(`/api/channels/${channels.items[0]!.id}/play`, { body: {} });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec: 'h264', width: 640, height: 360 });
    const probe = await decodedFrames(h, p.body.hls, dir);
    expect(probe).toMatchObject({ codec: 'h264', width: 640, audio: 'aac' });
    expect(probe.frames).toBeGreaterThan(5);

    // SIGTERM: the pushers stop, the CLI exits 0, and the gateway sees the publishers leave.
    expect(await stopSim(child)).toBe(0);
    await h.waitFor(async () => ((await rtmpDevices()).every((d) => d.status === 'offline' && d.offlineReason === 'no-publisher') ? true : null), 15_000, 'publishers gone');
  }, 180_000);

  it('a second run reuses the same devices (by name) instead of adding new ones', async () => {
    const before = (await rtmpDevices()).map((d) => d.id).sort();
    const { child, output } = await startSim();
    const ids = [...output().matchAll(/\(device (\d{20})\)/g)].map((m) => m[1]!).sort();
    expect(ids).toEqual(before);
    await h.waitFor(async () => ((await rtmpDevices()).every((d) => d.status === 'online') ? true : null), 30_000, 'online again');
    expect(await rtmpDevices()).toHaveLength(2);
    expect(await stopSim(child)).toBe(0);
  }, 120_000);

  it('a wrong API password is a clear error and exit 1', async () => {
    const child = spawn(process.execPath, [BIN, 'sim', '--rtmp', '1', '--api', h.gateway.httpUrl, '--api-user', 'admin', '--api-password', 'wrong'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    expect(code).toBe(1);
    expect(output).toMatch(/RTMP pushers not started: login to .* as admin failed: 401/);
  }, 30_000);
});
