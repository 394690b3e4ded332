/**
 * Write-behind buffer between the in-memory registry and the store.
 *
 * A registration storm or the steady keepalive stream must not become one store round trip per device:
 * changes are collected in memory and flushed every `flushIntervalMs` as a few batch calls. A device that
 * changed several times between flushes is written once with its latest state.
 */
import type { Logger } from 'pino';
import type { AlarmEvent, Device, OnlineStatus, StatusEvent } from './model.js';
import type { DeviceLiveness, GatewayStore } from './store.js';

export interface WriteBehindObserver {
  /** Called after each batch call with its duration; feeds the store-write-latency histogram. */
  onBatchWritten(operation: string, items: number, seconds: number): void;
  onBatchFailed(operation: string, items: number, error: unknown): void;
}

export class WriteBehind {
  private devices = new Map<string, Device>();
  private liveness = new Map<string, DeviceLiveness>();
  private channelStatus = new Map<string, { status: OnlineStatus; at: number }>();
  private statusEvents: StatusEvent[] = [];
  private alarms: AlarmEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: GatewayStore,
    private readonly flushIntervalMs: number,
    private readonly logger: Logger,
    private readonly observer?: WriteBehindObserver,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
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
      pending.lastKeepaliveAt = update.lastKeepaliveAt;
      pending.remoteAddress = update.remoteAddress;
      pending.remotePort = update.remotePort;
      pending.transport = update.transport;
      return;
    }
    this.liveness.set(update.id, update);
  }

  channelsOfDevice(deviceId: string, status: OnlineStatus, at: number): void {
    this.channelStatus.set(deviceId, { status, at });
  }

  statusEvent(event: StatusEvent): void {
    this.statusEvents.push(event);
  }

  alarm(alarm: AlarmEvent): void {
    this.alarms.push(alarm);
  }

  get pending(): number {
    return this.devices.size + this.liveness.size + this.channelStatus.size + this.statusEvents.length + this.alarms.length;
  }

  /** Write everything buffered so far. Concurrent callers share one flush; a later call waits and flushes again. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending === 0) return;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async flushOnce(): Promise<void> {
    const devices = [...this.devices.values()];
    const liveness = [...this.liveness.values()];
    const channelStatus = [...this.channelStatus.entries()];
    const statusEvents = this.statusEvents;
    const alarms = this.alarms;
    this.devices = new Map();
    this.liveness = new Map();
    this.channelStatus = new Map();
    this.statusEvents = [];
    this.alarms = [];

    await this.run('upsertDevices', devices.length, () => this.store.upsertDevices(devices), () => {
      for (const d of devices) if (!this.devices.has(d.id)) this.devices.set(d.id, d);
    });
    await this.run('updateDeviceLiveness', liveness.length, () => this.store.updateDeviceLiveness(liveness), () => {
      for (const l of liveness) if (!this.liveness.has(l.id) && !this.devices.has(l.id)) this.liveness.set(l.id, l);
    });
    await this.run(
      'setChannelsStatusForDevice',
      channelStatus.length,
      async () => {
        for (const [deviceId, { status, at }] of channelStatus) await this.store.setChannelsStatusForDevice(deviceId, status, at);
      },
      () => {
        for (const [id, v] of channelStatus) if (!this.channelStatus.has(id)) this.channelStatus.set(id, v);
      },
    );
    await this.run('appendStatusEvents', statusEvents.length, () => this.store.appendStatusEvents(statusEvents), () => {
      this.statusEvents.unshift(...statusEvents);
    });
    await this.run('appendAlarms', alarms.length, () => this.store.appendAlarms(alarms), () => {
      this.alarms.unshift(...alarms);
    });
  }

  /** Runs one batch; on failure the batch is put back so the next flush retries it (nothing is lost). */
  private async run(operation: string, items: number, write: () => Promise<void>, requeue: () => void): Promise<void> {
    if (items === 0) return;
    const started = process.hrtime.bigint();
    try {
      await write();
      this.observer?.onBatchWritten(operation, items, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      requeue();
      this.observer?.onBatchFailed(operation, items, err);
      this.logger.error({ err, operation, items }, 'store write failed; will retry on the next flush');
    }
  }
}
