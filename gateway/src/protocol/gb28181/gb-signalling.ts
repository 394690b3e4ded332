/**
 * GB/T 28181 signalling engine (the platform side): REGISTER with digest, MESSAGE dispatch (Keepalive,
 * answers to our queries, Alarm), and outgoing queries/controls with their answer collection.
 *
 * It knows SIP and MANSCDP, not the registry: decisions that need domain state (passwords, "is this
 * device registered?") are asked through the `GbDirectory` port the domain implements, and everything
 * that happened is reported as typed events.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SipRequest } from '../../codecs/sip/message.js';
import { header } from '../../codecs/sip/message.js';
import { parseNameAddr, parseUri, tagOf } from '../../codecs/sip/headers.js';
import { buildChallenge, parseDigestParams, verifyDigest, NonceIssuer } from '../../codecs/sip/digest.js';
import {
  decodeManscdp,
  encodeQuery,
  encodePtzControl,
  encodeResponse,
  readAlarmNotify,
  readCatalogResponse,
  readDeviceInfo,
  readDeviceStatus,
  readKeepalive,
  envelopeProblem,
  MANSCDP_CONTENT_TYPE,
  readDeviceControl,
  readRecordInfoResponse,
  readMobilePosition,
  type ManscdpFields,
  type MobilePositionNotify,
  type RecordItem,
  type ManscdpMessage,
  type CatalogItem,
  type DeviceInfoResponse,
  type DeviceStatusResponse,
  type AlarmNotify,
  type KeepaliveNotify,
} from '../../codecs/manscdp/messages.js';
import { tryReadPlainKeepalive } from '../../codecs/manscdp/keepalive-fast-path.js';
import type { ManscdpCharset } from '../../codecs/manscdp/charset.js';
import type { ReplyFn, SipEndpoint } from '../sip-endpoint.js';
import type { TransportSource } from '../../transport/sip-transport.js';
import { Lockout, type LockoutPolicy } from './lockout.js';
import { PendingQueries, type CollectedAnswer } from './pending-queries.js';
import { InviteDialogs } from './invite.js';
import { judgeSource, type RejectionReason, type SourceVerdict } from './source-trust.js';
import { toGbTime } from '../../codecs/gb/gb-time.js';
import { textAt } from '../../codecs/manscdp/xml.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { RegisterThrottle, type RegisterThrottleOptions } from './register-throttle.js';
import { notifierDialog, readSubscribe, subscriberDialog, type GbEventPackage, type SubscriptionDialog } from './subscriptions.js';
import { generateTag } from '../../codecs/sip/builder.js';

export type { AlarmNotify, DeviceInfoResponse, DeviceStatusResponse };

export interface DeviceCredentials {
  /** Password to check the digest against. */
  password: string;
  /** Devices that cannot do digest: accept REGISTER without a challenge. */
  noAuth: boolean;
}

/** The port through which the engine asks the domain what it cannot know itself. */
export interface GbDirectory {
  /** Credentials of a device, or null when unknown devices are rejected and this one is unknown. */
  credentialsFor(deviceId: string): DeviceCredentials | null;
  /** Keepalive from a device: true when it is registered (answer 200), false to make it re-register. */
  keepalive(deviceId: string, source: TransportSource, status: string): boolean;
  /**
   * Whether an out-of-dialog MESSAGE/NOTIFY/INFO from `deviceId` at `source` comes from where that device
   * holds a live registration (see source-trust.ts; the NAT rebinding policy is the domain's to apply).
   */
  checkSource(deviceId: string, source: TransportSource): SourceVerdict;

  /**
   * Acknowledgement gate of REGISTER: the domain records the registration when 'registered' /
   * 'unregistered' is emitted, and the 200 OK goes out when this settles (group commit: the state is
   * durable, or the domain chose to answer from memory). Absent: answer at once.
   */
  registrationDurable?(deviceId: string): Promise<unknown>;
  /**
   * Acknowledgement gate of an Alarm Notify: the domain records the alarm when 'alarm' is emitted, and the
   * 200 OK (and the Response MESSAGE) go out when this settles. A device does not send an acknowledged alarm
   * again, so it must be durable first. Absent: answer at once.
   */
  alarmDurable?(deviceId: string): Promise<unknown>;
  /**
   * Cascade: whether `senderId` is an upper platform we registered with, speaking from its configured
   * address. Its MESSAGEs are queries to us (upper-query), not a device's reports.
   */
  upperPlatformAt?(senderId: string, source: TransportSource): boolean;
  /** Cascade: whether the upper platform may query `targetId` (our own ID, or a channel shared with it). */
  upperMayQuery?(platformId: string, targetId: string): boolean;
  /**
   * Acknowledgement gate of a Catalog NOTIFY from a device or lower platform we subscribed to: the domain
   * applies the changed items (stores them) and the 200 OK goes out when this settles, as for catalog parts.
   * Absent: the NOTIFY is answered 200 and ignored.
   */
  catalogNotified?(deviceId: string, items: CatalogItem[]): Promise<unknown>;
}

/** A SUBSCRIBE from an upper platform (cascade), already answered 200 (or 0 expires: an unsubscribe). */
export interface UpperSubscribeEvent {
  platformId: string;
  event: GbEventPackage;
  /** Seconds; 0 ends the subscription. */
  expires: number;
  /** MobilePosition only: seconds between reports the platform asked for (clamped to 1–3600). */
  intervalSec?: number;
  /** The ID subscribed to: our own ID, or a shared channel. */
  targetId: string;
  dialog: SubscriptionDialog;
}

/** An INVITE from an upper platform (cascade), answered 100 Trying; the domain sends the final answer. */
export interface UpperInviteEvent {
  platformId: string;
  source: TransportSource;
  request: SipRequest;
  reply: ReplyFn;
}

/** A query from an upper platform (cascade), already answered 200 OK; the domain sends the Response. */
export interface UpperQueryEvent {
  platformId: string;
  source: TransportSource;
  cmdType: string;
  sn: number;
  /** The DeviceID queried: our own ID or a shared channel. */
  targetId: string;
  /** RecordInfo: the window and type asked for (GB local time text, as sent). */
  record?: { startTime: string; endTime: string; type: string };
}

