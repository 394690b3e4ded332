/**
 * A peer as the issue met it: a GB28181 camera that sends H.264 + AAC (ADTS) in PS over TCP. It used to fail
 * with "ffmpeg exited with code 1 … Malformed AAC bitstream"; now it plays as LL-HLS muxed in process — no
 * ffmpeg at all — and ffprobe decodes H.264 + AAC from the init segment and a media segment. The playlist has
 * parts and answers blocking reloads; the live fMP4 WebSocket (MSE) sends init + fragments that decode;
 * per-reader figures show in /api/streams and /metrics.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const run = promisify(execFile);

async function ffmpegChildren(): Promise<number> {
  try {
    const { stdout } = await run('pgrep', ['-c', '-P', String(process.pid), 'ffmpeg']);
    return Number(stdout.trim());
  } catch {
    return 0;
  }
}

describe('a camera sending H.264 + AAC (ADTS) in PS over TCP', () => {
  let h: Harness;
  let cams: DeviceFleet;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-aac-'));
    h = await startHarness({
      overrides: { sip: { password: 'aac-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '31300-31349', idleSec: 20 } },
    });
    cams = new DeviceFleet({ server: h.sipTarget, password: 'aac-pass', devices: 1, keepaliveSec: 5, codec: 'h264', audio: 'aac', idPrefix: '44030800', firstSerial: 900 });
    // Encode the camera's loops first, so ffmpeg children of this process during the play can only be the gateway's.
    await cams.prepareMedia({ profiles: ['main'] });
    await cams.start();
    await cams.waitForRegistered(1, 30_000);
  }, 180_000);

  afterAll(async () => {
    await cams?.stop({ unregister: false });
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays as LL-HLS without ffmpeg: H.264 + AAC decode, parts listed, blocking reload answered; the live fMP4 socket too', async () => {
    const before = await ffmpegChildren();
    const r = await h.api<StreamView & { message?: string }>(`/api/channels/${cams.devices[0]!.channelIds[0]}/play`, { body: { transport: 'tcp-passive' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ state: 'playing', transport: 'tcp-passive', codec: 'h264', audio: 'aac', width: 1280, height: 720 });
    expect(await ffmpegChildren()).toBe(before);

    const base = `${h.gateway.httpUrl}${r.body.hls.slice(0, r.body.hls.lastIndexOf('/') + 1)}`;
    const playlist = await (await fetch(`${h.gateway.httpUrl}${r.body.hls}`)).text();
    expect(playlist).toMatch(/#EXT-X-SERVER-CONTROL:.*CAN-BLOCK-RELOAD=YES/);
    expect(playlist).toMatch(/#EXT-X-PART:DURATION=[\d.]+,URI="[^"]+"/);
    expect(playlist).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART/);
    expect(playlist).toMatch(/#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}/);

    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!;
    const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(segments.length).toBeGreaterThan(0);
    const bytes = await Promise.all([init, segments.at(-1)!].map(async (name) => Buffer.from(await (await fetch(base + name)).arrayBuffer())));
    const file = join(dir, 'aac.mp4');
    writeFileSync(file, Buffer.concat(bytes));
    const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file]);
    const streams = (JSON.parse(stdout) as { streams: Array<Record<string, string | number>> }).streams;
    const video = streams.find((s) => s.codec_type === 'video')!;
    const audio = streams.find((s) => s.codec_type === 'audio')!;
    expect(video).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(Number(video.nb_read_frames)).toBeGreaterThan(5);
    expect(audio).toMatchObject({ codec_name: 'aac', sample_rate: '16000', channels: 1 });
    expect(Number(audio.nb_read_frames)).toBeGreaterThan(3);

    // Blocking reload: ask for the segment after the last one; the answer lists it.
    const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)![1]) + segments.length;
    const blocked = await (await fetch(`${h.gateway.httpUrl}${r.body.hls}?_HLS_msn=${msn}`)).text();
    const lastNow = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(blocked)![1]) + blocked.split('\n').filter((l) => l && !l.startsWith('#')).length - 1;
    expect(lastNow).toBeGreaterThanOrEqual(msn);
    expect((await fetch(`${h.gateway.httpUrl}${r.body.hls}?_HLS_part=1`)).status).toBe(400);

    const view = await h.api<StreamView>(`/api/streams/${r.body.streamId}`);
    expect(view.body.readers.map((x) => x.kind)).toEqual(['llhls']);
    expect(view.body.readers[0]!.units).toBeGreaterThan(10);
    expect(view.body.frames).toBeGreaterThan(10);
    expect(view.body.bytes).toBeGreaterThan(10_000);
    // The live fMP4 socket (MSE path): an init message naming both codecs, the init segment, then fragments
    // that ffprobe decodes as H.264 + AAC; while it is open it is a reader of the stream.
    expect(r.body.ws).toMatch(/^\/media\/.+\/live$/);
    const socket = new WebSocket(`${h.gateway.httpUrl.replace(/^http/, 'ws')}${r.body.ws}`);
    const texts: string[] = [];
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) chunks.push(Buffer.from(data));
        else texts.push(data.toString('utf8'));
        if (chunks.length >= 40) resolve();
      });
    });
    const initMessage = JSON.parse(texts[0]!) as { type: string; mime: string; width: number; height: number };
    expect(initMessage).toMatchObject({ type: 'init', width: 1280, height: 720 });
    expect(initMessage.mime).toMatch(/^video\/mp4; codecs="avc1\.[0-9a-f]{6},mp4a\.40\.2"$/);
    const live = await h.api<StreamView>(`/api/streams/${r.body.streamId}`);
    expect(live.body.readers.map((x) => x.kind).sort()).toEqual(['fmp4-live', 'llhls']);
    const liveFile = join(dir, 'live.mp4');
    writeFileSync(liveFile, Buffer.concat(chunks));
    const liveProbe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', liveFile])).stdout) as { streams: Array<Record<string, string | number>> };
    expect(liveProbe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(Number(liveProbe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBeGreaterThan(20);
    expect(liveProbe.streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
    socket.close();
    await h.waitFor(async () => ((await h.api<StreamView>(`/api/streams/${r.body.streamId}`)).body.readers.length === 1 ? true : null), 10_000, 'live reader removed');

    const metrics = (await h.api<string>('/metrics')).body;
    expect(metrics).toMatch(/se_stream_readers\{kind="llhls"\} 1/);
    await h.api(`/api/streams/${r.body.streamId}`, { method: 'DELETE' });
    expect((await fetch(`${h.gateway.httpUrl}${r.body.hls}`)).status).toBe(404);
  });
  it('until: keyframe answers at the first key frame, a GOP before the HLS is playable; the fMP4 socket starts from that GOP at once', async () => {
    // The simulated camera starts every call with a key frame and sends the next a GOP (1 s) later, which is when
    // the first HLS segment closes: so `starting` in the answer is an order of events, not a timing guess.
    const r = await h.api<StreamView & { message?: string }>(`/api/channels/${cams.devices[0]!.channelIds[0]}/play`, { body: { transport: 'tcp-passive', until: 'keyframe' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ state: 'starting', codec: 'h264', width: 1280, height: 720 });
    const socket = new WebSocket(`${h.gateway.httpUrl.replace(/^http/, 'ws')}${r.body.ws}`);
    const texts: string[] = [];
    const chunks: Buffer[] = [];
    let stateAtFirstFragment: string | null = null;
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return void texts.push(data.toString('utf8'));
        chunks.push(Buffer.from(data));
        if (chunks.length === 2) {
          // The init segment, then the first fragment: read the stream's state right away.
          void h.api<StreamView>(`/api/streams/${r.body.streamId}`).then((v) => (stateAtFirstFragment = v.body.state));
        }
        if (chunks.length >= 30) resolve();
      });
    });
    socket.close();
    expect(JSON.parse(texts[0]!)).toMatchObject({ type: 'init', width: 1280, height: 720 });
    await h.waitFor(() => stateAtFirstFragment, 5_000, 'the state read at the first fragment');
    expect(stateAtFirstFragment, 'the first fragment came before the HLS was playable').toBe('starting');
    const liveFile = join(dir, 'early.mp4');
    writeFileSync(liveFile, Buffer.concat(chunks));
    const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', liveFile])).stdout) as { streams: Array<Record<string, string | number>> };
    expect(Number(probe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBeGreaterThan(10);
    await h.waitFor(async () => ((await h.api<StreamView>(`/api/streams/${r.body.streamId}`)).body.state === 'playing' ? true : null), 10_000, 'playable afterwards');
    await h.api(`/api/streams/${r.body.streamId}`, { method: 'DELETE' });
  });
});
