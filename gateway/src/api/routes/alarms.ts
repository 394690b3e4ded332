/** Alarms: list and acknowledge. New alarms are pushed on the WebSocket. */
import type { FastifyPluginAsync } from 'fastify';
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
};
