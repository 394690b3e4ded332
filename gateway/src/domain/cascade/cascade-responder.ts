/**
 * Answers an upper platform's queries for what is shared with it (cascade, issue 11): Catalog (in parts, every
 * part with the same SN and SumNum), DeviceInfo and DeviceStatus, for our own ID (the gateway as a lower
 * platform) and for shared channels.
 *
 * What a platform sees is its `share`: everything, or channels under region prefixes and/or business groups /
 * virtual organisations (decided exactly like a user's scope, on the same region and group trees) plus a list of
 * channel IDs. An ID outside it is answered 404 by the signalling before anything is looked up.
 *
 * Catalog changes go up through the platform's subscription (catalog-notifier.ts), positions through
 * position-notifier.ts; this class answers queries, relays RecordInfo and forwards alarms.
 */
import type { Logger } from 'pino';
import {
  encodeAlarmNotify,
  encodeDeviceInfoResponse,
  encodeDeviceStatusResponse,
  encodeRecordInfoResponse,
  type CatalogItem,
  type RecordItem,
} from '../../codecs/manscdp/messages.js';
import { fromGbTime } from '../../codecs/gb/gb-time.js';
import type { AlarmEvent } from '../model.js';
import { CatalogPacker, type CatalogListing } from '../../protocol/gb28181/catalog-packer.js';
import { ScopedChannels, type ScopeCatalog } from '../auth/channel-scope.js';
import type { PlatformRecord, PlatformService } from './platform-service.js';
import type { SubscriptionDialog } from '../../protocol/gb28181/subscriptions.js';

/** How the responder reaches the upper platform (the signalling engine behind a port). */
export interface CascadeSendPort {
  send(platform: PlatformRecord, fromId: string, body: Buffer): Promise<void>;
  /** Whether the link to this platform is registered (alarms go only to platforms that are online). */
  isOnline(platformId: string): boolean;
  nextSn(): number;
  /** RecordInfo relayed to the channel's device (its items as the device sent them). */
  queryRecords(channelId: string, window: { start: number; end: number; type: string }): Promise<RecordItem[]>;
  /** A NOTIFY in a subscription dialog (alarms to a platform that subscribed to them). */
  notify(dialog: SubscriptionDialog, subscriptionState: string, body: Buffer): Promise<void>;
}

export interface CascadeQuery {
  platformId: string;
  cmdType: string;
  sn: number;
  targetId: string;
  record?: { startTime: string; endTime: string; type: string };
  /** Our ID behind `targetId` (the platform's ID mapping undone; set by `answer`). */
  channelId?: string;
}

export interface CascadeResponderOptions {
  /** The gateway's SIP ID (our ID towards a platform unless its `localId` says otherwise). */
  gatewayId: string;
  /** Shown as DeviceName in DeviceInfo. */
  gatewayName: string;
  firmware: string;
  /** Catalog parts over a UDP link: body budget and items per MESSAGE (keep each MESSAGE under the path MTU). */
  catalogBodyBytes?: number;
  catalogMaxItems?: number;
  /** Catalog parts over a TCP link (no MTU to respect): body budget and items per MESSAGE. */
  catalogTcpBodyBytes?: number;
  catalogTcpMaxItems?: number;
}

/**
 * Catalog parts go serially, each after the previous part's 200 OK (GB/T 28181-2022 Annex M; upper platforms drop
 * bursts), so the part count sets the answer time over a WAN: 20,000 channels in ~1,300-byte UDP parts are ~6,700
 * round trips (over two minutes at 20 ms). Annex M allows up to 10,000 records per message and says to use TCP
 * beyond the MTU; over a TCP link a part holds 100 items (~40 KB), i.e. ~200 round trips for 20,000 channels, a
 * size upper platforms' parsers take without trouble.
 */
const CATALOG_PARTS = { udp: { bodyBytes: 1_300, maxItems: 20 }, tcp: { bodyBytes: 60_000, maxItems: 100 } } as const;

