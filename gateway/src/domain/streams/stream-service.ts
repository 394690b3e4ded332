/**
 * Live streams on demand: play a channel (INVITE → RTP/PS in → our PS demux → ffmpeg HLS), share a running
 * stream between viewers, count viewers by their playlist polls, tear down when the last one has gone, and
 * say exactly which step failed when a play does not work.
 *
 * One StreamSession per (channel, main|sub). Timers: one sweep interval for all streams (idle viewers, RTP
 * silence), not one per stream.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TransportSource } from '../../transport/sip-transport.js';
import type { InviteDialog } from '../../protocol/gb28181/invite.js';
import { InviteRefusedError, InviteTimeoutError } from '../../protocol/gb28181/invite.js';
import { buildPlayOffer, parseSdp } from '../../codecs/sdp/sdp.js';
import { SsrcAllocator, parseSsrc } from '../../codecs/gb/ssrc.js';
import { PsDemuxer, type EsFrame, type VideoCodec, type AudioCodec } from '../../codecs/ps/ps-demuxer.js';
import { PortPool, PortPoolExhaustedError } from '../../media/port-pool.js';
import { RtpReceiver, type MediaTransport } from '../../media/rtp-receiver.js';
import { HlsPackager, type HlsPackagerExit } from '../../media/ffmpeg/hls-packager.js';
import { probeFile, snapshotJpeg } from '../../media/ffmpeg/probe.js';
import { HlsOutput } from '../../media/hls-output.js';
import { MediaTokens } from './media-token.js';
import { grantMatches, MediaGrants } from './media-grants.js';
import { PlayError, inviteRefusalHint } from './play-error.js';

export type StreamType = 'main' | 'sub';
export type StreamState = 'starting' | 'playing' | 'failed' | 'closed';

export interface PlayRequest {
  channelId: string;
  stream?: StreamType;
  transport?: MediaTransport;
  /** Force H.265 → H.264 for this request (e.g. a browser without HEVC). */
  transcode?: boolean;
}

export interface StreamView {
  streamId: string;
  channelId: string;
  deviceId: string;
  stream: StreamType;
  transport: MediaTransport;
  state: StreamState;
  /** Signed HLS playlist URL (path; relative to the gateway's HTTP origin). */
  hls: string;
  viewerId: string;
  codec: string | null;
  sourceCodec: VideoCodec | null;
  audio: string | null;
  width: number | null;
  height: number | null;
  ssrc: string;
  localPort: number;
  viewers: number;
  startedAt: number;
  timeToFirstFrameMs: number | null;
  uptimeSec: number;
  bitrateKbps: number;
  fps: number;
  packets: number;
  packetsLost: number;
  packetLoss: number;
  reordered: number;
  foreignSsrcDropped: number;
  lastError: string | null;
}

/** The device-facing facts the service needs; provided by the composition root. */
export interface StreamTarget {
  channelId: string;
  deviceId: string;
  deviceOnline: boolean;
  destination: TransportSource;
  /** From the device profile. */
  defaultTransport: MediaTransport;
  substream: { attribute: 'streamnumber' | 'streamprofile' | 'stream' | 'streamMode'; main: string; sub: string };
  allowZeroSsrc: boolean;
  transcodeH265: boolean;
}

export interface StreamPorts {
  resolve(channelId: string): Promise<StreamTarget | null>;
  invite(target: StreamTarget, sdpOffer: string, subject: string, timeoutMs: number): Promise<InviteDialog>;
  bye(dialog: InviteDialog): Promise<void>;
}

export interface StreamServiceOptions {
  sipId: string;
  domain: string;
  mediaHost: string;
  /** Address the RTP sockets bind to. */
  bindHost: string;
  portRange: [number, number];
  mediaDir: string;
  defaultTransport: 'profile' | MediaTransport;
  idleSec: number;
  inviteTimeoutSec: number;
  firstPacketTimeoutSec: number;
  keyframeTimeoutSec: number;
  rtpTimeoutSec: number;
  transcodeH265: boolean;
  segmentSeconds: number;
  tokenTtlSec: number;
  maxStreams: number;
}

export interface StreamEvents {
  'stream-status': [StreamView];
  'stream-failed': [{ streamId: string; channelId: string; step: string; message: string; hint: string }];
}

const STATS_PUBLISH_MS = 5000;

