// The device simulator (DeviceFleet from dist/sim) in a CHILD PROCESS of its own, so its CPU — PS muxing and
// sending every camera's RTP — is read from /proc apart from the gateway's and the benchmark's. Started by
// sim-process.mjs with the fleet options as JSON in argv[2]; talks over the IPC channel:
//   → { type: 'ready', devices, loops }          after prepareMedia + registration
//   ← { cmd: 'stats', id } → { id, type: 'stats', … }   media counters, per-stream counters, event-loop delay
//   ← { cmd: 'stop' }      → fleet stopped (no unregister), process exits
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { distImport } from './paths.mjs';

const config = JSON.parse(process.argv[2]);
const { DeviceFleet } = await distImport('sim/index.js');

const fleet = new DeviceFleet(config.fleet);
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

function send(msg) {
  if (process.connected) process.send(msg);
}

process.on('disconnect', () => {
  // The benchmark went away: do not outlive it.
  void fleet.stop({ unregister: false }).finally(() => process.exit(0));
});

process.on('message', async (msg) => {
  if (msg.cmd === 'stats') {
    const streams = fleet.activeStreams();
    const byState = {};
    for (const s of streams) byState[s.state] = (byState[s.state] ?? 0) + 1;
    send({
      type: 'stats',
      id: msg.id,
      media: fleet.mediaStats,
      byState,
      // Compact per-stream counters: channel, transport, loop epoch, packets, bytes, frames.
      streams: msg.perStream
        ? streams.map((s) => ({ channelId: s.channelId, transport: s.transport, profile: s.profile, state: s.state, loopEpochMs: s.loopEpochMs, packets: s.packets, bytes: s.bytes, videoFrames: s.videoFrames }))
        : undefined,
      loopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, mean: delay.mean / 1e6 },
      memory: process.memoryUsage().rss / 2 ** 20,
    });
    if (msg.resetDelay) delay.reset();
  } else if (msg.cmd === 'stop') {
    await fleet.stop({ unregister: false }).catch(() => undefined);
    send({ type: 'stopped' });
    process.exit(0);
  }
});

try {
  const t0 = performance.now();
  await fleet.prepareMedia({ personalised: false, profiles: config.profiles ?? ['main'] });
  const prepareMs = performance.now() - t0;
  const lib = fleet.mediaSource;
  const loops = {};
  for (const p of config.profiles ?? ['main']) {
    const loop = await lib.videoLoop(config.fleet.codec ?? 'h264', p, null);
    loops[p] = { width: loop.width, height: loop.height, fps: loop.fps, gop: loop.gop, durationMs: loop.durationMs, bytes: loop.bytes, kbps: Math.round((loop.bytes * 8) / loop.durationMs) };
  }
  await fleet.start();
  await fleet.waitForRegistered(fleet.devices.length, config.registerTimeoutMs ?? 120_000);
  send({
    type: 'ready',
    prepareMs,
    registeredAfterMs: performance.now() - t0 - prepareMs,
    devices: fleet.devices.map((d) => ({ id: d.id, channelIds: d.channelIds })),
    loops,
  });
} catch (err) {
  send({ type: 'error', message: err?.stack ?? String(err) });
  await fleet.stop({ unregister: false }).catch(() => undefined);
  process.exit(1);
}
