/**
 * `sharp-eyes sim --onvif N` (issue 10): the simulator CLI also runs N ONVIF cameras; they answer WS-Discovery on
 * 127.0.0.1 only, and one of them, added through POST /api/devices with what the CLI printed, comes online.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOnvif } from '../../src/protocol/onvif/discovery.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const BIN = join(resolve(__dirname, '../../..'), 'bin/sharp-eyes.js');

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

describe('sharp-eyes sim --onvif', () => {
  let h: Harness;
  let sim: ChildProcess;
  let output = '';
  let discoveryPort: number;

  beforeAll(async () => {
    h = await startHarness({ overrides: { sip: { password: 'sim-pass-1' } } });
    discoveryPort = await freePort();
    sim = spawn(process.execPath, [BIN, 'sim', '-s', h.sipTarget, '-n', '1', '-p', 'sim-pass-1', '--quiet', '--onvif', '2', '--onvif-discovery-port', String(discoveryPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    sim.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await h.waitFor(() => (output.includes('ONVIF cameras ready') ? true : null), 120_000, `the CLI's ONVIF cameras (output so far: ${output})`);
  }, 150_000);

  afterAll(async () => {
    if (sim && sim.exitCode === null) {
      const exited = new Promise((done) => sim.once('exit', done));
      sim.kill('SIGTERM');
      await exited;
    }
    await h?.stop();
  });

  it('prints each camera, answers WS-Discovery on lo, and a printed camera can be added and comes online', async () => {
    const cams = [...output.matchAll(/ONVIF camera ([\d.]+):(\d+) \((\S+) \/ (\S+)\)/g)].map((m) => ({ host: m[1]!, port: Number(m[2]), username: m[3]!, password: m[4]! }));
    expect(cams).toHaveLength(2);
    const found = await discoverOnvif({ interface: 'lo', timeoutMs: 1500, port: discoveryPort });
    expect(found.map((d) => d.xaddrs[0]).sort()).toEqual(cams.map((c) => `http://${c.host}:${c.port}/onvif/device_service`).sort());
    const added = await h.api<{ status: string; protocol: string }>('/api/devices', { body: { protocol: 'onvif', ...cams[0] } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toMatchObject({ protocol: 'onvif', status: 'online' });
  }, 60_000);
});
