/**
 * RTMP ingest with ffmpeg as the publisher (an independent RTMP implementation): a signed key publishes H.264 +
 * AAC whose tags read as pictures and AAC frames; a wrong key, a play request, garbage and a hostile chunk
 * header are refused with a reason; the server keeps serving.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAudioTag, parseVideoTag } from '../../src/codecs/flv/flv-tags.js';
import { RtmpIngestServer, type RtmpPublisher } from '../../src/protocol/rtmp/rtmp-ingest.js';
import { decodeAmf0, encodeAmf0 } from '../../src/codecs/rtmp/amf0.js';
import { RtmpServerReader, RtmpProtocolError, writeMessage } from '../../src/codecs/rtmp/chunks.js';

const GOOD_SIGN = 'c2lnbmVk';

function pusher(url: string, seconds = 30): ChildProcess {
  return spawn('ffmpeg', ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((r) => child.once('exit', (code) => r({ code, stderr })));
}

describe('RTMP ingest', () => {
  let server: RtmpIngestServer;
  const refused: string[] = [];
  beforeAll(async () => {
    server = new RtmpIngestServer({
      host: '127.0.0.1',
      port: 0,
      publishTimeoutMs: 3_000,
      authorize: (req) =>
        req.app === 'live' && req.query.get('sign') === GOOD_SIGN ? { ok: true } : { ok: false, code: 'NetStream.Publish.Unauthorized', reason: `stream key ${req.key} is not signed for publishing` },
    });
    server.on('refused', (r) => refused.push(r.reason));
    await server.listen();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('ffmpeg publishes H.264 + AAC with a signed key: config, keyframes and AAC frames arrive', async () => {
    const key = '44030500001310000001';
    const got = { video: 0, keyframes: 0, config: false, audioConfig: false, audio: 0, meta: false };
    let published: RtmpPublisher | null = null;
    const enough = new Promise<void>((resolve) => {
      server.on('publish', (p) => (published = p));
      server.on('metadata', () => (got.meta = true));
      server.on('tag', (_p, tag) => {
        if (tag.type === 'video') {
          const v = parseVideoTag(tag.body);
          if (v.kind === 'config') got.config = true;
          if (v.kind === 'frame') {
            got.video++;
            if (v.keyframe) got.keyframes++;
          }
        } else {
          const a = parseAudioTag(tag.body);
          if (a.kind === 'config') got.audioConfig = true;
          if (a.kind === 'frame') got.audio++;
        }
        if (got.keyframes >= 2 && got.audio > 20) resolve();
      });
    });
    const child = pusher(`rtmp://127.0.0.1:${server.port}/live/${key}?sign=${GOOD_SIGN}`);
    const done = exited(child);
    await enough;
    expect(published).not.toBeNull();
    expect(published!.request).toMatchObject({ app: 'live', key });
    expect(got).toMatchObject({ config: true, audioConfig: true, meta: true });
    expect(got.video).toBeGreaterThanOrEqual(26);
    const unpublished = new Promise<string>((r) => server.once('unpublish', (_p, reason) => r(reason)));
    published!.close('test ends the publisher');
    expect(await unpublished).toBe('test ends the publisher');
    child.kill('SIGKILL');
    await done;
    expect(server.publishers).toHaveLength(0);
  });

  it('a wrong key is refused with the reason, and ffmpeg fails instead of pushing into nowhere', async () => {
    const before = refused.length;
    const child = pusher(`rtmp://127.0.0.1:${server.port}/live/44030500001310000001?sign=forged`, 5);
    const { code } = await exited(child);
    expect(code).not.toBe(0);
    for (let i = 0; i < 100 && refused.length === before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(refused.slice(before).join('\n')).toMatch(/publish refused: stream key 44030500001310000001 is not signed/);
  });

  it('garbage, a client that never publishes, and an oversized message are dropped with reasons; the server goes on', async () => {
    const before = refused.length;
    const sock = (): Promise<import('node:net').Socket> => new Promise((r) => { const s = connect(server.port, '127.0.0.1', () => r(s)); s.on('error', () => undefined); });
    const garbage = await sock();
    garbage.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'.padEnd(2000, 'x')));
    const idle = await sock();
    idle.write(Buffer.concat([Buffer.of(3), Buffer.alloc(1536), Buffer.alloc(1536)]));
    const hostile = await sock();
    const huge = Buffer.alloc(12);
    huge[0] = 0x04; // fmt 0, csid 4
    huge.writeUIntBE(0xfffff0, 4, 3); // a 16 MB message
    huge[7] = 9;
    hostile.write(Buffer.concat([Buffer.of(3), Buffer.alloc(1536), Buffer.alloc(1536), huge]));
    for (let i = 0; i < 100 && refused.length - before < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const reasons = refused.slice(before).join('\n');
    expect(reasons).toMatch(/RTMP version 71/);
    expect(reasons).toMatch(/message of 16777200 bytes/);
    expect(reasons).toMatch(/no publish within 3000 ms/);
    for (const s of [garbage, idle, hostile]) s.destroy();
  });
});

describe('RTMP codecs', () => {
  it('AMF0 round-trips what publishers send and refuses what it cannot read', () => {
    const values = ['connect', 1, { app: 'live', tcUrl: 'rtmp://h/live', flashVer: 'FMLE/3.0', videoCodecs: 252, nested: { a: [1, 'x', null] } }, null, true, undefined];
    expect(decodeAmf0(encodeAmf0(...values))).toEqual(values);
    expect(() => decodeAmf0(Uint8Array.of(0x02, 0xff, 0xff, 0x41))).toThrow(/runs past the end/);
    expect(() => decodeAmf0(Uint8Array.of(0x11))).toThrow(/unsupported AMF0 type/);
    const deep = Buffer.concat([...Array.from({ length: 40 }, () => Buffer.of(0x0a, 0, 0, 0, 1)), Buffer.of(0x05)]);
    expect(() => decodeAmf0(deep)).toThrow(/too deep/);
  });

  it('reassembles messages split over chunks of any size and any arrival split', () => {
    const r = new RtmpServerReader();
    const handshake = r.push(Buffer.concat([Buffer.of(3), Buffer.alloc(1536, 1)]));
    expect(handshake[0]!.kind).toBe('send');
    r.push(Buffer.alloc(1536, 2));
    const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const wire = Buffer.concat([writeMessage(4, 9, 1, 40, payload, 128), writeMessage(4, 9, 1, 0x1234567, payload.subarray(0, 300), 128)]);
    const got: Array<{ ts: number; len: number }> = [];
    for (let i = 0; i < wire.length; i += 7) for (const e of r.push(wire.subarray(i, i + 7))) if (e.kind === 'message') got.push({ ts: e.message.timestamp, len: e.message.payload.length });
    expect(got).toEqual([
      { ts: 40, len: 1000 },
      { ts: 0x1234567, len: 300 },
    ]);
    expect(() => new RtmpServerReader().push(Buffer.of(6))).not.toThrow();
    expect(() => new RtmpServerReader().push(Buffer.concat([Buffer.of(6), Buffer.alloc(1536)]))).toThrow(RtmpProtocolError);
  });
});
