/**
 * Upper platforms (上级平台级联): what the gateway registers with, and how each link stands.
 *
 * This is the registration half of cascade (issue 11): each configured upper platform gets one link that
 * registers with digest, refreshes, keeps alive and recovers (protocol/gb28181/upper-registration.ts). What is
 * shared (`share`) is stored and validated here; answering the upper platform's Catalog/INVITE for the shared
 * channels is the next step and not built yet (docs/cascade.md).
 *
 * Platforms persist in the record store (collection `platforms`); links are started at load and on create,
 * restarted on a change that touches the link, and stopped (unregistering) on delete.
 */
import type { Logger } from 'pino';
import type { RecordCollection, RecordStore } from '../records.js';
import { ConflictError, NotFoundError, ValidationError } from '../services.js';
import type { Page } from '../model.js';

export type PlatformTransport = 'udp' | 'tcp';
export type PlatformCharset = 'GB2312' | 'GB18030' | 'UTF-8';
export type PlatformLinkStatus = 'registering' | 'online' | 'offline' | 'auth-failed';

/** What an upper platform sees of ours: everything, or channels by region prefix, group and/or ID. */
export type PlatformShare = { all: true } | { regions?: string[]; groups?: string[]; channels?: string[] };

export interface PlatformRecord {
  /** The upper platform's 20-digit SIP ID. */
  id: string;
  name: string;
  domain: string;
  host: string;
  port: number;
  transport: PlatformTransport;
  password: string;
  /** Our ID towards this platform (default: the gateway's SIP ID). */
  localId: string | null;
  expires: number;
  keepaliveSec: number;
  keepaliveMisses: number;
  charset: PlatformCharset;
  share: PlatformShare;
  /**
   * Channel ID mapping (our 20-digit channel ID -> the ID the upper platform's numbering plan gives it). The
   * platform sees and names a mapped channel only by its upper ID; unmapped channels keep their own ID.
   */
  channelIds: Record<string, string>;
  enabled: boolean;
  /** `config`: listed in the config file's cascade.platforms, applied at every start, read-only through the API. */
  source: 'api' | 'config';
  createdAt: number;
  updatedAt: number;
}

export interface PlatformView extends Omit<PlatformRecord, 'password'> {
  /** Never the password itself. */
  passwordSet: boolean;
  status: PlatformLinkStatus | 'disabled';
  lastError: string | null;
  /** Epoch ms of the last status change. */
  since: number;
  registeredAt: number | null;
  lastKeepaliveAt: number | null;
  /** Events the platform subscribed to with us (`Catalog`, `Alarm`). */
  subscriptions: string[];
  /** Live upward streams (legs) this platform INVITEd and that are still sending (a leak shows here). */
  upwardLegs: number;
}

export interface CreatePlatformInput {
  id: string;
  name?: string;
  domain: string;
  host: string;
  port: number;
  transport?: PlatformTransport;
  password: string;
  localId?: string | null;
  expires?: number;
  keepaliveSec?: number;
  keepaliveMisses?: number;
  charset?: PlatformCharset;
  share: PlatformShare;
  channelIds?: Record<string, string>;
  enabled?: boolean;
}

export type UpdatePlatformInput = Partial<Omit<CreatePlatformInput, 'id'>>;

/** The live state of one link, as the protocol engine reports it. */
export interface PlatformLinkState {
  status: PlatformLinkStatus;
  since: number;
  lastError: string | null;
  registeredAt: number | null;
  lastKeepaliveAt: number | null;
}

/** One running link; made by the composition root from a record (the protocol engine behind a port). */
export interface PlatformLink {
  readonly state: PlatformLinkState;
  start(): void;
  stop(): Promise<void>;
}

export type PlatformLinkFactory = (platform: PlatformRecord, onStatus: (state: PlatformLinkState) => void) => PlatformLink;

export interface PlatformStatusEvent {
  platformId: string;
  status: PlatformView['status'];
  lastError: string | null;
  since: number;
}

export const PLATFORM_DEFAULTS = { expires: 3600, keepaliveSec: 60, keepaliveMisses: 3, charset: 'GB2312' as PlatformCharset, transport: 'udp' as PlatformTransport };

const SIP_ID = /^\d{20}$/;

