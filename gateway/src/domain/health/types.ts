/**
 * Shapes of the maintenance health console (issue #4, "Maintenance"): channel status with a reason, the
 * per-camera detail, aggregates against yesterday, alert rules and alerts. Plain data, shared by the health
 * services and the API; the JSON on the wire is exactly these (see /api/health and /api/alert-rules).
 */
import type { AlarmEvent, Page, StatusEvent } from '../model.js';

/**
 * One status per channel, most severe first when several apply:
 * maintenance (set by a maintainer, alerts muted) › device-offline (a channel is offline whenever its device
 * is) › channel-offline (device online, the device reports the channel OFF) › stream-failing (the latest
 * stream opens failed, within `health.streamFailureWindowMin`) › degraded (active stream below expected fps,
 * with packet loss, or repeated stalls in the last hour) › healthy.
 */
export type HealthStatus = 'device-offline' | 'channel-offline' | 'stream-failing' | 'degraded' | 'maintenance' | 'healthy';

export const HEALTH_STATUSES: readonly HealthStatus[] = ['device-offline', 'channel-offline', 'stream-failing', 'degraded', 'maintenance', 'healthy'];

export interface ChannelHealth {
  channelId: string;
  name: string;
  deviceId: string;
  deviceName: string;
  civilCode: string;
  status: HealthStatus;
  /** Human-readable why (English; the status itself is the key UIs translate). */
  reason: string;
  /** When the current status began (epoch ms), null when unknown. */
  since: number | null;
  durationSec: number | null;
  lastKeepaliveAt: number | null;
  /** Latest error seen for the channel: stream failure "step: message", device offline reason, auth failure. */
  lastError: string | null;
  /** Offline episodes (device or channel) that began in the last 24 h. */
  episodes24h: number;
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
}

export interface KeepaliveSample {
  /** Arrival time of the keepalive that closed the interval. */
  at: number;
  intervalMs: number;
}

export interface KeepaliveReport {
  expectedIntervalSec: number;
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
  /** The running stream's current figures, else the latest sample seen; null when never streamed. */
  last: (StreamSample & { active: boolean }) | null;
  grade: QualityGrade;
  /** Why the grade (empty when good/unknown). */
  gradeReasons: string[];
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
}

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
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export type AlertState = 'firing' | 'cleared';
export type AlertClearReason = 'recovered' | 'maintenance' | 'channel-removed' | 'rule-changed' | 'rule-deleted';

export interface Alert {
  id: string;
  ruleId: string;
  ruleName: string;
  kind: AlertRuleKind;
  channelId: string;
  channelName: string;
  deviceId: string;
  civilCode: string;
  state: AlertState;
  /** Why it fired (status reason or failure summary). */
  reason: string;
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

/** What the API asks of the health console; `GatewayServices.health`. */
export interface HealthApi {
  /** Time zone of times in CSV exports (health.timeZone). */
  readonly timeZone: string;
  /**
   * Figures overall and for the nodes of the region or group tree directly under `parent` (the top level
   * when absent: the nodes GET /api/tree?view=… lists first). Throws NotFoundError for an unknown parent.
   */
  summary(groupBy: HealthGroupBy, parent?: string): Promise<HealthSummary>;
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
  /** One evaluation pass of status clocks and alert rules at `at` (default now); timers call it, tests drive it. */
  evaluate(at?: number): Promise<EvaluationReport>;
  /** Store an aggregate snapshot taken at `at` (default now). */
  snapshot(at?: number): Promise<void>;
}
