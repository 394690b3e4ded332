/**
 * A restart keeps what the health console was told and what it saw: alert rules, open alerts (not fired
 * again, cleared when the channel recovers), maintenance flags, offline episodes of the last 24 h (read back
 * from the status events), and a channel its device reports OFF shows "channel offline" under an online device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Channel, Device, Page } from '../../src/domain/model.js';
import type { Alert, AlertRule, ChannelHealth, ChannelHealthDetail } from '../../src/domain/health/types.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { uniqueDatabaseName } from '../support/mongo.js';

const PASSWORD = 'restart-health';
const MINUTE = 60_000;

describe.each(['sqlite', 'mongo'] as const)('health console across a restart (%s store)', (store) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-health-restart-'));
  const mongoDatabase = uniqueDatabaseName('health_restart');
  let h: Harness | undefined;
  let fleet: DeviceFleet | undefined;

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    fleet = undefined;
    await h?.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps rules, open alerts, maintenance flags and offline episodes; shows a channel reported OFF as channel offline', async () => {
    const overrides = {
      sip: { port: 0, password: PASSWORD, keepaliveIntervalSec: 1, keepaliveMissCount: 3 },
      // No default rule: this test compares the rule list with its own one rule (the default has its own test below).
      health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0, defaultOfflineRuleMinutes: 0 },
    };
    h = await startHarness({ store, dataDir, mongoDatabase, overrides });
    const sipPort = h.gateway.sipPort;
    fleet = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 4, nvrEvery: 4, channelsPerNvr: 2, keepaliveSec: 1 });
    await fleet.start();
    await fleet.waitForRegistered(4, 30_000);
    const [down, maintained] = fleet.devices.filter((d) => d.kind === 'ipc');
    const nvr = fleet.devices.find((d) => d.kind === 'nvr')!;
    const gw = (): Harness => h as Harness;
    await gw().waitFor(async () => (await gw().api<Page<Channel>>('/api/channels?kind=channel&status=online&limit=1')).body.total === 5, 20_000, 'catalogs');

    const rule = (await gw().api<AlertRule>('/api/alert-rules', { body: { name: 'offline 1 min', kind: 'offline', offlineMinutes: 1 } })).body;
    const flagged = await gw().api<ChannelHealth>(`/api/health/channels/${maintained.channelIds[0]}/maintenance`, { method: 'PUT', body: { on: true, note: '立杆维修' } });
    expect(flagged.body.status).toBe('maintenance');
    fleet.stopDevices([down.id]);
    await gw().waitFor(async () => (await gw().api<Device>(`/api/devices/${down.id}`)).body.status === 'offline', 20_000, 'offline');
    expect(await gw().gateway.services.health!.evaluate(Date.now() + 2 * MINUTE)).toMatchObject({ fired: 1 });
    const alert = (await gw().api<Page<Alert>>('/api/alerts?state=firing')).body.items[0];
    expect(alert).toMatchObject({ ruleId: rule.id, channelId: down.channelIds[0] });
    // The NVR reports its first channel OFF (as a catalog would say Status OFF); the tree reads it at start.
    const channel = (await gw().api<Channel>(`/api/channels/${nvr.channelIds[0]}`)).body;
    await gw().gateway.store.upsertChannels([{ ...channel, reportedStatus: 'offline', status: 'offline' }]);

    await gw().stop({ keepData: true });
    h = await startHarness({ store, dataDir, mongoDatabase, overrides: { ...overrides, sip: { ...overrides.sip, port: sipPort } } });

    expect((await gw().api<Page<AlertRule>>('/api/alert-rules')).body.items).toEqual([rule]);
    expect((await gw().api<Page<Alert>>('/api/alerts?state=firing')).body.items).toEqual([alert]);
    const maintainedNow = (await gw().api<ChannelHealthDetail>(`/api/health/channels/${maintained.channelIds[0]}`)).body;
    expect(maintainedNow.health.status).toBe('maintenance');
    expect(maintainedNow.maintenance).toMatchObject({ note: '立杆维修', by: 'api-token' });
    const downNow = (await gw().api<ChannelHealthDetail>(`/api/health/channels/${down.channelIds[0]}`)).body.health;
    expect(downNow).toMatchObject({ status: 'device-offline', episodes24h: 1 });
    const reportedOff = (await gw().api<ChannelHealthDetail>(`/api/health/channels/${nvr.channelIds[0]}`)).body.health;
    expect(reportedOff).toMatchObject({ status: 'channel-offline', deviceId: nvr.id });
    expect(reportedOff.reason).toMatch(/device online, but it reports the channel offline/);
    expect((await gw().api<ChannelHealthDetail>(`/api/health/channels/${nvr.channelIds[1]}`)).body.health.status).toBe('healthy');
    const listed = (await gw().api<Page<ChannelHealth>>('/api/health/channels?status=channel-offline,device-offline,maintenance&sort=status')).body;
    expect(listed.items.map((c) => c.status)).toEqual(['device-offline', 'channel-offline', 'maintenance']);

    // The open alert is not fired again (only the channel reported OFF is new), and clears when the camera is back.
    const health = gw().gateway.services.health!;
    expect(await health.evaluate(Date.now() + 3 * MINUTE)).toMatchObject({ fired: 1, cleared: 0 });
    const firing = (await gw().api<Page<Alert>>('/api/alerts?state=firing')).body.items;
    expect(firing.map((a) => a.channelId).sort()).toEqual([down.channelIds[0], nvr.channelIds[0]].sort());
    expect(firing.find((a) => a.channelId === down.channelIds[0])?.id).toBe(alert.id);
    fleet.restartDevices([down.id]);
    await gw().waitFor(async () => (await gw().api<Device>(`/api/devices/${down.id}`)).body.status === 'online', 30_000, 'back online');
    expect(await health.evaluate(Date.now() + 4 * MINUTE)).toMatchObject({ cleared: 1 });
    expect((await gw().api<Page<Alert>>(`/api/alerts?state=cleared`)).body.items[0]).toMatchObject({ id: alert.id, clearReason: 'recovered' });
  });
});

describe('the default offline alert rule of a fresh install', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-health-default-rule-'));
  let h: Harness | undefined;

  afterAll(async () => {
    await h?.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is there on the first start, and stays deleted once a maintainer deleted it (across a restart)', async () => {
    const overrides = { sip: { port: 0 }, health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0, defaultOfflineRuleMinutes: 15 } };
    h = await startHarness({ store: 'sqlite', dataDir, overrides });
    const rules = (await h.api<Page<AlertRule>>('/api/alert-rules')).body.items;
    expect(rules).toEqual([
      expect.objectContaining({ kind: 'offline', offlineMinutes: 15, enabled: true, scope: { kind: 'all', nodeId: null }, webhookUrl: null, preset: 'default-offline', createdBy: 'system' }),
    ]);
    // A restart does not add a second one.
    await h.stop({ keepData: true });
    h = await startHarness({ store: 'sqlite', dataDir, overrides });
    expect((await h.api<Page<AlertRule>>('/api/alert-rules')).body.items.map((r) => r.id)).toEqual([rules[0]!.id]);
    // Deleted, it stays deleted.
    expect((await h.api(`/api/alert-rules/${rules[0]!.id}`, { method: 'DELETE' })).status).toBe(204);
    await h.stop({ keepData: true });
    h = await startHarness({ store: 'sqlite', dataDir, overrides });
    expect((await h.api<Page<AlertRule>>('/api/alert-rules')).body.total).toBe(0);
  });
});