export interface RegisterEvent {
  deviceId: string;
  source: TransportSource;
  expires: number;
  contact: string;
  userAgent: string;
  gbVersion: string;
}

export interface AuthFailureEvent {
  deviceId: string;
  source: TransportSource;
  reason: 'wrong-password' | 'unknown-device' | 'stale-nonce' | 'bad-credentials' | 'locked-out';
}

export interface GbSignallingEvents {
  registered: [RegisterEvent];
  'upper-query': [UpperQueryEvent];
  'upper-invite': [UpperInviteEvent];
  'upper-bye': [{ platformId: string; callId: string }];
  /** An INFO from an upper platform (MANSRTSP playback control in an upward leg's dialog); the domain answers. */
  'upper-info': [UpperInviteEvent];
  'upper-subscribe': [UpperSubscribeEvent];
  /** A PTZ DeviceControl from an upper platform for a channel shared with it (already answered 200). */
  'upper-control': [{ platformId: string; targetId: string; ptzCmd: string }];
  unregistered: [{ deviceId: string; source: TransportSource }];
  alarm: [{ deviceId: string; source: TransportSource; alarm: AlarmNotify }];
  /** Positions from a registered device or lower platform (NOTIFY of our subscription, or a MESSAGE unasked). */
  'mobile-position': [{ deviceId: string; notify: MobilePositionNotify }];
  'auth-failure': [AuthFailureEvent];
  lockout: [{ key: string; until: number }];
  /** A MESSAGE we answered 200 but do not act on (unknown CmdType, unsolicited answer). */
  'unhandled-message': [{ deviceId: string; cmdType: string; root: string }];
  'bad-body': [{ deviceId: string; error: string }];
  /** A request refused: a spoofed or stale sender (403), no usable From, or an unusable body (400). */
  rejected: [{ deviceId: string; source: TransportSource; method: string; reason: RejectionReason }];
  /** A REGISTER over its source's budget: answered 503 with Retry-After, or dropped while that lasts. */
  throttled: [{ source: TransportSource; outcome: '503' | 'dropped' }];
}

export interface GbSignallingOptions {
  endpoint: SipEndpoint;
  directory: GbDirectory;
  sipId: string;
  domain: string;
  registerExpiresMin: number;
  registerExpiresMax: number;
  dateHeader: boolean;
  lockout: LockoutPolicy;
  queryTimeoutMs: number;
  catalogIdleTimeoutMs: number;
  maxBodyBytes: number;
  /** Per-source REGISTER budget in front of digest work. */
  registerThrottle: RegisterThrottleOptions;
  logger: Logger;
  now?: () => number;
  /** Interval of the rate-limited "rejected"/"throttled" log lines, ms. Default 10 s. */
  rejectionLogIntervalMs?: number;
  /**
   * RecordInfo items one query collects at most (default 20,000: a month of one-minute clips is 44,640, the API
   * window is at most 31 days of hourly files ~ 750). A device that keeps sending parts — or claims a SumNum of
   * millions — is cut off there with `complete: false`, instead of growing memory until it goes quiet.
   */
  maxRecordItems?: number;
}

export interface CatalogQueryOptions {
  /**
   * Store the items of one catalog part; the device's part is answered 200 OK once this settles (an
   * acknowledged catalog part is durable). Bound its time: the device waits for the answer.
   */
  storePart?(items: CatalogItem[]): Promise<void>;
}

export interface CatalogQueryResult {
  deviceId: string;
  sn: number;
  sumNum: number | null;
  items: CatalogItem[];
  /** 'complete' when items reached SumNum; 'partial' when the device went quiet first. */
  state: 'complete' | 'partial';
}

/** GB Date header: ISO-like local (Beijing) time without zone, milliseconds included (brief §2.4). */
export function gbDate(epochMs: number): string {
  const beijing = new Date(epochMs + 8 * 3600_000);
  return beijing.toISOString().slice(0, 23);
}

/** Methods a device sends outside dialogs that carry data we act on: only from a trusted source. */
const SOURCE_CHECKED_METHODS = new Set(['MESSAGE', 'NOTIFY', 'INFO', 'SUBSCRIBE']);

const SOURCE_REJECTION_PHRASE: Record<Exclude<SourceVerdict, 'ok'>, string> = {
  // The phrase devices have seen for a keepalive after our restart; either way 403 makes them re-register.
  unregistered: 'Not Registered',
  'source-mismatch': 'Source Does Not Match Registration',
  'transport-mismatch': 'Transport Does Not Match Registration',
};

const UPPER_QUERIES = new Set(['Catalog', 'DeviceInfo', 'DeviceStatus', 'RecordInfo']);
const UPPER_METHODS = new Set(['MESSAGE', 'INVITE', 'ACK', 'BYE', 'CANCEL', 'SUBSCRIBE', 'INFO']);

const ENVELOPE_PHRASE = { 'bad-sn': 'Bad SN', 'bad-device-id': 'Bad DeviceID' } as const;

function sourceKey(source: TransportSource): string {
  return source.transport === 'tcp' && source.connectionId ? `tcp:${source.connectionId}` : `${source.transport}:${source.address}:${source.port}`;
}

/** User part of the From URI (the sender's GB ID), or '' when From is missing or unparseable. */
function senderOf(req: SipRequest): string {
  const from = header(req, 'from');
  if (!from) return '';
  try {
    return parseUri(parseNameAddr(from).uri).user ?? '';
  } catch {
    return '';
  }
}

