/**
 * The store write queue: group commit (one batch call answers every waiter), the degraded state and its
 * recovery, the per-call timeout, and the bound (history dropped, device rows kept).
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Device, StatusEvent } from '../../src/domain/model.js';
import type { DeviceLiveness, FlushRows, GatewayStore } from '../../src/domain/store.js';
import { WriteBehind, type Durability } from '../../src/domain/write-behind.js';

const T0 = Date.UTC(2026, 0, 1);

function device(n: number): Device {
  const id = `440305000013200${String(n).padStart(5, '0')}`;
  return {
    id, protocol: 'gb28181', name: '', typeCode: '132', civilCode: '44030500', manufacturer: '', model: '', firmware: '', userAgent: '', gbVersion: '',
    profile: 'generic', status: 'online', offlineReason: null, transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 5060, contact: '',
    expires: 3600, registeredAt: T0, registrationExpiresAt: T0 + 3_600_000, lastKeepaliveAt: T0, statusChangedAt: T0, channelCount: 0,
    charset: 'GB2312', createdAt: T0, updatedAt: T0,
  };
}

function event(n: number): StatusEvent {
  return { subject: 'device', subjectId: `d${n}`, deviceId: `d${n}`, status: 'online', reason: 'registered', at: T0 + n };
}

/** A store whose device writes can be made to fail or hang; records what reached it. */
class FakeStore {
  calls: Array<{ op: string; rows: number }> = [];
  devices = new Map<string, Device>();
  events: StatusEvent[] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  hung: Array<() => void> = [];

  async upsertDevices(rows: Device[]): Promise<void> {
    await this.gate();
    this.calls.push({ op: 'upsertDevices', rows: rows.length });
    for (const d of rows) this.devices.set(d.id, d);
  }
  async updateDeviceLiveness(rows: DeviceLiveness[]): Promise<void> {
    await this.gate();
    this.calls.push({ op: 'updateDeviceLiveness', rows: rows.length });
  }
  async setChannelsStatusForDevice(): Promise<void> {
    await this.gate();
  }
  async appendStatusEvents(rows: StatusEvent[]): Promise<void> {
    await this.gate();
    this.events.push(...rows);
  }
  async appendAlarms(): Promise<void> {
    await this.gate();
  }
  async ping(): Promise<boolean> {
    return this.mode === 'ok';
  }

  protected gate(): Promise<void> {
    if (this.mode === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.mode === 'hang') return new Promise((resolve) => this.hung.push(resolve));
    return Promise.resolve();
  }
}

/** A store that also takes a whole flush in one call (as SqliteStore does: one transaction). */
class FlushingStore extends FakeStore {
  readonly rowsPerWrite = 100;
  async writeFlush(rows: FlushRows): Promise<void> {
    await this.gate();
    const n = rows.devices.length + rows.liveness.length + rows.channelStatus.length + rows.statusEvents.length + rows.alarms.length;
    this.calls.push({ op: 'writeFlush', rows: n });
    for (const d of rows.devices) this.devices.set(d.id, d);
    this.events.push(...rows.statusEvents);
  }
}

function queue(store: FakeStore, opts: { operationTimeoutMs?: number; maxQueued?: number } = {}) {
  const dropped: number[] = [];
  const notDurable: string[] = [];
  const writer = new WriteBehind(
    store as unknown as GatewayStore,
    { flushIntervalMs: 60_000, operationTimeoutMs: opts.operationTimeoutMs ?? 5000, maxQueued: opts.maxQueued ?? 1_000_000 },
    pino({ enabled: false }),
    {
      onBatchWritten: () => undefined,
      onBatchFailed: () => undefined,
      onDropped: (_kind, n) => dropped.push(n),
      onNotDurable: (outcome) => notDurable.push(outcome),
    },
  );
  return { writer, dropped, notDurable };
}

