/**
 * SIP over UDP and TCP on one port (RFC 3261 §18). Turns datagrams and TCP streams into SipMessages tagged
 * with their *transport source* — the UDP source address/port or the TCP connection — because GB devices lie
 * in Via and Contact (GB brief §2.3, §10) and devices behind NAT must be reached over the TCP connection they
 * registered on (2022 §9.1.1 f). No transaction logic here: that is SipEndpoint's job.
 *
 * Robustness rules: a malformed request is answered 400 (513 when too large) if a response can be built,
 * otherwise dropped; either way it is reported as 'parse-error' and serving continues. Socket errors
 * (ECONNRESET, EPIPE, unreachable peers) are logged, never thrown.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { SipMessage } from '../codecs/sip/message.js';
import { SipParseError } from '../codecs/sip/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, parseSipMessage, tryExtractResponseContext } from '../codecs/sip/parser.js';
import { serializeSipMessage } from '../codecs/sip/serializer.js';
import { SipStreamFramer } from '../codecs/sip/framer.js';
import { buildResponse, reasonPhrase, stampReceivedOnTopVia } from '../codecs/sip/builder.js';

export interface TransportSource {
  transport: 'udp' | 'tcp';
  address: string;
  port: number;
  /** TCP only: the connection the message arrived on (or was sent on). */
  connectionId?: string;
}

export interface SipTransportEvents {
  message: [msg: SipMessage, source: TransportSource];
  'parse-error': [err: SipParseError, source: TransportSource, answered400: boolean];
  'connection-closed': [source: TransportSource];
  error: [err: Error];
}

export interface SipTransportOptions {
  host: string;
  /** 0 picks a port that is free for both UDP and TCP. */
  port: number;
  /** Default 65535. */
  maxMessageBytes?: number;
  /** Accepted plus dialled connections; new incoming connections beyond it are refused. Default 20 000. */
  maxTcpConnections?: number;
  /** Close a TCP connection silent for this long (0 = never). Default 180 s: three missed 60 s keepalives. */
  tcpIdleTimeoutMs?: number;
  logger?: Logger;
}

interface TcpConnection {
  id: string;
  socket: net.Socket;
  framer: SipStreamFramer;
  source: TransportSource;
}

/** Big enough to absorb a registration storm while the event loop is busy (kernel may cap it lower). */
const UDP_RECV_BUFFER_BYTES = 8 * 1024 * 1024;
const UDP_SEND_BUFFER_BYTES = 2 * 1024 * 1024;
const PORT_ZERO_ATTEMPTS = 20;

