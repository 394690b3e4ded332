import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { frameRfc4571 } from '../../src/codecs/rtp/rfc4571.js';
import { PortPool, PortPoolExhaustedError } from '../../src/media/port-pool.js';
import { RtpReceiver, type RtpReceiverOptions } from '../../src/media/rtp-receiver.js';
import {
  chunked,
  Collector,
  connectTcp,
  freeConsecutivePorts,
  LOOPBACK,
  nextEvent,
  numberedPackets,
  range,
  shuffleLocally,
  UdpSender,
  waitUntil,
  writeChunks,
} from './rtp-helpers.js';

const SSRC = 200000001; // y=0200000001
const FOREIGN_SSRC = 200000002;


/**
 * `count` consecutive free ports with the one at `blockedIndex` held by a blocker socket. Another test file
 * running in parallel may take a port between "found free" and our bind (EADDRINUSE): then pick new ports.
 */
async function withBlocker<T>(count: number, blockedIndex: number, block: (port: number) => Promise<T>): Promise<{ ports: number[]; blocker: T }> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freeConsecutivePorts(count);
    try {
      return { ports, blocker: await block(ports[blockedIndex]!) };
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

describe('RtpReceiver', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function open(overrides: Partial<RtpReceiverOptions> = {}): Promise<{ receiver: RtpReceiver; out: Collector }> {
    const receiver = await RtpReceiver.open({
      transport: 'udp',
      host: LOOPBACK,
      port: 0,
      expectedSsrc: SSRC,
      allowZeroSsrc: false,
      // Long enough that a busy test machine never gives a gap up before its packet is read.
      reorderMaxDelayMs: 1000,
      ...overrides,
    });
    cleanups.push(() => receiver.close());
    return { receiver, out: new Collector(receiver) };
  }

  async function udpSender(): Promise<UdpSender> {
    const sender = await UdpSender.open();
    cleanups.push(() => sender.close());
    return sender;
  }

  describe('UDP', () => {
    it('delivers packets in order with stats and one first-packet event', async () => {
      const { receiver, out } = await open();
      let firstPackets = 0;
      receiver.on('first-packet', () => firstPackets++);
      const packets = numberedPackets(100, SSRC, 1000);
      await (await udpSender()).send(packets, receiver.localPort);
      expect(await out.waitFor(100)).toEqual(range(0, 100));
      const stats = receiver.stats;
      expect(stats).toMatchObject({ packets: 100, lost: 0, reordered: 0, duplicates: 0, foreignSsrcDropped: 0 });
      expect(stats.bytes).toBe(packets.reduce((n, p) => n + p.length, 0));
      expect(stats.firstPacketAt).not.toBeNull();
      expect(stats.lastPacketAt! >= stats.firstPacketAt!).toBe(true);
      expect(firstPackets).toBe(1);
      // The kernel grants at least what a burst needs (Linux caps at rmem_max; we only check we asked for more
      // than the ~200 KB default where the system allows it).
      expect(receiver.udpReceiveBufferBytes).toBeGreaterThan(0);
    });

    it('puts packets shuffled within the window back in order', async () => {
      const { receiver, out } = await open();
      const shuffled = shuffleLocally(numberedPackets(300, SSRC, 7), 12);
      await (await udpSender()).send(shuffled, receiver.localPort);
      expect(await out.waitFor(300)).toEqual(range(0, 300));
      expect(receiver.stats.reordered).toBeGreaterThan(20);
      expect(receiver.stats.lost).toBe(0);
    });

    it('skips losses: a gap older than the window at once, a trailing gap after the hold time', async () => {
      const { receiver, out } = await open({ reorderWindow: 16, reorderMaxDelayMs: 200 });
      const dropped = new Set([10, 11, 50, 95]);
      const packets = numberedPackets(100, SSRC, 40000).filter((_, i) => !dropped.has(i));
      await (await udpSender()).send(packets, receiver.localPort);
      const expected = range(0, 100).filter((i) => !dropped.has(i));
      // Everything before packet 95 is out as soon as the window moves past the gaps.
      expect(await out.waitFor(expected.indexOf(94) + 1)).toEqual(expected.slice(0, expected.indexOf(94) + 1));
      // 96–99 wait behind the gap at 95 until the hold time runs out.
      expect(await out.waitFor(expected.length)).toEqual(expected);
      expect(receiver.stats.lost).toBe(4);
      // A straggler arriving after its gap was given up is dropped, not delivered out of order.
      await (await udpSender()).send(numberedPackets(100, SSRC, 40000).slice(50, 51), receiver.localPort);
      await (await udpSender()).send(numberedPackets(101, SSRC, 40000).slice(100), receiver.localPort);
      expect(await out.waitFor(expected.length + 1)).toEqual([...expected, 100]);
      expect(receiver.stats.late).toBe(1);
    });

    it('counts a socket overflow longer than 3,000 packets as loss, not as a sender restart', async () => {
      const { receiver, out } = await open();
      // numberedPackets: 3600 ticks per 4 packets. 4,000 of them never arrive (as when the kernel drops them).
      const packets = numberedPackets(4_300, SSRC, 60_000);
      const sent = [...packets.slice(0, 200), ...packets.slice(4_200)];
      await (await udpSender()).send(sent, receiver.localPort);
      expect(await out.waitFor(300)).toEqual([...range(0, 200), ...range(4_200, 4_300)]);
      expect(receiver.stats).toMatchObject({ lost: 4_000, resyncs: 0 });
    });

    it('drops duplicates, whether delivered already or still waiting', async () => {
      const { receiver, out } = await open();
      const packets = numberedPackets(60, SSRC, 5);
      const withCopies = [...packets.slice(0, 30), packets[3]!, packets[29]!, packets[35]!, ...packets.slice(30)];
      await (await udpSender()).send(withCopies, receiver.localPort);
      expect(await out.waitFor(60)).toEqual(range(0, 60));
      expect(receiver.stats.duplicates).toBe(3);
      expect(receiver.stats.packets).toBe(63);
    });

    it('follows the 16-bit sequence wraparound, also when shuffled across it', async () => {
      const { receiver, out } = await open();
      const shuffled = shuffleLocally(numberedPackets(200, SSRC, 65_450), 10, 3);
      await (await udpSender()).send(shuffled, receiver.localPort);
      expect(await out.waitFor(200)).toEqual(range(0, 200));
      expect(receiver.stats.lost).toBe(0);
    });

    it('a foreign-SSRC flood on the same port changes nothing in the output and is counted', async () => {
      const { receiver, out } = await open();
      const legit = numberedPackets(100, SSRC, 100);
      // Same sequence numbers, different content: if one slipped through, the order or content would change.
      const flood = Array.from({ length: 1000 }, (_, k) => numberedPackets(100, FOREIGN_SSRC, 100)[k % 100]!);
      const zeroSsrc = numberedPackets(20, 0, 150);
      const mixed: Buffer[] = [];
      legit.forEach((p, i) => {
        mixed.push(p, ...flood.slice(i * 10, i * 10 + 10));
        if (i < 20) mixed.push(zeroSsrc[i]!);
      });
      const attacker = await udpSender();
      await attacker.send(mixed, receiver.localPort);
      expect(await out.waitFor(100)).toEqual(range(0, 100));
      // The last flood packets were sent after the last legit one.
      await waitUntil(() => receiver.stats.foreignSsrcDropped >= 1020, 'all foreign packets are counted');
      expect(receiver.stats.foreignSsrcDropped).toBe(1000 + 20);
      expect(out.indexes).toEqual(range(0, 100));
      expect(receiver.stats.packets).toBe(100);
      expect(receiver.stats.lost).toBe(0);
    });

    it('accepts SSRC 0 only with allowZeroSsrc, and ignores RTCP and garbage on the RTP port', async () => {
      const { receiver, out } = await open({ allowZeroSsrc: true });
      const rtcpReceiverReport = Buffer.from([0x81, 201, 0, 7, ...Buffer.alloc(28)]);
      const garbage = Buffer.from('not rtp at all');
      const sender = await udpSender();
      await sender.send([rtcpReceiverReport, garbage, ...numberedPackets(10, 0, 9)], receiver.localPort);
      expect(await out.waitFor(10)).toEqual(range(0, 10));
      expect(receiver.stats).toMatchObject({ rtcpIgnored: 1, malformed: 1, foreignSsrcDropped: 0 });
    });
  });

  describe('TCP passive', () => {
    it('reassembles RFC 4571 frames split at odd chunk boundaries', async () => {
      const { receiver, out } = await open({ transport: 'tcp-passive' });
      const stream = Buffer.concat(numberedPackets(120, SSRC, 65_500).map(frameRfc4571));
      const socket = await connectTcp(receiver.localPort);
      cleanups.push(() => socket.destroy());
      const connected = nextEvent(receiver, 'connected');
      await writeChunks(socket, chunked(stream, [1, 2, 3, 5, 7, 211, 1499, 4096, 13]));
      await connected;
      expect(await out.waitFor(120)).toEqual(range(0, 120));
      expect(receiver.stats).toMatchObject({ packets: 120, connections: 1, lost: 0 });
    });

    it('accepts the RTSP-interleaved $ framing and drops its RTCP channel', async () => {
      const { receiver, out } = await open({ transport: 'tcp-passive' });
      const frame = (packet: Buffer, channel: number): Buffer => {
        const head = Buffer.from([0x24, channel, 0, 0]);
        head.writeUInt16BE(packet.length, 2);
        return Buffer.concat([head, packet]);
      };
      const rtcp = Buffer.from([0x80, 200, 0, 6, ...Buffer.alloc(24)]);
      const parts = numberedPackets(40, SSRC, 0).flatMap((p, i) => (i % 10 === 5 ? [frame(rtcp, 1), frame(p, 0)] : [frame(p, 0)]));
      const socket = await connectTcp(receiver.localPort);
      cleanups.push(() => socket.destroy());
      await writeChunks(socket, chunked(Buffer.concat(parts), [3, 1, 700, 9]));
      expect(await out.waitFor(40)).toEqual(range(0, 40));
      expect(receiver.stats.rtcpIgnored).toBe(0); // channel 1 never reaches the RTP parser
    });

    it('only the first connection with the right SSRC carries the stream; a reconnect is accepted again', async () => {
      const { receiver, out } = await open({ transport: 'tcp-passive' });
      const intruder = await connectTcp(receiver.localPort);
      cleanups.push(() => intruder.destroy());
      const intruderClosed = new Promise<void>((resolve) => intruder.on('close', () => resolve()));
      intruder.on('error', () => undefined);
      await writeChunks(intruder, [Buffer.concat(numberedPackets(5, FOREIGN_SSRC, 0).map(frameRfc4571))]);
      await waitUntil(() => receiver.stats.foreignSsrcDropped === 5, 'the intruder packets are dropped');

      const device = await connectTcp(receiver.localPort);
      cleanups.push(() => device.destroy());
      const packets = numberedPackets(30, SSRC, 0);
      await writeChunks(device, [Buffer.concat(packets.slice(0, 10).map(frameRfc4571))]);
      expect(await out.waitFor(10)).toEqual(range(0, 10));
      await intruderClosed; // closed once the device's connection proved itself
      expect(receiver.stats.foreignSsrcDropped).toBe(5);

      // A connection arriving while the stream is carried is refused.
      const late = await connectTcp(receiver.localPort);
      late.on('error', () => undefined);
      await new Promise<void>((resolve) => late.on('close', () => resolve()));
      expect(receiver.stats.connectionsRejected).toBeGreaterThanOrEqual(2);

      // The device drops and reconnects: the new connection continues the stream.
      const disconnected = nextEvent(receiver, 'disconnected');
      device.destroy();
      await disconnected;
      const again = await connectTcp(receiver.localPort);
      cleanups.push(() => again.destroy());
      await writeChunks(again, [Buffer.concat(packets.slice(10).map(frameRfc4571))]);
      expect(await out.waitFor(30)).toEqual(range(0, 30));
      expect(receiver.stats.connections).toBe(2);
    });
  });

  describe('TCP active', () => {
    async function deviceListener(port = 0): Promise<{ server: net.Server; port: number; accepted: Promise<net.Socket> }> {
      const server = net.createServer();
      const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return { server, port: (server.address() as net.AddressInfo).port, accepted };
    }

    it('dials the device and receives its RFC 4571 stream', async () => {
      const device = await deviceListener();
      const { receiver, out } = await open({ transport: 'tcp-active', port: 30_123 });
      expect(receiver.localPort).toBe(30_123);
      await receiver.connectActive(LOOPBACK, device.port);
      const socket = await device.accepted;
      cleanups.push(() => socket.destroy());
      await writeChunks(socket, chunked(Buffer.concat(numberedPackets(50, SSRC, 77).map(frameRfc4571)), [17, 999]));
      expect(await out.waitFor(50)).toEqual(range(0, 50));
      expect(receiver.stats.connections).toBe(1);
    });

    it('retries at least 1 s apart until the device listens', async () => {
      const probe = await deviceListener();
      const port = probe.port;
      await new Promise<void>((resolve) => probe.server.close(() => resolve()));
      const { receiver, out } = await open({ transport: 'tcp-active', port: 0, connectRetries: 3 });
      const started = Date.now();
      const connecting = receiver.connectActive(LOOPBACK, port);
      // The first attempt is refused; the device starts listening before the second.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const device = await deviceListener(port);
      await connecting;
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      const socket = await device.accepted;
      cleanups.push(() => socket.destroy());
      await writeChunks(socket, [Buffer.concat(numberedPackets(5, SSRC, 0).map(frameRfc4571))]);
      expect(await out.waitFor(5)).toEqual(range(0, 5));
    });

    it('gives up after the last retry with an error naming the target', async () => {
      const probe = await deviceListener();
      const port = probe.port;
      await new Promise<void>((resolve) => probe.server.close(() => resolve()));
      const { receiver } = await open({ transport: 'tcp-active', port: 0, connectRetries: 1 });
      const started = Date.now();
      await expect(receiver.connectActive(LOOPBACK, port)).rejects.toThrow(`127.0.0.1:${port} after 2 attempts`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    });
  });

  describe('port pool', () => {
    it('hands out ports first-in first-out, runs dry, and takes released ports back at the end', () => {
      const pool = new PortPool(30000, 30002);
      expect([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()]).toEqual([30000, 30001, 30002, null]);
      expect(pool.free).toBe(0);
      pool.release(30001);
      pool.release(30001); // twice: no double entry
      pool.release(12345); // never ours: ignored
      expect(pool.free).toBe(1);
      pool.release(30000);
      expect([pool.acquire(), pool.acquire(), pool.acquire()]).toEqual([30001, 30000, null]);
      expect(PortPool.fromRange('30000-30999').size).toBe(1000);
      expect(() => PortPool.fromRange('30999-30000')).toThrow(RangeError);
    });

    it('skips a port someone else holds, reports exhaustion, and reuses a port after close', async () => {
      // Free ports found a moment ago may be taken by a parallel test before we bind: pick again then.
      const { ports: [a, , c], blocker } = await withBlocker(3, 1, async (port) => {
        const socket = dgram.createSocket('udp4');
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(port, LOOPBACK, resolve);
        }).catch((err: unknown) => {
          socket.close();
          throw err;
        });
        return socket;
      });
      const pool = new PortPool(a!, c!);
      cleanups.push(() => blocker.close());
      const opts = { transport: 'udp' as const, host: LOOPBACK, expectedSsrc: SSRC, allowZeroSsrc: false };

      const first = await RtpReceiver.openFromPool(pool, opts);
      const second = await RtpReceiver.openFromPool(pool, opts);
      cleanups.push(() => first.close(), () => second.close());
      expect([first.localPort, second.localPort]).toEqual([a, c]);
      await expect(RtpReceiver.openFromPool(pool, opts)).rejects.toBeInstanceOf(PortPoolExhaustedError);

      await first.close();
      await first.close(); // idempotent; releases once
      const third = await RtpReceiver.openFromPool(pool, opts);
      cleanups.push(() => third.close());
      expect(third.localPort).toBe(a);
      // The port really works for the new stream.
      const out = new Collector(third);
      await (await udpSender()).send(numberedPackets(3, SSRC, 0), third.localPort);
      expect(await out.waitFor(3)).toEqual([0, 1, 2]);
    });

    it('a TCP passive receiver on an occupied port is skipped the same way', async () => {
      const { ports: [a, b], blocker } = await withBlocker(2, 0, async (port) => {
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, LOOPBACK, resolve);
        });
        return server;
      });
      cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
      const pool = new PortPool(a!, b!);
      const receiver = await RtpReceiver.openFromPool(pool, {
        transport: 'tcp-passive', host: LOOPBACK, expectedSsrc: SSRC, allowZeroSsrc: false,
      });
      cleanups.push(() => receiver.close());
      expect(receiver.localPort).toBe(b);
      expect(pool.used).toBe(1);
      await receiver.close();
      expect(pool.used).toBe(0);
    });
  });

  it('a payload listener that throws becomes an error event, not a crash', async () => {
    const { receiver, out } = await open();
    const errors: Error[] = [];
    receiver.on('error', (err) => errors.push(err));
    receiver.prependListener('payload', () => {
      throw new Error('consumer bug');
    });
    await (await udpSender()).send(numberedPackets(2, SSRC, 0), receiver.localPort);
    // The throwing listener runs first, so the collector never sees these; the errors prove delivery went on.
    await waitUntil(() => errors.length >= 2, 'two errors');
    expect(errors[0]!.message).toBe('consumer bug');
    expect(out.indexes).toEqual([]);
  });
});
