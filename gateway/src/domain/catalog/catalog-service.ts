/**
 * Catalog service: asks devices for their catalog (after registration and on demand), stores the items
 * as channels and tree nodes, and keeps channel status tied to device status.
 *
 * After a registration storm every device wants a DeviceInfo and a Catalog query; sending 50,000 of each
 * at once would flood the devices and our own SIP socket. Queries therefore go through a bounded queue
 * with a fixed number in flight; an operator's explicit re-query jumps the queue.
 */
import type { Logger } from 'pino';
import type { CatalogItem } from '../../codecs/manscdp/messages.js';
import { classifyCatalogItem } from '../../codecs/manscdp/messages.js';
import type { Channel, OnlineStatus } from '../model.js';
import type { GatewayStore } from '../store.js';
import type { GatewayEvents, DeviceStatusChange } from '../events.js';
import type { WriteBehind } from '../write-behind.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import { GRASSROOTS_CODE_KEY, type TreeIndex } from './tree-index.js';

/** What the service needs from the signalling engine (a port, so the domain stays testable). */
export interface CatalogQueryPort {
  queryCatalog(
    deviceId: string,
    onProgress: (received: number, total: number | null) => void,
    /** Store one part's rows; the engine acknowledges the part to the device once this settles. */
    storePart?: (items: CatalogItem[]) => Promise<void>,
  ): Promise<{ sn: number; sumNum: number | null; items: CatalogItem[]; state: 'complete' | 'partial' }>;
  queryDeviceInfo(deviceId: string): Promise<{ name: string; manufacturer: string; model: string; firmware: string; channels: number | null }>;
}

export interface CatalogServiceOptions {
  catalogOnRegister: boolean;
  maxConcurrentQueries: number;
  /** Upper bound of the waiting queue; further automatic queries are dropped (an explicit re-query still works). */
  maxQueuedQueries: number;
  /**
   * How long a catalog part's acknowledgement waits for its rows to be stored (store.commitWaitMs); 0: parts
   * are acknowledged at once and the rows stored when the catalog is complete (the behaviour before).
   */
  partCommitWaitMs?: number;
}

export interface CatalogObserver {
  itemsStored(count: number): void;
  /** A catalog part acknowledged before its rows were stored (store slow or down). */
  partNotDurable?(): void;
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const STORE_CHUNK = 5_000;

export class CatalogService {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private closed = false;

  constructor(
    private readonly store: GatewayStore,
    private readonly writer: WriteBehind,
    private readonly registry: DeviceRegistry,
    private readonly tree: TreeIndex,
    private readonly port: CatalogQueryPort,
    private readonly events: GatewayEvents,
    private readonly options: CatalogServiceOptions,
    private readonly logger: Logger,
    private readonly observer?: CatalogObserver,
  ) {
    events.on('device-status', (change) => this.onDeviceStatus(change));
  }

  /** Fill the tree from the store after a restart. */
  async load(): Promise<void> {
    for (const device of this.registry.all()) {
      this.tree.upsertDevice(device.id, device.name, device.civilCode, device.status === 'online');
    }
    const skeletons = await this.store.loadChannelSkeletons();
    const byDevice = new Map<string, Channel[]>();
    for (const s of skeletons) {
      let list = byDevice.get(s.deviceId);
      if (!list) {
        list = [];
        byDevice.set(s.deviceId, list);
      }
      list.push({
        ...emptyChannel(s.deviceId, s.id),
        kind: s.kind,
        name: s.name,
        parentIds: s.parentIds,
        civilCode: s.civilCode,
        reportedStatus: s.reportedStatus,
        businessGroupId: s.businessGroupId,
        extra: s.grassrootsCode ? { [GRASSROOTS_CODE_KEY]: s.grassrootsCode } : {},
      });
    }
    for (const [deviceId, list] of byDevice) this.tree.replaceCatalog(deviceId, list);
    this.logger.info({ channels: skeletons.length, devices: byDevice.size }, 'catalog tree loaded');
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queued.clear();
  }

