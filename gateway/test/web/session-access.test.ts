/**
 * Issue 12 defects 2 and 13 in a real browser: a consultation's media access ends with the consultation.
 *
 * - A point that joins with a conference terminal nobody pre-shared gets in (no raw error) and the chair's
 *   roll call shows that terminal to everyone, playing.
 * - The chair removes a point: at once its page says so, its media URLs answer 403, its media socket is
 *   closed and its video stops.
 * - The chair ends the consultation: every point shows "the consultation has ended", the roll-call banner
 *   goes, the media URLs it was playing answer 403, its media socket closes and its video's clock stops.
 * - A signed-in user signs out: the media URLs that login opened answer 403 at once.
 *
 * What the point fetched is read off the wire (its media WebSocket's answers and plain /media requests), the
 * way an attacker keeping the URL would reuse it.
 */
import type { Browser, BrowserContext, ElementHandle, Page, WebSocket as PageSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';

interface ChannelRow {
  id: string;
  name: string;
}

const POLL = { timeout: 30_000, interval: 250 };

/** A point's page and what it fetched: the HLS playlists of its plays and its media sockets. */
class Watched {
  readonly playlists: string[] = [];
  readonly mediaSockets: PageSocket[] = [];

  constructor(readonly page: Page) {
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (/^\/media\/[^/]+\/index\.m3u8$/.test(path)) this.playlists.push(path);
    });
    page.on('websocket', (socket) => {
      if (!socket.url().includes('/api/media/ws')) return;
      this.mediaSockets.push(socket);
      socket.on('framereceived', ({ payload }) => {
        if (typeof payload === 'string' || payload.length < 7) return;
        // u32 id · u16 status · u8 n · n bytes content type · body (gateway/src/api/routes/media-mux.ts)
        const typeLength = payload.readUInt8(6);
        const type = payload.subarray(7, 7 + typeLength).toString('latin1');
        if (payload.readUInt16BE(4) !== 200 || type !== 'application/json') return;
        try {
          const body = JSON.parse(payload.subarray(7 + typeLength).toString('utf8')) as { hls?: unknown };
          if (typeof body.hls === 'string' && body.hls !== '') this.playlists.push(body.hls);
        } catch {
          // not a play answer
        }
      });
    });
  }

  /** The HTTP status a plain GET of a media path gets from this page now. */
  status(path: string): Promise<number> {
    return this.page.evaluate(async (url) => (await fetch(url)).status, path);
  }

  openMediaSockets(): number {
    return this.mediaSockets.filter((s) => !s.isClosed()).length;
  }
}

