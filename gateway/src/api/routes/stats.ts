/** GET /api/stats: online rates overall and per top-level node of the region tree. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { errorResponses, ref } from '../schemas.js';
import { principalOf } from '../authentication.js';

export interface StatsRoutesOptions {
  services: GatewayServices;
}

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (app, { services }) => {
  app.get(
    '/stats',
    {
      schema: {
        tags: ['stats'],
        summary: 'Device and channel online rates, overall and per top-level region node (as GET /api/tree?view=region shows them).',
        querystring: { type: 'object', properties: {} },
        response: { 200: ref('Stats'), ...errorResponses(401) },
      },
    },
    async (request) => services.stats(principalOf(request)),
  );
};
