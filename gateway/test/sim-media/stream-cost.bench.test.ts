/**
 * Measurement, not a regression test (skipped unless SIM_MEDIA_BENCH=1): CPU the simulator spends per
 * streaming camera. N cameras are INVITEd over UDP; their RTP goes to a counting sink in a separate process,
 * so this process's CPU time is the simulator's (plus a negligible SIP platform). Prints CPU % of one core per
 * camera, throughput, and the pump's timing.
 *
 *   SIM_MEDIA_BENCH=1 SIM_MEDIA_STREAMS=50 SIM_MEDIA_PROFILE=main npx vitest run gateway/test/sim-media/stream-cost
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { playOffer, TestPlatform } from './test-platform.js';

const enabled = process.env.SIM_MEDIA_BENCH === '1';
const STREAMS = Number(process.env.SIM_MEDIA_STREAMS ?? 50);
const PROFILE = process.env.SIM_MEDIA_PROFILE === 'sub' ? 'sub' : 'main';
const CODEC = process.env.SIM_MEDIA_CODEC === 'h265' ? 'h265' : 'h264';
const AUDIO = process.env.SIM_MEDIA_AUDIO === 'g711a' ? 'g711a' : null;
const MEASURE_MS = Number(process.env.SIM_MEDIA_SECONDS ?? 10) * 1000;

/** A UDP sink in its own process: counts packets and bytes, prints them when stdin closes. */
const SINK = `
const s = require('node:dgram').createSocket('udp4');
let packets = 0, bytes = 0;
s.on('message', (m) => { packets++; bytes += m.length; });
s.bind(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: s.address().port }) + '\\n'));
process.stdin.on('end', () => { process.stdout.write(JSON.stringify({ packets, bytes, cpu: process.cpuUsage() }) + '\\n'); process.exit(0); });
process.stdin.resume();
`;

function startSink(): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (lines.length === 1) resolve({ child, port: (JSON.parse(lines[0]!) as { port: number }).port, lines });
      }
    });
    child.on('error', reject);
  });
}

describe.runIf(enabled)('simulator streaming cost', () => {
  it(`${STREAMS} ${CODEC} ${PROFILE} streams${AUDIO ? ' + g711a' : ''}`, async () => {
    const platform = await TestPlatform.start();
    const fleet = new DeviceFleet({
      server: platform.server,
      password: 'unused',
      devices: STREAMS,
      keepaliveSec: 600,
      codec: CODEC,
      audio: AUDIO,
      personalisedChannels: 0,
      mediaCacheDir: join(tmpdir(), 'sharp-eyes-sim-media'),
    });
    const sink = await startSink();
    try {
      await fleet.prepareMedia({ profiles: [PROFILE] });
      await fleet.start();
      await fleet.waitForRegistered(STREAMS, 30_000);
      const substream = PROFILE === 'sub' ? { attribute: 'streamnumber' as const, value: '1' } : undefined;
      await Promise.all(
        fleet.devices.map((d, i) => {
          const ssrc = `02000${String(i + 1).padStart(5, '0')}`;
          return platform.invite(d.id, d.id, playOffer({ transport: 'udp', port: sink.port, ssrc, substream }), `${d.id}:${ssrc},x:0`);
        }),
      );
      // Let the INVITE burst settle, then measure.
      await new Promise((r) => setTimeout(r, 1_000));
      const before = fleet.mediaStats;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let maxLag = 0;
      let last = performance.now();
      const lagProbe = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 50);
        last = now;
      }, 50);
      await new Promise((r) => setTimeout(r, MEASURE_MS));
      clearInterval(lagProbe);
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const after = fleet.mediaStats;
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const mbps = ((after.bytes - before.bytes) * 8) / (wall * 1000);
      const fps = ((after.videoFrames - before.videoFrames) * 1000) / wall / STREAMS;
      const line =
        `${STREAMS} × ${CODEC} ${PROFILE}${AUDIO ? '+g711a' : ''}: simulator CPU ${((cpuMs / wall) * 100).toFixed(1)} % of one core ` +
        `(${((cpuMs / wall / STREAMS) * 100).toFixed(2)} % per camera; user ${(cpu.user / 1000 / wall * 100).toFixed(1)} %, sys ${(cpu.system / 1000 / wall * 100).toFixed(1)} %), ` +
        `${mbps.toFixed(1)} Mbit/s, ${fps.toFixed(1)} fps per camera, ${(after.packets - before.packets) / (wall / 1000) | 0} packets/s, ` +
        `max event-loop lag ${maxLag.toFixed(0)} ms, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`;
      process.stderr.write(`${line}\n`);
      expect(fps).toBeGreaterThan(24);
      expect(fleet.mediaStats.activeStreams).toBe(STREAMS);
    } finally {
      await fleet.stop({ unregister: false });
      await platform.close();
      sink.child.stdin!.end();
      await new Promise((r) => sink.child.once('exit', r));
      const last = sink.lines[sink.lines.length - 1];
      if (last) process.stderr.write(`sink: ${last}\n`);
    }
  });
});
