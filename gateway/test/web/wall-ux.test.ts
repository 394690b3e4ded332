/**
 * The wall as an operator meets it on a shift (issue 12): the page never scrolls (wheel over the grid, tree
 * expand, drag, search) at 1920×1080, 3840×2160 and 1366×768; layout changes keep the cameras of hidden
 * tiles; "clear wall" can be undone; English PTZ buttons are not clipped and status lines follow the
 * language; SVG icons (no emoji in the bundle or on screen); the favicon; true full screen; the tour editor
 * leaves the tiles reachable and asks before discarding; one keymap and one cheat sheet; a consultation
 * point's "leave" releases its streams without a 401; a kiosk URL signs in with a kiosk token.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { readTiles, revealInTree, tile } from './wall-support.js';

const PREFIX = '44031600';
const POLL = { timeout: 30_000, interval: 200 };
const KIOSK_TOKEN = 'kiosk-token-wall-pc-0123456789';

/**
 * Characters that need an emoji or special symbol font (boxes on a Kylin/UOS PC without one): pictographs
 * and the symbol blocks no common UI font covers (supplemental arrows, misc symbols and arrows, braille).
 */
const NEEDS_EMOJI_FONT = /[\p{Extended_Pictographic}\u{2900}-\u{2BFF}\u{2800}-\u{28FF}\u{27F0}-\u{27FF}\u{29C0}-\u{29FF}\u{FE0F}]/u;

/** The document's scroll position and size, and where the top bar and the wall's toolbar are. */
function pageScroll(page: Page): Promise<{ scrollTop: number; scrollHeight: number; innerHeight: number; contentScrollTop: number; topbarTop: number; toolbarTop: number }> {
  return page.evaluate(`(() => {
    const se = document.scrollingElement;
    const content = document.querySelector('.content');
    const topbar = document.querySelector('.topbar');
    const toolbar = document.querySelector('[data-testid=wall-page] [role=toolbar]');
    return {
      scrollTop: se.scrollTop,
      scrollHeight: se.scrollHeight,
      innerHeight: window.innerHeight,
      contentScrollTop: content ? content.scrollTop : 0,
      topbarTop: topbar ? Math.round(topbar.getBoundingClientRect().top) : -1,
      toolbarTop: toolbar ? Math.round(toolbar.getBoundingClientRect().top) : -1,
    };
  })()`);
}

