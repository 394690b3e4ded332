/**
 * The daily intact-rate report (完好率日报): made once a day after health.dailyReportTime (local time in
 * health.timeZone), kept, listed, and downloadable as print-ready HTML and CSV; its numbers are the API's
 * (GET /api/health/summary overall and at every region level).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Page } from '../../src/domain/model.js';
import { localClock, parseReportTime, type DailyReport, type DailyReportSummary } from '../../src/domain/health/daily-report.js';
import type { HealthSummary } from '../../src/domain/health/types.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const PASSWORD = 'daily-report';
const TZ = 'Asia/Shanghai';

/** Epoch ms of HH:MM today (the local date in Asia/Shanghai, UTC+8 all year). */
function todayAt(hh: number, mm: number): number {
  const [y, m, d] = localClock(Date.now(), TZ).date.split('-').map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d, hh, mm) - 8 * 3600_000;
}

describe('local clock and report time', () => {
  it('reads the local date and minutes, and HH:MM', () => {
    expect(localClock(Date.UTC(2026, 0, 1, 23, 45), TZ)).toEqual({ date: '2026-01-02', minutes: 7 * 60 + 45 });
    expect(parseReportTime('07:30')).toBe(450);
    expect(parseReportTime('')).toBeNull();
    expect(parseReportTime('24:00')).toBeNull();
  });
});

