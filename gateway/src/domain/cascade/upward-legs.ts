/**
 * Upward streams (cascade, issue 11): an upper platform INVITEs a shared channel and we send it RTP/PS.
 *
 * Each INVITE is one **leg**: a viewer of a stream in the stream core plus an RtpPsSender reader to the address,
 * port and SSRC of the upper platform's offer. A BYE from above ends only that leg. When the stream ends on our
 * side, the leg sends BYE upward.
 *
 * - `s=Play` (live): the leg is a viewer of the channel's live stream, so one source serves the local wall and
 *   any number of upper requests at once.
 * - `s=Playback` (with `u=`, `t=`) and `s=Download` (with `a=downloadspeed`): the leg opens a device playback or
 *   download of its own (StreamService.relayHistory: never shared with a live view or another playback, since
 *   each one is paused and sought on its own), without HLS or a file: the sender is its only reader. The upper
 *   platform's MANSRTSP INFOs (PAUSE, PLAY with Range / Scale, TEARDOWN) are relayed to the device through the
 *   playback control of the stream service, and the device's answer (its RTSP status, Range, Scale) goes back
 *   in the INFO's 200 OK. The device's MediaStatus 121 (end of file) becomes a MediaStatus 121 MESSAGE in the
 *   upper dialog; the upper platform then sends BYE (GB 9.9.2) — or we do, END_OF_FILE_BYE_MS later.
 *
 * Answers, with the anchor's failures in mind (each one tested):
 * - an offer without `y=` gets an SSRC we choose, stated in our answer (never `y=null`, WVP #1656);
 * - the answer always carries a real address and port: the leg's own socket (a port-0 answer made Hikvision's
 *   platform refuse streams, WVP #708), and honours the offer's transport and `a=setup` (UDP; TCP with us
 *   connecting when it is passive, listening when it is active);
 * - an unshared or unknown channel is 404; an unusable offer (no media, nonsense `t=` span, bad download speed,
 *   a session name we do not serve) 488; a device that is offline 480 — each with the reason in the log and a
 *   counter (`se_cascade_upper_refused_total`), nothing half-open;
 * - MANSRTSP that does not decode is 400; a valid request the device cannot honour is answered 200 with the
 *   RTSP status in the body (457 Invalid Range, 551 Option not supported, or the device's own), as devices do.
 * - an upper platform giving up (CANCEL/BYE) while the stream opens gets nothing left behind: the stream is
 *   released as soon as it opened and the INVITE answered 487.
 */
import type { Logger } from 'pino';
import { header, type SipRequest } from '../../codecs/sip/message.js';
import { buildSdp, parseSdp, type GbSdp } from '../../codecs/sdp/sdp.js';
import { MANSCDP_CONTENT_TYPE, encodeNotify } from '../../codecs/manscdp/messages.js';
import { MANSRTSP_CONTENT_TYPE, MansrtspError, decodeMansrtspRequest, encodeMansrtspResponse, type MansrtspRequest, type MansrtspResponse } from '../../codecs/gb/mansrtsp.js';
import type { ReplyFn } from '../../protocol/sip-endpoint.js';
import type { TransportSource } from '../../transport/sip-transport.js';
import { RtpPsSender, type UpwardTransport } from '../../media/readers/rtp-ps/rtp-ps-sender.js';
import type { StreamService, StreamView } from '../streams/stream-service.js';
import { PlayError } from '../streams/play-error.js';
import { DOWNLOAD_SPEEDS, MAX_PLAYBACK_SPAN_MS, validateSpan, type ControlRequest, type HistorySpan } from '../streams/playback.js';
import { ConflictError, NotFoundError, UpstreamError, ValidationError } from '../services.js';
import type { CascadeResponder } from './cascade-responder.js';
import type { PlatformService } from './platform-service.js';

/** What the upper platform asked for: live video, a recording played back, or a recording downloaded. */
export type UpwardLegKind = 'live' | 'playback' | 'download';

/** Why a request from above was refused (the label of se_cascade_upper_refused_total). */
export type UpperRefusal = 'unshared' | 'bad-sdp' | 'bad-session' | 'bad-range' | 'bad-speed' | 'bad-mansrtsp' | 'control-refused' | 'unknown-dialog' | 'source-failed';

