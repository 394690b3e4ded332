/**
 * One simulated GB/T 28181 device (IPC, NVR or lower platform): registers with digest auth, refreshes before
 * expiry, sends keepalives, answers the gateway's queries and controls, raises alarms.
 *
 * A device does not own sockets: it talks through a DeviceLink (SipTransport + SipEndpoint) that it may share
 * with up to ~1 000 other devices (like devices behind one NAT), and asks its host (the fleet) to pace its
 * registrations. All timing is per device: random keepalive phase, refresh at a fraction of the granted
 * expiry, retry after a jittered delay.
 */
import { randomBytes } from 'node:crypto';
import { header, type SipRequest, type SipResponse } from '../codecs/sip/message.js';
import { quote, tagOf } from '../codecs/sip/headers.js';
import { generateCallId, generateTag } from '../codecs/sip/builder.js';
import { computeDigestResponse, parseDigestParams, type DigestParams } from '../codecs/sip/digest.js';
import { decodePtz, type PtzCommand } from '../codecs/gb/ptz.js';
import { el, textAt } from '../codecs/manscdp/xml.js';
import { fromGbTime, toGbTime } from '../codecs/gb/gb-time.js';
import type { ManscdpCharset } from '../codecs/manscdp/charset.js';
import {
  decodeManscdp,
  encodeAlarmNotify,
  encodeCatalogResponse,
  encodeDeviceInfoResponse,
  encodeDeviceStatusResponse,
  encodeKeepalive,
  encodeRecordInfoResponse,
  encodeResponse,
  encodeMobilePositionNotify,
  type RecordItemFields,
  MANSCDP_CONTENT_TYPE,
  readDeviceControl,
  type ManscdpMessage,
} from '../codecs/manscdp/messages.js';
import type { ReplyFn, SipEndpoint } from '../protocol/sip-endpoint.js';
import type { SipTransport, TransportSource } from '../transport/sip-transport.js';
import type { CatalogListing, CatalogSource } from './catalog-source.js';
import { CatalogPacker } from '../protocol/gb28181/catalog-packer.js';
import type { DeviceFleetEvents, PtzLogEntry, SimDeviceKind } from './events.js';
import type { VendorProfile } from './identity.js';
import type { SimMediaService } from './media-session.js';
import { notifierDialog, readSubscribe, type GbEventPackage, type SubscriptionDialog } from '../protocol/gb28181/subscriptions.js';

/** A subscription the gateway holds with this device (we are the notifier). */
interface SimSubscription {
  dialog: SubscriptionDialog;
  /** MobilePosition: the report timer. */
  timer: NodeJS.Timeout | null;
}

/** A socket (SipTransport) and its transaction layer, shared by the devices behind it. */
export interface DeviceLink {
  readonly transport: SipTransport;
  readonly endpoint: SipEndpoint;
  readonly kind: 'udp' | 'tcp';
  /** Address and port the gateway sees (Via / Contact). */
  readonly host: string;
  readonly port: number;
}

/** Fleet-wide settings every device reads (resolved defaults). */
export interface SimDeviceConfig {
  serverId: string;
  serverDomain: string;
  /** Where REGISTER, keepalives and answers go. */
  server: { address: string; port: number };
  expiresSec: number;
  keepaliveSec: number;
  /** Unanswered keepalives in a row before the device registers again (GB default 3). */
  keepaliveMissLimit: number;
  /** Base delay before retrying a failed registration (jittered ±50 %); 0 = never retry. */
  retryDelayMs: number;
  /** Refresh the registration after this fraction of the granted expiry. */
  refreshFraction: number;
  transactionTimeoutMs: number;
  charset: ManscdpCharset;
  /** X-GB-ver header value ('3.0' = 2022), or null to leave it out (2016 devices). */
  gbVersion: string | null;
  /** Whole-message budget for UDP MESSAGEs of small devices (RFC 3261 §18.1.1: stay under the path MTU). */
  udpMessageBytes: number;
  /**
   * Budget for a lower platform's catalog over UDP: platforms pack many items (Annex M) and accept IP
   * fragmentation up to ~8 KB; beyond that only TCP is sensible.
   */
  udpPlatformMessageBytes: number;
  /** Whole-message budget for TCP MESSAGEs (the gateway's message limit is 64 KiB). */
  tcpMessageBytes: number;
  /** Fixed number of catalog items per MESSAGE (overrides the byte budgets), or null. */
  catalogItemsPerMessage: number | null;
  /** Raise an alarm every n ms (random phase), 0 = never. */
  alarmEveryMs: number;
  /**
   * Accept Alarm and MobilePosition SUBSCRIBEs (like a lower platform or a vehicle terminal; most IPCs refuse
   * them with 489): alarms then go as NOTIFYs in the Alarm dialog, and every channel's position is NOTIFYed at
   * the Interval the subscriber asked for, moving along a small circle.
   */
  eventSubscriptions: boolean;
}

