/**
 * Online rate and intact rate (完好率), overall and per region / group node.
 *
 * Definitions (the dashboard, the snapshots and the alert scopes use exactly these):
 * - device online rate = devices online / devices known to the registry (as /api/stats);
 * - channel online rate = video channels whose device is online and that the device reports online /
 *   all video channels (as /api/stats);
 * - intact rate = intact / total, total = video channels not in maintenance, intact = those of them that are
 *   online and whose stream is not failing. Degraded channels are intact (the picture is there).
 *   A network with every channel in maintenance has total 0 and rate 0.
 * A node of the region or group tree (grouping.ts) counts the channels beneath it, as GET /api/tree shows
 * them, and the devices that reported them; a registered device with no channel counts where the tree puts
 * it (a leaf of its own).
 */
import type { HealthFigures, HealthStatus } from './types.js';

export class FigureCounter {
  devicesOnline = 0;
  devicesTotal = 0;
  channelsOnline = 0;
  channelsTotal = 0;
  intact = 0;
  intactTotal = 0;

  addDevice(online: boolean): void {
    this.devicesTotal++;
    if (online) this.devicesOnline++;
  }

  addChannel(online: boolean, status: HealthStatus): void {
    this.channelsTotal++;
    if (online) this.channelsOnline++;
    if (status === 'maintenance') return;
    this.intactTotal++;
    if (isIntact(online, status)) this.intact++;
  }

  figures(): HealthFigures {
    return {
      devices: { online: this.devicesOnline, total: this.devicesTotal, rate: rate(this.devicesOnline, this.devicesTotal) },
      channels: { online: this.channelsOnline, total: this.channelsTotal, rate: rate(this.channelsOnline, this.channelsTotal) },
      intact: { intact: this.intact, total: this.intactTotal, rate: rate(this.intact, this.intactTotal) },
    };
  }

  /** [devicesOnline, devicesTotal, channelsOnline, channelsTotal, intact, intactTotal]: compact form for snapshots. */
  compact(): CompactFigures {
    return [this.devicesOnline, this.devicesTotal, this.channelsOnline, this.channelsTotal, this.intact, this.intactTotal];
  }
}

export type CompactFigures = [number, number, number, number, number, number];

export function expandFigures(c: CompactFigures): HealthFigures {
  const counter = new FigureCounter();
  [counter.devicesOnline, counter.devicesTotal, counter.channelsOnline, counter.channelsTotal, counter.intact, counter.intactTotal] = c;
  return counter.figures();
}

/** Intact: online and the stream is not failing (maintenance is excluded before this is asked). */
export function isIntact(online: boolean, status: HealthStatus): boolean {
  return online && status !== 'stream-failing';
}

/** Same rounding as /api/stats: four decimals. */
export function rate(part: number, total: number): number {
  return total === 0 ? 0 : Math.round((part / total) * 10_000) / 10_000;
}

export interface Aggregates {
  at: number;
  overall: FigureCounter;
  regions: Map<string, FigureCounter>;
  groups: Map<string, FigureCounter>;
}

export function counterIn(map: Map<string, FigureCounter>, id: string): FigureCounter {
  let c = map.get(id);
  if (!c) {
    c = new FigureCounter();
    map.set(id, c);
  }
  return c;
}
