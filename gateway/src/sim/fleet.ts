/**
 * DeviceFleet: many simulated GB/T 28181 devices (IPCs, NVRs, or one lower platform) registering with and
 * serving a gateway over real sockets on loopback. The programmatic face of `sharp-eyes sim`, for tests and
 * benchmarks.
 *
 * Sockets:
 *  - UDP, fewer than `dedicatedSocketsBelow` (200) devices: one socket per device (distinct ports, like real
 *    cameras on a LAN).
 *  - UDP, more: a pool, `udpDevicesPerSocket` (1 000) devices per socket. Several devices behind one
 *    address:port is legitimate (a NAT, or a lower platform); incoming requests are routed to the device by
 *    the Request-URI user (else the To user). 50 000 devices → 50 sockets.
 *  - TCP: one connection per device, so requests from the gateway arrive on that device's connection (GB
 *    2022 §9.1.1 f). Each TCP device uses its own SipTransport, which costs three file descriptors here
 *    (the dialled connection plus the transport's UDP socket and TCP listener) and one in the gateway: about
 *    6 000 TCP devices fit under a 20 000 descriptor limit (`ulimit -n`); raise it for more.
 *
 * Pacing: `ratePerSecond` registration starts per second (0 = as fast as the gateway answers) and at most
 * `maxInFlight` (2 000) REGISTER exchanges outstanding.
 *
 * Live video: every camera channel answers INVITE and streams a looped test pattern as PS over RTP (UDP, TCP
 * passive, TCP active) until BYE — see media-session.ts (calls), media-sender.ts (pacing: one timer for the
 * whole fleet) and media-source.ts (loops encoded once with ffmpeg; the first `personalisedChannels` channels
 * show their own ID). `prepareMedia()` encodes ahead of time so the first INVITE is answered at once.
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { header, type SipRequest } from '../codecs/sip/message.js';
import { parseNameAddr, parseUri } from '../codecs/sip/headers.js';
import type { ManscdpCharset } from '../codecs/manscdp/charset.js';
import { SipTransport, type TransportSource } from '../transport/sip-transport.js';
import { SipEndpoint, type ReplyFn } from '../protocol/sip-endpoint.js';
import { DeviceCatalog, PlatformCatalog } from './catalog-source.js';
import type { DeviceFleetEvents, PtzLogEntry, SimDeviceKind } from './events.js';
import { cameraName, GbIdAllocator, gbId, nvrName, regionName, TYPE_CODE, vendorFor } from './identity.js';
import { Pacer } from './pacer.js';
import { MediaLibrary, type SimAudioCodec, type SimVideoCodec } from './media-source.js';
import { SimMediaService, type ActiveStreamInfo } from './media-session.js';
import type { PumpTotals } from './media-sender.js';
import {
  SimDevice,
  type AlarmOptions,
  type DeviceHost,
  type DeviceLink,
  type DeviceState,
  type SimDeviceConfig,
  type SimDeviceSpec,
} from './sim-device.js';

export interface DeviceFleetOptions {
  /** Gateway SIP address: "127.0.0.1:5060" or { host, port }. */
  server: string | { host: string; port: number };
  /** Gateway SIP ID (REGISTER Request-URI, To of MESSAGEs). Default: idPrefix + "00" + "200" + "0" + "000001". */
  serverId?: string;
  /** SIP domain / digest realm we address. Default: first 10 digits of serverId. */
  serverDomain?: string;
  transport?: 'udp' | 'tcp';
  /** Local address to bind and advertise. Default 127.0.0.1. */
  localHost?: string;
  /** Number of devices (ignored in platform mode). Default 1. */
  devices?: number;
  /** Every k-th device is an NVR (0 = none). Default 0. */
  nvrEvery?: number;
  /** Camera channels per NVR. Default 4. */
  channelsPerNvr?: number;
  /** Instead of devices: one lower platform (type 200) with a region/group tree of this many channels. */
  platformChannels?: number;
  /** 8-digit civil code that starts every ID. Default 44030500. */
  idPrefix?: string;
  /** First serial number of each type (two fleets against one gateway need disjoint ranges). Default 1. */
  firstSerial?: number;
  password: string;
  /** Every k-th device uses a wrong password (0 = none). Default 0. */
  wrongPasswordEvery?: number;
  /** Requested registration expiry. Default 3600 s. */
  expiresSec?: number;
  /** Keepalive interval. Default 60 s. */
  keepaliveSec?: number;
  /** Unanswered keepalives before registering again. Default 3. */
  keepaliveMissLimit?: number;
  /** Retry a failed registration after this long (jittered ±50 %); 0 = never. Default 60 s. */
  retryDelaySec?: number;
  /** Refresh at this fraction of the granted expiry. Default 0.8. */
  refreshFraction?: number;
  /** Registration starts per second; 0 = as fast as the gateway answers. Default 0. */
  ratePerSecond?: number;
  /** Outstanding REGISTER exchanges at most. Default 2 000. */
  maxInFlight?: number;
  /** Send REGISTER Expires: 0 on stop(). Default true. */
  unregisterOnStop?: boolean;
  /** Each device raises an alarm every n seconds (random phase); 0 = never. Default 0. */
  alarmEverySec?: number;
  /** UDP devices per pooled socket. Default 1 000. */
  udpDevicesPerSocket?: number;
  /** Below this many UDP devices each gets its own socket. Default 200. */
  dedicatedSocketsBelow?: number;
  /** MANSCDP body charset. Default GB2312 (written with the GB 18030 encoder, see codecs/manscdp/charset.ts). */
  charset?: ManscdpCharset;
  /** X-GB-ver on REGISTER; null leaves it out. Default '3.0'. */
  gbVersion?: string | null;
  /** UDP MESSAGE size budget of IPCs/NVRs. Default 1 300 bytes. */
  udpMessageBytes?: number;
  /** UDP MESSAGE size budget of a lower platform's catalog parts. Default 8 000 bytes. */
  udpPlatformMessageBytes?: number;
  /** TCP MESSAGE size budget. Default 48 KiB. */
  tcpMessageBytes?: number;
  /** Fixed catalog items per MESSAGE (overrides the byte budgets). */
  catalogItemsPerMessage?: number;
  /**
   * Devices accept Alarm and MobilePosition SUBSCRIBEs (alarms then go as NOTIFYs, positions are NOTIFYed at the
   * subscriber's Interval); off: 489 like most IPCs. Default false.
   */
  eventSubscriptions?: boolean;
  /** SIP client transaction timeout. Default 32 s. */
  transactionTimeoutMs?: number;
  /** Video codec of every camera. Default 'h264'. */
  codec?: SimVideoCodec;
  /** Audio in the PS stream (20 ms G.711A frames). Default none. */
  audio?: SimAudioCodec | null;
  /** Send RTP with SSRC 0 (y= is still echoed), like some devices. Default false. */
  zeroSsrc?: boolean;
  /** Answer INVITE with 200 OK without SDP, like a public simulator does. Default false. */
  answerWithoutSdp?: boolean;
  /** Delay the 200 OK to INVITE (after 100 Trying). Default 0. */
  inviteDelayMs?: number;
  /** Stop sending (without BYE) this long after a stream started. Default never. */
  stopSendingAfterMs?: number;
  /** Answer playback control (MANSRTSP INFO) with an unreadable body, like a broken device. Default false. */
  garbageMansrtspAnswers?: boolean;
  /**
   * Cameras playing the same loop send its shared pre-muxed, pre-cut RTP payloads (only RTP header, SCR and PTS
   * written per camera; the same bytes as muxing per camera). false: every camera muxes and packetises each
   * frame itself (the old way, for comparison). Default true.
   */
  sharedMediaPackets?: boolean;
  /** Media loop length, whole seconds. Default 10. */
  mediaLoopSeconds?: number;
  /** Disk cache of encoded loops. Default os.tmpdir()/sharp-eyes-sim-media. */
  mediaCacheDir?: string;
  /** This many channels (the first ones of the fleet) show their own channel ID; the rest a shared loop. Default 16. */
  personalisedChannels?: number;
  /** An INVITE for a personalised channel waits this long for its loop's encode, then uses the shared loop. Default 3 000 ms. */
  personalisedWaitMs?: number;
  /**
   * Encode (or load from the disk cache) the shared main and sub loops and the audio before any device
   * registers, as a real camera has its encoder running before it registers: a registered camera then answers
   * INVITE at once. Default true; personalised loops are still encoded on demand (see prepareMedia()).
   */
  prepareMediaOnStart?: boolean;
  logger?: Logger;
}

