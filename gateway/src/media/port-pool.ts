/**
 * Media receive ports (config `media.ports`, e.g. 30000–30999), one per stream.
 *
 * Free ports are handed out first-in first-out: a released port goes to the back of the queue, so the port of a
 * stream that just ended is the last to be reused and late packets of that stream do not land in a new one
 * (the SSRC check would drop them anyway, but they would be counted as foreign). The pool only does the
 * bookkeeping; whether a port can really be bound is found out by binding it (`RtpReceiver.openFromPool`
 * skips a port that another process holds and puts it back at the end of the queue).
 */

export class PortPoolExhaustedError extends Error {
  override readonly name = 'PortPoolExhaustedError';
  constructor(min: number, max: number) {
    super(`no free media port in ${min}-${max}; every port is in use or could not be bound`);
  }
}

export class PortPool {
  /** Free ports, next to hand out first. */
  private queue: number[] = [];
  private head = 0;
  private readonly inUse = new Set<number>();

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new RangeError(`media port range must be 1..65535 with min <= max, got ${min}-${max}`);
    }
    for (let port = min; port <= max; port++) this.queue.push(port);
  }

  /** Parses the config form "30000-30999". */
  static fromRange(range: string): PortPool {
    const match = /^(\d{1,5})-(\d{1,5})$/.exec(range.trim());
    if (!match) throw new RangeError(`media port range must look like 30000-30999, got "${range}"`);
    return new PortPool(Number(match[1]), Number(match[2]));
  }

  /** A free port, or null when all are in use. */
  acquire(): number | null {
    if (this.head >= this.queue.length) return null;
    const port = this.queue[this.head++]!;
    // Compact now and then so the array does not grow with every acquire/release cycle.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.inUse.add(port);
    return port;
  }

  /** Gives a port back (to the end of the queue). Releasing a port that is not in use does nothing. */
  release(port: number): void {
    if (!this.inUse.delete(port)) return;
    this.queue.push(port);
  }

  get free(): number {
    return this.queue.length - this.head;
  }

  get used(): number {
    return this.inUse.size;
  }

  get size(): number {
    return this.max - this.min + 1;
  }
}
