// Web wall benchmark — the 25-tile wall: time until every tile plays (target ≤ 3 s), dropped frames over 60 s,
// gateway CPU. The real wall page (#/wall, WallPage → WallTile → LiveVideo → LivePlayer) in headless Chromium.
//
// Per variant and run, fresh processes: the gateway child (lib/web-gateway.mjs: the gateway as `serve` runs it,
// serving the web app built from the current source by this script — web/dist may be stale or someone else's;
// catalog query off: a camera is played by its device ID), the simulator child with N cameras
// (`lib/sim-worker.mjs`, 640×360 25 fps H.264 sub-streams, 1 s GOP, ~0.5 Mb/s — what a wall grid asks for), and
// Chromium driven from this process.
//
// The wall's layout is put in localStorage (kind "25", the N cameras in order) before the page loads, as a wall
// PC that restarts its browser finds it; the measurement starts with page.goto('#/wall'):
//   - tile ready: its LiveVideo reports `playing` (LivePlayer: media time advanced between two samples 0.5 s
//     apart, i.e. frames are being presented, not just a first frame decoded); all ready = the slowest tile.
//     Also, from the gateway's own records (GET /api/streams: startedAt, timeToFirstFrameMs), when the plays
//     arrived and when the last stream was playable, to split gateway time from page and player time.
//   - hold --hold-sec (60): every 5 s every tile's state, decoded and dropped frames (getVideoPlaybackQuality),
//     currentTime; at the end: dropped frames over the hold (sum over tiles, and % of decoded), tiles that were
//     not `playing` at some sample, media time advanced per tile vs wall time.
//   - CPU over the hold, % of one core (200 % = both cores): the gateway tree (Node + its ffmpeg, lib/proc-tree),
//     the simulator, Chromium (every chromium process under this one), and the whole machine.
//   - after: the page is closed and the gateway must show no viewer within 10 s (players destroyed, viewers
//     released).
// Variants, each in every run (order rotates): `mux` — the wall as it comes, over plain HTTP/1.1, media over
// the page's one WebSocket (web/src/player/ws-media-loader.ts), the in-process muxer; since "Web wall 4" its grid
// tiles play LL-HLS parts 1.2 s from the edge (GRID_LL_HLS_TUNING); `noseek` — as `mux` without the seek to
// hls.js's live sync position (localStorage sharp-eyes.live-seek = off); `parts` / `segments` — as `mux`, grid tiles
// set to LL-HLS parts (hls.js lowLatencyMode; now the default) / whole segments (localStorage
// sharp-eyes.grid-hls, web/src/player/hls-tuning.ts); `http` — hls.js's own XHR loader under the browser's six
// connections per origin (localStorage sharp-eyes.media-transport = http); `ffmpeg` — as `mux`, with the gateway
// packaging through ffmpeg (SE_MEDIA_IN_PROCESS_MUXER=false: plain HLS, no parts), issue 9's baseline.
//
//   npm run build
//   node bench/wall-25.mjs [--runs 3] [--tiles 25] [--hold-sec 60] [--variants mux,noseek,parts,segments,http,ffmpeg] [--ports 42400-42499]
//        [--ready-timeout-sec 60]
import { chromium } from 'playwright-core';
import { options } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { ADMIN_PASSWORD, buildWebUi, startWebGatewayProcess } from './lib/web-gateway.mjs';
import { startSimProcess } from './lib/sim-process.mjs';
import { median, round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { log, writeResult } from './lib/out.mjs';
import { descendants, machineBusyPercent, machineCpu, readStat, TreeSampler } from './lib/proc-tree.mjs';

const USAGE = `usage: node bench/wall-25.mjs [--runs 3] [--tiles 25] [--hold-sec 60] [--variants mux,noseek,parts,segments,http,ffmpeg] [--ports 42400-42499]
       [--ready-timeout-sec 60]`;
const opt = options({ runs: 3, tiles: 25, 'hold-sec': 60, variants: 'mux,http', ports: '42400-42499', 'ready-timeout-sec': 60 }, USAGE);
const variants = opt.variants.split(',').map((v) => v.trim()).filter(Boolean);
for (const v of variants) {
  if (!['mux', 'noseek', 'parts', 'segments', 'http', 'ffmpeg'].includes(v)) {
    process.stderr.write(`--variants: any of mux, noseek, parts, segments, http, ffmpeg (got ${v})\n${USAGE}\n`);
    process.exit(2);
  }
}
// Bound: web build + per variant (sim + gateway start, ready, hold, teardown).
guardProcess(180 + opt.runs * variants.length * (opt['hold-sec'] + opt['ready-timeout-sec'] + 120));

const CHROMIUM_PATH = '/usr/bin/chromium';
// As the browser tests run it (gateway/test/support/browser.ts): the wall must keep playing unthrottled.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run', '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows', '--autoplay-policy=no-user-gesture-required',
];
const SAMPLE_MS = 5_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const machine = machineInfo();
log(`25-tile wall: ${opt.tiles} tiles (sub-streams) on the real wall page, variants ${variants.join(', ')}, ${opt.runs} run(s), hold ${opt['hold-sec']} s`);
log(`machine: ${machineLine(machine)}; load average at start ${machine.loadavg.join(' ')}`);

