/**
 * ONVIF cameras added through POST /api/devices, steered and listened to like GB cameras: the same PTZ API
 * (leases, auto-stop, stop) becomes ONVIF PTZ calls that the simulated camera records; camera events over a
 * PullPoint subscription become alarms in the same pipeline as GB alarms (GET /api/alarms, the `alarm` WebSocket
 * event, acknowledge). The robustness cases other clients got burned by are each a test here: WS-Addressing on
 * PullPoint calls, a subscription address announced with an unreachable host, a camera that rejects Renew, a
 * camera reboot, a camera that refuses new subscriptions for a while (backoff, no storm), a changed password
 * (the feed stops instead of hammering the account), and Unsubscribe on delete and on gateway stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AlarmEvent, Device, Page } from '../../src/domain/model.js';
import type { AddedDevice } from '../../src/domain/devices/protocol-devices.js';
import { OnvifCameraSim, type EventCall } from '../../src/sim/onvif/onvif-camera.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

interface WsMessage {
  type: string;
  data: Record<string, unknown>;
}

const PULL_ACTION = 'http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest';
const PASSWORD = 'cam-pass-9';

describe('ONVIF PTZ and events through the gateway', () => {
  let h: Harness;
  let stopped = false;
  let ws: WebSocket;
  const messages: WsMessage[] = [];
  const cams: Record<'ptz' | 'narrow' | 'fixed' | 'nat' | 'reboot' | 'auth', OnvifCameraSim> = {
    ptz: new OnvifCameraSim({ password: PASSWORD, name: 'dome' }),
    // A PTZ node narrower than the generic spaces, without zoom, and no Imaging service (no focus or iris).
    narrow: new OnvifCameraSim({ password: PASSWORD, name: 'narrow dome', imaging: false, ptzSpaces: { panTilt: { x: { min: -0.5, max: 0.5 }, y: { min: -0.25, max: 0.25 } }, zoom: null } }),
    fixed: new OnvifCameraSim({ password: PASSWORD, ptz: false, name: 'bullet' }),
    // Announces every address (services, subscriptions) on a host we cannot reach: the gateway must rewrite them.
    nat: new OnvifCameraSim({ password: PASSWORD, announcedHost: '192.0.2.10', name: 'behind NAT' }),
    reboot: new OnvifCameraSim({ password: PASSWORD, name: 'rebooting' }),
    auth: new OnvifCameraSim({ password: PASSWORD, name: 'password changes', lockAfterFailures: 100 }),
  };
  const devices: Partial<Record<keyof typeof cams, AddedDevice>> = {};

  beforeAll(async () => {
    h = await startHarness({
      overrides: {
        sip: { id: '44030500002000000001' },
        devices: { pollIntervalSec: 2, pollMissesToOffline: 1 },
        // Short subscriptions (renewed every 2 s) and holds, so Renew and re-subscription happen within a test.
        onvif: { eventSubscriptionSec: 4, eventPullTimeoutSec: 1 },
      },
    });
    await Promise.all(Object.values(cams).map((c) => c.start()));
    ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(TEST_TOKEN)}`);
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as WsMessage));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    for (const [key, cam] of Object.entries(cams) as Array<[keyof typeof cams, OnvifCameraSim]>) {
      const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'onvif', host: '127.0.0.1', port: cam.port, username: 'admin', password: PASSWORD, name: cam.info.name } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body).toMatchObject({ protocol: 'onvif', status: 'online' });
      devices[key] = r.body;
    }
  }, 60_000);

  afterAll(async () => {
    ws?.close();
    if (!stopped) await h?.stop();
    await Promise.allSettled(Object.values(cams).map((c) => c.close()));
  });

  const channelOf = (key: keyof typeof cams): string => devices[key]!.channels[0]!.id;
  const ptz = (channelId: string, body: Record<string, unknown>) =>
    h.api<{ sent: string[]; autoStopAfterMs: number | null; lease: { holder: string } | null; message?: string }>(`/api/channels/${channelId}/ptz`, { body });
  const calls = (cam: OnvifCameraSim, op: EventCall['op'], outcome?: string): EventCall[] => cam.eventLog.filter((c) => c.op === op && (outcome === undefined || c.outcome === outcome));
  const alarmsOf = async (deviceId: string) => (await h.api<Page<AlarmEvent>>(`/api/alarms?deviceId=${deviceId}&limit=100`)).body;
  /** Wait for the camera's feed to be subscribed and pulling (an event raised before would reach nobody). */
  const pulling = (cam: OnvifCameraSim, after = 0) =>
    h.waitFor(() => cam.stats.subscriptions > 0 && cam.eventLog.some((c) => c.op === 'PullMessages' && c.outcome === 'ok' && c.at > after), 15_000, 'the PullPoint feed pulling');

  describe('PTZ', () => {
    it('a move is ContinuousMove with the speed scaled to the generic space; stop is Stop; the lease is the same as for GB', async () => {
      const cam = cams.ptz;
      const channelId = channelOf('ptz');
      const move = await ptz(channelId, { action: 'move', direction: 'left', speed: 128, durationMs: 30_000 });
      expect(move.status, JSON.stringify(move.body)).toBe(200);
      expect(move.body).toMatchObject({ sent: ['ContinuousMove(pan=-0.502,tilt=0)'], autoStopAfterMs: 30_000, lease: { holder: 'api-token' } });
      const stop = await ptz(channelId, { action: 'stop' });
      expect(stop.status).toBe(200);
      expect(stop.body.sent).toEqual(['Stop(panTilt,zoom)']);
      expect(cam.ptzLog).toEqual([
        { op: 'ContinuousMove', profile: 'profile_1_main', pan: -0.502, tilt: 0 },
        { op: 'Stop', profile: 'profile_1_main' },
      ]);
      expect((await h.api<{ lease: { holder: string } | null }>(`/api/channels/${channelId}/ptz/lease`)).body.lease).toMatchObject({ holder: 'api-token' });
    });

    it('a move with zoom stops by itself after durationMs (the auto-stop reaches the camera as Stop)', async () => {
      const cam = cams.ptz;
      cam.ptzLog.length = 0;
      const move = await ptz(channelOf('ptz'), { action: 'move', direction: 'up-right', zoom: 'in', speed: 255, zoomSpeed: 15, durationMs: 200 });
      expect(move.body.sent).toEqual(['ContinuousMove(pan=1,tilt=1,zoom=1)']);
      await h.waitFor(() => cam.ptzLog.length >= 2, 10_000, 'the auto-stop at the camera');
      expect(cam.ptzLog).toEqual([
        { op: 'ContinuousMove', profile: 'profile_1_main', pan: 1, tilt: 1, zoom: 1 },
        { op: 'Stop', profile: 'profile_1_main' },
      ]);
    });

    it('presets: set stores it on the camera (GetPresets lists it), call is GotoPreset with its token, delete removes it', async () => {
      const cam = cams.ptz;
      const channelId = channelOf('ptz');
      cam.ptzLog.length = 0;
      const set = await ptz(channelId, { action: 'preset', operation: 'set', preset: 7 });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      const presets = await h.api<{ presets: Array<{ preset: number | null; token: string; name: string }> }>(`/api/channels/${channelId}/ptz/presets`);
      expect(presets.status).toBe(200);
      expect(presets.body.presets).toHaveLength(1);
      const token = presets.body.presets[0]!.token;
      expect(presets.body.presets[0]).toEqual({ preset: 7, token, name: '7' });
      expect(set.body.sent).toEqual([`SetPreset(token=${token})`]);
      // Setting it again overwrites the same camera preset instead of adding one.
      await ptz(channelId, { action: 'preset', operation: 'set', preset: 7 });
      expect((await h.api<{ presets: unknown[] }>(`/api/channels/${channelId}/ptz/presets`)).body.presets).toHaveLength(1);
      expect((await ptz(channelId, { action: 'preset', operation: 'call', preset: 7 })).body.sent).toEqual([`GotoPreset(token=${token})`]);
      expect((await ptz(channelId, { action: 'preset', operation: 'delete', preset: 7 })).body.sent).toEqual([`RemovePreset(token=${token})`]);
      expect(cam.ptzLog.map((c) => [c.op, c.preset])).toEqual([
        ['SetPreset', token],
        ['SetPreset', token],
        ['GotoPreset', token],
        ['RemovePreset', token],
      ]);
      const missing = await ptz(channelId, { action: 'preset', operation: 'call', preset: 7 });
      expect(missing.status).toBe(409);
      expect(missing.body.message).toMatch(/no preset 7/);
    });

    it('home and relative are GotoHomePosition and RelativeMove', async () => {
      const cam = cams.ptz;
      const channelId = channelOf('ptz');
      cam.ptzLog.length = 0;
      expect((await ptz(channelId, { action: 'relative', pan: 0.25, tilt: -0.1 })).body.sent).toEqual(['RelativeMove(pan=0.25,tilt=-0.1,zoom=0)']);
      expect(cam.positions.get('profile_1_main')).toEqual({ pan: 0.25, tilt: -0.1, zoom: 0 });
      expect((await ptz(channelId, { action: 'home' })).body.sent).toEqual(['GotoHomePosition']);
      expect(cam.positions.get('profile_1_main')).toEqual({ pan: 0, tilt: 0, zoom: 0 });
      expect(cam.ptzLog.map((c) => c.op)).toEqual(['RelativeMove', 'GotoHomePosition']);
      expect((await ptz(channelId, { action: 'relative', pan: 2 })).status).toBe(400);
    });

    it('focus near is Imaging Move on the channel\'s video source with a negative speed; the FI stop is Imaging Stop', async () => {
      const cam = cams.ptz;
      const channelId = channelOf('ptz');
      cam.imagingLog.length = 0;
      const near = await ptz(channelId, { action: 'focus', direction: 'near', speed: 255, durationMs: 30_000 });
      expect(near.status, JSON.stringify(near.body)).toBe(200);
      expect(near.body.sent).toEqual(['Imaging.Move(source=vs_1,focus=-1)']);
      const stop = await ptz(channelId, { action: 'stop' });
      expect(stop.status, JSON.stringify(stop.body)).toBe(200);
      expect(stop.body.sent).toContain('Imaging.Stop(source=vs_1)');
      // GetMoveOptions asked once (cached per device), then the move and the stop.
      expect(cam.imagingLog).toEqual([
        { op: 'GetMoveOptions', source: 'vs_1' },
        { op: 'Move', source: 'vs_1', focusSpeed: -1 },
        { op: 'Stop', source: 'vs_1' },
      ]);
      // Focus far at half speed: positive, and no second GetMoveOptions.
      cam.imagingLog.length = 0;
      expect((await ptz(channelId, { action: 'focus', direction: 'far', speed: 128, durationMs: 30_000 })).body.sent).toEqual(['Imaging.Move(source=vs_1,focus=0.502)']);
      await ptz(channelId, { action: 'stop' });
      expect(cam.imagingLog.map((c) => [c.op, c.focusSpeed])).toEqual([
        ['Move', 0.502],
        ['Stop', undefined],
      ]);
    });

    it('iris open twice steps the iris up twice within the camera\'s range, in manual exposure', async () => {
      const cam = cams.ptz;
      const channelId = channelOf('ptz');
      // Start from a closed-down iris (the camera's range is −22…0 dB; it starts fully open, in auto).
      cam.exposure.set('vs_1', { mode: 'AUTO', iris: -20 });
      cam.imagingLog.length = 0;
      const first = await ptz(channelId, { action: 'iris', direction: 'open', durationMs: 100 });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.sent).toEqual(['Imaging.SetImagingSettings(source=vs_1,exposure=MANUAL,iris=-17.8)']);
      const second = await ptz(channelId, { action: 'iris', direction: 'open', durationMs: 100 });
      expect(second.body.sent).toEqual(['Imaging.SetImagingSettings(source=vs_1,exposure=MANUAL,iris=-15.6)']);
      expect(cam.imagingLog.filter((c) => c.op === 'SetImagingSettings')).toEqual([
        { op: 'SetImagingSettings', source: 'vs_1', mode: 'MANUAL', iris: -17.8 },
        { op: 'SetImagingSettings', source: 'vs_1', mode: 'MANUAL', iris: -15.6 },
      ]);
      expect(cam.exposure.get('vs_1')).toEqual({ mode: 'MANUAL', iris: -15.6 });
      // At the open end it stays at the range's max instead of overshooting (the camera would refuse it).
      cam.exposure.set('vs_1', { mode: 'MANUAL', iris: -1 });
      expect((await ptz(channelId, { action: 'iris', direction: 'open', durationMs: 100 })).body.sent).toEqual(['Imaging.SetImagingSettings(source=vs_1,exposure=MANUAL,iris=0)']);
      expect(cam.imagingLog.filter((c) => c.op === 'GetOptions')).toHaveLength(1);
    });

    it('a camera with a narrower PTZ node gets velocities within its ranges and no zoom; without Imaging, focus and iris answer 409', async () => {
      const cam = cams.narrow;
      const channelId = channelOf('narrow');
      const move = await ptz(channelId, { action: 'move', direction: 'up-left', zoom: 'in', speed: 255, zoomSpeed: 15, durationMs: 30_000 });
      expect(move.status, JSON.stringify(move.body)).toBe(200);
      expect(move.body.sent).toEqual(['ContinuousMove(pan=-0.5,tilt=0.25)']);
      await ptz(channelId, { action: 'move', direction: 'down-right', speed: 128, durationMs: 30_000 });
      await ptz(channelId, { action: 'stop' });
      expect(cam.ptzLog).toEqual([
        { op: 'ContinuousMove', profile: 'profile_1_main', pan: -0.5, tilt: 0.25 },
        { op: 'ContinuousMove', profile: 'profile_1_main', pan: 0.251, tilt: -0.125 },
        { op: 'Stop', profile: 'profile_1_main' },
      ]);
      expect(cam.nodeCalls).toEqual(['GetNodes']);
      const zoomOnly = await ptz(channelId, { action: 'move', zoom: 'in', durationMs: 30_000 });
      expect(zoomOnly.status).toBe(409);
      expect(zoomOnly.body.message).toMatch(/no zoom/);
      for (const body of [{ action: 'focus', direction: 'near' }, { action: 'iris', direction: 'open' }]) {
        const r = await ptz(channelId, body);
        expect(r.status, JSON.stringify(r.body)).toBe(409);
        expect(r.body.message).toMatch(/no Imaging service/);
      }
      expect(cam.imagingLog).toEqual([]);
    });

    it('a camera whose profile has no PTZ configuration answers 409 to pan/tilt/zoom orders with the reason; nothing reaches its PTZ', async () => {
      for (const body of [
        { action: 'move', direction: 'left' },
        { action: 'preset', operation: 'call', preset: 1 },
        { action: 'home' },
        { action: 'relative', pan: 0.1 },
      ]) {
        const r = await ptz(channelOf('fixed'), body);
        expect(r.status, JSON.stringify(body)).toBe(409);
        expect(r.body.message).toMatch(/no PTZ configuration/);
      }
      expect((await h.api(`/api/channels/${channelOf('fixed')}/ptz/presets`)).status).toBe(409);
      expect(cams.fixed.ptzLog).toEqual([]);
      // Refused before the PTZ service took a lease on it.
      expect((await h.api<{ lease: unknown }>(`/api/channels/${channelOf('fixed')}/ptz/lease`)).body.lease).toBeNull();
      // The channel row says so too (GB PTZType 3 = fixed), which the wall uses to hide its PTZ pad.
      expect((await h.api<{ ptzType: number }>(`/api/channels/${channelOf('fixed')}`)).body.ptzType).toBe(3);
      expect((await h.api<{ ptzType: number }>(`/api/channels/${channelOf('ptz')}`)).body.ptzType).toBe(1);
    });

    it('the same camera (no PTZ configuration) still focuses and sets its iris: Imaging is a service of its own', async () => {
      const cam = cams.fixed;
      const channelId = channelOf('fixed');
      const focus = await ptz(channelId, { action: 'focus', direction: 'far', speed: 255, durationMs: 30_000 });
      expect(focus.status, JSON.stringify(focus.body)).toBe(200);
      expect(focus.body.sent).toEqual([expect.stringMatching(/^Imaging\.Move\(source=[^,]+,focus=[\d.]+\)$/)]);
      expect(focus.body.lease).toMatchObject({ holder: expect.any(String) });
      // The stop halts the focus (Imaging Stop) and sends nothing to a PTZ service the camera does not have.
      const stop = await ptz(channelId, { action: 'stop' });
      expect(stop.status, JSON.stringify(stop.body)).toBe(200);
      expect(stop.body.sent).toEqual([expect.stringMatching(/^Imaging\.Stop\(/)]);
      const iris = await ptz(channelId, { action: 'iris', direction: 'open' });
      expect(iris.status, JSON.stringify(iris.body)).toBe(200);
      expect(iris.body.sent).toEqual([expect.stringMatching(/^Imaging\.SetImagingSettings\(.*exposure=MANUAL,iris=/)]);
      expect(cam.imagingLog.map((c) => c.op)).toEqual(['GetMoveOptions', 'Move', 'Stop', 'GetOptions', 'GetImagingSettings', 'SetImagingSettings']);
      expect(cam.ptzLog).toEqual([]);
      await h.api(`/api/channels/${channelId}/ptz/lease`, { method: 'DELETE' });
    });
  });

  describe('events → alarms', () => {
    it('motion, tamper, video loss and digital input become alarms with GB method/type, on the WebSocket and in /api/alarms', async () => {
      const cam = cams.ptz;
      const device = devices.ptz!;
      await pulling(cam);
      cam.raise('motion');
      const pushed = await h.waitFor(() => messages.find((m) => m.type === 'alarm' && m.data.deviceId === device.id), 10_000, 'the alarm on the WebSocket');
      expect(pushed.data).toMatchObject({ deviceId: device.id, sourceId: channelOf('ptz'), method: 5, type: 2, priority: 3 });
      expect(String(pushed.data.description)).toMatch(/motion detected \(RuleEngine\/CellMotionDetector\/Motion, vsc_1\)/);
      cam.raise('tamper');
      cam.raise('video-loss');
      cam.raise('digital-input');
      const list = await h.waitFor(async () => {
        const page = await alarmsOf(device.id);
        return page.total >= 4 ? page : null;
      }, 10_000, 'four stored alarms');
      const byMethodType = list.items.map((a) => [a.sourceId, a.method, a.type, a.raw.Topic]).sort();
      expect(byMethodType).toEqual(
        [
          [channelOf('ptz'), 2, 1, 'VideoSource/SignalLoss'],
          [channelOf('ptz'), 2, null, 'Device/Trigger/DigitalInput'],
          [channelOf('ptz'), 5, 11, 'VideoSource/GlobalSceneChange/ImagingService'],
          [channelOf('ptz'), 5, 2, 'RuleEngine/CellMotionDetector/Motion'],
        ].sort(),
      );
      const motion = list.items.find((a) => a.type === 2)!;
      const ack = await h.api<AlarmEvent>(`/api/alarms/${motion.id}/ack`, { body: { note: 'checked on the wall' } });
      expect(ack.status).toBe(200);
      expect(ack.body).toMatchObject({ acknowledgedBy: expect.any(String), note: 'checked on the wall' });
    });

    it('only rising edges raise an alarm: a repeated "motion true" does not, "false" then "true" does', async () => {
      const cam = cams.ptz;
      const device = devices.ptz!;
      const before = (await alarmsOf(device.id)).items.filter((a) => a.type === 2).length;
      cam.raise('motion', true); // still active: no edge
      cam.raise('motion', false);
      cam.raise('motion', true);
      const motions = await h.waitFor(async () => {
        const n = (await alarmsOf(device.id)).items.filter((a) => a.type === 2).length;
        return n > before ? n : null;
      }, 10_000, 'the second motion alarm');
      expect(motions).toBe(before + 1);
      const metrics = (await h.api<string>('/metrics')).body;
      expect(metrics).toMatch(/se_device_events_total\{kind="motion",raised="false"\} 2/);
    });

    it('PullMessages, Renew and Unsubscribe carry WS-Addressing To/Action/MessageID; the subscription is renewed', async () => {
      const cam = cams.ptz;
      await h.waitFor(() => calls(cam, 'Renew', 'ok').length > 0, 10_000, 'a Renew');
      const pull = calls(cam, 'PullMessages', 'ok').at(-1)!;
      expect(pull.to).toBe(`http://127.0.0.1:${cam.port}/onvif/subscription/${pull.subscription}`);
      expect(pull.action).toBe(PULL_ACTION);
      expect(pull.messageId).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      const renew = calls(cam, 'Renew', 'ok')[0]!;
      expect(renew.action).toBe('http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest');
      expect(renew.to).toBe(pull.to);
      // Renewed, not re-created.
      expect(calls(cam, 'CreatePullPointSubscription')).toHaveLength(1);
    });

    it('a subscription address announced on an unreachable host is reached at the camera\'s address; a rejected Renew re-creates the subscription without a storm', async () => {
      const cam = cams.nat;
      await pulling(cam);
      const first = calls(cam, 'PullMessages', 'ok')[0]!;
      // The camera announced http://192.0.2.10:<port>/onvif/subscription/…; we reached it at 127.0.0.1, same port and path.
      expect(first.host).toBe(`127.0.0.1:${cam.port}`);
      expect(first.to).toBe(`http://127.0.0.1:${cam.port}/onvif/subscription/${first.subscription}`);
      cam.rejectRenew = true;
      const rejectedAt = Date.now();
      await h.waitFor(() => calls(cam, 'Renew', 'ter:ActionNotSupported').length >= 2, 15_000, 'two rejected Renews');
      const created = calls(cam, 'CreatePullPointSubscription').filter((c) => c.at >= rejectedAt);
      // One new subscription per rejected Renew (every half lifetime = 2 s), the old one cancelled: no storm.
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(created.length).toBeLessThanOrEqual(calls(cam, 'Renew', 'ter:ActionNotSupported').length);
      expect(calls(cam, 'Unsubscribe', 'ok').length).toBeGreaterThanOrEqual(1);
      expect(cam.stats.subscriptions).toBeLessThanOrEqual(1);
      await pulling(cam, Date.now());
      cam.raise('video-loss');
      const alarm = await h.waitFor(async () => (await alarmsOf(devices.nat!.id)).items[0], 10_000, 'the alarm after re-subscribing');
      expect(alarm).toMatchObject({ sourceId: channelOf('nat'), method: 2, type: 1 });
    });

    it('after a camera reboot the subscription is re-created with backoff while the camera refuses, and events flow again', async () => {
      const cam = cams.reboot;
      await pulling(cam);
      cam.rejectSubscribe = true;
      const rebootAt = Date.now();
      cam.reboot();
      await h.waitFor(() => calls(cam, 'CreatePullPointSubscription', 'ter:OutofResources').length >= 2, 15_000, 'refused re-subscriptions');
      // Backoff 1 s, 2 s, 4 s …: in the 5 s after the reboot at most 3 attempts (a storm would be hundreds).
      await new Promise((r) => setTimeout(r, Math.max(0, rebootAt + 5_000 - Date.now())));
      const attempts = calls(cam, 'CreatePullPointSubscription').filter((c) => c.at >= rebootAt && c.at < rebootAt + 5_000);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts.length).toBeLessThanOrEqual(3);
      // The wait grows: the last two attempts are at least the second backoff step (2 s − 20 % jitter) apart.
      expect(attempts.at(-1)!.at - attempts.at(-2)!.at).toBeGreaterThanOrEqual(1_500);
      cam.rejectSubscribe = false;
      await h.waitFor(() => calls(cam, 'CreatePullPointSubscription', 'ok').length >= 2, 20_000, 'the subscription re-created');
      await pulling(cam, Date.now());
      cam.raise('digital-input');
      const alarm = await h.waitFor(async () => (await alarmsOf(devices.reboot!.id)).items[0], 10_000, 'the alarm after the reboot');
      expect(alarm).toMatchObject({ sourceId: channelOf('reboot'), method: 2, type: null });
      expect((await h.api<string>('/metrics')).body).toMatch(/se_onvif_event_feeds_total\{event="failed",reason="soap-fault"\} [1-9]/);
    });

    it('a password changed on the camera stops the feed (auth-failed) instead of retrying it; new credentials start it again', async () => {
      const cam = cams.auth;
      const device = devices.auth!;
      await pulling(cam);
      cam.setPassword('changed-on-the-camera');
      await h.waitFor(async () => (await h.api<Device>(`/api/devices/${device.id}`)).body.offlineReason === 'auth-failed', 15_000, 'auth-failed');
      const failuresThen = cam.stats.authFailures;
      const subscribesThen = cam.eventLog.length;
      // The poller retries a refused device only every 10 intervals (20 s here) and the feed not at all.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(cam.stats.authFailures - failuresThen).toBeLessThanOrEqual(1);
      expect(cam.eventLog.length).toBe(subscribesThen);
      const patched = await h.api<AddedDevice>(`/api/devices/${device.id}`, { method: 'PATCH', body: { password: 'changed-on-the-camera' } });
      expect(patched.status).toBe(200);
      expect(patched.body.status).toBe('online');
      await pulling(cam, Date.now());
      cam.raise('motion');
      await h.waitFor(async () => (await alarmsOf(device.id)).total === 1, 10_000, 'the alarm with the new credentials');
    });

    it('deleting a device unsubscribes its feed on the camera', async () => {
      const cam = cams.ptz;
      const r = await h.api(`/api/devices/${devices.ptz!.id}`, { method: 'DELETE' });
      expect(r.status).toBe(200);
      expect(calls(cam, 'Unsubscribe', 'ok')).toHaveLength(1);
      expect(cam.stats.subscriptions).toBe(0);
    });

    it('stopping the gateway unsubscribes every feed', async () => {
      await pulling(cams.reboot, Date.now());
      stopped = true;
      await h.stop();
      for (const cam of [cams.nat, cams.reboot, cams.auth]) {
        expect(cam.stats.subscriptions, cam.info.name).toBe(0);
        expect(cam.eventLog.at(-1)).toMatchObject({ op: 'Unsubscribe', outcome: 'ok' });
      }
    });
  });
});
