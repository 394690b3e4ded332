/**
 * In-memory index of the catalog tree with online/total channel counts per node.
 *
 * `GET /api/tree` must answer in a few milliseconds on a 150,000-channel lower platform, and counting
 * descendants in the store for every node on every request would not. The index keeps the tree's shape
 * (ids, names, kinds, parent links) and the counts; full details stay in the store.
 *
 * Shape rules:
 * - Node identity is the GB ID. Region nodes (2–8 digits) reported by several devices merge into one.
 * - A node's parents are its ParentIDs (2022 allows several). A region without ParentID hangs under its
 *   parent region code when that node exists; any other item without ParentID hangs under its device.
 * - Registered devices are nodes too; a device that appears as an item of another device's catalog
 *   (an NVR behind a lower platform) sits where that catalog puts it, otherwise at the root.
 * - Counts are of video channels (kind 'channel') beneath a node, each channel counted once per node even
 *   when several paths lead to it.
 *
 * Catalog replacement only marks counts dirty; they are rebuilt on the next read (a registration storm with
 * thousands of small catalogs then costs one rebuild, not thousands). Status changes update counts
 * incrementally when the counts are clean.
 */
import type { CatalogNodeKind, Channel, OnlineStatus } from '../model.js';
import type { TreeNodeView } from '../services.js';

interface TreeNode {
  id: string;
  deviceId: string;
  kind: CatalogNodeKind;
  name: string;
  civilCode: string;
  explicitParents: string[];
  /** For channels: status as reported by the device in its catalog. */
  reportedOnline: boolean;
  online: number;
  total: number;
}

export const ROOT = '';

function nodeOf(deviceId: string, c: Channel): TreeNode {
  return {
    id: c.id,
    deviceId,
    kind: c.kind,
    name: c.name,
    civilCode: c.civilCode,
    // A self-reference (seen from sloppy platforms) would make the node its own ancestor.
    explicitParents: c.parentIds.filter((p) => p !== c.id),
    reportedOnline: c.reportedStatus === 'online',
    online: 0,
    total: 0,
  };
}

export class TreeIndex {
  private readonly nodes = new Map<string, TreeNode>();
  /** Which node ids each device reported, to replace a device's catalog as a whole. */
  private readonly reported = new Map<string, Set<string>>();
  private readonly deviceOnline = new Map<string, boolean>();
  private children = new Map<string, string[]>();
  private dirty = true;

  // ------------------------------------------------------------------ writes

  upsertDevice(id: string, name: string, civilCode: string, online: boolean): void {
    const existing = this.nodes.get(id);
    this.deviceOnline.set(id, online);
    if (existing) {
      // An item of another catalog already describes this device; keep its place, refresh the name if empty.
      if (!existing.name && name) existing.name = name;
      if (existing.kind === 'device' && existing.deviceId === id) existing.name = name || existing.name;
      this.setDeviceOnline(id, online);
      return;
    }
    this.nodes.set(id, {
      id,
      deviceId: id,
      kind: 'device',
      name,
      civilCode,
      explicitParents: [],
      reportedOnline: true,
      online: 0,
      total: 0,
    });
    this.dirty = true;
  }

  /** Replace everything a device reported with a new complete catalog. */
  replaceCatalog(deviceId: string, items: Channel[]): void {
    const previous = this.reported.get(deviceId) ?? new Set<string>();
    const next = new Set<string>();
    for (const c of items) {
      next.add(c.id);
      this.nodes.set(c.id, nodeOf(deviceId, c));
    }
    for (const id of previous) {
      if (next.has(id)) continue;
      const node = this.nodes.get(id);
      if (node && node.deviceId === deviceId && node.kind !== 'device') this.nodes.delete(id);
    }
    this.reported.set(deviceId, next);
    this.dirty = true;
  }

  /** Merge items without removing others (partial catalogs, catalog NOTIFY ADD/UPDATE). */
  mergeCatalog(deviceId: string, items: Channel[]): void {
    const set = this.reported.get(deviceId) ?? new Set<string>();
    for (const c of items) set.add(c.id);
    this.reported.set(deviceId, set);
    for (const c of items) {
      this.nodes.set(c.id, nodeOf(deviceId, c));
    }
    this.dirty = true;
  }

  /** The device's online state changed: all its channels' effective status follows. */
  setDeviceOnline(deviceId: string, online: boolean): void {
    const before = this.deviceOnline.get(deviceId);
    this.deviceOnline.set(deviceId, online);
    if (before === online || this.dirty) return;
    for (const id of this.reported.get(deviceId) ?? []) {
      const node = this.nodes.get(id);
      if (!node || node.kind !== 'channel' || node.deviceId !== deviceId || !node.reportedOnline) continue;
      this.addOnline(node, online ? 1 : -1);
    }
  }

  /** A device reported a channel's own status (catalog Status, NOTIFY ON/OFF). */
  setChannelReported(channelId: string, online: boolean): void {
    const node = this.nodes.get(channelId);
    if (!node || node.kind !== 'channel' || node.reportedOnline === online) return;
    const effectiveBefore = this.effectiveOnline(node);
    node.reportedOnline = online;
    if (this.dirty) return;
    const effectiveAfter = this.effectiveOnline(node);
    if (effectiveBefore !== effectiveAfter) this.addOnline(node, effectiveAfter ? 1 : -1);
  }

