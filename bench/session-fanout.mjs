// Consultation-session benchmark — fan-out: a chair's layout change reaching 50 follower pages.
//
// The gateway runs as a child process serving a fresh vite build of web/ (lib/web-gateway.mjs). Headless
// Chromium (Debian's, through playwright-core) opens one chair page — signed in through the login form, on
// the session page like an operator — and N follower pages, each in its own browser context (a guest token
// lives in localStorage, which a context shares), each joined through the join page with the session's code
// as a guest. The session shares nothing, so no page plays video: what is measured is the layout message
// reaching each page's UI.
//
// Per change, one clock (the machine's, in every process: performance.timeOrigin + performance.now()):
//   sent: in the chair page, just before the layout button's click() — the chair's own UI work, the
//         WebSocket send, the gateway's fan-out, each follower's receive and Vue's re-render all count;
//   shown: in each follower page, a MutationObserver on the grid's data-layout-seq attribute — the moment
//          the new layout is in the page's DOM; also the next animation frame after it ("painted").
// The chair makes --changes changes (cycling 9, 4, 16, 1+5, 25, 1, 1+7), each after every follower showed
// the previous one (or --timeout-ms passed) plus --gap-ms.
//
// Baseline, in every run and before the browser pages open: the same fan-out to N plain `ws` clients in this
// Node process (guests joined with the code, the chair's socket sending the same `layout` messages), timed
// from send to each client's receipt — the gateway's share of the delay without any browser.
//
//   npm run build       (the gateway from dist/; the web UI is built by this script into a temp directory)
//   node bench/session-fanout.mjs [--followers 50] [--changes 30] [--runs 3] [--gap-ms 250] [--timeout-ms 5000]
//        [--join-concurrency 3] [--no-baseline]
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { options } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { cpuSeconds, selfCpuSeconds } from './lib/proc.mjs';
import { descendants, machineBusyPercent, machineCpu } from './lib/proc-tree.mjs';
import { round, summary, median } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { log, writeResult } from './lib/out.mjs';
import { ADMIN_PASSWORD, buildWebUi, postJson, startWebGatewayProcess } from './lib/web-gateway.mjs';

const USAGE = `usage: node bench/session-fanout.mjs [--followers 50] [--changes 30] [--runs 3] [--gap-ms 250] [--timeout-ms 5000]
       [--join-concurrency 3] [--no-baseline]`;
const opt = options({ followers: 50, changes: 30, runs: 3, 'gap-ms': 250, 'timeout-ms': 5000, 'join-concurrency': 3, 'no-baseline': false }, USAGE);
if (opt.followers < 1 || opt.changes < 1 || opt.runs < 1) {
  process.stderr.write(`--followers, --changes and --runs must be ≥ 1\n${USAGE}\n`);
  process.exit(2);
}
const perChangeSec = (opt['timeout-ms'] + opt['gap-ms']) / 1000;
// Bound: web build + per run (gateway start, joins at ~1 s each / concurrency, two fan-out phases) + slack.
guardProcess(120 + opt.runs * (60 + (opt.followers * 3) / opt['join-concurrency'] + 2 * opt.changes * perChangeSec));

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // 51 pages at once: none may be throttled as a background page.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];
const KINDS = ['9', '4', '16', '1+5', '25', '1', '1+7'];
const tilesOf = { 1: 1, 4: 4, '1+5': 6, '1+7': 8, 9: 9, 16: 16, 25: 25 };
const emptyLayout = (kind) => ({ kind, tiles: Array.from({ length: tilesOf[kind] }, () => ({ channelId: null })), maximised: null });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

// Installed in every follower page before its scripts run: report each change of the grid's layout seq
// (DOM time, then the next frame's time) to the benchmark through an exposed binding.
const FOLLOWER_PROBE = `(() => {
  const seen = new Set();
  new MutationObserver((records) => {
    for (const r of records) {
      const seq = Number(r.target.getAttribute('data-layout-seq'));
      if (!seq || seen.has(seq)) continue;
      seen.add(seq);
      const domAt = performance.timeOrigin + performance.now();
      const kind = r.target.getAttribute('data-layout-kind');
      requestAnimationFrame(() => window.__fanoutSeen({ seq, kind, domAt, frameAt: performance.timeOrigin + performance.now() }));
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-layout-seq'] });
})();`;

