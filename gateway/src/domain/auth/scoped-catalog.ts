/**
 * The catalog reads as a scoped user sees them: devices, channels, tree levels, tree search, statistics,
 * status events and alarms filtered by the caller's ChannelScope, with online/total counts recomputed over
 * the channels in scope (an ancestor node above the scope must not reveal how many cameras it holds).
 * Unrestricted callers (admins, static tokens, users without scopes) go straight to the unscoped reads.
 *
 * Cost: a scoped list walks the store's matching rows in pages of 1,000 and keeps those in scope (linear in the
 * matching rows); a scoped tree level or search counts the channels in scope (in memory, reused for a second);
 * resolving a scope walks the catalog once per catalog change (ScopeCache). Figures: bench/RESULTS.md.
 */
import type { AlarmEvent, Channel, Device, Page, StatusEvent } from '../model.js';
import type { AlarmQuery, ChannelQuery, DeviceQuery, EventQuery } from '../store.js';
import { NotFoundError, type GatewayStats, type Principal, type RegionStats, type TreeNodeView } from '../services.js';
import type { TreePage, TreeSearchHit, TreeViewName } from '../catalog/tree-views.js';
import { ScopeCache, type ChannelScope, type ScopeCatalog } from './channel-scope.js';

/** The unscoped reads the composition root already has. */
export interface CatalogReads {
  listDevices(query: DeviceQuery): Promise<Page<Device>>;
  getDevice(id: string): Promise<Device | null>;
  listChannels(query: ChannelQuery): Promise<Page<Channel>>;
  getChannel(id: string): Promise<Channel | null>;
  treeChildren(parent: string | undefined, page: { offset: number; limit: number } | undefined, view: TreeViewName): TreePage<TreeNodeView>;
  treeSearch(view: TreeViewName, q: string, limit: number): TreePage<TreeSearchHit>;
  stats(): GatewayStats;
  listStatusEvents(query: EventQuery): Promise<Page<StatusEvent>>;
  listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>>;
  getAlarm(id: string): Promise<AlarmEvent | null>;
}

const SCAN_PAGE = 1000;
/** Search matches considered before the scope filter (a whole catalog of names is below this). */
const SEARCH_SCAN_LIMIT = 1_000_000;

interface Counts {
  online: number;
  total: number;
}

/** Walks every matching row (paging through the store) and returns one page of those `keep` accepts. */
async function filteredPage<T>(
  fetch: (offset: number, limit: number) => Promise<Page<T>>,
  keep: (item: T) => boolean,
  offset: number,
  limit: number,
): Promise<Page<T>> {
  const items: T[] = [];
  let total = 0;
  for (let at = 0; ; at += SCAN_PAGE) {
    const page = await fetch(at, SCAN_PAGE);
    for (const item of page.items) {
      if (!keep(item)) continue;
      if (total >= offset && items.length < limit) items.push(item);
      total++;
    }
    if (page.items.length < SCAN_PAGE || at + SCAN_PAGE >= page.total) break;
  }
  return { total, items };
}

function rate(c: Counts): number {
  return c.total === 0 ? 0 : Math.round((c.online / c.total) * 10_000) / 10_000;
}

/** Scoped online/total counts are reused this long (status changes show within it, as in StatsService). */
const COUNTS_MAX_AGE_MS = 1000;

export class ScopedCatalog {
  private readonly scopes: ScopeCache;
  /** Per resolved scope (a new one after each catalog change) and view: counts and when they were taken. */
  private readonly countsCache = new WeakMap<ChannelScope, Map<TreeViewName, { at: number; counts: Map<string, Counts> }>>();

  constructor(
    private readonly reads: CatalogReads,
    private readonly catalog: ScopeCatalog,
    private readonly now: () => number = Date.now,
  ) {
    this.scopes = new ScopeCache(catalog);
  }

  /** The scope of a caller (UNRESTRICTED without a principal: internal calls). */
  scopeOf(principal: Principal | undefined): ChannelScope {
    return this.scopes.scopeOf(principal?.scopes);
  }

