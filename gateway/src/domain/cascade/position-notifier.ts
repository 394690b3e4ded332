/**
 * MobilePosition subscriptions from upper platforms (cascade, we are the notifier; GB 9.11.2).
 *
 * Devices (vehicle and body cameras, GPS-fitted domes) and lower platforms report positions to us as MobilePosition
 * Notify MESSAGEs or NOTIFYs; the latest one per ID is kept here. An upper platform that SUBSCRIBEs to
 * MobilePosition — for our ID (every channel shared with it) or for one shared channel — is sent, every
 * `Interval` seconds of its subscription, the positions reported since the previous report: one NOTIFY per channel
 * in the subscription's dialog, in the 2016 flat form (`<Notify><CmdType>MobilePosition</CmdType><DeviceID>` =
 * the channel, `<Time>`, `<Longitude>`, `<Latitude>`, …) that 2016-era platforms read and 2022 ones accept. A
 * channel that did not move (no new report) is not repeated. Positions of channels not shared with the platform
 * never go to it.
 *
 * The subscription lasts until its Expires (refreshed by a SUBSCRIBE in the same dialog), an unsubscribe
 * (Expires 0), a NOTIFY answered 481/404/403 (the platform restarted and forgot it), or the platform's removal.
 */
import type { Logger } from 'pino';
import { encodeMobilePositionNotify, type MobilePosition } from '../../codecs/manscdp/messages.js';
import type { SubscriptionDialog } from '../../protocol/gb28181/subscriptions.js';
import { subscriptionState } from '../../protocol/gb28181/subscriptions.js';
import type { CascadeResponder } from './cascade-responder.js';
import type { PlatformService } from './platform-service.js';
import type { NotifyPort } from './catalog-notifier.js';

export interface PositionSubscriptionRequest {
  platformId: string;
  expires: number;
  /** Our ID (every shared channel) or one shared channel. */
  targetId: string;
  dialog: SubscriptionDialog;
  intervalSec: number;
}

interface PositionSubscription {
  platformId: string;
  targetId: string;
  dialog: SubscriptionDialog;
  expiresAt: number;
  intervalSec: number;
  timer: NodeJS.Timeout;
  /** Reports up to this sequence number have been sent. */
  sentSeq: number;
  sending: boolean;
}

interface KeptPosition {
  position: MobilePosition;
  seq: number;
}

export interface PositionNotifierOptions {
  /** Positions kept (latest per ID); the least recently reported are forgotten beyond this. Default 100,000. */
  maxPositions?: number;
  /** NOTIFYs per subscription per interval at most (the rest go with the next one). Default 200. */
  maxPerInterval?: number;
}

export class MobilePositionNotifier {
  private readonly latest = new Map<string, KeptPosition>();
  private readonly subs = new Map<string, PositionSubscription>();
  private seq = 0;
  private closed = false;
  private readonly maxPositions: number;
  private readonly maxPerInterval: number;

  constructor(
    private readonly platforms: PlatformService,
    private readonly responder: CascadeResponder,
    private readonly port: NotifyPort,
    private readonly logger: Logger,
    options: PositionNotifierOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxPositions = options.maxPositions ?? 100_000;
    this.maxPerInterval = options.maxPerInterval ?? 200;
    platforms.onChange((platformId) => {
      const platform = platforms.record(platformId);
      if (!platform || !platform.enabled) this.dropPlatform(platformId, 'platform removed');
    });
  }

  /** Subscriptions in force. */
  get size(): number {
    return this.subs.size;
  }

  /** `['MobilePosition']` when the platform holds a position subscription (for its view in /api/platforms). */
  eventsOf(platformId: string): string[] {
    for (const sub of this.subs.values()) if (sub.platformId === platformId) return ['MobilePosition'];
    return [];
  }

  /** The latest reported position of an ID (tests, and later the channel view). */
  positionOf(id: string): MobilePosition | null {
    return this.latest.get(id)?.position ?? null;
  }

  /** Positions a device or lower platform reported (each under its own DeviceID, else the sender's). */
  reported(senderId: string, positions: readonly MobilePosition[]): void {
    for (const position of positions) {
      const id = position.deviceId || senderId;
      // Re-inserted so the map's order is least recently reported first (the first ones go when it is full).
      this.latest.delete(id);
      this.latest.set(id, { position: { ...position, deviceId: id }, seq: ++this.seq });
    }
    while (this.latest.size > this.maxPositions) {
      const oldest = this.latest.keys().next().value;
      if (oldest === undefined) break;
      this.latest.delete(oldest);
    }
  }

