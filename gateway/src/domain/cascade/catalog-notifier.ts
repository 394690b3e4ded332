/**
 * Catalog and alarm subscriptions from upper platforms (cascade, we are the notifier).
 *
 * An upper platform that SUBSCRIBEs to our Catalog is told of every change to what it may see, as NOTIFYs in
 * the subscription's dialog with one `Event` per item: `ADD` (a node newly shared or newly reported), `DEL`
 * (gone, or no longer shared), `ON` / `OFF` (a channel's effective status), `UPDATE` (name, place in the tree,
 * civil code or group changed).
 *
 * Changes are found by comparison, not by tracking every path that can change the catalog (a device's catalog
 * answer, a NOTIFY from below, a device going offline, a share edited through the API, a region renamed): each
 * subscription keeps what the platform was last told (a fingerprint per item), and a change of the catalog's
 * shape or of a channel's status schedules one pass that recomputes the shared tree, sends the differences and
 * keeps the new state. The pass runs at most every `batchMs` (a device going offline with 500 channels is one
 * pass, a few NOTIFYs), so the upper platform hears of a change within `batchMs` plus the NOTIFY round trips.
 *
 * An upper platform that SUBSCRIBEs to Alarm gets our alarm Notify in that dialog; the others get it as a
 * MESSAGE (cascade-responder.ts).
 */
import type { Logger } from 'pino';
import { encodeCatalogNotify, type CatalogEvent, type CatalogItem } from '../../codecs/manscdp/messages.js';
import type { SubscriptionDialog } from '../../protocol/gb28181/subscriptions.js';
import { subscriptionState } from '../../protocol/gb28181/subscriptions.js';
import type { CascadeResponder } from './cascade-responder.js';
import type { PlatformService } from './platform-service.js';
import type { TreeIndex } from '../catalog/tree-index.js';

/** How the notifier reaches the upper platform (the signalling engine behind a port). */
export interface NotifyPort {
  /** A NOTIFY in the dialog; rejects with `{ status }` when the platform answers an error (481: it forgot us). */
  notify(dialog: SubscriptionDialog, subscriptionState: string, body: Buffer): Promise<void>;
  nextSn(): number;
}

export interface UpperSubscription {
  platformId: string;
  event: 'Catalog' | 'Alarm';
  expires: number;
  targetId: string;
  dialog: SubscriptionDialog;
}

interface CatalogSubscription {
  platformId: string;
  dialog: SubscriptionDialog;
  expiresAt: number;
  /** Item ID → fingerprint of what the platform was last told. */
  told: Map<string, string>;
  /** Items told, for a DEL (the platform needs at least the ID and parent). */
  items: Map<string, CatalogItem>;
}

export interface CatalogNotifierOptions {
  /** A pass runs at most this often (ms). Default 300. */
  batchMs?: number;
  /** Items per NOTIFY (each NOTIFY one UDP datagram in practice). Default 8, as WVP's largest catalogGroup. */
  itemsPerNotify?: number;
}

export class CatalogNotifier {
  private readonly catalogSubs = new Map<string, CatalogSubscription>();
  private readonly alarmSubs = new Map<string, { dialog: SubscriptionDialog; expiresAt: number }>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private readonly batchMs: number;
  private readonly itemsPerNotify: number;

  constructor(
    private readonly platforms: PlatformService,
    private readonly responder: CascadeResponder,
    index: TreeIndex,
    private readonly port: NotifyPort,
    private readonly logger: Logger,
    options: CatalogNotifierOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.batchMs = options.batchMs ?? 300;
    this.itemsPerNotify = options.itemsPerNotify ?? 8;
    index.addListener({ shapeChanged: () => this.schedule(), channelOnlineChanged: () => this.schedule() });
    platforms.onChange((platformId) => {
      // Deleted or disabled: its subscriptions end with it. Otherwise its share may have changed.
      const platform = platforms.record(platformId);
      if (!platform || !platform.enabled) this.drop(platformId, 'platform removed');
      else this.schedule();
    });
  }

  /** Subscriptions in force (for /metrics and the platform view). */
  get catalogSubscriptions(): number {
    return this.catalogSubs.size;
  }

  /** Events a platform subscribed to (for its view in /api/platforms). */
  eventsOf(platformId: string): string[] {
    const events: string[] = [];
    if (this.catalogSubs.has(platformId)) events.push('Catalog');
    if (this.alarmDialogOf(platformId)) events.push('Alarm');
    return events;
  }

  /** Whether the platform subscribed to our alarms (they then go as NOTIFY in its dialog). */
  alarmDialogOf(platformId: string): { dialog: SubscriptionDialog; state: string } | null {
    const sub = this.alarmSubs.get(platformId);
    if (!sub) return null;
    if (sub.expiresAt <= this.now()) {
      this.alarmSubs.delete(platformId);
      return null;
    }
    return { dialog: sub.dialog, state: subscriptionState(sub.expiresAt, this.now()) };
  }

