/**
 * Upward streams (cascade, issue 11): an upper platform INVITEs a shared channel and we send it RTP/PS.
 *
 * Each INVITE is one **leg**: a viewer of the channel's stream in the stream core (so one source serves the
 * local wall and any number of upper requests at once) plus an RtpPsSender reader to the address, port and
 * SSRC of the upper platform's offer. A BYE from above ends only that leg; the stream goes on for everyone
 * else. When the stream ends on our side, the leg sends BYE upward.
 *
 * Answers, with the anchor's failures in mind (each one tested):
 * - an offer without `y=` gets an SSRC we choose, stated in our answer (never `y=null`, WVP #1656);
 * - the answer always carries a real address and port: the leg's own socket (a port-0 answer made Hikvision's
 *   platform refuse streams, WVP #708), and honours the offer's transport and `a=setup` (UDP; TCP with us
 *   connecting when it is passive, listening when it is active);
 * - an unshared or unknown channel is 404, an offer we cannot serve (playback, download) 488, a device that is
 *   offline 480 — each with the reason in the log, nothing half-open.
 */
import type { Logger } from 'pino';
import { header, type SipRequest } from '../../codecs/sip/message.js';
import { buildSdp, parseSdp, type GbSdp } from '../../codecs/sdp/sdp.js';
import type { ReplyFn } from '../../protocol/sip-endpoint.js';
import type { TransportSource } from '../../transport/sip-transport.js';
import { RtpPsSender, type UpwardTransport } from '../../media/readers/rtp-ps/rtp-ps-sender.js';
import type { StreamService } from '../streams/stream-service.js';
import { PlayError } from '../streams/play-error.js';
import type { CascadeResponder } from './cascade-responder.js';
import type { PlatformService } from './platform-service.js';

export interface UpwardLegView {
  callId: string;
  platformId: string;
  channelId: string;
  streamId: string;
  destination: string;
  ssrc: string;
  localPort: number;
  startedAt: number;
  packets: number;
  bytes: number;
  videoFrames: number;
}

interface Leg {
  callId: string;
  platformId: string;
  channelId: string;
  streamId: string;
  viewerId: string;
  sender: RtpPsSender;
  detach: () => void;
  ssrc: string;
  startedAt: number;
  invite: SipRequest;
  localTag: string;
  source: TransportSource;
  closed: boolean;
}

export interface UpwardLegsOptions {
  /** Address we send media from and name in the SDP answer (sip.mediaHost / advertised host). */
  mediaHost: string;
  /** Bind address of the legs' sockets. */
  bindHost: string;
  localIdOf: (platformId: string) => string;
  sendBye: (leg: { platformId: string; platformDomain: string; destination: TransportSource; invite: SipRequest; localTag: string }) => Promise<void>;
}