  /** A MobilePosition SUBSCRIBE from an upper platform, already answered 200. */
  subscribed(req: PositionSubscriptionRequest): void {
    const key = keyOf(req.platformId, req.targetId);
    const existing = this.subs.get(key);
    if (req.expires === 0) {
      if (existing) this.drop(key, 'unsubscribed');
      return;
    }
    if (!this.platforms.record(req.platformId) || this.closed) return;
    const expiresAt = this.now() + req.expires * 1000;
    if (existing && existing.dialog.callId === req.dialog.callId && existing.intervalSec === req.intervalSec) {
      existing.expiresAt = expiresAt; // a refresh
      return;
    }
    // A new subscription (or a new interval): the platform gets what is reported from now on, plus, at the first
    // report, the positions already known (it has none of them yet).
    if (existing) clearInterval(existing.timer);
    const sub: PositionSubscription = {
      platformId: req.platformId,
      targetId: req.targetId,
      dialog: existing && existing.dialog.callId === req.dialog.callId ? existing.dialog : req.dialog,
      expiresAt,
      intervalSec: req.intervalSec,
      timer: setInterval(() => void this.report(key), req.intervalSec * 1000),
      sentSeq: 0,
      sending: false,
    };
    sub.timer.unref?.();
    this.subs.set(key, sub);
    this.logger.info({ platformId: req.platformId, targetId: req.targetId, expires: req.expires, intervalSec: req.intervalSec }, 'upper platform subscribed to mobile positions');
  }

  close(): void {
    this.closed = true;
    for (const key of [...this.subs.keys()]) this.drop(key, 'gateway shutting down');
  }

  /** Every subscription's report now (tests; normally each subscription's interval timer runs it). */
  async flush(): Promise<void> {
    for (const key of [...this.subs.keys()]) await this.report(key);
  }

  /** One interval's report of a subscription. */
  private async report(key: string): Promise<void> {
    const sub = this.subs.get(key);
    if (!sub || sub.sending || this.closed) return;
    const platform = this.platforms.record(sub.platformId);
    if (!platform || !platform.enabled) return this.drop(key, 'platform removed');
    if (sub.expiresAt <= this.now()) return this.drop(key, 'expired');
    const localId = this.responder.localIdOf(platform);
    const due: KeptPosition[] = [];
    if (sub.targetId === localId) {
      for (const kept of this.latest.values()) {
        if (kept.seq > sub.sentSeq && this.responder.sharesChannel(sub.platformId, kept.position.deviceId) && kept.position.deviceId !== localId) due.push(kept);
      }
    } else {
      // The platform subscribed under the ID it knows the channel by (its ID mapping); positions are kept by ours.
      const channelId = this.responder.channelOf(sub.platformId, sub.targetId);
      const kept = channelId === null ? undefined : this.latest.get(channelId);
      if (kept && kept.seq > sub.sentSeq && this.responder.mayQuery(sub.platformId, sub.targetId)) due.push(kept);
    }
    if (due.length === 0) return;
    due.sort((a, b) => a.seq - b.seq);
    const batch = due.slice(0, this.maxPerInterval);
    sub.sending = true;
    try {
      for (const kept of batch) {
        const upperId = this.responder.upperIdOf(sub.platformId, kept.position.deviceId);
        const body = encodeMobilePositionNotify(upperId, this.port.nextSn(), [{ ...kept.position, deviceId: upperId }], 'flat', platform.charset);
        await this.port.notify(sub.dialog, subscriptionState(sub.expiresAt, this.now()), body);
        sub.sentSeq = kept.seq;
      }
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      if (status === 481 || status === 404 || status === 403) {
        this.drop(key, `NOTIFY answered ${status}`);
        return;
      }
      // Unanswered for now: what was not delivered goes with the next interval.
      this.logger.warn({ platformId: sub.platformId, targetId: sub.targetId, err: (err as Error).message }, 'MobilePosition NOTIFY to the upper platform failed');
    } finally {
      sub.sending = false;
    }
  }

  private dropPlatform(platformId: string, why: string): void {
    for (const [key, sub] of this.subs) if (sub.platformId === platformId) this.drop(key, why);
  }

  private drop(key: string, why: string): void {
    const sub = this.subs.get(key);
    if (!sub) return;
    clearInterval(sub.timer);
    this.subs.delete(key);
    this.logger.info({ platformId: sub.platformId, targetId: sub.targetId, why }, 'mobile position subscription of the upper platform ended');
  }
}

function keyOf(platformId: string, targetId: string): string {
  return `${platformId}/${targetId}`;
}
