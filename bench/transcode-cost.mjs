#!/usr/bin/env node
// Issue 9, benchmark 5: "H.265 → H.264 transcode: within 10 % of bare ffmpeg's CPU on the same input".
//
//   npm run build && node bench/transcode-cost.mjs --seconds 20 --runs 5
//
// The same x265 720p 25 fps input (GOP 25, no B-frames, like a camera) is transcoded two ways, each fed in real
// time for the same wall-clock duration, alternating, `runs` times:
//   - gateway: the gateway's transcoder as a stream reader (FfmpegHlsReader from dist/, the H.264 rendition's
//     reader), fed the input's access units at their timestamps; it spawns ffmpeg on pipes with the gateway's
//     own arguments (media/ffmpeg/args.ts);
//   - bare: ffmpeg -re on the MP4 file with exactly the same output arguments (the gateway's argument list with
//     its pipe inputs swapped for `-re -i file`): what an operator would run by hand.
// Figure: CPU (user + system, /proc/PID/stat) of the ffmpeg process over the same window (from its start to
// `seconds` later, both still running), as % of one core. The gateway column also gives Node's own CPU for
// feeding the pipe (process.cpuUsage over the window), which the bare run does not have.
import { execFileSync, spawn, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { options } from './lib/args.mjs';
import { median } from './lib/stats.mjs';
import { cpuSeconds } from './lib/proc.mjs';
import { machineLine } from './lib/machine.mjs';

const opts = options({ seconds: 20, runs: 5, width: 1280, height: 720, bitrate: '2M' }, 'node bench/transcode-cost.mjs [--seconds 20] [--runs 5]');
const { FfmpegHlsReader } = await import('../dist/media/readers/ffmpeg-hls/ffmpeg-hls-reader.js');
const { buildHlsPackagerArgs } = await import('../dist/media/ffmpeg/args.js');
const { findNalUnits } = await import('../dist/codecs/ps/annexb.js');
const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'se-transcodecost-'));
const file = join(dir, 'in.mp4');
// A second longer than the window: neither run reaches the end of its input while measured.
const inputSeconds = opts.seconds + 2;
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=25`, '-t', String(inputSeconds),
  '-pix_fmt', 'yuv420p', '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:bframes=0:keyint=25:min-keyint=25', '-b:v', opts.bitrate, '-tag:v', 'hvc1', file]);

// Access units from the MP4 (length-prefixed NAL units), parameter sets from the first frame in Annex-B.
const bytes = readFileSync(file);
const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_packets', '-show_streams', '-of', 'json', file], { maxBuffer: 256 << 20 }).toString());
const [tbNum, tbDen] = probe.streams[0].time_base.split('/').map(Number);
const to90k = (v) => Math.round((Number(v) * tbNum * 90000) / tbDen);
const annexB = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v', '-c:v', 'copy', '-frames:v', '1', '-f', 'hevc', '-'], { maxBuffer: 64 << 20 });
const nals = findNalUnits(annexB).map((n) => new Uint8Array(annexB.subarray(n.header, n.end)));
const typeOf = (n) => (n[0] >> 1) & 0x3f;
const video = {
  kind: 'video', codec: 'h265', width: opts.width, height: opts.height, codecString: 'hvc1.1.6.L93.B0',
  vps: nals.filter((n) => typeOf(n) === 32), sps: nals.filter((n) => typeOf(n) === 33), pps: nals.filter((n) => typeOf(n) === 34),
};
const units = probe.packets.map((p) => {
  const data = bytes.subarray(Number(p.pos), Number(p.pos) + Number(p.size));
  const nalus = [];
  for (let at = 0; at + 4 <= data.length; ) {
    const len = data.readUInt32BE(at);
    nalus.push(new Uint8Array(data.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  return { kind: 'video', keyframe: p.flags.startsWith('K'), pts: to90k(p.pts), dts: to90k(p.dts), epoch: 1, receivedAt: 0, nalus };
}).sort((a, b) => a.dts - b.dts);

async function ffmpegChild() {
  for (let i = 0; i < 100; i++) {
    try {
      const { stdout } = await run('pgrep', ['-P', String(process.pid), 'ffmpeg']);
      const pid = Number(stdout.trim().split('\n')[0]);
      if (pid) return pid;
    } catch {
      // not spawned yet
    }
    await sleep(20);
  }
  throw new Error('the transcoder never started');
}

/** The gateway's transcoder reader fed in real time; ffmpeg CPU over the window, and Node's feeding CPU. */
async function gatewayRun(i) {
  const out = join(dir, `gw-${i}`);
  mkdirSync(out);
  const reader = new FfmpegHlsReader({ dir: out, transcodeH265ToH264: true, segmentSeconds: 1, listSize: 6 });
  const t0 = Date.now();
  const node0 = process.cpuUsage();
  reader.onParameters([video], 1);
  const pid = await ffmpegChild();
  const cpu0 = cpuSeconds(pid);
  let next = 0;
  const base = units[0].dts;
  const timer = setInterval(() => {
    const now = Date.now() - t0;
    while (next < units.length && ((units[next].dts - base) / 90) <= now) reader.onAccessUnit(units[next++]);
  }, 10);
  await sleep(opts.seconds * 1000);
  const cpu = cpuSeconds(pid) - cpu0;
  const node = process.cpuUsage(node0);
  clearInterval(timer);
  await reader.close('bench over');
  return { ffmpegPct: (cpu / opts.seconds) * 100, nodePct: ((node.user + node.system) / 1e6 / opts.seconds) * 100 };
}

/** Bare ffmpeg: the gateway's own output arguments, input `-re -i file`. */
async function bareRun(i) {
  const out = join(dir, `bare-${i}`);
  mkdirSync(out);
  const args = buildHlsPackagerArgs({
    video: 'h265', transcodeH265ToH264: true, segmentSeconds: 1, listSize: 6, frameRate: 25,
    playlistPath: join(out, 'index.m3u8'), segmentPattern: join(out, 'seg-%d.m4s'), initFileName: 'init.mp4',
  });
  const from = args.indexOf('-probesize');
  const to = args.indexOf('pipe:0') + 1;
  args.splice(from, to - from, '-re', '-i', file);
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const cpu0 = cpuSeconds(child.pid) ?? 0;
  await sleep(opts.seconds * 1000);
  const cpu = cpuSeconds(child.pid) - cpu0;
  child.kill('SIGTERM');
  await exited;
  return { ffmpegPct: (cpu / opts.seconds) * 100 };
}

const rows = [];
try {
  for (let i = 0; i < opts.runs; i++) {
    const load = (await import('node:os')).loadavg()[0].toFixed(1);
    // Alternating keeps both under the same (shared-machine) load drift.
    const g = await gatewayRun(i);
    const b = await bareRun(i);
    rows.push({ run: i + 1, load, gatewayFfmpegPct: g.ffmpegPct, gatewayNodePct: g.nodePct, bareFfmpegPct: b.ffmpegPct, ratio: g.ffmpegPct / b.ffmpegPct });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const m = (k) => median(rows.map((r) => r[k]));
console.log(`machine: ${machineLine()}`);
console.log(`input: x265 ${opts.width}x${opts.height} 25 fps ${opts.bitrate}, GOP 25, no B-frames; window ${opts.seconds} s real time; ${opts.runs} runs (gateway, bare alternating)`);
console.log(`median: gateway transcoder ffmpeg ${m('gatewayFfmpegPct').toFixed(1)} % of a core (+ Node feeding ${m('gatewayNodePct').toFixed(2)} %), bare ffmpeg ${m('bareFfmpegPct').toFixed(1)} %, ratio ${m('ratio').toFixed(3)} (median of per-run ratios)`);
