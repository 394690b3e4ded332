/**
 * The simulator's upper platform (`sharp-eyes sim --upper`): a provincial platform above the gateway, a real
 * GB/T 28181 peer on the wire built from the gateway's own SIP transport/endpoint, digest, MANSCDP and SDP
 * codecs. It
 *   - accepts the gateway's cascade REGISTER with digest (its own ID, domain/realm and password) and answers
 *     keepalives (404 from a sender that is not registered, so a gateway that registered with an earlier run
 *     registers again, as after a real platform restart);
 *   - queries the Catalog of a registered lower platform and collects the multi-part answer by SN;
 *   - SUBSCRIBEs to its Catalog and records every NOTIFY item (ADD/DEL/ON/OFF/UPDATE) with its arrival time;
 *   - INVITEs channels (UDP, TCP passive — we listen — or TCP active — we dial), receives the RTP/PS,
 *     counts packets and sequence gaps, and hands the PS to ffprobe to count decoded frames;
 *   - INVITEs recordings (`s=Playback` with `u=`/`t=`, `s=Download` with `a=downloadspeed`), controls a
 *     playback with MANSRTSP INFOs (PAUSE, PLAY with Range, Scale, TEARDOWN — or any body, garbage included)
 *     and records the MediaStatus 121 the gateway relays at the end of the recording (answering it with BYE,
 *     as GB 9.9.2 asks, unless told not to).
 *
 *   const upper = await UpperPlatform.start({ id: '44000000002000000001', domain: '4400000000', password: 'x' });
 *   … configure the gateway with upper.port …
 *   const lower = await upper.waitForRegistered();
 *   const catalog = await upper.queryCatalog(lower.id);
 *   const play = await upper.play(lower.id, channelId, { transport: 'tcp-passive' });
 *   await play.waitForBytes(200_000); const probe = await play.probe(); await play.stop();
 *   await upper.stop();
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { header, type SipRequest } from '../codecs/sip/message.js';
import { parseNameAddr, parseUri } from '../codecs/sip/headers.js';
import { buildChallenge, NonceIssuer, parseDigestParams, verifyDigest } from '../codecs/sip/digest.js';
import {
  decodeManscdp,
  encodePtzControl,
  encodeQuery,
  MANSCDP_CONTENT_TYPE,
  readCatalogResponse,
  readMobilePosition,
  readMediaStatus,
  type CatalogItem,
  type ManscdpMessage,
  type MobilePosition,
} from '../codecs/manscdp/messages.js';
import { buildHistoryOffer, buildPlayOffer, parseSdp, type SdpMediaTransport } from '../codecs/sdp/sdp.js';
import { MANSRTSP_CONTENT_TYPE, decodeMansrtspResponse, encodeMansrtspRequest, type MansrtspRequest, type MansrtspResponse } from '../codecs/gb/mansrtsp.js';
import { parseRtp } from '../codecs/rtp/rtp.js';
import { Rfc4571Splitter } from '../codecs/rtp/rfc4571.js';
import { formatSsrc } from '../codecs/gb/ssrc.js';
import { SipTransport, type TransportSource } from '../transport/sip-transport.js';
import { SipEndpoint, type ReplyFn } from '../protocol/sip-endpoint.js';
import { InviteDialogs, type InviteDialog } from '../protocol/gb28181/invite.js';
import { probeFile, type ProbeResult } from '../media/ffmpeg/probe.js';

export interface UpperPlatformOptions {
  /** Our 20-digit SIP ID (the gateway's platform `id`). */
  id: string;
  /** Our SIP domain, also the digest realm (the gateway's platform `domain`). */
  domain: string;
  /** The password the gateway must answer the challenge with. */
  password: string;
  /** Listen address (SIP over UDP and TCP on the same port; media on free ports). Default 127.0.0.1. */
  host?: string;
  /** SIP port; 0 = any free port. */
  port?: number;
  /** Expiry granted to a REGISTER (what it asked for, clamped to this at most). Default 3600 s. */
  maxExpiresSec?: number;
  /** Query the Catalog of a lower platform when it registers (as provincial platforms do). Default false. */
  catalogOnRegister?: boolean;
  /** SUBSCRIBE to its Catalog after that query (needs catalogOnRegister). Default false. */
  subscribeOnRegister?: boolean;
  /** Timeout of our requests (queries, SUBSCRIBE, INVITE). Default 10 s. */
  requestTimeoutMs?: number;
  logger?: Logger;
}

export interface LowerRegistration {
  /** The gateway's SIP ID (user of From). */
  id: string;
  /** Its domain (host of From), used in our Request-URIs. */
  domain: string;
  /** Where its REGISTER came from (for TCP: the connection it keeps). */
  source: TransportSource;
  expires: number;
  registeredAt: number;
  keepalives: number;
  lastKeepaliveAt: number | null;
}

