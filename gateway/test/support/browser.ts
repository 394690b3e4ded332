/**
 * Browser tests: Debian's headless Chromium driven by playwright-core, and the web wall built from the
 * current source.
 *
 * Each test worker builds web/ into its own directory (vite's build API, ~2 s) instead of using web/dist:
 * the tests then always check the source as it is, and parallel workers (or a developer's `npm run
 * build:web`) never see a half-written dist directory.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const SCREENSHOT_DIR = join(repoRoot, 'test-output/screenshots');

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  // A wall page in a background tab must keep playing while tests drive another page.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

let built: Promise<string> | null = null;

/** Build the web wall once per worker process; returns the directory to pass as the harness's webRoot. */
export function buildWeb(): Promise<string> {
  built ??= (async () => {
    const outDir = join(repoRoot, '.test-data', `web-${process.pid}`);
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    const { build } = await import('vite');
    await build({
      configFile: join(repoRoot, 'web/vite.config.ts'),
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    });
    return outDir;
  })();
  return built;
}

/** A 1920×1080 page (the wall's design size) in a fresh context, zh-CN like the operators' machines. */
export async function newWallPage(browser: Browser, options: { width?: number; height?: number; locale?: string } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1920, height: options.height ?? 1080 },
    locale: options.locale ?? 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  return { context, page };
}

/** Sign in through the login form as a user would. */
export async function signIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/#/login`);
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(password);
  await page.locator('[data-testid=login-form] button[type=submit]').click();
  await page.waitForURL((url) => !url.hash.startsWith('#/login'));
}

/** Keep a screenshot as test output (test-output/ is git-ignored; CI can archive it). */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
