/**
 * Receives one stream's RTP (GB 28181 §5: PS over RTP) on one media port and hands the payloads on in
 * sequence order.
 *
 * Transports (GB 2022 Annex D, RFC 4571):
 *  - udp: a UDP socket bound to the port; a large receive buffer so a burst (a 1080p I-frame is a few hundred
 *    packets) is not dropped by the kernel while the event loop is busy.
 *  - tcp-passive: we listen on the port and the device connects. Only ONE connection becomes the stream: the
 *    first to send a valid packet with the expected SSRC; the others are closed then. When it drops, a new
 *    connection is accepted again (devices reconnect).
 *  - tcp-active: we dial the port from the device's SDP answer (`connectActive`), retrying ≥ 1 s apart at least
 *    3 times as Annex D asks of the TCP client, and redial the same way if the connection drops. Nothing is
 *    bound locally: the pool port only keeps the number we put in our offer unique.
 * TCP framing is RFC 4571 (2-byte length) or, detected per connection, RTSP-interleaved (`$`, channel, length).
 *
 * SSRC enforcement keeps streams from crossing: a packet whose SSRC is not the negotiated one is dropped and
 * counted (SSRC 0 is accepted only with `allowZeroSsrc`, for devices that ignore y=). RTCP arriving on the RTP
 * port is ignored. Packets go through a small reorder window (see ReorderBuffer); a gap that lasts longer than
 * `reorderMaxDelayMs` is given up even if the window is not full, so a quiet stream is not held back.
 *
 * Nothing here throws from a socket callback: problems become 'error' events (or log lines when nobody
 * listens, since an unheard 'error' event would crash the process).
 */
import { EventEmitter } from 'node:events';
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { looksLikeRtcp, parseRtp } from '../codecs/rtp/rtp.js';
import { PortPool, PortPoolExhaustedError } from './port-pool.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { TcpRtpDeframer, type TcpFraming } from './tcp-framing.js';

export type MediaTransport = 'udp' | 'tcp-passive' | 'tcp-active';

export interface ReceiverStats {
  /** Packets accepted (right SSRC, parseable). */
  packets: number;
  /** Bytes of accepted packets (RTP header included). */
  bytes: number;
  /** Sequence numbers given up (see ReorderBuffer). */
  lost: number;
  reordered: number;
  duplicates: number;
  foreignSsrcDropped: number;
  lastPacketAt: number | null;
  firstPacketAt: number | null;
  /** Packets that came after their gap was given up. */
  late: number;
  /** Datagrams / TCP frames that are not RTP version 2. */
  malformed: number;
  /** RTCP packets that arrived on the RTP port (ignored). */
  rtcpIgnored: number;
  /** Sender restarts followed (sequence-number jumps). */
  resyncs: number;
  /** TCP: connections that carried the stream (passive accepts that won, active dials that succeeded). */
  connections: number;
  /** TCP passive: connections refused or closed because another one already carried the stream. */
  connectionsRejected: number;
  /** Accepted packets whose SSRC differed from the previous accepted one. */
  ssrcChanges: number;
}

export interface RtpReceiverOptions {
  transport: MediaTransport;
  /** Local address to bind (UDP, TCP passive). */
  host: string;
  /** From PortPool; 0 = any free port (tests). */
  port: number;
  /** The SSRC negotiated in y= (its decimal value). */
  expectedSsrc: number;
  /** Also accept SSRC 0 (devices that ignore y=). */
  allowZeroSsrc: boolean;
  /** Reorder window in packets, default 32. */
  reorderWindow?: number;
  /** Give up a gap after this long even if the window is not full, default 150 ms. */
  reorderMaxDelayMs?: number;
  /** UDP socket receive buffer, default 4 MiB (the kernel caps it at net.core.rmem_max). */
  udpReceiveBufferBytes?: number;
  /** TCP active: redials after a failed attempt (default 3, so 4 attempts), at least 1 s apart. */
  connectRetries?: number;
  /** TCP active: pause between attempts, default (and at least) 1000 ms. */
  connectRetryDelayMs?: number;
  /** TCP active: give one attempt this long, default 3000 ms. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export interface RtpReceiverEvents {
  /** In-order RTP payloads (PS bytes for GB streams). */
  payload: [Buffer];
  error: [Error];
  'first-packet': [];
  /** TCP: a connection now carries the stream. */
  connected: [{ remoteAddress: string; remotePort: number; framing: TcpFraming | null }];
  /** TCP: the connection carrying the stream closed. */
  disconnected: [];
  /** An accepted packet carries another SSRC than the accepted one before it (0 ↔ y=, with allowZeroSsrc): the sender restarted. */
  'ssrc-change': [{ from: number; to: number }];
}

