/**
 * Record storage (domain/records.ts) on MongoDB / FerretDB 1.24: one collection per name, `rec_<name>`,
 * documents are the records plus `_id` = id, and an index `{ field: 1, _id: 1 }` per declared field (the
 * `_id` half keeps sorted pages in index order, since sorting breaks ties by id).
 *
 * The FerretDB 1.24 quirks described in mongo-store.ts apply here too:
 * - replacing a document by `_id` scans its whole collection, so writes go insert-first: new records in one
 *   insert (insertMany for a batch), and only the ones that already exist are replaced;
 * - an update command with ~100 matching statements never returns, so replacements go out REPLACE_CHUNK
 *   at a time, one command at a time (replaceLane);
 * - createIndexes with several specs, or concurrently against a new database, panics: indexes are created
 *   one by one, one collection at a time (indexLane).
 */
import { MongoServerError, type AnyBulkWriteOperation, type Collection, type Db, type Document, type Filter, type Sort } from 'mongodb';
import { DUPLICATE_KEY, upsertInsertFirst, type KeyedDoc } from './insert-first.js';
import type { Page } from '../../domain/model.js';
import {
  assertCollectionName,
  assertFieldName,
  assertRecordId,
  isConditionObject,
  type RecordCollection,
  type RecordCondition,
  type RecordQuery,
  type RecordStore,
} from '../../domain/records.js';
import { pageBounds } from '../paging.js';

const INSERT_CHUNK = 1000;
/** Replacements per update command: well under FerretDB's 100 pooled connections. */
const REPLACE_CHUNK = 32;

type RecordDoc = KeyedDoc;

function pathOf(field: string): string {
  return field === 'id' ? '_id' : field;
}

function filterOf(where: Record<string, RecordCondition> | undefined): Filter<RecordDoc> {
  const filter: Document = {};
  for (const [field, condition] of Object.entries(where ?? {})) {
    assertFieldName(field);
    if (!isConditionObject(condition)) {
      filter[pathOf(field)] = condition;
      continue;
    }
    const ops: Document = {};
    if (condition.gte !== undefined) ops.$gte = condition.gte;
    if (condition.lt !== undefined) ops.$lt = condition.lt;
    if (condition.in !== undefined) ops.$in = condition.in;
    filter[pathOf(field)] = ops;
  }
  return filter as Filter<RecordDoc>;
}

function docOf(record: { id: string }): RecordDoc {
  return { ...record, _id: record.id };
}

function recordOf<T>(doc: Document): T {
  const { _id: _ignored, ...rest } = doc;
  return rest as T;
}

class MongoRecordCollection<T extends { id: string }> implements RecordCollection<T> {
  constructor(
    private readonly store: MongoRecordStore,
    readonly name: string,
    readonly fields: Set<string>,
  ) {}

  private async col(): Promise<Collection<RecordDoc>> {
    return this.store.prepared(this);
  }

  async put(record: T): Promise<void> {
    assertRecordId(record);
    const col = await this.col();
    const doc = docOf(record);
    try {
      await col.insertOne(doc);
    } catch (error) {
      if (!(error instanceof MongoServerError) || error.code !== DUPLICATE_KEY) throw error;
      await col.replaceOne({ _id: doc._id }, doc, { upsert: true });
    }
  }

  async putMany(records: T[]): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) assertRecordId(r);
    const col = await this.col();
    await upsertInsertFirst(col, records.map(docOf), INSERT_CHUNK, (c, ops) => this.store.replaceAll(c, ops));
  }

  async get(id: string): Promise<T | null> {
    const doc = await (await this.col()).findOne({ _id: id });
    return doc ? recordOf<T>(doc) : null;
  }

  async delete(id: string): Promise<boolean> {
    return (await (await this.col()).deleteOne({ _id: id })).deletedCount > 0;
  }

  async find(query: RecordQuery = {}): Promise<Page<T>> {
    const col = await this.col();
    const filter = filterOf(query.where);
    const { offset, limit } = pageBounds(query);
    let sort: Sort = { _id: 1 };
    if (query.sort) {
      assertFieldName(query.sort.field);
      const dir = query.sort.order === 'desc' ? -1 : 1;
      sort = query.sort.field === 'id' ? { _id: dir } : { [query.sort.field]: dir, _id: dir };
    }
    const [total, docs] = await Promise.all([
      col.countDocuments(filter),
      col.find(filter).sort(sort).skip(offset).limit(limit).toArray(),
    ]);
    return { total, items: docs.map((d) => recordOf<T>(d)) };
  }

  async deleteWhere(where: Record<string, RecordCondition>): Promise<number> {
    return (await (await this.col()).deleteMany(filterOf(where))).deletedCount;
  }
}

