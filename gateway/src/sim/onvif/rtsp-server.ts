/**
 * The simulator's RTSP server: serves the encoded loops (media-source.ts) of simulated ONVIF cameras at
 * rtsp://host:port/onvif/<profile token>, H.264 or H.265 video (and G.711A audio when asked), RTP over TCP
 * interleaved or UDP, with Digest authentication like a camera. One timer per playing session paces frames at
 * the loop's frame rate; RTP timestamps follow the wall clock so latency can be measured end to end.
 *
 * A test tool, deliberately small: no RTCP, no multicast, no seeking. GStreamer's RTSP server is the
 * independent peer the RTSP client is tested against; this one exists so that the demo and benchmarks can run
 * hundreds of ONVIF cameras with real pictures from one process.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { findNalUnits } from '../../codecs/ps/annexb.js';
import { packetizeVideo } from '../../codecs/rtp/payload/video.js';
import { serializeRtp } from '../../codecs/rtp/rtp.js';
import { RtspFramer, interleave, parseTransport, serializeResponse, type RtspRequest } from '../../codecs/rtsp/rtsp.js';
import { buildChallenge, parseDigestParams, verifyDigest } from '../../codecs/sip/digest.js';
import type { MediaLibrary, SimVideoCodec, StreamProfile, VideoLoop, AudioLoop } from '../media-source.js';

export interface SimRtspMount {
  codec: SimVideoCodec;
  profile: StreamProfile;
  audio: boolean;
  /** Credentials this mount requires (a camera's). */
  username: string;
  password: string;
}

interface Track {
  kind: 'video' | 'audio';
  channel: number;
  udp?: { socket: UdpSocket; host: string; port: number };
  ssrc: number;
  seq: number;
}

interface Session {
  id: string;
  mount: SimRtspMount;
  socket: Socket;
  tracks: Track[];
  timer: NodeJS.Timeout | null;
  frame: number;
  video: VideoLoop | null;
  audio: AudioLoop | null;
  startedAt: number;
}

const REALM = 'IP Camera(SIM)';

export class SimRtspServer {
  private server: Server | null = null;
  private readonly mounts = new Map<string, SimRtspMount>();
  private readonly sessions = new Map<string, Session>();
  private readonly nonce = randomBytes(12).toString('hex');
  listenPort = 0;
  /**
   * framesSent: video frames written; framesSkipped: frames not sent because the session's TCP send buffer held
   * more than 4 MB (the client does not read fast enough: benchmarks tell that apart from loss in the gateway).
   */
  readonly stats = { sessions: 0, authFailures: 0, packets: 0, framesSent: 0, framesSkipped: 0 };

  /**
   * `freeRunning`: like a real camera's encoder, the loop runs on the wall clock and a new session joins it
   * wherever it is — usually mid-GOP, so a client waits up to one GOP for its first keyframe. Off (default), every
   * session starts with a keyframe (the best case, which tests rely on for quick starts).
   */
  constructor(
    private readonly library: MediaLibrary,
    private readonly host = '127.0.0.1',
    private readonly options: { freeRunning?: boolean } = {},
  ) {}

  /** Serve `path` (e.g. /onvif/profile_1_main) with this mount. */
  mount(path: string, mount: SimRtspMount): void {
    this.mounts.set(path, mount);
  }