const DEFAULT_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;
/** Pending (not yet proven) passive connections at once; more are refused. */
const MAX_PENDING_CONNECTIONS = 4;
/** A passive connection that sends nothing valid for this long is closed. */
const PENDING_CONNECTION_TIMEOUT_MS = 10_000;
/** Consecutive unparseable frames after which a TCP connection is taken as out of step and closed. */
const MAX_MALFORMED_IN_A_ROW = 32;
const MIN_RETRY_DELAY_MS = 1000;

type PacketVerdict = 'accepted' | 'foreign' | 'malformed' | 'rtcp';

export class RtpReceiver extends EventEmitter<RtpReceiverEvents> {
  readonly transport: MediaTransport;
  private readonly counters = {
    packets: 0,
    bytes: 0,
    foreignSsrcDropped: 0,
    malformed: 0,
    rtcpIgnored: 0,
    connections: 0,
    connectionsRejected: 0,
    ssrcChanges: 0,
    lastSsrc: null as number | null,
    firstPacketAt: null as number | null,
    lastPacketAt: null as number | null,
  };
  private readonly reorder: ReorderBuffer<Buffer>;
  private readonly reorderMaxDelayMs: number;
  private readonly log: Logger | undefined;
  private udp: dgram.Socket | null = null;
  private server: net.Server | null = null;
  /** The TCP connection carrying the stream. */
  private owner: net.Socket | null = null;
  private readonly pendingConnections = new Set<net.Socket>();
  private activeTarget: { host: string; port: number } | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  private heldSince: number | null = null;
  private readonly closeAbort = new AbortController();
  private closing: Promise<void> | null = null;
  private readonly closeHooks: Array<() => void> = [];

  private constructor(
    private readonly opts: RtpReceiverOptions,
    readonly localPort: number,
  ) {
    super();
    this.transport = opts.transport;
    this.reorder = new ReorderBuffer<Buffer>(opts.reorderWindow ?? 32);
    this.reorderMaxDelayMs = opts.reorderMaxDelayMs ?? 150;
    this.log = opts.logger;
  }