export type DeviceState =
  | 'idle' // created, not started
  | 'waiting' // queued for a registration attempt
  | 'registering' // first REGISTER exchange in flight
  | 'registered'
  | 'failed' // last attempt failed (a retry may be scheduled)
  | 'silent' // stopDevices(): no traffic at all, requests unanswered, no unregister
  | 'stopped'; // fleet stopped

/** What a device needs from the fleet that hosts it. */
export interface DeviceHost {
  readonly config: SimDeviceConfig;
  emit<K extends keyof DeviceFleetEvents>(event: K, ...args: DeviceFleetEvents[K]): void;
  /** Queue a registration attempt (first, refresh or retry) behind the fleet's pacing. */
  requestRegistration(device: SimDevice): void;
  stateChanged(device: SimDevice, previous: DeviceState, next: DeviceState): void;
  /** Live-video calls (INVITE/ACK/BYE/CANCEL/INFO) of every device of the fleet. */
  readonly media: SimMediaService;
}

export interface SimDeviceSpec {
  id: string;
  kind: SimDeviceKind;
  name: string;
  vendor: VendorProfile;
  password: string;
  /** Channel IDs (an IPC lists itself). A platform computes its 150 000 lazily: read only when needed. */
  readonly channelIds: readonly string[];
  /** Default alarm source: the first channel. */
  alarmSourceId: string;
  catalog: CatalogSource;
  /** Channel count reported in DeviceInfo. */
  channelCount: number;
}

export interface AlarmOptions {
  /** 1 (highest) – 4. Default 1. */
  priority?: number;
  /** 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other. Default 5. */
  method?: number;
  /** Meaning depends on method (video: 2 motion, 6 intrusion…). Default 2. */
  type?: number | null;
  eventType?: number | null;
  description?: string;
  /** Alarm source: a channel of the device. Default: the first channel (an IPC: itself). */
  channelId?: string;
  longitude?: number | null;
  latitude?: number | null;
}

interface Challenge {
  params: DigestParams;
  /** Header to answer with. */
  answerHeader: 'authorization' | 'proxy-authorization';
  nc: number;
}

type RegisterOutcome = { ok: true; expires: number } | { ok: false; status: number | null; reason: string };

/** How many PTZ commands are kept per channel for ptzLog(). */
const PTZ_LOG_LIMIT = 64;
/** SIP header lines of a MESSAGE (Via, From, To, Call-ID, CSeq, Contact, User-Agent…): about 450 bytes. */
const SIP_HEADER_ALLOWANCE = 480;
/** Items per Catalog MESSAGE: real small devices send 1–4 (Dahua 1); platforms and TCP pack more. */
const MAX_ITEMS_SMALL_UDP = 4;
const MAX_ITEMS_LARGE = 100;
const ALLOW = 'INVITE, ACK, INFO, CANCEL, BYE, OPTIONS, MESSAGE';

/** Beijing local time without zone (GB XML dateTime), e.g. 2026-03-01T09:31:02. */
export function beijingTime(epochMs: number): string {
  return new Date(epochMs + 8 * 3_600_000).toISOString().slice(0, 19);
}

const jitter = (ms: number): number => Math.round(ms * (0.5 + Math.random()));

export class SimDevice {
  readonly id: string;
  readonly kind: SimDeviceKind;
  readonly name: string;
  readonly vendor: VendorProfile;
  readonly catalog: CatalogSource;

  private readonly spec: SimDeviceSpec;
  private stateValue: DeviceState = 'idle';
  private readonly password: string;
  private readonly channelCount: number;
  /** One Call-ID and From-tag for all REGISTERs of this device, as real devices do (refreshes included). */
  private readonly registerCallId: string;
  private readonly registerFromTag = generateTag();
  private registerCSeq = 0;
  private challenge: Challenge | null = null;
  private sn = 1 + Math.floor(Math.random() * 1_000);
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private keepaliveEnabled = true;
  private keepaliveInFlight = false;
  private keepaliveMisses = 0;
  private refreshTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private alarmTimer: NodeJS.Timeout | null = null;
  /** Alarm / MobilePosition subscriptions of the gateway, by package. */
  private readonly subscriptions = new Map<GbEventPackage, SimSubscription>();
  private positionStep = 0;
  /** Created on first PTZ command: 50 000 devices should not carry two empty Maps each. */
  private ptz: Map<string, PtzLogEntry[]> | null = null;
  private presets: Map<string, Set<number>> | null = null;
  private everRegistered = false;

  constructor(
    spec: SimDeviceSpec,
    private readonly link: DeviceLink,
    private readonly host: DeviceHost,
  ) {
    this.id = spec.id;
    this.kind = spec.kind;
    this.name = spec.name;
    this.vendor = spec.vendor;
    this.password = spec.password;
    this.spec = spec;
    this.catalog = spec.catalog;
    this.channelCount = spec.channelCount;
    this.registerCallId = generateCallId(link.host);
  }

  get channelIds(): readonly string[] {
    return this.spec.channelIds;
  }

  get state(): DeviceState {
    return this.stateValue;
  }

  /** Powered off (silent) or stopped: sends nothing, answers nothing. */
  isOff(): boolean {
    return this.stateValue === 'silent' || this.stateValue === 'stopped';
  }

