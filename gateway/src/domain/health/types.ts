/**
 * Shapes of the maintenance health console (issue #4, "Maintenance"): channel status with a reason, the
 * per-camera detail, aggregates against yesterday, alert rules and alerts. Plain data, shared by the health
 * services and the API; the JSON on the wire is exactly these (see /api/health and /api/alert-rules).
 */
import type { AlarmEvent, Page, StatusEvent } from '../model.js';
import type { DailyReport, DailyReportSummary } from './daily-report.js';
import type { OvernightSummary } from './overnight.js';

/**
 * One status per channel, most severe first when several apply:
 * maintenance (set by a maintainer, alerts muted) › device-offline (a channel is offline whenever its device
 * is) › channel-offline (device online, the device reports the channel OFF) › stream-failing (the latest
 * stream opens failed, within `health.streamFailureWindowMin`) › degraded (active stream below expected fps,
 * with packet loss, or repeated stalls in the last hour) › healthy.
 */
export type HealthStatus = 'device-offline' | 'channel-offline' | 'stream-failing' | 'degraded' | 'maintenance' | 'healthy';

export const HEALTH_STATUSES: readonly HealthStatus[] = ['device-offline', 'channel-offline', 'stream-failing', 'degraded', 'maintenance', 'healthy'];

/**
 * A reason as a code with parameters, rendered by the UIs from their catalogues (key `reason.<code>`); the
 * English `reason` / `message` strings next to it stay for the API, webhooks and logs. A parameter may itself be
 * a reason (rendered first, e.g. the step of a failed stream), or a list of them (rendered and joined).
 */
export interface ReasonCode {
  code: string;
  params?: Record<string, ReasonParam>;
}
export type ReasonParam = string | number | ReasonCode | ReasonCode[];

export interface ChannelHealth {
  channelId: string;
  name: string;
  deviceId: string;
  deviceName: string;
  civilCode: string;
  status: HealthStatus;
  /** Human-readable why (English, for the API and logs; UIs render `reasonCode`). */
  reason: string;
  reasonCode: ReasonCode;
  /**
   * When the current status began (epoch ms), null when unknown. For a device offline: its last sign of life
   * (`lastSeenAt`), not the moment the gateway noticed (`detectedAt`, a keepalive timeout later).
   */
  since: number | null;
  durationSec: number | null;
  lastKeepaliveAt: number | null;
  /** Device offline: the last sign of life (keepalive, registration, or the unregister itself); else null. */
  lastSeenAt: number | null;
  /** Device offline: when the gateway marked it offline; else null. */
  detectedAt: number | null;
  /** Latest error seen for the channel: stream failure "step: message", device offline reason, auth failure. */
  lastError: string | null;
  lastErrorCode: ReasonCode | null;
  /** Offline episodes (device or channel) that began in the last 24 h. */
  episodes24h: number;
  /** The region node the channel sits in (township or county); in list pages, null when unplaced. */
  place?: { id: string; name: string } | null;
  /**
   * Only with `rollup=device`: this row is a whole device offline (an NVR), one problem with its channels inside
   * (the row's other fields are its first channel's; `name` is the device's).
   */
  channels?: Array<{ channelId: string; name: string }>;
}

export interface RateFigure {
  online: number;
  total: number;
  rate: number;
}

/**
 * Intact rate (完好率): intact / total, where total = video channels not in maintenance and
 * intact = those of them whose device is online, that the device reports online, and whose stream is not
 * failing (degraded still counts as intact: the picture is there, at lower quality).
 */
export interface IntactFigure {
  intact: number;
  total: number;
  rate: number;
}

export interface HealthFigures {
  devices: RateFigure;
  channels: RateFigure;
  intact: IntactFigure;
}

export type HealthGroupBy = 'region' | 'group';
/** 'unassigned': the region tree's "unplaced" or the group tree's "ungrouped" node. */
export type HealthNodeKind = 'region' | 'business-group' | 'virtual-org' | 'unassigned';

/** A node of the region or group tree (GET /api/tree?view=region|group) with its figures. */
export interface HealthSummaryNode {
  id: string;
  name: string;
  kind: HealthNodeKind;
  /** Ask the summary with `parent` = this id for the nodes beneath. */
  hasChildren: boolean;
  figures: HealthFigures;
  yesterday: HealthFigures | null;
}