interface Viewer {
  id: string;
  lastSeen: number;
  released: boolean;
  /** Who opened it (media-grants.ts); null for static API tokens and the gateway's own snapshots. */
  grant: string | null;
}

class StreamSession {
  readonly id = randomUUID();
  state: StreamState = 'starting';
  dialog: InviteDialog | null = null;
  receiver: RtpReceiver | null = null;
  packager: HlsPackager | null = null;
  output: HlsOutput | null = null;
  demuxer = new PsDemuxer();
  viewers = new Map<string, Viewer>();
  lastError: string | null = null;
  codec: string | null = null;
  sourceCodec: VideoCodec | null = null;
  audio: AudioCodec | null = null;
  width: number | null = null;
  height: number | null = null;
  startedAt = Date.now();
  playingAt: number | null = null;
  timeToFirstFrameMs: number | null = null;
  lastActivity = Date.now();
  /** Frame counter and byte counter over a sliding second for fps/bitrate. */
  frames = 0;
  rate = { at: Date.now(), frames: 0, bytes: 0, fps: 0, kbps: 0 };
  ready: Promise<void> | null = null;

  /** Local RTP port, known once the receiver is open. */
  port = 0;

  constructor(
    readonly key: string,
    readonly target: StreamTarget,
    readonly stream: StreamType,
    readonly transport: MediaTransport,
    readonly ssrc: string,
  ) {}
}

export class StreamService extends EventEmitter<StreamEvents> {
  private readonly sessions = new Map<string, StreamSession>();
  private readonly byId = new Map<string, StreamSession>();
  private readonly ports: PortPool;
  private readonly ssrcs: SsrcAllocator;
  readonly tokens: MediaTokens;
  readonly grants = new MediaGrants();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;
  private lastPublish = 0;

