/**
 * The upward RTP/PS sender (cascade, issue 11): a reader of a Stream that muxes its access units into PS packs
 * (our PsMuxer: pack header, system header + PSM on keyframes, PES) and sends them as RTP (payload type 96,
 * the SSRC the upper platform gave in `y=`) over UDP to the address and port of its SDP offer.
 *
 * It starts at a keyframe (the Stream hands a new reader the current GOP from its keyframe), prepends the
 * parameter sets to keyframes that lack them, and restarts the PS program on a new epoch (codec or resolution
 * change). Audio goes in the same PS when the track is G.711 or AAC (ADTS). One UDP socket per leg: its port is
 * the one our SDP answer names, so the answer always carries a real port (a port-0 answer made Hikvision's
 * platform refuse streams, WVP #708).
 *
 * Transports, as the upper platform's offer asks: UDP; TCP with `a=setup:passive` in the offer (it listens, we
 * connect to its c=/m= address); TCP with `a=setup:active` (it connects to the port our answer names). Over TCP
 * each RTP packet is framed with its 2-byte length (RFC 4571).
 *
 * Sending never queues without bound: UDP is fire-and-forget (a full kernel buffer drops the datagram, counted);
 * over TCP, packets are dropped (counted) while more than 2 MiB wait in the socket, and video resumes at the
 * next keyframe, so a slow upper link cannot grow memory.
 */
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket as TcpSocket } from 'node:net';
import { PsMuxer } from '../../../codecs/ps/ps-muxer.js';
import { RtpPacketizer } from '../../../codecs/rtp/rtp.js';
import { frameRfc4571 } from '../../../codecs/rtp/rfc4571.js';
import type { AccessUnit, AudioParameters, StreamReader, TrackParameters, VideoParameters } from '../../core/access-unit.js';
import { annexBOf, audioBytesOf } from '../annexb-writer.js';

export const PS_PAYLOAD_TYPE = 96;
const RTP_TS_MODULO = 2 ** 32;
/** RTP payload per datagram: 1,400 bytes keeps a packet under a 1,500-byte MTU with IP/UDP/RTP headers. */
const MAX_RTP_PAYLOAD = 1_400;

export interface RtpPsSenderStats {
  packets: number;
  bytes: number;
  videoFrames: number;
  audioFrames: number;
  sendErrors: number;
  /** Packets not sent: TCP not connected yet, or too much waiting in the socket. */
  dropped: number;
  /** performance.now() of the first packet sent (INVITE → first packet out, bench/cascade.mjs); null before. */
  firstPacketAt: number | null;
}

/** Where the packets go: one socket (UDP) or one connection (TCP) per leg. */
interface PacketSink {
  readonly localPort: number;
  /** False when the packet was dropped (not connected yet, or too much waiting). */
  send(packet: Buffer): boolean;
  close(): Promise<void>;
  /** Called once when a TCP peer closes or breaks the media connection (never for UDP, nor after close()). */
  onPeerGone: (() => void) | null;
  /** Whether the peer has already gone (a listener set afterwards is called at once). */
  isGone(): boolean;
}

export type UpwardTransport = { kind: 'udp' } | { kind: 'tcp-connect' } | { kind: 'tcp-listen' };

const TCP_MAX_WAITING_BYTES = 2 * 1024 * 1024;

async function udpSink(bindHost: string, destination: { address: string; port: number }, stats: RtpPsSenderStats): Promise<PacketSink> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, bindHost, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {
    stats.sendErrors++;
  });
  let closed = false;
  return {
    localPort: socket.address().port,
    onPeerGone: null,
    isGone: () => false,
    send: (packet) => {
      if (closed) return false;
      socket.send(packet, destination.port, destination.address, (err) => {
        if (err) stats.sendErrors++;
      });
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        socket.close(() => resolve());
      }),
  };
}

function tcpSink(socketOf: () => TcpSocket | null, localPort: number, closeAll: () => Promise<void>): PacketSink & { peerGone(): void } {
  let closing = false;
  let gone = false;
  const sink: PacketSink & { peerGone(): void } = {
    localPort,
    onPeerGone: null,
    isGone: () => gone,
    send: (packet) => {
      const socket = socketOf();
      if (!socket || socket.destroyed || socket.connecting || socket.writableLength > TCP_MAX_WAITING_BYTES) return false;
      socket.write(frameRfc4571(packet));
      return true;
    },
    close: () => {
      closing = true;
      return closeAll();
    },
    // The upper platform went away (it restarted, crashed or hung up the connection without a BYE): the leg
    // must end, or it holds a viewer of the source stream and a port for ever (the WVP #1927 kind of leak).
    peerGone: () => {
      if (closing || gone) return;
      gone = true;
      sink.onPeerGone?.();
    },
  };
  return sink;
}

/** We connect to the upper platform (its offer said a=setup:passive). */
async function tcpConnectSink(bindHost: string, destination: { address: string; port: number }, stats: RtpPsSenderStats): Promise<PacketSink> {
  const socket = connect({ host: destination.address, port: destination.port, localAddress: bindHost });
  socket.setNoDelay(true);
  socket.on('error', () => {
    stats.sendErrors++;
  });
  await new Promise<void>((resolve) => {
    // The answer names our local port, known once the socket has one; the connection may still be in progress.
    if (socket.localPort !== undefined) return resolve();
    // A black-holed address must not hold the INVITE: answer after 3 s with what we have and let TCP go on trying.
    const timer = setTimeout(resolve, 3_000);
    socket.once('connect', () => { clearTimeout(timer); resolve(); }).once('error', () => { clearTimeout(timer); resolve(); });
  });
  const sink = tcpSink(() => socket, socket.localPort ?? 0, () => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.end(() => { socket.destroy(); resolve(); }))));
  // A connection refused or lost is the peer gone; one still in progress after the 3 s above is not (yet).
  socket.once('close', () => sink.peerGone());
  return sink;
}