export interface UpwardLegView {
  callId: string;
  platformId: string;
  channelId: string;
  kind: UpwardLegKind;
  streamId: string;
  ssrc: string;
  localPort: number;
  startedAt: number;
  /** The source reached its end (MediaStatus 121 sent upward): the dialog waits for the upper platform's BYE. */
  ended: boolean;
  packets: number;
  bytes: number;
  videoFrames: number;
  /** ms from the upper INVITE to our first RTP packet out (null before it). */
  firstPacketMs: number | null;
}

interface Leg {
  callId: string;
  platformId: string;
  channelId: string;
  kind: UpwardLegKind;
  streamId: string;
  viewerId: string;
  sender: RtpPsSender;
  detach: () => void;
  ssrc: string;
  startedAt: number;
  /** performance.now() when the INVITE arrived (first-packet latency). */
  invitedAt: number;
  invite: SipRequest;
  localTag: string;
  source: TransportSource;
  /** Our CSeq in the dialog (MESSAGE 121, BYE). */
  cseq: number;
  /** The media is released (the sender closed, the stream viewer gone). */
  mediaReleased: boolean;
  /** End of file relayed; waiting for the upper platform's BYE (timer: ours if it does not come). */
  endOfFile: NodeJS.Timeout | null;
  closed: boolean;
}

export interface UpwardLegsOptions {
  /** Address we send media from and name in the SDP answer (sip.mediaHost / advertised host). */
  mediaHost: string;
  /** Bind address of the legs' sockets. */
  bindHost: string;
  localIdOf: (platformId: string) => string;
  /** A request of ours in the leg's dialog (BYE, MediaStatus MESSAGE); resolves with the final status. */
  sendInDialog: (
    leg: { platformId: string; platformDomain: string; destination: TransportSource; invite: SipRequest; localTag: string },
    method: 'BYE' | 'MESSAGE',
    cseq: number,
    content?: { body?: Buffer; contentType?: string },
  ) => Promise<number>;
  /** MANSCDP SN for the MediaStatus notify. */
  nextSn: () => number;
  /** A request from above refused (metrics). */
  refused?: (reason: UpperRefusal) => void;
  /** After our MediaStatus 121, how long the upper platform has to send BYE before we do. Default 5 s. */
  endOfFileByeMs?: number;
}

const END_OF_FILE_BYE_MS = 5_000;
/** t= beyond this (year 2100) is not a recording time but garbage; checked before any Date arithmetic. */
const LATEST_UNIX_SEC = 4_102_444_800;

/** An offer's history request, or why it is unusable (488). */
type HistoryReading = { ok: true; span: HistorySpan; downloadSpeed: number | null } | { ok: false; reason: UpperRefusal; why: string };

/**
 * The span (t=, Unix seconds) and download speed of a Playback/Download offer, by the rules of a local playback
 * (playback.ts validateSpan: after 2000, end after start, not in the future, at most a day) — a relayed
 * download writes no file, so it has the playback's limit, not the local download's.
 */
