/** The liveness poller with an injected clock: jittered schedule, bounded concurrency, N misses, auth-failed. */
import { describe, expect, it } from 'vitest';
import { LivenessPoller, nextProbeAt, type LivenessChange, type ProbeOutcome } from '../../src/domain/devices/liveness-poller.js';

function setup(opts: { concurrency?: number; misses?: number; random?: number; intervalMs?: number; probeMs?: number } = {}) {
  let now = 1_000_000;
  const changes: LivenessChange[] = [];
  const poller = new LivenessPoller(
    { intervalMs: opts.intervalMs ?? 10_000, jitter: 0.2, missesToOffline: opts.misses ?? 2, concurrency: opts.concurrency ?? 4, now: () => now, random: () => opts.random ?? 0.5 },
    (c) => changes.push(c),
  );
  const answers = new Map<string, ProbeOutcome>();
  const calls: string[] = [];
  /** Probes that take time (a camera that does not answer until the timeout): settled by tick() when due. */
  const pending: Array<{ due: number; settle: () => void }> = [];
  const probe = (id: string) => async (): Promise<ProbeOutcome> => {
    calls.push(id);
    const outcome = answers.get(id) ?? { ok: true };
    if (!outcome.ok && opts.probeMs) await new Promise<void>((settle) => pending.push({ due: now + opts.probeMs!, settle }));
    return outcome;
  };
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  /** Advance the clock by ms in 1 s steps, letting probes finish after each step. */
  const tick = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 1000) {
      now += 1000;
      for (const p of pending.filter((x) => x.due <= now)) {
        pending.splice(pending.indexOf(p), 1);
        p.settle();
      }
      await flush();
      poller.advance();
      await flush();
    }
  };
  return { poller, changes, answers, calls, probe, tick, flush, now: () => now };
}

