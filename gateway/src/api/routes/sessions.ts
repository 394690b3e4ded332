/**
 * Consultation sessions (视频会商): create, list, join (by code as a guest, or as a logged-in user), end,
 * attendance, layout history, and the session WebSocket (see session-fanout.ts for delivery and
 * domain/sessions/session-service.ts for the rules).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { CreateSessionInput, JoinInput, SessionService } from '../../domain/sessions/session-service.js';
import { CYCLIC_DWELL_MAX_SEC, CYCLIC_DWELL_MIN_SEC } from '../../domain/sessions/session-service.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import type { Logger } from 'pino';
import { principalOf } from '../authentication.js';
import type { GatewayServices } from '../../domain/services.js';
import { channelsOf } from '../../domain/views/layout.js';
import { epochMs, errorResponses, pagingQueryProperties } from '../schemas.js';
import { SessionFanout } from '../session-fanout.js';
import { channelIdSchema, uuidParams, wallLayoutSchema } from './wall-schemas.js';

export interface SessionRoutesOptions {
  sessions: SessionService;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Unsent bytes above which a session socket is coalesced (the event hub's setting). */
  wsMaxBufferedBytes: number;
  /** The caller's channel scope (domain/auth): a scoped chair shares only channels in its scope (else 404). */
  access?: Pick<GatewayServices, 'assertChannelInScope'>;
}

const presence = { type: 'string', enum: ['good', 'poor', 'lost'] } as const;

const participantSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    username: { type: ['string', 'null'], description: 'null for a guest who joined with the code.' },
    terminalChannelId: { type: ['string', 'null'] },
    presence,
    joinedAt: epochMs,
    leftAt: { type: ['integer', 'null'], description: 'When its last connection went away; null while connected.' },
  },
} as const;

const sessionSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    code: { type: 'string', description: '6 digits; points join with it.' },
    name: { type: 'string' },
    createdBy: { type: 'string' },
    chair: { type: 'string', description: 'Participant ID of the chair.' },
    createdAt: epochMs,
    endedAt: { type: ['integer', 'null'] },
    sources: { type: 'array', items: { type: 'string' } },
    layout: wallLayoutSchema,
    layoutSeq: { type: 'integer' },
    locked: { type: 'boolean' },
    rollCall: {
      type: 'object',
      properties: { participantId: { type: ['string', 'null'] }, cyclicDwellSec: { type: ['integer', 'null'] } },
    },
    participants: { type: 'array', items: participantSchema },
  },
} as const;

const pageOf = (item: object): object => ({
  type: 'object',
  required: ['total', 'items'],
  properties: { total: { type: 'integer' }, items: { type: 'array', items: item } },
});

const joinResultSchema = {
  type: 'object',
  properties: { participantId: { type: 'string' }, session: sessionSchema },
} as const;

const pagingQuery = { type: 'object', properties: { ...pagingQueryProperties } } as const;

