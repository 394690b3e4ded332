/**
 * The LL-HLS reader on real encoder output (H.264 with B-frames + AAC): segmenting at keyframes, parts and
 * their order in the playlist, blocking reload and its hold bound, the preload-hint part, a new epoch
 * (discontinuity + new map), the bounded window; segments checked with ffprobe and MP4Box.js, and ffmpeg's
 * own HLS demuxer (a plain, non-LL client) reading the playlist over HTTP.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessUnit } from '../../../src/media/core/access-unit.js';
import { blockingRequestOf, LLHLS_RESOURCE_PATTERN, LlhlsReader, LlhlsRequestError } from '../../../src/media/readers/llhls/index.js';
import { encodeTestMedia, FFMPEG, FFPROBE, type EncodedMedia } from '../../support/encoded-media.js';
import { serveLlhls } from '../../support/llhls-serve.js';
import { inspectWithMp4Box } from '../../support/mp4box-inspect.js';

const run = promisify(execFile);
let media: EncodedMedia;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'se-llhls-'));
  media = await encodeTestMedia({ codec: 'h264', seconds: 4, bframes: 2, gop: 25, audio: true, width: 320, height: 240 });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One loop of the media shifted by `loop` lengths, so several loops form one continuous stream. */
function shifted(loop: number, epoch = 1): AccessUnit[] {
  const length = 4 * 90000;
  return media.units.map((u) => ({ ...u, pts: u.pts + loop * length, dts: u.dts + loop * length, epoch }));
}

function feed(reader: LlhlsReader, units: AccessUnit[]): void {
  for (const unit of units) reader.onAccessUnit(unit);
}

interface ParsedPlaylist {
  lines: string[];
  parts: Array<{ duration: number; uri: string; independent: boolean }>;
  segments: Array<{ duration: number; uri: string }>;
  tags: Map<string, string>;
}

