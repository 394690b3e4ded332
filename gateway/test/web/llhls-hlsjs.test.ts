/**
 * hls.js (lowLatencyMode) in Debian's Chromium playing the LL-HLS reader live, served by a tiny HTTP server
 * the way the gateway serves it: video.currentTime advances; the first playlist request (no _HLS_ params) is
 * answered without waiting for a new part (hls.js #4766); blocking reloads are used and held until their part
 * exists; hls.js keeps loading parts and never falls back to whole segments (hls.js #4731, MediaMTX #997);
 * after the source stalls for a few seconds playback resumes by itself (hls.js #7431, #6350); a camera restart at
 * another resolution (new epoch) plays on.
 * A viewer arriving at a stream nobody read for a while (idle window: only the newest segment kept) plays at once.
 * The session length is LLHLS_SOAK_SECONDS (default 20 s; the 10-minute run is the same test with 600).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlhlsReader } from '../../src/media/readers/llhls/index.js';
import { launchChromium } from '../support/browser.js';
import { encodeTestMedia, type EncodedMedia } from '../support/encoded-media.js';
import { feedLive, serveLlhls, type LiveFeed, type ServedLlhls } from '../support/llhls-serve.js';

const SOAK_SECONDS = Number(process.env.LLHLS_SOAK_SECONDS ?? 20);

const PAGE = `<!doctype html><html><body style="margin:0;background:#000">
<video id="v" muted autoplay playsinline style="width:640px"></video>
<script src="/hls.min.js"></script>
<script>
  window.errors = [];
  const video = document.getElementById('v');
  const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 });
  hls.on(Hls.Events.ERROR, (_e, d) => window.errors.push({ type: d.type, details: d.details, fatal: d.fatal }));
  hls.loadSource('/index.m3u8');
  hls.attachMedia(video);
  window.hls = hls;
</script></body></html>`;

let media: EncodedMedia;
let restarted: EncodedMedia;
let browser: Browser;
let reader: LlhlsReader;
let served: ServedLlhls;
let feed: LiveFeed;
let page: Page;

// Page-side expressions are strings: the gateway's tsconfig has no DOM types.
const currentTime = (): Promise<number> => page.evaluate<number>(`document.getElementById('v').currentTime`);

async function waitForTimeAbove(value: number, timeoutMs = 90_000): Promise<void> {
  await page.waitForFunction(`document.getElementById('v').currentTime > ${value}`, undefined, { timeout: timeoutMs, polling: 200 });
}

beforeAll(async () => {
  media = await encodeTestMedia({ codec: 'h264', seconds: 4, bframes: 2, gop: 25, audio: true, width: 640, height: 360 });
  restarted = await encodeTestMedia({ codec: 'h264', seconds: 4, bframes: 0, gop: 25, audio: true, width: 480, height: 270 });
  reader = new LlhlsReader();
  feed = feedLive(reader, media.tracks, media.units);
  served = await serveLlhls(reader, { 'player.html': PAGE });
  // Let a couple of segments exist, as when a viewer joins a running stream.
  await reader.playlist({ msn: 2 });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${served.base}/player.html`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  feed?.stop();
  reader?.close('test over');
  await served?.close();
});

describe('hls.js low-latency mode on the LL-HLS reader', () => {
  it('plays: video.currentTime advances', async () => {
    await waitForTimeAbove(2);
    expect(await currentTime()).toBeGreaterThan(2);
  }, 120_000);

  it(`keeps loading parts for ${SOAK_SECONDS} s: no fall-back to whole segments, no fatal error`, async () => {
    const before = await currentTime();
    await waitForTimeAbove(before + SOAK_SECONDS, (SOAK_SECONDS + 60) * 1000);
    const firstPart = served.log.findIndex((r) => r.url.startsWith('/part-'));
    expect(firstPart).toBeGreaterThanOrEqual(0);
    const afterParts = served.log.slice(firstPart);
    expect(afterParts.filter((r) => r.url.startsWith('/seg-'))).toEqual([]);
    expect(afterParts.filter((r) => r.url.startsWith('/part-')).length).toBeGreaterThan(SOAK_SECONDS * 3);
    const errors = await page.evaluate<Array<{ fatal: boolean }>>('window.errors');
    expect(errors.filter((e) => e.fatal)).toEqual([]);
    const latency = await page.evaluate<number>('window.hls.latency');
    const target = await page.evaluate<number>('window.hls.targetLatency');
    console.info(`hls.js latency behind the live edge after ${SOAK_SECONDS} s: ${latency.toFixed(2)} s (its target ${target.toFixed(2)} s)`);
  }, (SOAK_SECONDS + 120) * 1000);

  it('got its first playlist without waiting for a new part, then used blocking reloads', () => {
    const playlists = served.log.filter((r) => r.url.startsWith('/index.m3u8'));
    expect(playlists[0].url).toBe('/index.m3u8');
    expect(playlists[0].status).toBe(200);
    expect(playlists[0].partsAtAnswer).toBe(playlists[0].partsAtStart);
    const blocking = playlists.filter((r) => r.url.includes('_HLS_msn='));
    expect(blocking.length).toBeGreaterThan(3);
    // Held until a new part was published (not answered with the same playlist again).
    const held = blocking.filter((r) => r.partsAtAnswer > r.partsAtStart);
    expect(held.length).toBeGreaterThan(blocking.length / 2);
    expect(blocking.every((r) => r.status === 200)).toBe(true);
  });

  it('recovers by itself after the source stalls for 4 s', async () => {
    feed.pause();
    // Wait until playback has used up what it had and stopped advancing.
    let last = await currentTime();
    await page.waitForFunction(
      `(() => {
        const t = document.getElementById('v').currentTime;
        window.sameCount = t === window.lastSeen ? (window.sameCount ?? 0) + 1 : 0;
        window.lastSeen = t;
        return t > ${last - 1} && window.sameCount >= 10;
      })()`,
      undefined,
      { timeout: 60_000, polling: 200 },
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    last = await currentTime();
    feed.resume();
    await waitForTimeAbove(last + 3);
    expect(await currentTime()).toBeGreaterThan(last + 3);
  }, 180_000);

  it('plays on when the camera restarts at another resolution (new epoch: DISCONTINUITY + new MAP)', async () => {
    feed.stop();
    feed = feedLive(reader, restarted.tracks, restarted.units, { epoch: 2 });
    await page.waitForFunction(`document.getElementById('v').videoWidth === 480`, undefined, { timeout: 90_000, polling: 200 });
    const t = await currentTime();
    await waitForTimeAbove(t + 3);
    expect(await page.evaluate<number>(`document.getElementById('v').videoHeight`)).toBe(270);
    expect(served.log.some((r) => r.url === '/init-2.mp4' && r.status === 200)).toBe(true);
    const errors = await page.evaluate<Array<{ fatal: boolean }>>('window.errors');
    expect(errors.filter((e) => e.fatal)).toEqual([]);
  }, 180_000);
});

describe('hls.js on a stream whose window went idle (idleWindowSec)', () => {
  it('a viewer arriving after the idle bound gets its first playlist at once and plays', async () => {
    // 2 s instead of the default 10: the same code path, a shorter wait.
    const idleReader = new LlhlsReader({ idleWindowSec: 2 });
    const idleFeed = feedLive(idleReader, media.tracks, media.units);
    const idleServed = await serveLlhls(idleReader, { 'player.html': PAGE });
    const idlePage = await browser.newPage();
    try {
      // Ready when the window has been trimmed: idle, and more segments published since than one window holds.
      const start = Date.now();
      for (;;) {
        const st = idleReader.stats();
        if (st.windowIdle && st.segments >= 9) break;
        if (Date.now() - start > 60_000) throw new Error(`window not idle after 60 s: ${JSON.stringify(st)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const heldIdle = idleReader.stats().heldBytes;
      await idlePage.goto(`${idleServed.base}/player.html`);
      await idlePage.waitForFunction(`document.getElementById('v').currentTime > 2`, undefined, { timeout: 90_000, polling: 200 });
      const playlists = idleServed.log.filter((r) => r.url.startsWith('/index.m3u8'));
      expect(playlists[0].url).toBe('/index.m3u8');
      expect(playlists[0].status).toBe(200);
      // Answered without waiting for a new part, though only one segment was there.
      expect(playlists[0].partsAtAnswer).toBe(playlists[0].partsAtStart);
      expect(playlists[0].answeredAt - playlists[0].startedAt).toBeLessThan(200);
      const errors = await idlePage.evaluate<Array<{ fatal: boolean }>>('window.errors');
      expect(errors.filter((e) => e.fatal)).toEqual([]);
      // The viewer keeps the window: it grows back.
      await idlePage.waitForFunction(`document.getElementById('v').currentTime > 5`, undefined, { timeout: 90_000, polling: 200 });
      expect(idleReader.stats().windowIdle).toBe(false);
      expect(idleReader.stats().heldBytes).toBeGreaterThan(heldIdle * 2);
    } finally {
      await idlePage.close();
      idleFeed.stop();
      idleReader.close('test over');
      await idleServed.close();
    }
  }, 240_000);
});
