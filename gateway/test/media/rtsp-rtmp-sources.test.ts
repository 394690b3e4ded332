/**
 * RTSP and RTMP as sources of the stream core, with independent peers: GStreamer's RTSP server and ffmpeg as
 * an RTMP pusher. Each source feeds a Stream with the LL-HLS reader; the fMP4 it writes is probed by ffprobe
 * (codec, size, audio, frames), exactly as for GB sources.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessUnit, TrackParameters } from '../../src/media/core/access-unit.js';
import { Stream } from '../../src/media/core/stream.js';
import { LlhlsReader } from '../../src/media/readers/llhls/index.js';
import { RtspSource } from '../../src/media/sources/rtsp/rtsp-source.js';
import { RtmpSource } from '../../src/media/sources/rtmp/rtmp-source.js';
import type { StreamSource } from '../../src/media/sources/source.js';
import { RtmpIngestServer } from '../../src/protocol/rtmp/rtmp-ingest.js';
import { startGstRtspServer, type GstRtspServer } from '../support/gst-rtsp.js';

const run = promisify(execFile);

interface Observed {
  tracks: readonly TrackParameters[];
  units: AccessUnit[];
}

/** Watch a source until `seconds` of video (two keyframes at least) went by. */
function observe(source: StreamSource, videoUnits: number): Promise<Observed> {
  const out: Observed = { tracks: [], units: [] };
  return new Promise((resolve, reject) => {
    source.on('parameters', (tracks) => (out.tracks = tracks));
    source.on('unit', (u) => {
      out.units.push(u);
      const video = out.units.filter((x) => x.kind === 'video');
      if (video.length >= videoUnits && video.filter((x) => x.keyframe).length >= 2) resolve(out);
    });
    source.on('ended', (reason) => reject(new Error(`source ended: ${reason}`)));
  });
}

/** Init + the newest complete segment of the LL-HLS reader, probed together like a player would. */
async function probeReader(reader: LlhlsReader, dir: string): Promise<{ video: { codec_name: string; width: number; nb_read_frames: string }; audio?: { codec_name: string } }> {
  const playlist = await reader.playlist();
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
  const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
  expect(init, playlist).toBeDefined();
  expect(segments.length, playlist).toBeGreaterThan(0);
  const parts = await Promise.all([init!, segments[segments.length - 1]!].map(async (n) => (await reader.resource(n))!.body));
  const file = join(dir, `p-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, Buffer.concat(parts.map((p) => Buffer.from(p))));
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file]);
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; width: number; nb_read_frames: string }> }).streams;
  return { video: streams.find((s) => s.codec_type === 'video')!, audio: streams.find((s) => s.codec_type === 'audio') };
}

function monotonicDts(units: AccessUnit[], kind: 'video' | 'audio'): boolean {
  const list = units.filter((u) => u.kind === kind);
  return list.every((u, i) => i === 0 || u.dts > list[i - 1]!.dts || u.epoch !== list[i - 1]!.epoch);
}

describe('RTSP source (GStreamer gst-rtsp-server)', () => {
  let gst: GstRtspServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtsp-src-'));
    gst = await startGstRtspServer({ user: 'cam', password: 'pw' });
  }, 60_000);
  afterAll(async () => {
    await gst?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['/h264', 'h264', 'g711a'],
    ['/h264-aac', 'h264', 'aac'],
    ['/h265', 'h265', null],
  ] as const)('%s: parameters, keyframe first, monotonic DTS; the LL-HLS reader output decodes', async (path, codec, audio) => {
    const source = await RtspSource.open({ url: gst.url(path), username: 'cam', password: 'pw', transport: 'tcp', timeoutMs: 10_000 });
    const stream = new Stream({ id: `rtsp-${path}`, source });
    const reader = new LlhlsReader({ partTargetSec: 0.2, segmentTargetSec: 1 });
    stream.addReader(reader);
    try {
      const seen = await observe(source, 60);
      const video = seen.tracks.find((t) => t.kind === 'video');
      expect(video).toMatchObject({ codec, width: 640, height: 360 });
      expect(seen.tracks.find((t) => t.kind === 'audio')?.codec ?? null).toBe(audio);
      expect(seen.units.find((u) => u.kind === 'video')!.keyframe).toBe(true);
      expect(monotonicDts(seen.units, 'video')).toBe(true);
      if (audio) expect(monotonicDts(seen.units, 'audio')).toBe(true);
      const probe = await probeReader(reader, dir);
      expect(probe.video).toMatchObject({ codec_name: codec === 'h264' ? 'h264' : 'hevc', width: 640 });
      expect(Number(probe.video.nb_read_frames)).toBeGreaterThan(5);
      // Browsers get AAC; G.711 needs the transcoder, so the LL-HLS reader carries video only then.
      if (audio === 'aac') expect(probe.audio?.codec_name).toBe('aac');
    } finally {
      await stream.close('test done');
    }
  });

  it('a wrong password fails the open with the step and reason', async () => {
    const err = await RtspSource.open({ url: gst.url('/h264'), username: 'cam', password: 'wrong', timeoutMs: 5_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ step: 'describe', reason: 'auth-failed' });
  });
});

describe('RTMP source (ffmpeg pushing to the ingest server)', () => {
  let ingest: RtmpIngestServer;
  let dir: string;
  let child: ChildProcess | null = null;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtmp-src-'));
    ingest = new RtmpIngestServer({ host: '127.0.0.1', port: 0, authorize: () => ({ ok: true }) });
    await ingest.listen();
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await ingest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('H.264 with B-frames + AAC: B-frames keep PTS ≠ DTS, the LL-HLS output decodes with audio; the publisher leaving ends the stream', async () => {
    const source = await new Promise<RtmpSource>((resolve) => {
      ingest.once('publish', (publisher) => {
        const s = new RtmpSource((reason) => publisher.close(reason));
        ingest.on('tag', (p, tag) => {
          if (p === publisher) s.tag(tag.type, tag.timestamp, tag.body);
        });
        ingest.on('unpublish', (p, reason) => {
          if (p === publisher) s.publisherGone(reason);
        });
        resolve(s);
      });
      child = spawn('ffmpeg', ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=480x270:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '30', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${ingest.port}/live/44030500001310000009`], { stdio: 'ignore' });
    });
    const stream = new Stream({ id: 'rtmp', source });
    const reader = new LlhlsReader({ partTargetSec: 0.2, segmentTargetSec: 1 });
    stream.addReader(reader);
    const seen = await observe(source, 60);
    expect(seen.tracks.map((t) => `${t.kind}/${t.codec}`)).toEqual(['video/h264', 'audio/aac']);
    expect(seen.tracks.find((t) => t.kind === 'video')).toMatchObject({ width: 480, height: 270 });
    expect(seen.units.some((u) => u.kind === 'video' && u.pts !== u.dts)).toBe(true);
    expect(monotonicDts(seen.units, 'video')).toBe(true);
    const probe = await probeReader(reader, dir);
    expect(probe.video).toMatchObject({ codec_name: 'h264', width: 480 });
    expect(probe.audio?.codec_name).toBe('aac');
    const closed = new Promise<string>((r) => stream.once('closed', ({ reason }) => r(reason)));
    child!.kill('SIGKILL');
    expect(await closed).toMatch(/rtmp publisher stopped/);
  });
});