async function login(gw) {
  const res = await postJson(gw.httpUrl, '/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
  if (res.status !== 200) throw new Error(`login → ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function createSession(gw, token, name) {
  const res = await postJson(gw.httpUrl, '/api/sessions', { name, sources: [], layout: emptyLayout('4') }, token);
  if (res.status !== 201) throw new Error(`POST /api/sessions → ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function endSession(gw, token, id) {
  await postJson(gw.httpUrl, `/api/sessions/${id}/end`, {}, token).catch(() => undefined);
}

function openSocket(gw, sessionId, token, participantId, onMessage) {
  const url = `ws://127.0.0.1:${gw.httpPort}/api/sessions/${sessionId}/ws?token=${encodeURIComponent(token)}&participant=${encodeURIComponent(participantId)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let ready = false;
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (!ready && message.type === 'state') {
        ready = true;
        resolve(ws);
      }
      onMessage(message);
    });
    ws.on('error', (err) => {
      if (!ready) reject(err);
    });
    ws.on('close', (code) => {
      if (!ready) reject(new Error(`session socket closed before its state (${code})`));
    });
  });
}

/** Wait until `done()` or the deadline; returns whether it was done. */
async function until(done, timeoutMs, stepMs = 5) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

function delaySummary(values) {
  const s = summary(values);
  return { n: s.n, p50: round(s.p50), p95: round(s.p95), p99: round(s.p99), max: round(s.max), mean: round(s.mean) };
}

/** The same fan-out to N plain WebSocket clients in this process: the gateway's share of the delay. */
async function baselinePhase(gw, admin) {
  const session = await createSession(gw, admin.token, 'bench fan-out baseline');
  const received = new Map(); // seq → [ms since send]
  const sockets = [];
  try {
    const chairSocket = await openSocket(gw, session.id, admin.token, session.chair, () => undefined);
    sockets.push(chairSocket);
    for (let i = 0; i < opt.followers; i++) {
      const joined = await postJson(gw.httpUrl, '/api/sessions/join', { code: session.code, name: `ws-point-${i + 1}` });
      if (joined.status !== 200) throw new Error(`join → ${joined.status}: ${JSON.stringify(joined.body)}`);
      sockets.push(
        await openSocket(gw, session.id, joined.body.token, joined.body.participantId, (m) => {
          if (m.type !== 'layout') return;
          const at = now();
          const list = received.get(m.data.seq) ?? [];
          list.push(at);
          received.set(m.data.seq, list);
        }),
      );
    }
    await sleep(500);
    const cpu0 = cpuSeconds(gw.pid);
    const machine0 = machineCpu();
    let seq = session.layoutSeq;
    let missed = 0;
    const delays = [];
    for (let k = 0; k < opt.changes; k++) {
      seq += 1;
      const t0 = now();
      chairSocket.send(JSON.stringify({ type: 'layout', data: emptyLayout(KINDS[k % KINDS.length]) }));
      const target = seq;
      const all = await until(() => (received.get(target)?.length ?? 0) >= opt.followers, opt['timeout-ms']);
      const got = received.get(target) ?? [];
      if (!all) missed += opt.followers - got.length;
      for (const at of got) delays.push(at - t0);
      await sleep(opt['gap-ms']);
    }
    const cpu = cpuSeconds(gw.pid) - cpu0;
    const busy = machineBusyPercent(machine0, machineCpu());
    return { delivery: delaySummary(delays), missed, gatewayCpuSec: round(cpu, 2), machineBusyPct: round(busy) };
  } finally {
    for (const ws of sockets) ws.close();
    await endSession(gw, admin.token, session.id);
  }
}

/** N follower pages (guests joined through the join page) and the chair's page. */
/** CPU seconds of the Chromium processes under this one (browser, renderers, GPU and utility processes). */
function chromiumCpuSeconds() {
  return descendants(process.pid)
    .filter((p) => p.comm.startsWith('chrom'))
    .reduce((sum, p) => sum + p.cpu, 0);
}

async function pagePhase(gw, admin, browser) {
  const session = await createSession(gw, admin.token, 'bench fan-out pages');
  const contexts = [];
  const seen = new Map(); // seq → [{ domAt, frameAt }]
  const pageErrors = [];
  try {
    // The chair first: signed in through the login form, then the session page (it rejoins as its participant).
    const chairContext = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(chairContext);
    const chair = await chairContext.newPage();
    chair.on('pageerror', (e) => pageErrors.push(`chair: ${e.message}`));
    await chair.goto(`${gw.httpUrl}/#/login`);
    await chair.locator('input[name=username]').fill('admin');
    await chair.locator('input[name=password]').fill(ADMIN_PASSWORD);
    await chair.locator('[data-testid=login-form] button[type=submit]').click();
    await chair.waitForURL((url) => !url.hash.startsWith('#/login'), { waitUntil: 'commit' });
    await chair.goto(`${gw.httpUrl}/#/sessions/${session.id}`);
    await chair.locator('[data-testid=my-role][data-role=chair]').waitFor({ timeout: 30_000 });
    await chair.locator('[data-testid=session-socket][data-state=open]').waitFor({ timeout: 30_000 });
    // Then the followers: they join with the code as a point would (join page → session page).
    const joinStarted = performance.now();
    let next = 0;
    let joined = 0;
    const joinOne = async (i) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
      contexts.push(context);
      await context.exposeBinding('__fanoutSeen', (_source, record) => {
        const list = seen.get(record.seq) ?? [];
        list.push(record);
        seen.set(record.seq, list);
      });
      await context.addInitScript(FOLLOWER_PROBE);
      const page = await context.newPage();
      // Joining is not measured: on a box busy with 50 renderers a page load may take a while.
      page.setDefaultTimeout(120_000);
      page.setDefaultNavigationTimeout(120_000);
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${gw.httpUrl}/#/join/${session.code}`);
      await page.locator('input[name=name]').fill(`point-${i + 1}`);
      await page.locator('[data-testid=join-form] button[type=submit]').click();
      try {
        await page.locator('[data-testid=session-socket][data-state=open]').waitFor();
        await page.locator('[data-testid=session-grid]').waitFor();
        if (++joined % 10 === 0) log(`  ${joined} followers on the session page`);
      } catch (err) {
        // What the point would see: where it is, the error shown, the connection state.
        const seenText = await page
          .evaluate(() => ({
            hash: location.hash,
            joinError: document.querySelector('[data-testid=join-error]')?.textContent ?? null,
            sessionError: document.querySelector('[data-testid=session-error]')?.textContent ?? null,
            socket: document.querySelector('[data-testid=session-socket]')?.getAttribute('data-state') ?? null,
          }))
          .catch(() => null);
        throw new Error(`follower ${i + 1} never showed the session: ${err.message.split('\n')[0]}; page: ${JSON.stringify(seenText)}; page errors: ${pageErrors.slice(-3).join(' | ')}`);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(opt['join-concurrency'], opt.followers) }, async () => {
        while (next < opt.followers) await joinOne(next++);
      }),
    );
    const joinSec = (performance.now() - joinStarted) / 1000;
    // Let the joins' page loads and state broadcasts die down before measuring; the last 5 s give what the
    // idle pages cost, to tell the changes' own cost apart.
    await sleep(3000);
    const idle0 = chromiumCpuSeconds();
    const idleStarted = performance.now();
    await sleep(5000);
    const idleCpuPerSec = (chromiumCpuSeconds() - idle0) / ((performance.now() - idleStarted) / 1000);

    const chromium0 = chromiumCpuSeconds();
    const self0 = selfCpuSeconds();
    const changesStarted = performance.now();
    const cpu0 = cpuSeconds(gw.pid);
    const machine0 = machineCpu();
    let seq = session.layoutSeq;
    let missed = 0;
    const shown = [];
    const painted = [];
    for (let k = 0; k < opt.changes; k++) {
      seq += 1;
      const kind = KINDS[k % KINDS.length];
      const t0 = await chair.evaluate((wanted) => {
        const button = document.querySelector(`[data-testid=layout-kind][data-kind="${wanted}"]`);
        if (!button || button.disabled) return null;
        const t = performance.timeOrigin + performance.now();
        button.click();
        return t;
      }, kind);
      if (t0 === null) throw new Error(`the chair's ${kind} layout button is missing or disabled`);
      const target = seq;
      const all = await until(() => (seen.get(target)?.length ?? 0) >= opt.followers, opt['timeout-ms'], 10);
      const got = seen.get(target) ?? [];
      if (!all) missed += opt.followers - got.length;
      for (const r of got) {
        if (r.kind !== kind) throw new Error(`seq ${target}: a follower showed ${r.kind}, the chair chose ${kind}`);
        shown.push(r.domAt - t0);
        painted.push(r.frameAt - t0);
      }
      await sleep(opt['gap-ms']);
    }
    const cpu = cpuSeconds(gw.pid) - cpu0;
    const busy = machineBusyPercent(machine0, machineCpu());
    const chromiumCpu = chromiumCpuSeconds() - chromium0;
    const benchCpu = selfCpuSeconds() - self0;
    const changesSec = (performance.now() - changesStarted) / 1000;
    // What one change costs one page (chair included: it re-renders too), idle cost taken out.
    const perPageChangeMs = (1000 * (chromiumCpu - idleCpuPerSec * changesSec)) / opt.changes / (opt.followers + 1);
    return {
      shown: delaySummary(shown),
      painted: delaySummary(painted),
      missed,
      joinSec: round(joinSec, 1),
      gatewayCpuSec: round(cpu, 2),
      machineBusyPct: round(busy),
      benchProcessCpuSec: round(benchCpu, 2),
      chromium: { cpuSec: round(chromiumCpu, 2), idlePctOfCore: round(100 * idleCpuPerSec), perPageChangeMs: round(perPageChangeMs, 1) },
      pageErrors: pageErrors.slice(0, 10),
    };
  } finally {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
    await endSession(gw, admin.token, session.id);
  }
}

