// Devices 3 — RTSP sources (issue 10, benchmark 3): time to first frame, and N concurrent RTSP streams.
//
// Peer: the simulator's RTSP server (gateway/src/sim/onvif/rtsp-server.ts) in its own process
// (lib/rtsp-server-worker.mjs), serving the demo's 720p25 H.264 loop (2 Mb/s, a keyframe every second = 1 s GOP)
// on one path per camera, with Digest auth. Each camera is added to the gateway as an RTSP device
// (POST /api/devices { protocol: "rtsp", url, transport }).
//
// 1. Time to first frame, --ttff-runs sequential plays per mode, each a fresh stream on a camera not playing:
//    POST /api/channels/:id/play → 200 (the API answers once the stream is playable) = apiMs, then the playlist,
//    init and newest segment fetched as a player would (playableMs). DELETE /api/streams/:id stops it.
//    Modes: "keyframe-first" (every RTSP session starts with a keyframe: the best case) and "free-running" (the
//    loop runs on the wall clock as a real camera's encoder does, so a session joins mid-GOP and the gateway
//    waits for the next keyframe: the issue's "≤ 1 GOP + 0.3 s" case).
// 2. Concurrent streams: --streams N plays at once (over --transport tcp|udp), --warmup-sec, then a --hold-sec
//    window with a player-like playlist poll per stream: gateway CPU (% of one core, its process and children),
//    RSS, stalls, frames and RTP loss from GET /api/streams, each stream's frame rate at the gateway (frames in
//    the window / its length), and the RTSP server's CPU, event-loop delay and frames sent / skipped (it skips
//    a frame rather than queue it when a session's TCP send buffer holds more than 4 MB).
//
//   npm run build
//   node bench/rtsp-streams.mjs [--streams 200] [--transport tcp] [--ttff-runs 10] [--warmup-sec 10] [--hold-sec 30]
import { loadavg } from 'node:os';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { ADMIN_PASSWORD } from './lib/gateway.mjs';
import { HttpClient, PlaylistPoller, checkPlayable, mapLimit, startMediaGateway } from './lib/live.mjs';
import { ProcessSampler, udpCounters } from './lib/proc.mjs';
import { startRtspServerProcess } from './lib/rtsp-server-process.mjs';
import { median, percentile, round } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/rtsp-streams.mjs [--streams N] [--transport tcp|udp] [--ttff-runs R] [--warmup-sec W] [--hold-sec H]';
const opt = options({ streams: 200, transport: 'tcp', 'ttff-runs': 10, 'warmup-sec': 10, 'hold-sec': 30 }, USAGE);
oneOf('transport', opt.transport, ['tcp', 'udp']);
guardProcess(900);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CAMERA_USER = 'admin';
const CAMERA_PASSWORD = 'bench-rtsp-pass';

// The loop's shape, read once from the first server (the media cache is shared by all of them).
const loop = { fps: 25, gop: 25 };
let gopMs = 1000;

/** An RTSP server process with `n` camera paths; `freeRunning` as in SimRtspServer. */
async function rtspServer(n, freeRunning) {
  const server = await startRtspServerProcess({ cameras: n, freeRunning, username: CAMERA_USER, password: CAMERA_PASSWORD });
  loop.fps = server.fps;
  loop.gop = server.gop;
  gopMs = (1000 * loop.gop) / loop.fps;
  return server;
}

