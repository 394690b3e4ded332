/**
 * The maintenance health console's service: status with a reason per channel, keepalive history, stream
 * statistics against expected, aggregates against yesterday, maintenance flags and alert rules. Composes the
 * modules of this folder over the registry, the tree index, the stream service and the store; the API sees it
 * as `HealthApi` (GatewayServices.health).
 *
 * Everything is computed from memory (one pass over the tree index's channels, a few map lookups each) and
 * only history goes to the store: status events (read back for episodes and registration history), and
 * through the records port the maintenance flags, alert rules, alerts and aggregate snapshots.
 *
 * Timers: one evaluation pass every `evaluateIntervalSec` (status clocks, alert rules) and one snapshot
 * every `snapshotIntervalMin`; either can be 0 (off) so tests drive `evaluate(at)` and `snapshot(at)`
 * themselves with any time they like.
 */
import type { Logger } from 'pino';
import type { AlarmEvent, Device, Page } from '../model.js';
import type { GatewayStore } from '../store.js';
import type { GatewayEvents, DeviceStatusChange, StreamFailure } from '../events.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { TreeIndex } from '../catalog/tree-index.js';
import type { StreamService, StreamView } from '../streams/stream-service.js';
import { PlayError } from '../streams/play-error.js';
import { ConflictError, NotFoundError } from '../services.js';
import { counterIn, FigureCounter, type Aggregates } from './aggregates.js';
import { AlertEngine, type AlarmEscalationSubject, type AlertObserver, type AlertSubject, type AlertWorld } from './alert-engine.js';
import { AlertRules } from './alert-rules.js';
import { ChannelStatusClassifier, lastSignOfLife, streamFailureCode, type ChannelRef, type Classification } from './channel-status.js';
import type { HealthGrouping, HealthMembership } from './grouping.js';
import { KeepaliveHistory } from './keepalive-history.js';
import { MaintenanceFlags } from './maintenance.js';
import { OfflineEpisodes, EPISODE_WINDOW_MS } from './offline-episodes.js';
import { SignallingErrors } from './signalling-errors.js';
import { HealthSnapshots, nodeFigures } from './snapshots.js';
import { StatusClock } from './status-clock.js';
import { sampleOf, StreamHealthTracker } from './stream-health.js';
import { expectationFor, gradeStream } from './stream-quality.js';
import { WebhookSender, type WebhookObserver, type WebhookOptions } from './webhook.js';
import { overnightSummary, type OvernightSummary } from './overnight.js';
import {
  DailyReports,
  localClock,
  parseReportTime,
  REPORT_MAX_DEPTH,
  REPORT_MAX_ROWS,
  type DailyReport,
  type DailyReportRow,
  type DailyReportSummary,
} from './daily-report.js';
import {
  type Alert,
  type AlertGroup,
  type AlertGroupBy,
  type AlertQuery,
  type AlertState,
  type AlertRule,
  type AlertRuleInput,
  type ChannelHealth,
  type ChannelHealthDetail,
  type EvaluationReport,
  type HealthApi,
  type HealthChannelQuery,
  type HealthGroupBy,
  type HealthSortField,
  type HealthStatus,
  type HealthSummary,
  type HealthSummaryNode,
  type ProbeResult,
  type StreamKind,
  type StreamReport,
  type StreamSample,
  type WebhookTestResult,
  type HealthScope,
} from './types.js';

export interface HealthServiceOptions {
  /** sip.keepaliveIntervalSec: the expected keepalive interval shown with the chart. */
  keepaliveIntervalSec: number;
  expectedFps: number;
  streamFailureWindowMin: number;
  /** Targets as fractions 0..1. */
  onlineRateTarget: number;
  intactRateTarget: number;
  /** 0 = no timer (tests call evaluate()). */
  evaluateIntervalSec: number;
  /** 0 = no timer (a snapshot is still taken at start). */
  snapshotIntervalMin: number;
  timeZone: string;
  webhook: WebhookOptions;
  /** health.defaultOfflineRuleMinutes: the offline rule a fresh install starts with; 0 / absent = none. */
  defaultOfflineRuleMinutes?: number;
  /** health.dailyReportTime "HH:MM" in timeZone; empty / absent = no scheduled daily report. */
  dailyReportTime?: string;
  /** health.reportRetentionDays (default 180). */
  reportRetentionDays?: number;
}

/** How often the daily-report schedule is looked at (it runs once the configured minute has passed). */
const REPORT_CHECK_MS = 30_000;
const REPORT_START_GRACE_MS = 5 * 60_000;
/** The overnight summary's default window: the evening before until now. */
export const OVERNIGHT_DEFAULT_HOURS = 14;
/** Status events read for one overnight summary, at most (a registration storm writes 50,000). */
const OVERNIGHT_MAX_EVENTS = 100_000;
/** Probes of one batch at most, and at once (each opens a stream on the device). */
export const PROBE_BATCH_MAX = 50;
const PROBE_BATCH_CONCURRENCY = 4;

export interface HealthMetrics extends WebhookObserver, AlertObserver {
  probe(outcome: 'ok' | 'failed'): void;
}

export interface HealthDeps {
  store: GatewayStore;
  registry: DeviceRegistry;
  tree: TreeIndex;
  events: GatewayEvents;
  /** Live video (absent in setups without media): probes then answer 409. */
  streams?: StreamService;
  /** Region / group nodes: the wall's trees (TreeViewsGrouping), so the figures sit on the nodes it shows. */
  grouping: HealthGrouping;
  metrics?: HealthMetrics;
  logger: Logger;
  now?: () => number;
}

