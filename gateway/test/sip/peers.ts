/** Minimal real-socket peers on 127.0.0.1 for transport/endpoint tests: they collect parsed messages. */
import dgram from 'node:dgram';
import net from 'node:net';
import { parseSipMessage } from '../../src/codecs/sip/parser.js';
import { SipStreamFramer } from '../../src/codecs/sip/framer.js';
import type { SipMessage } from '../../src/codecs/sip/message.js';

const WAIT_MS = 3000;

class Inbox {
  readonly raw: Buffer[] = [];
  readonly messages: SipMessage[] = [];
  private waiters: Array<() => void> = [];

  push(raw: Buffer, msg: SipMessage | undefined): void {
    this.raw.push(raw);
    if (msg) this.messages.push(msg);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolve once `count` messages arrived (rejects after a generous deadline so a broken test fails, not hangs). */
  async waitFor(count: number, what = 'messages'): Promise<SipMessage[]> {
    const deadline = Date.now() + WAIT_MS;
    while (this.messages.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} ${what}; got ${this.messages.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages.slice(0, count);
  }

  async waitForRaw(count: number): Promise<Buffer[]> {
    const deadline = Date.now() + WAIT_MS;
    while (this.raw.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} packets; got ${this.raw.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.raw.slice(0, count);
  }
}

export class UdpPeer extends Inbox {
  private constructor(readonly socket: dgram.Socket) {
    super();
    socket.on('message', (buf) => {
      let msg: SipMessage | undefined;
      try {
        msg = parseSipMessage(buf);
      } catch {
        msg = undefined;
      }
      this.push(buf, msg);
    });
  }

  static async open(): Promise<UdpPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new UdpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Buffer | string, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export class TcpPeer extends Inbox {
  private readonly framer = new SipStreamFramer();
  closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      if (chunk.toString() === '\r\n') this.push(chunk, undefined);
      for (const out of this.framer.push(chunk)) if (out.message) this.push(chunk, out.message);
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number): Promise<TcpPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new TcpPeer(socket);
  }

  get localPort(): number {
    return this.socket.localPort!;
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A TCP listener standing in for a device that accepts connections from the gateway. */
export class TcpListenerPeer {
  readonly peers: TcpPeer[] = [];
  private constructor(readonly server: net.Server) {}

  static async open(): Promise<TcpListenerPeer> {
    const server = net.createServer();
    const listener = new TcpListenerPeer(server);
    server.on('connection', (socket) => listener.peers.push(new TcpPeer(socket)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return listener;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async firstPeer(): Promise<TcpPeer> {
    const deadline = Date.now() + WAIT_MS;
    while (this.peers.length === 0) {
      if (Date.now() > deadline) throw new Error('no connection arrived');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.peers[0]!;
  }

  close(): Promise<void> {
    for (const p of this.peers) p.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Resolve with the next emission of `event` (args as an array), or reject after a deadline. */
export function nextEvent<A extends unknown[]>(
  emitter: { once(event: string, fn: (...args: A) => void): unknown; off(event: string, fn: (...args: A) => void): unknown },
  event: string,
  ms = WAIT_MS,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const fn = (...args: A): void => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, fn);
      reject(new Error(`timed out waiting for "${event}"`));
    }, ms);
    emitter.once(event, fn);
  });
}
