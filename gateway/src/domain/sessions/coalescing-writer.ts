/**
 * Writes session state to the store one operation at a time, in order, off the request path. Operations
 * are keyed: while one waits, a newer one with the same key replaces it (the session document only needs
 * its latest state), so a burst of changes costs one write per key, not one per change. Appends (layout
 * history, one key each) are never dropped.
 */
export class CoalescingWriter {
  private readonly pending = new Map<string, () => Promise<void>>();
  private running: Promise<void> | null = null;

  constructor(private readonly onError: (error: unknown, key: string) => void) {}

  get backlog(): number {
    return this.pending.size;
  }

  write(key: string, operation: () => Promise<void>): void {
    // Re-inserted at the end: it runs after what was scheduled before it.
    this.pending.delete(key);
    this.pending.set(key, operation);
    this.kick();
  }

  /** Resolves when everything scheduled so far (and since) has been written or has failed. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.pending.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const next = this.pending.entries().next();
      if (next.done) return;
      const [key, operation] = next.value;
      this.pending.delete(key);
      try {
        await operation();
      } catch (error) {
        this.onError(error, key);
      }
    }
  }
}
