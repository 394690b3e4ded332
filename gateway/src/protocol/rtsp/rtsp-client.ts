/**
 * RTSP client session (RFC 2326) for one stream URL: OPTIONS, DESCRIBE, SETUP per usable track, PLAY, keep-alive
 * within the session timeout, TEARDOWN. RTP over TCP (interleaved, the default: works through NAT and
 * firewalls) or over UDP (a port pair per track from the caller's pool). Basic and Digest authentication,
 * answered once per challenge (a 401 loop is a failure, not a retry storm). Every step has a timeout; a
 * failure says which step and why, so a tile and the health console can show it.
 *
 * This is the protocol engine; the stream core's RTSP source (media/sources/rtsp) wraps it, turns RTP into
 * access units with codecs/rtp/payload and owns reconnection.
 */
import { EventEmitter } from 'node:events';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { computeDigestResponse, parseDigestParams } from '../../codecs/sip/digest.js';
import { parseRtp, type RtpPacket } from '../../codecs/rtp/rtp.js';
import {
  RtspFramer,
  parseRtspSdp,
  parseSession,
  parseTransport,
  serializeRequest,
  type RtspMediaDescription,
  type RtspResponse,
  type RtspSessionDescription,
} from '../../codecs/rtsp/rtsp.js';


/** Receive buffer of a track's RTP socket over UDP (the GB receiver's too: media/rtp-receiver.ts). */
const RTP_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;
export type RtspStep = 'connect' | 'options' | 'describe' | 'setup' | 'play' | 'keepalive' | 'stream';
export type RtspFailureReason = 'unreachable' | 'auth-failed' | 'not-found' | 'refused' | 'timeout' | 'bad-answer' | 'no-usable-track' | 'closed';

export class RtspError extends Error {
  override readonly name = 'RtspError';
  constructor(
    readonly step: RtspStep,
    readonly reason: RtspFailureReason,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RtspClientOptions {
  url: string;
  username?: string;
  password?: string;
  transport?: 'tcp' | 'udp';
  /** Per request. Default 5 000 ms. */
  timeoutMs?: number;
  /** Which tracks to set up (default: the first video and the first audio track whose encoding is supported). */
  select?: (media: readonly RtspMediaDescription[]) => RtspMediaDescription[];
  /** UDP transport: binds RTP/RTCP sockets on this address. Default 0.0.0.0. */
  udpBindHost?: string;
  /** UDP transport: gives an even port whose successor is free too (the caller's port pool). */
  allocateUdpPorts?: () => Promise<[number, number]>;
  releaseUdpPorts?: (ports: [number, number]) => void;
  userAgent?: string;
}

export interface RtspTrack {
  index: number;
  media: RtspMediaDescription;
}

export interface RtspClientEvents {
  /** The session plays: tracks and the session description. */
  playing: [{ tracks: RtspTrack[]; description: RtspSessionDescription }];
  rtp: [{ track: number; packet: RtpPacket }];
  /** The session ended: a failure, or a closed() call (reason 'closed'). */
  ended: [RtspError];
}

const SUPPORTED = new Set(['H264', 'H265', 'MPEG4-GENERIC', 'PCMA', 'PCMU']);

export function defaultTrackSelection(media: readonly RtspMediaDescription[]): RtspMediaDescription[] {
  const video = media.find((m) => m.type === 'video' && SUPPORTED.has(m.encoding));
  const audio = media.find((m) => m.type === 'audio' && SUPPORTED.has(m.encoding) && (m.encoding !== 'MPEG4-GENERIC' || /aac-hbr/i.test(m.fmtp.mode ?? '')));
  return [video, audio].filter((m): m is RtspMediaDescription => m !== undefined);
}

/** rtsp://user:pass@host:port/path → the parts (credentials in the URL are used when none are given). */
function splitUrl(url: string): { host: string; port: number; clean: string; username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RtspError('connect', 'bad-answer', `not a URL: ${url}`);
  }
  if (u.protocol !== 'rtsp:') throw new RtspError('connect', 'bad-answer', `not an rtsp:// URL: ${url}`);
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 554, clean: u.toString(), username, password };
}

