/**
 * The live player in a real browser, on the app's diagnostics grid (#/diagnostics/players, LiveVideo tiles):
 * 25 simulated sub-streams all play with advancing time while the page's media and plays go over one WebSocket
 * (no /media or play HTTP request, a handful of connections at most); closing the tiles leaves no hls.js instance and no
 * viewer on the gateway; a camera that goes dark turns its tile to "offline since hh:mm"; a channel that does
 * not exist shows the gateway's reason.
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { DeviceFleet } from '../../src/sim/index.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const TILES = 25;

interface TileSample {
  channelId: string;
  state: string;
  currentTime: number;
}

/** What the page opened, from Chromium's own network events. */
class ConnectionLog {
  readonly httpConnections = new Set<number>();
  readonly mediaHttpRequests: string[] = [];
  readonly playHttpRequests: string[] = [];
  readonly webSockets: string[] = [];

  constructor(cdp: CDPSession, origin: string) {
    cdp.on('Network.responseReceived', (e) => {
      if (!e.response.url.startsWith(origin)) return;
      // Cached responses report connection 0.
      if (e.response.connectionId) this.httpConnections.add(e.response.connectionId);
    });
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.url.startsWith(`${origin}/media/`)) this.mediaHttpRequests.push(e.request.url);
      if (/\/api\/channels\/[^/]+\/play$/.test(e.request.url)) this.playHttpRequests.push(e.request.url);
    });
    cdp.on('Network.webSocketCreated', (e) => this.webSockets.push(new URL(e.url).pathname));
  }
}

// Page-side code as strings: the project's tsconfig has no DOM library (see e2e/hls-page-player.js).
const tiles = (page: Page): Promise<TileSample[]> =>
  page.evaluate<TileSample[]>(`[...document.querySelectorAll('[data-testid=live-video]')].map((tile) => ({
    channelId: tile.dataset.channelId ?? '',
    state: tile.dataset.state ?? '',
    currentTime: tile.querySelector('video')?.currentTime ?? 0,
  }))`);

const videoVisibility = (page: Page): Promise<string> => page.evaluate<string>(`getComputedStyle(document.querySelector('[data-testid=live-video] video')).visibility`);

interface PageCounters {
  players: number;
  hls: number;
  mux: { socketsOpened: number; muxRequests: number; fetchRequests: number; muxBytes: number };
}

/** LivePlayer's and the media loader's page-wide counters (window.__sharpEyesPlayers / __sharpEyesMediaMux). */
const counters = (page: Page): Promise<PageCounters> =>
  page.evaluate<PageCounters>(`({ players: window.__sharpEyesPlayers?.players ?? -1, hls: window.__sharpEyesPlayers?.hls ?? -1, mux: { ...window.__sharpEyesMediaMux } })`);

