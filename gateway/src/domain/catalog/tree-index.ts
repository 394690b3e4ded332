/**
 * In-memory index of the catalog tree with online/total channel counts per node.
 *
 * `GET /api/tree` must answer in a few milliseconds on a 150,000-channel lower platform, and counting
 * descendants in the store for every node on every request would not. The index keeps the tree's shape
 * (ids, names, kinds, parent links) and the counts; full details stay in the store.
 *
 * Shape rules:
 * - Node identity is the GB ID. Region nodes (2–8-digit civil codes, 9–19-digit township / village / grid
 *   codes) reported by several devices merge into one.
 * - A node's parents are its ParentIDs (2022 allows several). A region without ParentID hangs under its
 *   parent region code when that node exists; any other item without ParentID hangs under its device.
 * - Registered devices are nodes too; a device that appears as an item of another device's catalog
 *   (an NVR behind a lower platform) sits where that catalog puts it, otherwise at the root.
 * - Counts are of video channels (kind 'channel') beneath a node, each channel counted once per node even
 *   when several paths lead to it.
 *
 * Catalog replacement only marks counts dirty; they are rebuilt on the next read (a registration storm with
 * thousands of small catalogs then costs one rebuild, not thousands). Status changes update counts
 * incrementally when the counts are clean. The shape and counts live in a CountedForest, the code the region
 * and group views (tree-views.ts) share; those views read the nodes from here and listen for changes.
 */
import type { CatalogNodeKind, Channel, OnlineStatus } from '../model.js';
import type { TreeNodeView } from '../services.js';
import { CountedForest, ROOT, type ForestEntry, type NodeLabel } from './counted-forest.js';
import { normaliseRegionCode, regionLevels } from './region-codes.js';

export { ROOT };

/** What other views of the catalog read of a node. */
export interface CatalogNodeRecord {
  readonly id: string;
  /** The device that reported it (for a registered device: itself). */
  readonly deviceId: string;
  readonly kind: CatalogNodeKind;
  readonly name: string;
  readonly civilCode: string;
  /** ParentIDs as reported, self-references removed. */
  readonly explicitParents: readonly string[];
  readonly businessGroupId: string;
  /** 2022 `Info/GrassrootsCode` (township + village under the county), '' when absent. */
  readonly grassrootsCode: string;
}

interface TreeNode extends CatalogNodeRecord {
  name: string;
  /** For channels: status as reported by the device in its catalog. */
  reportedOnline: boolean;
}

/** Told about changes so derived views (region, group) stay current. Called synchronously. */
export interface TreeIndexListener {
  /** Nodes were added, removed or re-parented: derived shapes are stale. */
  shapeChanged(): void;
  /** A channel's effective status (reported status AND device online) changed. */
  channelOnlineChanged(channelId: string, online: boolean): void;
}

export const GRASSROOTS_CODE_KEY = 'Info.GrassrootsCode';

const KIND_ORDER: Record<CatalogNodeKind, number> = { region: 0, system: 1, 'business-group': 2, 'virtual-org': 3, device: 4, channel: 5 };

function nodeOf(deviceId: string, c: Channel): TreeNode {
  return {
    id: c.id,
    deviceId,
    kind: c.kind,
    name: c.name,
    civilCode: c.civilCode,
    // A self-reference (seen from sloppy platforms) would make the node its own ancestor.
    explicitParents: c.parentIds.filter((p) => p !== c.id),
    businessGroupId: c.businessGroupId,
    grassrootsCode: c.extra[GRASSROOTS_CODE_KEY] ?? '',
    reportedOnline: c.reportedStatus === 'online',
  };
}

export class TreeIndex {
  private readonly nodes = new Map<string, TreeNode>();
  /** Which node ids each device reported, to replace a device's catalog as a whole. */
  private readonly reported = new Map<string, Set<string>>();
  private readonly deviceOnline = new Map<string, boolean>();
  private readonly listeners: TreeIndexListener[] = [];
  private forest: CountedForest | null = null;
  private dirty = true;

  addListener(listener: TreeIndexListener): void {
    this.listeners.push(listener);
  }

  // ------------------------------------------------------------------ writes

  upsertDevice(id: string, name: string, civilCode: string, online: boolean): void {
    const existing = this.nodes.get(id);
    if (existing) {
      // An item of another catalog already describes this device; keep its place, refresh the name if empty.
      if (!existing.name && name) existing.name = name;
      if (existing.kind === 'device' && existing.deviceId === id) existing.name = name || existing.name;
      // setDeviceOnline records the state itself: recording it first would make the change look like none.
      this.setDeviceOnline(id, online);
      return;
    }
    this.deviceOnline.set(id, online);
    this.nodes.set(id, {
      id,
      deviceId: id,
      kind: 'device',
      name,
      civilCode,
      explicitParents: [],
      businessGroupId: '',
      grassrootsCode: '',
      reportedOnline: true,
    });
    this.markDirty();
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
    this.markDirty();
  }

  /** A device deleted through the API: its node and everything it reported leave the tree. */
  removeDevice(deviceId: string): void {
    for (const id of this.reported.get(deviceId) ?? []) {
      const node = this.nodes.get(id);
      if (node && node.deviceId === deviceId) this.nodes.delete(id);
    }
    this.reported.delete(deviceId);
    const own = this.nodes.get(deviceId);
    if (own && own.kind === 'device' && own.deviceId === deviceId) this.nodes.delete(deviceId);
    this.deviceOnline.delete(deviceId);
    this.markDirty();
  }

  /** Merge items without removing others (partial catalogs, catalog NOTIFY ADD/UPDATE). */
  mergeCatalog(deviceId: string, items: Channel[]): void {
    const set = this.reported.get(deviceId) ?? new Set<string>();
    for (const c of items) set.add(c.id);
    this.reported.set(deviceId, set);
    for (const c of items) {
      this.nodes.set(c.id, nodeOf(deviceId, c));
    }
    this.markDirty();
  }

