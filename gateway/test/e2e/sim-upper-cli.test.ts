/**
 * `sharp-eyes sim --upper` from the command line (the built CLI, as a user runs it): it listens, the gateway is
 * pointed at it through POST /api/platforms, and it prints a status line for each step — registration, the
 * catalog collected, the subscription, a played channel decoded by ffprobe — and a summary on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const BIN = join(resolve(__dirname, '../../..'), 'bin/sharp-eyes.js');
const UPPER_ID = '44000000002000000001';

describe('sharp-eyes sim --upper', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let sim: ChildProcess | null = null;
  let output = '';

  beforeAll(async () => {
    h = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 970 });
    await fleet.start();
    await fleet.waitForRegistered(2, 30_000);
    await h.waitFor(async () => ((await h.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 2 ? true : null), 30_000, 'device catalogs');
  }, 60_000);

  afterAll(async () => {
    if (sim && sim.exitCode === null) sim.kill('SIGKILL');
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  const waitForLine = (pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpMatchArray> =>
    h.waitFor(() => {
      if (sim?.exitCode !== null) throw new Error(`sim exited ${String(sim?.exitCode)}: ${output}`);
      return output.match(pattern);
    }, timeoutMs, `${what} (output so far: ${output.slice(-600)})`);

  it('registers the gateway, collects its catalog, subscribes, plays a channel and plays back a recording checked by ffprobe, and sums up on SIGTERM', async () => {
    sim = spawn(
      process.execPath,
      [BIN, 'sim', '--upper', '--upper-id', UPPER_ID, '--upper-password', 'cli-upper-pass', '--port', '0', '--upper-subscribe', '--upper-play', '1', '--upper-play-transport', 'tcp-passive', '--upper-play-sec', '2', '--upper-playback', '1', '--upper-playback-span', '6'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    sim.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    sim.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const listening = await waitForLine(/listening on 127\.0\.0\.1:(\d+)/, 30_000, 'listening');
    const port = Number(listening[1]);
    const created = await h.api('/api/platforms', {
      body: { id: UPPER_ID, domain: '4400000000', host: '127.0.0.1', port, transport: 'udp', password: 'cli-upper-pass', keepaliveSec: 5, share: { all: true } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await waitForLine(new RegExp(`${h.config.sip.id} registered over UDP`), 15_000, 'registered');
    const catalog = await waitForLine(/catalog of \d+: (\d+)\/(\d+) items \((\d+) channels\)/, 15_000, 'catalog');
    expect(catalog[1]).toBe(catalog[2]);
    expect(Number(catalog[3])).toBe(2);
    await waitForLine(/subscribed to the catalog/, 10_000, 'subscribed');
    const played = await waitForLine(/play (\d+) over tcp-passive: .* (\d+) lost, h264 1280x720, (\d+) frames decoded by ffprobe/, 30_000, 'played');
    expect(fleet.devices.flatMap((d) => d.channelIds)).toContain(played[1]);
    expect(Number(played[3])).toBeGreaterThan(10);
    // Then a playback from above: MANSRTSP relayed to the camera and answered, played to MediaStatus 121.
    await waitForLine(/playback \d+ over tcp-passive: answer s=Playback y=1\d{9}, first packet after \d+ ms/, 30_000, 'playback started');
    await waitForLine(/playback \d+: PAUSE: SIP 200, RTSP 200 OK/, 10_000, 'PAUSE answered');
    await waitForLine(/playback \d+: PLAY Range npt=3-: SIP 200, RTSP 200 OK Range npt=3(\.0)?-/, 10_000, 'seek answered');
    await waitForLine(/playback \d+: PLAY Scale 2: SIP 200, RTSP 200 OK.* Scale 2/, 10_000, 'scale answered');
    const ended = await waitForLine(/playback \d+: MediaStatus 121 \(end of the recording\) after [\d.]+ s, \d+ packets, \d+ lost, h264 1280x720, (\d+) frames decoded by ffprobe/, 30_000, 'playback ended');
    expect(Number(ended[1])).toBeGreaterThan(10);
    const exited = new Promise<number | null>((done) => sim!.once('exit', (code) => done(code)));
    sim.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/summary: 1 registrations \(\d+ challenges, 0 refused\), \d+ keepalives, \d+ NOTIFY items, 2 streams/);
  }, 90_000);
});
