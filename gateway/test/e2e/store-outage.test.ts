/**
 * A store outage loses no write (issue 8, part 2). MongoDB adapter on a FerretDB of the test's own, taken
 * away in two ways: the process SIGKILLed and restarted on the same data, and the connection black-holed
 * (a proxy that stops forwarding and reading without closing: no RST, no FIN). During the outage:
 * REGISTER and keepalives keep working, the device list (filters, paging) and detail answer from the
 * registry, /healthz answers 200 "degraded" with the reason, and the queue shows in /metrics. After the
 * store is back, every device registered during the outage is written to it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { rmSync } from 'node:fs';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Device, Page } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { uniqueDatabaseName } from '../support/mongo.js';
import { BlackHoleProxy, startOwnFerretDb, waitUntil, type OwnFerretDb } from './durability-support.js';

const PER_FLEET = 40;

interface Health {
  status: string;
  reason?: string;
  store: boolean;
  storeQueue?: { state: string; queued: number };
}

async function storedDevices(url: string, database: string): Promise<Array<{ id: string; status: string }>> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
  try {
    return await client.db(database).collection<{ id: string; status: string }>('devices').find({}, { projection: { _id: 0, id: 1, status: 1 } }).toArray();
  } finally {
    await client.close().catch(() => undefined);
  }
}

describe.each(['ferretdb killed and restarted', 'connection black-holed'] as const)('store outage: %s', (kind) => {
  let ferret: OwnFerretDb | undefined;
  let proxy: BlackHoleProxy | undefined;
  let h: Harness | undefined;
  const fleets: DeviceFleet[] = [];

  afterEach(async () => {
    proxy?.restore();
    await ferret?.start().catch(() => undefined);
    for (const f of fleets) await f.stop({ unregister: false });
    await h?.stop();
    await proxy?.close();
    await ferret?.stop();
    if (ferret) rmSync(ferret.dataDir, { recursive: true, force: true });
  });

  it('keeps signalling and the device API serving from memory, says degraded, and writes everything once the store is back', { timeout: 300_000 }, async () => {
    ferret = await startOwnFerretDb();
    let mongoUrl = ferret.url;
    if (kind === 'connection black-holed') {
      proxy = new BlackHoleProxy(ferret.port);
      await proxy.listen();
      mongoUrl = proxy.url;
    }
    const database = uniqueDatabaseName('outage');
    h = await startHarness({
      store: 'mongo',
      mongoDatabase: database,
      overrides: {
        store: { mongoUrl, flushIntervalMs: 200, operationTimeoutMs: 1500, commitWaitMs: 3000 },
        sip: { keepaliveIntervalSec: 2, keepaliveMissCount: 3, password: 'pw-outage' },
      },
    });
    const harness = h;
    const fleet = (firstSerial: number): DeviceFleet => {
      const f = new DeviceFleet({ server: harness.sipTarget, password: 'pw-outage', devices: PER_FLEET, firstSerial, keepaliveSec: 1, retryDelaySec: 1, unregisterOnStop: false });
      fleets.push(f);
      return f;
    };

    const before = fleet(1);
    await before.start();
    await before.waitForRegistered(PER_FLEET, 60_000);
    await waitUntil(async () => (await storedDevices(ferret!.url, database)).length === PER_FLEET, 'first devices in the store');

    // ---- the outage
    let keepaliveRejected = 0;
    before.on('keepalive-rejected', () => keepaliveRejected++);
    if (kind === 'connection black-holed') proxy!.blackhole();
    else await ferret.kill();
    const degraded = await waitUntil(async () => {
      const r = await harness.api<Health>('/healthz', { token: null });
      return r.body.status === 'degraded' ? r : null;
    }, 'healthz degraded');
    expect(degraded.status).toBe(200);
    expect(degraded.body.store).toBe(false);
    expect(degraded.body.reason).toMatch(/^store: /);

    const during = fleet(1001);
    await during.start();
    await during.waitForRegistered(PER_FLEET, 60_000);
    const newcomer = during.devices[PER_FLEET - 1].id;

    // The device API answers from the registry: list with filters and paging, and the detail route.
    const all = await harness.api<Page<Device>>('/api/devices?limit=1000');
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(2 * PER_FLEET);
    const ids = all.body.items.map((d) => d.id);
    expect(ids).toEqual([...ids].sort());
    const online = await harness.api<Page<Device>>('/api/devices?status=online&limit=1');
    expect(online.body.total).toBe(2 * PER_FLEET);
    const page = await harness.api<Page<Device>>(`/api/devices?offset=${2 * PER_FLEET - 10}&limit=20`);
    expect(page.body.items.map((d) => d.id)).toEqual(ids.slice(-10));
    const byId = await harness.api<Page<Device>>(`/api/devices?q=${newcomer}`);
    expect(byId.body.items.map((d) => d.id)).toEqual([newcomer]);
    const region = await harness.api<Page<Device>>(`/api/devices?region=${newcomer.slice(0, 6)}&limit=1`);
    expect(region.body.total).toBe(2 * PER_FLEET);
    const detail = await harness.api<Device>(`/api/devices/${newcomer}`);
    expect(detail.status).toBe(200);
    expect(detail.body.status).toBe('online');

    const metrics = await harness.api<string>('/metrics', { token: null });
    expect(metrics.body).toMatch(/^se_store_degraded 1$/m);
    const depth = Number(/^se_store_queue_depth (\d+)$/m.exec(metrics.body)?.[1] ?? '0');
    expect(depth).toBeGreaterThanOrEqual(PER_FLEET);
    expect(keepaliveRejected).toBe(0);

    // ---- the store comes back: everything queued is written
    if (kind === 'connection black-holed') proxy!.restore();
    else await ferret.start();
    const expected = new Set([...before.devices, ...during.devices].map((d) => d.id));
    const stored = await waitUntil(async () => {
      const rows = await storedDevices(ferret!.url, database);
      const ok = rows.length === expected.size && rows.every((r) => expected.has(r.id) && r.status === 'online');
      return ok ? rows : null;
    }, 'every device written to the store after it came back', 120_000);
    expect(stored.length).toBe(2 * PER_FLEET);
    const healthy = await waitUntil(async () => {
      const r = await harness.api<Health>('/healthz', { token: null });
      return r.body.status === 'ok' ? r : null;
    }, 'healthz ok again');
    expect(healthy.status).toBe(200);
    expect(keepaliveRejected).toBe(0);
  });
});
