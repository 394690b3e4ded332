// Live-video benchmark 3 — concurrent streams: N simulated 2 Mb/s H.264 cameras (720p25 main stream, 1 s GOP)
// played at once through the gateway, over UDP and over TCP (passive), on a ladder of N (default
// 50, 100, 200, 400).
//
// Per rung (transport, N), fresh processes: the gateway as a child (`node bin/sharp-eyes.js serve`), the
// simulator (DeviceFleet) in a child of its own, so the three costs are read apart from /proc:
//   gateway   its Node process AND every process under it (one ffmpeg HLS packager per stream, the ffprobe run
//             once per play); children that exit are counted through the gateway's cutime/cstime
//   simulator its process (PS muxing + RTP sending for every camera); its event-loop delay is reported, since
//             a simulator that falls behind would look like gateway loss or late segments
//   bench     this process: the plays, one playlist poller per stream (GET every 1 s, like a player, which
//             keeps the viewer alive) and the samplers
// N plays go out with --play-concurrency in flight; then --warmup-sec; then a --hold-sec window in which
// CPU (% of ONE core; 200 % = both cores of this box) and RSS are sampled every --sample-sec and these are
// counted:
//   packet loss   Δ packetsLost / (Δ packets + Δ packetsLost) summed over streams from GET /api/streams
//                 (RTP sequence gaps after the reorder window), plus the kernel's drops on the gateway's own UDP
//                 sockets (/proc/net/udp "drops" of the socket inodes in /proc/GW/fd) and simulator packets
//                 sent vs gateway received
//   late segments per stream, segments produced in the window (newest media sequence) vs window / 1 s; and
//                 stalls: a poll that finds no new segment for more than 2 × target duration (+ half a poll
//                 interval, i.e. 3 polls in a row at 1 s) — counted once per stall
// A rung that loses > --max-loss-pct, fails > 10 % of its plays or produces < 90 % of the expected segments
// is "saturated": larger N are not run for that transport (the record says why).
//
// Baseline per N (--baseline): N plain `ffmpeg -re -f h264 -i loop.h264` processes with the gateway's own HLS
// arguments (dist/media/ffmpeg/args.js), reading the simulator's loop (repeated for the whole run) from a file —
// no gateway, no network, no simulator: what one-ffmpeg-per-stream packaging costs by itself.
//
//   npm run build
//   node bench/concurrent-streams.mjs [--counts 50,100,200,400] [--transports udp,tcp-passive] [--hold-sec 60]
//        [--warmup-sec 10] [--sample-sec 2] [--play-concurrency 8] [--ports 43000-43999] [--audio none|g711a]
//        [--download] [--baseline] [--baseline-only] [--max-loss-pct 1] [--profile] [--strace-sec S] [--sim-nice=-10]
//
// --sim-nice: scheduling priority of the simulator process (negative = favoured; needs root). With one
// ffmpeg per stream there are N+2 runnable processes and the kernel shares the CPU between them fairly, so a
// simulator at nice 0 gets ~1/(N+2) of a saturated box and falls behind (it then skips to the next keyframe:
// fewer frames, fewer segments), which is not what real cameras with their own CPUs would do. Favouring it
// keeps the cameras on time, so what breaks is the gateway.
// --all-counts: run every count even after a saturated rung (to report where and how it breaks).
// --profile: the gateway runs with --cpu-prof (V8 profile of its JavaScript, summarised by file and function).
// --strace-sec S: AFTER the window (ptrace slows the traced process), `strace -c` on the gateway's Node
// process (all threads) and on two of its ffmpeg children (in the baseline: two ffmpeg) for S seconds each:
// system calls by kind and rate. (`perf` would say more, but gets no samples in this VM.) Per-process
// read/write call and wake-up rates from /proc (PID/io, context switches) are always recorded for the
// gateway's Node process, its ffmpeg children and the baseline's ffmpeg processes.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll, stopChild, track } from './lib/children.mjs';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startMediaGateway, HttpClient, PlaylistPoller, mapLimit, mediaBase, parsePlaylist } from './lib/live.mjs';
import { startSimProcess } from './lib/sim-process.mjs';
import { parsePrometheus } from './lib/api.mjs';
import { selfCpuSeconds, udpCounters } from './lib/proc.mjs';
import { TreeSampler, descendants, ioAndSwitches, ioRates, machineBusyPercent, machineCpu, readStat, treePss, udpSocketDrops } from './lib/proc-tree.mjs';
import { straceAvailable, straceCounts } from './lib/strace.mjs';
import { median, percentile, round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport, OUT_DIR } from './lib/paths.mjs';
import { log, writeResult } from './lib/out.mjs';
import { formatProfile, summariseProfile } from './lib/cpuprofile.mjs';

const USAGE = `usage: node bench/concurrent-streams.mjs [--counts 50,100,200,400] [--transports udp,tcp-passive] [--hold-sec 60]
       [--warmup-sec 10] [--sample-sec 2] [--play-concurrency 8] [--ports 43000-43999] [--audio none|g711a]
       [--download] [--baseline] [--baseline-only] [--max-loss-pct 1] [--profile] [--strace-sec S] [--sim-nice=-10]
       [--muxer in-process|ffmpeg] [--all-counts] [--llhls-window-sec S] [--sim-packets shared|per-camera]
       [--viewers hls|none] [--gateway-node-flags "--max-semi-space-size=32"]`;
