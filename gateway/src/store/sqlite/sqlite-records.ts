/**
 * Record storage (domain/records.ts) on SQLite: one table per collection, `rec_<name>(id, doc)`, with an
 * expression index `(json_extract(doc, '$.field'), id)` per declared field.
 *
 * A table per collection rather than one shared `(collection, id)` table: an expression index on a shared
 * table would hold an entry for every row of every collection (SQLite cannot use a partial index
 * `WHERE collection = 'x'` for a bound parameter), so each write would update every other collection's
 * indexes and each index would be as big as all records together. Per table, a collection's writes touch
 * only its own indexes and COUNT(*) of a collection reads only its rows. The names are validated
 * (RECORD_COLLECTION_NAME / RECORD_FIELD_NAME), so they can go into DDL and JSON paths as they are.
 *
 * Tables are created on first use (CREATE ... IF NOT EXISTS), not by a schema migration: collections are
 * declared by features at run time.
 *
 * json_extract turns JSON true/false into 1/0 and a nested object into its JSON text, so every comparison
 * also checks json_type: a boolean never equals a number and a string never equals an object, as in MongoDB.
 */
import type Database from 'better-sqlite3';
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
  type RecordValue,
} from '../../domain/records.js';
import { pageBounds } from '../paging.js';

type SqlValue = string | number | null;

interface Where {
  clauses: string[];
  params: SqlValue[];
}

/** The column or JSON expression of a field; the same text as in the index, so the planner can use it. */
function valueOf(field: string): string {
  return field === 'id' ? 'id' : `json_extract(doc, '$.${field}')`;
}

function typeOf(field: string): string {
  return `json_type(doc, '$.${field}')`;
}

type ValueKind = 'string' | 'number' | 'boolean' | 'null';

function kindOf(value: RecordValue): ValueKind {
  if (value === null) return 'null';
  return typeof value as 'string' | 'number' | 'boolean';
}

/** JSON types (json_type) a value of this kind is stored as. */
const JSON_TYPES: Record<Exclude<ValueKind, 'null'>, string> = {
  string: "('text')",
  number: "('integer', 'real')",
  boolean: "('true', 'false')",
};