  async start(port = 0): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.listenPort = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) this.end(s);
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  private accept(socket: Socket): void {
    const framer = new RtspFramer({ maxBodyBytes: 16 * 1024 });
    const owned: Session[] = [];
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const item of framer.push(chunk)) {
        if (item.kind === 'message' && item.message.kind === 'request') {
          void this.handle(socket, item.message, owned).catch(() => socket.destroy());
        } else if (item.kind === 'error' && item.reason !== 'garbage') {
          socket.destroy();
        }
      }
    });
    const cleanup = (): void => {
      for (const s of owned) this.end(s);
    };
    socket.on('close', cleanup);
    socket.on('error', () => undefined);
  }

  private reply(socket: Socket, req: RtspRequest, status: number, reason: string, headers: Record<string, string | number> = {}, body?: Buffer): void {
    if (!socket.destroyed) socket.write(serializeResponse(status, reason, { CSeq: req.headers.cseq ?? '0', Server: 'SharpEyesSim RTSP', ...headers }, body));
  }

  private mountOf(uri: string): { path: string; mount: SimRtspMount } | null {
    let path: string;
    try {
      path = new URL(uri).pathname;
    } catch {
      return null;
    }
    const base = path.replace(/\/trackID=\d+$/, '').replace(/\/+$/, '');
    const mount = this.mounts.get(base);
    return mount ? { path: base, mount } : null;
  }

  private async handle(socket: Socket, req: RtspRequest, owned: Session[]): Promise<void> {
    if (req.method === 'OPTIONS') return this.reply(socket, req, 200, 'OK', { Public: 'OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER' });
    const found = this.mountOf(req.uri);
    if (!found) return this.reply(socket, req, 404, 'Not Found');
    const { mount, path } = found;
    const auth = parseDigestParams(req.headers.authorization ?? '');
    const authorised = auth.username === mount.username && auth.nonce === this.nonce && verifyDigest(auth, mount.password, req.method, { expectedRealm: REALM });
    if (!authorised) {
      if (req.headers.authorization) this.stats.authFailures++;
      return this.reply(socket, req, 401, 'Unauthorized', { 'WWW-Authenticate': buildChallenge(REALM, this.nonce) });
    }
    switch (req.method) {
      case 'DESCRIBE': {
        const video = await this.library.videoLoop(mount.codec, mount.profile, null);
        const sdp = this.sdp(video, mount, `rtsp://${this.host}:${this.listenPort}${path}/`);
        return this.reply(socket, req, 200, 'OK', { 'Content-Type': 'application/sdp', 'Content-Base': `rtsp://${this.host}:${this.listenPort}${path}/` }, Buffer.from(sdp));
      }
      case 'SETUP': {
        const transport = parseTransport(req.headers.transport);
        if (!transport) return this.reply(socket, req, 461, 'Unsupported Transport');
        const sessionId = req.headers.session?.split(';')[0] ?? randomBytes(6).toString('hex');
        let session = this.sessions.get(sessionId);
        if (!session) {
          session = { id: sessionId, mount, socket, tracks: [], timer: null, frame: 0, video: null, audio: null, startedAt: 0 };
          this.sessions.set(sessionId, session);
          owned.push(session);
          this.stats.sessions++;
        }
        const kind = /trackID=1$/.test(new URL(req.uri).pathname) ? 'audio' : 'video';
        const track: Track = { kind, channel: transport.interleaved?.[0] ?? session.tracks.length * 2, ssrc: randomInt(1, 0xffffffff), seq: randomInt(0, 0xffff) };
        let answer: string;
        if (transport.protocol === 'udp') {
          if (!transport.clientPort) return this.reply(socket, req, 461, 'Unsupported Transport');
          const udp = createSocket('udp4');
          await new Promise<void>((r) => udp.bind(0, this.host, () => r()));
          const serverPort = (udp.address() as AddressInfo).port;
          track.udp = { socket: udp, host: socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1', port: transport.clientPort[0] };
          answer = `RTP/AVP;unicast;client_port=${transport.clientPort[0]}-${transport.clientPort[1]};server_port=${serverPort}-${serverPort + 1};ssrc=${track.ssrc.toString(16).toUpperCase()}`;
        } else {
          answer = `RTP/AVP/TCP;unicast;interleaved=${track.channel}-${track.channel + 1};ssrc=${track.ssrc.toString(16).toUpperCase()}`;
        }
        session.tracks.push(track);
        return this.reply(socket, req, 200, 'OK', { Transport: answer, Session: `${sessionId};timeout=60` });
      }
      case 'PLAY': {
        const session = this.sessions.get(req.headers.session?.split(';')[0] ?? '');
        if (!session) return this.reply(socket, req, 454, 'Session Not Found');
        session.video = await this.library.videoLoop(mount.codec, mount.profile, null);
        session.audio = mount.audio ? await this.library.audioLoop() : null;
        this.reply(socket, req, 200, 'OK', { Session: session.id, Range: 'npt=0.000-' });
        this.play(session);
        return;
      }
      case 'GET_PARAMETER':
        return this.reply(socket, req, 200, 'OK', { Session: req.headers.session ?? '' });
      case 'TEARDOWN': {
        const session = this.sessions.get(req.headers.session?.split(';')[0] ?? '');
        if (session) this.end(session);
        return this.reply(socket, req, 200, 'OK');
      }
      default:
        return this.reply(socket, req, 405, 'Method Not Allowed');
    }
  }

  private sdp(video: VideoLoop, mount: SimRtspMount, base: string): string {
    const first = video.frames.find((f) => f.keyframe)!;
    const nals = findNalUnits(first.data).map((n) => first.data.subarray(n.header, n.end));
    const b64 = (type: (n: Buffer) => boolean): string => nals.filter(type).map((n) => n.toString('base64')).join(',');
    const lines = ['v=0', `o=- ${Date.now()} 1 IN IP4 ${this.host}`, 's=SharpEyesSim', 't=0 0', 'a=control:*', 'a=range:npt=0-'];
    if (mount.codec === 'h264') {
      lines.push('m=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', `a=fmtp:96 packetization-mode=1;sprop-parameter-sets=${b64((n) => (n[0]! & 0x1f) === 7)},${b64((n) => (n[0]! & 0x1f) === 8)}`);
    } else {
      const t = (n: Buffer): number => (n[0]! >> 1) & 0x3f;
      lines.push('m=video 0 RTP/AVP 96', 'a=rtpmap:96 H265/90000', `a=fmtp:96 sprop-vps=${b64((n) => t(n) === 32)};sprop-sps=${b64((n) => t(n) === 33)};sprop-pps=${b64((n) => t(n) === 34)}`);
    }
    lines.push(`a=control:${base}trackID=0`);
    if (mount.audio) lines.push('m=audio 0 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', `a=control:${base}trackID=1`);
    return `${lines.join('\r\n')}\r\n`;
  }

  private play(session: Session): void {
    const video = session.video!;
    const interval = 1000 / video.fps;
    const now = Date.now();
    session.frame = this.options.freeRunning ? Math.floor(now / interval) % video.frames.length : 0;
    // startedAt is when frame 0 of this session's count would have been sent, so that frame n is due at
    // startedAt + n × interval in both modes.
    session.startedAt = now - session.frame * interval;
    const tick = (): void => {
      if (session.socket.destroyed) return this.end(session);
      // Frames due by now (a late timer catches up; a stalled socket skips rather than queueing).
      const due = Math.floor((Date.now() - session.startedAt) / interval);
      if (session.socket.writableLength > 4 * 1024 * 1024) {
        if (due > session.frame) this.stats.framesSkipped += due - session.frame;
        session.frame = due;
        return;
      }
      while (session.frame <= due) {
        const i = session.frame % video.frames.length;
        const f = video.frames[i]!;
        const ts = Math.round((session.startedAt + session.frame * interval) * 90) >>> 0;
        const nalus = findNalUnits(f.data).map((n) => f.data.subarray(n.header, n.end));
        const track = session.tracks.find((t) => t.kind === 'video');
        if (track) for (const p of packetizeVideo(video.codec, nalus)) this.send(session, track, p.payload, p.marker, ts, 96);
        const audioTrack = session.tracks.find((t) => t.kind === 'audio');
        if (audioTrack && session.audio) {
          // Two 20 ms A-law frames per 40 ms video frame.
          for (let k = 0; k < 2; k++) {
            const n = session.frame * 2 + k;
            const a = session.audio.frames[n % session.audio.frames.length]!;
            this.send(session, audioTrack, a, true, (n * 160) >>> 0, 8);
          }
        }
        session.frame++;
        this.stats.framesSent++;
      }
    };
    session.timer = setInterval(tick, Math.max(5, interval / 2));
    tick();
  }

  private send(session: Session, track: Track, payload: Uint8Array, marker: boolean, timestamp: number, payloadType: number): void {
    const rtp = serializeRtp({ marker, payloadType, sequence: track.seq++, timestamp, ssrc: track.ssrc, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) });
    this.stats.packets++;
    if (track.udp) track.udp.socket.send(rtp, track.udp.port, track.udp.host);
    else session.socket.write(interleave(track.channel, rtp));
  }

  private end(session: Session): void {
    if (session.timer) clearInterval(session.timer);
    session.timer = null;
    for (const t of session.tracks) t.udp?.socket.close();
    session.tracks = [];
    this.sessions.delete(session.id);
  }
}