describe('WriteBehind', () => {
  it('group commit: a burst of waiters is answered by one batch call, after its rows are in the store', async () => {
    const store = new FakeStore();
    const { writer } = queue(store);
    const waits: Array<Promise<Durability>> = [];
    for (let i = 0; i < 300; i++) {
      writer.device(device(i));
      waits.push(writer.whenDurable(10_000).then((outcome) => {
        // Answered only once this device's row is in the store.
        expect(store.devices.has(device(i).id)).toBe(true);
        return outcome;
      }));
    }
    expect(new Set(await Promise.all(waits))).toEqual(new Set(['durable']));
    expect(store.calls).toEqual([{ op: 'upsertDevices', rows: 300 }]);
  });

  it('while the store fails: waiters are answered "degraded" at once, rows are kept, and written when it is back', async () => {
    const store = new FakeStore();
    const { writer, notDurable } = queue(store);
    store.mode = 'fail';
    writer.device(device(1));
    expect(await writer.whenDurable(10_000)).toBe('degraded');
    expect(writer.health()).toMatchObject({ state: 'degraded', reason: 'Error: connection refused', queued: 1 });
    writer.device(device(2));
    expect(await writer.whenDurable(10_000)).toBe('degraded');
    expect(notDurable).toEqual(['degraded', 'degraded']);

    store.mode = 'ok';
    await writer.flush();
    expect([...store.devices.keys()]).toEqual([device(1).id, device(2).id]);
    expect(writer.health()).toMatchObject({ state: 'ok', reason: null, queued: 0 });
    writer.device(device(3));
    expect(await writer.whenDurable(10_000)).toBe('durable');
  });

  it('a call that hangs is abandoned after the timeout; if it completes later its rows are not written again', async () => {
    const store = new FakeStore();
    const { writer } = queue(store, { operationTimeoutMs: 50 });
    store.mode = 'hang';
    writer.device(device(1));
    expect(await writer.whenDurable(10_000)).toBe('degraded');
    expect(writer.health().reason).toMatch(/did not finish within 50 ms/);
    expect(writer.queued).toBe(1);

    // The hung call completes after all (a black-holed connection came back): the row is in the store.
    store.mode = 'ok';
    const retry = writer.flush();
    for (const resume of store.hung) resume();
    await retry;
    expect(store.devices.has(device(1).id)).toBe(true);
    expect(writer.queued).toBe(0);
    expect(store.calls).toEqual([{ op: 'upsertDevices', rows: 1 }]);
  });

  it('bounded: over the bound the oldest history rows are dropped and counted; device rows are kept', async () => {
    const store = new FakeStore();
    const { writer, dropped } = queue(store, { maxQueued: 1000 });
    store.mode = 'fail';
    for (let i = 0; i < 10; i++) writer.device(device(i));
    for (let i = 0; i < 1500; i++) writer.statusEvent(event(i));
    expect(writer.queued).toBe(1000);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(510);
    expect(writer.health().dropped).toBe(510);

    store.mode = 'ok';
    await writer.flush();
    expect(store.devices.size).toBe(10);
    expect(store.events.map((e) => e.at)).toEqual(Array.from({ length: 990 }, (_, i) => T0 + 510 + i));
  });

  it('a flush that fits one call goes to writeFlush once (one commit), rows of every kind together', async () => {
    const store = new FlushingStore();
    const { writer } = queue(store);
    for (let i = 0; i < 40; i++) {
      writer.device(device(i));
      writer.statusEvent(event(i));
    }
    writer.keepalive({ id: 'd-other', lastKeepaliveAt: T0, remoteAddress: '127.0.0.1', remotePort: 5060, transport: 'udp' });
    expect(await writer.whenDurable(10_000)).toBe('durable');
    expect(store.calls).toEqual([{ op: 'writeFlush', rows: 81 }]);
    expect(store.devices.size).toBe(40);
    expect(store.events).toHaveLength(40);
  });

  it('writeFlush failing puts every row back; the retry writes them all once', async () => {
    const store = new FlushingStore();
    const { writer } = queue(store);
    store.mode = 'fail';
    writer.device(device(1));
    writer.statusEvent(event(1));
    expect(await writer.whenDurable(10_000)).toBe('degraded');
    expect(writer.queued).toBe(2);
    store.mode = 'ok';
    await writer.flush();
    expect(store.calls).toEqual([{ op: 'writeFlush', rows: 2 }]);
    expect(store.events).toHaveLength(1);
    expect(writer.health()).toMatchObject({ state: 'ok', queued: 0 });
  });

  it('a timed-out writeFlush that completes later is not written again', async () => {
    const store = new FlushingStore();
    const { writer } = queue(store, { operationTimeoutMs: 50 });
    store.mode = 'hang';
    writer.device(device(1));
    writer.statusEvent(event(1));
    expect(await writer.whenDurable(10_000)).toBe('degraded');
    store.mode = 'ok';
    const retry = writer.flush();
    for (const resume of store.hung) resume();
    await retry;
    expect(store.calls).toEqual([{ op: 'writeFlush', rows: 2 }]);
    expect(store.events).toHaveLength(1);
    expect(writer.queued).toBe(0);
  });

  it('a flush larger than one call of a kind falls back to the per-kind calls', async () => {
    const store = new FlushingStore();
    const { writer } = queue(store);
    for (let i = 0; i < 150; i++) writer.device(device(i));
    await writer.flush();
    expect(store.calls).toEqual([
      { op: 'upsertDevices', rows: 100 },
      { op: 'upsertDevices', rows: 50 },
    ]);
  });
});
