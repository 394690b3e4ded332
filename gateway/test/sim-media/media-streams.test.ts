/**
 * Simulated cameras answer INVITE and stream real video as PS over RTP: UDP, TCP passive, TCP active; main
 * and sub-stream; H.264 and H.265; G.711A audio; BYE, re-INVITE, stop-sending, hang-up; SSRC 0 and answers
 * without SDP. A small test platform (real SIP stack, the gateway's INVITE dialogs) receives the packets and
 * ffprobe says what the PS bytes are. Loops are 2 s long to keep the one-time encodes cheap; they are cached
 * across runs in a test cache directory.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet, type DeviceFleetOptions } from '../../src/sim/index.js';
import { parseSdp } from '../../src/codecs/sdp/sdp.js';
import { PsDemuxer } from '../../src/codecs/ps/ps-demuxer.js';
import { openReceiver, playOffer, probePs, TestPlatform, waitUntil, type MediaReceiver, type OfferTransport } from './test-platform.js';
import type { InviteDialog } from '../../src/protocol/gb28181/invite.js';
import type { SubstreamAttribute } from '../../src/codecs/sdp/sdp.js';

const CACHE_DIR = join(tmpdir(), 'sharp-eyes-sim-media-test');
/** About 1.5 s of video: enough for ffprobe to see a keyframe and its size. */
const CAPTURE_PACKETS = 150;

function fleetOptions(platform: TestPlatform, extra: Partial<DeviceFleetOptions>): DeviceFleetOptions {
  return {
    server: platform.server,
    password: 'unused',
    keepaliveSec: 600,
    mediaLoopSeconds: 2,
    mediaCacheDir: CACHE_DIR,
    personalisedChannels: 1,
    ...extra,
  };
}

interface Call {
  dialog: InviteDialog;
  receiver: MediaReceiver;
  ssrc: string;
}

let ssrcCounter = 0;
const nextSsrc = (): string => `02000${String(++ssrcCounter).padStart(5, '0')}`;

async function play(
  platform: TestPlatform,
  deviceId: string,
  channelId: string,
  transport: OfferTransport,
  substream?: { attribute: SubstreamAttribute; value: string },
): Promise<Call> {
  const receiver = await openReceiver(transport);
  const ssrc = nextSsrc();
  const dialog = await platform.invite(deviceId, channelId, playOffer({ transport, port: receiver.port, ssrc, substream }), `${channelId}:${ssrc},44030500002000000001:0`);
  if (transport === 'tcp-active') {
    const answer = parseSdp(dialog.answerSdp ?? '');
    expect(answer.setup).toBe('passive');
    await receiver.connect(answer.connection, answer.media.port);
  }
  return { dialog, receiver, ssrc };
}

async function hangUpAndClose(platform: TestPlatform, call: Call): Promise<void> {
  await platform.bye(call.dialog);
  await call.receiver.close();
}

