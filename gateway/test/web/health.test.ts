/**
 * The maintenance health console in a real browser against a real gateway and simulated cameras: the
 * dashboard shows what GET /api/health/summary and GET /api/stats say (at the top level and drilled down from the
 * province to the county, with a breadcrumb back up), a camera that stopped answering is in
 * the problem list as "设备离线" with its since time, sorting and CSV export follow the gateway, the per-camera
 * page draws the keepalive chart and probes a streaming camera, and an alert rule's test button reports the
 * webhook delivery to a real HTTP receiver.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';

interface Rate {
  online: number;
  total: number;
  rate: number;
}
interface Figures {
  devices: Rate;
  channels: Rate;
  intact: { intact: number; total: number; rate: number };
}
interface Summary {
  at: number;
  overall: Figures;
  nodes: { id: string; name: string; hasChildren: boolean; figures: Figures }[];
}
interface Stats {
  devices: Rate;
  channels: Rate;
}
interface ChannelHealth {
  channelId: string;
  status: string;
  since: number | null;
}
interface Detail {
  health: ChannelHealth;
  keepalive: { samples: unknown[] };
  registrations: unknown[];
}

const PASSWORD = 'health-pass';

/** A webhook endpoint: records what the gateway POSTs. */
async function startReceiver(): Promise<{ server: Server; url: string; received: { path: string; body: string }[] }> {
  const received: { path: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, received };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('web: maintenance health console', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let offlineChannel: string;
  let streamingChannel: string;
  let spareDeviceId: string;
  let nvrChannel: string;

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: {
        // Short keepalives: a silenced camera is offline after 3 × 2 s, and the chart fills in seconds.
        // Positions: every device is asked for them (the simulated ones report each second).
        sip: { password: PASSWORD, keepaliveIntervalSec: 2, keepaliveMissCount: 3, mobilePositionSubscription: 'all', mobilePositionIntervalSec: 1 },
        media: { host: '127.0.0.1', ports: '42600-42629' },
        health: { evaluateIntervalSec: 1, webhookRetries: 0, webhookTimeoutMs: 2000 },
      },
    });
    // Three IPCs and an NVR with two channels.
    fleet = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 4, nvrEvery: 4, channelsPerNvr: 2, keepaliveSec: 2, codec: 'h264', idPrefix: '44031000', firstSerial: 600, eventSubscriptions: true });
    await fleet.start();
    await fleet.waitForRegistered(4, 30_000);
    const [doomed, streaming, spare] = fleet.devices.filter((d) => d.kind === 'ipc');
    spareDeviceId = spare!.id;
    nvrChannel = fleet.devices.find((d) => d.kind === 'nvr')!.channelIds[1]!;
    offlineChannel = doomed!.channelIds[0]!;
    streamingChannel = streaming!.channelIds[0]!;
    await h.waitFor(async () => (await h.api<{ total: number }>('/api/channels?limit=1')).body.total >= 5, 30_000, 'catalogs');
    // The camera goes silent: no keepalive, no answers. The gateway marks it offline after the missed keepalives.
    fleet.stopDevices([doomed!.id]);
    await h.waitFor(
      async () => (await h.api<{ items: ChannelHealth[] }>('/api/health/channels?status=device-offline')).body.items.some((i) => i.channelId === offlineChannel),
      30_000,
      'the silenced camera reads device-offline',
    );
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
  }, 120_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  /** A fresh load of a screen (going to the same hash again would keep the mounted page and its filters). */
  const open = async (hash: string): Promise<void> => {
    await page.goto('about:blank');
    await page.goto(`${h.gateway.httpUrl}/#${hash}`);
  };
  const text = async (testid: string): Promise<string> => ((await page.locator(`[data-testid=${testid}]`).first().textContent()) ?? '').trim();
  const rowIds = (): Promise<string[]> => page.locator('[data-testid=health-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-channel-id') ?? ''));

  it('the dashboard shows the figures of GET /api/health/summary, and they agree with GET /api/stats', async () => {
    await open(`/health`);
    await page.locator('[data-testid=health-overall]').waitFor();
    // The page and the API are read close together; retry (with a page refresh) if the fleet moved in between.
    await expect
      .poll(
        async () => {
          await page.locator('[data-testid=health-refresh]').click();
          await expect.poll(() => page.locator('[data-testid=health-refresh]').isDisabled()).toBe(false);
          const summary = (await h.api<Summary>('/api/health/summary?groupBy=region')).body;
          const stats = (await h.api<Stats>('/api/stats')).body;
          const shown = {
            devices: [await text('health-devices-count'), await text('health-devices-total')].map(Number),
            channels: [await text('health-channels-count'), await text('health-channels-total')].map(Number),
            intact: [await text('health-intact-count'), await text('health-intact-total')].map(Number),
            deviceRate: await text('health-devices-rate'),
            nodes: await page.locator('[data-testid=health-node]').count(),
          };
          const expected = {
            devices: [summary.overall.devices.online, summary.overall.devices.total],
            channels: [summary.overall.channels.online, summary.overall.channels.total],
            intact: [summary.overall.intact.intact, summary.overall.intact.total],
            deviceRate: `${(summary.overall.devices.rate * 100).toFixed(2)}%`,
            nodes: summary.nodes.length,
          };
          const fromStats = { devices: [stats.devices.online, stats.devices.total], channels: [stats.channels.online, stats.channels.total] };
          return JSON.stringify(shown) === JSON.stringify(expected) && JSON.stringify(fromStats) === JSON.stringify({ devices: expected.devices, channels: expected.channels })
            ? 'match'
            : JSON.stringify({ shown, expected, fromStats });
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe('match');
    // One device of four is offline: 3 / 4, and the offline one's channel is not intact.
    expect(await text('health-devices-count')).toBe('3');
    expect(await text('health-devices-total')).toBe('4');
    expect(Number(await text('health-intact-count'))).toBeLessThan(Number(await text('health-intact-total')));
    // 75 % is under the 98 % target: said in words, not only in colour.
    expect(await text('health-devices-target')).toContain('低于目标');
    await saveScreenshot(page, 'health-dashboard');
  });

  it('drills from the province to the county: the county row shows the API figures, and the breadcrumb leads back up', async () => {
    // The fleet's civil code 44031000 places every camera under 广东省 (44) › 4403 › 440310.
    const level = async (parent?: string): Promise<Summary> =>
      (await h.api<Summary>(`/api/health/summary?groupBy=region${parent ? `&parent=${parent}` : ''}`)).body;
    const province = (await level()).nodes.find((n) => n.id === '44')!;
    expect(province).toMatchObject({ name: '广东省', hasChildren: true });
    expect((await level('44')).nodes.find((n) => n.id === '4403')?.hasChildren).toBe(true);
    const row = (id: string) => page.locator(`[data-testid=health-node][data-node-id="${id}"]`);
    const levelShown = (parent: string) => page.locator(`[data-testid=health-nodes][data-parent="${parent}"][data-loaded=true]`).waitFor();
    const focused = (): Promise<string> =>
      page.evaluate(() => {
        const el = (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null; closest(s: string): { getAttribute(n: string): string | null } | null } | null } }).document.activeElement;
        return `${el?.getAttribute('data-testid') ?? ''}@${el?.closest('[data-node-id]')?.getAttribute('data-node-id') ?? ''}`;
      });
    const crumbs = (): Promise<string[]> =>
      page.locator('[data-testid=health-breadcrumb] li').evaluateAll((items) => items.map((li) => (li.textContent ?? '').replace('›', '').trim()));

    await open(`/health`);
    await levelShown('');
    // A click opens the province; only its children are listed.
    await row('44').locator('[data-testid=health-node-open]').click();
    await levelShown('44');
    expect(await page.locator('[data-testid=health-node]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node-id')))).toEqual(
      (await level('44')).nodes.map((n) => n.id),
    );
    // The keyboard opens the city (Enter on the focused name); focus lands on the breadcrumb's current step.
    await row('4403').locator('[data-testid=health-node-open]').focus();
    await page.keyboard.press('Enter');
    await levelShown('4403');
    expect(await focused()).toBe('health-crumb-current@4403');
    expect(await crumbs()).toEqual(['全部区划', '广东省', (await level('44')).nodes.find((n) => n.id === '4403')!.name]);
    expect(decodeURIComponent(new URL(page.url()).hash)).toContain('path=44,4403');

    // The county's row against the API's level under the city (refreshed together until they agree).
    const cellCounts = async (key: string): Promise<number[]> => {
      const cell = row('440310').locator(`[data-testid=health-node-${key}]`);
      return [Number(await cell.getAttribute('data-count')), Number(await cell.getAttribute('data-total'))];
    };
    await expect
      .poll(
        async () => {
          await page.locator('[data-testid=health-refresh]').click();
          await expect.poll(() => page.locator('[data-testid=health-refresh]').isDisabled()).toBe(false);
          const county = (await level('4403')).nodes.find((n) => n.id === '440310')!;
          const shown = { devices: await cellCounts('devices'), channels: await cellCounts('channels'), intact: await cellCounts('intact') };
          const expected = {
            devices: [county.figures.devices.online, county.figures.devices.total],
            channels: [county.figures.channels.online, county.figures.channels.total],
            intact: [county.figures.intact.intact, county.figures.intact.total],
          };
          return JSON.stringify(shown) === JSON.stringify(expected) ? 'match' : JSON.stringify({ shown, expected });
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe('match');
    // Every camera is in this county: one IPC of four silenced, its channel of five offline.
    expect(await cellCounts('devices')).toEqual([3, 4]);
    expect(await cellCounts('channels')).toEqual([4, 5]);
    expect(((await row('440310').locator('[data-testid=health-node-channels]').textContent()) ?? '').trim()).toMatch(/^80\.0%/);
    await saveScreenshot(page, 'health-drill-down');

    // The county holds cameras only: opening it says so and offers its problems.
    await row('440310').locator('[data-testid=health-node-open]').click();
    await levelShown('440310');
    expect(await text('health-nodes-empty')).toContain('没有下级');
    // Backspace goes up a level, with focus back on the county.
    await page.keyboard.press('Backspace');
    await levelShown('4403');
    expect(await focused()).toBe('health-node-open@440310');
    // Narrowing the problem list still works at any level.
    await row('440310').locator('[data-testid=health-node-select]').click();
    await page.locator(`[data-testid=health-row][data-channel-id="${offlineChannel}"]`).waitFor();
    expect(await row('440310').locator('[data-testid=health-node-select]').getAttribute('aria-pressed')).toBe('true');
    // The root crumb leads back to the top level, focus on the province we came up from.
    await page.locator('[data-testid=health-crumb][data-node-id=""]').click();
    await levelShown('');
    expect(await focused()).toBe('health-node-open@44');
    expect(await crumbs()).toEqual(['全部区划']);

    // A reload (or a shared link) of a drilled level names the trail from the tree.
    await open(`/health?path=44,4403`);
    await levelShown('4403');
    await expect.poll(crumbs).toEqual(['全部区划', '广东省', (await level('44')).nodes.find((n) => n.id === '4403')!.name]);
    await page.locator('[data-testid=health-crumb][data-node-id="44"]').click();
    await levelShown('44');
    expect(await focused()).toBe('health-node-open@4403');
  });

  it('the offline camera is in the problem list as 设备离线 with its since time', async () => {
    await open(`/health`);
    const row = page.locator(`[data-testid=health-row][data-channel-id="${offlineChannel}"]`);
    await row.waitFor();
    expect(await row.locator('[data-testid=health-status]').textContent()).toContain('设备离线');
    const api = (await h.api<{ items: ChannelHealth[] }>(`/api/health/channels?q=${offlineChannel}`)).body.items[0]!;
    expect(api.status).toBe('device-offline');
    expect(api.since).not.toBeNull();
    const since = ((await row.locator('[data-testid=health-since]').textContent()) ?? '').trim();
    // 24-hour Asia/Shanghai date and time of the API's since.
    const expectedSince = new Intl.DateTimeFormat('zh-CN', {
      timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
    }).format(api.since!);
    expect(since).toBe(expectedSince);
    expect(((await row.locator('[data-testid=health-duration]').textContent()) ?? '').trim()).toMatch(/^\d+[smhd]/);
    // The healthy cameras are not problems: the default filter leaves them out.
    const ids = await rowIds();
    expect(ids).not.toContain(streamingChannel);
    await saveScreenshot(page, 'health-offline-list');
  });

  it('sorting by a column header asks the gateway for that order, and clicking again reverses it', async () => {
    await open(`/health`);
    await page.locator('[data-testid=health-status-filter]').selectOption('all');
    await expect.poll(async () => (await rowIds()).length).toBeGreaterThanOrEqual(5);
    const apiOrder = async (order: 'asc' | 'desc'): Promise<string[]> =>
      (await h.api<{ items: ChannelHealth[] }>(`/api/health/channels?sort=name&order=${order}&limit=50`)).body.items.map((i) => i.channelId);

    await page.locator('[data-testid=health-sort-name]').click();
    await expect.poll(async () => JSON.stringify(await rowIds())).toBe(JSON.stringify(await apiOrder('asc')));
    expect(await page.locator('th[aria-sort=ascending] [data-testid=health-sort-name]').count()).toBe(1);
    const ascending = await rowIds();

    await page.locator('[data-testid=health-sort-name]').click();
    await expect.poll(async () => JSON.stringify(await rowIds())).toBe(JSON.stringify(await apiOrder('desc')));
    const descending = await rowIds();
    expect(descending).not.toEqual(ascending);
    expect(descending).toEqual([...ascending].reverse());
  });

  it('CSV export downloads the gateway file whose rows are the list, in the list order', async () => {
    // Still on "all statuses", sorted by name descending from the previous test.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=health-export-csv]').click()]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const path = await download.path();
    const csv = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
    const lines = csv.split(/\r?\n/).filter((l) => l.length > 0);
    const header = lines[0]!.split(',');
    expect(header[0]).toBe('通道编码');
    const csvIds = lines.slice(1).map((l) => l.split(',')[0]!.trim());
    const api = (await h.api<{ total: number; items: ChannelHealth[] }>('/api/health/channels?sort=name&order=desc&limit=1000')).body;
    expect(csvIds).toEqual(api.items.map((i) => i.channelId));
    expect(csvIds).toEqual(await rowIds());
    const offlineLine = lines.find((l) => l.includes(offlineChannel))!;
    expect(offlineLine).toContain('设备离线');
    await expect.poll(() => text('health-export-message')).toContain('.csv');
  });

  it('the per-camera page draws the keepalive chart, probes the stream, shows a snapshot and opens the camera on the wall', async () => {
    await h.waitFor(async () => (await h.api<Detail>(`/api/health/channels/${streamingChannel}`)).body.keepalive.samples.length >= 3, 30_000, 'three keepalive intervals');
    await open(`/health/channels/${streamingChannel}`);
    const chart = page.locator('[data-testid=keepalive-chart]');
    await chart.waitFor();
    expect(await chart.evaluate((el) => el.tagName.toLowerCase())).toBe('svg');
    const points = await chart.locator('[data-testid=keepalive-point]').count();
    expect(points).toBeGreaterThanOrEqual(3);
    expect(Number(await chart.getAttribute('data-points'))).toBe(points);
    expect(await text('keepalive-jitter')).toMatch(/±\d/);
    expect(await page.locator('[data-testid=registration-row]').count()).toBeGreaterThanOrEqual(1);

    await page.locator('[data-testid=action-probe]').click();
    const probe = page.locator('[data-testid=probe-result]');
    await expect.poll(() => probe.getAttribute('data-ok'), { timeout: 30_000 }).toBe('true');
    expect(await probe.textContent()).toMatch(/首帧 \d+ 毫秒/);

    await page.locator('[data-testid=action-catalog]').click();
    await expect.poll(() => text('catalog-result')).toContain('已发送目录查询');

    await page.locator('[data-testid=action-snapshot]').click();
    const image = page.locator('[data-testid=snapshot-image]');
    await image.waitFor({ timeout: 30_000 });
    await expect.poll(() => image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), { timeout: 10_000 }).toBeGreaterThan(100);
    await saveScreenshot(page, 'health-camera');

    await page.locator('[data-testid=action-open-wall]').click();
    await page.waitForURL((url) => url.hash.startsWith('#/wall'));
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe(`#/wall?channel=${streamingChannel}`);
  });

  it('the offline camera page says why, and a probe against it names the failing step', async () => {
    await open(`/health/channels/${offlineChannel}`);
    await page.locator('[data-testid=channel-health-page] [data-testid=health-status]').waitFor();
    expect(await page.locator('[data-testid=channel-health-page] [data-testid=health-status]').first().textContent()).toContain('设备离线');
    await page.locator('[data-testid=action-probe]').click();
    const probe = page.locator('[data-testid=probe-result]');
    await expect.poll(() => probe.getAttribute('data-ok'), { timeout: 30_000 }).toBe('false');
    expect(await probe.getAttribute('data-step')).not.toBe('');
    expect(await probe.textContent()).toContain('取流失败');
  });

  it('an alert rule is created in the page, and its test button reports delivery to the webhook (and a failure to a dead one)', async () => {
    const receiver = await startReceiver();
    try {
      await open(`/health?tab=alerts`);
      const create = async (name: string, webhook: string): Promise<void> => {
        await page.locator('[data-testid=rule-add]').click();
        await page.locator('[data-testid=rule-name]').fill(name);
        await page.locator('[data-testid=rule-kind]').selectOption('offline');
        await page.locator('[data-testid=rule-offline-minutes]').fill('1');
        await page.locator('[data-testid=rule-webhook]').fill(webhook);
        await page.locator('[data-testid=rule-save]').click();
        await page.locator('[data-testid=rule-editor]').waitFor({ state: 'detached' });
      };
      await create('离线告警 测试', receiver.url);
      await create('dead webhook', `http://127.0.0.1:${await closedPort()}/nothing`);

      const rules = (await h.api<{ items: { id: string; name: string; offlineMinutes: number; webhookUrl: string }[] }>('/api/alert-rules')).body.items;
      const good = rules.find((r) => r.name === '离线告警 测试')!;
      const dead = rules.find((r) => r.name === 'dead webhook')!;
      expect(good).toMatchObject({ offlineMinutes: 1, webhookUrl: receiver.url });

      const goodRow = page.locator(`[data-testid=rule-row][data-rule-id="${good.id}"]`);
      await goodRow.locator('[data-testid=rule-test]').click();
      await expect.poll(() => goodRow.locator('[data-testid=rule-test-result]').getAttribute('data-delivered'), { timeout: 15_000 }).toBe('true');
      expect(await goodRow.locator('[data-testid=rule-test-result]').textContent()).toContain('已送达');
      expect(receiver.received.length).toBeGreaterThanOrEqual(1);
      expect(receiver.received[0]!.path).toBe('/alerts');
      expect(() => JSON.parse(receiver.received[0]!.body)).not.toThrow();

      const deadRow = page.locator(`[data-testid=rule-row][data-rule-id="${dead.id}"]`);
      await deadRow.locator('[data-testid=rule-test]').click();
      await expect.poll(() => deadRow.locator('[data-testid=rule-test-result]').getAttribute('data-delivered'), { timeout: 15_000 }).toBe('false');
      expect(await deadRow.locator('[data-testid=rule-test-result]').textContent()).toContain('未送达');
      // Why, in the page's language (webhook.refused), never fetch()'s English ("fetch failed: …").
      expect(await deadRow.locator('[data-testid=rule-test-result]').textContent()).toContain('拒绝连接');
      expect(await deadRow.locator('[data-testid=rule-test-result]').textContent()).not.toMatch(/fetch failed|ECONNREFUSED/);
      await saveScreenshot(page, 'health-rules');
    } finally {
      await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
    }
  });

  it('a stream-failure rule fires on the failed probe: an in-app notification and a firing alert in the list', async () => {
    await open(`/health?tab=alerts`);
    await page.locator('[data-testid=rule-add]').click();
    await page.locator('[data-testid=rule-name]').fill('取流失败 1 次');
    await page.locator('[data-testid=rule-kind]').selectOption('stream-failure');
    await page.locator('[data-testid=rule-failure-count]').fill('1');
    await page.locator('[data-testid=rule-clear-after]').fill('1');
    await page.locator('[data-testid=rule-save]').click();
    await page.locator('[data-testid=rule-editor]').waitFor({ state: 'detached' });
    // The offline camera's probe failed in an earlier test (and fails again here): one failure is enough.
    await h.api(`/api/health/channels/${offlineChannel}/probe`, { body: {} });
    const toast = page.locator(`[data-testid=health-toast][data-channel-id="${offlineChannel}"]`);
    await toast.waitFor({ timeout: 20_000 });
    expect(await toast.getAttribute('role')).toBe('alert');
    expect(await toast.textContent()).toContain('告警');
    // The offline rules of the previous test may have fired for it too (once it has been down a minute): any firing row.
    const alertRow = page.locator(`[data-testid=alert-row][data-channel-id="${offlineChannel}"][data-state=firing]`).first();
    await alertRow.waitFor({ timeout: 10_000 });
    const api = (await h.api<{ items: { channelId: string; state: string }[] }>('/api/alerts?state=firing')).body.items;
    expect(api.some((a) => a.channelId === offlineChannel)).toBe(true);
  });

  it('maintenance on with a note and off again, from the camera page', async () => {
    await open(`/health/channels/${nvrChannel}`);
    await page.locator('[data-testid=maintenance-note]').fill('更换镜头 lens swap');
    await page.locator('[data-testid=action-maintenance-on]').click();
    await expect.poll(() => text('maintenance-state')).toContain('更换镜头 lens swap');
    await expect.poll(() => page.locator('[data-testid=channel-health-page] [data-testid=health-status]').first().getAttribute('data-status')).toBe('maintenance');
    const detail = (await h.api<Detail & { maintenance: { note: string; by: string } | null }>(`/api/health/channels/${nvrChannel}`)).body;
    expect(detail.maintenance).toMatchObject({ note: '更换镜头 lens swap', by: 'admin' });
    expect(detail.health.status).toBe('maintenance');
    await page.locator('[data-testid=action-maintenance-off]').click();
    await expect.poll(() => page.locator('[data-testid=channel-health-page] [data-testid=health-status]').first().getAttribute('data-status')).not.toBe('maintenance');
    expect((await h.api<Detail & { maintenance: unknown }>(`/api/health/channels/${nvrChannel}`)).body.maintenance).toBeNull();
  });

  it('the list follows the event socket: a camera that drops while the page is open appears without a reload', async () => {
    await open(`/health`);
    await page.locator('[data-testid=health-table]').waitFor();
    // "/" focuses the search box (keyboard use); typing filters on the gateway.
    await page.locator('body').press('/');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('data-testid'))).toBe('health-search');
    await page.keyboard.type(spareDeviceId);
    const spareRow = page.locator(`[data-testid=health-row][data-channel-id="${spareDeviceId}"]`);
    await expect.poll(() => page.locator('[data-testid=health-empty]').count()).toBe(1);
    const before = await page.locator('[data-testid=health-updated-at]').getAttribute('data-at');
    fleet.stopDevices([spareDeviceId]);
    await spareRow.waitFor({ timeout: 30_000 });
    expect(await spareRow.locator('[data-testid=health-status]').getAttribute('data-status')).toBe('device-offline');
    // The headline figures were reloaded too.
    expect(await page.locator('[data-testid=health-updated-at]').getAttribute('data-at')).not.toBe(before);
    await page.locator('[data-testid=health-search]').fill('');
  });

  it('a mobile camera\'s page shows where it is (GB MobilePosition), following each new report without a reload, in both languages', async () => {
    await h.waitFor(async () => (await h.api<{ position: unknown }>(`/api/channels/${nvrChannel}/position`)).body.position, 30_000, 'a position of the NVR channel');
    await open(`/health/channels/${nvrChannel}`);
    const position = page.locator('[data-testid=channel-position]');
    await position.waitFor();
    const first = (await position.textContent()) ?? '';
    expect(first).toMatch(/东经 114\.\d{5}，北纬 22\.\d{5} · 36 千米\/时 · 方向 \d+°/);
    // The simulated vehicle moves and reports each second: the page follows the WebSocket.
    await expect.poll(() => position.textContent(), { timeout: 15_000 }).not.toBe(first);
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => position.textContent()).toMatch(/114\.\d{5}° E, 22\.\d{5}° N · 36 km\/h · heading \d+°/);
    await saveScreenshot(page, 'health-camera-position-en');
    await page.locator('[data-testid=toggle-locale]').click();
  });

  it('reads in English too (and these screenshots are legible on machines without CJK fonts)', async () => {
    await open(`/health`);
    await page.locator('[data-testid=toggle-locale]').click();
    const row = page.locator(`[data-testid=health-row][data-channel-id="${offlineChannel}"]`);
    await row.waitFor();
    await expect.poll(() => row.locator('[data-testid=health-status]').textContent()).toContain('Device offline');
    expect(await text('health-devices-target')).toContain('Below target');
    await saveScreenshot(page, 'health-dashboard-en');
    await open(`/health/channels/${streamingChannel}`);
    await page.locator('[data-testid=keepalive-chart]').waitFor();
    await saveScreenshot(page, 'health-camera-en');
    await open(`/health?tab=alerts`);
    await page.locator('[data-testid=rule-row]').first().waitFor();
    await page.locator('[data-testid=alert-row]').first().waitFor();
    await saveScreenshot(page, 'health-rules-en');
    await page.locator('[data-testid=toggle-locale]').click();
  });
});