describe('web: live player', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let channels: string[];
  const consoleLines: string[] = [];

  beforeAll(async () => {
    const webRoot = await buildWeb();
    h = await startHarness({
      webRoot,
      overrides: {
        sip: { password: 'player-pass', keepaliveIntervalSec: 2, keepaliveMissCount: 2, catalogOnRegister: true },
        media: { host: '127.0.0.1', ports: '31800-31869', rtpTimeoutSec: 3, idleSec: 20 },
      },
    });
    // Sub-streams (640×360, ~0.5 Mb/s) of one shared loop: the 2-core box copes with 25 of them.
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'player-pass', devices: TILES, keepaliveSec: 2, codec: 'h264', personalisedChannels: 0, idPrefix: '44031300', firstSerial: 100 });
    await fleet.prepareMedia({ personalised: false, profiles: ['sub'] });
    await fleet.start();
    await fleet.waitForRegistered(TILES, 60_000);
    channels = fleet.devices.map((d) => d.channelIds[0]);
    // The catalog makes the channels known (status, names) before the page asks for them.
    await h.waitFor(async () => (await h.api<{ total: number }>('/api/channels?limit=1')).body.total >= TILES, 30_000, 'catalog of every camera');
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  async function openGrid(ids: string[]): Promise<{ context: BrowserContext; page: Page; log: ConnectionLog }> {
    const { context, page } = await newWallPage(browser);
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') consoleLines.push(`${m.type()}: ${m.text()}`);
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const log = new ConnectionLog(cdp, h.gateway.httpUrl);
    await page.goto(`${h.gateway.httpUrl}/#/diagnostics/players?channels=${ids.join(',')}&stream=sub`);
    await page.locator('[data-testid=player-grid]').waitFor();
    return { context, page, log };
  }

  it(`${TILES} tiles all play with advancing time, fetching media over one WebSocket; closing them leaves no viewer`, async () => {
    const { context, page, log } = await openGrid(channels);
    const started = Date.now();
    await expect
      .poll(async () => (await tiles(page)).filter((t) => t.state === 'playing').length, { timeout: 90_000, interval: 500 })
      .toBe(TILES);
    const allPlayingMs = Date.now() - started;
    const first = await tiles(page);
    // Every tile's clock moves on by more than a second (not one frozen frame among them).
    await expect
      .poll(
        async () => {
          const now = await tiles(page);
          return now.filter((t, i) => t.state === 'playing' && t.currentTime > first[i].currentTime + 1).length;
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(TILES);
    await saveScreenshot(page, 'player-grid-25');

    const count = await counters(page);
    console.log(consoleLines.slice(0, 20).join('\n'));
    console.log(`player grid: ${TILES} tiles playing ${allPlayingMs} ms after navigation; ${log.httpConnections.size} HTTP connections, web sockets ${JSON.stringify(log.webSockets)}, mux ${JSON.stringify(count.mux)}`);
    expect(count).toMatchObject({ players: TILES, hls: TILES });
    // Media went over the page's socket, not HTTP: one socket, no /media GET at all.
    expect(log.mediaHttpRequests).toEqual([]);
    expect(count.mux.fetchRequests).toBe(0);
    expect(count.mux.muxRequests).toBeGreaterThan(TILES * 3);
    expect(log.webSockets.filter((p) => p === '/api/media/ws')).toHaveLength(1);
    // The 25 plays rode on the socket too (over HTTP/1.1 they would queue behind six connections).
    expect(log.playHttpRequests).toEqual([]);
    // What is left on HTTP (the page, sign-in, the event socket's handshake): a handful of connections at most.
    expect(log.httpConnections.size).toBeLessThanOrEqual(6);
    const metrics = (await h.api<string>('/metrics')).body;
    expect(Number(/se_media_mux_requests_total\{code="200"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(TILES * 3);

    // Before closing: 25 viewers on the gateway, one per tile.
    const viewers = async (): Promise<number> => (await h.api<{ items: StreamView[] }>('/api/streams')).body.items.reduce((sum, s) => sum + s.viewers, 0);
    expect(await viewers()).toBe(TILES);
    // The tiles go away (the route's channel list empties): every player closes.
    await page.goto(`${h.gateway.httpUrl}/#/diagnostics/players?channels=`);
    await expect.poll(async () => (await tiles(page)).length).toBe(0);
    expect(await counters(page)).toMatchObject({ players: 0, hls: 0 });
    await expect.poll(viewers, { timeout: 10_000, interval: 250 }).toBe(0);
    await context.close();
  });

  it('recovers by itself: a stream stopped under the tile is re-opened; a camera that stops sending fails, then plays again', async () => {
    const channel = channels[TILES - 2];
    const { context, page } = await openGrid([channel]);
    const tile = page.locator('[data-testid=live-video]');
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    const streamOf = async (): Promise<StreamView | undefined> => (await h.api<{ items: StreamView[] }>('/api/streams')).body.items.find((s) => s.channelId === channel);
    const first = await streamOf();
    expect(first?.viewers).toBe(1);
    // An operator stops the stream for everyone: the tile plays it again, as a new stream with its viewer.
    await h.api(`/api/streams/${first!.streamId}`, { method: 'DELETE' });
    await expect.poll(async () => { const s = await streamOf(); return s && s.streamId !== first!.streamId && s.viewers === 1; }, { timeout: 30_000, interval: 250 }).toBe(true);
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');

    // The camera stops sending (no BYE): the picture is hidden while it is stalled, then the gateway's reason shows.
    fleet.stopSending(channel);
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 30_000, interval: 200 }).not.toBe('playing');
    expect(await videoVisibility(page)).toBe('hidden');
    await expect.poll(() => page.locator('[data-testid=live-video-error]').getAttribute('data-step'), { timeout: 30_000, interval: 250 }).toBe('rtp');
    // It sends again: the tile's retries bring the picture back without anyone touching it.
    fleet.resumeSending(channel);
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 45_000, interval: 250 }).toBe('playing');
    await context.close();
  });

  it('a camera that goes dark turns its tile to "offline since hh:mm"', async () => {
    const device = fleet.devices[TILES - 1];
    const { context, page } = await openGrid([device.channelIds[0]]);
    const tile = page.locator('[data-testid=live-video]');
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    const stoppedAt = Date.now();
    fleet.stopDevices([device.id]);
    // Keepalives 2 s × 2 missed: the gateway marks it offline, the event socket tells the tile.
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 30_000, interval: 250 }).toBe('offline');
    const label = page.locator('[data-testid=live-video-offline]');
    const since = Number(await label.getAttribute('data-since'));
    expect(since).toBeGreaterThanOrEqual(stoppedAt - 1000);
    expect(since).toBeLessThanOrEqual(Date.now());
    const hhmm = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false }).format(since);
    expect(await label.textContent()).toContain(`设备离线，自 ${hhmm} 起`);
    // The picture is hidden, not left frozen on the last frame.
    expect(await videoVisibility(page)).toBe('hidden');
    await saveScreenshot(page, 'player-offline');
    await context.close();
  });

  it("a channel that does not exist shows the gateway's reason", async () => {
    const missing = '44031399001320009999';
    const { context, page } = await openGrid([missing]);
    const tile = page.locator('[data-testid=live-video]');
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 20_000 }).toBe('error');
    const reason = page.locator('[data-testid=live-video-error]');
    expect(await reason.getAttribute('data-step')).toBe('channel');
    // Said from the catalogue (error.play.channel); the gateway's English stays in data-detail.
    expect(await reason.textContent()).toContain('找不到该通道');
    expect(await reason.getAttribute('data-detail')).toContain(`channel ${missing} not found`);
    expect(await tile.textContent()).toContain('无法播放 · 通道');
    await saveScreenshot(page, 'player-error');
    await context.close();
  });
});