const DAY_MS = 24 * 3600_000;
const WEEK_MS = 7 * DAY_MS;
/** Status events read back at start for the 24-hour episode counts, at most (a bound on start-up time). */
const MAX_SEEDED_EVENTS = 500_000;
const SEED_WINDOW_MS = 15 * 60_000;
const SEED_WHOLE_DAY_MAX = 20_000;
/** Channels classified between two yields to the event loop. */
const SCAN_SLICE = 5_000;
const SEVERITY: Record<HealthStatus, number> = {
  'device-offline': 0,
  'channel-offline': 1,
  'stream-failing': 2,
  degraded: 3,
  maintenance: 4,
  healthy: 5,
};

interface Scanned {
  ref: ChannelRef;
  cls: Classification;
  since: number | null;
}

const isOffline = (status: HealthStatus): boolean => status === 'device-offline' || status === 'channel-offline';

const GROUPINGS: readonly HealthGroupBy[] = ['region', 'group'];
const MAX_GROUPED_ALERTS = 20_000;
const ALERTS_PER_GROUP = 100;

function memberSet(map: Map<string, Set<string>>, id: string): Set<string> {
  let set = map.get(id);
  if (!set) {
    set = new Set();
    map.set(id, set);
  }
  return set;
}

export class HealthService implements HealthApi {
  readonly keepalives = new KeepaliveHistory();
  private readonly episodes = new OfflineEpisodes();
  private readonly streamHealth: StreamHealthTracker;
  private readonly maintenance: MaintenanceFlags;
  private readonly signallingErrors = new SignallingErrors();
  private readonly clock = new StatusClock();
  private readonly classifier: ChannelStatusClassifier;
  private readonly grouping: HealthGrouping;
  private readonly snapshots: HealthSnapshots;
  private readonly rules: AlertRules;
  private readonly engine: AlertEngine;
  private readonly webhooks: WebhookSender;
  private readonly reports: DailyReports;
  /** The local date whose scheduled report exists (or was just made): the schedule looks no further that day. */
  private reportedDate: string | null = null;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Evaluation passes and snapshots run one at a time (a timer and a test may ask together). */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private readonly onDeviceStatus = (change: DeviceStatusChange): void => {
    if (change.status === 'offline') {
      this.episodes.deviceWentOffline(change.deviceId, change.at);
      this.keepalives.offline(change.deviceId);
    } else {
      this.keepalives.online(change.deviceId, change.at);
      this.signallingErrors.clear(change.deviceId);
    }
  };
  private readonly onStreamStatus = (view: StreamView): void => this.streamHealth.onStatus(view);
  private readonly onStreamFailed = (failure: StreamFailure): void => this.streamHealth.onFailed(failure);

  constructor(
    private readonly deps: HealthDeps,
    private readonly options: HealthServiceOptions,
  ) {
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger;
    try {
      new Intl.DateTimeFormat('en', { timeZone: options.timeZone });
    } catch {
      // The config pattern admits any Area/City; only the runtime's tz database knows which exist.
      throw new Error(`config: health.timeZone: unknown time zone "${options.timeZone}"`);
    }
    this.streamHealth = new StreamHealthTracker({ configuredFps: options.expectedFps, now: this.now });
    this.maintenance = new MaintenanceFlags(deps.store.records);
    this.classifier = new ChannelStatusClassifier((id) => deps.registry.get(id), this.maintenance, this.streamHealth, this.signallingErrors, {
      configuredFps: options.expectedFps,
      streamFailureWindowMs: options.streamFailureWindowMin * 60_000,
    });
    this.grouping = deps.grouping;
    this.snapshots = new HealthSnapshots(deps.store.records);
    this.rules = new AlertRules(deps.store.records);
    this.webhooks = new WebhookSender(options.webhook, deps.logger.child({ part: 'webhook' }), deps.metrics);
    this.reports = new DailyReports(deps.store.records);
    this.engine = new AlertEngine(deps.store.records, deps.events, this.webhooks, deps.logger.child({ part: 'alerts' }), deps.metrics, options.timeZone);
  }