/** A share is recomputed at most this often per platform (a Catalog query asks once per item otherwise). */
const SHARE_CACHE_MS = 5_000;

export class CascadeResponder {
  private readonly shares = new Map<string, { at: number; ids: ReadonlySet<string> | 'all' }>();
  /** The Alarm subscription dialog of a platform, if it subscribed (set by the composition root: catalog-notifier.ts). */
  alarmDialogOf: (platformId: string) => { dialog: SubscriptionDialog; state: string } | null = () => null;

  constructor(
    private readonly platforms: PlatformService,
    private readonly catalog: ScopeCatalog,
    private readonly port: CascadeSendPort,
    private readonly options: CascadeResponderOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    platforms.onChange((platformId) => this.forget(platformId));
    // A new channel under a shared region is shared at once (catalog NOTIFYs upward must not wait for the cache).
    catalog.index.addListener({ shapeChanged: () => this.shares.clear(), channelOnlineChanged: () => undefined });
  }

  /** The catalog tree a platform may see (regions, groups, channels), as our Catalog answer lists it. */
  catalogTree(platform: PlatformRecord): CatalogItem[] {
    return this.sharedTree(platform, this.localIdOf(platform));
  }

  /** Our ID towards this platform. */
  localIdOf(platform: PlatformRecord): string {
    return platform.localId ?? this.options.gatewayId;
  }

  /**
   * Whether `senderId` is an enabled upper platform speaking from its configured address (host and port:
   * our own registrar answers from its SIP port; a platform that sends from elsewhere is not trusted).
   */
  platformAt(senderId: string, source: { transport: string; address: string; port: number }): boolean {
    const platform = this.platforms.record(senderId);
    return platform !== undefined && platform.enabled && source.transport === platform.transport && source.address === platform.host && source.port === platform.port;
  }

  /**
   * Whether the platform may query `targetId`, an ID as the platform names it: our own ID, or a channel shared
   * with it under its (mapped) upper ID. A mapped channel's original ID is not one the platform may use.
   */
  mayQuery(platformId: string, targetId: string): boolean {
    const platform = this.platforms.record(platformId);
    if (!platform || !platform.enabled) return false;
    if (targetId === this.localIdOf(platform)) return true;
    const ours = this.platforms.ourIdOf(platformId, targetId);
    return ours !== null && this.isShared(platform, ours);
  }

  /** Whether our channel (our own ID) is shared with the platform. */
  sharesChannel(platformId: string, channelId: string): boolean {
    const platform = this.platforms.record(platformId);
    return platform !== undefined && platform.enabled && this.isShared(platform, channelId);
  }

  /** Our ID for an ID the platform names (its ID mapping undone); null: nothing of ours under that ID. */
  channelOf(platformId: string, upperId: string): string | null {
    return this.platforms.ourIdOf(platformId, upperId);
  }

  /** The ID the platform knows our channel by. */
  upperIdOf(platformId: string, channelId: string): string {
    return this.platforms.upperIdOf(platformId, channelId);
  }

  async answer(asked: CascadeQuery): Promise<void> {
    let query = asked;
    const platform = this.platforms.record(query.platformId);
    if (!platform) return;
    const fromId = this.localIdOf(platform);
    // Answers name the ID the platform asked with; what is looked up is our channel behind it.
    const channelId = query.targetId === fromId ? fromId : this.platforms.ourIdOf(platform.id, query.targetId);
    if (channelId === null) return; // refused by the signalling already (mayQuery); a mapping changed in between
    query = { ...query, channelId };
    try {
      switch (query.cmdType) {
        case 'Catalog':
          await this.answerCatalog(platform, fromId, query);
          break;
        case 'DeviceInfo':
          await this.port.send(platform, fromId, this.deviceInfo(platform, fromId, query));
          break;
        case 'DeviceStatus':
          await this.port.send(platform, fromId, this.deviceStatus(platform, fromId, query));
          break;
        case 'RecordInfo':
          await this.answerRecordInfo(platform, fromId, query);
          break;
      }
    } catch (err) {
      this.logger.warn({ platformId: platform.id, cmdType: query.cmdType, sn: query.sn, err: (err as Error).message }, 'answer to the upper platform failed');
    }
  }

