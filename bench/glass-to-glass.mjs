// Live-video benchmark — glass-to-glass latency in a real player: camera capture → picture on a browser's screen.
//
// Paths (--paths, each measured in the same run, sessions interleaved so they share the machine's load):
//   hls       hls.js with `liveSyncDurationCount` (--live-sync) and no lowLatencyMode: whole segments, as grid
//             tiles played until issue 9's wall change (the old baseline)
//   llhls     hls.js with the web wall's LL-HLS tuning (web/src/player/hls-tuning.ts LL_HLS_TUNING: lowLatencyMode,
//             no liveSync count, so hls.js targets PART-HOLD-BACK; maxLiveSyncPlaybackRate 1.1), as steered tiles
//             whose codec MSE cannot play
//   grid      hls.js with the wall's grid-tile tuning (hls-tuning.ts GRID_LL_HLS_TUNING: lowLatencyMode, 1.2 s from
//             the edge), grid tiles' default since "Glass-to-glass 3"; llhls and grid also run the wall's one seek
//             to hls.js's live sync position when the video starts playing (seekToLiveOnPlaying)
//   llhls-noseek  as llhls without the seek (the baseline of the seek)
//   segments  hls.js with the wall's whole-segment tuning (hls-tuning.ts SEGMENT_HLS_TUNING: liveSyncDuration in
//             seconds), as grid tiles play on a wall PC set to `segments`
//   fmp4   the play answer's `ws` (live fMP4 over a WebSocket) with the wall's own MseLivePlayer
//          (web/src/player/mse-live.ts, its default 0.3 s target behind the buffered end), as steered tiles
//
// The gateway runs as a child process (`node bin/sharp-eyes.js serve`), one simulated camera (DeviceFleet,
// 720p H.264 at 25 fps, 1 s GOP, 10 s loop) in a child process of its own, and headless Chromium (Debian's
// build, /usr/bin/chromium, through playwright-core) plays the stream with hls.js on a page of the gateway's
// own origin, exactly like the web wall: POST /api/channels/:id/play, then hls.js on the signed playlist path
// with the settings of the path.
//
// How "glass to glass" is measured, per presented frame, with no OCR and one clock (same machine):
//   - capture: the simulator sends loop frame 0 of its stream at loopEpochMs (from its per-stream stats) and
//     frame i at loopEpochMs + k × loopMs + i × 40 ms; each picture carries i in its frame-index bar
//     (gateway/src/sim/media-source.ts frameIndexBarLayout). captureTimeOfLoopPosition() picks the pass k.
//   - glass: requestVideoFrameCallback in the page gives, for every frame the compositor presents, its
//     expectedDisplayTime; the callback draws that frame to a canvas and reads the bar's boxes.
//   latency = presentation time − capture time. Headless Chromium has no display: "glass" is the
//   compositor's presentation time, which excludes a real monitor's scan-out (~one refresh interval).
// Also recorded, for comparison: hls.js's own `latency` (distance from the live edge of the playlist) and
// Date.now() − hls.playingDate (the playlist's EXT-X-PROGRAM-DATE-TIME). That one is coarse: ffmpeg's HLS muxer
// seeds it once with time() — whole seconds, truncated — when the output opens and adds media time, so it can
// read up to 1 s high, and it knows nothing of what happened before the packager.
//
// Sessions: where a player settles relative to the segment boundaries is fixed when it starts (hls.js does not
// speed up to catch up by default), so one long session is one sample of that offset. The default is 3 viewers
// one after another (each a fresh page, hls.js and MediaSource on the same running stream) × 10 s measured.
//
//   npm run build
//   node bench/glass-to-glass.mjs [--sessions 3] [--seconds 10] [--warmup-seconds 6] [--transport udp]
//        [--audio none|g711a] [--live-sync 2] [--paths llhls,grid,segments,fmp4,hls] [--ports 42300-42319]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import ts from 'typescript';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startMediaGateway, HttpClient } from './lib/live.mjs';
import { startSimProcess } from './lib/sim-process.mjs';
import { round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport, importWebModule, REPO_ROOT } from './lib/paths.mjs';
import { log, writeResult } from './lib/out.mjs';
import { machineBusyPercent, machineCpu } from './lib/proc-tree.mjs';

const USAGE = `usage: node bench/glass-to-glass.mjs [--sessions 3] [--seconds 10] [--warmup-seconds 6] [--transport udp]
       [--audio none|g711a] [--live-sync 2] [--paths llhls,grid,segments,fmp4,hls] [--ports 42300-42319]`;