export function readHistoryOffer(offer: GbSdp, kind: 'playback' | 'download', channelId: string, now = Date.now()): HistoryReading {
  const t = offer.timing;
  if (!t || !Number.isInteger(t.start) || !Number.isInteger(t.stop) || t.start <= 0 || t.stop <= 0 || t.start > LATEST_UNIX_SEC || t.stop > LATEST_UNIX_SEC) {
    return { ok: false, reason: 'bad-range', why: `t= must be the span in Unix seconds (got ${t ? `${t.start} ${t.stop}` : 'none'})` };
  }
  if (offer.uri) {
    // u=<channelId>:<type>; a u= naming another channel than the Request-URI is a confused request, not ours to guess.
    const named = /^(\d{20}):/.exec(offer.uri)?.[1];
    if (named && named !== channelId) return { ok: false, reason: 'bad-sdp', why: `u= names ${named}, the INVITE ${channelId}` };
  }
  let span: HistorySpan;
  try {
    span = validateSpan(new Date(t.start * 1000).toISOString(), new Date(t.stop * 1000).toISOString(), { fieldPrefix: 'sdp', maxSpanMs: MAX_PLAYBACK_SPAN_MS, now });
  } catch (err) {
    return { ok: false, reason: 'bad-range', why: `t=${t.start} ${t.stop}: ${(err as Error).message}` };
  }
  if (kind === 'playback') return { ok: true, span, downloadSpeed: null };
  const asked = offer.attributes.find(([name]) => name.toLowerCase() === 'downloadspeed')?.[1];
  if (asked === undefined) return { ok: true, span, downloadSpeed: 1 };
  const speed = /^\d{1,2}$/.test(asked.trim()) ? Number(asked.trim()) : Number.NaN;
  if (!DOWNLOAD_SPEEDS.includes(speed)) return { ok: false, reason: 'bad-speed', why: `a=downloadspeed:${asked.slice(0, 20)} is not one of ${DOWNLOAD_SPEEDS.join(', ')}` };
  return { ok: true, span, downloadSpeed: speed };
}

/**
 * The playback control actions one MANSRTSP request of the upper platform becomes (StreamService.control):
 * PAUSE → pause; PLAY with `Range: npt=<s>-` → seek; PLAY with `Scale` → speed (a PLAY, so it also resumes);
 * PLAY with neither, or `Range: npt=now-` → resume. Range and Scale together are a seek, then a speed.
 */
export function controlsOf(req: MansrtspRequest): ControlRequest[] {
  if (req.method === 'PAUSE') return [{ action: 'pause' }];
  const actions: ControlRequest[] = [];
  if (req.range && req.range.start !== 'now') actions.push({ action: 'seek', value: req.range.start });
  if (req.scale !== undefined) actions.push({ action: 'speed', value: req.scale });
  if (actions.length === 0) actions.push({ action: 'resume' });
  return actions;
}

export class UpwardLegs {
  private readonly legs = new Map<string, Leg>();
  /** INVITEs whose stream is opening, by Call-ID; `cancelled` once the upper platform gave up (CANCEL/BYE). */
  private readonly opening = new Map<string, { cancelled: boolean }>();
  private closed = false;

  constructor(
    private readonly platforms: PlatformService,
    private readonly responder: CascadeResponder,
    private readonly streams: StreamService,
    private readonly options: UpwardLegsOptions,
    private readonly logger: Logger,
  ) {
    streams.on('stream-status', (view) => {
      if (view.state !== 'closed' && view.state !== 'failed') return;
      for (const leg of [...this.legs.values()]) {
        if (leg.streamId !== view.streamId || leg.mediaReleased) continue;
        if (leg.kind !== 'live' && view.endReason === 'end-of-file') void this.endOfFile(leg);
        else void this.end(leg, `the source stream ${view.state}${view.endReason ? ` (${view.endReason})` : ''}`, true);
      }
    });
  }

  list(): UpwardLegView[] {
    return [...this.legs.values()].map((l) => ({
      callId: l.callId,
      platformId: l.platformId,
      channelId: l.channelId,
      kind: l.kind,
      streamId: l.streamId,
      ssrc: l.ssrc,
      localPort: l.sender.localPort,
      startedAt: l.startedAt,
      ended: l.endOfFile !== null,
      packets: l.sender.stats.packets,
      bytes: l.sender.stats.bytes,
      videoFrames: l.sender.stats.videoFrames,
      firstPacketMs: l.sender.stats.firstPacketAt === null ? null : Math.round(l.sender.stats.firstPacketAt - l.invitedAt),
    }));
  }

  /** Legs by kind (metrics). */
  counts(): Record<UpwardLegKind, number> {
    const n: Record<UpwardLegKind, number> = { live: 0, playback: 0, download: 0 };
    for (const l of this.legs.values()) n[l.kind]++;
    return n;
  }

  private refuse(reply: ReplyFn, status: number, phrase: string, reason: UpperRefusal, log: Logger, why: string): void {
    log.info({ status, reason, why }, `upper request refused: ${why}`);
    this.options.refused?.(reason);
    reply(status, phrase);
  }

