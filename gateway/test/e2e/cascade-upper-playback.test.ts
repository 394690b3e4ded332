/**
 * Playback and download INVITEs from an upper platform, relayed (issue 11; docs/cascade.md "Playback and download
 * from above"): the sim upper platform INVITEs a shared channel with s=Playback (u=, t=) or s=Download
 * (a=downloadspeed); the gateway opens a device playback of its own (never the live stream), sends RTP/PS upward
 * that ffprobe decodes, relays the upper's MANSRTSP (PAUSE, PLAY with Range, Scale) to the device and the
 * device's answers back, turns the device's MediaStatus 121 into one upward, and leaves nothing behind: legs,
 * device dialogs, RTP ports and streams all return to zero. Nonsense spans are 488, MANSRTSP garbage 400, each
 * logged and counted. Everything on the wire, on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformView } from '../../src/domain/cascade/platform-service.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import type { DeviceFleetEvents } from '../../src/sim/events.js';
import { InviteRefusedError } from '../../src/protocol/gb28181/invite.js';
import { DeviceFleet, UpperPlatform, type LowerRegistration } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const UPPER_ID = '44000000002000000002';
const UPPER_DOMAIN = '4400000000';
const UPPER_PASSWORD = 'upper-playback-secret';
type Control = DeviceFleetEvents['playback-control'][0];

/** Sum of a metric's samples whose labels contain `labels`. */
function metric(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** A span of recording (Unix seconds) that ended an hour ago, `seconds` long. */
function span(seconds: number): { start: number; end: number } {
  const end = Math.floor(Date.now() / 1000) - 3600;
  return { start: end - seconds, end };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('playback and download INVITEs from an upper platform, relayed to the device', () => {
  let gw: Harness;
  let upper: UpperPlatform;
  let fleet: DeviceFleet;
  /** A camera that takes 1.5 s to answer an INVITE (the upper platform gives up first). */
  let slow: DeviceFleet;
  let lower: LowerRegistration;
  const controls: Control[] = [];
  const gwId = (): string => gw.config.sip.id;
  const channel = (i: number): string => fleet.devices[i]!.channelIds[0]!;
  const metrics = async (): Promise<string> => (await gw.api<string>('/metrics')).body;

  beforeAll(async () => {
    upper = await UpperPlatform.start({ id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, requestTimeoutMs: 15_000 });
    gw = await startHarness({
      overrides: {
        sip: { password: 'pb-devices' },
        // idleSec 5: the live stream a live leg leaves behind stops soon after (relayed playbacks stop with their leg).
        media: { host: '127.0.0.1', ports: '32600-32679', idleSec: 5, rtpTimeoutSec: 5, inviteTimeoutSec: 5 },
      },
    });
    fleet = new DeviceFleet({ server: gw.sipTarget, password: 'pb-devices', devices: 4, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 700, personalisedChannels: 0 });
    slow = new DeviceFleet({ server: gw.sipTarget, password: 'pb-devices', devices: 1, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 720, personalisedChannels: 0, inviteDelayMs: 1500 });
    fleet.on('playback-control', (c) => controls.push(c));
    await Promise.all([fleet.start(), slow.start()]);
    await Promise.all([fleet.waitForRegistered(4, 30_000), slow.waitForRegistered(1, 30_000)]);
    for (const id of [...fleet.devices.map((d) => d.channelIds[0]!), slow.devices[0]!.channelIds[0]!]) {
      await gw.waitFor(async () => ((await gw.api(`/api/channels/${id}`)).status === 200 ? true : null), 20_000, `catalog of ${id}`);
    }
    // Devices 0-2 shared; device 3 is not.
    const created = await gw.api<PlatformView>('/api/platforms', {
      body: { id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.port, transport: 'udp', password: UPPER_PASSWORD, keepaliveSec: 30, share: { channels: [channel(0), channel(1), channel(2), slow.devices[0]!.channelIds[0]!] } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    lower = await upper.waitForRegistered(gwId(), 15_000);
  }, 90_000);

  afterAll(async () => {
    await upper?.stop();
    await Promise.allSettled([fleet?.stop({ unregister: false }), slow?.stop({ unregister: false })]);
    await gw?.stop();
  });

  it('s=Playback over UDP: the device gets its own Playback INVITE with the same t=, the upper gets RTP/PS that ffprobe decodes; a live viewer is not shared', async () => {
    const s = span(300);
    // A local live viewer of the same camera first: the playback from above must not touch it.
    const live = await gw.api<StreamView>(`/api/channels/${channel(0)}/play`, { body: {} });
    expect(live.status, JSON.stringify(live.body)).toBe(200);
    const play = await upper.playback(lower.id, channel(0), { ...s, transport: 'udp' });
    expect(play.answer).toMatchObject({ host: '127.0.0.1', protocol: 'RTP/AVP', sessionName: 'Playback', timing: { start: s.start, stop: s.end } });
    expect(play.answer!.port).toBeGreaterThan(0);
    expect(play.answer!.ssrc).toMatch(/^1\d{9}$/);
    const calls = fleet.activeStreams().filter((a) => a.channelId === channel(0));
    expect(calls.map((c) => c.sessionName).sort()).toEqual(['Play', 'Playback']);
    const call = calls.find((c) => c.sessionName === 'Playback')!;
    const lines = call.offer.split(/\r\n/);
    expect(lines).toContain('s=Playback');
    expect(lines).toContain(`u=${channel(0)}:0`);
    expect(lines).toContain(`t=${s.start} ${s.end}`);
    expect(lines.find((l) => l.startsWith('y='))).toMatch(/^y=1\d{9}$/);
    await play.waitForBytes(400_000, 20_000);
    const probe = await play.probe();
    expect(probe.video, 'a video stream in the PS').not.toBeNull();
    expect(probe.video!.codec).toBe('h264');
    expect(probe.video!.frames ?? 0).toBeGreaterThan(10);
    expect(play.stats.lost).toBe(0);
    const m = await metrics();
    expect(metric(m, 'se_cascade_upward_legs', 'kind="playback"')).toBe(1);
    // The upper platform hangs up: only its playback ends at the device; the live view plays on.
    await play.stop();
    await gw.waitFor(() => (fleet.activeStreams().some((a) => a.channelId === channel(0) && a.sessionName === 'Playback') ? null : true), 10_000, 'BYE reached the device');
    expect((await gw.api<StreamView>(`/api/streams/${live.body.streamId}`)).body.state).toBe('playing');
    await gw.api(`/api/streams/${live.body.streamId}`, { method: 'DELETE' });
  }, 60_000);

  it("MANSRTSP from above reaches the device: PAUSE stops the media, PLAY Range seeks, Scale speeds up, PLAY npt=now- resumes; the device's answers come back", async () => {
    const play = await upper.playback(lower.id, channel(1), { ...span(300), transport: 'tcp-passive' });
    expect(play.answer).toMatchObject({ protocol: 'TCP/RTP/AVP', setup: 'active', sessionName: 'Playback' });
    await play.waitForBytes(200_000, 20_000);
    const atDevice = () => controls.filter((c) => c.channelId === channel(1));
    const last = () => atDevice().at(-1)!;

    const paused = await play.control({ method: 'PAUSE', pauseTime: 'now' });
    expect(paused.status).toBe(200);
    expect(paused.rtsp).toMatchObject({ status: 200, cseq: 1 });
    expect(last().request).toMatchObject({ method: 'PAUSE' });
    expect(fleet.activeStreams().find((a) => a.channelId === channel(1))?.history?.paused).toBe(true);
    // What was in flight arrives, then nothing (a paused device sends nothing; the leg is not failed for it).
    await sleep(700);
    const held = play.stats.bytes;
    await sleep(1500);
    expect(play.stats.bytes).toBe(held);

    const seek = await play.control({ method: 'PLAY', range: { start: 120 } });
    expect(seek.rtsp).toMatchObject({ status: 200, cseq: 2, range: { start: 120 } });
    expect(last().request).toMatchObject({ method: 'PLAY', range: { start: 120 } });
    await play.waitForBytes(held + 100_000, 10_000);

    const fast = await play.control({ method: 'PLAY', scale: 2 });
    expect(fast.rtsp).toMatchObject({ status: 200, scale: 2 });
    expect(last().body).toMatch(/Scale: 2\.0\r\n/);
    expect(fleet.activeStreams().find((a) => a.channelId === channel(1))?.history?.scale).toBe(2);

    await play.control({ method: 'PAUSE' });
    const resumed = await play.control({ method: 'PLAY', range: { start: 'now' } });
    expect(resumed.rtsp?.status).toBe(200);
    expect(last().body).toMatch(/^PLAY RTSP\/1\.0\r\nCSeq: \d+\r\nRange: npt=now-\r\n\r\n$/);
    const before = play.stats.bytes;
    await play.waitForBytes(before + 100_000, 10_000);

    // The picture after all that still decodes.
    const probe = await play.probe();
    expect(probe.video?.codec).toBe('h264');
    expect(probe.video?.frames ?? 0).toBeGreaterThan(10);
    await play.stop();
  }, 60_000);

  it('bad control from above: garbage is SIP 400, a Range past the span RTSP 457, an unsupported Scale RTSP 551 — logged, counted, nothing reaches the device', async () => {
    const play = await upper.playback(lower.id, channel(2), { ...span(60), transport: 'udp' });
    await play.waitForFirstPacket(15_000);
    const before = await metrics();
    const sent = controls.length;
    const garbage = await play.info('HTTP/1.1 200 OK\r\n\0\0not mansrtsp');
    expect(garbage.status).toBe(400);
    const noCseq = await play.info('PLAY RTSP/1.0\r\nRange: npt=10-\r\n\r\n');
    expect(noCseq.status).toBe(400);
    const negative = await play.info('PLAY RTSP/1.0\r\nCSeq: 9\r\nRange: npt=-5-\r\n\r\n');
    expect(negative.status).toBe(400);
    const past = await play.control({ method: 'PLAY', range: { start: 9999 } });
    expect(past.status).toBe(200);
    expect(past.rtsp).toMatchObject({ status: 457 });
    const odd = await play.control({ method: 'PLAY', scale: 3 });
    expect(odd.rtsp).toMatchObject({ status: 551 });
    expect(controls.length, 'nothing reached the device').toBe(sent);
    const after = await metrics();
    expect(metric(after, 'se_cascade_upper_refused_total', 'reason="bad-mansrtsp"') - metric(before, 'se_cascade_upper_refused_total', 'reason="bad-mansrtsp"')).toBe(3);
    expect(metric(after, 'se_cascade_upper_refused_total', 'reason="bad-range"') - metric(before, 'se_cascade_upper_refused_total', 'reason="bad-range"')).toBe(1);
    // The playback goes on.
    const bytes = play.stats.bytes;
    await play.waitForBytes(bytes + 50_000, 10_000);
    await play.stop();
  }, 45_000);

  it('end of the recording: the device\'s MediaStatus 121 goes up as a MediaStatus 121 MESSAGE in the dialog, the upper BYEs, everything is released', async () => {
    const play = await upper.playback(lower.id, channel(0), { ...span(4), transport: 'udp' });
    await play.waitForEndOfFile(20_000);
    expect(await play.waitForClosed(5_000)).toBe('bye');
    const probe = await play.probe();
    // 4 s at 25 fps; the GOP boundaries may cut a little.
    expect(probe.video?.frames ?? 0).toBeGreaterThan(75);
    await gw.waitFor(() => (fleet.activeStreams().some((a) => a.channelId === channel(0) && a.sessionName === 'Playback') ? null : true), 5_000, 'device call ended');
    await gw.waitFor(async () => (metric(await metrics(), 'se_cascade_upward_legs') === 0 ? true : null), 5_000, 'the leg is gone');
  }, 45_000);

  it('an upper platform that does not BYE after MediaStatus 121 gets our BYE', async () => {
    const play = await upper.playback(lower.id, channel(1), { ...span(3), transport: 'udp', byeOnEndOfFile: false });
    await play.waitForEndOfFile(20_000);
    expect(await play.waitForClosed(15_000)).toBe('remote-bye');
  }, 45_000);

  it('s=Download with a=downloadspeed:4 over TCP active: the device gets the speed, the answer says s=Download, the whole span arrives fast and ends with 121', async () => {
    const s = span(12);
    const t0 = performance.now();
    const play = await upper.playback(lower.id, channel(2), { ...s, mode: 'Download', downloadSpeed: 4, transport: 'tcp-active' });
    expect(play.answer).toMatchObject({ protocol: 'TCP/RTP/AVP', setup: 'passive', sessionName: 'Download' });
    expect(play.answer!.attributes).toEqual(expect.arrayContaining([['downloadspeed', '4']]));
    const call = fleet.activeStreams().find((a) => a.channelId === channel(2) && a.sessionName === 'Download')!;
    expect(call.offer.split(/\r\n/)).toEqual(expect.arrayContaining(['s=Download', `t=${s.start} ${s.end}`, 'a=downloadspeed:4']));
    await play.waitForEndOfFile(20_000);
    // 12 s of recording at 4× take about 3 s.
    expect(performance.now() - t0).toBeLessThan(9_000);
    const probe = await play.probe();
    expect(probe.video?.codec).toBe('h264');
    expect(probe.video?.frames ?? 0).toBeGreaterThan(260);
    await play.waitForClosed(5_000);
  }, 45_000);

  it('nonsense from above is refused before anything opens: unshared 404; backwards, future, absent or huge t= 488; bad downloadspeed 488; a live stream is not controllable', async () => {
    const before = await metrics();
    const callsBefore = fleet.activeStreams().length;
    const refused = async (channelId: string, opts: Parameters<UpperPlatform['playback']>[2]): Promise<number> => {
      try {
        const p = await upper.playback(lower.id, channelId, opts);
        await p.stop();
        return 200;
      } catch (err) {
        if (err instanceof InviteRefusedError) return err.status;
        throw err;
      }
    };
    const s = span(60);
    const now = Math.floor(Date.now() / 1000);
    expect(await refused(channel(3), s)).toBe(404);
    expect(await refused(channel(0), { start: s.end, end: s.start })).toBe(488);
    expect(await refused(channel(0), { start: now + 3600, end: now + 7200 })).toBe(488);
    expect(await refused(channel(0), { start: s.start - 3 * 86_400, end: s.end })).toBe(488);
    expect(await refused(channel(0), { ...s, rewriteOffer: (sdp) => sdp.replace(/^t=.*$/m, 't=0 0') })).toBe(488);
    expect(await refused(channel(0), { ...s, rewriteOffer: (sdp) => sdp.replace(/^t=.*$/m, 't=99999999999999999999 1') })).toBe(488);
    expect(await refused(channel(0), { ...s, rewriteOffer: (sdp) => sdp.replace(/^t=.*$/m, 't=abc def') })).toBe(488);
    expect(await refused(channel(0), { ...s, mode: 'Download', downloadSpeed: 3 })).toBe(488);
    expect(await refused(channel(0), { ...s, rewriteOffer: (sdp) => sdp.replace(/^s=.*$/m, 's=Rewind') })).toBe(488);
    expect(await refused(channel(0), { ...s, rewriteOffer: (sdp) => sdp.replace(/^u=.*$/m, `u=${channel(1)}:0`) })).toBe(488);
    expect(fleet.activeStreams().length, 'no INVITE reached a device').toBe(callsBefore);
    const after = await metrics();
    expect(metric(after, 'se_cascade_upper_refused_total', 'reason="unshared"') - metric(before, 'se_cascade_upper_refused_total', 'reason="unshared"')).toBe(1);
    expect(metric(after, 'se_cascade_upper_refused_total', 'reason="bad-range"') - metric(before, 'se_cascade_upper_refused_total', 'reason="bad-range"')).toBe(6);
    expect(metric(after, 'se_cascade_upper_refused_total', 'reason="bad-speed"') - metric(before, 'se_cascade_upper_refused_total', 'reason="bad-speed"')).toBe(1);

    // MANSRTSP in a live leg: RTSP 455, the live stream untouched.
    const live = await upper.play(lower.id, channel(0), { transport: 'udp' });
    await live.waitForFirstPacket(15_000);
    const answer = await live.info('PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: now\r\n\r\n').catch((err: unknown) => err as Error);
    expect(answer).toMatchObject({ status: 200, rtsp: { status: 455 } });
    await live.stop();
  }, 60_000);

  it('an upper platform that gives up (CANCEL) while the camera is still answering leaves nothing behind', async () => {
    const slowChannel = slow.devices[0]!.channelIds[0]!;
    const started = new Promise<void>((resolve) => slow.on('media-started', (e) => (e.channelId === slowChannel ? resolve() : undefined)));
    const attempt = await upper.playback(lower.id, slowChannel, { ...span(60), transport: 'udp', inviteTimeoutMs: 500 }).then(
      () => 'answered',
      (err: unknown) => (err as Error).constructor.name,
    );
    expect(attempt).toBe('InviteTimeoutError');
    // The camera answers later and starts sending; the gateway then lets go of it at once (BYE to the camera).
    await started;
    await gw.waitFor(() => (slow.activeStreams().length === 0 ? true : null), 10_000, 'the camera got its BYE');
    await gw.waitFor(async () => (metric(await metrics(), 'se_streams_active') === 0 && metric(await metrics(), 'se_cascade_upward_legs') === 0 ? true : null), 10_000, 'no stream, no leg');
  }, 30_000);

  it('nothing leaks: legs, device dialogs, RTP ports and streams are back to zero', async () => {
    const counts = async () => {
      const m = await metrics();
      return {
        legs: metric(m, 'se_cascade_upward_legs'),
        dialogs: metric(m, 'se_media_dialogs'),
        ports: metric(m, 'se_media_ports_in_use'),
        streams: metric(m, 'se_streams_active'),
        deviceCalls: fleet.activeStreams().length + slow.activeStreams().length,
      };
    };
    // The live stream of the last test stops by the idle rule (media.idleSec); everything else is gone already.
    await gw.waitFor(async () => (Object.values(await counts()).every((n) => n === 0) ? true : null), 20_000, 'everything released').catch(() => undefined);
    expect(await counts()).toEqual({ legs: 0, dialogs: 0, ports: 0, streams: 0, deviceCalls: 0 });
  }, 30_000);
});
