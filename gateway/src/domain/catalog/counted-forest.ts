/**
 * A hierarchy of nodes with online/total counts of the counted leaves (video channels) beneath each node.
 *
 * One piece of code serves every tree the API shows (catalog parentage, administrative regions, business
 * groups): each builds a list of entries with their parents, and this module does the shared work —
 * children lists in display order, counts, incremental status changes, ancestor paths, one page of views.
 *
 * Rules:
 * - A node may have several parents (2022 ParentID is multi-valued) and then appears under each; a counted
 *   leaf still counts once per ancestor, however many paths lead there.
 * - Parents that are not in the forest are ignored; a node left without any hangs at the ROOT.
 * - Built once from a snapshot (callers rebuild lazily when their source changes); afterwards only a leaf's
 *   online state changes, and that walks its ancestors instead of recounting 150,000 channels.
 */
import type { TreeNodeView } from '../services.js';

export const ROOT = '';

export interface ForestEntry {
  id: string;
  /** ROOT (or no parents) for a top-level node. */
  parents: readonly string[];
  /** Counted leaves are what online/total count (video channels). */
  counted: boolean;
  online: boolean;
  /** Siblings are ordered by rank, then sortKey (code-point order), then id. */
  rank: number;
  sortKey: string;
  /** What search matches (the display name; labels may refresh it for display without a rebuild). */
  name: string;
}

export interface NodeCounts {
  online: number;
  total: number;
}

/** What a view knows about a node besides its place and counts. */
export interface NodeLabel {
  deviceId: string;
  kind: TreeNodeView['kind'];
  name: string;
  status?: 'online' | 'offline';
}

/** One parent as the string itself: most nodes have one, and 150,000 one-element arrays cost ~9 MB. */
type Parents = string | readonly string[];

const firstParent = (p: Parents): string => (typeof p === 'string' ? p : p[0]);
const parentList = (p: Parents): readonly string[] => (typeof p === 'string' ? [p] : p);
const parentsKey = (p: Parents): string => (typeof p === 'string' ? p : p.join('/'));
const NO_IDS: readonly string[] = [];

interface ForestNode {
  parents: Parents;
  children: string[] | null;
  online: number;
  total: number;
  counted: boolean;
  selfOnline: boolean;
  /** Counted leaves: the shared ancestor list (see ancestorCache), set on first use. */
  ancestors: ForestNode[] | null;
  name: string;
}

export class CountedForest {
  private readonly nodes = new Map<string, ForestNode>();
  private readonly root: ForestNode = { parents: ROOT, children: [], online: 0, total: 0, counted: false, selfOnline: false, ancestors: null, name: '' };
  /**
   * Ancestors by parent set: thousands of channels share a parent (a virtual org, a police station), so the
   * de-duplicating walk runs once per distinct parent set, not once per channel and status change.
   */
  private readonly ancestorCache = new Map<string, ForestNode[]>();
  private readonly ancestorIdCache = new Map<string, readonly string[]>();