function parse(text: string): ParsedPlaylist {
  const lines = text.trim().split('\n');
  const parts: ParsedPlaylist['parts'] = [];
  const segments: ParsedPlaylist['segments'] = [];
  const tags = new Map<string, string>();
  lines.forEach((line, i) => {
    const part = /^#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(,INDEPENDENT=YES)?$/.exec(line);
    if (part) parts.push({ duration: Number(part[1]), uri: part[2], independent: Boolean(part[3]) });
    const inf = /^#EXTINF:([\d.]+),$/.exec(line);
    if (inf) segments.push({ duration: Number(inf[1]), uri: lines[i + 1] });
    const tag = /^(#EXT-X-[A-Z-]+):(.*)$/.exec(line);
    if (tag && !tags.has(tag[1])) tags.set(tag[1], tag[2]);
  });
  return { lines, parts, segments, tags };
}

describe('LL-HLS reader: segments and parts', () => {
  let reader: LlhlsReader;
  let text = '';

  beforeAll(async () => {
    reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    feed(reader, shifted(0));
    text = await reader.playlist();
  });
  afterAll(() => reader.close('test over'));

  it('cuts ~1 s segments at the keyframes (GOP 25 at 25 fps) and 200 ms parts', () => {
    const p = parse(text);
    expect(p.segments.length).toBeGreaterThanOrEqual(3);
    for (const s of p.segments) expect(s.duration).toBeCloseTo(1.0, 2);
    for (const part of p.parts) expect(part.duration).toBeLessThanOrEqual(0.201);
    const target = Number(/PART-TARGET=([\d.]+)/.exec(text)?.[1]);
    const holdBack = Number(/PART-HOLD-BACK=([\d.]+)/.exec(text)?.[1]);
    expect(target).toBeCloseTo(0.2, 3);
    expect(holdBack).toBeGreaterThanOrEqual(3 * target - 1e-9);
    expect(text).toContain('CAN-BLOCK-RELOAD=YES');
    expect(p.tags.get('#EXT-X-TARGETDURATION')).toBe('2');
  });

  it('lists each segment\'s parts before its EXTINF, the first one independent', () => {
    const p = parse(text);
    for (const segment of p.segments) {
      const msn = /^seg-(\d+)\.m4s$/.exec(segment.uri)?.[1];
      const partLines = p.lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes(`URI="part-${msn}-`));
      const extinfLine = p.lines.indexOf(segment.uri) - 1;
      expect(partLines.length).toBe(5);
      for (const [, i] of partLines) expect(i).toBeLessThan(extinfLine);
      expect(partLines[0][0]).toContain('INDEPENDENT=YES');
    }
  });

  it('gives PROGRAM-DATE-TIME in milliseconds and a preload hint for the next part', () => {
    expect(text).toMatch(/#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    expect(text.trim().split('\n').pop()).toMatch(/^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+-\d+\.m4s"$/);
  });

  it('a segment is its parts back to back; ffprobe and MP4Box.js read it with its init', async () => {
    const init = await reader.resource('init-1.mp4');
    const seg = await reader.resource('seg-1.m4s');
    const parts = await Promise.all([0, 1, 2, 3, 4].map((i) => reader.resource(`part-1-${i}.m4s`)));
    expect(init?.contentType).toBe('video/mp4');
    expect(seg?.body.length).toBe(parts.reduce((n, p) => n + (p?.body.length ?? 0), 0));
    const file = join(dir, 'seg1.mp4');
    const bytes = Buffer.concat([init?.body ?? new Uint8Array(), seg?.body ?? new Uint8Array()]);
    await writeFile(file, bytes);
    const { stdout } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file]);
    const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; nb_read_frames: string }> }).streams;
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', nb_read_frames: '25' });
    expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    const report = inspectWithMp4Box(bytes);
    expect(report.errors).toEqual([]);
    const videoSamples = report.samples.get(report.info.videoTracks[0].id) ?? [];
    expect(videoSamples.length).toBe(25);
    expect(videoSamples[0].is_sync).toBe(true);
  });

  it('reads delivery directives from a query and refuses malformed ones', () => {
    expect(blockingRequestOf(new URLSearchParams('_HLS_msn=12&_HLS_part=3'))).toEqual({ msn: 12, part: 3 });
    expect(blockingRequestOf(new URLSearchParams(''))).toEqual({});
    expect(() => blockingRequestOf(new URLSearchParams('_HLS_msn=-1'))).toThrow(LlhlsRequestError);
    expect(() => blockingRequestOf(new URLSearchParams('_HLS_msn=1e3'))).toThrow(LlhlsRequestError);
    for (const name of ['init-1.mp4', 'seg-12.m4s', 'part-12-3.m4s']) expect(LLHLS_RESOURCE_PATTERN.test(name)).toBe(true);
    for (const uri of text.match(/URI="[^"]+"/g) ?? []) expect(LLHLS_RESOURCE_PATTERN.test(uri.slice(5, -1))).toBe(true);
  });

  it('refuses an _HLS_msn far ahead and _HLS_part alone', async () => {
    await expect(reader.playlist({ msn: 99 })).rejects.toThrow(LlhlsRequestError);
    await expect(reader.playlist({ part: 1 })).rejects.toThrow(LlhlsRequestError);
  });
});

describe('LL-HLS reader: blocking reload', () => {
  it('answers a request without _HLS_ at once, holds _HLS_msn/_HLS_part until that part exists', async () => {
    const reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    const units = shifted(0);
    const firstSecond = units.filter((u) => u.dts < units[0].dts + 1.5 * 90000);
    feed(reader, firstSecond);
    const plain = parse(await reader.playlist());
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)-(\d+)\.m4s"/.exec(plain.lines.join('\n'));
    expect(hint).not.toBeNull();
    const [msn, part] = [Number(hint?.[1]), Number(hint?.[2])];
    let answered = false;
    const blocked = reader.playlist({ msn, part }).then((text) => {
      answered = true;
      return text;
    });
    const hinted = reader.resource(`part-${msn}-${part}.m4s`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    feed(reader, units.filter((u) => !firstSecond.includes(u)));
    const text = await blocked;
    expect(text).toContain(`URI="part-${msn}-${part}.m4s"`);
    expect((await hinted)?.body.length).toBeGreaterThan(0);
    reader.close('test over');
  });

  it('lets a blocking request go after the hold bound with the playlist as it is', async () => {
    const timers: Array<() => void> = [];
    const reader = new LlhlsReader({ setTimer: (fn) => (timers.push(fn), { cancel: () => undefined }) });
    reader.onParameters(media.tracks, 1);
    feed(reader, shifted(0).slice(0, 60));
    const text = await reader.playlist();
    const last = parse(text).segments.length;
    const blocked = reader.playlist({ msn: last + 1 });
    expect(timers.length).toBe(1);
    timers[0]();
    expect(await blocked).toBe(text);
    reader.close('test over');
  });

  it('a closed reader answers waiting requests and refuses new ones', async () => {
    const reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    feed(reader, shifted(0).slice(0, 40));
    const waiting = reader.playlist({ msn: 2 });
    reader.close('source stopped');
    await expect(waiting).rejects.toThrow(/source stopped/);
    await expect(reader.playlist()).rejects.toThrow(/source stopped/);
  });
});

