import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildChallenge, computeDigestResponse, NonceIssuer, parseDigestParams, verifyDigest } from '../../src/codecs/sip/digest.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

describe('digest (RFC 2617)', () => {
  const rfcHeader =
    'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
    'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

  it('reproduces the RFC 2617 §3.5 example response', () => {
    expect(
      computeDigestResponse({
        username: 'Mufasa',
        realm: 'testrealm@host.com',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        qop: 'auth',
        nc: '00000001',
        cnonce: '0a4f113b',
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
    const params = parseDigestParams(rfcHeader);
    expect(verifyDigest(params, 'Circle Of Life', 'GET')).toBe(true);
    expect(verifyDigest(params, 'Circle of Life', 'GET')).toBe(false);
    expect(verifyDigest(params, 'Circle Of Life', 'POST')).toBe(false);
    expect(verifyDigest(params, 'Circle Of Life', 'GET', { expectedRealm: 'other' })).toBe(false);
  });

  it('parses quoted and token values with any name case and loose spacing', () => {
    const p = parseDigestParams('digest USERNAME="a\\"b",Realm=3402000000 ,  nonce = "n,1", QOP="auth", algorithm=MD5,nc=00000002');
    expect(p.username).toBe('a"b');
    expect(p.realm).toBe('3402000000');
    expect(p.nonce).toBe('n,1');
    expect(p.qop).toBe('auth');
    expect(p.algorithm).toBe('MD5');
    expect(p.nc).toBe('00000002');
    expect(parseDigestParams('Basic dXNlcjpwdw==')).toEqual({});
    expect(parseDigestParams('Digest realm="unterminated')).toEqual({});
    // A hostile parameter name stays a plain own key.
    const hostile = parseDigestParams('Digest __proto__="x", constructor="y"');
    expect(hostile.__proto__).toBe('x');
    expect(Object.getPrototypeOf(hostile)).toBeNull();
  });

  it('verifies a REGISTER without qop against the uri inside the header (not the Request-URI)', () => {
    // sipp puts the remote address in uri= while the request line names the platform ID (GB brief §2.2).
    const uri = 'sip:127.0.0.1:15090';
    const ha1 = md5('34020000001320000001:3402000000:12345678');
    const ha2 = md5(`REGISTER:${uri}`);
    const response = md5(`${ha1}:abc123:${ha2}`);
    const header = `Digest username="34020000001320000001",realm="3402000000",nonce="abc123",uri="${uri}",response="${response}",algorithm=MD5`;
    const params = parseDigestParams(header);
    expect(verifyDigest(params, '12345678', 'REGISTER')).toBe(true);
    expect(verifyDigest(params, 'wrong', 'REGISTER')).toBe(false);
    // Upper-case hex from a device is still the same digest.
    expect(verifyDigest(parseDigestParams(header.replace(response, response.toUpperCase())), '12345678', 'REGISTER')).toBe(true);
  });

  it('rejects incomplete or unsupported credentials without throwing', () => {
    expect(verifyDigest(parseDigestParams('Digest username="a", realm="r", nonce="n"'), 'pw', 'REGISTER')).toBe(false);
    const withQopNoCnonce = 'Digest username="a", realm="r", nonce="n", uri="sip:x", response="00", qop=auth';
    expect(verifyDigest(parseDigestParams(withQopNoCnonce), 'pw', 'REGISTER')).toBe(false);
    const authInt = 'Digest username="a", realm="r", nonce="n", uri="sip:x", response="00", qop=auth-int, nc=1, cnonce=c';
    expect(verifyDigest(parseDigestParams(authInt), 'pw', 'REGISTER')).toBe(false);
    const sha1 = 'Digest username="a", realm="r", nonce="n", uri="sip:x", response="00", algorithm=SHA-1';
    expect(verifyDigest(parseDigestParams(sha1), 'pw', 'REGISTER')).toBe(false);
  });

  it('builds the GB challenge', () => {
    expect(buildChallenge('4403050000', 'abc')).toBe('Digest realm="4403050000", nonce="abc", qop="auth", algorithm=MD5');
    expect(buildChallenge('r', 'n', { stale: true })).toContain('stale=true');
    const challenge = parseDigestParams(buildChallenge('4403050000', 'abc'));
    expect(challenge).toMatchObject({ realm: '4403050000', nonce: 'abc', qop: 'auth', algorithm: 'MD5' });
  });
});

describe('NonceIssuer', () => {
  const secret = Buffer.alloc(32, 7);
  const t0 = Date.UTC(2026, 2, 1, 9, 0, 0);

  it('accepts its own nonce within the lifetime, then calls it stale', () => {
    const issuer = new NonceIssuer({ secret, lifetimeMs: 60_000 });
    const nonce = issuer.issue(t0);
    expect(nonce).toMatch(/^[0-9a-f]{60}$/);
    expect(issuer.verify(nonce, t0)).toBe('ok');
    expect(issuer.verify(nonce, t0 + 60_000)).toBe('ok');
    expect(issuer.verify(nonce, t0 + 60_001)).toBe('stale');
    // A second issuer with the same secret (another process) agrees: nothing is stored per nonce.
    expect(new NonceIssuer({ secret, lifetimeMs: 60_000 }).verify(nonce, t0 + 1000)).toBe('ok');
  });

  it('calls forged, foreign, far-future and malformed nonces invalid', () => {
    const issuer = new NonceIssuer({ secret });
    const nonce = issuer.issue(t0);
    const flipped = (nonce[59] === '0' ? '1' : '0');
    expect(issuer.verify(nonce.slice(0, 59) + flipped, t0)).toBe('invalid');
    expect(new NonceIssuer({ secret: Buffer.alloc(32, 8) }).verify(nonce, t0)).toBe('invalid');
    expect(issuer.verify(issuer.issue(t0 + 10 * 60_000), t0)).toBe('invalid');
    expect(issuer.verify(String(Math.floor(t0 / 1000)), t0)).toBe('invalid'); // gb28181_simulator style
    expect(issuer.verify('', t0)).toBe('invalid');
    expect(issuer.verify('zz'.repeat(30), t0)).toBe('invalid');
  });

  it('issues different nonces for the same millisecond', () => {
    const issuer = new NonceIssuer({ secret });
    expect(issuer.issue(t0)).not.toBe(issuer.issue(t0));
  });
});