/** Media counters of a fleet (for tests and benchmarks). */
export interface FleetMediaStats extends PumpTotals {
  /** Calls answered and not ended (any state). */
  sessions: number;
  /** Streams sending now. */
  activeStreams: number;
  /** Bytes of encoded loops held in memory (shared by every fleet of the process). */
  loopBytesInMemory: number;
}

export interface SimDeviceInfo {
  id: string;
  kind: SimDeviceKind;
  name: string;
  manufacturer: string;
  /** Camera channel IDs (an IPC: itself; a platform: all its channels). */
  channelIds: readonly string[];
}

export interface FleetStats {
  devices: number;
  registered: number;
  /** Devices that registered at least once. */
  everRegistered: number;
  failures: number;
  inFlight: number;
  queued: number;
  sockets: number;
}

interface Waiter {
  count: number;
  resolve: () => void;
}

const DEFAULTS = {
  localHost: '127.0.0.1',
  idPrefix: '44030500',
  expiresSec: 3_600,
  keepaliveSec: 60,
  keepaliveMissLimit: 3,
  retryDelaySec: 60,
  refreshFraction: 0.8,
  maxInFlight: 2_000,
  udpDevicesPerSocket: 1_000,
  dedicatedSocketsBelow: 200,
  udpMessageBytes: 1_300,
  udpPlatformMessageBytes: 8_000,
  tcpMessageBytes: 48 * 1024,
  transactionTimeoutMs: 32_000,
  channelsPerNvr: 4,
  personalisedChannels: 16,
  personalisedWaitMs: 3_000,
} as const;

