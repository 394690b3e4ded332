/**
 * Alert rules (offline ≥ X minutes, N failed stream opens / P successes) and the alerts they raise. Rules are
 * read by every signed-in user and changed (and tested) by admins and maintainers; alerts are pushed on the
 * event WebSocket as `health-alert` and POSTed to the rule's webhook.
 */
import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError } from '../../domain/services.js';
import { RULE_LIMITS } from '../../domain/health/alert-rules.js';
import type { AlertGroupBy, AlertRuleInput, AlertState, HealthApi } from '../../domain/health/types.js';
import { principalOf } from '../authentication.js';
import { epochMs, errorResponses, pagingQueryProperties } from '../schemas.js';
import { uuidParams } from './wall-schemas.js';
import { reasonCodeSchema, requireMaintainer, requireStaff } from './health.js';

export interface AlertRuleRoutesOptions {
  health: HealthApi;
}

const scopeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: ['all', 'region', 'group'] },
    nodeId: { type: ['string', 'null'], pattern: '^[0-9]{2,20}$', description: 'A node of the region tree (region: civil code, township / village / grid code) or of the group tree (group: business-group / virtual-org ID); the rule covers the channels beneath it.' },
  },
} as const;

const intOrNull = (limits: { min: number; max: number }, description: string) =>
  ({ type: ['integer', 'null'], minimum: limits.min, maximum: limits.max, description }) as const;

const ruleBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: RULE_LIMITS.nameLength },
    enabled: { type: 'boolean', description: 'Default true.' },
    kind: { type: 'string', enum: ['offline', 'stream-failure'] },
    offlineMinutes: intOrNull(RULE_LIMITS.offlineMinutes, 'offline: fire once offline this long (shorter blips never fire). Required for offline rules.'),
    failureCount: intOrNull(RULE_LIMITS.failureCount, 'stream-failure: fire after this many consecutive failed opens. Required for stream-failure rules.'),
    clearAfterSuccesses: intOrNull(RULE_LIMITS.clearAfterSuccesses, 'stream-failure: clear after this many consecutive successful opens (default 1).'),
    reminderMinutes: intOrNull(RULE_LIMITS.reminderMinutes, 'Repeat the notification while firing; null = never.'),
    notifyRecovery: { type: 'boolean', description: 'Send a recovery notice when the alert clears (default true).' },
    scope: scopeSchema,
    webhookUrl: { type: ['string', 'null'], maxLength: RULE_LIMITS.urlLength, description: 'http(s) URL notifications are POSTed to; null = in-app only.' },
    webhookFormat: {
      type: 'string',
      enum: ['json', 'wecom', 'dingtalk'],
      description: 'json (default): our payload. wecom / dingtalk: a group-robot markdown message (企业微信 / 钉钉 群机器人 webhook URL), grouped by device.',
    },
  },
} as const;

export const alertRuleSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    enabled: { type: 'boolean' },
    kind: { type: 'string', enum: ['offline', 'stream-failure'] },
    offlineMinutes: { type: ['integer', 'null'] },
    failureCount: { type: ['integer', 'null'] },
    clearAfterSuccesses: { type: ['integer', 'null'] },
    reminderMinutes: { type: ['integer', 'null'] },
    notifyRecovery: { type: 'boolean' },
    scope: { type: 'object', properties: { kind: { type: 'string' }, nodeId: { type: ['string', 'null'] } } },
    webhookUrl: { type: ['string', 'null'] },
    webhookFormat: { type: 'string', enum: ['json', 'wecom', 'dingtalk'] },
    preset: { type: 'string', enum: ['default-offline'], description: 'The rule a fresh install starts with.' },
    createdBy: { type: 'string' },
    createdAt: epochMs,
    updatedAt: epochMs,
  },
} as const;

export const alertSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    ruleId: { type: 'string' },
    ruleName: { type: 'string' },
    kind: { type: 'string', enum: ['offline', 'stream-failure', 'alarm-unacknowledged'], description: 'alarm-unacknowledged: a device alarm left unacknowledged for alarms.escalateAfterMin (raised by the gateway, not by a rule).' },
    alarmId: { type: 'string', description: 'kind alarm-unacknowledged: the alarm; acknowledging it clears the alert.' },
    channelId: { type: 'string' },
    channelName: { type: 'string' },
    deviceId: { type: 'string' },
    deviceName: { type: 'string' },
    civilCode: { type: 'string' },
    place: { anyOf: [{ type: 'null' }, { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } }], description: 'Region node (township or county) of the channel.' },
    state: { type: 'string', enum: ['firing', 'cleared'] },
    reason: { type: 'string', description: 'English; UIs render reasonCode.' },
    reasonCode: reasonCodeSchema,
    firedAt: epochMs,
    clearedAt: { type: ['number', 'null'] },
    clearReason: { type: ['string', 'null'], enum: ['recovered', 'maintenance', 'channel-removed', 'rule-changed', 'rule-deleted', 'acknowledged', null] },
    lastNotifiedAt: epochMs,
    reminders: { type: 'integer' },
  },
} as const;