export class GbSignalling extends EventEmitter<GbSignallingEvents> {
  private readonly nonces = new NonceIssuer();
  private readonly lockout: Lockout;
  /** Catalog parts being stored, by `${deviceId}:${sn}`: their 200 OK waits for this (see queryCatalog). */
  private readonly partGates = new Map<string, Promise<void>>();
  /** REGISTER answers waiting for the durability gate, by device (see registerAnswered). */
  private readonly pendingRegisterAnswers = new Map<string, Promise<void>>();
  private readonly pending: PendingQueries;
  /** Live-video dialogs (INVITE/ACK/BYE/CANCEL); in-dialog requests from devices are routed to them. */
  readonly dialogs: InviteDialogs;
  private readonly now: () => number;
  private readonly throttle: RegisterThrottle;
  private readonly refusalLog: RateLimitedLog;
  /** Latest refusal per reason, for the rate-limited log line (an example of what was refused). */
  private readonly lastRefusal = new Map<string, Record<string, unknown>>();
  private sn = Math.floor(Math.random() * 100_000) + 1;

  constructor(private readonly opts: GbSignallingOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.throttle = new RegisterThrottle(opts.registerThrottle);
    this.refusalLog = new RateLimitedLog(opts.rejectionLogIntervalMs ?? 10_000, (key, suppressed) =>
      opts.logger.warn({ ...this.lastRefusal.get(key), heldBackSinceLastLine: suppressed }, `SIP requests rejected (${key}); one line per reason per interval`),
    );
    this.lockout = new Lockout(opts.lockout, this.now);
    this.pending = new PendingQueries();
    this.dialogs = new InviteDialogs(opts.endpoint, opts.logger);
    opts.endpoint.onRequest((req, source, reply) => this.onRequest(req, source, reply));
  }

  close(): void {
    this.pending.close();
  }

  nextSn(): number {
    this.sn = this.sn >= 2_000_000_000 ? 1 : this.sn + 1;
    return this.sn;
  }

  // ------------------------------------------------------------------ incoming

  private onRequest(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    try {
      if (req.method !== 'REGISTER' && req.method !== 'ACK') {
        // In-dialog requests (BYE, MediaStatus MESSAGE) carry the channel ID in From, not a registered device:
        // they must come from the host the dialog was set up with (the port may differ: a device may answer
        // from another socket). A BYE from elsewhere would otherwise end anyone's stream.
        const dialogSource = this.dialogs.destinationOf(header(req, 'call-id'));
        if (dialogSource && judgeSource(dialogSource, source, 'port') !== 'ok') {
          this.refuse(req, source, senderOf(req), 'source-mismatch', 'in-dialog request from another source');
          reply(403, SOURCE_REJECTION_PHRASE['source-mismatch']);
          return;
        }
        if (this.dialogs.handleInDialog(req, reply)) return;
      }
      if (UPPER_METHODS.has(req.method) && this.opts.directory.upperPlatformAt?.(senderOf(req), source) && !this.isLowerPlatformReport(req, source)) {
        this.onUpperRequest(req, source, reply);
        return;
      }
      if (SOURCE_CHECKED_METHODS.has(req.method) && !this.trusted(req, source, reply)) return;
      switch (req.method) {
        case 'REGISTER':
          this.onRegister(req, source, reply);
          return;
        case 'MESSAGE':
          this.onMessage(req, source, reply);
          return;
        case 'OPTIONS':
          reply(200, 'OK', { headers: [['allow', 'INVITE, ACK, INFO, CANCEL, BYE, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY']] });
          return;
        case 'NOTIFY':
          this.onNotify(req, source, reply);
          return;
        case 'ACK':
          return;
        case 'BYE':
          reply(481, 'Call/Transaction Does Not Exist');
          return;
        default:
          reply(405, 'Method Not Allowed', { headers: [['allow', 'REGISTER, MESSAGE, OPTIONS, NOTIFY, ACK, BYE']] });
      }
    } catch (err) {
      this.opts.logger.error({ err, method: req.method, source }, 'request handler failed');
      reply(500, 'Server Internal Error');
    }
  }

  /**
   * Source check of an out-of-dialog MESSAGE/NOTIFY/INFO; answers and counts the refusal itself. Runs
   * before the body is decoded, so strangers get no work done for them.
   */
  /**
   * Two platforms cascading to each other (WVP #1729): the peer is our upper platform and also registered with us
   * as a lower platform, from the same address. What it sends as our upper platform are Queries and Controls;
   * what it sends as a lower platform are reports — Keepalive, answers to our queries (Response), Alarm /
   * MobilePosition Notify. A MESSAGE whose root is Response or Notify from a sender registered with us therefore
   * takes the device path (checked like any device's), everything else the upper-platform path.
   */
  private isLowerPlatformReport(req: SipRequest, source: TransportSource): boolean {
    if (req.method !== 'MESSAGE') return false;
    // The root element is ASCII in every charset GB allows; it follows the XML declaration at the start.
    const head = req.body.subarray(0, 256).toString('latin1');
    if (!/<\s*(Response|Notify)\b/.test(head.replace(/<\?[\s\S]*?\?>/g, ''))) return false;
    return this.opts.directory.checkSource(senderOf(req), source) === 'ok';
  }

  private trusted(req: SipRequest, source: TransportSource, reply: ReplyFn): boolean {
    const senderId = senderOf(req);
    if (!senderId) {
      this.refuse(req, source, '', 'bad-sender');
      reply(400, 'Bad From');
      return false;
    }
    const verdict = this.opts.directory.checkSource(senderId, source);
    if (verdict === 'ok') return true;
    this.refuse(req, source, senderId, verdict);
    reply(403, SOURCE_REJECTION_PHRASE[verdict]);
    return false;
  }

  private refuse(req: SipRequest, source: TransportSource, deviceId: string, reason: RejectionReason, detail?: string): void {
    this.emit('rejected', { deviceId, source, method: req.method, reason });
    this.lastRefusal.set(reason, {
      reason,
      method: req.method,
      deviceId: deviceId.slice(0, 64),
      source: `${source.transport}:${source.address}:${source.port}`,
      ...(detail ? { detail: detail.slice(0, 200) } : {}),
    });
    this.refusalLog.note(reason, this.now());
  }