  constructor(
    private readonly deps: StreamPorts,
    private readonly opts: StreamServiceOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.ports = new PortPool(opts.portRange[0], opts.portRange[1]);
    this.ssrcs = new SsrcAllocator(opts.sipId);
    this.tokens = new MediaTokens(opts.tokenTtlSec);
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  get active(): number {
    return this.byId.size;
  }

  list(): StreamView[] {
    return [...this.byId.values()].map((s) => this.view(s, ''));
  }

  get(streamId: string): StreamView | null {
    const s = this.byId.get(streamId);
    return s ? this.view(s, '') : null;
  }

  /** Directory of a stream's HLS files, for the media route (null when unknown). */
  mediaDirOf(streamId: string): string | null {
    return this.byId.get(streamId)?.output?.dir ?? null;
  }

  /** A playlist poll: the viewer is still there. */
  touch(streamId: string, viewerId: string): boolean {
    const s = this.byId.get(streamId);
    if (!s) return false;
    const v = s.viewers.get(viewerId);
    if (!v || v.released) return false;
    v.lastSeen = Date.now();
    s.lastActivity = v.lastSeen;
    return true;
  }

  /**
   * Open (or share) a stream for one more viewer. `grant` names who asked (media-grants.ts) so that
   * revoking it later releases this viewer and refuses its media token at once.
   */
  async play(req: PlayRequest, grant: string | null = null): Promise<StreamView> {
    if (this.closed) throw new PlayError('resources', 'gateway is shutting down', 'retry in a moment');
    const target = await this.deps.resolve(req.channelId);
    if (!target) throw new PlayError('channel', `channel ${req.channelId} not found`, 're-query the catalog of its device, or check the channel ID');
    if (!target.deviceOnline) {
      throw new PlayError('device', `device ${target.deviceId} of channel ${req.channelId} is offline`, 'check the device registration and keepalive (GET /api/devices/:id, /api/events)');
    }
    const stream = req.stream ?? 'main';
    const transport: MediaTransport = req.transport ?? (this.opts.defaultTransport === 'profile' ? target.defaultTransport : this.opts.defaultTransport);
    const key = `${req.channelId}|${stream}`;
    let session = this.sessions.get(key);
    if (!session || session.state === 'failed' || session.state === 'closed') {
      session = this.start(key, target, stream, transport, req.transcode === true);
    }
    const viewer: Viewer = { id: randomUUID(), lastSeen: Date.now(), released: false, grant };
    // A little past the token's expiry: a token signed later in this play (view()) expires no later than that.
    if (grant !== null) this.grants.issue(viewer.id, grant, Date.now() + (this.opts.tokenTtlSec + 60) * 1000);
    session.viewers.set(viewer.id, viewer);
    session.lastActivity = viewer.lastSeen;
    try {
      await session.ready;
    } catch (err) {
      session.viewers.delete(viewer.id);
      throw err;
    }
    return this.view(session, viewer.id);
  }

  /** DELETE /api/streams/:id — release one viewer (or, without viewerId, stop the stream for everyone). */
  async release(streamId: string, viewerId?: string): Promise<{ viewers: number } | null> {
    const s = this.byId.get(streamId);
    if (!s) return null;
    if (viewerId) {
      const v = s.viewers.get(viewerId);
      if (v) v.released = true;
      s.viewers.delete(viewerId);
    } else {
      s.viewers.clear();
      await this.stop(s, 'stopped by an operator');
    }
    return { viewers: this.liveViewers(s) };
  }

  /**
   * The right behind `grant` ended (a consultation ended, a point was removed, a user signed out): release
   * its viewers, refuse their media tokens from now on and close the media WebSockets opened with it.
   * `session:<id>:` revokes every participant of a session. Returns how many viewers were released.
   */
  revoke(grant: string): number {
    let released = 0;
    for (const s of this.byId.values()) {
      for (const v of [...s.viewers.values()]) {
        if (v.grant === null || !grantMatches(v.grant, grant)) continue;
        v.released = true;
        s.viewers.delete(v.id);
        released++;
      }
    }
    this.grants.revoke(grant);
    if (released > 0) this.logger.info({ grant, viewers: released }, 'media access revoked');
    return released;
  }

  /** A recent JPEG of a channel: from its running stream, or from a short pull of the sub-stream. */
  async snapshot(channelId: string, outFile: string): Promise<void> {
    const running = this.sessions.get(`${channelId}|main`) ?? this.sessions.get(`${channelId}|sub`);
    if (running && running.state === 'playing' && running.output) {
      await snapshotJpeg(running.output.playlistPath, outFile);
      return;
    }
    const view = await this.play({ channelId, stream: 'sub' });
    try {
      const dir = this.mediaDirOf(view.streamId);
      if (!dir) throw new PlayError('packager', 'stream vanished before the snapshot', 'retry');
      await snapshotJpeg(join(dir, 'index.m3u8'), outFile);
    } finally {
      await this.release(view.streamId, view.viewerId);
    }
  }

  /** The device ended the dialog (BYE). */
  remoteBye(dialog: InviteDialog): void {
    for (const s of this.byId.values()) {
      if (s.dialog?.callId === dialog.callId) {
        s.dialog = null;
        this.fail(s, 'rtp', 'the device ended the stream (BYE)', 'the camera or its NVR closed the session; it may have restarted or reached its stream limit');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    await Promise.all([...this.byId.values()].map((s) => this.stop(s, 'gateway shutting down')));
  }

  // ------------------------------------------------------------------ lifecycle

  private start(key: string, target: StreamTarget, stream: StreamType, transport: MediaTransport, transcode: boolean): StreamSession {
    if (this.byId.size >= this.opts.maxStreams) {
      throw new PlayError('resources', `stream limit reached (${this.opts.maxStreams})`, 'raise media.maxStreams or close unused streams');
    }
    let ssrc: string;
    try {
      ssrc = this.ssrcs.allocate('live');
    } catch (err) {
      throw new PlayError('resources', (err as Error).message, 'close unused streams');
    }
    const session = new StreamSession(key, target, stream, transport, ssrc);
    this.sessions.set(key, session);
    this.byId.set(session.id, session);
    session.ready = this.run(session, transcode || target.transcodeH265 || this.opts.transcodeH265).catch(async (err: unknown) => {
      const pe = err instanceof PlayError ? err : new PlayError('packager', (err as Error).message, 'see the gateway log');
      this.fail(session, pe.step, pe.message, pe.hint);
      throw pe;
    });
    // Callers await `ready`; an unobserved rejection must not crash the process.
    session.ready.catch(() => undefined);
    return session;
  }

  private async run(s: StreamSession, transcodeH265: boolean): Promise<void> {
    const t0 = Date.now();
    const log = this.logger.child({ channelId: s.target.channelId, deviceId: s.target.deviceId, streamId: s.id, stream: s.stream, transport: s.transport });
    try {
      // The pool skips ports someone else holds; the port goes back to the pool when the receiver closes.
      s.receiver = await RtpReceiver.openFromPool(this.ports, {
        transport: s.transport,
        host: this.opts.bindHost,
        expectedSsrc: parseSsrc(s.ssrc),
        allowZeroSsrc: s.target.allowZeroSsrc,
        logger: log,
      });
    } catch (err) {
      if (err instanceof PortPoolExhaustedError) {
        throw new PlayError('resources', `no free RTP port in ${this.opts.portRange.join('-')}`, 'widen media.ports (SE_MEDIA_PORTS) or close unused streams');
      }
      throw err;
    }
    s.port = s.receiver.localPort;
    s.output = await HlsOutput.create(this.opts.mediaDir, s.id);
    const firstPacket = new Promise<void>((resolve) => s.receiver?.once('first-packet', () => resolve()));
    let resolveKeyframe: () => void = () => undefined;
    const firstKeyframe = new Promise<void>((resolve) => (resolveKeyframe = resolve));
    let resolveSegment: () => void = () => undefined;
    let rejectSegment: (e: Error) => void = () => undefined;
    const firstSegment = new Promise<void>((resolve, reject) => {
      resolveSegment = resolve;
      rejectSegment = reject;
    });

    s.receiver.on('payload', (payload) => {
      let frames: EsFrame[];
      try {
        frames = s.demuxer.push(payload);
      } catch (err) {
        log.warn({ err }, 'PS demux error');
        return;
      }
      for (const f of frames) this.onFrame(s, f, transcodeH265, resolveKeyframe, resolveSegment, rejectSegment, log);
    });
    s.receiver.on('error', (err) => log.warn({ err: err.message }, 'RTP receiver error'));

    const sub = s.stream === 'sub' ? s.target.substream.sub : s.target.substream.main;
    const offer = buildPlayOffer({
      sipId: this.opts.sipId,
      mediaHost: this.opts.mediaHost,
      port: s.port,
      transport: s.transport,
      ssrc: s.ssrc,
      substream: { attribute: s.target.substream.attribute, value: sub },
    });
    const subject = `${s.target.channelId}:${s.ssrc},${this.opts.sipId}:0`;
    try {
      s.dialog = await this.deps.invite(s.target, offer, subject, this.opts.inviteTimeoutSec * 1000);
    } catch (err) {
      if (err instanceof InviteRefusedError) {
        throw new PlayError('invite', `INVITE refused by the device: ${err.status} ${err.reason}`, inviteRefusalHint(err.status), err.status);
      }
      if (err instanceof InviteTimeoutError) {
        throw new PlayError(
          'invite',
          `no answer to INVITE within ${this.opts.inviteTimeoutSec} s`,
          err.provisional
            ? 'the device accepted the request but never finished setting up the stream; it may be overloaded or a lower platform may be waiting for its camera'
            : `the device did not answer at ${s.target.destination.address}:${s.target.destination.port}/${s.target.destination.transport}; check it is still reachable (keepalives arriving?) and not behind a NAT that dropped the mapping`,
        );
      }
      throw new PlayError('invite', `INVITE failed: ${(err as Error).message}`, 'check the device address and the gateway log');
    }
    if (this.closed || s.state !== 'starting') throw new PlayError('resources', 'stream was closed while starting', 'retry');

    // A 200 OK without SDP is tolerated (some devices/simulators): keep our offer's SSRC and transport.
    if (s.dialog.answerSdp) {
      try {
        const answer = parseSdp(s.dialog.answerSdp);
        if (s.transport === 'tcp-active') {
          const host = answer.connection || s.target.destination.address;
          await s.receiver.connectActive(host, answer.media.port);
        }
        if (answer.ssrc && answer.ssrc !== s.ssrc) {
          log.info({ offered: s.ssrc, answered: answer.ssrc }, 'device answered with another SSRC; not enforcing ours');
        }
      } catch (err) {
        if (s.transport === 'tcp-active') {
          throw new PlayError('answer', `cannot connect to the device's media port: ${(err as Error).message}`, 'tcp-active needs the device to listen on the port in its SDP answer; try tcp-passive or udp');
        }
        log.warn({ err: (err as Error).message }, 'unparseable SDP answer; keeping our offer');
      }
    } else if (s.transport === 'tcp-active') {
      throw new PlayError('answer', 'the device answered without SDP, so there is no port to connect to', 'tcp-active needs an SDP answer; use tcp-passive or udp for this device');
    }

    const reachHint =
      s.transport === 'udp'
        ? `check that ${this.opts.mediaHost}:${s.port}/udp (SE_MEDIA_HOST, media.ports) is reachable from the device — NAT, Docker or a firewall often block it — or try transport tcp-passive`
        : s.transport === 'tcp-passive'
          ? `the device should connect to ${this.opts.mediaHost}:${s.port}/tcp; check SE_MEDIA_HOST and the firewall, or try udp`
          : 'the connection to the device stayed silent; try tcp-passive or udp';
    await withTimeout(firstPacket, this.opts.firstPacketTimeoutSec * 1000, () => new PlayError('rtp', `no RTP within ${this.opts.firstPacketTimeoutSec} s after the device answered`, reachHint));
    await withTimeout(
      firstKeyframe,
      this.opts.keyframeTimeoutSec * 1000,
      () =>
        new PlayError(
          'keyframe',
          `RTP arrives but no key frame with a stream map (PSM) within ${this.opts.keyframeTimeoutSec} s (${s.receiver?.stats.packets ?? 0} packets, ${s.demuxer.stats.packs} PS packs)`,
          s.demuxer.stats.packs === 0
            ? 'the payload is not MPEG-PS: the device may send raw H.264/H.265 or a vendor format (check its GB28181 stream settings)'
            : 'the camera GOP may be very long; set its I-frame interval to 1–2 s',
        ),
    );
    await withTimeout(firstSegment, 15_000, () => new PlayError('packager', 'ffmpeg produced no HLS segment within 15 s', 'see the gateway log for ffmpeg output'));
    s.timeToFirstFrameMs = Date.now() - t0;
    s.playingAt = Date.now();
    s.state = 'playing';
    if (s.output) {
      try {
        const probe = await probeFile(s.output.playlistPath, { countFrames: false });
        s.width = probe.video?.width ?? null;
        s.height = probe.video?.height ?? null;
        s.codec = probe.video?.codec === 'hevc' ? 'h265' : (probe.video?.codec ?? s.codec);
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'probe of the first segment failed');
      }
    }
    log.info({ ttffMs: s.timeToFirstFrameMs, codec: s.codec, width: s.width, height: s.height }, 'stream playing');
    this.emit('stream-status', this.view(s, ''));
  }

  private onFrame(
    s: StreamSession,
    f: EsFrame,
    transcodeH265: boolean,
    keyframe: () => void,
    segment: () => void,
    segmentFailed: (e: Error) => void,
    log: Logger,
  ): void {
    if (f.kind === 'video') {
      if (!s.packager) {
        if (!f.keyframe || !s.output) return;
        s.sourceCodec = f.codec as VideoCodec;
        s.audio = s.demuxer.streams.audio ?? null;
        const transcode = s.sourceCodec === 'h265' && transcodeH265;
        s.codec = transcode ? 'h264' : s.sourceCodec;
        s.packager = new HlsPackager();
        s.packager.on('first-segment', () => segment());
        s.packager.on('exit', (info: HlsPackagerExit) => {
          if (info.expected) return;
          if (s.state === 'starting') segmentFailed(new PlayError('packager', `ffmpeg exited (${info.code}) before the first segment`, info.stderrTail.slice(-300)));
          else if (s.state === 'playing') this.fail(s, 'packager', `ffmpeg exited with code ${info.code}`, info.stderrTail.slice(-300));
        });
        s.packager.on('error', (err: Error) => log.warn({ err: err.message }, 'packager error'));
        s.packager.start({
          dir: s.output.dir,
          video: s.sourceCodec,
          audio: s.audio ?? undefined,
          transcodeH265ToH264: transcode,
          segmentSeconds: this.opts.segmentSeconds,
          listSize: 6,
          logger: log,
        });
        keyframe();
      }
      s.packager.writeVideo(f.data);
      s.frames++;
      s.rate.frames++;
    } else if (s.packager && s.audio) {
      s.packager.writeAudio(f.data);
    }
    s.rate.bytes += f.data.length;
  }

  private liveViewers(s: StreamSession): number {
    const cutoff = Date.now() - this.opts.idleSec * 1000;
    let n = 0;
    for (const v of s.viewers.values()) if (!v.released && v.lastSeen >= cutoff) n++;
    return n;
  }

  private sweep(): void {
    const now = Date.now();
    this.grants.prune();
    // Every few seconds, playing streams' statistics go to listeners (WebSocket, metrics).
    const publish = now - this.lastPublish >= STATS_PUBLISH_MS;
    if (publish) this.lastPublish = now;
    for (const s of [...this.byId.values()]) {
      // fps / bitrate over the last interval
      const dt = (now - s.rate.at) / 1000;
      if (dt >= 1) {
        s.rate.fps = Math.round((s.rate.frames / dt) * 10) / 10;
        s.rate.kbps = Math.round((s.rate.bytes * 8) / dt / 1000);
        s.rate.frames = 0;
        s.rate.bytes = 0;
        s.rate.at = now;
      }
      if (s.state === 'starting') continue;
      if (s.state === 'playing') {
        const last = s.receiver?.stats.lastPacketAt ?? s.playingAt ?? now;
        if (now - last > this.opts.rtpTimeoutSec * 1000) {
          this.fail(s, 'rtp', `no RTP for ${this.opts.rtpTimeoutSec} s`, 'the camera stopped sending: check the device (GET /api/devices/:id), its network, or its stream limit');
          continue;
        }
        if (this.liveViewers(s) === 0 && now - s.lastActivity > this.opts.idleSec * 1000) {
          void this.stop(s, 'no viewers');
          continue;
        }
        if (publish) this.emit('stream-status', this.view(s, ''));
      }
    }
  }

  private fail(s: StreamSession, step: string, message: string, hint: string): void {
    if (s.state === 'failed' || s.state === 'closed') return;
    s.lastError = `${step}: ${message}`;
    this.logger.warn({ channelId: s.target.channelId, deviceId: s.target.deviceId, streamId: s.id, step, hint }, `stream failed: ${message}`);
    this.emit('stream-failed', { streamId: s.id, channelId: s.target.channelId, step, message, hint });
    void this.stop(s, message, 'failed');
  }

  private async stop(s: StreamSession, why: string, state: StreamState = 'closed'): Promise<void> {
    if (!this.byId.has(s.id)) return;
    s.state = state;
    this.byId.delete(s.id);
    if (this.sessions.get(s.key) === s) this.sessions.delete(s.key);
    const dialog = s.dialog;
    s.dialog = null;
    await Promise.allSettled([
      dialog ? this.deps.bye(dialog) : Promise.resolve(),
      s.packager?.close() ?? Promise.resolve(),
      s.receiver?.close() ?? Promise.resolve(),
    ]);
    await s.output?.remove().catch(() => undefined);
    this.ssrcs.release(s.ssrc);
    this.logger.info({ channelId: s.target.channelId, streamId: s.id, why, state }, 'stream torn down');
    this.emit('stream-status', this.view(s, ''));
  }

  private view(s: StreamSession, viewerId: string): StreamView {
    const st = s.receiver?.stats;
    const packets = st?.packets ?? 0;
    const lost = st?.lost ?? 0;
    const token = viewerId ? this.tokens.sign(s.id, viewerId) : '';
    return {
      streamId: s.id,
      channelId: s.target.channelId,
      deviceId: s.target.deviceId,
      stream: s.stream,
      transport: s.transport,
      state: s.state,
      hls: token ? `/media/${token}/index.m3u8` : '',
      viewerId,
      codec: s.codec,
      sourceCodec: s.sourceCodec,
      audio: s.audio,
      width: s.width,
      height: s.height,
      ssrc: s.ssrc,
      localPort: s.port,
      viewers: this.liveViewers(s),
      startedAt: s.startedAt,
      timeToFirstFrameMs: s.timeToFirstFrameMs,
      uptimeSec: s.playingAt ? Math.round((Date.now() - s.playingAt) / 1000) : 0,
      bitrateKbps: s.rate.kbps,
      fps: s.rate.fps,
      packets,
      packetsLost: lost,
      packetLoss: packets + lost === 0 ? 0 : Math.round((lost / (packets + lost)) * 10_000) / 10_000,
      reordered: st?.reordered ?? 0,
      foreignSsrcDropped: st?.foreignSsrcDropped ?? 0,
      lastError: s.lastError,
    };
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
