/**
 * The gateway's RTSP client against GStreamer's RTSP server (an independent implementation): digest auth,
 * TCP interleaved and UDP, H.264 + G.711A, H.264 + AAC, H.265; the depacketized pictures decode in ffprobe.
 * And against servers that misbehave: wrong password (one retry, then auth-failed), unknown path, nobody
 * listening, a server that answers garbage, and one that never answers.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VideoDepacketizer, type DepacketizedPicture, type RtpVideoCodec } from '../../src/codecs/rtp/payload/video.js';
import { AacDepacketizer, aacHbrParamsFromFmtp } from '../../src/codecs/rtp/payload/audio.js';
import { spropParameterSets } from '../../src/codecs/rtsp/rtsp.js';
import { RtspClient, RtspError, type RtspTrack } from '../../src/protocol/rtsp/rtsp-client.js';
import { startGstRtspServer, type GstRtspServer } from '../support/gst-rtsp.js';

const run = promisify(execFile);
const CREDS = { user: 'cam', password: 'pa ss:w0rd' };

interface Capture {
  tracks: RtspTrack[];
  pictures: DepacketizedPicture[];
  audioFrames: number;
  audioPackets: number;
  parameterSets: Uint8Array[];
}

/** Play until `pictures` pictures (including two keyframes) arrived, then close. */
async function capture(url: string, transport: 'tcp' | 'udp', pictures = 60): Promise<Capture> {
  let nextPort = 41_000 + Math.floor(Math.random() * 4000) * 2;
  const client = new RtspClient({ url, transport, timeoutMs: 10_000, allocateUdpPorts: async () => [nextPort, (nextPort += 2) - 1], udpBindHost: '127.0.0.1' });
  const out: Capture = { tracks: [], pictures: [], audioFrames: 0, audioPackets: 0, parameterSets: [] };
  let video: VideoDepacketizer | null = null;
  let aac: AacDepacketizer | null = null;
  let videoTrack = -1;
  const done = new Promise<void>((resolve, reject) => {
    client.on('rtp', ({ track, packet }) => {
      if (track === videoTrack && video) {
        out.pictures.push(...video.push(packet));
        if (out.pictures.length >= pictures && out.pictures.filter((p) => p.keyframe).length >= 2) resolve();
      } else {
        out.audioPackets++;
        if (aac) out.audioFrames += aac.push(packet).length;
      }
    });
    client.on('ended', (err) => (err.reason === 'closed' ? resolve() : reject(err)));
  });
  const { tracks } = await client.start();
  out.tracks = tracks;
  for (const t of tracks) {
    if (t.media.type === 'video') {
      videoTrack = t.index;
      video = new VideoDepacketizer(t.media.encoding === 'H265' ? 'h265' : 'h264');
      const sets = spropParameterSets(t.media);
      out.parameterSets = [...sets.vps, ...sets.sps, ...sets.pps];
    } else if (t.media.encoding === 'MPEG4-GENERIC') {
      aac = new AacDepacketizer(aacHbrParamsFromFmtp(t.media.fmtp)!);
    }
  }
  await done;
  await client.close();
  return out;
}

/** Annex-B file from the pictures (parameter sets from the SDP first), decoded by ffprobe. */
async function decodedFrames(dir: string, codec: RtpVideoCodec, c: Capture): Promise<{ codec: string; width: number; frames: number }> {
  const firstKey = c.pictures.findIndex((p) => p.keyframe);
  const parts: Buffer[] = [];
  const startCode = Buffer.from([0, 0, 0, 1]);
  for (const ps of c.parameterSets) parts.push(startCode, Buffer.from(ps));
  for (const p of c.pictures.slice(firstKey)) for (const n of p.nalus) parts.push(startCode, Buffer.from(n));
  const file = join(dir, `cap-${Math.random().toString(36).slice(2)}.${codec}`);
  writeFileSync(file, Buffer.concat(parts));
  const { stdout } = await run('ffprobe', ['-v', 'error', '-f', codec === 'h264' ? 'h264' : 'hevc', '-count_frames', '-show_streams', '-of', 'json', file]);
  const s = (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; nb_read_frames: string }> }).streams[0]!;
  return { codec: s.codec_name, width: s.width, frames: Number(s.nb_read_frames) };
}

