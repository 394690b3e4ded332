/**
 * The API against a real gateway and real simulated devices: login, filters and paging, PTZ reaching the
 * device as the right PTZCmd, alarms and catalog progress over the WebSocket, events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DeviceFleet } from '../../src/sim/index.js';
import type { AlarmEvent, Device, Page } from '../../src/domain/model.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

interface WsMessage {
  type: string;
  data: Record<string, unknown>;
}

function openWs(h: Harness, token: string): Promise<{ ws: WebSocket; messages: WsMessage[] }> {
  const url = `${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  const messages: WsMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as WsMessage));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

describe('API end to end', () => {
  let h: Harness;
  let fleet: DeviceFleet;

  beforeAll(async () => {
    h = await startHarness({ overrides: { sip: { password: 'api-pass', keepaliveIntervalSec: 2 } } });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'api-pass', devices: 30, nvrEvery: 10, channelsPerNvr: 2, keepaliveSec: 2 });
    await fleet.start();
    await fleet.waitForRegistered(30, 30_000);
    await h.waitFor(async () => (await h.api<Page<Device>>('/api/devices?status=online')).body.total === 30, 20_000, 'online');
  });

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('login gives a session token that the API accepts; logout revokes it', async () => {
    const bad = await h.api('/api/auth/login', { body: { username: 'admin', password: 'nope' }, token: null });
    expect(bad.status).toBe(401);
    const ok = await h.api<{ token: string; user: { role: string } }>('/api/auth/login', { body: { username: 'admin', password: 'admin-password-1' }, token: null });
    expect(ok.status).toBe(200);
    expect(ok.body.user.role).toBe('admin');
    const list = await h.api<Page<Device>>('/api/devices?limit=5', { token: ok.body.token });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(5);
    expect(list.body.total).toBe(30);
    await h.api('/api/auth/logout', { method: 'POST', body: {}, token: ok.body.token });
    expect((await h.api('/api/devices', { token: ok.body.token })).status).toBe(401);
    expect((await h.api('/api/devices', { token: null })).status).toBe(401);
  });

  it('pages, filters by text and region, and finds by ID prefix', async () => {
    const p1 = await h.api<Page<Device>>('/api/devices?limit=10&offset=0');
    const p2 = await h.api<Page<Device>>('/api/devices?limit=10&offset=10');
    expect(p1.body.total).toBe(30);
    expect(new Set([...p1.body.items, ...p2.body.items].map((d) => d.id)).size).toBe(20);
    const byRegion = await h.api<Page<Device>>('/api/devices?region=440305');
    expect(byRegion.body.total).toBe(30);
    const none = await h.api<Page<Device>>('/api/devices?region=110101');
    expect(none.body.total).toBe(0);
    const target = fleet.devices[7];
    const byId = await h.api<Page<Device>>(`/api/devices?q=${target.id.slice(0, 18)}`);
    expect(byId.body.items.map((d) => d.id)).toContain(target.id);
    const named = await h.waitFor(async () => {
      const r = await h.api<Device>(`/api/devices/${target.id}`);
      return r.body.name ? r.body : null;
    }, 15_000, 'DeviceInfo name');
    const byName = await h.api<Page<Device>>(`/api/devices?q=${encodeURIComponent(named.name)}`);
    expect(byName.body.items.map((d) => d.id)).toContain(target.id);
  });

  it('a PTZ request reaches the device as the right PTZCmd, and is stopped automatically', async () => {
    const ipc = fleet.devices.find((d) => d.kind === 'ipc')!;
    const channelId = ipc.channelIds[0];
    const r = await h.api<{ sent: string[]; autoStopAfterMs: number }>(`/api/channels/${channelId}/ptz`, {
      body: { action: 'move', direction: 'up-right', speed: 128, durationMs: 300 },
    });
    expect(r.status).toBe(200);
    expect(r.body.sent).toEqual(['A50F0109808000BE']);
    const log = await h.waitFor(() => (fleet.ptzLog(channelId).length >= 2 ? fleet.ptzLog(channelId) : null), 10_000, 'move and stop at the device');
    expect(log.map((e) => e.hex)).toEqual(['A50F0109808000BE', 'A50F0100000000B5']);
    expect(log[0].command).toMatchObject({ kind: 'move', pan: 'right', tilt: 'up' });
    const preset = await h.api(`/api/channels/${channelId}/ptz`, { body: { action: 'preset', operation: 'call', preset: 3 } });
    expect(preset.status).toBe(200);
    await h.waitFor(() => fleet.ptzLog(channelId).some((e) => e.command?.kind === 'preset'), 10_000, 'preset at the device');
  });

  it('alarms arrive on the WebSocket and in /api/alarms, and can be acknowledged', async () => {
    const { ws, messages } = await openWs(h, TEST_TOKEN);
    try {
      const ipc = fleet.devices.find((d) => d.kind === 'ipc')!;
      const status = await fleet.raiseAlarm(ipc.id, { priority: 1, method: 5, type: 2, description: '区域入侵' });
      expect(status).toBe(200);
      const msg = await h.waitFor(() => messages.find((m) => m.type === 'alarm'), 10_000, 'alarm on the WebSocket');
      expect(msg.data).toMatchObject({ deviceId: ipc.id, priority: 1, method: 5, type: 2, description: '区域入侵' });
      const list = await h.waitFor(async () => {
        const r = await h.api<Page<AlarmEvent>>(`/api/alarms?deviceId=${ipc.id}`);
        return r.body.total === 1 ? r.body : null;
      }, 10_000, 'stored alarm');
      const ack = await h.api<AlarmEvent>(`/api/alarms/${list.items[0].id}/ack`, { body: { note: '已处理' } });
      expect(ack.status).toBe(200);
      expect(ack.body).toMatchObject({ acknowledgedBy: expect.any(String), note: '已处理' });
    } finally {
      ws.close();
    }
  });

  it('a catalog re-query reports progress over the WebSocket', async () => {
    const { ws, messages } = await openWs(h, TEST_TOKEN);
    try {
      const nvr = fleet.devices.find((d) => d.kind === 'nvr')!;
      const r = await h.api(`/api/devices/${nvr.id}/catalog`, { method: 'POST', body: {} });
      expect(r.status).toBe(202);
      const done = await h.waitFor(
        () => messages.find((m) => m.type === 'catalog-progress' && m.data.deviceId === nvr.id && m.data.state === 'complete'),
        15_000,
        'catalog complete',
      );
      expect(done.data).toMatchObject({ received: 2, total: 2 });
      expect((await h.api('/api/devices/44030500001329999999/catalog', { method: 'POST', body: {} })).status).toBe(404);
    } finally {
      ws.close();
    }
  });

  it('a WebSocket without a valid token is refused', async () => {
    await expect(openWs(h, 'bad-token')).rejects.toBeTruthy();
  });

  it('OpenAPI is served at /docs', async () => {
    const r = await h.api<{ openapi: string; paths: Record<string, unknown> }>('/docs/json', { token: null });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(['/api/devices', '/api/tree', '/api/channels/{id}/ptz', '/api/stats', '/api/events']));
  });
});