  private onRegister(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    // The budget comes first: a flood must not cost digest work, lockout bookkeeping or log lines.
    const budget = this.throttle.take(sourceKey(source), this.now());
    if (!budget.allowed) {
      const outcome = budget.firstRefusal ? '503' : 'dropped';
      this.emit('throttled', { source, outcome });
      this.lastRefusal.set('throttled', { reason: 'register-throttled', source: `${source.transport}:${source.address}:${source.port}`, retryAfterSec: budget.retryAfterSec });
      this.refusalLog.note('throttled', this.now());
      // Dropped: no answer at all (the transaction stays open and absorbs retransmissions).
      if (budget.firstRefusal) reply(503, 'Service Unavailable', { headers: [['retry-after', String(budget.retryAfterSec)]] });
      return;
    }
    const deviceId = senderOf(req);
    if (!/^[0-9A-Za-z_.-]{1,64}$/.test(deviceId)) {
      reply(400, 'Bad From User');
      return;
    }
    const addrKey = `${source.address}:${source.port}`;
    const lockedUntil = Math.max(this.lockout.lockedUntil(`id:${deviceId}`), this.lockout.lockedUntil(`addr:${addrKey}`));
    if (lockedUntil > 0) {
      this.emit('auth-failure', { deviceId, source, reason: 'locked-out' });
      reply(403, 'Locked Out', { headers: [['retry-after', String(Math.ceil((lockedUntil - this.now()) / 1000))]] });
      return;
    }

    const expiresHeader = header(req, 'expires');
    const contact = header(req, 'contact') ?? '';
    let expires = expiresHeader !== undefined ? Number.parseInt(expiresHeader, 10) : Number.NaN;
    if (Number.isNaN(expires)) {
      const m = /expires=(\d+)/i.exec(contact);
      expires = m ? Number.parseInt(m[1], 10) : Number.NaN;
    }
    if (Number.isNaN(expires) || expires < 0) {
      reply(400, 'Missing Expires');
      return;
    }

    const creds = this.opts.directory.credentialsFor(deviceId);
    if (!creds) {
      this.fail(deviceId, addrKey, source, 'unknown-device');
      reply(403, 'Unknown Device');
      return;
    }

    if (!creds.noAuth) {
      const authorization = header(req, 'authorization');
      const challenge = (): void =>
        reply(401, 'Unauthorized', {
          headers: [['www-authenticate', buildChallenge(this.opts.domain, this.nonces.issue(this.now()))]],
        });
      if (!authorization) {
        challenge();
        return;
      }
      const params = parseDigestParams(authorization);
      const nonceState = this.nonces.verify(params.nonce ?? '', this.now());
      if (nonceState !== 'ok') {
        // A nonce we did not issue (some simulators invent one) or an old one: challenge again, not a failure.
        if (nonceState === 'stale') this.emit('auth-failure', { deviceId, source, reason: 'stale-nonce' });
        challenge();
        return;
      }
      if ((params.username ?? '') !== deviceId && !creds.password) {
        this.fail(deviceId, addrKey, source, 'bad-credentials');
        reply(403, 'Forbidden');
        return;
      }
      if (!verifyDigest(params, creds.password, 'REGISTER')) {
        this.fail(deviceId, addrKey, source, 'wrong-password');
        reply(403, 'Wrong Password');
        return;
      }
    }
    this.lockout.succeed(`id:${deviceId}`);
    this.lockout.succeed(`addr:${addrKey}`);

    const gbVersion = header(req, 'x-gb-ver') ?? '';
    const extra: Array<[string, string]> = [];
    if (contact) extra.push(['contact', contact]);
    if (gbVersion) extra.push(['x-gb-ver', gbVersion]);

    if (expires === 0) {
      extra.push(['expires', '0']);
      this.recordThenAcknowledge(
        deviceId,
        () => this.emit('unregistered', { deviceId, source }),
        () => reply(200, 'OK', { headers: extra }),
      );
      return;
    }
    const granted = Math.min(Math.max(expires, this.opts.registerExpiresMin), this.opts.registerExpiresMax);
    if (expires < this.opts.registerExpiresMin) {
      reply(423, 'Interval Too Brief', { headers: [['min-expires', String(this.opts.registerExpiresMin)]] });
      return;
    }
    extra.push(['expires', String(granted)]);
    if (this.opts.dateHeader) extra.push(['date', gbDate(this.now())]);
    const event: RegisterEvent = { deviceId, source, expires: granted, contact, userAgent: header(req, 'user-agent') ?? '', gbVersion };
    this.recordThenAcknowledge(
      deviceId,
      () => this.emit('registered', event),
      () => reply(200, 'OK', { headers: extra }),
    );
  }

  /**
   * Resolves once the REGISTER of `deviceId` that is waiting for its durability gate has been answered (at
   * once when none waits). Queries the domain starts on a registration (DeviceInfo, Catalog) wait for this:
   * a device that gets a MESSAGE before the 200 OK to its REGISTER may drop it, and some firmwares do.
   */
  registerAnswered(deviceId: string): Promise<void> {
    return this.pendingRegisterAnswers.get(deviceId) ?? Promise.resolve();
  }

  /**
   * Record the registration (emit) and send the 200 OK once the directory's gate settles (a retransmitted
   * REGISTER meanwhile is absorbed by the transaction layer). The pending answer is known before the event
   * goes out, so work the event starts can wait for it (registerAnswered).
   */
  private recordThenAcknowledge(deviceId: string, record: () => void, answer: () => void): void {
    let release: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.pendingRegisterAnswers.set(deviceId, answered);
    const done = (): void => {
      answer();
      release();
      if (this.pendingRegisterAnswers.get(deviceId) === answered) this.pendingRegisterAnswers.delete(deviceId);
    };
    record();
    const gate = this.opts.directory.registrationDurable?.(deviceId);
    if (!gate) {
      done();
      return;
    }
    gate.then(done, (err: unknown) => {
      this.opts.logger.error({ err, deviceId }, 'registration durability gate failed; answering from memory');
      done();
    });
  }

  private fail(deviceId: string, addrKey: string, source: TransportSource, reason: AuthFailureEvent['reason']): void {
    this.emit('auth-failure', { deviceId, source, reason });
    for (const key of [`id:${deviceId}`, `addr:${addrKey}`]) {
      if (this.lockout.fail(key)) {
        const until = this.lockout.lockedUntil(key);
        this.opts.logger.warn({ key, until: new Date(until).toISOString(), deviceId, source }, 'authentication lockout');
        this.emit('lockout', { key, until });
      }
    }
  }

