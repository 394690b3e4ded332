/**
 * Where the embedded store's writes run: on a write thread with its own connection (the default when running
 * the built gateway), or inline on the main thread's connection (when running from TypeScript sources, e.g.
 * under vitest, where a worker cannot load a .ts file; or when asked to).
 *
 * Why a thread: better-sqlite3 is synchronous, and with synchronous=FULL every commit waits for an fsync. In a
 * registration storm the group commit (domain/write-behind.ts) issues a commit every few milliseconds; measured
 * on the 2-core machine, 50,000 REGISTERs plus their first keepalives spent ~3.9 s of the main thread inside
 * SQLite (commits, fsyncs, statement execution) — time in which no SIP datagram was read or answered. On the
 * write thread that time overlaps with signalling. Reads stay on the main connection: in WAL mode a reader sees
 * every transaction committed before its statement began, so a read issued after an awaited write sees it.
 *
 * Writes are carried in call order (one thread, FIFO messages), so an alarm acknowledged right after it was
 * appended, or channels pruned right after a catalog upsert, behave as they did inline. If the thread dies, the
 * calls in flight fail (the write queue retries them) and the next call starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type Database from 'better-sqlite3';
import { SqliteWrites, type WriteArgs, type WriteOp, type WriteResult } from './sqlite-writes.js';

export interface SqliteWriteLane {
  readonly kind: 'thread' | 'inline';
  run<K extends WriteOp>(op: K, ...args: WriteArgs<K>): Promise<WriteResult<K>>;
  close(): Promise<void>;
}

/** Messages to the write thread. */
export type WriteRequest = { id: number; op: WriteOp; args: unknown[] } | { id: number; op: 'close' };
/** Messages from the write thread. */
export type WriteReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { message: string; code?: string } }
  | { ready: true }
  | { ready: false; error: { message: string; code?: string } };

export class InlineWriteLane implements SqliteWriteLane {
  readonly kind = 'inline';
  private readonly writes: SqliteWrites;

  constructor(db: Database.Database) {
    this.writes = new SqliteWrites(db);
  }

  async run<K extends WriteOp>(op: K, ...args: WriteArgs<K>): Promise<WriteResult<K>> {
    const fn = this.writes[op] as (...a: WriteArgs<K>) => WriteResult<K>;
    return fn.apply(this.writes, args);
  }

  async close(): Promise<void> {}
}

/** An error from the write thread, with SQLite's code (SQLITE_BUSY, SQLITE_FULL, …) kept. */
export class SqliteWriteError extends Error {
  override readonly name = 'SqliteWriteError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class ThreadWriteLane implements SqliteWriteLane {
  readonly kind = 'thread';
  private worker: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly workerUrl: URL,
    private readonly logger?: Logger,
  ) {}

  /** Starts the thread and waits until its connection is open (a bad file fails here, not at the first write). */
  async start(): Promise<void> {
    await this.ensureWorker();
  }

  async run<K extends WriteOp>(op: K, ...args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.closed) throw new SqliteWriteError('SqliteStore used after close()');
    const worker = this.worker ?? (await this.ensureWorker());
    const id = this.nextId++;
    return new Promise<WriteResult<K>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, op, args } satisfies WriteRequest);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker ?? (this.starting ? await this.starting.catch(() => null) : null);
    if (!worker) return;
    // FIFO: the close request is handled after every write already posted, so nothing queued is dropped.
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
      worker.once('exit', () => resolve());
      worker.postMessage({ id, op: 'close' } satisfies WriteRequest);
    });
    await worker.terminate();
    this.worker = null;
  }

  private ensureWorker(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.starting) return this.starting;
    this.starting = new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(this.workerUrl, { workerData: { file: this.file } });
      // The store's owner closes it on shutdown; an idle write thread must not keep a finished process alive.
      worker.unref();
      let ready = false;
      worker.on('message', (msg: WriteReply) => {
        if ('ready' in msg) {
          if (msg.ready) {
            ready = true;
            this.worker = worker;
            resolve(worker);
          } else {
            reject(new SqliteWriteError(`sqlite write thread could not open ${this.file}: ${msg.error.message}`, msg.error.code));
          }
          return;
        }
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new SqliteWriteError(msg.error.message, msg.error.code));
      });
      const lost = (why: string): void => {
        if (this.worker === worker) this.worker = null;
        this.starting = null;
        if (!ready) reject(new SqliteWriteError(`sqlite write thread failed to start: ${why}`));
        if (this.pending.size === 0) return;
        if (!this.closed) this.logger?.error({ inFlight: this.pending.size, why }, 'sqlite write thread stopped; failing the writes in flight');
        for (const p of this.pending.values()) p.reject(new SqliteWriteError(`sqlite write thread stopped: ${why}`));
        this.pending.clear();
      };
      worker.on('error', (err) => lost(err.message));
      worker.on('exit', (code) => lost(`exited with code ${code}`));
    });
    this.starting.catch(() => {
      this.starting = null;
    });
    return this.starting;
  }
}
