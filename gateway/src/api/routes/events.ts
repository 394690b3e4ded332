/** GET /api/events: device and channel status history. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { principalOf } from '../authentication.js';
import { DEVICE_ID_PATTERN, NODE_ID_PATTERN, epochMs, errorResponses, pageOf, pagingQueryProperties } from '../schemas.js';

export interface EventRoutesOptions {
  services: GatewayServices;
}

interface EventListQuery {
  deviceId?: string;
  subjectId?: string;
  since?: number;
  until?: number;
  offset: number;
  limit: number;
}

export const eventRoutes: FastifyPluginAsync<EventRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: EventListQuery }>(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Status transitions (online/offline with a reason), newest first.',
        querystring: {
          type: 'object',
          properties: {
            deviceId: { type: 'string', pattern: DEVICE_ID_PATTERN },
            subjectId: { type: 'string', pattern: NODE_ID_PATTERN, description: 'Device or channel ID.' },
            since: epochMs,
            until: epochMs,
            ...pagingQueryProperties,
          },
        },
        response: { 200: pageOf('StatusEvent'), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { deviceId, subjectId, since, until, offset, limit } = request.query;
      return services.listStatusEvents({ deviceId, subjectId, since, until, offset, limit }, principalOf(request));
    },
  );
};
