/**
 * AuthService and UserService on a real SQLite store with a controlled clock: session expiry, lockout before
 * the password is checked, scopes and grants reaching the principal, and the user rules (last admin, self).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthService } from '../../../src/domain/auth/auth-service.js';
import { UserService } from '../../../src/domain/auth/user-service.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import { ConflictError, ForbiddenError, TooManyRequestsError, type Principal } from '../../../src/domain/services.js';

const logger = pino({ level: 'silent' });
let dir: string;
let store: SqliteStore;
let now: number;
let auth: AuthService;
let users: UserService;
const root: Principal = { kind: 'session', username: 'root', role: 'admin' };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-auth-'));
  store = new SqliteStore(dir, logger);
  await store.init();
  now = 1_700_000_000_000;
  auth = new AuthService(
    store,
    { staticTokens: ['static-1'], sessionTtlSec: 600, admin: { username: 'root', password: 'root-password' }, loginGuard: { maxFailuresPerUser: 2, maxFailuresPerSource: 10, lockoutSec: 30, maxLockoutSec: 600, failureWindowSec: 600 } },
    logger,
    () => now,
  );
  await auth.bootstrap();
  users = new UserService(store, logger, () => now);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sessions', () => {
  it('a session token works until sessionTtlSec has passed, then not at all', async () => {
    await users.create(root, { username: 'alice', password: 'alice-password', role: 'operator', scopes: { regions: ['440306'] }, grants: [] });
    const login = await auth.login('alice', 'alice-password', '10.0.0.1');
    expect(login).not.toBeNull();
    expect(login!.expiresAt).toBe(now + 600_000);
    expect(login!.user).toEqual({ username: 'alice', role: 'operator', scopes: { regions: ['440306'] }, permissions: ['view', 'play', 'ptz', 'ack', 'export', 'sessions'] });
    now += 599_000;
    expect(await auth.authenticate(login!.token)).toEqual({ kind: 'session', username: 'alice', role: 'operator', scopes: { regions: ['440306'] } });
    now += 1_000;
    expect(await auth.authenticate(login!.token)).toBeNull();
  });

  it('role, scope and grant changes apply to the next request; a deleted user\'s token stops working', async () => {
    await users.create(root, { username: 'mia', password: 'mia-password', role: 'maintainer' });
    const { token } = (await auth.login('mia', 'mia-password'))!;
    expect((await auth.authenticate(token))?.grants).toBeUndefined();
    await users.update(root, 'mia', { grants: ['play'], scopes: { groups: ['44030500002150000001'] } });
    expect(await auth.authenticate(token)).toMatchObject({ role: 'maintainer', grants: ['play'], scopes: { groups: ['44030500002150000001'] } });
    await users.delete(root, 'mia');
    expect(await auth.authenticate(token)).toBeNull();
  });

  it('a password change ends the sessions from before it; a login with the new password works', async () => {
    await users.create(root, { username: 'carol', password: 'carol-password', role: 'operator' });
    const before = (await auth.login('carol', 'carol-password'))!.token;
    now += 1000;
    await users.update(root, 'carol', { role: 'viewer' });
    expect((await auth.authenticate(before))?.role).toBe('viewer');
    now += 1000;
    await users.update(root, 'carol', { password: 'carol-new-password' });
    expect(await auth.authenticate(before)).toBeNull();
    now += 1;
    expect(await auth.login('carol', 'carol-password')).toBeNull();
    const after = (await auth.login('carol', 'carol-new-password'))!.token;
    expect((await auth.authenticate(after))?.username).toBe('carol');
  });

  it('a locked-out user is refused even with the right password, until the lockout ends', async () => {
    await users.create(root, { username: 'bob', password: 'bob-password', role: 'viewer' });
    expect(await auth.login('bob', 'wrong-1', '10.0.0.2')).toBeNull();
    expect(await auth.login('bob', 'wrong-2', '10.0.0.2')).toBeNull();
    await expect(auth.login('bob', 'bob-password', '10.0.0.3')).rejects.toMatchObject({ constructor: TooManyRequestsError, retryAfterSec: 30 });
    now += 30_000;
    expect(await auth.login('bob', 'bob-password', '10.0.0.3')).not.toBeNull();
  });
});

describe('user rules', () => {
  it('refuses a duplicate username, self-deletion, self-demotion and removing the last unscoped admin', async () => {
    await expect(users.create(root, { username: 'root', password: 'another-password', role: 'viewer' })).rejects.toBeInstanceOf(ConflictError);
    await expect(users.delete(root, 'root')).rejects.toBeInstanceOf(ForbiddenError);
    await expect(users.update(root, 'root', { role: 'operator' })).rejects.toBeInstanceOf(ForbiddenError);
    await users.create(root, { username: 'second', password: 'second-password', role: 'admin', scopes: { regions: ['4403'] } });
    const second: Principal = { kind: 'session', username: 'second', role: 'admin' };
    // The only other admin is scoped: root is still the last unscoped admin.
    await expect(users.delete(second, 'root')).rejects.toBeInstanceOf(ConflictError);
    await users.update(root, 'second', { scopes: {} });
    await users.delete(second, 'root');
    expect((await users.list()).map((u) => [u.id, u.role, u.scopes])).toEqual([['second', 'admin', { regions: [], groups: [] }]]);
  });
});