function sqlValue(value: Exclude<RecordValue, null>): string | number {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** `field` equals one of `values` (all of one kind), type-checked as described in the header. */
function membership(field: string, kind: ValueKind, values: RecordValue[], w: Where): string {
  if (kind === 'null') return `${valueOf(field)} IS NULL`;
  const list = values.map(() => '?').join(', ');
  for (const v of values) w.params.push(sqlValue(v as Exclude<RecordValue, null>));
  const test = values.length === 1 ? `${valueOf(field)} = ?` : `${valueOf(field)} IN (${list})`;
  // The id column is always text: no JSON type to check.
  if (field === 'id') return kind === 'string' ? test : '0';
  return `(${test} AND ${typeOf(field)} IN ${JSON_TYPES[kind]})`;
}

function anyOf(field: string, values: RecordValue[], w: Where): string {
  if (values.length === 0) return '0';
  const byKind = new Map<ValueKind, RecordValue[]>();
  for (const v of values) {
    const kind = kindOf(v);
    byKind.set(kind, [...(byKind.get(kind) ?? []), v]);
  }
  const parts = [...byKind].map(([kind, list]) => membership(field, kind, list, w));
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}

function whereOf(where: Record<string, RecordCondition> | undefined): Where {
  const w: Where = { clauses: [], params: [] };
  for (const [field, condition] of Object.entries(where ?? {})) {
    assertFieldName(field);
    if (!isConditionObject(condition)) {
      w.clauses.push(anyOf(field, [condition], w));
      continue;
    }
    if (condition.gte !== undefined || condition.lt !== undefined) {
      const parts: string[] = [];
      if (condition.gte !== undefined) {
        parts.push(`${valueOf(field)} >= ?`);
        w.params.push(condition.gte);
      }
      if (condition.lt !== undefined) {
        parts.push(`${valueOf(field)} < ?`);
        w.params.push(condition.lt);
      }
      // A range matches numbers only (SQLite would otherwise count every string as greater than any number).
      parts.push(field === 'id' ? '0' : `${typeOf(field)} IN ${JSON_TYPES.number}`);
      w.clauses.push(`(${parts.join(' AND ')})`);
    }
    if (condition.in !== undefined) w.clauses.push(anyOf(field, condition.in, w));
  }
  return w;
}

function sqlWhere(w: Where): string {
  return w.clauses.length ? `WHERE ${w.clauses.join(' AND ')}` : '';
}

interface EnsurableCollection {
  ensure(db: Database.Database): void;
}

class SqliteRecordCollection<T extends { id: string }> implements RecordCollection<T> {
  private readonly table: string;

  constructor(
    private readonly store: SqliteRecordStore,
    readonly name: string,
    readonly fields: Set<string>,
  ) {
    this.table = `"rec_${name}"`;
  }

  /** The connection, with this collection's table and indexes in place. */
  private get db(): Database.Database {
    return this.store.prepared(this);
  }

  /** CREATE the table and the indexes of the declared fields (IF NOT EXISTS: cheap when they exist). */
  ensure(db: Database.Database): void {
    db.transaction(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID`);
      for (const field of this.fields) {
        if (field === 'id') continue;
        db.exec(`CREATE INDEX IF NOT EXISTS "rec_${this.name}__${field}" ON ${this.table}(${valueOf(field)}, id)`);
      }
    })();
  }

  async put(record: T): Promise<void> {
    assertRecordId(record);
    this.db.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc`).run(record.id, JSON.stringify(record));
  }

  async putMany(records: T[]): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) assertRecordId(r);
    const db = this.db;
    const stmt = db.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc`);
    db.transaction((list: T[]) => {
      for (const r of list) stmt.run(r.id, JSON.stringify(r));
    })(records);
  }

  async get(id: string): Promise<T | null> {
    const row = this.db.prepare(`SELECT doc FROM ${this.table} WHERE id = ?`).get(id) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as T) : null;
  }

  async delete(id: string): Promise<boolean> {
    return this.db.prepare(`DELETE FROM ${this.table} WHERE id = ?`).run(id).changes > 0;
  }

  async find(query: RecordQuery = {}): Promise<Page<T>> {
    const w = whereOf(query.where);
    const { offset, limit } = pageBounds(query);
    let order = 'id ASC';
    if (query.sort) {
      assertFieldName(query.sort.field);
      const dir = query.sort.order === 'desc' ? 'DESC' : 'ASC';
      order = query.sort.field === 'id' ? `id ${dir}` : `${valueOf(query.sort.field)} ${dir}, id ${dir}`;
    }
    const db = this.db;
    // One read transaction: the count and the page come from the same snapshot.
    return db.transaction(() => {
      const where = sqlWhere(w);
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM ${this.table} ${where}`).get(...w.params) as { n: number }).n;
      if (total <= offset) return { total, items: [] };
      const rows = db
        .prepare(`SELECT doc FROM ${this.table} ${where} ORDER BY ${order} LIMIT ? OFFSET ?`)
        .all(...w.params, limit, offset) as Array<{ doc: string }>;
      return { total, items: rows.map((r) => JSON.parse(r.doc) as T) };
    })();
  }

  async deleteWhere(where: Record<string, RecordCondition>): Promise<number> {
    const w = whereOf(where);
    return this.db.prepare(`DELETE FROM ${this.table} ${sqlWhere(w)}`).run(...w.params).changes;
  }
}

export class SqliteRecordStore implements RecordStore {
  private readonly collections = new Map<string, SqliteRecordCollection<{ id: string }>>();
  /** Collections whose table and indexes exist on `ensuredOn` (reset when the store reconnects). */
  private ensured = new Set<EnsurableCollection>();
  private ensuredOn: Database.Database | null = null;

  /** `connection` throws when the store is not open. */
  constructor(private readonly connection: () => Database.Database) {}

  collection<T extends { id: string }>(name: string, indexedFields: string[]): RecordCollection<T> {
    assertCollectionName(name);
    for (const f of indexedFields) assertFieldName(f);
    let col = this.collections.get(name);
    if (!col) {
      col = new SqliteRecordCollection(this, name, new Set(indexedFields));
      this.collections.set(name, col);
    } else {
      const before = col.fields.size;
      for (const f of indexedFields) col.fields.add(f);
      if (col.fields.size !== before) this.ensured.delete(col);
    }
    return col as unknown as RecordCollection<T>;
  }

  /** The open connection, after creating the collection's table and indexes once per connection. */
  prepared(col: EnsurableCollection): Database.Database {
    const db = this.connection();
    if (db !== this.ensuredOn) {
      this.ensured = new Set();
      this.ensuredOn = db;
    }
    if (!this.ensured.has(col)) {
      col.ensure(db);
      this.ensured.add(col);
    }
    return db;
  }
}
