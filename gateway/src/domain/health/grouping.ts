/**
 * Which region and group nodes a channel counts under, for the per-region / per-group health figures.
 *
 * One interface, so the source can be swapped: today `TreeIndexGrouping` derives
 * - regions from the civil code, every real level ("44", "4403", "440305"), exactly as /api/stats does, so
 *   the two APIs agree;
 * - groups from the catalog tree: every business group (215) and virtual organisation (216) above a channel,
 *   found by walking the tree index from the root (a channel reachable on several paths counts once per node).
 * When the catalog's region/group views (catalog/tree-views.ts) are in place, an implementation over them can
 * replace this one without touching the aggregation.
 */
import { regionChain } from '../../codecs/gb/gb-id.js';
import { ROOT, type TreeIndex } from '../catalog/tree-index.js';
import type { HealthNodeKind } from './types.js';

export interface HealthNode {
  id: string;
  name: string;
  kind: HealthNodeKind;
}

export interface HealthGrouping {
  /** Region node ids of a civil code, top level first. */
  regionsOf(civilCode: string): readonly string[];
  /** Group node ids above a channel (business groups and virtual orgs); empty when none. */
  groupsOf(channelId: string): readonly string[];
  /** Name and kind of a region or group node. */
  node(id: string, kind: 'region' | 'group'): HealthNode;
  /** Called at the start of each aggregation; implementations may rebuild cached membership here. */
  refresh(now: number): void;
}

const NO_GROUPS: readonly string[] = [];
/** Tree walks are bounded in depth: catalogs are a few levels deep, and a deeper path means a loop. */
const MAX_DEPTH = 32;

/** Distinct civil codes remembered with their region chains (a network has thousands, not millions). */
const MAX_CACHED_CODES = 100_000;

export class TreeIndexGrouping implements HealthGrouping {
  private membership = new Map<string, string[]>();
  private readonly chains = new Map<string, readonly string[]>();
  private groupKinds = new Map<string, HealthNodeKind>();
  private builtAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly tree: TreeIndex,
    /** Membership is rebuilt at most this often: the walk visits every node. */
    private readonly maxAgeMs = 60_000,
  ) {}

  regionsOf(civilCode: string): readonly string[] {
    let chain = this.chains.get(civilCode);
    if (!chain) {
      if (this.chains.size >= MAX_CACHED_CODES) this.chains.clear();
      chain = regionChain(civilCode);
      this.chains.set(civilCode, chain);
    }
    return chain;
  }

  groupsOf(channelId: string): readonly string[] {
    return this.membership.get(channelId) ?? NO_GROUPS;
  }

  node(id: string, kind: 'region' | 'group'): HealthNode {
    const name = this.tree.nameOf(id) ?? '';
    if (kind === 'region') return { id, name, kind: 'region' };
    return { id, name, kind: this.groupKinds.get(id) ?? 'business-group' };
  }

  refresh(now: number): void {
    if (now - this.builtAt < this.maxAgeMs && now >= this.builtAt) return;
    this.builtAt = now;
    const membership = new Map<string, Set<string>>();
    const groupKinds = new Map<string, HealthNodeKind>();
    /** Groups already carried into a node: a node is walked again only when a new path brings new groups. */
    const carried = new Map<string, Set<string>>();
    const stack: Array<{ id: string; groups: readonly string[]; depth: number }> = [{ id: ROOT, groups: NO_GROUPS, depth: 0 }];
    while (stack.length > 0) {
      const { id, groups, depth } = stack.pop() as { id: string; groups: readonly string[]; depth: number };
      if (depth > MAX_DEPTH) continue;
      for (const child of this.tree.childrenOf(id)) {
        if (child.kind === 'channel') {
          if (groups.length === 0) continue;
          let set = membership.get(child.id);
          if (!set) {
            set = new Set();
            membership.set(child.id, set);
          }
          for (const g of groups) set.add(g);
          continue;
        }
        let childGroups = groups;
        if (child.kind === 'business-group' || child.kind === 'virtual-org') {
          groupKinds.set(child.id, child.kind);
          childGroups = [...groups, child.id];
        }
        if (!child.hasChildren) continue;
        const seen = carried.get(child.id);
        if (seen && childGroups.every((g) => seen.has(g))) continue;
        const carriedNow = seen ?? new Set<string>();
        for (const g of childGroups) carriedNow.add(g);
        carried.set(child.id, carriedNow);
        stack.push({ id: child.id, groups: childGroups, depth: depth + 1 });
      }
    }
    const flat = new Map<string, string[]>();
    for (const [channelId, set] of membership) flat.set(channelId, [...set]);
    this.membership = flat;
    this.groupKinds = groupKinds;
  }
}
