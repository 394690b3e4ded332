/**
 * RTMP pushers with B-frames (x264's defaults, as ffmpeg and OBS push them): the FLV video tags carry a
 * composition time (PTS = DTS + CTS) that differs from frame to frame. The channel must play, and the HLS output
 * must keep the B-frames: decoded frames in increasing decode order with PTS ≠ DTS for some of them.
 * An RTSP source with B-frames goes through the same assembler and must still play (RTP carries presentation
 * times only; the RTSP source derives decode times, checked in display order by test/rtsp/rtsp-bframes.test.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device } from '../../src/domain/model.js';
import type { AddedDevice } from '../../src/domain/devices/protocol-devices.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { startGstRtspServer, type GstRtspServer } from '../support/gst-rtsp.js';

const run = promisify(execFile);

/** The newest segment of a play's HLS (with its init segment) as ffprobe reads it: video packets and decoded frames. */
async function probePackets(h: Harness, hls: string, dir: string): Promise<{ packets: Array<{ pts: number; dts: number; flags: string }>; frames: number }> {
  const base = `${h.gateway.httpUrl}${hls.slice(0, hls.lastIndexOf('/') + 1)}`;
  const playlist = await (await fetch(`${h.gateway.httpUrl}${hls}`)).text();
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
  const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
  expect(init, playlist).toBeDefined();
  const parts = await Promise.all([init!, segments[segments.length - 1]!].map(async (name) => Buffer.from(await (await fetch(base + name)).arrayBuffer())));
  const file = join(dir, `segment-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, Buffer.concat(parts));
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,dts,flags', '-of', 'json', file]);
  const packets = (JSON.parse(stdout) as { packets: Array<{ pts: number; dts: number; flags: string }> }).packets;
  const decoded = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'json', file]);
  const frames = Number((JSON.parse(decoded.stdout) as { streams: Array<{ nb_read_frames: string }> }).streams[0]!.nb_read_frames);
  return { packets, frames };
}

describe('RTMP push with B-frames (x264 defaults)', () => {
  let h: Harness;
  let gst: GstRtspServer;
  let dir: string;
  const pushers: ChildProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtmp-bf-'));
    [h, gst] = await Promise.all([startHarness({ overrides: { media: { idleSec: 8 } } }), startGstRtspServer()]);
  }, 60_000);

  afterAll(async () => {
    for (const p of pushers) p.kill('SIGKILL');
    await Promise.allSettled([h?.stop(), gst?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays, and the HLS output keeps the B-frames (PTS ≠ DTS, DTS increasing)', async () => {
    const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'rtmp', name: 'B-frame pusher' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const device = r.body;
    // No -bf 0, no -tune zerolatency: x264's veryfast preset uses B-frames (3, adaptive), as OBS does.
    const child = spawn(
      'ffmpeg',
      ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '60',
        '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-f', 'flv', device.publishUrl!],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    pushers.push(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await h.waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`ffmpeg exited ${child.exitCode}: ${stderr}`);
      return (await h.api<Device>(`/api/devices/${device.id}`)).body.status === 'online';
    }, 20_000, 'RTMP device online');

    const p = await h.api<StreamView & { message?: string }>(`/api/channels/${device.channels[0]!.id}/play`, { body: {} });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec: 'h264', width: 1280, height: 720});

    // What a player gets: the init segment and the newest media segment, decoded by ffprobe frame by frame.
    const { packets, frames } = await probePackets(h, p.body.hls, dir);
    expect(packets.length).toBeGreaterThan(20);
    for (let i = 1; i < packets.length; i++) expect(packets[i]!.dts, `packet ${i}`).toBeGreaterThan(packets[i - 1]!.dts);
    // B-frames kept: some pictures are presented later than decoded (PTS > DTS by more than the common offset).
    const offsets = new Set(packets.map((k) => k.pts - k.dts));
    expect(offsets.size, JSON.stringify(packets.slice(0, 12))).toBeGreaterThan(1);
    expect(packets.every((k) => k.pts >= k.dts)).toBe(true);
    expect(frames).toBe(packets.length);
  }, 90_000);

  it('an RTSP source with B-frames (GStreamer x264enc bframes=2) still plays and decodes', async () => {
    const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'rtsp', url: gst.url('/bframes') } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const p = await h.api<StreamView & { message?: string }>(`/api/channels/${r.body.channels[0]!.id}/play`, { body: {} });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec: 'h264', width: 640, height: 360 });
    const { packets, frames } = await probePackets(h, p.body.hls, dir);
    expect(packets.length).toBeGreaterThan(10);
    for (let i = 1; i < packets.length; i++) expect(packets[i]!.dts, `packet ${i}`).toBeGreaterThan(packets[i - 1]!.dts);
    expect(frames).toBe(packets.length);
  }, 60_000);
});
