/**
 * kill -9 loses no acknowledged registration (issue 8, part 1): devices register over UDP with digest, the
 * gateway is SIGKILLed in the same tick as the last 200 OK arrives, and restarted on the same data: every
 * device that was answered 200 OK is there, online. Runs on both stores with the production flush period
 * (1 s): before group commit the last second of registrations was lost. The same for a catalog: killed in the
 * tick its last part is acknowledged, every channel is there after the restart (before: none, with store.commitWaitMs 0).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { mongoTestUrl, uniqueDatabaseName } from '../support/mongo.js';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID, buildGateway, listedDeviceIds, startGatewayChild, stopChild, type GatewayChild } from './durability-support.js';

const DEVICES = 1500;

beforeAll(() => {
  // The child runs dist/: compile this tree first so it never runs a stale build.
  buildGateway();
}, 180_000);

describe.each(['sqlite', 'mongo'] as const)('kill -9 right after the last 200 OK (%s store)', (store) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-kill9-'));
  const env: Record<string, string> = store === 'mongo' ? { SE_MONGO_URL: mongoTestUrl(), SE_STORE_MONGO_DATABASE: uniqueDatabaseName('kill9') } : {};
  let gateway: GatewayChild | undefined;
  let fleet: DeviceFleet | undefined;

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    if (gateway) await stopChild(gateway.child, gateway.exited);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every device answered 200 OK is in the store after the restart, online', { timeout: 300_000 }, async () => {
    gateway = await startGatewayChild({ dataDir, env });
    const first = gateway;
    fleet = new DeviceFleet({
      server: `127.0.0.1:${first.sipPort}`,
      serverId: GATEWAY_SIP_ID,
      password: DEVICE_PASSWORD,
      devices: DEVICES,
      keepaliveSec: 3600,
      retryDelaySec: 0,
      unregisterOnStop: false,
    });
    const acknowledged = new Set<string>();
    let killedAt = -1;
    fleet.on('registered', (e) => {
      acknowledged.add(e.deviceId);
      // The same tick as the last 200 OK: nothing the gateway does after answering can help it.
      if (acknowledged.size === DEVICES && killedAt < 0) {
        killedAt = acknowledged.size;
        first.child.kill('SIGKILL');
      }
    });
    await fleet.start();
    // Fails with a count instead of hanging when registrations stall (e.g. a throttle that was not turned off).
    await fleet.waitForRegistered(DEVICES, 120_000);
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');
    await fleet.stop({ unregister: false });
    expect(acknowledged.size).toBe(DEVICES);

    gateway = await startGatewayChild({ dataDir, env });
    const known = await listedDeviceIds(gateway.api);
    const lost = [...acknowledged].filter((id) => !known.has(id));
    expect(lost.length, `acknowledged but lost: ${lost.slice(0, 5).join(', ')}…`).toBe(0);
    const online = await gateway.api<{ total: number }>('/api/devices?status=online&limit=1');
    expect(online.body.total).toBe(DEVICES);
  });
});

describe.each(['sqlite', 'mongo'] as const)('kill -9 right after the last catalog part is acknowledged (%s store)', (store) => {
  const CHANNELS = 400;
  const dataDir = mkdtempSync(join(tmpdir(), 'se-kill9-catalog-'));
  const env: Record<string, string> = {
    SE_SIP_CATALOG_ON_REGISTER: 'true',
    ...(store === 'mongo' ? { SE_MONGO_URL: mongoTestUrl(), SE_STORE_MONGO_DATABASE: uniqueDatabaseName('kill9cat') } : {}),
  };
  let gateway: GatewayChild | undefined;
  let fleet: DeviceFleet | undefined;

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    if (gateway) await stopChild(gateway.child, gateway.exited);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every channel of an acknowledged catalog is in the store after the restart', { timeout: 180_000 }, async () => {
    gateway = await startGatewayChild({ dataDir, env });
    const first = gateway;
    fleet = new DeviceFleet({
      server: `127.0.0.1:${first.sipPort}`,
      serverId: GATEWAY_SIP_ID,
      password: DEVICE_PASSWORD,
      platformChannels: CHANNELS,
      keepaliveSec: 3600,
      unregisterOnStop: false,
    });
    const sent = new Promise<{ deviceId: string; parts: number; complete: boolean }>((resolve) => {
      fleet!.on('catalog-sent', (e) => {
        // The same tick as the 200 OK to the last part: the catalog is acknowledged, nothing after that helps.
        if (e.complete) first.child.kill('SIGKILL');
        resolve(e);
      });
    });
    await fleet.start();
    const catalog = await sent;
    expect(catalog.complete).toBe(true);
    expect(catalog.parts).toBeGreaterThan(1);
    await first.exited;
    expect(first.child.signalCode).toBe('SIGKILL');
    await fleet.stop({ unregister: false });

    gateway = await startGatewayChild({ dataDir, env });
    const channels = await gateway.api<{ total: number }>(`/api/devices/${catalog.deviceId}/channels?limit=1`);
    expect(channels.status).toBe(200);
    // The platform reports its region/organisation nodes too: at least every video channel is there.
    expect(channels.body.total).toBeGreaterThanOrEqual(CHANNELS);
  });
});

describe('kill -9 right after an alarm is acknowledged (sqlite store)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-kill9-alarm-'));
  let gateway: GatewayChild | undefined;
  let fleet: DeviceFleet | undefined;

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    if (gateway) await stopChild(gateway.child, gateway.exited);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the acknowledged alarm is in the store after the restart', { timeout: 120_000 }, async () => {
    gateway = await startGatewayChild({ dataDir });
    const first = gateway;
    fleet = new DeviceFleet({ server: `127.0.0.1:${first.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, devices: 1, keepaliveSec: 3600, unregisterOnStop: false });
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    const deviceId = fleet.devices[0]!.id;
    // The store's flush period is 1 s: before the gate an alarm acknowledged and killed in the same tick was lost.
    const status = await fleet.raiseAlarm(deviceId, { description: 'kill-9 alarm' });
    first.child.kill('SIGKILL');
    expect(status).toBe(200);
    await first.exited;
    await fleet.stop({ unregister: false });

    gateway = await startGatewayChild({ dataDir });
    const alarms = await gateway.api<{ total: number; items: Array<{ description: string }> }>(`/api/alarms?deviceId=${deviceId}`);
    expect(alarms.status).toBe(200);
    expect(alarms.body.items.map((a) => a.description)).toEqual(['kill-9 alarm']);
  });
});