  private onKeepalive(senderId: string, ka: KeepaliveNotify, source: TransportSource, reply: ReplyFn): void {
    const known = this.opts.directory.keepalive(senderId || ka.deviceId, source, ka.status);
    // 403 tells a device whose registration we do not hold to register again (it would otherwise
    // keep sending keepalives into the void after our restart or its expiry).
    if (known) reply(200, 'OK');
    else reply(403, 'Not Registered');
  }

  /** A request from an upper platform (cascade): its queries, and the INVITE / ACK / BYE / INFO (MANSRTSP) of upward streams. */
  private onUpperRequest(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const platformId = senderOf(req);
    switch (req.method) {
      case 'MESSAGE':
        this.onUpperMessage(req, source, reply);
        return;
      case 'INVITE':
        // The domain answers (it opens the stream first): 100 at once so the upper platform stops retransmitting.
        reply(100, 'Trying');
        this.emit('upper-invite', { platformId, source, request: req, reply });
        return;
      case 'ACK':
        return;
      case 'BYE':
      case 'CANCEL':
        reply(200, 'OK');
        this.emit('upper-bye', { platformId, callId: header(req, 'call-id') ?? '' });
        return;
      case 'SUBSCRIBE':
        this.onUpperSubscribe(req, source, reply);
        return;
      case 'INFO':
        // Playback control (MANSRTSP) in a leg's dialog: the leg relays it to the device and answers with its answer.
        this.emit('upper-info', { platformId, source, request: req, reply });
        return;
    }
  }

  /**
   * A SUBSCRIBE from an upper platform (Catalog / Alarm for our ID or a shared channel): answered 200 with
   * the granted Expires and a Response body, then handed to the domain, which NOTIFYs in the dialog. An ID
   * it may not see is 404, as for queries; an event we do not serve is 489.
   */
  private onUpperSubscribe(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const platformId = senderOf(req);
    let msg: ManscdpMessage;
    try {
      msg = decodeManscdp(req.body, { maxBytes: this.opts.maxBodyBytes });
    } catch (err) {
      this.emit('bad-body', { deviceId: platformId, error: err instanceof Error ? err.message : String(err) });
      reply(400, 'Bad Body');
      return;
    }
    if (envelopeProblem(msg)) {
      reply(400, 'Bad Envelope');
      return;
    }
    const reading = readSubscribe(req, msg.cmdType);
    if (!reading.ok) {
      reply(reading.status, reading.reason);
      return;
    }
    if (!(this.opts.directory.upperMayQuery?.(platformId, msg.deviceId) ?? false)) {
      reply(404, 'Not Found');
      return;
    }
    const localTag = tagOf(header(req, 'to')) ?? generateTag();
    reply(200, 'OK', {
      toTag: localTag,
      headers: [['expires', String(reading.expires)], ['contact', `<${this.opts.endpoint.contactUri(this.opts.sipId, source.transport)}>`]],
      body: encodeResponse(reading.event, msg.sn, msg.deviceId, { Result: 'OK' }),
      contentType: MANSCDP_CONTENT_TYPE,
    });
    // MobilePosition: the body's <Interval> (seconds between reports, GB 9.11.2); absent or unreadable = 5 s.
    const interval = reading.event === 'MobilePosition' ? mobilePositionInterval(textAt(msg.fields, 'Interval')) : undefined;
    this.emit('upper-subscribe', { platformId, event: reading.event, expires: reading.expires, targetId: msg.deviceId, dialog: notifierDialog(req, reading.event, localTag, source), ...(interval !== undefined ? { intervalSec: interval } : {}) });
  }

  /** A NOTIFY in a subscription dialog (we are the notifier); resolves on its 2xx, throws with the status otherwise. */
  async sendNotify(dialog: SubscriptionDialog, subscriptionState: string, body: Buffer): Promise<void> {
    dialog.cseq += 1;
    const res = await this.opts.endpoint.sendRequest({
      method: 'NOTIFY',
      uri: dialog.target,
      to: dialog.remote,
      from: dialog.localUri,
      fromTag: dialog.localTag,
      callId: dialog.callId,
      cseq: dialog.cseq,
      headers: [['event', dialog.event], ['subscription-state', subscriptionState]],
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination: dialog.destination,
      timeoutMs: this.opts.queryTimeoutMs,
    });
    if (res.status >= 300) throw new SubscriptionRefused(res.status, `NOTIFY answered ${res.status} ${res.reason}`);
  }

  /**
   * SUBSCRIBE to a device or lower platform (we are the subscriber): a new dialog, or a refresh in `dialog`
   * (expires 0 ends it). Resolves with the dialog on a 2xx; throws SubscriptionRefused with the status otherwise.
   */
  async subscribe(
    deviceId: string,
    destination: TransportSource,
    event: GbEventPackage,
    expires: number,
    dialog: SubscriptionDialog | null,
    charset: ManscdpCharset = 'GB2312',
    fields?: ManscdpFields,
  ): Promise<{ dialog: SubscriptionDialog; expiresSec: number }> {
    let sent: SipRequest | null = null;
    const body = encodeQuery(event, this.nextSn(), deviceId, fields, charset);
    const res = await this.opts.endpoint.sendRequest({
      method: 'SUBSCRIBE',
      uri: dialog?.target ?? `sip:${deviceId}@${this.opts.domain}`,
      to: dialog?.remote ?? `<sip:${deviceId}@${this.opts.domain}>`,
      ...(dialog ? { from: dialog.localUri, fromTag: dialog.localTag, callId: dialog.callId, cseq: dialog.cseq + 1 } : {}),
      headers: [['event', event], ['expires', String(expires)]],
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination: dialog?.destination ?? destination,
      timeoutMs: this.opts.queryTimeoutMs,
      onSent: (request) => {
        sent = request;
      },
    });
    if (res.status >= 300 || !sent) throw new SubscriptionRefused(res.status, `SUBSCRIBE ${event} answered ${res.status} ${res.reason}`);
    // The notifier may grant less than asked (RFC 6665 §4.2.1.1); no Expires in the answer = what we asked.
    const granted = Number.parseInt(header(res, 'expires') ?? '', 10);
    return { dialog: subscriberDialog(sent, res, event, dialog?.destination ?? destination), expiresSec: Number.isInteger(granted) && granted > 0 ? granted : expires };
  }

