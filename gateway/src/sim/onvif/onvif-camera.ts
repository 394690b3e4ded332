/**
 * A simulated ONVIF camera: the device, media (ver10), media2 (ver20), PTZ (ver20) and events (PullPoint)
 * services over HTTP/SOAP 1.2 with WS-Security UsernameToken (PasswordDigest or PasswordText) and a snapshot
 * behind HTTP digest — a real peer on the wire, checked with an independent client (onvif-zeep) in the tests.
 *
 * Camera behaviour it reproduces, because the gateway's client must cope with it:
 *  - GetSystemDateAndTime answers without authentication (ONVIF Core §5.9.4.3); everything else needs a valid
 *    token whose Created is within ±`clockToleranceSec` of the camera's own clock (which may be skewed with
 *    `clockOffsetMs`); wrong credentials → a ter:NotAuthorized fault with HTTP 400;
 *  - `lockAfterFailures` consecutive failures lock the account for `lockSeconds` (many cameras do this, which
 *    is why the gateway must never retry wrong credentials in a loop);
 *  - addresses it announces (XAddrs, stream and snapshot URIs, subscription addresses) use `announcedHost`,
 *    which a test may set to 127.0.1.1 or a private address to reproduce cameras behind NAT;
 *  - a PullPoint subscription expires at its termination time; `reboot()` forgets every subscription, as a
 *    power cycle does, so the client has to re-create it; `rejectRenew` makes Renew fail (firmware that never
 *    implemented it), `rejectSubscribe` makes CreatePullPointSubscription fail (a camera still booting);
 *  - `emitEvent` / `raise` put a notification on every live subscription (what tests use to trigger alarms),
 *    and `eventLog` records each events/subscription call with its WS-Addressing headers.
 *
 * Stream URIs point at `rtspPort` (the simulator's or a test's RTSP server, /onvif/<profile token>).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  NS,
  SoapError,
  at,
  attr,
  buildEnvelope,
  buildFault,
  escapeXml,
  localName,
  parseEnvelope,
  textAt,
  verifyUsernameToken,
  type FaultSpec,
  type XmlNode,
} from '../../codecs/soap/soap.js';
import { buildChallenge, parseDigestParams, verifyDigest } from '../../codecs/sip/digest.js';

export interface OnvifCameraOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Host written into every address the camera announces. Default: the host it listens on. */
  announcedHost?: string;
  username?: string;
  password?: string;
  name?: string;
  manufacturer?: string;
  model?: string;
  hardware?: string;
  location?: string;
  serialNumber?: string;
  /** Video sources (channels); each has a main and a sub profile. Default 1. */
  videoSources?: number;
  /** Main stream codec per the profiles. Default H264. */
  encoding?: 'H264' | 'H265';
  ptz?: boolean;
  /**
   * Continuous velocity ranges of the PTZ node (GetNodes/GetNode); null leaves that space out (a camera without
   * zoom). Default: the generic −1…1 for pan/tilt and zoom.
   */
  ptzSpaces?: SimPtzSpaces;
  /** Imaging service (focus and iris). Default true. */
  imaging?: boolean;
  /** Iris range in dB (GetOptions Exposure/Iris); null: no iris. Default −22…0. */
  irisRange?: SimRange | null;
  /** Continuous focus speed range (GetMoveOptions); null: no continuous focus. Default −1…1. */
  focusSpeedRange?: SimRange | null;
  rtspPort?: number;
  /** Path prefix of this camera's RTSP URIs (several simulated cameras share one RTSP server). Default /onvif. */
  rtspPrefix?: string;
  /** The camera's clock runs this far ahead of ours (negative: behind). */
  clockOffsetMs?: number;
  /**
   * What GetSystemDateAndTime reports relative to the camera's own clock: e.g. +8 h for firmware that puts
   * local (China) time into UTCDateTime, a common fault that makes a client sign with the wrong time.
   */
  reportedClockErrorMs?: number;
  clockToleranceSec?: number;
  lockAfterFailures?: number;
  lockSeconds?: number;
  /** GetSystemDateAndTime also wants a token (firmware that ignores ONVIF Core §5.9.4.3). Default false. */
  timeNeedsAuth?: boolean;
  /** JPEG bytes served as the snapshot (default: a tiny built-in JPEG). */
  snapshotJpeg?: Buffer;
}

export interface SimRange {
  min: number;
  max: number;
}

export interface SimPtzSpaces {
  panTilt: { x: SimRange; y: SimRange } | null;
  zoom: SimRange | null;
}

/** One Imaging service call, as the camera received it. */
export interface ImagingCall {
  op: 'GetImagingSettings' | 'GetOptions' | 'GetMoveOptions' | 'Move' | 'Stop' | 'SetImagingSettings';
  source: string;
  /** Move: the continuous focus speed. */
  focusSpeed?: number;
  /** SetImagingSettings: the exposure mode and iris set. */
  mode?: string;
  iris?: number;
}

export interface PtzCommand {
  op: 'ContinuousMove' | 'Stop' | 'RelativeMove' | 'GotoPreset' | 'SetPreset' | 'RemovePreset' | 'GotoHomePosition';
  profile: string;
  pan?: number;
  tilt?: number;
  zoom?: number;
  preset?: string;
}

/** One call to the events service or a subscription, as the camera received it. */
export interface EventCall {
  op: 'CreatePullPointSubscription' | 'PullMessages' | 'Renew' | 'Unsubscribe';
  /** The subscription addressed ('' for CreatePullPointSubscription). */
  subscription: string;
  /** The Host header the request came with (what address the client reached us at). */
  host: string;
  /** WS-Addressing headers, undefined when absent. */
  to?: string;
  action?: string;
  messageId?: string;
  /** What the camera answered: 'ok' or the fault subcode. */
  outcome: string;
  at: number;
}

