/** GET /api/tree: one level of the catalog tree with online/total counts per node. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { NODE_ID_PATTERN, errorResponses, pagingQueryProperties, ref } from '../schemas.js';

export interface TreeRoutesOptions {
  services: GatewayServices;
}

export const treeRoutes: FastifyPluginAsync<TreeRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: { parent?: string; offset: number; limit: number } }>(
    '/tree',
    {
      schema: {
        tags: ['tree'],
        summary: 'Children of a tree node (the roots when parent is absent).',
        querystring: {
          type: 'object',
          properties: {
            parent: { type: 'string', pattern: NODE_ID_PATTERN, description: 'Node ID, 2–20 digits.' },
            // A lower platform's node can have 150,000 direct children: the level is paged like the lists.
            ...pagingQueryProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['parent', 'total', 'items'],
            properties: {
              parent: { type: ['string', 'null'] },
              total: { type: 'integer', description: 'Direct children of the node (items is one page of them).' },
              items: { type: 'array', items: ref('TreeNode') },
            },
          },
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { parent, offset, limit } = request.query;
      return { parent: parent ?? null, ...services.treeChildren(parent, { offset, limit }) };
    },
  );
};
