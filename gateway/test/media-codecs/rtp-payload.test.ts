/**
 * RTP payload formats against real encoder output: ffmpeg encodes H.264 (with B-frames), H.265 and AAC; we
 * packetize (FU-A/FU, AAC-hbr) and depacketize, and must get the very same NAL units and frames back; loss
 * and garbage are counted, never thrown. The RTSP framer splits messages and interleaved packets at any
 * chunk boundary.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNalUnits, splitAnnexBAccessUnits } from '../../src/codecs/ps/annexb.js';
import { VideoDepacketizer, packetizeVideo, type DepacketizedPicture, type RtpVideoCodec } from '../../src/codecs/rtp/payload/video.js';
import { AacDepacketizer, aacHbrParamsFromFmtp, packetizeAacHbr } from '../../src/codecs/rtp/payload/audio.js';
import { RtspFramer, interleave, parseRtpInfo, parseRtspSdp, parseSession, parseTransport, serializeRequest, serializeResponse, spropParameterSets, type RtspItem } from '../../src/codecs/rtsp/rtsp.js';
import { prng, randomChunks } from './helpers.js';

const run = promisify(execFile);
let dir: string;

/** Pictures of an Annex-B file as NAL-unit lists (no start codes). */
function pictures(file: string, codec: RtpVideoCodec): Uint8Array[][] {
  const data = readFileSync(file);
  return splitAnnexBAccessUnits(data, codec).map((au) => findNalUnits(au).map((n) => new Uint8Array(au.subarray(n.header, n.end))));
}

function roundTrip(codec: RtpVideoCodec, pics: Uint8Array[][], maxPayload: number, lose?: (index: number) => boolean): { out: DepacketizedPicture[]; sent: number } {
  const d = new VideoDepacketizer(codec);
  const out: DepacketizedPicture[] = [];
  let seq = 65_500; // wraps during the run
  let sent = 0;
  pics.forEach((nalus, i) => {
    for (const p of packetizeVideo(codec, nalus, maxPayload)) {
      const sequence = seq++ & 0xffff;
      sent++;
      if (lose?.(sent)) continue;
      out.push(...d.push({ payload: p.payload, marker: p.marker, timestamp: (4_294_960_000 + i * 3600) >>> 0, sequence }));
    }
  });
  const last = d.flush();
  if (last) out.push(last);
  return { out, sent };
}