describe('daily intact-rate report', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let other: DeviceFleet;

  beforeAll(async () => {
    h = await startHarness({
      overrides: {
        sip: { password: PASSWORD, keepaliveIntervalSec: 1, keepaliveMissCount: 3 },
        health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0, dailyReportTime: '07:30', timeZone: TZ },
      },
    });
    // Two counties: 440305 (an NVR with 3 channels and an IPC) and 440306 (an IPC that goes silent).
    fleet = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 2, nvrEvery: 2, channelsPerNvr: 3, keepaliveSec: 1, idPrefix: '44030500', firstSerial: 900 });
    other = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 1, keepaliveSec: 1, idPrefix: '44030600', firstSerial: 950 });
    await Promise.all([fleet.start(), other.start()]);
    await Promise.all([fleet.waitForRegistered(2, 30_000), other.waitForRegistered(1, 30_000)]);
    await h.waitFor(async () => (await h.api<Page<unknown>>('/api/channels?kind=channel&status=online&limit=1')).body.total === 5, 20_000, 'catalogs');
    other.stopDevices([other.devices[0]!.id]);
    await h.waitFor(async () => (await h.api<HealthSummary>('/api/health/summary')).body.overall.devices.online === 2, 20_000, 'one device offline');
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([fleet?.stop({ unregister: false }), other?.stop({ unregister: false })]);
    await h?.stop();
  });

  it('is made once the configured local time has passed, once a day', async () => {
    const health = h.gateway.services.health!;
    expect(await health.reportSchedule(todayAt(7, 29))).toBeNull();
    const report = await health.reportSchedule(todayAt(7, 31));
    expect(report).toMatchObject({ trigger: 'schedule', date: localClock(Date.now(), TZ).date, timeZone: TZ });
    expect(await health.reportSchedule(todayAt(7, 45))).toBeNull();
    const list = (await h.api<Page<DailyReportSummary>>('/api/health/reports')).body;
    expect(list.total).toBe(1);
    expect(list.items[0]).toMatchObject({ id: report!.id, trigger: 'schedule', rowCount: report!.rows.length });
  });

  it("its numbers are the API's, overall and at every region level", async () => {
    // "Generate now" replaces the day's report.
    const made = await h.api<DailyReport>('/api/health/reports', { method: 'POST', body: {} });
    expect(made.status).toBe(200);
    expect(made.body.trigger).toBe('manual');
    expect((await h.api<Page<DailyReportSummary>>('/api/health/reports')).body.total).toBe(1);
    const report = (await h.api<DailyReport>(`/api/health/reports/${made.body.id}`)).body;
    const summary = (await h.api<HealthSummary>('/api/health/summary?groupBy=region')).body;
    expect(report.overall).toEqual(summary.overall);
    expect(report.overall.devices).toMatchObject({ online: 2, total: 3 });
    // Province › city › two counties.
    expect(report.rows.map((r) => [r.id, r.depth])).toEqual([['44', 0], ['4403', 1], ['440305', 2], ['440306', 2]]);
    for (const row of report.rows) {
      const level = (await h.api<HealthSummary>(`/api/health/summary?groupBy=region${row.parent ? `&parent=${row.parent}` : ''}`)).body;
      const node = level.nodes.find((n) => n.id === row.id)!;
      expect({ id: row.id, name: row.name, figures: row.figures }).toEqual({ id: node.id, name: node.name, figures: node.figures });
    }
    expect(report.rows.find((r) => r.id === '440306')!.figures.intact).toEqual({ intact: 0, total: 1, rate: 0 });
  });

  it('downloads as CSV (Excel-safe) and as print-ready HTML with the same numbers', async () => {
    const { id } = (await h.api<Page<DailyReportSummary>>('/api/health/reports')).body.items[0]!;
    const report = (await h.api<DailyReport>(`/api/health/reports/${id}`)).body;
    const token = h.config.http.apiTokens[0];
    const csvRes = await fetch(`${h.gateway.httpUrl}/api/health/reports/${id}?format=csv`, { headers: { authorization: `Bearer ${token}` } });
    expect(csvRes.status).toBe(200);
    expect(csvRes.headers.get('content-disposition')).toBe(`attachment; filename="intact-rate-${report.date}.csv"`);
    const csv = (await csvRes.text()).replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(csv[0]).toMatch(/^区划编码,区划名称,层级,设备在线,设备总数,设备在线率/);
    expect(csv[1]).toBe(`,全部,,2,3,66.67%,4,5,80.00%,4,5,80.00%,是`);
    const county = csv.find((l) => l.startsWith('\t440306,'))!;
    expect(county.split(',').slice(3)).toEqual(['0', '1', '0.00%', '0', '1', '0.00%', '0', '1', '0.00%', '是']);

    const htmlRes = await fetch(`${h.gateway.httpUrl}/api/health/reports/${id}?format=html&lang=en`, { headers: { authorization: `Bearer ${token}` } });
    expect(htmlRes.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    const html = await htmlRes.text();
    expect(html).toContain('@page { size: A4 landscape');
    expect(html).toContain(`Daily intact-rate report · ${report.date}`);
    expect(html).not.toMatch(/<script/i);
    for (const row of report.rows) {
      expect(html).toContain(`data-node-id="${row.id}"`);
    }
    expect(html).toMatch(/<tr class="overall" data-node-id=""><td[^>]*>All<\/td><td class="mono"><\/td><td class="num below" data-key="devices" data-count="2" data-total="3">66\.67%/);
    expect((await h.api(`/api/health/reports/daily-1999-01-01`)).status).toBe(404);
  });

  it('the overnight summary: went offline, still down, by township; a batch probe of the still-down list; then recovered', async () => {
    interface Overnight {
      wentOffline: number;
      recovered: number;
      stillDown: number;
      stillDownChannels: number;
      groups: { id: string; stillDown: number; recovered: number; devices: { deviceId: string; outcome: string; channelIds: string[]; wentOfflineAt: number | null; lastSeenAt: number | null }[] }[];
    }
    const down = other.devices[0]!;
    // The offline event reaches the store with the next write-queue flush, after the registry already says offline.
    await h.waitFor(async () => (await h.api<Overnight>('/api/health/overnight')).body.wentOffline >= 1, 20_000, 'offline event stored');
    const night = (await h.api<Overnight>('/api/health/overnight')).body;
    expect(night).toMatchObject({ wentOffline: 1, recovered: 0, stillDown: 1, stillDownChannels: 1 });
    expect(night.groups).toHaveLength(1);
    expect(night.groups[0]).toMatchObject({ id: '440306', stillDown: 1, recovered: 0 });
    const row = night.groups[0]!.devices[0]!;
    expect(row).toMatchObject({ deviceId: down.id, outcome: 'still-down', channelIds: down.channelIds });
    expect(row.lastSeenAt).toBeLessThan(row.wentOfflineAt!);
    // A window that ended before it went down shows nothing.
    expect((await h.api<Overnight>(`/api/health/overnight?since=${row.wentOfflineAt! - 3_600_000}&until=${row.wentOfflineAt! - 1}`)).body).toMatchObject({ wentOffline: 0, stillDown: 1 });

    // One click probes the still-down list: each result names the failing step.
    const batch = await h.api<{ items: { channelId: string; ok: boolean; error?: { step: string } }[] }>('/api/health/probe-batch', {
      body: { channelIds: [...row.channelIds, '44030600001329999999'] },
    });
    expect(batch.status).toBe(200);
    expect(batch.body.items).toEqual([
      expect.objectContaining({ channelId: down.channelIds[0], ok: false, error: expect.objectContaining({ step: 'device' }) }),
      expect.objectContaining({ channelId: '44030600001329999999', ok: false, error: expect.objectContaining({ step: 'channel' }) }),
    ]);
    expect((await h.api('/api/health/probe-batch', { body: { channelIds: [] } })).status).toBe(400);

    other.restartDevices([down.id]);
    await h.waitFor(async () => (await h.api<HealthSummary>('/api/health/summary')).body.overall.devices.online === 3, 30_000, 'back online');
    const morning = (await h.api<Overnight>('/api/health/overnight')).body;
    expect(morning).toMatchObject({ wentOffline: 1, recovered: 1, stillDown: 0, stillDownChannels: 0 });
    expect(morning.groups[0]!.devices[0]).toMatchObject({ deviceId: down.id, outcome: 'recovered' });
  });
});
