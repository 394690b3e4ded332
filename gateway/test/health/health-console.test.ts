/**
 * The health console against a real gateway and simulated devices (real SIP/RTP peers): status with a reason
 * (healthy, stream failing, maintenance, device offline for the device and its NVR channels), keepalive
 * jitter, probes, the offline list sorted and as CSV, the summary against /api/stats and the channel list,
 * and "yesterday" from a stored snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet, type SimDeviceInfo } from '../../src/sim/index.js';
import type { Device, Page } from '../../src/domain/model.js';
import type { GatewayStats, TreeNodeView } from '../../src/domain/services.js';
import { hashPassword } from '../../src/domain/auth/auth-service.js';
import { SNAPSHOT_COLLECTION, type HealthSnapshotRecord } from '../../src/domain/health/snapshots.js';
import type { ChannelHealth, ChannelHealthDetail, HealthFigures, HealthSummary, HealthSummaryNode, ProbeResult } from '../../src/domain/health/types.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const PASSWORD = 'health-pass';

async function tokenFor(h: Harness, username: string, role: 'viewer' | 'maintainer'): Promise<string> {
  await h.gateway.store.upsertUser({ username, passwordHash: await hashPassword(`${username}-pw-1`), role, createdAt: Date.now() });
  const login = await h.api<{ token: string }>('/api/auth/login', { body: { username, password: `${username}-pw-1` }, token: null });
  expect(login.status).toBe(200);
  return login.body.token;
}

describe('health console', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  /** One IPC that answers INVITE 10 s late: every open fails at the invite step, while it stays online. */
  let slow: DeviceFleet;
  let ipcs: SimDeviceInfo[];
  let nvr: SimDeviceInfo;
  let viewerToken: string;
  let maintainerToken: string;

  const health = (path: string, token?: string) => h.api<Page<ChannelHealth>>(`/api/health/channels${path}`, token ? { token } : {});
  const detail = (id: string) => h.api<ChannelHealthDetail>(`/api/health/channels/${id}`);

  beforeAll(async () => {
    h = await startHarness({
      overrides: {
        sip: { password: PASSWORD, keepaliveIntervalSec: 1, keepaliveMissCount: 3 },
        media: { host: '127.0.0.1', ports: '31300-31349', inviteTimeoutSec: 2 },
        health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0 },
      },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 4, nvrEvery: 4, channelsPerNvr: 2, keepaliveSec: 1 });
    slow = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 1, keepaliveSec: 1, inviteDelayMs: 10_000, idPrefix: '44030700', firstSerial: 800 });
    await Promise.all([fleet.start(), slow.start(), fleet.prepareMedia({ personalised: false, profiles: ['sub'] })]);
    await Promise.all([fleet.waitForRegistered(4, 30_000), slow.waitForRegistered(1, 30_000)]);
    ipcs = fleet.devices.filter((d) => d.kind === 'ipc');
    nvr = fleet.devices.find((d) => d.kind === 'nvr')!;
    // 3 IPCs + 2 NVR channels + the slow IPC.
    await h.waitFor(async () => (await h.api<GatewayStats>('/api/stats')).body.channels.online === 6, 20_000, 'catalogs');
    [viewerToken, maintainerToken] = await Promise.all([tokenFor(h, 'viewer1', 'viewer'), tokenFor(h, 'maint1', 'maintainer')]);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([fleet?.stop({ unregister: false }), slow?.stop({ unregister: false })]);
    await h?.stop();
  });

  it('a working channel is healthy since its device came online; keepalives arrive about every second with little jitter', async () => {
    const channelId = ipcs[0].channelIds[0];
    const device = (await h.api<Device>(`/api/devices/${ipcs[0].id}`)).body;
    const r = await detail(channelId);
    expect(r.status).toBe(200);
    expect(r.body.health).toMatchObject({ channelId, deviceId: ipcs[0].id, status: 'healthy', since: device.statusChangedAt, episodes24h: 0, lastError: null });
    const keepalive = await h.waitFor(async () => {
      const k = (await detail(channelId)).body.keepalive;
      return k.samples.length >= 4 ? k : null;
    }, 15_000, 'keepalive samples');
    expect(keepalive.expectedIntervalSec).toBe(1);
    // Mean and jitter (standard deviation) are the samples' own figures; how regular the simulator's timers
    // are on a loaded machine is not this test's business (the bound is loose: one interval, not milliseconds).
    const intervals = keepalive.samples.map((s) => s.intervalMs);
    const mean = intervals.reduce((a, b) => a + b, 0) / intervals.length;
    const deviation = Math.sqrt(intervals.reduce((a, v) => a + (v - mean) ** 2, 0) / intervals.length);
    expect(keepalive.meanMs).toBe(Math.round(mean));
    expect(keepalive.jitterMs).toBe(Math.round(deviation));
    expect(keepalive.meanMs).toBeGreaterThan(500);
    expect(keepalive.meanMs).toBeLessThan(3000);
    for (let i = 1; i < keepalive.samples.length; i++) {
      expect(keepalive.samples[i].at - keepalive.samples[i - 1].at).toBe(keepalive.samples[i].intervalMs);
    }
    const registrations = await h.waitFor(async () => {
      const d = (await detail(channelId)).body;
      return d.registrations.length > 0 ? d.registrations : null;
    }, 10_000, 'registration history');
    expect(registrations[0]).toMatchObject({ subject: 'device', subjectId: ipcs[0].id, status: 'online', reason: 'registered' });
  });

  it('a probe opens the stream, waits for the first frame, releases it and counts the success', async () => {
    const channelId = ipcs[1].channelIds[0];
    const r = await h.api<ProbeResult>(`/api/health/channels/${channelId}/probe`, { body: {} });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ ok: true, reused: false });
    expect(r.body.timeToFirstFrameMs).toBeGreaterThan(0);
    const d = (await detail(channelId)).body;
    expect(d.stream).toMatchObject({ consecutiveSuccesses: 1, consecutiveFailures: 0, probes: { ok: 1, failed: 0 } });
    expect(d.stream.last).toMatchObject({ stream: 'sub', codec: 'h264' });
    expect(d.health.status).toBe('healthy');
    // Released: no viewer left on it.
    const streams = await h.api<{ items: Array<{ channelId: string; viewers: number }> }>('/api/streams');
    for (const s of streams.body.items.filter((s) => s.channelId === channelId)) expect(s.viewers).toBe(0);
  });

  it('failed opens make a channel "stream failing", with the step and message, and it is not intact', async () => {
    const channelId = slow.devices[0].channelIds[0];
    const before = (await h.api<HealthSummary>('/api/health/summary')).body.overall;
    const probe = await h.api<ProbeResult>(`/api/health/channels/${channelId}/probe`, { body: {} });
    expect(probe.body).toMatchObject({ ok: false, error: { step: 'invite' } });
    const d = (await detail(channelId)).body;
    expect(d.health).toMatchObject({ status: 'stream-failing', lastError: expect.stringMatching(/^invite: /) });
    expect(d.health.reason).toMatch(/1 failed stream open in a row; last: invite: /);
    expect(d.stream).toMatchObject({ consecutiveFailures: 1, probes: { ok: 0, failed: 1 }, recentFailures: [expect.objectContaining({ step: 'invite' })] });
    const after = (await h.api<HealthSummary>('/api/health/summary')).body.overall;
    expect(after.intact.intact).toBe(before.intact.intact - 1);
    expect(after.intact.total).toBe(before.intact.total);
    const list = await health('?status=stream-failing');
    expect(list.body.items.map((c) => c.channelId)).toEqual([channelId]);
  });

  it('maintenance is set by maintainers only; the channel leaves the intact-rate total', async () => {
    const channelId = ipcs[2].channelIds[0];
    const before = (await h.api<HealthSummary>('/api/health/summary')).body.overall;
    const refused = await h.api(`/api/health/channels/${channelId}/maintenance`, { method: 'PUT', body: { on: true }, token: viewerToken });
    expect(refused.status).toBe(403);
    expect((await h.api(`/api/health/summary`, { token: viewerToken })).status).toBe(200);
    const set = await h.api<ChannelHealth>(`/api/health/channels/${channelId}/maintenance`, { method: 'PUT', body: { on: true, note: '更换镜头' }, token: maintainerToken });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ status: 'maintenance', reason: expect.stringContaining('更换镜头') });
    expect(set.body.since).toBeGreaterThan(0);
    const during = (await h.api<HealthSummary>('/api/health/summary')).body.overall;
    expect(during.intact.total).toBe(before.intact.total - 1);
    expect(during.channels).toEqual(before.channels);
    expect((await detail(channelId)).body.maintenance).toMatchObject({ id: channelId, by: 'maint1', note: '更换镜头' });
    const cleared = await h.api<ChannelHealth>(`/api/health/channels/${channelId}/maintenance`, { method: 'PUT', body: { on: false }, token: maintainerToken });
    expect(cleared.body.status).toBe('healthy');
  });

  it('a device that goes silent is offline with its channels, with since, last error and an episode; the list sorts and exports CSV', async () => {
    const silent = ipcs[0];
    fleet.stopDevices([silent.id, nvr.id]);
    const offline = await h.waitFor(async () => {
      const r = await health('?status=device-offline');
      return r.body.total === 3 ? r.body : null;
    }, 20_000, 'three channels device-offline');
    const nvrDevice = (await h.api<Device>(`/api/devices/${nvr.id}`)).body;
    expect(nvrDevice.status).toBe('offline');
    for (const channelId of nvr.channelIds) {
      // A channel is offline whenever its device is: never "online" under a dead NVR.
      const row = offline.items.find((c) => c.channelId === channelId)!;
      // "Since" is the last sign of life (its last keepalive), a keepalive timeout before the gateway noticed.
      const lastSeen = Math.max(nvrDevice.lastKeepaliveAt ?? 0, nvrDevice.registeredAt ?? 0);
      expect(row).toMatchObject({ status: 'device-offline', deviceId: nvr.id, since: lastSeen, lastSeenAt: lastSeen, detectedAt: nvrDevice.statusChangedAt, lastError: 'keepalive-timeout', episodes24h: 1 });
      expect(row.detectedAt! - row.lastSeenAt!).toBeGreaterThan(0);
      expect(row.reasonCode).toEqual({ code: 'device-offline', params: { deviceId: nvr.id, why: { code: 'offline.keepalive-timeout' } } });
      expect(row.lastErrorCode).toEqual({ code: 'offline.keepalive-timeout' });
      expect(row.reason).toMatch(/no keepalive/);
      expect(row.durationSec).toBeGreaterThanOrEqual(0);
    }
    const ids = [silent.channelIds[0], ...nvr.channelIds];
    const desc = await health('?status=device-offline&sort=channelId&order=desc');
    expect(desc.body.items.map((c) => c.channelId)).toEqual([...ids].sort().reverse());
    const byDevice = await health('?status=device-offline,channel-offline&sort=deviceId&order=asc&limit=2');
    expect(byDevice.body.total).toBe(3);
    expect(byDevice.body.items.map((c) => c.deviceId)).toEqual([silent.id, nvr.id, nvr.id].sort().slice(0, 2));
    const paged = await health('?status=device-offline&sort=channelId&offset=2&limit=5');
    expect(paged.body.items.map((c) => c.channelId)).toEqual([[...ids].sort()[2]]);
    expect((await health('?status=device-offline&region=440305')).body.total).toBe(3);
    expect((await health('?status=device-offline&region=110101')).body.total).toBe(0);
    expect((await health(`?q=${nvr.id}`)).body.items.map((c) => c.channelId).sort()).toEqual([...nvr.channelIds].sort());

    // Rolled up by device: the NVR down is one problem with its channels inside; the silent IPC stays one row.
    const rolled = (await health('?status=device-offline&rollup=device&sort=deviceId')).body;
    expect(rolled.total).toBe(2);
    const nvrRow = rolled.items.find((r) => r.deviceId === nvr.id)!;
    expect(nvrRow.channels?.map((c) => c.channelId)).toEqual([...nvr.channelIds].sort());
    expect(nvrRow.name).toBe(nvrDevice.name || nvr.id);
    expect(rolled.items.find((r) => r.deviceId === silent.id)?.channels).toBeUndefined();

    const res = await fetch(`${h.gateway.httpUrl}/api/health/channels?status=device-offline&sort=channelId&format=csv`, {
      headers: { authorization: `Bearer ${(h.config.http.apiTokens[0])}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="channel-health-\d{8}-\d{4}\.csv"$/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^通道编码,通道名称,设备编码/);
    expect(lines.slice(1).map((l) => l.split(',')[0].trim())).toEqual([...ids].sort());
    expect(lines[1]).toContain('设备离线');
  });

  it('the summary agrees with /api/stats and the channel list, overall and per region', async () => {
    // Compare once states are stable (the offline devices above have settled, and the store, which the channel
    // list reads, has the status changes: it is written behind the in-memory state).
    const { summary, stats, onlineChannels } = await h.waitFor(async () => {
      const s = (await h.api<HealthSummary>('/api/health/summary?groupBy=region')).body;
      const st = (await h.api<GatewayStats>('/api/stats')).body;
      const online = (await h.api<Page<unknown>>('/api/channels?kind=channel&status=online&limit=1')).body.total;
      const agree = s.overall.channels.online === st.channels.online && s.overall.devices.online === st.devices.online && s.overall.channels.online === online;
      return agree ? { summary: s, stats: st, onlineChannels: online } : null;
    }, 10_000, 'summary, stats and the channel list to agree');
    expect(summary.overall.devices).toEqual(stats.devices);
    expect(summary.overall.channels).toEqual(stats.channels);
    const allChannels = await h.api<Page<unknown>>('/api/channels?kind=channel&limit=1');
    expect(summary.overall.channels.online).toBe(onlineChannels);
    expect(summary.overall.channels.total).toBe(allChannels.body.total);
    // 6 channels, 3 offline with their devices, 1 stream failing: 2 intact of 6.
    expect(summary.overall.intact).toEqual({ intact: 2, total: 6, rate: 0.3333 });
    expect(summary.overall.devices).toMatchObject({ online: 3, total: 5 });
    expect(summary.targets).toEqual({ onlineRate: 0.98, intactRate: 0.95 });
    // The summary lists one level of the region tree (the top, or the nodes under `parent`): walk every level.
    const everyNode: HealthSummaryNode[] = [];
    const walk = async (parent?: string): Promise<void> => {
      const level = (await h.api<HealthSummary>(`/api/health/summary?groupBy=region${parent ? `&parent=${parent}` : ''}`)).body.nodes;
      for (const node of level) {
        everyNode.push(node);
        if (node.hasChildren) await walk(node.id);
      }
    };
    await walk();
    expect(everyNode.length).toBeGreaterThan(summary.nodes.length);
    // /api/stats lists the top level, with the same ids, names, order and figures.
    expect(stats.regions.map((r) => ({ id: r.region, name: r.name, devices: r.devices, channels: r.channels }))).toEqual(
      summary.nodes.map((n) => ({ id: n.id, name: n.name, devices: n.figures.devices, channels: n.figures.channels })),
    );
    for (const region of stats.regions) expect(everyNode.find((n) => n.id === region.region)?.kind).toBe('region');
  });

  it("the summary's nodes are the region and group trees' top-level nodes, with the same names and counts", async () => {
    for (const view of ['region', 'group'] as const) {
      const summary = (await h.api<HealthSummary>(`/api/health/summary?groupBy=${view}`)).body;
      const tree = await h.api<{ total: number; items: TreeNodeView[] }>(`/api/tree?view=${view}`);
      expect(tree.status).toBe(200);
      expect(summary.nodes.length, view).toBeGreaterThan(0);
      expect(summary.nodes.map((n) => ({ id: n.id, name: n.name, online: n.figures.channels.online, total: n.figures.channels.total })), view).toEqual(
        tree.body.items.map((n) => ({ id: n.id, name: n.name, online: n.online, total: n.total })),
      );
    }
    expect((await h.api('/api/health/summary?groupBy=region&parent=4499')).status).toBe(404);
  });

  it('compares with the snapshot nearest 24 h ago (within an hour), per region too', async () => {
    const now = Date.now();
    const snapshots = h.gateway.store.records.collection<HealthSnapshotRecord>(SNAPSHOT_COLLECTION, ['at', 'hasNodes']);
    const figures = (online: number): HealthFigures => ({
      devices: { online, total: 5, rate: online / 5 },
      channels: { online: online + 2, total: 7, rate: (online + 2) / 7 },
      intact: { intact: online, total: 7, rate: online / 7 },
    });
    const nearest: HealthSnapshotRecord = {
      id: 'snap-yesterday',
      at: now - 24 * 3600_000 + 10 * 60_000,
      overall: figures(5),
      hasNodes: true,
      regions: { '440305': [4, 5, 6, 7, 5, 7] },
      groups: {},
    };
    await snapshots.putMany([
      nearest,
      { ...nearest, id: 'snap-further', at: now - 24 * 3600_000 - 50 * 60_000, overall: figures(1), regions: { '440305': [1, 5, 1, 7, 1, 7] } },
      { ...nearest, id: 'snap-too-old', at: now - 26 * 3600_000, overall: figures(2), regions: null, hasNodes: false },
    ]);
    const summary = (await h.api<HealthSummary>('/api/health/summary')).body;
    expect(summary.yesterday).toEqual(figures(5));
    expect(summary.lastWeek).toBeNull();
    const counties = (await h.api<HealthSummary>('/api/health/summary?parent=4403')).body.nodes;
    const county = counties.find((n) => n.id === '440305')!;
    expect(county.yesterday).toEqual({
      devices: { online: 4, total: 5, rate: 0.8 },
      channels: { online: 6, total: 7, rate: 0.8571 },
      intact: { intact: 5, total: 7, rate: 0.7143 },
    });
    expect(summary.nodes.find((n) => n.id === '44')?.yesterday).toBeNull();
    // A snapshot the gateway takes itself is found the same way a week later.
    await h.gateway.services.health!.snapshot(now - 7 * 24 * 3600_000);
    expect((await h.api<HealthSummary>('/api/health/summary')).body.lastWeek).toEqual(summary.overall);
  });

  it('bad input is a 400 naming the field; unknown channels are 404', async () => {
    const bad = await h.api<{ field: string }>('/api/health/channels?status=offline');
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('querystring.status');
    expect((await h.api<{ field: string }>('/api/health/channels?sort=colour')).body.field).toBe('querystring.sort');
    expect((await h.api<{ field: string }>('/api/health/summary?groupBy=city')).body.field).toBe('querystring.groupBy');
    expect((await h.api('/api/health/channels/44030500001329999999')).status).toBe(404);
    expect((await h.api('/api/health/channels/44030500001329999999/probe', { body: {} })).status).toBe(404);
    const maint = await h.api<{ field: string }>(`/api/health/channels/${ipcs[1].channelIds[0]}/maintenance`, { method: 'PUT', body: { note: 'x' } });
    expect(maint.body.field).toBe('body.on');
  });
});
