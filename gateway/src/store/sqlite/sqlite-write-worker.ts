/**
 * The embedded store's write thread (see sqlite-write-lane.ts): its own connection to the store's file, running
 * the operations of sqlite-writes.ts in the order they arrive and answering each with its result or error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SqliteWrites, configureConnection, type WriteOp } from './sqlite-writes.js';
import type { WriteReply, WriteRequest } from './sqlite-write-lane.js';

function errorOf(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return typeof code === 'string' ? { message: err.message, code } : { message: err.message };
  }
  return { message: String(err) };
}

const port = parentPort;
if (!port) throw new Error('sqlite-write-worker.ts runs only as a worker thread');
const { file } = workerData as { file: string };

let db: Database.Database;
let writes: SqliteWrites;
try {
  db = new Database(file);
  configureConnection(db);
  writes = new SqliteWrites(db);
  port.postMessage({ ready: true } satisfies WriteReply);
} catch (err) {
  port.postMessage({ ready: false, error: errorOf(err) } satisfies WriteReply);
  process.exit(1);
}

port.on('message', (msg: WriteRequest) => {
  if (msg.op === 'close') {
    db.close();
    port.postMessage({ id: msg.id, ok: true, result: null } satisfies WriteReply);
    port.close();
    return;
  }
  try {
    const fn = writes[msg.op as WriteOp] as (...args: unknown[]) => unknown;
    const result = fn.apply(writes, msg.args);
    port.postMessage({ id: msg.id, ok: true, result: result ?? null } satisfies WriteReply);
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, error: errorOf(err) } satisfies WriteReply);
  }
});
