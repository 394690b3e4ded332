/**
 * Tour (轮巡) timing: which step is showing, when the next one is due, pause and resume, and skipping steps
 * whose cameras are known to be offline. Pure and clock-injected: the wall calls `tick()` from a timer and
 * renders `progress()`; the unit tests drive the clock by hand.
 *
 * Rules:
 * - a step shows for its dwell; then the next step that is available (at least one of its cameras online)
 *   is shown, wrapping round; a tour whose only available step is the current one stays on it;
 * - when no step is available the tour waits on the current step (`waiting`), checking again every
 *   `retryMs`, and resumes as soon as a camera comes back;
 * - the current step becoming unavailable (its camera went offline) moves on at the next tick;
 * - pausing freezes the remaining dwell; resuming continues from there.
 */
export interface TourStepPlan {
  channelIds: readonly string[];
  dwellSec: number;
  preset: number | null;
}

export interface TourProgress {
  /** 0-based index of the step showing. */
  index: number;
  count: number;
  paused: boolean;
  /** No step has an online camera: the tour is holding. */
  waiting: boolean;
  remainingMs: number;
  dwellMs: number;
  /** 0 at the start of the dwell, 1 when the next step is due. */
  fraction: number;
}

/** What the caller must do after start/tick/skip: show this step (and call its preset). */
export interface StepChange {
  index: number;
  step: TourStepPlan;
}

export type Clock = () => number;

export const MIN_DWELL_SEC = 1;
export const DEFAULT_RETRY_MS = 5_000;

export class TourScheduler {
  private index = 0;
  private dueAt = 0;
  private pausedRemaining: number | null = null;
  private isWaiting = false;
  private started = false;

  constructor(
    private readonly steps: readonly TourStepPlan[],
    private readonly isAvailable: (step: TourStepPlan) => boolean,
    private readonly clock: Clock,
    private readonly retryMs = DEFAULT_RETRY_MS,
  ) {
    if (steps.length === 0) throw new RangeError('a tour needs at least one step');
  }

  get count(): number {
    return this.steps.length;
  }

  get current(): StepChange {
    return { index: this.index, step: this.steps[this.index] };
  }

  get paused(): boolean {
    return this.pausedRemaining !== null;
  }

  /** Show the first available step (the first step when none is). */
  start(): StepChange {
    this.started = true;
    const first = this.findAvailable(0, 1);
    this.index = first ?? 0;
    this.isWaiting = first === null;
    this.arm();
    return this.current;
  }

  /** Call often (e.g. every 250 ms); returns the new step when the tour moved on, else null. */
  tick(): StepChange | null {
    if (!this.started || this.paused) return null;
    const now = this.clock();
    if (this.isWaiting) {
      // A camera coming back ends the wait at once, on the first step that has one (the current one first).
      const next = this.findAvailable(this.index, 1);
      if (next === null) {
        if (now >= this.dueAt) this.arm();
        return null;
      }
      this.index = next;
      this.isWaiting = false;
      this.arm();
      return this.current;
    }
    if (now < this.dueAt && this.isAvailable(this.steps[this.index])) return null;
    return this.advance(1);
  }

  /** Manual next (1) / previous (-1): the same skipping rules, and a fresh dwell. */
  skip(delta: 1 | -1): StepChange | null {
    if (!this.started) return null;
    const moved = this.advance(delta);
    if (this.paused) this.pausedRemaining = this.dwellMs();
    return moved;
  }

  pause(): void {
    if (!this.started || this.paused) return;
    this.pausedRemaining = Math.max(0, this.dueAt - this.clock());
  }

  resume(): void {
    if (this.pausedRemaining === null) return;
    this.dueAt = this.clock() + this.pausedRemaining;
    this.pausedRemaining = null;
  }

  /** Space: pause a running tour, resume a paused one. Returns whether it is paused now. */
  toggle(): boolean {
    if (this.paused) this.resume();
    else this.pause();
    return this.paused;
  }

  progress(): TourProgress {
    const dwellMs = this.isWaiting ? this.retryMs : this.dwellMs();
    const remainingMs = this.pausedRemaining ?? Math.max(0, this.dueAt - this.clock());
    return {
      index: this.index,
      count: this.steps.length,
      paused: this.paused,
      waiting: this.isWaiting,
      remainingMs,
      dwellMs,
      fraction: dwellMs > 0 ? Math.min(1, Math.max(0, 1 - remainingMs / dwellMs)) : 1,
    };
  }

  private advance(delta: 1 | -1): StepChange | null {
    const before = this.index;
    const wasWaiting = this.isWaiting;
    const next = this.findAvailable(this.index + delta, delta);
    if (next === null) {
      this.isWaiting = true;
      this.arm();
      return null;
    }
    this.index = next;
    this.isWaiting = false;
    this.arm();
    // Staying on the only available step is not a change, unless it ends a wait (its camera came back).
    return next !== before || wasWaiting ? this.current : null;
  }

  /** First available step at or after `from` (cyclic, in direction `delta`); null when none is. */
  private findAvailable(from: number, delta: 1 | -1): number | null {
    const n = this.steps.length;
    for (let k = 0; k < n; k++) {
      const i = (((from + k * delta) % n) + n) % n;
      if (this.isAvailable(this.steps[i])) return i;
    }
    return null;
  }

  private dwellMs(): number {
    return Math.max(MIN_DWELL_SEC, this.steps[this.index].dwellSec) * 1000;
  }

  private arm(): void {
    this.dueAt = this.clock() + (this.isWaiting ? this.retryMs : this.dwellMs());
  }
}
