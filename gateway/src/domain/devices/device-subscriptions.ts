/**
 * Event subscriptions to devices and lower platforms (we are the subscriber; GB/T 28181 9.11 alarm, 9.12
 * catalog, 9.8 mobile-position subscriptions). One instance per event package. After a device's catalog has
 * been read, the gateway SUBSCRIBEs to the package, so that
 * - Catalog: a lower platform's added, removed, renamed and ON/OFF channels arrive as NOTIFYs (applied by
 *   CatalogService.applyNotify) instead of waiting for the next full catalog query;
 * - Alarm: alarms arrive as NOTIFYs (the alarm path of MESSAGEs) from platforms that only report to subscribers;
 * - MobilePosition: vehicle/body-worn/drone positions arrive every `Interval` seconds (positions.ts).
 *
 * Which devices: the package's policy (`sip.catalogSubscription`, `sip.alarmSubscription`,
 * `sip.mobilePositionSubscription`) — `platforms` (registered IDs of type 200, the lower platforms, whose
 * catalogs change while they stay registered), `all`, or `off`. A device that refuses (405, 489, 501, …) or does
 * not answer is not asked again until it registers again: most IPCs do not implement subscriptions, and asking
 * every refresh would be a storm across a city. The subscription is refreshed at 80 % of the granted expiry in
 * its dialog; a refresh answered 481 (the device forgot it, e.g. after a reboot) starts a new one. A device that
 * goes offline loses its subscription (nothing is sent: it is gone).
 */
import type { Logger } from 'pino';
import type { GatewayEvents } from '../events.js';
import type { GbEventPackage, SubscriptionDialog } from '../../protocol/gb28181/subscriptions.js';

export type SubscriptionPolicy = 'off' | 'platforms' | 'all';

/** How the subscriber reaches devices (the signalling engine behind a port). */
export interface SubscribePort {
  /** SUBSCRIBE (dialog null: a new one; else a refresh in it). Rejects with `{ status }` on an error answer. */
  subscribe(event: GbEventPackage, deviceId: string, expiresSec: number, dialog: SubscriptionDialog | null): Promise<{ dialog: SubscriptionDialog; expiresSec: number }>;
}

interface Subscription {
  dialog: SubscriptionDialog;
  timer: NodeJS.Timeout;
}

export type SubscriptionState = 'subscribed' | 'refused' | 'none';

export class DeviceSubscriptions {
  private readonly active = new Map<string, Subscription>();
  /** Devices that refused or did not answer, until they register again. */
  private readonly refused = new Set<string>();
  private readonly inFlight = new Set<string>();
  private closed = false;

  constructor(
    events: GatewayEvents,
    private readonly port: SubscribePort,
    private readonly options: { event: GbEventPackage; policy: SubscriptionPolicy; expiresSec: number },
    private readonly logger: Logger,
  ) {
    if (options.policy === 'off') return;
    events.on('catalog-progress', (p) => {
      if (p.state === 'complete' || p.state === 'partial') this.start(p.deviceId);
    });
    events.on('device-status', (change) => {
      if (change.status === 'offline') this.stop(change.deviceId);
      // A new registration is a new chance: the device may have been upgraded, or rebooted without its subscription.
      if (change.status === 'online' && change.reason === 'registered') {
        this.refused.delete(change.deviceId);
        this.stop(change.deviceId);
      }
    });
  }

  stateOf(deviceId: string): SubscriptionState {
    if (this.active.has(deviceId)) return 'subscribed';
    return this.refused.has(deviceId) ? 'refused' : 'none';
  }

  get subscribedCount(): number {
    return this.active.size;
  }

  close(): void {
    this.closed = true;
    for (const sub of this.active.values()) clearTimeout(sub.timer);
    this.active.clear();
  }

  private wanted(deviceId: string): boolean {
    if (this.options.policy === 'all') return true;
    // Type code (digits 11–13) 200: a central signalling server, i.e. a lower platform.
    return this.options.policy === 'platforms' && /^\d{10}200\d{7}$/.test(deviceId);
  }

  private start(deviceId: string): void {
    if (this.closed || !this.wanted(deviceId) || this.active.has(deviceId) || this.refused.has(deviceId) || this.inFlight.has(deviceId)) return;
    void this.send(deviceId, null);
  }

  private stop(deviceId: string): void {
    const sub = this.active.get(deviceId);
    if (!sub) return;
    clearTimeout(sub.timer);
    this.active.delete(deviceId);
  }

  private async send(deviceId: string, dialog: SubscriptionDialog | null): Promise<void> {
    this.inFlight.add(deviceId);
    try {
      const granted = await this.port.subscribe(this.options.event, deviceId, this.options.expiresSec, dialog);
      if (this.closed) return;
      this.stop(deviceId);
      const refreshMs = Math.max(10, granted.expiresSec) * 800;
      const timer = setTimeout(() => void this.refresh(deviceId), refreshMs);
      timer.unref?.();
      this.active.set(deviceId, { dialog: granted.dialog, timer });
      this.logger.info({ deviceId, event: this.options.event, expiresSec: granted.expiresSec, refresh: dialog !== null }, 'subscribed to events of the device');
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      if (dialog && status === 481) {
        // The device forgot our subscription (a reboot): subscribe afresh.
        this.active.delete(deviceId);
        this.inFlight.delete(deviceId);
        await this.send(deviceId, null);
        return;
      }
      this.stop(deviceId);
      this.refused.add(deviceId);
      this.logger.info({ deviceId, event: this.options.event, status, err: (err as Error).message }, 'subscription refused; not asked again until the device registers again');
    } finally {
      this.inFlight.delete(deviceId);
    }
  }

  private async refresh(deviceId: string): Promise<void> {
    const sub = this.active.get(deviceId);
    if (!sub || this.closed) return;
    await this.send(deviceId, sub.dialog);
  }
}