/** OpenAPI 3.0 cannot describe WebSockets: the protocol is described on the routes that lead to it. */
const WS_PROTOCOL =
  'Session WebSocket `GET /api/sessions/:id/ws?token=…&participant=<participantId>` (a user token, or the guest token ' +
  'from POST /api/sessions/join). JSON `{ type, data }`. Server → client: `state` (the whole Session, on connect and ' +
  'after participant changes), `layout` `{ seq, layout, by, at }`, `presence` `{ participantId, presence, rttMs }`, ' +
  '`lock` `{ locked }`, `roll-call` `{ participantId, channelId, cyclicDwellSec }`, `chair` `{ participantId }`, ' +
  '`removed` `{ participantId }` (the chair removed that point: its sockets close with 1000, its guest token and media stop working), ' +
  '`ended` `{}` (then the socket closes with 1000; every guest\'s media URLs and media sockets stop working at once), `pong` `{ t }`, `error` `{ message }`. Client → server: ' +
  '`ping` `{ t, rttMs? }` every ~2 s (rttMs: the round trip the client measured from its previous ping → pong; ' +
  'presence is good below 300 ms, poor above or after 6 s without pings, lost without a connection); chair only: ' +
  '`layout` WallLayout, `lock` `{ locked }`, `roll-call` `{ participantId | null, cyclicDwellSec?: ' +
  `${CYCLIC_DWELL_MIN_SEC}–${CYCLIC_DWELL_MAX_SEC} | null }\` (cyclic: the connected participants with a terminal in turn), ` +
  '`hand-over` `{ participantId }` (a connected participant), `remove` `{ participantId }` (not the chair itself). Rolling in a point whose ' +
  'terminal is not shared yet shares it (a signed-in chair may; a guest chair may not widen what guests see). A slow reader gets only the latest of each message kind; ' +
  'one that stalls 30 s is closed with 1013, more than 20 messages a second with 1008: reconnect and use the new `state`.';

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (app, { sessions, metrics, logger, wsMaxBufferedBytes, access }) => {
  const fanout = new SessionFanout({ sessions, metrics, logger: logger.child({ component: 'session-ws' }), maxBufferedBytes: wsMaxBufferedBytes });
  metrics.setSessionCountsProvider(() => ({ active: sessions.activeCount, connections: fanout.connectionCount }));
  app.addHook('preClose', async () => fanout.close());

  app.post<{ Body: CreateSessionInput }>('/sessions', {
    schema: {
      tags: ['sessions'],
      summary: 'Create a consultation session; the caller is its chair.',
      description: `Sources are what is shared (cameras and the points' terminals; channels in the layout are shared too). A default layout fills the smallest grid with the sources.\n\n${WS_PROTOCOL}`,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'sources'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100 },
          sources: { type: 'array', maxItems: 256, items: channelIdSchema },
          layout: wallLayoutSchema,
        },
      },
      response: { 201: sessionSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const shared = [...request.body.sources, ...(request.body.layout ? channelsOf(request.body.layout) : [])];
    for (const channelId of shared) access?.assertChannelInScope?.(channelId, principal);
    return reply.code(201).send(await sessions.create(principal, request.body));
  });

  app.get<{ Querystring: { active?: boolean; offset: number; limit: number } }>('/sessions', {
    schema: {
      tags: ['sessions'],
      summary: 'Sessions, newest first; active=true: not ended, active=false: ended.',
      querystring: { type: 'object', properties: { active: { type: 'boolean' }, ...pagingQueryProperties } },
      response: { 200: pageOf(sessionSchema), ...errorResponses(400, 401, 403) },
    },
  }, async (request) => sessions.list(request.query));

  app.post<{ Body: { code: string; name: string; terminalChannelId?: string | null } }>('/sessions/join', {
    config: { public: true },
    schema: {
      tags: ['sessions'],
      summary: 'Join an active session with its 6-digit code (no login): a guest token scoped to that session.',
      description:
        'The token reaches only this session (its routes and WebSocket), live video of the channels shared in it, and releasing ' +
        'its own viewers; everything else answers 403. A terminalChannelId may be any channel: it is shown to the others only when the chair rolls the point in. A wrong code is ' +
        '404; after 10 wrong codes in 10 minutes from one address every join from it is 429 (Retry-After) until the window ends.\n\n' +
        WS_PROTOCOL,
      security: [],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'name'],
        properties: {
          code: { type: 'string', pattern: '^[0-9]{6}$' },
          name: { type: 'string', minLength: 1, maxLength: 100, description: 'How the point is shown (e.g. 南山派出所).' },
          terminalChannelId: { ...channelIdSchema, type: ['string', 'null'] },
        },
      },
      response: {
        200: { type: 'object', properties: { token: { type: 'string', description: 'Guest bearer token.' }, participantId: { type: 'string' }, session: sessionSchema } },
        ...errorResponses(400, 404, 409, 429),
      },
    },
  }, async (request) => sessions.joinByCode(request.body, request.ip));

  app.get<{ Params: { id: string } }>('/sessions/:id', {
    schema: { tags: ['sessions'], summary: 'One session.', description: WS_PROTOCOL, params: uuidParams, response: { 200: sessionSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => sessions.get(request.params.id));

  app.post<{ Params: { id: string } }>('/sessions/:id/end', {
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags: ['sessions'],
      summary: 'End the session (its chair or an admin): sockets get `ended` and close, guest tokens stop working.',
      params: uuidParams,
      body: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: sessionSchema, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request) => sessions.end(principalOf(request), request.params.id));

  app.post<{ Params: { id: string }; Body: JoinInput }>('/sessions/:id/join', {
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags: ['sessions'],
      summary: 'Join as the logged-in user (again: the same participant), optionally with the point’s terminal channel.',
      description: WS_PROTOCOL,
      params: uuidParams,
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100, description: 'Default: the username.' },
          terminalChannelId: { ...channelIdSchema, type: ['string', 'null'] },
        },
      },
      response: { 200: joinResultSchema, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request) => sessions.join(principalOf(request), request.params.id, request.body));

  app.post<{ Params: { id: string } }>('/sessions/:id/leave', {
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags: ['sessions'],
      summary: 'A guest leaves for good: its guest token, media URLs and media sockets stop working at once (a user just disconnects).',
      params: uuidParams,
      body: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: { type: 'object', properties: { left: { type: 'boolean' } } }, ...errorResponses(400, 401, 403) },
    },
  }, async (request) => sessions.leave(principalOf(request), request.params.id));

  app.get<{ Params: { id: string }; Querystring: { offset: number; limit: number } }>('/sessions/:id/attendance', {
    schema: {
      tags: ['sessions'],
      summary: 'Attendance: one entry per presence interval (join or reconnect → disconnect or end), by join time.',
      params: uuidParams,
      querystring: pagingQuery,
      response: {
        200: pageOf({ type: 'object', properties: { participantId: { type: 'string' }, name: { type: 'string' }, joinedAt: epochMs, leftAt: { type: ['integer', 'null'] } } }),
        ...errorResponses(400, 401, 403, 404),
      },
    },
  }, async (request) => sessions.attendanceOf(request.params.id, request.query));

  app.get<{ Params: { id: string }; Querystring: { offset: number; limit: number } }>('/sessions/:id/layout-history', {
    schema: {
      tags: ['sessions'],
      summary: 'Every layout of the session in seq order (the first is the layout it was created with).',
      params: uuidParams,
      querystring: pagingQuery,
      response: {
        200: pageOf({ type: 'object', properties: { seq: { type: 'integer' }, by: { type: 'string', description: 'Participant ID of the chair.' }, at: epochMs, layout: wallLayoutSchema } }),
        ...errorResponses(400, 401, 403, 404),
      },
    },
  }, async (request) => sessions.layoutHistory(request.params.id, request.query));

  app.get<{ Params: { id: string }; Querystring: { token?: string; participant: string } }>('/sessions/:id/ws', {
    websocket: true,
    config: { queryToken: true },
    // Refused before the upgrade, with an HTTP status: unknown or ended session 404, someone else's participant 403.
    preHandler: async (request) => {
      sessions.authorizeConnection(principalOf(request), request.params.id, request.query.participant);
    },
    schema: {
      params: uuidParams,
      querystring: {
        type: 'object',
        required: ['participant'],
        properties: { token: { type: 'string', minLength: 1, maxLength: 1024 }, participant: { type: 'string', pattern: '^[0-9a-f-]{36}$' } },
      },
    },
  }, (socket, request) => {
    // The chair's channel scope travels with its connection: layout and roll-call share only channels in it.
    const principal = principalOf(request);
    const assertInScope = access?.assertChannelInScope;
    const mayShare = assertInScope
      ? (channelId: string): boolean => {
          try {
            assertInScope(channelId, principal);
            return true;
          } catch {
            return false;
          }
        }
      : undefined;
    fanout.attach(socket, request.params.id, request.query.participant, mayShare);
  });
};