  /** An INVITE from an upper platform (already answered 100 Trying). */
  async invite(e: { platformId: string; source: TransportSource; request: SipRequest; reply: ReplyFn }): Promise<void> {
    const invitedAt = performance.now();
    const { platformId, request, reply } = e;
    const callId = header(request, 'call-id') ?? '';
    const upperChannelId = /^sip:(\d{20})@/i.exec(request.uri)?.[1] ?? /<sip:(\d{20})@/i.exec(header(request, 'to') ?? '')?.[1] ?? '';
    // The platform names the channel by its ID mapping (platform-service.ts channelIds); we play our own ID.
    const channelId = (upperChannelId && this.responder.channelOf(platformId, upperChannelId)) || '';
    const log = this.logger.child({ platformId, channelId: upperChannelId, ...(channelId !== upperChannelId ? { ourChannelId: channelId } : {}), callId });
    if (this.closed) return reply(503, 'Service Unavailable');
    if (this.legs.has(callId) || this.opening.has(callId)) return; // a retransmission the transaction layer did not absorb
    if (!channelId || !this.responder.mayQuery(platformId, upperChannelId) || upperChannelId === this.options.localIdOf(platformId)) {
      return this.refuse(reply, 404, 'Not Found', 'unshared', log, 'upper INVITE for a channel not shared with it');
    }
    let offer: GbSdp;
    try {
      offer = parseSdp(request.body.toString('utf8'));
    } catch (err) {
      return this.refuse(reply, 488, 'Not Acceptable Here', 'bad-sdp', log, `unusable SDP offer (${(err as Error).message})`);
    }
    const session = offer.sessionName.trim().toLowerCase();
    const kind: UpwardLegKind | null = session === 'play' ? 'live' : session === 'playback' ? 'playback' : session === 'download' ? 'download' : null;
    if (!kind) return this.refuse(reply, 488, 'Not Acceptable Here', 'bad-session', log, `s=${offer.sessionName.slice(0, 20)} is not Play, Playback or Download`);
    if (!offer.connection || offer.media.port <= 0) return this.refuse(reply, 488, 'Not Acceptable Here', 'bad-sdp', log, 'the offer names no address or port to send to');
    let history: { span: HistorySpan; downloadSpeed: number | null } | null = null;
    if (kind !== 'live') {
      const reading = readHistoryOffer(offer, kind, upperChannelId);
      if (!reading.ok) return this.refuse(reply, 488, 'Not Acceptable Here', reading.reason, log, `${offer.sessionName} offer: ${reading.why}`);
      history = { span: reading.span, downloadSpeed: reading.downloadSpeed };
    }
    // Honour the offer's transport and a=setup: passive (it listens) → we connect; active → we listen.
    const tcp = offer.media.protocol === 'TCP/RTP/AVP';
    const transport: UpwardTransport = !tcp ? { kind: 'udp' } : offer.setup === 'active' ? { kind: 'tcp-listen' } : { kind: 'tcp-connect' };
    const ssrc = offer.ssrc && /^\d{10}$/.test(offer.ssrc) ? offer.ssrc : this.chooseSsrc(channelId, kind !== 'live');

    const opening = { cancelled: false };
    this.opening.set(callId, opening);
    let view: StreamView;
    try {
      const grant = `cascade:${platformId}:${callId}`;
      // Answered at the source's first key frame: the sender starts from the GOP the Stream holds (no HLS segment
      // needed; a relayed playback has no HLS at all).
      view = history
        ? await this.streams.relayHistory({ channelId, span: history.span, kind: kind as 'playback' | 'download', downloadSpeed: history.downloadSpeed }, grant)
        : await this.streams.play({ channelId, stream: 'main', until: 'keyframe' }, grant);
    } catch (err) {
      this.opening.delete(callId);
      const [status, phrase] = this.sourceFailureAnswer(err, kind);
      return this.refuse(reply, status, phrase, status === 488 ? 'bad-session' : 'source-failed', log, `the source stream did not open: ${(err as Error).message}`);
    }
    this.opening.delete(callId);
    if (opening.cancelled || this.closed) {
      await this.streams.release(view.streamId, view.viewerId);
      log.info('the upper platform gave up while the stream opened: released');
      return reply(487, 'Request Terminated');
    }
    const sender = await RtpPsSender.open(this.options.bindHost, { address: offer.connection, port: offer.media.port }, Number(ssrc), transport);
    const attached = this.streams.attachReader(view.streamId, view.viewerId, sender);
    if (!attached) {
      await sender.close();
      await this.streams.release(view.streamId, view.viewerId);
      return reply(500, 'Server Internal Error');
    }
    const localTag = Math.random().toString(16).slice(2, 12);
    const leg: Leg = {
      callId, platformId, channelId, kind, streamId: view.streamId, viewerId: view.viewerId, sender, detach: attached.detach,
      ssrc, startedAt: Date.now(), invitedAt, invite: request, localTag, source: e.source, cseq: 0, mediaReleased: false, endOfFile: null, closed: false,
    };
    this.legs.set(callId, leg);
    sender.onPeerGone(() => void this.end(leg, 'the upper platform closed the media connection', true));
    const localId = this.options.localIdOf(platformId);
    const attributes: Array<[string, string]> = [];
    if (kind === 'download') {
      // The device's file size (a=filesize in its answer) lets the upper platform show progress; its speed, ours.
      const deviceAnswer = this.streams.deviceAnswerOf(view.streamId);
      const fileSize = deviceAnswer ? /^a=filesize:\s*(\d+)\s*$/im.exec(deviceAnswer)?.[1] : undefined;
      attributes.push(['downloadspeed', String(history?.downloadSpeed ?? 1)]);
      if (fileSize) attributes.push(['filesize', fileSize]);
    }
    const answer = buildSdp({
      origin: { username: localId, address: this.options.mediaHost },
      sessionName: kind === 'live' ? 'Play' : kind === 'playback' ? 'Playback' : 'Download',
      connection: this.options.mediaHost,
      media: { type: 'video', port: sender.localPort, protocol: tcp ? 'TCP/RTP/AVP' : 'RTP/AVP', formats: [96] },
      rtpmap: { 96: 'PS/90000' },
      direction: 'sendonly',
      ...(tcp ? { setup: transport.kind === 'tcp-listen' ? ('passive' as const) : ('active' as const), connectionAttr: 'new' as const } : {}),
      ...(history ? { timing: { start: history.span.start / 1000, stop: history.span.end / 1000 } } : {}),
      ssrc,
      attributes,
    });
    reply(200, 'OK', { body: Buffer.from(answer), contentType: 'application/sdp', toTag: localTag, headers: [['contact', `<sip:${localId}@${this.options.mediaHost}>`]] });
    log.info({ kind, streamId: view.streamId, ssrc, to: `${offer.connection}:${offer.media.port}`, localPort: sender.localPort, ...(history ? { start: new Date(history.span.start).toISOString(), end: new Date(history.span.end).toISOString() } : {}) }, 'upward stream started');
  }

