/**
 * Live video end to end: simulated cameras (real GB28181 peers streaming PS over RTP) → play through the API →
 * HLS playlist and fMP4 segments over HTTP with the signed URL → ffprobe decodes what a browser would get.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { serializeRtp } from '../../src/codecs/rtp/rtp.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { probeStream } from '../support/hls-probe.js';

const run = promisify(execFile);

async function ffmpegCount(): Promise<number> {
  try {
    const { stdout } = await run('pgrep', ['-c', '-P', String(process.pid), 'ffmpeg']);
    return Number(stdout.trim());
  } catch {
    return 0;
  }
}

describe('live video on demand', () => {
  let h: Harness;
  let h264: DeviceFleet;
  let h265: DeviceFleet;
  /** An IPC that answers INVITE too late, and an NVR (INVITE to its own ID is refused with 404). */
  let odd: DeviceFleet;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-live-'));
    h = await startHarness({
      overrides: {
        sip: { password: 'live-pass', keepaliveIntervalSec: 5 },
        media: { host: '127.0.0.1', ports: '31000-31099', idleSec: 8, rtpTimeoutSec: 3, inviteTimeoutSec: 3 },
      },
    });
    h264 = new DeviceFleet({ server: h.sipTarget, password: 'live-pass', devices: 4, keepaliveSec: 5, codec: 'h264', audio: 'g711a' });
    h265 = new DeviceFleet({ server: h.sipTarget, password: 'live-pass', devices: 1, keepaliveSec: 5, codec: 'h265', idPrefix: '44030600', firstSerial: 700, personalisedChannels: 0 });
    odd = new DeviceFleet({ server: h.sipTarget, password: 'live-pass', devices: 2, nvrEvery: 2, channelsPerNvr: 1, keepaliveSec: 5, inviteDelayMs: 10_000, idPrefix: '44030700', firstSerial: 800, personalisedChannels: 0 });
    // Each H.264 camera's own picture (its channel ID burnt in) is ready before the plays, so the "never cross"
    // check compares two cameras' own IDs; the others need no personalised picture (a personalised channel's
    // first INVITE waits up to 3 s for its encode, which raced the 3 s INVITE timeout on a busy machine).
    await h264.prepareMedia({ profiles: ['main'] });
    await Promise.all([h264.start(), h265.start(), odd.start()]);
    await Promise.all([h264.waitForRegistered(4, 30_000), h265.waitForRegistered(1, 30_000), odd.waitForRegistered(2, 30_000)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([h264?.stop({ unregister: false }), h265?.stop({ unregister: false }), odd?.stop({ unregister: false })]);
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const play = async (channelId: string, body: Record<string, unknown> = {}) =>
    h.api<StreamView & { step?: string; hint?: string; message?: string; sipStatus?: number }>(`/api/channels/${channelId}/play`, { body });

  it.each(['udp', 'tcp-passive', 'tcp-active'] as const)('plays H.264 over %s: the segments decode as 1280x720 H.264, with AAC audio for a listener', async (transport) => {
    const cam = h264.devices[['udp', 'tcp-passive', 'tcp-active'].indexOf(transport)];
    // A listener: its HLS carries the camera's G.711 as AAC (the AAC rendition; muted viewers get none).
    const r = await play(cam.channelIds[0], { transport, listen: true });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ state: 'playing', transport, codec: 'h264', width: 1280, height: 720 });
    expect(r.body.hls).toMatch(/^\/media\/.+\/index\.m3u8$/);
    const p = await probeStream(h, r.body.hls, dir);
    expect(p).toMatchObject({ codec: 'h264', width: 1280, height: 720, audio: 'aac' });
    expect(p.frames).toBeGreaterThan(5);
    await h.api(`/api/streams/${r.body.streamId}`, { method: 'DELETE' });
  });

  it('the same channel asked again shares the running stream; the sub-stream is smaller', async () => {
    const cam = h264.devices[3];
    const a = await play(cam.channelIds[0]);
    const b = await play(cam.channelIds[0]);
    expect(b.body.streamId).toBe(a.body.streamId);
    expect(b.body.viewers).toBe(2);
    const sub = await play(cam.channelIds[0], { stream: 'sub' });
    expect(sub.status).toBe(200);
    expect(sub.body.streamId).not.toBe(a.body.streamId);
    expect((await probeStream(h, sub.body.hls, dir)).height).toBeLessThan(720);
    for (const v of [a, b, sub]) await h.api(`/api/streams/${v.body.streamId}?viewerId=${v.body.viewerId}`, { method: 'DELETE' });
  });

  it('H.265 is copied with the hvc1 tag, or transcoded to H.264 on request', async () => {
    const cam = h265.devices[0];
    const copied = await play(cam.channelIds[0]);
    expect(copied.status, JSON.stringify(copied.body)).toBe(200);
    const p = await probeStream(h, copied.body.hls, dir);
    expect(p).toMatchObject({ codec: 'hevc', tag: 'hvc1' });
    await h.api(`/api/streams/${copied.body.streamId}`, { method: 'DELETE' });
    const transcoded = await play(cam.channelIds[0], { transcode: true });
    expect(transcoded.status, JSON.stringify(transcoded.body)).toBe(200);
    expect((await probeStream(h, transcoded.body.hls, dir)).codec).toBe('h264');
    await h.api(`/api/streams/${transcoded.body.streamId}`, { method: 'DELETE' });
  });

  it('a play that cannot work names the step: INVITE refused (with the SIP code) or not answered (CANCEL sent)', async () => {
    const nvr = odd.devices.find((d) => d.kind === 'nvr')!;
    const refused = await play(nvr.id);
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ step: 'invite', sipStatus: 404 });
    expect(refused.body.hint).toMatch(/channel ID/);
    const slow = odd.devices.find((d) => d.kind === 'ipc')!;
    const timedOut = await play(slow.channelIds[0]);
    expect(timedOut.status).toBe(502);
    expect(timedOut.body.step).toBe('invite');
    expect(timedOut.body.message).toMatch(/no answer to INVITE|no final answer/);
    const left = await h.api<{ total: number; items: StreamView[] }>('/api/streams');
    // Nothing is left behind for the failed channels (other tests' streams may still be in their idle time).
    expect(left.body.items.filter((i) => i.channelId === nvr.id || i.channelId === slow.channelIds[0])).toEqual([]);
  });

  it('a snapshot is a JPEG of the channel', async () => {
    const res = await fetch(`${h.gateway.httpUrl}/api/channels/${h264.devices[0].channelIds[0]}/snapshot`, { headers: { authorization: 'Bearer test-token-0123456789' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await res.arrayBuffer());
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(jpeg.length).toBeGreaterThan(2000);
  });

  it('media URLs need a valid token', async () => {
    expect((await fetch(`${h.gateway.httpUrl}/media/forged.token/index.m3u8`)).status).toBe(401);
    expect((await fetch(`${h.gateway.httpUrl}/media/x/..%2f..%2fetc%2fpasswd`)).status).toBeGreaterThanOrEqual(400);
  });

  it('two cameras playing at once never cross, and a foreign-SSRC flood changes nothing', async () => {
    const [a, b] = [h264.devices[0], h264.devices[1]];
    const va = await play(a.channelIds[0], { transport: 'udp' });
    const vb = await play(b.channelIds[0], { transport: 'udp' });
    expect(va.status).toBe(200);
    expect(vb.status).toBe(200);
    // Flood stream A's port with packets carrying stream B's SSRC and a random one.
    const sock = createSocket('udp4');
    for (let i = 0; i < 500; i++) {
      const ssrc = i % 2 ? Number(vb.body.ssrc) : 123456789;
      sock.send(serializeRtp({ marker: false, payloadType: 96, sequence: i, timestamp: i * 3600, ssrc, payload: Buffer.alloc(1000, 0xaa) }), va.body.localPort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 1500));
    sock.close();
    const after = await h.api<StreamView>(`/api/streams/${va.body.streamId}`);
    expect(after.body.state).toBe('playing');
    expect(after.body.foreignSsrcDropped).toBeGreaterThanOrEqual(400);
    // The pictures differ: each camera burns in its own channel ID.
    const shot = async (view: StreamView): Promise<string> => {
      const p = join(dir, `${view.channelId}.png`);
      const base = `${h.gateway.httpUrl}${view.hls}`;
      // The line with the channel ID (the top-left corner held only the loop clock: two cameras whose first
      // frames sat at the same loop position looked identical, about one run in ten).
      await run('ffmpeg', ['-v', 'error', '-y', '-i', base, '-frames:v', '1', '-vf', 'crop=540:44:36:106', p]);
      return (await run('md5sum', [p])).stdout.split(' ')[0];
    };
    expect(await shot(va.body)).not.toBe(await shot(vb.body));
    expect((await probeStream(h, va.body.hls, dir)).codec).toBe('h264');
    for (const v of [va, vb]) await h.api(`/api/streams/${v.body.streamId}`, { method: 'DELETE' });
  });

  it('a camera that stops sending fails the stream with the reason, and a dead channel says which step failed', async () => {
    const cam = h264.devices[2];
    const r = await play(cam.channelIds[0], { transport: 'udp' });
    expect(r.status).toBe(200);
    h264.stopSending(cam.channelIds[0]);
    const gone = await h.waitFor(async () => ((await h.api(`/api/streams/${r.body.streamId}`)).status === 404 ? true : null), 20_000, 'stream failed');
    expect(gone).toBe(true);
    const events = await h.api<string>('/metrics');
    expect(events.body).toMatch(/se_stream_failures_total\{step="rtp"\} [1-9]/);
    h264.resumeSending(cam.channelIds[0]);
    const unknown = await play('44030500001329999999');
    expect(unknown.status).toBe(404);
    expect(unknown.body.step).toBe('channel');
  });

  it('when the last viewer leaves, the stream is torn down: BYE sent and no ffmpeg left', async () => {
    const before = await ffmpegCount();
    const cam = h264.devices[1];
    const stopped: string[] = [];
    h264.on('media-stopped', (e: { reason: string }) => stopped.push(e.reason));
    // A listener of this G.711 camera: its AAC rendition is the stream's one ffmpeg.
    const r = await play(cam.channelIds[0], { listen: true });
    expect(r.status).toBe(200);
    expect(await ffmpegCount()).toBe(before + 1);
    await h.api(`/api/streams/${r.body.streamId}?viewerId=${r.body.viewerId}`, { method: 'DELETE' });
    await h.waitFor(async () => ((await h.api(`/api/streams/${r.body.streamId}`)).status === 404 ? true : null), 20_000, 'idle teardown');
    await h.waitFor(() => stopped.includes('bye'), 10_000, 'BYE at the camera');
    await h.waitFor(async () => ((await ffmpegCount()) === before ? true : null), 10_000, 'ffmpeg gone');
    expect((await fetch(`${h.gateway.httpUrl}${r.body.hls}`)).status).toBe(404);
  });
});
