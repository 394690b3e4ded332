/**
 * HTTP Digest authentication as SIP and GB/T 28181 use it for REGISTER (RFC 2617 / RFC 3261 §22; GB brief §2.2):
 *   HA1 = H(username:realm:password)            (MD5-sess: H(H(username:realm:password):nonce:cnonce))
 *   HA2 = H(method:digest-uri)
 *   response = H(HA1:nonce:HA2)  or, with qop=auth, H(HA1:nonce:nc:cnonce:qop:HA2)
 * H is MD5 (GB devices only ever use MD5; absent `algorithm` means MD5); SHA-256 (RFC 8760) is accepted too,
 * for non-GB clients, because it costs one table entry.
 *
 * Nonces are stateless (HMAC over issue time + random, GB brief §10) so a registration storm needs no
 * per-device state. The trade-off, shared with WVP: a captured Authorization can be replayed until its nonce
 * expires (default 5 minutes); `nc` is not tracked.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { pooledRandomBytes } from './random-pool.js';
import { quote } from './headers.js';

/**
 * Digest parameters by lower-case name, values unquoted (username, realm, nonce, uri, response, qop, nc...).
 * A null-prototype object: peer-chosen names such as `__proto__` or `constructor` are plain own keys.
 */
export interface DigestParams {
  readonly [name: string]: string | undefined;
}

/**
 * Parse a Digest Authorization / WWW-Authenticate value: `Digest username="a", realm="b", nc=00000001, qop=auth`.
 * Names are case-insensitive; values may be quoted (with backslash escapes) or bare tokens; whitespace and
 * comma separators are tolerated loosely because devices vary. Never throws: another scheme or a value that
 * does not parse yields an empty object (so verification simply fails and the caller challenges again).
 */
export function parseDigestParams(headerValue: string): DigestParams {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const v = headerValue.trim();
  const m = /^digest(?:\s+|$)/i.exec(v);
  if (!m) return params;
  let i = m[0].length;
  while (i < v.length) {
    while (i < v.length && (v[i] === ',' || v[i] === ' ' || v[i] === '\t')) i++;
    if (i >= v.length) break;
    const eq = v.indexOf('=', i);
    if (eq < 0) return Object.create(null) as DigestParams;
    const name = v.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9\-_]+$/.test(name)) return Object.create(null) as DigestParams;
    i = eq + 1;
    while (i < v.length && (v[i] === ' ' || v[i] === '\t')) i++;
    let value = '';
    if (v[i] === '"') {
      i++;
      let closed = false;
      for (; i < v.length; i++) {
        const ch = v[i]!;
        if (ch === '\\' && i + 1 < v.length) {
          value += v[++i];
        } else if (ch === '"') {
          closed = true;
          i++;
          break;
        } else value += ch;
      }
      if (!closed) return Object.create(null) as DigestParams;
    } else {
      const end = v.indexOf(',', i);
      value = (end < 0 ? v.slice(i) : v.slice(i, end)).trim();
      i = end < 0 ? v.length : end;
    }
    params[name] = value;
  }
  return params;
}

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

const HASHES: Readonly<Record<string, { hash: 'md5' | 'sha256'; session: boolean }>> = {
  md5: { hash: 'md5', session: false },
  'md5-sess': { hash: 'md5', session: true },
  'sha-256': { hash: 'sha256', session: false },
  'sha-256-sess': { hash: 'sha256', session: true },
};

export interface DigestInput {
  username: string;
  realm: string;
  password: string;
  method: string;
  /** The digest-uri exactly as the client put it in the Authorization header. */
  uri: string;
  nonce: string;
  /** 'auth' or absent (RFC 2069 compatibility form). 'auth-int' is not supported. */
  qop?: string;
  nc?: string;
  cnonce?: string;
  /** Default MD5. */
  algorithm?: string;
}