describe('H.264 / H.265 RTP payloads with real encoder output', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtp-payload-'));
    const common = ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-frames:v', '50', '-pix_fmt', 'yuv420p'];
    await run('ffmpeg', [...common, '-c:v', 'libx264', '-bf', '2', '-g', '25', '-x264-params', 'scenecut=0', '-f', 'h264', join(dir, 'b.h264')]);
    await run('ffmpeg', [...common, '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=25', '-f', 'hevc', join(dir, 'v.h265')]);
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '1', '-c:a', 'aac', '-f', 'adts', join(dir, 'a.aac')]);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['h264', 'b.h264', 1400],
    ['h264', 'b.h264', 200],
    ['h265', 'v.h265', 1400],
    ['h265', 'v.h265', 300],
  ] as const)('%s (%s, %i-byte payloads): every picture comes back with the same NAL units', (codec, file, maxPayload) => {
    const pics = pictures(join(dir, file), codec);
    expect(pics.length).toBe(50);
    const { out } = roundTrip(codec, pics, maxPayload);
    expect(out.map((p) => p.nalus.map((n) => Buffer.from(n).toString('hex')))).toEqual(pics.map((nalus) => nalus.map((n) => Buffer.from(n).toString('hex'))));
    expect(out.filter((p) => p.keyframe).length).toBe(2);
    expect(out.every((p) => !p.damaged)).toBe(true);
  });

  it('a lost fragment drops only its NAL and marks its picture damaged; later pictures are whole', () => {
    const pics = pictures(join(dir, 'b.h264'), 'h264');
    const { out } = roundTrip('h264', pics, 300, (n) => n === 5);
    const damaged = out.filter((p) => p.damaged);
    expect(damaged).toHaveLength(1);
    expect(out[out.length - 1]!.damaged).toBe(false);
    expect(out.length).toBe(50);
  });

  it('STAP-A and AP aggregates are split; malformed packets are counted, never thrown', () => {
    const sps = Uint8Array.of(0x67, 1, 2, 3);
    const pps = Uint8Array.of(0x68, 4);
    const idr = Uint8Array.of(0x65, 9, 9, 9);
    const stap = Uint8Array.of(0x18, 0, 4, ...sps, 0, 2, ...pps);
    const d = new VideoDepacketizer('h264');
    d.push({ payload: stap, marker: false, timestamp: 1, sequence: 1 });
    const [pic] = d.push({ payload: idr, marker: true, timestamp: 1, sequence: 2 });
    expect(pic!.nalus.map((n) => [...n])).toEqual([[...sps], [...pps], [...idr]]);
    expect(pic!.keyframe).toBe(true);
    const rand = prng(7);
    for (let i = 0; i < 20_000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
      expect(() => d.push({ payload: junk, marker: rand() < 0.3, timestamp: Math.floor(rand() * 5), sequence: Math.floor(rand() * 65536) })).not.toThrow();
    }
    expect(d.stats.dropped).toBeGreaterThan(0);
    const h = new VideoDepacketizer('h265');
    const vps = Uint8Array.of(0x40, 0x01, 7);
    const ap = Uint8Array.of(0x60, 0x01, 0, 3, ...vps);
    expect(h.push({ payload: ap, marker: true, timestamp: 5, sequence: 1 })[0]!.nalus.map((n) => [...n])).toEqual([[...vps]]);
  });

  it('AAC-hbr (RFC 3640): frames from ffmpeg come back byte for byte, several per packet or one split over packets', () => {
    const adts = readFileSync(join(dir, 'a.aac'));
    const frames: Uint8Array[] = [];
    for (let i = 0; i + 7 <= adts.length; ) {
      const len = ((adts[i + 3]! & 0x03) << 11) | (adts[i + 4]! << 3) | (adts[i + 5]! >> 5);
      const header = adts[i + 1]! & 0x01 ? 7 : 9;
      frames.push(new Uint8Array(adts.subarray(i + header, i + len)));
      i += len;
    }
    expect(frames.length).toBeGreaterThan(40);
    const params = aacHbrParamsFromFmtp({ mode: 'AAC-hbr', sizelength: '13', indexlength: '3', indexdeltalength: '3', config: '1210' })!;
    const d = new AacDepacketizer(params);
    const back: Uint8Array[] = [];
    for (let i = 0; i < frames.length; i += 3) back.push(...d.push({ payload: packetizeAacHbr(frames.slice(i, i + 3)), timestamp: i * 1024, marker: true }).map((f) => f.data));
    expect(back.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
    // One frame split over two packets (same timestamp, marker on the last).
    const big = frames[10]!;
    const whole = packetizeAacHbr([big]);
    const cut = 4 + Math.floor(big.length / 2);
    const second = new Uint8Array([...whole.subarray(0, 4), ...whole.subarray(cut)]);
    expect(d.push({ payload: whole.subarray(0, cut), timestamp: 9, marker: false })).toEqual([]);
    expect(d.push({ payload: second, timestamp: 9, marker: true }).map((f) => Buffer.from(f.data).toString('hex'))).toEqual([Buffer.from(big).toString('hex')]);
    expect(d.push({ payload: Uint8Array.of(0, 16, 0xff, 0xff), timestamp: 1, marker: true })).toEqual([]);
    expect(d.stats.dropped).toBe(1);
  });
});

