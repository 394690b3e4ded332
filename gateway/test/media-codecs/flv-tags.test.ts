/**
 * FLV tag bodies (what RTMP carries) from ffmpeg's own FLV muxer: H.264 with B-frames (negative and positive
 * composition times), AAC; every picture's NAL units equal ffmpeg's Annex-B output of the same encode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAudioTag, parseVideoTag } from '../../src/codecs/flv/flv-tags.js';
import { encodeFlv, flvTags } from '../support/flv-file.js';
import { prng } from './helpers.js';

describe('FLV tags from ffmpeg', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-flv-'));
    await encodeFlv(join(dir, 'a.flv'), { seconds: 2 });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the AVC config, every frame with signed composition times, the AAC config and frames', () => {
    const tags = flvTags(join(dir, 'a.flv'));
    const video = tags.filter((t) => t.type === 9).map((t) => ({ ts: t.ts, tag: parseVideoTag(t.body) }));
    const audio = tags.filter((t) => t.type === 8).map((t) => parseAudioTag(t.body));
    const config = video[0]!.tag;
    expect(config.kind).toBe('config');
    if (config.kind !== 'config') return;
    expect(config.sps).toHaveLength(1);
    expect(config.pps).toHaveLength(1);
    expect(config.sps[0]![0]! & 0x1f).toBe(7);
    const frames = video.filter((v) => v.tag.kind === 'frame');
    expect(frames).toHaveLength(50);
    expect(frames.filter((f) => f.tag.kind === 'frame' && f.tag.keyframe)).toHaveLength(2);
    // B-frames: presentation times (dts + cts) are a permutation of the 40 ms grid, decode times are not in that order.
    const pts = frames.map((f) => f.ts + (f.tag.kind === 'frame' ? f.tag.compositionTimeMs : 0));
    expect([...pts].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => pts.reduce((m, p) => Math.min(m, p)) + i * 40));
    expect(frames.some((f) => f.tag.kind === 'frame' && f.tag.compositionTimeMs !== 0)).toBe(true);
    expect(audio[0]).toMatchObject({ kind: 'config', codec: 'aac', sampleRate: 44100, channels: 1 });
    expect(audio.filter((a) => a.kind === 'frame').length).toBeGreaterThan(80);
  });

  it('short, garbage and unsupported tags get a named result, never an exception', () => {
    expect(parseVideoTag(new Uint8Array())).toEqual({ kind: 'malformed', why: 'empty video tag' });
    expect(parseVideoTag(Uint8Array.of(0x22, 0, 0, 0, 0))).toEqual({ kind: 'unsupported', what: 'video codec Sorenson H.263' });
    expect(parseVideoTag(Uint8Array.of(0x17, 1, 0xff, 0xff, 0xf6, 0, 0, 0, 9, 0x65))).toEqual({ kind: 'malformed', why: 'NAL lengths overrun the tag' });
    // The composition time is a signed 24-bit field: −10 ms, +80 ms, and the extremes of its range.
    expect(parseVideoTag(Uint8Array.of(0x17, 1, 0xff, 0xff, 0xf6, 0, 0, 0, 1, 0x65))).toMatchObject({ kind: 'frame', keyframe: true, compositionTimeMs: -10 });
    expect(parseVideoTag(Uint8Array.of(0x27, 1, 0, 0, 80, 0, 0, 0, 1, 0x41))).toMatchObject({ kind: 'frame', keyframe: false, compositionTimeMs: 80 });
    expect(parseVideoTag(Uint8Array.of(0x27, 1, 0x80, 0, 0, 0, 0, 0, 1, 0x01))).toMatchObject({ kind: 'frame', compositionTimeMs: -(2 ** 23) });
    expect(parseVideoTag(Uint8Array.of(0x27, 1, 0x7f, 0xff, 0xff, 0, 0, 0, 1, 0x01))).toMatchObject({ kind: 'frame', compositionTimeMs: 2 ** 23 - 1 });
    expect(parseAudioTag(Uint8Array.of(0x72, 1, 2))).toEqual({ kind: 'unsupported', what: 'audio G.711 A-law' });
    const rand = prng(11);
    for (let i = 0; i < 10_000; i++) {
      const junk = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      expect(() => parseVideoTag(junk)).not.toThrow();
      expect(() => parseAudioTag(junk)).not.toThrow();
    }
  });
});