export interface CatalogResult {
  lowerId: string;
  sn: number;
  sumNum: number;
  items: CatalogItem[];
  parts: number;
  /** ms from sending the query to the first part / to the last part (or to the timeout when incomplete). */
  firstPartMs: number | null;
  totalMs: number;
  complete: boolean;
}

export interface NotifyItem {
  lowerId: string;
  deviceId: string;
  event: string;
  status: string | null;
  at: number;
}

/** A MobilePosition report NOTIFYed to us, with the Subscription-State it came with. */
export interface ReceivedPosition extends MobilePosition {
  lowerId: string;
  subscriptionState: string;
  at: number;
}

export interface UpperPlatformStats {
  registerChallenges: number;
  registersAccepted: number;
  registersRefused: number;
  keepalives: number;
  notifies: number;
  notifyItems: number;
  /** MESSAGEs or NOTIFYs whose body we could not read (counted, answered 400). */
  badBodies: number;
}

interface UpperPlatformEvents {
  registered: [LowerRegistration];
  'register-refused': [{ id: string; status: number }];
  keepalive: [LowerRegistration];
  'catalog-part': [{ lowerId: string; sn: number; items: number }];
  'notify-item': [NotifyItem];
  position: [ReceivedPosition];
  'remote-bye': [{ callId: string; channelId: string }];
  /** An in-dialog MediaStatus from the gateway (121: the relayed recording reached its end). */
  'media-status': [{ callId: string; channelId: string; notifyType: string }];
}

/** A Playback or Download INVITE (upper → gateway): the span in Unix seconds, as t= carries it. */
export interface UpperHistoryOptions {
  mode?: 'Playback' | 'Download';
  /** Unix seconds. */
  start: number;
  end: number;
  transport?: SdpMediaTransport;
  /** Default: a history SSRC of ours (leading 1); null: no y= (the gateway picks one). */
  ssrc?: string | null;
  /** Download: a=downloadspeed. */
  downloadSpeed?: number;
  /** Answer the gateway's MediaStatus 121 with BYE (GB 9.9.2). Default true. */
  byeOnEndOfFile?: boolean;
  /** How long we wait for the final answer before CANCEL (default requestTimeoutMs). */
  inviteTimeoutMs?: number;
  /** Rewrites our SDP offer before it is sent (tests of nonsense offers). */
  rewriteOffer?: (sdp: string) => string;
  keepBytes?: number;
}

interface PendingCatalog {
  items: CatalogItem[];
  sumNum: number | null;
  parts: number;
  firstPartAt: number | null;
  lastPartAt: number | null;
  onPart: () => void;
}

const userOf = (value: string | undefined): { user: string; host: string } => {
  try {
    const uri = parseUri(parseNameAddr(value ?? '').uri);
    return { user: uri.user, host: uri.host };
  } catch {
    return { user: '', host: '' };
  }
};

export class UpperPlatform extends EventEmitter<UpperPlatformEvents> {
  readonly lowers = new Map<string, LowerRegistration>();
  readonly notifyItems: NotifyItem[] = [];
  /** MobilePosition reports NOTIFYed to our subscriptions (subscribeMobilePosition). */
  readonly positions: ReceivedPosition[] = [];
  readonly stats: UpperPlatformStats = { registerChallenges: 0, registersAccepted: 0, registersRefused: 0, keepalives: 0, notifies: 0, notifyItems: 0, badBodies: 0 };
  /** Status a keepalive from a registered lower platform is answered with (tests set 404 to force re-registration). */
  keepaliveStatus = 200;
  private readonly nonces = new NonceIssuer();
  private readonly pending = new Map<number, PendingCatalog>();
  /** Other queries (DeviceStatus, DeviceInfo) waiting for their Response, by SN. */
  private readonly pendingAnswers = new Map<number, (msg: ManscdpMessage) => void>();
  private readonly plays = new Set<UpperPlay>();
  private readonly invites: InviteDialogs;
  private sn = Math.floor(Math.random() * 10_000);
  private ssrcCounter = 0;