describe('LL-HLS reader: epochs and memory', () => {
  it('starts a new init segment after EXT-X-DISCONTINUITY on a new epoch, and drops units of a stale epoch', async () => {
    const reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    feed(reader, shifted(0, 1));
    reader.onParameters(media.tracks, 2);
    feed(reader, shifted(0, 1).slice(0, 10)); // late units of epoch 1
    const droppedBefore = reader.stats().droppedUnits;
    feed(reader, shifted(0, 2));
    const text = await reader.playlist();
    expect(droppedBefore).toBeGreaterThanOrEqual(10);
    const lines = text.split('\n');
    const disc = lines.indexOf('#EXT-X-DISCONTINUITY');
    expect(disc).toBeGreaterThan(0);
    expect(lines[disc + 1]).toBe('#EXT-X-MAP:URI="init-2.mp4"');
    expect(text).toContain('#EXT-X-MAP:URI="init-1.mp4"');
    expect((await reader.resource('init-2.mp4'))?.body.length).toBeGreaterThan(0);
    reader.close('test over');
  });

  it('keeps a bounded window: memory stays flat over a minute of video', async () => {
    const reader = new LlhlsReader({ windowSegments: 6 });
    reader.onParameters(media.tracks, 1);
    const held: number[] = [];
    for (let loop = 0; loop < 15; loop++) {
      feed(reader, shifted(loop));
      held.push(reader.stats().heldBytes);
    }
    const p = parse(await reader.playlist());
    expect(p.segments.length).toBe(6);
    // Parts stay listed for the whole window (hls.js loads parts only while its playhead is near them).
    expect(p.parts.length).toBeGreaterThanOrEqual(6 * 5);
    expect(Number(p.tags.get('#EXT-X-MEDIA-SEQUENCE'))).toBeGreaterThan(50);
    expect(held[14]).toBeLessThan(held[2] * 1.5);
    expect(await reader.resource('seg-1.m4s')).toBeUndefined();
    reader.close('test over');
  });
});

describe('LL-HLS reader: a window by duration', () => {
  it('windowSec below 3 target durations keeps what RFC 8216 asks: the listed segments last 3 target durations, one segment less would not', async () => {
    const reader = new LlhlsReader({ windowSec: 1 });
    reader.onParameters(media.tracks, 1);
    for (let loop = 0; loop < 5; loop++) feed(reader, shifted(loop));
    const p = parse(await reader.playlist());
    const target = Number(p.tags.get('#EXT-X-TARGETDURATION'));
    const listed = p.segments.reduce((sum, seg) => sum + seg.duration, 0);
    expect(listed).toBeGreaterThanOrEqual(3 * target);
    expect(listed - p.segments[0].duration).toBeLessThan(3 * target);
    // Parts stay listed for every segment of the window (hls.js #7431), and the oldest listed one is served.
    expect(p.parts.length).toBeGreaterThanOrEqual(p.segments.length * 4);
    expect(await reader.resource(p.segments[0].uri)).toBeDefined();
    expect(await reader.resource(p.parts[0].uri)).toBeDefined();
    reader.close('test over');
  });

  it('without windowSec keeps 8 segments', async () => {
    const reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    for (let loop = 0; loop < 4; loop++) feed(reader, shifted(loop));
    expect(parse(await reader.playlist()).segments.length).toBe(8);
    reader.close('test over');
  });
});