  /** The SIP answer to an upper INVITE whose source did not open. */
  private sourceFailureAnswer(err: unknown, kind: UpwardLegKind): [number, string] {
    if (err instanceof PlayError) {
      if (err.step === 'device') return [480, 'Temporarily Unavailable'];
      if (err.step === 'channel') return [404, 'Not Found'];
      if (err.step === 'resources') return [486, 'Busy Here'];
      // The device's own refusal of a playback (no recording there, its span rules) is the upper platform's answer too.
      if (kind !== 'live' && err.sipStatus !== undefined && [404, 486, 488].includes(err.sipStatus)) return [err.sipStatus, err.sipStatus === 404 ? 'Not Found' : err.sipStatus === 486 ? 'Busy Here' : 'Not Acceptable Here'];
    }
    // A channel whose device keeps no GB recordings (ONVIF, RTSP, RTMP) cannot play back.
    if (err instanceof ConflictError) return [488, 'Not Acceptable Here'];
    return [500, 'Server Internal Error'];
  }

  /** BYE (or CANCEL) from the upper platform: ends only that leg. */
  bye(e: { platformId: string; callId: string }): void {
    const opening = this.opening.get(e.callId);
    if (opening) opening.cancelled = true;
    const leg = this.legs.get(e.callId);
    if (leg && leg.platformId === e.platformId) void this.end(leg, 'BYE from the upper platform', false);
  }

