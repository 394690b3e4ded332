/**
 * The write queue between the in-memory registry (the one source of truth for live state) and the store
 * (its persistence).
 *
 * Two kinds of writers use it:
 * - Frequent, cheap updates (keepalives, channel status, history) are written behind: collected in memory
 *   and flushed every `flushIntervalMs` as a few batch calls. A device that changed several times between
 *   flushes is written once with its latest state.
 * - Acknowledged state (a REGISTER's 200 OK) asks `whenDurable()`: a group commit. The next flush starts
 *   at once (or as soon as the one in flight ends) and writes everything pending as one batch, one
 *   transaction / one journaled write per collection, and every waiter of that batch is answered together.
 *   So a storm costs one commit per batch, not one per message.
 *
 * Store outages (docs/durability.md):
 * - Every store call has a timeout (`operationTimeoutMs`): a black-holed connection cannot hang the queue.
 * - A failed batch is put back (coalesced with newer changes) and retried every `flushIntervalMs`; the
 *   queue reports `degraded` with the reason until a write succeeds again, then drains everything.
 * - While degraded, `whenDurable()` answers 'degraded' at once: signalling keeps serving from memory (the
 *   answer is counted as not durable) instead of holding every REGISTER for the length of the outage.
 * - The queue is bounded (`maxQueued` rows). Device rows are coalesced per device, so they are bounded by
 *   the number of devices and are never dropped; when the bound is hit, the oldest history rows (status
 *   events, then alarms) are dropped and counted.
 */
import type { Logger } from 'pino';
import type { AlarmEvent, Device, OnlineStatus, StatusEvent } from './model.js';
import type { DeviceLiveness, GatewayStore } from './store.js';

export interface WriteBehindObserver {
  /** Called after each batch call with its duration; feeds the store-write-latency histogram. */
  onBatchWritten(operation: string, items: number, seconds: number): void;
  onBatchFailed(operation: string, items: number, error: unknown): void;
  /** History rows dropped because the queue hit its bound. */
  onDropped?(kind: 'status-events' | 'alarms', count: number): void;
  /** A group-commit waiter was answered without its state being durable. */
  onNotDurable?(outcome: Exclude<Durability, 'durable'>): void;
}

export interface WriteBehindOptions {
  /** Period of the write-behind flush (keepalives, history), and of retries while the store is down. */
  flushIntervalMs: number;
  /** Every store call is abandoned (and retried later) after this long. */
  operationTimeoutMs: number;
  /** Bound on queued rows (see the module comment for what is dropped). */
  maxQueued: number;
}

/** Outcome of waiting for durability: written, waited too long, or the store is down (answered from memory). */
export type Durability = 'durable' | 'timeout' | 'degraded';

export interface StoreQueueHealth {
  state: 'ok' | 'degraded';
  /** Why degraded (the last store error), null when ok. */
  reason: string | null;
  /** Epoch ms since when degraded, null when ok. */
  since: number | null;
  /** Rows waiting to be written. */
  queued: number;
  /** History rows dropped at the bound since start. */
  dropped: number;
}