  /**
   * A NOTIFY from a registered device or lower platform (source already checked): a Catalog Notify goes to the
   * domain and is answered once applied (catalogNotified); an Alarm Notify takes the alarm path of a MESSAGE.
   * Anything else is answered 200 so the sender does not retry it forever.
   */
  private onNotify(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const senderId = senderOf(req);
    if (req.body.length === 0) {
      reply(200, 'OK');
      return;
    }
    let msg: ManscdpMessage;
    try {
      msg = decodeManscdp(req.body, { maxBytes: this.opts.maxBodyBytes });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.emit('bad-body', { deviceId: senderId, error });
      this.refuse(req, source, senderId, 'bad-body', error);
      reply(400, 'Bad Body');
      return;
    }
    if (msg.root === 'Notify' && msg.cmdType === 'Catalog') {
      const items = readCatalogResponse(msg).items;
      const gate = this.opts.directory.catalogNotified?.(senderId, items);
      if (!gate) {
        reply(200, 'OK');
        return;
      }
      gate.then(
        () => reply(200, 'OK'),
        (err: unknown) => {
          this.opts.logger.warn({ err, deviceId: senderId }, 'catalog NOTIFY not applied');
          reply(500, 'Server Internal Error');
        },
      );
      return;
    }
    if (msg.root === 'Notify' && msg.cmdType === 'Alarm' && !envelopeProblem(msg)) {
      this.onMessage(req, source, reply);
      return;
    }
    if (msg.root === 'Notify' && msg.cmdType === 'MobilePosition') {
      this.onMobilePosition(senderId, msg, reply);
      return;
    }
    reply(200, 'OK');
    this.emit('unhandled-message', { deviceId: senderId, cmdType: msg.cmdType, root: msg.root });
  }

  /**
   * MobilePosition Notify (GB 9.8; NOTIFY in our subscription, or MESSAGE from devices that report unasked):
   * answered 200 either way — a position is a reading, superseded by the next, never worth a retransmission.
   * Positions without usable coordinates are dropped (counted by the domain as 'unusable').
   */
  private onMobilePosition(senderId: string, msg: ManscdpMessage, reply: ReplyFn): void {
    reply(200, 'OK');
    this.emit('mobile-position', { deviceId: senderId, notify: readMobilePosition(msg) });
  }

  /**
   * A request of ours inside an upward leg's dialog (we are the UAS of the upper platform's INVITE): BYE when we
   * end the leg, MESSAGE for the MediaStatus 121 of a relayed playback. `cseq` counts our requests in the
   * dialog (the upper platform's CSeq space is its own). Resolves with the final status.
   */
  async sendUpperInDialog(
    leg: { platformId: string; platformDomain: string; destination: TransportSource; invite: SipRequest; localTag: string },
    method: 'BYE' | 'MESSAGE',
    cseq: number,
    content: { body?: Buffer; contentType?: string } = {},
  ): Promise<number> {
    const to = header(leg.invite, 'from') ?? `<sip:${leg.platformId}@${leg.platformDomain}>`;
    const ours = header(leg.invite, 'to') ?? '';
    const contact = /<([^>]+)>/.exec(header(leg.invite, 'contact') ?? '')?.[1];
    const res = await this.opts.endpoint.sendRequest({
      method,
      uri: contact ?? `sip:${leg.platformId}@${leg.platformDomain}`,
      to,
      from: ours.replace(/;tag=[^;]*/i, ''),
      fromTag: leg.localTag,
      callId: header(leg.invite, 'call-id') ?? '',
      cseq,
      ...(content.body ? { body: content.body, contentType: content.contentType ?? MANSCDP_CONTENT_TYPE } : {}),
      destination: leg.destination,
      timeoutMs: 4_000,
    });
    return res.status;
  }

  /**
   * A MESSAGE from an upper platform (cascade): Catalog / DeviceInfo / DeviceStatus queries for our ID or a
   * shared channel are answered 200 and handed to the domain (upper-query); an ID it may not see is 404, so
   * an upper platform can never learn of an unshared channel. Anything else is acknowledged and ignored.
   */
  private onUpperMessage(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const platformId = senderOf(req);
    let msg: ManscdpMessage;
    try {
      msg = decodeManscdp(req.body, { maxBytes: this.opts.maxBodyBytes });
    } catch (err) {
      this.emit('bad-body', { deviceId: platformId, error: err instanceof Error ? err.message : String(err) });
      reply(400, 'Bad Body');
      return;
    }
    if (msg.root === 'Control' && msg.cmdType === 'DeviceControl') {
      const control = readDeviceControl(msg);
      if (envelopeProblem(msg)) {
        reply(400, 'Bad Envelope');
        return;
      }
      if (!(this.opts.directory.upperMayQuery?.(platformId, msg.deviceId) ?? false)) {
        reply(404, 'Not Found');
        return;
      }
      reply(200, 'OK');
      // GB 9.3.1: no Response MESSAGE follows a PTZ DeviceControl; the 200 is the acknowledgement.
      if (control.ptzCmd) this.emit('upper-control', { platformId, targetId: msg.deviceId, ptzCmd: control.ptzCmd });
      else this.emit('unhandled-message', { deviceId: platformId, cmdType: msg.cmdType, root: msg.root });
      return;
    }
    if (msg.root !== 'Query' || !UPPER_QUERIES.has(msg.cmdType)) {
      reply(200, 'OK');
      this.emit('unhandled-message', { deviceId: platformId, cmdType: msg.cmdType, root: msg.root });
      return;
    }
    if (envelopeProblem(msg)) {
      reply(400, 'Bad Envelope');
      return;
    }
    if (!(this.opts.directory.upperMayQuery?.(platformId, msg.deviceId) ?? false)) {
      reply(404, 'Not Found');
      return;
    }
    reply(200, 'OK');
    const text = (name: string): string | undefined => textAt(msg.fields, name);
    this.emit('upper-query', {
      platformId,
      source,
      cmdType: msg.cmdType,
      sn: msg.sn,
      targetId: msg.deviceId,
      ...(msg.cmdType === 'RecordInfo' ? { record: { startTime: text('StartTime') ?? '', endTime: text('EndTime') ?? '', type: text('Type') ?? 'all' } } : {}),
    });
  }

