/**
 * Issue 12 defect 3: no untranslated text, in either language, on any screen. Visits every route the web
 * wall has (and the dialogs and tabs reachable from them: shortcut sheet, alert rules, a camera's health page,
 * a consultation, the join and sign-in forms) in zh-CN and in English against a gateway with cameras, an
 * offline camera and a consultation, reads every visible text and the placeholder / title / aria-label of
 * visible elements, and fails on:
 *   - in English: any Chinese character, unless it is data (below) or the English catalogue's own ("中文");
 *   - in zh-CN: any Latin word (3+ letters) that the zh-CN catalogue does not use itself (PTZ, CSV, fps…);
 *   - in both: raw codes and keys — a dotted key path (`session.page.ended`, `reason.keepalive-timeout`) or a
 *     kebab-case code (`keepalive-timeout`) that the page's catalogue does not contain;
 *   - in both: symbol glyphs and emoji (▲ ● ✕ 🔒…, issue 12 defect 12) in the text or in a visible element's
 *     ::before / ::after content — fonts on Kylin/UOS PCs draw them as boxes; shapes are SVG icons.
 * Data is what the gateway's API answered the page with (device, channel, region, session and user names,
 * IDs…), collected from its JSON responses — except the fields that carry the gateway's own words (message,
 * hint, reason, status, code…), which must never reach the screen untranslated.
 *
 * It reads the catalogues and the DOM generically: a string another feature adds without a translation is
 * caught without touching this test.
 */
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { buildWeb, launchChromium, newWallPage, saveScreenshot, signIn } from '../support/browser.js';
import { glyphsIn } from '../support/glyphs.js';

type Locale = 'zh-CN' | 'en';
const LOCALES: Locale[] = ['zh-CN', 'en'];
const CATALOGUE_FILES = ['common', 'wall', 'session', 'health', 'player', 'errors'];
const POLL = { timeout: 30_000, interval: 250 };

/** Fields of API answers that are the gateway's own words or codes, not data: the UI must translate them. */
const NOT_DATA = new Set(['message', 'hint', 'error', 'lastError', 'reason', 'reasons', 'code', 'status', 'state', 'kind', 'step', 'type', 'presence', 'grade', 'quality', 'severity', 'detail', 'text', 'description', 'summary']);

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
const LATIN_WORD = /[A-Za-z][A-Za-z]{2,}/g;
const KEY_PATH = /\b[a-z][a-zA-Z]*(?:\.[a-zA-Z][a-zA-Z0-9-]*){1,}\b/g;
const KEBAB = /\b[a-z]+(?:-[a-z]+)+\b/g;

/**
 * Untranslated strings known to be fixed on another branch of this session, by owner. Each is logged, not
 * failed, so this test lands before them; delete an entry when its fix is merged (the log says it is unused).
 */
const KNOWN: Array<{ pattern: RegExp; owner: string }> = [];

/**
 * Fields that carry the health domain's and streams' reasons (status reason, last error). The "health-ops"
 * branch turns them into `{ code, params }` rendered as reason.<code>; until it is merged, a text that shows
 * one of these answers verbatim is logged as known (owner health-ops), and anything else still fails.
 */
const REASON_FIELDS = new Set(['reason', 'reasons', 'lastError']);

/** What is printed on the keys themselves: shown as on the keyboard in both languages (the shortcut sheet). */
const KEY_CAPS = new Set(['Space', 'Enter', 'Esc', 'Tab', 'Shift', 'Ctrl', 'Alt', 'Delete', 'Backspace', 'Home', 'End', 'PageUp', 'PageDown', 'Insert']);

/** Every string value of a catalogue, flattened. */
function valuesOf(messages: unknown, out: string[] = []): string[] {
  if (typeof messages === 'string') out.push(messages);
  else if (messages && typeof messages === 'object') for (const v of Object.values(messages)) valuesOf(v, out);
  return out;
}

async function catalogue(locale: Locale): Promise<string[]> {
  const values: string[] = [];
  for (const file of CATALOGUE_FILES) {
    // A computed path: the gateway's type-check does not follow the web's extensionless imports.
    const url = new URL(`../../../web/src/i18n/${locale}/${file}.ts`, import.meta.url);
    const module = (await import(fileURLToPath(url))) as { default: unknown };
    valuesOf(module.default, values);
  }
  return values;
}

