/**
 * Bearer-token authentication of /api/**: static API tokens from the configuration (compared in constant
 * time) or session tokens from POST /api/auth/login (resolved by the services).
 *
 * Routes opt out with `config: { public: true }` (login). The WebSocket route sets
 * `config: { queryToken: true }`: browsers cannot set headers on a WebSocket, so it may pass `?token=`.
 * Other routes never read tokens from the URL, which ends up in logs and browser history.
 *
 * Authorisation happens here too, in one place: after the caller is known, the permission its route needs
 * (domain/auth/permissions.ts, ROUTE_PERMISSIONS) is checked against the caller's role and grants, and a
 * refusal is a 403 naming the missing permission. Channel scopes are applied by the domain services the
 * routes call, with the principal passed along (domain/auth/scoped-catalog.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { GatewayServices, Principal } from '../domain/services.js';
import { errorBody } from './errors.js';
import { GUEST_TOKEN_PREFIX } from '../domain/sessions/session-service.js';
import { refusalOf } from '../domain/auth/permissions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by the authentication hook on every non-public /api route. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** No bearer token needed (POST /api/auth/login). */
    public?: boolean;
    /** The bearer token may come as `?token=` (WebSocket upgrade). */
    queryToken?: boolean;
  }
}

/** Longer "tokens" are rejected before hashing: nothing we issue is near this long. */
const MAX_TOKEN_LENGTH = 1024;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Matches a presented token against the static tokens. Both sides are hashed first so that every
 * comparison is between equal-length digests (timingSafeEqual needs that, and the token length is not
 * leaked either); all tokens are compared, without an early exit.
 */
export class StaticTokens {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.filter((t) => t.length > 0).map(sha256);
  }

  matches(token: string): boolean {
    const presented = sha256(token);
    let found = false;
    for (const digest of this.digests) {
      if (timingSafeEqual(presented, digest)) found = true;
    }
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerTokenOf(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

function queryTokenOf(request: FastifyRequest): string | null {
  const query = request.query as Record<string, unknown> | undefined;
  const token = query?.token;
  return typeof token === 'string' && token !== '' ? token : null;
}

function unauthorized(reply: FastifyReply, presented: boolean): FastifyReply {
  // RFC 6750 §3: the challenge says which scheme to use and, when a token was sent, that it was refused.
  const challenge = presented ? 'Bearer realm="sharp-eyes", error="invalid_token"' : 'Bearer realm="sharp-eyes"';
  return reply
    .code(401)
    .header('WWW-Authenticate', challenge)
    .send(
      errorBody(401, presented ? 'invalid or expired bearer token' : 'missing bearer token (Authorization: Bearer <token>)', undefined, {
        code: presented ? 'auth.token-invalid' : 'auth.token-missing',
      }),
    );
}

/**
 * What a consultation-session guest (a point that joined with the code) may reach: its own session's routes
 * and WebSocket; live video, snapshots and names of the channels shared in that session; releasing its own
 * viewer of a stream (with viewerId: never stopping a stream for everyone); the media WebSocket (the media
 * paths it fetches carry their own signed tokens). Everything else answers 403.
 */
function guestMayReach(services: GatewayServices, principal: Principal, request: FastifyRequest): boolean {
  const sessionId = principal.sessionId;
  if (!sessionId) return false;
  const route = request.routeOptions.url ?? '';
  const params = (request.params ?? {}) as Record<string, unknown>;
  const id = typeof params.id === 'string' ? params.id : '';
  if (route === '/api/sessions/:id' || route.startsWith('/api/sessions/:id/')) return id === sessionId;
  const sharedChannel = (): boolean => services.sessions?.mayGuestPlay(sessionId, id) ?? false;
  if (request.method === 'POST' && route === '/api/channels/:id/play') return sharedChannel();
  if (request.method === 'GET' && (route === '/api/channels/:id' || route === '/api/channels/:id/snapshot')) return sharedChannel();
  if (request.method === 'DELETE' && route === '/api/streams/:id') {
    const query = request.query as Record<string, unknown> | undefined;
    return typeof query?.viewerId === 'string' && query.viewerId !== '';
  }
  if (request.method === 'GET' && route === '/api/media/ws') return true;
  return false;
}

/** Route prefixes a kiosk (wall PC) token may read: what the wall shows, nothing about users or the health console. */
const KIOSK_READ_ROUTES = ['/api/tree', '/api/channels', '/api/views', '/api/tours', '/api/alarms', '/api/streams', '/api/stats', '/api/ws', '/api/media/ws'];

/**
 * What a kiosk token (config `http.kioskTokens`, a wall PC opening #/kiosk) may reach: it watches. GET of the
 * wall's routes, playing live video, releasing its own viewer (with viewerId); every change — PTZ, views,
 * tours, acknowledging alarms, sessions, users, the health console — answers 403.
 */
export function kioskMayReach(method: string, route: string, viewerId: unknown): boolean {
  if (method === 'GET' || method === 'HEAD') return KIOSK_READ_ROUTES.some((prefix) => route === prefix || route.startsWith(`${prefix}/`));
  if (method === 'POST' && route === '/api/channels/:id/play') return true;
  if (method === 'DELETE' && route === '/api/streams/:id') return typeof viewerId === 'string' && viewerId !== '';
  return false;
}

/** The onRequest hook for the /api scope. */
export function authenticationHook(services: GatewayServices, apiTokens: readonly string[], kioskTokens: readonly string[] = []): onRequestAsyncHookHandler {
  const staticTokens = new StaticTokens(apiTokens);
  const kiosk = new StaticTokens(kioskTokens);
  return async function authenticate(request, reply) {
    const config = request.routeOptions.config;
    if (config.public) return;
    const token =
      bearerTokenOf(request.headers.authorization) ?? (config.queryToken ? queryTokenOf(request) : null);
    if (token === null) {
      await unauthorized(reply, false);
      return;
    }
    if (token.length > MAX_TOKEN_LENGTH) {
      await unauthorized(reply, true);
      return;
    }
    if (staticTokens.matches(token)) {
      request.principal = { kind: 'static-token', username: 'api-token', role: 'admin' };
      return;
    }
    if (kiosk.matches(token)) {
      const query = request.query as Record<string, unknown> | undefined;
      if (!kioskMayReach(request.method, request.routeOptions.url ?? '', query?.viewerId)) {
        await reply.code(403).send(errorBody(403, 'a kiosk token only watches: it cannot change anything'));
        return;
      }
      request.principal = { kind: 'kiosk-token', username: 'kiosk', role: 'viewer' };
      return;
    }
    // Guest tokens of consultation sessions live with the sessions, not with the users' login tokens.
    const principal = token.startsWith(GUEST_TOKEN_PREFIX) ? (services.sessions?.authenticateGuest(token) ?? null) : await services.authenticate(token);
    if (!principal) {
      await unauthorized(reply, true);
      return;
    }
    if (principal.kind === 'session-guest' && !guestMayReach(services, principal, request)) {
      await reply.code(403).send(errorBody(403, 'a session guest token reaches only its own session, the video shared in it and the session WebSocket', undefined, { code: 'session.guest-scope' }));
      return;
    }
    request.principal = principal;
    if (principal.kind === 'session-guest') return;
    const query = request.query as Record<string, unknown> | undefined;
    const refusal = refusalOf(principal, request.method, request.routeOptions.url ?? '', query?.format === 'csv');
    if (refusal !== null) await reply.code(403).send(errorBody(403, refusal));
  };
}

/** The principal of an authenticated route (the hook guarantees one; a missing one is a wiring bug). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.routeOptions.url ?? request.url} ran without authentication`);
  return request.principal;
}
