import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { estimateFrameRate } from '../../src/media/frame-rate.js';
import { buildHlsPackagerArgs } from '../../src/media/ffmpeg/args.js';
import { HlsOutput, mediaFilePath, streamDirectory, sweepMediaRoot } from '../../src/media/hls-output.js';

describe('HlsOutput', () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(await mkdtemp(path.join(os.tmpdir(), 'se-hls-')), 'media');
  });
  afterAll(async () => {
    await rm(path.dirname(root), { recursive: true, force: true });
  });

  it('creates the stream directory (wiping a stale one) and removes it on close', async () => {
    const stale = path.join(root, 'cam-1');
    await mkdir(stale, { recursive: true });
    await writeFile(path.join(stale, 'seg-99.m4s'), 'old');
    const output = await HlsOutput.create(root, 'cam-1');
    expect(output.dir).toBe(stale);
    expect(await readdir(output.dir)).toEqual([]);
    expect(output.playlistPath).toBe(path.join(stale, 'index.m3u8'));
    expect(output.segmentPattern).toBe(path.join(stale, 'seg-%d.m4s'));
    await writeFile(path.join(output.dir, 'seg-0.m4s'), 'x');
    await output.remove();
    await output.remove();
    expect(existsSync(stale)).toBe(false);
  });

  it('path helpers never leave the media directory', async () => {
    const resolvedRoot = path.resolve(root);
    expect(mediaFilePath(root, 'cam-1', 'seg-12.m4s')).toBe(path.join(resolvedRoot, 'cam-1', 'seg-12.m4s'));
    expect(mediaFilePath(root, 'cam-1', 'index.m3u8')).toBe(path.join(resolvedRoot, 'cam-1', 'index.m3u8'));
    for (const [id, name] of [
      ['cam-1', '../cam-2/index.m3u8'],
      ['cam-1', '..'],
      ['cam-1', '.m3u8'],
      ['cam-1', 'index.m3u8.tmp'],
      ['cam-1', 'a/b.m4s'],
      ['cam-1', 'a\\b.m4s'],
      ['cam-1', 'x.m4s\0'],
      ['cam-1', '/etc/passwd'],
      ['cam-1', 'secret.json'],
      ['..', 'index.m3u8'],
      ['.', 'index.m3u8'],
      ['', 'index.m3u8'],
      ['a/b', 'index.m3u8'],
      ['-rf', 'index.m3u8'],
    ]) {
      expect(mediaFilePath(root, id!, name!), `${id} ${name}`).toBeNull();
    }
    expect(streamDirectory(root, '../x')).toBeNull();
    await expect(HlsOutput.create(root, '../escape')).rejects.toThrow(RangeError);
    const output = await HlsOutput.create(root, 'cam-2');
    expect(output.filePath('init.mp4')).toBe(path.join(resolvedRoot, 'cam-2', 'init.mp4'));
    expect(output.filePath('../cam-1/init.mp4')).toBeNull();
    await output.remove();
  });

  it('sweeps stream directories left by a crash, keeping running ones and foreign files', async () => {
    await HlsOutput.create(root, 'left-1');
    await HlsOutput.create(root, 'left-2');
    await HlsOutput.create(root, 'running');
    await writeFile(path.join(root, 'README.txt'), 'not a stream');
    expect(await sweepMediaRoot(root, new Set(['running']))).toBe(2);
    expect((await readdir(root)).sort()).toEqual(['README.txt', 'running']);
    expect(await sweepMediaRoot(path.join(root, 'missing'))).toBe(0);
  });
});

describe('estimateFrameRate', () => {
  it('takes the median PTS step, snaps to camera rates, survives drops and the 33-bit wrap', () => {
    const at = (fps: number, n: number, start = 0): number[] =>
      Array.from({ length: n }, (_, i) => (start + Math.round((i * 90_000) / fps)) % 2 ** 33);
    expect(estimateFrameRate(at(25, 20))).toBe(25);
    expect(estimateFrameRate(at(15, 20))).toBe(15);
    expect(estimateFrameRate(at(25, 20, 2 ** 33 - 90_000 / 25 * 5))).toBe(25);
    const withDrop = at(25, 20).filter((_, i) => i !== 7 && i !== 8);
    expect(estimateFrameRate([null, ...withDrop])).toBe(25);
    expect(estimateFrameRate([0, 3636, 7272, 10908])).toBe(25); // a camera clock 1 % slow
    expect(estimateFrameRate([1000])).toBeNull();
  });
});

describe('buildHlsPackagerArgs', () => {
  const base = {
    segmentSeconds: 1,
    listSize: 6,
    frameRate: 25,
    playlistPath: '/m/s/index.m3u8',
    segmentPattern: '/m/s/seg-%d.m4s',
    initFileName: 'init.mp4',
  };
  const after = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

  it('copies H.264, tags copied H.265 hvc1, transcodes H.265 with a 1 s GOP from the measured rate', () => {
    const h264 = buildHlsPackagerArgs({ ...base, video: 'h264', transcodeH265ToH264: false });
    expect(after(h264, '-c:v')).toBe('copy');
    expect(h264).not.toContain('-tag:v');
    expect(h264.slice(-1)).toEqual(['/m/s/index.m3u8']);
    expect(after(h264, '-hls_segment_type')).toBe('fmp4');
    expect(after(h264, '-hls_flags')).toContain('temp_file');

    const h265 = buildHlsPackagerArgs({ ...base, video: 'h265', transcodeH265ToH264: false });
    expect(after(h265, '-tag:v')).toBe('hvc1');
    expect(after(h265, '-f')).toBe('hevc');

    const transcode = buildHlsPackagerArgs({ ...base, video: 'h265', transcodeH265ToH264: true, frameRate: 15 });
    expect(after(transcode, '-c:v')).toBe('libx264');
    expect(after(transcode, '-g')).toBe('15');
    expect(after(transcode, '-framerate')).toBe('15');

    const audio = buildHlsPackagerArgs({ ...base, video: 'h264', audio: 'g711u', transcodeH265ToH264: false });
    expect(audio).toEqual(expect.arrayContaining(['-f', 'mulaw', '-i', 'pipe:3', '-c:a', 'aac', '-map', '1:a:0']));
    const aac = buildHlsPackagerArgs({ ...base, video: 'h264', audio: 'aac', transcodeH265ToH264: false });
    expect(after(aac, '-c:a')).toBe('copy');

    expect(() => buildHlsPackagerArgs({ ...base, frameRate: 0, video: 'h264', transcodeH265ToH264: false })).toThrow(RangeError);
  });
});