  get backlog(): number {
    return this.queue.length + this.running.size;
  }

  /** Operator's re-query: runs next, even when the automatic queue is full. */
  request(deviceId: string): void {
    if (this.running.has(deviceId)) return;
    if (this.queued.has(deviceId)) {
      const i = this.queue.indexOf(deviceId);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.queued.add(deviceId);
    this.queue.unshift(deviceId);
    this.events.emit('catalog-progress', { deviceId, sn: 0, received: 0, total: null, state: 'querying' });
    this.pump();
  }

  private onDeviceStatus(change: DeviceStatusChange): void {
    const device = this.registry.get(change.deviceId);
    if (!device) return;
    this.tree.upsertDevice(device.id, device.name, device.civilCode, change.status === 'online');
    // Only devices that reported channels have rows to update: a registration storm of new devices must not
    // become one UPDATE per device.
    const channelIds = this.tree.channelIdsOf(device.id);
    if (channelIds.length > 0 || device.channelCount > 0) {
      this.writer.channelsOfDevice(device.id, change.status, change.at);
    }
    if (channelIds.length > 0) {
      this.events.emit('channel-status', { deviceId: device.id, channelIds, status: change.status, at: change.at });
    }
    if (change.status === 'online' && change.reason === 'registered' && this.options.catalogOnRegister) {
      this.enqueue(device.id);
    }
  }

  private enqueue(deviceId: string): void {
    if (this.closed || this.queued.has(deviceId) || this.running.has(deviceId)) return;
    if (this.queue.length >= this.options.maxQueuedQueries) {
      this.logger.warn({ deviceId, queued: this.queue.length }, 'catalog queue full; automatic query skipped (re-query from the API later)');
      return;
    }
    this.queued.add(deviceId);
    this.queue.push(deviceId);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.options.maxConcurrentQueries && this.queue.length > 0) {
      const deviceId = this.queue.shift() as string;
      this.queued.delete(deviceId);
      this.running.add(deviceId);
      void this.run(deviceId).finally(() => {
        this.running.delete(deviceId);
        this.pump();
      });
    }
  }

  private async run(deviceId: string): Promise<void> {
    if (!this.registry.isOnline(deviceId)) return;
    try {
      const info = await this.port.queryDeviceInfo(deviceId);
      this.registry.updateInfo(deviceId, {
        name: info.name,
        manufacturer: info.manufacturer,
        model: info.model,
        firmware: info.firmware,
      });
    } catch (err) {
      // DeviceInfo is optional for the catalog; many lower platforms answer it late or never.
      this.logger.debug({ deviceId, err: (err as Error).message }, 'DeviceInfo query failed');
    }
    let lastEmit = 0;
    // Durable catalog: each part's rows are written before the device gets its 200 OK. A part that was not
    // written in time (store slow or down) makes the final pass write every row again.
    let partsUnstored = 0;
    const waitMs = this.options.partCommitWaitMs ?? 0;
    const storePart =
      waitMs > 0
        ? async (items: CatalogItem[]): Promise<void> => {
            try {
              await withTimeout(this.storeRows(deviceId, items), waitMs, `catalog part of ${deviceId} not stored within ${waitMs} ms`);
            } catch (err) {
              partsUnstored++;
              this.observer?.partNotDurable?.();
              throw err;
            }
          }
        : undefined;
    try {
      const result = await this.port.queryCatalog(
        deviceId,
        (received, total) => {
          const now = Date.now();
          if (now - lastEmit < 250 && received !== total) return;
          lastEmit = now;
          this.events.emit('catalog-progress', { deviceId, sn: 0, received, total, state: 'receiving' });
        },
        storePart,
      );
      await this.storeCatalog(deviceId, result.items, result.state === 'complete', { rowsStored: storePart !== undefined && partsUnstored === 0 });
      this.events.emit('catalog-progress', {
        deviceId,
        sn: result.sn,
        received: result.items.length,
        total: result.sumNum,
        state: result.state,
      });
      this.logger.info({ deviceId, items: result.items.length, sumNum: result.sumNum, state: result.state }, 'catalog stored');
    } catch (err) {
      const error = (err as Error).message;
      this.logger.warn({ deviceId, error }, 'catalog query failed');
      this.events.emit('catalog-progress', { deviceId, sn: 0, received: 0, total: null, state: 'failed', error });
    }
  }