  private constructor(
    readonly opts: UpperPlatformOptions,
    readonly transport: SipTransport,
    readonly endpoint: SipEndpoint,
    private readonly logger: Logger,
  ) {
    super();
    this.invites = new InviteDialogs(endpoint, logger);
    this.invites.on('remote-bye', (d) => {
      for (const p of this.plays) if (p.callId === d.callId) p.close('remote-bye');
      this.emit('remote-bye', { callId: d.callId, channelId: d.channelId });
    });
    this.invites.on('dialog-message', (d, req) => {
      let msg: ManscdpMessage;
      try {
        msg = decodeManscdp(req.body);
      } catch {
        this.stats.badBodies++;
        return;
      }
      if (msg.cmdType !== 'MediaStatus') return;
      const notifyType = String(readMediaStatus(msg).notifyType ?? '');
      for (const p of this.plays) if (p.callId === d.callId) p.mediaStatus(notifyType);
      this.emit('media-status', { callId: d.callId, channelId: d.channelId, notifyType });
    });
    endpoint.onRequest((req, source, reply) => this.onRequest(req, source, reply));
  }

  static async start(opts: UpperPlatformOptions): Promise<UpperPlatform> {
    const host = opts.host ?? '127.0.0.1';
    const logger = opts.logger ?? pino({ level: 'silent' });
    const transport = new SipTransport({ host, port: opts.port ?? 0, logger });
    await transport.listen();
    const endpoint = new SipEndpoint({
      transport,
      localId: opts.id,
      localDomain: opts.domain,
      advertisedHost: host,
      advertisedPort: transport.port,
      userAgent: 'sharp-eyes-sim-upper',
      transactionTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      logger,
    });
    return new UpperPlatform(opts, transport, endpoint, logger);
  }