// ---- the web app, built from the current source into a directory of this run
const web = await buildWebUi();
log(`web app built in ${round(web.ms / 1000, 1)} s into ${web.dir}`);

/** CPU seconds of every chromium process under this one (live + reaped children of theirs). */
function chromiumCpuSeconds() {
  let total = 0;
  for (const p of descendants(process.pid)) if (/^(chromium|chrome|headless_shell)/.test(p.comm)) total += p.cpu + p.reapedCpu;
  return total;
}

const TILE_STATE = `[...document.querySelectorAll('[data-testid=wall-grid] [data-testid=live-video]')].map((tile) => {
  const video = tile.querySelector('video');
  const q = video && video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
  return { channelId: tile.dataset.channelId || '', state: tile.dataset.state || '', currentTime: video ? video.currentTime : 0,
    decoded: q ? q.totalVideoFrames : 0, dropped: q ? q.droppedVideoFrames : 0 };
})`;

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
log(`Chromium ${browser.version()}`);
const result = { benchmark: 'wall-25', options: opt, machine, chromium: browser.version(), runs: [] };
try {
  for (let run = 1; run <= opt.runs; run++) {
    const shift = (run - 1) % variants.length;
    const order = [...variants.slice(shift), ...variants.slice(0, shift)];
    const runResult = { run, variants: {} };
    for (const variant of order) {
      runResult.variants[variant] = await measure(variant, run);
      await sleep(2_000);
    }
    result.runs.push(runResult);
  }
} finally {
  await browser.close().catch(() => undefined);
  await stopAll();
  web.remove();
}