export interface HealthSummary {
  at: number;
  targets: { onlineRate: number; intactRate: number };
  overall: HealthFigures;
  yesterday: HealthFigures | null;
  lastWeek: HealthFigures | null;
  nodes: HealthSummaryNode[];
}

export type HealthSortField =
  | 'channelId'
  | 'name'
  | 'deviceId'
  | 'deviceName'
  | 'civilCode'
  | 'status'
  | 'since'
  | 'durationSec'
  | 'lastKeepaliveAt'
  | 'lastError'
  | 'episodes24h';

export const HEALTH_SORT_FIELDS: readonly HealthSortField[] = [
  'channelId',
  'name',
  'deviceId',
  'deviceName',
  'civilCode',
  'status',
  'since',
  'durationSec',
  'lastKeepaliveAt',
  'lastError',
  'episodes24h',
];

export interface HealthChannelQuery {
  /** Any of these statuses; empty or absent = all. */
  statuses?: HealthStatus[];
  /** A node of the region tree (civil code, township / village / grid code, "unplaced"): channels beneath it. */
  region?: string;
  /** A node of the group tree (business group, virtual org, "ungrouped"): channels beneath it. */
  group?: string;
  /** Substring of the channel or device name, or prefix of the channel or device ID (case-insensitive). */
  q?: string;
  sort?: HealthSortField;
  order?: 'asc' | 'desc';
  offset?: number;
  /** Absent = every matching row (CSV export). */
  limit?: number;
  /** 'device': the channels of a device that is offline are one row (an NVR down is one problem, not 64). */
  rollup?: 'device';
}

export interface KeepaliveSample {
  /** Arrival time of the keepalive that closed the interval. */
  at: number;
  intervalMs: number;
}

export interface KeepaliveReport {
  /** The device's own interval (the median of its recent intervals) once it sent a few; else the configured one. */
  expectedIntervalSec: number;
  /** Where expectedIntervalSec comes from. */
  expectedSource: 'device' | 'config';
  /** sip.keepaliveIntervalSec (what the offline timeout is computed from). */
  configuredIntervalSec: number;
  /** Oldest first; at most the last 32 intervals since the device came online. */
  samples: KeepaliveSample[];
  meanMs: number | null;
  /** Standard deviation of the intervals: how much keepalives wander around their mean. */
  jitterMs: number | null;
}

export type StreamKind = 'main' | 'sub';
export type QualityGrade = 'good' | 'fair' | 'poor' | 'unknown';

/** Stream statistics at one moment (from a StreamView). */
export interface StreamSample {
  at: number;
  stream: StreamKind;
  fps: number;
  bitrateKbps: number;
  packetLoss: number;
  codec: string | null;
  width: number | null;
  height: number | null;
  viewers: number;
  uptimeSec: number;
}

export interface StreamExpectation {
  fps: number;
  codec: string | null;
  width: number | null;
  height: number | null;
  bitrateKbps: number | null;
  /** 'last-good': the channel's own latest good sample (≤ 24 h old); 'config': health.expectedFps only. */
  source: 'last-good' | 'config';
}

export interface StreamReport {
  expected: StreamExpectation;
  /**
   * The running stream's current figures (active), else the latest sample of an ended stream (not active: UIs
   * show it as history, never as the present); null when never streamed, and null while the device or channel
   * is offline (a stale "fps 0, 2 viewers" of a dead camera reads as the present). The grade is the running
   * stream's, or from stalls alone when nothing plays.
   */
  last: (StreamSample & { active: boolean }) | null;
  /** When the channel last had a playing stream (its latest sample), null when never. */
  lastActiveAt: number | null;
  grade: QualityGrade;
  /** Why the grade (empty when good/unknown). */
  gradeReasons: string[];
  gradeReasonCodes: ReasonCode[];
  /** Playing streams that failed (stalled, BYE, ffmpeg exit) in the last hour. */
  stalls1h: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  recentFailures: StreamFailureRecord[];
  probes: { ok: number; failed: number };
}

export interface StreamFailureRecord {
  at: number;
  step: string;
  message: string;
  /** `stream-step-failed` with the step as a reason (`step.<step>`). */
  messageCode?: ReasonCode;
}

export interface ChannelHealthDetail {
  health: ChannelHealth;
  keepalive: KeepaliveReport;
  registrations: StatusEvent[];
  stream: StreamReport;
  alarms: AlarmEvent[];
  maintenance: MaintenanceFlag | null;
}

