/**
 * The health console's calls to the gateway (GET /api/health/*, alert rules, alerts) and the wire shapes
 * that api/types.ts does not already restate. The gateway grades, aggregates and evaluates rules; the
 * browser only asks and displays.
 */
import { api, ApiError, currentToken, withQuery } from '../../api/http';
import type { AlarmEvent, ChannelHealth, ChannelHealthStatus, HealthSummary, Page, StatusEvent } from '../../api/types';
import type { ReasonCode } from '../../i18n/health-reason';

export type { ChannelHealth, ChannelHealthStatus, HealthSummary };

export type HealthGroupBy = 'region' | 'group';

export type ChannelHealthSortKey =
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

export const PROBLEM_STATUSES: readonly ChannelHealthStatus[] = ['device-offline', 'channel-offline', 'stream-failing', 'degraded', 'maintenance'];
export const ALL_STATUSES: readonly ChannelHealthStatus[] = [...PROBLEM_STATUSES, 'healthy'];

export interface ChannelHealthQuery {
  /** Any of these statuses; empty = all. */
  statuses?: readonly ChannelHealthStatus[];
  /** Region tree node: channels beneath it. */
  region?: string;
  /** Business-group / virtual-org node: channels beneath it. */
  group?: string;
  q?: string;
  sort?: ChannelHealthSortKey;
  order?: 'asc' | 'desc';
  offset?: number;
  limit?: number;
  /** 'device': an offline device with several channels (an NVR) is one row. */
  rollup?: 'device';
}

export type StreamKind = 'main' | 'sub';
export type QualityGrade = 'good' | 'fair' | 'poor' | 'unknown';

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
  source: 'last-good' | 'config';
}

export interface StreamFailureRecord {
  at: number;
  step: string;
  message: string;
  messageCode?: ReasonCode;
}

export interface StreamReport {
  expected: StreamExpectation;
  last: (StreamSample & { active: boolean }) | null;
  lastActiveAt?: number | null;
  grade: QualityGrade;
  gradeReasons: string[];
  gradeReasonCodes?: ReasonCode[];
  stalls1h: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  recentFailures: StreamFailureRecord[];
  probes: { ok: number; failed: number };
}

export interface KeepaliveReport {
  expectedIntervalSec: number;
  expectedSource?: 'device' | 'config';
  configuredIntervalSec?: number;
  samples: { at: number; intervalMs: number }[];
  meanMs: number | null;
  jitterMs: number | null;
}

export interface MaintenanceFlag {
  id: string;
  note: string | null;
  by: string;
  at: number;
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
  reused?: boolean;
  error?: { step: string; message: string; hint?: string };
}

export type AlertRuleKind = 'offline' | 'stream-failure';
export type AlertScopeKind = 'all' | 'region' | 'group';

export interface AlertScope {
  kind: AlertScopeKind;
  /** Civil-code prefix (region) or group node id; null for 'all'. */
  nodeId: string | null;
}

export interface AlertRuleInput {
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
  webhookFormat?: WebhookFormat;
}

export type WebhookFormat = 'json' | 'wecom' | 'dingtalk';