const machine = machineInfo();
log(`session fan-out: ${opt.followers} follower pages, ${opt.changes} layout changes per run, ${opt.runs} run(s)${opt['no-baseline'] ? '' : ', baseline: the same fan-out to plain ws clients'}`);
log(`machine: ${machineLine(machine)}`);
const result = { benchmark: 'session-fanout', options: opt, machine, runs: [] };
let browser = null;
let web = null;
let gw = null;
try {
  web = await buildWebUi();
  log(`web UI built in ${web.ms} ms`);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  result.chromium = browser.version();
  for (let run = 1; run <= opt.runs; run++) {
    gw = await startWebGatewayProcess({ webRoot: web.dir });
    const admin = await login(gw);
    const entry = { run, loadavgAtStart: machineInfo().loadavg };
    if (!opt['no-baseline']) {
      entry.baseline = await baselinePhase(gw, admin);
      const b = entry.baseline;
      log(`run ${run} baseline (${opt.followers} ws clients): p50 ${b.delivery.p50} ms, p99 ${b.delivery.p99} ms, max ${b.delivery.max} ms, missed ${b.missed}, gateway CPU ${b.gatewayCpuSec} s`);
    }
    entry.pages = await pagePhase(gw, admin, browser);
    const p = entry.pages;
    log(`run ${run} pages (${opt.followers} followers, joined in ${p.joinSec} s): shown p50 ${p.shown.p50} ms, p99 ${p.shown.p99} ms, max ${p.shown.max} ms; painted p50 ${p.painted.p50} ms, p99 ${p.painted.p99} ms; missed ${p.missed}; gateway CPU ${p.gatewayCpuSec} s, this process (Playwright) ${p.benchProcessCpuSec} s, machine ${p.machineBusyPct} % busy; Chromium ${p.chromium.cpuSec} s CPU (idle pages ${p.chromium.idlePctOfCore} % of a core), one change ≈ ${p.chromium.perPageChangeMs} ms CPU per page`);
    if (p.pageErrors.length) log(`run ${run} page errors: ${p.pageErrors.join(' | ')}`);
    result.runs.push(entry);
    await gw.stop();
    gw = null;
  }
  const med = (pick) => round(median(result.runs.map(pick).filter((v) => typeof v === 'number')));
  result.medians = {
    shown: { p50: med((r) => r.pages.shown.p50), p99: med((r) => r.pages.shown.p99), max: med((r) => r.pages.shown.max) },
    painted: { p50: med((r) => r.pages.painted.p50), p99: med((r) => r.pages.painted.p99), max: med((r) => r.pages.painted.max) },
    missed: med((r) => r.pages.missed),
    perPageChangeMs: med((r) => r.pages.chromium.perPageChangeMs),
    ...(opt['no-baseline'] ? {} : { baseline: { p50: med((r) => r.baseline.delivery.p50), p99: med((r) => r.baseline.delivery.p99), max: med((r) => r.baseline.delivery.max) } }),
  };
  const m = result.medians;
  log(`median over ${opt.runs} run(s): shown p50 ${m.shown.p50} ms, p99 ${m.shown.p99} ms (target ≤ 200 ms), max ${m.shown.max} ms; painted p99 ${m.painted.p99} ms; one change ≈ ${m.perPageChangeMs} ms Chromium CPU per page${m.baseline ? `; baseline ws p50 ${m.baseline.p50} ms, p99 ${m.baseline.p99} ms` : ''}`);
  log(`written ${writeResult('session-fanout', result)}`);
} finally {
  await browser?.close().catch(() => undefined);
  await gw?.stop().catch(() => undefined);
  web?.remove();
  await stopAll();
}
