/**
 * Paces registration attempts: at most `ratePerSecond` starts per second (0 = no rate limit) and at most
 * `maxInFlight` exchanges outstanding. The in-flight bound matters even without a rate: 50 000 devices
 * registering "as fast as possible" must queue here, not in the socket buffer, so a storm measures how
 * fast the gateway answers rather than how many datagrams the kernel drops.
 */
export interface PacerOptions {
  /** Starts per second; 0 = unlimited (bounded by maxInFlight only). */
  ratePerSecond: number;
  maxInFlight: number;
}

export class Pacer {
  private readonly queue: Array<() => Promise<void>> = [];
  private head = 0;
  private inFlightCount = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly burst: number;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: PacerOptions) {
    if (!Number.isFinite(opts.ratePerSecond) || opts.ratePerSecond < 0) throw new RangeError('ratePerSecond must be ≥ 0');
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) throw new RangeError('maxInFlight must be an integer ≥ 1');
    // Up to 50 ms worth of starts at once: smooth enough, and few timer wake-ups at high rates.
    this.burst = Math.max(1, Math.ceil(opts.ratePerSecond / 20));
    this.tokens = this.burst;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  enqueue(job: () => Promise<void>): void {
    if (this.closed) return;
    this.queue.push(job);
    this.pump();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.inFlightCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drop queued jobs; jobs in flight finish on their own. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.head = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.notifyIdle();
  }

  private pump(): void {
    if (this.closed) return;
    const rate = this.opts.ratePerSecond;
    if (rate > 0) {
      const now = Date.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * rate) / 1_000);
      this.lastRefill = now;
    }
    while (this.queued > 0 && this.inFlightCount < this.opts.maxInFlight && (rate === 0 || this.tokens >= 1)) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as () => Promise<void>;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 4_096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (rate > 0) this.tokens -= 1;
      this.inFlightCount++;
      job()
        .catch(() => undefined) // jobs report their own failures
        .finally(() => {
          this.inFlightCount--;
          if (this.closed) this.notifyIdle();
          else this.pump();
        });
    }
    if (this.queued > 0 && rate > 0 && this.inFlightCount < this.opts.maxInFlight && !this.timer) {
      const waitMs = Math.max(5, Math.ceil(((1 - this.tokens) * 1_000) / rate));
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, waitMs);
    }
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.queued > 0 || this.inFlightCount > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
