/**
 * Offline episodes in the last 24 hours, per device and per channel, for the offline list's "episodes in 24 h".
 *
 * Device episodes are the device's offline transitions, which the registry writes as status events: at start
 * they are read back from the store (so a restart keeps the count), then followed live from 'device-status'
 * events. Channel episodes (device online, channel reported OFF) have no stored history and are counted from
 * the status evaluation in memory only.
 *
 * Only subjects with an episode in the window hold an entry (a short array of start times).
 */
import type { StatusEvent } from '../model.js';

export const EPISODE_WINDOW_MS = 24 * 3600_000;
/** More episodes than this in 24 h all read as "at least this many": a flapping device must not grow memory. */
const MAX_EPISODES_KEPT = 500;

export class OfflineEpisodes {
  private readonly byDevice = new Map<string, number[]>();
  private readonly byChannel = new Map<string, number[]>();

  deviceWentOffline(deviceId: string, at: number): void {
    add(this.byDevice, deviceId, at);
  }

  channelWentOffline(channelId: string, at: number): void {
    add(this.byChannel, channelId, at);
  }

  /**
   * Seed from stored status events (any order). Events at or after `before` are skipped: they arrived live
   * while the store was being read and were counted already.
   */
  seed(events: Iterable<StatusEvent>, before: number): void {
    for (const e of events) {
      if (e.subject !== 'device' || e.status !== 'offline' || e.at >= before) continue;
      add(this.byDevice, e.subjectId, e.at);
    }
    for (const list of this.byDevice.values()) list.sort((a, b) => a - b);
  }

  /** Episodes of a channel: its device's plus its own, that began after now − 24 h. */
  count(channelId: string, deviceId: string, now: number): number {
    const from = now - EPISODE_WINDOW_MS;
    return countSince(this.byDevice.get(deviceId), from) + countSince(this.byChannel.get(channelId), from);
  }

  /** Drop episodes older than the window (called from the periodic evaluation). */
  prune(now: number): void {
    const from = now - EPISODE_WINDOW_MS;
    for (const map of [this.byDevice, this.byChannel]) {
      for (const [id, list] of map) {
        const keep = list.filter((t) => t >= from);
        if (keep.length === 0) map.delete(id);
        else if (keep.length !== list.length) map.set(id, keep);
      }
    }
  }

  get subjects(): number {
    return this.byDevice.size + this.byChannel.size;
  }
}

function add(map: Map<string, number[]>, id: string, at: number): void {
  let list = map.get(id);
  if (!list) {
    list = [];
    map.set(id, list);
  }
  list.push(at);
  if (list.length > MAX_EPISODES_KEPT) list.splice(0, list.length - MAX_EPISODES_KEPT);
}

function countSince(list: number[] | undefined, from: number): number {
  if (!list) return 0;
  let n = 0;
  for (const t of list) if (t >= from) n++;
  return n;
}
