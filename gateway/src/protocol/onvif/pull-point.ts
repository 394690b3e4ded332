/**
 * One camera's event feed over a PullPoint subscription: create it, pull in a loop (the camera holds each pull
 * up to `pullTimeoutSec`), renew before it expires, and re-create it when the camera forgot it (a reboot, a
 * Renew it rejects, an expired subscription: Home Assistant #37711, #91089) — with an exponential backoff and
 * jitter, so a camera that keeps failing costs one attempt per backoff period, never a retry storm. Wrong
 * credentials stop the feed (`auth-failed`): retrying them would lock the camera's account.
 */
import { EventEmitter } from 'node:events';
import type { OnvifEvent } from '../../codecs/onvif/messages.js';
import { OnvifError, type OnvifClient, type OnvifFailureReason } from './onvif-client.js';

export interface PullPointOptions {
  /** Subscription lifetime asked for. Default 60 s; renewed at half of it. */
  terminationSec?: number;
  /** How long the camera may hold a pull. Default 10 s. */
  pullTimeoutSec?: number;
  messageLimit?: number;
  /** Backoff after a failure: base, doubled per consecutive failure up to max, ±20 % jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** For tests: the random source of the jitter. */
  random?: () => number;
}

export interface PullPointEvents {
  event: [OnvifEvent];
  /** A subscription was (re-)created; `count` counts them over the session's life. */
  subscribed: [{ address: string; count: number }];
  /** The feed failed and will retry after `retryInMs` (or stopped, when `retryInMs` is null). */
  failed: [{ reason: OnvifFailureReason; message: string; retryInMs: number | null }];
}

export class PullPointSession extends EventEmitter<PullPointEvents> {
  private address: string | null = null;
  private renewAt = 0;
  private stopped = false;
  private failures = 0;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  subscriptions = 0;
  private readonly terminationSec: number;
  private readonly pullTimeoutSec: number;
  private readonly limit: number;
  private readonly base: number;
  private readonly max: number;
  private readonly random: () => number;

  constructor(
    private readonly client: OnvifClient,
    opts: PullPointOptions = {},
  ) {
    super();
    this.terminationSec = opts.terminationSec ?? 60;
    this.pullTimeoutSec = opts.pullTimeoutSec ?? 10;
    this.limit = opts.messageLimit ?? 100;
    this.base = opts.backoffBaseMs ?? 1_000;
    this.max = opts.backoffMaxMs ?? 60_000;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop pulling and unsubscribe (best effort; the Unsubscribe also ends a pull the camera is holding). */
  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const address = this.address;
    this.address = null;
    if (address) await this.client.unsubscribe(address).catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.address) await this.subscribe();
        else if (Date.now() >= this.renewAt) await this.renew();
        else await this.pull();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) return;
        const e = err instanceof OnvifError ? err : new OnvifError('bad-answer', (err as Error).message);
        // Whatever failed, the next round starts with a fresh subscription: the old one may be gone.
        this.address = null;
        if (e.reason === 'auth-failed') {
          this.emit('failed', { reason: e.reason, message: e.message, retryInMs: null });
          return;
        }
        this.failures++;
        const delay = Math.min(this.max, this.base * 2 ** (this.failures - 1)) * (0.8 + 0.4 * this.random());
        this.emit('failed', { reason: e.reason, message: e.message, retryInMs: Math.round(delay) });
        await this.sleep(delay);
      }
    }
  }

  private async subscribe(): Promise<void> {
    const sub = await this.client.createPullPoint(this.terminationSec);
    if (this.stopped) {
      // close() ran while this was in flight: it had no address to cancel, so cancel this one here.
      await this.client.unsubscribe(sub.address).catch(() => undefined);
      return;
    }
    this.address = sub.address;
    this.renewAt = Date.now() + (this.terminationSec * 1000) / 2;
    this.subscriptions++;
    this.emit('subscribed', { address: sub.address, count: this.subscriptions });
  }

  private async renew(): Promise<void> {
    try {
      await this.client.renew(this.address!, this.terminationSec);
      this.renewAt = Date.now() + (this.terminationSec * 1000) / 2;
    } catch (err) {
      // A camera that rejects Renew (some never support it) gets a new subscription at once, not a backoff.
      if (err instanceof OnvifError && err.reason === 'soap-fault') {
        // Cancel the old one first (best effort) so the camera does not hold two until the old one expires.
        const old = this.address!;
        this.address = null;
        await this.client.unsubscribe(old).catch(() => undefined);
        await this.subscribe();
        return;
      }
      throw err;
    }
  }

  private async pull(): Promise<void> {
    const { events } = await this.client.pullMessages(this.address!, this.pullTimeoutSec, this.limit);
    for (const e of events) this.emit('event', e);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
