/**
 * At most one log line per key per interval. Refusals of spoofed or flooding traffic must be visible to an
 * operator, but an attacker must not be able to turn every datagram into a log line (disk, CPU, noise).
 * The first event of an interval is written, with the number of events held back since the last line.
 */
export class RateLimitedLog {
  private readonly state = new Map<string, { lastLineAt: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly write: (key: string, suppressed: number) => void,
    /** Keys are a small fixed set (reasons); the cap only guards against misuse. */
    private readonly maxKeys = 64,
  ) {}

  /** Record one event under `key` at time `now` (ms); writes a line when the key's interval has passed. */
  note(key: string, now: number): void {
    const s = this.state.get(key);
    if (s && now - s.lastLineAt < this.intervalMs) {
      s.suppressed++;
      return;
    }
    if (!s && this.state.size >= this.maxKeys) this.state.clear();
    this.write(key, s?.suppressed ?? 0);
    this.state.set(key, { lastLineAt: now, suppressed: 0 });
  }
}