describe('RTSP client against GStreamer gst-rtsp-server', () => {
  let gst: GstRtspServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtsp-'));
    gst = await startGstRtspServer({ user: CREDS.user, password: CREDS.password });
  }, 60_000);
  afterAll(async () => {
    await gst?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['tcp', 'udp'] as const)('H.264 + G.711A over %s with digest credentials from the URL: pictures decode', async (transport) => {
    const c = await capture(gst.url('/h264', CREDS), transport);
    expect(c.tracks.map((t) => `${t.media.type}/${t.media.encoding}`)).toEqual(['video/H264', 'audio/PCMA']);
    expect(c.audioPackets).toBeGreaterThan(0);
    const d = await decodedFrames(dir, 'h264', c);
    expect(d).toMatchObject({ codec: 'h264', width: 640 });
    expect(d.frames).toBeGreaterThanOrEqual(25);
    expect(c.pictures.filter((p) => p.damaged)).toHaveLength(0);
  });

  it('H.264 + AAC (RFC 3640): AAC frames come out of the hbr packets', async () => {
    const c = await capture(gst.url('/h264-aac', CREDS), 'tcp');
    expect(c.tracks.map((t) => t.media.encoding)).toEqual(['H264', 'MPEG4-GENERIC']);
    expect(c.audioFrames).toBeGreaterThan(10);
  });

  it('H.265: FU fragments reassemble into pictures that decode', async () => {
    const c = await capture(gst.url('/h265', CREDS), 'tcp');
    const d = await decodedFrames(dir, 'h265', c);
    expect(d).toMatchObject({ codec: 'hevc', width: 640 });
    expect(d.frames).toBeGreaterThanOrEqual(25);
  });

  it('a wrong password is auth-failed after one answered challenge, an unknown path not-found', async () => {
    const wrong = new RtspClient({ url: gst.url('/h264', { user: CREDS.user, password: 'nope' }), timeoutMs: 5_000 });
    const err = await wrong.start().then(() => null, (e: unknown) => e as RtspError);
    expect(err).toBeInstanceOf(RtspError);
    expect(err).toMatchObject({ step: 'describe', reason: 'auth-failed', status: 401 });
    const missing = new RtspClient({ url: gst.url('/no/such/mount', CREDS), timeoutMs: 5_000 });
    const e2 = await missing.start().then(() => null, (e: unknown) => e as RtspError);
    expect(e2).toMatchObject({ reason: 'not-found', status: 404 });
  });
});

describe('RTSP client against broken servers', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const serve = async (onData: (socket: Socket, data: string) => void): Promise<number> => {
    const server = createServer((s) => {
      sockets.push(s);
      s.on('data', (d: Buffer) => onData(s, d.toString('latin1')));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return (server.address() as { port: number }).port;
  };
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  const failure = (url: string, timeoutMs = 2_000): Promise<RtspError> =>
    new RtspClient({ url, timeoutMs }).start().then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as RtspError,
    );

  it('nobody listening: unreachable at connect', async () => {
    const port = await serve(() => undefined);
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    expect(await failure(`rtsp://127.0.0.1:${port}/x`)).toMatchObject({ step: 'connect', reason: 'unreachable' });
  });

  it('a server that never answers: timeout, naming the method', async () => {
    const port = await serve(() => undefined);
    const err = await failure(`rtsp://127.0.0.1:${port}/x`, 500);
    expect(err).toMatchObject({ step: 'options', reason: 'timeout' });
    expect(err.message).toMatch(/no answer to OPTIONS within 500 ms/);
  });

  it('a 401 loop (every answer a new challenge) stops after one retry; an SDP with nothing playable is no-usable-track', async () => {
    let challenges = 0;
    const port = await serve((s, data) => {
      const cseq = /CSeq: (\d+)/i.exec(data)?.[1] ?? '0';
      challenges++;
      s.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Digest realm="r", nonce="n${challenges}"\r\n\r\n`);
    });
    expect(await failure(`rtsp://u:p@127.0.0.1:${port}/x`)).toMatchObject({ reason: 'auth-failed' });
    expect(challenges).toBe(2);
    const sdp = 'v=0\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\nm=application 0 RTP/AVP 107\r\n';
    const port2 = await serve((s, data) => {
      const cseq = /CSeq: (\d+)/i.exec(data)?.[1] ?? '0';
      if (data.startsWith('OPTIONS')) s.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n`);
      else s.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`);
    });
    const err = await failure(`rtsp://127.0.0.1:${port2}/x`);
    expect(err).toMatchObject({ step: 'describe', reason: 'no-usable-track' });
    expect(err.message).toMatch(/video\/JPEG/);
  });

  it('garbage instead of RTSP: a clear failure, not a hang or a crash', async () => {
    const port = await serve((s) => s.write(Buffer.concat([Buffer.from('HTTP/1.1 400 Bad Request\r\n'), Buffer.alloc(70_000, 0x41)])));
    const err = await failure(`rtsp://127.0.0.1:${port}/x`, 1_000);
    expect(['timeout', 'bad-answer']).toContain(err.reason);
  });
});
