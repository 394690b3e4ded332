/**
 * Signed, expiring media tokens. The token is a path segment (`/media/<token>/index.m3u8`) rather than a query
 * parameter, so the relative segment URIs inside the playlist inherit it: hls.js and the wall need no extra
 * headers and no URL rewriting. HMAC-SHA256 over the claims with a per-process secret (streams do not survive
 * a restart, so neither need their URLs).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface MediaClaims {
  streamId: string;
  viewerId: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

export type TokenVerdict = { ok: true; claims: MediaClaims } | { ok: false; reason: 'invalid' | 'expired' };

export class MediaTokens {
  private readonly secret: Buffer;

  constructor(
    private readonly ttlSec: number,
    secret?: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = secret ?? randomBytes(32);
  }

  sign(streamId: string, viewerId: string): string {
    const claims: MediaClaims = { streamId, viewerId, exp: Math.floor(this.now() / 1000) + this.ttlSec };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  verify(token: string): TokenVerdict {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 512) return { ok: false, reason: 'invalid' };
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
    let claims: MediaClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as MediaClaims;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (typeof claims.streamId !== 'string' || typeof claims.viewerId !== 'string' || typeof claims.exp !== 'number') {
      return { ok: false, reason: 'invalid' };
    }
    if (claims.exp * 1000 <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