const opt = options({ sessions: 3, seconds: 10, 'warmup-seconds': 6, transport: 'udp', audio: 'none', 'live-sync': 2, paths: 'llhls,segments,fmp4,hls', ports: '42300-42319' }, USAGE);
oneOf('audio', opt.audio, ['none', 'g711a']);
const PATHS = opt.paths.split(',').filter(Boolean);
for (const p of PATHS) oneOf('paths', p, ['hls', 'llhls', 'llhls-noseek', 'grid', 'segments', 'fmp4']);
oneOf('transport', opt.transport, ['udp', 'tcp-passive', 'tcp-active']);
// Bound: simulator start (a loop encode on a cold cache) + gateway + browser start + warm-up + measuring.
guardProcess(PATHS.length * opt.sessions * (opt.seconds + opt['warmup-seconds'] + 40) + 240);

const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HLS_SCRIPT = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const HLS_VERSION = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('hls.js/package.json'), 'utf8')).version;
// Shared with the browser playback test, so the bench and the test drive the player the same way.
const PAGE_PLAYER = join(REPO_ROOT, 'gateway/test/e2e/hls-page-player.js');
// The wall's MSE player as it is, as a classic script that puts MseLivePlayer on window (as mse-live.test.ts loads it).
const MSE_SCRIPT = (() => {
  const source = readFileSync(join(REPO_ROOT, 'web/src/player/mse-live.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  return `(() => {\n${js.replace(/^export /gm, '')}\nwindow.MseLivePlayer = MseLivePlayer;\n})();`;
})();
// The wall's seek to hls.js's live sync position (hls-tuning.ts seekToLiveOnPlaying), as the LL-HLS tiles run it.
const SEEK_SCRIPT = (() => {
  const source = readFileSync(join(REPO_ROOT, 'web/src/player/hls-tuning.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  return `(() => {\n${js.replace(/^export /gm, '')}\nwindow.seekToLiveOnPlaying = seekToLiveOnPlaying;\n})();`;
})();
/** Paths whose hls.js loads parts: the wall seeks these once to the live sync position when they start. */
const SEEKS_TO_LIVE = new Set(['llhls', 'grid']);
/** hls.js settings per path: the wall's own (web/src/player/hls-tuning.ts), and the old grid-tile baseline. */
const WALL_TUNING = await importWebModule('web/src/player/hls-tuning.ts');
const HLS_CONFIG = {
  hls: { liveSyncDurationCount: opt['live-sync'] },
  llhls: WALL_TUNING.LL_HLS_TUNING,
  'llhls-noseek': WALL_TUNING.LL_HLS_TUNING,
  grid: WALL_TUNING.GRID_LL_HLS_TUNING,
  segments: WALL_TUNING.SEGMENT_HLS_TUNING,
};

const { captureTimeOfLoopPosition, frameIndexBarLayout } = await distImport('sim/index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const machine = machineInfo();
log(`glass to glass: paths ${PATHS.join(', ')} (hls.js ${HLS_VERSION}, hls: liveSyncDurationCount ${opt['live-sync']}) in headless Chromium, H.264 720p25 over ${opt.transport}, audio ${opt.audio}, ${opt.sessions} session(s) × ${opt.seconds} s per path after ${opt['warmup-seconds']} s warm-up each`);
log(`machine: ${machineLine(machine)}; load average at start ${machine.loadavg.join(' ')}`);

const result = { benchmark: 'glass-to-glass', options: opt, machine, hlsJs: HLS_VERSION };
let browser = null;
let client = null;
let sim = null;
let gw = null;
try {
  gw = await startMediaGateway({ ports: opt.ports, maxStreams: 10 });
  client = new HttpClient(gw.httpUrl, gw.token);
  sim = await startSimProcess({
    fleet: {
      server: `127.0.0.1:${gw.sipPort}`,
      serverId: GATEWAY_SIP_ID,
      password: DEVICE_PASSWORD,
      devices: 1,
      keepaliveSec: 60,
      codec: 'h264',
      audio: opt.audio === 'none' ? null : opt.audio,
    },
    profiles: ['main'],
  });
  const loop = sim.loops.main;
  const camera = sim.devices[0].channelIds[0];
  log(`gateway pid ${gw.pid}, simulator pid ${sim.pid}; loop ${JSON.stringify(loop)}`);

  const played = await client.request('POST', `/api/channels/${camera}/play`, { body: { transport: opt.transport }, timeoutMs: 30_000 });
  if (played.status !== 200) throw new Error(`play failed: ${played.status} ${JSON.stringify(played.body)}`);
  const view = played.body;
  const simStream = (await sim.stats({ perStream: true }))?.streams?.find((s) => s.channelId === camera && s.state === 'streaming');
  if (!simStream?.loopEpochMs) throw new Error('the simulator reports no streaming call with a loop epoch');
  const loopEpochMs = simStream.loopEpochMs;
  log(`playing ${view.streamId}: ${view.width}x${view.height} ${view.codec}, API answered in ${round(played.ms, 0)} ms; camera loop epoch ${new Date(loopEpochMs).toISOString()}`);

  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  log(`Chromium ${browser.version()}`);
  const bar = frameIndexBarLayout('main');
  const framesPerLoop = loop.durationMs / (1000 / loop.fps);
  const cpu0 = machineCpu();
  // Interleaved (hls, llhls, fmp4, hls, …) so that every path sees the same phases of the machine's load.
  const byPath = Object.fromEntries(PATHS.map((p) => [p, []]));
  for (let n = 1; n <= opt.sessions; n++) {
    for (const path of PATHS) {
      byPath[path].push(await measureSession(n, path));
      await sleep(500);
    }
  }
  const busy = machineBusyPercent(cpu0, machineCpu());

  /**
   * One viewer: a fresh page (so a fresh hls.js and MediaSource) on the running stream, warm-up, then every
   * presented frame timed for --seconds. Where the player settles relative to the segment boundaries is
   * decided at its start and then kept (hls.js does not speed up to catch up by default), so the spread of
   * latencies across sessions is larger than within one.
   */
  async function measureSession(n, path) {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(`${gw.httpUrl}/`);
    await page.addScriptTag({ content: readFileSync(HLS_SCRIPT, 'utf8') });
    await page.addScriptTag({ content: MSE_SCRIPT });
    await page.addScriptTag({ content: SEEK_SCRIPT });
    await page.addScriptTag({ content: readFileSync(PAGE_PLAYER, 'utf8') });
    const state = () => page.evaluate(() => window.hlsPagePlayer.state());
    const tPlay = performance.now();
    let liveViewer = null;
    if (path === 'fmp4') {
      // Every session its own viewer (the socket is the viewer's heartbeat), like a tile switching to fMP4.
      const again = await client.request('POST', `/api/channels/${camera}/play`, { body: { transport: opt.transport }, timeoutMs: 30_000 });
      if (again.status !== 200 || !again.body.ws) throw new Error(`play for fMP4 failed: ${again.status} ${JSON.stringify(again.body)}`);
      liveViewer = again.body.viewerId;
      await page.evaluate(({ ws }) => window.hlsPagePlayer.startMse(ws, { width: 1280, height: 720 }), { ws: again.body.ws });
    } else {
      await page.evaluate(({ url, config, seek }) => window.hlsPagePlayer.start(url, config, { width: 1280, height: 720 }, { seekToLive: seek }), { url: view.hls, config: HLS_CONFIG[path], seek: SEEKS_TO_LIVE.has(path) });
    }
    await page.waitForFunction(() => {
      const s = window.hlsPagePlayer.state();
      return (s.currentTime > 0 && !s.paused) || s.errors.some((e) => e.fatal);
    }, undefined, { timeout: 30_000, polling: 100 });
    const first = await state();
    if (first.errors.some((e) => e.fatal)) throw new Error(`${path} failed: ${JSON.stringify(first.errors)}\n${consoleLines.join('\n')}`);
    const startMs = performance.now() - tPlay;
    log(`${path} session ${n}: video playing ${round(startMs, 0)} ms after the player was attached; warming up ${opt['warmup-seconds']} s`);
    await sleep(opt['warmup-seconds'] * 1000);

    const hasFrameCallback = await page.evaluate((b) => window.hlsPagePlayer.startFrameSampling(b), bar);
    if (!hasFrameCallback) throw new Error('this Chromium has no requestVideoFrameCallback: cannot time presented frames');
    const atStart = await state();
    const frames = [];
    const perSecond = [];
    const t0 = performance.now();
    while (performance.now() - t0 < opt.seconds * 1000) {
      await sleep(1000);
      const batch = await page.evaluate(() => window.hlsPagePlayer.drainFrameSamples());
      const s = await state();
      const pdtLatencyMs = s.playingDateMs === null ? null : s.nowMs - s.playingDateMs;
      const lat = [];
      for (const f of batch) {
        const captured = captureTimeOfLoopPosition((f.index * 1000) / loop.fps, loopEpochMs, loop.durationMs, f.presentedEpochMs);
        frames.push({ ...f, latencyMs: f.presentedEpochMs - captured });
        lat.push(f.presentedEpochMs - captured);
      }
      const med = summary(lat).p50;
      perSecond.push({ frames: batch.length, medianMs: round(med, 0), hlsLatencyS: s.latency === null ? null : round(s.latency, 2), pdtLatencyMs: pdtLatencyMs === null ? null : round(pdtLatencyMs, 0), dropped: s.droppedFrames });
      log(`  ${path} ${perSecond.length} s: ${batch.length} frames presented, glass-to-glass median ${round(med, 0)} ms; player latency ${s.latency === null ? '-' : round(s.latency, 2)} s; now − playingDate ${pdtLatencyMs === null ? '-' : round(pdtLatencyMs, 0)} ms`);
    }
    const end = await state();
    await page.evaluate(() => window.hlsPagePlayer.destroy());
    await page.context().close();
    if (liveViewer) await client.request('DELETE', `/api/streams/${view.streamId}?viewerId=${liveViewer}`);

    // A misread bar (a frame caught mid-upload, a decode glitch) shows up as a jump in the index that the
    // presentation times do not explain: such frames are counted and left out.
    const frameMs = 1000 / loop.fps;
    const consistent = (a, b) => {
      if (!a || !b) return false;
      const step = (((b.index - a.index) % framesPerLoop) + framesPerLoop) % framesPerLoop;
      return Math.abs(step * frameMs - (b.presentedEpochMs - a.presentedEpochMs)) < 3 * frameMs;
    };
    const timed = frames.filter((f, i) => consistent(frames[i - 1], f) || consistent(f, frames[i + 1]));
    const g2g = summary(timed.map((f) => f.latencyMs));
    const session = {
      path,
      startMs: round(startMs, 0),
      glassToGlassMs: { p50: round(g2g.p50, 0), p95: round(g2g.p95, 0), min: round(g2g.min, 0), max: round(g2g.max, 0) },
      framesTimed: timed.length,
      barMisreads: frames.length - timed.length,
      presentedFps: round(frames.length / opt.seconds, 1),
      droppedFrames: end.droppedFrames - atStart.droppedFrames,
      hlsJsLatencyS: round(summary(perSecond.map((p) => p.hlsLatencyS).filter((v) => v !== null)).p50, 2),
      // EXT-X-PROGRAM-DATE-TIME exists on the HLS paths only.
      nowMinusPlayingDateMs: perSecond.some((p) => p.pdtLatencyMs !== null) ? round(summary(perSecond.map((p) => p.pdtLatencyMs).filter((v) => v !== null)).p50, 0) : null,
      hlsErrors: end.errors,
      perSecond,
      latencies: timed.map((f) => f.latencyMs),
      liveSeeks: end.liveSeeks ?? 0,
    };
    log(`${path} session ${n}: glass to glass median ${session.glassToGlassMs.p50} ms, p95 ${session.glassToGlassMs.p95} ms (${session.framesTimed} frames, ${session.barMisreads} bar misreads, ${session.presentedFps} fps presented, ${session.droppedFrames} dropped); player latency ${session.hlsJsLatencyS} s; ${session.liveSeeks} seek(s) to the live sync position; now − playingDate ${session.nowMinusPlayingDateMs} ms; player errors: ${end.errors.length ? JSON.stringify(end.errors) : 'none'}`);
    return session;
  }

  result.paths = {};
  for (const [path, sessions] of Object.entries(byPath)) {
    const all = summary(sessions.flatMap((s) => s.latencies));
    const r = {
      glassToGlassMs: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, round(v, 0)])),
      sessionMediansMs: sessions.map((s) => s.glassToGlassMs.p50),
      framesTimed: sessions.reduce((a, s) => a + s.framesTimed, 0),
      barMisreads: sessions.reduce((a, s) => a + s.barMisreads, 0),
      droppedFrames: sessions.reduce((a, s) => a + s.droppedFrames, 0),
      sessions: sessions.map(({ latencies, ...rest }) => rest),
    };
    result.paths[path] = r;
    log(`${path}: glass to glass, ${opt.sessions} session(s) × ${opt.seconds} s: median ${r.glassToGlassMs.p50} ms, p95 ${r.glassToGlassMs.p95} ms, min ${r.glassToGlassMs.min} ms, max ${r.glassToGlassMs.max} ms; session medians ${r.sessionMediansMs.join(', ')} ms (${r.framesTimed} frames timed, ${r.barMisreads} bar misreads, ${r.droppedFrames} dropped); player latency per session ${sessions.map((s) => s.hlsJsLatencyS).join(', ')} s`);
  }
  result.machineBusyPercent = round(busy, 0);
  result.loadavgAtEnd = machineInfo().loadavg;
  log(`machine ${result.machineBusyPercent} % busy; load average at end ${result.loadavgAtEnd.join(' ')}`);
  await client.request('DELETE', `/api/streams/${view.streamId}`);
} finally {
  await browser?.close().catch(() => undefined);
  client?.close();
  await sim?.stop().catch(() => undefined);
  await gw?.stop().catch(() => undefined);
  await stopAll();
}
const file = writeResult('glass-to-glass', result);
log(`results written to ${file}`);
process.exit(0);
