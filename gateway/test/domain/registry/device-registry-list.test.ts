/**
 * The registry's device list (GET /api/devices answers from it): id order and totals stay right while devices
 * are added between list calls (the incrementally merged order) and after removals (rebuilt order).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../../../src/domain/registry/device-registry.js';
import { GatewayEvents } from '../../../src/domain/events.js';
import { WriteBehind } from '../../../src/domain/write-behind.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';

const logger = pino({ level: 'silent' });

describe('DeviceRegistry.list order under additions and removals', () => {
  let dir: string;
  let store: SqliteStore;
  let writer: WriteBehind;
  let registry: DeviceRegistry;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'registry-list-'));
    store = new SqliteStore(dir);
    await store.init();
    writer = new WriteBehind(store, { flushIntervalMs: 50, operationTimeoutMs: 2_000, maxQueued: 100_000 }, logger);
    registry = new DeviceRegistry(store, writer, new GatewayEvents(), { keepaliveIntervalSec: 60, keepaliveMissCount: 3 }, logger);
    await registry.load();
  });
  afterAll(async () => {
    registry.close();
    await writer.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (serial: number): void => {
    registry.registered({
      deviceId: `440305000013200${String(serial).padStart(5, '0')}`,
      source: { transport: 'udp', address: '127.0.0.1', port: 5060 + (serial % 1000) },
      expires: 3600,
      contact: '',
      userAgent: 'test',
      gbVersion: '3.0',
      profile: 'default',
    });
  };
  const allIds = (): string[] => {
    const ids: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = registry.list({ offset, limit: 1000 });
      ids.push(...page.items.map((d) => d.id));
      if (page.items.length < 1000) return ids;
    }
  };

  it('merges devices added between lists into id order, in any arrival order', () => {
    // Arrival order deliberately not id order: odd serials descending, then even serials ascending.
    const serials = [...Array.from({ length: 1500 }, (_, i) => 2999 - 2 * i), ...Array.from({ length: 1500 }, (_, i) => 2 * i)];
    let listed = 0;
    for (const [i, serial] of serials.entries()) {
      register(serial);
      if (i % 700 === 0) listed += registry.list({ status: 'online', limit: 1 }).total;
    }
    expect(listed).toBeGreaterThan(0);
    const ids = allIds();
    expect(ids).toHaveLength(3000);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(3000);
    expect(registry.list({ status: 'online', limit: 5 })).toMatchObject({ total: 3000 });
    expect(registry.list({ offset: 10, limit: 2 }).items.map((d) => d.id)).toEqual([ids[10], ids[11]]);
  });

  it('keeps the order right after removals and re-additions', () => {
    const victim = registry.list({ offset: 100, limit: 1 }).items[0].id;
    expect(registry.remove(victim)).toBe(true);
    expect(allIds()).not.toContain(victim);
    expect(allIds()).toHaveLength(2999);
    // Back again (twice: a refresh must not duplicate it), plus a brand-new device after the rebuild.
    register(100);
    register(100);
    register(4000);
    const ids = allIds();
    expect(ids).toContain(victim);
    expect(ids).toHaveLength(3001);
    expect(new Set(ids).size).toBe(3001);
    expect(ids).toEqual([...ids].sort());
  });
});
