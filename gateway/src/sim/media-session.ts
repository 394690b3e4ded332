/**
 * The simulated cameras' side of live-video calls (GB/T 28181 §9.2, brief §4–5): answer INVITE with an SDP
 * answer, start streaming on ACK, stop on BYE, and everything a test needs to provoke the awkward cases
 * (slow answers, no SDP in the answer, SSRC 0, a camera that stops sending, a camera that hangs up).
 *
 * Transports, named from the gateway's side as in media/rtp-receiver.ts:
 *  - 'udp'          m= RTP/AVP: we send from our own UDP socket to the offer's c=/m= address.
 *  - 'tcp-passive'  m= TCP/RTP/AVP with a=setup:passive (or no setup: GB's default, or actpass): the gateway
 *                   listens, the camera connects to c=/m= after ACK (3 tries, 1 s apart: GB Annex D) and
 *                   answers a=setup:active with the discard port 9 in m= (RFC 4145 §4.1).
 *  - 'tcp-active'   a=setup:active: the camera listens on a port it puts in its answer (a=setup:passive) and
 *                   the gateway connects after ACK.
 * Streaming starts at ACK (UDP, TCP we dial) or when the gateway's connection arrives (TCP we listen on), so
 * the first packet the gateway sees always begins a keyframe.
 *
 * One session per Call-ID. A new INVITE whose Subject (or Call-ID) matches a running session replaces it
 * (GB 2022 Annex K). The sub-stream is chosen by any of a=streamnumber:1, a=streamprofile:1, a=stream:1,
 * a=streamMode:SUB (2022 / Dahua / WVP / TP-Link spellings; any value ≥ 1 means a sub-stream).
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { header, type SipRequest } from '../codecs/sip/message.js';
import { buildSdp, getAttribute, parseSdp, substreamAttributesOf, type GbSdp } from '../codecs/sdp/sdp.js';
import { MANSRTSP_CONTENT_TYPE, MansrtspError, decodeMansrtspRequest, encodeMansrtspResponse, type MansrtspRequest } from '../codecs/gb/mansrtsp.js';
import { MANSCDP_CONTENT_TYPE, encodeNotify } from '../codecs/manscdp/messages.js';
import { HistoryStream } from './history-sender.js';
import type { ReplyFn } from '../protocol/sip-endpoint.js';
import type { TransportSource } from '../transport/sip-transport.js';
import type { DeviceFleetEvents, MediaStopReason } from './events.js';
import type { AudioLoop, MediaLibrary, SimAudioCodec, SimVideoCodec, StreamProfile, VideoLoop } from './media-source.js';
import { MediaPump, MediaStream, PS_PAYLOAD_TYPE, TcpRtpSink, UdpRtpSink, type RtpSink } from './media-sender.js';
import type { DeviceLink } from './sim-device.js';

export type SimMediaTransport = 'udp' | 'tcp-passive' | 'tcp-active';

/** Per-fleet media behaviour (resolved defaults). */
export interface SimMediaConfig {
  codec: SimVideoCodec;
  audio: SimAudioCodec | null;
  /** Send RTP with SSRC 0 whatever y= says (some devices do). */
  zeroSsrc: boolean;
  /** Answer 200 OK without a body (a public simulator does; the gateway must keep its offer's values). */
  answerWithoutSdp: boolean;
  /** Wait this long before the 200 OK (after 100 Trying). */
  inviteDelayMs: number;
  /** Stop sending this long after streaming started (no BYE: "camera stops sending"); null = never. */
  stopSendingAfterMs: number | null;
  /** How long an INVITE for a personalised channel waits for its own loop before using the shared one. */
  personalisedWaitMs: number;
  /** Answer MANSRTSP INFOs with an unreadable body (a broken device, for tests). Default false. */
  garbageMansrtspAnswers?: boolean;
  /** Live loops from the shared pre-muxed packets (MediaStreamOptions.sharedPackets). Default true. */
  sharedPackets?: boolean;
}

/** A Playback / Download request (s=, u=, t=, a=downloadspeed of the offer). */
export interface HistoryPlan {
  mode: 'Playback' | 'Download';
  /** t= in Unix seconds. */
  startSec: number;
  endSec: number;
  /** u= as sent (`<channelId>:<type>`), or null. */
  uri: string | null;
  /** a=downloadspeed (1 for Playback or when absent). */
  downloadSpeed: number;
}

/** Speeds this device plays at (MANSRTSP Scale). */
const SIM_SCALES = new Set([0.25, 0.5, 1, 2, 4, 8]);
/** The longest span a simulated recording serves (a week). */
const MAX_HISTORY_SPAN_SEC = 7 * 86_400;

