/**
 * Alarms: list and acknowledge. New alarms are pushed on the WebSocket. The alarm desk's search (time window,
 * method / type, region, acknowledged, escalation) and bulk acknowledge: domain/alarms/alarm-queries.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { AlarmQueries, BULK_ACK_MAX } from '../../domain/alarms/alarm-queries.js';
import type { FastifyRequest } from 'fastify';
import { NotFoundError, type GatewayServices } from '../../domain/services.js';
import { principalOf } from '../authentication.js';
import {
  ALARM_ID_PATTERN,
  DEVICE_ID_PATTERN,
  epochMs,
  errorResponses,
  pageOf,
  pagingQueryProperties,
  ref,
} from '../schemas.js';

export interface AlarmRoutesOptions {
  services: GatewayServices;
}

interface AlarmListQuery {
  deviceId?: string;
  acknowledged?: boolean;
  since?: number;
  offset: number;
  limit: number;
}

export const alarmRoutes: FastifyPluginAsync<AlarmRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: AlarmListQuery }>(
    '/alarms',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Alarms, newest first.',
        querystring: {
          type: 'object',
          properties: {
            deviceId: { type: 'string', pattern: DEVICE_ID_PATTERN },
            acknowledged: { type: 'boolean' },
            since: epochMs,
            ...pagingQueryProperties,
          },
        },
        response: { 200: pageOf('Alarm'), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { deviceId, acknowledged, since, offset, limit } = request.query;
      return services.listAlarms({ deviceId, acknowledged, since, offset, limit }, principalOf(request));
    },
  );

  app.post<{ Params: { id: string }; Body: { note?: string | null } }>(
    '/alarms/:id/ack',
    {
      // A body is optional (no note): validate an absent body as {}.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['alarms'],
        summary: 'Acknowledge an alarm, with an optional note.',
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', pattern: ALARM_ID_PATTERN } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { note: { type: ['string', 'null'], maxLength: 2000 } },
        },
        response: { 200: ref('Alarm'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const alarm = await services.acknowledgeAlarm(request.params.id, principal.username, request.body.note ?? null, principal);
      if (!alarm) throw new NotFoundError(`alarm ${request.params.id} not found`);
      return alarm;
    },
  );

  // Bound to the caller: a scoped user's alarm desk searches and acknowledges only alarms in scope (others are
  // as absent as for the single-alarm routes).
  const queriesFor = (request: FastifyRequest): AlarmQueries => {
    const principal = principalOf(request);
    return new AlarmQueries({
      listAlarms: (q) => services.listAlarms(q, principal),
      acknowledgeAlarm: (id, by, note) => services.acknowledgeAlarm(id, by, note, principal),
    });
  };
  const intList = (text: string | undefined): number[] | undefined => (text ? text.split(',').map(Number) : undefined);

  app.get<{
    Querystring: { since?: number; until?: number; method?: string; type?: string; region?: string; acknowledged?: boolean; deviceId?: string; escalateAfterMin?: number; offset: number; limit: number };
  }>(
    '/alarms/search',
    {
      schema: {
        tags: ['alarms'],
        summary: 'The alarm desk: alarms filtered by time, method / type, region and acknowledged state, newest first, each marked escalated when unacknowledged for escalateAfterMin.',
        description: `Filters other than deviceId, since and acknowledged are applied over the newest ${20_000} alarms of the window at most (truncated says so).`,
        querystring: {
          type: 'object',
          properties: {
            since: epochMs,
            until: epochMs,
            method: { type: 'string', pattern: '^[1-7](,[1-7])*$', description: '报警方式, comma-separated: 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other.' },
            type: { type: 'string', pattern: '^[0-9]{1,3}(,[0-9]{1,3})*$', description: '报警类型, comma-separated (meaning depends on the method).' },
            region: { type: 'string', pattern: '^[0-9]{2,19}$', description: 'Civil-code prefix of the device or the alarm source.' },
            acknowledged: { type: 'boolean' },
            deviceId: { type: 'string', pattern: DEVICE_ID_PATTERN },
            escalateAfterMin: { type: 'integer', minimum: 1, maximum: 10_080 },
            ...pagingQueryProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              scanned: { type: 'integer' },
              truncated: { type: 'boolean' },
              escalated: { type: 'integer' },
              items: { type: 'array', items: { allOf: [ref('Alarm'), { type: 'object', properties: { escalated: { type: 'boolean' } } }] } },
            },
          },
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query;
      return queriesFor(request).search({
        since: q.since,
        until: q.until,
        methods: intList(q.method),
        types: intList(q.type),
        region: q.region,
        acknowledged: q.acknowledged,
        deviceId: q.deviceId,
        escalateAfterMin: q.escalateAfterMin,
        offset: q.offset,
        limit: q.limit,
      });
    },
  );

  app.post<{ Body: { ids: string[]; note?: string | null } }>(
    '/alarms/ack',
    {
      schema: {
        tags: ['alarms'],
        summary: `Acknowledge several alarms at once (at most ${BULK_ACK_MAX}), with one optional note.`,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['ids'],
          properties: {
            ids: { type: 'array', minItems: 1, maxItems: BULK_ACK_MAX, items: { type: 'string', pattern: ALARM_ID_PATTERN } },
            note: { type: ['string', 'null'], maxLength: 2000 },
          },
        },
        response: {
          200: { type: 'object', properties: { acknowledged: { type: 'array', items: ref('Alarm') }, notFound: { type: 'array', items: { type: 'string' } } } },
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => queriesFor(request).acknowledgeMany(request.body.ids, principalOf(request).username, request.body.note ?? null),
  );
};