describe('simulated cameras stream PS over RTP', () => {
  let platform: TestPlatform;
  let fleet: DeviceFleet;
  let ipc: string;
  let nvrChannel: string;
  let nvr: string;

  beforeAll(async () => {
    platform = await TestPlatform.start();
    // Device 0: an IPC; device 1: an NVR with two channels.
    fleet = new DeviceFleet(fleetOptions(platform, { devices: 2, nvrEvery: 2, channelsPerNvr: 2, codec: 'h264', audio: 'g711a' }));
    await fleet.prepareMedia();
    await fleet.start();
    await fleet.waitForRegistered(2, 10_000);
    ipc = fleet.devices[0]!.id;
    nvr = fleet.devices[1]!.id;
    nvrChannel = fleet.devices[1]!.channelIds[1]!;
  });

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await platform?.close();
  });

  it('UDP main stream: 200 OK with SDP, H.264 1280x720 + G.711A, SSRC from y=, PT 96, ≤1400-byte payloads, marker per pack; BYE stops it', async () => {
    const call = await play(platform, ipc, ipc, 'udp');
    const answer = parseSdp(call.dialog.answerSdp ?? '');
    expect(answer).toMatchObject({ sessionName: 'Play', direction: 'sendonly', ssrc: call.ssrc, connection: '127.0.0.1' });
    expect(answer.media).toMatchObject({ type: 'video', protocol: 'RTP/AVP', formats: [96] });
    expect(answer.rtpmap[96]).toBe('PS/90000');
    expect(answer.f).toMatch(/^v\/2\/5\/25\/2\/\d+a\/1\/8\/1$/);
    expect(call.dialog.remoteTarget).toContain(ipc);

    await call.receiver.collector.waitForPackets(CAPTURE_PACKETS, 5_000);
    const packets = call.receiver.collector.packets;
    expect(new Set(packets.map((p) => p.ssrc))).toEqual(new Set([Number(call.ssrc)]));
    expect(packets.every((p) => p.payloadType === 96 && p.payload.length <= 1400)).toBe(true);
    // Sequence numbers count up by one (mod 2^16).
    expect(packets.slice(1).every((p, i) => p.sequence === ((packets[i]!.sequence + 1) & 0xffff))).toBe(true);
    // The marker closes every PS pack: the packet after a marked one starts a pack header.
    packets.forEach((p, i) => {
      if (p.marker && i + 1 < packets.length) expect(packets[i + 1]!.payload.subarray(0, 4).toString('hex')).toBe('000001ba');
    });
    expect(packets[0]!.payload.subarray(0, 4).toString('hex')).toBe('000001ba');

    const streams = await probePs(call.receiver.collector.psBytes());
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });

    // Our own demuxer reads the PSM: G.711A audio in 20 ms (160-byte) frames next to the video.
    const demuxer = new PsDemuxer();
    const frames = demuxer.push(call.receiver.collector.psBytes());
    expect(demuxer.streams).toEqual({ video: 'h264', audio: 'g711a' });
    const audio = frames.filter((f) => f.kind === 'audio');
    expect(audio.length).toBeGreaterThan(10);
    expect(audio.every((f) => f.data.length === 160)).toBe(true);
    // PTS is the wall clock in 90 kHz units (the latency contract of media-sender.ts).
    const firstVideo = frames.find((f) => f.kind === 'video')!;
    const info = fleet.activeStreams().find((s) => s.callId === call.dialog.callId)!;
    expect(info).toMatchObject({ transport: 'udp', profile: 'main', state: 'streaming', width: 1280, height: 720, personalised: true });
    expect(firstVideo.pts90k).toBe(Math.round(info.loopEpochMs! * 90) % 2 ** 33);
    expect(fleet.mediaStats.activeStreams).toBe(1);

    await platform.bye(call.dialog);
    expect(fleet.activeStreams()).toHaveLength(0);
    const afterBye = call.receiver.collector.packets.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(call.receiver.collector.packets.length).toBe(afterBye);
    await call.receiver.close();
  });

  it('UDP sub-stream selected by a=streamnumber:1 on an NVR channel is 640x360', async () => {
    const call = await play(platform, nvr, nvrChannel, 'udp', { attribute: 'streamnumber', value: '1' });
    expect(parseSdp(call.dialog.answerSdp ?? '').attributes).toContainEqual(['streamnumber', '1']);
    await call.receiver.collector.waitForPackets(60, 5_000);
    const streams = await probePs(call.receiver.collector.psBytes());
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    // Only the first channel of the fleet is personalised here.
    expect(fleet.activeStreams()[0]).toMatchObject({ channelId: nvrChannel, deviceId: nvr, profile: 'sub', personalised: false });
    await hangUpAndClose(platform, call);
  });

  it('TCP passive offer: the camera connects to the platform and sends RFC 4571 frames (a=streamMode:SUB)', async () => {
    const call = await play(platform, ipc, ipc, 'tcp-passive', { attribute: 'streamMode', value: 'SUB' });
    const answer = parseSdp(call.dialog.answerSdp ?? '');
    expect(answer.media.protocol).toBe('TCP/RTP/AVP');
    expect(answer).toMatchObject({ setup: 'active', connectionAttr: 'new' });
    await call.receiver.collector.waitForPackets(60, 5_000);
    const streams = await probePs(call.receiver.collector.psBytes());
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    await hangUpAndClose(platform, call);
  });

  it('TCP active offer: the camera listens on the port in its answer and the platform connects (main stream)', async () => {
    const call = await play(platform, ipc, ipc, 'tcp-active');
    await call.receiver.collector.waitForPackets(CAPTURE_PACKETS, 5_000);
    const streams = await probePs(call.receiver.collector.psBytes());
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(fleet.activeStreams()[0]).toMatchObject({ transport: 'tcp-active', state: 'streaming' });
    await hangUpAndClose(platform, call);
  });

  it('a new INVITE with the same Subject replaces the running call', async () => {
    const first = await play(platform, ipc, ipc, 'udp');
    await first.receiver.collector.waitForPackets(5, 5_000);
    const stopped = new Promise<string>((resolve) => fleet.once('media-stopped', (e) => resolve(`${e.callId} ${e.reason}`)));
    const receiver = await openReceiver('udp');
    const subject = `${ipc}:${first.ssrc},44030500002000000001:0`;
    const dialog = await platform.invite(ipc, ipc, playOffer({ transport: 'udp', port: receiver.port, ssrc: first.ssrc }), subject);
    expect(await stopped).toBe(`${first.dialog.callId} replaced`);
    await receiver.collector.waitForPackets(5, 5_000);
    expect(fleet.activeStreams().map((s) => s.callId)).toEqual([dialog.callId]);
    await platform.bye(dialog);
    await receiver.close();
    await first.receiver.close();
  });

  it('stopSending() silences a camera without BYE, resumeSending() restarts it at a keyframe; hangUp() sends BYE', async () => {
    const call = await play(platform, ipc, ipc, 'udp');
    const collector = call.receiver.collector;
    await collector.waitForPackets(5, 5_000);
    expect(fleet.stopSending(ipc)).toBe(1);
    expect(fleet.activeStreams()[0]!.state).toBe('stopped-sending');
    await new Promise((r) => setTimeout(r, 100));
    const silentFrom = collector.packets.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(collector.packets.length).toBe(silentFrom);

    expect(fleet.resumeSending(ipc)).toBe(1);
    await collector.waitForPackets(silentFrom + 1, 3_000);
    // The first pack after resuming is a keyframe pack: pack header, system header (0xBB) and PSM (0xBC).
    const resumed = collector.packets[silentFrom]!.payload;
    expect(resumed.subarray(0, 4).toString('hex')).toBe('000001ba');
    expect(resumed.includes(Buffer.from([0, 0, 1, 0xbc]))).toBe(true);

    expect(await fleet.hangUp(ipc)).toBe(1);
    expect(platform.byesReceived).toContain(call.dialog.callId);
    expect(fleet.activeStreams()).toHaveLength(0);
    await call.receiver.close();
  });

  it('refuses an INVITE for the NVR itself (404) and an offer without PS (488)', async () => {
    const receiver = await openReceiver('udp');
    await expect(platform.invite(nvr, nvr, playOffer({ transport: 'udp', port: receiver.port, ssrc: nextSsrc() }), 'x:1,y:0')).rejects.toMatchObject({
      status: 404,
    });
    const noPs = playOffer({ transport: 'udp', port: receiver.port, ssrc: nextSsrc() })
      .replace('m=video ' + receiver.port + ' RTP/AVP 96 97 98 100', 'm=video ' + receiver.port + ' RTP/AVP 98')
      .replace(/a=rtpmap:96 PS\/90000\r\n/, '');
    await expect(platform.invite(ipc, ipc, noPs, 'x:2,y:0')).rejects.toMatchObject({ status: 488 });
    await receiver.close();
  });
});