/** Links are opened this many at a time (each is a listen() on UDP+TCP). */
const LISTEN_CONCURRENCY = 64;
/** Unregistering on stop waits at most this long per device. */
const UNREGISTER_TIMEOUT_MS = 5_000;

function parseServer(server: DeviceFleetOptions['server']): { address: string; port: number } {
  if (typeof server !== 'string') return { address: server.host, port: server.port };
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(server.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65_535) throw new RangeError(`server must be host:port, got ${JSON.stringify(server)}`);
  return { address: m[1]!, port: Number(m[2]) };
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

/** The ID a request is for: the Request-URI user, else the To user. */
function requestTarget(req: SipRequest): string {
  try {
    const user = parseUri(req.uri).user;
    if (user) return user;
  } catch {
    // fall through to To
  }
  try {
    const to = header(req, 'to');
    return to ? parseUri(parseNameAddr(to).uri).user : '';
  } catch {
    return '';
  }
}

export class DeviceFleet extends EventEmitter<DeviceFleetEvents> {
  readonly config: SimDeviceConfig;
  private readonly opts: DeviceFleetOptions;
  private readonly log: Logger;
  private readonly transportKind: 'udp' | 'tcp';
  private readonly localHost: string;
  private readonly specs: SimDeviceSpec[];
  private readonly platform: PlatformCatalog | null;
  private readonly pacer: Pacer;
  private readonly simDevices: SimDevice[] = [];
  /** Device and NVR channel IDs → device (platform channels are claimed by the platform's catalog). */
  private readonly byId = new Map<string, SimDevice>();
  private readonly links: DeviceLink[] = [];
  private registeredNow = 0;
  private everRegisteredCount = 0;
  private failureCount = 0;
  private waiters: Waiter[] = [];
  private startedAt = 0;
  private allRegisteredAtMs: number | null = null;
  private started = false;
  private stopped = false;
  private readonly mediaLibrary: MediaLibrary;
  private readonly media: SimMediaService;
  private personalised: Set<string> | null = null;

  constructor(opts: DeviceFleetOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? pino({ enabled: false });
    this.transportKind = opts.transport ?? 'udp';
    if (this.transportKind !== 'udp' && this.transportKind !== 'tcp') throw new RangeError(`transport must be udp or tcp`);
    this.localHost = opts.localHost ?? DEFAULTS.localHost;
    const prefix = opts.idPrefix ?? DEFAULTS.idPrefix;
    const firstSerial = opts.firstSerial ?? 1;
    const serverId = opts.serverId ?? gbId(prefix, TYPE_CODE.sipServer, 1);
    const keepaliveSec = opts.keepaliveSec ?? DEFAULTS.keepaliveSec;
    this.config = {
      serverId,
      serverDomain: opts.serverDomain ?? serverId.slice(0, 10),
      server: parseServer(opts.server),
      expiresSec: positiveInt('expiresSec', opts.expiresSec ?? DEFAULTS.expiresSec, 1),
      keepaliveSec: positiveInt('keepaliveSec', keepaliveSec, 1),
      keepaliveMissLimit: positiveInt('keepaliveMissLimit', opts.keepaliveMissLimit ?? DEFAULTS.keepaliveMissLimit, 1),
      retryDelayMs: (opts.retryDelaySec ?? DEFAULTS.retryDelaySec) * 1_000,
      refreshFraction: opts.refreshFraction ?? DEFAULTS.refreshFraction,
      transactionTimeoutMs: opts.transactionTimeoutMs ?? DEFAULTS.transactionTimeoutMs,
      charset: opts.charset ?? 'GB2312',
      gbVersion: opts.gbVersion === undefined ? '3.0' : opts.gbVersion,
      udpMessageBytes: opts.udpMessageBytes ?? DEFAULTS.udpMessageBytes,
      udpPlatformMessageBytes: opts.udpPlatformMessageBytes ?? DEFAULTS.udpPlatformMessageBytes,
      tcpMessageBytes: opts.tcpMessageBytes ?? DEFAULTS.tcpMessageBytes,
      catalogItemsPerMessage: opts.catalogItemsPerMessage ?? null,
      alarmEveryMs: (opts.alarmEverySec ?? 0) * 1_000,
      eventSubscriptions: opts.eventSubscriptions ?? false,
    };
    if (!(this.config.refreshFraction > 0 && this.config.refreshFraction < 1)) throw new RangeError('refreshFraction must be between 0 and 1');
    const codec = opts.codec ?? 'h264';
    if (codec !== 'h264' && codec !== 'h265') throw new RangeError(`codec must be h264 or h265`);
    const audio = opts.audio ?? null;
    if (audio !== null && audio !== 'g711a' && audio !== 'aac') throw new RangeError(`audio must be g711a or aac`);
    this.mediaLibrary = MediaLibrary.shared({ cacheDir: opts.mediaCacheDir, loopSeconds: opts.mediaLoopSeconds });
    this.media = new SimMediaService(
      {
        codec,
        audio,
        zeroSsrc: opts.zeroSsrc ?? false,
        answerWithoutSdp: opts.answerWithoutSdp ?? false,
        inviteDelayMs: opts.inviteDelayMs ?? 0,
        stopSendingAfterMs: opts.stopSendingAfterMs ?? null,
        garbageMansrtspAnswers: opts.garbageMansrtspAnswers ?? false,
        sharedPackets: opts.sharedMediaPackets ?? true,
        personalisedWaitMs: opts.personalisedWaitMs ?? DEFAULTS.personalisedWaitMs,
      },
      this.mediaLibrary,
      this.localHost,
      {
        emit: (event, ...args) => (this.emit as (e: typeof event, ...a: typeof args) => boolean)(event, ...args),
        isPersonalised: (channelId) => this.personalisedChannels().has(channelId),
        channelName: (channelId) => this.channelName(channelId),
        serverId,
      },
    );
    this.pacer = new Pacer({
      ratePerSecond: opts.ratePerSecond ?? 0,
      maxInFlight: positiveInt('maxInFlight', opts.maxInFlight ?? DEFAULTS.maxInFlight, 1),
    });

    const allocator = new GbIdAllocator(prefix, firstSerial);
    const wrongEvery = opts.wrongPasswordEvery ?? 0;
    const passwordFor = (i: number): string => (wrongEvery > 0 && i % wrongEvery === wrongEvery - 1 ? `${opts.password}-wrong` : opts.password);
    this.specs = [];
    if (opts.platformChannels !== undefined) {
      const channels = positiveInt('platformChannels', opts.platformChannels, 1);
      const vendor = vendorFor(0);
      // Serial 900000+ keeps the platform clear of the gateway's own type-200 ID (usually serial 000001).
      const platformId = gbId(prefix, TYPE_CODE.sipServer, 900_000 + firstSerial);
      this.platform = new PlatformCatalog(platformId, prefix, channels, firstSerial, vendor);
      const platform = this.platform;
      let channelIds: string[] | null = null;
      this.specs.push({
        id: platformId,
        kind: 'platform',
        name: `${regionName(prefix.slice(0, 6))}视频联网平台`,
        vendor,
        password: passwordFor(0),
        get channelIds(): readonly string[] {
          channelIds ??= Array.from({ length: channels }, (_, c) => platform.channelId(c));
          return channelIds;
        },
        alarmSourceId: platform.channelId(0),
        catalog: platform,
        channelCount: channels,
      });
    } else {
      this.platform = null;
      const count = positiveInt('devices', opts.devices ?? 1, 1);
      const nvrEvery = opts.nvrEvery ?? 0;
      const channelsPerNvr = positiveInt('channelsPerNvr', opts.channelsPerNvr ?? DEFAULTS.channelsPerNvr, 1);
      let cameraIndex = 0;
      let nvrIndex = 0;
      for (let i = 0; i < count; i++) {
        const vendor = vendorFor(i);
        if (nvrEvery > 0 && i % nvrEvery === nvrEvery - 1) {
          const id = allocator.allocate(TYPE_CODE.nvr);
          // Analog-style cameras (131) behind every other NVR, IP cameras (132) behind the rest.
          const channelType = nvrIndex % 2 === 0 ? TYPE_CODE.ipc : TYPE_CODE.camera;
          const channelIds = Array.from({ length: channelsPerNvr }, () => allocator.allocate(channelType));
          this.specs.push({
            id,
            kind: 'nvr',
            name: nvrName(nvrIndex++),
            vendor,
            password: passwordFor(i),
            channelIds,
            alarmSourceId: channelIds[0]!,
            catalog: new DeviceCatalog(id, channelIds, cameraIndex, vendor),
            channelCount: channelsPerNvr,
          });
          cameraIndex += channelsPerNvr;
        } else {
          const id = allocator.allocate(TYPE_CODE.ipc);
          this.specs.push({
            id,
            kind: 'ipc',
            name: cameraName(cameraIndex),
            vendor,
            password: passwordFor(i),
            channelIds: [id],
            alarmSourceId: id,
            catalog: new DeviceCatalog(id, [id], cameraIndex, vendor),
            channelCount: 1,
          });
          cameraIndex += 1;
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  /** Open the sockets and queue every device's first REGISTER. Resolves once all are queued. */
  async start(): Promise<void> {
    if (this.started) throw new Error('fleet already started');
    this.started = true;
    if (this.opts.prepareMediaOnStart ?? true) {
      // Without ffmpeg (or with a broken one) the devices still register; each INVITE then retries the encode.
      await this.prepareMedia({ personalised: false }).catch((err: unknown) => this.log.warn({ err }, 'preparing media failed; INVITEs will retry'));
    }
    if (this.stopped) return;
    this.startedAt = Date.now();
    const groups = this.groupSpecs();
    const host = this.deviceHost();
    for (let g = 0; g < groups.length; g += LISTEN_CONCURRENCY) {
      const batch = groups.slice(g, g + LISTEN_CONCURRENCY);
      const links = await Promise.all(batch.map((group) => this.openLink(group[0]!.id, group[0]!.vendor.userAgent)));
      if (this.stopped) {
        await Promise.all(links.map((l) => this.closeLink(l)));
        return;
      }
      batch.forEach((group, k) => {
        const link = links[k]!;
        for (const spec of group) {
          const device = new SimDevice(spec, link, host);
          this.simDevices.push(device);
          this.byId.set(spec.id, device);
          if (spec.kind !== 'platform') for (const ch of spec.channelIds) this.byId.set(ch, device);
        }
      });
    }
    for (const device of this.simDevices) device.start();
  }

  /**
   * Stop every device. With `unregister` (default: the unregisterOnStop option, itself default true) each
   * registered device sends REGISTER Expires: 0 first. Then sockets close.
   */
  async stop(opts: { unregister?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pacer.close();
    this.media.close();
    const unregister = opts.unregister ?? this.opts.unregisterOnStop ?? true;
    const leaving = unregister ? this.simDevices.filter((d) => d.registered) : [];
    for (const d of this.simDevices) d.shutdown();
    if (leaving.length > 0) {
      const pacer = new Pacer({ ratePerSecond: 0, maxInFlight: this.opts.maxInFlight ?? DEFAULTS.maxInFlight });
      for (const d of leaving) pacer.enqueue(() => d.unregister(UNREGISTER_TIMEOUT_MS).then(() => undefined));
      await pacer.idle();
    }
    await Promise.all(this.links.map((l) => this.closeLink(l)));
    this.links.length = 0;
  }

  // ------------------------------------------------------------------------------------------ queries

  get registeredCount(): number {
    return this.registeredNow;
  }

  /** Registration attempts that failed (wrong password, timeout, refusal), counted per attempt. */
  get failures(): number {
    return this.failureCount;
  }

  /** Time from start() until every device was registered at once, or null if that has not happened. */
  get allRegisteredAfterMs(): number | null {
    return this.allRegisteredAtMs;
  }

  get stats(): FleetStats {
    return {
      devices: this.specs.length,
      registered: this.registeredNow,
      everRegistered: this.everRegisteredCount,
      failures: this.failureCount,
      inFlight: this.pacer.inFlight,
      queued: this.pacer.queued,
      sockets: this.links.length,
    };
  }

  /** Every simulated device with its channel IDs. */
  get devices(): readonly SimDeviceInfo[] {
    return this.specs.map((s) => ({
      id: s.id,
      kind: s.kind,
      name: s.name,
      manufacturer: s.vendor.manufacturer,
      get channelIds() {
        return s.channelIds;
      },
    }));
  }

  /** The platform's catalog (platform mode only): region, group and org IDs for tests. */
  get platformCatalog(): PlatformCatalog | null {
    return this.platform;
  }

  /** State of one device ('registered', 'failed', 'silent', …), or undefined for an unknown ID. */
  stateOf(deviceId: string): DeviceState | undefined {
    return this.byId.get(deviceId)?.state;
  }

  /** Where the gateway should see a device: its local transport port (for routing checks in tests). */
  localPortOf(deviceId: string): number | undefined {
    return this.deviceFor(deviceId)?.transportLink.port;
  }

  /** PTZ commands a channel (or device) received, oldest first (the last 64). */
  ptzLog(channelId: string): readonly PtzLogEntry[] {
    return this.deviceFor(channelId)?.ptzLog(channelId) ?? [];
  }

  /** Calls in progress with their transport, SSRC, picture and counters. */
  activeStreams(): ActiveStreamInfo[] {
    return this.media.activeStreams();
  }

  get mediaStats(): FleetMediaStats {
    return {
      ...this.media.pump.totals,
      sessions: this.media.activeStreams().length,
      activeStreams: this.media.streamingCount,
      loopBytesInMemory: this.mediaLibrary.memoryBytes,
    };
  }

  /** The loops' library (encode counters, cache directory, whether text is burnt in). */
  get mediaSource(): MediaLibrary {
    return this.mediaLibrary;
  }

  /**
   * Encode (or load from the disk cache) what INVITEs will need: the shared main and sub loops, the audio,
   * and — with `personalised` (default true) — the personalised channels' loops. Without this the first
   * INVITE pays the encode (≈ 1.5 s for H.264, several seconds for H.265 on a small machine).
   */
  async prepareMedia(opts: { personalised?: boolean; profiles?: ReadonlyArray<'main' | 'sub'> } = {}): Promise<void> {
    const codec = this.opts.codec ?? 'h264';
    const profiles = opts.profiles ?? (['main', 'sub'] as const);
    const loads: Array<Promise<unknown>> = profiles.map((p) => this.mediaLibrary.videoLoop(codec, p, null));
    if (this.opts.audio) loads.push(this.mediaLibrary.audioLoop(this.opts.audio));
    if (opts.personalised ?? true) {
      for (const channelId of this.personalisedChannels()) for (const p of profiles) loads.push(this.mediaLibrary.videoLoop(codec, p, channelId, this.channelName(channelId)));
    }
    await Promise.all(loads);
  }

  /** The camera(s) stop sending without BYE (`id`: channel or device). Returns the number of streams paused. */
  stopSending(id: string): number {
    return this.media.stopSending(id);
  }

  /** Stopped streams send again, from the next keyframe. */
  resumeSending(id: string): number {
    return this.media.resumeSending(id);
  }

  /** The camera ends its calls with a BYE of its own. Resolves to the number of BYEs the gateway answered 2xx. */
  hangUp(id: string, timeoutMs?: number): Promise<number> {
    return this.media.hangUp(id, timeoutMs);
  }

  /** Resolves when at least `count` devices are registered at the same time; rejects after `timeoutMs`. */
  waitForRegistered(count: number, timeoutMs: number): Promise<void> {
    if (this.registeredNow >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`only ${this.registeredNow} of ${count} devices registered after ${timeoutMs} ms (${this.failureCount} failures)`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  // ------------------------------------------------------------------------------------------ actions

  /**
   * Raise an alarm: an Alarm Notify MESSAGE from the device. `id` may be the device or one of its channels
   * (then the channel is the alarm source). Resolves to the gateway's status, null when unanswered.
   */
  async raiseAlarm(id: string, alarm: AlarmOptions = {}): Promise<number | null> {
    const device = this.requireDevice(id);
    const channelId = alarm.channelId ?? (id !== device.id ? id : undefined);
    return device.raiseAlarm({ ...alarm, channelId });
  }

  /**
   * Report a position: a MobilePosition Notify MESSAGE from the device. `id` may be the device or one of its
   * channels (then the channel is the DeviceID). Resolves to the gateway's status, null when unanswered.
   */
  async reportPosition(id: string, position: { longitude: number; latitude: number; speed?: number; direction?: number }): Promise<number | null> {
    const device = this.requireDevice(id);
    return device.reportPosition({ ...position, ...(id !== device.id ? { channelId: id } : {}) });
  }

  /** These devices stop sending keepalives but stay registered and keep answering (offline detection). */
  stopKeepalive(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.requireDevice(id).stopKeepalive();
  }

  resumeKeepalive(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.requireDevice(id).resumeKeepalive();
  }

  /** These devices go silent without unregistering: no keepalive, no refresh, requests unanswered, no media. */
  stopDevices(deviceIds: readonly string[]): void {
    for (const id of deviceIds) {
      this.requireDevice(id).silence();
      this.media.powerOff(id);
    }
  }

  /** Silent devices power on again and register anew. */
  restartDevices(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.requireDevice(id).revive();
  }

  // ------------------------------------------------------------------------------------------ internals

  private deviceFor(id: string): SimDevice | undefined {
    const direct = this.byId.get(id);
    if (direct) return direct;
    if (this.platform?.owns(id)) return this.byId.get(this.platform.platformId);
    return undefined;
  }

  private requireDevice(id: string): SimDevice {
    const device = this.deviceFor(id);
    if (!device) throw new RangeError(`no simulated device or channel ${id}${this.started ? '' : ' (fleet not started)'}`);
    return device;
  }

  private readonly channelNames = new Map<string, string | null>();

  /** A channel's name as its device's (or the platform's) catalog gives it: burnt into its own picture. */
  channelName(channelId: string): string | null {
    const known = this.channelNames.get(channelId);
    if (known !== undefined) return known;
    const owner = this.platform ?? this.specs.find((s) => s.channelIds.includes(channelId))?.catalog ?? null;
    const item = owner?.listingFor(channelId)?.slice(0, 1)[0];
    const name = item && item.deviceId === channelId ? item.name : null;
    this.channelNames.set(channelId, name);
    return name;
  }

  /** The first `personalisedChannels` camera channels of the fleet, in device order. */
  private personalisedChannels(): Set<string> {
    if (this.personalised) return this.personalised;
    const limit = this.opts.personalisedChannels ?? DEFAULTS.personalisedChannels;
    const set = new Set<string>();
    if (this.platform) {
      for (let c = 0; c < limit && c < (this.opts.platformChannels ?? 0); c++) set.add(this.platform.channelId(c));
    } else {
      for (const spec of this.specs) {
        for (const ch of spec.channelIds) {
          if (set.size >= limit) break;
          set.add(ch);
        }
      }
    }
    this.personalised = set;
    return set;
  }

  /** Devices grouped by the socket they will share. */
  private groupSpecs(): SimDeviceSpec[][] {
    const perSocket =
      this.transportKind === 'tcp' || this.specs.length < (this.opts.dedicatedSocketsBelow ?? DEFAULTS.dedicatedSocketsBelow)
        ? 1
        : positiveInt('udpDevicesPerSocket', this.opts.udpDevicesPerSocket ?? DEFAULTS.udpDevicesPerSocket, 1);
    const groups: SimDeviceSpec[][] = [];
    for (let i = 0; i < this.specs.length; i += perSocket) groups.push(this.specs.slice(i, i + perSocket));
    return groups;
  }

  private async openLink(localId: string, userAgent: string): Promise<DeviceLink> {
    const transport = new SipTransport({
      host: this.localHost,
      port: 0,
      // A device keeps its connection; the gateway decides when it is idle.
      tcpIdleTimeoutMs: 0,
      logger: this.log,
    });
    await transport.listen();
    const endpoint = new SipEndpoint({
      transport,
      localId,
      localDomain: this.config.serverDomain,
      advertisedHost: this.localHost,
      advertisedPort: transport.port,
      userAgent,
      transactionTimeoutMs: this.config.transactionTimeoutMs,
      logger: this.log,
    });
    const link: DeviceLink = { transport, endpoint, kind: this.transportKind, host: this.localHost, port: transport.port };
    endpoint.onRequest((req, source, reply) => this.route(link, req, source, reply));
    transport.on('error', (err) => this.emit('warning', { message: `socket error on port ${link.port}: ${err.message}` }));
    transport.on('connection-closed', (source) => this.onConnectionClosed(link, source));
    this.links.push(link);
    return link;
  }

  private async closeLink(link: DeviceLink): Promise<void> {
    link.endpoint.close();
    await link.transport.close();
  }

  /** A request from the gateway: hand it to the device it names, if that device lives behind this socket. */
  private route(link: DeviceLink, req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const target = requestTarget(req);
    const device = this.deviceFor(target);
    if (!device || device.transportLink !== link) {
      // Strict on purpose: a request for a device that is not behind this socket means the gateway routed
      // by something other than the device's transport source.
      if (req.method !== 'ACK') reply(404, 'Not Found');
      this.emit('warning', { message: `${req.method} for ${target || '(no user)'} arrived on port ${link.port}, which does not serve it` });
      return;
    }
    device.handleRequest(req, source, reply, target);
  }

  /** The gateway closed a TCP device's connection: the device sees itself offline and registers again. */
  private onConnectionClosed(link: DeviceLink, source: TransportSource): void {
    if (this.stopped || link.kind !== 'tcp') return;
    if (source.address !== this.config.server.address || source.port !== this.config.server.port) return;
    for (const device of this.simDevices) {
      if (device.transportLink === link && device.state === 'registered') {
        this.emit('warning', { deviceId: device.id, message: 'connection to the gateway closed; registering again' });
        setTimeout(() => device.reRegister(), 500 + Math.floor(Math.random() * 1_000)).unref();
      }
    }
  }

  private deviceHost(): DeviceHost {
    return {
      config: this.config,
      emit: (event, ...args) => {
        if (event === 'register-failed' && (args[0] as DeviceFleetEvents['register-failed'][0]).kind === 'register') this.failureCount++;
        (this.emit as (e: typeof event, ...a: typeof args) => boolean)(event, ...args);
      },
      requestRegistration: (device) => {
        if (!this.stopped) this.pacer.enqueue(() => device.runRegistration());
      },
      stateChanged: (device, previous, next) => this.onStateChanged(device, previous, next),
      media: this.media,
    };
  }

  private onStateChanged(device: SimDevice, previous: DeviceState, next: DeviceState): void {
    if (previous === 'registered') this.registeredNow--;
    if (next === 'registered') {
      this.registeredNow++;
      if (!device.hasRegistered) this.everRegisteredCount++;
      if (this.allRegisteredAtMs === null && this.registeredNow === this.specs.length) this.allRegisteredAtMs = Date.now() - this.startedAt;
      if (this.waiters.length > 0) {
        const ready = this.waiters.filter((w) => this.registeredNow >= w.count);
        if (ready.length > 0) {
          this.waiters = this.waiters.filter((w) => this.registeredNow < w.count);
          for (const w of ready) w.resolve();
        }
      }
    }
  }
}
