/**
 * Prometheus metrics of one gateway process. One `GatewayMetrics` owns its own prom-client `Registry`
 * (never the global one) so that tests and several gateways in one process do not collide.
 *
 * Label values that come from the network (SIP methods, response codes) or from callers (reasons) are
 * bounded here: an unbounded label is a memory leak in Prometheus and in this process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type SipDirection = 'in' | 'out';
export type SipMessageKind = 'request' | 'response';

/** Media resources a leak would show in (cascade legs, device dialogs, RTP ports). */
export interface CascadeMediaCounts {
  legs: Record<string, number>;
  mediaDialogs: number;
  mediaPorts: number;
}

export interface DeviceCounts {
  registered: number;
  online: number;
}

/** Methods the gateway speaks or may receive (RFC 3261 + extensions used by GB/T 28181). */
const KNOWN_SIP_METHODS = new Set([
  'REGISTER', 'MESSAGE', 'INVITE', 'ACK', 'BYE', 'CANCEL', 'INFO', 'OPTIONS',
  'SUBSCRIBE', 'NOTIFY', 'UPDATE', 'PRACK', 'REFER', 'PUBLISH',
]);

/** Distinct values a free-form label (reason, operation, route) may take before new values become "other". */
const MAX_DISTINCT_LABEL_VALUES = 64;

/**
 * Maps label values to themselves until `limit` distinct values were seen, then to "other".
 * Callers pass code constants, so the limit is a guard against a bug, not a normal path.
 */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly limit: number = MAX_DISTINCT_LABEL_VALUES) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.limit) return 'other';
    this.seen.add(raw);
    return raw;
  }
}

/** Store write latencies: 1 ms … 5 s (a write behind that takes longer is an outage, not a latency). */
const STORE_WRITE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Sums over the running streams, read at scrape time. */
/** One reader of a running stream (media core), for the per-kind reader gauges. */
export interface StreamReaderFigure {
  kind: string;
  backlog: number;
  lagMs: number;
}

export interface StreamTotals {
  bitrateKbps: number;
  packets: number;
  packetsLost: number;
  foreignSsrcDropped: number;
  viewers: number;
  frames: number;
  bytes: number;
  droppedFrames: number;
  /** Viewers that listen (asked for audio). */
  listeners: number;
  /** Streams whose AAC rendition (G.711 to AAC for listeners) runs. */
  audioRenditions: number;
}

/** Consultation sessions, read at scrape time. */
export interface SessionCounts {
  active: number;
  /** Open session WebSockets. */
  connections: number;
}

export class GatewayMetrics {
  readonly registry = new Registry();

  private deviceCountsProvider: (() => DeviceCounts) | null = null;
  private streamCountProvider: (() => number) | null = null;
  private cascadeMediaProvider: (() => CascadeMediaCounts) | null = null;
  private readonly cascadeUpperRefusals: Counter<'reason'>;
  private readonly streamFailures: Counter<'step'>;
  private readonly streamTtff: Histogram;
  private streamTotalsProvider: (() => StreamTotals) | null = null;
  private streamReadersProvider: (() => StreamReaderFigure[]) | null = null;

  private readonly sipMessages: Counter<'direction' | 'kind' | 'method' | 'code'>;
  private readonly sipParseErrors: Counter<'reason'>;
  private readonly sipAuthFailures: Counter<'reason'>;
  private readonly sipLockouts: Counter;
  private readonly cascadePtz: Counter;
  private readonly sipRejected: Counter<'reason'>;
  private readonly sipThrottled: Counter<'outcome'>;
  private readonly storeWriteSeconds: Histogram<'operation'>;
  private readonly storeWriteFailures: Counter<'operation'>;
  private readonly storeQueueDropped: Counter<'kind'>;
  private readonly storeAcksNotDurable: Counter<'outcome'>;
  private storeQueueProvider: (() => { queued: number; degraded: boolean }) | null = null;
  private readonly wsClientsGauge: Gauge;
  private readonly wsDroppedClients: Counter<'reason'>;
  private readonly catalogItemsCounter: Counter;
  private readonly alarmsCounter: Counter;
  private readonly mobilePositionsCounter: Counter<'outcome'>;
  private readonly deviceEventsCounter: Counter<'kind' | 'raised'>;
  private readonly onvifEventFeeds: Counter<'event' | 'reason'>;
  private readonly apiRequests: Counter<'route' | 'code'>;
  private readonly sessionJoinFailures: Counter<'reason'>;
  private readonly sessionWsDrops: Counter<'reason'>;
  private sessionCountsProvider: (() => SessionCounts) | null = null;
  private readonly healthAlerts: Counter<'event'>;
  private readonly healthWebhookDeliveries: Counter<'outcome'>;
  private readonly healthWebhookRetries: Counter;
  private readonly healthProbes: Counter<'outcome'>;
  private readonly mediaMuxSocketsGauge: Gauge;
  private readonly mediaMuxRequests: Counter<'code'>;
  private readonly mediaMuxBytes: Counter;
  private readonly mediaMuxProtocolErrors: Counter;