export type SessionState = 'pending' | 'answered' | 'connecting' | 'streaming' | 'stopped-sending';

export type { MediaStopReason } from './events.js';

/** One running (or starting) call, as tests and benchmarks see it. */
export interface ActiveStreamInfo {
  deviceId: string;
  channelId: string;
  callId: string;
  subject: string | null;
  /** SSRC announced in y= (10 digits) and the value on the wire (0 with zeroSsrc). */
  ssrcText: string;
  ssrc: number;
  transport: SimMediaTransport;
  profile: StreamProfile;
  codec: SimVideoCodec;
  audio: SimAudioCodec | null;
  state: SessionState;
  /** Where the gateway asked for media (c=/m= of the offer). */
  remote: { host: string; port: number };
  /** Our UDP source port or TCP listening port (null for a TCP connection we dial). */
  localPort: number | null;
  /** True when the picture shows this channel's ID (see media-source.ts), false for the shared loop. */
  personalised: boolean;
  width: number;
  height: number;
  fps: number;
  loopMs: number;
  /** Wall-clock epoch ms at which loop frame 0 was due (null before streaming); see media-sender.ts. */
  loopEpochMs: number | null;
  /** The INVITE's SDP offer as received. */
  offer: string;
  /** s= of the INVITE: Play, Playback or Download. */
  sessionName: 'Play' | 'Playback' | 'Download';
  /** Playback / Download: what was asked and where the recording is. */
  history: (HistoryPlan & { positionSec: number; paused: boolean; scale: number }) | null;
  packets: number;
  bytes: number;
  videoFrames: number;
  audioFrames: number;
}

/** What a session needs to know about the device that owns the channel. */
export interface MediaDeviceContext {
  deviceId: string;
  link: DeviceLink;
}

export interface SimMediaHost {
  emit<K extends keyof DeviceFleetEvents>(event: K, ...args: DeviceFleetEvents[K]): void;
  /** Channels that get their own burnt-in channel ID and name (the first N of the fleet). */
  isPersonalised(channelId: string): boolean;
  /** The channel's camera name in its device's catalog (burnt into its own picture), or null. */
  channelName(channelId: string): string | null;
  /** Fleet's SIP server ID (to derive an SSRC when the offer has no y=). */
  serverId: string;
}

interface Plan {
  transport: SimMediaTransport;
  remoteHost: string;
  remotePort: number;
  payloadType: number;
  ssrcText: string;
  profile: StreamProfile;
  /** The stream-selection attribute as the offer spelled it, echoed in the answer. */
  streamAttribute: [string, string] | null;
  history: HistoryPlan | null;
}

interface Session {
  device: MediaDeviceContext;
  channelId: string;
  callId: string;
  subject: string | null;
  plan: Plan;
  state: SessionState;
  /** The INVITE's reply function while no final answer was sent. */
  replyInvite: ReplyFn | null;
  /** Dialog data for a BYE we send: their From (our To), our To with tag, their Contact, where they are. */
  invite: SipRequest;
  source: TransportSource;
  localTag: string | null;
  video: VideoLoop | null;
  audio: AudioLoop | null;
  personalised: boolean;
  sink: RtpSink | null;
  server: net.Server | null;
  localPort: number | null;
  stream: MediaStream | null;
  /** Playback / Download sender (instead of `stream`). */
  recording: HistoryStream | null;
  timer: NodeJS.Timeout | null;
  stopTimer: NodeJS.Timeout | null;
  cseq: number;
  ended: boolean;
}

/** No ACK within this long after our 200 OK: the gateway gave up; drop the call. */
const ACK_TIMEOUT_MS = 10_000;
/** The gateway must connect to a camera's TCP port within this long after ACK. */
const TCP_ACCEPT_TIMEOUT_MS = 15_000;
/** GB Annex D: the TCP client retries at ≥ 1 s intervals, ≥ 3 times. */
const TCP_CONNECT_ATTEMPTS = 3;
const TCP_RETRY_DELAY_MS = 1_000;
/** Call-IDs of calls that ended on our side, so a late BYE still gets 200 (kept this many). */
const RECENTLY_ENDED = 256;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Main or sub-stream from the offer's selector (codecs/sdp finds the vendor spellings): streamMode:SUB, or a
 * number ≥ 1 in streamnumber / streamprofile / stream. Returns the attribute too, to echo it in the answer.
 */
