/**
 * Lockout after repeated authentication failures, per device ID and per source address.
 *
 * Memory is bounded: a flood of REGISTERs with random device IDs must not grow the table without limit,
 * so the oldest entries are evicted once `maxEntries` is reached (Map keeps insertion order).
 */
export interface LockoutPolicy {
  maxFailures: number;
  windowSec: number;
  durationSec: number;
  maxEntries?: number;
}

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export class Lockout {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(
    private readonly policy: LockoutPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.maxEntries = policy.maxEntries ?? 100_000;
  }

  /** Epoch ms until which the key is locked, or 0. */
  lockedUntil(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    return e.lockedUntil > this.now() ? e.lockedUntil : 0;
  }

  /** Record a failure; returns true when this failure started a lockout. */
  fail(key: string): boolean {
    const now = this.now();
    let e = this.entries.get(key);
    if (!e || now - e.windowStart > this.policy.windowSec * 1000) {
      if (e) this.entries.delete(key);
      e = { failures: 0, windowStart: now, lockedUntil: 0 };
      this.entries.set(key, e);
      this.evict();
    }
    e.failures++;
    if (e.failures >= this.policy.maxFailures && e.lockedUntil <= now) {
      e.lockedUntil = now + this.policy.durationSec * 1000;
      return true;
    }
    return false;
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