  /**
   * The link to a platform was lost (it forgot our registration — it restarted — or stopped answering): the
   * dialogs of its INVITEs are gone with it, so its legs end (BYE upward, answered or not). Without this a UDP
   * leg to a restarted platform streams into the void and holds the source stream open for ever.
   */
  endPlatform(platformId: string, reason: string): number {
    const legs = [...this.legs.values()].filter((l) => l.platformId === platformId);
    for (const leg of legs) void this.end(leg, reason, true);
    return legs.length;
  }

  /**
   * An INFO from the upper platform in a leg's dialog: MANSRTSP playback control, relayed to the device through
   * the stream's playback control; the answer carries the device's RTSP status and position.
   */
  async info(e: { platformId: string; request: SipRequest; reply: ReplyFn }): Promise<void> {
    const { request, reply } = e;
    const callId = header(request, 'call-id') ?? '';
    const leg = this.legs.get(callId);
    const log = this.logger.child({ platformId: e.platformId, callId, ...(leg ? { channelId: leg.channelId } : {}) });
    if (!leg || leg.platformId !== e.platformId || leg.closed) {
      return this.refuse(reply, 481, 'Call/Transaction Does Not Exist', 'unknown-dialog', log, 'INFO outside any upward leg');
    }
    let mansrtsp: MansrtspRequest;
    try {
      mansrtsp = decodeMansrtspRequest(request.body);
    } catch (err) {
      const code = err instanceof MansrtspError ? err.code : 'unreadable';
      return this.refuse(reply, 400, 'Bad Request', 'bad-mansrtsp', log, `INFO body is not MANSRTSP (${code})`);
    }
    const answer = (res: Omit<MansrtspResponse, 'cseq'>): void =>
      reply(200, 'OK', { body: Buffer.from(encodeMansrtspResponse({ ...res, cseq: mansrtsp.cseq })), contentType: MANSRTSP_CONTENT_TYPE });
    const refuseRtsp = (status: number, phrase: string, reason: UpperRefusal, why: string): void => {
      log.info({ status, reason, why, method: mansrtsp.method }, `upper playback control refused: ${why}`);
      this.options.refused?.(reason);
      answer({ status, reason: phrase });
    };
    if (leg.kind === 'live') return refuseRtsp(455, 'Method Not Valid in This State', 'control-refused', 'a live stream cannot be paused, sought or sped up');
    if (leg.endOfFile !== null || leg.mediaReleased) return refuseRtsp(455, 'Method Not Valid in This State', 'control-refused', 'the recording has ended');
    if (mansrtsp.method === 'TEARDOWN') {
      answer({ status: 200, reason: 'OK' });
      await this.end(leg, 'TEARDOWN from the upper platform', true);
      return;
    }
    let last: MansrtspResponse | null = null;
    let scale: number | undefined;
    for (const control of controlsOf(mansrtsp)) {
      try {
        const done = await this.streams.control(leg.streamId, control);
        last = done.device ?? last;
        scale = done.history.scale;
      } catch (err) {
        if (err instanceof ValidationError) {
          return control.action === 'speed'
            ? refuseRtsp(551, 'Option not supported', 'control-refused', `Scale ${String(control.value)} is not supported`)
            : refuseRtsp(457, 'Invalid Range', 'bad-range', `Range npt=${String(control.value)}- is outside the span`);
        }
        if (err instanceof ConflictError) return refuseRtsp(455, 'Method Not Valid in This State', 'control-refused', (err as Error).message);
        if (err instanceof NotFoundError) return this.refuse(reply, 481, 'Call/Transaction Does Not Exist', 'unknown-dialog', log, 'the playback stream is gone');
        const detail = err instanceof UpstreamError ? err.detail : undefined;
        if (detail?.code === 'playback.device-refused' && typeof detail.params?.rtspStatus === 'number') {
          return refuseRtsp(detail.params.rtspStatus, String(detail.params.rtspReason ?? ''), 'control-refused', `the device refused: RTSP ${detail.params.rtspStatus}`);
        }
        return this.refuse(reply, 502, 'Bad Gateway', 'control-refused', log, `the device did not carry out the control: ${(err as Error).message}`);
      }
    }
    log.info({ method: mansrtsp.method, range: mansrtsp.range, scale: mansrtsp.scale }, 'upper playback control relayed');
    answer({
      status: 200,
      reason: 'OK',
      ...(last?.range ? { range: last.range } : {}),
      ...(mansrtsp.scale !== undefined && scale !== undefined ? { scale } : {}),
      ...(last?.rtpInfo ? { rtpInfo: last.rtpInfo } : {}),
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.legs.values()].map((l) => this.end(l, 'gateway shutting down', true)));
  }

