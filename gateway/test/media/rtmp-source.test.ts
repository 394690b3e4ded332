/**
 * The RTMP source fed the tags of a real x264 encode with B-frames (what ffmpeg or OBS publish), directly and
 * through the stream service's play path:
 *  - every picture's presentation time is the tag's DTS + composition time, exactly, also when the encoder
 *    stamps negative composition times (DTS shifted up to the first PTS); decode times go strictly forward;
 *  - a play whose source announces its first keyframe before the service has chosen its readers (a play issued
 *    the moment a pusher connects) still plays — it used to fail with "no key frame within … s".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessUnit } from '../../src/media/core/access-unit.js';
import { parseVideoTag } from '../../src/codecs/flv/flv-tags.js';
import { RtmpSource } from '../../src/media/sources/rtmp/rtmp-source.js';
import { StreamService, type StreamTarget } from '../../src/domain/streams/stream-service.js';
import { encodeFlv, flvTags, type FlvFileTag } from '../support/flv-file.js';

function feed(source: RtmpSource, tags: readonly FlvFileTag[]): void {
  for (const t of tags) if (t.type === 8 || t.type === 9) source.tag(t.type === 9 ? 'video' : 'audio', t.ts, t.body);
}

function videoUnits(tags: readonly FlvFileTag[]): AccessUnit[] {
  const source = new RtmpSource(() => undefined);
  const units: AccessUnit[] = [];
  source.on('unit', (u) => {
    if (u.kind === 'video') units.push(u);
  });
  feed(source, tags);
  source.publisherGone('end of file');
  return units;
}

/** The same pictures with the tag time moved to DTS + `lead` and the composition time lowered by as much. */
function withNegativeCts(tags: readonly FlvFileTag[], lead: number): FlvFileTag[] {
  return tags.map((t) => {
    if (t.type !== 9 || t.body[1] !== 1) return t;
    const body = Uint8Array.from(t.body);
    let cts = (body[2]! << 16) | (body[3]! << 8) | body[4]!;
    if (cts & 0x800000) cts -= 0x1000000;
    const v = (cts - lead) & 0xffffff;
    body[2] = v >> 16;
    body[3] = (v >> 8) & 0xff;
    body[4] = v & 0xff;
    return { ...t, ts: t.ts + lead, body };
  });
}

describe('RTMP source with B-frames', () => {
  let dir: string;
  let tags: FlvFileTag[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-rtmp-src-'));
    const file = join(dir, 'b.flv');
    await encodeFlv(file, { seconds: 4, bframes: 3 });
    tags = flvTags(file);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('PTS = tag time + composition time for every picture, DTS strictly increasing, some PTS ≠ DTS', () => {
    const expected = tags.filter((t) => t.type === 9).flatMap((t) => {
      const tag = parseVideoTag(t.body);
      return tag.kind === 'frame' ? [(t.ts + tag.compositionTimeMs) * 90] : [];
    });
    const units = videoUnits(tags);
    expect(units.map((u) => u.pts)).toEqual(expected);
    expect(units.every((u, i) => i === 0 || u.dts > units[i - 1]!.dts)).toBe(true);
    expect(units.every((u) => u.pts >= u.dts)).toBe(true);
    expect(units.filter((u) => u.pts !== u.dts).length).toBeGreaterThan(units.length / 2);
  });

  it('negative composition times: presentation times are kept (not clamped to DTS), DTS moves back instead', () => {
    const shifted = withNegativeCts(tags, 120);
    const negatives = shifted.filter((t) => t.type === 9).map((t) => parseVideoTag(t.body)).filter((t) => t.kind === 'frame' && t.compositionTimeMs < 0);
    expect(negatives.length).toBeGreaterThan(10);
    const plain = videoUnits(tags);
    const units = videoUnits(shifted);
    // Same pictures, same presentation times (tag time + composition time did not change) once the lead is known.
    // While it is being learnt (the first GOP, before the most negative offset came) a picture may still be
    // held at its decode time.
    expect(units).toHaveLength(plain.length);
    expect(units.slice(25).map((u) => u.pts)).toEqual(plain.slice(25).map((u) => u.pts));
    // Before: every picture with a negative composition time was clamped to PTS = DTS (B-frames out of order).
    expect(units.slice(25).filter((u) => u.pts !== u.dts).length).toBeGreaterThan(50);
    expect(units.every((u, i) => i === 0 || u.dts > units[i - 1]!.dts)).toBe(true);
    expect(units.every((u) => u.pts >= u.dts)).toBe(true);
  });

  it('a play whose source announced its parameters before the readers were chosen plays', async () => {
    const firstKeyframe = tags.findIndex((t, i) => i > 0 && t.type === 9 && parseVideoTag(t.body).kind === 'frame');
    const service = new StreamService(
      {
        resolve: async (channelId) =>
          ({
            channelId,
            deviceId: '44030500001328000001',
            deviceOnline: true,
            destination: { transport: 'tcp', address: '127.0.0.1', port: 0 },
            defaultTransport: 'tcp-passive',
            substream: { attribute: 'stream', main: '0', sub: '1' },
            allowZeroSsrc: false,
            transcodeH265: false,
            openSource: async () => {
              const source = new RtmpSource(() => clearInterval(timer));
              // The publisher was already sending: the opening keyframe and what follows it are in before the
              // service gets the source back (as when a play comes the moment the pusher connects).
              feed(source, tags.slice(0, firstKeyframe + 30));
              expect(source.tracks.map((t) => t.kind)).toEqual(['video', 'audio']);
              let at = firstKeyframe + 30;
              const timer = setInterval(() => {
                feed(source, tags.slice(at, at + 20));
                at += 20;
                if (at >= tags.length) clearInterval(timer);
              }, 10);
              return source;
            },
          }) satisfies StreamTarget,
        invite: async () => {
          throw new Error('no INVITE for a driver source');
        },
        bye: async () => undefined,
      },
      {
        sipId: '44030500002000000001', domain: '4403050000', mediaHost: '127.0.0.1', bindHost: '127.0.0.1', portRange: [40000, 40010], mediaDir: join(dir, 'media'),
        defaultTransport: 'profile', idleSec: 20, inviteTimeoutSec: 2, firstPacketTimeoutSec: 1, keyframeTimeoutSec: 2, rtpTimeoutSec: 10, transcodeH265: false,
        segmentSeconds: 1, tokenTtlSec: 600, maxStreams: 4,
      },
      pino({ level: 'silent' }),
    );
    try {
      const view = await service.play({ channelId: '44030500001318000001' });
      expect(view).toMatchObject({ state: 'playing', codec: 'h264', width: 320, height: 240, audio: 'aac' });
    } finally {
      await service.close();
    }
  }, 30_000);
});