  /** A MESSAGE to an upper platform (cascade answers): from `fromId` (our ID towards it); resolves on its 200. */
  async sendToUpper(platformId: string, platformDomain: string, fromId: string, destination: TransportSource, body: Buffer): Promise<void> {
    const res = await this.opts.endpoint.sendRequest({
      method: 'MESSAGE',
      uri: `sip:${platformId}@${platformDomain}`,
      to: `<sip:${platformId}@${platformDomain}>`,
      from: `<sip:${fromId}@${this.opts.domain}>`,
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination,
      timeoutMs: this.opts.queryTimeoutMs,
    });
    if (res.status >= 300) throw new Error(`upper platform answered ${res.status} ${res.reason}`);
  }

  /** A MESSAGE from a trusted sender (see `trusted`). */
  private onMessage(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const senderId = senderOf(req);
    // Most MESSAGEs are plain keepalives: answer those without the general XML decoder (see the module).
    const plainKeepalive = tryReadPlainKeepalive(req.body);
    if (plainKeepalive) {
      this.onKeepalive(senderId, plainKeepalive, source, reply);
      return;
    }
    let msg: ManscdpMessage;
    try {
      msg = decodeManscdp(req.body, { maxBytes: this.opts.maxBodyBytes });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.emit('bad-body', { deviceId: senderId, error });
      this.refuse(req, source, senderId, 'bad-body', error);
      reply(400, 'Bad Body');
      return;
    }

    // A keepalive is never answered with a body and its sender is From (already checked): SN and DeviceID
    // are not needed, so sloppy ones are accepted (GB brief §10: parse leniently).
    if (msg.root === 'Notify' && msg.cmdType === 'Keepalive') {
      this.onKeepalive(senderId, readKeepalive(msg), source, reply);
      return;
    }
    // Everything else is correlated by SN or answered with it: refuse what cannot be (total decoding: a
    // defined 400 here instead of an encoder error later).
    const problem = envelopeProblem(msg);
    if (problem) {
      this.emit('bad-body', { deviceId: senderId, error: problem });
      this.refuse(req, source, senderId, problem, `${msg.root}/${msg.cmdType}`);
      reply(400, ENVELOPE_PHRASE[problem]);
      return;
    }

    if (msg.root === 'Response') {
      const delivered = this.pending.deliver(senderId, msg);
      // A catalog part whose rows are being stored is acknowledged once they are (durable catalog): a device
      // does not send an acknowledged part again, so a crash in between must not lose it.
      const gateKey = `${senderId}:${msg.sn}`;
      const gate = delivered ? this.partGates.get(gateKey) : undefined;
      if (gate) {
        this.partGates.delete(gateKey);
        void gate.then(() => reply(200, 'OK'));
      } else {
        reply(200, 'OK');
      }
      if (!delivered) this.emit('unhandled-message', { deviceId: senderId, cmdType: msg.cmdType, root: msg.root });
      return;
    }

    if (msg.root === 'Notify' && msg.cmdType === 'Alarm') {
      const alarm = readAlarmNotify(msg);
      this.emit('alarm', { deviceId: senderId, source, alarm });
      const acknowledge = (): void => {
        reply(200, 'OK');
        // GB 9.4.2: acknowledge the alarm with a Response MESSAGE as well as the 200 (WVP skips this).
        void this.sendMessage(senderId, source, encodeResponse('Alarm', msg.sn, msg.deviceId, { Result: 'OK' })).catch(() => undefined);
      };
      const gate = this.opts.directory.alarmDurable?.(senderId);
      if (!gate) acknowledge();
      else
        gate.then(acknowledge, (err: unknown) => {
          this.opts.logger.error({ err, deviceId: senderId }, 'alarm durability gate failed; answering from memory');
          acknowledge();
        });
      return;
    }

    if (msg.root === 'Notify' && msg.cmdType === 'MobilePosition') {
      this.onMobilePosition(senderId, msg, reply);
      return;
    }

    reply(200, 'OK');

    this.opts.logger.info({ deviceId: senderId, root: msg.root, cmdType: msg.cmdType }, 'MESSAGE with a CmdType we do not handle; answered 200');
    this.emit('unhandled-message', { deviceId: senderId, cmdType: msg.cmdType, root: msg.root });
  }

  // ------------------------------------------------------------------ outgoing

  /** Send a MANSCDP MESSAGE to a device at its transport source; resolves on the device's 200. */
  async sendMessage(deviceId: string, destination: TransportSource, body: Buffer): Promise<void> {
    const res = await this.opts.endpoint.sendRequest({
      method: 'MESSAGE',
      uri: `sip:${deviceId}@${this.opts.domain}`,
      to: `<sip:${deviceId}@${this.opts.domain}>`,
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination,
      timeoutMs: this.opts.queryTimeoutMs,
    });
    if (res.status >= 300) throw new Error(`device answered ${res.status} ${res.reason}`);
  }

