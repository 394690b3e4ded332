/**
 * The health console as maintenance staff meet it on a bad night (issue 12, defects 3, 5, 6, 7), in a real
 * browser against a real gateway and simulated devices:
 * - an NVR going offline is one problem with its channels inside, its alerts one toast (with a counter and
 *   "dismiss all"), one group in the alert list by device and by township;
 * - "offline since" is the last sign of life, and both it and the detection time are shown;
 * - the page of an offline camera shows no stale stream figures, and its keepalive chart is drawn against the
 *   device's own interval (2 s here, where the gateway's configuration says 6 s);
 * - reasons are rendered from the catalogues: no backend English in the Chinese UI, English in the English one;
 * - the daily intact-rate report made from the console shows the API's numbers at every region level, and its
 *   CSV and print version carry them too;
 * - the morning check lists the night's offline devices by township and probes them in one click;
 * - the alarm desk filters, sounds on a new alarm, escalates an old unacknowledged one, and acknowledges in bulk.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet, type SimDeviceInfo } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';

interface ChannelHealth {
  channelId: string;
  deviceId: string;
  status: string;
  since: number | null;
  lastSeenAt: number | null;
  detectedAt: number | null;
  channels?: { channelId: string }[];
}
interface Detail {
  keepalive: { samples: unknown[]; expectedIntervalSec: number; expectedSource: string };
}
interface Figures {
  devices: { online: number; total: number };
  channels: { online: number; total: number };
  intact: { intact: number; total: number };
}
interface Summary {
  overall: Figures;
  nodes: { id: string; figures: Figures }[];
}
interface Page0<T> {
  total: number;
  items: T[];
}

const PASSWORD = 'health-ops-pass';
const MINUTE = 60_000;

/** The page's 24-hour Asia/Shanghai date and time (format.ts formatDateTime). */
const shown = (at: number): string =>
  new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(at);