describe('LL-HLS reader: the idle window (idleWindowSec)', () => {
  /** A reader on a clock the test moves (ms). */
  function clocked(idleWindowSec?: number): { reader: LlhlsReader; clock: { ms: number } } {
    const clock = { ms: 0 };
    const reader = new LlhlsReader({ ...(idleWindowSec !== undefined ? { idleWindowSec } : {}), now: () => clock.ms });
    reader.onParameters(media.tracks, 1);
    return { reader, clock };
  }

  it('keeps only the newest segment while nobody asks, answers the next client at once with a valid playlist, and grows back', async () => {
    const { reader, clock } = clocked();
    feed(reader, shifted(0));
    feed(reader, shifted(1));
    const full = reader.stats().heldBytes;
    expect(reader.stats().windowIdle).toBe(false);
    // 10 s without a request: the window goes at the next segment.
    clock.ms = 10_000;
    feed(reader, shifted(2));
    feed(reader, shifted(3));
    const idle = reader.stats();
    expect(idle.windowIdle).toBe(true);
    expect(idle.heldBytes).toBeLessThan(full / 3);
    // A client arrives: the playlist is answered at once (no _HLS_ directives: never blocked) with the newest
    // complete segment, its parts, the one being built and the preload hint.
    const text = await Promise.race([reader.playlist(), new Promise<string>((r) => setTimeout(() => r('blocked'), 500))]);
    expect(reader.stats().windowIdle).toBe(false);
    const p = parse(text);
    expect(p.segments).toHaveLength(1);
    const msn = Number(/seg-(\d+)\.m4s/.exec(p.segments[0].uri)?.[1]);
    expect(Number(p.tags.get('#EXT-X-MEDIA-SEQUENCE'))).toBe(msn);
    expect(msn).toBeGreaterThan(8);
    // RFC 8216bis: every EXTINF within TARGETDURATION, PART durations within PART-TARGET (rounded), the map
    // and the date before the first segment, the hint names the next part; everything listed is served.
    const target = Number(p.tags.get('#EXT-X-TARGETDURATION'));
    for (const seg of p.segments) expect(Math.round(seg.duration)).toBeLessThanOrEqual(target);
    expect(p.tags.get('#EXT-X-MAP')).toBe('URI="init-1.mp4"');
    expect(p.tags.has('#EXT-X-PROGRAM-DATE-TIME')).toBe(true);
    expect(p.tags.get('#EXT-X-PRELOAD-HINT')).toMatch(/^TYPE=PART,URI="part-\d+-\d+\.m4s"$/);
    expect(p.parts[0]?.independent).toBe(true);
    for (const uri of [...p.segments.map((x) => x.uri), ...p.parts.map((x) => x.uri), 'init-1.mp4']) expect(await reader.resource(uri)).toBeDefined();
    // Media of the kept segment plays: ffprobe decodes init + segment.
    const file = join(dir, 'idle-seg.mp4');
    await writeFile(file, Buffer.concat([(await reader.resource('init-1.mp4'))!.body, (await reader.resource(p.segments[0].uri))!.body]));
    const probe = await run(FFPROBE, ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
    expect(Number(probe.stdout.trim())).toBeGreaterThanOrEqual(20);
    // The client keeps asking (the clock does not pass the idle bound): the window grows back to 8 segments.
    feed(reader, shifted(4));
    feed(reader, shifted(5));
    expect(parse(await reader.playlist()).segments.length).toBe(8);
    expect(reader.stats().heldBytes).toBeGreaterThan(full * 0.8);
    reader.close('test over');
  });

  it('a blocking request in progress, or the gateway waiting for its first segment, is no client / is one', async () => {
    const { reader, clock } = clocked(10);
    clock.ms = 20_000;
    // The gateway's own wait for the first segment does not count as a client.
    const first = reader.playlist({ msn: 0 }, true);
    feed(reader, shifted(0));
    await first;
    feed(reader, shifted(1));
    expect(reader.stats().windowIdle).toBe(true);
    expect(parse(await reader.playlist()).segments.length).toBe(1);
    // A segment request counts as a client as well.
    clock.ms = 40_000;
    feed(reader, shifted(2));
    expect(reader.stats().windowIdle).toBe(true);
    await reader.resource('init-1.mp4');
    expect(reader.stats().windowIdle).toBe(false);
    reader.close('test over');
  });

  it('idleWindowSec 0 always keeps the window', () => {
    const { reader, clock } = clocked(0);
    clock.ms = 1_000_000;
    for (let loop = 0; loop < 4; loop++) feed(reader, shifted(loop));
    expect(reader.stats().windowIdle).toBe(false);
    expect(reader.stats().heldBytes).toBeGreaterThan(0);
    return reader.playlist().then((text) => {
      expect(parse(text).segments.length).toBe(8);
      reader.close('test over');
    });
  });
});

describe('LL-HLS reader: a plain HLS client', () => {
  it('ffmpeg\'s HLS demuxer (no LL-HLS support) reads the playlist and decodes the segments', async () => {
    const reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    feed(reader, shifted(0));
    feed(reader, shifted(1));
    const served = await serveLlhls(reader);
    try {
      // A live playlist never ends: decode 30 frames (more than one segment) and stop.
      const { stdout } = await run(FFMPEG, ['-v', 'error', '-i', `${served.base}/index.m3u8`, '-map', '0:v', '-frames:v', '30', '-f', 'framemd5', '-'], { timeout: 60_000 });
      const frames = stdout.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(frames.length).toBe(30);
      expect(stdout).toMatch(/#dimensions 0: 320x240/);
      expect(served.log.some((r) => /seg-\d+\.m4s/.test(r.url))).toBe(true);
    } finally {
      await served.close();
      reader.close('test over');
    }
  });
});

describe('LL-HLS reader: bad input', () => {
  it('drops what it cannot use, counts it, and keeps serving', async () => {
    const reader = new LlhlsReader();
    const units = shifted(0);
    // Units before any parameters, then parameters with a garbage H.265 SPS: unplayable, said why.
    feed(reader, units.slice(0, 5));
    reader.onParameters([{ ...media.video, codec: 'h265', sps: [Uint8Array.of(0x42, 0x01, 0x01)], pps: media.video.pps, vps: [Uint8Array.of(0x40, 0x01)], codecString: '' }], 1);
    feed(reader, units.slice(0, 20));
    expect(reader.stats().unplayableReason).toMatch(/SPS/);
    expect(reader.stats().droppedUnits).toBe(25);
    // A good epoch after that plays; within it, empty pictures and absurd timestamps are dropped or absorbed.
    reader.onParameters(media.tracks, 2);
    const good = shifted(0, 2);
    const broken: AccessUnit[] = [
      { ...good[40], nalus: [] },
      { ...good[41], data: undefined, kind: 'audio' },
      { ...good[42], dts: good[42].dts + 50 * 90000, pts: good[42].pts + 50 * 90000 },
      { ...good[43], dts: -1e12, pts: -1e12 },
    ];
    feed(reader, [...good.slice(0, 40), ...broken, ...good.slice(44)]);
    expect(reader.stats().unplayableReason).toBeNull();
    const p = parse(await reader.playlist());
    expect(p.segments.length).toBeGreaterThanOrEqual(2);
    for (const s of p.segments) expect(s.duration).toBeLessThanOrEqual(2.0 + 0.05);
    expect(reader.stats().droppedUnits).toBeGreaterThan(25);
    reader.close('test over');
  });

  it('audio does not pile up when video stops coming', () => {
    const reader = new LlhlsReader();
    reader.onParameters(media.tracks, 1);
    const units = shifted(0);
    feed(reader, units.slice(0, 30));
    const audioOnly = Array.from({ length: 15 }, (_, loop) => shifted(loop).filter((u) => u.kind === 'audio')).flat();
    feed(reader, audioOnly.filter((u) => u.dts > units[29].dts));
    expect(reader.backlog()).toBeLessThan(500 * 400);
    expect(reader.stats().droppedUnits).toBeGreaterThan(1000);
    reader.close('test over');
  });

  it('an audio-only AAC stream gets parts and segments too', async () => {
    const reader = new LlhlsReader();
    const audio = media.audio;
    if (!audio) throw new Error('test media has no audio');
    reader.onParameters([audio], 1);
    feed(reader, shifted(0).filter((u) => u.kind === 'audio'));
    const p = parse(await reader.playlist());
    expect(p.parts.length).toBeGreaterThan(10);
    expect(p.segments.length).toBeGreaterThanOrEqual(3);
    expect(reader.codecs()).toBe('mp4a.40.2');
    reader.close('test over');
  });
});