  get host(): string {
    return this.opts.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.transport.port;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.plays].map((p) => p.stop()));
    this.endpoint.close();
    await this.transport.close();
  }

  /** Resolves with the registration of `lowerId` (or of the first lower platform) once it is registered. */
  waitForRegistered(lowerId?: string, timeoutMs = 30_000): Promise<LowerRegistration> {
    const known = lowerId ? this.lowers.get(lowerId) : this.lowers.values().next().value;
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('registered', on);
        reject(new Error(`sim upper: ${lowerId ?? 'no lower platform'} registered within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (r: LowerRegistration): void => {
        if (lowerId && r.id !== lowerId) return;
        clearTimeout(timer);
        this.off('registered', on);
        resolve(r);
      };
      this.on('registered', on);
    });
  }

  /** Resolves once `count` NOTIFY items matching `match` have arrived (counting those already received). */
  waitForNotifyItems(match: (i: NotifyItem) => boolean, count = 1, timeoutMs = 10_000): Promise<NotifyItem[]> {
    return this.waitForMatching('notify-item', this.notifyItems, match, count, timeoutMs, 'NOTIFY items');
  }

  /** Resolves once `count` items of `event` matching `match` are in (`received` holds those already here). */
  private waitForMatching<K extends 'notify-item' | 'position'>(
    event: K,
    received: readonly UpperPlatformEvents[K][0][],
    match: (item: UpperPlatformEvents[K][0]) => boolean,
    count: number,
    timeoutMs: number,
    what: string,
  ): Promise<UpperPlatformEvents[K][0][]> {
    type Item = UpperPlatformEvents[K][0];
    const seen = received.filter(match);
    if (seen.length >= count) return Promise.resolve(seen.slice(0, count));
    return new Promise((resolve, reject) => {
      const on = (item: Item): void => {
        if (!match(item)) return;
        seen.push(item);
        if (seen.length < count) return;
        clearTimeout(timer);
        this.off(event, on as never);
        resolve(seen);
      };
      const timer = setTimeout(() => {
        this.off(event, on as never);
        reject(new Error(`sim upper: ${seen.length}/${count} matching ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on(event, on as never);
    });
  }

  private registration(lowerId: string): LowerRegistration {
    const r = this.lowers.get(lowerId);
    if (!r) throw new Error(`sim upper: ${lowerId} is not registered`);
    return r;
  }

  /**
   * Catalog query to `targetId` (default the lower platform itself) and the answer collected by SN until
   * SumNum items arrived; incomplete (complete: false) when no part came for `quietMs`.
   */
  async queryCatalog(lowerId: string, opts: { targetId?: string; quietMs?: number } = {}): Promise<CatalogResult> {
    const lower = this.registration(lowerId);
    const sn = ++this.sn;
    const quietMs = opts.quietMs ?? 10_000;
    const startedAt = performance.now();
    let wake: () => void = () => undefined;
    const p: PendingCatalog = { items: [], sumNum: null, parts: 0, firstPartAt: null, lastPartAt: null, onPart: () => wake() };
    this.pending.set(sn, p);
    try {
      const res = await this.endpoint.sendRequest({
        method: 'MESSAGE',
        uri: `sip:${opts.targetId ?? lowerId}@${lower.domain}`,
        to: `<sip:${opts.targetId ?? lowerId}@${lower.domain}>`,
        body: encodeQuery('Catalog', sn, opts.targetId ?? lowerId),
        contentType: MANSCDP_CONTENT_TYPE,
        destination: lower.source,
      });
      if (res.status >= 300) throw new Error(`sim upper: Catalog query answered ${res.status} ${res.reason}`);
      while (p.sumNum === null || p.items.length < p.sumNum) {
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), quietMs);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        if (!woke) break;
      }
      const complete = p.sumNum !== null && p.items.length >= p.sumNum;
      return {
        lowerId,
        sn,
        sumNum: p.sumNum ?? 0,
        items: p.items,
        parts: p.parts,
        firstPartMs: p.firstPartAt === null ? null : p.firstPartAt - startedAt,
        totalMs: (complete ? (p.lastPartAt ?? performance.now()) : performance.now()) - startedAt,
        complete,
      };
    } finally {
      this.pending.delete(sn);
    }
  }

  /**
   * A DeviceStatus or DeviceInfo query to `targetId`: the MESSAGE's status, and the Response (its DeviceID and
   * the parsed message) when the MESSAGE was accepted; a Response that does not come in `timeoutMs` is null.
   */
  async query(lowerId: string, cmdType: 'DeviceStatus' | 'DeviceInfo', targetId: string, timeoutMs = 10_000): Promise<{ status: number; response: ManscdpMessage | null }> {
    const lower = this.registration(lowerId);
    const sn = ++this.sn;
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<ManscdpMessage | null>((resolve) => {
      this.pendingAnswers.set(sn, resolve);
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      const res = await this.endpoint.sendRequest({
        method: 'MESSAGE',
        uri: `sip:${targetId}@${lower.domain}`,
        to: `<sip:${targetId}@${lower.domain}>`,
        body: encodeQuery(cmdType, sn, targetId),
        contentType: MANSCDP_CONTENT_TYPE,
        destination: lower.source,
      });
      if (res.status >= 300) return { status: res.status, response: null };
      return { status: res.status, response: await answered };
    } finally {
      clearTimeout(timer);
      this.pendingAnswers.delete(sn);
    }
  }

  /** SUBSCRIBE to the lower platform's Catalog (Expires `expiresSec`); NOTIFY items land in notifyItems. */
  async subscribeCatalog(lowerId: string, expiresSec = 3600): Promise<{ expires: number }> {
    const lower = this.registration(lowerId);
    const res = await this.endpoint.sendRequest({
      method: 'SUBSCRIBE',
      uri: `sip:${lowerId}@${lower.domain}`,
      to: `<sip:${lowerId}@${lower.domain}>`,
      headers: [['event', 'Catalog'], ['expires', String(expiresSec)]],
      body: encodeQuery('Catalog', ++this.sn, lowerId),
      contentType: MANSCDP_CONTENT_TYPE,
      destination: lower.source,
    });
    if (res.status >= 300) throw new Error(`sim upper: Catalog SUBSCRIBE answered ${res.status} ${res.reason}`);
    return { expires: Number(header(res, 'expires') ?? expiresSec) };
  }

  /**
   * SUBSCRIBE to MobilePosition of `targetId` (a channel, or the lower platform itself) with the report interval
   * `intervalSec` (the body's <Interval>); the positions NOTIFYed land in `positions`.
   */
  async subscribeMobilePosition(lowerId: string, targetId: string, expiresSec = 3600, intervalSec = 5): Promise<{ status: number; expires: number }> {
    const lower = this.registration(lowerId);
    const body = encodeQuery('MobilePosition', ++this.sn, targetId, { Interval: intervalSec });
    const res = await this.endpoint.sendRequest({
      method: 'SUBSCRIBE',
      uri: `sip:${targetId}@${lower.domain}`,
      to: `<sip:${targetId}@${lower.domain}>`,
      headers: [['event', 'MobilePosition'], ['expires', String(expiresSec)]],
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination: lower.source,
    });
    return { status: res.status, expires: Number(header(res, 'expires') ?? expiresSec) };
  }

  /** Resolves once `count` MobilePosition reports matching `match` have arrived (counting those already here). */
  waitForPositions(match: (p: ReceivedPosition) => boolean, count = 1, timeoutMs = 15_000): Promise<ReceivedPosition[]> {
    return this.waitForMatching('position', this.positions, match, count, timeoutMs, 'MobilePosition reports');
  }

  /** A PTZ DeviceControl (PTZCmd as 16 hex characters) for a channel of the lower platform; resolves with the status. */
  async ptz(lowerId: string, channelId: string, ptzHex: string): Promise<number> {
    const lower = this.registration(lowerId);
    const res = await this.endpoint.sendRequest({
      method: 'MESSAGE',
      uri: `sip:${channelId}@${lower.domain}`,
      to: `<sip:${channelId}@${lower.domain}>`,
      body: encodePtzControl(channelId, ++this.sn, ptzHex),
      contentType: MANSCDP_CONTENT_TYPE,
      destination: lower.source,
    });
    return res.status;
  }

  /**
   * INVITE a channel of the lower platform for live video and receive it. `transport`: udp, tcp-passive
   * (our offer says a=setup:passive, the gateway connects to us) or tcp-active (we dial the port of its answer).
   * `ssrc: null` sends an offer without y= (the gateway must choose one and say it).
   */
  async play(lowerId: string, channelId: string, opts: { transport?: SdpMediaTransport; ssrc?: string | null; keepBytes?: number } = {}): Promise<UpperPlay> {
    const lower = this.registration(lowerId);
    const transport = opts.transport ?? 'udp';
    const ssrc = opts.ssrc === undefined ? formatSsrc(Number(`0${this.opts.domain.slice(3, 8)}${String(++this.ssrcCounter % 10_000).padStart(4, '0')}`)) : opts.ssrc;
    const play = new UpperPlay(channelId, transport, opts.keepBytes ?? 16 * 1024 * 1024);
    this.plays.add(play);
    play.once('closed', () => this.plays.delete(play));
    try {
      const port = await play.listen(this.host);
      let offer = buildPlayOffer({ sipId: this.opts.id, mediaHost: this.host, port, transport, ssrc: ssrc ?? '' });
      if (ssrc === null) offer = offer.replace(/^y=.*\r?\n/m, '');
      play.invitedAt = performance.now();
      const dialog = await this.invites.invite({
        channelId,
        destination: lower.source,
        domain: lower.domain,
        sdpOffer: offer,
        subject: `${channelId}:${ssrc ?? '0'},${this.opts.id}:0`,
        timeoutMs: this.opts.requestTimeoutMs ?? 10_000,
      });
      play.answeredAt = performance.now();
      play.sendInfo = (body, contentType) => this.invites.info(dialog, body, contentType);
      await play.attach(dialog, () => this.invites.bye(dialog));
      return play;
    } catch (err) {
      play.close('invite-failed');
      throw err;
    }
  }

  /**
   * INVITE a recording of the lower platform's channel: `s=Playback` (default) or `s=Download`, with u= and t=
   * (and a=downloadspeed). The UpperPlay can send MANSRTSP (`control`, `info`) and resolves `endOfFile` at the
   * gateway's MediaStatus 121 (answered with BYE unless byeOnEndOfFile is false). A refusal throws
   * InviteRefusedError (its `status`: 404 unshared, 488 a nonsense span …).
   */
  async playback(lowerId: string, channelId: string, opts: UpperHistoryOptions): Promise<UpperPlay> {
    const lower = this.registration(lowerId);
    const transport = opts.transport ?? 'udp';
    const mode = opts.mode ?? 'Playback';
    const ssrc = opts.ssrc === undefined ? formatSsrc(Number(`1${this.opts.domain.slice(3, 8)}${String(++this.ssrcCounter % 10_000).padStart(4, '0')}`)) : opts.ssrc;
    const play = new UpperPlay(channelId, transport, opts.keepBytes ?? 64 * 1024 * 1024, mode);
    play.byeOnEndOfFile = opts.byeOnEndOfFile ?? true;
    this.plays.add(play);
    play.once('closed', () => this.plays.delete(play));
    try {
      const port = await play.listen(this.host);
      let offer = buildHistoryOffer({
        sipId: this.opts.id,
        mediaHost: this.host,
        port,
        transport,
        ssrc: ssrc ?? '',
        mode,
        channelId,
        start: opts.start,
        end: opts.end,
        ...(opts.downloadSpeed !== undefined ? { downloadSpeed: opts.downloadSpeed } : {}),
      });
      if (ssrc === null) offer = offer.replace(/^y=.*\r?\n/m, '');
      if (opts.rewriteOffer) offer = opts.rewriteOffer(offer);
      play.invitedAt = performance.now();
      const dialog = await this.invites.invite({
        channelId,
        destination: lower.source,
        domain: lower.domain,
        sdpOffer: offer,
        subject: `${channelId}:${ssrc ?? '0'},${this.opts.id}:1`,
        timeoutMs: opts.inviteTimeoutMs ?? this.opts.requestTimeoutMs ?? 10_000,
      });
      play.answeredAt = performance.now();
      play.sendInfo = (body, contentType) => this.invites.info(dialog, body, contentType);
      await play.attach(dialog, () => this.invites.bye(dialog));
      return play;
    } catch (err) {
      play.close('invite-failed');
      throw err;
    }
  }

  private onRequest(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    if (req.method === 'REGISTER') this.onRegister(req, source, reply);
    // In a play's dialog (the MediaStatus of a relayed playback): answered there.
    else if (req.method === 'MESSAGE' && this.invites.handleInDialog(req, reply)) return;
    else if (req.method === 'MESSAGE') this.onMessage(req, reply);
    else if (req.method === 'NOTIFY') this.onNotify(req, reply);
    else if (this.invites.handleInDialog(req, reply)) return;
    else if (req.method === 'ACK') return;
    else reply(405, 'Method Not Allowed');
  }

  private onRegister(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const from = userOf(header(req, 'from'));
    const asked = Number.parseInt(header(req, 'expires') ?? '3600', 10);
    const realm = this.opts.domain;
    const authorization = header(req, 'authorization');
    const challenge = (): void => {
      this.stats.registerChallenges++;
      reply(401, 'Unauthorized', { headers: [['www-authenticate', buildChallenge(realm, this.nonces.issue(Date.now()))]] });
    };
    if (!authorization) return challenge();
    const params = parseDigestParams(authorization);
    if (this.nonces.verify(params.nonce ?? '', Date.now()) !== 'ok') return challenge();
    if (params.username !== from.user || !verifyDigest(params, this.opts.password, 'REGISTER', { expectedRealm: realm })) {
      this.stats.registersRefused++;
      reply(403, 'Forbidden');
      this.emit('register-refused', { id: from.user, status: 403 });
      return;
    }
    const expires = Math.min(Number.isNaN(asked) ? 3600 : asked, this.opts.maxExpiresSec ?? 3600);
    reply(200, 'OK', { headers: [['expires', String(expires)], ['date', new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 23)]] });
    if (expires === 0) {
      this.lowers.delete(from.user);
      return;
    }
    this.stats.registersAccepted++;
    const previous = this.lowers.get(from.user);
    const r: LowerRegistration = {
      id: from.user,
      domain: from.host || from.user.slice(0, 10),
      source,
      expires,
      registeredAt: previous?.registeredAt ?? Date.now(),
      keepalives: previous?.keepalives ?? 0,
      lastKeepaliveAt: previous?.lastKeepaliveAt ?? null,
    };
    this.lowers.set(r.id, r);
    if (previous) return; // a refresh
    this.emit('registered', r);
    if (this.opts.catalogOnRegister) {
      void this.queryCatalog(r.id)
        .then(() => (this.opts.subscribeOnRegister ? this.subscribeCatalog(r.id) : undefined))
        .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'catalog on register failed'));
    }
  }

  private readBody(req: SipRequest, reply: ReplyFn): ManscdpMessage | null {
    try {
      return decodeManscdp(req.body);
    } catch {
      this.stats.badBodies++;
      reply(400, 'Bad Body');
      return null;
    }
  }

  private onMessage(req: SipRequest, reply: ReplyFn): void {
    const from = userOf(header(req, 'from')).user;
    const msg = this.readBody(req, reply);
    if (!msg) return;
    const lower = this.lowers.get(from);
    if (msg.cmdType === 'Keepalive') {
      // Not registered (we restarted, or it never did): 404, which makes a GB lower platform register again.
      if (!lower) return reply(404, 'Not Found');
      lower.keepalives++;
      lower.lastKeepaliveAt = Date.now();
      this.stats.keepalives++;
      reply(this.keepaliveStatus);
      this.emit('keepalive', lower);
      return;
    }
    reply(200, 'OK');
    if (msg.root === 'Response' && msg.cmdType !== 'Catalog') this.pendingAnswers.get(msg.sn)?.(msg);
    if (msg.root === 'Response' && msg.cmdType === 'Catalog') {
      const pending = this.pending.get(msg.sn);
      if (!pending) return;
      const part = readCatalogResponse(msg);
      pending.parts++;
      pending.items.push(...part.items);
      if (part.sumNum !== null) pending.sumNum = part.sumNum;
      const now = performance.now();
      pending.firstPartAt ??= now;
      pending.lastPartAt = now;
      this.emit('catalog-part', { lowerId: from, sn: msg.sn, items: part.items.length });
      pending.onPart();
    }
  }

  private onNotify(req: SipRequest, reply: ReplyFn): void {
    const msg = this.readBody(req, reply);
    if (!msg) return;
    reply(200, 'OK');
    this.stats.notifies++;
    if (msg.cmdType === 'MobilePosition') {
      const lowerId = userOf(header(req, 'from')).user;
      const at = performance.now();
      for (const position of readMobilePosition(msg).positions) {
        const p: ReceivedPosition = { ...position, lowerId, subscriptionState: header(req, 'subscription-state') ?? '', at };
        this.positions.push(p);
        this.emit('position', p);
      }
      return;
    }
    if (msg.cmdType !== 'Catalog') return;
    const lowerId = userOf(header(req, 'from')).user;
    const at = performance.now();
    for (const item of readCatalogResponse(msg).items) {
      const n: NotifyItem = { lowerId, deviceId: item.deviceId, event: item.event ?? '', status: item.status, at };
      this.stats.notifyItems++;
      this.notifyItems.push(n);
      this.emit('notify-item', n);
    }
  }
}

