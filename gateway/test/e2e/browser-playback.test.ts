/**
 * A real browser plays a gateway stream: headless Chromium (the Debian build, which decodes H.264) runs hls.js
 * on a page of the gateway's own origin against the signed playlist URL from POST /api/channels/:id/play.
 * Checks what a viewer would notice: the clock runs, the picture is 1280×720, hls.js reports nothing fatal,
 * and the frames are the camera's (the simulator's frame-index bar changes from frame to frame).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet, frameIndexBarLayout } from '../../src/sim/index.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const screenshotDir = join(repoRoot, 'test-output/screenshots');
const hlsScript = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const pagePlayerScript = join(here, 'hls-page-player.js');

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What window.hlsPagePlayer.state() returns (hls-page-player.js). */
interface PlayerState {
  currentTime: number;
  paused: boolean;
  readyState: number;
  videoWidth: number;
  videoHeight: number;
  decodedFrames: number;
  droppedFrames: number;
  mediaError: string | null;
  latency: number | null;
  playingDateMs: number | null;
  errors: Array<{ type: string; details: string; fatal: boolean; reason: string }>;
  nowMs: number;
}

/** Chromium processes on this machine (the browser, its zygotes and children; crashpad handlers separately). */
async function processCount(name: string): Promise<number> {
  try {
    return Number((await run('pgrep', ['-c', '-x', name])).stdout.trim());
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

const playerState = (page: Page): Promise<PlayerState> => page.evaluate<PlayerState>('window.hlsPagePlayer.state()');

describe('hls.js in headless Chromium plays a gateway stream', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser | null = null;
  let page: Page;
  let view: StreamView;
  const consoleLines: string[] = [];
  const before = { chromium: 0, crashpad: 0 };

  beforeAll(async () => {
    before.chromium = await processCount('chromium');
    before.crashpad = await processCount('chrome_crashpad');
    h = await startHarness({
      overrides: {
        sip: { password: 'browser-pass', keepaliveIntervalSec: 5 },
        // Its own RTP port range: live-video.test.ts (31000-31099) may run at the same time.
        media: { host: '127.0.0.1', ports: '31200-31229' },
      },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'browser-pass', devices: 1, keepaliveSec: 5, codec: 'h264', audio: 'g711a', idPrefix: '44030800', firstSerial: 900 });
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    page = await context.newPage();
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  }, 90_000);

  afterAll(async () => {
    // Normally the last test has closed it already; this is for a run that failed earlier.
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('Chromium can decode what the gateway serves (H.264 + AAC in fMP4 through MSE)', async () => {
    await page.goto(`${h.gateway.httpUrl}/`);
    const support = await page.evaluate<Record<string, boolean>>(`(() => {
      const types = ['video/mp4; codecs="avc1.42E01E"', 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"'];
      return Object.fromEntries(types.map((t) => [t, typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(t)]));
    })()`);
    expect(support, 'this Chromium build lacks the proprietary codecs (H.264/AAC)').toEqual({
      'video/mp4; codecs="avc1.42E01E"': true,
      'video/mp4; codecs="avc1.42E01E, mp4a.40.2"': true,
    });
  });

  it('plays: currentTime advances by more than 2 s, the picture is 1280x720, no fatal hls.js error', async () => {
    // Played only now, with the browser up: the stream is fresh when hls.js asks for it.
    const played = await h.api<StreamView>(`/api/channels/${fleet.devices[0].channelIds[0]}/play`, { body: { transport: 'udp' } });
    expect(played.status, JSON.stringify(played.body)).toBe(200);
    view = played.body;
    expect(view.hls).toMatch(/^\/media\/.+\/index\.m3u8$/);
    await page.addScriptTag({ content: readFileSync(hlsScript, 'utf8') });
    await page.addScriptTag({ content: readFileSync(pagePlayerScript, 'utf8') });
    // Same origin as the page: the signed path is all the player needs (no headers, no CORS).
    await page.evaluate(`window.hlsPagePlayer.start(${JSON.stringify(view.hls)}, {}, { width: 1280, height: 720 })`);

    const diagnostics = async (): Promise<string> =>
      JSON.stringify({ state: await playerState(page), console: consoleLines.slice(-20), stream: (await h.api(`/api/streams/${view.streamId}`)).body });
    // Playing at all: the first frames are decoded and the clock has moved (or hls.js gave up: no point waiting).
    await page
      .waitForFunction(
        '(({ currentTime, paused, errors }) => (currentTime > 0 && !paused) || errors.some((e) => e.fatal))(window.hlsPagePlayer.state())',
        undefined,
        { timeout: 20_000, polling: 250 },
      )
      .catch(async (err: Error) => {
        throw new Error(`video never started: ${err.message}\n${await diagnostics()}`);
      });
    const start = await playerState(page);
    expect(start.errors.filter((e) => e.fatal), await diagnostics()).toEqual([]);
    await page
      .waitForFunction(`window.hlsPagePlayer.state().currentTime > ${start.currentTime + 2}`, undefined, { timeout: 20_000, polling: 250 })
      .catch(async (err: Error) => {
        throw new Error(`currentTime stopped advancing: ${err.message}\n${await diagnostics()}`);
      });
    const later = await playerState(page);
    const wallSeconds = (later.nowMs - start.nowMs) / 1000;
    const mediaSeconds = later.currentTime - start.currentTime;
    console.log(`browser playback: ${mediaSeconds.toFixed(2)} s of media in ${wallSeconds.toFixed(2)} s, ${later.decodedFrames - start.decodedFrames} frames in that time (${later.droppedFrames} dropped since start), hls.js latency ${later.latency?.toFixed(2)} s`);

    expect(mediaSeconds).toBeGreaterThan(2);
    // Frames were decoded along the way, not skipped over: 2 s at 25 fps is 50 frames. Only half are required,
    // because hls.js may jump a short gap when a heavily loaded 2-core machine starves the decoder (seen at load ~30).
    expect(later.decodedFrames - start.decodedFrames, await diagnostics()).toBeGreaterThan(25);
    expect({ width: later.videoWidth, height: later.videoHeight }).toEqual({ width: 1280, height: 720 });
    expect(later.mediaError).toBeNull();
    expect(later.errors.filter((e) => e.fatal)).toEqual([]);
  });

  it('the frames are the camera\'s: the frame-index bar reads back and moves on', async () => {
    const bar = frameIndexBarLayout('main');
    const first = await page.evaluate<number | null>(`window.hlsPagePlayer.readFrameIndex(${JSON.stringify(bar)})`);
    expect(first).not.toBeNull();
    // 25 fps, 10 s loop (250 frames): any valid index is below that.
    expect(first!).toBeLessThan(250);
    const moved = await page.waitForFunction(
      `(() => { const i = window.hlsPagePlayer.readFrameIndex(${JSON.stringify(bar)}); return i !== ${first} ? i : null; })()`,
      undefined,
      { timeout: 5_000, polling: 200 },
    );
    const second = (await moved.jsonValue()) as number;
    expect(second).toBeLessThan(250);
    expect(second).not.toBe(first);

    mkdirSync(screenshotDir, { recursive: true });
    const png = await page.locator('#player').screenshot({ path: join(screenshotDir, 'hls-playback.png') });
    // A real picture compresses far worse than a black or blank box (~5 KB at 1280x720).
    expect(png.length).toBeGreaterThan(100_000);
  });

  it('closing the browser leaves no Chromium process behind', async () => {
    await browser!.close();
    browser = null;
    // Zygotes and crashpad handlers exit a moment after the browser process; wait for them, not a fixed time.
    const left = await h.waitFor(
      async () => {
        const now = { chromium: await processCount('chromium'), crashpad: await processCount('chrome_crashpad') };
        return now.chromium <= before.chromium && now.crashpad <= before.crashpad ? now : null;
      },
      15_000,
      'Chromium processes to exit',
    );
    expect(left.chromium).toBeLessThanOrEqual(before.chromium);
  });
});
