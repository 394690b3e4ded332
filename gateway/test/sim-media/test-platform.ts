/**
 * A tiny GB "platform" for the simulator's media tests, built from the real SipTransport + SipEndpoint and the
 * gateway's own INVITE dialogs: it accepts every REGISTER and MESSAGE (no digest: the media path is under
 * test here), remembers where each device registered from, and sends INVITE/ACK/BYE with a hand-written SDP
 * offer. Media receivers (UDP socket, TCP listener, TCP dialler) collect RTP so tests can check the packets
 * and hand the PS bytes to ffprobe. Loopback only.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { SipEndpoint, type ReplyFn } from '../../src/protocol/sip-endpoint.js';
import { header, type SipRequest } from '../../src/codecs/sip/message.js';
import { parseNameAddr, parseUri } from '../../src/codecs/sip/headers.js';
import { InviteDialogs, type InviteDialog } from '../../src/protocol/gb28181/invite.js';
import { parseRtp, type RtpPacket } from '../../src/codecs/rtp/rtp.js';
import { Rfc4571Splitter } from '../../src/codecs/rtp/rfc4571.js';
import { buildPlayOffer, type SubstreamAttribute } from '../../src/codecs/sdp/sdp.js';

export const PLATFORM_ID = '44030500002000000001';
export const DOMAIN = '4403050000';

const userOf = (value: string | undefined): string => {
  if (!value) return '';
  try {
    return parseUri(parseNameAddr(value).uri).user;
  } catch {
    return '';
  }
};

export type OfferTransport = 'udp' | 'tcp-passive' | 'tcp-active';

export interface OfferOptions {
  transport: OfferTransport;
  /** Our media port (UDP / TCP passive); TCP active offers port 9 (we dial). */
  port: number;
  ssrc: string;
  substream?: { attribute: SubstreamAttribute; value: string };
}

/** The Play offer the gateway sends (codecs/sdp builds it). */
export function playOffer(o: OfferOptions): string {
  return buildPlayOffer({
    sipId: PLATFORM_ID,
    mediaHost: '127.0.0.1',
    port: o.transport === 'tcp-active' ? 9 : o.port,
    transport: o.transport,
    ssrc: o.ssrc,
    ...(o.substream ? { substream: o.substream } : {}),
  });
}

/** RTP packets collected by one receiver, in arrival order. */
export class RtpCollector {
  readonly packets: RtpPacket[] = [];
  readonly raw: Buffer[] = [];
  lastAt = 0;

  push(buf: Buffer): void {
    this.raw.push(buf);
    this.packets.push(parseRtp(buf));
    this.lastAt = Date.now();
  }

  /** PS bytes: RTP payloads in sequence order (loopback does not reorder, but be honest about it). */
  psBytes(): Buffer {
    return Buffer.concat(this.packets.map((p) => p.payload));
  }

  waitForPackets(count: number, timeoutMs: number): Promise<void> {
    return waitUntil(() => this.packets.length >= count, timeoutMs, () => `only ${this.packets.length} of ${count} RTP packets`);
  }
}

export async function waitUntil(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface MediaReceiver {
  collector: RtpCollector;
  /** Port to put in the offer (0 for TCP active, where we dial). */
  port: number;
  /** TCP active: dial the camera's port from its answer. */
  connect(host: string, port: number): Promise<void>;
  close(): Promise<void>;
}

export async function openReceiver(transport: OfferTransport): Promise<MediaReceiver> {
  const collector = new RtpCollector();
  if (transport === 'udp') {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (msg) => collector.push(msg));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return {
      collector,
      port: socket.address().port,
      connect: async () => undefined,
      close: () => new Promise((resolve) => socket.close(() => resolve())),
    };
  }
  const sockets: net.Socket[] = [];
  const attach = (socket: net.Socket): void => {
    sockets.push(socket);
    const splitter = new Rfc4571Splitter();
    socket.on('data', (chunk) => {
      for (const packet of splitter.push(chunk)) collector.push(packet);
    });
    socket.on('error', () => undefined);
  };
  if (transport === 'tcp-passive') {
    const server = net.createServer(attach);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      collector,
      port: (server.address() as net.AddressInfo).port,
      connect: async () => undefined,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }
  return {
    collector,
    port: 0,
    connect: (host, port) =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host, port }, () => resolve());
        socket.once('error', reject);
        attach(socket);
      }),
    close: async () => {
      for (const s of sockets) s.destroy();
    },
  };
}

export class TestPlatform {
  readonly bindings = new Map<string, TransportSource>();
  readonly dialogs: InviteDialogs;
  /** BYEs the cameras sent us (Call-IDs). */
  readonly byesReceived: string[] = [];

  private constructor(
    readonly transport: SipTransport,
    readonly endpoint: SipEndpoint,
  ) {
    this.dialogs = new InviteDialogs(endpoint, pino({ enabled: false }));
    endpoint.onRequest((req, source, reply) => this.onRequest(req, source, reply));
  }

  static async start(): Promise<TestPlatform> {
    const sip = new SipTransport({ host: '127.0.0.1', port: 0 });
    await sip.listen();
    const endpoint = new SipEndpoint({
      transport: sip,
      localId: PLATFORM_ID,
      localDomain: DOMAIN,
      advertisedHost: '127.0.0.1',
      advertisedPort: sip.port,
      userAgent: 'sim-media-test-platform',
      transactionTimeoutMs: 8_000,
    });
    return new TestPlatform(sip, endpoint);
  }

  get server(): string {
    return `127.0.0.1:${this.transport.port}`;
  }

  /** INVITE a channel of a registered device with an SDP offer. */
  invite(deviceId: string, channelId: string, offer: string, subject: string, timeoutMs = 8_000): Promise<InviteDialog> {
    const destination = this.bindings.get(deviceId);
    if (!destination) throw new Error(`platform: ${deviceId} is not registered`);
    return this.dialogs.invite({ channelId, destination, domain: DOMAIN, sdpOffer: offer, subject, timeoutMs });
  }

  bye(dialog: InviteDialog): Promise<void> {
    return this.dialogs.bye(dialog);
  }

  async close(): Promise<void> {
    this.endpoint.close();
    await this.transport.close();
  }

  private onRequest(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    if (this.dialogs.handleInDialog(req, reply)) {
      if (req.method === 'BYE') this.byesReceived.push(header(req, 'call-id') ?? '');
      return;
    }
    if (req.method === 'REGISTER') {
      const deviceId = userOf(header(req, 'from'));
      if (header(req, 'expires') === '0') this.bindings.delete(deviceId);
      else this.bindings.set(deviceId, source);
      reply(200, 'OK', { headers: [['expires', header(req, 'expires') ?? '3600']] });
      return;
    }
    if (req.method === 'MESSAGE') {
      reply(200, 'OK');
      return;
    }
    reply(req.method === 'BYE' ? 481 : 405);
  }
}

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

/** ffprobe on PS bytes (`-f mpeg`), via a temp file. */
export async function probePs(ps: Buffer): Promise<ProbedStream[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-media-probe-'));
  const file = join(dir, 'capture.ps');
  try {
    await writeFile(file, ps);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('ffprobe', ['-v', 'error', '-f', 'mpeg', '-show_streams', '-of', 'json', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`ffprobe exited ${code}: ${stderr}`))));
    });
    return (JSON.parse(out) as { streams: ProbedStream[] }).streams;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