  constructor(entries: readonly ForestEntry[]) {
    this.nodes.set(ROOT, this.root);
    const created: Array<ForestNode | undefined> = new Array(entries.length);
    let createdCount = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.id === ROOT) continue;
      createdCount++;
      const node: ForestNode = { parents: ROOT, children: null, online: 0, total: 0, counted: e.counted, selfOnline: e.online, ancestors: null, name: e.name };
      this.nodes.set(e.id, node);
      created[i] = node;
    }
    // A later duplicate id replaces a node; only the one in the map is linked (checked only when there are any).
    const duplicates = this.nodes.size - 1 !== createdCount;
    // Children are collected as entries and sorted on their fields, then reduced to ids.
    const childEntries = new Map<string, ForestEntry[]>();
    for (let i = 0; i < entries.length; i++) {
      const node = created[i];
      if (!node) continue;
      const e = entries[i];
      if (duplicates && this.nodes.get(e.id) !== node) {
        created[i] = undefined;
        continue;
      }
      // A self-reference (sloppy platforms) would make the node its own ancestor.
      const parents = e.parents.filter((p) => p !== e.id && p !== ROOT && this.nodes.has(p));
      node.parents = parents.length === 0 ? ROOT : parents.length === 1 ? parents[0] : parents;
      for (const p of parentList(node.parents)) {
        let list = childEntries.get(p);
        if (!list) {
          list = [];
          childEntries.set(p, list);
        }
        list.push(e);
      }
    }
    for (const [parentId, list] of childEntries) {
      // Code-point order, not localeCompare: collation costs seconds on a 150,000-item sort.
      list.sort((a, b) => (a.rank !== b.rank ? a.rank - b.rank : a.sortKey !== b.sortKey ? (a.sortKey < b.sortKey ? -1 : 1) : a.id < b.id ? -1 : 1));
      (this.nodes.get(parentId) as ForestNode).children = list.map((e) => e.id);
    }
    for (const node of created) {
      if (!node || !node.counted) continue;
      const delta = node.selfOnline ? 1 : 0;
      for (const a of this.ancestorNodes(node)) {
        a.total++;
        a.online += delta;
      }
      this.root.total++;
      this.root.online += delta;
    }
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  get size(): number {
    return this.nodes.size - 1;
  }

  /** Every node except ROOT, in no particular order (a callback: no tuple per node on 150,000-node scans). */
  forEachNode(visit: (id: string, name: string, hasChildren: boolean) => void): void {
    for (const [id, node] of this.nodes) {
      if (id !== ROOT) visit(id, node.name, (node.children?.length ?? 0) > 0);
    }
  }

  childCount(id: string): number {
    return this.nodes.get(id)?.children?.length ?? 0;
  }

  childIds(parent: string, offset = 0, limit = Number.POSITIVE_INFINITY): string[] {
    return (this.nodes.get(parent)?.children ?? []).slice(offset, offset + limit);
  }

  /** Counted leaves beneath a node; ROOT: in the whole forest. */
  counts(id: string): NodeCounts | undefined {
    const node = this.nodes.get(id);
    return node ? { online: node.online, total: node.total } : undefined;
  }

  /** A counted leaf's effective state changed; its ancestors' online counts follow. False when nothing changed. */
  setOnline(id: string, online: boolean): boolean {
    const node = this.nodes.get(id);
    if (!node || !node.counted || node.selfOnline === online) return false;
    node.selfOnline = online;
    const delta = online ? 1 : -1;
    for (const a of this.ancestorNodes(node)) a.online += delta;
    this.root.online += delta;
    return true;
  }

  /**
   * Ids of every node above `id` on every path (ROOT excluded), each once; empty for an unknown node.
   * Shared by the nodes with the same parents (a pass over 150,000 channels walks each parent set once):
   * callers must not modify it.
   */
  ancestors(id: string): readonly string[] {
    const node = this.nodes.get(id);
    if (!node) return NO_IDS;
    const key = parentsKey(node.parents);
    let ids = this.ancestorIdCache.get(key);
    if (!ids) {
      ids = this.walkUp(node.parents, () => undefined);
      this.ancestorIdCache.set(key, ids);
    }
    return ids;
  }

  /** The first-parent path from the top level down to `id`'s parent (ROOT and `id` excluded); null if unknown. */
  path(id: string): string[] | null {
    const node = this.nodes.get(id);
    if (!node) return null;
    const out: string[] = [];
    const seen = new Set<string>([id]);
    let parent: string | undefined = firstParent(node.parents);
    while (parent !== undefined && parent !== ROOT && !seen.has(parent)) {
      seen.add(parent);
      out.push(parent);
      const up = this.nodes.get(parent);
      parent = up ? firstParent(up.parents) : undefined;
    }
    return out.reverse();
  }

  /** One page of a node's children as API views; `label` supplies what the forest does not know. */
  page(parent: string, offset: number, limit: number, label: (id: string) => NodeLabel | undefined): TreeNodeView[] {
    const out: TreeNodeView[] = [];
    for (const id of this.childIds(parent, offset, limit)) {
      const view = this.view(id, label(id));
      if (view) out.push(view);
    }
    return out;
  }

  /** A node as the API shows it. */
  view(id: string, label: NodeLabel | undefined): TreeNodeView | undefined {
    const node = this.nodes.get(id);
    if (!node || !label) return undefined;
    const view: TreeNodeView = {
      id,
      deviceId: label.deviceId,
      kind: label.kind,
      name: label.name,
      online: node.online,
      total: node.total,
      hasChildren: (node.children?.length ?? 0) > 0,
    };
    if (label.status) view.status = label.status;
    return view;
  }

  private ancestorNodes(node: ForestNode): ForestNode[] {
    if (node.ancestors) return node.ancestors;
    const key = parentsKey(node.parents);
    let list = this.ancestorCache.get(key);
    if (!list) {
      const nodes: ForestNode[] = [];
      this.walkUp(node.parents, (n) => nodes.push(n));
      list = nodes;
      this.ancestorCache.set(key, list);
    }
    node.ancestors = list;
    return list;
  }

  /** Every node reachable upwards from `parents`, each once (multi-parent DAGs and cycles included). */
  private walkUp(parents: Parents, visit: (node: ForestNode) => void): string[] {
    const seen = new Set<string>();
    const stack = [...parentList(parents)];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (id === ROOT || seen.has(id)) continue;
      const n = this.nodes.get(id);
      if (!n) continue;
      seen.add(id);
      visit(n);
      for (const p of parentList(n.parents)) stack.push(p);
    }
    return [...seen];
  }
}
