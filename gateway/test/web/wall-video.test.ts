/**
 * The operators' wall in a real browser, video side: sign in, find a camera in the tree and drag it onto a
 * tile (its picture advances), fill a 16-tile layout with a region's 16 cameras (all play, sub-streams), and
 * a camera whose device goes away shows "offline since hh:mm" instead of a frozen picture.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { readTiles, revealInTree, tile } from './wall-support.js';

const WALL_PREFIX = '44031100';
const OFFLINE_PREFIX = '44031200';

describe('web wall: video', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let offlineFleet: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: { sip: { password: 'wall-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '31400-31479' } },
    });
    // 16 cameras in one county (civil code 440311) and one elsewhere that will go offline. Small streams: the
    // shared 360p sub-stream loop (no per-channel text), so 16 play on 2 cores.
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'wall-pass', devices: 16, keepaliveSec: 5, codec: 'h264', idPrefix: WALL_PREFIX, firstSerial: 1, personalisedChannels: 0 });
    offlineFleet = new DeviceFleet({ server: h.sipTarget, password: 'wall-pass', devices: 1, keepaliveSec: 5, codec: 'h264', idPrefix: OFFLINE_PREFIX, firstSerial: 1, personalisedChannels: 0 });
    await Promise.all([fleet.prepareMedia({ personalised: false, profiles: ['sub'] }), fleet.start(), offlineFleet.start()]);
    await fleet.waitForRegistered(16, 30_000);
    await offlineFleet.waitForRegistered(1, 30_000);
    await h.waitFor(async () => (await h.api<{ total: number }>(`/api/channels?kind=channel&limit=1`)).body.total >= 17, 20_000, 'catalogs of 17 cameras');
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  }, 120_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await offlineFleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('signs in to the wall: tree with online/total counts and a live event connection', async () => {
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.locator('[data-testid=wall-page]').waitFor();
    await expect.poll(() => page.locator('[data-testid=alarm-connection]').getAttribute('data-state')).toBe('open');
    // Top level of the region view: the province, counting every camera beneath it.
    const province = page.locator('[data-testid=tree] [data-testid=tree-node][data-node-id="44"]');
    await province.waitFor();
    await expect.poll(() => province.locator('[data-testid=tree-counts]').textContent()).toMatch(/^\s*17\/17\s*$/);
  });

  it('a camera dragged from the tree onto a tile plays: its clock and decoded frames advance', async () => {
    const cameraId = fleet.devices[0].channelIds[0];
    const row = await revealInTree(page, cameraId, cameraId);
    expect(await row.getAttribute('data-status')).toBe('online');
    await row.dragTo(tile(page, 0));
    await expect.poll(() => tile(page, 0).getAttribute('data-channel-id')).toBe(cameraId);
    await expect.poll(() => tile(page, 0).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    const first = (await readTiles(page))[0];
    await expect
      .poll(async () => {
        const now = (await readTiles(page))[0];
        return now.currentTime - first.currentTime > 2 && now.decodedFrames - first.decodedFrames > 25;
      }, { timeout: 20_000 })
      .toBe(true);
    expect(await tile(page, 0).locator('[data-testid=tile-name]').textContent()).toBe(fleet.devices[0].name);
    expect(await tile(page, 0).locator('[data-testid=tile-live]').isVisible()).toBe(true);
  });

  it('16 tiles: a region dropped on the grid fills it with its 16 online cameras, all playing the sub-stream', async () => {
    await page.locator('[data-testid=layout-16]').click();
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-tiles')).toBe('16');
    const region = await revealInTree(page, '440311', '440311');
    await region.dragTo(tile(page, 0));
    const expected = fleet.devices.map((d) => d.channelIds[0]).sort();
    await expect.poll(async () => (await readTiles(page)).map((t) => t.channelId).sort()).toEqual(expected);
    await expect
      .poll(async () => (await readTiles(page)).filter((t) => t.state === 'playing').length, { timeout: 60_000, interval: 1_000 })
      .toBe(16);
    const before = await readTiles(page);
    await expect
      .poll(
        async () => {
          const after = await readTiles(page);
          return after.filter((t, i) => t.currentTime - before[i].currentTime > 1.5 && t.decodedFrames > before[i].decodedFrames).length;
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe(16);
    // Grids play the 640×360 sub-stream.
    expect((await readTiles(page)).every((t) => t.videoWidth === 640)).toBe(true);
    const streams = await h.api<{ items: { channelId: string; stream: string }[] }>('/api/streams');
    expect(streams.body.items.filter((s) => s.stream === 'sub').map((s) => s.channelId).sort()).toEqual(expect.arrayContaining(expected));
    await saveScreenshot(page, 'wall-16-tiles');
  }, 150_000);

  it('a camera whose device went offline shows "offline since hh:mm", not a picture', async () => {
    await page.locator('[data-testid=layout-4]').click();
    const cameraId = offlineFleet.devices[0].channelIds[0];
    const row = await revealInTree(page, cameraId, cameraId);
    await row.dragTo(tile(page, 3));
    await expect.poll(() => tile(page, 3).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    await offlineFleet.stop({ unregister: true });
    await expect.poll(() => tile(page, 3).getAttribute('data-state'), { timeout: 20_000 }).toBe('offline');
    // The store is written behind (flushIntervalMs): wait for the record the tile's time comes from.
    const channel = await h.waitFor(async () => {
      const answer = await h.api<{ status: string; statusChangedAt: number }>(`/api/channels/${cameraId}`);
      return answer.body.status === 'offline' ? answer : null;
    }, 10_000, 'the channel record to say offline');
    const hhmm = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false }).format(channel.body.statusChangedAt);
    const offline = tile(page, 3).locator('[data-testid=live-video-offline]');
    await expect.poll(() => offline.textContent()).toContain(hhmm);
    // The picture is hidden, not frozen.
    expect(await tile(page, 3).locator('video').isVisible()).toBe(false);
    // The tree says so too (shape and colour).
    await expect.poll(() => page.locator(`[data-testid=tree] [data-testid=tree-node][data-node-id="${cameraId}"]`).first().getAttribute('data-status')).toBe('offline');
    // And its county's online count drops (the tree refreshes its counts after status changes).
    const county = page.locator('[data-testid=tree] [data-testid=tree-node][data-node-id="440312"] [data-testid=tree-counts]');
    await expect.poll(() => county.textContent(), { timeout: 10_000 }).toMatch(/^\s*0\/1\s*$/);
    await saveScreenshot(page, 'wall-offline-tile');
    expect(consoleLines.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });

  it('"open on the wall" links (#/wall?channel=ID, from the health console) put the camera in the selected tile and play it', async () => {
    const cameraId = fleet.devices[1].channelIds[0];
    await tile(page, 2).click();
    await page.goto(`${h.gateway.httpUrl}/#/wall?channel=${cameraId}`);
    await expect.poll(() => tile(page, 2).getAttribute('data-channel-id')).toBe(cameraId);
    await expect.poll(() => tile(page, 2).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    // The query is dropped, so a reload keeps whatever the operator does next instead of placing it again.
    await expect.poll(() => new URL(page.url()).hash).toBe('#/wall');
  });
});
