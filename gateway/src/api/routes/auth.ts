/** POST /api/auth/login and /api/auth/logout: session tokens for the web UI. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { bearerTokenOf, principalOf } from '../authentication.js';
import { errorBody } from '../errors.js';
import { errorResponses, ref } from '../schemas.js';
import { permissionsOf } from '../../domain/auth/auth-service.js';

export interface AuthRoutesOptions {
  services: GatewayServices;
}

interface LoginBody {
  username: string;
  password: string;
}

export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (app, { services }) => {
  app.post<{ Body: LoginBody }>(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in with a username and password; returns a session bearer token.',
        security: [],
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 64 },
            password: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
        response: { 200: ref('LoginResult'), ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const result = await services.login(request.body.username, request.body.password, request.ip);
      if (!result) {
        // Same answer for an unknown user and a wrong password: do not confirm which usernames exist.
        return reply.code(401).send(errorBody(401, 'wrong username or password', undefined, { code: 'auth.wrong-password' }));
      }
      return result;
    },
  );

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who the bearer token belongs to: username, role, scopes and permissions.',
        response: { 200: { type: 'object', properties: { user: { type: 'object', additionalProperties: true } } }, ...errorResponses(401) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return { user: { username: principal.username, role: principal.role, kind: principal.kind, scopes: principal.scopes ?? {}, permissions: permissionsOf({ role: principal.role, grants: principal.grants }) } };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the session of the bearer token (a no-op for static API tokens).',
        response: {
          200: { type: 'object', properties: { loggedOut: { type: 'boolean' } } },
          ...errorResponses(401),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const token = bearerTokenOf(request.headers.authorization);
      if (principal.kind === 'session' && token !== null) await services.logout(token);
      return { loggedOut: principal.kind === 'session' };
    },
  );
};
