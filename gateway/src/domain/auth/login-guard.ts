/**
 * Login brute-force protection: failed logins are counted per username and per client address; after too
 * many within a window, that username (or address) is locked out, and each further lockout doubles the wait
 * up to a maximum. A locked-out login is refused before the password is checked (429 with Retry-After), so
 * guessing costs the attacker the full wait and the gateway no scrypt work.
 *
 * Per user: guessing one account's password from many addresses. Per source: trying many usernames from one
 * address; its limit is higher, because a command centre's workstations may share one NAT address. A correct
 * password resets the user's count (not the address's: one valid account must not launder an address's
 * guesses at other accounts). Written by hand: the rule is a few lines over a bounded Map, and rate-limit
 * libraries count requests per time slot rather than consecutive failures with an escalating lockout.
 */
export interface LoginGuardOptions {
  maxFailuresPerUser: number;
  maxFailuresPerSource: number;
  lockoutSec: number;
  maxLockoutSec: number;
  failureWindowSec: number;
}

interface Tally {
  /** Times of failures within the window, oldest first. */
  failures: number[];
  lockedUntil: number;
  /** Lockouts so far (the next lasts lockoutSec × 2^lockouts), forgotten after a quiet window. */
  lockouts: number;
  lastFailureAt: number;
}

export interface LoginLock {
  /** Which key is locked: the username or the client address. */
  by: 'user' | 'source';
  retryAfterSec: number;
}

/** Keys kept at most (the oldest are forgotten first): bounds memory under a spray of random usernames. */
const MAX_KEYS = 50_000;

export class LoginGuard {
  private readonly tallies = new Map<string, Tally>();

  constructor(
    private readonly options: LoginGuardOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** The lock that refuses this attempt now, or null. */
  check(username: string, source: string): LoginLock | null {
    const now = this.now();
    for (const [by, key] of [['user', userKey(username)], ['source', sourceKey(source)]] as const) {
      const tally = this.tallies.get(key);
      if (tally && tally.lockedUntil > now) return { by, retryAfterSec: Math.max(1, Math.ceil((tally.lockedUntil - now) / 1000)) };
    }
    return null;
  }

  /** Count a failed attempt; returns the lock it triggered, if any. */
  failed(username: string, source: string): LoginLock | null {
    const userLock = this.count(userKey(username), this.options.maxFailuresPerUser);
    const sourceLock = this.count(sourceKey(source), this.options.maxFailuresPerSource);
    if (userLock !== null) return { by: 'user', retryAfterSec: userLock };
    if (sourceLock !== null) return { by: 'source', retryAfterSec: sourceLock };
    return null;
  }

  /** A correct password: the user's failures are forgotten. */
  succeeded(username: string): void {
    this.tallies.delete(userKey(username));
  }

  private count(key: string, maxFailures: number): number | null {
    const now = this.now();
    const windowMs = this.options.failureWindowSec * 1000;
    let tally = this.tallies.get(key);
    if (tally && now - tally.lastFailureAt > windowMs) tally.lockouts = 0;
    if (!tally) {
      if (this.tallies.size >= MAX_KEYS) this.tallies.delete(this.tallies.keys().next().value as string);
      tally = { failures: [], lockedUntil: 0, lockouts: 0, lastFailureAt: now };
      this.tallies.set(key, tally);
    }
    tally.lastFailureAt = now;
    tally.failures = tally.failures.filter((t) => now - t <= windowMs);
    tally.failures.push(now);
    if (tally.failures.length < maxFailures) return null;
    const seconds = Math.min(this.options.maxLockoutSec, this.options.lockoutSec * 2 ** tally.lockouts);
    tally.lockouts++;
    tally.failures = [];
    tally.lockedUntil = now + seconds * 1000;
    return seconds;
  }
}

const userKey = (username: string): string => `u:${username}`;
const sourceKey = (source: string): string => `s:${source}`;