describe('H.265 camera with SSRC 0 that answers without SDP', () => {
  let platform: TestPlatform;
  let fleet: DeviceFleet;

  beforeAll(async () => {
    platform = await TestPlatform.start();
    fleet = new DeviceFleet(
      fleetOptions(platform, { devices: 1, codec: 'h265', zeroSsrc: true, answerWithoutSdp: true, personalisedChannels: 0, stopSendingAfterMs: 1_500 }),
    );
    await fleet.prepareMedia({ profiles: ['main'] });
    await fleet.start();
    await fleet.waitForRegistered(1, 10_000);
  });

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await platform?.close();
  });

  it('streams hevc 1280x720 with SSRC 0 after a 200 OK without body, and stops sending after stopSendingAfterMs', async () => {
    const id = fleet.devices[0]!.id;
    const call = await play(platform, id, id, 'udp');
    expect(call.dialog.answerSdp).toBeNull();
    await call.receiver.collector.waitForPackets(CAPTURE_PACKETS, 5_000);
    expect(new Set(call.receiver.collector.packets.map((p) => p.ssrc))).toEqual(new Set([0]));
    const streams = await probePs(call.receiver.collector.psBytes());
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'hevc', width: 1280, height: 720 });
    expect(streams.some((s) => s.codec_type === 'audio')).toBe(false);

    await waitUntil(() => fleet.activeStreams()[0]?.state === 'stopped-sending', 3_000, () => 'stream never stopped sending');
    await new Promise((r) => setTimeout(r, 100));
    const silentFrom = call.receiver.collector.packets.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(call.receiver.collector.packets.length).toBe(silentFrom);
    await hangUpAndClose(platform, call);
  });
});

describe('a slow camera (inviteDelayMs)', () => {
  let platform: TestPlatform;
  let fleet: DeviceFleet;
  let id: string;

  beforeAll(async () => {
    platform = await TestPlatform.start();
    fleet = new DeviceFleet(fleetOptions(platform, { devices: 1, inviteDelayMs: 1_000, personalisedChannels: 0 }));
    await fleet.prepareMedia({ personalised: false });
    await fleet.start();
    await fleet.waitForRegistered(1, 10_000);
    id = fleet.devices[0]!.id;
  });

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await platform?.close();
  });

  it('sends 100 Trying, answers after the delay, and a CANCEL before that ends the call with 487', async () => {
    const receiver = await openReceiver('udp');
    const stopped = new Promise<string>((resolve) => fleet.once('media-stopped', (e) => resolve(e.reason)));
    // The platform gives up after 300 ms and CANCELs; the device had only said 100 Trying.
    await expect(
      platform.invite(id, id, playOffer({ transport: 'udp', port: receiver.port, ssrc: nextSsrc() }), `${id}:1,x:0`, 300),
    ).rejects.toMatchObject({ provisional: true });
    expect(await stopped).toBe('cancelled');
    expect(fleet.activeStreams()).toHaveLength(0);

    const startedAt = Date.now();
    const dialog = await platform.invite(id, id, playOffer({ transport: 'udp', port: receiver.port, ssrc: nextSsrc() }), `${id}:2,x:0`, 5_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(950);
    await receiver.collector.waitForPackets(5, 3_000);
    await platform.bye(dialog);
    await receiver.close();
  });
});
