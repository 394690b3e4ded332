/**
 * A G.711 camera on a muted wall (issue 9: "Wall tiles are muted by default: audio is transcoded only while
 * someone listens"). While nobody listens its stream is the in-process LL-HLS without the G.711 track: no
 * ffmpeg, no audio in the HLS. A viewer that asks to listen gets the stream's AAC rendition (one ffmpeg
 * reader: video copied, G.711 → AAC) shared by every listener; it stops when the last listener leaves or stops
 * polling, while the muted viewers play on. An H.265 + G.711 camera listened to by a browser without HEVC
 * uses the H.264 rendition, which carries the AAC: one transcoder, not two. /api/streams and /metrics say
 * whether the audio rendition runs and how many listen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { probeStream } from '../support/hls-probe.js';
import { ffmpegChildren } from '../support/processes.js';

describe('listening to a G.711 camera', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let dir: string;
  let g711Cam: string;
  let hevcCam: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-listen-'));
    h = await startHarness({
      overrides: { sip: { password: 'listen-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '31880-31899', idleSec: 3 } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'listen-pass', devices: 1, keepaliveSec: 5, codec: 'h264', audio: 'g711a', idPrefix: '44031901', firstSerial: 1, personalisedChannels: 0 });
    await fleet.start();
    const hevc = new DeviceFleet({ server: h.sipTarget, password: 'listen-pass', devices: 1, keepaliveSec: 5, codec: 'h265', audio: 'g711a', idPrefix: '44031902', firstSerial: 1, personalisedChannels: 0 });
    await hevc.start();
    fleets.push(hevc);
    await fleet.waitForRegistered(1, 30_000);
    await hevc.waitForRegistered(1, 30_000);
    g711Cam = fleet.devices[0].channelIds[0];
    hevcCam = hevc.devices[0].channelIds[0];
    await h.waitFor(async () => (await h.api<{ total: number }>(`/api/channels?kind=channel&limit=10`)).body.total >= 2, 20_000, 'catalog of both cameras');
  }, 120_000);
  const fleets: DeviceFleet[] = [];

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    for (const f of fleets) await f.stop({ unregister: false });
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const play = async (cam: string, body: Record<string, unknown>) => {
    const r = await h.api<StreamView>(`/api/channels/${cam}/play`, { body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  /** A player's playlist polls (every 500 ms, as hls.js would) until stopped: the viewer stays alive. */
  const keepPolling = (hls: string): (() => void) => {
    const timer = setInterval(() => void fetch(`${h.gateway.httpUrl}${hls}`).then((r) => r.arrayBuffer()).catch(() => undefined), 500);
    return () => clearInterval(timer);
  };
  const stream = async (id: string): Promise<StreamView> => (await h.api<StreamView>(`/api/streams/${id}`)).body;
  const metric = async (name: string): Promise<number> => {
    const text = (await h.api<string>('/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    expect(line, `${name} in /metrics`).toBeDefined();
    return Number(line!.split(' ')[1]);
  };

  it('muted: in-process LL-HLS without audio and no ffmpeg; a listener gets AAC from one shared rendition that stops after the last listener', async () => {
    const muted = await play(g711Cam, {});
    const stopMuted = keepPolling(muted.hls);
    expect(muted).toMatchObject({ codec: 'h264', audio: 'g711a', hlsAudio: null, listening: false, listeners: 0, audioRendition: false });
    expect(await ffmpegChildren()).toBe(0);
    expect((await stream(muted.streamId)).readers.map((r) => r.kind)).toEqual(['llhls']);
    const mutedProbe = await probeStream(h, muted.hls, dir);
    expect(mutedProbe).toMatchObject({ codec: 'h264', audio: null });
    expect(mutedProbe.frames).toBeGreaterThan(5);

    const a = await play(g711Cam, { listen: true });
    const stopA = keepPolling(a.hls);
    expect(a.streamId).toBe(muted.streamId);
    expect(a).toMatchObject({ codec: 'h264', audio: 'g711a', hlsAudio: 'aac', listening: true, listeners: 1, audioRendition: true });
    expect(a.hls).not.toBe(muted.hls);
    expect(await ffmpegChildren()).toBe(1);
    const heard = await probeStream(h, a.hls, dir);
    expect(heard).toMatchObject({ codec: 'h264', audio: 'aac', width: mutedProbe.width, height: mutedProbe.height });
    expect(heard.frames).toBeGreaterThan(5);
    // The muted viewer's HLS is unchanged: still no audio, still in process.
    expect((await probeStream(h, muted.hls, dir)).audio).toBeNull();

    // A second listener shares the running rendition.
    const b = await play(g711Cam, { listen: true });
    const stopB = keepPolling(b.hls);
    expect(b).toMatchObject({ hlsAudio: 'aac', listeners: 2 });
    expect(await ffmpegChildren()).toBe(1);
    expect(await metric('se_streams_listeners')).toBe(2);
    expect(await metric('se_streams_audio_renditions')).toBe(1);
    expect(await stream(a.streamId)).toMatchObject({ listeners: 2, audioRendition: true });
    stopB();
    await h.api(`/api/streams/${b.streamId}?viewerId=${b.viewerId}`, { method: 'DELETE' });
    expect(await ffmpegChildren()).toBe(1);

    // The last listener leaves: the rendition stops at once, its playlist with it; the muted viewer plays on.
    stopA();
    await h.api(`/api/streams/${a.streamId}?viewerId=${a.viewerId}`, { method: 'DELETE' });
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 10_000, 'the AAC rendition to exit');
    expect(await stream(muted.streamId)).toMatchObject({ state: 'playing', listeners: 0, audioRendition: false });
    expect(await metric('se_streams_audio_renditions')).toBe(0);
    expect((await fetch(`${h.gateway.httpUrl}${a.hls}`)).status).toBe(404);
    const before = (await stream(muted.streamId)).frames;
    await h.waitFor(async () => (await stream(muted.streamId)).frames > before + 10, 10_000, 'the muted viewer keeps receiving frames');

    // A listener that just stops polling (a closed tab): after media.idleSec the sweep stops the rendition.
    const c = await play(g711Cam, { listen: true });
    expect((await probeStream(h, c.hls, dir)).audio).toBe('aac');
    expect(await ffmpegChildren()).toBe(1);
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 15_000, 'the idle rendition to stop');
    expect((await stream(muted.streamId)).state).toBe('playing');
    stopMuted();
    await h.api(`/api/streams/${muted.streamId}`, { method: 'DELETE' });
  }, 120_000);

  it('a listener of an H.265 + G.711 camera in a browser without HEVC gets the H.264 rendition with AAC: one transcoder', async () => {
    const hevcViewer = await play(hevcCam, {});
    const stop = keepPolling(hevcViewer.hls);
    expect(hevcViewer).toMatchObject({ codec: 'h265', audio: 'g711a', hlsAudio: null });
    expect(await ffmpegChildren()).toBe(0);
    const listener = await play(hevcCam, { transcode: true, listen: true });
    const stopListener = keepPolling(listener.hls);
    expect(listener).toMatchObject({ codec: 'h264', hlsAudio: 'aac', listening: true, h264Rendition: true, audioRendition: false });
    expect(await probeStream(h, listener.hls, dir)).toMatchObject({ codec: 'h264', audio: 'aac' });
    expect(await ffmpegChildren()).toBe(1);
    // An HEVC browser that listens gets the AAC rendition (H.265 copied, G.711 → AAC).
    const hevcListener = await play(hevcCam, { listen: true });
    const stopHevcListener = keepPolling(hevcListener.hls);
    expect(hevcListener).toMatchObject({ codec: 'h265', hlsAudio: 'aac', audioRendition: true, listeners: 2 });
    expect(await probeStream(h, hevcListener.hls, dir)).toMatchObject({ codec: 'hevc', tag: 'hvc1', audio: 'aac' });
    expect(await ffmpegChildren()).toBe(2);
    stopListener();
    stopHevcListener();
    stop();
    await h.api(`/api/streams/${hevcViewer.streamId}`, { method: 'DELETE' });
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 10_000, 'every ffmpeg to exit with the stream');
  }, 120_000);
});
