/**
 * The alert engine: turns channel health into alerts, per rule and channel, and delivers notifications in-app
 * (an event the WebSocket relays as `health-alert`) and by webhook.
 *
 * Rules (see alert-rules.ts for their fields):
 * - offline: fires once a channel has been offline (device offline or channel offline) for ≥ offlineMinutes
 *   — a blip shorter than that never fires — and clears when it is back online;
 * - stream-failure: fires after failureCount consecutive failed stream opens, clears after
 *   clearAfterSuccesses consecutive successful ones (plays or probes);
 * - while firing, a reminder every reminderMinutes (when set); a recovery notice when it clears
 *   (notifyRecovery);
 * - scope: all channels, those under a region (civil-code prefix) or under a group node;
 * - channels in maintenance are muted: they do not fire, and an alert that was firing is cleared quietly.
 *
 * Time comes from the caller (`evaluate(world, at)`), never from a clock of its own: the service's timer
 * passes now, tests pass any time they like. Alerts are stored through the records port (open ones are also
 * kept in memory: one per rule and channel).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayEvents } from '../events.js';
import type { RecordCollection, RecordStore } from '../records.js';
import type { AlarmEvent, Page } from '../model.js';
import type { WebhookSender } from './webhook.js';
import { webhookBody } from './webhook-templates.js';
import type {
  Alert,
  AlertClearReason,
  AlertNotificationEvent,
  AlertQuery,
  AlertRule,
  AlertScope,
  HealthStatus,
  ReasonCode,
  WebhookTestResult,
} from './types.js';

export const ALERT_COLLECTION = 'health_alerts';
/** Cleared alerts older than this are deleted. */
export const ALERT_RETENTION_MS = 30 * 24 * 3600_000;
/** The rule id of the alerts the gateway raises for unacknowledged alarms (no stored rule has it). */
export const ALARM_ESCALATION_RULE_ID = 'alarm-escalation';
/** Notifications per webhook POST at most: an NVR's 64 channels going down is one request, a region's 5,000 are 50. */
const NOTIFICATIONS_PER_POST = 100;

/** What the engine needs to know about a channel. */
export interface AlertSubject {
  channelId: string;
  channelName: string;
  deviceId: string;
  deviceName: string;
  civilCode: string;
  /** Looked up when read (a getter in the service): only alerts being raised need it. */
  readonly place: { id: string; name: string } | null;
  status: HealthStatus;
  /** Status without maintenance. */
  underlying: HealthStatus;
  reason: string;
  reasonCode: ReasonCode;
  /** When the current status began. */
  since: number | null;
  /** When the channel went offline (device or channel), for offline rules; null when online. */
  offlineSince: number | null;
  maintenance: boolean;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

/** The engine's view of the network for one pass. */
export interface AlertWorld {
  /** Channels that are offline now (device or channel), maintenance included. */
  offline(): Iterable<AlertSubject>;
  /** Channels with at least `minFailures` consecutive failed opens. */
  failing(minFailures: number): Iterable<AlertSubject>;
  /** The current state of one channel, or null when it no longer exists. */
  subject(channelId: string): AlertSubject | null;
  inScope(scope: AlertScope, subject: AlertSubject): boolean;
}

export interface WebhookPayload {
  source: 'sharp-eyes';
  sentAt: number;
  test: boolean;
  rule: { id: string; name: string; kind: AlertRule['kind'] };
  notifications: Array<{ event: AlertNotificationEvent; alert: Alert }>;
}

export interface AlertObserver {
  notification(event: AlertNotificationEvent): void;
}

/** An alarm left unacknowledged, with the channel (or device) it is about. */
export interface AlarmEscalationSubject {
  alarm: AlarmEvent;
  /** alarms.escalateAfterMin when it was raised (the reason says how long it waited). */
  afterMin: number;
  channelId: string;
  channelName: string;
  deviceName: string;
  civilCode: string;
  place: { id: string; name: string } | null;
}

export interface PassResult {
  fired: number;
  cleared: number;
  reminders: number;
}

const isOffline = (status: HealthStatus): boolean => status === 'device-offline' || status === 'channel-offline';

export class AlertEngine {
  private readonly collection: RecordCollection<Alert>;
  /** Open alerts by `${ruleId}|${channelId}` (alarm escalations: `alarm-escalation|${alarmId}`). */
  private readonly open = new Map<string, Alert>();
  /** Escalations resolved by an acknowledgement whose webhook notice waits for the next escalation pass. */
  private readonly acknowledgedSincePass: Alert[] = [];