  private readonly parseErrorReasons = new BoundedLabel();
  private readonly authFailureReasons = new BoundedLabel();
  private readonly storeOperations = new BoundedLabel();
  private readonly wsDropReasons = new BoundedLabel(16);
  // Routes come from the router's patterns (bounded by the code), plus "unmatched" for 404s.
  private readonly apiRoutes = new BoundedLabel(256);

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });

    // Gauges read the registry's source of truth at scrape time instead of being pushed on every change.
    const self = this;
    new Gauge({
      name: 'se_devices_registered',
      help: 'Devices known to the registry (registered at least once).',
      registers,
      collect() {
        const counts = self.deviceCountsProvider?.();
        if (counts) this.set(counts.registered);
      },
    });
    new Gauge({
      name: 'se_devices_online',
      help: 'Devices currently online.',
      registers,
      collect() {
        const counts = self.deviceCountsProvider?.();
        if (counts) this.set(counts.online);
      },
    });

    new Gauge({
      name: 'se_streams_active',
      help: 'Live streams currently open (starting or playing).',
      registers,
      collect() {
        const n = self.streamCountProvider?.();
        if (n !== undefined) this.set(n);
      },
    });
    new Gauge({
      name: 'se_cascade_upward_legs',
      help: 'Streams sent to upper platforms (cascade legs), by what was asked: live, playback, download.',
      labelNames: ['kind'],
      registers,
      collect() {
        const c = self.cascadeMediaProvider?.();
        if (c) for (const [kind, n] of Object.entries(c.legs)) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'se_media_dialogs',
      help: 'INVITE dialogs open with devices (live, playback, download).',
      registers,
      collect() {
        const c = self.cascadeMediaProvider?.();
        if (c) this.set(c.mediaDialogs);
      },
    });
    new Gauge({
      name: 'se_media_ports_in_use',
      help: 'RTP receive ports held by open streams.',
      registers,
      collect() {
        const c = self.cascadeMediaProvider?.();
        if (c) this.set(c.mediaPorts);
      },
    });
    this.cascadeUpperRefusals = new Counter({
      name: 'se_cascade_upper_refused_total',
      help: 'Requests from upper platforms refused: unshared channel, bad SDP / session / t= range / download speed, MANSRTSP that does not decode, playback control refused, unknown dialog, source failed.',
      labelNames: ['reason'],
      registers,
    });
    this.streamTtff = new Histogram({
      name: 'se_stream_time_to_first_frame_seconds',
      help: 'From the play request to the first playable HLS segment.',
      buckets: [0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 20],
      registers,
    });
    const totals: Array<[keyof StreamTotals, string, string]> = [
      ['bitrateKbps', 'se_streams_bitrate_kbps', 'Incoming media bitrate over all running streams, kb/s.'],
      ['packets', 'se_streams_rtp_packets', 'RTP packets received by the running streams.'],
      ['packetsLost', 'se_streams_rtp_packets_lost', 'RTP packets lost (sequence gaps) in the running streams.'],
      ['foreignSsrcDropped', 'se_streams_foreign_ssrc_dropped', 'Packets with a foreign SSRC dropped by the running streams (crosstalk prevented).'],
      ['viewers', 'se_streams_viewers', 'Viewers of the running streams.'],
      ['frames', 'se_streams_frames', 'Video frames the running streams received.'],
      ['bytes', 'se_streams_media_bytes', 'Media payload bytes the running streams received.'],
      ['droppedFrames', 'se_streams_dropped_frames', 'Frames the running streams dropped before their readers (broken PS, waiting for a keyframe, bad parameter sets).'],
      ['listeners', 'se_streams_listeners', 'Viewers of the running streams that listen (their HLS carries the audio as AAC).'],
      ['audioRenditions', 'se_streams_audio_renditions', 'Running streams whose AAC rendition (ffmpeg: G.711 to AAC, video copied) runs for listeners.'],
    ];
    for (const [key, name, help] of totals) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const t = self.streamTotalsProvider?.();
          if (t) this.set(t[key]);
        },
      });
    }
    // Per reader kind (llhls, ffmpeg-hls, fmp4-live, snapshot): how many, bytes waiting, worst lag.
    const byKind = (): Map<string, { n: number; backlog: number; lag: number }> => {
      const out = new Map<string, { n: number; backlog: number; lag: number }>();
      for (const r of self.streamReadersProvider?.() ?? []) {
        const e = out.get(r.kind) ?? { n: 0, backlog: 0, lag: 0 };
        e.n++;
        e.backlog += r.backlog;
        e.lag = Math.max(e.lag, r.lagMs / 1000);
        out.set(r.kind, e);
      }
      return out;
    };
    const readerGauges: Array<[string, string, 'n' | 'backlog' | 'lag']> = [
      ['se_stream_readers', 'Readers of the running streams, by kind.', 'n'],
      ['se_stream_reader_backlog_bytes', 'Bytes the readers of the running streams hold undelivered, by kind.', 'backlog'],
      ['se_stream_reader_max_lag_seconds', 'Largest delay between a unit arriving and reaching its reader, by kind.', 'lag'],
    ];
    for (const [name, help, field] of readerGauges) {
      new Gauge({
        name,
        help,
        labelNames: ['kind'],
        registers,
        collect() {
          this.reset();
          for (const [kind, e] of byKind()) this.set({ kind }, e[field]);
        },
      });
    }
    this.streamFailures = new Counter({
      name: 'se_stream_failures_total',
      help: 'Live streams that failed, by the step that failed (invite, answer, rtp, keyframe, packager, ...).',
      labelNames: ['step'],
      registers,
    });

    this.sipMessages = new Counter({
      name: 'se_sip_messages_total',
      help: 'SIP messages received (in) and sent (out), by kind, method and response code.',
      labelNames: ['direction', 'kind', 'method', 'code'],
      registers,
    });
    this.sipParseErrors = new Counter({
      name: 'se_sip_parse_errors_total',
      help: 'SIP datagrams or stream frames that could not be parsed, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.sipAuthFailures = new Counter({
      name: 'se_sip_auth_failures_total',
      help: 'Failed SIP digest authentications, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.sipLockouts = new Counter({
      name: 'se_sip_lockouts_total',
      help: 'Devices or sources locked out after repeated authentication failures.',
      registers,
    });
    this.cascadePtz = new Counter({
      name: 'se_cascade_ptz_total',
      help: 'PTZ DeviceControl from upper platforms, by outcome: relayed, lease-held (another holds the camera), refused (bad PTZCmd, unknown or offline channel).',
      labelNames: ['outcome'],
      registers,
    });
    this.sipRejected = new Counter({
      name: 'se_sip_rejected_total',
      help: 'MESSAGE/NOTIFY/INFO refused: unregistered, source-mismatch, transport-mismatch (403, before any work); bad-sender, bad-body, bad-sn, bad-device-id (400).',
      labelNames: ['reason'],
      registers,
    });
    this.sipThrottled = new Counter({
      name: 'se_sip_throttled_total',
      help: 'REGISTERs over their source\'s budget: answered 503 with Retry-After, or dropped until then.',
      labelNames: ['outcome'],
      registers,
    });
    this.storeWriteSeconds = new Histogram({
      name: 'se_store_write_seconds',
      help: 'Duration of store writes, by operation.',
      labelNames: ['operation'],
      buckets: STORE_WRITE_BUCKETS,
      registers,
    });
    this.storeWriteFailures = new Counter({
      name: 'se_store_write_failures_total',
      help: 'Store writes that failed, by operation.',
      labelNames: ['operation'],
      registers,
    });
    new Gauge({
      name: 'se_store_queue_depth',
      help: 'Rows queued for the store (write-behind and group commit); grows during a store outage.',
      registers,
      collect() {
        const q = self.storeQueueProvider?.();
        if (q) this.set(q.queued);
      },
    });
    new Gauge({
      name: 'se_store_degraded',
      help: '1 while store writes fail (the gateway serves from memory and queues writes), else 0.',
      registers,
      collect() {
        const q = self.storeQueueProvider?.();
        if (q) this.set(q.degraded ? 1 : 0);
      },
    });
    this.storeQueueDropped = new Counter({
      name: 'se_store_queue_dropped_total',
      help: 'History rows (status events, alarms) dropped because the store queue hit store.maxQueuedWrites.',
      labelNames: ['kind'],
      registers,
    });
    this.storeAcksNotDurable = new Counter({
      name: 'se_store_acks_not_durable_total',
      help: 'REGISTER answers (outcome timeout/degraded) and catalog part answers (outcome catalog-part) sent before their state was durable: store degraded or slow, or store.commitWaitMs passed.',
      labelNames: ['outcome'],
      registers,
    });
    this.wsClientsGauge = new Gauge({
      name: 'se_ws_clients',
      help: 'WebSocket event clients currently connected.',
      registers,
    });
    this.wsDroppedClients = new Counter({
      name: 'se_ws_dropped_clients_total',
      help: 'WebSocket clients disconnected for being too slow (backlog over its cap or stalled too long).',
      labelNames: ['reason'],
      registers,
    });
    this.catalogItemsCounter = new Counter({
      name: 'se_catalog_items_total',
      help: 'Catalog items received from devices.',
      registers,
    });
    this.mobilePositionsCounter = new Counter({
      name: 'se_mobile_positions_total',
      help: 'Mobile position reports (GB MobilePosition) by outcome: accepted, unusable (no coordinates), foreign (a channel of another device).',
      labelNames: ['outcome'],
      registers,
    });
    this.alarmsCounter = new Counter({
      name: 'se_alarms_total',
      help: 'Alarm notifications received from devices.',
      registers,
    });
    this.deviceEventsCounter = new Counter({
      name: 'se_device_events_total',
      help: 'Events of added devices (ONVIF PullPoint) by kind; raised="true" for the rising edges that became alarms.',
      labelNames: ['kind', 'raised'],
      registers,
    });
    this.onvifEventFeeds = new Counter({
      name: 'se_onvif_event_feeds_total',
      help: 'ONVIF PullPoint feeds: subscriptions created (event="subscribed") and failures (event="failed", by reason).',
      labelNames: ['event', 'reason'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'se_api_requests_total',
      help: 'HTTP API requests, by route pattern and status code.',
      labelNames: ['route', 'code'],
      registers,
    });
    this.sessionJoinFailures = new Counter({
      name: 'se_session_join_failures_total',
      help: 'Refused joins of consultation sessions by code: wrong-code, or rate-limited (too many wrong codes from one address).',
      labelNames: ['reason'],
      registers,
    });
    this.sessionWsDrops = new Counter({
      name: 'se_session_ws_dropped_total',
      help: 'Session WebSockets closed by the gateway: stalled (slow reader), no-pong, flooding.',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'se_sessions_active',
      help: 'Consultation sessions not yet ended.',
      registers,
      collect() {
        const counts = self.sessionCountsProvider?.();
        if (counts) this.set(counts.active);
      },
    });
    new Gauge({
      name: 'se_session_ws_clients',
      help: 'Session WebSockets currently open (chairs and points).',
      registers,
      collect() {
        const counts = self.sessionCountsProvider?.();
        if (counts) this.set(counts.connections);
      },
    });
    this.healthAlerts = new Counter({
      name: 'se_health_alert_notifications_total',
      help: 'Health alert notifications, by event (fired, reminder, recovered, cleared).',
      labelNames: ['event'],
      registers,
    });
    this.healthWebhookDeliveries = new Counter({
      name: 'se_health_webhook_deliveries_total',
      help: 'Alert webhook deliveries, by outcome (delivered, failed after retries, dropped from a full queue or at shutdown).',
      labelNames: ['outcome'],
      registers,
    });
    this.healthWebhookRetries = new Counter({
      name: 'se_health_webhook_retries_total',
      help: 'Alert webhook attempts repeated after a network error, timeout, 5xx or 429.',
      registers,
    });
    this.healthProbes = new Counter({
      name: 'se_health_probes_total',
      help: 'Stream probes from the health console, by outcome (ok, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.mediaMuxSocketsGauge = new Gauge({
      name: 'se_media_mux_sockets',
      help: 'Media WebSockets (/api/media/ws) currently open: one per wall page that fetches HLS over it.',
      registers,
    });
    this.mediaMuxRequests = new Counter({
      name: 'se_media_mux_requests_total',
      help: 'Requests answered over media WebSockets (playlists, segments, and the page\'s plays and releases), by status code.',
      labelNames: ['code'],
      registers,
    });
    this.mediaMuxBytes = new Counter({
      name: 'se_media_mux_bytes_total',
      help: 'Media bytes (bodies) sent over media WebSockets.',
      registers,
    });
    this.mediaMuxProtocolErrors = new Counter({
      name: 'se_media_mux_protocol_errors_total',
      help: 'Media WebSocket messages that were not a valid request (answered with an error frame).',
      registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** The composition root supplies the registry's counts; read on every scrape. */
  setDeviceCountsProvider(provider: () => DeviceCounts): void {
    this.deviceCountsProvider = provider;
  }

  setCascadeMediaProvider(provider: () => CascadeMediaCounts): void {
    this.cascadeMediaProvider = provider;
  }

  /** Reasons are UpwardLegs' fixed set (UpperRefusal in domain/cascade/upward-legs.ts). */
  cascadeUpperRefused(reason: string): void {
    this.cascadeUpperRefusals.inc({ reason });
  }

  setStreamCountProvider(provider: () => number): void {
    this.streamCountProvider = provider;
  }

  setStreamTotalsProvider(provider: () => StreamTotals): void {
    this.streamTotalsProvider = provider;
  }

  setStreamReadersProvider(provider: () => StreamReaderFigure[]): void {
    this.streamReadersProvider = provider;
  }

  streamStarted(timeToFirstFrameMs: number): void {
    this.streamTtff.observe(timeToFirstFrameMs / 1000);
  }

  /** Steps are a fixed set chosen by the stream service, so the label stays bounded. */
  streamFailed(step: string): void {
    this.streamFailures.inc({ step });
  }

  // ---- SIP

  /** `method` is the request method or, for responses, the CSeq method; `code` is '' for requests. */
  sipMessage(direction: SipDirection, kind: SipMessageKind, method: string, code: string | number): void {
    const upper = method.toUpperCase();
    const methodLabel = upper === '' ? '' : KNOWN_SIP_METHODS.has(upper) ? upper : 'other';
    const codeText = String(code);
    const codeLabel = codeText === '' ? '' : /^[1-6]\d\d$/.test(codeText) ? codeText : 'other';
    this.sipMessages.inc({ direction, kind, method: methodLabel, code: codeLabel });
  }

  parseError(reason: string): void {
    this.sipParseErrors.inc({ reason: this.parseErrorReasons.value(reason) });
  }

  authFailure(reason: string): void {
    this.sipAuthFailures.inc({ reason: this.authFailureReasons.value(reason) });
  }

  lockout(): void {
    this.sipLockouts.inc();
  }

  cascadePtzCommand(outcome: 'relayed' | 'lease-held' | 'refused'): void {
    this.cascadePtz.inc({ outcome });
  }

  /** Reasons are the signalling engine's fixed set (RejectionReason in protocol/gb28181/source-trust.ts). */
  sipRequestRejected(reason: 'unregistered' | 'source-mismatch' | 'transport-mismatch' | 'bad-sender' | 'bad-body' | 'bad-sn' | 'bad-device-id'): void {
    this.sipRejected.inc({ reason });
  }

  sipRegisterThrottled(outcome: '503' | 'dropped'): void {
    this.sipThrottled.inc({ outcome });
  }

  // ---- store

  storeWrite(operation: string, seconds: number): void {
    this.storeWriteSeconds.observe({ operation: this.storeOperations.value(operation) }, seconds);
  }

  storeWriteFailed(operation: string): void {
    this.storeWriteFailures.inc({ operation: this.storeOperations.value(operation) });
  }

  setStoreQueueProvider(provider: () => { queued: number; degraded: boolean }): void {
    this.storeQueueProvider = provider;
  }

  storeQueueDroppedRows(kind: 'status-events' | 'alarms', count: number): void {
    this.storeQueueDropped.inc({ kind }, count);
  }

  storeAckNotDurable(outcome: 'timeout' | 'degraded' | 'catalog-part'): void {
    this.storeAcksNotDurable.inc({ outcome });
  }

  // ---- domain

  catalogItems(count: number): void {
    if (count > 0) this.catalogItemsCounter.inc(count);
  }

  mobilePosition(outcome: 'accepted' | 'unusable' | 'foreign'): void {
    this.mobilePositionsCounter.inc({ outcome });
  }

  alarmReceived(): void {
    this.alarmsCounter.inc();
  }

  deviceEvent(kind: string, raised: boolean): void {
    this.deviceEventsCounter.inc({ kind, raised: String(raised) });
  }

  onvifEventFeed(event: 'subscribed' | 'failed', reason = ''): void {
    this.onvifEventFeeds.inc({ event, reason });
  }

  // ---- WebSocket hub and HTTP API

  wsClientConnected(): void {
    this.wsClientsGauge.inc();
  }

  wsClientDisconnected(): void {
    this.wsClientsGauge.dec();
  }

  /** A slow client was closed: 'backlog' (too many coalesced keys), 'alarm-backlog', 'stalled' (no progress). */
  wsClientDropped(reason: string): void {
    this.wsDroppedClients.inc({ reason: this.wsDropReasons.value(reason) });
  }

  mediaMuxSocketOpened(): void {
    this.mediaMuxSocketsGauge.inc();
  }

  mediaMuxSocketClosed(): void {
    this.mediaMuxSocketsGauge.dec();
  }

  /** Status codes come from the media resolver's fixed set (200, 400, 401, 403, 404, 409, 429, 500). */
  mediaMuxRequest(statusCode: number, bodyBytes: number): void {
    this.mediaMuxRequests.inc({ code: String(statusCode) });
    if (bodyBytes > 0) this.mediaMuxBytes.inc(bodyBytes);
  }

  mediaMuxProtocolError(): void {
    this.mediaMuxProtocolErrors.inc();
  }

  apiRequest(route: string, statusCode: number): void {
    this.apiRequests.inc({ route: this.apiRoutes.value(route), code: String(statusCode) });
  }

  // ---- consultation sessions (labels are fixed sets chosen by domain/sessions and the session WebSocket)

  setSessionCountsProvider(provider: () => SessionCounts): void {
    this.sessionCountsProvider = provider;
  }

  sessionJoinFailed(reason: 'wrong-code' | 'rate-limited'): void {
    this.sessionJoinFailures.inc({ reason });
  }

  sessionWsDropped(reason: 'stalled' | 'no-pong' | 'flooding'): void {
    this.sessionWsDrops.inc({ reason });
  }

  // ---- health console (labels are fixed sets chosen by domain/health)

  healthAlertNotification(event: 'fired' | 'reminder' | 'recovered' | 'cleared' | 'test'): void {
    this.healthAlerts.inc({ event });
  }

  healthWebhookDelivery(outcome: 'delivered' | 'failed' | 'dropped'): void {
    this.healthWebhookDeliveries.inc({ outcome });
  }

  healthWebhookRetry(): void {
    this.healthWebhookRetries.inc();
  }

  healthProbe(outcome: 'ok' | 'failed'): void {
    this.healthProbes.inc({ outcome });
  }

  // ---- users and access (domain/auth, domain/audit): one self-contained block

  private readonly apiLogins = new Counter<'result'>({
    name: 'se_api_logins_total',
    help: 'Web/API logins by result: ok, wrong-password (wrong username or password), locked-out (refused during a lockout).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly auditWriteFailures = new Counter({
    name: 'se_audit_write_failures_total',
    help: 'Audit log entries that could not be stored (the action itself went ahead; see the log).',
    registers: [this.registry],
  });

  apiLogin(result: 'ok' | 'wrong-password' | 'locked-out'): void {
    this.apiLogins.inc({ result });
  }

  auditWriteFailed(): void {
    this.auditWriteFailures.inc();
  }
}
