/** The pooled random source of SIP identifiers and nonces, and the memoised Via parse on the hot path. */
import { describe, expect, it } from 'vitest';
import { pooledRandomBytes, randomHex } from '../../src/codecs/sip/random-pool.js';
import { parseVia } from '../../src/codecs/sip/headers.js';
import { NonceIssuer } from '../../src/codecs/sip/digest.js';

describe('random pool', () => {
  it('never hands out the same bytes twice, across refills of the pool', () => {
    const seen = new Set<string>();
    // 12 bytes × 2,000 = 24,000 bytes: the 4 KiB pool is refilled several times.
    for (let i = 0; i < 2000; i++) seen.add(randomHex(12));
    expect(seen.size).toBe(2000);
    for (const v of seen) expect(v).toMatch(/^[0-9a-f]{24}$/);
  });

  it('pooledRandomBytes returns copies that later draws do not change', () => {
    const a = pooledRandomBytes(8);
    const before = Buffer.from(a);
    for (let i = 0; i < 1000; i++) pooledRandomBytes(8);
    expect(a.equals(before)).toBe(true);
    expect(() => pooledRandomBytes(5000)).toThrow(RangeError);
  });

  it('nonces drawn from the pool are distinct and verify', () => {
    const issuer = new NonceIssuer();
    const nonces = new Set(Array.from({ length: 1000 }, () => issuer.issue(1_000_000)));
    expect(nonces.size).toBe(1000);
    for (const n of nonces) expect(issuer.verify(n, 1_000_500)).toBe('ok');
  });
});

describe('parseVia memo', () => {
  it('a second parse of the same value is equal and independent of changes to the first', () => {
    const value = 'SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK77';
    const first = parseVia(value);
    first.params.set('received', '1.2.3.4');
    const second = parseVia(value);
    expect(second.params.has('received')).toBe(false);
    expect(second).toMatchObject({ protocol: 'SIP/2.0', transport: 'UDP', host: '10.1.2.3', port: 5060 });
    expect(second.params.get('branch')).toBe('z9hG4bK77');
    // A different value is parsed afresh, and a bad one still throws after a good one was cached.
    expect(parseVia('SIP/2.0/TCP h:1;branch=z9hG4bK1').transport).toBe('TCP');
    expect(() => parseVia('garbage')).toThrow();
    expect(parseVia(value).params.get('branch')).toBe('z9hG4bK77');
  });
});