export function streamProfileOf(offer: GbSdp): { profile: StreamProfile; attribute: [string, string] | null } {
  const first = substreamAttributesOf(offer)[0];
  if (!first) return { profile: 'main', attribute: null };
  const value = first.value.trim();
  const n = Number.parseInt(value, 10);
  const sub = first.attribute === 'streamMode' ? /^sub/i.test(value) : Number.isInteger(n) && n >= 1;
  return { profile: sub ? 'sub' : 'main', attribute: [first.attribute, value] };
}

export class SimMediaService {
  readonly pump: MediaPump;
  private readonly sessions = new Map<string, Session>();
  private readonly ended = new Set<string>();
  private closed = false;

  constructor(
    private readonly config: SimMediaConfig,
    private readonly library: MediaLibrary,
    private readonly localHost: string,
    private readonly host: SimMediaHost,
  ) {
    this.pump = new MediaPump();
  }

  /** Handle INVITE / ACK / BYE / CANCEL / INFO for a channel. Returns false for other methods. */
  handle(device: MediaDeviceContext, channelId: string, req: SipRequest, source: TransportSource, reply: ReplyFn): boolean {
    switch (req.method) {
      case 'INVITE':
        this.onInvite(device, channelId, req, source, reply);
        return true;
      case 'ACK':
        this.onAck(req);
        return true;
      case 'BYE':
        this.onBye(req, reply);
        return true;
      case 'CANCEL':
        this.onCancel(req, reply);
        return true;
      case 'INFO':
        this.onInfo(device, channelId, req, reply);
        return true;
      default:
        return false;
    }
  }

  /** Calls in progress (answered, streaming or stopped sending). */
  activeStreams(): ActiveStreamInfo[] {
    return [...this.sessions.values()].filter((s) => s.state !== 'pending').map((s) => this.describe(s));
  }

