/**
 * Our subscriptions to devices (issue 11, "Subscriptions"): after reading a device's catalog the gateway
 * SUBSCRIBEs to its Alarm and MobilePosition events (policy `all` here); simulated devices that implement them
 * NOTIFY positions at the Interval we asked for (an IPC in the 2016 flat form, an NVR in the 2022 list form)
 * and send alarms as NOTIFYs in the Alarm dialog. Positions are stored, shown on the channel
 * (GET /api/channels/:id/position), kept as a track, and pushed over the WebSocket. A device that refuses
 * (489, like most IPCs) is not asked again. Everything on the wire, on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DeviceFleet } from '../../src/sim/index.js';
import type { AlarmEvent, Page } from '../../src/domain/model.js';
import type { ChannelPosition } from '../../src/domain/positions/position-service.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

describe('Alarm and MobilePosition subscriptions to devices', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let refusing: DeviceFleet;
  const subscribed: { deviceId: string; event: string }[] = [];

  beforeAll(async () => {
    h = await startHarness({
      overrides: { sip: { password: 'subs-pass', alarmSubscription: 'all', mobilePositionSubscription: 'all', mobilePositionIntervalSec: 1 } },
    });
    // An IPC and an NVR with 3 channels that implement the subscriptions, and an IPC that refuses them.
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'subs-pass', devices: 2, nvrEvery: 2, channelsPerNvr: 3, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 700, eventSubscriptions: true });
    fleet.on('subscribed', (e) => subscribed.push(e));
    refusing = new DeviceFleet({ server: h.sipTarget, password: 'subs-pass', devices: 1, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 760 });
    await Promise.all([fleet.start(), refusing.start()]);
    await Promise.all([fleet.waitForRegistered(2, 30_000), refusing.waitForRegistered(1, 30_000)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([fleet?.stop({ unregister: false }), refusing?.stop({ unregister: false })]);
    await h?.stop();
  });

  it('subscribes to Alarm and MobilePosition of the devices that implement them, each once', async () => {
    await h.waitFor(() => (subscribed.length >= 4 ? true : null), 30_000, 'four subscriptions');
    const pairs = subscribed.map((s) => `${s.deviceId}:${s.event}`).sort();
    expect(pairs).toEqual(fleet.devices.flatMap((d) => [`${d.id}:Alarm`, `${d.id}:MobilePosition`]).sort());
  }, 40_000);

  it('positions are stored and shown on each channel: the IPC (flat form) and every NVR channel (list form)', async () => {
    const channels = fleet.devices.flatMap((d) => d.channelIds);
    expect(channels.length).toBe(4);
    for (const channelId of channels) {
      const position = await h.waitFor(async () => (await h.api<{ position: ChannelPosition | null }>(`/api/channels/${channelId}/position`)).body.position, 20_000, `position of ${channelId}`);
      expect(position.longitude).toBeGreaterThan(114);
      expect(position.longitude).toBeLessThan(114.2);
      expect(position.latitude).toBeGreaterThan(22.5);
      expect(position.speed).toBe(36);
      expect(fleet.devices.some((d) => d.id === position.deviceId && d.channelIds.includes(channelId))).toBe(true);
    }
    // The refusing IPC has none (and is not an error).
    const none = await h.api<{ position: ChannelPosition | null }>(`/api/channels/${refusing.devices[0]!.id}/position`);
    expect(none.status).toBe(200);
    expect(none.body.position).toBeNull();
  }, 40_000);

  it('the track keeps every report (one a second here), and new positions arrive on the WebSocket', async () => {
    const channelId = fleet.devices[0]!.channelIds[0]!;
    const url = `${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(TEST_TOKEN)}`;
    const ws = new WebSocket(url);
    const pushed: ChannelPosition[] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; data: ChannelPosition };
      if (m.type === 'channel-position' && m.data.id === channelId) pushed.push(m.data);
    });
    try {
      await h.waitFor(() => (pushed.length >= 2 ? true : null), 20_000, 'two positions pushed');
      const start = new Date(Date.now() - 60_000).toISOString();
      const end = new Date(Date.now() + 1_000).toISOString();
      const track = await h.waitFor(async () => {
        const r = await h.api<{ total: number; items: ChannelPosition[] }>(`/api/channels/${channelId}/positions?start=${start}&end=${end}`);
        return r.body.total >= 3 ? r.body : null;
      }, 20_000, 'three track points');
      const times = track.items.map((p) => p.receivedAt);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect((await h.api(`/api/channels/${channelId}/positions?start=${end}&end=${start}`)).status).toBe(400);
    } finally {
      ws.close();
    }
    const metrics = await (await fetch(`${h.gateway.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
    expect(metrics).toMatch(/se_mobile_positions_total\{outcome="accepted"\} [1-9]/);
  }, 40_000);

  it('an alarm of a subscribed device comes as a NOTIFY in the Alarm dialog and lands in the alarm pipeline', async () => {
    const ipc = fleet.devices.find((d) => d.kind === 'ipc')!;
    const status = await fleet.raiseAlarm(ipc.id, { priority: 2, method: 5, type: 2, description: '越界侦测' });
    expect(status).toBe(200);
    const alarms = await h.waitFor(async () => {
      const r = await h.api<Page<AlarmEvent>>(`/api/alarms?deviceId=${ipc.id}`);
      return r.body.total >= 1 ? r.body : null;
    }, 10_000, 'stored alarm');
    expect(alarms.items[0]).toMatchObject({ deviceId: ipc.id, priority: 2, description: '越界侦测' });
  }, 20_000);
});
