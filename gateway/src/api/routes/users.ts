/** User accounts: /api/users (admins only; see ROUTE_PERMISSIONS in domain/auth/permissions.ts). */
import type { FastifyPluginAsync } from 'fastify';
import type { UserService, CreateUserInput, UpdateUserInput } from '../../domain/auth/user-service.js';
import { MIN_PASSWORD_LENGTH } from '../../domain/auth/user-service.js';
import { PERMISSIONS, USER_GRANTS } from '../../domain/auth/permissions.js';
import { principalOf } from '../authentication.js';
import { errorResponses } from '../schemas.js';

export interface UserRoutesOptions {
  users: UserService;
}

const ROLES = ['admin', 'operator', 'maintainer', 'viewer'];
export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';

const scopesSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Channels the user may reach: under these civil-code prefixes and/or these business groups / virtual orgs. Empty or absent: all.',
  properties: {
    regions: { type: 'array', maxItems: 200, items: { type: 'string', pattern: '^[0-9]{2,12}$' }, description: 'Civil-code prefixes (2–12 digits), as in GET /api/tree?view=region.' },
    groups: { type: 'array', maxItems: 200, items: { type: 'string', pattern: '^[0-9]{20}$' }, description: 'Business group (215) / virtual organisation (216) IDs, as in GET /api/tree?view=group.' },
  },
} as const;

const grantsSchema = { type: 'array', maxItems: USER_GRANTS.length, items: { type: 'string', enum: USER_GRANTS }, description: 'Permissions on top of the role (e.g. play for a maintainer).' } as const;

const userSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'Equals the username.' },
    username: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    scopes: {
      type: 'object',
      properties: { regions: { type: 'array', items: { type: 'string' } }, groups: { type: 'array', items: { type: 'string' } } },
    },
    grants: { type: 'array', items: { type: 'string' } },
    permissions: { type: 'array', items: { type: 'string', enum: PERMISSIONS } },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: USERNAME_PATTERN } } } as const;
const password = { type: 'string', minLength: MIN_PASSWORD_LENGTH, maxLength: 256 } as const;

export const userRoutes: FastifyPluginAsync<UserRoutesOptions> = async (app, { users }) => {
  app.get('/users', {
    schema: {
      tags: ['users'],
      summary: 'Every user account (admins only).',
      response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: userSchema } } }, ...errorResponses(401, 403) },
    },
  }, async () => {
    const items = await users.list();
    return { total: items.length, items };
  });

  app.get<{ Params: { id: string } }>('/users/:id', {
    schema: { tags: ['users'], summary: 'One user account.', params: idParams, response: { 200: userSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => users.get(request.params.id));

  app.post<{ Body: CreateUserInput }>('/users', {
    schema: {
      tags: ['users'],
      summary: 'Create a user with a role and optional scopes.',
      body: {
        type: 'object',
        required: ['username', 'password', 'role'],
        additionalProperties: false,
        properties: { username: { type: 'string', pattern: USERNAME_PATTERN }, password, role: { type: 'string', enum: ROLES }, scopes: scopesSchema, grants: grantsSchema },
      },
      response: { 201: userSchema, ...errorResponses(400, 401, 403, 409) },
    },
  }, async (request, reply) => reply.code(201).send(await users.create(principalOf(request), request.body)));

  app.patch<{ Params: { id: string }; Body: UpdateUserInput }>('/users/:id', {
    schema: {
      tags: ['users'],
      summary: 'Change a user\'s password, role, scopes or grants (only the fields given).',
      params: idParams,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { password, role: { type: 'string', enum: ROLES }, scopes: scopesSchema, grants: grantsSchema },
      },
      response: { 200: userSchema, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request) => users.update(principalOf(request), request.params.id, request.body));

  app.delete<{ Params: { id: string } }>('/users/:id', {
    schema: {
      tags: ['users'],
      summary: 'Delete a user; its sessions stop working at once.',
      params: idParams,
      response: { 200: { type: 'object', properties: { deleted: { type: 'boolean' } } }, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request) => {
    await users.delete(principalOf(request), request.params.id);
    return { deleted: true };
  });
};