export class RtspClient extends EventEmitter<RtspClientEvents> {
  private socket: Socket | null = null;
  private readonly framer = new RtspFramer();
  private cseq = 0;
  private pending = new Map<number, { resolve: (r: RtspResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private session: { id: string; timeoutSec: number } | null = null;
  private auth: { kind: 'basic' } | { kind: 'digest'; realm: string; nonce: string; qop?: string; opaque?: string; algorithm?: string; nc: number } | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private udp: Array<{ rtp: UdpSocket; rtcp: UdpSocket; ports: [number, number] }> = [];
  private channelToTrack = new Map<number, number>();
  private closed = false;
  private readonly url: string;
  private readonly host: string;
  private readonly port: number;
  private readonly username?: string;
  private readonly password?: string;
  private readonly timeoutMs: number;
  private supportsGetParameter = false;
  /** Bytes and packets received (for stream figures). */
  readonly received = { packets: 0, bytes: 0, badPackets: 0 };

  constructor(private readonly opts: RtspClientOptions) {
    super();
    const parts = splitUrl(opts.url);
    this.url = parts.clean;
    this.host = parts.host;
    this.port = parts.port;
    this.username = opts.username ?? parts.username;
    this.password = opts.password ?? parts.password;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /** Connect, describe, set up and play. Resolves once PLAY is answered 200. */
  async start(): Promise<{ tracks: RtspTrack[]; description: RtspSessionDescription }> {
    await this.open();
    const options = await this.request('options', 'OPTIONS', this.url, {});
    this.supportsGetParameter = /GET_PARAMETER/i.test(options.headers.public ?? '');
    const describe = await this.request('describe', 'DESCRIBE', this.url, { Accept: 'application/sdp' });
    const base = describe.headers['content-base'] ?? describe.headers['content-location'] ?? this.url;
    let description: RtspSessionDescription;
    try {
      description = parseRtspSdp(describe.body.toString('utf8'), base);
    } catch (err) {
      throw this.fail(new RtspError('describe', 'bad-answer', `unreadable SDP: ${(err as Error).message}`));
    }
    const chosen = (this.opts.select ?? defaultTrackSelection)(description.media);
    if (chosen.length === 0) {
      const offered = description.media.map((m) => `${m.type}/${m.encoding || m.payloadType}`).join(', ') || 'nothing';
      throw this.fail(new RtspError('describe', 'no-usable-track', `no track we can play (offered: ${offered})`));
    }
    const tracks: RtspTrack[] = [];
    for (const [index, media] of chosen.entries()) {
      await this.setup(index, media);
      tracks.push({ index, media });
    }
    await this.request('play', 'PLAY', description.control, { Range: 'npt=0.000-' });
    this.scheduleKeepalive(description.control);
    this.emit('playing', { tracks, description });
    return { tracks, description };
  }

  /**
   * A liveness probe without setting up a stream: OPTIONS and DESCRIBE (which checks the credentials and that
   * the path exists), then the connection is closed. Throws RtspError naming the step, like start().
   */
  async probe(): Promise<void> {
    await this.open();
    try {
      await this.request('options', 'OPTIONS', this.url, {});
      await this.request('describe', 'DESCRIBE', this.url, { Accept: 'application/sdp' });
    } finally {
      this.shutdown(new RtspError('stream', 'closed', 'probe done'));
    }
  }

  /** TEARDOWN (best effort, bounded) and close everything. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.session && this.socket && !this.socket.destroyed) {
      await this.request('keepalive', 'TEARDOWN', this.url, {}).catch(() => undefined);
    }
    this.shutdown(new RtspError('stream', 'closed', 'closed by the gateway'));
  }

  // -------------------------------------------------------------------------------------------------------

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(this.fail(new RtspError('connect', 'unreachable', `no TCP connection to ${this.host}:${this.port} within ${this.timeoutMs} ms`)));
      }, this.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        socket.on('close', () => this.shutdown(new RtspError('stream', 'closed', `the server closed the connection`)));
        resolve();
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (!this.socket) reject(this.fail(new RtspError('connect', 'unreachable', `${this.host}:${this.port}: ${err.code ?? err.message}`)));
        else this.shutdown(new RtspError('stream', 'closed', `connection error: ${err.code ?? err.message}`));
      });
    });
  }

  private onData(chunk: Buffer): void {
    for (const item of this.framer.push(chunk)) {
      if (item.kind === 'interleaved') {
        const track = this.channelToTrack.get(item.channel);
        if (track !== undefined) this.onRtp(track, item.data);
        // Odd channels are RTCP: read and ignored (receiver reports are optional for a client).
      } else if (item.kind === 'message') {
        if (item.message.kind !== 'response') continue; // server-to-client requests (ANNOUNCE, SET_PARAMETER) are ignored
        const cseq = Number(item.message.headers.cseq);
        const waiter = this.pending.get(cseq);
        if (waiter) {
          this.pending.delete(cseq);
          clearTimeout(waiter.timer);
          waiter.resolve(item.message);
        }
      } else {
        this.received.badPackets++;
        if (item.reason !== 'garbage') this.shutdown(new RtspError('stream', 'bad-answer', `RTSP framing: ${item.reason} (${item.detail})`));
      }
    }
  }

  private onRtp(track: number, data: Buffer): void {
    let packet: RtpPacket;
    try {
      packet = parseRtp(data);
    } catch {
      this.received.badPackets++;
      return;
    }
    this.received.packets++;
    this.received.bytes += data.length;
    this.emit('rtp', { track, packet });
  }

  private async setup(index: number, media: RtspMediaDescription): Promise<void> {
    let transport: string;
    let udp: { rtp: UdpSocket; rtcp: UdpSocket; ports: [number, number] } | null = null;
    if ((this.opts.transport ?? 'tcp') === 'tcp') {
      transport = `RTP/AVP/TCP;unicast;interleaved=${index * 2}-${index * 2 + 1}`;
    } else {
      udp = await this.openUdp(index);
      transport = `RTP/AVP;unicast;client_port=${udp.ports[0]}-${udp.ports[1]}`;
    }
    const answer = await this.request('setup', 'SETUP', media.control, { Transport: transport });
    const session = parseSession(answer.headers.session);
    if (!session) throw this.fail(new RtspError('setup', 'bad-answer', 'SETUP answered without a Session header'));
    this.session = session;
    const t = parseTransport(answer.headers.transport);
    if (udp) {
      if (!t || t.protocol !== 'udp') throw this.fail(new RtspError('setup', 'refused', `the server would not use UDP (Transport: ${answer.headers.transport ?? 'none'})`));
    } else {
      const channels = t?.interleaved ?? [index * 2, index * 2 + 1];
      this.channelToTrack.set(channels[0], index);
    }
  }

  private async openUdp(index: number): Promise<{ rtp: UdpSocket; rtcp: UdpSocket; ports: [number, number] }> {
    if (!this.opts.allocateUdpPorts) throw this.fail(new RtspError('setup', 'refused', 'UDP transport needs a port pool'));
    const ports = await this.opts.allocateUdpPorts();
    const bind = (port: number): Promise<UdpSocket> =>
      new Promise((resolve, reject) => {
        const s = createSocket('udp4');
        s.once('error', reject);
        s.bind(port, this.opts.udpBindHost ?? '0.0.0.0', () => resolve(s));
      });
    const rtp = await bind(ports[0]);
    const rtcp = await bind(ports[1]);
    // The kernel's default (rmem_default, ~208 KB) is what the gateway's GB RTP receiver raises too: a busy event
    // loop must not make the kernel drop a camera's packets (up to rmem_max; the kernel caps it silently).
    try {
      rtp.setRecvBufferSize(RTP_UDP_RECEIVE_BUFFER);
    } catch {
      // Not allowed here: the default stays.
    }
    rtp.on('message', (msg, rinfo) => {
      // Only the server we talk to may feed this track (no spoofed sources).
      if (rinfo.address !== this.socket?.remoteAddress?.replace(/^::ffff:/, '')) {
        this.received.badPackets++;
        return;
      }
      this.onRtp(index, msg);
    });
    rtcp.on('message', () => undefined);
    const entry = { rtp, rtcp, ports };
    this.udp.push(entry);
    return entry;
  }

  private scheduleKeepalive(control: string): void {
    const every = Math.max(1, (this.session?.timeoutSec ?? 60) / 2) * 1000;
    this.keepalive = setInterval(() => {
      const method = this.supportsGetParameter ? 'GET_PARAMETER' : 'OPTIONS';
      this.request('keepalive', method, method === 'OPTIONS' ? this.url : control, {}).catch((err: unknown) => {
        this.shutdown(err instanceof RtspError ? err : new RtspError('keepalive', 'timeout', String(err)));
      });
    }, every);
    this.keepalive.unref();
  }

  /** One request; answers a 401 once with the challenge's scheme. */
  private async request(step: RtspStep, method: string, uri: string, headers: Record<string, string>): Promise<RtspResponse> {
    let answer = await this.send(step, method, uri, headers);
    if (answer.status === 401) {
      const challenge = answer.headers['www-authenticate'];
      if (!challenge || this.username === undefined) throw this.fail(new RtspError(step, 'auth-failed', `${method} needs credentials (401)`, 401));
      const hadAuth = this.auth !== null;
      if (!this.learnChallenge(challenge)) throw this.fail(new RtspError(step, 'auth-failed', `unsupported challenge: ${challenge.slice(0, 60)}`, 401));
      answer = await this.send(step, method, uri, headers);
      if (answer.status === 401) throw this.fail(new RtspError(step, 'auth-failed', `${method} refused the credentials${hadAuth ? ' again' : ''} (401)`, 401));
    }
    if (answer.status === 404) throw this.fail(new RtspError(step, 'not-found', `${method} ${uri}: 404 ${answer.reason}`, 404));
    if (answer.status === 403) throw this.fail(new RtspError(step, 'auth-failed', `${method} ${uri}: 403 ${answer.reason}`, 403));
    if (answer.status < 200 || answer.status >= 300) throw this.fail(new RtspError(step, 'refused', `${method} ${uri}: ${answer.status} ${answer.reason}`, answer.status));
    return answer;
  }

  private send(step: RtspStep, method: string, uri: string, headers: Record<string, string>): Promise<RtspResponse> {
    const socket = this.socket;
    if (!socket || socket.destroyed || this.closed) return Promise.reject(new RtspError(step, 'closed', 'the RTSP connection is closed'));
    const cseq = ++this.cseq;
    const all: Record<string, string> = { CSeq: String(cseq), 'User-Agent': this.opts.userAgent ?? 'sharp-eyes-gateway', ...headers };
    if (this.session) all.Session = this.session.id;
    const authorization = this.authorization(method, uri);
    if (authorization) all.Authorization = authorization;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cseq);
        reject(this.fail(new RtspError(step, 'timeout', `no answer to ${method} within ${this.timeoutMs} ms`)));
      }, this.timeoutMs);
      this.pending.set(cseq, { resolve, reject, timer });
      socket.write(serializeRequest(method, uri, all));
    });
  }

  private learnChallenge(value: string): boolean {
    // Several WWW-Authenticate headers are folded into one by our framer (first kept); prefer Digest when offered.
    if (/^\s*digest/i.test(value)) {
      const p = parseDigestParams(value);
      if (!p.nonce || p.realm === undefined) return false;
      this.auth = { kind: 'digest', realm: p.realm, nonce: p.nonce, qop: p.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined, opaque: p.opaque, algorithm: p.algorithm, nc: 0 };
      return true;
    }
    if (/^\s*basic/i.test(value)) {
      this.auth = { kind: 'basic' };
      return true;
    }
    return false;
  }

  private authorization(method: string, uri: string): string | null {
    const a = this.auth;
    if (!a || this.username === undefined) return null;
    const password = this.password ?? '';
    if (a.kind === 'basic') return `Basic ${Buffer.from(`${this.username}:${password}`).toString('base64')}`;
    a.nc++;
    const nc = a.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    const response = computeDigestResponse({ username: this.username, realm: a.realm, password, method, uri, nonce: a.nonce, qop: a.qop, nc, cnonce, algorithm: a.algorithm });
    const q = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;
    let v = `Digest username=${q(this.username)}, realm=${q(a.realm)}, nonce=${q(a.nonce)}, uri=${q(uri)}, response=${q(response)}`;
    if (a.algorithm) v += `, algorithm=${a.algorithm}`;
    if (a.qop) v += `, qop=${a.qop}, nc=${nc}, cnonce=${q(cnonce)}`;
    if (a.opaque !== undefined) v += `, opaque=${q(a.opaque)}`;
    return v;
  }

  private fail(err: RtspError): RtspError {
    this.shutdown(err);
    return err;
  }

  private shutdown(err: RtspError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    for (const [, w] of this.pending) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.pending.clear();
    this.socket?.destroy();
    for (const u of this.udp) {
      u.rtp.close();
      u.rtcp.close();
      this.opts.releaseUdpPorts?.(u.ports);
    }
    this.udp = [];
    this.emit('ended', err);
  }
}