  /** A SUBSCRIBE from an upper platform, already answered 200. */
  subscribed(sub: UpperSubscription): void {
    const platform = this.platforms.record(sub.platformId);
    if (!platform) return;
    const expiresAt = this.now() + sub.expires * 1000;
    if (sub.event === 'Alarm') {
      if (sub.expires === 0) this.alarmSubs.delete(sub.platformId);
      else this.alarmSubs.set(sub.platformId, { dialog: this.keepCSeq(this.alarmSubs.get(sub.platformId)?.dialog, sub.dialog), expiresAt });
      this.logger.info({ platformId: sub.platformId, expires: sub.expires }, 'upper platform subscribed to alarms');
      return;
    }
    if (sub.expires === 0) {
      this.catalogSubs.delete(sub.platformId);
      this.logger.info({ platformId: sub.platformId }, 'upper platform ended its catalog subscription');
      return;
    }
    const existing = this.catalogSubs.get(sub.platformId);
    if (existing && existing.dialog.callId === sub.dialog.callId) {
      existing.expiresAt = expiresAt; // a refresh
      return;
    }
    // A new subscription: its baseline is the catalog as it stands (the platform queries it, or has it).
    const items = this.responder.catalogTree(platform);
    this.catalogSubs.set(sub.platformId, {
      platformId: sub.platformId,
      dialog: sub.dialog,
      expiresAt,
      told: new Map(items.map((item) => [item.deviceId, fingerprint(item)])),
      items: new Map(items.map((item) => [item.deviceId, item])),
    });
    this.logger.info({ platformId: sub.platformId, expires: sub.expires, items: items.length }, 'upper platform subscribed to the catalog');
  }

  /** Pending passes finish; no new ones start. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Run a pass now (tests and benchmarks; normally the listeners schedule it). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.pass();
  }

  // ------------------------------------------------------------------ internals

  private keepCSeq(previous: SubscriptionDialog | undefined, next: SubscriptionDialog): SubscriptionDialog {
    return previous && previous.callId === next.callId ? previous : next;
  }

  private schedule(): void {
    if (this.closed || this.catalogSubs.size === 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.pass();
    }, this.batchMs);
    this.timer.unref?.();
  }

  private async pass(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        for (const sub of [...this.catalogSubs.values()]) {
          if (this.closed) return;
          await this.notifyChanges(sub);
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async notifyChanges(sub: CatalogSubscription): Promise<void> {
    const platform = this.platforms.record(sub.platformId);
    if (!platform || !platform.enabled) {
      this.drop(sub.platformId, 'platform removed');
      return;
    }
    if (sub.expiresAt <= this.now()) {
      this.drop(sub.platformId, 'expired');
      return;
    }
    const changes = this.diff(sub, this.responder.catalogTree(platform));
    if (changes.length === 0) return;
    const fromId = this.responder.localIdOf(platform);
    try {
      for (let i = 0; i < changes.length; i += this.itemsPerNotify) {
        const part = changes.slice(i, i + this.itemsPerNotify);
        const body = encodeCatalogNotify(fromId, this.port.nextSn(), part, platform.charset);
        await this.port.notify(sub.dialog, subscriptionState(sub.expiresAt, this.now()), body);
      }
      this.logger.info({ platformId: sub.platformId, changes: changes.length, events: countEvents(changes) }, 'catalog changes notified to the upper platform');
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      if (status === 481 || status === 404 || status === 403) {
        // The platform no longer knows the subscription (it restarted): it subscribes again when it wants to.
        this.drop(sub.platformId, `NOTIFY answered ${status}`);
        return;
      }
      // Unanswered or refused for now: what was not delivered is sent again with the next pass's differences.
      this.logger.warn({ platformId: sub.platformId, err: (err as Error).message }, 'catalog NOTIFY to the upper platform failed');
      this.forgetUndelivered(sub, changes);
      setTimeout(() => this.schedule(), 5_000).unref?.();
    }
  }

  /** What changed since the platform was last told; updates the record to the new state. */
  private diff(sub: CatalogSubscription, items: CatalogItem[]): CatalogItem[] {
    const changes: CatalogItem[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(item.deviceId);
      const print = fingerprint(item);
      const before = sub.told.get(item.deviceId);
      if (before === print) continue;
      let event: CatalogEvent;
      if (before === undefined) event = 'ADD';
      else if (before.slice(2) === print.slice(2)) event = item.status === 'ON' ? 'ON' : 'OFF';
      else event = 'UPDATE';
      changes.push({ ...item, event });
      sub.told.set(item.deviceId, print);
      sub.items.set(item.deviceId, item);
    }
    for (const [id, item] of sub.items) {
      if (seen.has(id)) continue;
      changes.push({ ...item, event: 'DEL' });
      sub.told.delete(id);
      sub.items.delete(id);
    }
    return changes;
  }

  /** Changes that did not reach the platform are forgotten as told, so the next pass finds them again. */
  private forgetUndelivered(sub: CatalogSubscription, changes: CatalogItem[]): void {
    for (const change of changes) {
      if (change.event === 'DEL') {
        sub.items.set(change.deviceId, { ...change, event: null });
        sub.told.set(change.deviceId, 'undelivered');
      } else if (change.event === 'ADD') {
        sub.items.delete(change.deviceId);
        sub.told.delete(change.deviceId);
      } else {
        sub.told.set(change.deviceId, 'undelivered');
      }
    }
  }

  private drop(platformId: string, why: string): void {
    if (this.catalogSubs.delete(platformId)) this.logger.info({ platformId, why }, 'catalog subscription of the upper platform ended');
    this.alarmSubs.delete(platformId);
  }
}

/** Status first (two characters), then what an UPDATE is about: an ON/OFF is a change of the first part only. */
function fingerprint(item: CatalogItem): string {
  return `${item.status === 'ON' ? 'ON' : item.status === 'OFF' ? 'OF' : '--'}${item.name}|${item.parentIds.join('/')}|${item.civilCode}|${item.businessGroupId}`;
}

function countEvents(changes: CatalogItem[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of changes) counts[c.event ?? '?'] = (counts[c.event ?? '?'] ?? 0) + 1;
  return counts;
}
