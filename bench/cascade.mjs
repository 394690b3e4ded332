// Cascade benchmarks (issue 11, benchmarks 1 and 2), with the simulator's upper platform (dist/sim
// UpperPlatform, in this process: digest REGISTER, Catalog query, SUBSCRIBE, INVITE, RTP/PS receive) above the
// gateway under test (a child process, `node bin/sharp-eyes.js serve`), configured through POST /api/platforms
// with share all.
//
// Part 1 — catalog (one gateway):
//   (a) a simulated lower platform (type 200, in this process, over TCP) with --channels channels in a region /
//       business-group / virtual-org tree registers with the gateway; once the gateway stored it, the upper
//       platform sends Catalog queries for the gateway's ID (--runs times): query sent → last item received
//       (all SumNum items, collected by SN). Target ≤ 10 s. Baseline in the same run: the same gateway
//       ingesting the same catalog from below (registration → every item stored), and a Catalog query for one
//       channel (one part: the round trip floor).
//   (b) the upper platform SUBSCRIBEs to the catalog; per run a new IPC registers (ADD, timed from the moment
//       the IPC answered the gateway's own Catalog query) and then unregisters (OFF, timed from the
//       unregister): → the NOTIFY item arriving at the upper platform. Target ≤ 2 s (the notifier compares at
//       most every 300 ms). The gateway shares the --channels catalog meanwhile, so every pass compares it.
// Part 2 — upward video (a fresh gateway; --streams IPCs, 720p25 H.264 2 Mb/s, 1 s GOP, in a simulator child
//   process so its CPU is read apart):
//   (c) upper INVITE (UDP) → first RTP/PS packet received: for an idle channel (the gateway must INVITE the
//       camera; target ≤ 1 GOP + 0.5 s = 1.5 s), and for a channel another upward leg already plays (target
//       ≤ 0.2 s). Baseline: the gateway's own live start of an idle channel (POST /api/channels/:id/play,
//       answered once the first frame is parsed).
//   (d) --streams upward legs at once (UDP or --media-transport tcp-passive), --hold-sec window: gateway CPU
//       (% of one core), RTP sequence gaps at the receiver (loss), 3 legs checked with ffprobe. Baseline: the
//       simulator's CPU for sending the same streams, and the gateway's CPU with the same devices registered
//       and no stream.
// Part 3 — playback from above (a fresh gateway; a few IPCs with recordings in a simulator child process):
//   (e) upper INVITE s=Playback (UDP, a 10-minute span that ended an hour ago) → first RTP/PS packet received:
//       the gateway INVITEs the camera with s=Playback and sends upward from its first keyframe (every playback
//       is its own device session, so there is no "already streaming" case). Also: INVITE → 200 OK, and the
//       MANSRTSP relay round trip (upper INFO PLAY Range → the gateway's answer, which waits for the camera's).
//       Baseline in the same run: an upper live INVITE (s=Play) of an idle channel → first packet.
//
//   npm run build
//   node bench/cascade.mjs [--channels 20000] [--runs 5] [--streams 100] [--hold-sec 30] [--media-transport udp|tcp-passive]
//        [--part all|catalog|video|playback] [--link-transport udp|tcp]   (--link-transport: the SIP link to the upper
//        platform; over TCP catalog parts hold up to 100 items instead of ~1,300 bytes)
import { loadavg } from 'node:os';
import { options, oneOf } from './lib/args.mjs';
import { guardProcess, stopAll } from './lib/children.mjs';
import { startGatewayProcess, DEVICE_PASSWORD, GATEWAY_SIP_ID } from './lib/gateway.mjs';
import { startSimProcess } from './lib/sim-process.mjs';
import { postJson } from './lib/web-gateway.mjs';
import { cpuSeconds, selfCpuSeconds } from './lib/proc.mjs';
import { median, round, summary } from './lib/stats.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { distImport } from './lib/paths.mjs';
import { log, writeResult } from './lib/out.mjs';

const USAGE = 'usage: node bench/cascade.mjs [--channels N] [--runs R] [--streams S] [--hold-sec H] [--media-transport udp|tcp-passive] [--part all|catalog|video|playback] [--link-transport udp|tcp]';
const opt = options({ channels: 20_000, runs: 5, streams: 100, 'hold-sec': 30, 'media-transport': 'udp', part: 'all', 'link-transport': 'udp' }, USAGE);
oneOf('media-transport', opt['media-transport'], ['udp', 'tcp-passive']);
oneOf('link-transport', opt['link-transport'], ['udp', 'tcp']);
oneOf('part', opt.part, ['all', 'catalog', 'video', 'playback']);
guardProcess(600);