/** Data strings of an API answer (names, IDs…), skipping the gateway's own words; reasons go to `reasons`. */
function dataOf(json: unknown, out: Set<string>, reasons: Set<string>, key = ''): void {
  if (typeof json === 'string') {
    if (REASON_FIELDS.has(key) && json.length > 0) reasons.add(json);
    else if (!NOT_DATA.has(key) && json.length > 0 && json.length <= 120) out.add(json);
  } else if (Array.isArray(json)) {
    for (const item of json) dataOf(item, out, reasons, key);
  } else if (json && typeof json === 'object') {
    // The nodes the gateway makes up (unplaced / ungrouped) are named in UI words, not data: the page says them.
    const madeUp = (json as { kind?: unknown }).kind === 'unassigned';
    for (const [k, v] of Object.entries(json)) if (!(madeUp && k === 'name')) dataOf(v, out, reasons, k);
  }
}

/** Every reason the API answered the scans with, and how often a screen showed one verbatim. */
const reasonsSeen = new Set<string>();
let reasonHits = 0;
/** JSON answers still being read: a scan waits for them, so what they name counts as data. */
const pendingReads = new Set<Promise<void>>();

interface Finding {
  where: string;
  text: string;
  problem: string;
}

/** Visible text nodes and the placeholder / title / aria-label of visible elements. */
const READ_TEXTS = `(() => {
  const out = [];
  const visible = (el) => { if (!el) return false; const s = getComputedStyle(el); if (s.display === 'none' || s.visibility === 'hidden') return false; const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    if (!parent || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(parent.tagName)) continue;
    const text = n.textContent.replace(/\\s+/g, ' ').trim();
    if (text && visible(parent)) out.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
    if (!visible(el)) continue;
    for (const a of ['placeholder', 'title', 'aria-label']) { const v = el.getAttribute(a); if (v && v.trim()) out.push(v.replace(/\\s+/g, ' ').trim()); }
  }
  for (const el of document.querySelectorAll('option')) { const select = el.closest('select'); if (visible(select) && el.textContent.trim()) out.push(el.textContent.trim()); }
  return out;
})()`;

/** The generated content (CSS `content:` strings) of visible elements' ::before and ::after. */
const READ_PSEUDO = `(() => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    for (const which of ['::before', '::after']) {
      const content = getComputedStyle(el, which).content;
      if (content && content !== 'none' && content !== 'normal' && content !== '""') out.push(content);
    }
  }
  return out;
})()`;