  /**
   * Query the catalog of a device (or of one node of a lower platform) and collect every part with the
   * same SN until SumNum items arrived or the device went quiet for `catalogIdleTimeoutMs`.
   */
  async queryCatalog(
    deviceId: string,
    destination: TransportSource,
    onProgress?: (received: number, total: number | null) => void,
    charset: ManscdpCharset = 'GB2312',
    options: CatalogQueryOptions = {},
  ): Promise<CatalogQueryResult> {
    const sn = this.nextSn();
    const items = new Map<string, CatalogItem>();
    let sumNum: number | null = null;
    const { storePart } = options;
    const collected = this.pending.expect(deviceId, 'Catalog', sn, {
      firstTimeoutMs: this.opts.queryTimeoutMs,
      idleTimeoutMs: this.opts.catalogIdleTimeoutMs,
      onPart: (m): boolean => {
        const part = readCatalogResponse(m);
        sumNum = part.sumNum;
        for (const item of part.items) items.set(item.deviceId, item);
        if (storePart && part.items.length > 0) {
          // The inbound handler holds this part's 200 OK until the gate settles (either way: a store that
          // fails or hangs is the domain's to report; the device still gets its answer).
          this.partGates.set(`${deviceId}:${m.sn}`, storePart(part.items).then(noop, (err: unknown) => {
            this.opts.logger.warn({ deviceId, sn, err }, 'catalog part not stored before its acknowledgement');
          }));
        }
        onProgress?.(items.size, sumNum);
        return items.size >= (sumNum ?? 0);
      },
    });
    try {
      await this.sendMessage(deviceId, destination, encodeQuery('Catalog', sn, deviceId, undefined, charset));
    } catch (err) {
      this.pending.cancel(deviceId, 'Catalog', sn);
      throw err;
    }
    const outcome: CollectedAnswer = await collected;
    if (outcome.parts === 0) throw new Error(`no Catalog answer within ${this.opts.queryTimeoutMs} ms`);
    return { deviceId, sn, sumNum, items: [...items.values()], state: outcome.complete ? 'complete' : 'partial' };
  }

  /**
   * RecordInfo of a channel between two instants: the device's parts collected by SN until SumNum items
   * arrived or it went quiet (like the catalog). Times go out as GB local time.
   */
  async queryRecordInfo(
    deviceId: string,
    channelId: string,
    destination: TransportSource,
    window: { start: number; end: number; type?: string },
    charset: ManscdpCharset = 'GB2312',
  ): Promise<{ sumNum: number | null; items: RecordItem[]; complete: boolean }> {
    const sn = this.nextSn();
    const items: RecordItem[] = [];
    let sumNum: number | null = null;
    const maxItems = this.opts.maxRecordItems ?? 20_000;
    let truncated = false;
    // Keyed by the channel: the device answers with the queried DeviceID.
    const collected = this.pending.expect(deviceId, 'RecordInfo', sn, {
      firstTimeoutMs: this.opts.queryTimeoutMs,
      idleTimeoutMs: this.opts.catalogIdleTimeoutMs,
      onPart: (m): boolean => {
        const part = readRecordInfoResponse(m);
        sumNum = part.sumNum;
        const room = maxItems - items.length;
        if (part.items.length > room) {
          truncated = true;
          items.push(...part.items.slice(0, Math.max(0, room)));
          this.opts.logger.warn({ deviceId, channelId, sumNum, kept: items.length }, 'RecordInfo answer cut off: more items than a query keeps');
          return true;
        }
        items.push(...part.items);
        return items.length >= (sumNum ?? 0);
      },
    });
    const fields = {
      StartTime: toGbTime(window.start),
      EndTime: toGbTime(window.end),
      Secrecy: 0,
      Type: window.type ?? 'all',
    };
    try {
      await this.sendMessage(channelId, destination, encodeQuery('RecordInfo', sn, channelId, fields, charset));
    } catch (err) {
      this.pending.cancel(deviceId, 'RecordInfo', sn);
      throw err;
    }
    const outcome: CollectedAnswer = await collected;
    if (outcome.parts === 0) throw new Error(`no RecordInfo answer within ${this.opts.queryTimeoutMs} ms`);
    return { sumNum, items, complete: outcome.complete && !truncated };
  }

  async queryDeviceInfo(deviceId: string, destination: TransportSource, charset: ManscdpCharset = 'GB2312'): Promise<DeviceInfoResponse> {
    const m = await this.querySingle(deviceId, destination, 'DeviceInfo', charset);
    return readDeviceInfo(m);
  }

  async queryDeviceStatus(deviceId: string, destination: TransportSource, charset: ManscdpCharset = 'GB2312'): Promise<DeviceStatusResponse> {
    const m = await this.querySingle(deviceId, destination, 'DeviceStatus', charset);
    return readDeviceStatus(m);
  }

  /** DeviceControl/PTZCmd. No answer MESSAGE follows (GB 9.3.1); the 200 OK is the acknowledgement. */
  async sendPtz(targetId: string, destination: TransportSource, ptzHex: string, charset: ManscdpCharset = 'GB2312'): Promise<void> {
    await this.sendMessage(targetId, destination, encodePtzControl(targetId, this.nextSn(), ptzHex, charset));
  }

  private async querySingle(deviceId: string, destination: TransportSource, cmdType: string, charset: ManscdpCharset): Promise<ManscdpMessage> {
    const sn = this.nextSn();
    let answer: ManscdpMessage | null = null;
    const collected = this.pending.expect(deviceId, cmdType, sn, {
      firstTimeoutMs: this.opts.queryTimeoutMs,
      idleTimeoutMs: this.opts.queryTimeoutMs,
      onPart: (m) => {
        answer = m;
        return true;
      },
    });
    try {
      await this.sendMessage(deviceId, destination, encodeQuery(cmdType, sn, deviceId, undefined, charset));
    } catch (err) {
      this.pending.cancel(deviceId, cmdType, sn);
      throw err;
    }
    await collected;
    if (!answer) throw new Error(`no ${cmdType} answer within ${this.opts.queryTimeoutMs} ms`);
    return answer;
  }
}

function noop(): void {}

/** A SUBSCRIBE or NOTIFY answered with an error status (0: no answer). */
export class SubscriptionRefused extends Error {
  override readonly name = 'SubscriptionRefused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A MobilePosition subscription's report interval (seconds): the body's value clamped to 1–3600, else 5. */
export function mobilePositionInterval(raw: string | undefined): number {
  const n = Number.parseInt((raw ?? '').trim(), 10);
  if (!Number.isFinite(n) || n <= 0) return 5;
  return Math.min(3600, Math.max(1, n));
}