describe('web: the health console on a bad night', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let nvr: SimDeviceInfo;
  let streamer: SimDeviceInfo;
  let spare: SimDeviceInfo;

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: {
        // The gateway expects a keepalive every 6 s (offline after 2 missed); the devices send one every 2 s.
        sip: { password: PASSWORD, keepaliveIntervalSec: 6, keepaliveMissCount: 2 },
        media: { host: '127.0.0.1', ports: '42700-42729' },
        // The test drives evaluation; the default offline rule of a fresh install (1 min) is the one that fires.
        health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0, defaultOfflineRuleMinutes: 1 },
      },
    });
    // Two IPCs and an NVR with four channels.
    fleet = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 3, nvrEvery: 3, channelsPerNvr: 4, keepaliveSec: 2, codec: 'h264', idPrefix: '44030500', firstSerial: 700 });
    await Promise.all([fleet.start(), fleet.prepareMedia({ personalised: false, profiles: ['sub'] })]);
    await fleet.waitForRegistered(3, 30_000);
    nvr = fleet.devices.find((d) => d.kind === 'nvr')!;
    [streamer, spare] = fleet.devices.filter((d) => d.kind === 'ipc') as [SimDeviceInfo, SimDeviceInfo];
    await h.waitFor(async () => (await h.api<Page0<unknown>>('/api/channels?kind=channel&status=online&limit=1')).body.total === 6, 30_000, 'catalogs');
    // The streaming camera: a few keepalive intervals, and a stream that played (its figures are then on record).
    await h.waitFor(async () => (await h.api<Detail>(`/api/health/channels/${streamer.channelIds[0]}`)).body.keepalive.samples.length >= 4, 30_000, 'keepalive intervals');
    const probe = await h.api<{ ok: boolean }>(`/api/health/channels/${streamer.channelIds[0]}/probe`, { body: {} });
    expect(probe.body.ok).toBe(true);
    // Then the NVR and the streaming camera go silent.
    fleet.stopDevices([nvr.id, streamer.id]);
    await h.waitFor(
      async () => (await h.api<Page0<ChannelHealth>>('/api/health/channels?status=device-offline')).body.total === 5,
      40_000,
      'the NVR and the camera read device-offline',
    );
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
  }, 180_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  const open = async (hash: string): Promise<void> => {
    await page.goto('about:blank');
    await page.goto(`${h.gateway.httpUrl}/#${hash}`);
  };
  /** The event socket is up: what the gateway pushes from now on reaches the page. */
  const socketOpen = (): Promise<void> => expect.poll(() => page.locator('[data-testid=socket-state]').getAttribute('data-state')).toBe('open');
  const text = async (selector: string): Promise<string> => ((await page.locator(selector).first().textContent()) ?? '').trim();

  it('an NVR offline is one problem with its channels inside', async () => {
    await open('/health');
    const nvrRows = page.locator(`[data-testid=health-row][data-device-id="${nvr.id}"]`);
    await nvrRows.first().waitFor();
    expect(await nvrRows.count()).toBe(1);
    const row = nvrRows.first();
    expect(await row.getAttribute('data-channel-count')).toBe('4');
    expect(await row.locator('[data-testid=health-rollup-toggle]').textContent()).toContain('4 路通道');
    // The problem count is problems, not channels: the NVR and the camera.
    expect(await page.locator('[data-testid=health-list-total]').getAttribute('data-total')).toBe('2');
    await row.locator('[data-testid=health-rollup-toggle]').click();
    const inside = page.locator('[data-testid=health-rollup-channel]');
    await expect.poll(() => inside.evaluateAll((els) => els.map((e) => e.getAttribute('data-channel-id')))).toEqual([...nvr.channelIds].sort());
    await saveScreenshot(page, 'health-ops-rollup');
  });

  it('offline since is the last sign of life; the detection time is shown too', async () => {
    const api = (await h.api<Page0<ChannelHealth>>(`/api/health/channels?q=${streamer.channelIds[0]}`)).body.items[0]!;
    expect(api.lastSeenAt).not.toBeNull();
    expect(api.since).toBe(api.lastSeenAt);
    // Noticed two missed 6-second keepalives later.
    expect(api.detectedAt! - api.lastSeenAt!).toBeGreaterThanOrEqual(6_000);
    await open('/health');
    const row = page.locator(`[data-testid=health-row][data-channel-id="${streamer.channelIds[0]}"]`);
    await row.waitFor();
    expect(await text(`[data-testid=health-row][data-channel-id="${streamer.channelIds[0]}"] [data-testid=health-since]`)).toBe(shown(api.lastSeenAt!));
    expect(await text(`[data-testid=health-row][data-channel-id="${streamer.channelIds[0]}"] [data-testid=health-detected]`)).toContain(shown(api.detectedAt!));
    // The camera page says both in words.
    await open(`/health/channels/${streamer.channelIds[0]}`);
    await page.locator('[data-testid=channel-last-seen]').waitFor();
    expect(await text('[data-testid=channel-last-seen]')).toContain(shown(api.lastSeenAt!));
    expect(await text('[data-testid=channel-detected]')).toContain(shown(api.detectedAt!));
  });

  it('reasons are in Chinese in the Chinese UI: no backend English', async () => {
    await open('/health');
    const row = page.locator(`[data-testid=health-row][data-channel-id="${streamer.channelIds[0]}"]`);
    await row.waitFor();
    expect(await row.locator('[data-testid=health-reason]').textContent()).toContain('心跳超时');
    const table = (await page.locator('[data-testid=health-table]').textContent()) ?? '';
    for (const english of ['no keepalive', 'offline:', 'keepalive-timeout', 'timeout']) expect(table).not.toContain(english);
  });

  it('the page of an offline camera shows no stale stream figures; the keepalive chart uses the device interval', async () => {
    await open(`/health/channels/${streamer.channelIds[0]}`);
    await page.locator('[data-testid=stream-panel]').waitFor();
    // It streamed before it went dark: the gateway has the figures, but they are not the present.
    expect(await page.locator('[data-testid=stream-not-playing]').count()).toBe(1);
    for (const key of ['fps', 'bitrateKbps', 'viewers', 'resolution', 'codec']) {
      expect(await text(`[data-testid=stream-${key}] [data-testid=stream-actual]`)).toBe('—');
    }
    expect(await page.locator('[data-testid=stream-grade]').getAttribute('data-grade')).toBe('unknown');
    const chart = page.locator('[data-testid=keepalive-chart]');
    await chart.waitFor();
    // The device sent every 2 s; the gateway's configuration says 6 s. The chart is against the device's.
    expect(await chart.getAttribute('data-expected-sec')).toBe('2');
    expect(await text('[data-testid=keepalive-expected]')).toContain('2 秒');
    // No keepalive is "late" against 2 s (against 6 s every one would look early, against 60 s the chart would be flat).
    expect(await chart.locator('[data-testid=keepalive-point].late').count()).toBe(0);
    await saveScreenshot(page, 'health-ops-offline-camera');
  });

  it('the alerts of one NVR are one toast with a counter, and "dismiss all" clears them', async () => {
    await open('/health');
    await page.locator('[data-testid=health-table]').waitFor();
    await socketOpen();
    // Offline for over a minute: the default rule fires for the four NVR channels and the camera.
    const report = await h.gateway.services.health!.evaluate(Date.now() + 2 * MINUTE);
    expect(report.fired).toBe(5);
    const nvrToast = page.locator(`[data-testid=health-toast][data-device-id="${nvr.id}"]`);
    await nvrToast.waitFor({ timeout: 20_000 });
    await expect.poll(() => nvrToast.getAttribute('data-count')).toBe('4');
    await expect.poll(() => page.locator('[data-testid=health-toast]').count()).toBe(2);
    expect(await nvrToast.textContent()).toContain('4 路通道');
    expect(await page.locator('[data-testid=health-toasts-count]').getAttribute('data-count')).toBe('5');
    await saveScreenshot(page, 'health-ops-toasts');
    await page.locator('[data-testid=health-toasts-dismiss-all]').click();
    await expect.poll(() => page.locator('[data-testid=health-toast]').count()).toBe(0);
  });

  it('alerts group by device and by township', async () => {
    await open('/health?tab=alerts');
    const group = page.locator(`[data-testid=alert-group][data-key="${nvr.id}"]`);
    await group.waitFor();
    expect(await group.getAttribute('data-count')).toBe('4');
    expect(await page.locator('[data-testid=alert-group]').count()).toBe(2);
    await page.locator('[data-testid=alerts-by-place]').click();
    // Every camera here is in one county: one group of five.
    await expect.poll(() => page.locator('[data-testid=alert-group]').count()).toBe(1);
    expect(await page.locator('[data-testid=alert-group]').first().getAttribute('data-count')).toBe('5');
    expect(await text('[data-testid=alert-group] [data-testid=alert-group-name]')).not.toBe('');
    await page.locator('[data-testid=alerts-by-device]').click();
    await page.locator(`[data-testid=alert-group][data-key="${nvr.id}"]`).waitFor();
    await saveScreenshot(page, 'health-ops-alert-groups');
  });

  it('the morning check lists the night by township, probes every channel still down in one click, and takes a picture of each', async () => {
    // A third camera drops out and comes back: it is in the night's list as recovered.
    fleet.stopDevices([spare.id]);
    await h.waitFor(async () => (await h.api<{ status: string }>(`/api/devices/${spare.id}`)).body.status === 'offline', 40_000, 'the spare camera offline');
    fleet.restartDevices([spare.id]);
    await h.waitFor(async () => (await h.api<{ status: string }>(`/api/devices/${spare.id}`)).body.status === 'online', 40_000, 'the spare camera back');
    await open('/health?tab=reports');
    const overnight = page.locator('[data-testid=overnight]');
    await overnight.locator('[data-testid=overnight-device]').first().waitFor();
    expect(await overnight.locator('[data-testid=overnight-went-offline]').getAttribute('data-count')).toBe('3');
    expect(await overnight.locator('[data-testid=overnight-recovered]').getAttribute('data-count')).toBe('1');
    expect(await overnight.locator('[data-testid=overnight-still-down]').getAttribute('data-count')).toBe('2');
    expect(await overnight.locator('[data-testid=overnight-still-down]').textContent()).toContain('5 路通道');
    // One county, three devices inside (the NVR counted once, with its channels); still down first.
    expect(await overnight.locator('[data-testid=overnight-group]').count()).toBe(1);
    const devices = await overnight.locator('[data-testid=overnight-device]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-device-id')}:${e.getAttribute('data-outcome')}`));
    expect(devices.slice(0, 2).sort()).toEqual([`${nvr.id}:still-down`, `${streamer.id}:still-down`].sort());
    expect(devices[2]).toBe(`${spare.id}:recovered`);
    await overnight.locator('[data-testid=overnight-probe]').click();
    const nvrProbe = overnight.locator(`[data-testid=overnight-device][data-device-id="${nvr.id}"] [data-testid=overnight-probe-result]`);
    await expect.poll(() => nvrProbe.textContent(), { timeout: 30_000 }).toContain('0/4');
    expect(await nvrProbe.textContent()).toContain('设备状态');
    // One snapshot per device of the night: the recovered camera shows its picture, the dark ones say they failed
    // (the gateway's English detail in the tooltip).
    await overnight.locator('[data-testid=overnight-snapshot]').click();
    const shots = overnight.locator('[data-testid=overnight-snapshot-result]');
    await expect.poll(() => shots.evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), { timeout: 60_000 }).toEqual(['failed', 'failed', 'ok']);
    expect(await shots.first().textContent()).toContain('抓图失败');
    const thumb = overnight.locator(`[data-testid=overnight-device][data-device-id="${spare.id}"] img`);
    await expect.poll(() => thumb.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), { timeout: 10_000 }).toBeGreaterThan(100);
    await saveScreenshot(page, 'health-ops-morning-check');
  });

  it("the daily intact-rate report is made in the console, and its numbers are the API's at every level", async () => {
    await open('/health?tab=reports');
    await page.locator('[data-testid=daily-reports]').waitFor();
    await page.locator('[data-testid=report-generate]').click();
    await page.locator('[data-testid=report-detail]').waitFor();
    const rows = page.locator('[data-testid=report-row]');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(4);
    // Nothing moves in the fleet now: the report and the API read the same network.
    const shownRows = await rows.evaluateAll((els) =>
      els.map((el) => ({
        id: el.getAttribute('data-node-id') ?? '',
        parent: el.getAttribute('data-parent') ?? '',
        cells: [...el.querySelectorAll('td[data-key]')].map((td) => `${td.getAttribute('data-key')}=${td.getAttribute('data-count')}/${td.getAttribute('data-total')}`),
      })),
    );
    const cells = (f: Summary['overall']): string[] => [
      `devices=${f.devices.online}/${f.devices.total}`,
      `channels=${f.channels.online}/${f.channels.total}`,
      `intact=${f.intact.intact}/${f.intact.total}`,
    ];
    const top = (await h.api<Summary>('/api/health/summary?groupBy=region')).body;
    expect(shownRows[0]).toEqual({ id: '', parent: '', cells: cells(top.overall) });
    expect(shownRows[0]!.cells).toEqual(['devices=1/3', 'channels=1/6', 'intact=1/6']);
    for (const row of shownRows.slice(1)) {
      const level = (await h.api<Summary>(`/api/health/summary?groupBy=region${row.parent ? `&parent=${row.parent}` : ''}`)).body;
      const node = level.nodes.find((n) => n.id === row.id);
      expect(node, row.id).toBeDefined();
      expect(row.cells, row.id).toEqual(cells(node!.figures));
    }
    // The list keeps it; CSV and the print version come from the gateway with the same numbers.
    const item = page.locator('[data-testid=report-item]').first();
    const [download] = await Promise.all([page.waitForEvent('download'), item.locator('[data-testid=report-csv]').click()]);
    expect(download.suggestedFilename()).toMatch(/^intact-rate-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '').split('\r\n');
    expect(csv[1]).toMatch(/^,全部,,1,3,33\.33%,1,6,16\.67%,1,6,16\.67%,是$/);
    const [popup] = await Promise.all([context.waitForEvent('page'), item.locator('[data-testid=report-print]').click()]);
    await popup.waitForLoadState();
    expect(await popup.locator('h1').textContent()).toContain('视频监控完好率日报');
    expect(await popup.locator('tr.overall td[data-key=intact]').getAttribute('data-count')).toBe('1');
    await popup.close();
    await saveScreenshot(page, 'health-ops-daily-report');
  });

  it('the alarm desk: filters, a sound on a new alarm, escalation of an old unacknowledged one, bulk acknowledge', async () => {
    // Left unacknowledged for half an hour (the desk escalates after 15 min by default).
    const old = { id: randomUUID(), sourceId: spare.id, deviceId: spare.id, priority: 1, method: 2, type: 1, description: 'tamper', alarmTime: '', receivedAt: Date.now() - 30 * MINUTE, longitude: null, latitude: null, acknowledgedAt: null, acknowledgedBy: null, note: null, raw: {} };
    await h.gateway.store.appendAlarms([old]);
    expect(await fleet.raiseAlarm(spare.id, { method: 5, type: 2, description: 'motion' })).toBe(200);
    await open('/health?tab=alarms');
    const desk = page.locator('[data-testid=alarm-desk]');
    const rows = desk.locator('[data-testid=alarm-row]');
    await expect.poll(() => rows.count()).toBe(2);
    const escalated = desk.locator(`[data-testid=alarm-row][data-alarm-id="${old.id}"]`);
    expect(await escalated.getAttribute('data-escalated')).toBe('true');
    expect(await escalated.locator('[data-testid=alarm-escalated]').textContent()).toContain('超时未确认');
    expect(await desk.locator('[data-testid=alarm-escalated-count]').getAttribute('data-count')).toBe('1');
    // A new alarm while the desk is open: it is listed, and the desk sounds.
    await socketOpen();
    const soundsBefore = Number(await desk.getAttribute('data-sounds'));
    expect(await fleet.raiseAlarm(spare.id, { method: 6, type: 1, description: 'video lost' })).toBe(200);
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    expect(Number(await desk.getAttribute('data-sounds'))).toBeGreaterThan(soundsBefore);
    // Filter by method: device fault only.
    await desk.locator('[data-testid=alarm-method]').selectOption('6');
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.textContent ?? '').join('|'))).toContain('video lost');
    expect(await rows.count()).toBe(1);
    await saveScreenshot(page, 'health-ops-alarm-desk-filtered');
    await desk.locator('[data-testid=alarm-method]').selectOption('');
    await expect.poll(() => rows.count()).toBe(3);
    await saveScreenshot(page, 'health-ops-alarm-desk');
    // Select all on the page, one note, acknowledge: the unacknowledged view empties, the API agrees.
    await desk.locator('[data-testid=alarm-select-all]').check();
    await desk.locator('[data-testid=alarm-ack-note]').fill('已通知片区民警');
    await desk.locator('[data-testid=alarm-ack-selected]').click();
    await expect.poll(() => rows.count()).toBe(0);
    expect(await desk.locator('[data-testid=alarm-message]').textContent()).toContain('已确认 3 条报警');
    const api = (await h.api<{ items: { acknowledgedBy: string | null; note: string | null }[] }>('/api/alarms/search?acknowledged=true')).body.items;
    expect(api).toHaveLength(3);
    expect(api.every((a) => a.acknowledgedBy === 'admin' && a.note === '已通知片区民警')).toBe(true);
  });

  it('reads in English too', async () => {
    await open('/health');
    await page.locator('[data-testid=toggle-locale]').click();
    const row = page.locator(`[data-testid=health-row][data-channel-id="${streamer.channelIds[0]}"]`);
    await row.waitFor();
    await expect.poll(() => row.locator('[data-testid=health-reason]').textContent()).toContain('no keepalive within the timeout');
    expect(await page.locator(`[data-testid=health-row][data-device-id="${nvr.id}"] [data-testid=health-rollup-toggle]`).textContent()).toContain('4 channels');
    await saveScreenshot(page, 'health-ops-rollup-en');
    await open(`/health/channels/${streamer.channelIds[0]}`);
    await page.locator('[data-testid=keepalive-chart]').waitFor();
    expect(await text('[data-testid=keepalive-expected]')).toContain('2 s');
    await saveScreenshot(page, 'health-ops-offline-camera-en');
    await open('/health?tab=alerts');
    await page.locator('[data-testid=alert-group]').first().waitFor();
    await saveScreenshot(page, 'health-ops-alert-groups-en');
    await open('/health?tab=reports');
    await page.locator('[data-testid=report-detail]').waitFor();
    expect(await text('[data-testid=report-detail] h3')).toContain('Intact-rate report of');
    await page.locator('[data-testid=overnight-device]').first().waitFor();
    expect(await text('[data-testid=overnight-still-down]')).toContain('still down (5 channels)');
    await saveScreenshot(page, 'health-ops-daily-report-en');
    await open('/health?tab=alarms');
    await page.locator('[data-testid=alarm-acknowledged]').selectOption('true');
    await page.locator('[data-testid=alarm-row]').first().waitFor();
    expect(await text('[data-testid=alarm-desk] h2')).toBe('Device alarms');
    await saveScreenshot(page, 'health-ops-alarm-desk-en');
    await page.locator('[data-testid=toggle-locale]').click();
  });
});
