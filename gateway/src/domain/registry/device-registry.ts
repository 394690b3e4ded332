/**
 * The device registry: the in-memory truth about every registered device, its reachability and its
 * online state, written behind to the store.
 *
 * Online rules (GB/T 28181 §9.6, brief §8): a device is online from a successful REGISTER until
 * - it unregisters (Expires: 0),
 * - its registration expires without refresh,
 * - no keepalive arrives for keepaliveInterval × missCount after the last one (or after registering),
 * - or the TCP connection it registered on closes.
 * Channel status is separate, but a channel is offline whenever its device is (handled by listeners of
 * 'device-status' in the catalog service).
 */
import { withProtocol } from '../model.js';
import type { Logger } from 'pino';
import type { Device, OfflineReason, OnlineStatus, Page, SipTransportKind } from '../model.js';
import type { DeviceQuery, GatewayStore } from '../store.js';
import type { GatewayEvents } from '../events.js';
import type { WriteBehind } from '../write-behind.js';
import { DeadlineWheel } from './deadline-wheel.js';
import { civilCodeOf, gbTypeCodeOf } from '../../codecs/gb/gb-id.js';

/** Where a device can be reached: the transport source of its last REGISTER or keepalive. */
export interface DeviceAddress {
  transport: SipTransportKind;
  address: string;
  port: number;
  /** The TCP connection the device registered on (requests to it must reuse it). */
  connectionId?: string;
}

export interface RegistrationRecord {
  deviceId: string;
  source: DeviceAddress;
  expires: number;
  contact: string;
  userAgent: string;
  gbVersion: string;
  profile: string;
}

/** Paging bounds of the device list, the same as the store adapters' (store/paging.ts). */
const DEFAULT_PAGE_LIMIT = 100;
const MAX_PAGE_LIMIT = 1000;

export interface RegistryOptions {
  keepaliveIntervalSec: number;
  keepaliveMissCount: number;
  now?: () => number;
}

export interface RegistryCounts {
  registered: number;
  online: number;
}

export class DeviceRegistry {
  private readonly devices = new Map<string, Device>();
  private readonly addresses = new Map<string, DeviceAddress>();
  /** TCP connection id → devices registered on it, to take them offline when it closes. */
  private readonly devicesByConnection = new Map<string, Set<string>>();
  private readonly deadlines: DeadlineWheel<string>;
  private readonly now: () => number;
  private onlineCount = 0;
  /** Device ids in id order for list(): new ones are merged in at the next list, a removal rebuilds it. */
  private sortedIds: string[] | null = null;
  /** Devices added since sortedIds was last brought up to date (see idsInOrder). */
  private addedIds: string[] = [];

  constructor(
    private readonly store: GatewayStore,
    private readonly writer: WriteBehind,
    private readonly events: GatewayEvents,
    private readonly options: RegistryOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.deadlines = new DeadlineWheel((id) => this.onDeadline(id), this.now);
  }

  get keepaliveTimeoutMs(): number {
    return this.options.keepaliveIntervalSec * this.options.keepaliveMissCount * 1000;
  }

  /**
   * Rebuild from the store after a restart. A device whose registration has not expired stays online
   * with a fresh keepalive grace period, so its next keepalive simply continues the registration; no
   * re-registration storm and no false "offline" for devices that kept working while we restarted.
   */
  async load(): Promise<void> {
    const now = this.now();
    const stored = await this.store.loadAllDevices();
    let kept = 0;
    let expired = 0;
    for (const row of stored) {
      const device = withProtocol(row);
      this.devices.set(device.id, device);
      this.forgetOrder();
      this.addresses.set(device.id, {
        transport: device.transport,
        address: device.remoteAddress,
        port: device.remotePort,
      });
      if (device.status !== 'online') continue;
      // Devices without SIP registration: their driver's poller decides again after the restart.
      if (device.protocol !== 'gb28181') {
        this.onlineCount++;
        continue;
      }
      const stillRegistered = device.registrationExpiresAt !== null && device.registrationExpiresAt > now;
      // A TCP registration cannot survive our restart: its connection is gone (GB 2022 §9.1.1 f).
      if (stillRegistered && device.transport === 'udp') {
        this.onlineCount++;
        this.deadlines.set(device.id, Math.min(device.registrationExpiresAt ?? now, now + this.keepaliveTimeoutMs));
        kept++;
      } else {
        this.onlineCount++;
        this.setOffline(device, device.transport === 'tcp' && stillRegistered ? 'tcp-connection-lost' : 'registration-expired', now);
        expired++;
      }
    }
    this.deadlines.start();
    this.logger.info({ devices: stored.length, keptOnline: kept, expiredWhileDown: expired }, 'device registry loaded');
  }

