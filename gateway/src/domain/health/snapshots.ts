/**
 * Aggregate snapshots for "against yesterday / last week": the overall figures every
 * `health.snapshotIntervalMin` (and at start), persisted through the records port; per-node figures (regions,
 * groups) at most once an hour, in compact form — a province's thousands of nodes every 5 minutes for 8 days
 * would be hundreds of megabytes, and "yesterday" only needs the nearest snapshot within an hour.
 *
 * Yesterday = the snapshot nearest now − 24 h within ±1 h, else none; last week = nearest now − 7 d within
 * ±1 h. Snapshots older than 8 days are deleted.
 */
import type { RecordCollection, RecordStore } from '../records.js';
import { expandFigures, type Aggregates, type CompactFigures } from './aggregates.js';
import type { HealthFigures } from './types.js';

export const SNAPSHOT_COLLECTION = 'health_snapshots';
export const SNAPSHOT_RETENTION_MS = 8 * 24 * 3600_000;
export const SNAPSHOT_TOLERANCE_MS = 3600_000;
/** Per-node figures are stored when the last snapshot with nodes is at least this old. */
const NODE_SNAPSHOT_EVERY_MS = 55 * 60_000;

/** One stored snapshot (also what a test inserts to stand for "yesterday"). */
export interface HealthSnapshotRecord {
  /** `snap-<at>` */
  id: string;
  at: number;
  overall: HealthFigures;
  hasNodes: boolean;
  /** Region id → compact figures ([devicesOnline, devicesTotal, channelsOnline, channelsTotal, intact, intactTotal]). */
  regions: Record<string, CompactFigures> | null;
  groups: Record<string, CompactFigures> | null;
}

export class HealthSnapshots {
  private readonly collection: RecordCollection<HealthSnapshotRecord>;
  private lastNodesAt = Number.NEGATIVE_INFINITY;

  constructor(records: RecordStore) {
    this.collection = records.collection<HealthSnapshotRecord>(SNAPSHOT_COLLECTION, ['at', 'hasNodes']);
  }

  async load(): Promise<void> {
    const latest = await this.collection.find({ where: { hasNodes: true }, sort: { field: 'at', order: 'desc' }, limit: 1 });
    if (latest.items[0]) this.lastNodesAt = latest.items[0].at;
  }

  async take(aggregates: Aggregates): Promise<HealthSnapshotRecord> {
    const at = aggregates.at;
    const withNodes = at - this.lastNodesAt >= NODE_SNAPSHOT_EVERY_MS || at < this.lastNodesAt;
    const record: HealthSnapshotRecord = {
      id: `snap-${at}`,
      at,
      overall: aggregates.overall.figures(),
      hasNodes: withNodes,
      regions: withNodes ? compactAll(aggregates.regions) : null,
      groups: withNodes ? compactAll(aggregates.groups) : null,
    };
    await this.collection.put(record);
    if (withNodes) this.lastNodesAt = at;
    return record;
  }

  /** The snapshot nearest `target` within ±1 h (only snapshots with per-node figures when `withNodes`). */
  async nearest(target: number, withNodes: boolean): Promise<HealthSnapshotRecord | null> {
    const where: Record<string, number | boolean | { gte: number; lt: number }> = {
      at: { gte: target - SNAPSHOT_TOLERANCE_MS, lt: target + SNAPSHOT_TOLERANCE_MS + 1 },
    };
    if (withNodes) where.hasNodes = true;
    // Every 5 minutes over 2 hours is 25 records: one page.
    const page = await this.collection.find({ where, sort: { field: 'at', order: 'asc' }, limit: 1000 });
    let best: HealthSnapshotRecord | null = null;
    for (const s of page.items) {
      if (!best || Math.abs(s.at - target) < Math.abs(best.at - target)) best = s;
    }
    return best;
  }

  async prune(now: number): Promise<number> {
    return this.collection.deleteWhere({ at: { lt: now - SNAPSHOT_RETENTION_MS } });
  }
}

function compactAll(map: Map<string, { compact(): CompactFigures }>): Record<string, CompactFigures> {
  const out: Record<string, CompactFigures> = {};
  for (const [id, counter] of map) out[id] = counter.compact();
  return out;
}

/** A node's figures in a snapshot, or null when the snapshot has none for it. */
export function nodeFigures(snapshot: HealthSnapshotRecord | null, kind: 'region' | 'group', id: string): HealthFigures | null {
  const table = kind === 'region' ? snapshot?.regions : snapshot?.groups;
  const compact = table?.[id];
  return compact ? expandFigures(compact) : null;
}
