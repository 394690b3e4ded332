/**
 * State of one tree view (region or group) in the wall's side panel: which levels are loaded, which nodes are
 * expanded, and the node a search revealed. Levels load lazily, a page at a time (a lower platform's node can
 * have 150,000 children); a search hit deep in a huge level is pinned at the top of its level instead of
 * paging through thousands of siblings to reach it.
 */
import type { ShownError } from '../../api/error-text';
import { reactive, ref } from 'vue';
import { channelDirectory } from './channel-directory';
import { TREE_PAGE, treeChildren, type TreePathStep, type WallTreeHit, type WallTreeNode, type WallTreeView } from './wall-api';

export interface TreeLevel {
  items: WallTreeNode[];
  total: number;
  loading: boolean;
  /** Rendered with errorText() by the tree (page language, re-rendered on a switch). */
  error: ShownError;
}

const ROOT = '';
/** GET /api/tree's largest page. */
const MAX_PAGE = 1000;

export class TreeModel {
  readonly levels = reactive(new Map<string, TreeLevel>());
  readonly expanded = reactive(new Set<string>());
  readonly highlighted = ref<string | null>(null);

  constructor(readonly view: WallTreeView) {}

  level(parent: string | null): TreeLevel | undefined {
    return this.levels.get(parent ?? ROOT);
  }

  /** Load the first page of a level (again), or the next page with `more`. */
  async load(parent: string | null, more = false): Promise<void> {
    const key = parent ?? ROOT;
    let level = this.levels.get(key);
    if (!level) {
      this.levels.set(key, { items: [], total: 0, loading: false, error: null });
      level = this.levels.get(key)!;
    }
    if (level.loading) return;
    level.loading = true;
    level.error = null;
    try {
      const offset = more ? level.items.length : 0;
      // A reload keeps what was paged in so far (up to the API's page limit).
      const limit = more ? TREE_PAGE : Math.min(MAX_PAGE, Math.max(TREE_PAGE, level.items.length));
      const page = await treeChildren(this.view, parent, offset, limit);
      for (const node of page.items) channelDirectory.learnNode(node);
      if (more) {
        const known = new Set(level.items.map((n) => n.id));
        level.items.push(...page.items.filter((n) => !known.has(n.id)));
      } else {
        level.items = page.items;
      }
      level.total = page.total;
    } catch (err) {
      level.error = err as Error;
    } finally {
      level.loading = false;
    }
  }

  async toggle(node: WallTreeNode): Promise<void> {
    if (!node.hasChildren) return;
    if (this.expanded.has(node.id)) {
      this.expanded.delete(node.id);
      return;
    }
    this.expanded.add(node.id);
    if (!this.levels.has(node.id)) await this.load(node.id);
  }

  async expand(id: string): Promise<void> {
    this.expanded.add(id);
    if (!this.levels.has(id)) await this.load(id);
  }

  collapse(id: string): void {
    this.expanded.delete(id);
  }

  /** Expand the path to a hit and mark it; returns once the hit is in the tree. */
  async reveal(hit: WallTreeHit, path: TreePathStep[]): Promise<void> {
    if (!this.levels.has(ROOT)) await this.load(null);
    for (const step of path) await this.expand(step.id);
    const parentKey = path.length > 0 ? path[path.length - 1].id : ROOT;
    const level = this.levels.get(parentKey);
    if (level && !level.items.some((n) => n.id === hit.node.id)) level.items.unshift(hit.node);
    channelDirectory.learnNode(hit.node);
    this.highlighted.value = hit.node.id;
  }

  /** Reload every loaded level (counts and status after a reconnect, or on the refresh button). */
  async reload(): Promise<void> {
    await Promise.all([...this.levels.keys()].map((key) => this.load(key === ROOT ? null : key)));
  }
}

/**
 * Online cameras beneath a group / region / device node, in tree order, at most `want` of them: what a node
 * dropped on the wall fills the tiles with. Breadth-first over the view's own levels, bounded in requests so a
 * province node does not walk 50,000 cameras to fill 16 tiles.
 */
export async function onlineChannelsUnder(view: WallTreeView, node: WallTreeNode, want: number, maxRequests = 40): Promise<string[]> {
  if (node.kind === 'channel') return node.status === 'offline' ? [] : [node.id];
  const found: string[] = [];
  const queue: string[] = [node.id];
  let requests = 0;
  while (queue.length > 0 && found.length < want && requests < maxRequests) {
    const parent = queue.shift()!;
    let offset = 0;
    for (;;) {
      requests++;
      const page = await treeChildren(view, parent, offset, TREE_PAGE);
      for (const child of page.items) {
        channelDirectory.learnNode(child);
        if (child.kind === 'channel') {
          if (child.status !== 'offline' && !found.includes(child.id)) found.push(child.id);
        } else if (child.hasChildren && child.online > 0) {
          queue.push(child.id);
        }
      }
      offset += page.items.length;
      if (found.length >= want || offset >= page.total || page.items.length === 0 || requests >= maxRequests) break;
    }
  }
  return found.slice(0, want);
}