  private toChannels(deviceId: string, items: CatalogItem[]): Channel[] {
    const deviceOnline = this.registry.get(deviceId)?.status === 'online';
    const now = Date.now();
    return items.map((item) => toChannel(deviceId, item, deviceOnline, now));
  }

  /** Upsert the rows of these items (each chunk one durable batch in the store); returns them. */
  private async storeRows(deviceId: string, items: CatalogItem[]): Promise<Channel[]> {
    const channels = this.toChannels(deviceId, items);
    await this.upsertChunks(channels);
    return channels;
  }

  private async upsertChunks(channels: Channel[]): Promise<void> {
    for (let i = 0; i < channels.length; i += STORE_CHUNK) {
      await this.store.upsertChannels(channels.slice(i, i + STORE_CHUNK));
    }
  }

  /** Exposed for tests and for NOTIFY-driven updates. */
  async storeCatalog(deviceId: string, items: CatalogItem[], complete: boolean, opts: { rowsStored?: boolean } = {}): Promise<void> {
    const channels = opts.rowsStored ? this.toChannels(deviceId, items) : await this.storeRows(deviceId, items);
    await this.apply(deviceId, channels, complete);
  }

  /**
   * Channels a driver described (ONVIF profiles, an RTSP URL, an RTMP publishing point): stored and put in the
   * tree exactly like a GB catalog, so trees, the wall, health and scopes see one kind of channel.
   */
  async storeChannels(deviceId: string, channels: Channel[], complete = true): Promise<void> {
    const device = this.registry.get(deviceId);
    // A device added through the API has no tree node yet (GB devices get one when they register).
    if (device && !this.tree.has(device.id)) this.tree.upsertDevice(device.id, device.name, device.civilCode, device.status === 'online');
    await this.upsertChunks(channels);
    await this.apply(deviceId, channels, complete);
  }

  /** After the rows are stored: drop what the device no longer reports, update the tree and the channel count. */
  private async apply(deviceId: string, channels: Channel[], complete: boolean): Promise<void> {
    if (complete) await this.store.deleteChannelsNotIn(deviceId, channels.map((c) => c.id));
    this.observer?.itemsStored(channels.length);
    if (complete) this.tree.replaceCatalog(deviceId, channels);
    else this.tree.mergeCatalog(deviceId, channels);
    const videoChannels = channels.filter((c) => c.kind === 'channel').length;
    this.registry.updateInfo(deviceId, { channelCount: videoChannels });
  }

