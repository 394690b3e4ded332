// Playback benchmark (issue 11 bench 3): playback INVITE → first frame ≤ 2 s; seek → new picture ≤ 1.5 s.
//
// The gateway runs as a child process (`node bin/sharp-eyes.js serve`), the simulated devices (720p H.264 at
// 25 fps, 1 s GOP) in a child process of their own. Per run, on one camera:
//   playbackMs  POST /api/channels/:id/playback (a 10-minute span an hour ago) → 200. The API answers once the
//               stream is playable (its first LL-HLS segment is complete), i.e. INVITE + first keyframe + one
//               segment: the time a wall tile waits for a picture.
//   firstFrameMs POST → the first fMP4 fragment on the stream's live WebSocket (`ws` of the answer), opened right
//               after the answer: the first picture a Media Source player can show.
//   seekMs      POST /api/streams/:id/control {seek} (a jump of ≥ 100 s, so the device's timestamps jump and the
//               stream starts a new timeline) → the first fragment of that new timeline on the same WebSocket:
//               MANSRTSP INFO, the device's answer, its first keyframe at the new position, the gateway's muxer.
// Baseline in the same round: live play (POST /api/channels/:id/play → 200) on the same cameras, and "seek by
// re-INVITE" = the playbackMs of a new playback at the target (what a platform without MANSRTSP seek does).
//
//   npx tsc -p tsconfig.build.json      (the gateway code in dist/; the web build is not needed)
//   node bench/playback.mjs [--runs 10] [--rounds 2] [--ports 42200-42299]
import WebSocket from 'ws';
import { options } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startMediaGateway, HttpClient } from './lib/live.mjs';
import { startSimProcess } from './lib/sim-process.mjs';
import { median, round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/playback.mjs [--runs 10] [--rounds 2] [--ports 42200-42299]';
const opt = options({ runs: 10, rounds: 2, ports: '42200-42299' }, USAGE);
guardProcess(opt.rounds * (opt.runs * 60 + 180) + 120);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const machine = machineInfo();
log(`playback: ${opt.rounds} round(s) × ${opt.runs} runs, H.264 720p25, GOP 1 s`);
log(`machine: ${machineLine(machine)}; load average at start ${machine.loadavg.join(' ')}`);

/** The live fMP4 socket of a stream: resolves fragment arrivals per timeline (epoch) as they come. */
function openLive(httpUrl, wsPath) {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}${wsPath}`);
  let epoch = null;
  let afterInit = 0; // binary messages since the last init text: 1 = the init segment, ≥ 2 = fragments
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const m = JSON.parse(String(data));
      if (m.type === 'init') {
        epoch = m.epoch;
        afterInit = 0;
      }
      return;
    }
    afterInit++;
    if (afterInit !== 2) return;
    const at = performance.now();
    for (const w of [...waiters]) {
      if (w.minEpoch === null || epoch > w.minEpoch) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ at, epoch });
      }
    }
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    opened,
    get epoch() {
      return epoch;
    },
    /** The first fragment of a timeline newer than minEpoch (null: any). */
    fragment(minEpoch, timeoutMs = 15_000) {
      return new Promise((resolve) => {
        const w = { minEpoch, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            resolve(null);
          }
        }, timeoutMs);
      });
    },
    close: () => ws.close(),
  };
}

function spanIso(offsetSec, lengthSec) {
  const end = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
  const start = end - lengthSec * 1000 + offsetSec * 1000;
  return { start: new Date(end - lengthSec * 1000).toISOString(), end: new Date(end).toISOString(), seekStart: new Date(start).toISOString() };
}

async function oneRound(roundNo) {
  const gw = await startMediaGateway({ ports: opt.ports, maxStreams: 50 });
  const client = new HttpClient(gw.httpUrl, gw.token);
  const sim = await startSimProcess({
    fleet: { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, devices: 4, keepaliveSec: 60, codec: 'h264', audio: null },
    profiles: ['main'],
  });
  const out = { playbackMs: [], firstFrameMs: [], seekMs: [], reinviteMs: [], liveMs: [], failures: [] };
  try {
    log(`round ${roundNo}: gateway pid ${gw.pid}, simulator pid ${sim.pid}`);
    for (let i = 0; i < opt.runs; i++) {
      const camera = sim.devices[i % sim.devices.length].channelIds[0];
      const span = spanIso(0, 600);
      const t0 = performance.now();
      const res = await client.request('POST', `/api/channels/${camera}/playback`, { body: { start: span.start, end: span.end }, timeoutMs: 20_000 });
      const playbackMs = performance.now() - t0;
      if (res.status !== 200) {
        out.failures.push({ what: 'playback', status: res.status, body: res.body });
        continue;
      }
      const live = openLive(gw.httpUrl, res.body.ws);
      const first = live.fragment(null);
      await live.opened;
      const f = await first;
      out.playbackMs.push(playbackMs);
      if (f) out.firstFrameMs.push(f.at - t0);
      await sleep(1500);
      // Forward by ≥ 100 s from wherever it is: the device's PTS jumps, the stream starts a new timeline.
      const target = 100 + (i % 4) * 100;
      const epochBefore = live.epoch;
      const t1 = performance.now();
      const fresh = live.fragment(epochBefore);
      const seek = await client.request('POST', `/api/streams/${res.body.streamId}/control`, { body: { action: 'seek', value: target } });
      const seen = await fresh;
      if (seek.status !== 200 || !seen) out.failures.push({ what: 'seek', status: seek.status, body: seek.body, seen: Boolean(seen) });
      else out.seekMs.push(seen.at - t1);
      live.close();
      await client.request('DELETE', `/api/streams/${res.body.streamId}`);
      // Baseline 1: the same target by a new playback INVITE instead of a seek.
      const t2 = performance.now();
      const re = await client.request('POST', `/api/channels/${camera}/playback`, { body: { start: new Date(Date.parse(span.start) + target * 1000).toISOString(), end: span.end }, timeoutMs: 20_000 });
      if (re.status === 200) {
        out.reinviteMs.push(performance.now() - t2);
        await client.request('DELETE', `/api/streams/${re.body.streamId}`);
      } else out.failures.push({ what: 're-invite', status: re.status, body: re.body });
      // Baseline 2: live play of the same camera.
      const t3 = performance.now();
      const lv = await client.request('POST', `/api/channels/${camera}/play`, { body: {}, timeoutMs: 20_000 });
      if (lv.status === 200) {
        out.liveMs.push(performance.now() - t3);
        await client.request('DELETE', `/api/streams/${lv.body.streamId}`);
      } else out.failures.push({ what: 'live', status: lv.status, body: lv.body });
      await sleep(300);
    }
  } finally {
    client.close();
    await sim.stop();
    await gw.stop();
  }
  const sum = (xs) => {
    const s = summary(xs);
    return { n: xs.length, median: round(median(xs)), p95: round(s.p95), min: round(s.min), max: round(s.max) };
  };
  const r = Object.fromEntries(Object.entries(out).filter(([k]) => k !== 'failures').map(([k, v]) => [k, sum(v)]));
  r.failures = out.failures;
  log(`round ${roundNo}: ${Object.entries(r).filter(([k]) => k !== 'failures').map(([k, v]) => `${k} median ${v.median} ms (p95 ${v.p95}, n ${v.n})`).join('; ')}; failures ${out.failures.length}`);
  return r;
}

const rounds = [];
try {
  for (let k = 1; k <= opt.rounds; k++) rounds.push(await oneRound(k));
} finally {
  await stopAll();
}
const file = writeResult('playback', { machine, options: opt, rounds });
log(`results: ${file}`);
