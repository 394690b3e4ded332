/**
 * Limits failed joins by code per source address, so that a 6-digit code cannot be found by trying: after
 * `maxFailures` wrong codes within `windowMs`, the address is refused (even with a right code) until the
 * window that started with its first failure has passed.
 *
 * Memory is bounded: at most `maxAddresses` addresses are tracked; expired ones are pruned first, then the
 * oldest windows are forgotten.
 */
export interface JoinLimiterOptions {
  maxFailures: number;
  windowMs: number;
  maxAddresses?: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export class JoinLimiter {
  /** Insertion order = order of window start, which makes the oldest cheap to find. */
  private readonly windows = new Map<string, Window>();
  private readonly maxAddresses: number;

  constructor(
    private readonly options: JoinLimiterOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxAddresses = options.maxAddresses ?? 100_000;
  }

  /** Seconds until `address` may try again, or 0 when it may try now. */
  blockedForSec(address: string): number {
    const w = this.current(address);
    if (!w || w.failures < this.options.maxFailures) return 0;
    return Math.max(1, Math.ceil((w.startedAt + this.options.windowMs - this.now()) / 1000));
  }

  failed(address: string): void {
    const w = this.current(address);
    if (w) {
      w.failures++;
      return;
    }
    if (this.windows.size >= this.maxAddresses) this.prune();
    this.windows.set(address, { startedAt: this.now(), failures: 1 });
  }

  get trackedAddresses(): number {
    return this.windows.size;
  }

  private current(address: string): Window | null {
    const w = this.windows.get(address);
    if (!w) return null;
    if (w.startedAt + this.options.windowMs <= this.now()) {
      this.windows.delete(address);
      return null;
    }
    return w;
  }

  private prune(): void {
    const now = this.now();
    for (const [address, w] of this.windows) {
      if (w.startedAt + this.options.windowMs > now) break; // the rest started later
      this.windows.delete(address);
    }
    while (this.windows.size >= this.maxAddresses) {
      const oldest = this.windows.keys().next();
      if (oldest.done) break;
      this.windows.delete(oldest.value);
    }
  }
}
