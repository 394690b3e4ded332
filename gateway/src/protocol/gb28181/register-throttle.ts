/**
 * Per-source token bucket for REGISTER, checked before any digest work (issue 8, "under load"): a single
 * source flooding REGISTERs must not slow the registration of everyone else.
 *
 * A source is the transport source (UDP address:port, or the TCP connection), not the address alone:
 * a township's cameras behind one NAT share an address but not a port, and must not share a budget. A
 * legitimate device sends two REGISTERs (challenge + answer) per registration, once an hour or so; the
 * default budget is far above that.
 *
 * Memory is bounded: buckets that have refilled completely are forgotten, and past `maxSources` the oldest
 * entries are evicted (a flood with many spoofed sources costs at most that many entries).
 */
export interface RegisterThrottleOptions {
  /** Sustained REGISTERs per second per source; 0 switches the throttle off. */
  ratePerSec: number;
  /** Bucket size: REGISTERs a source may send at once. */
  burst: number;
  maxSources?: number;
}

export type ThrottleDecision =
  | { allowed: true }
  /** `firstRefusal`: the first refusal of this episode (answer it 503); later ones until `retryAfterSec` are dropped. */
  | { allowed: false; retryAfterSec: number; firstRefusal: boolean };

interface Bucket {
  tokens: number;
  at: number;
  /** Refusals until this time are dropped without an answer (the 503 already told the source when to retry). */
  quietUntil: number;
}

const ALLOWED: ThrottleDecision = { allowed: true };

export class RegisterThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxSources: number;
  private lastSweep = 0;

  constructor(private readonly opts: RegisterThrottleOptions) {
    this.maxSources = opts.maxSources ?? 100_000;
  }

  get size(): number {
    return this.buckets.size;
  }

  take(source: string, now: number): ThrottleDecision {
    const { ratePerSec, burst } = this.opts;
    if (ratePerSec <= 0) return ALLOWED;
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= this.maxSources) this.evict(now);
      b = { tokens: burst, at: now, quietUntil: 0 };
      this.buckets.set(source, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSec);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return ALLOWED;
    }
    const retryAfterSec = Math.max(1, Math.ceil((1 - b.tokens) / ratePerSec));
    if (now < b.quietUntil) return { allowed: false, retryAfterSec, firstRefusal: false };
    b.quietUntil = now + retryAfterSec * 1000;
    return { allowed: false, retryAfterSec, firstRefusal: true };
  }

  private evict(now: number): void {
    // First forget buckets that are full again (their sources are idle); at most once a second.
    if (now - this.lastSweep >= 1000) {
      this.lastSweep = now;
      const { ratePerSec, burst } = this.opts;
      for (const [key, b] of this.buckets) {
        if (b.tokens + ((now - b.at) / 1000) * ratePerSec >= burst && now >= b.quietUntil) this.buckets.delete(key);
      }
    }
    // Still full: drop the oldest tenth (Map iteration is insertion order).
    if (this.buckets.size >= this.maxSources) {
      let n = Math.max(1, Math.floor(this.maxSources / 10));
      for (const key of this.buckets.keys()) {
        this.buckets.delete(key);
        if (--n <= 0) break;
      }
    }
  }
}