  /** Streams actually sending packets now. */
  get streamingCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.state === 'streaming') n++;
    return n;
  }

  /** Calls of a channel (or of every channel of a device). */
  sessionsOf(id: string): number {
    return [...this.sessions.values()].filter((s) => s.channelId === id || s.device.deviceId === id).length;
  }

  /** The camera stops sending (no BYE). Returns how many streams stopped. */
  stopSending(id: string): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if ((s.channelId !== id && s.device.deviceId !== id) || !s.stream) continue;
      s.stream.pause();
      s.state = 'stopped-sending';
      n++;
    }
    return n;
  }

  /** Sending resumes at the next keyframe. Returns how many streams resumed. */
  resumeSending(id: string): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if ((s.channelId !== id && s.device.deviceId !== id) || !s.stream || s.state !== 'stopped-sending') continue;
      s.stream.resume();
      s.state = 'streaming';
      n++;
    }
    return n;
  }

  /** The camera ends its calls with a BYE of its own. Resolves to the number of BYEs answered 2xx. */
  async hangUp(id: string, timeoutMs = 4_000): Promise<number> {
    const targets = [...this.sessions.values()].filter((s) => (s.channelId === id || s.device.deviceId === id) && s.state !== 'pending');
    const results = await Promise.all(targets.map((s) => this.sendBye(s, timeoutMs)));
    return results.filter(Boolean).length;
  }

  /** A device powers off: its calls end without signalling. */
  powerOff(deviceId: string): void {
    for (const s of [...this.sessions.values()]) if (s.device.deviceId === deviceId) this.end(s, 'powered-off');
  }

  /** End every call without signalling (fleet shutdown: the cameras go dark). */
  close(): void {
    this.closed = true;
    for (const s of [...this.sessions.values()]) this.end(s, 'fleet-stopped');
    this.pump.close();
  }

  // ------------------------------------------------------------------------------------------ INVITE

  private onInvite(device: MediaDeviceContext, channelId: string, req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    if (this.closed) {
      reply(503, 'Service Unavailable');
      return;
    }
    const callId = header(req, 'call-id') ?? '';
    const subject = header(req, 'subject')?.trim() || null;
    // A re-INVITE, or a new INVITE for a media link we already serve (Annex K): the old one goes.
    for (const old of [...this.sessions.values()]) {
      if (old.callId === callId || (subject !== null && old.subject === subject)) this.end(old, 'replaced');
    }
    const plan = this.planFromOffer(req);
    if (typeof plan === 'string') {
      reply(488, 'Not Acceptable Here', { headers: [['warning', `399 sharp-eyes-sim "${plan}"`]] });
      this.host.emit('invite-refused', { deviceId: device.deviceId, channelId, status: 488, reason: plan });
      return;
    }
    const session: Session = {
      device,
      channelId,
      callId,
      subject,
      plan,
      state: 'pending',
      replyInvite: reply,
      invite: req,
      source,
      localTag: null,
      video: null,
      audio: null,
      personalised: false,
      sink: null,
      server: null,
      localPort: null,
      stream: null,
      recording: null,
      timer: null,
      stopTimer: null,
      cseq: 0,
      ended: false,
    };
    this.sessions.set(callId, session);
    this.answer(session).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      this.host.emit('warning', { deviceId: device.deviceId, message: `INVITE for ${channelId} failed: ${message}` });
      if (session.replyInvite) {
        session.replyInvite(500, 'Server Internal Error', { headers: [['warning', `399 sharp-eyes-sim "${message.slice(0, 120).replace(/"/g, "'")}"`]] });
        session.replyInvite = null;
      }
      this.end(session, 'failed');
    });
  }

  /** What the offer asks for, or why we cannot do it. */
  private planFromOffer(req: SipRequest): Plan | string {
    if (req.body.length === 0) return 'INVITE without SDP offer';
    let offer: GbSdp;
    try {
      offer = parseSdp(req.body.toString('utf8'));
    } catch (err) {
      return `unparseable SDP: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (offer.media.type !== 'video') return `only video is offered by this camera, not ${offer.media.type}`;
    const remoteHost = offer.connection;
    if (!net.isIP(remoteHost)) return `c= address ${JSON.stringify(offer.connection)} is not an IP address`;
    const psType = Object.entries(offer.rtpmap).find(([, enc]) => /^PS\//i.test(enc.trim()));
    const payloadType = psType ? Number(psType[0]) : offer.media.formats.includes(PS_PAYLOAD_TYPE) ? PS_PAYLOAD_TYPE : -1;
    if (payloadType < 0) return 'no PS payload type offered';
    const tcp = offer.media.protocol.toUpperCase().startsWith('TCP');
    const transport: SimMediaTransport = !tcp ? 'udp' : offer.setup === 'active' ? 'tcp-active' : 'tcp-passive';
    if (transport !== 'tcp-active' && (offer.media.port < 1 || offer.media.port > 65_535)) return `bad media port ${offer.media.port}`;
    const { profile, attribute } = streamProfileOf(offer);
    const ssrcText = offer.ssrc && /^\d{1,10}$/.test(offer.ssrc) && Number(offer.ssrc) <= 0xffffffff ? offer.ssrc : this.generatedSsrc();
    const history = historyPlanOf(offer);
    if (typeof history === 'string') return history;
    return { transport, remoteHost, remotePort: offer.media.port, payloadType, ssrcText, profile, streamAttribute: attribute, history };
  }

  /** Cross-domain rule (Annex G note 16): when the offer has no y=, the called side makes one up. */
  private generatedSsrc(): string {
    return `0${this.host.serverId.slice(3, 8)}${String(randomInt(0, 10_000)).padStart(4, '0')}`;
  }

  private async answer(session: Session): Promise<void> {
    const { plan } = session;
    const delayed = this.config.inviteDelayMs > 0 || !this.library.readyVideoLoop(this.config.codec, plan.profile, null);
    if (delayed && session.replyInvite) session.replyInvite(100, 'Trying');
    if (this.config.inviteDelayMs > 0) await sleep(this.config.inviteDelayMs);
    if (session.ended) return;
    const [video, audio] = await Promise.all([
      this.videoFor(session),
      // A recording is served without audio (history-sender.ts).
      this.config.audio && !plan.history ? this.library.audioLoop(this.config.audio) : Promise.resolve(null),
    ]);
    if (session.ended) return;
    session.video = video;
    session.audio = audio;

    if (plan.transport === 'udp') {
      const sink = await UdpRtpSink.open(this.localHost, plan.remoteHost, plan.remotePort);
      session.sink = sink;
      session.localPort = sink.localPort;
    } else if (plan.transport === 'tcp-active') {
      session.server = await this.listen(session);
      session.localPort = (session.server.address() as net.AddressInfo).port;
    }
    if (session.ended) {
      this.release(session);
      return;
    }
    const reply = session.replyInvite;
    if (!reply) return;
    session.replyInvite = null;
    const link = session.device.link;
    const contact = `<sip:${session.channelId}@${link.host}:${link.port}${link.kind === 'tcp' ? ';transport=tcp' : ''}>`;
    const body = this.config.answerWithoutSdp ? undefined : Buffer.from(buildSdp(this.answerSdp(session, audio !== null)));
    reply(200, 'OK', { headers: [['contact', contact]], ...(body ? { body, contentType: 'application/sdp' } : {}) });
    session.state = 'answered';
    session.timer = setTimeout(() => this.end(session, 'no-ack'), ACK_TIMEOUT_MS);
  }

  /** The channel's own loop when it is one of the personalised ones and ready in time, else the shared loop. */
  private async videoFor(session: Session): Promise<VideoLoop> {
    const { codec, personalisedWaitMs } = this.config;
    const profile = session.plan.profile;
    if (this.host.isPersonalised(session.channelId)) {
      const own = this.library.videoLoop(codec, profile, session.channelId, this.host.channelName(session.channelId));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), personalisedWaitMs);
      });
      const loop = await Promise.race([own.catch(() => null), timeout]);
      clearTimeout(timer);
      if (loop) {
        session.personalised = true;
        return loop;
      }
      // Still encoding (it stays queued and is used by the next call) or failed: use the shared picture.
    }
    return this.library.videoLoop(codec, profile, null);
  }

  private answerSdp(session: Session, withAudio: boolean): GbSdp {
    const { plan } = session;
    const video = session.video!;
    const tcp = plan.transport !== 'udp';
    const port = plan.transport === 'udp' || plan.transport === 'tcp-active' ? session.localPort! : 9;
    const resolution = video.height === 720 ? '5' : video.height === 1080 ? '6' : `${video.width}x${video.height}`;
    const kbps = Math.round((video.bytes * 8) / video.durationMs);
    const f = `v/${video.codec === 'h264' ? 2 : 5}/${resolution}/${video.fps}/2/${kbps}a/${withAudio ? '1/8/1' : '//'}`;
    const attributes: Array<[string, string]> = plan.streamAttribute ? [plan.streamAttribute] : [];
    const history = plan.history;
    if (history?.mode === 'Download') {
      // Brief §4.2: the file size in the answer lets a platform show progress by bytes.
      attributes.push(['downloadspeed', String(history.downloadSpeed)]);
      attributes.push(['filesize', String(Math.round((video.bytes / video.durationMs) * (history.endSec - history.startSec) * 1000))]);
    }
    return {
      origin: { username: session.channelId, address: this.localHost },
      sessionName: history?.mode ?? 'Play',
      ...(history ? { timing: { start: history.startSec, stop: history.endSec } } : {}),
      connection: this.localHost,
      media: { type: 'video', port, protocol: tcp ? 'TCP/RTP/AVP' : 'RTP/AVP', formats: [plan.payloadType] },
      rtpmap: { [plan.payloadType]: 'PS/90000' },
      direction: 'sendonly',
      ...(tcp ? { setup: plan.transport === 'tcp-active' ? ('passive' as const) : ('active' as const), connectionAttr: 'new' as const } : {}),
      ssrc: plan.ssrcText,
      f,
      attributes,
    };
  }

  // ------------------------------------------------------------------------------------------ ACK, BYE, CANCEL

  private onAck(req: SipRequest): void {
    const session = this.sessions.get(header(req, 'call-id') ?? '');
    if (!session || session.state !== 'answered') return;
    if (session.timer) clearTimeout(session.timer);
    session.timer = null;
    session.localTag = toTagOf(req);
    switch (session.plan.transport) {
      case 'udp':
        this.startStreaming(session, session.sink!);
        return;
      case 'tcp-passive':
        session.state = 'connecting';
        void this.dial(session);
        return;
      case 'tcp-active':
        session.state = 'connecting';
        // The listener was opened before the 200 OK; the gateway may even have connected already.
        session.timer = setTimeout(() => this.end(session, 'no-connection'), TCP_ACCEPT_TIMEOUT_MS);
        if (session.sink) this.startStreaming(session, session.sink);
        return;
    }
  }

  private onBye(req: SipRequest, reply: ReplyFn): void {
    const callId = header(req, 'call-id') ?? '';
    const session = this.sessions.get(callId);
    if (session) {
      reply(200, 'OK');
      this.end(session, 'bye');
      return;
    }
    reply(this.ended.has(callId) ? 200 : 481, this.ended.has(callId) ? 'OK' : 'Call/Transaction Does Not Exist');
  }

  private onCancel(req: SipRequest, reply: ReplyFn): void {
    const session = this.sessions.get(header(req, 'call-id') ?? '');
    if (!session) {
      reply(481, 'Call/Transaction Does Not Exist');
      return;
    }
    reply(200, 'OK');
    // Only an INVITE still without a final answer can be cancelled (RFC 3261 §9.2).
    if (session.replyInvite) {
      session.replyInvite(487, 'Request Terminated');
      session.replyInvite = null;
      this.end(session, 'cancelled');
    }
  }

  // ------------------------------------------------------------------------------------------ transports

  /** TCP, gateway active: listen before answering; the first connection carries the stream. */
  private listen(session: Session): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => {
        if (session.sink || session.ended) {
          socket.destroy();
          return;
        }
        server.close();
        session.server = null;
        session.sink = new TcpRtpSink(socket, () => this.end(session, 'disconnected'));
        if (session.state === 'connecting') this.startStreaming(session, session.sink);
      });
      server.on('error', reject);
      server.listen(0, this.localHost, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        resolve(server);
      });
    });
  }

  /** TCP, gateway passive: connect to the gateway's port, retrying like GB Annex D asks. */
  private async dial(session: Session): Promise<void> {
    const { remoteHost, remotePort } = session.plan;
    for (let attempt = 1; attempt <= TCP_CONNECT_ATTEMPTS && !session.ended; attempt++) {
      try {
        const socket = await connectTcp(remoteHost, remotePort, this.localHost);
        if (session.ended) {
          socket.destroy();
          return;
        }
        session.sink = new TcpRtpSink(socket, () => this.end(session, 'disconnected'));
        this.startStreaming(session, session.sink);
        return;
      } catch {
        if (attempt < TCP_CONNECT_ATTEMPTS) await sleep(TCP_RETRY_DELAY_MS);
      }
    }
    if (!session.ended) {
      this.host.emit('warning', { deviceId: session.device.deviceId, message: `cannot connect to ${remoteHost}:${remotePort} for ${session.channelId}` });
      this.end(session, 'no-connection');
    }
  }

  private startStreaming(session: Session, sink: RtpSink): void {
    if (session.ended || session.state === 'streaming') return;
    if (session.timer) clearTimeout(session.timer);
    session.timer = null;
    if (session.plan.history) {
      this.startRecording(session, session.plan.history, sink);
      return;
    }
    const stream = new MediaStream({
      video: session.video!,
      audio: session.audio,
      ssrc: this.config.zeroSsrc ? 0 : Number(session.plan.ssrcText),
      sink,
      payloadType: session.plan.payloadType,
      sharedPackets: this.config.sharedPackets ?? true,
    });
    session.stream = stream;
    session.state = 'streaming';
    this.pump.add(stream);
    const stopAfter = this.config.stopSendingAfterMs;
    if (stopAfter !== null) {
      session.stopTimer = setTimeout(() => {
        stream.pause();
        if (session.state === 'streaming') session.state = 'stopped-sending';
      }, stopAfter);
    }
    const { plan } = session;
    this.host.emit('media-started', {
      deviceId: session.device.deviceId,
      channelId: session.channelId,
      callId: session.callId,
      transport: plan.transport,
      profile: plan.profile,
      ssrc: plan.ssrcText,
      personalised: session.personalised,
    });
  }

  // ------------------------------------------------------------------------------------------ playback / download

  private startRecording(session: Session, history: HistoryPlan, sink: RtpSink): void {
    const recording = new HistoryStream({
      video: session.video!,
      ssrc: this.config.zeroSsrc ? 0 : Number(session.plan.ssrcText),
      sink,
      payloadType: session.plan.payloadType,
      spanStartMs: history.startSec * 1000,
      spanMs: (history.endSec - history.startSec) * 1000,
      speed: history.downloadSpeed,
      onEnd: () => void this.sendEndOfFile(session),
    });
    session.recording = recording;
    session.state = 'streaming';
    this.pump.add(recording);
    const { plan } = session;
    this.host.emit('media-started', {
      deviceId: session.device.deviceId,
      channelId: session.channelId,
      callId: session.callId,
      transport: plan.transport,
      profile: plan.profile,
      ssrc: plan.ssrcText,
      personalised: session.personalised,
    });
  }

  /** GB 9.9.2: the whole span was sent: MediaStatus 121 in the dialog; the platform answers with BYE. */
  private async sendEndOfFile(session: Session): Promise<void> {
    const body = encodeNotify('MediaStatus', randomInt(1, 1_000_000), session.channelId, { NotifyType: '121' });
    const status = await this.sendInDialog(session, 'MESSAGE', { body, contentType: MANSCDP_CONTENT_TYPE }, 4_000);
    this.host.emit('media-status-sent', { deviceId: session.device.deviceId, channelId: session.channelId, callId: session.callId, notifyType: 121, status });
  }

  /**
   * MANSRTSP in INFO (GB 9.8.3.2): PAUSE, PLAY (resume / Range seek / Scale), TEARDOWN, answered with
   * `RTSP/1.0 200 OK` and the position in the 200 OK body. Garbage → 400; a live call has nothing to control
   * (200, so the dialog survives, as many cameras do); unknown dialog → 481.
   */
  private onInfo(device: MediaDeviceContext, channelId: string, req: SipRequest, reply: ReplyFn): void {
    const callId = header(req, 'call-id') ?? '';
    const session = this.sessions.get(callId);
    if (!session) {
      reply(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const body = req.body.toString('utf8');
    let request: MansrtspRequest;
    try {
      request = decodeMansrtspRequest(req.body);
    } catch (err) {
      const code = err instanceof MansrtspError ? err.code : 'unreadable';
      this.host.emit('playback-control', { deviceId: device.deviceId, channelId, callId, body, contentType: header(req, 'content-type') ?? '', request: null, error: code });
      reply(400, 'Bad Request', { headers: [['warning', `399 sharp-eyes-sim "MANSRTSP ${code}"`]] });
      return;
    }
    this.host.emit('playback-control', { deviceId: device.deviceId, channelId, callId, body, contentType: header(req, 'content-type') ?? '', request, error: null });
    const recording = session.recording;
    if (!session.plan.history || !recording) {
      reply(200, 'OK');
      return;
    }
    const answer = (status: number, reason: string): void => {
      const text = this.config.garbageMansrtspAnswers
        ? 'HTTP/1.1 ok maybe\r\n\0\0garbage'
        : encodeMansrtspResponse({
            status,
            reason,
            cseq: request.cseq,
            range: { start: Math.round(recording.positionSec * 1000) / 1000 },
            ...(request.scale !== undefined && status === 200 ? { scale: recording.scale } : {}),
          });
      reply(200, 'OK', { body: Buffer.from(text), contentType: MANSRTSP_CONTENT_TYPE });
    };
    const now = performance.now();
    switch (request.method) {
      case 'PAUSE':
        recording.pause();
        answer(200, 'OK');
        return;
      case 'TEARDOWN':
        answer(200, 'OK');
        this.end(session, 'bye');
        return;
      case 'PLAY': {
        const spanSec = session.plan.history.endSec - session.plan.history.startSec;
        if (request.scale !== undefined && !SIM_SCALES.has(request.scale)) {
          answer(551, 'Option not supported');
          return;
        }
        const offset = request.range && request.range.start !== 'now' ? request.range.start : undefined;
        if (offset !== undefined && offset >= spanSec) {
          answer(457, 'Invalid Range');
          return;
        }
        recording.play(now, { ...(offset !== undefined ? { offsetSec: offset } : {}), ...(request.scale !== undefined ? { scale: request.scale } : {}) });
        answer(200, 'OK');
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------------------ ending

  private async sendBye(session: Session, timeoutMs: number): Promise<boolean> {
    const localTag = session.localTag;
    this.end(session, 'hung-up');
    if (!localTag) return false;
    const status = await this.sendInDialog(session, 'BYE', {}, timeoutMs);
    return status !== null && status >= 200 && status < 300;
  }

  /** A request of ours inside the call's dialog (BYE, the MediaStatus MESSAGE); resolves to the final status or null. */
  private async sendInDialog(session: Session, method: string, content: { body?: Buffer; contentType?: string }, timeoutMs: number): Promise<number | null> {
    const invite = session.invite;
    const theirFrom = header(invite, 'from') ?? '';
    const ourTo = header(invite, 'to') ?? '';
    const localTag = session.localTag;
    if (!localTag) return null;
    let target = invite.uri;
    const contact = header(invite, 'contact');
    const m = contact ? /<([^>]+)>/.exec(contact) : null;
    if (m) target = m[1]!;
    else if (contact) target = contact.trim();
    try {
      const res = await session.device.link.endpoint.sendRequest({
        method,
        uri: target,
        // Our side of the dialog: From = the INVITE's To (with the tag we gave), To = the INVITE's From.
        from: ourTo.includes('tag=') ? ourTo : `${ourTo};tag=${localTag}`,
        to: theirFrom,
        callId: session.callId,
        cseq: ++session.cseq,
        destination: session.source,
        timeoutMs,
        ...content,
      });
      return res.status;
    } catch {
      return null;
    }
  }

  private end(session: Session, reason: MediaStopReason): void {
    if (session.ended) return;
    session.ended = true;
    this.release(session);
    if (this.sessions.get(session.callId) === session) this.sessions.delete(session.callId);
    this.ended.add(session.callId);
    if (this.ended.size > RECENTLY_ENDED) this.ended.delete(this.ended.values().next().value as string);
    if (session.replyInvite) {
      session.replyInvite(reason === 'replaced' ? 487 : 500, reason === 'replaced' ? 'Request Terminated' : 'Server Internal Error');
      session.replyInvite = null;
    }
    this.host.emit('media-stopped', { deviceId: session.device.deviceId, channelId: session.channelId, callId: session.callId, reason });
  }

  private release(session: Session): void {
    if (session.timer) clearTimeout(session.timer);
    if (session.stopTimer) clearTimeout(session.stopTimer);
    session.timer = session.stopTimer = null;
    if (session.stream) this.pump.remove(session.stream);
    if (session.recording) this.pump.remove(session.recording);
    session.sink?.close();
    session.server?.close();
    session.server = null;
  }

  private describe(s: Session): ActiveStreamInfo {
    const stats = s.stream?.stats ?? s.recording?.stats;
    const video = s.video;
    return {
      deviceId: s.device.deviceId,
      channelId: s.channelId,
      callId: s.callId,
      subject: s.subject,
      ssrcText: s.plan.ssrcText,
      ssrc: this.config.zeroSsrc ? 0 : Number(s.plan.ssrcText),
      transport: s.plan.transport,
      profile: s.plan.profile,
      codec: this.config.codec,
      audio: this.config.audio,
      state: s.state,
      remote: { host: s.plan.remoteHost, port: s.plan.remotePort },
      localPort: s.localPort,
      personalised: s.personalised,
      width: video?.width ?? 0,
      height: video?.height ?? 0,
      fps: video?.fps ?? 0,
      loopMs: video?.durationMs ?? 0,
      loopEpochMs: s.stream?.loopEpochMs ?? null,
      offer: s.invite.body.toString('utf8'),
      sessionName: s.plan.history?.mode ?? 'Play',
      history: s.plan.history
        ? { ...s.plan.history, positionSec: s.recording?.positionSec ?? 0, paused: s.recording?.isPaused ?? false, scale: s.recording?.scale ?? 1 }
        : null,
      packets: stats?.packets ?? 0,
      bytes: stats?.bytes ?? 0,
      videoFrames: stats?.videoFrames ?? 0,
      audioFrames: stats?.audioFrames ?? 0,
    };
  }
}

/** Playback / Download from the offer's s=, t=, u= and a=downloadspeed; null for live (s=Play); a string: why not. */
export function historyPlanOf(offer: GbSdp): HistoryPlan | null | string {
  const name = offer.sessionName.trim().toLowerCase();
  if (name === 'play') return null;
  if (name !== 'playback' && name !== 'download') return `unknown session s=${offer.sessionName.slice(0, 20)}`;
  const mode = name === 'playback' ? 'Playback' : 'Download';
  const t = offer.timing;
  // t= is Unix seconds for history (brief §4.2); 0 0 or a backwards span has nothing to play.
  if (!t || !Number.isInteger(t.start) || !Number.isInteger(t.stop) || t.start <= 0 || t.stop <= t.start) {
    return `${mode} needs t=<start> <end> in Unix seconds, got ${t ? `${t.start} ${t.stop}` : 'none'}`;
  }
  if (t.stop - t.start > MAX_HISTORY_SPAN_SEC) return `${mode} span of ${t.stop - t.start} s is longer than this recorder keeps`;
  if (t.stop * 1000 > Date.now() + 60_000) return `${mode} span ends in the future`;
  let downloadSpeed = 1;
  if (mode === 'Download') {
    const text = getAttribute(offer, 'downloadspeed');
    downloadSpeed = text === undefined ? 1 : Number(text);
    if (!Number.isInteger(downloadSpeed) || downloadSpeed < 1 || downloadSpeed > 32) return `bad a=downloadspeed:${text ?? ''}`;
  }
  return { mode, startSec: t.start, endSec: t.stop, uri: offer.uri ?? null, downloadSpeed };
}

/** The tag the ACK carries in To: the one our 200 OK gave (the endpoint picked it). */
function toTagOf(req: SipRequest): string | null {
  const to = header(req, 'to') ?? '';
  return /;\s*tag=([^;>\s]+)/i.exec(to)?.[1] ?? null;
}

function connectTcp(host: string, port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress });
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.setTimeout(5_000, () => fail(new Error('connect timeout')));
    socket.once('connect', () => {
      socket.off('error', fail);
      socket.setTimeout(0);
      resolve(socket);
    });
  });
}
