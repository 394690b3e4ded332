/**
 * The simulator's upper platform (`sharp-eyes sim --upper`, sim/upper-platform.ts) above a real gateway with
 * simulated GB devices: the gateway registers with it (digest), keeps alive, answers its Catalog query in full,
 * NOTIFYs new devices to its subscription, and sends it live RTP/PS that ffprobe decodes. A BYE from it ends
 * only its own leg. Everything on the wire, on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformView } from '../../src/domain/cascade/platform-service.js';
import { classifyCatalogItem } from '../../src/codecs/manscdp/messages.js';
import { DeviceFleet, UpperPlatform, type LowerRegistration } from '../../src/sim/index.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { startGstRtspServer } from '../support/gst-rtsp.js';

const UPPER_ID = '44000000002000000001';
const UPPER_DOMAIN = '4400000000';
const UPPER_PASSWORD = 'upper-secret-sim';

describe('sim upper platform above a gateway with simulated devices', () => {
  let gw: Harness;
  let upper: UpperPlatform;
  let fleet: DeviceFleet;
  let late: DeviceFleet | null = null;
  let lower: LowerRegistration;
  const gwId = (): string => gw.config.sip.id;

  beforeAll(async () => {
    upper = await UpperPlatform.start({ id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD });
    gw = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    // Two IPCs and an NVR with 4 channels.
    fleet = new DeviceFleet({ server: gw.sipTarget, password: 'lower-devices', devices: 3, nvrEvery: 3, channelsPerNvr: 4, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 900 });
    await fleet.start();
    await fleet.waitForRegistered(3, 30_000);
    const expected = fleet.devices.flatMap((d) => d.channelIds).length;
    await gw.waitFor(async () => ((await gw.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= expected ? true : null), 30_000, 'device catalogs');
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([fleet?.stop({ unregister: false }), late?.stop({ unregister: false })]);
    await gw?.stop();
    await upper?.stop();
  });

  it('a wrong password is refused by the sim upper and shown as auth-failed', async () => {
    const created = await gw.api<PlatformView>('/api/platforms', {
      body: { id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.port, transport: 'udp', password: 'not-it', keepaliveSec: 5, share: { all: true } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const failed = await gw.waitFor(async () => {
      const p = (await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body;
      return p.status === 'auth-failed' ? p : null;
    }, 15_000, 'auth-failed');
    expect(failed.lastError).toMatch(/403/);
    expect(upper.stats.registersRefused).toBeGreaterThan(0);
    expect(upper.lowers.size).toBe(0);
  }, 30_000);

  it('with the right password: online in GET /api/platforms, registered at the sim upper, keepalives answered', async () => {
    expect((await gw.api(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { password: UPPER_PASSWORD } })).status).toBe(200);
    lower = await upper.waitForRegistered(gwId(), 15_000);
    expect(lower.source.transport).toBe('udp');
    const list = await gw.waitFor(async () => {
      const r = await gw.api<{ items: PlatformView[] }>('/api/platforms');
      return r.body.items.find((p) => p.id === UPPER_ID)?.status === 'online' ? r.body.items : null;
    }, 15_000, 'online');
    expect(list.map((p) => [p.id, p.status])).toEqual([[UPPER_ID, 'online']]);
    expect(upper.stats.registerChallenges).toBeGreaterThan(0);
    // A keepalive every 5 s: the sim upper counts it, and the gateway records the answer.
    await gw.waitFor(async () => ((await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.lastKeepaliveAt !== null ? true : null), 15_000, 'keepalive answered');
    expect(upper.lowers.get(gwId())!.keepalives).toBeGreaterThan(0);
  }, 45_000);

  it('the Catalog query from above is answered in full: every channel, under the region tree', async () => {
    const catalog = await upper.queryCatalog(gwId());
    expect(catalog.complete).toBe(true);
    expect(catalog.items).toHaveLength(catalog.sumNum);
    const channels = catalog.items.filter((i) => classifyCatalogItem(i) === 'channel').map((i) => i.deviceId).sort();
    expect(channels).toEqual(fleet.devices.flatMap((d) => d.channelIds).sort());
    // Regions above them (44 → 4403 → 440306), each under its parent level.
    const byId = new Map(catalog.items.map((i) => [i.deviceId, i]));
    expect(byId.get('440306')?.parentIds).toEqual(['4403']);
    expect(catalog.parts).toBeGreaterThan(0);
  }, 30_000);

  it('a Catalog SUBSCRIBE from above gets a NOTIFY with ADD items when a new device arrives', async () => {
    const sub = await upper.subscribeCatalog(gwId(), 600);
    expect(sub.expires).toBe(600);
    late = new DeviceFleet({ server: gw.sipTarget, password: 'lower-devices', devices: 1, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 950 });
    await late.start();
    await late.waitForRegistered(1, 30_000);
    const newChannel = late.devices[0]!.channelIds[0]!;
    const [added] = await upper.waitForNotifyItems((n) => n.deviceId === newChannel, 1, 20_000);
    expect(added!.event).toBe('ADD');
  }, 45_000);

  it('INVITE from above over UDP and TCP passive: RTP/PS that ffprobe decodes; a BYE ends only its own leg', async () => {
    const channelId = fleet.devices[0]!.channelIds[0]!;
    const udp = await upper.play(gwId(), channelId, { transport: 'udp' });
    const tcp = await upper.play(gwId(), channelId, { transport: 'tcp-passive' });
    expect(udp.answer).toMatchObject({ host: '127.0.0.1', protocol: 'RTP/AVP' });
    expect(udp.answer!.port).toBeGreaterThan(0);
    expect(udp.answer!.ssrc).toMatch(/^\d{10}$/);
    expect(tcp.answer).toMatchObject({ protocol: 'TCP/RTP/AVP', setup: 'active' });
    await Promise.all([udp.waitForBytes(400_000, 20_000), tcp.waitForBytes(400_000, 20_000)]);
    for (const play of [udp, tcp]) {
      const probe = await play.probe();
      expect(probe.video, 'a video stream in the PS').not.toBeNull();
      expect(probe.video!.codec).toBe('h264');
      expect(probe.video!.frames ?? 0).toBeGreaterThan(10);
    }
    expect(udp.stats.lost).toBe(0);
    // One source stream at the gateway, both legs its viewers; the camera streams once.
    expect(fleet.mediaStats.activeStreams).toBe(1);
    await udp.stop();
    const after = tcp.stats.bytes;
    await tcp.waitForBytes(after + 100_000, 10_000);
    expect(udp.closed).toBe('bye');
    expect(tcp.closed).toBeNull();
    expect(fleet.mediaStats.activeStreams).toBe(1);
    await tcp.stop();
    // The last leg gone: the gateway stops the source (its BYE to the camera).
    await gw.waitFor(() => (fleet.mediaStats.activeStreams === 0 ? true : null), 20_000, 'the camera stream stopped');
  }, 60_000);

  it('an INVITE from above for an idle channel is answered at its first key frame, before the HLS has a segment', async () => {
    // The simulated camera starts every call with a key frame and sends the next one a GOP (1 s) later; the
    // HLS segment closes only with that second key frame. So a 200 OK sent at the first key frame comes a GOP
    // before the stream is `playing` — an ordering of events, not a timing guess.
    const channelId = fleet.devices[2]!.channelIds[1]!;
    const play = await upper.play(gwId(), channelId, { transport: 'udp' });
    const answeredAt = Date.now();
    const streams = (await gw.api<{ items: StreamView[] }>('/api/streams')).body.items.filter((s) => s.channelId === channelId);
    expect(streams).toHaveLength(1);
    const stream = streams[0]!;
    await play.waitForBytes(200_000, 20_000);
    const playing = await gw.waitFor(async () => {
      const v = (await gw.api<StreamView>(`/api/streams/${stream.streamId}`)).body;
      return v.timeToFirstFrameMs !== null ? v : null;
    }, 20_000, 'the stream playing');
    expect(answeredAt, 'the 200 OK came before the first HLS segment').toBeLessThan(playing.startedAt + playing.timeToFirstFrameMs!);
    expect((await play.probe()).video?.codec).toBe('h264');
    await play.stop();
  }, 45_000);

  it('INVITE from above over TCP active (we dial the port of the answer) and without y= (the gateway picks the SSRC)', async () => {
    const channelId = fleet.devices[1]!.channelIds[0]!;
    const play = await upper.play(gwId(), channelId, { transport: 'tcp-active', ssrc: null });
    expect(play.answer).toMatchObject({ protocol: 'TCP/RTP/AVP', setup: 'passive' });
    expect(play.answer!.ssrc).toMatch(/^\d{10}$/);
    await play.waitForBytes(300_000, 20_000);
    const probe = await play.probe();
    expect(probe.video?.frames ?? 0).toBeGreaterThan(5);
    await play.stop();
  }, 45_000);
  it('an RTSP camera (GStreamer RTSP server, added through the API) goes upward exactly like a GB channel', async () => {
    const gst = await startGstRtspServer();
    try {
      const added = await gw.api<{ id: string; channels: { id: string }[] }>('/api/devices', { body: { protocol: 'rtsp', url: gst.url('/h264-aac'), name: 'RTSP 上级回传', civilCode: '44030600' } });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      const channelId = added.body.channels[0]!.id;
      // It is in what the upper platform sees (share all), with a 20-digit ID of the plan like any channel.
      const catalog = await upper.queryCatalog(gwId());
      expect(catalog.items.map((i) => i.deviceId)).toContain(channelId);
      // The wall watches it first (GStreamer's pipeline starts on the first DESCRIBE, slowly on a loaded machine;
      // a local play names the step if that fails); the upper leg then shares the running source, as with GB.
      const local = await gw.api<StreamView & { message?: string }>(`/api/channels/${channelId}/play`, { body: {} });
      expect(local.status, JSON.stringify(local.body)).toBe(200);
      const play = await upper.play(gwId(), channelId, { transport: 'udp' });
      expect(play.answer!.port).toBeGreaterThan(0);
      await play.waitForBytes(200_000, 20_000);
      const probe = await play.probe();
      expect(probe.video?.codec).toBe('h264');
      expect(probe.video?.frames ?? 0).toBeGreaterThan(5);
      await play.stop();
      expect(play.closed).toBe('bye');
      // The BYE ended only the upper leg: the wall's viewer still has its stream.
      expect((await gw.api<StreamView>(`/api/streams/${local.body.streamId}`)).body.state).toBe('playing');
      await gw.api(`/api/devices/${added.body.id}`, { method: 'DELETE' });
    } finally {
      await gst.stop();
    }
  }, 60_000);

  it('over a TCP link the catalog goes in far fewer parts (no MTU to respect; parts are serial, so this is the WAN time)', async () => {
    const overUdp = await upper.queryCatalog(gwId());
    expect(overUdp.complete).toBe(true);
    expect(overUdp.parts, 'UDP parts stay under ~1,300 bytes').toBeGreaterThan(1);
    const r = await gw.api(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { transport: 'tcp' } });
    expect(r.status).toBe(200);
    await gw.waitFor(() => (upper.lowers.get(gwId())?.source.transport === 'tcp' ? true : null), 20_000, 'registered again over TCP');
    await gw.waitFor(async () => ((await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.status === 'online' ? true : null), 20_000, 'online over TCP');
    const overTcp = await upper.queryCatalog(gwId());
    expect(overTcp.complete).toBe(true);
    expect(overTcp.items.map((i) => i.deviceId).sort()).toEqual(overUdp.items.map((i) => i.deviceId).sort());
    expect(overTcp.parts, `${overTcp.items.length} items in one part over TCP`).toBe(1);
  }, 60_000);

  it('PTZ from above takes the same lease as local operators: refused while a local admin holds the camera, relayed once it is free, taken back by a higher local role', async () => {
    const channelId = fleet.devices[0]!.channelIds[0]!;
    const LEFT = 'A50F0102004000F7';
    const RIGHT = 'A50F0101004000F6';
    // The API token (admin) steers the camera: it holds the lease.
    const local = await gw.api<{ lease: { holder: string } }>(`/api/channels/${channelId}/ptz`, { body: { action: 'preset', operation: 'call', preset: 3 } });
    expect(local.status, JSON.stringify(local.body)).toBe(200);
    await gw.waitFor(() => (fleet.ptzLog(channelId).some((e) => e.command?.kind === 'preset') ? true : null), 10_000, 'the local preset at the camera');
    const before = fleet.ptzLog(channelId).length;
    // From above (the platform ranks as cascade.ptzRole = operator, below the admin): answered 200 (GB 9.3.1), not relayed.
    expect(await upper.ptz(gwId(), channelId, LEFT)).toBe(200);
    const leaseHeld = async (): Promise<number> => {
      const text = (await gw.api<string>('/metrics')).body;
      return Number(/^se_cascade_ptz_total\{outcome="lease-held"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    await gw.waitFor(async () => ((await leaseHeld()) >= 1 ? true : null), 10_000, 'counted as lease-held');
    expect((await gw.api<{ lease: { holder: string } }>(`/api/channels/${channelId}/ptz/lease`)).body.lease.holder).toBe(local.body.lease.holder);
    // The admin lets go; the platform's next command goes through and makes it the holder.
    expect((await gw.api(`/api/channels/${channelId}/ptz/lease`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect(await upper.ptz(gwId(), channelId, RIGHT)).toBe(200);
    const log = await gw.waitFor(() => (fleet.ptzLog(channelId).some((e) => e.hex === RIGHT) ? fleet.ptzLog(channelId) : null), 10_000, 'the platform\'s command at the camera');
    expect(log.slice(before).map((e) => e.hex)).not.toContain(LEFT);
    const held = (await gw.api<{ lease: { holder: string; role: string } }>(`/api/channels/${channelId}/ptz/lease`)).body.lease;
    expect(held).toMatchObject({ holder: `platform:${UPPER_ID}`, role: 'operator' });
    // The local admin outranks it and takes the camera back.
    const back = await gw.api<{ takenOverFrom: { holder: string } | null }>(`/api/channels/${channelId}/ptz`, { body: { action: 'stop' } });
    expect(back.body.takenOverFrom).toMatchObject({ holder: `platform:${UPPER_ID}` });
    await gw.api(`/api/channels/${channelId}/ptz/lease`, { method: 'DELETE' });
  }, 45_000);

  it('a MobilePosition SUBSCRIBE from above is honoured: positions of shared channels NOTIFYed in its dialog at its interval', async () => {
    const [first, second] = [fleet.devices[0]!.channelIds[0]!, fleet.devices[1]!.channelIds[0]!];
    // For our ID (every shared channel), 1-second interval; and one for a single channel.
    const all = await upper.subscribeMobilePosition(gwId(), gwId(), 600, 1);
    expect(all).toEqual({ status: 200, expires: 600 });
    const one = await upper.subscribeMobilePosition(gwId(), second, 600, 1);
    expect(one.status).toBe(200);
    await gw.waitFor(async () => ((await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.subscriptions.includes('MobilePosition') ? true : null), 10_000, 'listed');
    // An IPC reports where it is (MESSAGE Notify MobilePosition, 2016 flat form).
    expect(await fleet.reportPosition(fleet.devices[0]!.id, { longitude: 113.9305, latitude: 22.5333, speed: 36, direction: 90 })).toBe(200);
    const [p] = await upper.waitForPositions((x) => x.deviceId === first, 1, 10_000);
    expect(p).toMatchObject({ deviceId: first, longitude: 113.9305, latitude: 22.5333, speed: 36, direction: 90 });
    expect(p!.subscriptionState).toMatch(/^active;expires=\d+/);
    // The other channel: once through the gateway-wide subscription and once through its own.
    expect(await fleet.reportPosition(fleet.devices[1]!.id, { longitude: 114.05, latitude: 22.54 })).toBe(200);
    const seconds = await upper.waitForPositions((x) => x.deviceId === second, 2, 10_000);
    expect(seconds.map((x) => x.longitude)).toEqual([114.05, 114.05]);
    // Nothing new reported: nothing repeated at the next intervals; a new report is sent at the next one.
    const sofar = upper.positions.length;
    expect(await fleet.reportPosition(fleet.devices[0]!.id, { longitude: 113.94, latitude: 22.53 })).toBe(200);
    await upper.waitForPositions((x) => x.deviceId === first && x.longitude === 113.94, 1, 10_000);
    expect(upper.positions.slice(sofar).map((x) => x.deviceId)).toEqual([first]);
    // Unsubscribe (Expires 0): no longer listed once both are gone.
    expect((await upper.subscribeMobilePosition(gwId(), gwId(), 0)).status).toBe(200);
    expect((await upper.subscribeMobilePosition(gwId(), second, 0)).status).toBe(200);
    await gw.waitFor(async () => (!(await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.subscriptions.includes('MobilePosition') ? true : null), 10_000, 'unlisted');
  }, 45_000);
});