export interface AlertRule extends AlertRuleInput {
  id: string;
  preset?: 'default-offline';
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookTestResult {
  delivered: boolean;
  status?: number;
  error?: string;
  /** Why it was not delivered, for the UI (`error.<code>`). */
  code?: string;
  params?: Record<string, string | number>;
  attempts?: number;
}

export type AlertState = 'firing' | 'cleared';

export interface HealthAlert {
  id: string;
  ruleId: string;
  ruleName: string;
  /** 'alarm-unacknowledged': an alarm the gateway escalated (no rule of its own; `alarmId` names it). */
  kind: AlertRuleKind | 'alarm-unacknowledged';
  alarmId?: string;
  channelId: string;
  channelName: string;
  deviceId: string;
  deviceName?: string;
  civilCode: string;
  place?: { id: string; name: string } | null;
  state: AlertState;
  reason: string;
  reasonCode?: ReasonCode;
  firedAt: number;
  clearedAt: number | null;
  clearReason: 'recovered' | 'maintenance' | 'channel-removed' | 'rule-changed' | 'rule-deleted' | 'acknowledged' | null;
  lastNotifiedAt: number;
  reminders: number;
}

export type AlertGroupBy = 'device' | 'place';

export interface AlertGroup {
  key: string;
  by: AlertGroupBy;
  name: string;
  deviceId: string | null;
  place: { id: string; name: string } | null;
  count: number;
  devices: number;
  firstFiredAt: number;
  lastFiredAt: number;
  alerts: HealthAlert[];
}

export interface HealthFiguresWire {
  devices: { online: number; total: number; rate: number };
  channels: { online: number; total: number; rate: number };
  intact: { intact: number; total: number; rate: number };
}

export interface DailyReportSummary {
  id: string;
  date: string;
  generatedAt: number;
  timeZone: string;
  trigger: 'schedule' | 'manual';
  targets: { onlineRate: number; intactRate: number };
  overall: HealthFiguresWire;
  truncated: boolean;
  rowCount: number;
}

export interface DailyReport extends Omit<DailyReportSummary, 'rowCount'> {
  rows: Array<{ id: string; name: string; kind: string; depth: number; parent: string | null; figures: HealthFiguresWire }>;
}

export interface OvernightDevice {
  deviceId: string;
  name: string;
  channelCount: number;
  channelIds: string[];
  place: { id: string; name: string } | null;
  outcome: 'recovered' | 'still-down';
  wentOfflineAt: number | null;
  episodes: number;
  recoveredAt: number | null;
  lastSeenAt: number | null;
  offlineReason: string | null;
}

export interface OvernightSummary {
  since: number;
  until: number;
  wentOffline: number;
  recovered: number;
  stillDown: number;
  stillDownChannels: number;
  groups: Array<{ id: string; name: string; wentOffline: number; recovered: number; stillDown: number; devices: OvernightDevice[] }>;
}

export type AlertNotificationEvent = 'fired' | 'reminder' | 'recovered' | 'cleared' | 'test';

/** Data of the `health-alert` event-socket message. */
export interface HealthAlertEvent {
  event: AlertNotificationEvent;
  alert: HealthAlert;
}

export const healthApi = {
  /** One level of the tree: the top, or the nodes directly under `parent`. */
  summary: (groupBy: HealthGroupBy, parent: string | undefined, signal?: AbortSignal) =>
    api<HealthSummary>('/api/health/summary', { query: { groupBy, parent }, signal }),
  /** A node's ancestors with names (top level first) and its own name, from the tree search; null when the tree has no such node now. */
  nodePath: async (groupBy: HealthGroupBy, id: string): Promise<{ id: string; name: string }[] | null> => {
    const answer = await api<{ items: { id: string; name: string; path: { id: string; name: string }[] }[] }>('/api/tree/search', {
      query: { view: groupBy, q: id, limit: 200 },
    });
    const hit = answer.items.find((item) => item.id === id);
    return hit ? [...hit.path.map(({ id: stepId, name }) => ({ id: stepId, name })), { id: hit.id, name: hit.name }] : null;
  },
  channels: (query: ChannelHealthQuery, signal?: AbortSignal) => api<Page<ChannelHealth>>('/api/health/channels', { query: channelQuery(query), signal }),
  channel: (id: string) => api<ChannelHealthDetail>(`/api/health/channels/${encodeURIComponent(id)}`),
  probe: (id: string) => api<ProbeResult>(`/api/health/channels/${encodeURIComponent(id)}/probe`, { method: 'POST', body: {} }),
  maintenance: (id: string, on: boolean, note: string | null) =>
    api<ChannelHealth>(`/api/health/channels/${encodeURIComponent(id)}/maintenance`, { method: 'PUT', body: note ? { on, note } : { on } }),
  requeryCatalog: (deviceId: string) => api<{ deviceId: string; accepted: boolean }>(`/api/devices/${encodeURIComponent(deviceId)}/catalog`, { method: 'POST', body: {} }),
  rules: () => api<Page<AlertRule>>('/api/alert-rules'),
  createRule: (rule: AlertRuleInput) => api<AlertRule>('/api/alert-rules', { method: 'POST', body: rule }),
  updateRule: (id: string, rule: AlertRuleInput) => api<AlertRule>(`/api/alert-rules/${encodeURIComponent(id)}`, { method: 'PUT', body: rule }),
  deleteRule: (id: string) => api<void>(`/api/alert-rules/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  testRule: (id: string) => api<WebhookTestResult>(`/api/alert-rules/${encodeURIComponent(id)}/test`, { method: 'POST', body: {} }),
  alerts: (state: AlertState, limit = 50) => api<Page<HealthAlert>>('/api/alerts', { query: { state, limit } }),
  overnight: () => api<OvernightSummary>('/api/health/overnight'),
  probeBatch: (channelIds: string[]) => api<{ items: Array<{ channelId: string } & ProbeResult> }>('/api/health/probe-batch', { method: 'POST', body: { channelIds } }),
  reports: () => api<Page<DailyReportSummary>>('/api/health/reports', { query: { limit: 60 } }),
  report: (id: string) => api<DailyReport>(`/api/health/reports/${encodeURIComponent(id)}`),
  generateReport: () => api<DailyReport>('/api/health/reports', { method: 'POST', body: {} }),
  alertGroups: (by: AlertGroupBy, state: AlertState) => api<Page<AlertGroup>>('/api/alerts/groups', { query: { by, state } }),
};

/** The list's query string (also the CSV export's, without paging). */
export function channelQuery(query: ChannelHealthQuery): Record<string, string | number | undefined> {
  return {
    status: query.statuses && query.statuses.length > 0 ? query.statuses.join(',') : undefined,
    region: query.region || undefined,
    group: query.group || undefined,
    q: query.q?.trim() || undefined,
    sort: query.sort,
    order: query.sort ? query.order : undefined,
    offset: query.offset,
    limit: query.limit,
    rollup: query.rollup,
  };
}

/** Authenticated GET of a binary resource (CSV export, snapshot): the bearer token cannot ride on an <a href>/<img src>. */
export async function fetchBlob(path: string, query?: Record<string, string | number | undefined>): Promise<{ blob: Blob; fileName: string | null }> {
  const token = currentToken();
  const response = await fetch(withQuery(path, query), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    // An ApiError with the body: its code is what the UI says (errorText), its message is for logs.
    let body: ApiError['body'] = null;
    try {
      body = (await response.json()) as ApiError['body'];
      if (body?.message) message = body.message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, body, message);
  }
  const disposition = response.headers.get('content-disposition') ?? '';
  const fileName = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? null;
  return { blob: await response.blob(), fileName };
}

/** Hand a blob to the browser as a download (an anchor with `download`, which keyboard and tests see as a normal download). */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  anchor.style.display = 'none';
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  // Chromium reads the blob asynchronously after click(); revoking at once can cancel the download.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
