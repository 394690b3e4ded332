// One restartable party of the cascade soak (bench/cascade-soak.mjs) in a CHILD PROCESS of its own, so that it can
// be killed with SIGKILL like a crashed platform or camera and started again on the same port:
//   argv[2] = JSON { role: 'upper', upper: UpperPlatformOptions }   the simulator's upper platform (dist/sim)
//   argv[2] = JSON { role: 'devices', fleet: DeviceFleetOptions }   simulated GB devices (dist/sim DeviceFleet)
// IPC: → { type: 'ready', ... } once listening (upper) / every device registered (devices);
//      ← { id, cmd, args } → { id, ok, result } or { id, ok: false, error }.
// Upper commands: state, catalog { lowerId }, play { lowerId, channelId, transport, bytes, keep } (ffprobe on what
// arrived; keep: true leaves the leg open, for a restart with a stream running), stopPlays.
// Device commands: state, stop { unregister } (a clean stop: REGISTER Expires 0, then exit).
import { distImport } from './paths.mjs';

const config = JSON.parse(process.argv[2]);
const { DeviceFleet, UpperPlatform } = await distImport('sim/index.js');

function send(msg) {
  if (process.connected) process.send(msg);
}

let upper = null;
let fleet = null;
const openPlays = new Set();

async function shutdown(unregister) {
  await Promise.allSettled([...openPlays].map((p) => p.stop()));
  if (upper) await upper.stop().catch(() => undefined);
  if (fleet) await fleet.stop({ unregister }).catch(() => undefined);
}

process.on('disconnect', () => {
  // The soak went away: do not outlive it.
  void shutdown(false).finally(() => process.exit(0));
});

const commands = {
  async state() {
    if (upper) return { lowers: [...upper.lowers.values()].map((l) => ({ id: l.id, registeredAt: l.registeredAt, keepalives: l.keepalives })), stats: upper.stats, openPlays: openPlays.size };
    return { media: fleet.mediaStats, stats: fleet.stats };
  },
  async catalog({ lowerId }) {
    const r = await upper.queryCatalog(lowerId, { quietMs: 5_000 });
    return { complete: r.complete, sumNum: r.sumNum, parts: r.parts, totalMs: r.totalMs, items: r.items.map((i) => ({ id: i.deviceId, status: i.status, parentIds: i.parentIds })) };
  },
  async play({ lowerId, channelId, transport = 'udp', bytes = 300_000, keep = false }) {
    const play = await upper.play(lowerId, channelId, { transport });
    openPlays.add(play);
    play.once('closed', () => openPlays.delete(play));
    try {
      await play.waitForBytes(bytes, 20_000);
      const probe = await play.probe();
      const result = { answer: play.answer, firstPacketMs: play.stats.firstPacketMs, bytes: play.stats.bytes, lost: play.stats.lost, video: probe.video };
      if (!keep) await play.stop();
      return result;
    } catch (err) {
      await play.stop().catch(() => undefined);
      throw err;
    }
  },
  async stopPlays() {
    const n = openPlays.size;
    await Promise.allSettled([...openPlays].map((p) => p.stop()));
    return { stopped: n };
  },
  async stop({ unregister = true } = {}) {
    await shutdown(unregister);
    setImmediate(() => process.exit(0));
    return { stopped: true };
  },
};

process.on('message', async (msg) => {
  const fn = commands[msg.cmd];
  if (!fn) return send({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
  try {
    send({ id: msg.id, ok: true, result: await fn(msg.args ?? {}) });
  } catch (err) {
    send({ id: msg.id, ok: false, error: err?.message ?? String(err) });
  }
});

try {
  if (config.role === 'upper') {
    upper = await UpperPlatform.start(config.upper);
    send({ type: 'ready', port: upper.port });
  } else {
    fleet = new DeviceFleet(config.fleet);
    await fleet.prepareMedia({ personalised: false, profiles: ['main'] });
    await fleet.start();
    await fleet.waitForRegistered(fleet.devices.length, 60_000);
    send({ type: 'ready', devices: fleet.devices.map((d) => ({ id: d.id, channelIds: d.channelIds })) });
  }
} catch (err) {
  send({ type: 'error', message: err?.stack ?? String(err) });
  await shutdown(false);
  process.exit(1);
}
