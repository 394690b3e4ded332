/**
 * The CLI runner (progress/summary output, stop function) and registration pacing (rate, in-flight bound).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeviceFleet, runSimulatorCli } from '../../src/sim/index.js';
import { Pacer } from '../../src/sim/pacer.js';
import { TestRegistrar } from './test-registrar.js';

const PASSWORD = 'sim-secret-3';
let registrar: TestRegistrar | undefined;
let fleet: DeviceFleet | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await fleet?.stop({ unregister: false });
  await registrar?.close();
  fleet = undefined;
  registrar = undefined;
});

describe('runSimulatorCli', () => {
  it('starts the fleet, announces when all are registered, and prints a summary when stopped', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stop = await runSimulatorCli({
      server: registrar.server,
      devices: 8,
      channels: 2,
      nvrEvery: 4,
      transport: 'udp',
      password: PASSWORD,
      idPrefix: '44030500',
      keepaliveSec: 60,
    });
    await registrar.waitForRegister(() => registrar!.bindings.size === 8, 10_000);
    // The "all registered" line follows the fleet's own 'registered' event.
    await vi.waitFor(() => expect(out.join('')).toContain('all 8 registered'), { timeout: 5_000, interval: 50 });
    await stop();
    const text = out.join('');
    expect(text).toContain('8 devices (2 NVRs with 2 channels)');
    expect(text).toMatch(/summary: 8\/8 registered \(8 at stop\), 0 failures, all registered after [\d.]+ s/);
    // Stopping unregistered every device.
    expect(registrar.bindings.size).toBe(0);
  });

  it('prints only the summary when quiet', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const stop = await runSimulatorCli({
      server: registrar.server,
      devices: 2,
      channels: 4,
      transport: 'tcp',
      password: 'wrong',
      idPrefix: '11010100',
      keepaliveSec: 60,
      quiet: true,
    });
    await registrar.waitForRegister((r) => r.status === 403 && r.deviceId.startsWith('11010100'), 5_000);
    await stop();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^sharp-eyes sim summary: 0\/2 registered .*not all registered/);
  });
});

describe('registration pacing', () => {
  it('holds registrations to the configured rate', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 12, password: PASSWORD, ratePerSecond: 20 });
    await fleet.start();
    await fleet.waitForRegistered(12, 10_000);
    // 12 starts at 20/s: the last one cannot start before ~550 ms.
    expect(fleet.allRegisteredAfterMs).toBeGreaterThanOrEqual(450);
  });

  it('never has more than maxInFlight jobs running', async () => {
    const pacer = new Pacer({ ratePerSecond: 0, maxInFlight: 3 });
    let running = 0;
    let peak = 0;
    let finished = 0;
    for (let i = 0; i < 10; i++) {
      pacer.enqueue(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        finished++;
      });
    }
    expect(pacer.inFlight).toBe(3);
    expect(pacer.queued).toBe(7);
    await pacer.idle();
    expect(finished).toBe(10);
    expect(peak).toBe(3);
  });
});