describe('RTSP framing and headers', () => {
  it('splits responses with bodies and interleaved packets, at every chunk boundary', () => {
    const sdp = 'v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n';
    const stream = Buffer.concat([
      serializeResponse(200, 'OK', { CSeq: 2, 'Content-Type': 'application/sdp', 'Content-Base': 'rtsp://h/x/' }, Buffer.from(sdp)),
      interleave(0, Buffer.from('rtp-one')),
      interleave(1, Buffer.alloc(0)),
      serializeRequest('GET_PARAMETER', 'rtsp://h/x/', { CSeq: 3 }),
      interleave(2, Buffer.alloc(1500, 7)),
    ]);
    const rand = prng(3);
    for (let run = 0; run < 50; run++) {
      const f = new RtspFramer();
      const items: RtspItem[] = randomChunks(stream, rand, 1, 40).flatMap((c) => f.push(Buffer.from(c)));
      expect(items.map((i) => (i.kind === 'message' ? `${i.message.kind}` : i.kind === 'interleaved' ? `ch${i.channel}:${i.data.length}` : i.reason))).toEqual(['response', 'ch0:7', 'ch1:0', 'request', 'ch2:1500']);
      const first = items[0]!;
      expect(first.kind === 'message' && first.message.kind === 'response' && first.message.body.toString()).toBe(sdp);
      expect(f.buffered).toBe(0);
    }
  });

  it('bounds headers and bodies, and skips garbage to the next message', () => {
    const f = new RtspFramer({ maxHeaderBytes: 1024, maxBodyBytes: 100 });
    expect(f.push(Buffer.from(`RTSP/1.0 200 OK\r\nX: ${'a'.repeat(2000)}`)).map((i) => i.kind === 'error' && i.reason)).toEqual(['header-too-large']);
    expect(f.push(Buffer.from('RTSP/1.0 200 OK\r\nContent-Length: 999999\r\n\r\n')).map((i) => i.kind === 'error' && i.reason)).toEqual(['body-too-large']);
    const g = new RtspFramer();
    const items = g.push(Buffer.concat([Buffer.from('\x00\x01garbage\r\n'), serializeResponse(401, 'Unauthorized', { CSeq: 1, 'WWW-Authenticate': 'Digest realm="r", nonce="n"' })]));
    expect(items.map((i) => i.kind)).toEqual(['error', 'message']);
  });

  it('reads Session, Transport and RTP-Info headers', () => {
    expect(parseSession('1F2E3D4C;timeout=30')).toEqual({ id: '1F2E3D4C', timeoutSec: 30 });
    expect(parseSession('abc')).toEqual({ id: 'abc', timeoutSec: 60 });
    expect(parseTransport('RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=1A2B3C4D')).toEqual({ protocol: 'tcp', interleaved: [2, 3], ssrc: 0x1a2b3c4d });
    expect(parseTransport('RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971')).toEqual({ protocol: 'udp', clientPort: [5000, 5001], serverPort: [6970, 6971] });
    expect(parseTransport('RAW/RAW/UDP;unicast')).toBeNull();
    expect(parseRtpInfo('url=rtsp://h/x/trackID=0;seq=100;rtptime=123456,url=trackID=1;seq=7')).toEqual([
      { url: 'rtsp://h/x/trackID=0', seq: 100, rtptime: 123456 },
      { url: 'trackID=1', seq: 7 },
    ]);
  });

  it('reads a DESCRIBE answer as GStreamer and cameras write it: control URLs, rtpmap, fmtp, sprop parameter sets', () => {
    const sdp = [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=Session',
      'a=control:*',
      'm=video 0 RTP/AVP 96',
      'a=rtpmap:96 H264/90000',
      'a=fmtp:96 packetization-mode=1;profile-level-id=64001f;sprop-parameter-sets=Z2QAH6zZQFAFuhAAAAMAEAAAAwPI8YMZYA==,aOvjyyLA',
      'a=control:stream=0',
      'm=audio 0 RTP/AVP 97',
      'a=rtpmap:97 MPEG4-GENERIC/44100/2',
      'a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210',
      'a=control:rtsp://127.0.0.1:8554/cam/stream=1',
      'm=audio 0 RTP/AVP 8',
      'a=control:stream=2',
    ].join('\r\n');
    const d = parseRtspSdp(sdp, 'rtsp://127.0.0.1:8554/cam/');
    expect(d.control).toBe('rtsp://127.0.0.1:8554/cam/');
    expect(d.media.map((m) => [m.type, m.encoding, m.clockRate, m.channels, m.control])).toEqual([
      ['video', 'H264', 90000, 1, 'rtsp://127.0.0.1:8554/cam/stream=0'],
      ['audio', 'MPEG4-GENERIC', 44100, 2, 'rtsp://127.0.0.1:8554/cam/stream=1'],
      ['audio', 'PCMA', 8000, 1, 'rtsp://127.0.0.1:8554/cam/stream=2'],
    ]);
    const sets = spropParameterSets(d.media[0]!);
    expect(sets.sps).toHaveLength(1);
    expect(sets.pps).toHaveLength(1);
    expect(d.media[1]!.fmtp.config).toBe('1210');
  });
});
