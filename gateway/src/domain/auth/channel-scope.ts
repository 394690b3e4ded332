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
 * The scope of one request. It snapshots the region and group views once (on first use), so a request that
 * checks thousands of channels walks each tree once and does not see it change half-way.
 */
export class ScopedChannels implements ChannelScope {
  readonly unrestricted = false;
  private readonly regions: string[];
  private readonly groups: Set<string>;
  private regionView: TreeViewSnapshot | null = null;
  private groupView: TreeViewSnapshot | null = null;
  private readonly memo = new Map<string, boolean>();

  constructor(
    scopes: UserScopes,
    private readonly catalog: ScopeCatalog,
  ) {
    this.regions = [...new Set(scopes.regions ?? [])];
    this.groups = new Set(scopes.groups ?? []);
  }

  coversChannel(channelId: string): boolean {
    const known = this.memo.get(channelId);
    if (known !== undefined) return known;
    const covered = this.decide(channelId);
    this.memo.set(channelId, covered);
    return covered;
  }

  coversDevice(deviceId: string): boolean {
    if (this.coversChannel(deviceId)) return true;
    const record = this.catalog.index.record(deviceId);
    const civilCode = record?.civilCode || deviceId.slice(0, 8);
    if (this.regions.some((r) => civilCode.startsWith(r))) return true;
    return this.catalog.index.channelIdsOf(deviceId).some((id) => this.coversChannel(id));
  }

  private decide(id: string): boolean {
    if (this.groups.has(id)) return true;
    if (this.regions.length > 0) {
      this.regionView ??= this.catalog.views.snapshot('region');
      for (const node of this.regionView.nodesAbove(id)) if (this.regions.some((r) => node.startsWith(r))) return true;
      const record = this.catalog.index.record(id);
      if (record?.civilCode && this.regions.some((r) => record.civilCode.startsWith(r))) return true;
    }
    if (this.groups.size > 0) {
      this.groupView ??= this.catalog.views.snapshot('group');
      for (const node of this.groupView.nodesAbove(id)) if (this.groups.has(node)) return true;
    }
    return false;
  }
}

/** The scope of a principal's scopes (UNRESTRICTED when none are set). */
export function channelScopeOf(scopes: UserScopes | undefined, catalog: ScopeCatalog): ChannelScope {
  return isScoped(scopes) ? new ScopedChannels(scopes, catalog) : UNRESTRICTED;
}
