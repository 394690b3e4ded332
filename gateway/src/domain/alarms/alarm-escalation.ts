/**
 * Escalation of device alarms that nobody acknowledges, on the gateway, whether or not an alarm desk is open:
 * an alarm still unacknowledged `escalateAfterMin` minutes after it arrived is raised once through the health
 * alert machinery (an alert of kind `alarm-unacknowledged`: in-app `health-alert` on the event socket, and the
 * webhooks of the alert rules that cover its channel, WeCom / DingTalk included); acknowledging the alarm
 * resolves it.
 *
 * Time comes in from outside: `tick(at)` is one pass at `at`; `start()` only puts it on a timer. Tests call
 * `tick` with the times they want, so nothing races with a wall-clock timer.
 *
 * Only alarms of the last `LOOKBACK_MS` are looked at: on a first start over a store with a year of
 * unacknowledged history, that history is not news and must not become thousands of robot messages.
 */
import type { Logger } from 'pino';
import type { AlarmEvent, Page } from '../model.js';
import type { AlarmQuery } from '../store.js';
import type { GatewayEvents } from '../events.js';

export const LOOKBACK_MS = 24 * 3600_000;
/** Unacknowledged alarms read per pass at most (a storm is raised over the next passes, not all at once). */
export const MAX_PER_PASS = 2_000;
const PAGE = 500;

/** What the escalation needs: the alarm store and the health service's alert engine. */
export interface AlarmEscalationPort {
  listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>>;
  /** Raise these (once each; already raised ones are skipped there); resolves to how many were new. */
  escalate(alarms: readonly AlarmEvent[], afterMin: number, at: number): Promise<number>;
  alreadyEscalated(alarmId: string): boolean;
  resolve(alarmId: string, at: number): Promise<void>;
}

export interface AlarmEscalationOptions {
  /** alarms.escalateAfterMin; 0 = off. */
  escalateAfterMin: number;
  now?: () => number;
}

export class AlarmEscalation {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private readonly onAcknowledged = (alarm: AlarmEvent): void => {
    if (alarm.id === undefined) return;
    this.port.resolve(alarm.id, this.now()).catch((err: unknown) => this.logger.error({ err, alarmId: alarm.id }, 'alarm escalation: resolving failed'));
  };

  constructor(
    private readonly port: AlarmEscalationPort,
    private readonly events: GatewayEvents,
    private readonly logger: Logger,
    private readonly options: AlarmEscalationOptions,
  ) {
    this.now = options.now ?? Date.now;
    // Listening even when escalation is off: alarms escalated before it was turned off still resolve.
    events.on('alarm-acknowledged', this.onAcknowledged);
  }

  get enabled(): boolean {
    return this.options.escalateAfterMin > 0;
  }

  /** Put `tick` on a timer (the composition root; tests call `tick` themselves). */
  start(intervalMs = 30_000): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.logger.error({ err }, 'alarm escalation pass failed'));
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.events.off('alarm-acknowledged', this.onAcknowledged);
  }

  /** One pass at `at`: raises the alarms that crossed the line; resolves to how many were raised. */
  tick(at = this.now()): Promise<number> {
    // A slow store must not let passes pile up (each would raise the same alarms' neighbours again).
    if (this.running) return this.running;
    const run = this.pass(at).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async pass(at: number): Promise<number> {
    const afterMin = this.options.escalateAfterMin;
    if (afterMin <= 0) return 0;
    const cutoff = at - afterMin * 60_000;
    const due: AlarmEvent[] = [];
    for (let offset = 0; due.length < MAX_PER_PASS; offset += PAGE) {
      const page = await this.port.listAlarms({ since: at - LOOKBACK_MS, acknowledged: false, offset, limit: PAGE });
      for (const alarm of page.items) {
        // Newest first: the young ones are not due yet.
        if (alarm.receivedAt > cutoff || alarm.acknowledgedAt !== null || alarm.id === undefined) continue;
        if (!this.port.alreadyEscalated(alarm.id)) due.push(alarm);
      }
      if (page.items.length < PAGE) break;
    }
    // Called with nothing due too: the pass also sends the webhooks' recovery notices of acknowledged alarms.
    const raised = await this.port.escalate(due.slice(0, MAX_PER_PASS), afterMin, at);
    if (raised > 0) this.logger.info({ raised, afterMin }, 'unacknowledged alarms escalated');
    return raised;
  }
}
