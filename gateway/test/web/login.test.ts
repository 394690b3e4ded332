/** The web wall's front door in a real browser: sign in, wrong password, language switch, sign out. */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';

describe('web: sign in', () => {
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    h = await startHarness({ webRoot: await buildWeb() });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('refuses a wrong password with a visible message and keeps the user on the form', async () => {
    const { context, page } = await newWallPage(browser);
    await page.goto(`${h.gateway.httpUrl}/`);
    await page.locator('input[name=username]').fill('admin');
    await page.locator('input[name=password]').fill('wrong-password');
    await page.locator('[data-testid=login-form] button[type=submit]').click();
    await expect.poll(() => page.locator('[data-testid=login-error]').textContent()).toContain('用户名或密码错误');
    expect(page.url()).toContain('#/login');
    await saveScreenshot(page, 'login');
    await context.close();
  });

  it('signs in, shows the live event connection, switches to English and signs out', async () => {
    const { context, page } = await newWallPage(browser);
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    expect(page.url()).toContain('#/wall');
    await expect.poll(() => page.locator('[data-testid=socket-state]').getAttribute('data-state')).toBe('open');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent()).toBe('Video wall');
    // The choice survives a reload, and so does the session.
    await page.reload();
    await expect.poll(() => page.locator('[data-testid=nav-wall]').textContent()).toBe('Video wall');
    await page.locator('[data-testid=logout]').click();
    await page.waitForURL((url) => url.hash.startsWith('#/login'));
    await context.close();
  });
});