describe('LivenessPoller', () => {
  it('first probe within the first interval; a device that stops answering is offline after 2 misses, within 2 intervals', async () => {
    const { poller, changes, answers, probe, tick } = setup();
    poller.add('cam1', probe('cam1'));
    await tick(10_000);
    expect(changes.map((c) => [c.id, c.status])).toEqual([['cam1', 'online']]);
    const downAt = 20_000;
    await tick(downAt - 10_000);
    answers.set('cam1', { ok: false, reason: 'unreachable', message: 'ECONNREFUSED' });
    let detectedAfter = 0;
    for (let t = 0; t < 40_000 && changes.length < 2; t += 1000) {
      await tick(1000);
      detectedAfter = t + 1000;
    }
    expect(changes[1]).toMatchObject({ status: 'offline', previous: 'online', reason: 'unreachable', message: 'ECONNREFUSED' });
    expect(changes[1]!.lastSeenAt).not.toBeNull();
    expect(detectedAfter).toBeLessThanOrEqual(20_000);
    answers.delete('cam1');
    await tick(11_000);
    expect(changes.at(-1)).toMatchObject({ status: 'online', previous: 'offline' });
  });

  it('one failed probe is not offline (a single lost answer is not an outage)', async () => {
    const { poller, changes, answers, probe, calls, tick } = setup();
    poller.add('cam', probe('cam'));
    await tick(10_000);
    answers.set('cam', { ok: false, reason: 'unreachable', message: 'timeout' });
    const before = calls.length;
    while (calls.length === before) await tick(1_000);
    answers.delete('cam');
    await tick(30_000);
    expect(changes.map((c) => c.status)).toEqual(['online']);
  });

  it('schedule: an interval ± jitter after an answer; after a miss half an interval, never later; from the probe start', () => {
    const rules = { intervalMs: 30_000, jitter: 0.2, missesToOffline: 2, authRetryIntervalMs: 300_000 };
    expect(nextProbeAt(rules, 0, 'answered', 0)).toBe(24_000);
    expect(nextProbeAt(rules, 0, 'answered', 0.999_999)).toBeCloseTo(36_000, -1);
    expect(nextProbeAt(rules, 0, 'offline', 0.5)).toBe(30_000);
    expect(nextProbeAt(rules, 0, 'missed', 0)).toBe(15_000);
    expect(nextProbeAt(rules, 0, 'missed', 0.999_999)).toBeCloseTo(12_000, -1);
    expect(nextProbeAt(rules, 0, 'auth-failed', 0.5)).toBe(300_000);
    // Three misses to offline: the two retries share the half interval.
    expect(nextProbeAt({ ...rules, missesToOffline: 3 }, 0, 'missed', 0)).toBe(7_500);
    // Worst case at the defaults, a device that dies just after answering: the next probe as late as the jitter
    // allows, then the retry as late as it allows: 1.2 + 0.5 = 1.7 intervals.
    const firstMiss = nextProbeAt(rules, 0, 'answered', 0.999_999);
    expect(nextProbeAt(rules, firstMiss, 'missed', 0) / rules.intervalMs).toBeCloseTo(1.7, 3);
  });

  it('worst-case jitter: a device refused at once is offline within 1.7 intervals of its last answer', async () => {
    const { poller, changes, answers, probe, calls, tick, now } = setup({ random: 0.999_999 });
    poller.add('cam', probe('cam'));
    while (changes.length === 0) await tick(1_000);
    // It dies at once after the probe that found it online.
    const lastAnswer = now();
    answers.set('cam', { ok: false, reason: 'unreachable', message: 'ECONNREFUSED' });
    const before = calls.length;
    while (changes.length < 2) await tick(1_000);
    expect(calls.length - before).toBe(2);
    expect(changes[1]).toMatchObject({ status: 'offline', reason: 'unreachable' });
    // The wheel and this test both step in whole seconds: at most 1 s later than the schedule.
    expect(now() - lastAnswer).toBeLessThanOrEqual(17_000 + 1_000);
  });

  it('a device that only times out (5 s per probe) is offline within 1.7 intervals + one timeout, at a 15 s interval too', async () => {
    const { poller, changes, answers, probe, tick, now } = setup({ random: 0.999_999, intervalMs: 15_000, probeMs: 5_000 });
    poller.add('cam', probe('cam'));
    while (changes.length === 0) await tick(1_000);
    const lastAnswer = now();
    answers.set('cam', { ok: false, reason: 'unreachable', message: 'no answer within 5000 ms' });
    while (changes.length < 2) await tick(1_000);
    expect(changes[1]).toMatchObject({ status: 'offline' });
    const took = now() - lastAnswer;
    expect(took).toBeLessThanOrEqual(1.7 * 15_000 + 5_000 + 1_000);
    // Scheduled from the probe start, the timeout is counted once, not once per miss.
    expect(took).toBeGreaterThan(1.7 * 15_000);
  });

  it('wrong credentials are reported at once and then probed only every 10 intervals; new credentials probe now', async () => {
    const { poller, changes, answers, probe, calls, tick } = setup();
    answers.set('cam', { ok: false, reason: 'auth-failed', message: 'NotAuthorized' });
    poller.add('cam', probe('cam'));
    await tick(10_000);
    expect(changes.map((c) => c.status)).toEqual(['auth-failed']);
    const before = calls.length;
    await tick(60_000);
    expect(calls.length - before).toBe(0);
    await tick(50_000);
    expect(calls.length - before).toBe(1);
    answers.delete('cam');
    poller.reset('cam');
    await tick(1_000);
    expect(changes.at(-1)).toMatchObject({ status: 'online', previous: 'auth-failed' });
  });

  it('never runs more probes at once than its concurrency, and reaches every device', async () => {
    let now = 0;
    let inFlight = 0;
    let peak = 0;
    const resolvers: Array<() => void> = [];
    const poller = new LivenessPoller({ intervalMs: 10_000, concurrency: 3, now: () => now, random: () => 0 }, () => undefined);
    for (let i = 0; i < 20; i++) {
      poller.add(`d${i}`, async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise<void>((r) => resolvers.push(r));
        inFlight--;
        return { ok: true };
      });
    }
    now += 1000;
    poller.advance();
    let done = 0;
    while (done < 20) {
      await Promise.resolve();
      const r = resolvers.shift();
      if (!r) continue;
      r();
      done++;
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    expect(peak).toBe(3);
    expect(poller.snapshot).toMatchObject({ devices: 20, probesStarted: 20, queued: 0 });
  });

  it('a probe that throws is a miss, not a crash; a removed device is forgotten', async () => {
    const { poller, changes, tick } = setup({ misses: 1 });
    poller.add('bad', async () => {
      throw new Error('boom');
    });
    await tick(10_000);
    expect(changes).toEqual([expect.objectContaining({ id: 'bad', status: 'offline', reason: 'probe-error', message: 'boom' })]);
    poller.remove('bad');
    await tick(30_000);
    expect(changes).toHaveLength(1);
    expect(poller.status('bad')).toBeUndefined();
  });
});