const opt = options(
  {
    counts: '50,100,200,400',
    transports: 'udp,tcp-passive',
    'hold-sec': 60,
    'warmup-sec': 10,
    'sample-sec': 2,
    'play-concurrency': 8,
    ports: '43000-43999',
    audio: 'none',
    download: false,
    baseline: false,
    'baseline-only': false,
    'max-loss-pct': 1,
    profile: false,
    'strace-sec': 0,
    'sim-nice': 0,
    'all-counts': false,
    // LL-HLS window in seconds (media.llhlsWindowSec); 0 = the gateway's default (8 segments).
    'llhls-window-sec': 0,
    // in-process: H.264 muxed to LL-HLS inside the gateway (the default); ffmpeg: media.inProcessMuxer=false.
    muxer: 'in-process',
    // shared: the simulator's cameras send the loop's pre-muxed RTP payloads (sharedMediaPackets, the default);
    // per-camera: every camera muxes and packetises each frame itself (the simulator before, for comparison).
    'sim-packets': 'shared',
    // hls: one playlist poller per stream (keeps the viewer and the LL-HLS window alive); none: no HLS client
    // reads the streams (as wall tiles on live fMP4, or nobody): the gateway keeps them (media.idleSec 3600) and
    // the LL-HLS window goes idle after media.llhlsIdleWindowSec. At the end every stream's playlist is asked
    // once (a late viewer) and its answer timed.
    viewers: 'hls',
    // Extra flags for the gateway's node process, space-separated (e.g. a larger young generation).
    'gateway-node-flags': '',
  },
  USAGE,
);
oneOf('muxer', opt.muxer, ['in-process', 'ffmpeg']);
oneOf('sim-packets', opt['sim-packets'], ['shared', 'per-camera']);
oneOf('viewers', opt.viewers, ['hls', 'none']);
oneOf('audio', opt.audio, ['none', 'g711a']);
const counts = opt.counts.split(',').map(Number);
if (counts.some((n) => !(n > 0))) {
  process.stderr.write(`--counts must be positive numbers\n${USAGE}\n`);
  process.exit(2);
}
const transports = opt['baseline-only'] ? [] : opt.transports.split(',').map((t) => oneOf('transports', t.trim(), ['udp', 'tcp-passive', 'tcp-active']));
const [portMin, portMax] = opt.ports.split('-').map(Number);
if (portMax - portMin + 1 < Math.max(...counts)) {
  process.stderr.write(`--ports ${opt.ports} has fewer ports than the largest count\n`);
  process.exit(2);
}
const SEGMENT_SEC = 1;
const rungBound = (n) => 120 + Math.ceil(n / opt['play-concurrency']) * 20 + opt['warmup-sec'] + opt['hold-sec'] + 90;
const baselineBound = (n) => 60 + opt['warmup-sec'] + opt['hold-sec'] + n * 0.3;
guardProcess(
  counts.reduce((s, n) => s + transports.length * rungBound(n) + (opt.baseline || opt['baseline-only'] ? baselineBound(n) : 0), 0) + 120,
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const machine = machineInfo();
// This process plays the viewers (their browsers would have CPUs of their own): it gets the simulator's priority.
if (opt['sim-nice'] !== 0) setPriority(0, opt['sim-nice']);
const benchDelay = monitorEventLoopDelay({ resolution: 10 });
benchDelay.enable();
log(`concurrent streams: N = ${counts.join(', ')} × ${transports.join(', ') || '(baseline only)'}, H.264 720p25 main stream, GOP 1 s, audio ${opt.audio}; warm-up ${opt['warmup-sec']} s, hold ${opt['hold-sec']} s`);
log(`machine: ${machineLine(machine)}; load average at start ${machine.loadavg.join(' ')}`);

const pct = (x) => round(x, 1);

/** Per-process CPU (s) of a tree's children right now: pid → { comm, cpu }. */
function childCpuMap(rootPid) {
  const m = new Map();
  for (const k of descendants(rootPid)) m.set(k.pid, { comm: k.comm, cpu: k.cpu + k.reapedCpu, user: k.userCpu, sys: k.sysCpu, rssMB: k.rssMB });
  return m;
}

/** User and kernel CPU % (of one core, summed) of the `comm` processes alive at both ends of a window. */
function userSysPercents(before, after, seconds, comm) {
  let user = 0;
  let sys = 0;
  for (const [pid, b] of after) {
    const a = before.get(pid);
    if (!a || b.comm !== comm) continue;
    user += b.user - a.user;
    sys += b.sys - a.sys;
  }
  return { user: round((100 * user) / seconds, 1), sys: round((100 * sys) / seconds, 1) };
}

/** CPU % of one core of each process alive at both ends of a window. */
function perProcessPercents(before, after, seconds, comm) {
  const out = [];
  for (const [pid, b] of after) {
    const a = before.get(pid);
    if (!a || b.comm !== comm) continue;
    out.push((100 * (b.cpu - a.cpu)) / seconds);
  }
  return out;
}

/** Mean per-process rates over the processes of `comm` alive at both ends. */
function meanIoRates(before, after, seconds) {
  const rates = [];
  for (const [pid, a] of before) {
    const r = ioRates(a, after.get(pid), seconds);
    if (r) rates.push(r);
  }
  if (!rates.length) return null;
  const out = { processes: rates.length };
  for (const k of Object.keys(rates[0])) out[k] = round(rates.reduce((s, r) => s + r[k], 0) / rates.length, 1);
  return out;
}

function ioMap(pids) {
  return new Map(pids.map((pid) => [pid, ioAndSwitches(pid)]).filter(([, v]) => v !== null));
}

const useStrace = opt['strace-sec'] > 0 && straceAvailable();
if (opt['strace-sec'] > 0 && !useStrace) log('strace not found: --strace-sec ignored');

/** strace -c of the given processes one after the other (after the measurement window). */
async function straceAll(targets) {
  const out = {};
  for (const [name, pid] of targets) out[name] = await straceCounts(pid, opt['strace-sec']);
  return out;
}

function metricSum(metrics, name) {
  return (metrics.get(name) ?? []).reduce((s, x) => s + x.value, 0);
}

/** Kill (by pid) any ffmpeg/ffprobe still alive that was under the gateway: nothing may outlive a rung. */
function reapOrphans(pids) {
  let killed = 0;
  for (const { pid, comm } of pids) {
    const s = readStat(pid);
    if (s && s.comm === comm && (comm === 'ffmpeg' || comm === 'ffprobe')) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone
      }
    }
  }
  return killed;
}

