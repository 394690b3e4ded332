/**
 * Liveness for devices that have no keepalive of their own (ONVIF cameras, RTSP sources): each device is
 * probed on an interval with jitter (so 10,000 cameras added at once do not all get polled in the same
 * second), at most `concurrency` probes at a time, and reported offline after `missesToOffline` failed probes
 * in a row — the GB rule "N missed keepalives", applied to probes.
 *
 * What a failure means decides what happens next:
 *  - `auth-failed`: the device answered but refuses our credentials. It is reported at once (no N misses),
 *    and probed again only every `authRetryIntervalMs` (default 10 × interval): many cameras lock the account
 *    after a few wrong passwords, so the gateway must not keep trying. New credentials (`reset`) probe at once.
 *  - anything else (`unreachable`, `soap-fault`, `rtsp-failed`, `clock-skew` …): a miss.
 *
 * One DeadlineWheel holds every device's next probe time (one timer for all of them).
 */
import { DeadlineWheel } from '../registry/deadline-wheel.js';

export type ProbeOutcome = { ok: true } | { ok: false; reason: string; message: string };

export type Liveness = 'unknown' | 'online' | 'offline' | 'auth-failed';

export interface LivenessChange {
  id: string;
  status: Liveness;
  previous: Liveness;
  /** Reason of the last failed probe ('' when online). */
  reason: string;
  message: string;
  /** When the device last answered a probe (ms), null if never. */
  lastSeenAt: number | null;
  at: number;
}

export interface LivenessPollerOptions {
  intervalMs: number;
  /** Fraction of the interval a probe time is moved by at random (0–0.5). Default 0.2. */
  jitter?: number;
  missesToOffline?: number;
  concurrency?: number;
  authRetryIntervalMs?: number;
  now?: () => number;
  random?: () => number;
  /** Wheel tick (tests drive advance() themselves). Default 250 ms. */
  tickMs?: number;
}

interface Target {
  id: string;
  probe: () => Promise<ProbeOutcome>;
  status: Liveness;
  misses: number;
  lastSeenAt: number | null;
  inFlight: boolean;
  /** Bumped by reset/remove: a probe that finishes for an older generation is ignored. */
  generation: number;
}

export interface LivenessStats {
  devices: number;
  probesStarted: number;
  probesFailed: number;
  inFlight: number;
  queued: number;
}

export class LivenessPoller {
  private readonly targets = new Map<string, Target>();
  private readonly queue: string[] = [];
  private readonly wheel: DeadlineWheel<string>;
  private running = 0;
  private readonly interval: number;
  private readonly jitter: number;
  private readonly misses: number;
  private readonly concurrency: number;
  private readonly authRetry: number;
  private readonly now: () => number;
  private readonly random: () => number;
  readonly stats = { probesStarted: 0, probesFailed: 0 };

  constructor(
    opts: LivenessPollerOptions,
    private readonly onChange: (change: LivenessChange) => void,
  ) {
    this.interval = opts.intervalMs;
    this.jitter = Math.max(0, Math.min(0.5, opts.jitter ?? 0.2));
    this.misses = Math.max(1, opts.missesToOffline ?? 2);
    this.concurrency = Math.max(1, opts.concurrency ?? 64);
    this.authRetry = opts.authRetryIntervalMs ?? this.interval * 10;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.wheel = new DeadlineWheel((id) => this.due(id), this.now, opts.tickMs ?? 250);
  }

  start(): void {
    this.wheel.start();
  }

  stop(): void {
    this.wheel.stop();
  }

  /** Start polling a device: the first probe at a random point within the first interval. */
  add(id: string, probe: () => Promise<ProbeOutcome>): void {
    const existing = this.targets.get(id);
    if (existing) {
      existing.probe = probe;
      return;
    }
    this.targets.set(id, { id, probe, status: 'unknown', misses: 0, lastSeenAt: null, inFlight: false, generation: 0 });
    this.wheel.set(id, this.now() + this.random() * this.interval);
  }

  remove(id: string): void {
    this.targets.delete(id);
    this.wheel.delete(id);
  }

  /** New credentials or address: forget the misses and probe now. */
  reset(id: string, probe?: () => Promise<ProbeOutcome>): void {
    const t = this.targets.get(id);
    if (!t) return;
    if (probe) t.probe = probe;
    t.misses = 0;
    t.generation++;
    t.inFlight = false;
    this.wheel.set(id, this.now());
  }

  status(id: string): Liveness | undefined {
    return this.targets.get(id)?.status;
  }

  get snapshot(): LivenessStats {
    return { devices: this.targets.size, probesStarted: this.stats.probesStarted, probesFailed: this.stats.probesFailed, inFlight: this.running, queued: this.queue.length };
  }

  /** Walk the wheel now (tests with an injected clock). */
  advance(): void {
    this.wheel.advance();
  }

  private nextTime(base: number): number {
    return this.now() + base * (1 - this.jitter + 2 * this.jitter * this.random());
  }

  private due(id: string): void {
    const t = this.targets.get(id);
    if (!t || t.inFlight) return;
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const t = this.targets.get(id);
      if (!t || t.inFlight) continue;
      void this.run(t);
    }
  }

  private async run(t: Target): Promise<void> {
    t.inFlight = true;
    this.running++;
    this.stats.probesStarted++;
    const generation = t.generation;
    let outcome: ProbeOutcome;
    try {
      outcome = await t.probe();
    } catch (err) {
      outcome = { ok: false, reason: 'probe-error', message: (err as Error).message };
    }
    this.running--;
    this.pump();
    // Removed, or reset while this probe ran: its answer is about the old credentials/address.
    if (this.targets.get(t.id) !== t || t.generation !== generation) return;
    t.inFlight = false;
    const at = this.now();
    const previous = t.status;
    if (outcome.ok) {
      t.misses = 0;
      t.lastSeenAt = at;
      t.status = 'online';
      this.wheel.set(t.id, this.nextTime(this.interval));
      if (previous !== 'online') this.onChange({ id: t.id, status: 'online', previous, reason: '', message: '', lastSeenAt: at, at });
      return;
    }
    this.stats.probesFailed++;
    if (outcome.reason === 'auth-failed') {
      t.status = 'auth-failed';
      this.wheel.set(t.id, this.nextTime(this.authRetry));
      if (previous !== 'auth-failed') this.onChange({ id: t.id, status: 'auth-failed', previous, reason: outcome.reason, message: outcome.message, lastSeenAt: t.lastSeenAt, at });
      return;
    }
    t.misses++;
    this.wheel.set(t.id, this.nextTime(this.interval));
    if (t.misses >= this.misses && previous !== 'offline') {
      t.status = 'offline';
      this.onChange({ id: t.id, status: 'offline', previous, reason: outcome.reason, message: outcome.message, lastSeenAt: t.lastSeenAt, at });
    }
  }
}