  /**
   * An alarm from one of our devices: forwarded as Notify Alarm to every online upper platform the alarm's
   * channel (or device) is shared with, from our ID towards it. Fire and forget per platform: a platform that
   * does not answer must not hold the others or the local alarm pipeline.
   */
  forwardAlarm(alarm: AlarmEvent): void {
    for (const platform of this.platforms.all()) {
      if (!platform.enabled || !this.port.isOnline(platform.id)) continue;
      const shared = this.isShared(platform, alarm.sourceId) || this.isShared(platform, alarm.deviceId);
      if (!shared) continue;
      const sourceId = this.platforms.upperIdOf(platform.id, this.isShared(platform, alarm.sourceId) ? alarm.sourceId : alarm.deviceId);
      const body = encodeAlarmNotify(sourceId, this.port.nextSn(), {
        priority: alarm.priority ?? 4,
        method: alarm.method ?? 5,
        time: alarm.alarmTime,
        type: alarm.type,
        description: alarm.description,
        longitude: alarm.longitude,
        latitude: alarm.latitude,
      }, platform.charset);
      // A platform that subscribed to alarms gets them in its subscription dialog (GB 9.11), the others as MESSAGE.
      const subscription = this.alarmDialogOf(platform.id);
      const sent = subscription ? this.port.notify(subscription.dialog, subscription.state, body) : this.port.send(platform, this.localIdOf(platform), body);
      void sent.then(
        () => this.logger.info({ platformId: platform.id, sourceId }, 'alarm forwarded to the upper platform'),
        (err: unknown) => this.logger.warn({ platformId: platform.id, sourceId, err: (err as Error).message }, 'alarm not forwarded to the upper platform'),
      );
    }
  }

  /** The channels shared with a platform (IDs), in catalog order. */
  sharedChannelIds(platform: PlatformRecord): string[] {
    const ids: string[] = [];
    for (const record of this.catalog.index.records()) {
      if (record.kind === 'channel' && this.isShared(platform, record.id)) ids.push(record.id);
    }
    return ids;
  }

  private async answerCatalog(platform: PlatformRecord, fromId: string, query: CascadeQuery): Promise<void> {
    const queried = query.targetId;
    // Our own ID lists the tree of what is shared (regions, groups, channels); a channel's ID lists just that channel.
    const items = queried === fromId ? this.sharedTree(platform, fromId) : [this.itemOf(platform, query.channelId ?? queried, { parentId: fromId, civilCode: '', businessGroupId: '' })];
    const listing: CatalogListing = { total: items.length, slice: (start, end) => items.slice(start, end) };
    const budget =
      platform.transport === 'tcp'
        ? { bodyBytes: this.options.catalogTcpBodyBytes ?? CATALOG_PARTS.tcp.bodyBytes, maxItems: this.options.catalogTcpMaxItems ?? CATALOG_PARTS.tcp.maxItems }
        : { bodyBytes: this.options.catalogBodyBytes ?? CATALOG_PARTS.udp.bodyBytes, maxItems: this.options.catalogMaxItems ?? CATALOG_PARTS.udp.maxItems };
    const packer = new CatalogPacker(queried, query.sn, listing, platform.charset, budget);
    let parts = 0;
    for (const body of packer.parts()) {
      await this.port.send(platform, fromId, body);
      parts++;
    }
    this.logger.info({ platformId: platform.id, sn: query.sn, items: items.length, parts, transport: platform.transport }, 'catalog answered to the upper platform');
  }

