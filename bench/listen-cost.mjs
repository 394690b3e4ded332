#!/usr/bin/env node
// Issue 9, "Wall tiles are muted by default: audio is transcoded only while someone listens": what a G.711
// camera's stream costs the gateway muted and listened to.
//
//   npm run build && flock /work/notes/bench.lock node bench/listen-cost.mjs [--seconds 20] [--runs 3]
//
// One simulated camera (H.264 720p 25 fps 2 Mb/s main stream, G.711A 8 kHz), the gateway as a child process
// (dist/). Phases, alternating in every run, each measured over the same `seconds` window:
//   muted     one viewer polling the playlist (and fetching each new segment, as a player does): the stream
//             is the in-process LL-HLS, video only;
//   listened  the same viewer plus one listener (`listen: true`) doing the same on its playlist: the AAC
//             rendition (ffmpeg: video copied, G.711 → AAC) runs beside the LL-HLS.
// Baseline in the same run: the same camera and viewer on a gateway with `media.inProcessMuxer: false`, where
// the stream goes through ffmpeg (video copy + G.711 → AAC) for everyone: the path main took for every G.711
// camera before this change.
// Figure: CPU (user + system, /proc) over the window of the gateway's Node process and of its ffmpeg
// children, % of one core.
import { options } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startMediaGateway, HttpClient, PlaylistPoller } from './lib/live.mjs';
import { startSimProcess } from './lib/sim-process.mjs';
import { treeReading } from './lib/proc-tree.mjs';
import { median, round } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { log, writeResult } from './lib/out.mjs';

const opt = options({ seconds: 20, runs: 3, ports: '43100-43139' }, 'node bench/listen-cost.mjs [--seconds 20] [--runs 3]');
guardProcess(opt.runs * (opt.seconds * 3 + 90) + 600);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const machine = machineInfo();
log(`G.711 camera muted vs listened: ${opt.runs} run(s) × ${opt.seconds} s windows`);
log(`machine: ${machineLine(machine)}; load average at start ${machine.loadavg.join(' ')}`);

/** CPU % of one core over `seconds` for the gateway process and its ffmpeg children. */
async function measure(gwPid, seconds) {
  const a = treeReading(gwPid);
  await sleep(seconds * 1000);
  const b = treeReading(gwPid);
  const dt = (b.t - a.t) / 1000;
  const ffmpeg = (r) => r.byComm.ffmpeg?.cpu ?? 0;
  return {
    node: round(((b.rootCpu - a.rootCpu) / dt) * 100, 2),
    // Children that exited inside the window are in childrenCpu (reaped); ffmpeg is the only child here.
    ffmpeg: round(((b.childrenCpu - a.childrenCpu) / dt) * 100, 2),
    ffmpegProcesses: b.byComm.ffmpeg?.processes ?? 0,
    ffmpegNow: ffmpeg(b) > 0,
    loadavg: machineInfo().loadavg[0],
  };
}

async function withGateway(env, fn) {
  const gw = await startMediaGateway({ ports: opt.ports, maxStreams: 10, env });
  const client = new HttpClient(gw.httpUrl, gw.token);
  const sim = await startSimProcess({
    fleet: { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, password: DEVICE_PASSWORD, devices: 1, keepaliveSec: 60, codec: 'h264', audio: 'g711a' },
    profiles: ['main'],
  });
  try {
    return await fn(gw, client, sim.devices[0].channelIds[0]);
  } finally {
    client.close();
    await sim.stop();
    await gw.stop();
  }
}

async function play(client, camera, body) {
  const res = await client.request('POST', `/api/channels/${camera}/play`, { body, timeoutMs: 30_000 });
  if (res.status !== 200) throw new Error(`play ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body;
}

const rows = [];
try {
  for (let run = 1; run <= opt.runs; run++) {
    const row = { run };
    await withGateway({}, async (gw, client, camera) => {
      const muted = await play(client, camera, {});
      const viewer = new PlaylistPoller(client, muted.hls, { intervalMs: 500, downloadSegments: true }).start(0);
      await sleep(3000);
      row.muted = await measure(gw.pid, opt.seconds);
      const listener = await play(client, camera, { listen: true });
      if (listener.hlsAudio !== 'aac' || !listener.audioRendition) throw new Error(`the listener got no AAC rendition: ${JSON.stringify(listener).slice(0, 300)}`);
      const heard = new PlaylistPoller(client, listener.hls, { intervalMs: 500, downloadSegments: true }).start(0);
      await sleep(3000);
      row.listened = await measure(gw.pid, opt.seconds);
      heard.stop();
      await client.request('DELETE', `/api/streams/${listener.streamId}?viewerId=${listener.viewerId}`);
      viewer.stop();
      await client.request('DELETE', `/api/streams/${muted.streamId}`);
    });
    await withGateway({ SE_MEDIA_IN_PROCESS_MUXER: 'false' }, async (gw, client, camera) => {
      const muted = await play(client, camera, {});
      const viewer = new PlaylistPoller(client, muted.hls, { intervalMs: 500, downloadSegments: true }).start(0);
      await sleep(3000);
      row.ffmpegPath = await measure(gw.pid, opt.seconds);
      viewer.stop();
      await client.request('DELETE', `/api/streams/${muted.streamId}`);
    });
    rows.push(row);
    const f = (m) => `node ${m.node} % + ffmpeg ${m.ffmpeg} % (${m.ffmpegProcesses} proc) = ${round(m.node + m.ffmpeg, 2)} %, load ${m.loadavg}`;
    log(`run ${run}: muted ${f(row.muted)} | listened ${f(row.listened)} | main's ffmpeg path ${f(row.ffmpegPath)}`);
  }
} finally {
  await stopAll();
}

const med = (phase, key) => round(median(rows.map((r) => r[phase][key])), 2);
const summary = Object.fromEntries(['muted', 'listened', 'ffmpegPath'].map((p) => [p, { node: med(p, 'node'), ffmpeg: med(p, 'ffmpeg'), total: round(median(rows.map((r) => r[p].node + r[p].ffmpeg)), 2) }]));
log(`medians: ${JSON.stringify(summary)}`);
log(`load average at end ${machineInfo().loadavg.join(' ')}`);
const file = writeResult('listen-cost', { machine, opts: opt, rows, summary });
log(`written ${file}`);
