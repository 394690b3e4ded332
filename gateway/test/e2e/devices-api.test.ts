/**
 * Devices added through the API, against real peers: GStreamer's RTSP server (an RTSP source), ffmpeg pushing
 * RTMP to the signed publishUrl (and to a wrong one), our ONVIF simulator (profiles → channels, a wrong
 * password → auth-failed). Each channel plays through the same POST /api/channels/:id/play as GB channels, and
 * what the HLS output carries is decoded by ffprobe. DELETE stops the streams; a restart keeps the devices.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Device, Page } from '../../src/domain/model.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import type { AddedDevice } from '../../src/domain/devices/protocol-devices.js';
import { OnvifFleet } from '../../src/sim/onvif/onvif-fleet.js';
import { startGstRtspServer, type GstRtspServer } from '../support/gst-rtsp.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { decodedFrames } from '../support/hls-decode.js';

function pusher(url: string, seconds = 60): { child: ChildProcess; exit: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(
    'ffmpeg',
    ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', String(seconds),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, exit: new Promise((r) => child.once('exit', (code) => r({ code, stderr }))) };
}

describe('devices added through the API (ONVIF, RTSP, RTMP)', () => {
  let h: Harness;
  let gst: GstRtspServer;
  let fleet: OnvifFleet;
  let dir: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'se-devices-'));
  const pushers: ChildProcess[] = [];

  const start = () =>
    startHarness({
      dataDir,
      overrides: {
        sip: { id: '44030500002000000001' },
        media: { idleSec: 8 },
        devices: { pollIntervalSec: 2, pollMissesToOffline: 1 },
      },
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-devices-probe-'));
    [h, gst] = await Promise.all([start(), startGstRtspServer()]);
    // Three cameras: the second one is added with a wrong password (the first one's host:port is taken); the
    // third is never added (a different camera behind a PATCHed address).
    fleet = new OnvifFleet({ cameras: 3, discoveryInterface: null, password: 'cam-pass-1' });
    await fleet.start();
  }, 180_000);

  afterAll(async () => {
    for (const p of pushers) p.kill('SIGKILL');
    await Promise.allSettled([h?.stop(), gst?.stop(), fleet?.stop()]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const play = (channelId: string, body: Record<string, unknown> = {}) =>
    h.api<StreamView & { step?: string; message?: string }>(`/api/channels/${channelId}/play`, { body });
  const channelsOf = async (deviceId: string) => (await h.api<Page<Channel>>(`/api/devices/${deviceId}/channels`)).body;

  let rtspDevice: AddedDevice;
  let rtmpDevice: AddedDevice;
  let onvifDevice: AddedDevice;
  /** The second camera's device (added with a wrong password). */
  let badOnvifId: string;

  it('an RTSP device (GStreamer RTSP server) gets IDs in the plan, its channel is listed and plays', async () => {
    const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'rtsp', url: gst.url('/h264-aac'), name: '南山小学 门口', civilCode: '44030600' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    rtspDevice = r.body;
    expect(rtspDevice).toMatchObject({ protocol: 'rtsp', status: 'online', name: '南山小学 门口', civilCode: '44030600', typeCode: '132' });
    // civil code (8) + industry from sip.id (2) + 132 + social-resource network 8 + serial.
    expect(rtspDevice.id).toMatch(/^44030600001328\d{6}$/);
    const channels = await channelsOf(rtspDevice.id);
    expect(channels.total).toBe(1);
    expect(channels.items[0]).toMatchObject({ id: rtspDevice.channels[0]!.id, deviceId: rtspDevice.id, kind: 'channel', status: 'online', name: '南山小学 门口' });
    expect(channels.items[0]!.id).toMatch(/^44030600001318\d{6}$/);
    // The wall's channel search finds it like a GB channel.
    const search = await h.api<Page<Channel>>(`/api/channels?q=${encodeURIComponent('南山小学')}`);
    expect(search.body.items.map((c) => c.id)).toContain(channels.items[0]!.id);

    const p = await play(channels.items[0]!.id);
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec: 'h264', width: 640, height: 360 });
    const probe = await decodedFrames(h, p.body.hls, dir);
    expect(probe).toMatchObject({ codec: 'h264', width: 640 });
    expect(probe.frames).toBeGreaterThan(5);
  }, 60_000);

  it('an RTMP device answers a signed publishUrl; a wrong sign is refused; ffmpeg pushing to it plays', async () => {
    const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'rtmp', name: '无人机 1' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    rtmpDevice = r.body;
    expect(rtmpDevice).toMatchObject({ protocol: 'rtmp', status: 'offline', offlineReason: 'no-publisher' });
    const channelId = rtmpDevice.channels[0]!.id;
    const url = new URL(rtmpDevice.publishUrl!);
    expect(url.protocol).toBe('rtmp:');
    expect(url.pathname).toBe(`/live/${channelId}`);
    expect(url.searchParams.get('sign')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Not published yet: the play says so (409, step device) with what to do.
    const early = await play(channelId);
    expect(early.status).toBe(409);
    expect(early.body.step).toBe('device');

    const wrong = rtmpDevice.publishUrl!.replace(/sign=.*/, 'sign=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const refused = pusher(wrong, 5);
    const unsigned = pusher(rtmpDevice.publishUrl!.replace(/\?sign=.*/, ''), 5);
    const [a, b] = await Promise.all([refused.exit, unsigned.exit]);
    expect(a.code).not.toBe(0);
    expect(b.code).not.toBe(0);
    expect((await h.api<Device>(`/api/devices/${rtmpDevice.id}`)).body.status).toBe('offline');

    const good = pusher(rtmpDevice.publishUrl!);
    pushers.push(good.child);
    await h.waitFor(async () => (await h.api<Device>(`/api/devices/${rtmpDevice.id}`)).body.status === 'online', 20_000, 'RTMP device online');
    const p = await play(channelId);
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec: 'h264', width: 320, height: 240 });
    const probe = await decodedFrames(h, p.body.hls, dir);
    expect(probe.frames).toBeGreaterThan(5);
    // GET shows the publish URL again for the operator.
    expect((await h.api<Device & { publishUrl?: string }>(`/api/devices/${rtmpDevice.id}`)).body.publishUrl).toBe(rtmpDevice.publishUrl);
  }, 60_000);

  it('an ONVIF device (our simulator): channels from its profiles, the sub-stream plays; a wrong password is auth-failed', async () => {
    const cam = fleet.cameras[0]!;
    const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'onvif', host: '127.0.0.1', port: cam.port, username: 'admin', password: 'cam-pass-1' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    onvifDevice = r.body;
    expect(onvifDevice).toMatchObject({ protocol: 'onvif', status: 'online', manufacturer: 'SharpEyesSim', model: 'ONVIF-SIM-1', remotePort: cam.port });
    const channels = await channelsOf(onvifDevice.id);
    // One video source in the simulator: one channel (main + sub profiles).
    expect(channels.total).toBe(1);
    const p = await play(channels.items[0]!.id, { stream: 'sub' });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec: 'h264' });
    expect((await decodedFrames(h, p.body.hls, dir)).frames).toBeGreaterThan(5);

    const bad = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'onvif', host: '127.0.0.1', port: fleet.cameras[1]!.port, username: 'admin', password: 'wrong-password' } });
    expect(bad.status, JSON.stringify(bad.body)).toBe(201);
    expect(bad.body).toMatchObject({ protocol: 'onvif', status: 'offline', offlineReason: 'auth-failed' });
    expect((await channelsOf(bad.body.id)).total).toBe(0);
    // The poller does not turn it online nor hammer the camera; PATCH with the right password fixes it.
    const fixed = await h.api<AddedDevice>(`/api/devices/${bad.body.id}`, { method: 'PATCH', body: { password: 'cam-pass-1' } });
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
    expect(fixed.body).toMatchObject({ status: 'online', offlineReason: null });
    expect((await channelsOf(bad.body.id)).total).toBe(1);
    // Changing it back to a wrong one is refused (422 auth-failed) and changes nothing; forced, it takes the
    // device offline with the reason again.
    const refused = await h.api<{ code: string; reason: string }>(`/api/devices/${bad.body.id}`, { method: 'PATCH', body: { password: 'wrong-again' } });
    expect(refused.status, JSON.stringify(refused.body)).toBe(422);
    expect(refused.body).toMatchObject({ code: 'device.probe-failed', reason: 'auth-failed' });
    expect((await h.api<Device>(`/api/devices/${bad.body.id}`)).body).toMatchObject({ status: 'online' });
    const broken = await h.api<AddedDevice>(`/api/devices/${bad.body.id}`, { method: 'PATCH', body: { password: 'wrong-again', force: true } });
    expect(broken.status, JSON.stringify(broken.body)).toBe(200);
    expect(broken.body).toMatchObject({ status: 'offline', offlineReason: 'auth-failed' });
    badOnvifId = bad.body.id;
  }, 240_000);

  it('bad payloads are 400 naming the field; GB-only operations on added devices are 409', async () => {
    const cases: Array<[unknown, string]> = [
      [{ protocol: 'rtsp' }, 'body.url'],
      [{ protocol: 'rtsp', url: 'http://x/y' }, 'body.url'],
      [{ protocol: 'onvif', host: '10.0.0.1', username: 'a', password: 'b', port: 70000 }, 'body.port'],
      [{ protocol: 'ftp' }, 'body.protocol'],
      [{ protocol: 'rtmp', civilCode: '4403' }, 'body.civilCode'],
      [{ protocol: 'rtmp', url: 'rtsp://x/y' }, 'body.url'],
    ];
    for (const [body, field] of cases) {
      const r = await h.api<{ field?: string; message: string }>('/api/devices', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.field, JSON.stringify(r.body)).toBe(field);
    }
    const patch = await h.api<{ field?: string }>(`/api/devices/${rtspDevice.id}`, { method: 'PATCH', body: { host: '10.0.0.1' } });
    expect(patch.status).toBe(400);
    expect(patch.body.field).toBe('body.host');
    expect((await h.api(`/api/devices/${rtspDevice.id}/catalog`, { method: 'POST' })).status).toBe(409);
    expect((await h.api('/api/devices/44030500001329999999', { method: 'DELETE' })).status).toBe(404);
  });

  it('the same ONVIF host:port, RTSP URL or RTMP name again is 409 conflict with the existing device, nothing added (as import)', async () => {
    const total = async () => (await h.api<Page<Device>>('/api/devices?limit=1')).body.total;
    const before = await total();
    const cam = fleet.cameras[0]!;
    type Conflict = { code: string; message: string; existingId: string; params: { existingId: string } };
    // ONVIF: host (any case) + port; other credentials or a name do not make it another camera.
    const onvif = await h.api<Conflict>('/api/devices', { body: { protocol: 'onvif', host: '127.0.0.1', port: cam.port, username: 'admin', password: 'other', name: 'again' } });
    expect(onvif.status, JSON.stringify(onvif.body)).toBe(409);
    expect(onvif.body).toMatchObject({ code: 'conflict', existingId: onvifDevice.id, params: { existingId: onvifDevice.id } });
    expect(onvif.body.message).toContain(`PATCH /api/devices/${onvifDevice.id}`);
    // RTSP: the main URL; the message does not echo it (it may carry credentials).
    const rtsp = await h.api<Conflict>('/api/devices', { body: { protocol: 'rtsp', url: gst.url('/h264-aac') } });
    expect(rtsp.status, JSON.stringify(rtsp.body)).toBe(409);
    expect(rtsp.body).toMatchObject({ code: 'conflict', existingId: rtspDevice.id });
    expect(rtsp.body.message).not.toContain('rtsp://');
    const rtmp = await h.api<Conflict>('/api/devices', { body: { protocol: 'rtmp', name: '无人机 1' } });
    expect(rtmp.status, JSON.stringify(rtmp.body)).toBe(409);
    expect(rtmp.body.existingId).toBe(rtmpDevice.id);
    // The existing devices are untouched (the ONVIF one is still online with its password).
    expect((await h.api<Device>(`/api/devices/${onvifDevice.id}`)).body).toMatchObject({ status: 'online', name: onvifDevice.name });
    // The import sees the same identity: unchanged, same ID.
    const imported = await h.api<{ unchanged: number; devices: Array<{ id: string; outcome: string }> }>('/api/devices/import', { body: [{ protocol: 'rtsp', url: gst.url('/h264-aac') }] });
    expect(imported.body.devices).toEqual([{ line: 0, id: rtspDevice.id, outcome: 'unchanged' }]);

    // Two adds of one new camera at the same moment: one is added, the other gets its ID while it is being described.
    const url = gst.url('/h264');
    const [a, b] = await Promise.all([0, 1].map(() => h.api<AddedDevice & Partial<Conflict>>('/api/devices', { body: { protocol: 'rtsp', url } })));
    expect([a!.status, b!.status].sort()).toEqual([201, 409]);
    const [created, refused] = a!.status === 201 ? [a!, b!] : [b!, a!];
    expect(refused.body.existingId).toBe(created.body.id);
    expect(await total()).toBe(before + 1);
    expect((await h.api(`/api/devices/${created.body.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await total()).toBe(before);
  }, 60_000);

  it('PATCH tries new settings first: refused with 422 and the reason, the old ones kept, unless forced', async () => {
    type Refusal = { code: string; reason?: string; message: string; params?: Record<string, string> };
    const patch = (id: string, body: Record<string, unknown>) => h.api<AddedDevice & Refusal>(`/api/devices/${id}`, { method: 'PATCH', body });
    const channelId = rtspDevice.channels[0]!.id;
    const playing = await play(channelId);
    expect(playing.status, JSON.stringify(playing.body)).toBe(200);

    // RTSP (GStreamer): a path the server does not have, a port nobody listens on.
    const missing = await patch(rtspDevice.id, { url: gst.url('/no-such-path') });
    expect(missing.status, JSON.stringify(missing.body)).toBe(422);
    expect(missing.body).toMatchObject({ code: 'device.probe-failed', reason: 'rtsp-failed', params: { reason: 'rtsp-failed' } });
    expect(missing.body.message).toMatch(/"force": true/);
    const nobody = await patch(rtspDevice.id, { url: 'rtsp://127.0.0.1:9/h264-aac' });
    expect(nobody.status, JSON.stringify(nobody.body)).toBe(422);
    expect(nobody.body.reason).toBe('unreachable');
    // Nothing changed: the stream that was playing still is, the device is online, a new play opens the old URL.
    expect((await h.api(`/api/streams/${playing.body.streamId}`)).status).toBe(200);
    expect((await h.api<Device>(`/api/devices/${rtspDevice.id}`)).body).toMatchObject({ status: 'online' });
    // Forced, an unreachable URL is applied and shows why the device is offline.
    const forced = await patch(rtspDevice.id, { url: 'rtsp://127.0.0.1:9/h264-aac', force: true });
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    expect(forced.body).toMatchObject({ status: 'offline', offlineReason: 'unreachable' });
    const back = await patch(rtspDevice.id, { url: gst.url('/h264-aac') });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body).toMatchObject({ status: 'online', offlineReason: null });
    expect(await play(channelId).then((r) => r.status)).toBe(200);

    // ONVIF: a wrong password is 422 auth-failed, the device stays online with the old one.
    const cams = fleet.cameras;
    const wrong = await patch(onvifDevice.id, { password: 'not-it' });
    expect(wrong.status, JSON.stringify(wrong.body)).toBe(422);
    expect(wrong.body).toMatchObject({ reason: 'auth-failed' });
    const unreachable = await patch(onvifDevice.id, { port: 9 });
    expect(unreachable.status, JSON.stringify(unreachable.body)).toBe(422);
    expect(unreachable.body.reason).toBe('unreachable');
    expect((await h.api<Device>(`/api/devices/${onvifDevice.id}`)).body).toMatchObject({ status: 'online', remotePort: cams[0]!.port });
    // Another added device's address: 409 naming it.
    const other = await patch(onvifDevice.id, { port: cams[1]!.port, force: true });
    expect(other.status, JSON.stringify(other.body)).toBe(409);
    expect(other.body.params).toMatchObject({ existingId: badOnvifId });
    // A camera that answers with another serial number is another camera: 409, nothing changed; forced, applied.
    const moved = await patch(onvifDevice.id, { port: cams[2]!.port });
    expect(moved.status, JSON.stringify(moved.body)).toBe(409);
    expect(moved.body).toMatchObject({ code: 'conflict', params: { serialNumber: cams[2]!.info.serialNumber, expectedSerialNumber: cams[0]!.info.serialNumber } });
    expect((await h.api<Device>(`/api/devices/${onvifDevice.id}`)).body).toMatchObject({ status: 'online', remotePort: cams[0]!.port });
    const replaced = await patch(onvifDevice.id, { port: cams[2]!.port, force: true });
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    expect(replaced.body).toMatchObject({ status: 'online', remotePort: cams[2]!.port });
    // Back to the first camera: its serial is now the "other" one, so this too needs force.
    expect((await patch(onvifDevice.id, { port: cams[0]!.port })).status).toBe(409);
    const restored = await patch(onvifDevice.id, { port: cams[0]!.port, force: true });
    expect(restored.body).toMatchObject({ status: 'online', remotePort: cams[0]!.port });
    // A name alone is not probed; `force` alone changes nothing and is a 400.
    expect((await patch(onvifDevice.id, { name: onvifDevice.name })).status).toBe(200);
    expect((await patch(onvifDevice.id, { force: true })).status).toBe(400);
    expect((await patch(onvifDevice.id, { password: 'cam-pass-1', force: 'yes' })).status).toBe(400);
  }, 120_000);

  it('DELETE stops the device streams and removes it with its channels', async () => {
    const channelId = rtspDevice.channels[0]!.id;
    const p = await play(channelId);
    expect(p.status).toBe(200);
    const del = await h.api<{ stoppedStreams: number }>(`/api/devices/${rtspDevice.id}`, { method: 'DELETE' });
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.stoppedStreams).toBeGreaterThanOrEqual(1);
    expect((await h.api(`/api/streams/${p.body.streamId}`)).status).toBe(404);
    expect((await h.api(`/api/devices/${rtspDevice.id}`)).status).toBe(404);
    expect((await play(channelId)).status).toBe(404);
    expect((await h.api<Page<Channel>>(`/api/channels?q=${encodeURIComponent('南山小学')}`)).body.total).toBe(0);
  });

  it('a restart keeps the added devices, their channels and their publish URLs', async () => {
    for (const p of pushers) p.kill('SIGKILL');
    await h.stop({ keepData: true });
    h = await start();
    const list = await h.api<Page<Device>>('/api/devices?limit=100');
    const byId = new Map(list.body.items.map((d) => [d.id, d]));
    expect(byId.get(onvifDevice.id)).toMatchObject({ protocol: 'onvif' });
    expect(byId.get(rtmpDevice.id)).toMatchObject({ protocol: 'rtmp', status: 'offline', offlineReason: 'no-publisher' });
    expect(byId.has(rtspDevice.id)).toBe(false);
    expect((await channelsOf(onvifDevice.id)).total).toBe(1);
    const again = await h.api<Device & { publishUrl?: string }>(`/api/devices/${rtmpDevice.id}`);
    // The publish URL carries the RTMP port, which a test gateway picks anew; the channel and sign stay.
    expect(new URL(again.body.publishUrl!).search).toBe(new URL(rtmpDevice.publishUrl!).search);
    // The ONVIF device plays again after the restart.
    await h.waitFor(async () => (await h.api<Device>(`/api/devices/${onvifDevice.id}`)).body.status === 'online', 20_000, 'ONVIF device online');
    const p = await play(onvifDevice.channels[0]!.id, { stream: 'sub' });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
  }, 60_000);
});
