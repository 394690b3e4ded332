/**
 * API authentication: static bearer tokens from config (for automation) and session tokens from a
 * username/password login. Passwords are stored as scrypt hashes; session tokens are random 32-byte
 * values of which only the SHA-256 is stored, so a leaked database yields no usable token.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Logger } from 'pino';
import type { User, UserRole } from '../model.js';
import type { GatewayStore } from '../store.js';
import { TooManyRequestsError, type LoginResult, type Principal } from '../services.js';
import type { AuditLog } from '../audit/audit-log.js';
import { LoginGuard, type LoginGuardOptions } from './login-guard.js';
import { ROLE_PERMISSIONS, type Permission } from './permissions.js';

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts;
  const expected = Buffer.from(keyB64, 'base64');
  const key = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function constantTimeEquals(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface AuthOptions {
  staticTokens: string[];
  sessionTtlSec: number;
  admin: { username: string; password: string };
  /** Login brute-force limits (login-guard.ts); absent: the defaults of `access.*`. */
  loginGuard?: LoginGuardOptions;
}

const DEFAULT_LOGIN_GUARD: LoginGuardOptions = { maxFailuresPerUser: 5, maxFailuresPerSource: 20, lockoutSec: 60, maxLockoutSec: 3600, failureWindowSec: 900 };

/** What a user may do: the role's permissions plus the user's grants. */
export function permissionsOf(user: Pick<User, 'role' | 'grants'>): Permission[] {
  return [...new Set<Permission>([...ROLE_PERMISSIONS[user.role], ...(user.grants ?? [])])];
}

export class AuthService {
  private readonly guard: LoginGuard;
  /** Set by the composition root once the audit log exists. */
  audit: AuditLog | null = null;
  /** Counts login results (metrics); set by the composition root. */
  onLogin: (result: 'ok' | 'wrong-password' | 'locked-out') => void = () => undefined;

  constructor(
    private readonly store: GatewayStore,
    private readonly options: AuthOptions,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.guard = new LoginGuard(options.loginGuard ?? DEFAULT_LOGIN_GUARD, now);
  }

  /** Create the initial admin account on first start. A generated password is logged once. */
  async bootstrap(): Promise<void> {
    const { username, password } = this.options.admin;
    const existing = await this.store.getUser(username);
    if (existing) return;
    const chosen = password || randomBytes(9).toString('base64url');
    await this.store.upsertUser({ username, passwordHash: await hashPassword(chosen), role: 'admin', createdAt: this.now() });
    if (password) this.logger.info({ username }, 'initial admin account created with the configured password');
    else this.logger.warn({ username, password: chosen }, 'initial admin account created with a generated password; change it or set admin.password');
  }

  /**
   * Null for a wrong username or password; TooManyRequestsError while the username or the client address
   * (`source`) is locked out after repeated failures (login-guard.ts), without checking the password.
   */
  async login(username: string, password: string, source = ''): Promise<LoginResult | null> {
    const lock = this.guard.check(username, source);
    if (lock) {
      this.logger.warn({ username, source, by: lock.by, retryAfterSec: lock.retryAfterSec }, 'login refused: locked out');
      this.onLogin('locked-out');
      await this.audit?.record({ user: username, role: '', action: 'login-locked', target: username, outcome: 'denied', source, detail: `locked out by ${lock.by}; retry after ${lock.retryAfterSec} s` });
      throw new TooManyRequestsError(`too many failed logins ${lock.by === 'user' ? 'for this user' : 'from this address'}; retry in ${lock.retryAfterSec} s`, lock.retryAfterSec);
    }
    const user = await this.store.getUser(username);
    // Hash even for unknown users so response time does not reveal which usernames exist.
    const ok = user ? await verifyPassword(password, user.passwordHash) : (await hashPassword(password), false);
    if (!user || !ok) {
      const locked = this.guard.failed(username, source);
      this.logger.warn({ username, source, lockedOutFor: locked?.retryAfterSec }, 'login failed');
      this.onLogin('wrong-password');
      await this.audit?.record({ user: username, role: user?.role ?? '', action: 'login-failed', target: username, outcome: 'denied', source, detail: locked ? `wrong username or password; now locked out by ${locked.by} for ${locked.retryAfterSec} s` : 'wrong username or password' });
      return null;
    }
    this.guard.succeeded(username);
    this.onLogin('ok');
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + this.options.sessionTtlSec * 1000;
    await this.store.putSessionToken({ tokenHash: sha256(token), username, createdAt: now, expiresAt });
    await this.audit?.record({ user: username, role: user.role, action: 'login', target: username, outcome: 'ok', source, detail: '' });
    return { token, expiresAt, user: { username, role: user.role, scopes: user.scopes ?? {}, permissions: permissionsOf(user) } };
  }

  async logout(token: string): Promise<void> {
    await this.store.deleteSessionToken(sha256(token));
  }

  async authenticate(token: string): Promise<Principal | null> {
    if (!token) return null;
    for (const t of this.options.staticTokens) {
      if (t && constantTimeEquals(t, token)) return { kind: 'static-token', username: 'api-token', role: 'admin' };
    }
    const session = await this.store.getSessionToken(sha256(token));
    if (!session || session.expiresAt <= this.now()) return null;
    const user = await this.store.getUser(session.username);
    if (!user) return null;
    if (user.passwordChangedAt !== undefined && session.createdAt < user.passwordChangedAt) return null;
    const principal: Principal = { kind: 'session', username: user.username, role: user.role };
    if (user.scopes) principal.scopes = user.scopes;
    if (user.grants?.length) principal.grants = user.grants;
    return principal;
  }

  async setPassword(username: string, password: string, role: UserRole = 'operator'): Promise<User> {
    const existing = await this.store.getUser(username);
    const user: User = {
      username,
      passwordHash: await hashPassword(password),
      role: existing?.role ?? role,
      createdAt: existing?.createdAt ?? this.now(),
    };
    await this.store.upsertUser(user);
    return user;
  }
}