  /** Closes the sender and lets go of the stream (once). */
  private async releaseMedia(leg: Leg): Promise<void> {
    if (leg.mediaReleased) return;
    leg.mediaReleased = true;
    leg.detach();
    await leg.sender.close();
    await this.streams.release(leg.streamId, leg.viewerId);
  }

  private async end(leg: Leg, reason: string, byeUpward: boolean): Promise<void> {
    if (leg.closed) return;
    leg.closed = true;
    if (leg.endOfFile) clearTimeout(leg.endOfFile);
    this.legs.delete(leg.callId);
    await this.releaseMedia(leg);
    this.logger.info({ platformId: leg.platformId, channelId: leg.channelId, callId: leg.callId, kind: leg.kind, reason, packets: leg.sender.stats.packets }, 'upward stream ended');
    if (byeUpward) await this.inDialog(leg, 'BYE').catch((err: unknown) => this.logger.debug({ err, callId: leg.callId }, 'BYE to the upper platform not answered'));
  }

  /**
   * The device reached the end of the relayed recording (its MediaStatus 121 closed the stream): the media goes,
   * MediaStatus 121 goes up in the dialog, and the upper platform's BYE closes the dialog — ours if it does not
   * come in time or the MESSAGE is refused.
   */
  private async endOfFile(leg: Leg): Promise<void> {
    if (leg.closed || leg.endOfFile) return;
    leg.endOfFile = setTimeout(() => void this.end(leg, 'no BYE from the upper platform after MediaStatus 121', true), this.options.endOfFileByeMs ?? END_OF_FILE_BYE_MS);
    leg.endOfFile.unref();
    await this.releaseMedia(leg);
    const platform = this.platforms.record(leg.platformId);
    const body = encodeNotify('MediaStatus', this.options.nextSn(), leg.channelId, { NotifyType: '121' }, platform?.charset);
    let status: number | null = null;
    try {
      status = await this.inDialog(leg, 'MESSAGE', { body, contentType: MANSCDP_CONTENT_TYPE });
    } catch (err) {
      this.logger.debug({ err, callId: leg.callId }, 'MediaStatus 121 to the upper platform not answered');
    }
    this.logger.info({ platformId: leg.platformId, channelId: leg.channelId, callId: leg.callId, kind: leg.kind, status, packets: leg.sender.stats.packets }, 'relayed recording reached its end: MediaStatus 121 sent upward');
    if (status === null || status >= 300) await this.end(leg, `MediaStatus 121 answered ${status ?? 'nothing'}`, true);
  }

  private async inDialog(leg: Leg, method: 'BYE' | 'MESSAGE', content?: { body?: Buffer; contentType?: string }): Promise<number | null> {
    const platform = this.platforms.record(leg.platformId);
    if (!platform) return null;
    leg.cseq++;
    return this.options.sendInDialog({ platformId: platform.id, platformDomain: platform.domain, destination: leg.source, invite: leg.invite, localTag: leg.localTag }, method, leg.cseq, content);
  }

  /** A GB SSRC for a leg whose offer had none: '0' live / '1' history + the channel's region digits + a serial. */
  private chooseSsrc(channelId: string, history: boolean): string {
    const serial = String(Math.floor(Math.random() * 10_000)).padStart(4, '0');
    return `${history ? '1' : '0'}${channelId.slice(3, 8)}${serial}`;
  }
}
