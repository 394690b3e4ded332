/**
 * The wall's playback timeline in a real browser (docs/playback.md, "The wall") against a real gateway and a
 * simulated GB28181 camera that records around the clock except 03:00–04:00: the timeline on a live tile shows
 * yesterday's recordings as bars (and the gap), a click plays the recording from there on the tile (the
 * video's clock moves, the camera got an INVITE s=Playback), pause holds the picture (MANSRTSP PAUSE at the
 * camera), speed 2 sets Scale 2 and the player's rate, a click inside the span seeks, "back to live" stops the
 * playback stream and plays live again, and a playback that reaches the end of its recording says so. The
 * texts are checked in Chinese and English; screenshots of the open timeline in both languages.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { DeviceFleetEvents } from '../../src/sim/events.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, SCREENSHOT_DIR, signIn } from '../support/browser.js';
import { tile, wallBox } from './wall-support.js';

type Control = DeviceFleetEvents['playback-control'][0];
const POLL = { timeout: 30_000, interval: 250 };

/** Local midnight (Asia/Shanghai, the page's zone: newWallPage) of yesterday, as epoch ms. */
function yesterdayShanghai(): number {
  const shanghai = Date.now() + 8 * 3_600_000;
  return Math.floor(shanghai / 86_400_000) * 86_400_000 - 8 * 3_600_000 - 86_400_000;
}

