#!/usr/bin/env node
// CPU cost of the in-process muxers (issue 9, benchmark 1 "where the time goes"): how much CPU the LL-HLS
// reader and the live fMP4 reader spend per second of a 720p H.264 2 Mb/s + AAC stream, and how many bytes
// the LL-HLS window holds; baseline in the same run: ffmpeg remuxing the same input to fMP4 HLS with -c copy
// (what one ffmpeg packager process per stream does, minus the PS demux), CPU from bash's `time`.
//
//   npm run build && node bench/mux-cost.mjs --seconds 20 --runs 5
//
// Units come from real x264/AAC output (ffprobe packet list + the MP4's bytes), fed as fast as the readers take
// them: the figure is CPU per stream-second, so 1000 / figure is how many such streams one core could mux.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { options } from './lib/args.mjs';
import { median } from './lib/stats.mjs';

const opts = options({ seconds: 20, runs: 5, width: 1280, height: 720, bitrate: '2M' }, 'node bench/mux-cost.mjs [--seconds 20] [--runs 5]');
const { LlhlsReader } = await import('../dist/media/readers/llhls/index.js');
const { Fmp4LiveReader } = await import('../dist/media/readers/fmp4-live/index.js');
const { findNalUnits } = await import('../dist/codecs/ps/annexb.js');

const dir = mkdtempSync(join(tmpdir(), 'se-muxcost-'));
const file = join(dir, 'in.mp4');
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${opts.width}x${opts.height}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', String(opts.seconds), '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', opts.bitrate, '-maxrate', opts.bitrate, '-bufsize', opts.bitrate, '-g', '25', '-bf', '0',
  '-c:a', 'aac', '-b:a', '64k', '-ac', '1', file]);
const bytes = readFileSync(file);
const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_packets', '-show_streams', '-of', 'json', file], { maxBuffer: 256 << 20 }).toString());
const tb = new Map(probe.streams.map((s) => [s.index, s.time_base.split('/').map(Number)]));
const to90k = (v, i) => Math.round((v * tb.get(i)[0] * 90000) / tb.get(i)[1]);
const annexB = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v', '-c:v', 'copy', '-frames:v', '1', '-f', 'h264', '-'], { maxBuffer: 64 << 20 });
const nals = findNalUnits(annexB).map((n) => new Uint8Array(annexB.subarray(n.header, n.end)));
const video = { kind: 'video', codec: 'h264', sps: nals.filter((n) => (n[0] & 0x1f) === 7), pps: nals.filter((n) => (n[0] & 0x1f) === 8), width: opts.width, height: opts.height, codecString: '' };
const audio = { kind: 'audio', codec: 'aac', sampleRate: 48000, channels: 1, config: Uint8Array.of(0x11, 0x88), codecString: 'mp4a.40.2' };
const units = probe.packets.map((p) => {
  const data = bytes.subarray(Number(p.pos), Number(p.pos) + Number(p.size));
  const base = { pts: to90k(p.pts, p.stream_index), dts: to90k(p.dts, p.stream_index), epoch: 1, receivedAt: Date.now() };
  if (p.codec_type === 'audio') return { ...base, kind: 'audio', keyframe: true, data: new Uint8Array(data) };
  const nalus = [];
  for (let at = 0; at + 4 <= data.length; ) {
    const len = data.readUInt32BE(at);
    nalus.push(new Uint8Array(data.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  return { ...base, kind: 'video', keyframe: p.flags.startsWith('K'), nalus };
}).sort((a, b) => a.dts - b.dts);
const loopLength = opts.seconds * 90000;

function measure(makeReader, loops) {
  const reader = makeReader();
  reader.onParameters([video, audio], 1);
  const start = process.cpuUsage();
  const wall = process.hrtime.bigint();
  for (let loop = 0; loop < loops; loop++) {
    for (const u of units) reader.onAccessUnit({ ...u, pts: u.pts + loop * loopLength, dts: u.dts + loop * loopLength });
  }
  const cpu = process.cpuUsage(start);
  const held = reader.stats?.().heldBytes ?? 0;
  reader.close('bench over');
  return { cpuMsPerStreamSecond: (cpu.user + cpu.system) / 1000 / (loops * opts.seconds), wallMs: Number(process.hrtime.bigint() - wall) / 1e6, held };
}

function ffmpegCpuMs(seconds) {
  const out = join(dir, 'hls');
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time ffmpeg -v error -y -t ${seconds} -i ${file} -c copy -f hls -hls_segment_type fmp4 -hls_time 1 -hls_list_size 8 -hls_flags delete_segments ${out}.m3u8`], { encoding: 'utf8' });
  const [user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return (user + sys) * 1000;
}

/** ffmpeg's CPU per stream-second with its start-up taken out: (full input − 1 s of it) / (seconds − 1). */
function ffmpegBaseline() {
  return (ffmpegCpuMs(opts.seconds) - ffmpegCpuMs(1)) / (opts.seconds - 1);
}

const sink = { sendText() {}, sendBinary() {}, bufferedBytes: () => 0, close() {} };
const rows = { llhls: [], live: [], ffmpeg: [], held: [] };
measure(() => new LlhlsReader(), 1); // warm-up (JIT)
for (let run = 0; run < opts.runs; run++) {
  const l = measure(() => new LlhlsReader(), 3);
  rows.llhls.push(l.cpuMsPerStreamSecond);
  rows.held.push(l.held);
  rows.live.push(measure(() => new Fmp4LiveReader(sink), 3).cpuMsPerStreamSecond);
  rows.ffmpeg.push(ffmpegBaseline());
}
rmSync(dir, { recursive: true, force: true });
const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; ${opts.width}x${opts.height} ${opts.bitrate} H.264 GOP 25 + AAC 64k, ${opts.seconds} s × 3 per run, ${opts.runs} runs`);
console.log(`LL-HLS reader     CPU ms per stream-second: ${fmt(rows.llhls)}  median ${median(rows.llhls).toFixed(2)}  → ${(1000 / median(rows.llhls)).toFixed(0)} streams per core`);
console.log(`live fMP4 reader  CPU ms per stream-second: ${fmt(rows.live)}  median ${median(rows.live).toFixed(2)}`);
console.log(`ffmpeg -c copy → fMP4 HLS (baseline)       : ${fmt(rows.ffmpeg)}  median ${median(rows.ffmpeg).toFixed(2)} (start-up subtracted)`);
console.log(`LL-HLS window held (8 segments): median ${(median(rows.held) / 1e6).toFixed(2)} MB`);