  constructor(
    records: RecordStore,
    private readonly events: GatewayEvents,
    private readonly webhooks: WebhookSender,
    private readonly logger: Logger,
    private readonly observer?: AlertObserver,
    /** Time zone of the times in robot (WeCom / DingTalk) messages. */
    private readonly timeZone = 'Asia/Shanghai',
  ) {
    this.collection = records.collection<Alert>(ALERT_COLLECTION, ['state', 'ruleId', 'channelId', 'firedAt', 'clearedAt']);
  }

  async load(): Promise<void> {
    const pageSize = 1000;
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.collection.find({ where: { state: 'firing' }, sort: { field: 'firedAt', order: 'asc' }, offset, limit: pageSize });
      for (const alert of page.items) this.open.set(openKey(alert), alert);
      if (page.items.length < pageSize) break;
    }
  }

  /** Channels with an open alert (the world must be able to answer `subject` for these). */
  openChannelIds(): Set<string> {
    const ids = new Set<string>();
    // Alarm escalations are not about a channel's status: the evaluation pass need not look them up.
    for (const alert of this.open.values()) if (alert.alarmId === undefined) ids.add(alert.channelId);
    return ids;
  }

  get openCount(): number {
    return this.open.size;
  }

  async evaluate(rules: readonly AlertRule[], world: AlertWorld, at: number): Promise<PassResult> {
    const changed: Alert[] = [];
    const notifications = new Map<string, Array<{ event: AlertNotificationEvent; alert: Alert }>>();
    const notify = (rule: AlertRule, event: AlertNotificationEvent, alert: Alert): void => {
      let list = notifications.get(rule.id);
      if (!list) {
        list = [];
        notifications.set(rule.id, list);
      }
      list.push({ event, alert: { ...alert } });
    };
    const result: PassResult = { fired: 0, cleared: 0, reminders: 0 };

    for (const rule of rules) {
      if (!rule.enabled) continue;
      // Clear, or remind about, what is open.
      for (const alert of this.openOf(rule.id)) {
        const subject = world.subject(alert.channelId);
        const clearReason = this.clearReason(rule, subject);
        if (clearReason) {
          this.close(alert, clearReason, at);
          changed.push(alert);
          result.cleared++;
          if (clearReason === 'recovered' && rule.notifyRecovery) notify(rule, 'recovered', alert);
          else this.publish('cleared', alert);
          continue;
        }
        if (rule.reminderMinutes !== null && at - alert.lastNotifiedAt >= rule.reminderMinutes * 60_000) {
          alert.lastNotifiedAt = at;
          alert.reminders++;
          if (subject) {
            alert.reason = this.describe(rule, subject);
            alert.reasonCode = this.describeCode(rule, subject);
          }
          changed.push(alert);
          result.reminders++;
          notify(rule, 'reminder', alert);
        }
      }
      // Fire what newly qualifies.
      const candidates = rule.kind === 'offline' ? world.offline() : world.failing(rule.failureCount ?? 1);
      for (const subject of candidates) {
        if (subject.maintenance || this.open.has(key(rule.id, subject.channelId))) continue;
        if (!this.qualifies(rule, subject, at) || !world.inScope(rule.scope, subject)) continue;
        const alert: Alert = {
          id: randomUUID(),
          ruleId: rule.id,
          ruleName: rule.name,
          kind: rule.kind,
          channelId: subject.channelId,
          channelName: subject.channelName,
          deviceId: subject.deviceId,
          deviceName: subject.deviceName,
          civilCode: subject.civilCode,
          place: subject.place,
          state: 'firing',
          reason: this.describe(rule, subject),
          reasonCode: this.describeCode(rule, subject),
          firedAt: at,
          clearedAt: null,
          clearReason: null,
          lastNotifiedAt: at,
          reminders: 0,
        };
        this.open.set(key(rule.id, subject.channelId), alert);
        changed.push(alert);
        result.fired++;
        notify(rule, 'fired', alert);
      }
    }

    if (changed.length > 0) await this.collection.putMany(changed.map((a) => ({ ...a })));
    for (const rule of rules) {
      const list = notifications.get(rule.id);
      if (list) this.deliver(rule, list, at);
    }
    return result;
  }