export interface ProbeResult {
  ok: boolean;
  timeToFirstFrameMs?: number;
  /** True when the probe joined a stream that was already running (its time to first frame is that stream's). */
  reused?: boolean;
  error?: { step: string; message: string; hint?: string };
}

export interface MaintenanceFlag {
  /** The channel id. */
  id: string;
  note: string | null;
  by: string;
  at: number;
}

// ------------------------------------------------------------------------------------------ alert rules

export type AlertRuleKind = 'offline' | 'stream-failure';

export interface AlertScope {
  kind: 'all' | 'region' | 'group';
  /** A node of the region tree (region) or of the group tree (group): channels beneath it; null for 'all'. */
  nodeId: string | null;
}

export interface AlertRuleInput {
  name: string;
  enabled?: boolean;
  kind: AlertRuleKind;
  /** offline: fire once the channel has been offline this long (blips shorter than this never fire). */
  offlineMinutes?: number | null;
  /** stream-failure: fire after this many consecutive failed stream opens. */
  failureCount?: number | null;
  /** stream-failure: clear after this many consecutive successful opens. */
  clearAfterSuccesses?: number | null;
  /** Repeat the notification while firing, every this many minutes; null = never. */
  reminderMinutes?: number | null;
  /** Notify when the alert clears. */
  notifyRecovery?: boolean;
  scope?: AlertScope;
  /** POST notifications here (http/https); null = in-app only. */
  webhookUrl?: string | null;
  /** Body of the POST: our JSON (default), or a WeCom (企业微信) / DingTalk (钉钉) group-robot markdown message. */
  webhookFormat?: WebhookFormat;
}

export type WebhookFormat = 'json' | 'wecom' | 'dingtalk';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['json', 'wecom', 'dingtalk'];

