/**
 * The wall's PTZ panel shows who steers the selected camera (the gateway's PTZ lease), in both languages:
 * an operator steering over the API appears as the holder on an admin's wall; the admin's own command makes
 * it "you have control" (a takeover by the higher role).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { revealInTree, tile } from './wall-support.js';

describe('web wall: the PTZ panel shows the holder of the camera', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cam: string;
  let operatorToken: string;

  beforeAll(async () => {
    h = await startHarness({ webRoot: await buildWeb(), overrides: { sip: { password: 'holder-pass', keepaliveIntervalSec: 5 }, access: { ptzLeaseSec: 600 } } });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'holder-pass', devices: 1, keepaliveSec: 5, idPrefix: '44031500', personalisedChannels: 0 });
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    cam = fleet.devices[0].channelIds[0];
    await h.waitFor(async () => (await h.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 1, 20_000, 'catalog');
    expect((await h.api('/api/users', { body: { username: 'duty-op', password: 'duty-op-password', role: 'operator' } })).status).toBe(201);
    operatorToken = (await h.api<{ token: string }>('/api/auth/login', { body: { username: 'duty-op', password: 'duty-op-password' }, token: null })).body.token;
    browser = await launchChromium();
    ({ context, page } = await newWallPage(browser));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.locator('[data-testid=wall-page]').waitFor();
  }, 120_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('names the operator who steers, then "you" after the admin takes over; in zh-CN and en', async () => {
    await page.locator('[data-testid=layout-4]').click();
    await (await revealInTree(page, cam, cam)).dragTo(tile(page, 0));
    await tile(page, 0).click();
    await expect.poll(() => page.locator('[data-testid=ptz-panel]').getAttribute('data-channel-id')).toBe(cam);
    expect(await page.locator('[data-testid=ptz-holder]').count()).toBe(0);

    const steer = await h.api(`/api/channels/${cam}/ptz`, { body: { action: 'preset', operation: 'call', preset: 1 }, token: operatorToken });
    expect(steer.status).toBe(200);
    await expect.poll(() => page.locator('[data-testid=ptz-holder]').textContent(), { timeout: 20_000 }).toContain('duty-op（操作员）控制中');
    await saveScreenshot(page, 'wall-ptz-holder-zh');

    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=ptz-holder]').textContent(), { timeout: 20_000 }).toContain('controlled by duty-op (operator)');
    await saveScreenshot(page, 'wall-ptz-holder-en');

    // The admin presses stop in the panel: a higher role takes the camera over.
    await page.locator('[data-testid=ptz-stop]').click();
    await expect.poll(() => page.locator('[data-testid=ptz-holder]').textContent(), { timeout: 20_000 }).toContain('you have control');
    const refused = await h.api<{ holder: { holder: string } }>(`/api/channels/${cam}/ptz`, { body: { action: 'stop' }, token: operatorToken });
    expect(refused.status).toBe(409);
    expect(refused.body.holder.holder).toBe('admin');
    await page.locator('[data-testid=toggle-locale]').click();
  }, 90_000);
});