/** The upper platform connects to us (its offer said a=setup:active): listen on the port our answer names. */
async function tcpListenSink(bindHost: string, stats: RtpPsSenderStats): Promise<PacketSink> {
  let peer: TcpSocket | null = null;
  let onPeerClose: () => void = () => undefined;
  const server = createServer((socket) => {
    if (peer) {
      socket.destroy();
      return;
    }
    peer = socket;
    socket.once('close', () => onPeerClose());
    socket.setNoDelay(true);
    socket.on('error', () => {
      stats.sendErrors++;
    });
    // Nothing is read from the upper platform on this connection (RTCP is not used on GB TCP media).
    socket.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const sink = tcpSink(() => peer, port, () =>
    new Promise<void>((resolve) => {
      (peer as TcpSocket | null)?.destroy();
      server.close(() => resolve());
    }),
  );
  onPeerClose = () => sink.peerGone();
  return sink;
}

export class RtpPsSender implements StreamReader {
  readonly kind = 'rtp-ps-upward';
  private readonly packetizer: RtpPacketizer;
  private video: VideoParameters | null = null;
  private audio: AudioParameters | null = null;
  private muxer: PsMuxer | null = null;
  private awaitKeyframe = true;
  private closed = false;

  private constructor(
    private readonly sink: PacketSink,
    ssrc: number,
    readonly stats: RtpPsSenderStats,
  ) {
    this.packetizer = new RtpPacketizer({ ssrc: ssrc >>> 0, payloadType: PS_PAYLOAD_TYPE, maxPayload: MAX_RTP_PAYLOAD, initialSequence: Math.floor(Math.random() * 0x10000) });
  }

  /** Open the leg's socket (bound before the SDP answer names its port). */
  static async open(bindHost: string, destination: { address: string; port: number }, ssrc: number, transport: UpwardTransport = { kind: 'udp' }): Promise<RtpPsSender> {
    const stats: RtpPsSenderStats = { packets: 0, bytes: 0, videoFrames: 0, audioFrames: 0, sendErrors: 0, dropped: 0, firstPacketAt: null };
    const sink =
      transport.kind === 'udp'
        ? await udpSink(bindHost, destination, stats)
        : transport.kind === 'tcp-connect'
          ? await tcpConnectSink(bindHost, destination, stats)
          : await tcpListenSink(bindHost, stats);
    return new RtpPsSender(sink, ssrc, stats);
  }

  /**
   * Called once when the receiver closes or breaks a TCP media connection (it restarted, crashed, or hung up
   * without a BYE). UDP has no such signal; the upper platform's link state covers it (docs/cascade.md).
   */
  onPeerGone(listener: () => void): void {
    this.sink.onPeerGone = listener;
    if (this.sink.isGone() && !this.closed) queueMicrotask(listener);
  }

  /** The local port (our SDP answer's m= port). */
  get localPort(): number {
    return this.sink.localPort;
  }

  onParameters(tracks: readonly TrackParameters[]): void {
    this.video = (tracks.find((t) => t.kind === 'video') as VideoParameters | undefined) ?? null;
    this.audio = (tracks.find((t) => t.kind === 'audio') as AudioParameters | undefined) ?? null;
    // A new program (codec or resolution change): a fresh PSM, from the next keyframe on.
    this.muxer = this.video ? new PsMuxer({ video: this.video.codec, ...(this.audio ? { audio: this.audio.codec } : {}) }) : null;
    this.awaitKeyframe = true;
  }

  onAccessUnit(unit: AccessUnit): void {
    if (this.closed || !this.muxer || !this.video) return;
    if (unit.kind === 'video') {
      if (this.awaitKeyframe && !unit.keyframe) return;
      this.awaitKeyframe = false;
      const pts = unit.pts % 2 ** 33;
      const dts = unit.dts % 2 ** 33;
      if (!this.send(this.muxer.muxVideo(annexBOf(unit, this.video), pts, unit.keyframe, dts !== pts ? dts : undefined), pts)) {
        // A dropped picture breaks the GOP for the receiver: resume at the next keyframe.
        this.awaitKeyframe = true;
        return;
      }
      this.stats.videoFrames++;
      return;
    }
    if (!this.audio || this.awaitKeyframe) return;
    const pts = unit.pts % 2 ** 33;
    if (this.send(this.muxer.muxAudio(audioBytesOf(unit, this.audio), pts), pts)) this.stats.audioFrames++;
  }

  backlog(): number {
    return 0;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.sink.close();
  }

  private send(pack: Buffer, pts: number): boolean {
    let all = true;
    for (const packet of this.packetizer.packetize(pack, pts % RTP_TS_MODULO, true)) {
      if (this.sink.send(packet)) {
        this.stats.firstPacketAt ??= performance.now();
        this.stats.packets++;
        this.stats.bytes += packet.length;
      } else {
        this.stats.dropped++;
        all = false;
      }
    }
    return all;
  }
}
