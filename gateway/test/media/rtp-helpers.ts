/** Helpers for the media receiver tests: numbered RTP packets, senders over real loopback sockets, collectors. */
import dgram from 'node:dgram';
import net from 'node:net';
import { serializeRtp } from '../../src/codecs/rtp/rtp.js';
import type { RtpReceiver } from '../../src/media/rtp-receiver.js';

export const LOOPBACK = '127.0.0.1';
const WAIT_MS = 4000;

/** Payload that says which packet it was: "p<index>" padded so packets have a realistic size. */
export function payloadOf(index: number, size = 200): Buffer {
  const tag = Buffer.from(`p${index};`);
  return Buffer.concat([tag, Buffer.alloc(Math.max(0, size - tag.length), index & 0xff)]);
}

export function indexOf(payload: Buffer): number {
  const text = payload.subarray(0, 12).toString('latin1');
  return Number(text.slice(1, text.indexOf(';')));
}

/** `count` packets numbered from `firstSeq` (wrapping at 2^16), payload index i for the i-th. */
export function numberedPackets(count: number, ssrc: number, firstSeq = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    serializeRtp({
      marker: false,
      payloadType: 96,
      sequence: (firstSeq + i) & 0xffff,
      timestamp: 3600 * Math.floor(i / 4),
      ssrc,
      payload: payloadOf(i),
    }),
  );
}

/** Deterministic shuffle where no packet moves more than `maxDisplacement` places (seeded, so failures repeat). */
export function shuffleLocally<T>(items: T[], maxDisplacement: number, seed = 7): T[] {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const keyed = items.map((item, i) => ({ item, key: i + random() * maxDisplacement }));
  keyed.sort((a, b) => a.key - b.key);
  return keyed.map((k) => k.item);
}

export class UdpSender {
  private constructor(private readonly socket: dgram.Socket) {}

  static async open(): Promise<UdpSender> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
    return new UdpSender(socket);
  }

  /** Sends one after the other (each send completes before the next) so loopback keeps our order. */
  async send(packets: Buffer[], port: number): Promise<void> {
    for (const packet of packets) {
      await new Promise<void>((resolve, reject) =>
        this.socket.send(packet, port, LOOPBACK, (err) => (err ? reject(err) : resolve())),
      );
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Records payload indexes as they come out of a receiver. */
export class Collector {
  readonly indexes: number[] = [];
  private waiters: Array<() => void> = [];

  constructor(receiver: RtpReceiver) {
    receiver.on('payload', (payload) => {
      this.indexes.push(indexOf(payload));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves once `count` payloads arrived; rejects after a generous deadline so a broken receiver fails. */
  async waitFor(count: number): Promise<number[]> {
    const deadline = Date.now() + WAIT_MS;
    while (this.indexes.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} payloads; got ${this.indexes.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.indexes.slice();
  }
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** RFC 4571 stream of packets, cut into chunks of the given (cycled) sizes. */
export function chunked(stream: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let i = 0; offset < stream.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

export async function writeChunks(socket: net.Socket, chunks: Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    await new Promise<void>((resolve, reject) => socket.write(chunk, (err) => (err ? reject(err) : resolve())));
  }
}

export async function connectTcp(port: number): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/** Three consecutive ports that are free for UDP right now, above the default media range. */
export async function freeConsecutivePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 41000 + Math.floor(Math.random() * 8000);
    const ports = range(base, base + count);
    const sockets: dgram.Socket[] = [];
    let ok = true;
    for (const port of ports) {
      const socket = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(port, LOOPBACK, () => resolve(true));
      });
      sockets.push(socket);
      if (!bound) {
        ok = false;
        break;
      }
    }
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    })));
    if (ok) return ports;
  }
  throw new Error('no free consecutive ports found');
}

export function nextEvent(emitter: RtpReceiver, event: 'connected' | 'first-packet' | 'disconnected', timeoutMs = WAIT_MS): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Polls a condition (every 20 ms) until it holds; rejects after a generous deadline. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