export class UpwardLegs {
  private readonly legs = new Map<string, Leg>();
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
      for (const leg of [...this.legs.values()]) if (leg.streamId === view.streamId) void this.end(leg, `the source stream ${view.state}`, true);
    });
  }

  list(): UpwardLegView[] {
    return [...this.legs.values()].map((l) => ({
      callId: l.callId,
      platformId: l.platformId,
      channelId: l.channelId,
      streamId: l.streamId,
      destination: '',
      ssrc: l.ssrc,
      localPort: l.sender.localPort,
      startedAt: l.startedAt,
      packets: l.sender.stats.packets,
      bytes: l.sender.stats.bytes,
      videoFrames: l.sender.stats.videoFrames,
    }));
  }

  /** An INVITE from an upper platform (already answered 100 Trying). */
  async invite(e: { platformId: string; source: TransportSource; request: SipRequest; reply: ReplyFn }): Promise<void> {
    const { platformId, request, reply } = e;
    const callId = header(request, 'call-id') ?? '';
    const upperChannelId = /^sip:(\d{20})@/i.exec(request.uri)?.[1] ?? /<sip:(\d{20})@/i.exec(header(request, 'to') ?? '')?.[1] ?? '';
    // The platform names the channel by its ID mapping (platform-service.ts channelIds); we play our own ID.
    const channelId = (upperChannelId && this.responder.channelOf(platformId, upperChannelId)) || '';
    const log = this.logger.child({ platformId, channelId: upperChannelId, ...(channelId !== upperChannelId ? { ourChannelId: channelId } : {}), callId });
    if (this.closed) return reply(503, 'Service Unavailable');
    if (this.legs.has(callId)) return; // a retransmission the transaction layer did not absorb
    if (!channelId || !this.responder.mayQuery(platformId, upperChannelId) || upperChannelId === this.options.localIdOf(platformId)) {
      log.info('upper INVITE for a channel not shared with it: 404');
      return reply(404, 'Not Found');
    }
    let offer: GbSdp;
    try {
      offer = parseSdp(request.body.toString('utf8'));
    } catch (err) {
      log.info({ err: (err as Error).message }, 'upper INVITE with an unusable SDP: 488');
      return reply(488, 'Not Acceptable Here');
    }
    if (!/^play$/i.test(offer.sessionName)) {
      // Playback and download from above are the next steps (docs/cascade.md).
      log.info({ session: offer.sessionName }, 'upper INVITE we cannot serve yet: 488');
      return reply(488, 'Not Acceptable Here');
    }
    // Honour the offer's transport and a=setup: passive (it listens) → we connect; active → we listen.
    const tcp = offer.media.protocol === 'TCP/RTP/AVP';
    const transport: UpwardTransport = !tcp ? { kind: 'udp' } : offer.setup === 'active' ? { kind: 'tcp-listen' } : { kind: 'tcp-connect' };
    if (!offer.connection || offer.media.port <= 0) return reply(488, 'Not Acceptable Here');
    const ssrc = offer.ssrc && /^\d{10}$/.test(offer.ssrc) ? offer.ssrc : this.chooseSsrc(channelId);

    let view;
    try {
      // Answered at the source's first key frame: the sender starts from the GOP the Stream holds (no HLS segment needed).
      view = await this.streams.play({ channelId, stream: 'main', until: 'keyframe' }, `cascade:${platformId}:${callId}`);
    } catch (err) {
      const offline = err instanceof PlayError && err.step === 'device';
      log.warn({ err: (err as Error).message }, 'upper INVITE: the source stream did not open');
      return reply(offline ? 480 : 500, offline ? 'Temporarily Unavailable' : 'Server Internal Error');
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
      callId, platformId, channelId, streamId: view.streamId, viewerId: view.viewerId, sender, detach: attached.detach,
      ssrc, startedAt: Date.now(), invite: request, localTag, source: e.source, closed: false,
    };
    this.legs.set(callId, leg);
    sender.onPeerGone(() => void this.end(leg, 'the upper platform closed the media connection', true));
    const localId = this.options.localIdOf(platformId);
    const answer = buildSdp({
      origin: { username: localId, address: this.options.mediaHost },
      sessionName: 'Play',
      connection: this.options.mediaHost,
      media: { type: 'video', port: sender.localPort, protocol: tcp ? 'TCP/RTP/AVP' : 'RTP/AVP', formats: [96] },
      rtpmap: { 96: 'PS/90000' },
      direction: 'sendonly',
      ...(tcp ? { setup: transport.kind === 'tcp-listen' ? ('passive' as const) : ('active' as const), connectionAttr: 'new' as const } : {}),
      ssrc,
      attributes: [],
    });
    reply(200, 'OK', { body: Buffer.from(answer), contentType: 'application/sdp', toTag: localTag, headers: [['contact', `<sip:${localId}@${this.options.mediaHost}>`]] });
    log.info({ streamId: view.streamId, ssrc, to: `${offer.connection}:${offer.media.port}`, localPort: sender.localPort }, 'upward stream started');
  }

  /** BYE (or CANCEL) from the upper platform: ends only that leg. */
  bye(e: { platformId: string; callId: string }): void {
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

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.legs.values()].map((l) => this.end(l, 'gateway shutting down', true)));
  }

  private async end(leg: Leg, reason: string, byeUpward: boolean): Promise<void> {
    if (leg.closed) return;
    leg.closed = true;
    this.legs.delete(leg.callId);
    leg.detach();
    await leg.sender.close();
    await this.streams.release(leg.streamId, leg.viewerId);
    this.logger.info({ platformId: leg.platformId, channelId: leg.channelId, callId: leg.callId, reason, packets: leg.sender.stats.packets }, 'upward stream ended');
    if (byeUpward) {
      const platform = this.platforms.record(leg.platformId);
      if (!platform) return;
      await this.options
        .sendBye({ platformId: platform.id, platformDomain: platform.domain, destination: leg.source, invite: leg.invite, localTag: leg.localTag })
        .catch((err: unknown) => this.logger.debug({ err, callId: leg.callId }, 'BYE to the upper platform not answered'));
    }
  }

  /** A GB SSRC for a leg whose offer had none: '0' (live) + the channel's region digits + a serial. */
  private chooseSsrc(channelId: string): string {
    const serial = String(Math.floor(Math.random() * 10_000)).padStart(4, '0');
    return `0${channelId.slice(3, 8)}${serial}`;
  }
}