  get registered(): boolean {
    return this.stateValue === 'registered';
  }

  /** The device's own transport (a TCP device has its own; UDP devices may share one). */
  get transportLink(): DeviceLink {
    return this.link;
  }

  /** Begin: queue the first registration. */
  start(): void {
    if (this.stateValue !== 'idle') return;
    this.setState('waiting');
    this.host.requestRegistration(this);
  }

  /** Called by the fleet's pacer: one registration attempt (first, refresh or retry). */
  async runRegistration(): Promise<void> {
    if (this.stateValue === 'silent' || this.stateValue === 'stopped' || this.stateValue === 'idle') return;
    const refresh = this.stateValue === 'registered';
    if (!refresh) this.setState('registering');
    const startedAt = Date.now();
    const outcome = await this.registerExchange(this.host.config.expiresSec);
    // stopDevices()/stop() may have happened while the exchange was in flight: stay quiet then.
    if (this.isOff()) return;
    if (outcome.ok) {
      this.setState('registered');
      this.everRegistered = true;
      this.host.emit('registered', { deviceId: this.id, expires: outcome.expires, elapsedMs: Date.now() - startedAt, refresh });
      this.scheduleRefresh(outcome.expires);
      this.startKeepalive();
      this.startAlarms();
      return;
    }
    this.stopPeriodic();
    this.setState('failed');
    this.host.emit('register-failed', { deviceId: this.id, status: outcome.status, reason: outcome.reason, kind: 'register' });
    const retry = this.host.config.retryDelayMs;
    if (retry > 0) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.stateValue !== 'failed') return;
        this.setState('waiting');
        this.host.requestRegistration(this);
      }, jitter(retry));
    }
  }

  /** REGISTER with Expires: 0 (challenged like any REGISTER). True on 2xx. */
  async unregister(timeoutMs?: number): Promise<boolean> {
    const outcome = await this.registerExchange(0, timeoutMs);
    if (outcome.ok) this.host.emit('unregistered', { deviceId: this.id });
    else this.host.emit('register-failed', { deviceId: this.id, status: outcome.status, reason: outcome.reason, kind: 'unregister' });
    return outcome.ok;
  }

  /** Stop keepalives only: the device stays registered and answers requests (tests offline detection). */
  stopKeepalive(): void {
    this.keepaliveEnabled = false;
    this.clearKeepaliveTimer();
  }

  resumeKeepalive(): void {
    this.keepaliveEnabled = true;
    if (this.stateValue === 'registered') this.startKeepalive();
  }

  /** Power off without unregistering: no keepalive, no refresh, no answers. */
  silence(): void {
    this.stopPeriodic();
    this.clearRetry();
    this.setState('silent');
  }

  /** Power on again after silence(): registers anew. */
  revive(): void {
    if (this.stateValue !== 'silent') return;
    this.challenge = null;
    this.setState('waiting');
    this.host.requestRegistration(this);
  }

  /** Fleet shutdown: timers off; the fleet decides about unregistering before calling this. */
  shutdown(): void {
    this.stopPeriodic();
    this.clearRetry();
    this.setState('stopped');
  }

  ptzLog(channelId: string): readonly PtzLogEntry[] {
    return this.ptz?.get(channelId) ?? [];
  }

  /** Send an Alarm Notify; resolves to the gateway's status (null when unanswered). */
  async raiseAlarm(opts: AlarmOptions = {}): Promise<number | null> {
    const sourceId = opts.channelId ?? this.spec.alarmSourceId;
    const sn = this.nextSn();
    const body = encodeAlarmNotify(
      sourceId,
      sn,
      {
        priority: opts.priority ?? 1,
        method: opts.method ?? 5,
        time: beijingTime(Date.now()),
        type: opts.type === undefined ? 2 : opts.type,
        eventType: opts.eventType ?? null,
        description: opts.description ?? '移动侦测报警',
        longitude: opts.longitude ?? null,
        latitude: opts.latitude ?? null,
      },
      this.host.config.charset,
    );
    let status: number | null = null;
    try {
      const alarmDialog = this.subscriptions.get('Alarm');
      status = alarmDialog ? (await this.sendNotify(alarmDialog, body)).status : (await this.sendToServer(body, this.serverDestination())).status;
    } catch {
      status = null;
    }
    this.host.emit('alarm-sent', { deviceId: this.id, sourceId, sn, status });
    return status;
  }

  /**
   * Send a MobilePosition Notify MESSAGE (2016 flat form, DeviceID = `channelId` or the device) with a position;
   * resolves to the gateway's status (null when unanswered).
   */
  async reportPosition(position: { channelId?: string; longitude: number; latitude: number; speed?: number; direction?: number }): Promise<number | null> {
    const id = position.channelId ?? this.id;
    const body = encodeMobilePositionNotify(
      id,
      this.nextSn(),
      [{ deviceId: id, time: beijingTime(Date.now()), longitude: position.longitude, latitude: position.latitude, speed: position.speed ?? null, direction: position.direction ?? null, altitude: null, height: null }],
      'flat',
      this.host.config.charset,
    );
    try {
      return (await this.sendToServer(body, this.serverDestination())).status;
    } catch {
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------ registration

  private get aor(): string {
    return `<sip:${this.id}@${this.host.config.serverDomain}>`;
  }

  private get serverUri(): string {
    return `sip:${this.host.config.serverId}@${this.host.config.serverDomain}`;
  }

  private get contact(): string {
    const tcp = this.link.kind === 'tcp' ? ';transport=tcp' : '';
    return `<sip:${this.id}@${this.link.host}:${this.link.port}${tcp}>`;
  }

  private serverDestination(): TransportSource {
    const { address, port } = this.host.config.server;
    return { transport: this.link.kind, address, port };
  }

  /**
   * One REGISTER exchange: send (with credentials from the last challenge, if any), answer a 401/407
   * challenge (qop=auth when offered), follow 423 Min-Expires. A second challenge right after answering a
   * fresh one means the password is wrong (unless the server says stale=true).
   */
  private async registerExchange(expires: number, timeoutMs?: number): Promise<RegisterOutcome> {
    const cfg = this.host.config;
    let requested = expires;
    let answeredFreshChallenge = false;
    for (let round = 0; round < 4; round++) {
      const headers: Array<[string, string]> = [
        ['contact', this.contact],
        ['user-agent', this.vendor.userAgent],
        ['expires', String(requested)],
      ];
      if (cfg.gbVersion) headers.push(['x-gb-ver', cfg.gbVersion]);
      if (this.challenge) {
        const value = this.authorization(this.challenge);
        if (value === null) return { ok: false, status: null, reason: `unsupported digest algorithm ${this.challenge.params.algorithm}` };
        headers.push([this.challenge.answerHeader, value]);
      }
      let res: SipResponse;
      try {
        res = await this.link.endpoint.sendRequest({
          method: 'REGISTER',
          uri: this.serverUri,
          to: this.aor,
          from: this.aor,
          fromTag: this.registerFromTag,
          callId: this.registerCallId,
          cseq: ++this.registerCSeq,
          headers,
          destination: this.serverDestination(),
          timeoutMs: timeoutMs ?? cfg.transactionTimeoutMs,
        });
      } catch (err) {
        const timeout = err instanceof Error && err.name === 'SipTimeoutError';
        return { ok: false, status: null, reason: timeout ? 'timeout' : `send failed: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (res.status >= 200 && res.status < 300) return { ok: true, expires: grantedExpires(res, requested) };
      if (res.status === 401 || res.status === 407) {
        const value = header(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
        const params = value ? parseDigestParams(value) : undefined;
        if (!params?.nonce || params.realm === undefined) return { ok: false, status: res.status, reason: 'no usable digest challenge' };
        if (answeredFreshChallenge && params.stale?.toLowerCase() !== 'true') {
          this.challenge = null;
          return { ok: false, status: res.status, reason: 'credentials refused' };
        }
        this.challenge = { params, answerHeader: res.status === 401 ? 'authorization' : 'proxy-authorization', nc: 0 };
        answeredFreshChallenge = true;
        continue;
      }
      if (res.status === 423) {
        const min = Number.parseInt(header(res, 'min-expires') ?? '', 10);
        if (requested > 0 && Number.isInteger(min) && min > requested) {
          requested = min;
          continue;
        }
      }
      // A refused REGISTER: forget the challenge so the next attempt starts clean.
      this.challenge = null;
      return { ok: false, status: res.status, reason: res.reason || String(res.status) };
    }
    return { ok: false, status: null, reason: 'too many REGISTER rounds' };
  }

  /** Authorization value for the challenge (nc counts up per use of the same nonce), or null if unsupported. */
  private authorization(challenge: Challenge): string | null {
    const p = challenge.params;
    const realm = p.realm ?? '';
    const nonce = p.nonce ?? '';
    const useQop = (p.qop ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .includes('auth');
    challenge.nc++;
    const nc = challenge.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    const uri = this.serverUri;
    let response: string;
    try {
      response = computeDigestResponse({
        username: this.id,
        realm,
        password: this.password,
        method: 'REGISTER',
        uri,
        nonce,
        qop: useQop ? 'auth' : undefined,
        nc,
        cnonce,
        algorithm: p.algorithm,
      });
    } catch {
      return null;
    }
    let value = `Digest username=${quote(this.id)}, realm=${quote(realm)}, nonce=${quote(nonce)}, uri=${quote(uri)}, response=${quote(response)}`;
    if (p.algorithm !== undefined) value += `, algorithm=${p.algorithm}`;
    if (useQop) value += `, cnonce=${quote(cnonce)}, nc=${nc}, qop=auth`;
    if (p.opaque !== undefined) value += `, opaque=${quote(p.opaque)}`;
    return value;
  }

  private scheduleRefresh(expires: number): void {
    this.clearRefresh();
    if (expires <= 0) return;
    const delay = Math.max(1_000, expires * 1_000 * this.host.config.refreshFraction);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (this.stateValue === 'registered') this.host.requestRegistration(this);
    }, delay);
  }

  /** The gateway no longer knows us (keepalive 403/404, lost TCP connection, reboot): register again. */
  reRegister(): void {
    if (this.stateValue === 'silent' || this.stateValue === 'stopped' || this.stateValue === 'idle') return;
    if (this.stateValue === 'waiting' || this.stateValue === 'registering') return;
    this.stopPeriodic();
    this.clearRetry();
    this.challenge = null;
    this.setState('waiting');
    this.host.requestRegistration(this);
  }

  // ------------------------------------------------------------------------------------------ keepalive

  private startKeepalive(): void {
    if (!this.keepaliveEnabled || this.keepaliveTimer) return;
    const interval = this.host.config.keepaliveSec * 1_000;
    // Random phase: 50 000 devices registered in one burst still spread their keepalives over the interval.
    this.keepaliveTimer = setTimeout(() => {
      this.keepaliveTimer = setInterval(() => this.sendKeepalive(), interval);
      this.sendKeepalive();
    }, Math.floor(Math.random() * interval));
  }

  private sendKeepalive(): void {
    if (this.stateValue !== 'registered' || this.keepaliveInFlight) return;
    this.keepaliveInFlight = true;
    const body = encodeKeepalive(this.id, this.nextSn(), {}, this.host.config.charset);
    this.sendToServer(body, this.serverDestination())
      .then((res) => {
        if (res.status >= 200 && res.status < 300) {
          this.keepaliveMisses = 0;
        } else if (res.status === 403 || res.status === 404) {
          this.onKeepaliveRejected(res.status);
        } else {
          this.keepaliveMissed();
        }
      })
      .catch(() => this.keepaliveMissed())
      .finally(() => {
        this.keepaliveInFlight = false;
      });
  }

  private keepaliveMissed(): void {
    if (++this.keepaliveMisses >= this.host.config.keepaliveMissLimit) this.onKeepaliveRejected(null);
  }

  private onKeepaliveRejected(status: number | null): void {
    if (this.stateValue !== 'registered') return;
    this.keepaliveMisses = 0;
    this.host.emit('keepalive-rejected', { deviceId: this.id, status });
    this.reRegister();
  }

  private clearKeepaliveTimer(): void {
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer); // clears intervals too
    this.keepaliveTimer = null;
  }

  private startAlarms(): void {
    const every = this.host.config.alarmEveryMs;
    if (every <= 0 || this.alarmTimer) return;
    this.alarmTimer = setTimeout(() => {
      this.alarmTimer = setInterval(() => {
        if (this.stateValue === 'registered') void this.raiseAlarm();
      }, every);
      if (this.stateValue === 'registered') void this.raiseAlarm();
    }, Math.floor(Math.random() * every));
  }

  private stopPeriodic(): void {
    this.clearKeepaliveTimer();
    this.clearRefresh();
    for (const sub of this.subscriptions.values()) if (sub.timer) clearInterval(sub.timer);
    this.subscriptions.clear();
    if (this.alarmTimer) clearTimeout(this.alarmTimer);
    this.alarmTimer = null;
  }

  private clearRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  // ------------------------------------------------------------------------------------------ server role

  /** A request from the gateway addressed to this device (or one of its channels/nodes: `targetId`). */
  handleRequest(req: SipRequest, source: TransportSource, reply: ReplyFn, targetId: string = this.id): void {
    // A powered-off device answers nothing; the gateway's transaction must time out.
    if (this.stateValue === 'silent' || this.stateValue === 'stopped') return;
    switch (req.method) {
      case 'MESSAGE':
        this.onMessage(req, source, reply);
        return;
      case 'OPTIONS':
        reply(200, 'OK', { headers: [['allow', ALLOW]] });
        return;
      case 'INVITE':
        // An NVR or platform itself has no picture: only its channels do.
        if (this.kind !== 'ipc' && targetId === this.id) {
          reply(404, 'Not Found', { headers: [['warning', '399 sharp-eyes-sim "not a video channel"']] });
          this.host.emit('invite-refused', { deviceId: this.id, channelId: targetId, status: 404, reason: 'not a video channel' });
          return;
        }
        this.host.media.handle({ deviceId: this.id, link: this.link }, targetId, req, source, reply);
        return;
      case 'ACK':
      case 'BYE':
      case 'CANCEL':
      case 'INFO':
        this.host.media.handle({ deviceId: this.id, link: this.link }, targetId, req, source, reply);
        return;
      case 'SUBSCRIBE':
        this.onSubscribe(req, source, reply);
        return;
      default:
        reply(405, 'Method Not Allowed', { headers: [['allow', ALLOW]] });
    }
  }

  private onMessage(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    let msg: ManscdpMessage;
    try {
      msg = decodeManscdp(req.body);
    } catch {
      reply(400, 'Bad Body');
      return;
    }
    // Every MESSAGE gets its 200 at once; the answer is a separate MESSAGE (GB 9.3, 9.5).
    reply(200, 'OK');
    // Over TCP answer on the connection the request came in on; over UDP to the registrar address.
    const replyTo = source.transport === 'tcp' ? source : this.serverDestination();
    const queriedId = msg.deviceId || this.id;
    const charset = this.host.config.charset;
    const cmd = `${msg.root}/${msg.cmdType}`;
    switch (cmd) {
      case 'Query/Catalog':
        void this.answerCatalog(msg, queriedId, replyTo);
        return;
      case 'Query/DeviceInfo':
        this.answer('DeviceInfo', msg.sn, replyTo, () =>
          encodeDeviceInfoResponse(
            queriedId,
            msg.sn,
            {
              deviceName: this.name,
              manufacturer: this.vendor.manufacturer,
              model: this.kind === 'nvr' ? this.vendor.nvrModel : this.kind === 'platform' ? this.vendor.platformModel : this.vendor.ipcModel,
              firmware: this.vendor.firmware,
              channel: this.channelCount,
            },
            charset,
          ),
        );
        return;
      case 'Query/DeviceStatus':
        this.answer('DeviceStatus', msg.sn, replyTo, () =>
          encodeDeviceStatusResponse(
            queriedId,
            msg.sn,
            {
              online: 'ONLINE',
              status: 'OK',
              encode: 'ON',
              record: this.kind === 'ipc' ? 'OFF' : 'ON',
              deviceTime: beijingTime(Date.now()),
            },
            charset,
          ),
        );
        return;
      case 'Query/PresetQuery': {
        const presets = [...(this.presets?.get(queriedId) ?? [])].sort((a, b) => a - b);
        this.answer('PresetQuery', msg.sn, replyTo, () =>
          encodeResponse(
            'PresetQuery',
            msg.sn,
            queriedId,
            [
              el('SumNum', presets.length),
              el(
                'PresetList',
                presets.map((p) => el('Item', [el('PresetID', p), el('PresetName', `预置点${p}`)])),
                { Num: presets.length },
              ),
            ],
            charset,
          ),
        );
        return;
      }
      case 'Query/RecordInfo':
        void this.answerRecordInfo(msg, queriedId, replyTo);
        return;
      case 'Control/DeviceControl':
        this.onDeviceControl(msg, queriedId, replyTo);
        return;
      case 'Control/DeviceConfig':
        this.host.emit('control', { deviceId: this.id, targetId: queriedId, sn: msg.sn, cmdType: msg.cmdType, control: readDeviceControl(msg) });
        this.answer('DeviceConfig', msg.sn, replyTo, () => encodeResponse('DeviceConfig', msg.sn, queriedId, { Result: 'OK' }, charset));
        return;
      default:
        // Unknown queries, the gateway's Alarm Response, notifications: the 200 above is all.
        this.host.emit('message-ignored', { deviceId: this.id, root: msg.root, cmdType: msg.cmdType });
    }
  }

  private onDeviceControl(msg: ManscdpMessage, targetId: string, replyTo: TransportSource): void {
    const control = readDeviceControl(msg);
    if (control.ptzCmd !== null) {
      let command: PtzCommand | null = null;
      let error: string | null = null;
      try {
        command = decodePtz(control.ptzCmd);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const entry: PtzLogEntry = { at: Date.now(), deviceId: this.id, channelId: targetId, sn: msg.sn, hex: control.ptzCmd, command, error };
      this.ptz ??= new Map();
      let log = this.ptz.get(targetId);
      if (!log) this.ptz.set(targetId, (log = []));
      log.push(entry);
      if (log.length > PTZ_LOG_LIMIT) log.splice(0, log.length - PTZ_LOG_LIMIT);
      if (command?.kind === 'preset') {
        this.presets ??= new Map();
        let set = this.presets.get(targetId);
        if (!set) this.presets.set(targetId, (set = new Set()));
        if (command.action === 'set') set.add(command.preset);
        else if (command.action === 'delete') set.delete(command.preset);
      }
      this.host.emit('ptz', entry);
      return; // PTZCmd has no answer MESSAGE (GB 9.3.1)
    }
    this.host.emit('control', { deviceId: this.id, targetId, sn: msg.sn, cmdType: msg.cmdType, control });
    if (control.teleBoot !== null) {
      // Reboot: drop off for a moment, then register again (no unregister, like a real reboot).
      this.stopPeriodic();
      setTimeout(() => this.reRegister(), 1_000).unref();
      return;
    }
    const answered =
      control.recordCmd !== null ||
      control.guardCmd !== null ||
      control.alarmCmd !== null ||
      Object.keys(control.raw).some((k) => k.startsWith('HomePosition'));
    if (answered) {
      this.answer('DeviceControl', msg.sn, replyTo, () =>
        encodeResponse('DeviceControl', msg.sn, targetId, { Result: 'OK' }, this.host.config.charset),
      );
    }
  }

  /** Send a single answer MESSAGE and report it. */
  private answer(cmdType: string, sn: number, replyTo: TransportSource, body: () => Buffer): void {
    this.sendToServer(body(), replyTo)
      .then(() => this.host.emit('queried', { deviceId: this.id, cmdType, sn }))
      .catch((err: unknown) => this.host.emit('warning', { deviceId: this.id, message: `${cmdType} answer failed: ${String(err)}` }));
  }

  /**
   * RecordInfo from a made-up recording calendar: every channel records around the clock in one-hour files,
   * except 03:00–04:00 local time (a daily gap, so a timeline shows one), clipped to the asked window, at most
   * 2,000 items. Parts of 8 items, same SN and SumNum in each, sent serially like the catalog (Annex M). A window
   * that cannot be read is answered SumNum 0.
   */
  private async answerRecordInfo(msg: ManscdpMessage, queriedId: string, replyTo: TransportSource): Promise<void> {
    const charset = this.host.config.charset;
    const start = fromGbTime(textAt(msg.fields, 'StartTime') ?? '');
    const end = fromGbTime(textAt(msg.fields, 'EndTime') ?? '');
    const items: RecordItemFields[] = [];
    if (start !== null && end !== null && end > start) {
      const hour = 3600_000;
      for (let t = Math.floor(start / hour) * hour; t < end && items.length < 2_000; t += hour) {
        const localHour = new Date(t + 8 * hour).getUTCHours();
        if (localHour === 3) continue;
        const from = Math.max(t, start);
        const to = Math.min(t + hour, end);
        items.push({ deviceId: queriedId, name: this.name, startTime: toGbTime(from), endTime: toGbTime(to), filePath: `/rec/${queriedId}/${toGbTime(t).replace(/[-:T]/g, '')}.ps`, type: 'time', fileSize: 900_000_000 });
      }
    }
    const parts: Buffer[] = [];
    if (items.length === 0) parts.push(encodeRecordInfoResponse(queriedId, msg.sn, this.name, 0, [], charset));
    for (let i = 0; i < items.length; i += 8) parts.push(encodeRecordInfoResponse(queriedId, msg.sn, this.name, items.length, items.slice(i, i + 8), charset));
    try {
      for (const body of parts) {
        const res = await this.sendToServer(body, replyTo);
        if (res.status >= 300) throw new Error(`gateway answered ${res.status}`);
      }
      this.host.emit('queried', { deviceId: this.id, cmdType: 'RecordInfo', sn: msg.sn });
    } catch (err) {
      this.host.emit('warning', { deviceId: this.id, message: `RecordInfo answer failed: ${String(err)}` });
    }
  }

  /**
   * Catalog answer: same SN in every part, SumNum = grand total, parts sent serially — each after the
   * previous part's 200 OK (Annex M). Items per part follow the byte budget of the transport.
   */
  private async answerCatalog(msg: ManscdpMessage, queriedId: string, replyTo: TransportSource): Promise<void> {
    const cfg = this.host.config;
    const listing: CatalogListing = this.catalog.listingFor(queriedId) ?? { total: 0, slice: () => [] };
    const sumNum = listing.total;
    this.host.emit('catalog-queried', { deviceId: this.id, queriedId, sn: msg.sn, sumNum });
    const packer = new CatalogPacker(queriedId, msg.sn, listing, cfg.charset, this.catalogBudget(replyTo));
    let parts = 0;
    try {
      for (const body of packer.parts()) {
        if (this.stateValue === 'silent' || this.stateValue === 'stopped') throw new Error('device stopped');
        const res = await this.sendToServer(body, replyTo);
        if (res.status >= 300) throw new Error(`gateway answered part ${parts + 1} with ${res.status}`);
        parts++;
      }
      this.host.emit('catalog-sent', { deviceId: this.id, sn: msg.sn, sumNum, parts, complete: true });
    } catch (err) {
      this.host.emit('catalog-sent', {
        deviceId: this.id,
        sn: msg.sn,
        sumNum,
        parts,
        complete: false,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private catalogBudget(replyTo: TransportSource): { bodyBytes: number; maxItems: number } {
    const cfg = this.host.config;
    if (cfg.catalogItemsPerMessage !== null) return { bodyBytes: Number.MAX_SAFE_INTEGER, maxItems: cfg.catalogItemsPerMessage };
    if (replyTo.transport === 'tcp') return { bodyBytes: cfg.tcpMessageBytes - SIP_HEADER_ALLOWANCE, maxItems: MAX_ITEMS_LARGE };
    if (this.kind === 'platform') return { bodyBytes: cfg.udpPlatformMessageBytes - SIP_HEADER_ALLOWANCE, maxItems: MAX_ITEMS_LARGE };
    return { bodyBytes: cfg.udpMessageBytes - SIP_HEADER_ALLOWANCE, maxItems: MAX_ITEMS_SMALL_UDP };
  }

  /**
   * SUBSCRIBE from the gateway: Alarm and MobilePosition when `eventSubscriptions` is on (else 489, like most
   * IPCs); Expires 0 ends one. A refresh arrives in the same dialog (same Call-ID) and keeps it.
   */
  private onSubscribe(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    let msg: ManscdpMessage | null = null;
    try {
      msg = req.body.length > 0 ? decodeManscdp(req.body) : null;
    } catch {
      reply(400, 'Bad Body');
      return;
    }
    const reading = readSubscribe(req, msg?.cmdType ?? '');
    if (!reading.ok) {
      reply(reading.status, reading.reason);
      return;
    }
    if (!this.host.config.eventSubscriptions || reading.event === 'Catalog') {
      reply(489, 'Bad Event');
      return;
    }
    const event = reading.event;
    const existing = this.subscriptions.get(event);
    const callId = header(req, 'call-id') ?? '';
    if (existing && existing.dialog.callId === callId) {
      if (existing.timer) clearInterval(existing.timer);
      this.subscriptions.delete(event);
    }
    const localTag = tagOf(header(req, 'to')) ?? existing?.dialog.localTag ?? generateTag();
    reply(200, 'OK', {
      toTag: localTag,
      headers: [['expires', String(reading.expires)], ['contact', this.contact]],
      body: encodeResponse(event, msg?.sn ?? 0, this.id, { Result: 'OK' }, this.host.config.charset),
      contentType: MANSCDP_CONTENT_TYPE,
    });
    if (reading.expires === 0) return;
    const dialog = notifierDialog(req, event, localTag, source);
    const sub: SimSubscription = { dialog, timer: null };
    this.subscriptions.set(event, sub);
    this.host.emit('subscribed', { deviceId: this.id, event, expires: reading.expires });
    if (event === 'MobilePosition') {
      const intervalSec = Math.max(1, Number.parseInt((msg ? textAt(msg.fields, 'Interval') : undefined) ?? '5', 10) || 5);
      const report = (): void => void this.reportPositions(sub).catch(() => undefined);
      sub.timer = setInterval(report, intervalSec * 1_000);
      sub.timer.unref?.();
      setImmediate(report);
    }
  }

  /** Every channel's position in one NOTIFY, moving ~100 m around a point near Shenzhen. */
  private async reportPositions(sub: SimSubscription): Promise<void> {
    if (this.stateValue !== 'registered' || this.subscriptions.get('MobilePosition') !== sub) return;
    const step = ++this.positionStep;
    const now = Date.now();
    const positions = this.spec.channelIds.slice(0, 64).map((channelId, i) => ({
      deviceId: channelId,
      time: beijingTime(now),
      longitude: 114.0579 + i * 0.01 + 0.001 * Math.cos(step / 10),
      latitude: 22.5431 + 0.001 * Math.sin(step / 10),
      speed: 36,
      direction: (step * 6) % 360,
      altitude: 12,
      height: null,
    }));
    // An IPC reports in the 2016 flat form (its one position), an NVR or platform in the 2022 list form.
    const body = encodeMobilePositionNotify(this.id, this.nextSn(), positions, this.kind === 'ipc' ? 'flat' : 'list', this.host.config.charset);
    const res = await this.sendNotify(sub, body);
    this.host.emit('positions-sent', { deviceId: this.id, count: positions.length, status: res.status });
  }

  private sendNotify(sub: SimSubscription, body: Buffer): Promise<SipResponse> {
    const d = sub.dialog;
    d.cseq += 1;
    return this.link.endpoint.sendRequest({
      method: 'NOTIFY',
      uri: d.target,
      to: d.remote,
      from: d.localUri,
      fromTag: d.localTag,
      callId: d.callId,
      cseq: d.cseq,
      headers: [['event', d.event], ['subscription-state', 'active'], ['contact', this.contact], ['user-agent', this.vendor.userAgent]],
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination: d.destination,
      timeoutMs: this.host.config.transactionTimeoutMs,
    });
  }

  private sendToServer(body: Buffer, destination: TransportSource): Promise<SipResponse> {
    return this.link.endpoint.sendRequest({
      method: 'MESSAGE',
      uri: this.serverUri,
      to: `<${this.serverUri}>`,
      from: this.aor,
      // Contact/User-Agent replace the link's defaults (the link may be shared with other devices).
      headers: [
        ['contact', this.contact],
        ['user-agent', this.vendor.userAgent],
      ],
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination,
      timeoutMs: this.host.config.transactionTimeoutMs,
    });
  }

  private nextSn(): number {
    this.sn = this.sn >= 2_000_000_000 ? 1 : this.sn + 1;
    return this.sn;
  }

  private setState(next: DeviceState): void {
    const previous = this.stateValue;
    if (previous === next) return;
    this.stateValue = next;
    this.host.stateChanged(this, previous, next);
  }

  /** True once the device has registered at least once (for summaries). */
  get hasRegistered(): boolean {
    return this.everRegistered;
  }
}

/** Expires granted by a 200 to REGISTER: the Expires header, else Contact ;expires=, else what we asked. */
function grantedExpires(res: SipResponse, requested: number): number {
  const fromHeader = Number.parseInt(header(res, 'expires') ?? '', 10);
  if (Number.isInteger(fromHeader) && fromHeader >= 0) return fromHeader;
  const m = /;\s*expires=(\d+)/i.exec(header(res, 'contact') ?? '');
  return m ? Number(m[1]) : requested;
}