interface IndexableCollection {
  readonly name: string;
  readonly fields: Set<string>;
}

export class MongoRecordStore implements RecordStore {
  private readonly collections = new Map<string, MongoRecordCollection<{ id: string }>>();
  /** Per collection, its indexes being or having been created on `preparedOn` (reset on reconnect). */
  private readonly preparing = new Map<IndexableCollection, Promise<void>>();
  private preparedOn: Db | null = null;
  private indexLane: Promise<unknown> = Promise.resolve();
  private replaceLane: Promise<unknown> = Promise.resolve();

  /** `database` throws when the store is not open. */
  constructor(private readonly database: () => Db) {}

  collection<T extends { id: string }>(name: string, indexedFields: string[]): RecordCollection<T> {
    assertCollectionName(name);
    for (const f of indexedFields) assertFieldName(f);
    let col = this.collections.get(name);
    if (!col) {
      col = new MongoRecordCollection(this, name, new Set(indexedFields));
      this.collections.set(name, col);
    } else {
      const before = col.fields.size;
      for (const f of indexedFields) col.fields.add(f);
      if (col.fields.size !== before) this.preparing.delete(col);
    }
    return col as unknown as RecordCollection<T>;
  }

  /** The driver collection, once its indexes exist (created on first use per connection). */
  async prepared(col: IndexableCollection): Promise<Collection<RecordDoc>> {
    const db = this.database();
    if (db !== this.preparedOn) {
      this.preparing.clear();
      this.preparedOn = db;
    }
    const collection = db.collection<RecordDoc>(`rec_${col.name}`);
    let ready = this.preparing.get(col);
    if (!ready) {
      const fields = [...col.fields].filter((f) => f !== 'id');
      const create = (): Promise<void> => this.ensureIndexes(collection, fields);
      ready = this.indexLane.then(create, create);
      this.indexLane = ready.catch(() => undefined);
      this.preparing.set(col, ready);
      // A failed attempt is retried by the next operation instead of failing every later one.
      ready.catch(() => {
        if (this.preparing.get(col) === ready) this.preparing.delete(col);
      });
    }
    await ready;
    return collection;
  }

  /** Replace-upserts in chunks, one update command at a time for this store (see the header). */
  async replaceAll(collection: Collection<RecordDoc>, ops: AnyBulkWriteOperation<RecordDoc>[]): Promise<void> {
    if (ops.length === 0) return;
    const run = async (): Promise<void> => {
      for (let i = 0; i < ops.length; i += REPLACE_CHUNK) {
        await collection.bulkWrite(ops.slice(i, i + REPLACE_CHUNK), { ordered: false });
      }
    };
    const turn = this.replaceLane.then(run, run);
    this.replaceLane = turn.catch(() => undefined);
    await turn;
  }

  private async ensureIndexes(collection: Collection<RecordDoc>, fields: string[]): Promise<void> {
    if (fields.length === 0) return;
    let existing = new Set<string>();
    try {
      existing = new Set((await collection.listIndexes().toArray()).map((i) => String(i.name)));
    } catch {
      // The collection does not exist yet: every index is missing.
    }
    for (const field of fields) {
      const name = `${field}_1__id_1`;
      if (!existing.has(name)) await collection.createIndex({ [field]: 1, _id: 1 }, { name });
    }
  }
}
