/**
 * Random bytes for SIP identifiers (tags, branches, Call-IDs) and the random part of digest nonces, drawn from a
 * 4 KiB pool of CSPRNG output refilled when used up, instead of one randomBytes() call — one getrandom syscall —
 * per message. Each byte is handed out once; these values need uniqueness and unpredictability, which pooled
 * CSPRNG output keeps (the digest nonce is authenticated by its HMAC, not by its randomness).
 */
import { randomBytes } from 'node:crypto';

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function take(bytes: number): number {
  if (bytes > POOL_SIZE) throw new RangeError(`at most ${POOL_SIZE} random bytes at a time`);
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString('hex', at, at + bytes);
}

/** `bytes` random bytes (a copy: the pool is refilled in place later). */
export function pooledRandomBytes(bytes: number): Buffer {
  const at = take(bytes);
  return Buffer.from(pool.subarray(at, at + bytes));
}
