/**
 * Mobile positions (GB/T 28181 9.8 移动设备位置数据): vehicle, body-worn and drone cameras report where they are,
 * in the NOTIFYs of our MobilePosition subscription (device-subscriptions.ts) or in MESSAGEs sent unasked.
 *
 * - The latest position of each channel is kept in memory (the wall and the API read it) and in the store
 *   (`positions`, one row per channel), so it survives a restart.
 * - Every accepted report is also kept as a track point (`position_track`) for `retentionDays`, so an operator
 *   can see where a vehicle went; old points are removed hourly.
 * - A device may report only for itself and its own channels (a lower platform: the channels it registered
 *   with us); anything else is dropped and counted, like reports without usable coordinates.
 * - Writes are coalesced: a vehicle reporting every second costs one store write per flush, not one per report.
 */
import type { Logger } from 'pino';
import type { MobilePositionNotify } from '../../codecs/manscdp/messages.js';
import type { RecordCollection, RecordStore } from '../records.js';
import { NotFoundError, ValidationError } from '../services.js';

export interface ChannelPosition {
  /** The channel (or single-channel device) the position is of. */
  id: string;
  /** The device or lower platform that reported it. */
  deviceId: string;
  longitude: number;
  latitude: number;
  /** km/h */
  speed: number | null;
  /** Degrees clockwise from north. */
  direction: number | null;
  altitude: number | null;
  /** The device's own time of the fix, as it wrote it (GB local time, no zone). */
  time: string;
  /** When the gateway received it (epoch ms). */
  receivedAt: number;
}

interface TrackPoint extends Omit<ChannelPosition, 'id'> {
  /** `${channelId}:${receivedAt}:${seq}` */
  id: string;
  channelId: string;
}

export type PositionDrop = 'unusable' | 'foreign';

export interface PositionServiceDeps {
  records: RecordStore;
  /** The device a channel ID belongs to (its catalog row), or null when unknown. */
  deviceOfChannel(channelId: string): Promise<string | null>;
  /** A new latest position (the WebSocket hub sends it to the wall). */
  onPosition?(position: ChannelPosition): void;
  /** Counts accepted reports and drops (metrics). */
  count?(outcome: 'accepted' | PositionDrop): void;
  logger: Logger;
  now?: () => number;
}

export interface PositionServiceOptions {
  retentionDays: number;
  /** Coalesced writes go out this often. */
  flushIntervalMs?: number;
}

/** One track query returns at most this many points (a day of 5 s reports is 17,280). */
const MAX_TRACK_POINTS = 20_000;

export class PositionService {
  private readonly latest = new Map<string, ChannelPosition>();
  private readonly latestRows: RecordCollection<ChannelPosition>;
  private readonly track: RecordCollection<TrackPoint>;
  private dirty = new Map<string, ChannelPosition>();
  private pendingTrack: TrackPoint[] = [];
  private seq = 0;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly retentionTimer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(
    private readonly deps: PositionServiceDeps,
    private readonly options: PositionServiceOptions,
  ) {
    this.now = deps.now ?? Date.now;
    this.latestRows = deps.records.collection<ChannelPosition>('positions', ['deviceId']);
    this.track = deps.records.collection<TrackPoint>('position_track', ['channelId', 'receivedAt']);
    this.flushTimer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1_000);
    this.flushTimer.unref?.();
    this.retentionTimer = setInterval(() => void this.expire(), 3_600_000);
    this.retentionTimer.unref?.();
  }

  /** Loads the stored latest positions (start-up). */
  async load(): Promise<void> {
    let offset = 0;
    for (;;) {
      const page = await this.latestRows.find({ offset, limit: 5_000 });
      for (const p of page.items) this.latest.set(p.id, p);
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.total) break;
    }
  }

  /** A MobilePosition report from a registered device or lower platform (the signalling engine checked the sender). */
  async receive(deviceId: string, notify: MobilePositionNotify): Promise<number> {
    let accepted = 0;
    const receivedAt = this.now();
    for (const p of notify.positions) {
      if (p.longitude === null || p.latitude === null || (p.longitude === 0 && p.latitude === 0)) {
        // 0,0 is what trackers send before their first fix: in the Gulf of Guinea, never in a Chinese city.
        this.drop('unusable', deviceId, p.deviceId);
        continue;
      }
      const channelId = p.deviceId || deviceId;
      if (channelId !== deviceId && (await this.deps.deviceOfChannel(channelId)) !== deviceId) {
        this.drop('foreign', deviceId, channelId);
        continue;
      }
      const position: ChannelPosition = {
        id: channelId,
        deviceId,
        longitude: p.longitude,
        latitude: p.latitude,
        speed: p.speed,
        direction: p.direction,
        altitude: p.altitude,
        time: p.time,
        receivedAt,
      };
      this.latest.set(channelId, position);
      this.dirty.set(channelId, position);
      const { id: _id, ...rest } = position;
      this.pendingTrack.push({ ...rest, id: `${channelId}:${receivedAt}:${this.seq++}`, channelId });
      accepted++;
      this.deps.count?.('accepted');
      this.deps.onPosition?.(position);
    }
    return accepted;
  }

  /** The latest position of a channel, or null when it never reported one. */
  latestOf(channelId: string): ChannelPosition | null {
    return this.latest.get(channelId) ?? null;
  }

  /** Where a channel was between two times (epoch ms, `end` exclusive), oldest first. */
  async trackOf(channelId: string, start: number, end: number): Promise<{ total: number; items: ChannelPosition[] }> {
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) throw new ValidationError('start must be before end', 'start');
    if (!this.latest.has(channelId)) throw new NotFoundError(`channel ${channelId} has reported no position`);
    await this.flush();
    const page = await this.track.find({
      where: { channelId, receivedAt: { gte: start, lt: end } },
      sort: { field: 'receivedAt', order: 'asc' },
      limit: MAX_TRACK_POINTS,
    });
    return { total: page.total, items: page.items.map(({ channelId: id, ...p }) => ({ ...p, id })) };
  }

  /** Writes what is waiting (also called before a track read and at shutdown). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.dirty.size === 0 && this.pendingTrack.length === 0) return;
      const latest = [...this.dirty.values()];
      const track = this.pendingTrack;
      this.dirty = new Map();
      this.pendingTrack = [];
      try {
        await Promise.all([this.latestRows.putMany(latest), this.track.putMany(track)]);
      } catch (err) {
        // The store is away: keep what failed for the next flush (a newer latest position wins).
        for (const p of latest) if (!this.dirty.has(p.id)) this.dirty.set(p.id, p);
        this.pendingTrack = track.concat(this.pendingTrack).slice(-100_000);
        this.deps.logger.warn({ err: (err as Error).message, positions: latest.length, trackPoints: track.length }, 'positions not written; retrying with the next flush');
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.retentionTimer);
    await this.flush();
  }

  private async expire(): Promise<void> {
    const before = this.now() - this.options.retentionDays * 86_400_000;
    try {
      const removed = await this.track.deleteWhere({ receivedAt: { lt: before } });
      if (removed > 0) this.deps.logger.info({ removed, retentionDays: this.options.retentionDays }, 'old position track points removed');
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'position track retention failed; tried again in an hour');
    }
  }

  private drop(reason: PositionDrop, deviceId: string, channelId: string): void {
    this.deps.count?.(reason);
    this.deps.logger.debug({ deviceId, channelId, reason }, 'mobile position dropped');
  }
}