export interface AlertRule {
  id: string;
  name: string;
  enabled: boolean;
  kind: AlertRuleKind;
  offlineMinutes: number | null;
  failureCount: number | null;
  clearAfterSuccesses: number | null;
  reminderMinutes: number | null;
  notifyRecovery: boolean;
  scope: AlertScope;
  webhookUrl: string | null;
  webhookFormat: WebhookFormat;
  /** 'default-offline': the rule a fresh install starts with (UIs show its name in their language until it is edited). */
  preset?: 'default-offline';
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export type AlertState = 'firing' | 'cleared';
export type AlertClearReason = 'recovered' | 'maintenance' | 'channel-removed' | 'rule-changed' | 'rule-deleted' | 'acknowledged';
/**
 * What an alert is about: a rule's kind, or 'alarm-unacknowledged' — a device alarm nobody acknowledged within
 * alarms.escalateAfterMin, raised by the gateway itself (no rule of its own; the rules' webhooks carry it).
 */
export type AlertKind = AlertRuleKind | 'alarm-unacknowledged';

export interface Alert {
  id: string;
  ruleId: string;
  ruleName: string;
  kind: AlertKind;
  /** kind 'alarm-unacknowledged': the escalated alarm (one alert per alarm; acknowledging it clears the alert). */
  alarmId?: string;
  channelId: string;
  channelName: string;
  deviceId: string;
  /** Absent on alerts stored before it was recorded. */
  deviceName?: string;
  civilCode: string;
  /** The region node the channel sits in (township, village or grid when configured, else county); null when unplaced. */
  place?: { id: string; name: string } | null;
  state: AlertState;
  /** Why it fired (status reason or failure summary), English. */
  reason: string;
  /** The same as a code for the UIs (`reason.<code>`). */
  reasonCode?: ReasonCode;
  firedAt: number;
  clearedAt: number | null;
  clearReason: AlertClearReason | null;
  /** Last time a notification (fire or reminder) went out. */
  lastNotifiedAt: number;
  reminders: number;
}

export type AlertNotificationEvent = 'fired' | 'reminder' | 'recovered' | 'cleared' | 'test';

/** In-app delivery: the `health-alert` WebSocket message carries this. */
export interface HealthAlertEvent {
  event: AlertNotificationEvent;
  alert: Alert;
}

export interface AlertQuery {
  state?: AlertState;
  ruleId?: string;
  channelId?: string;
  offset?: number;
  limit?: number;
}

export type AlertGroupBy = 'device' | 'place';

/** Alerts of one device (an NVR down is one group with its channels inside) or of one township / county. */
export interface AlertGroup {
  /** The device id, or the region node id ('' = unplaced). */
  key: string;
  by: AlertGroupBy;
  /** Device name, or region node name. */
  name: string;
  deviceId: string | null;
  place: { id: string; name: string } | null;
  count: number;
  devices: number;
  firstFiredAt: number;
  lastFiredAt: number;
  /** The group's alerts, newest first (at most 100). */
  alerts: Alert[];
}

export interface WebhookTestResult {
  delivered: boolean;
  status?: number;
  /** What went wrong, in English (logs, integrators). */
  error?: string;
  /** The same for UIs (`error.<code>` in the web's catalogues), e.g. webhook.blocked-port { port }. */
  code?: string;
  params?: Record<string, string | number>;
  attempts?: number;
}

/** What one evaluation pass did (tests and logs). */
export interface EvaluationReport {
  at: number;
  channels: number;
  fired: number;
  cleared: number;
  reminders: number;
}

/**
 * The part of a user's channel scope (domain/auth/channel-scope.ts) the figures need. A scoped summary counts
 * only channels and devices in scope, lists only the nodes with something in scope, and has no yesterday /
 * last-week comparison: the daily snapshots hold whole-city figures, and a comparison against them would be
 * wrong for a partial node.
 */
export interface HealthScope {
  coversChannel(channelId: string): boolean;
  coversDevice(deviceId: string): boolean;
}

/** What the API asks of the health console; `GatewayServices.health`. */
export interface HealthApi {
  /** Time zone of times in CSV exports (health.timeZone). */
  readonly timeZone: string;
  /**
   * Figures overall and for the nodes of the region or group tree directly under `parent` (the top level
   * when absent: the nodes GET /api/tree?view=… lists first). Throws NotFoundError for an unknown parent.
   */
  summary(groupBy: HealthGroupBy, parent?: string, scope?: HealthScope): Promise<HealthSummary>;
  listChannels(query: HealthChannelQuery): Promise<Page<ChannelHealth>>;
  /** Throws NotFoundError for an unknown channel. */
  channelDetail(channelId: string): Promise<ChannelHealthDetail>;
  /** Opens the stream like POST /api/channels/:id/play, waits for the first frame or the error, releases it. */
  probe(channelId: string, stream?: StreamKind): Promise<ProbeResult>;
  setMaintenance(channelId: string, on: boolean, note: string | null, by: string): Promise<ChannelHealth>;
  listRules(): Promise<Page<AlertRule>>;
  getRule(id: string): Promise<AlertRule | null>;
  /** Throws ValidationError naming the field. */
  createRule(input: AlertRuleInput, by: string): Promise<AlertRule>;
  updateRule(id: string, input: AlertRuleInput): Promise<AlertRule | null>;
  deleteRule(id: string): Promise<boolean>;
  testRule(id: string): Promise<WebhookTestResult | null>;
  listAlerts(query: AlertQuery): Promise<Page<Alert>>;
  /** Alerts grouped by device or by township (the region node each channel sits in), largest group first. */
  alertGroups(by: AlertGroupBy, state?: AlertState): Promise<Page<AlertGroup>>;
  /** One evaluation pass of status clocks and alert rules at `at` (default now); timers call it, tests drive it. */
  evaluate(at?: number): Promise<EvaluationReport>;
  /** Store an aggregate snapshot taken at `at` (default now). */
  snapshot(at?: number): Promise<void>;
  /** The morning check: devices that went offline in the window (default: the last 14 h), recovered, still down, by township. */
  overnight(since?: number, until?: number): Promise<OvernightSummary>;
  /** Probe up to 50 channels, 4 at a time (throws like probe when live video is absent). */
  probeBatch(channelIds: readonly string[], stream?: StreamKind): Promise<Array<{ channelId: string } & ProbeResult>>;
  /** Daily intact-rate reports, newest first (without their rows). */
  listReports(offset?: number, limit?: number): Promise<Page<DailyReportSummary>>;
  getReport(id: string): Promise<DailyReport | null>;
  /** Make the day's report now (replaces the same day's). */
  generateReport(trigger?: 'schedule' | 'manual', at?: number): Promise<DailyReport>;
  /** The daily schedule at `at` (default now): makes the day's report once its time has passed; timers call it, tests drive it. */
  reportSchedule(at?: number): Promise<DailyReport | null>;
}
