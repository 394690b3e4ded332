/**
 * Consultation sessions (视频会商) in a real browser: a chair (signed in) and a point (a guest that joined
 * with the code) in two browser contexts, against a gateway with simulated cameras that stream. Checks what
 * each of them sees: the chair's layout reaching the point, the lock, follow-chair, roll call, presence,
 * hand-over, attendance after the point leaves, and that a guest cannot reach the wall.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';

interface ChannelRow {
  id: string;
  name: string;
}

const POLL = { timeout: 20_000, interval: 200 };

describe('web: consultation session, chair and point', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let chairContext: BrowserContext;
  let chair: Page;
  let pointContext: BrowserContext;
  let point: Page;
  let cameraA: ChannelRow;
  let cameraB: ChannelRow;
  let terminal: ChannelRow;
  let sessionId = '';
  let pointParticipantId = '';
  const pointName = '城关镇政府';
  const pageErrors: string[] = [];

  const grid = (page: Page) => page.locator('[data-testid=session-grid]');
  const tile = (page: Page, index: number) => page.locator(`[data-testid=session-tile][data-index="${index}"]`);
  const layoutButton = (page: Page, kind: string) => page.locator(`[data-testid=layout-kind][data-kind="${kind}"]`);
  const tileNames = (page: Page) => page.locator('[data-testid=session-grid] [data-testid=tile-name]').allTextContents();
  const participantRow = (page: Page, id: string) => page.locator(`[data-testid=participant][data-participant-id="${id}"]`);

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: {
        sip: { password: 'session-pass', keepaliveIntervalSec: 5 },
        // Its own RTP port range: other media tests may run at the same time.
        media: { host: '127.0.0.1', ports: '31700-31739' },
      },
    });
    // Two cameras and one point's conference terminal (registered like any camera).
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'session-pass', devices: 3, keepaliveSec: 5, codec: 'h264', idPrefix: '44031200', firstSerial: 960 });
    await fleet.start();
    await fleet.waitForRegistered(3, 30_000);
    const ids = fleet.devices.map((d) => d.channelIds[0]);
    const rows = await h.waitFor(
      async () => {
        const found = await Promise.all(ids.map((id) => h.api<ChannelRow>(`/api/channels/${id}`)));
        return found.every((r) => r.status === 200 && r.body.name) ? found.map((r) => r.body) : null;
      },
      30_000,
      'the simulated channels in the catalog',
    );
    [cameraA, cameraB, terminal] = rows;
    browser = await launchChromium();
    ({ context: chairContext, page: chair } = await newWallPage(browser));
    ({ context: pointContext, page: point } = await newWallPage(browser));
    for (const [who, page] of [['chair', chair], ['point', point]] as const) {
      page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
      // Hand-over and ending ask for confirmation.
      page.on('dialog', (dialog) => void dialog.accept());
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('the chair creates a session sharing two cameras and the point\'s terminal, found by search', async () => {
    await signIn(chair, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await chair.goto(`${h.gateway.httpUrl}/#/sessions`);
    await chair.locator('input[name=session-name]').fill('防汛调度会商');
    for (const channel of [cameraA, cameraB, terminal]) {
      await chair.locator('[data-testid=source-search]').fill(channel.id);
      const add = chair.locator(`[data-testid=source-add][data-channel-id="${channel.id}"]`);
      await add.click();
      await expect.poll(() => chair.locator(`[data-testid=source-selected] [data-channel-id="${channel.id}"]`).count(), POLL).toBe(1);
    }
    await chair.locator('[data-testid=session-create-submit]').click();
    await chair.waitForURL((url) => /^#\/sessions\/[^/]+$/.test(url.hash));
    sessionId = chair.url().split('#/sessions/')[1];
    await expect.poll(() => chair.locator('[data-testid=my-role]').getAttribute('data-role'), POLL).toBe('chair');
    await expect.poll(() => chair.locator('[data-testid=session-socket]').getAttribute('data-state'), POLL).toBe('open');
    // Three shared feeds: the first layout is 4 tiles with all three in it.
    await expect.poll(() => grid(chair).getAttribute('data-layout-kind'), POLL).toBe('4');
    expect(await chair.locator('[data-testid=session-code]').textContent()).toMatch(/^\d{6}$/);
    expect(await chair.locator('[data-testid=join-link]').inputValue()).toContain('#/join/');
  });

  it('a point joins with the code as a guest and follows the chair\'s layout changes live', async () => {
    const code = (await chair.locator('[data-testid=session-code]').textContent())!.trim();
    await point.goto(`${h.gateway.httpUrl}/#/join/${code}`);
    expect(await point.locator('input[name=code]').inputValue()).toBe(code);
    await point.locator('input[name=name]').fill(pointName);
    await point.locator('input[name=terminal]').fill(terminal.id);
    await point.locator('[data-testid=join-form] button[type=submit]').click();
    await point.waitForURL((url) => url.hash === `#/sessions/${sessionId}`);
    await expect.poll(() => point.locator('[data-testid=my-role]').getAttribute('data-role'), POLL).toBe('point');
    await expect.poll(() => point.locator('[data-testid=session-socket]').getAttribute('data-state'), POLL).toBe('open');
    // Guests get no operator chrome.
    expect(await point.locator('[data-testid=nav-wall]').count()).toBe(0);
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('4');

    // The chair switches to 9 tiles and puts camera B into tile 5 (keyboard path: select the tile, place).
    await layoutButton(chair, '9').click();
    await tile(chair, 4).click();
    await chair.locator(`[data-testid=session-source][data-channel-id="${cameraB.id}"] [data-testid=place-source]`).click();
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('9');
    await expect.poll(() => tile(point, 4).getAttribute('data-channel-id'), POLL).toBe(cameraB.id);
    await expect.poll(() => point.locator('[data-testid=session-tile]').count(), POLL).toBe(9);
    // The point sees the chair's channels, by name.
    await expect.poll(() => tileNames(point), POLL).toEqual(await tileNames(chair));
    expect(await tileNames(point)).toEqual(expect.arrayContaining([cameraA.name, cameraB.name]));
  });

  it('the point\'s tiles play the shared cameras', async () => {
    await expect
      .poll(() => point.locator('[data-testid=session-grid] [data-testid=live-video][data-state=playing]').count(), { timeout: 45_000, interval: 500 })
      .toBeGreaterThan(0);
    // Playing means frames: the video's clock moves.
    const playing = point.locator('[data-testid=session-grid] [data-testid=live-video][data-state=playing] video').first();
    // The gateway's type-check has no DOM library (this runs in the page, not in Node): no HTMLVideoElement here.
    const clock = (): Promise<number> => playing.evaluate((video) => (video as unknown as { currentTime: number }).currentTime);
    const t0 = await clock();
    await expect.poll(clock, { timeout: 15_000, interval: 250 }).toBeGreaterThan(t0 + 1);
    await saveScreenshot(chair, 'session-chair');
    await saveScreenshot(point, 'session-point');
  });

  it('the lock keeps the point on the chair\'s layout; unlocked it watches freely and "follow chair" brings it back', async () => {
    // Watching freely: the point's own layout, the chair's changes no longer move it.
    await layoutButton(point, '1').click();
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('1');
    expect(await point.locator('[data-testid=watch-mode]').getAttribute('data-mode')).toBe('free');

    await chair.locator('[data-testid=lock-toggle]').click();
    await expect.poll(() => point.locator('[data-testid=watch-mode]').getAttribute('data-mode'), POLL).toBe('locked');
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('9');
    expect(await layoutButton(point, '4').isDisabled()).toBe(true);
    // Neither the buttons nor the keyboard shortcuts change it.
    await grid(point).focus();
    await point.keyboard.press('2');
    await point.waitForTimeout(300);
    expect(await grid(point).getAttribute('data-layout-kind')).toBe('9');
    expect(await point.locator('[data-testid=locked-indicator]').count()).toBe(1);

    await chair.locator('[data-testid=lock-toggle]').click();
    await expect.poll(() => layoutButton(point, '4').isDisabled(), POLL).toBe(false);
    await layoutButton(point, '4').click();
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('4');
    await layoutButton(chair, '16').click();
    await expect.poll(() => grid(chair).getAttribute('data-layout-kind'), POLL).toBe('16');
    await point.waitForTimeout(500);
    expect(await grid(point).getAttribute('data-layout-kind')).toBe('4');
    await point.locator('[data-testid=follow-chair]').click();
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('16');
    expect(await point.locator('[data-testid=watch-mode]').getAttribute('data-mode')).toBe('follow');
  });

  it('the chair sees the point\'s presence badge; roll call shows the point\'s terminal to the point too', async () => {
    const row = chair.locator(`[data-testid=participant][data-name="${pointName}"]`);
    await expect.poll(() => row.count(), POLL).toBe(1);
    pointParticipantId = (await row.getAttribute('data-participant-id'))!;
    await expect.poll(() => participantRow(chair, pointParticipantId).locator('[data-testid=presence-badge]').getAttribute('data-presence'), POLL).toBe('good');
    expect(await participantRow(chair, pointParticipantId).locator('[data-testid=presence-badge]').textContent()).toContain('良好');

    await participantRow(chair, pointParticipantId).locator('[data-testid=roll-call]').click();
    await expect.poll(() => point.locator('[data-testid=roll-call-banner]').getAttribute('data-participant-id'), POLL).toBe(pointParticipantId);
    expect(await point.locator('[data-testid=roll-call-banner]').textContent()).toContain(pointName);
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('1');
    expect(await tile(point, 0).getAttribute('data-channel-id')).toBe(terminal.id);
    // A point's terminal is labelled with the point's name on every screen.
    expect(await tile(point, 0).locator('[data-testid=tile-name]').textContent()).toBe(`${pointName} 的终端`);

    await chair.locator('[data-testid=roll-call-stop]').click();
    await expect.poll(() => point.locator('[data-testid=roll-call-banner]').count(), POLL).toBe(0);
    await expect.poll(() => grid(point).getAttribute('data-layout-kind'), POLL).toBe('16');
  });

  it('a guest cannot reach the wall, in the UI or through the API', async () => {
    await point.goto(`${h.gateway.httpUrl}/#/wall`);
    await point.waitForURL((url) => url.hash === `#/sessions/${sessionId}`);
    await expect.poll(() => point.locator('[data-testid=session-socket]').getAttribute('data-state'), POLL).toBe('open');
    const status = await point.evaluate<number>(`(async () => {
      const auth = JSON.parse(localStorage.getItem('sharp-eyes.auth') ?? '{}');
      const res = await fetch('/api/devices', { headers: { Authorization: 'Bearer ' + auth.token } });
      return res.status;
    })()`);
    expect(status).toBe(403);
  });

  it('hand-over makes the point the chair', async () => {
    await participantRow(chair, pointParticipantId).locator('[data-testid=hand-over]').click();
    await expect.poll(() => point.locator('[data-testid=my-role]').getAttribute('data-role'), POLL).toBe('chair');
    await expect.poll(() => chair.locator('[data-testid=my-role]').getAttribute('data-role'), POLL).toBe('point');
    expect(await point.locator('[data-testid=session-code]').count()).toBe(1);
    // The new chair's layout now reaches the old one.
    await layoutButton(point, '1+5').click();
    await expect.poll(() => grid(chair).getAttribute('data-layout-kind'), POLL).toBe('1+5');
  });

  it('after the point closes its page, the other side shows it lost and its leave time in the attendance', async () => {
    const attendanceRow = chair.locator(`[data-testid=attendance-row][data-participant-id="${pointParticipantId}"]`);
    await expect.poll(() => attendanceRow.getAttribute('data-left'), POLL).toBe('false');
    await pointContext.close();
    await expect.poll(() => participantRow(chair, pointParticipantId).locator('[data-testid=presence-badge]').getAttribute('data-presence'), POLL).toBe('lost');
    await expect.poll(() => attendanceRow.getAttribute('data-left'), POLL).toBe('true');
    expect(await attendanceRow.locator('[data-testid=attendance-left]').textContent()).toMatch(/\d{2}:\d{2}:\d{2}/);
    const attendance = await h.api<{ items: { participantId: string; leftAt: number | null }[] }>(`/api/sessions/${sessionId}/attendance`);
    expect(attendance.body.items.find((e) => e.participantId === pointParticipantId)?.leftAt).toEqual(expect.any(Number));
    await saveScreenshot(chair, 'session-chair-attendance');
    expect(pageErrors).toEqual([]);
    await chairContext.close();
  });
});