/** Adds one RTSP device per camera; → channel IDs in camera order. */
async function addCameras(client, server, n, transport) {
  return mapLimit(Array.from({ length: n }, (_, i) => i + 1), 8, async (i) => {
    const res = await client.request('POST', '/api/devices', {
      body: { protocol: 'rtsp', url: `rtsp://127.0.0.1:${server.port}/cam${i}/main`, username: CAMERA_USER, password: CAMERA_PASSWORD, transport, name: `RTSP bench ${i}` },
    });
    if (res.status !== 201) throw new Error(`POST /api/devices → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    const channels = await client.request('GET', `/api/devices/${res.body.id}/channels`);
    const id = channels.body?.items?.[0]?.id;
    if (!id) throw new Error(`device ${res.body.id} has no channel: ${JSON.stringify(channels.body).slice(0, 200)}`);
    return id;
  });
}

async function withGateway(fn) {
  const gw = await startMediaGateway({ ports: '40000-44999' });
  const client = new HttpClient(gw.httpUrl, gw.token, { maxSockets: 64 });
  try {
    return await fn(gw, client);
  } finally {
    client.close();
    await gw.stop();
  }
}

async function ttff(mode) {
  const server = await rtspServer(opt['ttff-runs'], mode === 'free-running');
  try {
    return await withGateway(async (gw, client) => {
      const channels = await addCameras(client, server, opt['ttff-runs'], opt.transport);
      const plays = [];
      for (const [i, channel] of channels.entries()) {
        const t0 = performance.now();
        const res = await client.request('POST', `/api/channels/${channel}/play`, { body: {}, timeoutMs: 30_000 });
        const apiMs = performance.now() - t0;
        if (res.status !== 200) {
          log(`  ${mode} #${i + 1}: play failed ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          plays.push({ ok: false });
          continue;
        }
        const check = await checkPlayable(client, res.body.hls);
        const playableMs = performance.now() - t0;
        plays.push({ ok: check.ok, apiMs: round(apiMs, 0), playableMs: round(playableMs, 0), gatewayTtffMs: res.body.timeToFirstFrameMs ?? null });
        log(`  ${mode} #${i + 1}: API ${round(apiMs, 0)} ms, playable ${round(playableMs, 0)} ms${check.ok ? '' : ` (NOT playable: ${check.why})`}`);
        await client.request('DELETE', `/api/streams/${res.body.streamId}`);
      }
      const ok = plays.filter((p) => p.ok);
      return {
        mode,
        plays,
        failed: plays.length - ok.length,
        apiMsMedian: median(ok.map((p) => p.apiMs)),
        apiMsP90: percentile(ok.map((p) => p.apiMs), 90),
        playableMsMedian: median(ok.map((p) => p.playableMs)),
        playableMsMax: Math.max(...ok.map((p) => p.playableMs)),
        targetMs: gopMs + 300,
      };
    });
  } finally {
    await server.stop();
  }
}

