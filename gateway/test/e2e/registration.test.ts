/**
 * End to end: simulated devices (real SIP peers over UDP and TCP) register with a real gateway; what an
 * operator sees in the API and what is in the store must agree with what the devices did.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Channel, Device, Page, StatusEvent } from '../../src/domain/model.js';
import type { GatewayStats, TreeNodeView } from '../../src/domain/services.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const PASSWORD = 'e2e-pass-1';

describe.each(['sqlite', 'mongo'] as const)('registration, keepalive, catalog (%s store)', (store) => {
  let h: Harness;
  let udp: DeviceFleet;
  let tcp: DeviceFleet;

  beforeAll(async () => {
    h = await startHarness({
      store,
      overrides: { sip: { password: PASSWORD, keepaliveIntervalSec: 1, keepaliveMissCount: 3, catalogTimeoutSec: 3, queryTimeoutSec: 5 } },
    });
    udp = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 12, nvrEvery: 4, channelsPerNvr: 4, keepaliveSec: 1, idPrefix: '44030500' });
    tcp = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 4, transport: 'tcp', keepaliveSec: 1, idPrefix: '44030600', firstSerial: 500 });
    await Promise.all([udp.start(), tcp.start()]);
    await Promise.all([udp.waitForRegistered(12, 30_000), tcp.waitForRegistered(4, 30_000)]);
  });

  afterAll(async () => {
    await Promise.allSettled([udp?.stop({ unregister: false }), tcp?.stop({ unregister: false })]);
    await h?.stop();
  });

  it('every registered device is online in the API and in the store, with its transport source', async () => {
    const page = await h.waitFor(async () => {
      const r = await h.api<Page<Device>>('/api/devices?status=online&limit=100');
      // Count and page are two queries (no transactions on FerretDB/MongoDB without a replica set): while the
      // write-behind is still flushing, one can see the new statuses before the other. Wait for both.
      return r.body.total === 16 && r.body.items.length === 16 ? r.body : null;
    }, 20_000, '16 online devices');
    expect(page.items).toHaveLength(16);
    const tcpIds = new Set(tcp.devices.map((d) => d.id));
    for (const d of page.items) {
      expect(d.remoteAddress).toBe('127.0.0.1');
      expect(d.transport).toBe(tcpIds.has(d.id) ? 'tcp' : 'udp');
      expect(d.gbVersion).toBe('3.0');
      expect(d.registrationExpiresAt).toBeGreaterThan(Date.now());
    }
    const udpDevice = udp.devices[0];
    expect(page.items.find((d) => d.id === udpDevice.id)?.remotePort).toBe(udp.localPortOf(udpDevice.id));
    // The store has the same rows (after the write-behind flush).
    await h.waitFor(async () => {
      const stored = await h.gateway.store.listDevices({ status: 'online', limit: 100 });
      return stored.total === 16;
    }, 10_000, 'store rows');
  });

  it('NVR catalogs are collected over several parts and stored with their Chinese names', async () => {
    const nvr = udp.devices.find((d) => d.kind === 'nvr');
    expect(nvr).toBeDefined();
    const channels = await h.waitFor(async () => {
      const r = await h.api<Page<Channel>>(`/api/devices/${nvr!.id}/channels?limit=100`);
      // total and items are two queries (FerretDB, mid-write they can disagree): wait for both.
      return r.status === 200 && r.body.total === 4 && r.body.items.length === 4 ? r.body : null;
    }, 20_000, 'NVR channels');
    expect(channels.items.map((c) => c.id).sort()).toEqual([...nvr!.channelIds].sort());
    for (const c of channels.items) {
      expect(c.name).toMatch(/[\u4e00-\u9fff]/);
      expect(c.status).toBe('online');
      expect(c.parentIds.length).toBeGreaterThan(0);
    }
    // The channel rows are written before the device's count is updated (two writes, no transaction): wait for both.
    const device = await h.waitFor(async () => {
      const r = await h.api<Device>(`/api/devices/${nvr!.id}`);
      return r.body.channelCount === 4 ? r : null;
    }, 20_000, 'NVR channel count');
    expect(device.body.channelCount).toBe(4);
    expect(device.body.manufacturer).not.toBe('');
    // Search finds a channel by a piece of its name.
    const name = channels.items[0].name;
    const found = await h.api<Page<Channel>>(`/api/channels?q=${encodeURIComponent(name.slice(0, 3))}`);
    expect(found.body.items.some((c) => c.id === channels.items[0].id)).toBe(true);
  });

  it('tree and stats count devices and channels', async () => {
    const stats = await h.api<GatewayStats>('/api/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.devices).toMatchObject({ online: 16, total: 16, rate: 1 });
    // Per region: the region tree's top level (one province here); its counties are a level down in the health summary.
    expect(stats.body.regions.map((r) => [r.region, r.name, r.devices.total])).toEqual([['44', '广东省', 16]]);
    const counties = await h.api<{ nodes: { id: string; figures: { devices: { total: number } } }[] }>('/api/health/summary?groupBy=region&parent=4403');
    expect(counties.body.nodes.find((n) => n.id === '440305')?.figures.devices.total).toBe(12);
    expect(counties.body.nodes.find((n) => n.id === '440306')?.figures.devices.total).toBe(4);
    const root = await h.api<{ items: TreeNodeView[] }>('/api/tree');
    expect(root.status).toBe(200);
    const nvr = udp.devices.find((d) => d.kind === 'nvr')!;
    const nvrNode = await h.waitFor(async () => {
      const r = await h.api<{ items: TreeNodeView[] }>('/api/tree');
      const n = r.body.items.find((x) => x.id === nvr.id);
      return n && n.total === 4 ? n : null;
    }, 10_000, 'NVR node with 4 channels');
    expect(nvrNode).toMatchObject({ kind: 'device', online: 4, total: 4, status: 'online' });
  });

  it('devices that stop keepaliving go offline (and only they), with their channels', async () => {
    const nvr = udp.devices.find((d) => d.kind === 'nvr')!;
    const ipc = udp.devices.find((d) => d.kind === 'ipc')!;
    udp.stopKeepalive([nvr.id, ipc.id]);
    await h.waitFor(async () => {
      const r = await h.api<Page<Device>>('/api/devices?status=offline');
      return r.body.total === 2 ? r.body : null;
    }, 20_000, 'two devices offline');
    const offline = await h.api<Page<Device>>('/api/devices?status=offline');
    expect(offline.body.items.map((d) => d.id).sort()).toEqual([nvr.id, ipc.id].sort());
    for (const d of offline.body.items) expect(d.offlineReason).toBe('keepalive-timeout');
    const online = await h.api<Page<Device>>('/api/devices?status=online');
    expect(online.body.total).toBe(14);
    // A channel is offline whenever its device is.
    await h.waitFor(async () => {
      const r = await h.api<Page<Channel>>(`/api/devices/${nvr.id}/channels`);
      return r.body.items.length === 4 && r.body.items.every((c) => c.status === 'offline');
    }, 10_000, 'NVR channels offline');
    // The transition is history.
    const events = await h.waitFor(async () => {
      const r = await h.api<Page<StatusEvent>>(`/api/events?deviceId=${nvr.id}`);
      return r.body.items.some((e) => e.status === 'offline') ? r.body : null;
    }, 10_000, 'offline event');
    expect(events.items[0]).toMatchObject({ subject: 'device', status: 'offline', reason: 'keepalive-timeout' });
    // Keepalives resume: back online without a new registration.
    udp.resumeKeepalive([nvr.id, ipc.id]);
    await h.waitFor(async () => (await h.api<Page<Device>>('/api/devices?status=online')).body.total === 16, 20_000, 'back online');
  });

  it('a TCP device whose connection closes goes offline', async () => {
    const victim = tcp.devices[0];
    tcp.stopDevices([victim.id]);
    const d = await h.waitFor(async () => {
      const r = await h.api<Device>(`/api/devices/${victim.id}`);
      return r.body.status === 'offline' ? r.body : null;
    }, 20_000, 'TCP device offline');
    expect(['tcp-connection-lost', 'keepalive-timeout']).toContain(d.offlineReason);
  });
});