export interface UpperPlayStats {
  packets: number;
  bytes: number;
  /** RTP sequence numbers skipped (lost or reordered beyond the next packet). */
  lost: number;
  firstPacketMs: number | null;
}

/**
 * One INVITE from the upper platform and the RTP/PS it receives. The PS payloads are kept (up to
 * keepBytes) so probe() can hand them to ffprobe; beyond that only counted.
 */
export class UpperPlay extends EventEmitter<{ packet: []; closed: [reason: string]; 'end-of-file': [] }> {
  callId = '';
  /** Playback / Download: answer the gateway's MediaStatus 121 with BYE. */
  byeOnEndOfFile = true;
  /** performance.now() when MediaStatus 121 arrived (null before). */
  endOfFileAt: number | null = null;
  /** In-dialog INFO (MANSRTSP; a live play has one too, to test that the gateway refuses it there). */
  sendInfo: ((body: string, contentType: string) => Promise<{ status: number; reason: string; body: string }>) | null = null;
  private mansrtspCseq = 0;
  invitedAt = 0;
  answeredAt = 0;
  firstPacketAt: number | null = null;
  /** The gateway's answer: its media address, port, SSRC (y=) and setup. */
  answer: { host: string; port: number; ssrc: string | null; setup: string | null; protocol: string; sessionName: string; timing: { start: number; stop: number } | null; attributes: Array<[string, string]> } | null = null;
  readonly stats: UpperPlayStats = { packets: 0, bytes: 0, lost: 0, firstPacketMs: null };
  closed: string | null = null;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private lastSeq = -1;
  private udp: dgram.Socket | null = null;
  private server: net.Server | null = null;
  private socket: net.Socket | null = null;
  private bye: (() => Promise<void>) | null = null;