  /**
   * RecordInfo relayed: asked of the channel's device with the upper platform's window, answered upward in parts
   * of 8 items with the upper platform's SN. A device that does not answer, or a window that cannot be read, is
   * answered SumNum 0 (the upper platform gets a defined answer, not silence).
   */
  private async answerRecordInfo(platform: PlatformRecord, fromId: string, query: CascadeQuery): Promise<void> {
    const start = fromGbTime(query.record?.startTime ?? '');
    const end = fromGbTime(query.record?.endTime ?? '');
    let items: RecordItem[] = [];
    const channelId = query.channelId ?? query.targetId;
    if (query.targetId !== fromId && start !== null && end !== null && end > start) {
      try {
        items = await this.port.queryRecords(channelId, { start, end, type: query.record?.type ?? 'all' });
      } catch (err) {
        this.logger.info({ platformId: platform.id, channelId: query.targetId, err: (err as Error).message }, 'RecordInfo for the upper platform: the device did not answer');
      }
    }
    const name = this.catalog.index.record(channelId)?.name ?? '';
    const fields = items.map((i) => ({ deviceId: query.targetId, name: i.name, startTime: i.startTime, endTime: i.endTime, filePath: i.filePath, address: i.address, secrecy: i.secrecy ?? 0, type: i.type || 'time', recorderId: i.recorderId, fileSize: i.fileSize }));
    if (fields.length === 0) {
      await this.port.send(platform, fromId, encodeRecordInfoResponse(query.targetId, query.sn, name, 0, [], platform.charset));
      return;
    }
    for (let i = 0; i < fields.length; i += 8) {
      await this.port.send(platform, fromId, encodeRecordInfoResponse(query.targetId, query.sn, name, fields.length, fields.slice(i, i + 8), platform.charset));
    }
  }

  /**
   * What an upper platform sees when it asks for our catalog: the region nodes (2/4/6/8-digit civil codes, top
   * down, named from the region dataset), the business groups (215, under our ID) and virtual organisations
   * (216, under their parent) above the shared channels, then the channels — each under its virtual
   * organisation when it has one, else under our ID, with its deepest civil code and business group. Only the
   * nodes above shared channels are listed: a region or group with nothing shared in it is not shown.
   * Region levels below 8 digits (township/village codes of Annex E.3) are not IDs an item may carry (the
   * schema's deviceIDType is 2/4/6/8/20 digits), so a channel under them hangs from its 8- or 6-digit level.
   */
  private sharedTree(platform: PlatformRecord, fromId: string): CatalogItem[] {
    const regions = new Map<string, CatalogItem>();
    const groups = new Map<string, CatalogItem>();
    const channels: CatalogItem[] = [];
    for (const id of this.sharedChannelIds(platform)) {
      let civilCode = '';
      for (const step of this.catalog.views.ancestorsOf('region', id) ?? []) {
        if (step.kind !== 'region' || !/^(\d{2}|\d{4}|\d{6}|\d{8})$/.test(step.id)) continue;
        if (!regions.has(step.id)) regions.set(step.id, this.nodeItem(step.id, step.name, civilCode === '' ? [] : [civilCode], ''));
        civilCode = step.id;
      }
      let parentId = fromId;
      let businessGroupId = '';
      for (const step of this.catalog.views.ancestorsOf('group', id) ?? []) {
        if (step.kind === 'business-group') {
          businessGroupId = step.id;
          if (!groups.has(step.id)) groups.set(step.id, this.nodeItem(step.id, step.name, [fromId], ''));
          parentId = step.id;
        } else if (step.kind === 'virtual-org') {
          if (!groups.has(step.id)) groups.set(step.id, this.nodeItem(step.id, step.name, [parentId], businessGroupId));
          parentId = step.id;
        }
      }
      channels.push(this.itemOf(platform, id, { parentId, civilCode, businessGroupId }));
    }
    return [...regions.values(), ...groups.values(), ...channels];
  }

  /** A region (2–8 digits: ID and name only) or a group node (215/216) of the upward catalog. */
  private nodeItem(id: string, name: string, parentIds: string[], businessGroupId: string): CatalogItem {
    return {
      deviceId: id, name, manufacturer: '', model: '', owner: '', civilCode: '', block: '', address: '',
      parental: id.length === 20 ? 1 : null, parentIds, safetyWay: null, registerWay: null, secrecy: null, ipAddress: '',
      port: null, status: null, longitude: null, latitude: null, businessGroupId, ptzType: null, event: null, extra: {},
    };
  }