  async listDevices(query: DeviceQuery, principal?: Principal): Promise<Page<Device>> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.listDevices(query);
    return filteredPage((offset, limit) => this.reads.listDevices({ ...query, offset, limit }), (d) => scope.coversDevice(d.id), query.offset ?? 0, query.limit ?? 100);
  }

  async getDevice(id: string, principal?: Principal): Promise<Device | null> {
    const scope = this.scopeOf(principal);
    if (!scope.unrestricted && !scope.coversDevice(id)) return null;
    return this.reads.getDevice(id);
  }

  async listChannels(query: ChannelQuery, principal?: Principal): Promise<Page<Channel>> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.listChannels(query);
    const visible = this.nodeFilter(scope, 'catalog');
    return filteredPage((offset, limit) => this.reads.listChannels({ ...query, offset, limit }), (c) => visible(c.id, c.kind), query.offset ?? 0, query.limit ?? 100);
  }

  async getChannel(id: string, principal?: Principal): Promise<Channel | null> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.getChannel(id);
    const channel = await this.reads.getChannel(id);
    if (!channel) return null;
    return this.nodeFilter(scope, 'catalog')(channel.id, channel.kind) ? channel : null;
  }

  /** A channel (or a device addressed as its own channel) the caller may open; NotFoundError otherwise. */
  assertChannelInScope(channelId: string, principal: Principal | undefined): void {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return;
    if (!scope.coversChannel(channelId) && !(this.catalog.index.isRegisteredDevice(channelId) && scope.coversDevice(channelId))) {
      // 404, not 403: a scoped user must not learn which IDs exist outside the scope.
      throw new NotFoundError(`channel ${channelId} not found`);
    }
  }

  treeChildren(parent: string | undefined, page: { offset: number; limit: number } | undefined, view: TreeViewName, principal?: Principal): TreePage<TreeNodeView> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.treeChildren(parent, page, view);
    const counts = this.coveredCounts(scope, view);
    const visible = (n: { id: string; kind: string }): boolean => this.visibleIn(scope, counts, n.id, n.kind);
    if (parent !== undefined && parent !== '' && !counts.has(parent) && !scope.coversChannel(parent)) throw new NotFoundError(`tree node ${parent} not found in the ${view} view`);
    const all = this.catalog.views.snapshot(view).children(parent);
    const kept = all.filter(visible).map((n) => this.recount(n, counts));
    const offset = page?.offset ?? 0;
    const limit = page?.limit ?? kept.length;
    return { total: kept.length, items: kept.slice(offset, offset + limit) };
  }

  treeSearch(view: TreeViewName, q: string, limit: number, principal?: Principal): TreePage<TreeSearchHit> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.treeSearch(view, q, limit);
    const counts = this.coveredCounts(scope, view);
    const hits = this.reads.treeSearch(view, q, SEARCH_SCAN_LIMIT).items.filter((n) => this.visibleIn(scope, counts, n.id, n.kind));
    return { total: hits.length, items: hits.slice(0, limit).map((n) => this.recount(n, counts)) };
  }

  /** Statistics over the channels and devices in scope, per top-level region node in scope. */
  stats(principal?: Principal): GatewayStats {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.stats();
    const regionView = this.catalog.views.snapshot('region');
    const counts = this.coveredCounts(scope, 'region');
    const topLevel = regionView.children().filter((n) => (n.kind === 'region' || n.kind === 'unassigned') && counts.has(n.id));
    const perRegion = new Map<string, { channels: Counts; devices: Set<string> }>(topLevel.map((n) => [n.id, { channels: { online: 0, total: 0 }, devices: new Set<string>() }]));
    const channels: Counts = { online: 0, total: 0 };
    const deviceIds = new Set<string>();
    for (const c of this.channelsIn(scope)) {
      channels.total++;
      if (c.online) channels.online++;
      deviceIds.add(c.deviceId);
      for (const node of regionView.nodesAbove(c.id)) {
        const tally = perRegion.get(node);
        if (!tally) continue;
        tally.channels.total++;
        if (c.online) tally.channels.online++;
        tally.devices.add(c.deviceId);
        break;
      }
    }
    const deviceOnline = (id: string): boolean => this.catalog.index.label(id)?.status === 'online';
    const devices: Counts = { online: 0, total: deviceIds.size };
    for (const id of deviceIds) if (deviceOnline(id)) devices.online++;
    const regions: RegionStats[] = topLevel.map((node) => {
      const tally = perRegion.get(node.id)!;
      const d: Counts = { online: 0, total: tally.devices.size };
      for (const id of tally.devices) if (deviceOnline(id)) d.online++;
      return {
        region: node.id,
        name: node.name,
        devices: { ...d, rate: rate(d) },
        channels: { ...tally.channels, rate: rate(tally.channels) },
      };
    });
    return { at: Date.now(), devices: { ...devices, rate: rate(devices) }, channels: { ...channels, rate: rate(channels) }, regions, regionDataset: this.catalog.views.regionDatasetSource };
  }

  async listStatusEvents(query: EventQuery, principal?: Principal): Promise<Page<StatusEvent>> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.listStatusEvents(query);
    const keep = (e: StatusEvent): boolean => (e.subject === 'device' ? scope.coversDevice(e.subjectId) : scope.coversChannel(e.subjectId));
    return filteredPage((offset, limit) => this.reads.listStatusEvents({ ...query, offset, limit }), keep, query.offset ?? 0, query.limit ?? 100);
  }

  async listAlarms(query: AlarmQuery, principal?: Principal): Promise<Page<AlarmEvent>> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return this.reads.listAlarms(query);
    return filteredPage((offset, limit) => this.reads.listAlarms({ ...query, offset, limit }), (a) => alarmInScope(scope, a), query.offset ?? 0, query.limit ?? 100);
  }

  /** True when the alarm exists and is in the caller's scope (acknowledging one out of scope is a 404). */
  async alarmVisible(id: string, principal?: Principal): Promise<boolean> {
    const scope = this.scopeOf(principal);
    if (scope.unrestricted) return true;
    const alarm = await this.reads.getAlarm(id);
    return alarm !== null && alarmInScope(scope, alarm);
  }

  // ------------------------------------------------------------------ internals

  /** Online/total of the channels in scope beneath every node of a view that has any. */
  private coveredCounts(scope: ChannelScope, view: TreeViewName): Map<string, Counts> {
    let byView = this.countsCache.get(scope);
    if (!byView) this.countsCache.set(scope, (byView = new Map()));
    const cached = byView.get(view);
    if (cached && this.now() - cached.at < COUNTS_MAX_AGE_MS) return cached.counts;
    const counts = this.countCovered(scope, view);
    byView.set(view, { at: this.now(), counts });
    return counts;
  }

  private countCovered(scope: ChannelScope, view: TreeViewName): Map<string, Counts> {
    const snapshot = this.catalog.views.snapshot(view);
    const counts = new Map<string, Counts>();
    for (const c of this.channelsIn(scope)) {
      for (const node of snapshot.nodesAbove(c.id)) {
        let entry = counts.get(node);
        if (!entry) counts.set(node, (entry = { online: 0, total: 0 }));
        entry.total++;
        if (c.online) entry.online++;
      }
    }
    return counts;
  }

  /** The video channels in scope with their device and status (the scope's own set when it has one). */
  private *channelsIn(scope: ChannelScope): IterableIterator<{ id: string; deviceId: string; online: boolean }> {
    const index = this.catalog.index;
    if (!scope.coveredIds) {
      for (const c of index.channels()) if (scope.coversChannel(c.id)) yield c;
      return;
    }
    for (const id of scope.coveredIds()) {
      const record = index.record(id);
      if (record?.kind === 'channel') yield { id, deviceId: record.deviceId, online: index.isOnline(record) };
    }
  }

  private visibleIn(scope: ChannelScope, counts: Map<string, Counts>, id: string, kind: string): boolean {
    if (counts.has(id)) return true;
    if (kind === 'channel') return scope.coversChannel(id);
    // A registered device that reported nothing is a leaf of the trees.
    if (kind === 'device') return this.catalog.index.isRegisteredDevice(id) && !this.catalog.index.hasReportedItems(id) && scope.coversDevice(id);
    return false;
  }

  private recount<T extends TreeNodeView>(node: T, counts: Map<string, Counts>): T {
    const c = counts.get(node.id);
    return c ? { ...node, online: c.online, total: c.total } : node;
  }

  /** For catalog items of every kind: channels by the scope, containers when a channel in scope is beneath. */
  private nodeFilter(scope: ChannelScope, view: TreeViewName): (id: string, kind: string) => boolean {
    let counts: Map<string, Counts> | null = null;
    return (id, kind) => {
      if (kind === 'channel') return scope.coversChannel(id);
      if (kind === 'device' && this.catalog.index.isRegisteredDevice(id)) return scope.coversDevice(id);
      counts ??= this.coveredCounts(scope, view);
      return counts.has(id);
    };
  }
}

/**
 * An alarm is in scope when its source channel is, or when it is a device-level alarm (source = the device)
 * of a device in scope. An alarm input of a lower platform is not in scope merely because the platform has
 * some channel in scope.
 */
export function alarmInScope(scope: ChannelScope, alarm: Pick<AlarmEvent, 'sourceId' | 'deviceId'>): boolean {
  if (scope.unrestricted || scope.coversChannel(alarm.sourceId)) return true;
  return alarm.sourceId === alarm.deviceId && scope.coversDevice(alarm.deviceId);
}