  /** Binds (UDP) or listens (TCP passive) on `opts.port`; TCP active binds nothing until `connectActive`. */
  static async open(opts: RtpReceiverOptions): Promise<RtpReceiver> {
    if (!Number.isInteger(opts.expectedSsrc) || opts.expectedSsrc < 0 || opts.expectedSsrc > 0xffffffff) {
      throw new RangeError(`expectedSsrc must be a 32-bit unsigned integer, got ${opts.expectedSsrc}`);
    }
    switch (opts.transport) {
      case 'udp': {
        const socket = dgram.createSocket({
          type: net.isIPv6(opts.host) ? 'udp6' : 'udp4',
          recvBufferSize: opts.udpReceiveBufferBytes ?? DEFAULT_UDP_RECEIVE_BUFFER,
        });
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error): void => {
            socket.close();
            reject(err);
          };
          socket.once('error', onError);
          socket.bind(opts.port, opts.host, () => {
            socket.off('error', onError);
            resolve();
          });
        });
        const receiver = new RtpReceiver(opts, socket.address().port);
        receiver.attachUdp(socket);
        return receiver;
      }
      case 'tcp-passive': {
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port: opts.port, host: opts.host }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const address = server.address();
        const receiver = new RtpReceiver(opts, typeof address === 'object' && address ? address.port : opts.port);
        receiver.attachServer(server);
        return receiver;
      }
      case 'tcp-active':
        return new RtpReceiver(opts, opts.port);
    }
  }

  /**
   * Takes ports from the pool until one binds: a port another process holds (EADDRINUSE) is skipped and goes
   * back to the end of the queue. The port is released to the pool when the receiver closes.
   * Throws PortPoolExhaustedError when no port is left.
   */
  static async openFromPool(pool: PortPool, opts: Omit<RtpReceiverOptions, 'port'>): Promise<RtpReceiver> {
    const candidates = pool.free;
    for (let i = 0; i < candidates; i++) {
      const port = pool.acquire();
      if (port === null) break;
      try {
        const receiver = await RtpReceiver.open({ ...opts, port });
        receiver.closeHooks.push(() => pool.release(port));
        return receiver;
      } catch (err) {
        pool.release(port);
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          opts.logger?.warn({ port, transport: opts.transport }, 'media port in use by someone else, skipped');
          continue;
        }
        throw err;
      }
    }
    throw new PortPoolExhaustedError(pool.min, pool.max);
  }

  /** TCP active: dial the device (address and port from its SDP answer). Rejects after the last retry. */
  async connectActive(remoteHost: string, remotePort: number): Promise<void> {
    if (this.transport !== 'tcp-active') throw new Error(`connectActive needs transport tcp-active, not ${this.transport}`);
    if (this.activeTarget) throw new Error('connectActive was already called');
    this.activeTarget = { host: remoteHost, port: remotePort };
    await this.dial();
  }

  /** Sender restarts followed so far (cheap: read per packet by the GB source, unlike the whole `stats`). */
  get resyncs(): number {
    return this.reorder.stats.resyncs;
  }

  get stats(): ReceiverStats {
    const r = this.reorder.stats;
    const c = this.counters;
    return {
      packets: c.packets,
      bytes: c.bytes,
      lost: r.lost,
      reordered: r.reordered,
      duplicates: r.duplicates,
      foreignSsrcDropped: c.foreignSsrcDropped,
      lastPacketAt: c.lastPacketAt,
      firstPacketAt: c.firstPacketAt,
      late: r.late,
      malformed: c.malformed,
      rtcpIgnored: c.rtcpIgnored,
      resyncs: r.resyncs,
      connections: c.connections,
      connectionsRejected: c.connectionsRejected,
      ssrcChanges: c.ssrcChanges,
    };
  }

  /** UDP: the receive buffer the kernel actually granted (Linux reports twice the requested size). */
  get udpReceiveBufferBytes(): number | null {
    try {
      return this.udp ? this.udp.getRecvBufferSize() : null;
    } catch {
      return null;
    }
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Stops receiving, closes sockets, releases the pool port. Payloads still waiting for a gap are dropped. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closeAbort.abort();
    this.clearHoldTimer();
    const waits: Array<Promise<void>> = [];
    if (this.udp) {
      const udp = this.udp;
      waits.push(
        new Promise<void>((resolve) => {
          try {
            udp.close(() => resolve());
          } catch {
            resolve(); // already closed
          }
        }),
      );
    }
    for (const socket of this.pendingConnections) socket.destroy();
    this.pendingConnections.clear();
    this.owner?.destroy();
    this.owner = null;
    if (this.server) {
      const server = this.server;
      waits.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    await Promise.all(waits);
    for (const hook of this.closeHooks.splice(0)) hook();
  }

  // ---- transports -------------------------------------------------------------------------------------------

  private attachUdp(socket: dgram.Socket): void {
    this.udp = socket;
    socket.on('message', (msg) => {
      if (!this.closed) this.onPacket(msg);
    });
    socket.on('error', (err) => this.fail(err));
  }

  private attachServer(server: net.Server): void {
    this.server = server;
    server.on('connection', (socket) => this.onIncoming(socket));
    server.on('error', (err) => this.fail(err));
  }

  private onIncoming(socket: net.Socket): void {
    if (this.closed || this.owner !== null || this.pendingConnections.size >= MAX_PENDING_CONNECTIONS) {
      this.counters.connectionsRejected++;
      socket.destroy();
      return;
    }
    this.pendingConnections.add(socket);
    socket.setTimeout(PENDING_CONNECTION_TIMEOUT_MS, () => {
      this.log?.debug({ remote: socket.remoteAddress }, 'media TCP connection sent no valid packet, closed');
      socket.destroy();
    });
    this.wireTcp(socket, 'passive');
  }

  private wireTcp(socket: net.Socket, role: 'passive' | 'active'): void {
    const deframer = new TcpRtpDeframer();
    let malformedInARow = 0;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of deframer.push(chunk)) {
        if (this.closed || socket.destroyed) return;
        const verdict = this.onPacket(frame);
        if (verdict === 'malformed') {
          if (++malformedInARow >= MAX_MALFORMED_IN_A_ROW) {
            this.log?.warn({ remote: socket.remoteAddress, framing: deframer.framing }, 'media TCP stream out of step, connection closed');
            socket.destroy();
            return;
          }
          continue;
        }
        malformedInARow = 0;
        if (verdict === 'accepted' && this.owner !== socket) this.adopt(socket, deframer.framing);
      }
    });
    // A reset connection is the device's business (it reconnects, or the stream times out); not a receiver error.
    socket.on('error', (err) => this.log?.debug({ err: err.message, role }, 'media TCP connection error'));
    socket.on('close', () => this.onTcpClose(socket, role));
  }

  /** A passive connection proved itself: it carries the stream from now on, the others are closed. */
  private adopt(socket: net.Socket, framing: TcpFraming | null): void {
    this.pendingConnections.delete(socket);
    for (const other of this.pendingConnections) {
      this.counters.connectionsRejected++;
      other.destroy();
    }
    this.pendingConnections.clear();
    socket.setTimeout(0);
    this.owner = socket;
    this.counters.connections++;
    this.safeEmit('connected', { remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0, framing });
  }

  private onTcpClose(socket: net.Socket, role: 'passive' | 'active'): void {
    this.pendingConnections.delete(socket);
    if (this.owner !== socket) return;
    this.owner = null;
    if (this.closed) return;
    this.safeEmit('disconnected');
    if (role === 'active') {
      this.dial().catch((err: Error) => this.fail(err));
    }
  }

  private async dial(): Promise<void> {
    const target = this.activeTarget!;
    const retries = this.opts.connectRetries ?? 3;
    const delayMs = Math.max(MIN_RETRY_DELAY_MS, this.opts.connectRetryDelayMs ?? MIN_RETRY_DELAY_MS);
    let lastError: Error | null = null;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        try {
          await sleep(delayMs, undefined, { signal: this.closeAbort.signal });
        } catch {
          break; // closed while waiting
        }
      }
      if (this.closed) break;
      try {
        const socket = await this.connectOnce(target.host, target.port);
        if (this.closed) {
          socket.destroy();
          break;
        }
        this.owner = socket;
        this.counters.connections++;
        this.wireTcp(socket, 'active');
        this.safeEmit('connected', { remoteAddress: target.host, remotePort: target.port, framing: null });
        return;
      } catch (err) {
        lastError = err as Error;
        this.log?.debug({ attempt: attempt + 1, err: lastError.message, ...target }, 'media TCP dial failed');
      }
    }
    if (this.closed) throw new Error('receiver closed while connecting');
    throw new Error(
      `could not connect to the device's media port ${target.host}:${target.port} after ${retries + 1} attempts: ${lastError?.message ?? 'unknown error'}`,
    );
  }

  private connectOnce(host: string, port: number): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const onError = (err: Error): void => {
        socket.destroy();
        reject(err);
      };
      socket.once('error', onError);
      socket.setTimeout(this.opts.connectTimeoutMs ?? 3000, () => onError(new Error('connect timed out')));
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.setTimeout(0);
        resolve(socket);
      });
    });
  }

  // ---- packets ----------------------------------------------------------------------------------------------

  private onPacket(buf: Buffer): PacketVerdict {
    if (looksLikeRtcp(buf)) {
      this.counters.rtcpIgnored++;
      return 'rtcp';
    }
    let packet;
    try {
      packet = parseRtp(buf);
    } catch {
      this.counters.malformed++;
      return 'malformed';
    }
    if (packet.ssrc !== this.opts.expectedSsrc && !(packet.ssrc === 0 && this.opts.allowZeroSsrc)) {
      this.counters.foreignSsrcDropped++;
      return 'foreign';
    }
    const now = Date.now();
    if (this.counters.lastSsrc !== null && packet.ssrc !== this.counters.lastSsrc) {
      this.counters.ssrcChanges++;
      // Another sender: a sequence jump now is a restart, not loss.
      this.reorder.senderChanged();
      this.safeEmit('ssrc-change', { from: this.counters.lastSsrc, to: packet.ssrc });
    }
    this.counters.lastSsrc = packet.ssrc;
    this.counters.packets++;
    this.counters.bytes += buf.length;
    this.counters.lastPacketAt = now;
    if (this.counters.firstPacketAt === null) {
      this.counters.firstPacketAt = now;
      this.safeEmit('first-packet');
    }
    const pendingBefore = this.reorder.pending;
    const ready = this.reorder.push(packet.sequence, packet.payload, packet.timestamp);
    this.deliver(ready);
    // The hold clock runs from the moment the current head gap opened (or changed).
    if (this.reorder.pending === 0) this.heldSince = null;
    else if (pendingBefore === 0 || ready.length > 0) this.heldSince = now;
    this.armHoldTimer();
    return 'accepted';
  }

  private deliver(payloads: Buffer[]): void {
    for (const payload of payloads) {
      if (payload.length === 0 || this.closed) continue;
      try {
        this.emit('payload', payload);
      } catch (err) {
        // A throwing consumer must not take the socket callback down with it.
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  private armHoldTimer(): void {
    if (this.heldSince === null) {
      this.clearHoldTimer();
      return;
    }
    if (this.holdTimer) return;
    const wait = Math.max(1, this.heldSince + this.reorderMaxDelayMs - Date.now());
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      // Let the poll phase read datagrams already queued before giving the gap up: timers run before I/O,
      // so after a stall the missing packet may be sitting in the socket buffer.
      setImmediate(() => this.onHoldExpired());
    }, wait);
    this.holdTimer.unref();
  }

  private onHoldExpired(): void {
    if (this.closed || this.heldSince === null) return;
    if (Date.now() - this.heldSince >= this.reorderMaxDelayMs) {
      this.deliver(this.reorder.skipGap());
      this.heldSince = this.reorder.pending > 0 ? Date.now() : null;
    }
    this.armHoldTimer();
  }

  private clearHoldTimer(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
  }

  private fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log?.warn({ err: err.message, port: this.localPort }, 'media receiver error (no listener)');
  }

  private safeEmit<K extends 'first-packet' | 'connected' | 'disconnected' | 'ssrc-change'>(
    event: K,
    ...args: RtpReceiverEvents[K]
  ): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