export class PlatformService {
  private readonly records: RecordCollection<PlatformRecord>;
  private readonly platforms = new Map<string, PlatformRecord>();
  private readonly links = new Map<string, PlatformLink>();
  private closed = false;
  private readonly changeListeners: Array<(platformId: string) => void> = [];
  /** What each platform subscribed to (set by the composition root: catalog-notifier.ts). */
  subscriptionsOf: (platformId: string) => string[] = () => [];
  /** How many upward legs each platform holds (set by the composition root: upward-legs.ts). */
  upwardLegsOf: (platformId: string) => number = () => 0;
  /** Whether an ID is one of our channels (set by the composition root: the catalog tree); mapping validation. */
  isOurChannel: (id: string) => boolean = () => false;
  /** Per platform: upper ID -> our ID (the reverse of `channelIds`), rebuilt when the record changes. */
  private readonly reverseIds = new Map<string, Map<string, string>>();

  constructor(
    store: RecordStore,
    private readonly makeLink: PlatformLinkFactory,
    private readonly onStatus: (event: PlatformStatusEvent) => void,
    private readonly logger: Logger,
    private readonly gatewayId: string,
    private readonly now: () => number = Date.now,
  ) {
    this.records = store.collection<PlatformRecord>('platforms', ['createdAt']);
  }

  /**
   * Load the stored platforms, apply the configured ones (the file wins for its IDs: an entry edited in the file
   * is updated, one removed from the file is removed here) and start their links. A configured entry the
   * service refuses (its own ID, tcp) throws: a config file that cannot be honoured stops the start, loudly.
   */
  async load(configured: readonly CreatePlatformInput[] = []): Promise<void> {
    for (let offset = 0; ; offset += 500) {
      const page = await this.records.find({ offset, limit: 500 });
      // Records from before `source` existed were all made through the API.
      // Records from before `channelIds` existed map nothing.
      for (const p of page.items) this.platforms.set(p.id, { ...p, source: p.source ?? 'api', channelIds: p.channelIds ?? {} });
      if (page.items.length < 500) break;
    }
    const configuredIds = new Set(configured.map((input) => input.id));
    for (const p of [...this.platforms.values()]) {
      if (p.source === 'config' && !configuredIds.has(p.id)) {
        await this.records.delete(p.id);
        this.platforms.delete(p.id);
        this.logger.info({ platformId: p.id }, 'upper platform removed: no longer in the config file');
      }
    }
    for (const input of configured) {
      const existing = this.platforms.get(input.id);
      let record: PlatformRecord;
      try {
        record = { ...(existing ? this.apply(existing, input) : this.build(input)), source: 'config' };
      } catch (err) {
        if (err instanceof ValidationError) throw new ValidationError(`cascade.platforms ${input.id}: ${err.message}`, err.field);
        throw err;
      }
      await this.records.put(record);
      this.platforms.set(record.id, record);
      this.reverseIds.delete(record.id);
    }
    for (const p of this.platforms.values()) if (p.enabled) this.startLink(p);
  }

  /** The stored platform (with its password: for the protocol side only, never for the API). */
  record(id: string): PlatformRecord | undefined {
    return this.platforms.get(id);
  }

  /** Every stored platform (with passwords: protocol side only). */
  all(): PlatformRecord[] {
    return [...this.platforms.values()];
  }

  /** The ID the upper platform knows our channel by (its mapping, else the channel's own ID). */
  upperIdOf(platformId: string, ourId: string): string {
    return this.platforms.get(platformId)?.channelIds[ourId] ?? ourId;
  }

  /**
   * Our channel ID for an ID the upper platform names, or null when that ID is nothing of ours towards it: the
   * original ID of a mapped channel is not reachable from above under that ID (the platform knows it by the
   * mapped one only).
   */
  ourIdOf(platformId: string, upperId: string): string | null {
    const platform = this.platforms.get(platformId);
    if (!platform) return upperId;
    let reverse = this.reverseIds.get(platformId);
    if (!reverse) {
      reverse = new Map(Object.entries(platform.channelIds).map(([ours, upper]) => [upper, ours]));
      this.reverseIds.set(platformId, reverse);
    }
    const ours = reverse.get(upperId);
    if (ours !== undefined) return ours;
    return Object.hasOwn(platform.channelIds, upperId) ? null : upperId;
  }

  /** Whether a platform's link is registered now. */
  isOnline(id: string): boolean {
    return this.links.get(id)?.state.status === 'online';
  }

