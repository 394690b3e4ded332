/**
 * Replays the fuzz corpus (test-fixtures/fuzz/<codec>/*.bin: minimised interesting inputs and crashers found
 * by bench/fuzz.mjs) through the decoders on every CI run. Each input must decode or be refused with the
 * decoder's documented error type (runDecoder throws DecoderCrash otherwise). Fast: a few hundred small files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DECODER_NAMES, runDecoder, type DecoderName } from '../../src/codecs/decoder-harness.js';

const CORPUS = fileURLToPath(new URL('../../../test-fixtures/fuzz/', import.meta.url));

function corpusOf(codec: DecoderName): Array<[string, Buffer]> {
  const dir = join(CORPUS, codec);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => [f, readFileSync(join(dir, f))]);
}

describe.each(DECODER_NAMES)('fuzz corpus: %s', (codec) => {
  const files = corpusOf(codec);

  it('has a corpus to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('every input decodes or is refused with the documented error', () => {
    const outcomes = new Map<string, number>();
    for (const [name, bytes] of files) {
      let outcome: string;
      try {
        const o = runDecoder(codec, bytes);
        outcome = o.kind;
      } catch (err) {
        throw new Error(`${codec}/${name}: ${(err as Error).message}`);
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].every((k) => k === 'ok' || k === 'refused')).toBe(true);
  });
});