async function concurrent(n) {
  const server = await rtspServer(n, true);
  try {
    return await withGateway(async (gw, client) => {
      const channels = await addCameras(client, server, n, opt.transport);
      const t0 = performance.now();
      // Each stream gets its player-like poller as soon as its play answers: 200 plays take ~25 s, longer than
      // the gateway's no-viewer teardown (media.idleSec, 20 s), so pollers started after the last play found
      // the first quarter of the streams torn down (the 74.6 % "frames received" of the first run).
      const pollers = [];
      const started = await mapLimit(channels, 16, async (channel) => {
        const res = await client.request('POST', `/api/channels/${channel}/play`, { body: {}, timeoutMs: 60_000 }).catch((e) => ({ status: 0, body: String(e) }));
        if (res.status !== 200) return null;
        pollers.push(new PlaylistPoller(client, res.body.hls, { intervalMs: 1000 }).start());
        return res.body;
      });
      const allPlayingMs = performance.now() - t0;
      const streams = started.filter(Boolean);
      log(`  ${n} plays: ${streams.length} ok in ${round(allPlayingMs / 1000, 1)} s`);
      await sleep(opt['warmup-sec'] * 1000);
      const before = await client.request('GET', '/api/streams?limit=1000');
      const serverBefore = await server.stats({ resetDelay: true });
      // System-wide: datagrams the kernel dropped because a socket's receive buffer was full (UDP transport).
      const udpBefore = udpCounters();
      const holdStart = performance.now();
      const gwSampler = new ProcessSampler(gw.pid, 1000).start();
      const serverSampler = new ProcessSampler(server.pid, 1000).start();
      const stallsBefore = pollers.reduce((a, p) => a + p.stalls, 0);
      await sleep(opt['hold-sec'] * 1000);
      gwSampler.stop();
      serverSampler.stop();
      const after = await client.request('GET', '/api/streams?limit=1000');
      const serverAfter = await server.stats();
      const udpAfter = udpCounters();
      const holdSec = (performance.now() - holdStart) / 1000;
      for (const p of pollers) p.stop();
      const byId = (list) => new Map((list.body?.items ?? list.body ?? []).map((s) => [s.streamId, s]));
      const b = byId(before);
      const a = byId(after);
      let frames = 0;
      let packets = 0;
      let lost = 0;
      let dropped = 0;
      const fps = [];
      for (const [id, s] of a) {
        const p = b.get(id);
        if (!p) continue;
        frames += s.frames - p.frames;
        fps.push((s.frames - p.frames) / holdSec);
        packets += s.packets - p.packets;
        lost += s.packetsLost - p.packetsLost;
        dropped += s.droppedFrames - p.droppedFrames;
      }
      const expectedFrames = streams.length * holdSec * loop.fps;
      const cpu = gwSampler.cpuPercents();
      const serverCpu = serverSampler.cpuPercents();
      const sent = serverAfter.stats.framesSent - serverBefore.stats.framesSent;
      const skipped = serverAfter.stats.framesSkipped - serverBefore.stats.framesSkipped;
      return {
        streams: n,
        transport: opt.transport,
        playing: streams.length,
        allPlayingSec: round(allPlayingMs / 1000, 1),
        gatewayCpuPctOfOneCore: round(median(cpu), 0),
        gatewayCpuPctMax: round(Math.max(...cpu), 0),
        gatewayRssMB: round(gwSampler.maxRssMB, 0),
        rtspServerCpuPct: round(median(serverCpu), 0),
        rtspServerCpuPctMax: round(Math.max(...serverCpu), 0),
        rtspServerLoopDelayMs: { p50: round(serverAfter.loopDelayMs.p50, 1), p99: round(serverAfter.loopDelayMs.p99, 1), max: round(serverAfter.loopDelayMs.max, 1) },
        framesSentPct: round((100 * sent) / expectedFrames, 1),
        framesSkippedByServer: skipped,
        framesReceivedPct: round((100 * frames) / expectedFrames, 1),
        // Streams listed by the gateway at the window's start and end, and measured (in both): a stream that
        // ended or was restarted in between has no frame rate here.
        streamsListed: { before: b.size, after: a.size, measured: fps.length },
        rtspServerSessions: serverAfter.sessions,
        udpRcvbufErrors: udpAfter.RcvbufErrors - udpBefore.RcvbufErrors,
        perStreamFps: { min: round(Math.min(...fps), 1), p10: round(percentile(fps, 10), 1), median: round(median(fps), 1), max: round(Math.max(...fps), 1) },
        packetLossPct: packets + lost > 0 ? round((100 * lost) / (packets + lost), 3) : null,
        droppedFrames: dropped,
        stalls: pollers.reduce((s, p) => s + p.stalls, 0) - stallsBefore,
        pollErrors: pollers.reduce((s, p) => s + p.errors, 0),
        loadavg1m: round(loadavg()[0], 2),
      };
    });
  } finally {
    await server.stop();
  }
}

const machine = machineInfo();
log(`RTSP sources: ${opt.streams} concurrent over ${opt.transport}, TTFF ${opt['ttff-runs']} plays per mode`);
log(`machine: ${machineLine(machine)}`);
const result = { machine, options: opt, gopMs, ttff: [], concurrent: null };
try {
  // --ttff-runs 0 skips the time-to-first-frame part (repeated runs of the concurrent part).
  for (const mode of opt['ttff-runs'] > 0 ? ['keyframe-first', 'free-running'] : []) {
    const r = await ttff(mode);
    result.ttff.push(r);
    log(`TTFF ${mode}: API median ${r.apiMsMedian} ms (p90 ${r.apiMsP90}), playable median ${r.playableMsMedian} ms, max ${r.playableMsMax} ms; target ≤ ${r.targetMs} ms (1 GOP + 0.3 s); failed ${r.failed}; load ${round(loadavg()[0], 2)}`);
  }
  result.concurrent = await concurrent(opt.streams);
  log(`concurrent: ${JSON.stringify(result.concurrent)}`);
} finally {
  await stopAll();
}
log(`result: ${writeResult(`rtsp-streams-${opt.streams}-${opt.transport}`, result)}`);
process.exit(0);
