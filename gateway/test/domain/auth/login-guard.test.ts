/** Login brute-force rules on a controlled clock: per user, per source, doubling lockouts, forgetting. */
import { describe, expect, it } from 'vitest';
import { LoginGuard } from '../../../src/domain/auth/login-guard.js';

function guard(): { g: LoginGuard; advance: (sec: number) => void } {
  let now = 1_700_000_000_000;
  const g = new LoginGuard({ maxFailuresPerUser: 3, maxFailuresPerSource: 5, lockoutSec: 10, maxLockoutSec: 35, failureWindowSec: 100 }, () => now);
  return { g, advance: (sec) => (now += sec * 1000) };
}

describe('LoginGuard', () => {
  it('locks a username after maxFailuresPerUser failures, for lockoutSec, then lets it try again', () => {
    const { g, advance } = guard();
    expect(g.failed('alice', '10.0.0.1')).toBeNull();
    expect(g.failed('alice', '10.0.0.2')).toBeNull();
    expect(g.check('alice', '10.0.0.3')).toBeNull();
    expect(g.failed('alice', '10.0.0.3')).toEqual({ by: 'user', retryAfterSec: 10 });
    // From any address: the lock is on the username.
    expect(g.check('alice', '10.0.0.9')).toEqual({ by: 'user', retryAfterSec: 10 });
    expect(g.check('bob', '10.0.0.9')).toBeNull();
    advance(4);
    expect(g.check('alice', '10.0.0.9')).toEqual({ by: 'user', retryAfterSec: 6 });
    advance(6);
    expect(g.check('alice', '10.0.0.9')).toBeNull();
  });

  it('doubles each further lockout up to maxLockoutSec, and forgets the doubling after a quiet window', () => {
    const { g, advance } = guard();
    const lockOnce = (): number | undefined => {
      let lock = null;
      for (let i = 0; i < 3; i++) lock = g.failed('alice', `10.0.1.${i}`);
      return lock?.retryAfterSec;
    };
    expect(lockOnce()).toBe(10);
    advance(10);
    expect(lockOnce()).toBe(20);
    advance(20);
    expect(lockOnce()).toBe(35);
    advance(35);
    expect(lockOnce()).toBe(35);
    advance(101 + 35);
    expect(lockOnce()).toBe(10);
  });

  it('locks a source address trying many usernames, without locking those users elsewhere', () => {
    const { g } = guard();
    for (let i = 0; i < 4; i++) expect(g.failed(`user${i}`, '10.0.0.66')).toBeNull();
    expect(g.failed('user4', '10.0.0.66')).toEqual({ by: 'source', retryAfterSec: 10 });
    expect(g.check('someone-else', '10.0.0.66')).toEqual({ by: 'source', retryAfterSec: 10 });
    expect(g.check('user0', '10.0.0.7')).toBeNull();
  });

  it('a correct password forgets the user\'s failures but not the address\'s', () => {
    const { g } = guard();
    g.failed('alice', '10.0.0.1');
    g.failed('alice', '10.0.0.1');
    g.succeeded('alice');
    expect(g.failed('alice', '10.0.0.1')).toBeNull();
    expect(g.failed('alice', '10.0.0.1')).toBeNull();
    // The address has 4 failures now: one more (any user) locks it.
    expect(g.failed('bob', '10.0.0.1')).toEqual({ by: 'source', retryAfterSec: 10 });
  });

  it('failures older than the window are forgotten', () => {
    const { g, advance } = guard();
    g.failed('alice', '10.0.0.1');
    g.failed('alice', '10.0.0.1');
    advance(101);
    expect(g.failed('alice', '10.0.0.1')).toBeNull();
  });
});