  /**
   * Alarms nobody acknowledged in time: each raised once as an open alert (kept in the store, so a restart does
   * not raise it again), shown in-app as a `health-alert`, and POSTed to the webhooks of the rules `targetsOf`
   * names (each in its format: JSON, WeCom, DingTalk). One pass, one POST per rule: a burst of alarms escalating
   * together must not become a burst of robot messages (DingTalk takes 20 a minute). The recoveries queued by
   * `alarmAcknowledged` since the last pass go out with it. Returns the alerts newly raised.
   */
  async escalateAlarms(subjects: readonly AlarmEscalationSubject[], targetsOf: (alert: Alert) => readonly AlertRule[], at: number): Promise<Alert[]> {
    const raised: Alert[] = [];
    for (const subject of subjects) {
      const { alarm } = subject;
      // Alarms carry the id the gateway gave them on arrival; one without (never stored) cannot be acknowledged.
      if (alarm.id === undefined || this.open.has(key(ALARM_ESCALATION_RULE_ID, alarm.id))) continue;
      const description = alarm.description.trim();
      const alert: Alert = {
        id: randomUUID(),
        ruleId: ALARM_ESCALATION_RULE_ID,
        ruleName: ALARM_ESCALATION_RULE_ID,
        kind: 'alarm-unacknowledged',
        alarmId: alarm.id,
        channelId: subject.channelId,
        channelName: subject.channelName,
        deviceId: alarm.deviceId,
        deviceName: subject.deviceName,
        civilCode: subject.civilCode,
        place: subject.place,
        state: 'firing',
        reason: `alarm unacknowledged for ${subject.afterMin} min${description ? `: ${description}` : ''}`,
        reasonCode: description
          ? { code: 'alarm-unacknowledged', params: { minutes: subject.afterMin, description } }
          : { code: 'alarm-unacknowledged-bare', params: { minutes: subject.afterMin } },
        firedAt: at,
        clearedAt: null,
        clearReason: null,
        lastNotifiedAt: at,
        reminders: 0,
      };
      this.open.set(key(ALARM_ESCALATION_RULE_ID, alarm.id), alert);
      raised.push(alert);
    }
    if (raised.length > 0) await this.collection.putMany(raised.map((a) => ({ ...a })));
    const fired = raised.map((alert) => ({ event: 'fired' as const, alert: { ...alert } }));
    this.inApp(fired);
    const recovered = this.acknowledgedSincePass.splice(0).map((alert) => ({ event: 'recovered' as const, alert }));
    const perRule = new Map<AlertRule, Array<{ event: AlertNotificationEvent; alert: Alert }>>();
    for (const n of [...fired, ...recovered]) {
      for (const rule of targetsOf(n.alert)) {
        if (n.event === 'recovered' && !rule.notifyRecovery) continue;
        let list = perRule.get(rule);
        if (!list) perRule.set(rule, (list = []));
        list.push(n);
      }
    }
    for (const [rule, list] of perRule) this.post(rule, list, at);
    return raised;
  }

  /**
   * The alarm was acknowledged: its escalation (if any) is resolved at once in-app; the webhooks hear of it with
   * the next escalation pass (a bulk acknowledge of 500 alarms is then one message per rule, not 500).
   */
  async alarmAcknowledged(alarmId: string, at: number): Promise<Alert | null> {
    const alert = this.open.get(key(ALARM_ESCALATION_RULE_ID, alarmId));
    if (!alert) return null;
    this.close(alert, 'acknowledged', at);
    await this.collection.put({ ...alert });
    this.inApp([{ event: 'recovered', alert: { ...alert } }]);
    this.acknowledgedSincePass.push({ ...alert });
    return alert;
  }

  /** When the alarm's open escalation (raised, not yet acknowledged) was raised; null when none is open. */
  alarmEscalatedAt(alarmId: string): number | null {
    return this.open.get(key(ALARM_ESCALATION_RULE_ID, alarmId))?.firedAt ?? null;
  }

  /** A rule changed or was deleted: its open alerts are cleared (quietly; the rule is not what it was). */
  async ruleRemoved(ruleId: string, reason: AlertClearReason, at: number): Promise<number> {
    const closed: Alert[] = [];
    for (const alert of this.openOf(ruleId)) {
      this.close(alert, reason, at);
      closed.push(alert);
      this.publish('cleared', alert);
    }
    if (closed.length > 0) await this.collection.putMany(closed);
    return closed.length;
  }

  async list(query: AlertQuery): Promise<Page<Alert>> {
    const where: Record<string, string> = {};
    if (query.state) where.state = query.state;
    if (query.ruleId) where.ruleId = query.ruleId;
    if (query.channelId) where.channelId = query.channelId;
    return this.collection.find({ where, sort: { field: 'firedAt', order: 'desc' }, offset: query.offset, limit: query.limit });
  }