/** Lower-case hex response digest. Throws on an unknown algorithm or qop (callers treat that as a failure). */
export function computeDigestResponse(input: DigestInput): string {
  const algo = HASHES[(input.algorithm ?? 'MD5').toLowerCase()];
  if (!algo) throw new Error(`unsupported digest algorithm ${input.algorithm}`);
  const h = (s: string): string => createHash(algo.hash).update(s, 'utf8').digest('hex');
  let ha1 = h(`${input.username}:${input.realm}:${input.password}`);
  if (algo.session) ha1 = h(`${ha1}:${input.nonce}:${input.cnonce ?? ''}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  if (input.qop === undefined || input.qop === '') return h(`${ha1}:${input.nonce}:${ha2}`);
  if (input.qop.toLowerCase() !== 'auth') throw new Error(`unsupported qop ${input.qop}`);
  return h(`${ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${input.qop}:${ha2}`);
}

/** WWW-Authenticate value for a 401 (GB brief §2.2: always qop="auth", algorithm=MD5, like WVP). */
export function buildChallenge(realm: string, nonce: string, opts: { stale?: boolean; opaque?: string } = {}): string {
  let value = `Digest realm=${quote(realm)}, nonce=${quote(nonce)}, qop="auth", algorithm=MD5`;
  if (opts.opaque !== undefined) value += `, opaque=${quote(opts.opaque)}`;
  if (opts.stale) value += ', stale=true';
  return value;
}

/**
 * Check an Authorization header's response digest against the password. Uses the `uri` inside the header
 * (not the Request-URI: sipp and others put a different one there, GB brief §2.2). Works with and without
 * qop. Does not judge the nonce: combine with NonceIssuer.verify. When `expectedRealm` is given, a
 * different realm fails. Never throws.
 */
export function verifyDigest(
  auth: DigestParams,
  password: string,
  method: string,
  opts: { expectedRealm?: string } = {},
): boolean {
  const { username, realm, nonce, uri, response, qop, nc, cnonce, algorithm } = auth;
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
    return false;
  }
  if (opts.expectedRealm !== undefined && realm !== opts.expectedRealm) return false;
  if (qop !== undefined && qop !== '' && (nc === undefined || cnonce === undefined)) return false;
  let expected: string;
  try {
    expected = computeDigestResponse({
      username,
      realm,
      password,
      method,
      uri,
      nonce,
      qop,
      nc,
      cnonce,
      algorithm,
    });
  } catch {
    return false;
  }
  const given = Buffer.from(response.toLowerCase(), 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export type NonceVerdict = 'ok' | 'stale' | 'invalid';

export interface NonceIssuerOptions {
  /** HMAC key; random per process when omitted (nonces then die with the process, which is fine). */
  secret?: Buffer;
  /** How long a nonce is accepted. Default 5 minutes. */
  lifetimeMs?: number;
  /** Source of the per-nonce random bytes (tests inject a fixed one). */
  random?: (size: number) => Buffer;
}

const NONCE_TIME_BYTES = 6; // 48-bit epoch ms: good until year 10889
const NONCE_RANDOM_BYTES = 8;
const NONCE_MAC_BYTES = 16;
const NONCE_HEX_LENGTH = (NONCE_TIME_BYTES + NONCE_RANDOM_BYTES + NONCE_MAC_BYTES) * 2;
/** Clock skew tolerated for nonces "from the future" (several gateway processes sharing a secret). */
const NONCE_FUTURE_SKEW_MS = 60_000;

/**
 * Stateless nonces: hex(issueTime ‖ random ‖ HMAC-SHA256(secret, issueTime ‖ random)[0..16]).
 * verify() needs nothing but the secret, so nothing is stored per challenge.
 */
export class NonceIssuer {
  private readonly secret: Buffer;
  private readonly lifetimeMs: number;
  private readonly random: (size: number) => Buffer;

  constructor(opts: NonceIssuerOptions = {}) {
    this.secret = opts.secret ?? randomBytes(32);
    this.lifetimeMs = opts.lifetimeMs ?? 5 * 60_000;
    this.random = opts.random ?? pooledRandomBytes;
  }

  issue(now: number): string {
    const payload = Buffer.alloc(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    payload.writeUIntBE(Math.max(0, Math.floor(now)) % 2 ** 48, 0, NONCE_TIME_BYTES);
    this.random(NONCE_RANDOM_BYTES).copy(payload, NONCE_TIME_BYTES, 0, NONCE_RANDOM_BYTES);
    return Buffer.concat([payload, this.mac(payload)]).toString('hex');
  }

  verify(nonce: string, now: number): NonceVerdict {
    if (nonce.length !== NONCE_HEX_LENGTH || !/^[0-9a-f]+$/i.test(nonce)) return 'invalid';
    const bytes = Buffer.from(nonce, 'hex');
    const payload = bytes.subarray(0, NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    const mac = bytes.subarray(NONCE_TIME_BYTES + NONCE_RANDOM_BYTES);
    if (!timingSafeEqual(mac, this.mac(payload))) return 'invalid';
    const issuedAt = payload.readUIntBE(0, NONCE_TIME_BYTES);
    if (issuedAt > now + NONCE_FUTURE_SKEW_MS) return 'invalid';
    if (now - issuedAt > this.lifetimeMs) return 'stale';
    return 'ok';
  }

  private mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest().subarray(0, NONCE_MAC_BYTES);
  }
}