const { DeviceFleet, UpperPlatform } = await distImport('sim/index.js');
const { classifyCatalogItem } = await distImport('codecs/manscdp/messages.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const UPPER = { id: '44000000002000000001', domain: '4400000000', password: 'bench-upper-secret' };
const TARGETS = { catalogMs: 10_000, pushMs: 2_000, idleFirstPacketMs: 1_500, streamingFirstPacketMs: 200 };

async function addPlatform(gw, upper) {
  const res = await postJson(gw.httpUrl, '/api/platforms', { ...UPPER, host: '127.0.0.1', port: upper.port, transport: opt['link-transport'], keepaliveSec: 30, share: { all: true } }, gw.token);
  if (res.status !== 201) throw new Error(`POST /api/platforms → ${res.status} ${JSON.stringify(res.body)}`);
  const lower = await upper.waitForRegistered(GATEWAY_SIP_ID, 30_000);
  const started = performance.now();
  for (;;) {
    const p = await gw.api.json(`/api/platforms/${UPPER.id}`);
    if (p.status === 'online') break;
    if (performance.now() - started > 15_000) throw new Error(`platform not online: ${JSON.stringify(p)}`);
    await sleep(100);
  }
  return lower;
}

async function waitForTotal(gw, path, expected, timeoutMs) {
  const started = performance.now();
  for (;;) {
    const total = (await gw.api.json(path, { timeoutMs: 60_000 })).total;
    if (total >= expected) return performance.now();
    if (performance.now() - started > timeoutMs) throw new Error(`${path}: ${total}/${expected} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function catalogPart() {
  const gw = await startGatewayProcess();
  const upper = await UpperPlatform.start(UPPER);
  const fleets = [];
  try {
    // The 20k-channel lower platform, stored by the gateway first (its ingest time is the baseline).
    const platform = new DeviceFleet({ server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, platformChannels: opt.channels, transport: 'tcp', password: DEVICE_PASSWORD, unregisterOnStop: false, idPrefix: '44030500', firstSerial: 100 });
    fleets.push(platform);
    const ingestStarted = performance.now();
    await platform.start();
    await platform.waitForRegistered(1, 30_000);
    const lowerItems = platform.platformCatalog.total;
    const ingestMs = (await waitForTotal(gw, '/api/channels?limit=1', lowerItems, 300_000)) - ingestStarted;
    log(`lower platform: ${lowerItems} items stored by the gateway in ${round(ingestMs, 0)} ms`);

    const lower = await addPlatform(gw, upper);
    const queries = [];
    let oneChannel = null;
    for (let run = 1; run <= opt.runs; run++) {
      const load = loadavg()[0];
      const cpu0 = cpuSeconds(gw.pid);
      const r = await upper.queryCatalog(lower.id, { quietMs: 15_000 });
      const cpu = cpuSeconds(gw.pid) - cpu0;
      const channels = r.items.filter((i) => classifyCatalogItem(i) === 'channel').length;
      oneChannel ??= r.items.find((i) => classifyCatalogItem(i) === 'channel')?.deviceId ?? null;
      const q = { run, complete: r.complete, items: r.items.length, sumNum: r.sumNum, channels, parts: r.parts, firstPartMs: round(r.firstPartMs, 1), totalMs: round(r.totalMs, 0), gatewayCpuSeconds: round(cpu, 2), loadavg1m: round(load, 2) };
      queries.push(q);
      log(`(a) run ${run}: ${JSON.stringify(q)}`);
    }
    const single = [];
    for (let i = 0; i < opt.runs && oneChannel; i++) single.push((await upper.queryCatalog(lower.id, { targetId: oneChannel })).totalMs);

    // (b) change push through the Catalog subscription.
    await upper.subscribeCatalog(lower.id, 3600);
    await sleep(1_000); // the subscription's first pass (nothing to tell: the upper platform just read everything)
    const adds = [];
    const offs = [];
    for (let run = 1; run <= opt.runs; run++) {
      const ipc = new DeviceFleet({ server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, devices: 1, password: DEVICE_PASSWORD, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 5_000 + run });
      fleets.push(ipc);
      const channelId = ipc.devices[0].channelIds[0];
      let reportedAt = null;
      ipc.on('catalog-sent', () => {
        reportedAt ??= performance.now();
      });
      await ipc.start();
      const [added] = await upper.waitForNotifyItems((n) => n.deviceId === channelId, 1, 20_000);
      adds.push({ run, event: added.event, ms: round(added.at - reportedAt, 0), loadavg1m: round(loadavg()[0], 2) });
      await sleep(1_000);
      const seen = upper.notifyItems.length;
      const t0 = performance.now();
      await ipc.stop({ unregister: true });
      const [off] = await upper.waitForNotifyItems((n) => n.deviceId === channelId && upper.notifyItems.indexOf(n) >= seen, 1, 20_000);
      offs.push({ run, event: off.event, ms: round(off.at - t0, 0) });
      log(`(b) run ${run}: ADD after ${adds.at(-1).ms} ms, ${off.event} after ${offs.at(-1).ms} ms`);
      await sleep(500);
    }
    return {
      lowerItems,
      baselineIngestMs: round(ingestMs, 0),
      baselineSingleChannelQueryMs: round(median(single), 1),
      catalog: { medianTotalMs: median(queries.map((q) => q.totalMs)), medianItems: median(queries.map((q) => q.items)), runs: queries, targetMs: TARGETS.catalogMs, met: queries.every((q) => q.complete) && median(queries.map((q) => q.totalMs)) <= TARGETS.catalogMs },
      push: {
        addMedianMs: median(adds.map((a) => a.ms)),
        addMaxMs: Math.max(...adds.map((a) => a.ms)),
        offMedianMs: median(offs.map((a) => a.ms)),
        offMaxMs: Math.max(...offs.map((a) => a.ms)),
        adds,
        offs,
        targetMs: TARGETS.pushMs,
        met: [...adds, ...offs].every((a) => a.ms <= TARGETS.pushMs),
      },
      gatewayWarnings: gw.warnings(),
    };
  } finally {
    await upper.stop();
    await Promise.allSettled(fleets.map((f) => f.stop({ unregister: false })));
    await gw.stop();
  }
}

async function videoPart() {
  const gw = await startGatewayProcess();
  // 30 s for an INVITE's final answer (the upper platform's patience): with --streams plays 8 at a time on a busy
  // machine some answers take longer than the 10 s default, and the figure should say how long, not fail.
  const upper = await UpperPlatform.start({ ...UPPER, requestTimeoutMs: 30_000 });
  let sim = null;
  const legs = [];
  try {
    sim = await startSimProcess({ fleet: { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, devices: opt.streams + 2 * opt.runs + 1, password: DEVICE_PASSWORD, keepaliveSec: 60, idPrefix: '44030600', firstSerial: 200, codec: 'h264' } });
    const channels = sim.devices.flatMap((d) => d.channelIds);
    await waitForTotal(gw, '/api/channels?kind=channel&limit=1', channels.length, 60_000);
    const lower = await addPlatform(gw, upper);
    log(`video: ${channels.length} cameras registered; loop ${JSON.stringify(sim.loops.main)}`);

    // Idle baseline window: the devices registered, no stream.
    const idleCpu0 = cpuSeconds(gw.pid);
    await sleep(5_000);
    const idleCpuPct = ((cpuSeconds(gw.pid) - idleCpu0) / 5) * 100;

    let next = opt.streams; // channels [streams, …) are for (c); [0, streams) for (d)
    const idle = [];
    const streaming = [];
    const baseline = [];
    for (let run = 1; run <= opt.runs; run++) {
      // Idle source: the gateway INVITEs the camera first.
      const a = await upper.play(lower.id, channels[next++], { transport: 'udp', keepBytes: 0 });
      const firstIdle = await a.waitForFirstPacket(15_000);
      idle.push({ run, firstPacketMs: round(firstIdle, 0), answerMs: round(a.answeredAt - a.invitedAt, 0), loadavg1m: round(loadavg()[0], 2) });
      await sleep(1_500);
      // Streaming source: a second upward leg on the same channel.
      const b = await upper.play(lower.id, a.channelId, { transport: 'udp', keepBytes: 0 });
      const firstStreaming = await b.waitForFirstPacket(15_000);
      streaming.push({ run, firstPacketMs: round(firstStreaming, 1), answerMs: round(b.answeredAt - b.invitedAt, 1) });
      await b.stop();
      await a.stop();
      // Baseline: the gateway's own live start of an idle channel (answered once the first frame is parsed).
      const t0 = performance.now();
      const local = await postJson(gw.httpUrl, `/api/channels/${channels[next++]}/play`, { transport: 'udp' }, gw.token);
      const localMs = performance.now() - t0;
      if (local.status !== 200) throw new Error(`local play → ${local.status} ${JSON.stringify(local.body)}`);
      baseline.push({ run, apiMs: round(localMs, 0) });
      await fetch(`${gw.httpUrl}/api/streams/${local.body.streamId}`, { method: 'DELETE', headers: { authorization: `Bearer ${gw.token}` } });
      log(`(c) run ${run}: idle ${idle.at(-1).firstPacketMs} ms (answer ${idle.at(-1).answerMs} ms), streaming ${streaming.at(-1).firstPacketMs} ms, baseline local play ${baseline.at(-1).apiMs} ms`);
      await sleep(500);
    }

    // (d) many upward legs at once.
    const transport = opt['media-transport'];
    const playStarted = performance.now();
    let failed = 0;
    const failures = new Map();
    for (let i = 0; i < opt.streams; i += 8) {
      const batch = channels.slice(i, Math.min(i + 8, opt.streams));
      const got = await Promise.allSettled(batch.map((c) => upper.play(lower.id, c, { transport, keepBytes: 3 * 1024 * 1024 })));
      for (const g of got) {
        if (g.status === 'fulfilled') legs.push(g.value);
        else {
          failed++;
          const why = String(g.reason?.message ?? g.reason).replace(/\d{20}/g, 'ID');
          failures.set(why, (failures.get(why) ?? 0) + 1);
        }
      }
    }
    const playMs = performance.now() - playStarted;
    await sleep(5_000);
    const snap = () => legs.reduce((s, l) => ({ packets: s.packets + l.stats.packets, lost: s.lost + l.stats.lost, bytes: s.bytes + l.stats.bytes }), { packets: 0, lost: 0, bytes: 0 });
    const before = snap();
    const gw0 = cpuSeconds(gw.pid);
    const sim0 = cpuSeconds(sim.pid);
    const self0 = selfCpuSeconds();
    const load0 = loadavg()[0];
    const samples = [];
    const windowStart = performance.now();
    let last = gw0;
    while (performance.now() - windowStart < opt['hold-sec'] * 1000) {
      await sleep(2_000);
      const now = cpuSeconds(gw.pid);
      samples.push(((now - last) / 2) * 100);
      last = now;
    }
    const seconds = (performance.now() - windowStart) / 1000;
    const after = snap();
    const gatewayCpuPct = ((cpuSeconds(gw.pid) - gw0) / seconds) * 100;
    const simCpuPct = ((cpuSeconds(sim.pid) - sim0) / seconds) * 100;
    const benchCpuPct = ((selfCpuSeconds() - self0) / seconds) * 100;
    const packets = after.packets - before.packets;
    const lost = after.lost - before.lost;
    const probes = [];
    for (const leg of legs.slice(0, 3)) {
      const p = await leg.probe();
      probes.push({ channelId: leg.channelId, codec: p.video?.codec ?? null, frames: p.video?.frames ?? 0 });
    }
    const silent = legs.filter((l) => l.stats.packets === 0).length;
    const many = {
      transport,
      legs: legs.length,
      failedPlays: failed,
      failures: Object.fromEntries(failures),
      answerMs: summary(legs.map((l) => l.answeredAt - l.invitedAt)),
      silentLegs: silent,
      playAllMs: round(playMs, 0),
      windowSec: round(seconds, 1),
      gatewayCpuPct: round(gatewayCpuPct, 1),
      gatewayCpuPctPerStream: round(gatewayCpuPct / Math.max(1, legs.length), 2),
      gatewayCpuSamples: summary(samples),
      packetsInWindow: packets,
      mbitPerSec: round(((after.bytes - before.bytes) * 8) / seconds / 1e6, 1),
      lostPackets: lost,
      lossPct: round((lost / Math.max(1, packets + lost)) * 100, 3),
      probes,
      baselineSimulatorCpuPct: round(simCpuPct, 1),
      baselineGatewayIdleCpuPct: round(idleCpuPct, 1),
      benchCpuPct: round(benchCpuPct, 1),
      loadavg1m: round(load0, 2),
    };
    log(`(d) ${JSON.stringify(many)}`);
    return {
      firstPacket: {
        idleMedianMs: median(idle.map((r) => r.firstPacketMs)),
        idleMaxMs: Math.max(...idle.map((r) => r.firstPacketMs)),
        streamingMedianMs: median(streaming.map((r) => r.firstPacketMs)),
        streamingMaxMs: Math.max(...streaming.map((r) => r.firstPacketMs)),
        baselineLocalPlayMedianMs: median(baseline.map((r) => r.apiMs)),
        idle,
        streaming,
        baseline,
        targets: { idleMs: TARGETS.idleFirstPacketMs, streamingMs: TARGETS.streamingFirstPacketMs },
      },
      many,
      loop: sim.loops.main,
      gatewayWarnings: gw.warnings(),
    };
  } finally {
    await Promise.allSettled(legs.map((l) => l.stop()));
    await upper.stop();
    await sim?.stop();
    await gw.stop();
  }
}

async function playbackPart() {
  const gw = await startGatewayProcess();
  const upper = await UpperPlatform.start({ ...UPPER, requestTimeoutMs: 30_000 });
  let sim = null;
  try {
    sim = await startSimProcess({ fleet: { server: `127.0.0.1:${gw.sipPort}`, serverId: GATEWAY_SIP_ID, devices: 2 * opt.runs, password: DEVICE_PASSWORD, keepaliveSec: 60, idPrefix: '44030600', firstSerial: 400, codec: 'h264' } });
    const channels = sim.devices.flatMap((d) => d.channelIds);
    await waitForTotal(gw, '/api/channels?kind=channel&limit=1', channels.length, 60_000);
    const lower = await addPlatform(gw, upper);
    log(`playback: ${channels.length} cameras registered; loop ${JSON.stringify(sim.loops.main)}`);
    const runs = [];
    for (let run = 1; run <= opt.runs; run++) {
      const load = loadavg()[0];
      const end = Math.floor(Date.now() / 1000) - 3600;
      const pb = await upper.playback(lower.id, channels[2 * (run - 1)], { start: end - 600, end, transport: 'udp', keepBytes: 0 });
      const firstPacketMs = await pb.waitForFirstPacket(15_000);
      const answerMs = pb.answeredAt - pb.invitedAt;
      await sleep(1_000);
      const t0 = performance.now();
      const seek = await pb.control({ method: 'PLAY', range: { start: 300 } });
      const infoMs = performance.now() - t0;
      if (seek.rtsp?.status !== 200) throw new Error(`seek from above answered ${seek.status} ${seek.body}`);
      await pb.stop();
      // Baseline: live from above on an idle channel.
      const lv = await upper.play(lower.id, channels[2 * (run - 1) + 1], { transport: 'udp', keepBytes: 0 });
      const liveFirstPacketMs = await lv.waitForFirstPacket(15_000);
      await lv.stop();
      const r = { run, firstPacketMs: round(firstPacketMs, 0), answerMs: round(answerMs, 0), infoRelayMs: round(infoMs, 1), baselineLiveFirstPacketMs: round(liveFirstPacketMs, 0), loadavg1m: round(load, 2) };
      runs.push(r);
      log(`(e) run ${run}: ${JSON.stringify(r)}`);
      await sleep(500);
    }
    return {
      firstPacketMedianMs: median(runs.map((r) => r.firstPacketMs)),
      firstPacketMaxMs: Math.max(...runs.map((r) => r.firstPacketMs)),
      answerMedianMs: median(runs.map((r) => r.answerMs)),
      infoRelayMedianMs: median(runs.map((r) => r.infoRelayMs)),
      baselineLiveFirstPacketMedianMs: median(runs.map((r) => r.baselineLiveFirstPacketMs)),
      runs,
      loop: sim.loops.main,
      gatewayWarnings: gw.warnings(),
    };
  } finally {
    await upper.stop();
    await sim?.stop();
    await gw.stop();
  }
}

const machine = machineInfo();
log(machineLine(machine));
const result = { machine, options: opt, startedAt: new Date().toISOString() };
try {
  if (opt.part === 'all' || opt.part === 'catalog') result.catalog = await catalogPart();
  if (opt.part === 'all' || opt.part === 'video') result.video = await videoPart();
  if (opt.part === 'all' || opt.part === 'playback') result.playback = await playbackPart();
} finally {
  await stopAll();
}
result.endLoadavg = loadavg();
const file = writeResult('cascade', result);
log(`result: ${file}`);
log(JSON.stringify({ catalog: result.catalog && { ...result.catalog, catalog: { ...result.catalog.catalog, runs: undefined } }, video: result.video && { firstPacket: { ...result.video.firstPacket, idle: undefined, streaming: undefined, baseline: undefined }, many: result.video.many }, playback: result.playback && { ...result.playback, runs: undefined } }, null, 1));
