/**
 * Restart: registrations and catalogs survive; a device whose registration has not expired is recognised
 * from its next keepalive, with no re-registration storm and no false "offline".
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Channel, Device, Page } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { uniqueDatabaseName } from '../support/mongo.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe.each(['sqlite', 'mongo'] as const)('gateway restart (%s store)', (store) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-restart-'));
  const mongoDatabase = uniqueDatabaseName('restart');
  let h: Harness | undefined;
  let fleet: DeviceFleet | undefined;

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await h?.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps devices online across a restart and accepts their keepalives without re-registration', async () => {
    const overrides = { sip: { port: 0, keepaliveIntervalSec: 2, keepaliveMissCount: 3, password: 'pw-restart' } };
    h = await startHarness({ store, dataDir, mongoDatabase, overrides });
    const sipPort = h.gateway.sipPort;
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'pw-restart', devices: 8, nvrEvery: 4, channelsPerNvr: 3, keepaliveSec: 1 });
    await fleet.start();
    await fleet.waitForRegistered(8, 30_000);
    const nvr = fleet.devices.find((d) => d.kind === 'nvr')!;
    await h.waitFor(async () => (await h!.api<Page<Channel>>(`/api/devices/${nvr.id}/channels`)).body.total === 3, 20_000, 'catalog');

    let registrations = 0;
    let rejected = 0;
    fleet.on('registered', (e) => {
      if (!e.refresh) registrations++;
    });
    fleet.on('keepalive-rejected', () => rejected++);

    await h.stop({ keepData: true });
    // Same SIP port, so the devices' keepalives reach the new process.
    h = await startHarness({ store, dataDir, mongoDatabase, overrides: { ...overrides, sip: { ...overrides.sip, port: sipPort } } });

    // Immediately after start: still online, catalog still there.
    const online = await h.api<Page<Device>>('/api/devices?status=online');
    expect(online.body.total).toBe(8);
    const channels = await h.api<Page<Channel>>(`/api/devices/${nvr.id}/channels`);
    expect(channels.body.total).toBe(3);

    // Well past the keepalive timeout (2 s × 3): the devices are kept online by keepalives alone.
    await new Promise((r) => setTimeout(r, 9_000));
    const later = await h.api<Page<Device>>('/api/devices?status=online');
    expect(later.body.total).toBe(8);
    expect(rejected).toBe(0);
    expect(registrations).toBe(0);
  });
});
