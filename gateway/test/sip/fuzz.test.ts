import { describe, expect, it } from 'vitest';
import { parseSipMessage, SipParseError, tryExtractResponseContext } from '../../src/codecs/sip/parser.js';
import { serializeSipMessage } from '../../src/codecs/sip/serializer.js';
import { SipStreamFramer } from '../../src/codecs/sip/framer.js';
import { parseCSeq, parseNameAddr, parseUri, parseVia } from '../../src/codecs/sip/headers.js';
import { parseDigestParams } from '../../src/codecs/sip/digest.js';
import { keepaliveMessage, OK_200, REGISTER, REGISTER_WITH_AUTH, UNAUTHORIZED_401 } from './fixtures.js';

/** mulberry32: small seeded PRNG so a failure is reproducible from the printed seed and iteration. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [REGISTER, REGISTER_WITH_AUTH, UNAUTHORIZED_401, OK_200, keepaliveMessage()];
const INTERESTING = ['\r\n', '\n', ':', ';', ',', '"', '<', '>', ' ', '\t', '\r\n ', '\0', 'Content-Length: 99999\r\n', 'l: -1\r\n', 'v: ', '\r\n\r\n', '[', ']', '@', '=', '\\'];

function mutate(rand: () => number, input: Buffer): Buffer {
  const pick = (n: number): number => Math.floor(rand() * n);
  let buf = Buffer.from(input);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(7)) {
      case 0: // flip random bytes
        for (let k = 0, n = 1 + pick(8); k < n && buf.length > 0; k++) buf[pick(buf.length)] = pick(256);
        break;
      case 1: // truncate
        buf = buf.subarray(0, pick(buf.length + 1));
        break;
      case 2: {
        // splice a piece of another valid message in
        const other = SEEDS[pick(SEEDS.length)]!;
        const from = pick(other.length);
        const piece = other.subarray(from, from + pick(200));
        const at = pick(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)]);
        break;
      }
      case 3: {
        // insert a structurally interesting token
        const tok = Buffer.from(INTERESTING[pick(INTERESTING.length)]!);
        const at = pick(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), tok, buf.subarray(at)]);
        break;
      }
      case 4: {
        // delete a range
        const at = pick(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + pick(40))]);
        break;
      }
      case 5: {
        // duplicate a line
        const text = buf.toString('latin1');
        const lines = text.split('\r\n');
        const i = pick(lines.length);
        lines.splice(i, 0, lines[i] ?? '');
        buf = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      default: // random junk
        buf = Buffer.concat([buf, Buffer.from(Array.from({ length: pick(30) }, () => pick(256)))]);
    }
  }
  return buf;
}

function expectOnlyParseErrors(fn: () => unknown, context: string): unknown {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof SipParseError)) throw new Error(`${context}: threw ${String(err)}`);
    return err;
  }
}

describe('parser fuzz (seeded)', () => {
  it('only ever returns a message or throws SipParseError over 20k mutations', () => {
    const seed = 0x5eed2881;
    const rand = prng(seed);
    let parsed = 0;
    let rejected = 0;
    const reasons = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const input = mutate(rand, SEEDS[i % SEEDS.length]!);
      const ctx = `seed ${seed} iteration ${i}`;
      const result = expectOnlyParseErrors(() => parseSipMessage(input), ctx);
      if (result instanceof SipParseError) {
        rejected++;
        reasons.add(result.reason);
        // The 400 path must not blow up on the same input either.
        const skeleton = tryExtractResponseContext(input);
        if (skeleton) expect(skeleton.headers.some(([n]) => n === 'via')).toBe(true);
        continue;
      }
      parsed++;
      const msg = result as ReturnType<typeof parseSipMessage>;
      // Whatever parsed must serialize and parse back to the same headers.
      const again = parseSipMessage(serializeSipMessage(msg));
      expect(again.headers.filter(([n]) => n !== 'content-length'), ctx).toEqual(msg.headers.filter(([n]) => n !== 'content-length'));
      expect(again.body.equals(msg.body), ctx).toBe(true);
      // The structured helpers consumers call on parsed values only throw SipParseError.
      for (const [name, value] of msg.headers) {
        if (name === 'via') expectOnlyParseErrors(() => parseVia(value), ctx);
        if (name === 'from' || name === 'to' || name === 'contact') {
          expectOnlyParseErrors(() => parseUri((parseNameAddr(value) as { uri: string }).uri), ctx);
        }
        if (name === 'cseq') expectOnlyParseErrors(() => parseCSeq(value), ctx);
        if (name === 'authorization' || name === 'www-authenticate') parseDigestParams(value);
      }
    }
    // The mutations must exercise both outcomes and several rejection paths, or the test proves nothing.
    expect(parsed).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
    expect(reasons.size).toBeGreaterThanOrEqual(5);
  });

  it('the stream framer survives the same mutations fed in random chunk sizes', () => {
    const rand = prng(0xf4a3e);
    const framer = new SipStreamFramer({ maxMessageBytes: 4096 });
    for (let i = 0; i < 3000; i++) {
      const input = mutate(rand, SEEDS[i % SEEDS.length]!);
      let offset = 0;
      while (offset < input.length) {
        const size = 1 + Math.floor(rand() * 300);
        const out = framer.push(input.subarray(offset, offset + size));
        for (const o of out) if (o.error) expect(o.error).toBeInstanceOf(SipParseError);
        offset += size;
      }
      expect(framer.bufferedBytes).toBeLessThanOrEqual(4096 + 300);
    }
    // A valid message still gets through after all that once the stream is resynchronised.
    framer.reset();
    expect(framer.push(REGISTER)[0]?.message?.kind).toBe('request');
  });
});
