/**
 * Which region and group nodes a channel or device counts under, for the per-node health figures, the
 * channel list's region / group filter and alert-rule scopes.
 *
 * The nodes are those of the web wall's region and group trees (catalog/tree-views.ts), so the dashboard's
 * nodes have exactly the ids, names, nesting and channel counts that GET /api/tree?view=region|group shows:
 * a channel placed by its GrassrootsCode under a village, one with no usable code under "unplaced", one in
 * no group under "ungrouped", a channel under several virtual orgs once under each of them and once under
 * their group. The health service sees this through `HealthGrouping`; `TreeViewsGrouping` is the adapter.
 */
import { normaliseRegionCode } from '../catalog/region-codes.js';
import type { TreeViews, TreeViewSnapshot } from '../catalog/tree-views.js';
import type { TreeNodeView } from '../services.js';
import type { HealthGroupBy, HealthNodeKind } from './types.js';

export interface HealthNode {
  id: string;
  name: string;
  kind: HealthNodeKind;
  /** Region or group nodes (or channels) beneath it in the tree. */
  hasChildren: boolean;
}

/** Membership as the trees stood when it was taken; one is used for a whole pass over the channels. */
export interface HealthMembership {
  /** Region (or group) nodes above a channel, or above a registered device that reported no catalog; each once. */
  nodesAbove(by: HealthGroupBy, id: string): readonly string[];
  /** True when `nodeId` (as a filter or rule scope names it) is above the channel. */
  isUnder(by: HealthGroupBy, id: string, nodeId: string): boolean;
  /** The region / group nodes directly under `parent` (the top level when absent), in the tree's order. NotFoundError for an unknown parent. */
  nodesUnder(by: HealthGroupBy, parent?: string): HealthNode[];
}

/** The region node a channel sits in (its deepest region: township, village or grid when configured, else county). */
export interface HealthPlace {
  id: string;
  name: string;
}

export interface HealthGrouping {
  /** Membership as the trees stand now. */
  current(): HealthMembership;
  /** Where a channel sits in the region tree (for grouping alerts and problems by township); null when unplaced. */
  placeOf(channelId: string): HealthPlace | null;
}

/** HealthGrouping over the wall's trees. */
export class TreeViewsGrouping implements HealthGrouping {
  constructor(private readonly views: TreeViews) {}

  current(): HealthMembership {
    return new TreeViewsMembership(this.views);
  }

  placeOf(channelId: string): HealthPlace | null {
    const path = this.views.ancestorsOf('region', channelId);
    if (!path) return null;
    for (let i = path.length - 1; i >= 0; i--) {
      const step = path[i];
      if (step.kind === 'region') return { id: step.id, name: step.name };
    }
    return null;
  }
}

function healthKind(kind: TreeNodeView['kind']): HealthNodeKind | null {
  return kind === 'region' || kind === 'business-group' || kind === 'virtual-org' || kind === 'unassigned' ? kind : null;
}

class TreeViewsMembership implements HealthMembership {
  /** Taken on first use: a pass that filters by group only never builds the region view. */
  private readonly snapshots = new Map<HealthGroupBy, TreeViewSnapshot>();

  constructor(private readonly views: TreeViews) {}

  nodesAbove(by: HealthGroupBy, id: string): readonly string[] {
    return this.view(by).nodesAbove(id);
  }

  isUnder(by: HealthGroupBy, id: string, nodeId: string): boolean {
    // "44030500" names the node "440305" (unused trailing levels are cut in the tree).
    const node = by === 'region' ? normaliseRegionCode(nodeId) || nodeId : nodeId;
    return this.nodesAbove(by, id).includes(node);
  }

  nodesUnder(by: HealthGroupBy, parent?: string): HealthNode[] {
    const out: HealthNode[] = [];
    for (const child of this.view(by).children(parent)) {
      const kind = healthKind(child.kind);
      if (kind) out.push({ id: child.id, name: child.name, kind, hasChildren: child.hasChildren });
    }
    return out;
  }

  private view(by: HealthGroupBy): TreeViewSnapshot {
    let snapshot = this.snapshots.get(by);
    if (!snapshot) {
      snapshot = this.views.snapshot(by);
      this.snapshots.set(by, snapshot);
    }
    return snapshot;
  }
}