  /** The test button: a sample notification to the rule's webhook, delivered now. */
  async test(rule: AlertRule, at: number): Promise<WebhookTestResult> {
    if (!rule.webhookUrl) return { delivered: false, error: 'the rule has no webhookUrl (in-app delivery only)' };
    const sample: Alert = {
      id: `test-${randomUUID()}`,
      ruleId: rule.id,
      ruleName: rule.name,
      kind: rule.kind,
      channelId: '00000000000000000000',
      channelName: 'test',
      deviceId: '00000000000000000000',
      deviceName: '测试设备 test device',
      civilCode: '',
      place: null,
      state: 'firing',
      reason: 'test notification from the alert rule editor',
      reasonCode: { code: 'alert-test' },
      firedAt: at,
      clearedAt: null,
      clearReason: null,
      lastNotifiedAt: at,
      reminders: 0,
    };
    const notifications = [{ event: 'test' as const, alert: sample }];
    const payload: WebhookPayload = { source: 'sharp-eyes', sentAt: at, test: true, rule: { id: rule.id, name: rule.name, kind: rule.kind }, notifications };
    const format = rule.webhookFormat ?? 'json';
    // One quick attempt: the person pressing the button waits for the answer.
    return this.webhooks.deliver(rule.webhookUrl, webhookBody(format, rule, payload, notifications, this.timeZone), 0, format !== 'json');
  }

  async prune(now: number): Promise<number> {
    return this.collection.deleteWhere({ state: 'cleared', clearedAt: { lt: now - ALERT_RETENTION_MS } });
  }

  // ------------------------------------------------------------------------------------------ internals

  private *openOf(ruleId: string): IterableIterator<Alert> {
    for (const alert of [...this.open.values()]) if (alert.ruleId === ruleId) yield alert;
  }

  private qualifies(rule: AlertRule, subject: AlertSubject, at: number): boolean {
    if (rule.kind === 'offline') {
      return isOffline(subject.underlying) && subject.offlineSince !== null && at - subject.offlineSince >= (rule.offlineMinutes ?? 0) * 60_000;
    }
    return subject.consecutiveFailures >= (rule.failureCount ?? 1);
  }

  private clearReason(rule: AlertRule, subject: AlertSubject | null): AlertClearReason | null {
    if (!subject) return 'channel-removed';
    if (subject.maintenance) return 'maintenance';
    if (rule.kind === 'offline') return isOffline(subject.underlying) ? null : 'recovered';
    return subject.consecutiveSuccesses >= (rule.clearAfterSuccesses ?? 1) ? 'recovered' : null;
  }

  private describe(rule: AlertRule, subject: AlertSubject): string {
    if (rule.kind === 'offline') return subject.reason;
    return `${subject.consecutiveFailures} consecutive failed stream opens: ${subject.reason}`;
  }

  private describeCode(rule: AlertRule, subject: AlertSubject): ReasonCode {
    if (rule.kind === 'offline') return subject.reasonCode;
    return { code: 'alert-stream-failures', params: { count: subject.consecutiveFailures, cause: subject.reasonCode } };
  }

  private close(alert: Alert, reason: AlertClearReason, at: number): void {
    alert.state = 'cleared';
    alert.clearedAt = at;
    alert.clearReason = reason;
    this.open.delete(openKey(alert));
  }

  private publish(event: AlertNotificationEvent, alert: Alert): void {
    this.observer?.notification(event);
    this.events.emit('health-alert', { event, alert: { ...alert } });
  }

  private deliver(rule: AlertRule, list: Array<{ event: AlertNotificationEvent; alert: Alert }>, at: number): void {
    this.inApp(list);
    this.post(rule, list, at);
  }

  private inApp(list: ReadonlyArray<{ event: AlertNotificationEvent; alert: Alert }>): void {
    for (const n of list) {
      this.observer?.notification(n.event);
      this.events.emit('health-alert', n);
    }
  }

  private post(rule: AlertRule, list: Array<{ event: AlertNotificationEvent; alert: Alert }>, at: number): void {
    if (!rule.webhookUrl) return;
    for (let i = 0; i < list.length; i += NOTIFICATIONS_PER_POST) {
      const notifications = list.slice(i, i + NOTIFICATIONS_PER_POST);
      const payload: WebhookPayload = {
        source: 'sharp-eyes',
        sentAt: at,
        test: false,
        rule: { id: rule.id, name: rule.name, kind: rule.kind },
        notifications,
      };
      const format = rule.webhookFormat ?? 'json';
      this.webhooks.send(rule.webhookUrl, webhookBody(format, rule, payload, notifications, this.timeZone), format !== 'json');
    }
    this.logger.info({ ruleId: rule.id, notifications: list.length }, 'alert notifications sent');
  }
}

function key(ruleId: string, channelId: string): string {
  return `${ruleId}|${channelId}`;
}

/** Rule alerts are one per rule and channel; alarm escalations one per alarm (an NVR channel may raise many). */
function openKey(alert: Alert): string {
  return alert.alarmId !== undefined ? key(ALARM_ESCALATION_RULE_ID, alert.alarmId) : key(alert.ruleId, alert.channelId);
}
