/**
 * GET /api/audit (admins only): the audit log, filtered and paged, or as CSV; and the hook that writes it.
 *
 * The hook is the one place API actions are audited: it runs before each /api reply is sent (onSend, so an
 * entry is stored by the time the caller sees the answer) and records the routes of AUDITED_ROUTES, every CSV
 * export, and every other change (non-GET) as `config-change`, with the outcome from the status code
 * (2xx ok; 401/403/404 denied; else failed). Logins are audited by the auth service, which knows the username
 * of a failed attempt. A handler may refine an entry through `request.auditNote` (e.g. a PTZ takeover).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AUDIT_ACTIONS, type AuditAction, type AuditLog } from '../../domain/audit/audit-log.js';
import { epochMs, errorResponses, pagingQueryProperties } from '../schemas.js';
import { USERNAME_PATTERN } from './users.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a handler to refine its audit entry (action and/or detail). */
    auditNote: { action?: AuditAction; detail?: string } | null;
  }
}

/** Routes audited with their own action; other non-GET routes are `config-change` unless in NOT_AUDITED. */
const AUDITED_ROUTES: Readonly<Record<string, AuditAction>> = {
  'POST /api/auth/logout': 'logout',
  'POST /api/channels/:id/play': 'play',
  'POST /api/channels/:id/playback': 'play',
  'POST /api/streams/:id/control': 'play',
  'GET /api/channels/:id/download': 'export',
  'GET /api/channels/:id/snapshot': 'snapshot',
  'DELETE /api/streams/:id': 'stream-stop',
  'POST /api/channels/:id/ptz': 'ptz',
  'DELETE /api/channels/:id/ptz/lease': 'ptz',
  'POST /api/alarms/:id/ack': 'alarm-ack',
  'POST /api/devices/:id/catalog': 'catalog-query',
  'POST /api/sessions': 'session-change',
  'POST /api/sessions/:id/end': 'session-change',
  'POST /api/users': 'user-create',
  'PATCH /api/users/:id': 'user-update',
  'DELETE /api/users/:id': 'user-delete',
};

/** Changes that are a user's own workspace, or audited elsewhere (login: the auth service). */
const NOT_AUDITED = new Set([
  'POST /api/auth/login',
  'POST /api/views',
  'PUT /api/views/:id',
  'DELETE /api/views/:id',
  'POST /api/tours',
  'PUT /api/tours/:id',
  'DELETE /api/tours/:id',
  'POST /api/sessions/join',
  'POST /api/sessions/:id/join',
]);

function outcomeOf(status: number): 'ok' | 'denied' | 'failed' {
  if (status < 300) return 'ok';
  return status === 401 || status === 403 || status === 404 ? 'denied' : 'failed';
}

function actionOf(request: FastifyRequest): AuditAction | null {
  const key = `${request.method} ${request.routeOptions.url ?? ''}`;
  const query = request.query as Record<string, unknown> | undefined;
  if (query?.format === 'csv') return 'export';
  if (key in AUDITED_ROUTES) return AUDITED_ROUTES[key];
  if (request.method === 'GET' || request.method === 'HEAD' || NOT_AUDITED.has(key)) return null;
  return 'config-change';
}

function targetOf(request: FastifyRequest): string {
  const params = (request.params ?? {}) as Record<string, unknown>;
  if (typeof params.id === 'string') return params.id;
  const body = request.body as Record<string, unknown> | null | undefined;
  if (body && typeof body.username === 'string') return body.username;
  return request.routeOptions.url ?? '';
}

function detailOf(request: FastifyRequest, reply: FastifyReply, payload: unknown): string {
  const parts: string[] = [];
  const body = request.body as Record<string, unknown> | null | undefined;
  if (request.routeOptions.url === '/api/channels/:id/ptz' && body) {
    parts.push([body.action, body.direction, body.zoom, body.operation, body.preset].filter((v) => v !== undefined).join(' '));
  }
  if (body && typeof body.role === 'string') parts.push(`role ${body.role}`);
  // Which recording was played back or downloaded, and how it was controlled.
  if (request.routeOptions.url === '/api/channels/:id/playback' && body) parts.push(`playback ${String(body.start)} – ${String(body.end)}`);
  if (request.routeOptions.url === '/api/streams/:id/control' && body) parts.push([body.action, body.value].filter((v) => v !== undefined).join(' '));
  const query = request.query as Record<string, unknown> | undefined;
  if (request.routeOptions.url === '/api/channels/:id/download' && query) parts.push(`download ${String(query.start)} – ${String(query.end)}`);
  if (reply.statusCode >= 300 && typeof payload === 'string' && payload.startsWith('{')) {
    try {
      const message = (JSON.parse(payload) as { message?: unknown }).message;
      parts.push(`${reply.statusCode}${typeof message === 'string' ? `: ${message.slice(0, 300)}` : ''}`);
    } catch {
      parts.push(String(reply.statusCode));
    }
  } else if (reply.statusCode >= 300) parts.push(String(reply.statusCode));
  if (request.auditNote?.detail) parts.push(request.auditNote.detail);
  if (request.method !== 'GET' && !(request.routeOptions.url ?? '').startsWith('/api/channels/')) parts.unshift(`${request.method} ${request.routeOptions.url ?? ''}`);
  return parts.filter((p) => p !== '').join('; ');
}

/** The onSend hook of the /api scope (registered in http-server.ts). */
export function auditHook(audit: AuditLog) {
  return async function auditRequest(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const action = request.auditNote?.action ?? actionOf(request);
    if (action === null) return payload;
    // Unauthenticated requests (401 before a principal) are not attributable to a user: not audited here.
    const principal = request.principal;
    if (!principal) return payload;
    await audit.record({
      user: principal.username,
      role: principal.role,
      action,
      target: targetOf(request),
      outcome: outcomeOf(reply.statusCode),
      source: request.ip,
      detail: detailOf(request, reply, payload),
    });
    return payload;
  };
}

interface AuditListQuery {
  user?: string;
  action?: AuditAction;
  target?: string;
  since?: number;
  until?: number;
  offset: number;
  limit: number;
  format: 'json' | 'csv';
}

const entrySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    at: { type: 'integer' },
    user: { type: 'string' },
    role: { type: 'string' },
    action: { type: 'string', enum: AUDIT_ACTIONS },
    target: { type: 'string' },
    outcome: { type: 'string', enum: ['ok', 'denied', 'failed'] },
    source: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;

export interface AuditRoutesOptions {
  audit: AuditLog;
}

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, { audit }) => {
  app.get<{ Querystring: AuditListQuery }>(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first (admins only); format=csv exports every matching entry.',
        querystring: {
          type: 'object',
          properties: {
            user: { type: 'string', pattern: USERNAME_PATTERN },
            action: { type: 'string', enum: AUDIT_ACTIONS },
            target: { type: 'string', maxLength: 200 },
            since: epochMs,
            until: epochMs,
            ...pagingQueryProperties,
            format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
          },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: entrySchema } } }, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { format, offset, limit, ...filters } = request.query;
      if (format === 'csv') {
        const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="audit-${stamp}.csv"`)
          .send(await audit.csv(filters));
      }
      return audit.query({ ...filters, offset, limit });
    },
  );
};
