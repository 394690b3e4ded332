/**
 * Parameter sets straight from a camera go into init segments: mutated and truncated SPS/PPS/VPS (seeded from
 * real x264/x265 output in test-fixtures/fuzz/fmp4/) either make an init segment or an Fmp4InputError, never
 * another exception; the CMAF timeline fed random pictures and timestamps never throws. Every corpus file is
 * replayed as it is, then mutated with a fixed seed so a failure is reproducible from the printed iteration.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildInitSegment, Fmp4InputError, parseHevcSps } from '../../../src/codecs/fmp4/index.js';
import type { VideoParameters } from '../../../src/media/core/access-unit.js';
import { CmafTimeline } from '../../../src/media/readers/cmaf/cmaf-timeline.js';
import { Fmp4LiveReader } from '../../../src/media/readers/fmp4-live/index.js';
import { LlhlsReader } from '../../../src/media/readers/llhls/index.js';
import { prng } from '../../media-codecs/helpers.js';

const corpusDir = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../test-fixtures/fuzz/fmp4');
const corpus = new Map(readdirSync(corpusDir).map((name) => [name, new Uint8Array(readFileSync(join(corpusDir, name)))]));
const file = (name: string): Uint8Array => corpus.get(name) ?? new Uint8Array();

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  const pick = (n: number): number => Math.floor(rand() * n);
  let out = Uint8Array.from(input);
  for (let round = 0, rounds = 1 + pick(3); round < rounds; round++) {
    switch (pick(4)) {
      case 0:
        for (let k = 0, n = 1 + pick(4); k < n && out.length > 0; k++) out[pick(out.length)] = pick(256);
        break;
      case 1:
        out = out.subarray(0, pick(out.length + 1));
        break;
      case 2: {
        const at = pick(out.length + 1);
        out = Uint8Array.from([...out.subarray(0, at), ...Array.from({ length: 1 + pick(8) }, () => pick(256)), ...out.subarray(at)]);
        break;
      }
      default:
        if (out.length > 2) out[2 + pick(out.length - 2)] = 0; // zero runs: emulation-prevention edge cases
    }
  }
  return out;
}

function initFor(p: VideoParameters): 'ok' | 'refused' {
  try {
    buildInitSegment([{ trackId: 1, timescale: 90000, parameters: p }]);
    return 'ok';
  } catch (err) {
    if (err instanceof Fmp4InputError) return 'refused';
    throw err;
  }
}

const h265 = (vps: Uint8Array, sps: Uint8Array, pps: Uint8Array): VideoParameters => ({
  kind: 'video', codec: 'h265', vps: [vps], sps: [sps], pps: [pps], width: 352, height: 288, codecString: '',
});
const h264 = (sps: Uint8Array, pps: Uint8Array): VideoParameters => ({
  kind: 'video', codec: 'h264', sps: [sps], pps: [pps], width: 320, height: 240, codecString: '',
});

describe('fMP4 init segments from hostile parameter sets', () => {
  it('replays the corpus: the real sets pass, the truncated SPS is refused', () => {
    expect(initFor(h265(file('h265-vps.bin'), file('h265-sps.bin'), file('h265-pps.bin')))).toBe('ok');
    expect(initFor(h264(file('h264-sps.bin'), file('h264-pps.bin')))).toBe('ok');
    expect(initFor(h265(file('h265-vps.bin'), file('h265-sps-truncated.bin'), file('h265-pps.bin')))).toBe('refused');
  });

  it('3000 mutated H.265 / H.264 sets: an init segment or Fmp4InputError, nothing else', () => {
    const rand = prng(0x5eed_f4);
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const params = i % 2 === 0
        ? h265(mutate(rand, file('h265-vps.bin')), mutate(rand, file('h265-sps.bin')), mutate(rand, file('h265-pps.bin')))
        : h264(mutate(rand, file('h264-sps.bin')), mutate(rand, file('h264-pps.bin')));
      try {
        if (initFor(params) === 'refused') refused++;
        if (params.codec === 'h265' && params.sps[0].length > 0) {
          try {
            parseHevcSps(params.sps[0]);
          } catch (err) {
            if (!(err instanceof Fmp4InputError)) throw err;
          }
        }
      } catch (err) {
        throw new Error(`iteration ${i}: ${err instanceof Error ? err.stack : String(err)}`);
      }
    }
    expect(refused).toBeGreaterThan(100); // the mutations do reach the checks
  });

  it('the timeline takes random pictures, sizes and timestamps without throwing', () => {
    const rand = prng(42);
    const timeline = new CmafTimeline([h264(file('h264-sps.bin'), file('h264-pps.bin'))]);
    for (let i = 0; i < 5000; i++) {
      const dts = Math.floor((rand() - 0.3) * 2 ** 34);
      const nalus = Array.from({ length: Math.floor(rand() * 4) }, () => Uint8Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256)));
      timeline.push({ kind: rand() < 0.9 ? 'video' : 'audio', pts: dts + Math.floor(rand() * 9000), dts, keyframe: rand() < 0.1, nalus, epoch: 1, receivedAt: 0 });
    }
    expect(() => timeline.flush()).not.toThrow();
    expect(timeline.dropped).toBeGreaterThan(0);
  });

  it('the LL-HLS and live fMP4 readers take random units and parameter changes without throwing', async () => {
    const rand = prng(7);
    const llhls = new LlhlsReader();
    const live = new Fmp4LiveReader({ sendText: () => undefined, sendBinary: () => undefined, bufferedBytes: () => Math.floor(rand() * 3_000_000), close: () => undefined });
    let epoch = 1;
    const good = h264(file('h264-sps.bin'), file('h264-pps.bin'));
    for (const reader of [llhls, live]) reader.onParameters([good], epoch);
    let dts = 0;
    for (let i = 0; i < 5000; i++) {
      if (rand() < 0.005) {
        epoch++;
        const params = rand() < 0.5 ? good : h264(mutate(rand, file('h264-sps.bin')), mutate(rand, file('h264-pps.bin')));
        for (const reader of [llhls, live]) reader.onParameters([params], epoch);
      }
      dts += rand() < 0.02 ? Math.floor((rand() - 0.5) * 2 ** 33) : 3600;
      const nalus = [Uint8Array.of(rand() < 0.1 ? 0x65 : 0x41, ...Array.from({ length: Math.floor(rand() * 30) }, () => Math.floor(rand() * 256)))];
      const unit = { kind: 'video' as const, pts: dts + 7200, dts, keyframe: rand() < 0.1, nalus, epoch: rand() < 0.98 ? epoch : epoch - 1, receivedAt: Date.now() };
      llhls.onAccessUnit(unit);
      live.onAccessUnit(unit);
    }
    expect(llhls.stats().parts).toBeGreaterThan(0);
    await expect(llhls.playlist()).resolves.toContain('#EXTM3U');
    llhls.close('done');
    live.close('done');
  });
});
