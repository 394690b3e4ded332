/**
 * The operators' wall in a real browser, control side: a view saved on the gateway survives a reload and
 * Alt+1 recalls it; PTZ clicks and keys reach the simulated camera as the right PTZCmd codes (with an explicit
 * stop on release); a simulator alarm opens its camera in the alarm tile, flashes until acknowledged with a
 * note; a wall tour advances and Space pauses it; the shortcut cheat sheet.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePtz } from '../../src/codecs/gb/ptz.js';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { computedStyle, readTiles, revealInTree, tile, wallBox } from './wall-support.js';

const PREFIX = '44031300';

interface AlarmRecord {
  id: string;
  sourceId: string;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  note: string | null;
}

describe('web wall: views, PTZ, alarms, tours, shortcuts', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let platform: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cams: string[];
  const pageErrors: string[] = [];

  const tileChannels = async (): Promise<string[]> => (await readTiles(page)).map((t) => t.channelId);

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: { sip: { password: 'wall-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '31500-31539' } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'wall-pass', devices: 4, keepaliveSec: 5, codec: 'h264', idPrefix: PREFIX, firstSerial: 1, personalisedChannels: 0 });
    await Promise.all([fleet.prepareMedia({ personalised: false, profiles: ['sub', 'main'] }), fleet.start()]);
    // A lower platform with business groups and virtual organisations, for the group view.
    platform = new DeviceFleet({ server: h.sipTarget, password: 'wall-pass', platformChannels: 8, keepaliveSec: 5, codec: 'h264', idPrefix: '44031400', firstSerial: 1, personalisedChannels: 0 });
    await platform.start();
    await fleet.waitForRegistered(4, 30_000);
    await platform.waitForRegistered(1, 30_000);
    cams = fleet.devices.map((d) => d.channelIds[0]);
    await h.waitFor(async () => (await h.api<{ total: number }>(`/api/channels?kind=channel&limit=1`)).body.total >= 12, 20_000, 'catalogs of 12 cameras');
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.locator('[data-testid=wall-page]').waitFor();
  }, 120_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await platform?.stop({ unregister: false });
    await h?.stop();
  });

  it('the wall fills the 1920×1080 viewport without scrolling', async () => {
    const box = await wallBox(page);
    expect(box).toMatchObject({ bottom: 1080, right: 1920, scrollHeight: 1080 });
  });

  it('a view saved on the gateway survives a reload and Alt+1 recalls it', async () => {
    await page.locator('[data-testid=layout-4]').click();
    await (await revealInTree(page, cams[0], cams[0])).dragTo(tile(page, 0));
    await (await revealInTree(page, cams[1], cams[1])).dragTo(tile(page, 3));
    await expect.poll(tileChannels).toEqual([cams[0], '', '', cams[1]]);

    await page.locator('[data-testid=views-toggle]').click();
    await page.locator('[data-testid=view-name]').fill('早班 4 画面');
    await page.locator('[data-testid=view-hotkey]').selectOption('1');
    await page.locator('[data-testid=view-save]').click();
    await expect.poll(() => page.locator('[data-testid=view-item][data-hotkey="1"]').count()).toBe(1);

    await page.reload();
    await page.locator('[data-testid=wall-page]').waitFor();
    // Make the wall something else, then recall.
    await page.locator('[data-testid=layout-1]').click();
    await page.locator('[data-testid=clear-wall]').click();
    await expect.poll(tileChannels).toEqual(['']);
    await page.locator('[data-testid=views-toggle]').click();
    await expect.poll(() => page.locator('[data-testid=view-item][data-hotkey="1"]').textContent()).toContain('早班 4 画面');
    await page.locator('[data-testid=views-toggle]').click();
    await page.locator('[data-testid=wall-page]').click({ position: { x: 2, y: 2 } });
    await page.keyboard.press('Alt+1');
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-kind')).toBe('4');
    await expect.poll(tileChannels).toEqual([cams[0], '', '', cams[1]]);
    await expect.poll(() => tile(page, 0).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
  });

  it('double-click maximises a tile on the main stream and Esc restores; a tile dragged onto another swaps them; ]/[ select', async () => {
    await tile(page, 0).dblclick();
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-maximised')).toBe('0');
    expect(await page.locator('[data-testid=wall-grid] [data-testid=wall-tile]').count()).toBe(1);
    await expect.poll(() => tile(page, 0).locator('[data-testid=live-video]').getAttribute('data-stream')).toBe('main');
    await expect.poll(async () => (await readTiles(page))[0], { timeout: 30_000 }).toMatchObject({ state: 'playing', videoWidth: 1280 });
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-maximised')).toBe('');
    await expect.poll(tileChannels).toEqual([cams[0], '', '', cams[1]]);
    await expect.poll(() => tile(page, 0).locator('[data-testid=live-video]').getAttribute('data-stream')).toBe('sub');

    await tile(page, 3).dragTo(tile(page, 1));
    await expect.poll(tileChannels).toEqual([cams[0], cams[1], '', '']);
    expect(await tile(page, 1).getAttribute('data-selected')).toBe('true');
    await page.keyboard.press(']');
    await expect.poll(() => tile(page, 2).getAttribute('data-selected')).toBe('true');
    await page.keyboard.press('[');
    await page.keyboard.press('[');
    await expect.poll(() => tile(page, 0).getAttribute('data-selected')).toBe('true');
    await expect.poll(() => tile(page, 1).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
  });

  it('1+5 and 1+7 put one big tile top-left; a custom grid has cols×rows tiles', async () => {
    const size = async (i: number) => (await tile(page, i).boundingBox())!;
    await page.locator('[data-testid="layout-1+5"]').click();
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-tiles')).toBe('6');
    let [big, small] = [await size(0), await size(1)];
    expect(big.width / small.width).toBeGreaterThan(1.9);
    expect(big.height / small.height).toBeGreaterThan(1.9);
    expect((await size(5)).y).toBeGreaterThan(big.y + big.height - 2);
    await page.locator('[data-testid="layout-1+7"]').click();
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-tiles')).toBe('8');
    [big, small] = [await size(0), await size(1)];
    expect(big.width / small.width).toBeGreaterThan(2.85);
    await page.locator('[data-testid=layout-cols]').fill('3');
    await page.locator('[data-testid=layout-rows]').fill('2');
    await page.locator('[data-testid=layout-custom]').click();
    await expect.poll(() => page.locator('[data-testid=wall-grid]').getAttribute('data-tiles')).toBe('6');
    expect(Math.round((await size(3)).y)).toBeGreaterThan(Math.round((await size(2)).y));
    // The cameras stayed in their tiles through the changes.
    expect((await tileChannels()).slice(0, 2)).toEqual([cams[0], cams[1]]);
    await page.locator('[data-testid=layout-4]').click();
    await expect.poll(tileChannels).toEqual([cams[0], cams[1], '', '']);
  });

  it('S takes a snapshot of the selected tile: a JPEG download', async () => {
    await tile(page, 1).click();
    const download = page.waitForEvent('download', { timeout: 30_000 });
    await page.keyboard.press('s');
    const file = await download;
    expect(file.suggestedFilename()).toMatch(new RegExp(`^${cams[1]}-.+\\.jpg$`));
    const path = await file.path();
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(path).subarray(0, 2).toString('hex')).toBe('ffd8');
  });

  it('PTZ: a click and held keys reach the camera as the right PTZCmd, each followed by an explicit stop of its family', async () => {
    const ptzCam = cams[0];
    await tile(page, 0).click();
    await expect.poll(() => page.locator('[data-testid=ptz-panel]').getAttribute('data-channel-id')).toBe(ptzCam);
    const sent = () => fleet.ptzLog(ptzCam).map((e) => e.hex);

    // The brief's table: up+right at 0x80/0x80, then stop.
    await page.locator('[data-testid=ptz-up-right]').click();
    await expect.poll(sent).toEqual(['A50F0109808000BE', 'A50F0100000000B5']);

    // Held longer than the refresh: the move is repeated while held, and release stops.
    const upRight = page.locator('[data-testid=ptz-up-right]');
    const box = (await upRight.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await expect.poll(() => sent().length, { timeout: 5_000 }).toBeGreaterThanOrEqual(4);
    await page.mouse.up();
    await expect.poll(() => sent().at(-1)).toBe('A50F0100000000B5');
    expect(sent().slice(2, -1).every((hex) => hex === 'A50F0109808000BE')).toBe(true);

    // Focus and iris: the release stops the lens with the FI stop (a camera may ignore the PTZ stop for it).
    const beforeLens = sent().length;
    await page.locator('[data-testid=ptz-focus-near]').click();
    await expect.poll(() => sent().slice(beforeLens)).toEqual(['A50F014280000077', 'A50F0140000000F5']);
    await page.locator('[data-testid=ptz-iris-open]').click();
    await expect.poll(() => sent().slice(beforeLens)).toEqual(['A50F014280000077', 'A50F0140000000F5', 'A50F014400800079', 'A50F0140000000F5']);

    // Presets from the panel: call 1 is A50F018200010038.
    await page.locator('[data-testid=ptz-preset-number]').fill('1');
    await page.locator('[data-testid=ptz-preset-call]').click();
    await expect.poll(() => sent().at(-1)).toBe('A50F018200010038');

    // Keyboard: P turns PTZ mode on; held ↑ tilts up at the panel's speed, release stops; 3 calls preset 3.
    await tile(page, 0).focus();
    await page.keyboard.press('p');
    await expect.poll(() => page.locator('[data-testid=ptz-mode]').isChecked()).toBe(true);
    const before = sent().length;
    await page.keyboard.down('ArrowUp');
    const up = encodePtz({ kind: 'move', pan: null, tilt: 'up', zoom: null, panSpeed: 0, tiltSpeed: 128, zoomSpeed: 0 });
    await expect.poll(() => sent().slice(before)).toEqual([up]);
    await page.keyboard.up('ArrowUp');
    await expect.poll(() => sent().slice(before)).toEqual([up, 'A50F0100000000B5']);
    await page.keyboard.down('+');
    await page.keyboard.up('+');
    const zoomIn = encodePtz({ kind: 'move', pan: null, tilt: null, zoom: 'in', panSpeed: 0, tiltSpeed: 0, zoomSpeed: 8 });
    await expect.poll(() => sent().slice(before + 2)).toEqual([zoomIn, 'A50F0100000000B5']);
    await page.keyboard.press('3');
    await expect.poll(() => sent().at(-1)).toBe(encodePtz({ kind: 'preset', action: 'call', preset: 3 }));
    // With PTZ mode on, the arrows drove the camera, not the selection.
    expect(await tile(page, 0).getAttribute('data-selected')).toBe('true');
    await saveScreenshot(page, 'wall-ptz-panel');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[data-testid=ptz-mode]').isChecked()).toBe(false);
    expect(fleet.ptzLog(ptzCam).every((e) => e.error === null)).toBe(true);
  });

  it('a simulator alarm opens its camera in the alarm tile, flashes, and is acknowledged with a note', async () => {
    const alarmCam = cams[2];
    await expect.poll(() => page.locator('[data-testid=alarm-connection]').getAttribute('data-state')).toBe('open');
    expect(await fleet.raiseAlarm(alarmCam, { description: '周界入侵', priority: 1 })).toBe(200);
    const item = page.locator(`[data-testid=alarm-item][data-source-id="${alarmCam}"]`).first();
    await item.waitFor({ timeout: 15_000 });
    expect(await item.getAttribute('data-acknowledged')).toBe('false');
    const alarmTile = page.locator('[data-testid=alarm-tile-box] [data-testid=wall-tile]');
    await expect.poll(() => alarmTile.getAttribute('data-channel-id')).toBe(alarmCam);
    await expect.poll(() => alarmTile.getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');

    // Flashing at most 3 Hz: one cycle lasts at least 333 ms; a steady marker when motion is reduced.
    const animation = async () => {
      const style = await computedStyle(item, ['animation-name', 'animation-duration']);
      return { name: style['animation-name'], duration: style['animation-duration'] };
    };
    const flashing = await animation();
    expect(flashing.name).not.toBe('none');
    expect(parseFloat(flashing.duration)).toBeGreaterThanOrEqual(0.333);
    await page.emulateMedia({ reducedMotion: 'reduce' });
    expect((await animation()).name).toBe('none');
    expect((await computedStyle(item, ['border-left-style']))['border-left-style']).toBe('solid');
    await page.emulateMedia({ reducedMotion: 'no-preference' });
    await saveScreenshot(page, 'wall-alarm-tile');

    await item.locator('[data-testid=alarm-ack]').click();
    await item.locator('[data-testid=alarm-note-input]').fill('已派民警到场核实');
    await item.locator('[data-testid=alarm-ack-confirm]').click();
    await expect.poll(() => item.getAttribute('data-acknowledged')).toBe('true');
    expect(await item.locator('[data-testid=alarm-note]').textContent()).toContain('已派民警到场核实');
    expect((await animation()).name).toBe('none');
    const stored = await h.api<{ items: AlarmRecord[] }>(`/api/alarms?acknowledged=true`);
    expect(stored.body.items.find((a) => a.sourceId === alarmCam)).toMatchObject({ acknowledgedBy: 'admin', note: '已派民警到场核实' });
  });

  it('a wall tour advances after its dwell, shows its progress, and Space pauses and resumes it', async () => {
    const created = await h.api<{ id: string }>('/api/tours', {
      body: {
        name: '路口巡视',
        shared: true,
        scope: 'wall',
        layoutKind: '4',
        steps: [
          { channelIds: [cams[0], cams[1]], dwellSec: 5, preset: null },
          { channelIds: [cams[2], cams[3]], dwellSec: 5, preset: 2 },
        ],
      },
    });
    expect(created.status).toBe(201);
    await page.locator('[data-testid=tours-toggle]').click();
    await page.locator(`[data-testid=tour-item][data-tour-id="${created.body.id}"] [data-testid=tour-start]`).click();
    const progress = page.locator('[data-testid=wall-tour-progress]');
    await expect.poll(() => progress.getAttribute('data-step')).toBe('1');
    expect(await progress.getAttribute('data-count')).toBe('2');
    await expect.poll(tileChannels).toEqual([cams[0], cams[1], '', '']);
    // Advances after ~5 s.
    await expect.poll(() => progress.getAttribute('data-step'), { timeout: 9_000 }).toBe('2');
    await expect.poll(tileChannels).toEqual([cams[2], cams[3], '', '']);
    // Step 2 calls preset 2 on its cameras as it starts.
    const presetCall = encodePtz({ kind: 'preset', action: 'call', preset: 2 });
    await expect.poll(() => [cams[2], cams[3]].map((id) => fleet.ptzLog(id).some((e) => e.hex === presetCall))).toEqual([true, true]);

    await page.keyboard.press('Space');
    await expect.poll(() => progress.getAttribute('data-paused')).toBe('true');
    expect(await page.locator('[data-testid=tours-paused]').isVisible()).toBe(true);
    const pausedAt = await progress.locator('.countdown').textContent();
    // Paused for longer than a dwell: still on step 2, the countdown frozen.
    await page.waitForTimeout(6_500);
    expect(await progress.getAttribute('data-step')).toBe('2');
    expect(await progress.locator('.countdown').textContent()).toBe(pausedAt);
    await expect.poll(async () => (await readTiles(page)).slice(0, 2).map((t) => t.state)).toEqual(['playing', 'playing']);
    await saveScreenshot(page, 'wall-tour');
    await page.keyboard.press('Space');
    await expect.poll(() => progress.getAttribute('data-paused')).toBe('false');
    await expect.poll(() => progress.getAttribute('data-step'), { timeout: 9_000 }).toBe('1');
    await page.locator('[data-testid=wall-tour-stop]').click();
    expect(await progress.count()).toBe(0);
  }, 60_000);

  it('a tile tour built in the editor runs on the selected tile', async () => {
    await page.locator('[data-testid=layout-4]').click();
    await page.locator('[data-testid=clear-wall]').click();
    await (await revealInTree(page, cams[3], cams[3])).dragTo(tile(page, 2));
    await tile(page, 2).click();
    await page.locator('[data-testid=tours-toggle]').click();
    await page.locator('[data-testid=tour-new-tile]').click();
    await page.locator('[data-testid=tour-name]').fill('大门单窗格');
    await page.locator('[data-testid=tour-default-dwell]').fill('5');
    await page.locator('[data-testid=tour-add-tile]').click();
    await (await revealInTree(page, cams[1], cams[1])).dragTo(page.locator('[data-testid=tour-steps]'));
    await expect.poll(() => page.locator('[data-testid=tour-step]').count()).toBe(2);
    await page.locator('[data-testid=tour-save]').click();
    const item = page.locator('[data-testid=tour-item]', { hasText: '大门单窗格' });
    await item.waitFor();
    await item.locator('[data-testid=tour-start]').click();
    const footer = tile(page, 2).locator('[data-testid=tile-tour]');
    await expect.poll(() => footer.getAttribute('data-step')).toBe('1');
    expect(await footer.getAttribute('data-count')).toBe('2');
    await expect.poll(() => tile(page, 2).getAttribute('data-channel-id'), { timeout: 9_000 }).toBe(cams[1]);
    expect(await footer.getAttribute('data-step')).toBe('2');
    // Only that tile tours; the others are untouched.
    expect(await tileChannels()).toEqual(['', '', cams[1], '']);
    // Saved on the gateway as the operator's own private tour, steps as built.
    const login = await h.api<{ token: string }>('/api/auth/login', { body: { username: 'admin', password: 'admin-password-1' }, token: null });
    const stored = await h.api<{ items: { name: string; owner: string; shared: boolean; scope: string; steps: unknown[] }[] }>('/api/tours', { token: login.body.token });
    expect(stored.body.items.find((t) => t.name === '大门单窗格')).toMatchObject({
      owner: 'admin',
      shared: false,
      scope: 'tile',
      steps: [
        { channelIds: [cams[3]], dwellSec: 5, preset: null },
        { channelIds: [cams[1]], dwellSec: 5, preset: null },
      ],
    });
    await page.locator('[data-testid=tours-toggle]').click();
    await page.locator('[data-testid=tour-stop]').click();
    await expect.poll(() => footer.count()).toBe(0);
  }, 60_000);

  it('? opens the cheat sheet listing every shortcut; Esc closes it', async () => {
    await page.locator('[data-testid=wall-page]').click({ position: { x: 2, y: 2 } });
    await page.keyboard.press('?');
    const sheet = page.locator('[data-testid=shortcut-sheet]');
    await sheet.waitFor();
    const actions = await sheet.locator('[data-testid=shortcut-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    expect(actions).toEqual(expect.arrayContaining(['recallView', 'cycleLayout', 'nextTile', 'previousTile', 'maximise', 'pauseTours', 'ptzMove', 'presetRecall', 'snapshot', 'escape']));
    await saveScreenshot(page, 'wall-cheat-sheet');
    await page.keyboard.press('Escape');
    await expect.poll(() => sheet.count()).toBe(0);
    await page.locator('[data-testid=shortcuts-button]').click();
    await sheet.waitFor();
    await page.locator('[data-testid=shortcut-close]').click();
    expect(pageErrors).toEqual([]);
  });

  it('scales up on a 2×2 monitor wall (3840×2160): same layout, larger type, still no scrolling', async () => {
    const { context: big, page: bigPage } = await newWallPage(browser, { width: 3840, height: 2160 });
    try {
      await signIn(bigPage, h.gateway.httpUrl, 'admin', 'admin-password-1');
      await bigPage.locator('[data-testid=wall-page]').click({ position: { x: 2, y: 2 } });
      // Views are on the gateway: a fresh browser recalls them too.
      await bigPage.keyboard.press('Alt+1');
      await expect.poll(() => bigPage.locator('[data-testid=wall-grid]').getAttribute('data-kind')).toBe('4');
      const box = await wallBox(bigPage);
      expect(box).toEqual({ bottom: 2160, right: 3840, scrollHeight: 2160, fontSize: '28px' });
      await expect.poll(() => bigPage.locator('[data-testid=wall-grid] [data-testid=wall-tile][data-index="0"]').getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
      await saveScreenshot(bigPage, 'wall-3840x2160');
    } finally {
      await big.close();
    }
  });

  it('the group view: business groups with counts; a group dropped on the wall fills it with its online cameras', async () => {
    await page.locator('[data-testid=tree-view-group]').click();
    await expect.poll(() => page.locator('[data-testid=tree-panel]').getAttribute('data-view')).toBe('group');
    const top = await h.api<{ items: { id: string; kind: string; online: number; total: number }[] }>('/api/tree?view=group');
    const group = top.body.items.find((n) => n.kind === 'business-group' && n.online > 0)!;
    expect(group).toBeDefined();
    const row = page.locator(`[data-testid=tree] [data-testid=tree-node][data-node-id="${group.id}"]`);
    await expect.poll(() => row.locator('[data-testid=tree-counts]').textContent()).toMatch(new RegExp(`^\\s*${group.online}/${group.total}\\s*$`));
    // Expanding shows its children (virtual organisations or cameras).
    await row.locator('[data-testid=tree-toggle]').click();
    await expect.poll(() => page.locator('[data-testid=tree] [data-testid=tree-node]').count()).toBeGreaterThan(top.body.items.length);

    await page.locator('[data-testid=layout-4]').click();
    await page.locator('[data-testid=clear-wall]').click();
    await row.dragTo(tile(page, 0));
    const platformChannels = new Set(platform.devices[0].channelIds);
    const expectedCount = Math.min(4, group.online);
    await expect.poll(async () => (await tileChannels()).filter((id) => id !== '').length).toBe(expectedCount);
    expect((await tileChannels()).filter((id) => id !== '').every((id) => platformChannels.has(id))).toBe(true);
    await expect.poll(() => tile(page, 0).getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    await saveScreenshot(page, 'wall-group-view');
    // Back to the region view: its own tree, as it was.
    await page.locator('[data-testid=tree-view-region]').click();
    await page.locator('[data-testid=tree] [data-testid=tree-node][data-node-id="44"]').waitFor();
  });
});
