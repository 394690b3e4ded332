/**
 * The simulator's shared loop packets (sim/media-sender.ts, SharedLoopPackets): a camera that sends the loop's
 * pre-muxed, pre-cut payloads with only its RTP header, SCR and PTS written must put on the wire exactly the
 * bytes the per-camera PsMuxer + RtpPacketizer produce — over a capture sink, a real UDP socket and real TCP
 * (RFC 4571, corked writev).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MediaStream, SharedLoopPackets, TcpRtpSink, UdpRtpSink, type RtpSink } from '../../src/sim/media-sender.js';
import type { AudioLoop, VideoLoop } from '../../src/sim/media-source.js';
import { Rfc4571Splitter } from '../../src/codecs/rtp/rfc4571.js';

/** Deterministic bytes (a tiny LCG), so a failure reproduces. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** 2 s of video: keyframes of ~70 KB (more than one PES), P-frames from 3 bytes to ~9 KB, a keyframe every 25. */
function videoLoop(): VideoLoop {
  const frames = Array.from({ length: 50 }, (_, i) => {
    const keyframe = i % 25 === 0;
    const size = keyframe ? 70_000 + i : i === 7 ? 3 : 500 + ((i * 7919) % 9_000);
    const data = bytes(size, i + 1);
    return { data, keyframe };
  });
  return { codec: 'h264', profile: 'main', width: 1280, height: 720, fps: 25, gop: 25, frames, durationMs: 2000, channelId: null, bytes: frames.reduce((s, f) => s + f.data.length, 0) };
}

function audioLoop(): AudioLoop {
  const frames = Array.from({ length: 100 }, (_, i) => bytes(160, 1000 + i));
  return { codec: 'g711a', sampleRate: 8000, frameMs: 20, frames, durationMs: 2000 };
}

function captureSink(): RtpSink & { packets: Buffer[] } {
  const packets: Buffer[] = [];
  return {
    packets,
    closed: false,
    send: (p: Buffer) => (packets.push(Buffer.from(p)), true),
    sendParts: (h: Buffer, p: Buffer) => (packets.push(Buffer.concat([h, p])), true),
    close: () => undefined,
  };
}

/** Pump a stream from `startWall` for `ms` milliseconds in 10 ms ticks, as MediaPump does. */
function run(stream: MediaStream, startWall: number, ms: number): void {
  stream.start(0, startWall);
  for (let t = 0; t <= ms; t += 10) stream.pump(t);
}

describe('SharedLoopPackets', () => {
  // The second start makes the 33-bit PTS (and the 32-bit RTP timestamp) wrap during the run.
  const starts = [Date.parse('2026-12-06T20:00:00.123Z'), (2 ** 33 - 90 * 1500) / 90];

  for (const withAudio of [false, true]) {
    for (const startWall of starts) {
      it(`gives byte-identical RTP to the per-camera mux (${withAudio ? 'video + G.711A' : 'video only'}, start ${startWall})`, () => {
        const video = videoLoop();
        const audio = withAudio ? audioLoop() : null;
        const base = { video, audio, ssrc: 0x1234abcd, initialSequence: 65_500, payloadType: 96 };
        const old = captureSink();
        const shared = captureSink();
        run(new MediaStream({ ...base, sink: old, sharedPackets: false }), startWall, 5_000);
        run(new MediaStream({ ...base, sink: shared, sharedPackets: true }), startWall, 5_000);
        expect(old.packets.length).toBeGreaterThan(300);
        expect(shared.packets.length).toBe(old.packets.length);
        for (let i = 0; i < old.packets.length; i++) {
          if (!shared.packets[i]!.equals(old.packets[i]!)) expect.fail(`packet ${i} differs`);
        }
      });
    }
  }

  it('is built once per loop and shared by every camera playing it', () => {
    const video = videoLoop();
    expect(SharedLoopPackets.of(video, null, 1400)).toBe(SharedLoopPackets.of(video, null, 1400));
    expect(SharedLoopPackets.of(video, null, 1000)).not.toBe(SharedLoopPackets.of(video, null, 1400));
  });

  it('falls back to muxing per camera when the timestamps do not fit in the first payload', () => {
    const video = videoLoop();
    expect(SharedLoopPackets.of(video, null, 40)).toBeNull();
    const old = captureSink();
    const shared = captureSink();
    const base = { video, ssrc: 7, initialSequence: 1, maxPayloadBytes: 40 };
    run(new MediaStream({ ...base, sink: old, sharedPackets: false }), 1_000_000, 200);
    run(new MediaStream({ ...base, sink: shared }), 1_000_000, 200);
    expect(shared.packets).toEqual(old.packets);
  });

  it('sends the same datagrams over a real UDP socket', async () => {
    const receiver = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
    const got: Buffer[] = [];
    receiver.on('message', (m) => got.push(m));
    const video = videoLoop();
    const expected = captureSink();
    const base = { video, ssrc: 42, initialSequence: 9 };
    run(new MediaStream({ ...base, sink: expected, sharedPackets: false }), 5_000_000, 200);
    const sink = await UdpRtpSink.open('127.0.0.1', '127.0.0.1', receiver.address().port);
    try {
      run(new MediaStream({ ...base, sink }), 5_000_000, 200);
      // Wait until every datagram has arrived (loopback does not lose them at this rate).
      while (got.length < expected.packets.length) await once(receiver, 'message');
      expect(got).toEqual(expected.packets);
    } finally {
      sink.close();
      receiver.close();
    }
  });

  it('sends the same RFC 4571 frames over real TCP', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const accepted = once(server, 'connection');
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const [conn] = (await accepted) as [net.Socket];
    const splitter = new Rfc4571Splitter();
    const got: Buffer[] = [];
    conn.on('data', (chunk: Buffer) => got.push(...splitter.push(chunk).map((p) => Buffer.from(p))));
    const video = videoLoop();
    const expected = captureSink();
    const base = { video, ssrc: 43, initialSequence: 10 };
    run(new MediaStream({ ...base, sink: expected, sharedPackets: false }), 6_000_000, 1_200);
    const sink = new TcpRtpSink(client);
    try {
      run(new MediaStream({ ...base, sink }), 6_000_000, 1_200);
      while (got.length < expected.packets.length) await once(conn, 'data');
      expect(got).toEqual(expected.packets);
    } finally {
      sink.close();
      conn.destroy();
      server.close();
    }
  });
});