describe('web: no untranslated text on any screen, zh-CN and English (issue 12 defect 3)', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let sessionId = '';
  let sessionCode = '';
  /** Consultations a point joins and the chair then ends, one per language (the scan of "session ended"). */
  const endingSessions = new Map<Locale, { id: string; code: string }>();
  let onlineChannel = '';
  let offlineChannel = '';
  const catalogues = new Map<Locale, string[]>();
  const findings: Finding[] = [];
  const known = new Map<number, number>();

  beforeAll(async () => {
    for (const locale of LOCALES) catalogues.set(locale, await catalogue(locale));
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: { sip: { password: 'scan-pass', keepaliveIntervalSec: 2, keepaliveMissCount: 2 }, health: { evaluateIntervalSec: 1 }, media: { host: '127.0.0.1', ports: '31780-31799' } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'scan-pass', devices: 3, keepaliveSec: 2, idPrefix: '44030502', firstSerial: 995 });
    await fleet.start();
    await fleet.waitForRegistered(3, 30_000);
    [onlineChannel, , offlineChannel] = fleet.devices.map((d) => d.channelIds[0]);
    await h.waitFor(async () => ((await h.api(`/api/channels/${offlineChannel}`)).status === 200 ? true : null), 30_000, 'the catalog');
    // One camera goes silent: the health console then has a problem row with its reason to show.
    fleet.stopDevices([fleet.devices[2].id]);
    await h.waitFor(async () => ((await h.api<{ status: string }>(`/api/devices/${fleet.devices[2].id}`)).body.status === 'offline' ? true : null), 30_000, 'the silent device offline');
    const created = await h.api<{ id: string; code: string }>('/api/sessions', { body: { name: '防汛会商', sources: [onlineChannel] } });
    sessionId = created.body.id;
    sessionCode = created.body.code;
    for (const locale of LOCALES) {
      const ending = await h.api<{ id: string; code: string }>('/api/sessions', { body: { name: `结束会商 ${locale}`, sources: [onlineChannel] } });
      endingSessions.set(locale, ending.body);
    }
    browser = await launchChromium();
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  function check(locale: Locale, where: string, texts: string[], data: Set<string>): void {
    const own = catalogues.get(locale)!;
    const ownText = own.join('\n');
    const names = [...data].filter((d) => d.length >= 2).sort((a, b) => b.length - a.length);
    for (const raw of new Set(texts)) {
      let text = raw;
      for (const name of names) if (text.includes(name)) text = text.split(name).join(' ');
      const problems: string[] = [];
      if (locale === 'en' && CJK.test(text)) {
        const leftover = text.match(/[\u3400-\u9fff\uf900-\ufaff]+/g)!.filter((run) => !ownText.includes(run));
        if (leftover.length > 0) problems.push(`Chinese in the English UI: ${leftover.join(' ')}`);
      }
      if (locale === 'zh-CN') {
        const words = (text.match(LATIN_WORD) ?? []).filter((w) => !ownText.includes(w) && !KEY_CAPS.has(w));
        if (words.length > 0) problems.push(`Latin words in the Chinese UI: ${words.join(' ')}`);
      }
      const keys = (text.match(KEY_PATH) ?? []).filter((k) => !ownText.includes(k) && !/^\d/.test(k));
      if (keys.length > 0) problems.push(`raw keys: ${keys.join(' ')}`);
      const codes = (text.match(KEBAB) ?? []).filter((c) => !ownText.includes(c));
      if (codes.length > 0) problems.push(`raw codes: ${codes.join(' ')}`);
      const glyphs = glyphsIn(text);
      if (glyphs.length > 0) problems.push(`symbol glyphs / emoji (boxes without full fonts): ${glyphs.join(' ')}`);
      if (problems.length === 0) continue;
      if ([...reasonsSeen].some((reason) => raw.includes(reason))) {
        reasonHits++;
        continue;
      }
      const knownIndex = KNOWN.findIndex((k) => k.pattern.test(raw));
      if (knownIndex >= 0) {
        known.set(knownIndex, (known.get(knownIndex) ?? 0) + 1);
        continue;
      }
      findings.push({ where: `${locale} ${where}`, text: raw, problem: problems.join('; ') });
    }
  }

  /** A page in `locale` that records the data of every JSON answer it gets. */
  async function localisedPage(locale: Locale): Promise<{ context: BrowserContext; page: Page; data: Set<string> }> {
    const { context, page } = await newWallPage(browser, { locale });
    await context.addInitScript(`localStorage.setItem('sharp-eyes.locale', '${locale}')`);
    const data = new Set<string>(['admin', 'admin-password-1']);
    page.on('response', (response) => {
      if (!new URL(response.url()).pathname.startsWith('/api/')) return;
      if (!(response.headers()['content-type'] ?? '').includes('json')) return;
      const parsed = response.json().then((json: unknown) => dataOf(json, data, reasonsSeen), () => undefined);
      pendingReads.add(parsed);
      void parsed.finally(() => pendingReads.delete(parsed));
    });
    page.on('websocket', (socket) => {
      socket.on('framereceived', ({ payload }) => {
        if (typeof payload !== 'string') return;
        try {
          dataOf(JSON.parse(payload) as unknown, data, reasonsSeen);
        } catch {
          // not JSON
        }
      });
    });
    return { context, page, data };
  }

  async function scan(locale: Locale, page: Page, data: Set<string>, where: string, ready: string): Promise<void> {
    await page.locator(ready).first().waitFor({ state: 'visible', timeout: POLL.timeout });
    // Let the screen's first reads land (their answers are data too) before reading what it shows.
    await page.waitForLoadState('networkidle').catch(() => undefined);
    const texts = await page.evaluate<string[]>(READ_TEXTS);
    await Promise.all([...pendingReads]);
    check(locale, where, texts, data);
    for (const content of new Set(await page.evaluate<string[]>(READ_PSEUDO))) {
      const glyphs = glyphsIn(content);
      if (glyphs.length > 0) findings.push({ where: `${locale} ${where}`, text: `CSS content ${content}`, problem: `symbol glyphs in ::before / ::after: ${glyphs.join(' ')}` });
    }
    await saveScreenshot(page, `scan-${where.replace(/[^a-z0-9]+/gi, '-')}-${locale}`);
  }

  for (const locale of LOCALES) {
    it(`${locale}: sign-in, join, wall (and its shortcut sheet), consultations, a consultation, health (both tabs), a camera's health page`, async () => {
      const { context, page, data } = await localisedPage(locale);
      const base = h.gateway.httpUrl;
      await page.goto(`${base}/#/login`);
      await scan(locale, page, data, 'login', '[data-testid=login-form]');
      await page.goto(`${base}/#/join/${sessionCode}`);
      await scan(locale, page, data, 'join', '[data-testid=join-form]');
      // A wrong code: the error the gateway answers is said in the page's language.
      await page.locator('input[name=code]').fill('000000');
      await page.locator('input[name=name]').fill('测试点');
      data.add('测试点');
      await page.locator('[data-testid=join-form] button[type=submit]').click();
      await page.locator('[data-testid=join-error]').waitFor({ timeout: POLL.timeout });
      await scan(locale, page, data, 'join-error', '[data-testid=join-error]');
      // A validation error of the gateway's schema (name longer than 100): its code and field, in the page's words.
      await page.locator('input[name=code]').fill(sessionCode);
      await page.locator('input[name=name]').fill('点'.repeat(101));
      await page.locator('[data-testid=join-form] button[type=submit]').click();
      await expect.poll(() => page.locator('[data-testid=join-error]').textContent(), POLL).toContain('100');
      await scan(locale, page, data, 'join-validation-error', '[data-testid=join-error]');

      await signIn(page, base, 'admin', 'admin-password-1');
      await page.goto(`${base}/#/wall`);
      await scan(locale, page, data, 'wall', '[data-testid=tree-panel] [data-testid=tree-node]');
      await page.locator('[data-testid=tree-view-region]').click();
      await scan(locale, page, data, 'wall-region-tree', '[data-testid=tree-panel][data-view=region] [data-testid=tree-node]');
      await page.locator('[data-testid=tree-view-group]').click();
      await scan(locale, page, data, 'wall-group-tree', '[data-testid=tree-panel][data-view=group] [data-testid=tree-node]');
      await page.locator('body').press('?');
      await scan(locale, page, data, 'wall-shortcuts', '[role=dialog]');
      await page.keyboard.press('Escape');

      await page.goto(`${base}/#/sessions`);
      await scan(locale, page, data, 'sessions', 'input[name=session-name]');
      await page.goto(`${base}/#/sessions/${sessionId}`);
      await scan(locale, page, data, 'session', '[data-testid=session-name]');

      await page.goto(`${base}/#/health`);
      await expect.poll(() => page.locator('[data-testid=health-node]').count(), POLL).toBeGreaterThan(0);
      await scan(locale, page, data, 'health', '[data-testid=health-overall]');
      await page.goto(`${base}/#/health?tab=alerts`);
      await scan(locale, page, data, 'health-alerts', 'h1');
      for (const channel of [onlineChannel, offlineChannel]) {
        await page.goto(`${base}/#/health/channels/${channel}`);
        await scan(locale, page, data, `channel-health-${channel === offlineChannel ? 'offline' : 'online'}`, 'h1');
      }
      await context.close();
    });
  }

  /** The locale toggle of the page (the app's top bar, or a point's own button), and the other locale. */
  async function switchLanguage(page: Page, from: Locale, button: string): Promise<Locale> {
    await page.locator(button).first().click();
    const to: Locale = from === 'zh-CN' ? 'en' : 'zh-CN';
    await expect.poll(() => page.evaluate<string | null>(`document.documentElement.lang || localStorage.getItem('sharp-eyes.locale')`), POLL).toBe(to);
    return to;
  }

  /** What `selector` shows must change language with the switch: Chinese in zh-CN, none in English. */
  async function followsSwitch(page: Page, selector: string, to: Locale): Promise<void> {
    const read = async (): Promise<string> => (await page.locator(selector).first().textContent()) ?? '';
    if (to === 'en') await expect.poll(async () => CJK.test(await read()), POLL).toBe(false);
    else await expect.poll(async () => CJK.test(await read()), POLL).toBe(true);
  }

  for (const locale of LOCALES) {
    it(`${locale}: errors and reasons are said from the catalogues and follow a language switch (session ended, session load error, a tile's play error)`, async () => {
      const base = h.gateway.httpUrl;
      const ending = endingSessions.get(locale)!;

      // A point joins a consultation by its code; the chair ends it: "the session has ended", then the switch.
      const point = await localisedPage(locale);
      await point.page.goto(`${base}/#/join/${ending.code}`);
      await point.page.locator('input[name=code]').fill(ending.code);
      await point.page.locator('input[name=name]').fill('一号点位');
      point.data.add('一号点位');
      await point.page.locator('[data-testid=join-form] button[type=submit]').click();
      await point.page.locator('[data-testid=session-name]').waitFor({ timeout: POLL.timeout });
      expect((await h.api(`/api/sessions/${ending.id}/end`, { method: 'POST', body: {} })).status).toBe(200);
      await scan(locale, point.page, point.data, 'session-ended', '[data-testid=session-ended]');
      let now = await switchLanguage(point.page, locale, '[data-testid=session-locale]');
      await followsSwitch(point.page, '[data-testid=session-ended]', now);
      await scan(now, point.page, point.data, 'session-ended-switched', '[data-testid=session-ended]');
      await point.context.close();

      // Opening the ended consultation again is a load error, said from the catalogue, following the switch.
      const { context, page, data } = await localisedPage(locale);
      await signIn(page, base, 'admin', 'admin-password-1');
      await page.goto(`${base}/#/sessions/${ending.id}`);
      await page.locator('[data-testid=session-error]').waitFor({ timeout: POLL.timeout });
      await scan(locale, page, data, 'session-load-error', '[data-testid=session-error]');
      now = await switchLanguage(page, locale, '[data-testid=toggle-locale]');
      await followsSwitch(page, '[data-testid=session-error]', now);
      await scan(now, page, data, 'session-load-error-switched', '[data-testid=session-error]');
      await switchLanguage(page, now, '[data-testid=toggle-locale]');

      // A tile whose play fails (a channel that does not exist): the reason and the hint from the catalogues.
      await page.goto(`${base}/#/diagnostics/players?channels=44031399001320009999&stream=sub`);
      await page.locator('[data-testid=live-video][data-state=error]').waitFor({ timeout: POLL.timeout });
      const reason = page.locator('[data-testid=live-video-error]');
      expect(await reason.getAttribute('data-code')).toBe('error.play.channel');
      // The gateway's English is kept for diagnostics only, never shown.
      expect(await reason.getAttribute('data-detail')).toContain('channel 44031399001320009999 not found');
      expect(await reason.textContent()).not.toContain('44031399001320009999 not found');
      await scan(locale, page, data, 'tile-play-error', '[data-testid=live-video-error]');
      now = await switchLanguage(page, locale, '[data-testid=toggle-locale]');
      await followsSwitch(page, '[data-testid=live-video-error]', now);
      await followsSwitch(page, '[data-testid=live-video-hint]', now);
      await scan(now, page, data, 'tile-play-error-switched', '[data-testid=live-video-error]');
      await context.close();
    });
  }

  it('found nothing untranslated', () => {
    console.info(`untranslated-text scan: known (health-ops) reasons shown verbatim: ${reasonHits} texts`);
    KNOWN.forEach((k, i) => console.info(`untranslated-text scan: known (${k.owner}) ${k.pattern}: ${known.get(i) ?? 0} hits${known.has(i) ? '' : ' — unused: delete it'}`));
    expect(findings, JSON.stringify(findings, null, 1)).toEqual([]);
  });
});
