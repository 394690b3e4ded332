/**
 * One H.265 camera, two browsers (issue 9, "Transcoder … H.265 → H.264 for browsers without HEVC"): viewer A
 * decodes HEVC and plays without transcode, viewer B cannot and asks for `transcode` on the same channel. They
 * share one stream; A's HLS stays the in-process hvc1 LL-HLS, B's is the stream's H.264 rendition (a second
 * reader: the ffmpeg transcoder), and the play answer's `codec` says which one each got. B leaving stops the
 * transcoder (no ffmpeg left) while A keeps playing; so does a rendition viewer that just stops polling (after
 * media.idleSec). A stream started transcoded serves its H.264 to everyone.
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

describe('an H.265 channel shared by an HEVC browser and one that needs H.264', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let dir: string;
  let cam: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-h265-'));
    h = await startHarness({
      overrides: { sip: { password: 'hevc-pass', keepaliveIntervalSec: 5 }, media: { host: '127.0.0.1', ports: '31700-31719', idleSec: 3 } },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'hevc-pass', devices: 1, keepaliveSec: 5, codec: 'h265', idPrefix: '44031900', firstSerial: 1, personalisedChannels: 0 });
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    cam = fleet.devices[0].channelIds[0];
    await h.waitFor(async () => (await h.api<{ total: number }>(`/api/channels?kind=channel&limit=1`)).body.total >= 1, 20_000, 'catalog of the camera');
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const play = async (body: Record<string, unknown>) => {
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
  const readerKinds = async (id: string): Promise<string[]> => (await stream(id)).readers.map((r) => r.kind);

  it('A (HEVC) gets hvc1, B (transcode) gets avc1 on the same stream; B leaving stops the transcoder and A plays on', async () => {
    const a = await play({});
    const stopA = keepPolling(a.hls);
    expect(a).toMatchObject({ codec: 'h265', sourceCodec: 'h265' });
    // In process: no ffmpeg for a codec the browser plays.
    expect(await ffmpegChildren()).toBe(0);

    const b = await play({ transcode: true });
    const stopB = keepPolling(b.hls);
    expect(b.streamId).toBe(a.streamId);
    expect(b).toMatchObject({ codec: 'h264', sourceCodec: 'h265', viewers: 2 });
    expect(b.hls).not.toBe(a.hls);
    expect(await readerKinds(a.streamId)).toEqual(expect.arrayContaining(['llhls', 'ffmpeg-hls']));
    expect(await ffmpegChildren()).toBe(1);

    const [pa, pb] = [await probeStream(h, a.hls, dir), await probeStream(h, b.hls, dir)];
    expect(pa).toMatchObject({ codec: 'hevc', tag: 'hvc1' });
    expect(pb).toMatchObject({ codec: 'h264', tag: 'avc1', width: pa.width, height: pa.height });
    expect(pb.frames).toBeGreaterThan(5);

    // A third viewer that needs H.264 shares the running rendition: still one transcoder.
    const c = await play({ transcode: true });
    expect(c.codec).toBe('h264');
    expect(await ffmpegChildren()).toBe(1);
    await h.api(`/api/streams/${c.streamId}?viewerId=${c.viewerId}`, { method: 'DELETE' });
    expect(await ffmpegChildren()).toBe(1);

    // The last H.264 viewer leaves: the transcoder goes at once, its playlist with it; A's stream stays.
    stopB();
    await h.api(`/api/streams/${b.streamId}?viewerId=${b.viewerId}`, { method: 'DELETE' });
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 10_000, 'the transcoder to exit');
    expect(await readerKinds(a.streamId)).not.toContain('ffmpeg-hls');
    expect((await fetch(`${h.gateway.httpUrl}${b.hls}`)).status).toBe(404);
    const before = (await stream(a.streamId)).frames;
    const again = await probeStream(h, a.hls, dir);
    expect(again).toMatchObject({ codec: 'hevc', tag: 'hvc1' });
    await h.waitFor(async () => (await stream(a.streamId)).frames > before + 10, 10_000, 'A keeps receiving frames');
    expect((await stream(a.streamId)).state).toBe('playing');

    // Needed again later: a new rendition starts. Its viewer then stops polling (a closed tab, no DELETE): after
    // media.idleSec the sweep stops the transcoder, while A (still polling) keeps the stream.
    const d = await play({ transcode: true });
    expect((await probeStream(h, d.hls, dir)).codec).toBe('h264');
    expect(await ffmpegChildren()).toBe(1);
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 15_000, 'the idle rendition to stop');
    expect((await stream(a.streamId)).state).toBe('playing');
    expect((await fetch(`${h.gateway.httpUrl}${d.hls}`)).status).toBe(404);
    stopA();
    await h.api(`/api/streams/${a.streamId}`, { method: 'DELETE' });
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 10_000, 'every ffmpeg to exit with the stream');
  }, 120_000);

  it('a stream started transcoded serves its H.264 to an HEVC-capable viewer too (one ffmpeg)', async () => {
    const b = await play({ transcode: true });
    const stopB = keepPolling(b.hls);
    expect(b).toMatchObject({ codec: 'h264', sourceCodec: 'h265' });
    const a = await play({});
    stopB();
    expect(a.streamId).toBe(b.streamId);
    expect(a.codec).toBe('h264');
    expect((await probeStream(h, a.hls, dir)).codec).toBe('h264');
    expect(await ffmpegChildren()).toBe(1);
    await h.api(`/api/streams/${a.streamId}`, { method: 'DELETE' });
    await h.waitFor(async () => (await ffmpegChildren()) === 0, 10_000, 'ffmpeg to exit with the stream');
  }, 90_000);
});
