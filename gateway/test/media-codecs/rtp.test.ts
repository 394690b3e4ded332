import { describe, expect, it } from 'vitest';
import { looksLikeRtcp, parseRtp, RtpPacketizer, RtpParseError, serializeRtp } from '../../src/codecs/rtp/rtp.js';
import { frameRfc4571, Rfc4571Splitter } from '../../src/codecs/rtp/rfc4571.js';
import { prng } from './helpers.js';

describe('RTP header', () => {
  it('parses the packet observed from a public device simulator (len 32, pt 96, seq 1, ts 2250, ssrc 200000001)', () => {
    const payload = Buffer.from('000001ba44000404010100000003fffe0000000000000000', 'hex').subarray(0, 20);
    const wire = Buffer.concat([Buffer.from('80600001000008ca0bebc201', 'hex'), payload]);
    expect(wire.length).toBe(32);
    const p = parseRtp(wire);
    expect(p).toMatchObject({ version: 2, padding: false, marker: false, payloadType: 96, sequence: 1, timestamp: 2250, ssrc: 200000001, csrcs: [] });
    expect(p.payload.equals(payload)).toBe(true);
    expect(p.payload.buffer).toBe(wire.buffer); // subarray, no copy
  });

  it('round-trips marker, CSRCs and padding; skips a header extension', () => {
    const payload = Buffer.from('hello PS');
    const wire = serializeRtp({ marker: true, payloadType: 96, sequence: 70000, timestamp: 2 ** 32 + 5, ssrc: 0xfffffffe, csrcs: [1, 0xdeadbeef], padding: true, payload });
    expect(wire.length % 4).toBe(0);
    const p = parseRtp(wire);
    expect(p).toMatchObject({ marker: true, padding: true, payloadType: 96, sequence: 70000 & 0xffff, timestamp: 5, ssrc: 0xfffffffe, csrcs: [1, 0xdeadbeef] });
    expect(p.payload.toString()).toBe('hello PS');

    // Same packet with an extension header (profile 0xBEDE, 2 words) inserted after the CSRCs.
    const ext = Buffer.from('bede0002' + '11223344' + '55667788', 'hex');
    const withExt = Buffer.concat([wire.subarray(0, 20), ext, wire.subarray(20)]);
    withExt[0] = withExt[0]! | 0x10;
    expect(parseRtp(withExt).payload.toString()).toBe('hello PS');
  });

  it('rejects what is not RTP with a typed reason', () => {
    const good = serializeRtp({ marker: false, payloadType: 96, sequence: 1, timestamp: 1, ssrc: 1, payload: Buffer.alloc(4) });
    const reasonOf = (buf: Buffer): string => {
      try {
        parseRtp(buf);
        return 'parsed';
      } catch (err) {
        expect(err).toBeInstanceOf(RtpParseError);
        return (err as RtpParseError).reason;
      }
    };
    expect(reasonOf(good.subarray(0, 11))).toBe('truncated');
    expect(reasonOf(Buffer.concat([Buffer.from([0x40]), good.subarray(1)]))).toBe('bad-version');
    expect(reasonOf(Buffer.concat([Buffer.from([0x8f]), good.subarray(1)]))).toBe('truncated'); // 15 CSRCs announced
    const longExtension = Buffer.from(good);
    longExtension[0] = 0x90;
    longExtension.writeUInt32BE(0xbede0009, 12); // extension of 9 words in a 4-byte payload
    expect(reasonOf(longExtension)).toBe('truncated');
    const badPadding = Buffer.from(good);
    badPadding[0] = 0xa0;
    badPadding[badPadding.length - 1] = 200;
    expect(reasonOf(badPadding)).toBe('bad-padding');
    badPadding[badPadding.length - 1] = 0;
    expect(reasonOf(badPadding)).toBe('bad-padding');
    expect(() => serializeRtp({ marker: false, payloadType: 128, sequence: 0, timestamp: 0, ssrc: 0, payload: Buffer.alloc(0) })).toThrow(RangeError);
  });

  it('tells RTCP from RTP by the second byte (RFC 5761)', () => {
    expect(looksLikeRtcp(Buffer.from('80c8000600000001000000000000000000000000', 'hex'))).toBe(true); // SR
    expect(looksLikeRtcp(serializeRtp({ marker: true, payloadType: 96, sequence: 0, timestamp: 0, ssrc: 1, payload: Buffer.alloc(8) }))).toBe(false);
  });

  it('packetizer splits a payload into ≤ maxPayload packets with one timestamp and wrapping sequence numbers', () => {
    const packetizer = new RtpPacketizer({ ssrc: 200000001, payloadType: 96, maxPayload: 1400, initialSequence: 65534 });
    const pack = Buffer.alloc(3000, 7);
    const packets = packetizer.packetize(pack, 3600, true).map(parseRtp);
    expect(packets.map((p) => p.payload.length)).toEqual([1400, 1400, 200]);
    expect(packets.map((p) => p.sequence)).toEqual([65534, 65535, 0]);
    expect(packets.map((p) => p.marker)).toEqual([false, false, true]);
    expect(new Set(packets.map((p) => p.timestamp))).toEqual(new Set([3600]));
    expect(Buffer.concat(packets.map((p) => p.payload)).equals(pack)).toBe(true);
    expect(packetizer.nextSequence).toBe(1);
    expect(packetizer.packetize(Buffer.alloc(0), 0)).toHaveLength(1);
  });
});