/** "::ffff:1.2.3.4" (dual-stack sockets) → "1.2.3.4", so one device always has one address string. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** NAT keep-alive datagrams some devices send: only CR, LF, spaces or NULs. Not SIP, not an error. */
function isKeepaliveNoise(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x00) return false;
  return true;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export class SipTransport extends EventEmitter<SipTransportEvents> {
  private readonly opts: SipTransportOptions;
  private readonly log: Logger;
  private readonly maxMessageBytes: number;
  private udp: dgram.Socket | undefined;
  private server: net.Server | undefined;
  private boundPort = 0;
  private closed = false;
  private connectionSeq = 0;
  private readonly connections = new Map<string, TcpConnection>();
  /** "address:port" → connection, to reuse a connection when the caller has no (or a stale) connectionId. */
  private readonly connectionsByRemote = new Map<string, TcpConnection>();

  constructor(opts: SipTransportOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? pino({ enabled: false });
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Number of open TCP connections (accepted and dialled). */
  get tcpConnectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<void> {
    const attempts = this.opts.port === 0 ? PORT_ZERO_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
      const server = this.createTcpServer();
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: this.opts.host, port: this.opts.port, exclusive: true }, () => {
          server.off('error', reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      });
      try {
        this.udp = await this.bindUdp(port);
        this.server = server;
        this.boundPort = port;
        break;
      } catch (err) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        // Port 0: the kernel picked a TCP port whose UDP twin is taken; try another one.
        if (errorCode(err) !== 'EADDRINUSE' || attempt >= attempts) throw err;
      }
    }
    this.server.on('error', (err) => this.reportError(err));
    this.log.info({ host: this.opts.host, port: this.boundPort }, 'SIP transport listening (udp+tcp)');
  }

  /** Serialize and send. Returns the source actually used (for TCP: the connection chosen or dialled). */
  send(msg: SipMessage, dest: TransportSource): TransportSource | undefined {
    return this.sendBytes(serializeSipMessage(msg), dest);
  }

  /**
   * Send pre-serialized bytes (the endpoint resends cached responses byte for byte).
   * UDP: to address:port. TCP: on connectionId if still open, else on an open connection to address:port,
   * else dial address:port and keep that connection.
   */
  sendBytes(bytes: Buffer, dest: TransportSource): TransportSource | undefined {
    if (this.closed) return undefined;
    if (dest.transport === 'udp') return this.sendUdp(bytes, dest);
    let conn = dest.connectionId !== undefined ? this.connections.get(dest.connectionId) : undefined;
    conn ??= this.connectionsByRemote.get(`${dest.address}:${dest.port}`);
    conn ??= this.dial(dest.address, dest.port);
    if (!conn) return undefined;
    if (!conn.socket.destroyed && conn.socket.writable) conn.socket.write(bytes);
    return conn.source;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const conn of this.connections.values()) conn.socket.destroy();
    const udp = this.udp;
    const server = this.server;
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : Promise.resolve(),
      server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve(),
    ]);
  }

  // ------------------------------------------------------------------------------------------------ UDP

  private bindUdp(port: number): Promise<dgram.Socket> {
    const type = net.isIPv6(this.opts.host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.opts.host, port, exclusive: true }, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(UDP_RECV_BUFFER_BYTES);
          socket.setSendBufferSize(UDP_SEND_BUFFER_BYTES);
        } catch (err) {
          this.log.warn({ err }, 'could not enlarge UDP socket buffers (net.core.rmem_max?)');
        }
        socket.on('error', (err) => this.reportError(err));
        socket.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo));
        resolve(socket);
      });
    });
  }

  private onDatagram(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const source: TransportSource = { transport: 'udp', address: normalizeAddress(rinfo.address), port: rinfo.port };
    if (isKeepaliveNoise(buf)) return;
    let msg: SipMessage;
    try {
      msg = parseSipMessage(buf, { maxBytes: this.maxMessageBytes });
    } catch (err) {
      if (err instanceof SipParseError) this.onMalformed(err, buf, source);
      else this.log.error({ err }, 'unexpected error parsing a datagram');
      return;
    }
    this.deliver(msg, source);
  }

  private udpIsIPv6: boolean | undefined;

  private sendUdp(bytes: Buffer, dest: TransportSource): TransportSource | undefined {
    const udp = this.udp;
    if (!udp) return undefined;
    let address = dest.address;
    // The socket family is fixed once bound; udp.address() is a syscall, so it is not asked per datagram.
    this.udpIsIPv6 ??= udp.address().family === 'IPv6';
    if (this.udpIsIPv6 && net.isIPv4(address)) address = `::ffff:${address}`;
    try {
      udp.send(bytes, dest.port, address, (err) => {
        if (err) this.log.debug({ err, dest }, 'UDP send failed');
      });
    } catch (err) {
      // Invalid port/address throw synchronously; a bad destination must not take the gateway down.
      this.log.warn({ err, dest }, 'UDP send rejected');
      return undefined;
    }
    return { transport: 'udp', address: dest.address, port: dest.port };
  }

  // ------------------------------------------------------------------------------------------------ TCP

  private createTcpServer(): net.Server {
    return net.createServer((socket) => {
      const max = this.opts.maxTcpConnections ?? 20_000;
      if (this.closed || this.connections.size >= max) {
        this.log.warn({ remote: socket.remoteAddress, max }, 'refusing TCP connection: limit reached');
        socket.on('error', () => undefined);
        socket.destroy();
        return;
      }
      const address = normalizeAddress(socket.remoteAddress ?? '');
      this.adopt(socket, address, socket.remotePort ?? 0);
    });
  }

  private dial(address: string, port: number): TcpConnection | undefined {
    if (!(port > 0 && port < 65536)) return undefined;
    let socket: net.Socket;
    try {
      socket = net.connect({ host: address, port });
    } catch (err) {
      this.log.warn({ err, address, port }, 'TCP dial rejected');
      return undefined;
    }
    this.log.debug({ address, port }, 'dialling TCP');
    return this.adopt(socket, address, port);
  }

  private adopt(socket: net.Socket, address: string, port: number): TcpConnection {
    const id = `tcp-${++this.connectionSeq}`;
    const conn: TcpConnection = {
      id,
      socket,
      framer: new SipStreamFramer({ maxMessageBytes: this.maxMessageBytes }),
      source: { transport: 'tcp', address, port, connectionId: id },
    };
    const remoteKey = `${address}:${port}`;
    this.connections.set(id, conn);
    this.connectionsByRemote.set(remoteKey, conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const idle = this.opts.tcpIdleTimeoutMs ?? 180_000;
    if (idle > 0) socket.setTimeout(idle, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onTcpData(conn, chunk));
    socket.on('error', (err) => this.log.debug({ err, connection: id, remote: remoteKey }, 'TCP connection error'));
    socket.on('close', () => {
      this.connections.delete(id);
      if (this.connectionsByRemote.get(remoteKey) === conn) this.connectionsByRemote.delete(remoteKey);
      if (!this.closed) this.safeEmit('connection-closed', conn.source);
    });
    return conn;
  }

  private onTcpData(conn: TcpConnection, chunk: Buffer): void {
    let outputs;
    try {
      outputs = conn.framer.push(chunk);
    } catch (err) {
      this.log.error({ err, connection: conn.id }, 'unexpected framer error; closing connection');
      conn.socket.destroy();
      return;
    }
    for (const out of outputs) {
      if (out.message) this.deliver(out.message, conn.source);
      else if (out.keepalivePing) {
        if (conn.socket.writable) conn.socket.write('\r\n'); // RFC 5626 pong
      } else if (out.error) {
        if (out.fatal) {
          this.safeEmit('parse-error', out.error, conn.source, false);
          this.log.info({ reason: out.error.message, connection: conn.id }, 'unframeable TCP stream; closing connection');
          conn.socket.destroy();
          return;
        }
        this.onMalformed(out.error, out.raw ?? Buffer.alloc(0), conn.source);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------ common

  private deliver(msg: SipMessage, source: TransportSource): void {
    this.safeEmit('message', msg, source);
  }

  private onMalformed(err: SipParseError, raw: Buffer, source: TransportSource): void {
    let answered = false;
    const skeleton = tryExtractResponseContext(raw, { maxBytes: this.maxMessageBytes });
    if (skeleton) {
      const status = err.reason === 'too-large' ? 513 : 400;
      const res = buildResponse(skeleton, status, `${reasonPhrase(status)} (${err.message.slice(0, 100)})`);
      stampReceivedOnTopVia(res, source.address, source.port);
      answered = this.send(res, source) !== undefined;
    }
    this.log.debug({ reason: err.message, source, answered }, 'malformed SIP message');
    this.safeEmit('parse-error', err, source, answered);
  }

  /** A throwing listener must not unwind into a socket callback (that would crash the process). */
  private safeEmit<K extends keyof SipTransportEvents>(event: K, ...args: SipTransportEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: SipTransportEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log.error({ err, event }, 'SIP transport listener threw');
    }
  }

  private reportError(err: Error): void {
    this.log.warn({ err }, 'SIP socket error');
    if (this.listenerCount('error') > 0) this.safeEmit('error', err);
  }
}
