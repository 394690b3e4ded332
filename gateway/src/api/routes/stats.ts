/** GET /api/stats: online rates overall and per region. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { errorResponses, ref } from '../schemas.js';

export interface StatsRoutesOptions {
  services: GatewayServices;
}

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (app, { services }) => {
  app.get(
    '/stats',
    {
      schema: {
        tags: ['stats'],
        summary: 'Device and channel online rates, overall and per region.',
        querystring: { type: 'object', properties: {} },
        response: { 200: ref('Stats'), ...errorResponses(401) },
      },
    },
    async () => services.stats(),
  );
};
