/**
 * Online-rate statistics, overall and per top-level node of the region tree (GET /api/tree?view=region):
 * the same ids, names, order and channel counts as the wall's region tree and the health console's top
 * level, including the "unplaced" node for channels whose codes give no region, so the per-region figures
 * add up to the overall ones. A node counts the channels beneath it and the devices that reported them; a
 * registered device that reported no channel counts where the tree puts it (as the health console counts,
 * health/aggregates.ts). Computed from memory (registry + tree views) and cached briefly, so a dashboard
 * polling every few seconds costs nothing measurable even at 150,000 channels.
 */
import type { GatewayStats, RegionStats } from './services.js';
import type { DeviceRegistry } from './registry/device-registry.js';
import type { TreeIndex } from './catalog/tree-index.js';
import type { TreeViews } from './catalog/tree-views.js';

interface Counter {
  online: number;
  total: number;
}

function rate(c: Counter): number {
  return c.total === 0 ? 0 : Math.round((c.online / c.total) * 10_000) / 10_000;
}

interface NodeTally {
  channels: Counter;
  /** Devices that reported a channel beneath the node (or are a channel-less leaf beneath it). */
  devices: Set<string>;
}

export class StatsService {
  private cached: GatewayStats | null = null;

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly tree: TreeIndex,
    private readonly views: TreeViews,
    private readonly maxAgeMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  compute(): GatewayStats {
    const now = this.now();
    if (this.cached && now - this.cached.at < this.maxAgeMs) return this.cached;
    const regionView = this.views.snapshot('region');
    const topLevel = regionView.children().filter((n) => n.kind === 'region' || n.kind === 'unassigned');
    const tallies = new Map<string, NodeTally>(topLevel.map((n) => [n.id, { channels: { online: 0, total: 0 }, devices: new Set<string>() }]));
    const tallyOf = (id: string): NodeTally | undefined => {
      // One top-level node is above a channel in the region view; the ancestors' order is not promised.
      for (const node of regionView.nodesAbove(id)) {
        const tally = tallies.get(node);
        if (tally) return tally;
      }
      return undefined;
    };

    const devices: Counter = { online: 0, total: 0 };
    const channels: Counter = { online: 0, total: 0 };
    const withChannels = new Set<string>();
    for (const c of this.tree.channels()) {
      channels.total++;
      if (c.online) channels.online++;
      withChannels.add(c.deviceId);
      const tally = tallyOf(c.id);
      if (!tally) continue;
      tally.channels.total++;
      if (c.online) tally.channels.online++;
      tally.devices.add(c.deviceId);
    }
    for (const d of this.registry.all()) {
      devices.total++;
      if (d.status === 'online') devices.online++;
      if (!withChannels.has(d.id)) tallyOf(d.id)?.devices.add(d.id);
    }

    const regions: RegionStats[] = topLevel.map((node) => {
      const tally = tallies.get(node.id)!;
      const deviceCounter: Counter = { online: 0, total: tally.devices.size };
      for (const id of tally.devices) if (this.registry.isOnline(id)) deviceCounter.online++;
      return {
        region: node.id,
        name: node.name,
        devices: { ...deviceCounter, rate: rate(deviceCounter) },
        channels: { ...tally.channels, rate: rate(tally.channels) },
      };
    });
    this.cached = {
      at: now,
      devices: { ...devices, rate: rate(devices) },
      channels: { ...channels, rate: rate(channels) },
      regions,
      regionDataset: this.views.regionDatasetSource,
    };
    return this.cached;
  }
}
