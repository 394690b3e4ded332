/**
 * RTSP sources with B-frames, from GStreamer's RTSP server (x264enc with 2 B-frames, x264enc with 3 B-frames
 * and B-pyramid, x265enc with 3 B-frames). RTP carries presentation times only; the source derives decode times
 * (codecs/rtp/payload/decode-time.ts). What a player gets from the gateway's HLS must be in display order:
 *  - ffprobe's packets (decode order): DTS strictly increasing, PTS ≥ DTS, several composition offsets;
 *  - ffprobe's decoded frames (the decoder's output order, which follows the bitstream's picture order count and
 *    not our timestamps): their PTS strictly increasing, one frame (40 ms) apart, so a player that presents by
 *    PTS shows each picture in its place;
 *  - MP4Box.js (GPAC's parser; the MP4Box command is not packaged for Debian 12) reads the same segments
 *    without errors, every sample with CTS ≥ DTS.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddedDevice } from '../../src/domain/devices/protocol-devices.js';
import type { StreamView } from '../../src/domain/streams/stream-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { startGstRtspServer, type GstRtspServer } from '../support/gst-rtsp.js';
import { inspectWithMp4Box } from '../support/mp4box-inspect.js';

const run = promisify(execFile);

/** Init segment + the newest `count` media segments of a stream's playlist, once it lists that many. */
async function lastSegments(h: Harness, hls: string, count: number): Promise<Buffer> {
  const base = `${h.gateway.httpUrl}${hls.slice(0, hls.lastIndexOf('/') + 1)}`;
  const playlist = await h.waitFor(async () => {
    const text = await (await fetch(`${h.gateway.httpUrl}${hls}`)).text();
    return text.split('\n').filter((l) => l && !l.startsWith('#')).length >= count + 1 ? text : null;
  }, 20_000, `${count + 1} segments in the playlist`);
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
  expect(init, playlist).toBeDefined();
  const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#')).slice(-count);
  const parts = await Promise.all([init!, ...segments].map(async (name) => Buffer.from(await (await fetch(base + name)).arrayBuffer())));
  return Buffer.concat(parts);
}

interface Probe {
  packets: Array<{ pts: number; dts: number }>;
  frames: number[];
  timeBase: number;
}

async function probe(file: string): Promise<Probe> {
  const packets = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,dts:stream=time_base', '-of', 'json', file]);
  const p = JSON.parse(packets.stdout) as { packets: Array<{ pts: number; dts: number }>; streams: Array<{ time_base: string }> };
  const [num, den] = p.streams[0]!.time_base.split('/').map(Number) as [number, number];
  const frames = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts', '-of', 'json', file], { maxBuffer: 16 << 20 });
  const f = JSON.parse(frames.stdout) as { frames: Array<{ pts: number }> };
  return { packets: p.packets, frames: f.frames.map((x) => x.pts), timeBase: den / num };
}

describe('RTSP with B-frames (GStreamer): HLS output in display order', () => {
  let h: Harness;
  let gst: GstRtspServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtsp-bf-'));
    [h, gst] = await Promise.all([startHarness({ overrides: { media: { idleSec: 8 } } }), startGstRtspServer()]);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([h?.stop(), gst?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['x264, 2 B-frames', '/bframes', 'h264'],
    ['x264, 3 B-frames, B-pyramid', '/bframes-pyramid', 'h264'],
    ['x265, 3 B-frames', '/bframes-h265', 'h265'],
  ] as const)('%s', async (_name, path, codec) => {
    const r = await h.api<AddedDevice>('/api/devices', { body: { protocol: 'rtsp', url: gst.url(path) } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const p = await h.api<StreamView & { message?: string }>(`/api/channels/${r.body.channels[0]!.id}/play`, { body: {} });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body).toMatchObject({ state: 'playing', codec, width: 640, height: 360 });

    const bytes = await lastSegments(h, p.body.hls, 2);
    const file = join(dir, `${path.slice(1)}.mp4`);
    writeFileSync(file, bytes);
    const { packets, frames, timeBase } = await probe(file);
    expect(packets.length).toBeGreaterThan(25);

    // Decode order: DTS strictly increasing, never after PTS; B-frames kept (more than one composition offset).
    for (let i = 1; i < packets.length; i++) expect(packets[i]!.dts, `packet ${i}`).toBeGreaterThan(packets[i - 1]!.dts);
    const late = packets.filter((k) => k.pts < k.dts);
    expect(late, JSON.stringify(packets.slice(0, 12))).toEqual([]);
    expect(new Set(packets.map((k) => k.pts - k.dts)).size, JSON.stringify(packets.slice(0, 12))).toBeGreaterThan(1);

    // Display order: the decoder's output, in picture order count, carries increasing PTS one frame apart.
    expect(frames.length).toBe(packets.length);
    const frame = timeBase / 25;
    const steps = frames.slice(1).map((pts, i) => pts - frames[i]!);
    expect(steps.filter((s) => Math.abs(s - frame) > frame * 0.1), `steps ${JSON.stringify(steps)}`).toEqual([]);

    // GPAC's parser reads the same bytes: no errors, the same samples, CTS ≥ DTS for each.
    const report = inspectWithMp4Box(new Uint8Array(bytes));
    expect(report.errors).toEqual([]);
    const video = report.info.tracks.find((t) => t.type === 'video' || t.video)!;
    const samples = report.samples.get(video.id)!;
    expect(samples.length).toBe(packets.length);
    expect(samples.filter((s) => s.cts < s.dts)).toEqual([]);
  }, 60_000);
});