  /** Items a device withdrew (catalog NOTIFY DEL): out of the tree, the rest of its catalog stays. */
  removeItems(deviceId: string, ids: readonly string[]): void {
    const set = this.reported.get(deviceId);
    for (const id of ids) {
      set?.delete(id);
      const node = this.nodes.get(id);
      if (node && node.deviceId === deviceId && node.kind !== 'device') this.nodes.delete(id);
    }
    this.markDirty();
  }

  /** IDs of everything a device reported (its catalog as the tree holds it). */
  reportedIds(deviceId: string): string[] {
    return [...(this.reported.get(deviceId) ?? [])];
  }

  /** The device's online state changed: all its channels' effective status follows. */
  setDeviceOnline(deviceId: string, online: boolean): void {
    const before = this.deviceOnline.get(deviceId) === true;
    this.deviceOnline.set(deviceId, online);
    if (before === online) return;
    for (const id of this.reported.get(deviceId) ?? []) {
      const node = this.nodes.get(id);
      if (!node || node.kind !== 'channel' || node.deviceId !== deviceId || !node.reportedOnline) continue;
      this.channelOnlineChanged(node.id, online);
    }
  }

  /** A device reported a channel's own status (catalog Status, NOTIFY ON/OFF). */
  setChannelReported(channelId: string, online: boolean): void {
    const node = this.nodes.get(channelId);
    if (!node || node.kind !== 'channel' || node.reportedOnline === online) return;
    const effectiveBefore = this.effectiveOnline(node);
    node.reportedOnline = online;
    const effectiveAfter = this.effectiveOnline(node);
    if (effectiveBefore !== effectiveAfter) this.channelOnlineChanged(node.id, effectiveAfter);
  }

  // ------------------------------------------------------------------ reads

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  /** Children of a node (ROOT for the top level), regions and groups first, then by name. */
  childrenOf(parent: string, offset = 0, limit = Number.POSITIVE_INFINITY): TreeNodeView[] {
    // Views are built only for the requested page: a platform node can have 150,000 direct children.
    return this.catalogForest().page(parent, offset, limit, (id) => this.label(id));
  }

  /** The catalog tree's shape and counts (rebuilt here when stale). */
  catalogForest(): CountedForest {
    this.rebuildIfDirty();
    return this.forest as CountedForest;
  }

  /** Name, kind and own status of a node as every view shows it. */
  label(id: string): NodeLabel | undefined {
    const node = this.nodes.get(id);
    if (!node) return undefined;
    const label: NodeLabel = { deviceId: node.deviceId, kind: node.kind, name: node.name };
    if (node.kind === 'channel') label.status = this.effectiveOnline(node) ? 'online' : 'offline';
    if (node.kind === 'device') label.status = this.deviceOnline.get(node.id) ? 'online' : 'offline';
    return label;
  }

  record(id: string): CatalogNodeRecord | undefined {
    return this.nodes.get(id);
  }

  records(): IterableIterator<CatalogNodeRecord> {
    return this.nodes.values();
  }

  /** True for a channel whose device is online and which the device reports online. */
  isChannelOnline(id: string): boolean {
    const node = this.nodes.get(id);
    return node !== undefined && this.isOnline(node);
  }

  /** isChannelOnline for a record in hand (view builds walk 150,000 of them: no second lookup). */
  isOnline(record: CatalogNodeRecord): boolean {
    const node = record as TreeNode;
    return node.kind === 'channel' && this.effectiveOnline(node);
  }

  /** True when the device registered (as opposed to appearing only as an item of another catalog). */
  isRegisteredDevice(id: string): boolean {
    return this.deviceOnline.has(id);
  }

  /** True once the device reported any catalog item. */
  hasReportedItems(deviceId: string): boolean {
    return (this.reported.get(deviceId)?.size ?? 0) > 0;
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
    return this.catalogForest().childCount(parent);
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
      // Nearest existing ancestor region by code: "44030501" → "440305" → "4403" → "44"; a village
      // "440305001002" → township "440305001" → county "440305" → …; a malformed code by its civil-code digits.
      const levels = regionLevels(normaliseRegionCode(node.id) || normaliseRegionCode(node.id.slice(0, 8)));
      for (let i = levels.length - 1; i >= 0; i--) {
        const code = levels[i];
        if (code.length < node.id.length && this.nodes.has(code)) return [code];
      }
      return [ROOT];
    }
    if (node.kind === 'device' && node.deviceId === node.id) return [ROOT];
    if (node.deviceId !== node.id && this.nodes.has(node.deviceId)) return [node.deviceId];
    return [ROOT];
  }

  private markDirty(): void {
    if (!this.dirty) {
      this.dirty = true;
      // Dropped now rather than at the next read: two 150,000-channel shapes need not coexist.
      this.forest = null;
    }
    for (const listener of this.listeners) listener.shapeChanged();
  }

  private channelOnlineChanged(id: string, online: boolean): void {
    if (!this.dirty) this.forest?.setOnline(id, online);
    for (const listener of this.listeners) listener.channelOnlineChanged(id, online);
  }

  private rebuildIfDirty(): void {
    if (!this.dirty && this.forest) return;
    const entries: ForestEntry[] = [];
    for (const node of this.nodes.values()) {
      entries.push({
        id: node.id,
        parents: this.parentsOf(node),
        counted: node.kind === 'channel',
        online: node.kind === 'channel' && this.effectiveOnline(node),
        rank: KIND_ORDER[node.kind],
        sortKey: node.name,
        name: node.name,
      });
    }
    this.forest = new CountedForest(entries);
    this.dirty = false;
  }
}
