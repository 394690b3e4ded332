/**
 * Listening on the wall (issue 9: "Wall tiles are muted by default: audio is transcoded only while someone
 * listens"), in a real browser with two G.711 cameras: both tiles play muted on the in-process LL-HLS, video
 * only, with no ffmpeg on the gateway. The speaker button on a tile hands it over (second <video>, the tile
 * stays "playing") to a stream with AAC audio: the <video> on screen is unmuted and decodes audio, and the
 * gateway runs one AAC rendition with one listener. Listening to the other tile mutes the first and moves the
 * rendition; muting the last stops it. The button's tooltip and the "listening" mark in both languages.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { ffmpegChildren } from '../support/processes.js';
import { readTiles, revealInTree, tile } from './wall-support.js';

const PREFIX = '44032001';

interface HeardVideo {
  videos: number;
  muted: boolean;
  audioBytes: number;
  currentTime: number;
}

describe('web wall: listening to one tile', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cams: string[];
  const pageErrors: string[] = [];

  /** The running live stream of a channel (sub-stream: grid tiles) as /api/streams shows it. */
  const streamOf = async (channelId: string): Promise<StreamView | undefined> =>
    (await h.api<{ items: StreamView[] }>('/api/streams')).body.items.find((s) => s.channelId === channelId && s.stream === 'sub' && s.state === 'playing');
  /** The tile's <video> on screen: muted or not, and the audio bytes Chromium decoded from it. */
  const heard = (index: number): Promise<HeardVideo> =>
    page.evaluate<HeardVideo>(`(() => {
      const videos = document.querySelectorAll('[data-testid=wall-grid] [data-testid=wall-tile][data-index="${index}"] video');
      const v = videos[0];
      return { videos: videos.length, muted: v.muted, audioBytes: v.webkitAudioDecodedByteCount ?? 0, currentTime: v.currentTime };
    })()`);
  const listenButton = (index: number) => tile(page, index).locator('[data-testid=tile-listen]');
  /** Every value the tile's data-state takes from now on (a MutationObserver in the page). */
  const recordStates = (index: number): Promise<void> =>
    page.evaluate(`(() => {
      const el = document.querySelector('[data-testid=wall-grid] [data-testid=wall-tile][data-index="${index}"]');
      window.__tileStates = [el.dataset.state];
      window.__tileObserver?.disconnect();
      window.__tileObserver = new MutationObserver(() => window.__tileStates.push(el.dataset.state));
      window.__tileObserver.observe(el, { attributes: true, attributeFilter: ['data-state'] });
    })()`);
  const recordedStates = (): Promise<string[]> => page.evaluate<string[]>('window.__tileStates');

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      // idleSec well above the test: only a release (not an idle sweep) may stop a rendition here.
      overrides: { sip: { password: 'wall-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '31900-31939', idleSec: 120 } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'wall-pass', devices: 2, keepaliveSec: 5, codec: 'h264', audio: 'g711a', idPrefix: PREFIX, firstSerial: 1, personalisedChannels: 0 });
    await Promise.all([fleet.prepareMedia({ personalised: false, profiles: ['sub'] }), fleet.start()]);
    await fleet.waitForRegistered(2, 30_000);
    cams = fleet.devices.map((d) => d.channelIds[0]);
    await h.waitFor(async () => (await h.api<{ total: number }>(`/api/channels?kind=channel&limit=1`)).body.total >= 2, 20_000, 'catalogs of 2 cameras');
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.locator('[data-testid=wall-page]').waitFor();
    await page.locator('[data-testid=layout-4]').click();
  }, 180_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('two G.711 cameras play muted, video only, with no ffmpeg on the gateway', async () => {
    for (const i of [0, 1]) {
      await (await revealInTree(page, cams[i], cams[i])).dragTo(tile(page, i));
      await expect.poll(() => tile(page, i).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    }
    for (const i of [0, 1]) {
      await expect.poll(() => tile(page, i).getAttribute('data-audio')).toBe('muted');
      expect(await heard(i)).toMatchObject({ muted: true, audioBytes: 0 });
      expect(await streamOf(cams[i])).toMatchObject({ audio: 'g711a', listeners: 0, audioRendition: false });
    }
    expect(await ffmpegChildren()).toBe(0);
    // zh-CN by default: what a click does.
    expect(await listenButton(0).getAttribute('title')).toBe('收听此窗格声音（其他窗格静音）');
    expect(await listenButton(0).getAttribute('aria-pressed')).toBe('false');
  }, 90_000);

  it('the speaker button hands the tile over to a stream with audio: unmuted, decoding AAC; one rendition, one listener', async () => {
    await recordStates(0);
    await listenButton(0).click();
    await expect.poll(() => tile(page, 0).getAttribute('data-audio'), { timeout: 20_000 }).toBe('audible');
    await expect.poll(async () => (await heard(0)).videos, { timeout: 10_000 }).toBe(1);
    const first = await heard(0);
    expect(first.muted).toBe(false);
    await expect.poll(async () => (await heard(0)).audioBytes, { timeout: 10_000 }).toBeGreaterThan(first.audioBytes);
    expect((await heard(0)).audioBytes).toBeGreaterThan(0);
    // The tile never left "playing" (the old picture stayed until the new one moved), and it plays HLS.
    expect(new Set(await recordedStates())).toEqual(new Set(['playing']));
    expect(await tile(page, 0).getAttribute('data-path')).toBe('hls');
    // The gateway: one AAC rendition for one listener; the muted viewer that was handed over is released.
    await expect.poll(() => streamOf(cams[0]), { timeout: 10_000 }).toMatchObject({ listeners: 1, audioRendition: true, viewers: 1 });
    expect(await ffmpegChildren()).toBe(1);
    expect(await tile(page, 0).locator('[data-testid=tile-listening]').textContent()).toContain('收听中');
    expect(await listenButton(0).getAttribute('title')).toBe('此窗格静音');
    expect(await listenButton(0).getAttribute('aria-pressed')).toBe('true');
    // The other tile stays muted.
    expect(await heard(1)).toMatchObject({ muted: true, audioBytes: 0 });
    expect(await tile(page, 1).getAttribute('data-audio')).toBe('muted');
    await saveScreenshot(page, 'wall-listen-zh');
  }, 90_000);

  it('only one tile is heard: listening to the other mutes the first, and the rendition follows', async () => {
    await listenButton(1).click();
    await expect.poll(() => tile(page, 1).getAttribute('data-audio'), { timeout: 20_000 }).toBe('audible');
    // Muted at once, then handed back to the stream without audio: its rendition stops.
    await expect.poll(() => tile(page, 0).getAttribute('data-audio'), { timeout: 5_000 }).toBe('muted');
    expect((await heard(0)).muted).toBe(true);
    await expect.poll(() => streamOf(cams[0]), { timeout: 20_000 }).toMatchObject({ listeners: 0, audioRendition: false });
    await expect.poll(() => streamOf(cams[1]), { timeout: 10_000 }).toMatchObject({ listeners: 1, audioRendition: true });
    await expect.poll(ffmpegChildren, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await heard(1)).audioBytes, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await heard(1)).muted).toBe(false);
    expect((await readTiles(page)).slice(0, 2).map((t) => t.state)).toEqual(['playing', 'playing']);

    // English: the same controls, in English.
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent()).toBe('Video wall');
    expect(await listenButton(1).getAttribute('title')).toBe('Mute this tile');
    expect(await listenButton(0).getAttribute('title')).toBe('Listen to this tile (the other tiles are muted)');
    expect(await tile(page, 1).locator('[data-testid=tile-listening]').textContent()).toContain('Listening');
    await saveScreenshot(page, 'wall-listen-en');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent()).not.toBe('Video wall');
  }, 90_000);

  it('muting the last tile stops the audio rendition; both tiles play on, muted', async () => {
    await recordStates(1);
    await listenButton(1).click();
    await expect.poll(() => tile(page, 1).getAttribute('data-audio'), { timeout: 5_000 }).toBe('muted');
    expect((await heard(1)).muted).toBe(true);
    await expect.poll(() => streamOf(cams[1]), { timeout: 20_000 }).toMatchObject({ listeners: 0, audioRendition: false });
    await expect.poll(ffmpegChildren, { timeout: 10_000 }).toBe(0);
    const before = (await readTiles(page))[1];
    await expect.poll(async () => (await readTiles(page))[1].currentTime - before.currentTime, { timeout: 20_000 }).toBeGreaterThan(1.5);
    expect(new Set(await recordedStates())).toEqual(new Set(['playing']));
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