/** One variant: fresh gateway and simulator, the wall page with N tiles, ready time, a hold, teardown. */
async function measure(variant, run) {
  let gw = null;
  let sim = null;
  let context = null;
  try {
    gw = await startWebGatewayProcess({
      webRoot: web.dir,
      env: {
        SE_MEDIA_HOST: '127.0.0.1',
        SE_MEDIA_PORTS: opt.ports,
        SE_MEDIA_MAX_STREAMS: String(opt.tiles + 10),
        SE_SIP_CATALOG_ON_REGISTER: 'false',
        SE_MEDIA_IN_PROCESS_MUXER: variant === 'ffmpeg' ? 'false' : 'true',
      },
    });
    sim = await startSimProcess({
      fleet: { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, devices: opt.tiles, keepaliveSec: 60, codec: 'h264', audio: null },
      profiles: ['sub'],
    });
    const channels = sim.devices.map((d) => d.channelIds[0]);
    const loop = sim.loops.sub;
    log(`run ${run} ${variant}: gateway pid ${gw.pid}, simulator pid ${sim.pid} (${channels.length} cameras, sub loop ${loop.width}x${loop.height} ${loop.fps} fps ${loop.kbps} kb/s)`);

    context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    // Sign in through the API (the form is not what is measured) and leave the wall's state where the page reads it.
    const login = await fetch(`${gw.httpUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    if (login.status !== 200) throw new Error(`login ${login.status}: ${await login.text()}`);
    const session = await login.json();
    const layout = { kind: '25', tiles: channels.map((channelId) => ({ channelId })), maximised: null };
    await context.addInitScript(
      ({ auth, layout, transport, gridHls, liveSeek }) => {
        if (sessionStorage.getItem('bench-init')) return;
        sessionStorage.setItem('bench-init', '1');
        localStorage.setItem('sharp-eyes.auth', JSON.stringify(auth));
        localStorage.setItem('sharp-eyes.wall.layout', JSON.stringify(layout));
        localStorage.setItem('sharp-eyes.media-transport', transport);
        if (gridHls) localStorage.setItem('sharp-eyes.grid-hls', gridHls);
        if (liveSeek) localStorage.setItem('sharp-eyes.live-seek', liveSeek);
      },
      {
        auth: { token: session.token, expiresAt: session.expiresAt, username: session.user.username, role: session.user.role },
        layout,
        transport: variant === 'http' ? 'http' : 'mux',
        gridHls: variant === 'parts' || variant === 'segments' ? variant : null,
        liveSeek: variant === 'noseek' ? 'off' : null,
      },
    );

    // What the page opens over HTTP (Chromium's own network events).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const connections = new Set();
    let mediaHttpRequests = 0;
    let playHttpRequests = 0;
    cdp.on('Network.requestWillBeSent', (e) => {
      if (e.request.url.includes('/media/')) mediaHttpRequests++;
      if (/\/api\/channels\/[^/]+\/play$/.test(e.request.url)) playHttpRequests++;
    });
    cdp.on('Network.responseReceived', (e) => {
      if (e.response.connectionId) connections.add(e.response.connectionId);
    });

    const cpuBefore = { gw: new TreeSampler(gw.pid).sample(), chromium: chromiumCpuSeconds(), machine: machineCpu() };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    await page.goto(`${gw.httpUrl}/#/wall`);
    const readyAt = new Map();
    const deadline = t0 + opt['ready-timeout-sec'] * 1000;
    let tiles = [];
    while (performance.now() < deadline) {
      tiles = await page.evaluate(TILE_STATE);
      const now = performance.now() - t0;
      for (const t of tiles) if (t.state === 'playing' && !readyAt.has(t.channelId)) readyAt.set(t.channelId, now);
      if (readyAt.size >= opt.tiles) break;
      await sleep(100);
    }
    const allReadyMs = readyAt.size >= opt.tiles ? Math.max(...readyAt.values()) : null;
    // The gateway's side of the same plays (whichever way they came): when each stream was asked for
    // (startedAt) and when it became playable (+ timeToFirstFrameMs), on the same wall clock as t0Epoch.
    const streams = (await gw.api.get('/api/streams', { timeoutMs: 10_000 })).body?.items ?? [];
    const asked = streams.map((x) => x.startedAt - t0Epoch);
    const playable = streams.filter((x) => x.timeToFirstFrameMs !== null).map((x) => x.startedAt + x.timeToFirstFrameMs - t0Epoch);
    const firstPlaySentMs = asked.length ? Math.min(...asked) : null;
    const lastPlayAskedMs = asked.length ? Math.max(...asked) : null;
    const lastPlayAnsweredMs = playable.length ? Math.max(...playable) : null;
    const playDurations = streams.filter((x) => x.timeToFirstFrameMs !== null).map((x) => x.timeToFirstFrameMs);
    log(`run ${run} ${variant}: ${readyAt.size}/${opt.tiles} tiles playing; all at ${allReadyMs === null ? 'never' : `${round(allReadyMs, 0)} ms`} after navigation; on the gateway: first play at ${round(firstPlaySentMs, 0)} ms, last play at ${round(lastPlayAskedMs, 0)} ms, last stream playable at ${round(lastPlayAnsweredMs, 0)} ms (time to first frame median ${round(median(playDurations), 0)} ms, max ${round(Math.max(...playDurations), 0)} ms); ${playHttpRequests} plays over HTTP`);

    // ---- hold
    const gwSampler = new TreeSampler(gw.pid, SAMPLE_MS).start();
    const simCpu0 = readStat(sim.pid)?.cpu ?? 0;
    const chromium0 = chromiumCpuSeconds();
    const machine0 = machineCpu();
    const startTiles = await page.evaluate(TILE_STATE);
    const holdStart = performance.now();
    const notPlaying = new Map();
    const latencies = [];
    let samples = 0;
    while (performance.now() - holdStart < opt['hold-sec'] * 1000) {
      await sleep(SAMPLE_MS);
      samples++;
      for (const t of await page.evaluate(TILE_STATE)) if (t.state !== 'playing') notPlaying.set(t.channelId, (notPlaying.get(t.channelId) ?? 0) + 1);
      // hls.js's distance from the live edge of every tile (live-player.ts window.__sharpEyesLiveStats).
      const readings = await page.evaluate('window.__sharpEyesLiveStats ? window.__sharpEyesLiveStats() : []');
      for (const r of readings) if (typeof r.latencySec === 'number') latencies.push(r.latencySec);
    }
    const endTiles = await page.evaluate(TILE_STATE);
    const holdSeconds = (performance.now() - holdStart) / 1000;
    gwSampler.stop();
    const gwCpu = gwSampler.average();
    const simCpu = (100 * ((readStat(sim.pid)?.cpu ?? simCpu0) - simCpu0)) / holdSeconds;
    const chromiumCpu = (100 * (chromiumCpuSeconds() - chromium0)) / holdSeconds;
    const machineBusy = machineBusyPercent(machine0, machineCpu());
    const byId = new Map(startTiles.map((t) => [t.channelId, t]));
    let dropped = 0;
    let decoded = 0;
    const advance = [];
    for (const t of endTiles) {
      const s = byId.get(t.channelId);
      if (!s) continue;
      dropped += t.dropped - s.dropped;
      decoded += t.decoded - s.decoded;
      advance.push(t.currentTime - s.currentTime);
    }
    const metrics = await gw.api.get('/metrics', { timeoutMs: 10_000 }).catch(() => null);
    const metricsText = metrics && typeof metrics.body === 'string' ? metrics.body : String(metrics?.body ?? '');
    const muxRequests = [...metricsText.matchAll(/^se_media_mux_requests_total\{code="(\d+)"\} (\d+)/gm)].reduce((o, m) => ({ ...o, [m[1]]: Number(m[2]) }), {});
    const hold = {
      seconds: round(holdSeconds, 1),
      droppedFrames: dropped,
      decodedFrames: decoded,
      droppedPercent: round(decoded > 0 ? (100 * dropped) / decoded : NaN, 2),
      expectedFrames: Math.round(holdSeconds * loop.fps * endTiles.length),
      mediaSecondsPerTile: summary(advance),
      tilesNotPlayingAtSomeSample: notPlaying.size,
      hlsLatencySec: summary(latencies),
      notPlayingSamples: [...notPlaying.values()].reduce((a, b) => a + b, 0),
      samples,
      cpuPercent: {
        gatewayTree: round(gwCpu?.total, 0),
        gatewayNode: round(gwCpu?.root, 0),
        ffmpeg: round(gwCpu?.byComm?.ffmpeg?.cpuPercent, 0),
        simulator: round(simCpu, 0),
        chromium: round(chromiumCpu, 0),
        machineBusyPercentOfAllCores: round(machineBusy, 0),
      },
      gatewayRssMB: round(gwSampler.maxRootRssMB, 0),
    };
    log(`run ${run} ${variant}: hold ${hold.seconds} s: dropped ${dropped} of ${decoded} decoded frames (${hold.droppedPercent} %; ${hold.expectedFrames} expected), media time per tile p50 ${round(hold.mediaSecondsPerTile.p50, 1)} s min ${round(hold.mediaSecondsPerTile.min, 1)} s; ${hold.tilesNotPlayingAtSomeSample} tile(s) not playing at some sample; hls.js latency p50 ${round(hold.hlsLatencySec.p50, 2)} s p95 ${round(hold.hlsLatencySec.p95, 2)} s`);
    log(`run ${run} ${variant}: CPU % of one core: gateway tree ${hold.cpuPercent.gatewayTree} (node ${hold.cpuPercent.gatewayNode}, ffmpeg ${hold.cpuPercent.ffmpeg}), simulator ${hold.cpuPercent.simulator}, chromium ${hold.cpuPercent.chromium}; machine ${hold.cpuPercent.machineBusyPercentOfAllCores} % of all cores busy; ${connections.size} HTTP connections, ${mediaHttpRequests} /media HTTP requests, mux answers ${JSON.stringify(muxRequests)}`);

    const pageCounters = await page.evaluate(`({ players: window.__sharpEyesPlayers, mux: window.__sharpEyesMediaMux })`);
    // ---- teardown: the wall goes (the operator leaves for another screen), its players and viewers must go too
    const tClose = performance.now();
    await page.goto(`${gw.httpUrl}/#/sessions`);
    await page.waitForFunction(`document.querySelectorAll('[data-testid=live-video]').length === 0`, undefined, { timeout: 10_000 }).catch(() => undefined);
    const countersAfter = await page.evaluate(`({ ...window.__sharpEyesPlayers })`);
    let viewersLeft = null;
    while (performance.now() - tClose < 10_000) {
      const streams = await gw.api.get('/api/streams', { timeoutMs: 5_000 }).catch(() => null);
      viewersLeft = streams?.body?.items?.reduce((s, x) => s + x.viewers, 0) ?? null;
      if (viewersLeft === 0) break;
      await sleep(250);
    }
    const viewersGoneMs = viewersLeft === 0 ? round(performance.now() - tClose, 0) : null;
    log(`run ${run} ${variant}: wall left; players ${countersAfter.players}, hls.js instances ${countersAfter.hls}; viewers on the gateway ${viewersLeft === 0 ? `0 after ${viewersGoneMs} ms` : `${viewersLeft} still after 10 s`}`);
    if (consoleErrors.length) log(`run ${run} ${variant}: page console: ${consoleErrors.slice(0, 5).join(' | ')}`);
    await context.close();
    context = null;

    return {
      allTilesPlayingMs: allReadyMs === null ? null : round(allReadyMs, 0),
      tilesPlaying: readyAt.size,
      tileReadyMs: summary([...readyAt.values()]),
      firstPlayAtGatewayMs: round(firstPlaySentMs, 0),
      lastPlayAtGatewayMs: round(lastPlayAskedMs, 0),
      lastStreamPlayableMs: round(lastPlayAnsweredMs, 0),
      gatewayTimeToFirstFrameMs: summary(playDurations),
      playHttpRequests,
      httpConnections: connections.size,
      mediaHttpRequests,
      muxAnswersByStatus: muxRequests,
      hold,
      viewersGoneMs,
      viewersLeft,
      playersAfterLeaving: countersAfter,
      pageCounters,
      pageErrors: consoleErrors.slice(0, 10),
      cpuBeforeMachine: cpuBefore.machine,
      loadavg: machineInfo().loadavg,
    };
  } finally {
    await context?.close().catch(() => undefined);
    await sim?.stop().catch(() => undefined);
    await gw?.stop().catch(() => undefined);
  }
}

// ---- medians over runs
const med = (variant, pick) => {
  const values = result.runs.map((r) => r.variants[variant]).filter(Boolean).map(pick).filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  return values.length ? round(median(values), 1) : null;
};
result.medians = {};
for (const variant of variants) {
  result.medians[variant] = {
    allTilesPlayingMs: med(variant, (v) => v.allTilesPlayingMs),
    lastPlayAtGatewayMs: med(variant, (v) => v.lastPlayAtGatewayMs),
    lastStreamPlayableMs: med(variant, (v) => v.lastStreamPlayableMs),
    gatewayTtffP50Ms: med(variant, (v) => v.gatewayTimeToFirstFrameMs.p50),
    droppedFrames: med(variant, (v) => v.hold.droppedFrames),
    droppedPercent: med(variant, (v) => v.hold.droppedPercent),
    tilesNotPlayingAtSomeSample: med(variant, (v) => v.hold.tilesNotPlayingAtSomeSample),
    hlsLatencyP50Sec: med(variant, (v) => v.hold.hlsLatencySec?.p50),
    gatewayTreeCpuPercent: med(variant, (v) => v.hold.cpuPercent.gatewayTree),
    gatewayNodeCpuPercent: med(variant, (v) => v.hold.cpuPercent.gatewayNode),
    chromiumCpuPercent: med(variant, (v) => v.hold.cpuPercent.chromium),
    machineBusyPercent: med(variant, (v) => v.hold.cpuPercent.machineBusyPercentOfAllCores),
    httpConnections: med(variant, (v) => v.httpConnections),
    viewersGoneMs: med(variant, (v) => v.viewersGoneMs),
  };
  const m = result.medians[variant];
  log(`median over ${result.runs.length} run(s), ${variant}: all ${opt.tiles} tiles playing after ${m.allTilesPlayingMs} ms (last play reached the gateway at ${m.lastPlayAtGatewayMs} ms, last stream playable at ${m.lastStreamPlayableMs} ms, gateway time to first frame p50 ${m.gatewayTtffP50Ms} ms); dropped frames over ${opt['hold-sec']} s ${m.droppedFrames} (${m.droppedPercent} %); gateway tree CPU ${m.gatewayTreeCpuPercent} % (node ${m.gatewayNodeCpuPercent} %), chromium ${m.chromiumCpuPercent} %, machine ${m.machineBusyPercent} % busy; ${m.httpConnections} HTTP connections; viewers gone ${m.viewersGoneMs} ms after close`);
}
result.loadavgAtEnd = machineInfo().loadavg;
log(`load average at end ${result.loadavgAtEnd.join(' ')}`);
const file = writeResult('wall-25', result);
log(`results written to ${file}`);
process.exit(0);
