/**
 * A user's channel scope: the channels it may see, search, play, snapshot and steer.
 *
 * A scope names regions (civil-code prefixes, 2–8 digits or a 2022 grass-roots code) and/or business groups /
 * virtual organisations (their 20-digit IDs). A channel is in scope when, in the region tree view, one of its
 * region nodes starts with a scoped prefix (or its own civil code does), or when, in the group view, one of
 * the nodes above it is a scoped group (or it is that node). Regions and groups add up: a channel in either is
 * in scope. A device is in scope when its own civil code is, or when any channel it reported is.
 *
 * The predicate reads the tree views (the same ones the wall shows), so "in scope" is exactly "under the
 * scoped node in the region or group tree". The services that list, search, count, resolve or open channels
 * and devices apply it (scoped-catalog.ts); nothing else decides.
 */
import type { UserScopes } from '../model.js';
import type { TreeIndex } from '../catalog/tree-index.js';
import type { TreeViews, TreeViewSnapshot } from '../catalog/tree-views.js';

export interface ChannelScope {
  /** True for admins, static tokens and users without scopes: nothing is filtered. */
  readonly unrestricted: boolean;
  /** A video channel (or a channel-less registered device, which the trees show as a leaf). */
  coversChannel(channelId: string): boolean;
  /** A registered device. */
  coversDevice(deviceId: string): boolean;
  /** Restricted scopes: every channel (and channel-less device) in scope, for counting without a full scan. */
  coveredIds?(): ReadonlySet<string>;
}

export const UNRESTRICTED: ChannelScope = {
  unrestricted: true,
  coversChannel: () => true,
  coversDevice: () => true,
};

/** True when the scopes restrict anything (some region or group listed). */
export function isScoped(scopes: UserScopes | undefined): scopes is UserScopes {
  return (scopes?.regions?.length ?? 0) + (scopes?.groups?.length ?? 0) > 0;
}

/** The catalog the predicate reads: the live tree index and views of the gateway. */
export interface ScopeCatalog {
  index: TreeIndex;
  views: TreeViews;
}

/**
 * A scope resolved against the catalog as it stands: the set of channels (and channel-less registered
 * devices, which the trees show as leaves) in scope, decided once by walking every channel's region and group
 * ancestors. Membership is then a set lookup, so filtering a 5,000-channel status event or counting a tree
 * level costs the size of the scope, not of the catalog. ScopeCache keeps one per distinct scope until the
 * catalog's shape changes.
 */
export class ScopedChannels implements ChannelScope {
  readonly unrestricted = false;
  private readonly regions: string[];
  private readonly groups: Set<string>;
  private readonly covered = new Set<string>();

  constructor(
    scopes: UserScopes,
    private readonly catalog: ScopeCatalog,
  ) {
    this.regions = [...new Set(scopes.regions ?? [])];
    this.groups = new Set(scopes.groups ?? []);
    const regionView = this.regions.length > 0 ? catalog.views.snapshot('region') : null;
    const groupView = this.groups.size > 0 ? catalog.views.snapshot('group') : null;
    const { index } = catalog;
    for (const record of index.records()) {
      const leaf = record.kind === 'channel' || (record.kind === 'device' && index.isRegisteredDevice(record.id) && !index.hasReportedItems(record.id));
      if (leaf && this.decide(record.id, record.civilCode, regionView, groupView)) this.covered.add(record.id);
    }
  }

  coversChannel(channelId: string): boolean {
    return this.covered.has(channelId);
  }

  coversDevice(deviceId: string): boolean {
    if (this.covered.has(deviceId)) return true;
    const record = this.catalog.index.record(deviceId);
    const civilCode = record?.civilCode || deviceId.slice(0, 8);
    if (this.regions.some((r) => civilCode.startsWith(r))) return true;
    return this.catalog.index.channelIdsOf(deviceId).some((id) => this.covered.has(id));
  }

  /** The channels (and channel-less devices) in scope. */
  coveredIds(): ReadonlySet<string> {
    return this.covered;
  }

  private decide(id: string, civilCode: string, regionView: TreeViewSnapshot | null, groupView: TreeViewSnapshot | null): boolean {
    if (this.groups.has(id)) return true;
    if (regionView) {
      for (const node of regionView.nodesAbove(id)) if (this.regions.some((r) => node.startsWith(r))) return true;
      if (civilCode && this.regions.some((r) => civilCode.startsWith(r))) return true;
    }
    if (groupView) {
      for (const node of groupView.nodesAbove(id)) if (this.groups.has(node)) return true;
    }
    return false;
  }
}

/** Resolved scopes by their content, dropped whenever the catalog's shape changes; at most MAX_SCOPES kept. */
export class ScopeCache {
  private static readonly MAX_SCOPES = 64;
  private readonly cache = new Map<string, ScopedChannels>();

  constructor(private readonly catalog: ScopeCatalog) {
    catalog.index.addListener({ shapeChanged: () => this.cache.clear(), channelOnlineChanged: () => undefined });
  }

  scopeOf(scopes: UserScopes | undefined): ChannelScope {
    if (!isScoped(scopes)) return UNRESTRICTED;
    const key = JSON.stringify([[...(scopes.regions ?? [])].sort(), [...(scopes.groups ?? [])].sort()]);
    let scope = this.cache.get(key);
    if (scope) {
      // Re-inserted: the map's order is least recently used first.
      this.cache.delete(key);
    } else {
      scope = new ScopedChannels(scopes, this.catalog);
      if (this.cache.size >= ScopeCache.MAX_SCOPES) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, scope);
    return scope;
  }
}
