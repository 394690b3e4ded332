/**
 * One timer structure for every device's offline deadline.
 *
 * 50,000 devices each re-arming a setTimeout on every keepalive would mean 50,000 live timers and a
 * clearTimeout/setTimeout pair per keepalive. Instead deadlines are kept in one-second buckets; a single
 * interval walks the buckets that have come due. Re-arming a deadline is O(1): the key moves to another
 * bucket (the old entry is invalidated lazily by comparing against the key's current deadline).
 */
export class DeadlineWheel<K> {
  private readonly deadlines = new Map<K, number>();
  private readonly buckets = new Map<number, K[]>();
  private cursorSecond: number;
  private timer: NodeJS.Timeout | null = null;
  /** True while advance() walks the cursor bucket: keys set from a callback must land after it. */
  private walking = false;

  constructor(
    private readonly onExpired: (key: K, deadline: number) => void,
    private readonly now: () => number = Date.now,
    private readonly tickMs = 500,
  ) {
    this.cursorSecond = Math.floor(this.now() / 1000);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.advance(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Set (or move) the deadline of a key, epoch ms. */
  set(key: K, deadlineMs: number): void {
    this.deadlines.set(key, deadlineMs);
    // Buckets before the cursor were already walked, so an overdue deadline goes into the next walked bucket.
    const second = Math.max(Math.ceil(deadlineMs / 1000), this.walking ? this.cursorSecond + 1 : this.cursorSecond);
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = [];
      this.buckets.set(second, bucket);
    }
    bucket.push(key);
  }

  delete(key: K): void {
    this.deadlines.delete(key);
  }

  get(key: K): number | undefined {
    return this.deadlines.get(key);
  }

  get size(): number {
    return this.deadlines.size;
  }

  /** Fire every deadline that is due. Public so tests can drive time explicitly. */
  advance(): void {
    const nowSecond = Math.floor(this.now() / 1000);
    this.walking = true;
    try {
      this.walkUntil(nowSecond);
    } finally {
      this.walking = false;
    }
  }

  private walkUntil(nowSecond: number): void {
    while (this.cursorSecond <= nowSecond) {
      const bucket = this.buckets.get(this.cursorSecond);
      if (bucket) {
        this.buckets.delete(this.cursorSecond);
        for (const key of bucket) {
          const deadline = this.deadlines.get(key);
          // Stale entry: the key was re-armed to a later bucket or deleted.
          if (deadline === undefined || Math.ceil(deadline / 1000) > this.cursorSecond) continue;
          this.deadlines.delete(key);
          this.onExpired(key, deadline);
        }
      }
      this.cursorSecond++;
    }
  }
}
