/**
 * FLV files as ffmpeg writes them, read back into tags (what an RTMP publisher sends as audio/video messages),
 * and the x264 encodes the RTMP tests feed through them.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FlvFileTag {
  /** 8 audio, 9 video, 18 script data. */
  type: number;
  /** Milliseconds (the 24-bit field plus the extension byte). */
  ts: number;
  body: Uint8Array;
}

/** Tags of an FLV file: type, timestamp (ms), body. */
export function flvTags(file: string): FlvFileTag[] {
  const b = readFileSync(file);
  const out: FlvFileTag[] = [];
  let i = b.readUInt32BE(5) + 4;
  while (i + 11 <= b.length) {
    const type = b[i]!;
    const size = b.readUIntBE(i + 1, 3);
    const ts = b.readUIntBE(i + 4, 3) | (b[i + 7]! << 24);
    out.push({ type, ts, body: new Uint8Array(b.subarray(i + 11, i + 11 + size)) });
    i += 11 + size + 4;
  }
  return out;
}

/** x264 with B-frames (`bframes` of them, x264's default is 3 adaptive) + AAC into an FLV file. */
export async function encodeFlv(file: string, opts: { seconds: number; size?: string; gop?: number; bframes?: number }): Promise<void> {
  await run('ffmpeg', [
    '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${opts.size ?? '320x240'}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', String(opts.seconds), '-c:v', 'libx264', '-bf', String(opts.bframes ?? 2), '-g', String(opts.gop ?? 25), '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', '-y', file,
  ]);
}
