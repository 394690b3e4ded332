/**
 * Device playback and download end to end (issue 11; docs/playback.md): simulated GB28181 devices serve their
 * recordings over RTP/PS; the API opens a playback (INVITE s=Playback), controls it (MANSRTSP in INFO, checked
 * as the device received it), sees it end at MediaStatus 121, and downloads a span as an MP4 that ffprobe reads.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DeviceFleet } from '../../src/sim/index.js';
import type { DeviceFleetEvents } from '../../src/sim/events.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { TEST_TOKEN, startHarness, type Harness } from '../support/gateway-harness.js';
import { probeStream } from '../support/hls-probe.js';

const run = promisify(execFile);
type Control = DeviceFleetEvents['playback-control'][0];
type PlayAnswer = StreamView & { step?: string; message?: string; field?: string; code?: string };

/** A span of recording that ended an hour ago, `seconds` long, in whole seconds. */
function span(seconds: number): { start: string; end: string; startMs: number; endMs: number } {
  const endMs = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
  const startMs = endMs - seconds * 1000;
  return { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), startMs, endMs };
}

describe('device playback and download', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let broken: DeviceFleet;
  let gone: DeviceFleet;
  let dir: string;
  const controls: Control[] = [];
  const events: Array<{ type: string; data: StreamView }> = [];
  let ws: WebSocket;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-playback-'));
    h = await startHarness({
      overrides: {
        sip: { password: 'pb-pass', keepaliveIntervalSec: 5 },
        media: { host: '127.0.0.1', ports: '32500-32579', idleSec: 30, rtpTimeoutSec: 3, inviteTimeoutSec: 5 },
      },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'pb-pass', devices: 3, keepaliveSec: 5, idPrefix: '44030500', firstSerial: 950, personalisedChannels: 0 });
    broken = new DeviceFleet({ server: h.sipTarget, password: 'pb-pass', devices: 1, keepaliveSec: 5, idPrefix: '44030600', firstSerial: 960, personalisedChannels: 0, garbageMansrtspAnswers: true });
    gone = new DeviceFleet({ server: h.sipTarget, password: 'pb-pass', devices: 1, keepaliveSec: 5, idPrefix: '44030700', firstSerial: 970, personalisedChannels: 0 });
    fleet.on('playback-control', (c) => controls.push(c));
    await Promise.all([fleet.start(), broken.start(), gone.start()]);
    await Promise.all([fleet.waitForRegistered(3, 30_000), broken.waitForRegistered(1, 30_000), gone.waitForRegistered(1, 30_000)]);
    for (const id of [...fleet.devices.map((d) => d.channelIds[0]!), broken.devices[0]!.channelIds[0]!, gone.devices[0]!.channelIds[0]!]) {
      await h.waitFor(async () => ((await h.api(`/api/channels/${id}`)).status === 200 ? true : null), 20_000, `catalog of ${id}`);
    }
    ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(TEST_TOKEN)}`);
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { type: string; data: StreamView };
      if (m.type === 'stream-status') events.push(m);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }, 90_000);

  afterAll(async () => {
    ws?.close();
    await Promise.allSettled([fleet?.stop({ unregister: false }), broken?.stop({ unregister: false }), gone?.stop({ unregister: false })]);
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const playback = (channelId: string, body: Record<string, unknown>) => {
    // span() also carries the epoch ms for assertions; the API takes start/end only.
    const { startMs: _s, endMs: _e, ...fields } = body;
    return h.api<PlayAnswer>(`/api/channels/${channelId}/playback`, { body: fields });
  };
  const control = (streamId: string, body: Record<string, unknown>) =>
    h.api<{ device: { status: number; range?: { start: number | string }; scale?: number } | null; history: StreamView['history']; field?: string; code?: string; message?: string }>(
      `/api/streams/${streamId}/control`,
      { body },
    );
  const stream = async (id: string): Promise<StreamView> => (await h.api<StreamView>(`/api/streams/${id}`)).body;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('plays a span: the device got s=Playback, u=<channel>:0, t=<start> <end> in Unix seconds and a history SSRC; frames decode', async () => {
    const channel = fleet.devices[0]!.channelIds[0]!;
    const s = span(120);
    const r = await playback(channel, { start: s.start, end: s.end });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ kind: 'playback', state: 'playing', codec: 'h264', width: 1280, height: 720 });
    expect(r.body.ssrc).toMatch(/^1\d{9}$/);
    expect(r.body.history).toMatchObject({ start: s.start, end: s.end, paused: false, scale: 1 });
    const call = fleet.activeStreams().find((a) => a.channelId === channel && a.sessionName === 'Playback')!;
    expect(call, 'the device has the playback call').toBeDefined();
    const lines = call.offer.split(/\r\n/);
    expect(lines).toContain('s=Playback');
    expect(lines).toContain(`u=${channel}:0`);
    expect(lines).toContain(`t=${s.startMs / 1000} ${s.endMs / 1000}`);
    expect(lines).toContain(`y=${r.body.ssrc}`);
    const p = await probeStream(h, r.body.hls, dir);
    expect(p).toMatchObject({ codec: 'h264', width: 1280, height: 720 });
    expect(p.frames).toBeGreaterThan(5);
    // A second playback of the same span is a stream of its own (each operator pauses and seeks their own).
    const again = await playback(channel, { start: s.start, end: s.end });
    expect(again.status).toBe(200);
    expect(again.body.streamId).not.toBe(r.body.streamId);
    for (const v of [r, again]) await h.api(`/api/streams/${v.body.streamId}`, { method: 'DELETE' });
  });

  it.each(['udp', 'tcp-passive', 'tcp-active'] as const)('plays back over %s like live video', async (transport) => {
    const channel = fleet.devices[['udp', 'tcp-passive', 'tcp-active'].indexOf(transport)]!.channelIds[0]!;
    const r = await playback(channel, { ...span(60), transport });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ kind: 'playback', transport, state: 'playing' });
    expect(fleet.activeStreams().find((a) => a.channelId === channel && a.sessionName === 'Playback')?.transport).toBe(transport);
    await h.waitFor(async () => ((await stream(r.body.streamId)).frames > 10 ? true : null), 10_000, 'frames');
    await h.api(`/api/streams/${r.body.streamId}`, { method: 'DELETE' });
  });

  it('pause stops the media (and the stream is not failed for silence); resume restarts it', async () => {
    const channel = fleet.devices[1]!.channelIds[0]!;
    const r = await playback(channel, span(300));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id = r.body.streamId;
    await h.waitFor(async () => ((await stream(id)).frames > 25 ? true : null), 10_000, 'frames flowing');
    const paused = await control(id, { action: 'pause' });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.device?.status).toBe(200);
    expect(paused.body.history?.paused).toBe(true);
    const pause = controls.filter((c) => c.channelId === channel).at(-1)!;
    expect(pause.body).toMatch(/^PAUSE RTSP\/1\.0\r\nCSeq: \d+\r\nPauseTime: now\r\n\r\n$/);
    expect(pause.contentType.toLowerCase()).toBe('application/mansrtsp');
    await sleep(1000);
    const before = (await stream(id)).frames;
    // Longer than media.rtpTimeoutSec (3 s): a paused playback is silent by design.
    await sleep(4000);
    const during = await stream(id);
    expect(during.frames).toBe(before);
    expect(during.state).toBe('playing');
    const resumed = await control(id, { action: 'resume' });
    expect(resumed.status).toBe(200);
    expect(controls.filter((c) => c.channelId === channel).at(-1)!.body).toMatch(/^PLAY RTSP\/1\.0\r\nCSeq: \d+\r\nRange: npt=now-\r\n\r\n$/);
    await h.waitFor(async () => ((await stream(id)).frames > before + 25 ? true : null), 10_000, 'frames again after resume');
    await h.api(`/api/streams/${id}`, { method: 'DELETE' });
  });

  it('seek (seconds or an ISO time) and speed reach the device as MANSRTSP; the position follows; bad values are 400', async () => {
    const channel = fleet.devices[2]!.channelIds[0]!;
    const s = span(300);
    const r = await playback(channel, { start: s.start, end: s.end });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id = r.body.streamId;
    const last = () => controls.filter((c) => c.channelId === channel).at(-1)!;

    const seek = await control(id, { action: 'seek', value: 120 });
    expect(seek.status, JSON.stringify(seek.body)).toBe(200);
    expect(last().body).toMatch(/^PLAY RTSP\/1\.0\r\nCSeq: \d+\r\nRange: npt=120\.0-\r\n\r\n$/);
    expect(last().request).toMatchObject({ method: 'PLAY', range: { start: 120 } });
    expect(seek.body.device?.range?.start).toBe(120);
    const at = await h.waitFor(async () => {
      const v = await stream(id);
      return v.history?.positionSec !== null && v.history!.positionSec! >= 120 ? v : null;
    }, 10_000, 'position after the seek');
    expect(at.history!.positionSec!).toBeLessThan(130);
    expect(Date.parse(at.history!.position!)).toBeGreaterThanOrEqual(s.startMs + 120_000);

    const iso = await control(id, { action: 'seek', value: new Date(s.startMs + 200_000).toISOString() });
    expect(iso.status).toBe(200);
    expect(last().request).toMatchObject({ method: 'PLAY', range: { start: 200 } });

    const fast = await control(id, { action: 'speed', value: 2 });
    expect(fast.status).toBe(200);
    expect(last().body).toMatch(/^PLAY RTSP\/1\.0\r\nCSeq: \d+\r\nScale: 2\.0\r\n\r\n$/);
    expect(fast.body.history?.scale).toBe(2);
    expect(fleet.activeStreams().find((a) => a.channelId === channel)?.history?.scale).toBe(2);
    // CSeq grows with every request of the dialog.
    const cseqs = controls.filter((c) => c.channelId === channel).map((c) => c.request!.cseq);
    expect([...cseqs].sort((a, b) => a - b)).toEqual(cseqs);

    const sent = controls.length;
    for (const [body, field] of [
      [{ action: 'speed', value: 3 }, 'body.value'],
      [{ action: 'speed' }, 'body.value'],
      [{ action: 'seek', value: 9999 }, 'body.value'],
      [{ action: 'seek', value: '2001-01-01T00:00:00Z' }, 'body.value'],
      [{ action: 'seek' }, 'body.value'],
    ] as const) {
      const bad = await control(id, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.field).toBe(field);
    }
    expect((await control(id, { action: 'rewind' })).status).toBe(400);
    expect(controls.length, 'nothing reached the device for a bad value').toBe(sent);
    await h.api(`/api/streams/${id}`, { method: 'DELETE' });
  });

  it('a short span plays to its end: MediaStatus 121 closes the stream with reason end-of-file (API and WebSocket)', async () => {
    const channel = fleet.devices[0]!.channelIds[0]!;
    const sentStatus: Array<DeviceFleetEvents['media-status-sent'][0]> = [];
    fleet.on('media-status-sent', (e) => sentStatus.push(e));
    const r = await playback(channel, span(4));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const id = r.body.streamId;
    const ended = await h.waitFor(async () => {
      const v = await stream(id);
      return v.state === 'closed' ? v : null;
    }, 15_000, 'the stream closes at the end of the span');
    expect(ended.endReason).toBe('end-of-file');
    expect(ended.history?.positionSec ?? 0).toBeGreaterThan(3);
    await h.waitFor(() => (events.some((e) => e.data.streamId === id && e.data.endReason === 'end-of-file' && e.data.state === 'closed') ? true : null), 5_000, 'stream-status over the WebSocket');
    // The device's MESSAGE was answered 200, and the gateway then hung up (BYE).
    expect(sentStatus.find((e) => e.channelId === channel)?.status).toBe(200);
    await h.waitFor(() => (fleet.activeStreams().some((a) => a.channelId === channel && a.sessionName === 'Playback') ? null : true), 5_000, 'BYE reached the device');
  });

  it('downloads a span as an MP4 at the asked speed, with progress over the WebSocket', async () => {
    const channel = fleet.devices[1]!.channelIds[0]!;
    const s = span(12);
    const t0 = Date.now();
    const res = await fetch(`${h.gateway.httpUrl}/api/channels/${channel}/download?start=${encodeURIComponent(s.start)}&end=${encodeURIComponent(s.end)}&speed=4`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    const elapsed = Date.now() - t0;
    expect(res.status, await res.clone().text().catch(() => '')).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="${channel}_\\d{8}T\\d{6}_\\d{8}T\\d{6}\\.mp4"$`));
    const file = join(dir, 'download.mp4');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    // 12 s of recording at 4× take about 3 s, not 12.
    expect(elapsed).toBeLessThan(9_000);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'format=duration:stream=codec_name,width,height,nb_read_frames', '-of', 'json', file]);
    const probe = JSON.parse(stdout) as { format: { duration: string }; streams: Array<{ codec_name: string; width: number; height: number; nb_read_frames: string }> };
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(Number(probe.format.duration)).toBeGreaterThan(10.5);
    expect(Number(probe.format.duration)).toBeLessThan(13);
    expect(Number(probe.streams[0]!.nb_read_frames)).toBeGreaterThan(260);
    // The device was asked with s=Download and a=downloadspeed:4 (it answered while the call ran).
    const progress = events.filter((e) => e.data.kind === 'download' && e.data.channelId === channel).map((e) => e.data);
    expect(progress.length).toBeGreaterThan(1);
    const percents = progress.map((p) => p.history!.percent);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(percents.at(-1)).toBe(100);
    expect(progress.at(-1)).toMatchObject({ state: 'closed', endReason: 'end-of-file', history: { downloadSpeed: 4 } });
    expect(progress.at(-1)!.history!.bytes).toBe(Number(res.headers.get('content-length')));
  });

  it('the Download INVITE carries s=Download, t= and a=downloadspeed', async () => {
    const channel = fleet.devices[2]!.channelIds[0]!;
    const s = span(60);
    const pending = fetch(`${h.gateway.httpUrl}/api/channels/${channel}/download?start=${encodeURIComponent(s.start)}&end=${encodeURIComponent(s.end)}&speed=2`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
      signal: AbortSignal.timeout(60_000),
    });
    const call = await h.waitFor(() => fleet.activeStreams().find((a) => a.channelId === channel && a.sessionName === 'Download') ?? null, 10_000, 'download call');
    const lines = call.offer.split(/\r\n/);
    expect(lines).toEqual(expect.arrayContaining(['s=Download', `u=${channel}:0`, `t=${s.startMs / 1000} ${s.endMs / 1000}`, 'a=downloadspeed:2']));
    expect(lines.find((l) => l.startsWith('y='))).toMatch(/^y=1\d{9}$/);
    // An operator stopping it (DELETE) ends the download: the request answers 502, the device gets its BYE.
    const running = await h.waitFor(async () => (await h.api<{ items: StreamView[] }>('/api/streams')).body.items.find((v) => v.kind === 'download' && v.channelId === channel) ?? null, 5_000, 'download stream');
    await h.api(`/api/streams/${running.streamId}`, { method: 'DELETE' });
    const answer = await pending;
    expect(answer.status).toBe(502);
    expect(((await answer.json()) as { message: string }).message).toMatch(/did not complete/);
    await h.waitFor(() => (fleet.activeStreams().some((a) => a.channelId === channel && a.sessionName === 'Download') ? null : true), 5_000, 'BYE reached the device');
  });

  it('bad spans are 400 naming the field; control on a live stream is 409; unknown stream 404; an offline channel answers like live play', async () => {
    const channel = fleet.devices[0]!.channelIds[0]!;
    const s = span(60);
    const future = new Date(Date.now() + 3600_000).toISOString();
    for (const [body, field] of [
      [{ start: s.end, end: s.start }, 'body.end'],
      [{ start: s.start, end: s.start }, 'body.end'],
      [{ start: 'yesterday', end: s.end }, 'body.start'],
      [{ start: s.start, end: future }, 'body.end'],
      [{ start: future, end: new Date(Date.now() + 7200_000).toISOString() }, 'body.start'],
      [{ start: '1970-01-01T00:00:00Z', end: s.end }, 'body.start'],
      [{ start: new Date(s.endMs - 3 * 86_400_000).toISOString(), end: s.end }, 'body.end'],
    ] as const) {
      const r = await playback(channel, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.field, JSON.stringify(body)).toBe(field);
    }
    expect((await playback(channel, { start: s.start })).status).toBe(400);
    const dl = (q: string) => h.api<{ field?: string }>(`/api/channels/${channel}/download?${q}`);
    const longDl = await dl(`start=${encodeURIComponent(new Date(s.endMs - 5 * 3600_000).toISOString())}&end=${encodeURIComponent(s.end)}`);
    expect(longDl.status).toBe(400);
    expect(longDl.body.field).toBe('querystring.end');
    expect((await dl(`start=${encodeURIComponent(s.start)}&end=${encodeURIComponent(s.end)}&speed=3`)).status).toBe(400);
    expect((await playback('44030500001310099999', { start: s.start, end: s.end })).body.step).toBe('channel');

    const live = await h.api<StreamView>(`/api/channels/${channel}/play`, { body: {} });
    expect(live.status).toBe(200);
    const onLive = await control(live.body.streamId, { action: 'pause' });
    expect(onLive.status).toBe(409);
    expect(onLive.body.message).toMatch(/live streams cannot be paused/);
    await h.api(`/api/streams/${live.body.streamId}`, { method: 'DELETE' });
    expect((await control('00000000-0000-0000-0000-000000000000', { action: 'pause' })).status).toBe(404);

    // The device unregisters: playback answers exactly as live play does.
    const goneChannel = gone.devices[0]!.channelIds[0]!;
    await gone.stop({ unregister: true });
    await h.waitFor(async () => ((await h.api<{ status: string }>(`/api/devices/${gone.devices[0]!.id}`)).body.status === 'offline' ? true : null), 10_000, 'device offline');
    const livePlay = await h.api<PlayAnswer>(`/api/channels/${goneChannel}/play`, { body: {} });
    const pb = await playback(goneChannel, { start: s.start, end: s.end });
    expect(livePlay.status).toBe(409);
    expect(pb.status).toBe(409);
    expect(pb.body.step).toBe('device');
    expect(pb.body.message).toBe(livePlay.body.message);
  });

  it('a device answering the control with MANSRTSP garbage is a 502 naming it; the playback goes on', async () => {
    const channel = broken.devices[0]!.channelIds[0]!;
    const r = await playback(channel, span(120));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const bad = await control(r.body.streamId, { action: 'pause' });
    expect(bad.status).toBe(502);
    expect(bad.body.code).toBe('playback.bad-mansrtsp');
    expect(bad.body.message).toMatch(/unreadable MANSRTSP/);
    const v = await stream(r.body.streamId);
    expect(v.state).toBe('playing');
    expect(v.history?.paused).toBe(false);
    await h.api(`/api/streams/${r.body.streamId}`, { method: 'DELETE' });
  });
});
