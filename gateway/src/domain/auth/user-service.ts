/**
 * User accounts: create, list, change (password, role, scopes, grants) and delete. A user's ID is its
 * username (unique, never changed). Passwords are stored as scrypt hashes only and never returned.
 *
 * Rules: at least one admin without scopes remains (the gateway must stay administrable), nobody deletes or
 * demotes themselves, and changes take effect on the user's next request (the principal is read from the
 * store on every request; a deleted user's sessions, and every session from before a password change, stop
 * working at once).
 */
import type { Logger } from 'pino';
import type { User, UserGrant, UserRole, UserScopes } from '../model.js';
import type { GatewayStore } from '../store.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, type Principal } from '../services.js';
import { hashPassword, permissionsOf } from './auth-service.js';
import { isScoped } from './channel-scope.js';
import type { Permission } from './permissions.js';

export interface UserView {
  id: string;
  username: string;
  role: UserRole;
  scopes: { regions: string[]; groups: string[] };
  grants: UserGrant[];
  /** The role's permissions plus the grants. */
  permissions: Permission[];
  createdAt: number;
  updatedAt: number;
}

export interface CreateUserInput {
  username: string;
  password: string;
  role: UserRole;
  scopes?: UserScopes;
  grants?: UserGrant[];
}

export type UpdateUserInput = Partial<Omit<CreateUserInput, 'username'>>;

export const MIN_PASSWORD_LENGTH = 8;

function viewOf(user: User): UserView {
  return {
    id: user.username,
    username: user.username,
    role: user.role,
    scopes: { regions: user.scopes?.regions ?? [], groups: user.scopes?.groups ?? [] },
    grants: user.grants ?? [],
    permissions: permissionsOf(user),
    createdAt: user.createdAt,
    updatedAt: user.updatedAt ?? user.createdAt,
  };
}

function normalisedScopes(scopes: UserScopes | undefined): UserScopes | undefined {
  if (!scopes) return undefined;
  const out: UserScopes = {};
  if (scopes.regions?.length) out.regions = [...new Set(scopes.regions)].sort();
  if (scopes.groups?.length) out.groups = [...new Set(scopes.groups)].sort();
  return isScoped(out) ? out : undefined;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new ValidationError(`body.password must have at least ${MIN_PASSWORD_LENGTH} characters`, 'body.password');
}

/** An admin that sees everything: the one kind of account that can repair any other. */
const isFullAdmin = (u: User): boolean => u.role === 'admin' && !isScoped(u.scopes);

export class UserService {
  constructor(
    private readonly store: GatewayStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<UserView[]> {
    return (await this.store.listUsers()).map(viewOf);
  }

  async get(id: string): Promise<UserView> {
    return viewOf(await this.require(id));
  }

  async create(actor: Principal, input: CreateUserInput): Promise<UserView> {
    checkPassword(input.password);
    if (await this.store.getUser(input.username)) throw new ConflictError(`user ${input.username} already exists`);
    const now = this.now();
    const user: User = { username: input.username, passwordHash: await hashPassword(input.password), role: input.role, createdAt: now, updatedAt: now };
    const scopes = normalisedScopes(input.scopes);
    if (scopes) user.scopes = scopes;
    if (input.grants?.length) user.grants = [...new Set(input.grants)];
    await this.store.upsertUser(user);
    this.logger.info({ by: actor.username, username: user.username, role: user.role, scopes }, 'user created');
    return viewOf(user);
  }

  async update(actor: Principal, id: string, input: UpdateUserInput): Promise<UserView> {
    const existing = await this.require(id);
    const next: User = { ...existing, updatedAt: this.now() };
    if (input.password !== undefined) {
      checkPassword(input.password);
      next.passwordHash = await hashPassword(input.password);
      next.passwordChangedAt = next.updatedAt;
    }
    if (input.role !== undefined) next.role = input.role;
    if (input.scopes !== undefined) {
      const scopes = normalisedScopes(input.scopes);
      if (scopes) next.scopes = scopes;
      else delete next.scopes;
    }
    if (input.grants !== undefined) {
      if (input.grants.length) next.grants = [...new Set(input.grants)];
      else delete next.grants;
    }
    if (isFullAdmin(existing) && !isFullAdmin(next)) {
      if (actor.username === id) throw new ForbiddenError('you cannot take your own admin rights away; ask another admin');
      await this.keepAnAdmin(id);
    }
    await this.store.upsertUser(next);
    this.logger.info({ by: actor.username, username: id, role: next.role, scopes: next.scopes, passwordChanged: input.password !== undefined }, 'user changed');
    return viewOf(next);
  }

  async delete(actor: Principal, id: string): Promise<void> {
    const existing = await this.require(id);
    if (actor.username === id) throw new ForbiddenError('you cannot delete your own account');
    if (isFullAdmin(existing)) await this.keepAnAdmin(id);
    await this.store.deleteUser(id);
    this.logger.info({ by: actor.username, username: id }, 'user deleted');
  }

  private async require(id: string): Promise<User> {
    const user = await this.store.getUser(id);
    if (!user) throw new NotFoundError(`user ${id} not found`);
    return user;
  }

  private async keepAnAdmin(leaving: string): Promise<void> {
    const others = (await this.store.listUsers()).filter((u) => u.username !== leaving && isFullAdmin(u));
    if (others.length === 0) throw new ConflictError('the last unscoped admin cannot be removed or demoted');
  }
}