async function rung(transport, n) {
  const tag = `${transport} × ${n}`;
  const profileDir = opt.profile ? join(OUT_DIR, 'profiles', `concurrent-${transport}-${n}-${Date.now()}`) : null;
  const gw = await startMediaGateway({
    ports: opt.ports,
    maxStreams: Math.max(1000, n),
    cpuProfileDir: profileDir,
    nodeFlags: opt['gateway-node-flags'].split(' ').filter(Boolean),
    env: {
      SE_MEDIA_IN_PROCESS_MUXER: opt.muxer === 'ffmpeg' ? 'false' : 'true',
      SE_MEDIA_LLHLS_WINDOW_SEC: String(opt['llhls-window-sec']),
      ...(opt.viewers === 'none' ? { SE_MEDIA_IDLE_SEC: '3600' } : {}),
    },
  });
  const api = new HttpClient(gw.httpUrl, gw.token, { maxSockets: 16 });
  // One connection per viewer, as separate browsers would have: a shared pool would queue polls in this process.
  const pollClient = new HttpClient(gw.httpUrl, gw.token, { maxSockets: n });
  let sim = null;
  const pollers = [];
  let gwPids = [];
  const r = { transport, count: n, viewers: opt.viewers, gatewayNodeFlags: opt['gateway-node-flags'], loadavgAtStart: machineInfo().loadavg };
  // How streams end during the rung (the event WebSocket): failed (by step and message) or closed (no viewers).
  const endings = { failed: {}, closed: 0 };
  const ws = await gw.api.events((msg) => {
    if (msg.type === 'stream-failed') {
      const key = `${msg.data.step}: ${String(msg.data.message).slice(0, 80)}`;
      endings.failed[key] = (endings.failed[key] ?? 0) + 1;
    } else if (msg.type === 'stream-status' && msg.data.state === 'closed') endings.closed++;
  });
  try {
    sim = await startSimProcess({
      fleet: {
        server: `127.0.0.1:${gw.sipPort}`,
        serverId: GATEWAY_SIP_ID,
        password: DEVICE_PASSWORD,
        devices: n,
        keepaliveSec: 60,
        codec: 'h264',
        audio: opt.audio === 'none' ? null : opt.audio,
        sharedMediaPackets: opt['sim-packets'] === 'shared',
      },
      profiles: ['main'],
      registerTimeoutMs: 120_000,
    });
    r.simLoop = sim.loops.main;
    r.simPackets = opt['sim-packets'];
    if (opt['sim-nice'] !== 0) {
      setPriority(sim.pid, opt['sim-nice']);
      r.simNice = getPriority(sim.pid);
    }
    log(`${tag}: gateway pid ${gw.pid}, simulator pid ${sim.pid}, ${sim.devices.length} cameras registered in ${round(sim.registeredAfterMs, 0)} ms; loop ${sim.loops.main.kbps} kb/s`);

    // ---- plays (ramp)
    const gwSampler = new TreeSampler(gw.pid, opt['sample-sec'] * 1000).start();
    const simSampler = new TreeSampler(sim.pid, opt['sample-sec'] * 1000).start();
    // The gateway's memory before any stream: per-stream memory is also reported over this, not only total / N.
    const idleRssMB = gwSampler.readings[0]?.rootRssMB ?? null;
    const idlePssMB = treePss(gw.pid).rootPssMB ?? null;
    const rampStart = performance.now();
    const rampCpu = machineCpu();
    let started = 0;
    const plays = await mapLimit(sim.devices, opt['play-concurrency'], async (d) => {
      const t0 = performance.now();
      try {
        const res = await api.request('POST', `/api/channels/${d.channelIds[0]}/play`, { body: { transport, stream: 'main' }, timeoutMs: 60_000 });
        const ms = performance.now() - t0;
        if (res.status !== 200) return { ok: false, ms, status: res.status, step: res.body?.step, message: res.body?.message };
        if (opt.viewers === 'hls') {
          const poller = new PlaylistPoller(pollClient, res.body.hls, { intervalMs: 1000, downloadSegments: opt.download }).start();
          poller.streamId = res.body.streamId;
          pollers.push(poller);
        }
        if (++started % 50 === 0) log(`  ${tag}: ${started} playing after ${round((performance.now() - rampStart) / 1000, 0)} s`);
        return { ok: true, ms, streamId: res.body.streamId, hls: res.body.hls, apiTtffMs: res.body.timeToFirstFrameMs };
      } catch (err) {
        return { ok: false, ms: performance.now() - t0, message: err.message };
      }
    });
    const ok = plays.filter((p) => p.ok);
    const failed = plays.filter((p) => !p.ok);
    r.ramp = {
      seconds: round((performance.now() - rampStart) / 1000, 1),
      ok: ok.length,
      failed: failed.length,
      failures: Object.entries(failed.reduce((m, f) => ({ ...m, [`${f.status ?? 'error'} ${f.step ?? ''}: ${(f.message ?? '').slice(0, 120)}`]: (m[`${f.status ?? 'error'} ${f.step ?? ''}: ${(f.message ?? '').slice(0, 120)}`] ?? 0) + 1 }), {})).map(([k, v]) => `${v} × ${k}`),
      playMs: Object.fromEntries(Object.entries(summary(ok.map((p) => p.ms))).map(([k, v]) => [k, round(v, 0)])),
      machineBusyPercent: round(machineBusyPercent(rampCpu, machineCpu()), 0),
    };
    log(`  ${tag}: ramp ${r.ramp.seconds} s, ${ok.length} playing, ${failed.length} failed${failed.length ? ` (${r.ramp.failures.slice(0, 3).join('; ')})` : ''}; play time median ${r.ramp.playMs.p50} ms, p95 ${r.ramp.playMs.p95} ms`);

    await sleep(opt['warmup-sec'] * 1000);

    // ---- hold window
    const streams0 = await api.request('GET', '/api/streams');
    const metrics0 = parsePrometheus((await api.request('GET', '/metrics')).body.toString('utf8'));
    const sim0 = await sim.stats({ resetDelay: true });
    const udp0 = udpCounters();
    const gwUdp0 = udpSocketDrops(gw.pid);
    const tMap0a = performance.now();
    const cpuMap0 = childCpuMap(gw.pid);
    const tMap0 = (tMap0a + performance.now()) / 2;
    const ffmpegPids = [...cpuMap0].filter(([, v]) => v.comm === 'ffmpeg').map(([pid]) => pid);
    const io0 = { node: ioMap([gw.pid]), ffmpeg: ioMap(ffmpegPids) };
    const gwIdx0 = gwSampler.sample() ? gwSampler.readings.length - 1 : 0;
    const simIdx0 = simSampler.sample() ? simSampler.readings.length - 1 : 0;
    const machine0 = machineCpu();
    const bench0 = selfCpuSeconds();
    benchDelay.reset();
    const t0 = performance.now();
    for (const p of pollers) p.markWindow();
    const holdEnd = t0 + opt['hold-sec'] * 1000;
    while (holdEnd - performance.now() > 1_000) {
      await sleep(Math.min(15_000, holdEnd - performance.now()));
      const g = gwSampler.average(Math.max(0, gwSampler.readings.length - 1 - Math.round(15 / opt['sample-sec'])), gwSampler.readings.length - 1);
      const s = simSampler.average(Math.max(0, simSampler.readings.length - 1 - Math.round(15 / opt['sample-sec'])), simSampler.readings.length - 1);
      if (g && s) log(`  ${tag}: +${round((performance.now() - t0) / 1000, 0)} s gateway ${pct(g.total)} % (node ${pct(g.root)} %, ffmpeg ${pct(g.children)} %), simulator ${pct(s.total)} %, ${gwSampler.last.children} children`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const gwIdx1 = gwSampler.sample() ? gwSampler.readings.length - 1 : gwIdx0;
    const simIdx1 = simSampler.sample() ? simSampler.readings.length - 1 : simIdx0;
    const tMap1a = performance.now();
    const cpuMap1 = childCpuMap(gw.pid);
    // Reading /proc for hundreds of processes takes a while on a loaded box: per-process rates use the midpoints.
    const mapSeconds = ((tMap1a + performance.now()) / 2 - tMap0) / 1000;
    const io1 = { node: ioMap([gw.pid]), ffmpeg: ioMap(ffmpegPids) };
    const bench1 = selfCpuSeconds();
    const machineBusy = machineBusyPercent(machine0, machineCpu());
    const udp1 = udpCounters();
    const gwUdp1 = udpSocketDrops(gw.pid);
    const sim1 = await sim.stats({});
    const metrics1 = parsePrometheus((await api.request('GET', '/metrics')).body.toString('utf8'));
    const streams1 = await api.request('GET', '/api/streams');
    const pss = treePss(gw.pid);
    gwPids = gwSampler.last?.pids ?? [];
    r.streamEndings = endings;
    r.gatewayWarnings = gw.warnings();
    // The reasons the gateway logged for failed streams (warn level), newest last.
    r.gatewayWarningSample = [...new Set((gw.logTail().match(/"msg":"[^"]{0,200}"/g) ?? []).map((m) => m.slice(7, -1)))].slice(-8);

    // ---- figures
    const g = gwSampler.average(gwIdx0, gwIdx1);
    const s = simSampler.average(simIdx0, simIdx1);
    const live = ok.length;
    const before = new Map((streams0.body.items ?? []).map((x) => [x.streamId, x]));
    let dPackets = 0;
    let dLost = 0;
    let dReordered = 0;
    const kbps = [];
    const fps = [];
    const framesPerSec = [];
    const lossy = [];
    for (const x of streams1.body.items ?? []) {
      const b = before.get(x.streamId);
      if (!b) continue;
      dPackets += x.packets - b.packets;
      dLost += x.packetsLost - b.packetsLost;
      dReordered += x.reordered - b.reordered;
      kbps.push(x.bitrateKbps);
      fps.push(x.fps);
      framesPerSec.push((x.frames - b.frames) / seconds);
      if (x.packetsLost > b.packetsLost) lossy.push(x.streamId);
    }
    const simSent = sim1.media.packets - sim0.media.packets;
    // Segment counts over the streams still running at the end (a stream that died is counted as such).
    const aliveIds = new Set((streams1.body.items ?? []).map((x) => x.streamId));
    const win = pollers.filter((p) => aliveIds.has(p.streamId)).map((p) => p.window());
    const produced = win.map((w) => w.segmentsProduced).filter((v) => v !== null);
    const expectedPerStream = seconds / SEGMENT_SEC;
    const stalls = win.reduce((a, w) => a + w.stalls, 0);
    const pollMs = pollers.flatMap((p) => p.pollMs.slice(-Math.round(opt['hold-sec'])));
    const ffmpegPct = perProcessPercents(cpuMap0, cpuMap1, mapSeconds, 'ffmpeg');
    const ffmpegRss = [...cpuMap1.values()].filter((x) => x.comm === 'ffmpeg').map((x) => x.rssMB);
    const lagP99 = metricSum(metrics1, 'nodejs_eventloop_lag_p99_seconds');
    const lagMax = metricSum(metrics1, 'nodejs_eventloop_lag_max_seconds');
    r.window = {
      seconds: round(seconds, 1),
      playing: live,
      streamsAtStart: streams0.body.total,
      streamsAtEnd: streams1.body.total,
      statesAtEnd: (streams1.body.items ?? []).reduce((m, x) => ({ ...m, [x.state]: (m[x.state] ?? 0) + 1 }), {}),
      streamFailuresDuringWindow: metricSum(metrics1, 'se_stream_failures_total') - metricSum(metrics0, 'se_stream_failures_total'),
      streamFailuresSinceStartByStep: Object.fromEntries((metrics1.get('se_stream_failures_total') ?? []).filter((x) => x.value > 0).map((x) => [x.labels.step, x.value])),
      streamFailuresByStep: Object.fromEntries(
        (metrics1.get('se_stream_failures_total') ?? [])
          .map((x) => [x.labels.step, x.value - ((metrics0.get('se_stream_failures_total') ?? []).find((y) => y.labels.step === x.labels.step)?.value ?? 0)])
          .filter(([, v]) => v > 0),
      ),
      gateway: {
        cpuPercent: { total: pct(g.total), node: pct(g.root), nodeUser: pct(g.rootUser), nodeSys: pct(g.rootSys), ffmpegAndProbes: pct(g.children) },
        cpuPercentPerStream: { total: round(g.total / live, 2), node: round(g.root / live, 3), ffmpeg: round(g.children / live, 3) },
        peakIntervalCpuPercent: pct(Math.max(...gwSampler.totals().slice(gwIdx0, gwIdx1))),
        ffmpegProcesses: ffmpegPct.length,
        ffmpegUserSysPercent: userSysPercents(cpuMap0, cpuMap1, mapSeconds, 'ffmpeg'),
        ffmpegCpuPercentEach: { p50: round(median(ffmpegPct), 2), p95: round(percentile(ffmpegPct, 95), 2), max: round(Math.max(...ffmpegPct), 2) },
        nodeRssMB: round(gwSampler.readings[gwIdx1].rootRssMB, 0),
        nodeRssMaxMB: round(gwSampler.maxRootRssMB, 0),
        ffmpegRssSumMB: round(ffmpegRss.reduce((a, b) => a + b, 0), 0),
        ffmpegRssEachMB: round(median(ffmpegRss), 1),
        pssMB: {
          node: round(pss.rootPssMB, 0),
          children: round(pss.childrenPssMB, 0),
          total: round((pss.rootPssMB ?? 0) + pss.childrenPssMB, 0),
          perStream: round(((pss.rootPssMB ?? 0) + pss.childrenPssMB) / live, 2),
          idleNode: idlePssMB === null ? null : round(idlePssMB, 0),
          perStreamOverIdle: idlePssMB === null ? null : round(((pss.rootPssMB ?? 0) + pss.childrenPssMB - idlePssMB) / live, 2),
        },
        idleRssMB: idleRssMB === null ? null : round(idleRssMB, 0),
        rssPerStreamMB: round(gwSampler.readings[gwIdx1].rootRssMB / live, 2),
        rssPerStreamOverIdleMB: idleRssMB === null ? null : round((gwSampler.readings[gwIdx1].rootRssMB - idleRssMB) / live, 2),
        eventLoopLagMs: { p99: round(lagP99 * 1000, 1), max: round(lagMax * 1000, 1) },
        // What of the RSS is live JavaScript data (heap) and buffers (external: the media bytes held), at the end.
        v8MB: {
          heapUsed: round(metricSum(metrics1, 'nodejs_heap_size_used_bytes') / 2 ** 20, 0),
          heapTotal: round(metricSum(metrics1, 'nodejs_heap_size_total_bytes') / 2 ** 20, 0),
          external: round(metricSum(metrics1, 'nodejs_external_memory_bytes') / 2 ** 20, 0),
        },
        nodeIo: meanIoRates(io0.node, io1.node, seconds),
        ffmpegIoEach: meanIoRates(io0.ffmpeg, io1.ffmpeg, seconds),
        byCommand: Object.fromEntries(Object.entries(g.byComm).map(([k, v]) => [k, { processes: v.processes, cpuPercent: pct(v.cpuPercent), rssMB: round(v.rssMB, 0) }])),
      },
      loss: {
        packetsReceived: dPackets,
        packetsLost: dLost,
        lossPercent: round((100 * dLost) / Math.max(1, dPackets + dLost), 4),
        streamsWithLoss: lossy.length,
        reordered: dReordered,
        simulatorPacketsSent: simSent,
        sentMinusReceived: simSent - dPackets,
        // What never reached RTP parsing (kernel drops, a sender cut off): the gap count above misses runs of more
        // than 3,000 sequence numbers, which the reorder buffer takes for a sender restart (RFC 3550 A.1).
        notReceivedPercent: round((100 * Math.max(0, simSent - dPackets)) / Math.max(1, simSent), 3),
        simulatorDroppedPackets: sim1.media.droppedPackets - sim0.media.droppedPackets,
        gatewayUdpSocketDrops: gwUdp1 && gwUdp0 ? gwUdp1.drops - gwUdp0.drops : null,
        gatewayUdpSockets: gwUdp1?.sockets ?? null,
        machineUdpRcvbufErrors: udp1.RcvbufErrors - udp0.RcvbufErrors,
      },
      segments: {
        expectedPerStream: round(expectedPerStream, 1),
        producedPerStream: { p50: median(produced), min: Math.min(...produced), p5: percentile(produced, 5) },
        producedFraction: round(produced.reduce((a, b) => a + b, 0) / Math.max(1, produced.length * Math.floor(expectedPerStream)), 3),
        // Media seconds (EXTINF) that appeared per wall second: < 1 with segments of normal length means media
        // arrived late (sender or gateway behind); segments longer than the GOP mean a segmenting problem.
        mediaSecondsPerWallSecond: round(median(win.map((w) => w.mediaSecondsProduced).filter((v) => v !== null)) / seconds, 3),
        segmentDurationSec: (() => {
          const d = win.flatMap((w) => w.segmentDurationsSec);
          return { p50: round(median(d), 3), p95: round(percentile(d, 95), 3), max: round(Math.max(...d), 3) };
        })(),
        stalls,
        streamsWithStalls: win.filter((w) => w.stalls > 0).length,
        stallLengthsMs: summary(win.flatMap((w) => w.stallLengthsMs)),
        pollErrors: win.reduce((a, w) => a + w.errors, 0),
        skippedPolls: pollers.reduce((a, p) => a + p.skippedPolls, 0),
        playlistPollMs: { p50: round(median(pollMs), 1), p99: round(percentile(pollMs, 99), 1) },
        segmentsDownloaded: opt.download ? pollers.reduce((a, p) => a + p.segmentsFetched, 0) : null,
      },
      stream: {
        bitrateKbpsMedian: median(kbps),
        fpsMedian: median(fps),
        // Video frames the gateway's stream core took in per stream and second over the window (all viewer modes).
        framesPerSecondInWindow: { p50: round(median(framesPerSec), 2), p5: round(percentile(framesPerSec, 5), 2) },
        simulatorLoopKbps: sim.loops.main.kbps,
        // Media bytes each stream holds at the end (GOP cache + LL-HLS window), from GET /api/streams.
        heldMB: (() => {
          const held = (streams1.body.items ?? []).map((x) => x.heldBytes).filter((v) => typeof v === 'number');
          return held.length ? { p50: round(median(held) / 2 ** 20, 2), max: round(Math.max(...held) / 2 ** 20, 2), sum: round(held.reduce((a, b) => a + b, 0) / 2 ** 20, 0) } : null;
        })(),
      },
      simulator: {
        cpuPercent: pct(s.total),
        cpuPercentPerStream: round(s.total / n, 3),
        rssMB: round(simSampler.readings[simIdx1].rootRssMB, 0),
        eventLoopDelayMs: { p99: round(sim1.loopDelayMs.p99, 1), max: round(sim1.loopDelayMs.max, 1) },
        sendMbps: round(((sim1.media.bytes - sim0.media.bytes) * 8) / seconds / 1e6, 1),
        videoFramesPerStreamSecond: round((sim1.media.videoFrames - sim0.media.videoFrames) / n / seconds, 2),
        streaming: sim1.media.activeStreams,
      },
      benchCpuPercent: pct((100 * (bench1 - bench0)) / seconds),
      benchEventLoopDelayMs: { p99: round(benchDelay.percentile(99) / 1e6, 1), max: round(benchDelay.max / 1e6, 1) },
      machineBusyPercentOfAllCores: round(machineBusy, 0),
      loadavgAtEnd: machineInfo().loadavg,
    };
    if (opt.viewers === 'none') {
      // A late viewer per stream: its first playlist (no _HLS_ directives) must come at once and list a segment
      // whose bytes are there, although no client read the stream for the whole window.
      const late = await mapLimit(ok, 16, async (p) => {
        const res = await pollClient.request('GET', p.hls, { auth: false, timeoutMs: 10_000 }).catch(() => null);
        if (!res || res.status !== 200) return { ok: false, ms: res?.ms ?? null };
        const pl = parsePlaylist(res.body.toString('utf8'));
        const newest = pl.segments.at(-1);
        let segOk = false;
        if (newest) {
          const seg = await pollClient.request('GET', mediaBase(p.hls) + newest.uri, { auth: false, timeoutMs: 10_000 }).catch(() => null);
          segOk = seg?.status === 200 && seg.body.length > 0;
        }
        return { ok: pl.segments.length > 0 && segOk, ms: res.ms, segments: pl.segments.length };
      });
      const ms = late.map((x) => x.ms).filter((v) => v !== null);
      r.window.lateViewer = {
        playlists: late.length,
        playableAtOnce: late.filter((x) => x.ok).length,
        playlistMs: { p50: round(median(ms), 1), p99: round(percentile(ms, 99), 1), max: round(Math.max(...ms), 1) },
        segmentsListed: { p50: median(late.map((x) => x.segments ?? 0)) },
      };
      log(`  ${tag}: late viewers: ${r.window.lateViewer.playableAtOnce} of ${late.length} playlists answered with a segment that downloads; playlist ${r.window.lateViewer.playlistMs.p50} ms p50, ${r.window.lateViewer.playlistMs.max} ms max; ${r.window.lateViewer.segmentsListed.p50} segments listed`);
    }
    const w = r.window;
    const why = [];
    if (failed.length > 0.1 * n) why.push(`${failed.length} of ${n} plays failed`);
    if (w.loss.lossPercent > opt['max-loss-pct']) why.push(`packet loss ${w.loss.lossPercent} %`);
    // TCP cannot lose packets; UDP datagrams the kernel dropped show here even when no sequence gap was counted.
    if (transport === 'udp' && w.loss.notReceivedPercent > opt['max-loss-pct']) why.push(`${w.loss.notReceivedPercent} % of the sent packets not received`);
    if (opt.viewers === 'hls' && w.segments.producedFraction < 0.9) why.push(`only ${round(100 * w.segments.producedFraction, 0)} % of expected segments`);
    if (w.streamsAtEnd < live) why.push(`${live - w.streamsAtEnd} streams died during the window`);
    r.saturated = why.length > 0;
    r.saturation = why;
    log(
      `  ${tag}: gateway ${w.gateway.cpuPercent.total} % CPU (node ${w.gateway.cpuPercent.node} %, ffmpeg ${w.gateway.cpuPercent.ffmpegAndProbes} %; ${w.gateway.cpuPercentPerStream.total} %/stream), ` +
        `RSS node ${w.gateway.nodeRssMB} MB + ffmpeg ${w.gateway.ffmpegRssSumMB} MB (PSS total ${w.gateway.pssMB.total} MB, ${w.gateway.pssMB.perStream} MB/stream); ` +
        `loss ${w.loss.lossPercent} % (${w.loss.packetsLost} of ${w.loss.packetsReceived + w.loss.packetsLost}; gateway UDP socket drops ${w.loss.gatewayUdpSocketDrops}, machine-wide RcvbufErrors ${w.loss.machineUdpRcvbufErrors}); ` +
        `segments ${round(100 * w.segments.producedFraction, 1)} % of expected (media ${w.segments.mediaSecondsPerWallSecond} s per s, EXTINF p50 ${w.segments.segmentDurationSec.p50} s), ${w.segments.stalls} stalls in ${w.segments.streamsWithStalls} streams; ` +
        `simulator ${w.simulator.cpuPercent} % CPU (loop delay p99 ${w.simulator.eventLoopDelayMs.p99} ms, ${w.simulator.videoFramesPerStreamSecond} fps/stream); bench ${w.benchCpuPercent} %; machine ${w.machineBusyPercentOfAllCores} % busy` +
        (r.saturated ? `; SATURATED: ${why.join(', ')}` : ''),
    );
    gwSampler.stop();
    simSampler.stop();
    if (useStrace) {
      r.strace = await straceAll([['gatewayNode', gw.pid], ['ffmpegA', ffmpegPids[0]], ['ffmpegB', ffmpegPids[Math.floor(ffmpegPids.length / 2)]]].filter(([, pid]) => pid));
      log(`  ${tag}: strace ${opt['strace-sec']} s: ${Object.entries(r.strace).map(([k, v]) => `${k} ${v.callsPerSec ?? '?'} calls/s (${(v.rows ?? []).slice(0, 4).map((x) => `${x.syscall} ${x.callsPerSec}/s`).join(', ')})`).join('; ')}`);
    }
  } finally {
    ws.close();
    for (const p of pollers) p.stop();
    api.close();
    pollClient.close();
    if (!gwPids.length) gwPids = descendants(gw.pid).map((k) => ({ pid: k.pid, comm: k.comm }));
    if (sim) await sim.stop();
    await gw.stop();
    const killed = reapOrphans(gwPids);
    if (killed) log(`  ${tag}: killed ${killed} ffmpeg/ffprobe left behind by the gateway`);
    r.orphansKilled = killed;
    if (profileDir) {
      for (const f of gw.cpuProfiles()) {
        const sum = summariseProfile(f, 25);
        r.profile = { file: f, categories: sum.categories.slice(0, 12), top: sum.top };
        log(formatProfile(sum));
      }
    }
  }
  return r;
}

/** N ffmpeg processes, each packaging the loop file to HLS with the gateway's arguments, read at real time. */
async function baselineRung(n, loopFile, fps) {
  const { buildHlsPackagerArgs } = await distImport('media/ffmpeg/args.js');
  const root = mkdtempSync(join(tmpdir(), 'se-bench-hls-baseline-'));
  const procs = [];
  const r = { count: n, loadavgAtStart: machineInfo().loadavg };
  const spawnStart = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      const dir = join(root, `s${i}`);
      mkdirSync(dir);
      const args = buildHlsPackagerArgs({
        video: 'h264',
        transcodeH265ToH264: false,
        segmentSeconds: SEGMENT_SEC,
        listSize: 6,
        frameRate: fps,
        playlistPath: join(dir, 'index.m3u8'),
        segmentPattern: join(dir, 'seg-%d.m4s'),
        initFileName: 'init.mp4',
      });
      // Same output options; the input is the loop file read in real time (-re) through the same raw H.264
      // demuxer as the gateway's pipe. (-stream_loop cannot rewind a raw H.264 input: "Operation not
      // permitted"; the file therefore holds the loop repeated for the whole run.)
      const at = args.indexOf('pipe:0');
      args.splice(at - 1, 2, '-re', '-i', loopFile);
      const proc = { dir, child: track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }), 'ffmpeg-baseline'), stderr: '', exitedAfterMs: null };
      const spawnedAt = performance.now();
      proc.child.stderr.on('data', (c) => (proc.stderr = (proc.stderr + c.toString()).slice(-400)));
      proc.child.once('exit', () => (proc.exitedAfterMs = performance.now() - spawnedAt));
      procs.push(proc);
      if (i % 20 === 19) await sleep(100);
    }
    r.spawnSeconds = round((performance.now() - spawnStart) / 1000, 1);
    await sleep(opt['warmup-sec'] * 1000);
    const newest = () =>
      procs.map((p) => {
        try {
          const pl = parsePlaylist(readFileSync(join(p.dir, 'index.m3u8'), 'utf8'));
          return pl.mediaSequence + pl.segments.length - 1;
        } catch {
          return null;
        }
      });
    const seg0 = newest();
    const tMap0a = performance.now();
    const cpu0 = childCpuMap(process.pid);
    const tMap0 = (tMap0a + performance.now()) / 2;
    const basePids = procs.map((p) => p.child.pid);
    const io0 = ioMap(basePids);

    const m0 = machineCpu();
    await sleep(opt['hold-sec'] * 1000);
    const tMap1a = performance.now();
    const cpu1 = childCpuMap(process.pid);
    const seconds = ((tMap1a + performance.now()) / 2 - tMap0) / 1000;
    const io1 = ioMap(basePids);
    const m1 = machineCpu();
    const seg1 = newest();
    const each = perProcessPercents(cpu0, cpu1, seconds, 'ffmpeg');
    const rss = [...cpu1.values()].filter((x) => x.comm === 'ffmpeg').map((x) => x.rssMB);
    let pssSum = 0;
    for (const p of procs) {
      try {
        const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p.child.pid}/smaps_rollup`, 'utf8'));
        if (m) pssSum += Number(m[1]) / 1024;
      } catch {
        // gone
      }
    }
    const produced = seg1.map((v, i) => (v !== null && seg0[i] !== null ? v - seg0[i] : null)).filter((v) => v !== null);
    r.window = {
      seconds: round(seconds, 1),
      running: procs.filter((p) => p.child.exitCode === null).length,
      cpuPercentTotal: pct(each.reduce((a, b) => a + b, 0)),
      cpuPercentEach: { p50: round(median(each), 2), p95: round(percentile(each, 95), 2) },
      userSysPercent: userSysPercents(cpu0, cpu1, seconds, 'ffmpeg'),
      rssSumMB: round(rss.reduce((a, b) => a + b, 0), 0),
      rssEachMB: round(median(rss), 1),
      pssSumMB: round(pssSum, 0),
      pssPerStreamMB: round(pssSum / n, 1),
      segmentsProducedFraction: round(produced.reduce((a, b) => a + b, 0) / Math.max(1, produced.length * Math.floor(seconds / SEGMENT_SEC)), 3),
      machineBusyPercentOfAllCores: round(machineBusyPercent(m0, m1), 0),
      ffmpegIoEach: meanIoRates(io0, io1, seconds),
    };
    const exited = procs.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (exited.length) {
      r.window.exited = exited.length;
      r.window.exitSample = exited.slice(0, 3).map((p) => ({ code: p.child.exitCode, signal: p.child.signalCode, afterMs: round(p.exitedAfterMs, 0), stderr: p.stderr.slice(-300) }));
      log(`  baseline × ${n}: ${exited.length} ffmpeg exited early, e.g. ${JSON.stringify(r.window.exitSample[0])}`);
    }
    if (useStrace) r.strace = await straceAll([['ffmpegA', basePids[0]], ['ffmpegB', basePids[Math.floor(basePids.length / 2)]]]);
    log(`baseline ffmpeg × ${n}: ${r.window.cpuPercentTotal} % CPU (${r.window.cpuPercentEach.p50} % each), RSS ${r.window.rssSumMB} MB (PSS ${r.window.pssSumMB} MB, ${r.window.pssPerStreamMB} MB/stream), segments ${round(100 * r.window.segmentsProducedFraction, 1)} % of expected, machine ${r.window.machineBusyPercentOfAllCores} % busy`);
  } finally {
    await Promise.all(procs.map((p) => stopChild(p.child, 3_000)));
    rmSync(root, { recursive: true, force: true });
  }
  return r;
}

const result = { benchmark: 'concurrent-streams', options: opt, machine, rungs: [], baseline: [] };
try {
  for (const transport of transports) {
    for (const n of counts) {
      const r = await rung(transport, n);
      result.rungs.push(r);
      if (r.saturated && !opt['all-counts']) {
        log(`${transport}: saturated at ${n} streams (${r.saturation.join(', ')}); larger counts not run`);
        break;
      }
      await sleep(5_000);
    }
  }
  if (opt.baseline || opt['baseline-only']) {
    const { MediaLibrary } = await distImport('sim/index.js');
    const loop = await MediaLibrary.shared({}).videoLoop('h264', 'main', null);
    const dir = mkdtempSync(join(tmpdir(), 'se-bench-loop-'));
    const loopFile = join(dir, 'loop.h264');
    const once = Buffer.concat(loop.frames.map((f) => f.data));
    // Long enough for the slowest start: spawning hundreds of processes on a loaded box takes tens of seconds,
    // and the first ones must not reach the end of the file before the window closes.
    const repeats = Math.ceil(((opt['warmup-sec'] + opt['hold-sec'] + 60 + Math.max(...counts) * 0.25) * 1000) / loop.durationMs);
    writeFileSync(loopFile, Buffer.concat(Array.from({ length: repeats }, () => once)));
    try {
      for (const n of counts) {
        result.baseline.push(await baselineRung(n, loopFile, loop.fps));
        await sleep(3_000);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  await stopAll();
}
const file = writeResult('concurrent-streams', result);
log(`results written to ${file}`);
process.exit(0);
