/**
 * The MongoDB adapter during a store outage: a batch write to a stopped server must fail (so the write queue
 * keeps the rows and retries), never resolve as if written. Before the fix, insert-first took the driver's
 * bulk error without write errors for "nothing to replace" and reported success: every device registered
 * during an outage was dropped from the queue and never reached the store (issue 8, part 2).
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Device } from '../../src/domain/model.js';
import { MongoStore } from '../../src/store/mongo/mongo-store.js';
import { startOwnFerretDb, type OwnFerretDb } from '../e2e/durability-support.js';

const T0 = Date.UTC(2026, 0, 1);

function device(id: string): Device {
  return {
    id, protocol: 'gb28181', name: `camera ${id.slice(-4)}`, typeCode: id.slice(10, 13), civilCode: id.slice(0, 8), manufacturer: '', model: '', firmware: '',
    userAgent: '', gbVersion: '3.0', profile: 'generic', status: 'online', offlineReason: null, transport: 'udp', remoteAddress: '127.0.0.1',
    remotePort: 5060, contact: '', expires: 3600, registeredAt: T0, registrationExpiresAt: T0 + 3_600_000, lastKeepaliveAt: T0,
    statusChangedAt: T0, channelCount: 0, charset: 'GB2312', createdAt: T0, updatedAt: T0,
  };
}

describe('MongoStore while its server is down', () => {
  let ferret: OwnFerretDb | undefined;
  let store: MongoStore | undefined;

  afterAll(async () => {
    await store?.close();
    await ferret?.stop();
    if (ferret) rmSync(ferret.dataDir, { recursive: true, force: true });
  });

  it('rejects batch writes instead of reporting them written, and writes them once the server is back', { timeout: 120_000 }, async () => {
    ferret = await startOwnFerretDb();
    store = new MongoStore(ferret.url, 'outage_adapter', undefined, 1500);
    await store.init();
    await store.upsertDevices([device('44030500001320000001')]);

    await ferret.kill();
    const during = [device('44030500001320000002'), device('44030500001320000003')];
    await expect(store.upsertDevices(during)).rejects.toThrow();
    await expect(store.upsertDevices([{ ...device('44030500001320000001'), name: 'renamed' }])).rejects.toThrow();

    await ferret.start();
    // The driver reconnects on its own; the write queue's retry is this call, repeated until it succeeds.
    for (;;) {
      try {
        await store.upsertDevices(during);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect((await store.loadAllDevices()).map((d) => d.id).sort()).toEqual(['44030500001320000001', '44030500001320000002', '44030500001320000003']);
  });
});