describe('RFC 4571 framing', () => {
  const packets = [1, 2, 12, 255, 256, 1400, 4000].map((n, i) =>
    serializeRtp({ marker: false, payloadType: 96, sequence: i, timestamp: i * 3600, ssrc: 7, payload: Buffer.alloc(n, i) }),
  );
  const stream = Buffer.concat(packets.map(frameRfc4571));

  it('reassembles the packets whatever the chunking: every single split point, and byte by byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const splitter = new Rfc4571Splitter();
      const out = [...splitter.push(stream.subarray(0, cut)), ...splitter.push(stream.subarray(cut))];
      expect(out.length, `cut at ${cut}`).toBe(packets.length);
      out.forEach((p, i) => expect(p.equals(packets[i]!)).toBe(true));
      expect(splitter.bufferedBytes).toBe(0);
    }
    const splitter = new Rfc4571Splitter();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...splitter.push(stream.subarray(i, i + 1)));
    expect(out.map((p) => p.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
  });

  it('handles random merged and split chunks', () => {
    const rand = prng(4571);
    for (let round = 0; round < 50; round++) {
      const splitter = new Rfc4571Splitter();
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(rand() * 3000);
        out.push(...splitter.push(stream.subarray(at, at + size)));
        at += size;
      }
      expect(out.length).toBe(packets.length);
      expect(splitter.stats.packets).toBe(packets.length);
    }
  });

  it('bounds its buffer: skips zero-length frames and frames above maxPacket, then stays in sync', () => {
    const splitter = new Rfc4571Splitter(1500);
    const big = frameRfc4571(Buffer.alloc(4000, 1));
    const out = splitter.push(Buffer.concat([Buffer.from([0, 0]), big.subarray(0, 2000)]));
    expect(out).toHaveLength(0);
    expect(splitter.bufferedBytes).toBe(0); // skipped bytes are not held
    const next = splitter.push(Buffer.concat([big.subarray(2000), frameRfc4571(packets[2]!)]));
    expect(next).toHaveLength(1);
    expect(next[0]!.equals(packets[2]!)).toBe(true);
    expect(splitter.stats).toMatchObject({ packets: 1, emptyFrames: 1, oversizedDropped: 1, droppedBytes: 4000 });
    expect(() => frameRfc4571(Buffer.alloc(65536))).toThrow(RangeError);
  });
});
