/**
 * Generic record storage: small JSON documents in named collections, for features whose data is not on the
 * hot path of 50,000 devices (saved views, tours, consultation sessions, alert rules, ...). Part of the
 * storage port (`GatewayStore.records`); both adapters implement it and the contract tests in
 * gateway/test/store/records.test.ts check them alike.
 *
 * Rules every adapter follows:
 * - A record is a JSON object with a non-empty string `id`; it is stored and read back whole.
 * - Object keys inside a record must not contain '.' nor start with '$' (MongoDB/FerretDB refuse them).
 * - `where` and `sort` name top-level fields only; values compare by type, as in MongoDB: a field queried by
 *   range or sorted on should hold numbers (or strings) consistently, plus null. `null` in an equality or
 *   an `in` list also matches a missing field. Booleans compare only with booleans.
 * - Sorting is by the field, then by id in the same direction, so pages are stable; without `sort`, by id.
 * - Paging follows the store's rules: offset ≥ 0, limit 1–1000 (default 100).
 * - putMany writes a batch in one round trip (or a few for thousands), never one per record.
 */
import type { Page } from './model.js';

export type RecordValue = string | number | boolean | null;
/** Equality with a value, or a numeric range (`gte` inclusive, `lt` exclusive), or membership in a list. */
export type RecordCondition = RecordValue | { gte?: number; lt?: number; in?: RecordValue[] };

export interface RecordQuery {
  where?: Record<string, RecordCondition>;
  sort?: { field: string; order: 'asc' | 'desc' };
  offset?: number;
  limit?: number;
}

export interface RecordCollection<T extends { id: string }> {
  /** Insert, or replace the record with the same id. */
  put(record: T): Promise<void>;
  /** Batched: one round trip (or a few), not one per record. Within a batch the last record per id wins. */
  putMany(records: T[]): Promise<void>;
  get(id: string): Promise<T | null>;
  /** True when a record was deleted. */
  delete(id: string): Promise<boolean>;
  /** where: equality / range / in on top-level fields. */
  find(query?: RecordQuery): Promise<Page<T>>;
  /** Deletes every matching record (an empty `where` matches all); returns how many. */
  deleteWhere(where: Record<string, RecordCondition>): Promise<number>;
}

export interface RecordStore {
  /**
   * indexedFields: top-level fields queried or sorted on; the adapter indexes them. Idempotent: calling it
   * again (here or after a restart) with more fields adds their indexes. The collection is created on first use.
   */
  collection<T extends { id: string }>(name: string, indexedFields: string[]): RecordCollection<T>;
}

/** Collection names: lower-case, safe as an SQL table suffix and a MongoDB collection name. */
export const RECORD_COLLECTION_NAME = /^[a-z][a-z0-9_]{0,47}$/;
/** Field names: safe inside a JSON path and never a MongoDB operator or dotted path. */
export const RECORD_FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Throws unless `name` is a valid collection name (a programming error, so a plain Error). */
export function assertCollectionName(name: string): void {
  if (!RECORD_COLLECTION_NAME.test(name)) throw new Error(`record collection name ${JSON.stringify(name)} must match ${RECORD_COLLECTION_NAME}`);
}

/** Throws unless `field` is a valid top-level field name. */
export function assertFieldName(field: string): void {
  if (!RECORD_FIELD_NAME.test(field)) throw new Error(`record field name ${JSON.stringify(field)} must match ${RECORD_FIELD_NAME}`);
}

/** Throws unless the record has a usable id. */
export function assertRecordId(record: { id: unknown }): void {
  if (typeof record.id !== 'string' || record.id === '') throw new Error('a record needs a non-empty string id');
}

/** True when a condition is a range / in object rather than a plain value. */
export function isConditionObject(condition: RecordCondition): condition is { gte?: number; lt?: number; in?: RecordValue[] } {
  return condition !== null && typeof condition === 'object';
}