/** Event kinds the simulator raises with `raise`, as an ONVIF camera reports them. */
export const SIM_EVENT_TOPICS = {
  motion: { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', item: 'IsMotion' },
  'motion-alarm': { topic: 'tns1:VideoSource/MotionAlarm', item: 'State' },
  tamper: { topic: 'tns1:VideoSource/GlobalSceneChange/ImagingService', item: 'State' },
  'video-loss': { topic: 'tns1:VideoSource/SignalLoss', item: 'State' },
  'digital-input': { topic: 'tns1:Device/Trigger/DigitalInput', item: 'LogicalState' },
} as const;

interface Subscription {
  id: string;
  terminationMs: number;
  queue: string[];
  waiter: (() => void) | null;
}

export interface OnvifCameraStats {
  requests: number;
  authFailures: number;
  locked: boolean;
  /** Live (unexpired) PullPoint subscriptions. */
  subscriptions: number;
}

// A 1x1 baseline JPEG (white pixel), valid for any decoder: the simulator's fallback snapshot.
const TINY_JPEG = Buffer.from(
  'ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbfcffd9',
  'hex',
);

const MAX_BODY_BYTES = 256 * 1024;

export class OnvifCameraSim {
  readonly uuid = randomUUID();
  private readonly opts: Required<Omit<OnvifCameraOptions, 'announcedHost' | 'snapshotJpeg'>> & { announcedHost?: string; snapshotJpeg: Buffer };
  private server: Server | null = null;
  private listenPort = 0;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly seenNonces = new Map<string, number>();
  private failures = 0;
  private lockedUntil = 0;
  private requestCount = 0;
  private authFailureCount = 0;
  /** SOAP operations received (local name, lower case) and how often (tests assert on which call a client made). */
  readonly opCounts = new Map<string, number>();
  private readonly presets = new Map<string, Map<string, string>>();
  private readonly digestNonce = randomBytes(12).toString('hex');
  /** Every PTZ command received, in order (tests assert on it). */
  readonly ptzLog: PtzCommand[] = [];
  /** Current simulated PTZ position per profile, generic space. */
  readonly positions = new Map<string, { pan: number; tilt: number; zoom: number }>();
  /** Every events-service and subscription call received, in order (tests assert on it). */
  readonly eventLog: EventCall[] = [];
  /** Every Imaging call received, in order (tests assert on it). */
  readonly imagingLog: ImagingCall[] = [];
  /** Exposure per video source token (GetImagingSettings answers it; SetImagingSettings changes it). */
  readonly exposure = new Map<string, { mode: string; iris: number }>();
  /** PTZ node calls (GetNodes, GetNode) received. */
  readonly nodeCalls: string[] = [];
  /** Renew answers a fault (some firmware never implemented it). */
  rejectRenew = false;
  /** CreatePullPointSubscription answers a fault (a camera still booting, or out of subscriptions). */
  rejectSubscribe = false;

  constructor(options: OnvifCameraOptions = {}) {
    this.opts = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      announcedHost: options.announcedHost,
      username: options.username ?? 'admin',
      password: options.password ?? 'admin12345',
      name: options.name ?? 'Simulated ONVIF camera',
      manufacturer: options.manufacturer ?? 'SharpEyesSim',
      model: options.model ?? 'ONVIF-SIM-1',
      hardware: options.hardware ?? 'SIM-HW-1',
      location: options.location ?? 'lab',
      serialNumber: options.serialNumber ?? randomBytes(6).toString('hex').toUpperCase(),
      videoSources: options.videoSources ?? 1,
      encoding: options.encoding ?? 'H264',
      ptz: options.ptz ?? true,
      ptzSpaces: options.ptzSpaces ?? { panTilt: { x: { min: -1, max: 1 }, y: { min: -1, max: 1 } }, zoom: { min: -1, max: 1 } },
      imaging: options.imaging ?? true,
      irisRange: options.irisRange === undefined ? { min: -22, max: 0 } : options.irisRange,
      focusSpeedRange: options.focusSpeedRange === undefined ? { min: -1, max: 1 } : options.focusSpeedRange,
      rtspPort: options.rtspPort ?? 554,
      rtspPrefix: options.rtspPrefix ?? '/onvif',
      clockOffsetMs: options.clockOffsetMs ?? 0,
      reportedClockErrorMs: options.reportedClockErrorMs ?? 0,
      clockToleranceSec: options.clockToleranceSec ?? 300,
      lockAfterFailures: options.lockAfterFailures ?? 5,
      lockSeconds: options.lockSeconds ?? 60,
      timeNeedsAuth: options.timeNeedsAuth ?? false,
      snapshotJpeg: options.snapshotJpeg ?? TINY_JPEG,
    };
  }

  get port(): number {
    return this.listenPort;
  }

  get host(): string {
    return this.opts.host;
  }

  /** The device service address a client is configured with. */
  get deviceServiceUrl(): string {
    return `http://${this.opts.host}:${this.listenPort}/onvif/device_service`;
  }

  /** Profile tokens with their stream shape, for an RTSP server that serves this camera. */
  get profiles(): Array<{ token: string; path: string; sub: boolean; codec: 'h264' | 'h265' }> {
    return this.profileTokens().map((p) => ({ token: p.token, path: `${this.opts.rtspPrefix}/${p.token}`, sub: p.sub, codec: p.sub || this.opts.encoding === 'H264' ? 'h264' : 'h265' }));
  }

  get credentials(): { username: string; password: string } {
    return { username: this.opts.username, password: this.opts.password };
  }

  get info(): { name: string; manufacturer: string; model: string; hardware: string; location: string; serialNumber: string } {
    const { name, manufacturer, model, hardware, location, serialNumber } = this.opts;
    return { name, manufacturer, model, hardware, location, serialNumber };
  }

  get stats(): OnvifCameraStats {
    return { requests: this.requestCount, authFailures: this.authFailureCount, locked: this.cameraNow() < this.lockedUntil, subscriptions: this.liveSubscriptions() };
  }

  /** Subscriptions not yet past their termination time (expired ones are dropped when next addressed, as cameras do). */
  private liveSubscriptions(): number {
    const now = this.cameraNow();
    let n = 0;
    for (const s of this.subscriptions.values()) if (s.terminationMs >= now) n++;
    return n;
  }

  /** Scopes as WS-Discovery announces them. */
  get scopes(): string[] {
    const enc = (s: string): string => encodeURIComponent(s);
    return [
      'onvif://www.onvif.org/type/video_encoder',
      'onvif://www.onvif.org/Profile/Streaming',
      `onvif://www.onvif.org/name/${enc(this.opts.name)}`,
      `onvif://www.onvif.org/hardware/${enc(this.opts.hardware)}`,
      `onvif://www.onvif.org/location/${enc(this.opts.location)}`,
    ];
  }

  get xaddr(): string {
    return `http://${this.announced()}:${this.listenPort}/onvif/device_service`;
  }

  setPassword(password: string): void {
    this.opts.password = password;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.listenPort = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions.values()) s.waiter?.();
    this.subscriptions.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A power cycle: subscriptions are gone (the client must re-create them), the lock is cleared. */
  reboot(): void {
    for (const s of this.subscriptions.values()) s.waiter?.();
    this.subscriptions.clear();
    this.failures = 0;
    this.lockedUntil = 0;
  }

  /** Raise an event on every live subscription (topic e.g. "tns1:RuleEngine/CellMotionDetector/Motion"). */
  emitEvent(topic: string, data: Record<string, string>, source: Record<string, string> = { VideoSourceConfigurationToken: 'vsc_1' }): void {
    const items = (kind: 'Source' | 'Data', values: Record<string, string>): string =>
      `<tt:${kind}>${Object.entries(values)
        .map(([n, v]) => `<tt:SimpleItem Name="${escapeXml(n)}" Value="${escapeXml(v)}"/>`)
        .join('')}</tt:${kind}>`;
    const message =
      `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${escapeXml(topic)}</wsnt:Topic>` +
      `<wsnt:Message><tt:Message UtcTime="${new Date(this.cameraNow()).toISOString()}" PropertyOperation="Changed">${items('Source', source)}${items('Data', data)}</tt:Message></wsnt:Message></wsnt:NotificationMessage>`;
    for (const s of this.subscriptions.values()) {
      if (s.queue.length < 1000) s.queue.push(message);
      s.waiter?.();
    }
  }

  /**
   * Raise (active) or clear an event the way a camera reports it: motion, tamper, video loss on video source
   * `source` (1-based; named by its configuration token), or digital input `source` (named DI_<n>).
   */
  raise(kind: keyof typeof SIM_EVENT_TOPICS, active = true, source = 1): void {
    const { topic, item } = SIM_EVENT_TOPICS[kind];
    const sourceItems: Record<string, string> = kind === 'digital-input' ? { InputToken: `DI_${source}` } : kind === 'motion' ? { VideoSourceConfigurationToken: `vsc_${source}` } : { Source: `vs_${source}` };
    this.emitEvent(topic, { [item]: String(active) }, sourceItems);
  }

  // -------------------------------------------------------------------------------------------------------

  private logEvent(op: EventCall['op'], subscription: string, header: XmlNode | undefined, outcome: string): void {
    if (this.eventLog.length >= 10_000) this.eventLog.shift();
    this.eventLog.push({ op, subscription, host: this.requestHost, to: textAt(header, 'To'), action: textAt(header, 'Action'), messageId: textAt(header, 'MessageID'), outcome, at: Date.now() });
  }

  private cameraNow(): number {
    return Date.now() + this.opts.clockOffsetMs;
  }

  private announced(): string {
    return this.opts.announcedHost ?? this.opts.host;
  }

  private base(): string {
    return `http://${this.announced()}:${this.listenPort}`;
  }

  private profileTokens(): Array<{ token: string; source: number; sub: boolean }> {
    const out: Array<{ token: string; source: number; sub: boolean }> = [];
    for (let s = 1; s <= this.opts.videoSources; s++) {
      out.push({ token: `profile_${s}_main`, source: s, sub: false });
      out.push({ token: `profile_${s}_sub`, source: s, sub: true });
    }
    return out;
  }

  /** The Host header of the request being dispatched (for eventLog). */
  private requestHost = '';

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requestCount++;
    const url = new URL(req.url ?? '/', 'http://camera');
    if (req.method === 'GET' && url.pathname.startsWith('/onvif/snapshot/')) return this.snapshot(req, res, url.pathname);
    if (req.method !== 'POST' || !url.pathname.startsWith('/onvif/')) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>404 Not Found</h1></body></html>');
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) {
      res.writeHead(413).end();
      return;
    }
    let envelope;
    try {
      envelope = parseEnvelope(body);
    } catch (err) {
      const reason = err instanceof SoapError ? err.message : 'malformed request';
      return this.fault(res, { code: 'Sender', subcode: 'ter:WellFormed', reason });
    }
    const message = envelope.message;
    const op = message ? localName(message) : '';
    this.opCounts.set(op, (this.opCounts.get(op) ?? 0) + 1);
    if (op !== 'getsystemdateandtime' || this.opts.timeNeedsAuth) {
      if (this.cameraNow() < this.lockedUntil) return this.fault(res, { code: 'Sender', subcode: 'ter:NotAuthorized', reason: 'account locked after repeated failures' });
      const check = verifyUsernameToken(
        envelope.header,
        (u) => (u === this.opts.username ? this.opts.password : undefined),
        new Date(this.cameraNow()),
        this.opts.clockToleranceSec,
        (nonce) => this.nonceSeen(nonce),
      );
      if (!check.ok) {
        this.authFailureCount++;
        if (check.reason !== 'stale' && check.reason !== 'missing' && ++this.failures >= this.opts.lockAfterFailures) {
          this.lockedUntil = this.cameraNow() + this.opts.lockSeconds * 1000;
        }
        return this.fault(res, { code: 'Sender', subcode: 'ter:NotAuthorized', reason: `the action requested requires authorization (${check.reason})` });
      }
      this.failures = 0;
    }
    const path = url.pathname;
    // Set right before dispatching: the services log it before their first await.
    this.requestHost = req.headers.host ?? '';
    const answer = await this.dispatch(path, op, message, envelope.header);
    if (answer === null) return this.fault(res, { code: 'Sender', subcode: 'ter:ActionNotSupported', reason: `${op || 'empty body'} is not supported at ${path}` });
    if ('fault' in answer) return this.fault(res, answer.fault);
    res.writeHead(200, { 'content-type': 'application/soap+xml; charset=utf-8' }).end(buildEnvelope(answer.body, answer.header ?? ''));
  }

  private fault(res: ServerResponse, fault: FaultSpec): void {
    res.writeHead(fault.code === 'Sender' ? 400 : 500, { 'content-type': 'application/soap+xml; charset=utf-8' }).end(buildFault(fault));
  }

  private nonceSeen(nonce: string): boolean {
    const now = Date.now();
    if (this.seenNonces.size > 10_000) {
      for (const [n, t] of this.seenNonces) if (now - t > this.opts.clockToleranceSec * 2000) this.seenNonces.delete(n);
    }
    if (this.seenNonces.has(nonce)) return true;
    this.seenNonces.set(nonce, now);
    return false;
  }

  private async dispatch(
    path: string,
    op: string,
    message: XmlNode | undefined,
    header: XmlNode | undefined,
  ): Promise<{ body: string; header?: string } | { fault: FaultSpec } | null> {
    if (path === '/onvif/device_service') return this.deviceService(op);
    if (path === '/onvif/media_service') return this.mediaService(op, message);
    if (path === '/onvif/media2_service') return this.media2Service(op, message);
    if (path === '/onvif/ptz_service' && this.opts.ptz) return this.ptzService(op, message);
    if (path === '/onvif/imaging_service' && this.opts.imaging) return this.imagingService(op, message);
    if (path === '/onvif/events_service') return this.eventsService(op, message, header);
    if (path.startsWith('/onvif/subscription/')) return this.subscriptionService(path.slice('/onvif/subscription/'.length), op, message, header);
    return null;
  }

  private deviceService(op: string): { body: string } | null {
    const base = this.base();
    switch (op) {
      case 'getsystemdateandtime': {
        const d = new Date(this.cameraNow() + this.opts.reportedClockErrorMs);
        const dt = (date: Date): string =>
          `<tt:Time><tt:Hour>${date.getUTCHours()}</tt:Hour><tt:Minute>${date.getUTCMinutes()}</tt:Minute><tt:Second>${date.getUTCSeconds()}</tt:Second></tt:Time>` +
          `<tt:Date><tt:Year>${date.getUTCFullYear()}</tt:Year><tt:Month>${date.getUTCMonth() + 1}</tt:Month><tt:Day>${date.getUTCDate()}</tt:Day></tt:Date>`;
        const local = new Date(d.getTime() + 8 * 3600_000);
        return {
          body:
            `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>` +
            `<tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone><tt:UTCDateTime>${dt(d)}</tt:UTCDateTime><tt:LocalDateTime>${dt(local)}</tt:LocalDateTime>` +
            `</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
        };
      }
      case 'getdeviceinformation':
        return {
          body:
            `<tds:GetDeviceInformationResponse><tds:Manufacturer>${escapeXml(this.opts.manufacturer)}</tds:Manufacturer><tds:Model>${escapeXml(this.opts.model)}</tds:Model>` +
            `<tds:FirmwareVersion>V5.7.3 build 230101</tds:FirmwareVersion><tds:SerialNumber>${escapeXml(this.opts.serialNumber)}</tds:SerialNumber>` +
            `<tds:HardwareId>${escapeXml(this.opts.hardware)}</tds:HardwareId></tds:GetDeviceInformationResponse>`,
        };
      case 'getcapabilities':
        return {
          body:
            `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
            `<tt:Device><tt:XAddr>${base}/onvif/device_service</tt:XAddr></tt:Device>` +
            `<tt:Events><tt:XAddr>${base}/onvif/events_service</tt:XAddr><tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>` +
            `<tt:WSPullPointSupport>true</tt:WSPullPointSupport><tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>` +
            (this.opts.imaging ? `<tt:Imaging><tt:XAddr>${base}/onvif/imaging_service</tt:XAddr></tt:Imaging>` : '') +
            `<tt:Media><tt:XAddr>${base}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
            (this.opts.ptz ? `<tt:PTZ><tt:XAddr>${base}/onvif/ptz_service</tt:XAddr></tt:PTZ>` : '') +
            `</tds:Capabilities></tds:GetCapabilitiesResponse>`,
        };
      case 'getservices': {
        const svc = (ns: string, path: string, major: number, minor: number): string =>
          `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${base}${path}</tds:XAddr><tds:Version><tt:Major>${major}</tt:Major><tt:Minor>${minor}</tt:Minor></tds:Version></tds:Service>`;
        return {
          body:
            `<tds:GetServicesResponse>${svc(NS.tds, '/onvif/device_service', 2, 60)}${svc(NS.trt, '/onvif/media_service', 2, 60)}${svc(NS.tr2, '/onvif/media2_service', 2, 60)}` +
            `${this.opts.ptz ? svc(NS.tptz, '/onvif/ptz_service', 2, 60) : ''}${this.opts.imaging ? svc(NS.timg, '/onvif/imaging_service', 2, 60) : ''}${svc(NS.tev, '/onvif/events_service', 2, 60)}</tds:GetServicesResponse>`,
        };
      }
      case 'getnetworkinterfaces':
        return {
          body:
            `<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0"><tt:Enabled>true</tt:Enabled>` +
            `<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>02:00:00:${this.opts.serialNumber.slice(0, 6).match(/../g)?.join(':') ?? '00:00:00'}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>` +
            `<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual><tt:Address>${escapeXml(this.announced())}</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual><tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>` +
            `</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>`,
        };
      default:
        return null;
    }
  }

  private dims(sub: boolean): { w: number; h: number } {
    return sub ? { w: 640, h: 360 } : { w: 1280, h: 720 };
  }

  private streamUri(profile: string): string {
    return `rtsp://${this.announced()}:${this.opts.rtspPort}${this.opts.rtspPrefix}/${profile}`;
  }

  private mediaService(op: string, message: XmlNode | undefined): { body: string } | { fault: FaultSpec } | null {
    switch (op) {
      case 'getprofiles': {
        const profiles = this.profileTokens()
          .map(({ token, source, sub }) => {
            const { w, h } = this.dims(sub);
            return (
              `<trt:Profiles token="${token}" fixed="true"><tt:Name>${token}</tt:Name>` +
              `<tt:VideoSourceConfiguration token="vsc_${source}"><tt:Name>VideoSource_${source}</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>vs_${source}</tt:SourceToken><tt:Bounds x="0" y="0" width="1280" height="720"/></tt:VideoSourceConfiguration>` +
              `<tt:VideoEncoderConfiguration token="vec_${token}"><tt:Name>${token}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
              `<tt:Resolution><tt:Width>${w}</tt:Width><tt:Height>${h}</tt:Height></tt:Resolution><tt:Quality>4</tt:Quality>` +
              `<tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${sub ? 512 : 2048}</tt:BitrateLimit></tt:RateControl>` +
              `<tt:H264><tt:GovLength>25</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>` +
              `<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>` +
              `<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>` +
              (this.opts.ptz ? `<tt:PTZConfiguration token="ptz_${source}"><tt:Name>PTZ_${source}</tt:Name><tt:UseCount>2</tt:UseCount><tt:NodeToken>ptznode_${source}</tt:NodeToken></tt:PTZConfiguration>` : '') +
              `</trt:Profiles>`
            );
          })
          .join('');
        return { body: `<trt:GetProfilesResponse>${profiles}</trt:GetProfilesResponse>` };
      }
      case 'getstreamuri':
      case 'getsnapshoturi': {
        const token = textAt(message, 'ProfileToken') ?? '';
        if (!this.profileTokens().some((p) => p.token === token)) return { fault: { code: 'Sender', subcode: 'ter:NoProfile', reason: `no profile ${token}` } };
        const uri = op === 'getstreamuri' ? this.streamUri(token) : `${this.base()}/onvif/snapshot/${token}.jpg`;
        const tag = op === 'getstreamuri' ? 'GetStreamUriResponse' : 'GetSnapshotUriResponse';
        return {
          body: `<trt:${tag}><trt:MediaUri><tt:Uri>${escapeXml(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:${tag}>`,
        };
      }
      default:
        return null;
    }
  }

  private media2Service(op: string, message: XmlNode | undefined): { body: string } | { fault: FaultSpec } | null {
    switch (op) {
      case 'getprofiles': {
        const profiles = this.profileTokens()
          .map(({ token, source, sub }) => {
            const { w, h } = this.dims(sub);
            const encoding = sub ? 'H264' : this.opts.encoding;
            return (
              `<tr2:Profiles token="${token}" fixed="true"><tr2:Name>${token}</tr2:Name><tr2:Configurations>` +
              `<tr2:VideoSource token="vsc_${source}"><tt:Name>VideoSource_${source}</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>vs_${source}</tt:SourceToken><tt:Bounds x="0" y="0" width="1280" height="720"/></tr2:VideoSource>` +
              `<tr2:VideoEncoder token="vec_${token}" GovLength="25" Profile="Main"><tt:Name>${token}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>${encoding}</tt:Encoding>` +
              `<tt:Resolution><tt:Width>${w}</tt:Width><tt:Height>${h}</tt:Height></tt:Resolution>` +
              `<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:BitrateLimit>${sub ? 512 : 2048}</tt:BitrateLimit></tt:RateControl><tt:Quality>4</tt:Quality></tr2:VideoEncoder>` +
              (this.opts.ptz ? `<tr2:PTZ token="ptz_${source}"><tt:Name>PTZ_${source}</tt:Name><tt:UseCount>2</tt:UseCount><tt:NodeToken>ptznode_${source}</tt:NodeToken></tr2:PTZ>` : '') +
              `</tr2:Configurations></tr2:Profiles>`
            );
          })
          .join('');
        return { body: `<tr2:GetProfilesResponse>${profiles}</tr2:GetProfilesResponse>` };
      }
      case 'getstreamuri':
      case 'getsnapshoturi': {
        const token = textAt(message, 'ProfileToken') ?? '';
        if (!this.profileTokens().some((p) => p.token === token)) return { fault: { code: 'Sender', subcode: 'ter:NoProfile', reason: `no profile ${token}` } };
        const uri = op === 'getstreamuri' ? this.streamUri(token) : `${this.base()}/onvif/snapshot/${token}.jpg`;
        const tag = op === 'getstreamuri' ? 'GetStreamUriResponse' : 'GetSnapshotUriResponse';
        return { body: `<tr2:${tag}><tr2:Uri>${escapeXml(uri)}</tr2:Uri></tr2:${tag}>` };
      }
      default:
        return null;
    }
  }

  /** Imaging ver20 on the video sources vs_N: continuous focus and the exposure's iris. */
  private imagingService(op: string, message: XmlNode | undefined): { body: string } | { fault: FaultSpec } | null {
    const source = textAt(message, 'VideoSourceToken') ?? '';
    const known = Array.from({ length: this.opts.videoSources }, (_, i) => `vs_${i + 1}`).includes(source);
    if (!known) return { fault: { code: 'Sender', subcode: 'ter:NoSource', reason: `no video source ${source}` } };
    const exposure = this.exposure.get(source) ?? { mode: 'AUTO', iris: this.opts.irisRange?.max ?? 0 };
    this.exposure.set(source, exposure);
    const range = (tag: string, r: SimRange): string => `<tt:${tag}><tt:Min>${r.min}</tt:Min><tt:Max>${r.max}</tt:Max></tt:${tag}>`;
    const notSupported = (what: string): { fault: FaultSpec } => ({ fault: { code: 'Receiver', subcode: 'ter:ActionNotSupported', reason: what } });
    switch (op) {
      case 'getimagingsettings':
        this.imagingLog.push({ op: 'GetImagingSettings', source });
        return {
          body:
            `<timg:GetImagingSettingsResponse><timg:ImagingSettings><tt:Brightness>50</tt:Brightness>` +
            `<tt:Exposure><tt:Mode>${exposure.mode}</tt:Mode>${this.opts.irisRange ? `<tt:Iris>${exposure.iris}</tt:Iris>` : ''}</tt:Exposure>` +
            `<tt:Focus><tt:AutoFocusMode>MANUAL</tt:AutoFocusMode></tt:Focus></timg:ImagingSettings></timg:GetImagingSettingsResponse>`,
        };
      case 'getoptions':
        this.imagingLog.push({ op: 'GetOptions', source });
        return {
          body:
            `<timg:GetOptionsResponse><timg:ImagingOptions>${range('Brightness', { min: 0, max: 100 })}` +
            `<tt:Exposure><tt:Mode>AUTO</tt:Mode><tt:Mode>MANUAL</tt:Mode>${this.opts.irisRange ? range('Iris', this.opts.irisRange) : ''}</tt:Exposure>` +
            `<tt:Focus><tt:AutoFocusModes>MANUAL</tt:AutoFocusModes></tt:Focus></timg:ImagingOptions></timg:GetOptionsResponse>`,
        };
      case 'getmoveoptions':
        this.imagingLog.push({ op: 'GetMoveOptions', source });
        return {
          body: `<timg:GetMoveOptionsResponse><timg:MoveOptions>${this.opts.focusSpeedRange ? `<tt:Continuous>${range('Speed', this.opts.focusSpeedRange)}</tt:Continuous>` : ''}</timg:MoveOptions></timg:GetMoveOptionsResponse>`,
        };
      case 'move': {
        const speed = Number(textAt(message, 'Focus/Continuous/Speed'));
        const r = this.opts.focusSpeedRange;
        if (!r || !Number.isFinite(speed)) return notSupported('only continuous focus moves are supported');
        if (speed < r.min || speed > r.max) return { fault: { code: 'Sender', subcode: 'ter:InvalidArgVal', reason: `focus speed ${speed} outside ${r.min}…${r.max}` } };
        this.imagingLog.push({ op: 'Move', source, focusSpeed: speed });
        return { body: '<timg:MoveResponse/>' };
      }
      case 'stop':
        this.imagingLog.push({ op: 'Stop', source });
        return { body: '<timg:StopResponse/>' };
      case 'setimagingsettings': {
        const mode = (textAt(message, 'ImagingSettings/Exposure/Mode') ?? exposure.mode).toUpperCase();
        const irisText = textAt(message, 'ImagingSettings/Exposure/Iris');
        const r = this.opts.irisRange;
        if (irisText !== undefined) {
          const iris = Number(irisText);
          if (!r) return notSupported('this camera has no iris');
          // Real cameras take a manual iris only in manual exposure, and only within the options' range.
          if (mode !== 'MANUAL') return { fault: { code: 'Sender', subcode: 'ter:InvalidArgVal', reason: 'iris can be set only with Exposure Mode MANUAL' } };
          if (!Number.isFinite(iris) || iris < r.min || iris > r.max) return { fault: { code: 'Sender', subcode: 'ter:InvalidArgVal', reason: `iris ${irisText} outside ${r.min}…${r.max}` } };
          exposure.iris = iris;
        }
        exposure.mode = mode;
        this.imagingLog.push({ op: 'SetImagingSettings', source, mode, iris: exposure.iris });
        return { body: '<timg:SetImagingSettingsResponse/>' };
      }
      default:
        return null;
    }
  }

  /** One PTZ node per video source (ptznode_N), with the configured continuous velocity spaces. */
  private ptzNode(source: number): string {
    const { panTilt, zoom } = this.opts.ptzSpaces;
    const r = (tag: string, range: SimRange): string => `<tt:${tag}><tt:Min>${range.min}</tt:Min><tt:Max>${range.max}</tt:Max></tt:${tag}>`;
    return (
      `<tptz:PTZNode token="ptznode_${source}" FixedHomePosition="false"><tt:Name>PTZNode_${source}</tt:Name><tt:SupportedPTZSpaces>` +
      (panTilt ? `<tt:ContinuousPanTiltVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace</tt:URI>${r('XRange', panTilt.x)}${r('YRange', panTilt.y)}</tt:ContinuousPanTiltVelocitySpace>` : '') +
      (zoom ? `<tt:ContinuousZoomVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace</tt:URI>${r('XRange', zoom)}</tt:ContinuousZoomVelocitySpace>` : '') +
      `</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>255</tt:MaximumNumberOfPresets><tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode>`
    );
  }

  private ptzService(op: string, message: XmlNode | undefined): { body: string } | { fault: FaultSpec } | null {
    const sources = Array.from({ length: this.opts.videoSources }, (_, i) => i + 1);
    if (op === 'getnodes') {
      this.nodeCalls.push('GetNodes');
      return { body: `<tptz:GetNodesResponse>${sources.map((n) => this.ptzNode(n)).join('')}</tptz:GetNodesResponse>` };
    }
    if (op === 'getnode') {
      const token = textAt(message, 'NodeToken') ?? '';
      this.nodeCalls.push(`GetNode(${token})`);
      const n = sources.find((i) => `ptznode_${i}` === token);
      if (n === undefined) return { fault: { code: 'Sender', subcode: 'ter:NoEntity', reason: `no PTZ node ${token}` } };
      return { body: `<tptz:GetNodeResponse>${this.ptzNode(n)}</tptz:GetNodeResponse>` };
    }
    const profile = textAt(message, 'ProfileToken') ?? '';
    const known = this.profileTokens().some((p) => p.token === profile);
    if (op !== '' && !known) return { fault: { code: 'Sender', subcode: 'ter:NoProfile', reason: `no profile ${profile}` } };
    const vec = (path: string): { pan?: number; tilt?: number; zoom?: number } => {
      const pt = at(message, `${path}/PanTilt`);
      const z = at(message, `${path}/Zoom`);
      const out: { pan?: number; tilt?: number; zoom?: number } = {};
      if (pt) {
        out.pan = Number(attr(pt, 'x') ?? 0);
        out.tilt = Number(attr(pt, 'y') ?? 0);
      }
      if (z) out.zoom = Number(attr(z, 'x') ?? 0);
      return out;
    };
    const position = this.positions.get(profile) ?? { pan: 0, tilt: 0, zoom: 0 };
    this.positions.set(profile, position);
    const presets = this.presets.get(profile) ?? new Map<string, string>();
    this.presets.set(profile, presets);
    switch (op) {
      case 'continuousmove': {
        const v = vec('Velocity');
        // Like real cameras, velocities outside the node's spaces (or for a space it lacks) are refused.
        const { panTilt, zoom } = this.opts.ptzSpaces;
        const outside = (x: number | undefined, r: SimRange | null | undefined): boolean => x !== undefined && (!r || x < r.min || x > r.max);
        if (outside(v.pan, panTilt?.x) || outside(v.tilt, panTilt?.y) || outside(v.zoom, zoom)) {
          return { fault: { code: 'Sender', subcode: 'ter:InvalidArgVal', reason: `velocity ${JSON.stringify(v)} outside the node's spaces` } };
        }
        this.ptzLog.push({ op: 'ContinuousMove', profile, ...v });
        return { body: '<tptz:ContinuousMoveResponse/>' };
      }
      case 'stop':
        this.ptzLog.push({ op: 'Stop', profile });
        return { body: '<tptz:StopResponse/>' };
      case 'relativemove': {
        const t = vec('Translation');
        position.pan += t.pan ?? 0;
        position.tilt += t.tilt ?? 0;
        position.zoom += t.zoom ?? 0;
        this.ptzLog.push({ op: 'RelativeMove', profile, ...t });
        return { body: '<tptz:RelativeMoveResponse/>' };
      }
      case 'gotopreset': {
        const preset = textAt(message, 'PresetToken') ?? '';
        if (!presets.has(preset)) return { fault: { code: 'Sender', subcode: 'ter:NoToken', reason: `no preset ${preset}` } };
        this.ptzLog.push({ op: 'GotoPreset', profile, preset });
        return { body: '<tptz:GotoPresetResponse/>' };
      }
      case 'setpreset': {
        const name = textAt(message, 'PresetName') ?? '';
        const token = textAt(message, 'PresetToken') || String(presets.size + 1);
        presets.set(token, name || `Preset ${token}`);
        this.ptzLog.push({ op: 'SetPreset', profile, preset: token });
        return { body: `<tptz:SetPresetResponse><tptz:PresetToken>${escapeXml(token)}</tptz:PresetToken></tptz:SetPresetResponse>` };
      }
      case 'removepreset': {
        const preset = textAt(message, 'PresetToken') ?? '';
        if (!presets.delete(preset)) return { fault: { code: 'Sender', subcode: 'ter:NoToken', reason: `no preset ${preset}` } };
        this.ptzLog.push({ op: 'RemovePreset', profile, preset });
        return { body: '<tptz:RemovePresetResponse/>' };
      }
      case 'getpresets':
        return {
          body: `<tptz:GetPresetsResponse>${[...presets].map(([token, name]) => `<tptz:Preset token="${escapeXml(token)}"><tt:Name>${escapeXml(name)}</tt:Name></tptz:Preset>`).join('')}</tptz:GetPresetsResponse>`,
        };
      case 'gotohomeposition':
        position.pan = 0;
        position.tilt = 0;
        position.zoom = 0;
        this.ptzLog.push({ op: 'GotoHomePosition', profile });
        return { body: '<tptz:GotoHomePositionResponse/>' };
      default:
        return null;
    }
  }

  private eventsService(op: string, message: XmlNode | undefined, header: XmlNode | undefined): { body: string } | { fault: FaultSpec } | null {
    if (op !== 'createpullpointsubscription') return null;
    if (this.rejectSubscribe) {
      this.logEvent('CreatePullPointSubscription', '', header, 'ter:OutofResources');
      return { fault: { code: 'Receiver', subcode: 'ter:OutofResources', reason: 'no subscription available (simulated)' } };
    }
    this.logEvent('CreatePullPointSubscription', '', header, 'ok');
    const seconds = durationSeconds(textAt(message, 'InitialTerminationTime')) ?? 60;
    const id = randomBytes(8).toString('hex');
    const now = this.cameraNow();
    const sub: Subscription = { id, terminationMs: now + seconds * 1000, queue: [], waiter: null };
    this.subscriptions.set(id, sub);
    return {
      body:
        `<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>${this.base()}/onvif/subscription/${id}</wsa:Address></tev:SubscriptionReference>` +
        `<wsnt:CurrentTime>${new Date(now).toISOString()}</wsnt:CurrentTime><wsnt:TerminationTime>${new Date(sub.terminationMs).toISOString()}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>`,
    };
  }

  private async subscriptionService(
    id: string,
    op: string,
    message: XmlNode | undefined,
    header: XmlNode | undefined,
  ): Promise<{ body: string; header?: string } | { fault: FaultSpec } | null> {
    const sub = this.subscriptions.get(id);
    const logged = ({ pullmessages: 'PullMessages', renew: 'Renew', unsubscribe: 'Unsubscribe' } as const)[op as 'pullmessages' | 'renew' | 'unsubscribe'] as EventCall['op'] | undefined;
    const log = (outcome: string): void => {
      if (logged) this.logEvent(logged, id, header, outcome);
    };
    if (sub && sub.terminationMs < this.cameraNow()) this.subscriptions.delete(id);
    if (!sub || !this.subscriptions.has(id)) {
      log('wsrf-rw:ResourceUnknownFault');
      return { fault: { code: 'Sender', subcode: 'wsrf-rw:ResourceUnknownFault', reason: `subscription ${id} is unknown or has expired` } };
    }
    // PullPoint calls carry WS-Addressing (agsh/onvif #158): a camera that checks them wants To = this address.
    const to = textAt(header, 'To');
    if (to !== undefined && !to.endsWith(`/onvif/subscription/${id}`)) {
      log('wsa:DestinationUnreachable');
      return { fault: { code: 'Sender', subcode: 'wsa:DestinationUnreachable', reason: `wsa:To ${to} is not this subscription` } };
    }
    if (op === 'renew' && this.rejectRenew) {
      log('ter:ActionNotSupported');
      return { fault: { code: 'Receiver', subcode: 'ter:ActionNotSupported', reason: 'Renew is not supported by this firmware (simulated)' } };
    }
    log('ok');
    const now = this.cameraNow();
    switch (op) {
      case 'pullmessages': {
        const timeoutSec = Math.min(durationSeconds(textAt(message, 'Timeout')) ?? 10, 60);
        const limit = Math.max(1, Math.min(Number(textAt(message, 'MessageLimit') ?? 100) || 100, 1000));
        if (sub.queue.length === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutSec * 1000);
            sub.waiter = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          sub.waiter = null;
        }
        const messages = sub.queue.splice(0, limit).join('');
        return {
          body: `<tev:PullMessagesResponse><tev:CurrentTime>${new Date(this.cameraNow()).toISOString()}</tev:CurrentTime><tev:TerminationTime>${new Date(sub.terminationMs).toISOString()}</tev:TerminationTime>${messages}</tev:PullMessagesResponse>`,
        };
      }
      case 'renew': {
        const seconds = durationSeconds(textAt(message, 'TerminationTime')) ?? 60;
        sub.terminationMs = now + seconds * 1000;
        return { body: `<wsnt:RenewResponse><wsnt:TerminationTime>${new Date(sub.terminationMs).toISOString()}</wsnt:TerminationTime><wsnt:CurrentTime>${new Date(now).toISOString()}</wsnt:CurrentTime></wsnt:RenewResponse>` };
      }
      case 'unsubscribe':
        sub.waiter?.();
        this.subscriptions.delete(id);
        return { body: '<wsnt:UnsubscribeResponse/>' };
      default:
        return null;
    }
  }

  private snapshot(req: IncomingMessage, res: ServerResponse, path: string): void {
    const realm = 'ONVIF-SIM';
    const auth = req.headers.authorization ?? '';
    const params = parseDigestParams(auth);
    const ok =
      params.username === this.opts.username && params.nonce === this.digestNonce && verifyDigest(params, this.opts.password, 'GET', { expectedRealm: realm });
    if (!ok) {
      res.writeHead(401, { 'www-authenticate': buildChallenge(realm, this.digestNonce) }).end();
      return;
    }
    const token = path.slice('/onvif/snapshot/'.length).replace(/\.jpg$/, '');
    if (!this.profileTokens().some((p) => p.token === token)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': this.opts.snapshotJpeg.length }).end(this.opts.snapshotJpeg);
  }
}

/** "PT60S", "PT1M30S", "PT0.5S" → seconds; an absolute time → seconds from now; undefined when unreadable. */
export function durationSeconds(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text.trim());
  if (m) return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  const abs = Date.parse(text);
  if (!Number.isNaN(abs)) return Math.max(0, (abs - Date.now()) / 1000);
  return undefined;
}

function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}
