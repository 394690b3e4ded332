/**
 * Running tours on the wall: one whole-wall tour and/or one tour per tile, each a TourScheduler on the real
 * clock, ticked together. The runner only decides *when*; what a step does (fill the wall, put a camera on a
 * tile, call a preset) is the page's `apply` callback. Space pauses and resumes all of them together.
 */
import { reactive, ref } from 'vue';
import type { Tour } from '../../api/types';
import { channelDirectory } from './channel-directory';
import { TourScheduler, type StepChange, type TourProgress } from './tour-scheduler';

/** Where a running tour shows: the whole wall, or one tile. */
export type TourTarget = { scope: 'wall' } | { scope: 'tile'; tile: number };

export interface RunningTour {
  key: string;
  tour: Tour;
  target: TourTarget;
  progress: TourProgress;
}

export type ApplyStep = (run: RunningTour, change: StepChange) => void;

const TICK_MS = 250;

function keyOf(target: TourTarget): string {
  return target.scope === 'wall' ? 'wall' : `tile:${target.tile}`;
}

export function createTourRunner(apply: ApplyStep, clock: () => number = Date.now) {
  const runs = reactive(new Map<string, RunningTour>());
  const schedulers = new Map<string, TourScheduler>();
  const paused = ref(false);
  let timer: ReturnType<typeof setInterval> | null = null;

  function tick(): void {
    for (const [key, scheduler] of schedulers) {
      const run = runs.get(key);
      if (!run) continue;
      const change = scheduler.tick();
      if (change) apply(run, change);
      run.progress = scheduler.progress();
    }
  }

  function ensureTimer(): void {
    if (timer === null && schedulers.size > 0) timer = setInterval(tick, TICK_MS);
    if (timer !== null && schedulers.size === 0) {
      clearInterval(timer);
      timer = null;
    }
  }

  function start(tour: Tour, target: TourTarget): void {
    const key = keyOf(target);
    stop(key);
    const scheduler = new TourScheduler(tour.steps, (step) => step.channelIds.some((id) => channelDirectory.usable(id)), clock);
    // The status of every camera of the tour: offline ones are skipped from the first step on.
    for (const step of tour.steps) for (const id of step.channelIds) void channelDirectory.ensure(id);
    schedulers.set(key, scheduler);
    const first = scheduler.start();
    if (paused.value) scheduler.pause();
    runs.set(key, { key, tour, target, progress: scheduler.progress() });
    apply(runs.get(key)!, first);
    ensureTimer();
  }

  function stop(key: string): void {
    schedulers.delete(key);
    runs.delete(key);
    if (runs.size === 0) paused.value = false;
    ensureTimer();
  }

  function stopAll(): void {
    for (const key of [...runs.keys()]) stop(key);
  }

  /** Space: pause every running tour, or resume them all. Returns whether tours are paused now. */
  function togglePause(): boolean {
    if (schedulers.size === 0) return false;
    paused.value = !paused.value;
    for (const [key, scheduler] of schedulers) {
      if (paused.value) scheduler.pause();
      else scheduler.resume();
      const run = runs.get(key);
      if (run) run.progress = scheduler.progress();
    }
    return paused.value;
  }

  function skip(key: string, delta: 1 | -1): void {
    const scheduler = schedulers.get(key);
    const run = runs.get(key);
    if (!scheduler || !run) return;
    const change = scheduler.skip(delta);
    if (change) apply(run, change);
    run.progress = scheduler.progress();
  }

  function tileRun(tile: number): RunningTour | undefined {
    return runs.get(keyOf({ scope: 'tile', tile }));
  }

  function dispose(): void {
    stopAll();
  }

  return { runs, paused, start, stop, stopAll, togglePause, skip, tileRun, dispose, wallRun: () => runs.get('wall') };
}

export type TourRunner = ReturnType<typeof createTourRunner>;