  constructor(
    readonly channelId: string,
    readonly transport: SdpMediaTransport,
    private readonly keepBytes: number,
    readonly mode: 'Play' | 'Playback' | 'Download' = 'Play',
  ) {
    super();
  }

  /**
   * MANSRTSP in an INFO (CSeq counted here): `{ method: 'PAUSE' }`, `{ method: 'PLAY', range: { start: 120 } }`,
   * `{ method: 'PLAY', scale: 2 }` … Resolves with the SIP answer and its decoded RTSP body (null: none/unreadable).
   */
  async control(req: Omit<MansrtspRequest, 'cseq'>): Promise<{ status: number; reason: string; body: string; rtsp: MansrtspResponse | null }> {
    return this.info(encodeMansrtspRequest({ ...req, cseq: ++this.mansrtspCseq }));
  }

  /** Any INFO body (garbage included), as Application/MANSRTSP. */
  async info(body: string, contentType = MANSRTSP_CONTENT_TYPE): Promise<{ status: number; reason: string; body: string; rtsp: MansrtspResponse | null }> {
    if (!this.sendInfo) throw new Error('sim upper: INFO needs a playback dialog');
    const res = await this.sendInfo(body, contentType);
    let rtsp: MansrtspResponse | null = null;
    try {
      rtsp = res.body.trim() ? decodeMansrtspResponse(res.body) : null;
    } catch {
      rtsp = null;
    }
    return { ...res, rtsp };
  }

