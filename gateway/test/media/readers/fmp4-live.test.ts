/**
 * The live fMP4 reader on real encoder output (H.264 with B-frames + AAC): the control message with the MSE
 * type, init then per-frame fragments that ffprobe and MP4Box.js read back, start at a keyframe when joined
 * mid-GOP, a consumer that falls behind skipped to the next keyframe, one that stays behind cut with a
 * reason, and a new epoch announced with a new init segment on a continuous timeline.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessUnit } from '../../../src/media/core/access-unit.js';
import { Fmp4LiveReader, type Fmp4LiveMessage, type Fmp4LiveSink } from '../../../src/media/readers/fmp4-live/index.js';
import { encodeTestMedia, FFPROBE, type EncodedMedia } from '../../support/encoded-media.js';
import { inspectWithMp4Box } from '../../support/mp4box-inspect.js';

const run = promisify(execFile);
let media: EncodedMedia;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'se-fmp4live-'));
  media = await encodeTestMedia({ codec: 'h264', seconds: 4, bframes: 2, gop: 25, audio: true, width: 320, height: 240 });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

class RecordingSink implements Fmp4LiveSink {
  readonly texts: Fmp4LiveMessage[] = [];
  readonly binaries: Uint8Array[] = [];
  /** Index into `binaries` at which each text message was sent. */
  readonly textAt: number[] = [];
  buffered = 0;
  closedWith: string | null = null;
  sendText(text: string): void {
    this.texts.push(JSON.parse(text) as Fmp4LiveMessage);
    this.textAt.push(this.binaries.length);
  }
  sendBinary(chunk: Uint8Array): void {
    this.binaries.push(chunk);
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  close(reason: string): void {
    this.closedWith = reason;
  }
  bytes(): Buffer {
    return Buffer.concat(this.binaries);
  }
}

const videoCount = (units: AccessUnit[]): number => units.filter((u) => u.kind === 'video').length;

describe('live fMP4 reader', () => {
  it('sends the MSE type, the init segment, then one fragment per frame that ffprobe and MP4Box.js decode', async () => {
    const sink = new RecordingSink();
    const reader = new Fmp4LiveReader(sink);
    reader.onParameters(media.tracks, 1);
    for (const unit of media.units) reader.onAccessUnit(unit);
    expect(sink.texts[0]).toMatchObject({ type: 'init', width: 320, height: 240, epoch: 1 });
    const init = sink.texts[0];
    expect(init.type === 'init' && init.mime).toMatch(/^video\/mp4; codecs="avc1\.64[0-9a-f]{4},mp4a\.40\.2"$/);
    // Every video frame but the one held back for its duration is out, each in its own fragment.
    expect(reader.stats().fragments).toBe(videoCount(media.units) - 1);
    const file = join(dir, 'live.mp4');
    await writeFile(file, sink.bytes());
    const { stdout } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file]);
    const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; nb_read_frames: string }> }).streams;
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', nb_read_frames: String(videoCount(media.units) - 1) });
    expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    const report = inspectWithMp4Box(sink.bytes());
    expect(report.errors).toEqual([]);
    expect(report.info.videoTracks[0].codec).toBe((init.type === 'init' && init.codecs.split(',')[0]) || '');
    reader.close('done');
    expect(sink.texts[sink.texts.length - 1]).toEqual({ type: 'end', reason: 'done' });
    expect(sink.closedWith).toBe('done');
  });

  it('joined mid-GOP, starts at the next keyframe', () => {
    const sink = new RecordingSink();
    const reader = new Fmp4LiveReader(sink);
    reader.onParameters(media.tracks, 1);
    const midGop = media.units.slice(media.units.findIndex((u, i) => i > 0 && u.kind === 'video' && !u.keyframe) + 20);
    for (const unit of midGop) reader.onAccessUnit(unit);
    expect(reader.stats().skippedFrames).toBeGreaterThan(0);
    const report = inspectWithMp4Box(sink.bytes());
    const samples = report.samples.get(report.info.videoTracks[0].id) ?? [];
    expect(samples[0].is_sync).toBe(true);
  });

  it('skips a consumer that falls behind to the next keyframe, and cuts one that stays behind', () => {
    const sink = new RecordingSink();
    const reader = new Fmp4LiveReader(sink, { skipAboveBytes: 100_000, cutAboveBytes: 400_000 });
    reader.onParameters(media.tracks, 1);
    const video = media.units;
    const at = (n: number): number => video.findIndex((u) => u.kind === 'video' && video.slice(0, video.indexOf(u)).filter((v) => v.kind === 'video').length === n);
    for (const unit of video.slice(0, at(10))) reader.onAccessUnit(unit);
    const sentBefore = reader.stats().fragments;
    sink.buffered = 150_000; // the socket is not draining
    for (const unit of video.slice(at(10), at(30))) reader.onAccessUnit(unit);
    expect(reader.stats().skips).toBe(1);
    expect(reader.stats().fragments).toBe(sentBefore);
    sink.buffered = 10_000; // drained: resume at the next keyframe (frame 50)
    for (const unit of video.slice(at(30), at(70))) reader.onAccessUnit(unit);
    expect(reader.stats().fragments).toBeGreaterThan(sentBefore);
    const report = inspectWithMp4Box(sink.bytes());
    const samples = report.samples.get(report.info.videoTracks[0].id) ?? [];
    const resumed = samples[sentBefore];
    expect(resumed.is_sync).toBe(true);
    expect(reader.closed).toBe(false);
    sink.buffered = 500_000;
    reader.onAccessUnit(video[at(70)]);
    expect(reader.closed).toBe(true);
    expect(sink.closedWith).toMatch(/too slow/);
    expect(sink.texts[sink.texts.length - 1]).toMatchObject({ type: 'end' });
  });

  it('announces a new epoch with a new init segment and keeps the timeline going forward', () => {
    const sink = new RecordingSink();
    const reader = new Fmp4LiveReader(sink);
    reader.onParameters(media.tracks, 1);
    for (const unit of media.units) reader.onAccessUnit(unit);
    const firstEpochBytes = sink.bytes();
    reader.onParameters(media.tracks, 2);
    for (const unit of media.units) reader.onAccessUnit({ ...unit, epoch: 2 });
    expect(sink.texts.filter((t) => t.type === 'init').map((t) => t.type === 'init' && t.epoch)).toEqual([1, 2]);
    const before = inspectWithMp4Box(firstEpochBytes);
    const lastBefore = (before.samples.get(1) ?? []).at(-1);
    const secondInitAt = sink.textAt[1];
    const after = inspectWithMp4Box(Buffer.concat(sink.binaries.slice(secondInitAt)));
    const firstAfter = (after.samples.get(1) ?? [])[0];
    expect(firstAfter.dts).toBeGreaterThanOrEqual((lastBefore?.dts ?? 0) + (lastBefore?.duration ?? 0));
    // The held-back last frame of epoch 1 went out when the epoch ended.
    expect((before.samples.get(1) ?? []).length).toBe(videoCount(media.units) - 1);
    reader.close('done');
  });

  it('ends at once for a stream it cannot carry (G.711 only)', () => {
    const sink = new RecordingSink();
    const reader = new Fmp4LiveReader(sink);
    reader.onParameters([{ kind: 'audio', codec: 'g711a', sampleRate: 8000, channels: 1, config: new Uint8Array(0), codecString: '' }], 1);
    expect(reader.closed).toBe(true);
    expect(sink.texts[0]).toMatchObject({ type: 'end' });
  });
});
