import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { frameIndexBarLayout, MediaLibrary, pictureTitle } from '../../src/sim/media-source.js';
import { findNalUnits, nalType } from '../../src/codecs/ps/annexb.js';
import { captureTimeOfLoopPosition } from '../../src/sim/media-sender.js';

describe('media library', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sim-media-src-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('encodes a loop once, caches it on disk and splits it into access units with keyframes every GOP', async () => {
    const lib = new MediaLibrary({ cacheDir: dir, loopSeconds: 2 });
    const t0 = Date.now();
    const loop = await lib.videoLoop('h264', 'sub', '44030500001320000001');
    const took = Date.now() - t0;
    expect(loop.frames).toHaveLength(50);
    expect(loop.frames.map((f, i) => (f.keyframe ? i : -1)).filter((i) => i >= 0)).toEqual([0, 25]);
    expect(lib.stats.encodes).toBe(1);
    const again = new MediaLibrary({ cacheDir: dir, loopSeconds: 2 });
    await again.videoLoop('h264', 'sub', '44030500001320000001');
    expect(again.stats).toMatchObject({ encodes: 0, diskHits: 1 });
    expect(await readdir(dir)).toHaveLength(1);
    console.log(`h264 sub 2 s encode ${took} ms, ${loop.bytes} bytes`);
  });

  it('the frame-index bar reads back as the frame number from decoded pixels', async () => {
    const lib = new MediaLibrary({ cacheDir: dir, loopSeconds: 2 });
    const loop = await lib.videoLoop('h264', 'sub', '44030500001320000001');
    const file = join(dir, 'bar-check.h264');
    await writeFile(file, Buffer.concat(loop.frames.map((f) => f.data)));
    const bar = frameIndexBarLayout('sub');
    for (const index of [37, 44]) {
      const decoded = spawnSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', file, '-vf', `select=eq(n\\,${index})`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
        maxBuffer: 1 << 22,
      });
      expect(decoded.status).toBe(0);
      const gray = decoded.stdout;
      expect(gray.length).toBe(loop.width * loop.height);
      let read = 0;
      for (let k = 0; k < bar.bits; k++) {
        const x = bar.x + k * bar.pitch + bar.box / 2;
        const y = bar.y + bar.box / 2;
        if (gray[y * loop.width + x]! > 128) read |= 1 << (bar.bits - 1 - k);
      }
      expect(read).toBe(index);
    }
    await rm(file);
  });

  it('a personalised loop carries the camera\'s name (Chinese, with the CJK font) above its channel ID', async () => {
    const lib = new MediaLibrary({ cacheDir: dir, loopSeconds: 1 });
    expect(lib.titleFontFile, 'a CJK font (scripts/setup-test-env.sh installs fonts-wqy-microhei)').not.toBeNull();
    const id = '44030500001320000007';
    const named = await lib.videoLoop('h264', 'sub', id, '南山区科技园南门-7号');
    const plain = await lib.videoLoop('h264', 'sub', id);
    expect(named).not.toBe(plain);
    // Decode the first frame of each: the title band (top rows, where the name is drawn) differs, the rest of
    // the picture does not change its size or frame count.
    const band = async (firstFrame: Buffer, name: string): Promise<Buffer> => {
      const file = join(dir, `band-${name}.h264`);
      await writeFile(file, firstFrame);
      const out = spawnSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', file, '-frames:v', '1', '-vf', 'crop=640:64:0:0', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 1 << 20 });
      await rm(file);
      expect(out.status).toBe(0);
      return out.stdout;
    };
    const [a, b] = await Promise.all([band(named.frames[0]!.data, 'named'), band(plain.frames[0]!.data, 'plain')]);
    let differing = 0;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 40) differing++;
    expect(differing).toBeGreaterThan(200);
    expect(named.frames).toHaveLength(plain.frames.length);
  });

  it('picture titles are one printable line of at most 40 characters', () => {
    expect(pictureTitle('东门\n入口')).toBe('东门 入口');
    expect(pictureTitle('')).toBeNull();
    expect(pictureTitle(null)).toBeNull();
    expect([...pictureTitle('测'.repeat(60))!]).toHaveLength(40);
  });

  it('h265 main loop and audio', async () => {
    const lib = new MediaLibrary({ cacheDir: dir, loopSeconds: 2 });
    const t0 = Date.now();
    const loop = await lib.videoLoop('h265', 'main', null);
    console.log(`h265 main 2 s encode ${Date.now() - t0} ms, ${loop.bytes} bytes`);
    expect(loop.frames).toHaveLength(50);
    expect(loop.frames[0]!.keyframe && loop.frames[25]!.keyframe).toBe(true);
    // Every keyframe carries VPS/SPS/PPS, so a viewer can start at any of them.
    for (const f of loop.frames.filter((fr) => fr.keyframe)) {
      const types = findNalUnits(f.data).map((n) => nalType('h265', f.data[n.header]!));
      expect(types).toEqual(expect.arrayContaining([32, 33, 34]));
    }
    const audio = await lib.audioLoop();
    expect(audio.frames).toHaveLength(100);
    expect(audio.frames[0]).toHaveLength(160);
  });
});

describe('capture time from the burnt-in loop clock', () => {
  it('picks the latest pass of the loop that is not in the future', () => {
    const epoch = 1_000;
    expect(captureTimeOfLoopPosition(240, epoch, 2_000, epoch + 3 * 2_000 + 240 + 50)).toBe(epoch + 6_000 + 240);
    // 40 ms before that position comes round again: the previous pass.
    expect(captureTimeOfLoopPosition(240, epoch, 2_000, epoch + 6_000 + 200)).toBe(epoch + 4_000 + 240);
  });
});