/** Texts of every text node under the app root (what a user can see, not the bundle's code). */
function visibleTexts(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const out = [];
    const walker = document.createTreeWalker(document.getElementById('app'), NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.textContent.trim()) out.push(n.textContent.trim());
    return out;
  })()`);
}

describe('web wall: the operator\'s shift (no scroll, layouts, undo, icons, full screen, keymap)', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cams: string[];
  let nvr: string;
  let webRoot: string;
  const pageErrors: string[] = [];
  const tileChannels = async (p: Page = page): Promise<string[]> => (await readTiles(p)).map((t) => t.channelId);

  beforeAll(async () => {
    webRoot = await buildWeb();
    h = await startHarness({
      webRoot,
      overrides: {
        sip: { password: 'ux-pass', keepaliveIntervalSec: 5 },
        media: { host: '127.0.0.1', ports: '32400-32449' },
        http: { kioskTokens: [KIOSK_TOKEN] },
      },
    });
    // 2 NVRs of 24 channels and 4 IPCs: a tree tall enough to overflow its panel when expanded.
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'ux-pass', devices: 6, nvrEvery: 3, channelsPerNvr: 24, keepaliveSec: 5, codec: 'h264', idPrefix: PREFIX, firstSerial: 1, personalisedChannels: 4 });
    // The first four cameras show their own name and ID in the picture (the screenshots show which tile is which).
    await Promise.all([fleet.prepareMedia({ personalised: true, profiles: ['sub'] }), fleet.start()]);
    await fleet.waitForRegistered(6, 30_000);
    cams = fleet.devices.flatMap((d) => d.channelIds);
    nvr = fleet.devices.find((d) => d.channelIds.length > 1)!.id;
    await h.waitFor(async () => (await h.api<{ total: number }>(`/api/channels?kind=channel&limit=1`)).body.total >= 52, 30_000, "catalogs of 52 cameras");
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (dialog) => void dialog.dismiss());
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.locator('[data-testid=wall-page]').waitFor();
  }, 180_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  for (const [width, height] of [[1920, 1080], [3840, 2160], [1366, 768]] as const) {
    it(`the page never scrolls at ${width}×${height}: wheel over the grid, tree expand, search reveal, drag`, async () => {
      await page.setViewportSize({ width, height });
      await page.locator('[data-testid=layout-9]').click();
      const still = async (what: string) => {
        const s = await pageScroll(page);
        expect({ what, ...s }).toMatchObject({ what, scrollTop: 0, scrollHeight: height, innerHeight: height, contentScrollTop: 0, topbarTop: 0 });
        expect(s.toolbarTop, what).toBeGreaterThanOrEqual(0);
      };
      await still('start');
      // Expand every node of the region tree down to the cameras (levels load as they open): the tree gets far
      // taller than its panel.
      const collapsed = page.locator('[data-testid=tree] [data-testid=tree-node][aria-expanded=false] [data-testid=tree-toggle]');
      await expect
        .poll(async () => {
          for (let n = await collapsed.count(); n > 0; n--) await collapsed.first().click();
          return page.locator('[data-testid=tree] [data-testid=tree-node][data-kind=channel]').count();
        }, { timeout: 60_000, interval: 300 })
        .toBeGreaterThanOrEqual(52);
      await still('after expanding the tree');
      await page.locator('[data-testid=wall-grid]').hover();
      for (let k = 0; k < 5; k++) await page.mouse.wheel(0, 400);
      await still('after the wheel over the grid');
      // The search reveals a camera deep in the tree (scrollIntoView), a drag puts it on a tile.
      const row = await revealInTree(page, cams[cams.length - 1], cams[cams.length - 1]);
      await still('after revealing a search hit');
      await row.dragTo(tile(page, 8));
      await expect.poll(async () => (await tileChannels())[8], POLL).toBe(cams[cams.length - 1]);
      await still('after dragging a camera onto a tile');
      await page.locator('[data-testid=tree-panel]').hover();
      for (let k = 0; k < 5; k++) await page.mouse.wheel(0, 600);
      await still('after the wheel over the tree');
      expect(await page.locator('[data-testid=tree]').evaluate((el) => el.scrollTop)).toBeGreaterThan(0);
      await saveScreenshot(page, `wall-ux-noscroll-${width}x${height}`);
      await page.locator('[data-testid=tree-view-group]').click();
      await page.locator('[data-testid=tree-view-region]').click();
    });
  }

  it('layout 9 → 4 → 9 keeps all 9 cameras; "clear wall" is undone by the undo button and by Ctrl+Z', async () => {
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.locator('[data-testid=layout-9]').click();
    await page.evaluate(`localStorage.setItem('sharp-eyes.wall.layout', ${JSON.stringify(JSON.stringify({ kind: '9', tiles: cams.slice(0, 9).map((channelId) => ({ channelId })), maximised: null }))})`);
    await page.reload();
    await page.locator('[data-testid=wall-page]').waitFor();
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 9));
    await page.locator('[data-testid=layout-4]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 4));
    await page.locator('[data-testid=layout-9]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 9));
    // A reload between the two changes keeps the hidden cameras too (a wall PC restarts its browser).
    await page.locator('[data-testid=layout-1]').click();
    await page.reload();
    await page.locator('[data-testid=wall-page]').waitFor();
    await page.locator('[data-testid=layout-9]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 9));

    await page.locator('[data-testid=clear-wall]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(Array(9).fill(''));
    await page.locator('[data-testid=wall-undo]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 9));
    await page.locator('[data-testid=clear-wall]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(Array(9).fill(''));
    await page.locator('[data-testid=wall-page]').click({ position: { x: 2, y: 2 } });
    await page.keyboard.press('Control+z');
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 9));
    await saveScreenshot(page, 'wall-ux-9-restored');
  });

  it('English PTZ buttons show their whole label; the wall\'s status lines follow the language switch', async () => {
    await tile(page, 0).click();
    await page.locator('[data-testid=ptz-zoom-in]').dispatchEvent('pointerdown', { button: 0, pointerId: 1 });
    await page.locator('[data-testid=ptz-zoom-in]').dispatchEvent('pointerup', { button: 0, pointerId: 1 });
    await expect.poll(() => page.locator('[data-testid=ptz-last]').textContent(), POLL).toContain('变倍');
    await page.locator('[data-testid=layout-4]').click();
    await page.locator('[data-testid=layout-9]').click();
    await page.locator('[data-testid=clear-wall]').click();
    await expect.poll(() => page.locator('[data-testid=wall-notice]').textContent(), POLL).toMatch(/[\u4e00-\u9fff]/);
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent(), POLL).toBe('Video wall');
    // Messages already on screen are re-rendered in the new language, not left in the old one.
    expect(await page.locator('[data-testid=ptz-last]').textContent()).not.toMatch(/[\u4e00-\u9fff]/);
    expect(await page.locator('[data-testid=wall-notice]').textContent()).not.toMatch(/[\u4e00-\u9fff]/);
    const clipped = await page.locator('[data-testid=ptz-panel] button').evaluateAll((buttons) =>
      buttons.filter((b) => b.scrollWidth > b.clientWidth + 1 || [...b.querySelectorAll('span')].some((s) => s.scrollWidth > s.clientWidth + 1)).map((b) => b.textContent?.trim() ?? ''),
    );
    expect(clipped).toEqual([]);
    await saveScreenshot(page, 'wall-ux-en');
    await page.locator('[data-testid=wall-undo]').click();
    await expect.poll(() => tileChannels(), POLL).toEqual(cams.slice(0, 9));
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent(), POLL).not.toBe('Video wall');
    await saveScreenshot(page, 'wall-ux-zh');
  });

  it('icons are SVG shipped with the app: no emoji or special-font symbols in the UI source or on any screen', async () => {
    // The UI's own source (templates, catalogues, styles). The built bundle also holds vue-router's devtools
    // strings, which never reach the screen; what reaches the screen is checked below, page by page.
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(vue|ts|css|html)$/.test(entry.name)) {
          readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
            if (NEEDS_EMOJI_FONT.test(line)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
          });
        }
      }
    };
    walk(fileURLToPath(new URL('../../../web/src', import.meta.url)));
    expect(offenders).toEqual([]);
    for (const screen of ['#/wall', '#/sessions', '#/health']) {
      await page.goto(`${h.gateway.httpUrl}/${screen}`);
      await page.locator('.content > *').first().waitFor();
      expect({ screen, found: (await visibleTexts(page)).filter((s) => NEEDS_EMOJI_FONT.test(s)) }).toEqual({ screen, found: [] });
    }
    await page.goto(`${h.gateway.httpUrl}/#/wall`);
    await page.locator('[data-testid=wall-page]').waitFor();
    expect(await page.locator('[data-testid=wall-page] svg.lucide').count()).toBeGreaterThan(5);
  });

  it('the favicon is served', async () => {
    const icon = await page.evaluate<string | null>(`document.querySelector('link[rel~=icon]')?.getAttribute('href') ?? null`);
    expect(icon).not.toBeNull();
    for (const path of [icon!, '/favicon.ico']) {
      const res = await fetch(new URL(path, h.gateway.httpUrl));
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.headers.get('content-type')).toMatch(/^image\//);
    }
  });

  it('full screen (Fullscreen API) for the whole wall and for one tile', async () => {
    await page.locator('[data-testid=wall-fullscreen]').click();
    await expect.poll(() => page.evaluate(`document.fullscreenElement?.dataset.testid ?? null`), POLL).toBe('wall-page');
    await saveScreenshot(page, 'wall-ux-fullscreen');
    await page.keyboard.press('f');
    await expect.poll(() => page.evaluate(`document.fullscreenElement === null`), POLL).toBe(true);
    await tile(page, 2).hover();
    await tile(page, 2).locator('[data-testid=tile-fullscreen]').click();
    await expect.poll(() => page.evaluate(`document.fullscreenElement?.dataset.index ?? null`), POLL).toBe('2');
    await page.evaluate(`document.exitFullscreen()`);
    await expect.poll(() => page.evaluate(`document.fullscreenElement === null`), POLL).toBe(true);
  });

  it('the tour editor leaves the tiles reachable (drops land on them), shows whole step labels, and Esc asks before discarding', async () => {
    await page.locator('[data-testid=tours-toggle]').click();
    await page.locator('[data-testid=tour-new-wall]').click();
    await page.locator('[data-testid=tour-name]').fill('夜班全景轮巡');
    await page.locator('[data-testid=tour-add-wall]').click();
    await expect.poll(() => page.locator('[data-testid=tour-step]').count()).toBe(1);
    // Every tile's centre is the tile, not the editor.
    const covered = await page.evaluate<number[]>(`[...document.querySelectorAll('[data-testid=wall-grid] [data-testid=wall-tile]')].filter((el) => {
      const r = el.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return !el.contains(hit);
    }).map((el) => Number(el.dataset.index))`);
    expect(covered).toEqual([]);
    // A drop on a tile still goes to the tile while the editor is open.
    await (await revealInTree(page, cams[12], cams[12])).dragTo(tile(page, 0));
    await expect.poll(async () => (await tileChannels())[0], POLL).toBe(cams[12]);
    const cut = await page.locator('[data-testid=tour-step] .cams').evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1).length);
    expect(cut).toBe(0);
    await saveScreenshot(page, 'wall-ux-tour-editor');
    // Esc with unsaved changes asks; the dialog handler dismisses ("keep editing"): the editor stays.
    const asked = page.waitForEvent('dialog');
    await page.locator('[data-testid=tour-name]').press('Escape');
    await page.locator('[data-testid=tour-editor]').press('Escape');
    expect((await asked).type()).toBe('confirm');
    expect(await page.locator('[data-testid=tour-editor]').isVisible()).toBe(true);
    await page.locator('[data-testid=tour-cancel]').click();
    await expect.poll(() => page.locator('[data-testid=tour-editor]').count()).toBe(0);
    await page.locator('[data-testid=tours-toggle]').click();
  });

  it('one cheat sheet lists the single keymap for the wall and the session, with the screen each key works on', async () => {
    await page.locator('[data-testid=wall-page]').click({ position: { x: 2, y: 2 } });
    await page.keyboard.press('?');
    const sheet = page.locator('[data-testid=shortcut-sheet]');
    await sheet.waitFor();
    const actions = await sheet.locator('[data-testid=shortcut-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    expect(actions).toEqual(expect.arrayContaining(['maximise', 'fullscreen', 'followChair', 'lock', 'chooseLayout', 'undo']));
    const keysOf = async (action: string) => (await sheet.locator(`[data-testid=shortcut-row][data-action=${action}] kbd`).allTextContents()).join(' ');
    expect(await keysOf('fullscreen')).toContain('F');
    expect(await keysOf('followChair')).not.toContain('F');
    expect(await keysOf('maximise')).not.toContain('F');
    expect(NEEDS_EMOJI_FONT.test(await sheet.textContent() ?? '')).toBe(false);
    await saveScreenshot(page, 'wall-ux-cheat-sheet-zh');
    await page.keyboard.press('Escape');
    await expect.poll(() => sheet.count()).toBe(0);
  });

  it('a kiosk URL signs a wall PC in with the kiosk token and opens a saved view without the top bar', async () => {
    const saved = await h.api<{ id: string }>('/api/views', { method: 'POST', body: { name: '大厅大屏', shared: true, hotkey: null, layout: { kind: '4', tiles: cams.slice(0, 4).map((channelId) => ({ channelId })), maximised: null } } });
    expect(saved.status).toBe(201);
    const kiosk = await newWallPage(browser);
    try {
      await kiosk.page.goto(`${h.gateway.httpUrl}/#/kiosk?token=${KIOSK_TOKEN}&view=${saved.body.id}`);
      await kiosk.page.locator('[data-testid=wall-page]').waitFor();
      await expect.poll(() => tileChannels(kiosk.page), POLL).toEqual(cams.slice(0, 4));
      expect(await kiosk.page.locator('.topbar').count()).toBe(0);
      // The token left the address bar once used.
      expect(kiosk.page.url()).not.toContain(KIOSK_TOKEN);
      await expect.poll(async () => (await readTiles(kiosk.page)).filter((t) => t.state === 'playing' && t.currentTime > 0.5).length, { timeout: 60_000, interval: 500 }).toBe(4);
      await saveScreenshot(kiosk.page, 'wall-ux-kiosk');
      // A wrong token does not sign in.
      const other = await newWallPage(browser);
      await other.page.goto(`${h.gateway.httpUrl}/#/kiosk?token=wrong-token&view=${saved.body.id}`);
      await other.page.locator('[data-testid=kiosk-error]').waitFor();
      await other.context.close();
    } finally {
      await kiosk.context.close();
    }
  });

  it('a session keeps the cameras of hidden tiles (4 → 1 → 4), uses the same keymap, and a point\'s "leave" releases its streams without a 401', async () => {
    const login = await h.api<{ token: string }>('/api/auth/login', { body: { username: 'admin', password: 'admin-password-1' }, token: null });
    const created = await h.api<{ id: string; code: string }>('/api/sessions', {
      method: 'POST',
      body: { name: '夜班会商', sources: cams.slice(0, 4), layout: { kind: '4', tiles: cams.slice(0, 4).map((channelId) => ({ channelId })), maximised: null } },
      token: login.body.token,
    });
    expect(created.status).toBe(201);
    const sessionTile = (p: Page, i: number) => p.locator(`[data-testid=session-tile][data-index="${i}"]`);
    const sessionChannels = (p: Page) => p.locator('[data-testid=session-tile]').evaluateAll((els) => els.map((e) => e.getAttribute('data-channel-id') ?? ''));
    await page.goto(`${h.gateway.httpUrl}/#/sessions/${created.body.id}`);
    await expect.poll(() => page.locator('[data-testid=my-role]').getAttribute('data-role'), POLL).toBe('chair');
    await expect.poll(() => page.locator('[data-testid=session-socket]').getAttribute('data-state'), POLL).toBe('open');
    await expect.poll(() => sessionChannels(page), POLL).toEqual(cams.slice(0, 4));
    await page.locator('[data-testid=layout-kind][data-kind="1"]').click();
    await expect.poll(() => sessionChannels(page), POLL).toEqual(cams.slice(0, 1));
    await page.locator('[data-testid=layout-kind][data-kind="4"]').click();
    await expect.poll(() => sessionChannels(page), POLL).toEqual(cams.slice(0, 4));
    // The wall's keymap: digits choose the layout here too (1 → one tile, 2 → four), and the hidden cameras return.
    await sessionTile(page, 0).click();
    await page.keyboard.press('1');
    await expect.poll(() => sessionChannels(page), POLL).toEqual(cams.slice(0, 1));
    await page.keyboard.press('2');
    await expect.poll(() => sessionChannels(page), POLL).toEqual(cams.slice(0, 4));
    await page.keyboard.press('?');
    await expect.poll(() => page.locator('[data-testid=shortcut-sheet]').getAttribute('data-screen'), POLL).toBe('session');
    await saveScreenshot(page, 'wall-ux-session-cheat-sheet-zh');
    await page.keyboard.press('Escape');

    // A point joins with the code, watches, and leaves: no request of its is refused with 401.
    const viewerCount = async () => (await h.api<{ items: { viewers: number }[] }>('/api/streams')).body.items.reduce((n, s) => n + s.viewers, 0);
    await expect.poll(() => page.locator('[data-testid=session-grid] [data-testid=live-video][data-state=playing]').count(), { timeout: 60_000, interval: 500 }).toBe(4);
    const chairViewers = await viewerCount();
    const point = await newWallPage(browser, { locale: 'en-GB' });
    const refused: string[] = [];
    point.page.on('response', (r) => {
      if (r.status() === 401) refused.push(`${r.request().method()} ${new URL(r.url()).pathname}`);
    });
    try {
      await point.page.goto(`${h.gateway.httpUrl}/#/join/${created.body.code}`);
      await point.page.locator('input[name=name]').fill('城关镇');
      await point.page.locator('[data-testid=join-form] button[type=submit]').click();
      await point.page.waitForURL((url) => url.hash === `#/sessions/${created.body.id}`);
      await expect.poll(() => point.page.locator('[data-testid=session-grid] [data-testid=live-video][data-state=playing]').count(), { timeout: 60_000, interval: 500 }).toBeGreaterThan(0);
      await point.page.locator('[data-testid=session-locale]').click();
      await saveScreenshot(point.page, 'wall-ux-session-point-en');
      const releases = point.page.waitForRequest((r) => r.method() === 'DELETE' && r.url().includes('/api/streams/'), { timeout: 30_000 }).catch(() => null);
      await point.page.locator('[data-testid=leave]').click();
      await point.page.waitForURL((url) => url.hash.startsWith('#/join'));
      const release = await releases;
      if (release) expect((await release.response())?.status()).not.toBe(401);
      // The point's viewers are gone (released, not left to time out), and nothing it sent was refused with 401.
      await expect.poll(viewerCount, { timeout: 15_000, interval: 250 }).toBeLessThanOrEqual(chairViewers);
      expect(refused).toEqual([]);
    } finally {
      await point.context.close();
    }
    await page.goto(`${h.gateway.httpUrl}/#/wall`);
    await page.locator('[data-testid=wall-page]').waitFor();
  });

  it('the changed screens in English too: tour editor, cheat sheet, PTZ panel, session', async () => {
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent(), POLL).toBe('Video wall');
    await tile(page, 0).click();
    await page.locator('[data-testid=tours-toggle]').click();
    await page.locator('[data-testid=tour-new-tile]').click();
    await page.locator('[data-testid=tour-name]').fill('Night gate tour');
    await page.locator('[data-testid=tour-add-tile]').click();
    await expect.poll(() => page.locator('[data-testid=tour-step]').count()).toBe(1);
    await saveScreenshot(page, 'wall-ux-tour-editor-en');
    await page.locator('[data-testid=tour-cancel]').click();
    await page.locator('[data-testid=tours-toggle]').click();
    await page.locator('[data-testid=wall-page]').click({ position: { x: 2, y: 2 } });
    await page.keyboard.press('?');
    await page.locator('[data-testid=shortcut-sheet]').waitFor();
    expect(await page.locator('[data-testid=shortcut-sheet]').textContent()).not.toMatch(/[\u4e00-\u9fff]/);
    await saveScreenshot(page, 'wall-ux-cheat-sheet-en');
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent(), POLL).not.toBe('Video wall');
  });

  it('no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