  /**
   * A Catalog NOTIFY from a device or lower platform we subscribed to: the items it lists are applied one by
   * one (ADD/UPDATE stored and merged, DEL removed, ON/OFF/VLOST/DEFECT as the channel's reported status) and
   * the promise settles once the rows are stored, so the NOTIFY's 200 OK means durable (like catalog parts).
   * An item without an event is taken as an UPDATE (some platforms leave it out).
   */
  async applyNotify(deviceId: string, items: CatalogItem[]): Promise<{ upserted: number; deleted: number; status: number }> {
    const device = this.registry.get(deviceId);
    if (!device) return { upserted: 0, deleted: 0, status: 0 };
    const upserts = items.filter((i) => i.event === 'ADD' || i.event === 'UPDATE' || i.event === null);
    const deletes = new Set(items.filter((i) => i.event === 'DEL').map((i) => i.deviceId));
    const statuses = items.filter((i) => i.event === 'ON' || i.event === 'OFF' || i.event === 'VLOST' || i.event === 'DEFECT');
    if (upserts.length > 0) {
      const channels = await this.storeRows(deviceId, upserts);
      await this.apply(deviceId, channels, false);
    }
    if (deletes.size > 0) {
      const keep = this.tree.reportedIds(deviceId).filter((id) => !deletes.has(id));
      await this.store.deleteChannelsNotIn(deviceId, keep);
      this.tree.removeItems(deviceId, [...deletes]);
    }
    const now = Date.now();
    const changed: Record<OnlineStatus, string[]> = { online: [], offline: [] };
    for (const item of statuses) {
      const row = await this.store.getChannel(item.deviceId, deviceId);
      if (!row) continue;
      const reported: OnlineStatus = item.event === 'ON' ? 'online' : 'offline';
      const effective: OnlineStatus = reported === 'online' && device.status === 'online' ? 'online' : 'offline';
      await this.store.upsertChannels([{ ...row, reportedStatus: reported, status: effective, statusChangedAt: row.status === effective ? row.statusChangedAt : now, updatedAt: now }]);
      this.tree.setChannelReported(item.deviceId, reported === 'online');
      if (row.status !== effective) changed[effective].push(item.deviceId);
    }
    for (const status of ['online', 'offline'] as const) {
      if (changed[status].length > 0) this.events.emit('channel-status', { deviceId, channelIds: changed[status], status, at: now });
    }
    if (deletes.size > 0 || upserts.length > 0) {
      this.registry.updateInfo(deviceId, { channelCount: this.tree.channelIdsOf(deviceId).length });
    }
    this.logger.info({ deviceId, upserted: upserts.length, deleted: deletes.size, status: statuses.length }, 'catalog NOTIFY applied');
    return { upserted: upserts.length, deleted: deletes.size, status: statuses.length };
  }

  /** A device's name or status changed outside SIP (PATCH of an added device): the tree follows. */
  deviceChanged(deviceId: string): void {
    const device = this.registry.get(deviceId);
    if (device) this.tree.upsertDevice(device.id, device.name, device.civilCode, device.status === 'online');
  }

  /** The device was deleted: out of the tree (its rows go with the device row, store.deleteDevice). */
  removeDevice(deviceId: string): void {
    this.tree.removeDevice(deviceId);
  }
}

export function emptyChannel(deviceId: string, id: string): Channel {
  return {
    id,
    deviceId,
    kind: 'channel',
    name: '',
    manufacturer: '',
    model: '',
    owner: '',
    civilCode: '',
    block: '',
    address: '',
    parental: 0,
    parentIds: [],
    businessGroupId: '',
    safetyWay: null,
    registerWay: null,
    secrecy: 0,
    ipAddress: '',
    port: null,
    reportedStatus: 'online',
    status: 'offline',
    statusChangedAt: 0,
    longitude: null,
    latitude: null,
    ptzType: null,
    extra: {},
    createdAt: 0,
    updatedAt: 0,
  };
}

/** Catalog item → channel row. Effective status = reported status AND device online. */
export function toChannel(deviceId: string, item: CatalogItem, deviceOnline: boolean, now: number): Channel {
  const reportedStatus: OnlineStatus = item.status === 'OFF' ? 'offline' : 'online';
  return {
    id: item.deviceId,
    deviceId,
    kind: classifyCatalogItem(item),
    name: item.name,
    manufacturer: item.manufacturer,
    model: item.model,
    owner: item.owner,
    civilCode: item.civilCode,
    block: item.block,
    address: item.address,
    parental: item.parental ?? 0,
    parentIds: item.parentIds,
    businessGroupId: item.businessGroupId,
    safetyWay: item.safetyWay,
    registerWay: item.registerWay,
    secrecy: item.secrecy ?? 0,
    ipAddress: item.ipAddress,
    port: item.port,
    reportedStatus,
    status: deviceOnline && reportedStatus === 'online' ? 'online' : 'offline',
    statusChangedAt: now,
    longitude: item.longitude,
    latitude: item.latitude,
    ptzType: item.ptzType,
    extra: item.extra,
    createdAt: now,
    updatedAt: now,
  };
}