  /** Told after a platform was changed or removed (caches of what it shares). */
  onChange(listener: (platformId: string) => void): void {
    this.changeListeners.push(listener);
  }

  list(): Page<PlatformView> {
    const items = [...this.platforms.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)).map((p) => this.view(p));
    return { total: items.length, items };
  }

  get(id: string): PlatformView {
    return this.view(this.require(id));
  }

  async create(input: CreatePlatformInput): Promise<PlatformView> {
    if (this.platforms.has(input.id)) throw new ConflictError(`upper platform ${input.id} already exists`);
    const record = this.build(input);
    await this.records.put(record);
    this.platforms.set(record.id, record);
    if (record.enabled) this.startLink(record);
    this.logger.info({ platformId: record.id, host: record.host, port: record.port, transport: record.transport }, 'upper platform added');
    return this.view(record);
  }

  async update(id: string, input: UpdatePlatformInput): Promise<PlatformView> {
    const current = this.requireEditable(id);
    const next = this.apply(current, input);
    await this.records.put(next);
    this.platforms.set(id, next);
    this.reverseIds.delete(id);
    for (const listener of this.changeListeners) listener(id);
    // Anything but the name and the share changes the link itself: restart it (unregistering first).
    const linkChanged = (['domain', 'host', 'port', 'transport', 'password', 'localId', 'expires', 'keepaliveSec', 'keepaliveMisses', 'charset', 'enabled'] as const).some((k) => current[k] !== next[k]);
    if (linkChanged) {
      await this.stopLink(id);
      if (next.enabled) this.startLink(next);
      else this.onStatus({ platformId: id, status: 'disabled', lastError: null, since: this.now() });
    }
    return this.view(next);
  }

  async delete(id: string): Promise<void> {
    this.requireEditable(id);
    await this.stopLink(id);
    await this.records.delete(id);
    this.platforms.delete(id);
    this.reverseIds.delete(id);
    for (const listener of this.changeListeners) listener(id);
    this.logger.info({ platformId: id }, 'upper platform removed');
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.links.keys()].map((id) => this.stopLink(id)));
  }

  // ------------------------------------------------------------------ internals

  private startLink(p: PlatformRecord): void {
    if (this.closed) return;
    const link = this.makeLink(p, (state) => {
      if (this.links.get(p.id) !== link) return;
      this.logger.info({ platformId: p.id, status: state.status, lastError: state.lastError }, 'upper platform link status');
      this.onStatus({ platformId: p.id, status: state.status, lastError: state.lastError, since: state.since });
    });
    this.links.set(p.id, link);
    link.start();
  }

  private async stopLink(id: string): Promise<void> {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    await link.stop();
  }

  private require(id: string): PlatformRecord {
    const p = this.platforms.get(id);
    if (!p) throw new NotFoundError(`upper platform ${id} not found`);
    return p;
  }

  /** Platforms of the config file are changed there: an API change would be undone at the next start. */
  private requireEditable(id: string): PlatformRecord {
    const p = this.require(id);
    if (p.source === 'config') throw new ConflictError(`upper platform ${id} is defined in the config file (cascade.platforms); change it there`);
    return p;
  }

  private view(p: PlatformRecord): PlatformView {
    const { password, ...rest } = p;
    const state = this.links.get(p.id)?.state;
    return {
      ...rest,
      passwordSet: password !== '',
      status: p.enabled ? (state?.status ?? 'registering') : 'disabled',
      lastError: state?.lastError ?? null,
      since: state?.since ?? p.updatedAt,
      registeredAt: state?.registeredAt ?? null,
      lastKeepaliveAt: state?.lastKeepaliveAt ?? null,
      subscriptions: this.subscriptionsOf(p.id),
      upwardLegs: this.upwardLegsOf(p.id),
    };
  }

  private build(input: CreatePlatformInput): PlatformRecord {
    if (typeof input.id !== 'string' || !SIP_ID.test(input.id)) throw new ValidationError('id must be the upper platform\'s 20-digit SIP ID', 'id');
    if (input.id === this.gatewayId) throw new ValidationError('id is this gateway\'s own SIP ID: a platform cannot cascade to itself', 'id');
    const now = this.now();
    const base: PlatformRecord = {
      id: input.id,
      name: '',
      domain: '',
      host: '',
      port: 5060,
      transport: PLATFORM_DEFAULTS.transport,
      password: '',
      localId: null,
      expires: PLATFORM_DEFAULTS.expires,
      keepaliveSec: PLATFORM_DEFAULTS.keepaliveSec,
      keepaliveMisses: PLATFORM_DEFAULTS.keepaliveMisses,
      charset: PLATFORM_DEFAULTS.charset,
      share: { channels: [] },
      channelIds: {},
      enabled: true,
      source: 'api',
      createdAt: now,
      updatedAt: now,
    };
    return this.apply(base, input);
  }

  private apply(current: PlatformRecord, input: UpdatePlatformInput): PlatformRecord {
    const next: PlatformRecord = { ...current, updatedAt: this.now() };
    if (input.name !== undefined) next.name = input.name;
    if (input.domain !== undefined) next.domain = input.domain;
    if (input.host !== undefined) next.host = input.host;
    if (input.port !== undefined) next.port = input.port;
    if (input.transport !== undefined) next.transport = input.transport;
    if (input.password !== undefined) next.password = input.password;
    if (input.localId !== undefined) next.localId = input.localId;
    if (input.expires !== undefined) next.expires = input.expires;
    if (input.keepaliveSec !== undefined) next.keepaliveSec = input.keepaliveSec;
    if (input.keepaliveMisses !== undefined) next.keepaliveMisses = input.keepaliveMisses;
    if (input.charset !== undefined) next.charset = input.charset;
    if (input.share !== undefined) next.share = normaliseShare(input.share);
    if (input.enabled !== undefined) next.enabled = input.enabled;
    // Checked again when the share changes: a channel newly listed in it may be the upper ID of a mapped one.
    if (input.channelIds !== undefined || input.share !== undefined) next.channelIds = this.validChannelIds(input.channelIds ?? next.channelIds, next.share);
    if (!/^\d{10}$|^\d{8}$|^\d{20}$/.test(next.domain)) throw new ValidationError('domain must be the upper platform\'s SIP domain (10 digits, or 8/20)', 'domain');
    if (next.host === '') throw new ValidationError('host must be the upper platform\'s address', 'host');
    if (next.localId !== null && !SIP_ID.test(next.localId)) throw new ValidationError('localId must be a 20-digit SIP ID', 'localId');
    return next;
  }

  /**
   * A mapping the upper platform can use without ambiguity: 20 digits on both sides, no two of ours on one upper
   * ID, and no upper ID that is the own ID of another channel the platform would still see under that ID (an
   * unmapped channel of ours, or one listed in the share).
   */
  private validChannelIds(channelIds: Record<string, string>, share: PlatformShare): Record<string, string> {
    if (typeof channelIds !== 'object' || channelIds === null || Array.isArray(channelIds)) throw new ValidationError('channelIds must be an object of our channel ID to the upper platform\'s ID', 'channelIds');
    const byUpper = new Map<string, string>();
    const listed = new Set('channels' in share ? (share.channels ?? []) : []);
    for (const [ours, upper] of Object.entries(channelIds)) {
      if (!SIP_ID.test(ours)) throw new ValidationError(`channelIds: ${ours} is not a 20-digit channel ID`, 'channelIds');
      if (typeof upper !== 'string' || !SIP_ID.test(upper)) throw new ValidationError(`channelIds.${ours} must be a 20-digit ID`, 'channelIds');
      const other = byUpper.get(upper);
      if (other !== undefined) throw new ValidationError(`channelIds: ${other} and ${ours} are both mapped to ${upper}`, 'channelIds');
      byUpper.set(upper, ours);
    }
    for (const [upper, ours] of byUpper) {
      if (upper === ours || Object.hasOwn(channelIds, upper)) continue; // the other channel is mapped away: no clash
      if (listed.has(upper) || this.isOurChannel(upper)) throw new ValidationError(`channelIds.${ours}: ${upper} is the ID of another shared channel`, 'channelIds');
    }
    return { ...channelIds };
  }
}

function normaliseShare(share: PlatformShare): PlatformShare {
  if ('all' in share && share.all === true) return { all: true };
  const s = share as { regions?: string[]; groups?: string[]; channels?: string[] };
  const out: { regions?: string[]; groups?: string[]; channels?: string[] } = {};
  if (s.regions?.length) out.regions = [...new Set(s.regions)];
  if (s.groups?.length) out.groups = [...new Set(s.groups)];
  if (s.channels?.length) out.channels = [...new Set(s.channels)];
  return out;
}
