/**
 * What a player of a gateway HLS stream would decode: the playlist's init segment + newest media segment, probed
 * together by ffprobe (frames counted by decoding them).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { Harness } from './gateway-harness.js';

const run = promisify(execFile);

export async function decodedFrames(h: Harness, hls: string, dir: string): Promise<{ codec: string; width: number; frames: number; audio: string | null }> {
  const base = `${h.gateway.httpUrl}${hls.slice(0, hls.lastIndexOf('/') + 1)}`;
  const playlist = await (await fetch(`${h.gateway.httpUrl}${hls}`)).text();
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
  const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
  expect(init, playlist).toBeDefined();
  expect(segments.length, playlist).toBeGreaterThan(0);
  const parts = await Promise.all([init!, segments[segments.length - 1]!].map(async (name) => Buffer.from(await (await fetch(base + name)).arrayBuffer())));
  const file = join(dir, `probe-${Math.random().toString(36).slice(2)}.mp4`);
  writeFileSync(file, Buffer.concat(parts));
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file]);
  const streams = (JSON.parse(stdout) as { streams: Array<Record<string, string | number>> }).streams;
  const v = streams.find((s) => s.codec_type === 'video')!;
  const a = streams.find((s) => s.codec_type === 'audio');
  return { codec: String(v.codec_name), width: Number(v.width), frames: Number(v.nb_read_frames), audio: a ? String(a.codec_name) : null };
}