describe('web: a consultation\'s media access ends with it (issue 12 defects 2, 13)', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let chair: Page;
  let chairWatch: Watched;
  let pointA: Watched;
  let pointB: Watched;
  let camera: ChannelRow;
  let terminal: ChannelRow;
  let sessionId = '';
  let code = '';
  const pageErrors: string[] = [];

  const grid = (page: Page) => page.locator('[data-testid=session-grid]');
  const playingVideo = (page: Page) => page.locator('[data-testid=session-grid] [data-testid=live-video][data-state=playing] video').first();
  const participantRow = (name: string) => chair.locator(`[data-testid=participant][data-name="${name}"]`);
  const clockOf = (video: ElementHandle): Promise<number> => video.evaluate((v) => (v as unknown as { currentTime: number }).currentTime);
  /** True once two readings in a row are equal: the clock has stopped. */
  const stopped = (video: ElementHandle): (() => Promise<boolean>) => {
    let previous = Number.NaN;
    return async () => {
      const now = await clockOf(video);
      const same = now === previous;
      previous = now;
      return same;
    };
  };

  async function join(page: Page, name: string, terminalId: string | null): Promise<void> {
    await page.goto(`${h.gateway.httpUrl}/#/join/${code}`);
    await page.locator('input[name=name]').fill(name);
    if (terminalId) await page.locator('input[name=terminal]').fill(terminalId);
    await page.locator('[data-testid=join-form] button[type=submit]').click();
    await page.waitForURL((url) => url.hash === `#/sessions/${sessionId}`);
    await expect.poll(() => page.locator('[data-testid=session-socket]').getAttribute('data-state'), POLL).toBe('open');
  }

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: {
        sip: { password: 'access-pass', keepaliveIntervalSec: 5 },
        media: { host: '127.0.0.1', ports: '31740-31779' },
      },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'access-pass', devices: 2, keepaliveSec: 5, codec: 'h264', idPrefix: '44031300', firstSerial: 980 });
    await fleet.start();
    await fleet.waitForRegistered(2, 30_000);
    const ids = fleet.devices.map((d) => d.channelIds[0]);
    [camera, terminal] = await h.waitFor(
      async () => {
        const found = await Promise.all(ids.map((id) => h.api<ChannelRow>(`/api/channels/${id}`)));
        return found.every((r) => r.status === 200 && r.body.name) ? found.map((r) => r.body) : null;
      },
      30_000,
      'the simulated channels in the catalog',
    );
    browser = await launchChromium();
    const pages: Page[] = [];
    for (let i = 0; i < 3; i++) {
      const { context, page } = await newWallPage(browser);
      contexts.push(context);
      pages.push(page);
      page.on('pageerror', (e) => pageErrors.push(`page ${i}: ${e.message}`));
      page.on('dialog', (dialog) => void dialog.accept());
    }
    chair = pages[0];
    chairWatch = new Watched(chair);
    pointA = new Watched(pages[1]);
    pointB = new Watched(pages[2]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('a point joins with a terminal nobody pre-shared, without an error, and the other point plays the shared camera', async () => {
    await signIn(chair, h.gateway.httpUrl, 'admin', 'admin-password-1');
    // The chair shares the camera only: the point's terminal is not among the sources.
    // In the page (the gateway's type-check has no DOM library: the script is a string).
    const created = await chair.evaluate<{ id: string; code: string; sources: string[] }>(`(async () => {
      const token = JSON.parse(localStorage.getItem('sharp-eyes.auth') ?? '{}').token;
      const res = await fetch('/api/sessions', { method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: '夜间联合巡查', sources: ['${camera.id}'] }) });
      return res.json();
    })()`);
    expect(created.sources).toEqual([camera.id]);
    sessionId = created.id;
    code = created.code;
    await chair.goto(`${h.gateway.httpUrl}/#/sessions/${sessionId}`);
    await expect.poll(() => chair.locator('[data-testid=my-role]').getAttribute('data-role'), POLL).toBe('chair');

    await join(pointA.page, '西丽派出所', terminal.id);
    expect(await pointA.page.locator('[data-testid=join-error]').count()).toBe(0);
    await join(pointB.page, '桃源街道', null);
    await expect.poll(() => playingVideo(pointB.page).count(), { timeout: 45_000, interval: 500 }).toBe(1);
    expect(pointB.playlists.length).toBeGreaterThan(0);
  });

  it('the chair removes a point: it is told, and its media URLs, media socket and video stop at once', async () => {
    const video = (await playingVideo(pointB.page).elementHandle())!;
    const clock0 = await clockOf(video);
    await expect.poll(() => clockOf(video), POLL).toBeGreaterThan(clock0);
    const playlist = pointB.playlists[pointB.playlists.length - 1];
    expect(await pointB.status(playlist)).toBe(200);
    expect(pointB.openMediaSockets()).toBeGreaterThan(0);

    await participantRow('桃源街道').locator('[data-testid=remove-participant]').click();
    await expect.poll(() => pointB.page.locator('[data-testid=session-removed]').count(), POLL).toBe(1);
    expect(await pointB.status(playlist)).toBe(403);
    await expect.poll(() => pointB.openMediaSockets(), POLL).toBe(0);
    await expect.poll(() => video.evaluate((v) => v.isConnected), POLL).toBe(false);
    await expect.poll(stopped(video), POLL).toBe(true);
    await expect.poll(() => participantRow('桃源街道').count(), POLL).toBe(0);
    // Still signed in as the guest (no jump to the sign-in page), on the session page.
    expect(pointB.page.url()).toContain(`#/sessions/${sessionId}`);
    await saveScreenshot(pointB.page, 'session-removed-zh');
    await pointB.page.locator('[data-testid=session-locale]').click();
    await expect.poll(() => pointB.page.locator('[data-testid=session-removed]').textContent(), POLL).toContain('removed');
    await saveScreenshot(pointB.page, 'session-removed-en');
  });

  it('roll call shows the point\'s terminal to everyone, although it was never pre-shared', async () => {
    await participantRow('西丽派出所').locator('[data-testid=roll-call]').click();
    const pointId = await participantRow('西丽派出所').getAttribute('data-participant-id');
    await expect.poll(() => pointA.page.locator('[data-testid=roll-call-banner]').getAttribute('data-participant-id'), POLL).toBe(pointId);
    await expect.poll(() => grid(pointA.page).locator('[data-testid=session-tile]').first().getAttribute('data-channel-id'), POLL).toBe(terminal.id);
    await expect.poll(() => playingVideo(pointA.page).count(), { timeout: 45_000, interval: 500 }).toBe(1);
    expect(await pointA.page.locator('[data-testid=session-command-error]').count()).toBe(0);
    await saveScreenshot(pointA.page, 'session-roll-call-unshared-zh');
    await saveScreenshot(chair, 'session-roll-call-unshared-chair-zh');
  });

  it('the chair ends the session: the point shows it, the banner goes, its media URLs and socket stop, its video stops', async () => {
    const video = (await playingVideo(pointA.page).elementHandle())!;
    const clock0 = await clockOf(video);
    await expect.poll(() => clockOf(video), POLL).toBeGreaterThan(clock0);
    const playlists = [...new Set(pointA.playlists)];
    expect(playlists.length).toBeGreaterThan(0);
    const live = playlists[playlists.length - 1];
    expect(await pointA.status(live)).toBe(200);

    const ended = await chair.evaluate<number>(`(async () => {
      const token = JSON.parse(localStorage.getItem('sharp-eyes.auth') ?? '{}').token;
      return (await fetch('/api/sessions/${sessionId}/end', { method: 'POST', headers: { Authorization: 'Bearer ' + token } })).status;
    })()`);
    expect(ended).toBe(200);

    await expect.poll(() => pointA.page.locator('[data-testid=session-ended]').count(), POLL).toBe(1);
    expect(await pointA.page.locator('[data-testid=session-ended]').textContent()).toContain('会商已于');
    expect(await pointA.page.locator('[data-testid=roll-call-banner]').count()).toBe(0);
    for (const path of playlists) expect({ path, status: await pointA.status(path) }).toEqual({ path, status: 403 });
    await expect.poll(() => pointA.openMediaSockets(), POLL).toBe(0);
    await expect.poll(() => video.evaluate((v) => v.isConnected), POLL).toBe(false);
    await expect.poll(stopped(video), POLL).toBe(true);
    expect(pointA.page.url()).toContain(`#/sessions/${sessionId}`);
    await saveScreenshot(pointA.page, 'session-ended-zh');
    await pointA.page.locator('[data-testid=session-locale]').click();
    await expect.poll(() => pointA.page.locator('[data-testid=session-ended]').textContent(), POLL).toContain('ended');
    await saveScreenshot(pointA.page, 'session-ended-en');
    // The gateway released the revoked viewers itself.
    const streams = await h.api<{ items: { viewers: number }[] }>('/api/streams');
    expect(streams.body.items.every((s) => s.viewers === 0)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('signing out ends the video that login opened', async () => {
    // The chair watched the camera under its own login (not the session's): still valid after the end…
    const own = [...new Set(chairWatch.playlists)];
    expect(own.length).toBeGreaterThan(0);
    await chair.goto(`${h.gateway.httpUrl}/#/wall`);
    const still = await Promise.all(own.map((path) => chairWatch.status(path)));
    // (a viewer the page released answers 404 once its stream is torn down; none answers 403 yet)
    expect(still.every((s) => s !== 403)).toBe(true);
    await chair.locator('[data-testid=logout]').click();
    await chair.waitForURL((url) => url.hash.startsWith('#/login'));
    for (const path of own) expect({ path, status: await chairWatch.status(path) }).toEqual({ path, status: 403 });
    await saveScreenshot(chair, 'signed-out-zh');
  });
});