  // ------------------------------------------------------------------ reads

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  /** Children of a node (ROOT for the top level), regions and groups first, then by name. */
  childrenOf(parent: string, offset = 0, limit = Number.POSITIVE_INFINITY): TreeNodeView[] {
    this.rebuildIfDirty();
    // Views are built only for the requested page: a platform node can have 150,000 direct children.
    const ids = (this.children.get(parent) ?? []).slice(offset, offset + limit);
    const out: TreeNodeView[] = [];
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (!node) continue;
      const view: TreeNodeView = {
        id: node.id,
        deviceId: node.deviceId,
        kind: node.kind,
        name: node.name,
        online: node.online,
        total: node.total,
        hasChildren: (this.children.get(node.id)?.length ?? 0) > 0,
      };
      if (node.kind === 'channel') view.status = this.effectiveOnline(node) ? 'online' : 'offline';
      if (node.kind === 'device') view.status = this.deviceOnline.get(node.id) ? 'online' : 'offline';
      out.push(view);
    }
    return out;
  }

  /** Every channel with its civil code and effective status (for per-region statistics). */
  *channels(): IterableIterator<{ id: string; deviceId: string; civilCode: string; online: boolean }> {
    for (const node of this.nodes.values()) {
      if (node.kind !== 'channel') continue;
      yield { id: node.id, deviceId: node.deviceId, civilCode: node.civilCode || node.deviceId.slice(0, 8), online: this.effectiveOnline(node) };
    }
  }

  /** Number of direct children of a node. */
  childCount(parent: string): number {
    this.rebuildIfDirty();
    return this.children.get(parent)?.length ?? 0;
  }

  /** Video channels a device reported. */
  channelIdsOf(deviceId: string): string[] {
    const out: string[] = [];
    for (const id of this.reported.get(deviceId) ?? []) {
      const node = this.nodes.get(id);
      if (node && node.kind === 'channel' && node.deviceId === deviceId) out.push(id);
    }
    return out;
  }

  nameOf(id: string): string | undefined {
    return this.nodes.get(id)?.name;
  }

  channelStatus(id: string): OnlineStatus | undefined {
    const node = this.nodes.get(id);
    if (!node || node.kind !== 'channel') return undefined;
    return this.effectiveOnline(node) ? 'online' : 'offline';
  }

  get size(): number {
    return this.nodes.size;
  }

  // ------------------------------------------------------------------ internals

  private effectiveOnline(node: TreeNode): boolean {
    return node.reportedOnline && this.deviceOnline.get(node.deviceId) === true;
  }

  private parentsOf(node: TreeNode): string[] {
    const explicit = node.explicitParents.filter((p) => this.nodes.has(p));
    if (explicit.length > 0) return explicit;
    if (node.kind === 'region') {
      // Nearest existing ancestor region by code: "44030501" → "440305" → "4403" → "44".
      for (let len = node.id.length - 2; len >= 2; len -= 2) {
        const code = node.id.slice(0, len);
        if (this.nodes.has(code)) return [code];
      }
      return [ROOT];
    }
    if (node.kind === 'device' && node.deviceId === node.id) return [ROOT];
    if (node.deviceId !== node.id && this.nodes.has(node.deviceId)) return [node.deviceId];
    return [ROOT];
  }

  private ancestors(node: TreeNode): string[] {
    const seen = new Set<string>();
    const stack = this.parentsOf(node);
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (id === ROOT || seen.has(id)) continue;
      seen.add(id);
      const parent = this.nodes.get(id);
      if (parent) for (const p of this.parentsOf(parent)) stack.push(p);
    }
    return [...seen];
  }

  private addOnline(channel: TreeNode, delta: number): void {
    for (const id of this.ancestors(channel)) {
      const n = this.nodes.get(id);
      if (n) n.online += delta;
    }
  }

  private rebuildIfDirty(): void {
    if (!this.dirty) return;
    const children = new Map<string, string[]>();
    for (const node of this.nodes.values()) {
      node.online = 0;
      node.total = 0;
      for (const p of this.parentsOf(node)) {
        let list = children.get(p);
        if (!list) {
          list = [];
          children.set(p, list);
        }
        list.push(node.id);
      }
    }
    for (const node of this.nodes.values()) {
      if (node.kind !== 'channel') continue;
      const online = this.effectiveOnline(node);
      for (const id of this.ancestors(node)) {
        const n = this.nodes.get(id);
        if (!n) continue;
        n.total++;
        if (online) n.online++;
      }
    }
    const order: Record<CatalogNodeKind, number> = { region: 0, system: 1, 'business-group': 2, 'virtual-org': 3, device: 4, channel: 5 };
    for (const list of children.values()) {
      list.sort((a, b) => {
        const na = this.nodes.get(a) as TreeNode;
        const nb = this.nodes.get(b) as TreeNode;
        // Code-point order, not localeCompare: collation costs seconds on a 150,000-item sort.
        if (order[na.kind] !== order[nb.kind]) return order[na.kind] - order[nb.kind];
        if (na.name !== nb.name) return na.name < nb.name ? -1 : 1;
        return a < b ? -1 : 1;
      });
    }
    this.children = children;
    this.dirty = false;
  }
}