  get timeZone(): string {
    return this.options.timeZone;
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const { events } = this.deps;
    // Listen first: what happens while history is read is counted live and skipped in the read-back.
    events.on('device-status', this.onDeviceStatus);
    events.on('stream-status', this.onStreamStatus);
    events.on('stream-failed', this.onStreamFailed);
    const startedAt = this.now();
    await Promise.all([this.maintenance.load(), this.rules.load(), this.engine.load(), this.snapshots.load(), this.seedEpisodes(startedAt)]);
    const seeded = await this.rules.seedDefaults(this.options.defaultOfflineRuleMinutes ?? 0, startedAt);
    if (seeded) this.logger.info({ ruleId: seeded.id, offlineMinutes: seeded.offlineMinutes }, 'fresh install: default offline alert rule created');
    try {
      await this.snapshot(startedAt);
    } catch (err) {
      this.logger.warn({ err }, 'health snapshot at start failed');
    }
    if (this.options.evaluateIntervalSec > 0) {
      this.every(this.options.evaluateIntervalSec * 1000, () => this.evaluate(), 'health evaluation');
    }
    if (this.options.snapshotIntervalMin > 0) {
      this.every(this.options.snapshotIntervalMin * 60_000, () => this.snapshot(), 'health snapshot');
    }
    if (parseReportTime(this.options.dailyReportTime ?? '') !== null) {
      // A gateway that was down at report time makes the day's report when it is back, once devices had a few
      // minutes to register again (a report taken while they do would show the restart, not the network).
      const settled = startedAt + REPORT_START_GRACE_MS;
      this.every(REPORT_CHECK_MS, () => (this.now() >= settled ? this.reportSchedule() : Promise.resolve(null)), 'daily report');
    }
    this.logger.info(
      { maintenance: this.maintenance.size, rules: this.rules.list().length, openAlerts: this.engine.openCount, episodeSubjects: this.episodes.subjects },
      'health service started',
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    const { events } = this.deps;
    events.off('device-status', this.onDeviceStatus);
    events.off('stream-status', this.onStreamStatus);
    events.off('stream-failed', this.onStreamFailed);
    this.webhooks.close();
    await this.queue.catch(() => undefined);
  }

  /** A keepalive from a registered device (the composition root calls this from the signalling path). */
  keepaliveArrived(deviceId: string, at = this.now()): void {
    this.keepalives.arrived(deviceId, at);
  }

  /** A refused REGISTER or similar, shown as the device's last error. */
  signallingError(deviceId: string, message: string, at = this.now()): void {
    this.signallingErrors.record(deviceId, message, at);
  }

  /** Resolves when queued webhook notifications have been delivered or given up (tests). */
  webhooksIdle(): Promise<void> {
    return this.webhooks.idle();
  }

  // ------------------------------------------------------------------------------------------ status

  async listChannels(query: HealthChannelQuery): Promise<Page<ChannelHealth>> {
    const now = this.now();
    const statuses = query.statuses && query.statuses.length > 0 ? new Set(query.statuses) : null;
    const { region, group } = query;
    const membership = region || group ? this.grouping.current() : null;
    const q = query.q?.toLowerCase();
    const rows: ChannelHealth[] = [];
    await this.scan(now, ({ ref, cls, since }) => {
      if (statuses && !statuses.has(cls.status)) return;
      if (region && !membership?.isUnder('region', ref.id, region)) return;
      if (group && !membership?.isUnder('group', ref.id, group)) return;
      const row = this.toHealth(ref, cls, since, now);
      if (q && !matches(row, q)) return;
      rows.push(row);
    });
    const listed = query.rollup === 'device' ? rollUpDevices(rows) : rows;
    listed.sort(comparator(query.sort ?? 'status', query.order ?? 'asc'));
    const offset = query.offset ?? 0;
    const items = query.limit === undefined ? listed.slice(offset) : listed.slice(offset, offset + query.limit);
    // Pages only (the CSV export of every row does without).
    if (query.limit !== undefined) for (const item of items) item.place = this.grouping.placeOf(item.channelId);
    return { total: listed.length, items };
  }

  async channelDetail(channelId: string): Promise<ChannelHealthDetail> {
    const ref = await this.requireRef(channelId);
    const now = this.now();
    const active = this.activeStreams().get(channelId) ?? [];
    const health = this.healthOf(ref, now, active);
    const offline = isOffline(health.status) || (health.status === 'maintenance' && !ref.online);
    const [registrations, alarms] = await Promise.all([
      this.deps.store.listStatusEvents({ subjectId: ref.deviceId, limit: 50 }),
      this.deps.store.listAlarms({ deviceId: ref.deviceId, limit: 100 }),
    ]);
    // An NVR's alarms concern its channels one by one; an IPC's are all about its only picture.
    const single = this.deps.tree.channelIdsOf(ref.deviceId).length <= 1;
    const channelAlarms = alarms.items.filter((a) => single || a.sourceId === channelId || a.sourceId === ref.deviceId).slice(0, 20);
    return {
      health,
      keepalive: this.keepalives.report(ref.deviceId, this.options.keepaliveIntervalSec),
      registrations: registrations.items,
      stream: this.streamReport(channelId, offline ? [] : active, now, offline),
      alarms: channelAlarms,
      maintenance: this.maintenance.get(channelId) ?? null,
    };
  }

  async probe(channelId: string, stream: StreamKind = 'sub'): Promise<ProbeResult> {
    const streams = this.deps.streams;
    if (!streams) throw new ConflictError('live video is not available in this gateway');
    await this.requireRef(channelId);
    const startedAt = this.now();
    const wallStart = Date.now();
    let view: StreamView;
    try {
      view = await streams.play({ channelId, stream });
    } catch (err) {
      const error =
        err instanceof PlayError
          ? { step: err.step, message: err.message, hint: err.hint }
          : { step: 'packager', message: (err as Error).message, hint: 'see the gateway log' };
      this.streamHealth.probed(channelId, { ok: false, step: error.step, message: error.message, startedAt });
      this.deps.metrics?.probe('failed');
      return { ok: false, error };
    }
    try {
      // A stream that was already running when the probe began: the probe joined it.
      const reused = view.startedAt < wallStart;
      this.streamHealth.probed(channelId, { ok: true, reused });
      this.deps.metrics?.probe('ok');
      return { ok: true, timeToFirstFrameMs: reused ? Date.now() - wallStart : (view.timeToFirstFrameMs ?? Date.now() - wallStart), reused };
    } finally {
      await streams.release(view.streamId, view.viewerId).catch(() => undefined);
    }
  }

  async setMaintenance(channelId: string, on: boolean, note: string | null, by: string): Promise<ChannelHealth> {
    const ref = await this.requireRef(channelId);
    const now = this.now();
    if (on) await this.maintenance.set(channelId, note, by, now);
    else await this.maintenance.clear(channelId);
    this.logger.info({ channelId, on, by, note }, 'maintenance flag changed');
    return this.healthOf(ref, now, this.activeStreams().get(channelId) ?? []);
  }

  // ------------------------------------------------------------------------------------------ aggregates

  async summary(groupBy: HealthGroupBy, parent?: string, scope?: HealthScope): Promise<HealthSummary> {
    const now = this.now();
    const membership = this.grouping.current();
    // Before the pass: an unknown parent is a 404, not a wasted pass.
    const treeNodes = membership.nodesUnder(groupBy, parent);
    const aggregates = await this.aggregate(now, membership, scope);
    const table = groupBy === 'region' ? aggregates.regions : aggregates.groups;
    if (scope) {
      // A scoped user learns nothing about nodes outside its scope: not their figures, not that they exist.
      if (parent !== undefined && parent !== '' && !table.has(parent)) throw new NotFoundError(`tree node ${parent} not found in the ${groupBy} view`);
      return {
        at: now,
        targets: { onlineRate: this.options.onlineRateTarget, intactRate: this.options.intactRateTarget },
        overall: aggregates.overall.figures(),
        yesterday: null,
        lastWeek: null,
        nodes: treeNodes.filter((node) => table.has(node.id)).map((node) => ({ ...node, figures: (table.get(node.id) as FigureCounter).figures(), yesterday: null })),
      };
    }
    const [yesterday, lastWeek, yesterdayNodes] = await Promise.all([
      this.snapshots.nearest(now - DAY_MS, false),
      this.snapshots.nearest(now - WEEK_MS, false),
      this.snapshots.nearest(now - DAY_MS, true),
    ]);
    const nodes: HealthSummaryNode[] = treeNodes.map((node) => ({
      ...node,
      // A node with nothing beneath it yet (a group without cameras) still shows, with zeros.
      figures: (table.get(node.id) ?? new FigureCounter()).figures(),
      yesterday: nodeFigures(yesterdayNodes, groupBy, node.id),
    }));
    return {
      at: now,
      targets: { onlineRate: this.options.onlineRateTarget, intactRate: this.options.intactRateTarget },
      overall: aggregates.overall.figures(),
      yesterday: yesterday?.overall ?? null,
      lastWeek: lastWeek?.overall ?? null,
      nodes,
    };
  }

  snapshot(at?: number): Promise<void> {
    return this.serially(async () => {
      const now = at ?? this.now();
      await this.snapshots.take(await this.aggregate(now));
      await this.snapshots.prune(now);
      await this.engine.prune(now);
      await this.reports.prune(now, this.options.reportRetentionDays ?? 180);
    });
  }

  // ------------------------------------------------------------------------------------------ morning check

  async overnight(since?: number, until?: number): Promise<OvernightSummary> {
    const end = until ?? this.now();
    const start = since ?? end - OVERNIGHT_DEFAULT_HOURS * 3600_000;
    const events = [];
    const pageSize = 1000;
    for (let offset = 0; offset < OVERNIGHT_MAX_EVENTS; offset += pageSize) {
      const page = await this.deps.store.listStatusEvents({ since: start, until: end, offset, limit: pageSize });
      events.push(...page.items);
      if (page.items.length < pageSize) break;
    }
    const { tree } = this.deps;
    return overnightSummary({
      since: start,
      until: end,
      events,
      devices: this.deps.registry.all(),
      channelIds: (id) => tree.channelIdsOf(id),
      placeOf: (id) => {
        const first = tree.channelIdsOf(id)[0];
        return this.grouping.placeOf(first ?? id);
      },
      lastSeen: lastSignOfLife,
    });
  }

  /** Probe several channels (the offline list, one click): a few at a time, each result as a single probe's. */
  async probeBatch(channelIds: readonly string[], stream: StreamKind = 'sub'): Promise<Array<{ channelId: string } & ProbeResult>> {
    if (!this.deps.streams) throw new ConflictError('live video is not available in this gateway');
    const ids = [...new Set(channelIds)].slice(0, PROBE_BATCH_MAX);
    const results = new Map<string, ProbeResult>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++];
        try {
          results.set(id, await this.probe(id, stream));
        } catch (err) {
          const notFound = err instanceof NotFoundError;
          results.set(id, { ok: false, error: { step: notFound ? 'channel' : 'packager', message: (err as Error).message } });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROBE_BATCH_CONCURRENCY, ids.length) }, worker));
    return ids.map((channelId) => ({ channelId, ...(results.get(channelId) as ProbeResult) }));
  }

  // ------------------------------------------------------------------------------------------ daily report

  listReports(offset?: number, limit?: number): Promise<Page<DailyReportSummary>> {
    return this.reports.list(offset, limit);
  }

  getReport(id: string): Promise<DailyReport | null> {
    return this.reports.get(id);
  }

  /** Take the day's report now (replacing the same day's): figures overall and per region node down to the township. */
  generateReport(trigger: DailyReport['trigger'] = 'manual', at?: number): Promise<DailyReport> {
    return this.serially(async () => {
      const now = at ?? this.now();
      const membership = this.grouping.current();
      const aggregates = await this.aggregate(now, membership);
      const rows: DailyReportRow[] = [];
      let truncated = false;
      const walk = (parent: string | undefined, depth: number): void => {
        for (const node of membership.nodesUnder('region', parent)) {
          if (rows.length >= REPORT_MAX_ROWS) {
            truncated = true;
            return;
          }
          rows.push({
            id: node.id,
            name: node.name,
            kind: node.kind,
            depth,
            parent: parent ?? null,
            figures: (aggregates.regions.get(node.id) ?? new FigureCounter()).figures(),
          });
          if (node.hasChildren && node.kind === 'region' && depth + 1 < REPORT_MAX_DEPTH) walk(node.id, depth + 1);
        }
      };
      walk(undefined, 0);
      const { date } = localClock(now, this.options.timeZone);
      const report: DailyReport = {
        id: `daily-${date}`,
        date,
        generatedAt: now,
        timeZone: this.options.timeZone,
        trigger,
        targets: { onlineRate: this.options.onlineRateTarget, intactRate: this.options.intactRateTarget },
        overall: aggregates.overall.figures(),
        rows,
        truncated,
      };
      await this.reports.put(report);
      this.logger.info({ date, trigger, rows: rows.length, intactRate: report.overall.intact.rate }, 'daily report generated');
      return report;
    });
  }

  /**
   * The schedule: once the configured local time has passed and the day has no report yet, make it. The timer
   * calls this every 30 s; tests call it with any time they like. Returns the report made, if any.
   */
  async reportSchedule(at?: number): Promise<DailyReport | null> {
    const minutes = parseReportTime(this.options.dailyReportTime ?? '');
    if (minutes === null) return null;
    const now = at ?? this.now();
    const clock = localClock(now, this.options.timeZone);
    if (clock.minutes < minutes || this.reportedDate === clock.date) return null;
    if (await this.reports.hasDate(clock.date)) {
      this.reportedDate = clock.date;
      return null;
    }
    const report = await this.generateReport('schedule', now);
    this.reportedDate = clock.date;
    return report;
  }

  // ------------------------------------------------------------------------------------------ alarm escalation

  /**
   * Raise alarms left unacknowledged for `afterMin` (domain/alarms/alarm-escalation.ts decides which, and when):
   * each once, in-app and to the webhook of every enabled rule with a webhook whose scope covers the alarm's
   * channel — the rules are where maintainers said who hears about a region. Returns the alerts newly raised.
   */
  escalateAlarms(alarms: readonly AlarmEvent[], afterMin: number, at = this.now()): Promise<Alert[]> {
    return this.serially(async () => {
      const subjects = alarms.map((alarm): AlarmEscalationSubject => {
        const channelId = this.alarmChannel(alarm);
        return {
          alarm,
          afterMin,
          channelId,
          channelName: this.deps.tree.nameOf(channelId) ?? '',
          deviceName: this.deps.registry.get(alarm.deviceId)?.name ?? '',
          civilCode: this.deps.tree.record(channelId)?.civilCode ?? this.deps.tree.record(alarm.deviceId)?.civilCode ?? '',
          place: this.grouping.placeOf(channelId),
        };
      });
      return this.engine.escalateAlarms(subjects, this.alarmTargets(), at);
    });
  }

  /** The alarm was acknowledged: resolves its escalation, if it had one. */
  alarmAcknowledged(alarmId: string, at = this.now()): Promise<Alert | null> {
    return this.serially(() => this.engine.alarmAcknowledged(alarmId, at));
  }

  alarmEscalated(alarmId: string): boolean {
    return this.engine.alarmEscalatedAt(alarmId) !== null;
  }

  /** When the alarm's open escalation was raised; null when it has none. */
  alarmEscalatedAt(alarmId: string): number | null {
    return this.engine.alarmEscalatedAt(alarmId);
  }

  /**
   * The channel an alarm is about: its source when that is one of the device's channels, else (an alarm input, or
   * the device itself) the device's only channel, else the device.
   */
  private alarmChannel(alarm: AlarmEvent): string {
    const channels = this.deps.tree.channelIdsOf(alarm.deviceId);
    if (channels.includes(alarm.sourceId)) return alarm.sourceId;
    return channels.length === 1 ? channels[0] : alarm.deviceId;
  }

  /** Rules whose webhooks carry an escalation: enabled, with a webhook, scope covering the alert's channel. */
  private alarmTargets(): (alert: Alert) => AlertRule[] {
    const rules = this.rules.list().filter((rule) => rule.enabled && rule.webhookUrl);
    const membership = rules.some((r) => r.scope.kind !== 'all') ? this.grouping.current() : null;
    return (alert) =>
      rules.filter(
        (rule) =>
          rule.scope.kind === 'all' ||
          (rule.scope.nodeId !== null && membership !== null && membership.isUnder(rule.scope.kind, alert.channelId, rule.scope.nodeId)),
      );
  }

  // ------------------------------------------------------------------------------------------ alert rules

  async listRules(): Promise<Page<AlertRule>> {
    const items = this.rules.list();
    return { total: items.length, items };
  }

  async getRule(id: string): Promise<AlertRule | null> {
    return this.rules.get(id) ?? null;
  }

  createRule(input: AlertRuleInput, by: string): Promise<AlertRule> {
    return this.rules.create(input, by, this.now());
  }

  async updateRule(id: string, input: AlertRuleInput): Promise<AlertRule | null> {
    const changed = await this.rules.update(id, input, this.now());
    if (!changed) return null;
    const { before, after } = changed;
    // Open alerts were raised under the old meaning of the rule; under a new one they would mislead.
    const meaningChanged =
      before.kind !== after.kind || !after.enabled || before.scope.kind !== after.scope.kind || before.scope.nodeId !== after.scope.nodeId;
    if (meaningChanged) await this.serially(() => this.engine.ruleRemoved(id, 'rule-changed', this.now()));
    return after;
  }

  async deleteRule(id: string): Promise<boolean> {
    const deleted = await this.rules.delete(id);
    if (deleted) await this.serially(() => this.engine.ruleRemoved(id, 'rule-deleted', this.now()));
    return deleted;
  }

  async testRule(id: string): Promise<WebhookTestResult | null> {
    const rule = this.rules.get(id);
    if (!rule) return null;
    return this.engine.test(rule, this.now());
  }

  listAlerts(query: AlertQuery): Promise<Page<Alert>> {
    return this.engine.list(query);
  }

  async alertGroups(by: AlertGroupBy, state?: AlertState): Promise<Page<AlertGroup>> {
    const groups = new Map<string, AlertGroup & { deviceIds: Set<string> }>();
    const pageSize = 1000;
    // Newest first; bounded (a whole region's channels down is 5,000 alerts, still one read of a few pages).
    for (let offset = 0; offset < MAX_GROUPED_ALERTS; offset += pageSize) {
      const page = await this.engine.list({ state, offset, limit: pageSize });
      for (const alert of page.items) {
        const place = alert.place ?? this.grouping.placeOf(alert.channelId);
        const key = by === 'device' ? alert.deviceId : (place?.id ?? '');
        let group = groups.get(key);
        if (!group) {
          const deviceName = alert.deviceName || this.deps.registry.get(alert.deviceId)?.name || '';
          group = {
            key,
            by,
            name: by === 'device' ? deviceName || alert.deviceId : (place?.name ?? ''),
            deviceId: by === 'device' ? alert.deviceId : null,
            place,
            count: 0,
            devices: 0,
            firstFiredAt: alert.firedAt,
            lastFiredAt: alert.firedAt,
            alerts: [],
            deviceIds: new Set(),
          };
          groups.set(key, group);
        }
        group.count++;
        group.deviceIds.add(alert.deviceId);
        group.firstFiredAt = Math.min(group.firstFiredAt, alert.firedAt);
        group.lastFiredAt = Math.max(group.lastFiredAt, alert.firedAt);
        if (group.alerts.length < ALERTS_PER_GROUP) group.alerts.push(alert);
      }
      if (page.items.length < pageSize) break;
    }
    const items = [...groups.values()]
      .map(({ deviceIds, ...group }) => ({ ...group, devices: deviceIds.size }))
      .sort((a, b) => b.count - a.count || b.lastFiredAt - a.lastFiredAt);
    return { total: items.length, items };
  }

  evaluate(at?: number): Promise<EvaluationReport> {
    return this.serially(() => this.evaluatePass(at ?? this.now()));
  }

  // ------------------------------------------------------------------------------------------ internals

  private async evaluatePass(now: number): Promise<EvaluationReport> {
    const rules = this.rules.list();
    const openIds = this.engine.openChannelIds();
    const membership: HealthMembership | null = rules.some((r) => r.scope.kind !== 'all') ? this.grouping.current() : null;
    const offline: AlertSubject[] = [];
    const subjects = new Map<string, AlertSubject>();
    let channels = 0;
    await this.scan(now, ({ ref, cls, since }) => {
      channels++;
      const rec = this.streamHealth.get(ref.id);
      const offlineNow = isOffline(cls.underlying);
      if (!offlineNow && !openIds.has(ref.id) && !(rec && rec.consecutiveFailures > 0)) return;
      const { grouping } = this;
      const channelId = ref.id;
      const subject: AlertSubject = {
        channelId: ref.id,
        channelName: this.deps.tree.nameOf(ref.id) ?? '',
        deviceId: ref.deviceId,
        deviceName: this.deps.registry.get(ref.deviceId)?.name ?? '',
        civilCode: ref.civilCode,
        // Looked up only when an alert is raised (a region down is thousands of subjects every pass).
        get place() {
          return grouping.placeOf(channelId);
        },
        status: cls.status,
        underlying: cls.underlying,
        reason: cls.reason,
        reasonCode: cls.reasonCode,
        since,
        offlineSince: offlineNow ? (cls.status === 'maintenance' ? null : since) : null,
        maintenance: cls.status === 'maintenance',
        consecutiveFailures: rec?.consecutiveFailures ?? 0,
        consecutiveSuccesses: rec?.consecutiveSuccesses ?? 0,
      };
      subjects.set(ref.id, subject);
      if (offlineNow) offline.push(subject);
    });
    const world: AlertWorld = {
      offline: () => offline,
      failing: (min) => [...subjects.values()].filter((s) => s.consecutiveFailures >= min),
      subject: (id) => subjects.get(id) ?? null,
      inScope: (scope, s) =>
        scope.kind === 'all' || (scope.nodeId !== null && membership !== null && membership.isUnder(scope.kind, s.channelId, scope.nodeId)),
    };
    const result = await this.engine.evaluate(rules, world, now);
    this.episodes.prune(now);
    return { at: now, channels, ...result };
  }

  /**
   * One pass over every video channel: classify, advance the status clock, hand each to `visit`. Yields to
   * the event loop every few thousand channels: at 150,000 channels a pass takes a few hundred milliseconds,
   * and SIP keepalives must not wait for it.
   */
  private async scan(now: number, visit: (scanned: Scanned) => void): Promise<void> {
    const active = this.activeStreams();
    let n = 0;
    for (const ref of this.deps.tree.channels()) {
      const cls = this.classifier.classify(ref, now, active.get(ref.id));
      const reading = this.clock.observe(ref.id, cls.status, cls.ownSince, cls.deviceSince, now);
      if (reading.entered && cls.status === 'channel-offline') this.episodes.channelWentOffline(ref.id, now);
      visit({ ref, cls, since: reading.since });
      if (++n % SCAN_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Figures overall and for every node of both trees (snapshots keep them all, for "yesterday" at any level). */
  /** Figures overall and per node; with a scope, only what is in it (a scoped user's summary). */
  private async aggregate(now: number, membership: HealthMembership = this.grouping.current(), scope?: HealthScope): Promise<Aggregates> {
    const overall = new FigureCounter();
    const tables: Record<HealthGroupBy, Map<string, FigureCounter>> = { region: new Map(), group: new Map() };
    const devicesUnder: Record<HealthGroupBy, Map<string, Set<string>>> = { region: new Map(), group: new Map() };
    const devices = scope ? [...this.deps.registry.all()].filter((d) => scope.coversDevice(d.id)) : [...this.deps.registry.all()];
    for (const device of devices) overall.addDevice(device.status === 'online');
    const withChannels = new Set<string>();
    await this.scan(now, ({ ref, cls }) => {
      if (scope && !scope.coversChannel(ref.id)) return;
      overall.addChannel(ref.online, cls.status);
      withChannels.add(ref.deviceId);
      for (const by of GROUPINGS) {
        for (const node of membership.nodesAbove(by, ref.id)) {
          counterIn(tables[by], node).addChannel(ref.online, cls.status);
          memberSet(devicesUnder[by], node).add(ref.deviceId);
        }
      }
    });
    // A registered device that reported no channel counts where the tree shows it (as a leaf of its own).
    for (const device of devices) {
      if (withChannels.has(device.id)) continue;
      if (scope && !scope.coversChannel(device.id)) continue;
      for (const by of GROUPINGS) for (const node of membership.nodesAbove(by, device.id)) memberSet(devicesUnder[by], node).add(device.id);
    }
    for (const by of GROUPINGS) {
      for (const [node, members] of devicesUnder[by]) {
        const counter = counterIn(tables[by], node);
        for (const id of members) counter.addDevice(this.deps.registry.isOnline(id));
      }
    }
    return { at: now, overall, regions: tables.region, groups: tables.group };
  }

  private healthOf(ref: ChannelRef, now: number, active: readonly StreamView[]): ChannelHealth {
    const cls = this.classifier.classify(ref, now, active);
    const reading = this.clock.observe(ref.id, cls.status, cls.ownSince, cls.deviceSince, now);
    return this.toHealth(ref, cls, reading.since, now);
  }

  private toHealth(ref: ChannelRef, cls: Classification, since: number | null, now: number): ChannelHealth {
    const device: Device | undefined = this.deps.registry.get(ref.deviceId);
    const deviceOffline = cls.underlying === 'device-offline' && device !== undefined;
    const lastError = this.classifier.lastError(ref, now);
    return {
      channelId: ref.id,
      name: this.deps.tree.nameOf(ref.id) ?? '',
      deviceId: ref.deviceId,
      deviceName: device?.name ?? '',
      civilCode: ref.civilCode,
      status: cls.status,
      reason: cls.reason,
      reasonCode: cls.reasonCode,
      since,
      durationSec: since === null ? null : Math.max(0, Math.floor((now - since) / 1000)),
      lastKeepaliveAt: device?.lastKeepaliveAt ?? null,
      lastSeenAt: deviceOffline ? lastSignOfLife(device) : null,
      detectedAt: deviceOffline ? device.statusChangedAt : null,
      lastError: lastError?.text ?? null,
      lastErrorCode: lastError?.code ?? null,
      episodes24h: this.episodes.count(ref.id, ref.deviceId, now),
    };
  }

  /**
   * `offline`: the device or channel is offline, so nothing it shows now can be a stream figure: no sample and
   * no grade (a stale "poor, fps 0, 2 viewers" of a dead camera would read as the present).
   */
  private streamReport(channelId: string, active: readonly StreamView[], now: number, offline: boolean): StreamReport {
    const rec = this.streamHealth.get(channelId);
    const view = active.find((v) => v.stream === 'main') ?? active[0];
    const current: StreamSample | null = view ? sampleOf(view, now) : null;
    const history = rec ? [rec.samples.main, rec.samples.sub].filter((s): s is StreamSample => s !== undefined).sort((a, b) => b.at - a.at) : [];
    const lastActiveAt = current?.at ?? history[0]?.at ?? null;
    const last: StreamSample | null = offline ? null : (current ?? history[0] ?? null);
    const kind: StreamKind = last?.stream ?? 'main';
    const expected = expectationFor(rec?.lastGood[kind] ?? null, this.options.expectedFps, now);
    const stalls = rec ? this.streamHealth.stalls1h(rec, now) : 0;
    // Graded on what plays now; an ended stream's last figures are history, and only its stalls still count.
    const graded = offline ? { grade: 'unknown' as const, reasons: [], codes: [] } : gradeStream(current, expected, stalls);
    return {
      expected,
      last: last ? { ...last, active: view !== undefined && !offline } : null,
      lastActiveAt,
      grade: graded.grade,
      gradeReasons: graded.reasons,
      gradeReasonCodes: graded.codes,
      stalls1h: stalls,
      consecutiveFailures: rec?.consecutiveFailures ?? 0,
      consecutiveSuccesses: rec?.consecutiveSuccesses ?? 0,
      recentFailures: rec ? [...rec.recentFailures].reverse().map((f) => ({ ...f, messageCode: streamFailureCode(f.step) })) : [],
      probes: rec ? { ...rec.probes } : { ok: 0, failed: 0 },
    };
  }

  /** Playing streams by channel. */
  private activeStreams(): Map<string, StreamView[]> {
    const map = new Map<string, StreamView[]>();
    for (const view of this.deps.streams?.list() ?? []) {
      if (view.state !== 'playing') continue;
      const list = map.get(view.channelId);
      if (list) list.push(view);
      else map.set(view.channelId, [view]);
    }
    return map;
  }

  /** A video channel known to the tree, with its device and civil code; NotFoundError otherwise. */
  private async requireRef(channelId: string): Promise<ChannelRef> {
    const status = this.deps.tree.channelStatus(channelId);
    const channel = status === undefined ? null : await this.deps.store.getChannel(channelId);
    if (status === undefined || !channel || channel.kind !== 'channel') throw new NotFoundError(`channel ${channelId} not found (or not a video channel)`);
    return { id: channelId, deviceId: channel.deviceId, civilCode: channel.civilCode || channel.deviceId.slice(0, 8), online: status === 'online' };
  }

  /**
   * Read back the last 24 h of status events for the episode counts. A few thousand are read in pages over the
   * whole day; more in 15-minute windows, since offset paging over a day would rescan the skipped rows on
   * every page (a registration storm alone writes 50,000 events).
   */
  private async seedEpisodes(startedAt: number): Promise<void> {
    const pageSize = 1000;
    const from = startedAt - EPISODE_WINDOW_MS;
    const read = (since: number, until: number, offset: number) => this.deps.store.listStatusEvents({ since, until, offset, limit: pageSize });
    const first = await read(from, startedAt - 1, 0);
    if (first.total <= SEED_WHOLE_DAY_MAX) {
      this.episodes.seed(first.items, startedAt);
      for (let offset = pageSize; offset < first.total; offset += pageSize) this.episodes.seed((await read(from, startedAt - 1, offset)).items, startedAt);
    } else {
      let seen = 0;
      for (let start = from; start < startedAt && seen < MAX_SEEDED_EVENTS; start += SEED_WINDOW_MS) {
        const until = Math.min(start + SEED_WINDOW_MS, startedAt) - 1;
        for (let offset = 0; seen < MAX_SEEDED_EVENTS; offset += pageSize) {
          const page = await read(start, until, offset);
          this.episodes.seed(page.items, startedAt);
          seen += page.items.length;
          if (page.items.length < pageSize) break;
        }
      }
    }
    this.logger.debug({ events: first.total }, 'offline episodes of the last 24 h read back');
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private every(ms: number, task: () => Promise<unknown>, what: string): void {
    const timer = setInterval(() => {
      if (this.closed) return;
      task().catch((err: unknown) => this.logger.error({ err }, `${what} failed`));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/**
 * One row per offline device with several channels in the list (an NVR down is one problem with its channels
 * inside); the row keeps its first channel's fields, named after the device. Channels of online devices, and
 * a device with one channel (an IPC), stay as they are.
 */
function rollUpDevices(rows: ChannelHealth[]): ChannelHealth[] {
  const byDevice = new Map<string, ChannelHealth[]>();
  for (const row of rows) {
    if (row.status !== 'device-offline') continue;
    const list = byDevice.get(row.deviceId);
    if (list) list.push(row);
    else byDevice.set(row.deviceId, [row]);
  }
  const out: ChannelHealth[] = [];
  const emitted = new Set<string>();
  for (const row of rows) {
    const siblings = row.status === 'device-offline' ? byDevice.get(row.deviceId) : undefined;
    if (!siblings || siblings.length < 2) {
      out.push(row);
      continue;
    }
    if (emitted.has(row.deviceId)) continue;
    emitted.add(row.deviceId);
    siblings.sort((a, b) => (a.channelId < b.channelId ? -1 : 1));
    const first = siblings[0];
    out.push({
      ...first,
      name: first.deviceName || first.deviceId,
      episodes24h: Math.max(...siblings.map((s) => s.episodes24h)),
      channels: siblings.map((s) => ({ channelId: s.channelId, name: s.name })),
    });
  }
  return out;
}

function matches(row: ChannelHealth, q: string): boolean {
  return (
    row.name.toLowerCase().includes(q) ||
    row.deviceName.toLowerCase().includes(q) ||
    row.channelId.startsWith(q) ||
    row.deviceId.startsWith(q)
  );
}

/** Sort by any column, nulls last in either order, then by channel id for stable pages. */
function comparator(field: HealthSortField, order: 'asc' | 'desc'): (a: ChannelHealth, b: ChannelHealth) => number {
  const dir = order === 'asc' ? 1 : -1;
  const value = (r: ChannelHealth): string | number | null => (field === 'status' ? SEVERITY[r.status] : r[field]);
  return (a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va !== vb) {
      if (va === null) return 1;
      if (vb === null) return -1;
      // Code-point order for text (localeCompare costs seconds on large lists).
      return (va < vb ? -1 : 1) * dir;
    }
    if (field === 'status' && a.durationSec !== b.durationSec) {
      // Within one status, the longest-standing first.
      return (b.durationSec ?? -1) - (a.durationSec ?? -1);
    }
    return a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0;
  };
}

