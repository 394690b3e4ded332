/**
 * The GB source's PS → access-unit step on real encoder output muxed into PS: NAL units and parameters, ADTS
 * → raw AAC + AudioSpecificConfig, 33-bit PTS wrap, B-frames (PTS ≠ DTS) passing through, new epochs on a
 * resolution change and a timestamp jump, and garbage that is dropped and counted, never thrown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitAdts } from '../../src/codecs/aac/adts.js';
import { isKeyframeAccessUnit } from '../../src/codecs/ps/annexb.js';
import { PsDemuxer } from '../../src/codecs/ps/ps-demuxer.js';
import { PsMuxer } from '../../src/codecs/ps/ps-muxer.js';
import type { AccessUnit, TrackParameters } from '../../src/media/core/access-unit.js';
import { PsAccessUnitAssembler, TimestampUnwrapper } from '../../src/media/sources/gb28181/ps-access-units.js';
import { prng } from '../media-codecs/helpers.js';
import { encodeAac, encodeH264, encodeH264WithBFrames, type TimedVideo } from './media-fixtures.js';

const WRAP = 2 ** 33;

class Run {
  readonly units: AccessUnit[] = [];
  readonly parameters: Array<{ tracks: readonly TrackParameters[]; epoch: number }> = [];
  readonly demuxer = new PsDemuxer();
  readonly assembler = new PsAccessUnitAssembler({
    parameters: (tracks, epoch) => this.parameters.push({ tracks, epoch }),
    unit: (unit) => this.units.push(unit),
  });

  push(ps: Buffer): void {
    for (const frame of this.demuxer.push(ps)) this.assembler.push(frame, Date.now(), this.demuxer.streams.audio !== undefined);
  }

  end(): void {
    for (const frame of this.demuxer.flush()) this.assembler.push(frame, Date.now(), false);
    this.assembler.flush();
  }

  video(): AccessUnit[] {
    return this.units.filter((u) => u.kind === 'video');
  }
}

function muxVideo(mux: PsMuxer, units: Buffer[], firstPts: number, step = 3600): Buffer[] {
  return units.map((au, i) => mux.muxVideo(au, firstPts + i * step, isKeyframeAccessUnit(au, 'h264')));
}

function expectMonotonicDts(units: AccessUnit[]): void {
  for (const kind of ['video', 'audio'] as const) {
    const list = units.filter((u) => u.kind === kind);
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.epoch === list[i - 1]!.epoch) expect(list[i]!.dts, `${kind} unit ${i}`).toBeGreaterThan(list[i - 1]!.dts);
    }
  }
}

describe('PS → access units', () => {
  let small: Buffer[];
  let tiny: Buffer[];
  let adts: Buffer;
  let bframes: TimedVideo;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'se-au-'));
    [small, tiny, adts, bframes] = await Promise.all([
      encodeH264({ width: 640, height: 360, seconds: 2, bframes: 0 }).then((v) => v.units),
      encodeH264({ width: 320, height: 240, seconds: 2, bframes: 0 }).then((v) => v.units),
      encodeAac({ sampleRate: 16000, channels: 1, seconds: 2 }),
      encodeH264WithBFrames(dir, { width: 320, height: 240, seconds: 2 }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('H.264 + AAC (ADTS) in PS: NAL units without start codes, raw AAC frames, both tracks announced before the first unit', () => {
    const run = new Run();
    const mux = new PsMuxer({ video: 'h264', audio: 'aac' });
    const aac = splitAdts(adts).frames;
    // Interleave: per video frame (40 ms) the AAC frames due by then, each ADTS frame in its own PES.
    let a = 0;
    small.forEach((au, i) => {
      const pts = 90_000 + i * 3600;
      run.push(mux.muxVideo(au, pts, isKeyframeAccessUnit(au, 'h264')));
      while (a < aac.length && a * 5760 <= i * 3600) {
        run.push(mux.muxAudio(adtsOf(adts, a), 90_000 + a * 5760));
        a++;
      }
    });
    run.end();
    expect(run.parameters).toHaveLength(1);
    const [video, audio] = run.parameters[0]!.tracks;
    expect(video).toMatchObject({ kind: 'video', codec: 'h264', width: 640, height: 360 });
    expect(video!.kind === 'video' && video.codecString).toMatch(/^avc1\.[0-9a-f]{6}$/);
    expect(audio).toMatchObject({ kind: 'audio', codec: 'aac', sampleRate: 16000, channels: 1, codecString: 'mp4a.40.2' });
    expect(audio!.kind === 'audio' && [...audio.config]).toEqual([0x14, 0x08]);
    const videoUnits = run.video();
    expect(videoUnits.length).toBeGreaterThanOrEqual(small.length - 1);
    expect(videoUnits[0]!.keyframe).toBe(true);
    for (const u of videoUnits) for (const nal of u.nalus!) expect(nal[0]! & 0x80, 'a NAL header, not a start code').toBe(0);
    expect(videoUnits[0]!.nalus!.some((n) => (n[0]! & 0x1f) === 7)).toBe(true);
    const audioUnits = run.units.filter((u) => u.kind === 'audio');
    expect(audioUnits.length).toBeGreaterThan(20);
    for (const u of audioUnits.slice(0, 10)) {
      const index = (u.pts - 90_000) / 5760;
      expect(Number.isInteger(index), `audio PTS ${u.pts} on the 1024-sample grid`).toBe(true);
      expect(Buffer.from(u.data!).toString('hex')).toBe(Buffer.from(aac[index]!.raw).toString('hex'));
    }
    expect(audioUnits.every((u) => !(u.data![0] === 0xff && (u.data![1]! & 0xf0) === 0xf0))).toBe(true);
    expect(videoUnits.every((u) => u.epoch === 0)).toBe(true);
    expectMonotonicDts(run.units);
  });

  it('unwraps the 33-bit PTS: a stream that starts one second before the wrap runs on without a new epoch', () => {
    const run = new Run();
    const mux = new PsMuxer({ video: 'h264' });
    const start = WRAP - 25 * 3600;
    for (const ps of muxVideo(mux, small, start)) run.push(ps);
    run.end();
    const v = run.video();
    expect(v.length).toBeGreaterThanOrEqual(small.length - 1);
    expect(v.map((u) => u.dts - v[0]!.dts)).toEqual(v.map((_, i) => i * 3600));
    expect(v.at(-1)!.dts).toBeGreaterThan(WRAP);
    expect(run.parameters.map((p) => p.epoch)).toEqual([0]);
    const unwrapper = new TimestampUnwrapper();
    expect([WRAP - 10, 5, WRAP - 20, 100].map((t) => unwrapper.unwrap(t))).toEqual([WRAP - 10, WRAP + 5, WRAP - 20, WRAP + 100]);
  });

  it('passes B-frames through: PTS and DTS as sent, decode order kept, DTS strictly increasing', () => {
    const run = new Run();
    const mux = new PsMuxer({ video: 'h264' });
    bframes.units.forEach((au, i) => run.push(mux.muxVideo(au, bframes.pts[i]!, isKeyframeAccessUnit(au, 'h264'), bframes.dts[i]!)));
    run.end();
    const v = run.video();
    expect(v).toHaveLength(bframes.units.length);
    expect(v.map((u) => u.pts)).toEqual(bframes.pts);
    expect(v.map((u) => u.dts)).toEqual(bframes.dts);
    expect(v.filter((u) => u.pts !== u.dts).length).toBeGreaterThan(10);
    expect(v.every((u) => u.pts >= u.dts)).toBe(true);
    expectMonotonicDts(v);
  });

  it('a resolution change mid-stream starts a new epoch at its keyframe with the new parameters', () => {
    const run = new Run();
    const mux = new PsMuxer({ video: 'h264' });
    for (const ps of muxVideo(mux, small, 0)) run.push(ps);
    for (const ps of muxVideo(mux, tiny, small.length * 3600)) run.push(ps);
    run.end();
    expect(run.parameters.map((p) => [p.epoch, (p.tracks[0] as { width: number }).width])).toEqual([
      [0, 640],
      [1, 320],
    ]);
    const firstOfNew = run.video().find((u) => u.epoch === 1)!;
    expect(firstOfNew.keyframe).toBe(true);
    expect(firstOfNew.dts).toBe(small.length * 3600);
    expectMonotonicDts(run.units);
  });

  it('a timestamp jump (camera clock reset) starts a new epoch; a repeated timestamp is nudged, not a new epoch', () => {
    const run = new Run();
    const mux = new PsMuxer({ video: 'h264' });
    const half = small.slice(0, 20);
    const rest = small.slice(20); // its keyframe is the sixth frame
    for (const ps of muxVideo(mux, half, 500_000)) run.push(ps);
    run.push(mux.muxVideo(rest[0]!, 500_000 + 19 * 3600, false)); // same PTS as the frame before
    for (const ps of muxVideo(mux, rest.slice(1), 7_000)) run.push(ps); // clock went back by 5 s
    run.end();
    expect(run.assembler.stats.timestampFixups).toBe(1);
    expect(run.assembler.stats.timestampJumps).toBe(1);
    expect(run.parameters.map((p) => p.epoch)).toEqual([0, 1]);
    // Frames of the new timeline before its first keyframe cannot start it: dropped and counted.
    expect(run.assembler.stats.dropped.waitingForKeyframe).toBeGreaterThan(0);
    expect(run.video().find((u) => u.epoch === 1)!.keyframe).toBe(true);
    expectMonotonicDts(run.units);
  });

  it('garbage (flipped bytes, cut packets, inserted junk, a PSM switching codec) is dropped and counted, never thrown', () => {
    const mux = new PsMuxer({ video: 'h264', audio: 'aac' });
    const h265Psm = new PsMuxer({ video: 'h265' });
    const clean = muxVideo(mux, small, 0);
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = prng(seed);
      const run = new Run();
      clean.forEach((ps, i) => {
        let packet = Buffer.from(ps);
        const r = rand();
        if (r < 0.1) for (let k = 0; k < 8; k++) packet[Math.floor(rand() * packet.length)] = Math.floor(rand() * 256);
        else if (r < 0.2) packet = packet.subarray(0, Math.floor(rand() * packet.length));
        else if (r < 0.25) packet = Buffer.concat([Buffer.from(Array.from({ length: 300 }, () => Math.floor(rand() * 256))), packet]);
        else if (r < 0.27) packet = Buffer.concat([h265Psm.muxVideo(Buffer.from([0, 0, 0, 1, 0x40, 0x01, 0x0c]), i * 3600, true), packet]);
        else if (r < 0.3) packet = Buffer.concat([packet, Buffer.from([0, 0, 1, 0xc0, 0, 40, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1, 0xff, 0xf1, 0x50, 0x80, 0xff, 0xff])]);
        expect(() => run.push(packet)).not.toThrow();
      });
      expect(() => run.end()).not.toThrow();
      const d = run.demuxer.stats;
      const dropped = run.assembler.stats.dropped;
      expect(d.resyncs + d.truncatedPes + d.malformedPes + dropped.waitingForKeyframe + dropped.badParameterSets + dropped.badAudio, `seed ${seed}`).toBeGreaterThan(0);
      for (const u of run.units) {
        if (u.kind === 'video') expect(u.nalus!.length).toBeGreaterThan(0);
        expect(Number.isFinite(u.dts) && Number.isFinite(u.pts)).toBe(true);
      }
      expectMonotonicDts(run.units);
      expect(run.video().length, `seed ${seed}: most frames survive`).toBeGreaterThan(small.length / 3);
    }
  });
});

/** The a-th ADTS frame of an ADTS stream, header included. */
function adtsOf(stream: Buffer, a: number): Buffer {
  let p = 0;
  for (let i = 0; i < a; i++) p += ((stream[p + 3]! & 3) << 11) | (stream[p + 4]! << 3) | (stream[p + 5]! >> 5);
  const len = ((stream[p + 3]! & 3) << 11) | (stream[p + 4]! << 3) | (stream[p + 5]! >> 5);
  return stream.subarray(p, p + len);
}
