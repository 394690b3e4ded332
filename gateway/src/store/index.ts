/** Picks the storage adapter: MongoDB when a URL is configured, otherwise the embedded SQLite store. */
import type { Logger } from 'pino';
import type { GatewayStore } from '../domain/store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { MongoStore } from './mongo/mongo-store.js';

export interface CreateStoreOptions {
  mongoUrl?: string;
  mongoDatabase?: string;
  dataDir: string;
  logger?: Logger;
  /** How long one operation may wait for the server (MongoDB adapter). */
  operationTimeoutMs?: number;
}

export function createStore(opts: CreateStoreOptions): GatewayStore {
  if (opts.mongoUrl) return new MongoStore(opts.mongoUrl, opts.mongoDatabase ?? 'sharp_eyes', opts.logger, opts.operationTimeoutMs);
  return new SqliteStore(opts.dataDir, opts.logger);
}