  close(): void {
    this.deadlines.stop();
  }

  get(id: string): Device | undefined {
    return this.devices.get(id);
  }

  address(id: string): DeviceAddress | undefined {
    return this.addresses.get(id);
  }

  all(): IterableIterator<Device> {
    return this.devices.values();
  }

  /**
   * One page of devices in id order, filtered like the store's listDevices (status; q: a substring of the
   * name or a prefix of the id, case-insensitively; region: a civil-code prefix). The registry holds every
   * device, so the list answers from the same truth as the detail route, and keeps answering while the
   * store is down. A scan of 50,000 devices takes about a millisecond; no index is needed at this size.
   */
  list(query: DeviceQuery): Page<Device> {
    const offset = Math.max(0, Math.floor(query.offset ?? 0));
    const limit = Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE_LIMIT)));
    const q = query.q ? query.q.toLowerCase() : '';
    const items: Device[] = [];
    let total = 0;
    for (const id of this.idsInOrder()) {
      const device = this.devices.get(id);
      if (!device) continue;
      if (query.status && device.status !== query.status) continue;
      if (query.region && !device.civilCode.startsWith(query.region)) continue;
      if (q && !device.name.toLowerCase().includes(q) && !device.id.toLowerCase().startsWith(q)) continue;
      if (total >= offset && items.length < limit) items.push({ ...device });
      total++;
    }
    return { total, items };
  }

  /**
   * Every device ID in ascending order. Kept sorted incrementally: a registration storm adds thousands of devices
   * between two list requests, and re-sorting 50,000 IDs on every poll of the list cost more main-thread time
   * than the registrations themselves; sorting only the new IDs and merging them in is linear.
   */
  private idsInOrder(): string[] {
    if (!this.sortedIds) {
      this.sortedIds = [...this.devices.keys()].sort(compareIds);
      this.addedIds = [];
    } else if (this.addedIds.length > 0) {
      this.sortedIds = mergeSorted(this.sortedIds, this.addedIds.sort(compareIds));
      this.addedIds = [];
    }
    return this.sortedIds;
  }

  /** After a removal (rare): the order is rebuilt from scratch at the next list. */
  private forgetOrder(): void {
    this.sortedIds = null;
    this.addedIds = [];
  }

  counts(): RegistryCounts {
    return { registered: this.devices.size, online: this.onlineCount };
  }

  isOnline(id: string): boolean {
    return this.devices.get(id)?.status === 'online';
  }

  /** A successful REGISTER (new registration or refresh). */
  registered(rec: RegistrationRecord): Device {
    const now = this.now();
    let device = this.devices.get(rec.deviceId);
    if (!device) {
      device = {
        id: rec.deviceId,
        protocol: 'gb28181',
        name: '',
        typeCode: gbTypeCodeOf(rec.deviceId) ?? '',
        civilCode: civilCodeOf(rec.deviceId),
        manufacturer: '',
        model: '',
        firmware: '',
        userAgent: '',
        gbVersion: '',
        profile: rec.profile,
        status: 'offline',
        offlineReason: 'never-registered',
        transport: rec.source.transport,
        remoteAddress: rec.source.address,
        remotePort: rec.source.port,
        contact: '',
        expires: 0,
        registeredAt: null,
        registrationExpiresAt: null,
        lastKeepaliveAt: null,
        statusChangedAt: now,
        channelCount: 0,
        charset: 'GB2312',
        createdAt: now,
        updatedAt: now,
      };
      this.devices.set(device.id, device);
      this.addedIds.push(device.id);
    }
    device.userAgent = rec.userAgent || device.userAgent;
    device.gbVersion = rec.gbVersion || device.gbVersion;
    device.profile = rec.profile || device.profile;
    device.contact = rec.contact;
    device.expires = rec.expires;
    device.registeredAt = now;
    device.registrationExpiresAt = now + rec.expires * 1000;
    // A fresh registration counts as a sign of life: the keepalive clock starts now.
    device.lastKeepaliveAt = now;
    device.updatedAt = now;
    this.bindAddress(device, rec.source);
    this.rearm(device);
    if (device.status !== 'online') this.setOnline(device, 'registered', now);
    else this.writer.device(device);
    return device;
  }

  /** REGISTER with Expires: 0. */
  unregistered(deviceId: string): void {
    const device = this.devices.get(deviceId);
    if (!device) return;
    const now = this.now();
    device.registrationExpiresAt = now;
    device.updatedAt = now;
    this.deadlines.delete(deviceId);
    if (device.status === 'online') this.setOffline(device, 'unregistered', now);
    else this.writer.device(device);
  }

  /**
   * A keepalive. Returns false when the device is not registered (unknown, or its registration lapsed):
   * the caller answers with an error so that the device registers again.
   */
  keepalive(deviceId: string, source: DeviceAddress): boolean {
    const device = this.devices.get(deviceId);
    const now = this.now();
    if (!device || device.registrationExpiresAt === null || device.registrationExpiresAt <= now) return false;
    device.lastKeepaliveAt = now;
    const moved = this.bindAddress(device, source);
    this.rearm(device);
    if (device.status !== 'online') {
      this.setOnline(device, 'keepalive', now);
    } else if (moved) {
      device.updatedAt = now;
      this.writer.device(device);
    } else {
      this.writer.keepalive({
        id: device.id,
        lastKeepaliveAt: now,
        remoteAddress: source.address,
        remotePort: source.port,
        transport: source.transport,
      });
    }
    return true;
  }

  /** The TCP connection devices registered on was closed: they can no longer be reached. */
  connectionClosed(connectionId: string): void {
    const ids = this.devicesByConnection.get(connectionId);
    if (!ids) return;
    this.devicesByConnection.delete(connectionId);
    const now = this.now();
    for (const id of ids) {
      const device = this.devices.get(id);
      const addr = this.addresses.get(id);
      if (!device || addr?.connectionId !== connectionId) continue;
      this.deadlines.delete(id);
      if (device.status === 'online') this.setOffline(device, 'tcp-connection-lost', now);
    }
  }

  /**
   * A device added through the API (ONVIF, RTSP, RTMP): no SIP registration, no keepalive deadline; its driver
   * reports status through `setPolledStatus`. Replaces an existing row with the same id (PATCH).
   */
  putExternal(device: Device): void {
    const previous = this.devices.get(device.id);
    if (previous?.status === 'online') this.onlineCount--;
    if (device.status === 'online') this.onlineCount++;
    this.devices.set(device.id, device);
    if (!previous) this.addedIds.push(device.id);
    this.addresses.set(device.id, { transport: device.transport, address: device.remoteAddress, port: device.remotePort });
    this.writer.device(device);
  }

  /** A driver's verdict on a device without keepalives (liveness poller, RTMP publisher arrived or left). */
  setPolledStatus(deviceId: string, status: OnlineStatus, reason: OfflineReason | null): void {
    const device = this.devices.get(deviceId);
    if (!device || device.protocol === 'gb28181') return;
    const now = this.now();
    if (status === 'online') {
      device.lastKeepaliveAt = now;
      if (device.status !== 'online') this.onlineCount++;
      this.transition(device, 'online', 'keepalive', now);
    } else {
      const reasonChanged = device.offlineReason !== reason;
      this.setOffline(device, reason ?? 'unreachable', now);
      // The same offline state with a new reason (unreachable → auth-failed) is still news for the console.
      if (reasonChanged && device.status === 'offline') this.events.emit('device-status', { deviceId, status: 'offline', reason, at: now });
    }
  }

  /** DELETE /api/devices/:id of a device without SIP registration (GB devices are removed by unregistering). */
  remove(deviceId: string): boolean {
    const device = this.devices.get(deviceId);
    if (!device) return false;
    if (device.status === 'online') this.onlineCount--;
    this.devices.delete(deviceId);
    this.addresses.delete(deviceId);
    this.deadlines.delete(deviceId);
    this.forgetOrder();
    return true;
  }

  /** Descriptive fields learnt from DeviceInfo / catalog / profile matching. */
  updateInfo(deviceId: string, patch: Partial<Pick<Device, 'name' | 'manufacturer' | 'model' | 'firmware' | 'channelCount' | 'profile' | 'charset'>>): void {
    const device = this.devices.get(deviceId);
    if (!device) return;
    Object.assign(device, patch);
    device.updatedAt = this.now();
    this.writer.device(device);
  }

  private bindAddress(device: Device, source: DeviceAddress): boolean {
    const previous = this.addresses.get(device.id);
    const moved =
      !previous ||
      previous.address !== source.address ||
      previous.port !== source.port ||
      previous.transport !== source.transport ||
      previous.connectionId !== source.connectionId;
    if (!moved) return false;
    if (previous?.connectionId) this.devicesByConnection.get(previous.connectionId)?.delete(device.id);
    if (source.connectionId) {
      let set = this.devicesByConnection.get(source.connectionId);
      if (!set) {
        set = new Set();
        this.devicesByConnection.set(source.connectionId, set);
      }
      set.add(device.id);
    }
    this.addresses.set(device.id, { ...source });
    device.transport = source.transport;
    device.remoteAddress = source.address;
    device.remotePort = source.port;
    if (previous && device.status === 'online') {
      this.logger.info(
        { deviceId: device.id, from: `${previous.address}:${previous.port}/${previous.transport}`, to: `${source.address}:${source.port}/${source.transport}` },
        'device address changed (NAT rebinding or reconnect)',
      );
    }
    return true;
  }

  private rearm(device: Device): void {
    const last = device.lastKeepaliveAt ?? this.now();
    const deadline = Math.min(device.registrationExpiresAt ?? last, last + this.keepaliveTimeoutMs);
    this.deadlines.set(device.id, deadline);
  }

  private onDeadline(id: string): void {
    const device = this.devices.get(id);
    if (!device || device.status !== 'online') return;
    const now = this.now();
    const expired = device.registrationExpiresAt !== null && device.registrationExpiresAt <= now;
    this.setOffline(device, expired ? 'registration-expired' : 'keepalive-timeout', now);
  }

  private setOnline(device: Device, reason: 'registered' | 'keepalive', at: number): void {
    if (device.status !== 'online') this.onlineCount++;
    this.transition(device, 'online', reason, at);
  }

  private setOffline(device: Device, reason: OfflineReason, at: number): void {
    if (device.status === 'online') this.onlineCount--;
    this.transition(device, 'offline', reason, at);
  }

  private transition(device: Device, status: OnlineStatus, reason: OfflineReason | 'registered' | 'keepalive', at: number): void {
    const changed = device.status !== status;
    device.status = status;
    device.offlineReason = status === 'offline' ? (reason as OfflineReason) : null;
    if (changed) device.statusChangedAt = at;
    device.updatedAt = at;
    this.writer.device(device);
    if (!changed) return;
    const addr = this.addresses.get(device.id);
    this.writer.statusEvent({
      subject: 'device',
      subjectId: device.id,
      deviceId: device.id,
      status,
      reason,
      at,
      source: addr ? `${addr.address}:${addr.port}/${addr.transport}` : undefined,
    });
    if (status === 'offline') {
      this.logger.warn({ deviceId: device.id, reason, lastKeepaliveAt: device.lastKeepaliveAt }, 'device offline');
    } else {
      // Debug only: a registration storm would otherwise write one info line per device.
      this.logger.debug({ deviceId: device.id, reason }, 'device online');
    }
    this.events.emit('device-status', { deviceId: device.id, status, reason, at });
  }
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Merges two ascending ID lists into a new ascending list. */
function mergeSorted(a: string[], b: string[]): string[] {
  const out = new Array<string>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] < b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
