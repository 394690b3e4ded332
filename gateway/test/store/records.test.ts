/**
 * Contract of the generic record storage (gateway/src/domain/records.ts), run against both adapters like
 * store-contract.test.ts: SqliteStore in a temp directory and MongoStore on the server from the vitest global
 * setup (FerretDB 1.24 over SQLite, or MONGO_URL), each on storage no other run uses.
 *
 * Tests share one store per adapter and keep apart by using collections of their own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayStore } from '../../src/domain/store.js';
import { MongoStore } from '../../src/store/mongo/mongo-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { mongoTestUrl, uniqueDatabaseName } from '../support/mongo.js';

interface StorageFactory {
  /** A function making new, not yet initialised adapters on one storage of their own. */
  newStorage(label: string): () => GatewayStore;
  dispose(): Promise<void>;
}

function sqliteFactory(): StorageFactory {
  const dirs: string[] = [];
  return {
    newStorage(label) {
      const dir = mkdtempSync(join(tmpdir(), `records-${label}-`));
      dirs.push(dir);
      return () => new SqliteStore(dir);
    },
    async dispose() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mongoFactory(): StorageFactory {
  const url = mongoTestUrl();
  const databases: string[] = [];
  return {
    newStorage(label) {
      const database = uniqueDatabaseName(`records_${label}`);
      databases.push(database);
      return () => new MongoStore(url, database);
    },
    async dispose() {
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
      try {
        await client.connect();
        for (const database of databases) await client.db(database).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);

interface Item {
  id: string;
  owner: string | null;
  shared: boolean;
  rank: number;
  at: number;
  name: string;
  nested: { tiles: Array<{ channelId: string | null }>; kind: string };
  note?: string;
}

function item(id: string, over: Partial<Item> = {}): Item {
  return {
    id,
    owner: 'alice',
    shared: false,
    rank: 0,
    at: T0,
    name: `视图 ${id} 㙟𪚥`,
    nested: { tiles: [{ channelId: '44030500001320000001' }, { channelId: null }], kind: '1+5' },
    ...over,
  };
}

const idsOf = (items: Array<{ id: string }>): string[] => items.map((i) => i.id);

function recordsContract(adapter: string, makeFactory: () => StorageFactory): void {
  describe(`RecordStore contract: ${adapter}`, () => {
    let factory: StorageFactory;
    let store: GatewayStore;
    const opened: GatewayStore[] = [];

    beforeAll(async () => {
      factory = makeFactory();
      const make = factory.newStorage('shared');
      store = make();
      opened.push(store);
      await store.init();
    });

    afterAll(async () => {
      for (const s of opened) await s.close();
      await factory?.dispose();
    });

    it('reads back exactly what was put, replaces by id, deletes', async () => {
      const col = store.records.collection<Item>('roundtrip', ['owner']);
      const a = item('a', { note: 'with "quotes" and \\ and 南山' });
      await col.put(a);
      expect(await col.get('a')).toEqual(a);
      expect(await col.get('missing')).toBeNull();

      const replaced = item('a', { owner: 'bob', rank: 7 });
      await col.put(replaced);
      expect(await col.get('a')).toEqual(replaced); // whole record replaced: `note` is gone
      expect((await col.find()).total).toBe(1);

      expect(await col.delete('a')).toBe(true);
      expect(await col.delete('a')).toBe(false);
      expect(await col.get('a')).toBeNull();
    });

    it('an unknown or empty collection finds nothing', async () => {
      const col = store.records.collection<Item>('never_written', ['owner']);
      expect(await col.find({ where: { owner: 'x' } })).toEqual({ total: 0, items: [] });
      expect(await col.deleteWhere({})).toBe(0);
    });

    it('collections are separate namespaces', async () => {
      const one = store.records.collection<Item>('ns_one', []);
      const two = store.records.collection<Item>('ns_two', []);
      await one.put(item('same', { name: 'one' }));
      await two.put(item('same', { name: 'two' }));
      expect((await one.get('same'))?.name).toBe('one');
      expect((await two.get('same'))?.name).toBe('two');
      await one.deleteWhere({});
      expect(await two.get('same')).not.toBeNull();
    });

    it('putMany writes a batch with new and existing ids; the last record per id wins', async () => {
      const col = store.records.collection<Item>('batch', ['rank']);
      await col.putMany([]);
      await col.putMany(Array.from({ length: 50 }, (_, i) => item(`r${String(i).padStart(4, '0')}`, { rank: i })));
      const batch = Array.from({ length: 2000 }, (_, i) => item(`r${String(i).padStart(4, '0')}`, { rank: 10_000 + i }));
      batch.push(item('r0003', { rank: -3 })); // same id twice in one batch: the later one wins
      await col.putMany(batch);
      const page = await col.find({ limit: 1000 });
      expect(page.total).toBe(2000);
      expect(page.items[0]).toEqual(item('r0000', { rank: 10_000 }));
      expect(await col.get('r0003')).toEqual(item('r0003', { rank: -3 }));
      expect(await col.get('r0049')).toEqual(item('r0049', { rank: 10_049 }));
      expect(await col.get('r1999')).toEqual(item('r1999', { rank: 11_999 }));
    });

    describe('find', () => {
      const name = 'queries';
      const data: Item[] = [
        item('v1', { owner: 'alice', shared: false, rank: 3, at: T0 + 10 }),
        item('v2', { owner: 'alice', shared: true, rank: 1, at: T0 + 20 }),
        item('v3', { owner: 'bob', shared: true, rank: 3, at: T0 + 30 }),
        item('v4', { owner: 'bob', shared: false, rank: 2, at: T0 + 40 }),
        item('v5', { owner: null, shared: false, rank: 5, at: T0 + 50 }),
        item('v6', { owner: 'carol', shared: true, rank: 3, at: T0 + 60 }),
      ];
      beforeAll(async () => {
        await store.records.collection<Item>(name, ['owner', 'shared', 'rank', 'at']).putMany(data);
      });
      const col = () => store.records.collection<Item>(name, ['owner', 'shared', 'rank', 'at']);

      it('orders by id without sort, and pages with a total', async () => {
        expect(idsOf((await col().find()).items)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
        const page = await col().find({ offset: 2, limit: 3 });
        expect(page.total).toBe(6);
        expect(idsOf(page.items)).toEqual(['v3', 'v4', 'v5']);
        expect(await col().find({ offset: 10 })).toEqual({ total: 6, items: [] });
      });

      it('equality on strings, booleans and numbers', async () => {
        expect(idsOf((await col().find({ where: { owner: 'bob' } })).items)).toEqual(['v3', 'v4']);
        expect(idsOf((await col().find({ where: { shared: true } })).items)).toEqual(['v2', 'v3', 'v6']);
        expect(idsOf((await col().find({ where: { shared: false, rank: 3 } })).items)).toEqual(['v1']);
        expect(idsOf((await col().find({ where: { id: 'v4' } })).items)).toEqual(['v4']);
        expect((await col().find({ where: { owner: 'Bob' } })).total).toBe(0); // case-sensitive
      });

      it('null matches null and a missing field', async () => {
        expect(idsOf((await col().find({ where: { owner: null } })).items)).toEqual(['v5']);
        expect(idsOf((await col().find({ where: { note: null, rank: 5 } })).items)).toEqual(['v5']);
      });

      it('booleans never equal numbers, ranges match numbers only', async () => {
        expect((await col().find({ where: { shared: 1 } })).total).toBe(0);
        expect((await col().find({ where: { rank: true } })).total).toBe(0);
        expect((await col().find({ where: { owner: { gte: 0 } } })).total).toBe(0);
      });

      it('ranges: gte inclusive, lt exclusive, combinable', async () => {
        expect(idsOf((await col().find({ where: { at: { gte: T0 + 30 } } })).items)).toEqual(['v3', 'v4', 'v5', 'v6']);
        expect(idsOf((await col().find({ where: { at: { lt: T0 + 30 } } })).items)).toEqual(['v1', 'v2']);
        expect(idsOf((await col().find({ where: { at: { gte: T0 + 20, lt: T0 + 50 }, shared: true } })).items)).toEqual(['v2', 'v3']);
      });

      it('in lists, with null and mixed types', async () => {
        expect(idsOf((await col().find({ where: { owner: { in: ['alice', 'carol'] } } })).items)).toEqual(['v1', 'v2', 'v6']);
        expect(idsOf((await col().find({ where: { owner: { in: ['carol', null] } } })).items)).toEqual(['v5', 'v6']);
        expect(idsOf((await col().find({ where: { rank: { in: [1, 2, 'x'] } } })).items)).toEqual(['v2', 'v4']);
        expect(idsOf((await col().find({ where: { id: { in: ['v6', 'v1', 'nope'] } } })).items)).toEqual(['v1', 'v6']);
        expect((await col().find({ where: { owner: { in: [] } } })).total).toBe(0);
        expect(idsOf((await col().find({ where: { rank: { in: [3, 5], gte: 4 } } })).items)).toEqual(['v5']);
      });

      it('sorts by a field then by id, in either direction', async () => {
        expect(idsOf((await col().find({ sort: { field: 'rank', order: 'asc' } })).items)).toEqual(['v2', 'v4', 'v1', 'v3', 'v6', 'v5']);
        expect(idsOf((await col().find({ sort: { field: 'rank', order: 'desc' } })).items)).toEqual(['v5', 'v6', 'v3', 'v1', 'v4', 'v2']);
        expect(idsOf((await col().find({ sort: { field: 'at', order: 'desc' }, limit: 2 })).items)).toEqual(['v6', 'v5']);
        expect(idsOf((await col().find({ sort: { field: 'id', order: 'desc' }, limit: 2 })).items)).toEqual(['v6', 'v5']);
        const sharedByRank = await col().find({ where: { shared: true }, sort: { field: 'rank', order: 'asc' }, offset: 1, limit: 1 });
        expect(sharedByRank.total).toBe(3);
        expect(idsOf(sharedByRank.items)).toEqual(['v3']);
      });
    });

    it('deleteWhere removes what matches and says how many', async () => {
      const col = store.records.collection<Item>('purge', ['at', 'owner']);
      await col.putMany(Array.from({ length: 20 }, (_, i) => item(`p${String(i).padStart(2, '0')}`, { at: T0 + i, owner: i % 2 ? 'odd' : 'even' })));
      expect(await col.deleteWhere({ at: { lt: T0 + 5 } })).toBe(5);
      expect(await col.deleteWhere({ owner: 'odd', at: { gte: T0 + 15 } })).toBe(3); // 15, 17, 19
      expect((await col.find()).total).toBe(12);
      expect(await col.deleteWhere({})).toBe(12);
      expect((await col.find()).total).toBe(0);
    });

    it('refuses unsafe collection and field names', async () => {
      expect(() => store.records.collection('Bad-Name', [])).toThrow(/collection name/);
      expect(() => store.records.collection('ok_name', ['a.b'])).toThrow(/field name/);
      const col = store.records.collection<Item>('names', []);
      await expect(col.find({ where: { "x') OR 1=1 --": 1 } })).rejects.toThrow(/field name/);
      await expect(col.find({ sort: { field: '$where', order: 'asc' } })).rejects.toThrow(/field name/);
      await expect(col.put({ ...item('x'), id: '' })).rejects.toThrow(/id/);
    });

    it('survives a restart, and declaring more indexed fields later is harmless', async () => {
      const make = factory.newStorage('restart');
      const first = make();
      opened.push(first);
      await first.init();
      await first.records.collection<Item>('kept', ['owner']).putMany([item('k1', { rank: 2 }), item('k2', { owner: 'bob', rank: 1 })]);
      await first.close();

      const second = make();
      opened.push(second);
      await second.init();
      const col = second.records.collection<Item>('kept', ['owner', 'rank']);
      expect(await col.get('k1')).toEqual(item('k1', { rank: 2 }));
      expect(idsOf((await col.find({ sort: { field: 'rank', order: 'asc' } })).items)).toEqual(['k2', 'k1']);
      expect(idsOf((await second.records.collection<Item>('kept', ['owner']).find({ where: { owner: 'bob' } })).items)).toEqual(['k2']);
    });
  });
}

recordsContract('SqliteStore (better-sqlite3, temp directory)', sqliteFactory);
recordsContract('MongoStore (official driver; FerretDB unless MONGO_URL)', mongoFactory);