export class StoreTimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`store ${operation} did not finish within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** Rejects after `ms` (the operation itself is abandoned, not cancelled; its writes are idempotent upserts). */
export async function withTimeout<T>(operation: string, ms: number, run: () => Promise<T>): Promise<T> {
  return raceTimeout(run(), operation, ms);
}

async function raceTimeout<T>(work: Promise<T>, operation: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StoreTimeoutError(operation, ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Rows per store call unless the store says otherwise (GatewayStore.rowsPerWrite). A backlog after an
 * outage is written in calls of this size, each with its own timeout, so that a slow store makes progress
 * call by call instead of timing out on the whole backlog again and again.
 */
const DEFAULT_ROWS_PER_WRITE = 500;

/** One kind of queued row, split into store calls of rowsPerCall rows. */
interface Batch {
  operation: string;
  rows: number;
  chunks: number;
  rowsIn(chunk: number): number;
  write(chunk: number): Promise<void>;
  /** Put this chunk and every later one back into the queue, in order. */
  requeueFrom(chunk: number): void;
  /** A timed-out write of this chunk succeeded after all: drop its rows from the queue unless newer ones replaced them. */
  forget(chunk: number): void;
}

function batch<T>(
  chunkRows: number,
  operation: string,
  rows: T[],
  write: (rows: T[]) => Promise<void>,
  requeue: (rows: T[]) => void,
  forget: (rows: Set<T>) => void,
): Batch {
  const slice = (chunk: number): T[] => rows.slice(chunk * chunkRows, (chunk + 1) * chunkRows);
  return {
    operation,
    rows: rows.length,
    chunks: Math.ceil(rows.length / chunkRows),
    rowsIn: (chunk) => slice(chunk).length,
    write: (chunk) => write(slice(chunk)),
    requeueFrom: (chunk) => requeue(rows.slice(chunk * chunkRows)),
    forget: (chunk) => forget(new Set(slice(chunk))),
  };
}

interface Waiter {
  resolve(outcome: Durability): void;
}

export class WriteBehind {
  private devices = new Map<string, Device>();
  private liveness = new Map<string, DeviceLiveness>();
  private channelStatus = new Map<string, { status: OnlineStatus; at: number }>();
  private statusEvents: StatusEvent[] = [];
  private alarms: AlarmEvent[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private commitScheduled = false;
  private closed = false;
  private degradedReason: string | null = null;
  private degradedSince: number | null = null;
  private droppedRows = 0;
  private inFlight = 0;
  /** A store call abandoned after its timeout, possibly still running. */
  private abandoned: Promise<unknown> | null = null;

  constructor(
    private readonly store: GatewayStore,
    private readonly options: WriteBehindOptions,
    private readonly logger: Logger,
    private readonly observer?: WriteBehindObserver,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Latest full state of a device (registration, status or info changed). */
  device(device: Device): void {
    this.devices.set(device.id, { ...device });
    this.liveness.delete(device.id);
  }

  /** Only liveness changed (keepalive): cheaper partial update. */
  keepalive(update: DeviceLiveness): void {
    const pending = this.devices.get(update.id);
    if (pending) {
      // A new object, not a change in place: a row being written (or put back) is never changed under it.
      this.devices.set(update.id, {
        ...pending,
        lastKeepaliveAt: update.lastKeepaliveAt,
        remoteAddress: update.remoteAddress,
        remotePort: update.remotePort,
        transport: update.transport,
      });
      return;
    }
    this.liveness.set(update.id, update);
  }

  channelsOfDevice(deviceId: string, status: OnlineStatus, at: number): void {
    this.channelStatus.set(deviceId, { status, at });
  }

  statusEvent(event: StatusEvent): void {
    this.statusEvents.push(event);
    this.enforceBound();
  }

  alarm(alarm: AlarmEvent): void {
    this.alarms.push(alarm);
    this.enforceBound();
  }

  /** Rows waiting for the next flush (not counting the batch being written). */
  get pending(): number {
    return this.devices.size + this.liveness.size + this.channelStatus.size + this.statusEvents.length + this.alarms.length;
  }

  /** Rows not yet in the store: waiting, plus the batch being written (hung on a dead connection, maybe). */
  get queued(): number {
    return this.pending + this.inFlight;
  }

  health(): StoreQueueHealth {
    return {
      state: this.degradedReason === null ? 'ok' : 'degraded',
      reason: this.degradedReason,
      since: this.degradedSince,
      queued: this.queued,
      dropped: this.droppedRows,
    };
  }

  /**
   * Group commit: resolves once everything queued so far (the caller's change included) is durable in the
   * store, or with 'timeout' after `timeoutMs`, or at once with 'degraded' while the store is failing.
   */
  whenDurable(timeoutMs: number, opts: { acknowledgement?: boolean } = {}): Promise<Durability> {
    // Only acknowledgements (a 200 OK) count as "not durable" in the metric; a read that waits does not.
    const counted = opts.acknowledgement ?? true;
    if (this.closed) return Promise.resolve('degraded');
    if (this.degradedReason !== null) {
      if (counted) this.observer?.onNotDurable?.('degraded');
      return Promise.resolve('degraded');
    }
    return new Promise<Durability>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      const finish = (outcome: Durability): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (outcome !== 'durable' && counted) this.observer?.onNotDurable?.(outcome);
        resolve(outcome);
      };
      this.waiters.push({ resolve: finish });
      this.scheduleCommit();
    });
  }

  /** Write everything buffered so far. Concurrent callers share one flush; a later call waits and flushes again. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending === 0) {
      // Everything queued before these waiters was written by the flush that just ended (a failed one
      // would have put its rows back): their state is durable.
      this.settleWaiters('durable');
      return;
    }
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Bounded: a dead store must not hang the shutdown (the queue is lost then, and the log says so).
    try {
      await withTimeout('final flush', this.options.operationTimeoutMs * 2, () => this.flush());
    } catch (err) {
      this.logger.error({ err, queued: this.pending }, 'store queue not written at shutdown');
    }
    if (this.pending > 0) this.logger.error({ queued: this.pending }, 'store queue not written at shutdown');
    this.closed = true;
    this.settleWaiters('degraded');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    // setImmediate: every REGISTER of this event-loop turn (a UDP burst) joins the same batch.
    setImmediate(() => {
      this.commitScheduled = false;
      void this.flush();
    });
  }

  private async tick(): Promise<void> {
    if (this.pending > 0) {
      await this.flush();
      return;
    }
    if (this.degradedReason === null || this.flushing) return;
    // Degraded with nothing to write: probe, so that the state clears once the store answers again.
    const alive = await withTimeout('ping', this.options.operationTimeoutMs, () => this.store.ping()).catch(() => false);
    if (alive && this.pending === 0) this.recovered(0, 0);
  }

  private settleWaiters(outcome: Durability): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(outcome);
  }

  /** Drop the oldest history rows while over the bound. Device rows are coalesced and never dropped. */
  private enforceBound(): void {
    let over = this.queued - this.options.maxQueued;
    if (over <= 0) return;
    const events = Math.min(over, this.statusEvents.length);
    if (events > 0) {
      this.statusEvents.splice(0, events);
      this.dropped('status-events', events);
      over -= events;
    }
    const alarms = Math.min(over, this.alarms.length);
    if (alarms > 0) {
      this.alarms.splice(0, alarms);
      this.dropped('alarms', alarms);
    }
  }

  private dropped(kind: 'status-events' | 'alarms', count: number): void {
    if (this.droppedRows === 0 || this.droppedRows % 10_000 < count) {
      this.logger.error({ kind, count, bound: this.options.maxQueued, reason: this.degradedReason }, 'store queue full: dropping the oldest history rows');
    }
    this.droppedRows += count;
    this.observer?.onDropped?.(kind, count);
  }

  private async flushOnce(): Promise<void> {
    if (this.abandoned) {
      // Bounded: the adapters' own socket timeouts end a call on a dead connection well before this.
      const abandoned = this.abandoned;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([abandoned, new Promise<void>((r) => (timer = setTimeout(r, this.options.operationTimeoutMs * 6)))]);
      clearTimeout(timer);
      if (this.abandoned === abandoned) this.abandoned = null;
    }
    const started = Date.now();
    const devices = [...this.devices.values()];
    const liveness = [...this.liveness.values()];
    const channelStatus = [...this.channelStatus.entries()];
    const statusEvents = this.statusEvents;
    const alarms = this.alarms;
    const waiters = this.waiters;
    this.devices = new Map();
    this.liveness = new Map();
    this.channelStatus = new Map();
    this.statusEvents = [];
    this.alarms = [];
    this.waiters = [];

    // A newer change queued meanwhile wins over the rows that are put back.
    const rowsPerCall = this.store.rowsPerWrite ?? DEFAULT_ROWS_PER_WRITE;
    const batches: Batch[] = [
      batch(
        rowsPerCall,
        'upsertDevices',
        devices,
        (rows) => this.store.upsertDevices(rows),
        (rows) => {
          for (const d of rows) if (!this.devices.has(d.id)) this.devices.set(d.id, d);
        },
        (rows) => {
          for (const d of rows) if (this.devices.get(d.id) === d) this.devices.delete(d.id);
        },
      ),
      batch(
        rowsPerCall,
        'updateDeviceLiveness',
        liveness,
        (rows) => this.store.updateDeviceLiveness(rows),
        (rows) => {
          for (const l of rows) if (!this.liveness.has(l.id) && !this.devices.has(l.id)) this.liveness.set(l.id, l);
        },
        (rows) => {
          for (const l of rows) if (this.liveness.get(l.id) === l) this.liveness.delete(l.id);
        },
      ),
      batch(
        rowsPerCall,
        'setChannelsStatusForDevice',
        channelStatus,
        async (rows) => {
          for (const [deviceId, { status, at }] of rows) await this.store.setChannelsStatusForDevice(deviceId, status, at);
        },
        (rows) => {
          for (const [id, v] of rows) if (!this.channelStatus.has(id)) this.channelStatus.set(id, v);
        },
        (rows) => {
          for (const [id, v] of rows) if (this.channelStatus.get(id) === v) this.channelStatus.delete(id);
        },
      ),
      batch(
        rowsPerCall,
        'appendStatusEvents',
        statusEvents,
        (rows) => this.store.appendStatusEvents(rows),
        (rows) => {
          this.statusEvents = rows.concat(this.statusEvents);
        },
        (rows) => {
          this.statusEvents = this.statusEvents.filter((e) => !rows.has(e));
        },
      ),
      batch(
        rowsPerCall,
        'appendAlarms',
        alarms,
        (rows) => this.store.appendAlarms(rows),
        (rows) => {
          this.alarms = rows.concat(this.alarms);
        },
        (rows) => {
          this.alarms = this.alarms.filter((a) => !rows.has(a));
        },
      ),
    ];

    let failure: unknown = null;
    let written = 0;
    this.inFlight = batches.reduce((n, b) => n + b.rows, 0);
    const writeFlush = this.store.writeFlush?.bind(this.store);
    if (writeFlush && this.inFlight > 0 && batches.every((b) => b.chunks <= 1)) {
      // The whole flush in one call: one commit (one fsync on SQLite) for the group commit instead of one per
      // kind of row. All or nothing, so a failure puts every row back, as the per-kind path does.
      const rows = this.inFlight;
      const t0 = process.hrtime.bigint();
      const write = writeFlush({ devices, liveness, channelStatus, statusEvents, alarms });
      try {
        await raceTimeout(write, 'writeFlush', this.options.operationTimeoutMs);
        written = rows;
        this.observer?.onBatchWritten('writeFlush', rows, Number(process.hrtime.bigint() - t0) / 1e9);
      } catch (err) {
        failure = err;
        if (err instanceof StoreTimeoutError) {
          this.abandoned = write.then(
            () => batches.forEach((b) => b.rows > 0 && b.forget(0)),
            () => undefined,
          );
        }
        for (const b of batches) if (b.rows > 0) b.requeueFrom(0);
        this.observer?.onBatchFailed('writeFlush', rows, err);
        this.logger.error({ err, operation: 'writeFlush', items: rows, queued: this.queued }, 'store write failed; kept in the queue and retried');
      }
    } else {
      for (const b of batches) {
        // After one failure the rest goes straight back: the next attempt is a flush period away.
        for (let chunk = 0; chunk < b.chunks; chunk++) {
          if (failure !== null) {
            b.requeueFrom(chunk);
            break;
          }
          const t0 = process.hrtime.bigint();
          const write = b.write(chunk);
          try {
            await raceTimeout(write, b.operation, this.options.operationTimeoutMs);
            const rows = b.rowsIn(chunk);
            written += rows;
            this.inFlight -= rows;
            this.observer?.onBatchWritten(b.operation, rows, Number(process.hrtime.bigint() - t0) / 1e9);
          } catch (err) {
            failure = err;
            // A timed-out call may still be running (in the driver, on a dead connection): the next attempt
            // waits for it to end first, so retries never pile up behind it (see flushOnce's start).
            // If it succeeds after all, its rows are not written twice (status events would be duplicated).
            if (err instanceof StoreTimeoutError) {
              this.abandoned = write.then(
                () => b.forget(chunk),
                () => undefined,
              );
            }
            b.requeueFrom(chunk);
            this.observer?.onBatchFailed(b.operation, b.rowsIn(chunk), err);
            this.logger.error({ err, operation: b.operation, items: b.rowsIn(chunk), queued: this.queued }, 'store write failed; kept in the queue and retried');
            break;
          }
        }
      }
    }
    this.inFlight = 0;
    this.enforceBound();

    if (failure === null) {
      if (this.degradedReason !== null) this.recovered(written, Date.now() - started);
      for (const w of waiters) w.resolve('durable');
      return;
    }
    if (this.degradedReason === null) {
      this.degradedSince = Date.now();
      this.logger.error({ reason: errorText(failure) }, 'store degraded: serving from memory, writes queued');
    }
    this.degradedReason = errorText(failure);
    // Not durable: the callers answer from memory now rather than hold signalling for the outage.
    for (const w of waiters) w.resolve('degraded');
  }

  private recovered(lastBatchRows: number, lastBatchMs: number): void {
    this.logger.warn(
      { outageMs: this.degradedSince === null ? 0 : Date.now() - this.degradedSince, lastBatchRows, lastBatchMs, droppedRows: this.droppedRows },
      'store recovered: queued writes drained',
    );
    this.degradedReason = null;
    this.degradedSince = null;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