describe('web wall: playback timeline on a tile', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let gone: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cam: string;
  const controls: Control[] = [];
  const pageErrors: string[] = [];
  const day = yesterdayShanghai();
  const hour = (n: number, m = 0, s = 0) => day + n * 3_600_000 + m * 60_000 + s * 1000;

  const t0 = (): Locator => tile(page, 0);
  const pb = (): Locator => t0().locator('[data-testid=playback-video]');
  // The gateway's type-check has no DOM library: the page's elements are read through the fields used.
  type VideoFields = { currentTime: number; playbackRate: number };
  const videoTime = (): Promise<number> => t0().locator('[data-testid=playback-video] video').evaluate((v) => (v as unknown as VideoFields).currentTime);
  const playbackRate = (): Promise<number> => t0().locator('[data-testid=playback-video] video').evaluate((v) => (v as unknown as VideoFields).playbackRate);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Click the timeline bar at a recording time (the bar's own mapping: from/to and its inner width). */
  async function clickBarAt(ms: number): Promise<void> {
    const bar = t0().locator('[data-testid=timeline-bar]');
    type BarFields = { dataset: Record<string, string | undefined>; clientLeft: number; clientWidth: number; getBoundingClientRect(): { left: number; top: number; height: number } };
    const at = await bar.evaluate((node, time: number) => {
      const el = node as unknown as BarFields;
      const from = Number(el.dataset.from);
      const to = Number(el.dataset.to);
      const r = el.getBoundingClientRect();
      return { x: r.left + el.clientLeft + ((time - from) / (to - from)) * el.clientWidth, y: r.top + r.height / 2 };
    }, ms);
    await page.mouse.click(at.x, at.y);
  }

  async function streamsOfKind(kind: string): Promise<number> {
    const r = await h.api<{ items: Array<{ kind?: string; state: string }> }>('/api/streams');
    return r.body.items.filter((s) => s.kind === kind && s.state !== 'closed').length;
  }

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: { sip: { password: 'tl-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '33600-33659', idleSec: 30 } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'tl-pass', devices: 1, keepaliveSec: 5, codec: 'h264', idPrefix: '44031600', firstSerial: 1, personalisedChannels: 0 });
    fleet.on('playback-control', (c) => controls.push(c));
    await Promise.all([fleet.prepareMedia({ personalised: false, profiles: ['sub'] }), fleet.start()]);
    // A second camera that goes offline: its timeline cannot ask for recordings.
    gone = new DeviceFleet({ server: h.sipTarget, password: 'tl-pass', devices: 1, keepaliveSec: 5, codec: 'h264', idPrefix: '44031601', firstSerial: 1, personalisedChannels: 0 });
    await gone.start();
    await Promise.all([fleet.waitForRegistered(1, 30_000), gone.waitForRegistered(1, 30_000)]);
    cam = fleet.devices[0]!.channelIds[0]!;
    await h.waitFor(async () => ((await h.api(`/api/channels/${cam}`)).status === 200 ? true : null), 20_000, 'catalog');
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.locator('[data-testid=wall-page]').waitFor();
  }, 180_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await gone?.stop({ unregister: false }).catch(() => undefined);
    await h?.stop();
  });

  it('opens the timeline on a live tile: yesterday’s recordings as bars, with the 03:00 gap', async () => {
    await page.locator('[data-testid=layout-4]').click();
    await page.goto(`${h.gateway.httpUrl}/#/wall?channel=${cam}`);
    await expect.poll(() => t0().getAttribute('data-channel-id'), POLL).toBe(cam);
    await expect.poll(() => t0().getAttribute('data-state'), POLL).toBe('playing');
    await t0().hover();
    await t0().locator('[data-testid=tile-timeline]').click();
    const timeline = t0().locator('[data-testid=playback-timeline]');
    await timeline.waitFor();
    await timeline.locator('[data-testid=timeline-prev-day]').click();
    // 24 one-hour files a day minus 03:00–04:00.
    await expect.poll(() => timeline.locator('[data-testid=timeline-record]').count(), POLL).toBe(23);
    const bars = await timeline.locator('[data-testid=timeline-record]').evaluateAll((els) => els.map((e) => {
      const d = (e as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return { start: Number(d.start), kind: d.kind };
    }));
    expect(bars.map((b) => b.kind)).toEqual(Array(23).fill('time'));
    expect(bars.map((b) => b.start)).not.toContain(hour(3));
    expect(bars[0]!.start).toBe(hour(0));
    expect(await timeline.textContent()).toContain('点击录像条从该时刻开始回放');
    expect(await timeline.textContent()).toContain('定时录像');
    // The day in the page's language (this Chromium runs with --lang=en-US; its native date field would say 12/05/2026).
    expect(await timeline.locator('[data-testid=timeline-date-text]').textContent()).toMatch(/^\d{4}\/\d{2}\/\d{2}\s*周[一二三四五六日]$/);
    // The wall still fits the screen with the timeline open.
    expect(await wallBox(page)).toMatchObject({ bottom: 1080, right: 1920, scrollHeight: 1080 });
  });

  it('a click plays the recording from there on the tile; the camera got the playback INVITE', async () => {
    // A pixel is minutes at 24 h: 10:05 is safely inside the 10:00–11:00 file.
    await clickBarAt(hour(10, 5));
    await expect.poll(() => t0().getAttribute('data-mode'), POLL).toBe('playback');
    await expect.poll(() => pb().getAttribute('data-state'), POLL).toBe('playing');
    const call = fleet.activeStreams().find((a) => a.channelId === cam && a.sessionName === 'Playback');
    expect(call, 'the camera has a playback call').toBeDefined();
    const a = await videoTime();
    await sleep(2_000);
    expect(await videoTime()).toBeGreaterThan(a + 1);
    // The cursor and the tile's badge show the recording time, near 10:05 of yesterday.
    await expect.poll(() => t0().locator('[data-testid=timeline-cursor]').count(), POLL).toBe(1);
    const shown = await t0().locator('[data-testid=timeline-position]').textContent();
    expect(shown).toMatch(/^10:(0\d|1[0-2]):\d\d$/);
    expect(await t0().locator('[data-testid=tile-playback]').textContent()).toContain('回放');
    expect(await streamsOfKind('playback')).toBe(1);
    await saveScreenshot(page, 'wall-timeline-zh');
    await t0().screenshot({ path: join(SCREENSHOT_DIR, 'wall-timeline-tile-zh.png') });
  });

  it('pause holds the picture (PAUSE at the camera); resume moves it again', async () => {
    await t0().locator('[data-testid=timeline-pause]').click();
    await expect.poll(() => pb().getAttribute('data-paused'), POLL).toBe('true');
    expect(controls.at(-1)?.request?.method).toBe('PAUSE');
    expect(await t0().locator('[data-testid=tile-playback]').textContent()).toContain('已暂停');
    const a = await videoTime();
    await sleep(1_500);
    expect(await videoTime()).toBeCloseTo(a, 2);
    await t0().locator('[data-testid=timeline-resume]').click();
    await expect.poll(() => pb().getAttribute('data-paused'), POLL).toBe('false');
    expect(controls.at(-1)?.request).toMatchObject({ method: 'PLAY' });
    const b = await videoTime();
    await expect.poll(videoTime, POLL).toBeGreaterThan(b + 1);
  });

  it('speed 2: Scale 2 at the camera, the button pressed, the player runs at rate 2', async () => {
    await t0().locator('[data-testid=timeline-speed-2]').click();
    await expect.poll(() => pb().getAttribute('data-speed'), POLL).toBe('2');
    expect(controls.at(-1)?.request).toMatchObject({ method: 'PLAY', scale: 2 });
    expect(await t0().locator('[data-testid=timeline-speed-2]').getAttribute('aria-checked')).toBe('true');
    expect(await t0().locator('[data-testid=timeline-speed-1]').getAttribute('aria-checked')).toBe('false');
    expect(await playbackRate()).toBe(2);
    // Media time runs faster than the wall clock and the picture keeps moving (not starved, not skipping).
    const a = await videoTime();
    const started = Date.now();
    await sleep(4_000);
    const advanced = (await videoTime()) - a;
    const wall = (Date.now() - started) / 1000;
    expect(advanced).toBeGreaterThan(wall * 1.3);
    expect(await pb().getAttribute('data-state')).toBe('playing');
    expect(await t0().locator('[data-testid=tile-playback]').textContent()).toContain('×2');
    await t0().locator('[data-testid=timeline-speed-1]').click();
    await expect.poll(() => pb().getAttribute('data-speed'), POLL).toBe('1');
    expect(await playbackRate()).toBe(1);
  });

  it('a click inside the playing span seeks (PLAY with Range at the camera); the cursor follows', async () => {
    const before = controls.length;
    const skipsBefore = (await page.evaluate('window.__sharpEyesPlayback.seekSkips')) as number;
    await clickBarAt(hour(10, 40));
    await expect.poll(() => controls.length, POLL).toBeGreaterThan(before);
    const seek = controls.at(-1)!.request!;
    expect(seek.method).toBe('PLAY');
    expect(seek.range).toBeDefined();
    await expect.poll(async () => (await t0().locator('[data-testid=timeline-position]').textContent()) ?? '', POLL).toMatch(/^10:(3[7-9]|4[0-3]):\d\d$/);
    await expect.poll(() => pb().getAttribute('data-state'), POLL).toBe('playing');
    // The player jumped to the new timeline's first picture instead of playing the old buffered seconds out.
    await expect.poll(() => page.evaluate('window.__sharpEyesPlayback.seekSkips'), POLL).toBe(skipsBefore + 1);
  });

  it('back to live stops the playback stream and the tile plays live again', async () => {
    await t0().locator('[data-testid=timeline-live]').click();
    await expect.poll(() => t0().getAttribute('data-mode'), POLL).toBe('live');
    await expect.poll(() => t0().getAttribute('data-state'), POLL).toBe('playing');
    await expect.poll(() => streamsOfKind('playback'), POLL).toBe(0);
    await expect.poll(() => fleet.activeStreams().filter((a) => a.sessionName === 'Playback').length, POLL).toBe(0);
    expect(await page.evaluate('window.__sharpEyesPlayback.players')).toBe(0);
    expect(await t0().locator('[data-testid=tile-live]').textContent()).toBe('实时');
    // The timeline stays open for the next click.
    expect(await t0().locator('[data-testid=timeline-record]').count()).toBe(23);
  });

  it('the end of the recording shows on the tile (MediaStatus 121)', async () => {
    // Into the 00:00–03:00 recording (a pixel is a few minutes at 24 h), then zoomed in to an hour around the
    // cursor, a click ten seconds before its end: a seek.
    await clickBarAt(hour(2, 50));
    await expect.poll(() => pb().getAttribute('data-state'), POLL).toMatch(/playing|ended/);
    for (let i = 0; i < 4; i++) await t0().locator('[data-testid=timeline-zoom-in]').click();
    await clickBarAt(hour(2, 59, 50));
    await expect.poll(() => pb().getAttribute('data-state'), { timeout: 60_000, interval: 250 }).toBe('ended');
    expect(await pb().getAttribute('data-end-reason'), 'why the stream ended').toBe('end-of-file');
    expect(await t0().locator('[data-testid=playback-ended]').textContent()).toContain('录像已播放完毕');
    await expect.poll(() => streamsOfKind('playback'), POLL).toBe(0);
  });

  it('in English: the same timeline, messages and end state; nothing recorded after now says so', async () => {
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent(), POLL).toBe('Video wall');
    expect(await t0().locator('[data-testid=playback-ended]').textContent()).toContain('End of recording');
    expect(await t0().locator('[data-testid=tile-playback]').textContent()).toContain('Playback');
    expect(await t0().locator('[data-testid=timeline-live]').textContent()).toContain('Back to live');
    expect(await t0().locator('[data-testid=playback-timeline]').textContent()).not.toMatch(/[\u4e00-\u9fff]/);
    expect(await t0().locator('[data-testid=timeline-date-text]').textContent()).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), /);
    // A new playback from the ended state, shown in English, for the screenshot.
    for (let i = 0; i < 4; i++) await t0().locator('[data-testid=timeline-zoom-out]').click();
    await clickBarAt(hour(14));
    await expect.poll(() => pb().getAttribute('data-state'), POLL).toBe('playing');
    await t0().locator('[data-testid=timeline-speed-4]').click();
    await expect.poll(() => pb().getAttribute('data-speed'), POLL).toBe('4');
    await saveScreenshot(page, 'wall-timeline-en');
    await t0().screenshot({ path: join(SCREENSHOT_DIR, 'wall-timeline-tile-en.png') });
    await t0().locator('[data-testid=timeline-live]').click();
    await expect.poll(() => streamsOfKind('playback'), POLL).toBe(0);
    // Today, after now: nothing to play.
    await t0().locator('[data-testid=timeline-next-day]').click();
    await expect.poll(() => t0().locator('[data-testid=timeline-next-day]').isDisabled(), POLL).toBe(true);
    const bar = t0().locator('[data-testid=timeline-bar]');
    const box = (await bar.boundingBox())!;
    await page.mouse.click(box.x + box.width - 3, box.y + box.height / 2);
    await expect.poll(() => t0().locator('[data-testid=timeline-message]').textContent(), POLL).toBe('Nothing recorded from this time to the end of the day');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => t0().locator('[data-testid=timeline-message]').textContent(), POLL).toBe('从此时刻到当天结束没有录像');
    expect(await t0().getAttribute('data-mode')).toBe('live');
    expect(pageErrors).toEqual([]);
  });
  it('a camera that is offline: its timeline says the recordings cannot be asked for, in both languages', async () => {
    const offline = gone.devices[0]!.channelIds[0]!;
    await h.waitFor(async () => ((await h.api(`/api/channels/${offline}`)).status === 200 ? true : null), 20_000, 'catalog of the second camera');
    await gone.stop({ unregister: true });
    await h.waitFor(async () => ((await h.api<{ status: string }>(`/api/channels/${offline}`)).body.status === 'offline' ? true : null), 20_000, 'offline');
    await tile(page, 1).click();
    await page.goto(`${h.gateway.httpUrl}/#/wall?channel=${offline}`);
    await expect.poll(() => tile(page, 1).getAttribute('data-channel-id'), POLL).toBe(offline);
    await tile(page, 1).hover();
    await tile(page, 1).locator('[data-testid=tile-timeline]').click();
    const message = tile(page, 1).locator('[data-testid=timeline-message]');
    await expect.poll(() => message.textContent(), POLL).toBe('录像查询失败：设备离线或不支持录像查询');
    expect(await tile(page, 1).locator('[data-testid=timeline-record]').count()).toBe(0);
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => message.textContent(), POLL).toBe('Recordings could not be read: The device is offline or cannot be asked for recordings');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => message.textContent(), POLL).toMatch(/^录像查询失败/);
  });
});
