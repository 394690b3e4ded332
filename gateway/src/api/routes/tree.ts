/** GET /api/tree: one level of the catalog tree with online/total counts per node. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { NODE_ID_PATTERN, errorResponses, ref } from '../schemas.js';

export interface TreeRoutesOptions {
  services: GatewayServices;
}

export const treeRoutes: FastifyPluginAsync<TreeRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: { parent?: string } }>(
    '/tree',
    {
      schema: {
        tags: ['tree'],
        summary: 'Children of a tree node (the roots when parent is absent).',
        querystring: {
          type: 'object',
          properties: { parent: { type: 'string', pattern: NODE_ID_PATTERN, description: 'Node ID, 2–20 digits.' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['parent', 'items'],
            properties: {
              parent: { type: ['string', 'null'] },
              items: { type: 'array', items: ref('TreeNode') },
            },
          },
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const parent = request.query.parent;
      return { parent: parent ?? null, items: services.treeChildren(parent) };
    },
  );
};