const testResultSchema = {
  type: 'object',
  properties: {
    delivered: { type: 'boolean' },
    status: { type: 'integer', description: 'HTTP status the receiver answered.' },
    error: { type: 'string', description: 'Why it was not delivered, in English.' },
    code: { type: 'string', description: 'The same for UIs: webhook.http-status, webhook.timeout, webhook.blocked-port, webhook.bad-url, webhook.unknown-host, webhook.refused, webhook.network.' },
    params: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
    attempts: { type: 'integer' },
  },
} as const;

interface AlertListQuery {
  state?: AlertState;
  ruleId?: string;
  channelId?: string;
  offset: number;
  limit: number;
}

export const alertRuleRoutes: FastifyPluginAsync<AlertRuleRoutesOptions> = async (app, { health }) => {
  app.addHook('preHandler', async (request) => requireStaff(request));

  app.get(
    '/alert-rules',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alert rules, oldest first.',
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: alertRuleSchema } } }, ...errorResponses(401, 403) },
      },
    },
    async () => health.listRules(),
  );

  app.get<{ Params: { id: string } }>(
    '/alert-rules/:id',
    { schema: { tags: ['alerts'], summary: 'One alert rule.', params: uuidParams, response: { 200: alertRuleSchema, ...errorResponses(400, 401, 403, 404) } } },
    async (request) => {
      const rule = await health.getRule(request.params.id);
      if (!rule) throw new NotFoundError(`alert rule ${request.params.id} not found`);
      return rule;
    },
  );

  app.post<{ Body: AlertRuleInput }>(
    '/alert-rules',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Create an alert rule (admins and maintainers).',
        body: ruleBody,
        response: { 201: alertRuleSchema, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      requireMaintainer(request);
      const rule = await health.createRule(request.body, principalOf(request).username);
      return reply.code(201).send(rule);
    },
  );

  app.put<{ Params: { id: string }; Body: AlertRuleInput }>(
    '/alert-rules/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Replace an alert rule (admins and maintainers). Changing its kind or scope, or disabling it, clears its open alerts.',
        params: uuidParams,
        body: ruleBody,
        response: { 200: alertRuleSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      requireMaintainer(request);
      const rule = await health.updateRule(request.params.id, request.body);
      if (!rule) throw new NotFoundError(`alert rule ${request.params.id} not found`);
      return rule;
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/alert-rules/:id',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Delete an alert rule (admins and maintainers); its open alerts are cleared.',
        params: uuidParams,
        response: { 204: { type: 'null' }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      requireMaintainer(request);
      if (!(await health.deleteRule(request.params.id))) throw new NotFoundError(`alert rule ${request.params.id} not found`);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    '/alert-rules/:id/test',
    {
      // The test button sends no body.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['alerts'],
        summary: "Send a test notification to the rule's webhook now (one attempt) and report what the receiver answered.",
        params: uuidParams,
        body: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: testResultSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      requireMaintainer(request);
      const result = await health.testRule(request.params.id);
      if (!result) throw new NotFoundError(`alert rule ${request.params.id} not found`);
      return result;
    },
  );

  app.get<{ Querystring: AlertListQuery }>(
    '/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alerts raised by the rules, newest first.',
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['firing', 'cleared'] },
            ruleId: { type: 'string', pattern: '^[0-9a-f-]{36}$' },
            channelId: { type: 'string', pattern: '^[0-9]{2,20}$' },
            ...pagingQueryProperties,
          },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: alertSchema } } }, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { state, ruleId, channelId, offset, limit } = request.query;
      return health.listAlerts({ state, ruleId, channelId, offset, limit });
    },
  );

  app.get<{ Querystring: { by: AlertGroupBy; state?: AlertState } }>(
    '/alerts/groups',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alerts grouped by device (an NVR offline is one group with its channels) or by township / county, largest first.',
        querystring: {
          type: 'object',
          properties: { by: { type: 'string', enum: ['device', 'place'], default: 'device' }, state: { type: 'string', enum: ['firing', 'cleared'] } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    key: { type: 'string' },
                    by: { type: 'string', enum: ['device', 'place'] },
                    name: { type: 'string' },
                    deviceId: { type: ['string', 'null'] },
                    place: { anyOf: [{ type: 'null' }, { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } }] },
                    count: { type: 'integer' },
                    devices: { type: 'integer' },
                    firstFiredAt: epochMs,
                    lastFiredAt: epochMs,
                    alerts: { type: 'array', items: alertSchema },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => health.alertGroups(request.query.by, request.query.state),
  );
};