  /** The gateway's in-dialog MediaStatus (121 = end of the recording). */
  mediaStatus(notifyType: string): void {
    if (notifyType !== '121' || this.endOfFileAt !== null) return;
    this.endOfFileAt = performance.now();
    this.emit('end-of-file');
    if (this.byeOnEndOfFile) void this.stop().catch(() => undefined);
  }

  /** Resolves at the MediaStatus 121 (the end of the relayed recording). */
  waitForEndOfFile(timeoutMs = 30_000): Promise<void> {
    if (this.endOfFileAt !== null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('end-of-file', on);
        reject(new Error(`sim upper: no MediaStatus 121 for ${this.channelId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('end-of-file', on);
    });
  }

  /** Resolves once the play is closed (BYE either way); with the reason. */
  waitForClosed(timeoutMs = 30_000): Promise<string> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('closed', on);
        reject(new Error(`sim upper: ${this.channelId} not closed within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (reason: string): void => {
        clearTimeout(timer);
        resolve(reason);
      };
      this.once('closed', on);
    });
  }

  /** Opens our receiving side (UDP socket or TCP listener) and returns the port for the offer (9 for tcp-active). */
  async listen(host: string): Promise<number> {
    if (this.transport === 'udp') {
      const udp = dgram.createSocket('udp4');
      this.udp = udp;
      udp.on('message', (buf) => this.onRtp(buf));
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(0, host, () => resolve());
      });
      try {
        udp.setRecvBufferSize(4 * 1024 * 1024);
      } catch {
        /* the kernel may cap it */
      }
      return udp.address().port;
    }
    if (this.transport === 'tcp-passive') {
      const server = net.createServer((socket) => this.onSocket(socket));
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      return (server.address() as net.AddressInfo).port;
    }
    return 9; // tcp-active: we dial; the discard port is the convention for "no listener here"
  }

  async attach(dialog: InviteDialog, bye: () => Promise<void>): Promise<void> {
    this.callId = dialog.callId;
    this.bye = bye;
    if (dialog.answerSdp) {
      const sdp = parseSdp(dialog.answerSdp);
      this.answer = {
        host: sdp.connection,
        port: sdp.media.port,
        ssrc: sdp.ssrc ?? null,
        setup: sdp.setup ?? null,
        protocol: sdp.media.protocol,
        sessionName: sdp.sessionName,
        timing: sdp.timing ?? null,
        attributes: sdp.attributes,
      };
    }
    if (this.transport === 'tcp-active') {
      if (!this.answer) throw new Error('sim upper: TCP active needs the answer\'s address');
      const { host, port } = this.answer;
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(port, host, () => resolve());
        socket.once('error', reject);
        this.onSocket(socket);
      });
    }
  }

  private onSocket(socket: net.Socket): void {
    if (this.socket) {
      socket.destroy();
      return;
    }
    this.socket = socket;
    const splitter = new Rfc4571Splitter();
    socket.on('data', (chunk: Buffer) => {
      for (const packet of splitter.push(chunk)) this.onRtp(packet);
    });
    socket.on('error', () => undefined);
  }

  private onRtp(buf: Buffer): void {
    let rtp;
    try {
      rtp = parseRtp(buf);
    } catch {
      return;
    }
    if (this.firstPacketAt === null) {
      this.firstPacketAt = performance.now();
      this.stats.firstPacketMs = this.firstPacketAt - this.invitedAt;
    }
    if (this.lastSeq >= 0) {
      const gap = (rtp.sequence - this.lastSeq - 1 + 65536) % 65536;
      if (gap > 0 && gap < 32768) this.stats.lost += gap;
    }
    this.lastSeq = rtp.sequence;
    this.stats.packets++;
    this.stats.bytes += rtp.payload.length;
    if (this.kept < this.keepBytes) {
      this.chunks.push(Buffer.from(rtp.payload));
      this.kept += rtp.payload.length;
    }
    this.emit('packet');
  }

  /** Resolves once `bytes` of PS have arrived. */
  waitForBytes(bytes: number, timeoutMs = 15_000): Promise<void> {
    if (this.stats.bytes >= bytes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('packet', on);
        reject(new Error(`sim upper: ${this.stats.bytes}/${bytes} bytes of ${this.channelId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (): void => {
        if (this.stats.bytes < bytes) return;
        clearTimeout(timer);
        this.off('packet', on);
        resolve();
      };
      this.on('packet', on);
    });
  }

  /** Resolves at the first RTP packet. */
  waitForFirstPacket(timeoutMs = 15_000): Promise<number> {
    return this.waitForBytes(1, timeoutMs).then(() => this.stats.firstPacketMs ?? 0);
  }

  /** Writes the PS received so far to a file and runs ffprobe on it (frames counted by decoding). */
  async probe(): Promise<ProbeResult> {
    const dir = mkdtempSync(join(tmpdir(), 'se-sim-upper-'));
    try {
      const file = join(dir, `${this.channelId}.ps`);
      writeFileSync(file, Buffer.concat(this.chunks));
      return await probeFile(file, { countFrames: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** BYE from our side and close the receiving sockets. */
  async stop(): Promise<void> {
    const bye = this.bye;
    this.bye = null;
    if (bye) await bye();
    this.close('bye');
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = reason;
    this.udp?.close();
    this.server?.close();
    this.socket?.destroy();
    this.emit('closed', reason);
  }
}
