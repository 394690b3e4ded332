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
 * Schedule (`nextProbeAt`, pure, unit-tested): every probe time counts from when the previous probe STARTED, so a
 * probe that takes its whole timeout does not push the next one back.
 *  - after an answer: one interval, ± `jitter` (default 20 %);
 *  - after a miss that is not yet an outage: sooner — the remaining `missesToOffline − 1` probes are spread over
 *    half an interval (`interval / (2 × (missesToOffline − 1))` each, with the jitter only making it earlier), so
 *    that a device that dies just after answering is offline within (1 + jitter + ½) intervals + one probe's
 *    timeout: 1.7 intervals + timeout at the defaults, i.e. within the "2 intervals" of issue 10 whenever the
 *    probe timeout is under 0.3 intervals (5 s against the default 30 s: 1.87 intervals at worst). A probe that
 *    is refused at once (connection refused, a fault) costs no timeout: 1.7 intervals.
 *  - offline: one interval (± jitter), so that it is seen back within about an interval.
 *  - auth-failed: `authRetryIntervalMs`.
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
  /** Fraction of the interval a probe time is moved by at random (0–0.5). Default 0.2. After a miss it only moves earlier. */
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

/** What the last probe found, as far as the schedule is concerned. */
export type ProbeResult = 'answered' | 'missed' | 'offline' | 'auth-failed';

export interface ScheduleRules {
  intervalMs: number;
  jitter: number;
  missesToOffline: number;
  authRetryIntervalMs: number;
}

/**
 * When to probe next, from when the last probe started and what it found; `random` in [0, 1). Pure: the poller's
 * schedule, tested without timers (see the header for the rules and the bound they give).
 */
export function nextProbeAt(rules: ScheduleRules, startedAt: number, result: ProbeResult, random: number): number {
  const j = rules.jitter;
  switch (result) {
    case 'answered':
    case 'offline':
      return startedAt + rules.intervalMs * (1 - j + 2 * j * random);
    case 'missed':
      // Sooner, and the jitter never makes it later: the bound on detection holds for every draw.
      return startedAt + (rules.intervalMs / (2 * Math.max(1, rules.missesToOffline - 1))) * (1 - j * random);
    case 'auth-failed':
      return startedAt + rules.authRetryIntervalMs * (1 - j + 2 * j * random);
  }
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
  private readonly misses: number;
  private readonly concurrency: number;
  private readonly rules: ScheduleRules;
  private readonly now: () => number;
  private readonly random: () => number;
  readonly stats = { probesStarted: 0, probesFailed: 0 };

  constructor(
    opts: LivenessPollerOptions,
    private readonly onChange: (change: LivenessChange) => void,
  ) {
    this.interval = opts.intervalMs;
    this.misses = Math.max(1, opts.missesToOffline ?? 2);
    this.concurrency = Math.max(1, opts.concurrency ?? 64);
    this.rules = {
      intervalMs: this.interval,
      jitter: Math.max(0, Math.min(0.5, opts.jitter ?? 0.2)),
      missesToOffline: this.misses,
      authRetryIntervalMs: opts.authRetryIntervalMs ?? this.interval * 10,
    };
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

  private schedule(id: string, startedAt: number, result: ProbeResult): void {
    this.wheel.set(id, nextProbeAt(this.rules, startedAt, result, this.random()));
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
    const startedAt = this.now();
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
      this.schedule(t.id, startedAt, 'answered');
      if (previous !== 'online') this.onChange({ id: t.id, status: 'online', previous, reason: '', message: '', lastSeenAt: at, at });
      return;
    }
    this.stats.probesFailed++;
    if (outcome.reason === 'auth-failed') {
      t.status = 'auth-failed';
      this.schedule(t.id, startedAt, 'auth-failed');
      if (previous !== 'auth-failed') this.onChange({ id: t.id, status: 'auth-failed', previous, reason: outcome.reason, message: outcome.message, lastSeenAt: t.lastSeenAt, at });
      return;
    }
    t.misses++;
    const outage = t.misses >= this.misses;
    this.schedule(t.id, startedAt, outage ? 'offline' : 'missed');
    if (outage && previous !== 'offline') {
      t.status = 'offline';
      this.onChange({ id: t.id, status: 'offline', previous, reason: outcome.reason, message: outcome.message, lastSeenAt: t.lastSeenAt, at });
    }
  }
}