  /** Our channel as the platform sees it: under its mapped ID when the platform's ID mapping has one. */
  private itemOf(platform: PlatformRecord, id: string, place: { parentId: string; civilCode: string; businessGroupId: string }): CatalogItem {
    const record = this.catalog.index.record(id);
    const online = this.catalog.index.isChannelOnline(id);
    const upperId = this.platforms.upperIdOf(platform.id, id);
    return {
      deviceId: upperId,
      name: record?.name || upperId,
      manufacturer: '',
      model: '',
      owner: '',
      civilCode: place.civilCode || record?.civilCode || upperId.slice(0, 6),
      block: '',
      address: '',
      parental: 0,
      // One parent, not 2022's "system/VO" pair: 2016-era upper platforms read ParentID as a single ID.
      parentIds: [place.parentId],
      safetyWay: 0,
      registerWay: 1,
      secrecy: 0,
      ipAddress: '',
      port: null,
      status: online ? 'ON' : 'OFF',
      longitude: null,
      latitude: null,
      businessGroupId: place.businessGroupId,
      ptzType: null,
      event: null,
      extra: {},
    };
  }

  private deviceInfo(platform: PlatformRecord, fromId: string, query: CascadeQuery): Buffer {
    if (query.targetId === fromId) {
      return encodeDeviceInfoResponse(query.targetId, query.sn, {
        deviceName: this.options.gatewayName,
        manufacturer: 'sharp-eyes',
        model: 'gateway',
        firmware: this.options.firmware,
        channel: this.sharedChannelIds(platform).length,
      }, platform.charset);
    }
    const record = this.catalog.index.record(query.channelId ?? query.targetId);
    return encodeDeviceInfoResponse(query.targetId, query.sn, { deviceName: record?.name ?? '', manufacturer: '', model: '', firmware: '', channel: 1 }, platform.charset);
  }

  private deviceStatus(platform: PlatformRecord, fromId: string, query: CascadeQuery): Buffer {
    const online = query.targetId === fromId || this.catalog.index.isChannelOnline(query.channelId ?? query.targetId);
    return encodeDeviceStatusResponse(query.targetId, query.sn, { online: online ? 'ONLINE' : 'OFFLINE', status: online ? 'OK' : 'ERROR' }, platform.charset);
  }

  /**
   * Whether a channel is shared with the platform. Never a channel that came from the platform itself (it is also
   * registered with us as a lower platform: two platforms cascading to each other, WVP #1729): sharing it back would
   * make it the platform's channel twice over, under us, and each catalog exchange would echo it again.
   */
  private isShared(platform: PlatformRecord, channelId: string): boolean {
    const record = this.catalog.index.record(channelId);
    if (record && record.deviceId === platform.id) return false;
    const share = this.shareOf(platform);
    return share === 'all' ? record?.kind === 'channel' : share.has(channelId);
  }

  private shareOf(platform: PlatformRecord): ReadonlySet<string> | 'all' {
    const cached = this.shares.get(platform.id);
    const now = this.now();
    if (cached && now - cached.at < SHARE_CACHE_MS) return cached.ids;
    let ids: ReadonlySet<string> | 'all';
    if ('all' in platform.share && platform.share.all) {
      ids = 'all';
    } else {
      const share = platform.share as { regions?: string[]; groups?: string[]; channels?: string[] };
      const set = new Set<string>(share.channels ?? []);
      if ((share.regions?.length ?? 0) + (share.groups?.length ?? 0) > 0) {
        for (const id of new ScopedChannels({ regions: share.regions ?? [], groups: share.groups ?? [] }, this.catalog).coveredIds()) set.add(id);
      }
      ids = set;
    }
    this.shares.set(platform.id, { at: now, ids });
    return ids;
  }

  /** A platform's share changed or it went away: forget the cached set. */
  forget(platformId: string): void {
    this.shares.delete(platformId);
  }
}
