/**
 * GET /api/tree: one level of a tree with online/total counts per node, in one of three views (the catalog's
 * own parentage, administrative regions, business groups); GET /api/tree/search: matching nodes with the
 * path to expand the tree to them.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import { TREE_VIEW_NAMES, UNGROUPED, UNPLACED, type TreeViewName } from '../../domain/catalog/tree-views.js';
import { errorResponses, pagingQueryProperties, ref, searchText } from '../schemas.js';
import { principalOf } from '../authentication.js';

type JsonSchema = Record<string, unknown>;

export interface TreeRoutesOptions {
  services: GatewayServices;
}

const MAX_SEARCH_LIMIT = 200;

const viewParameter = {
  type: 'string',
  enum: TREE_VIEW_NAMES,
  default: 'catalog',
  description: 'catalog: as the catalogs nest it; region: administrative regions from civil codes; group: business groups / virtual organisations.',
} as const;

const searchHit: JsonSchema = {
  allOf: [
    ref('TreeNode'),
    {
      type: 'object',
      required: ['path'],
      properties: {
        path: {
          type: 'array',
          description: 'Ancestors from the top level down to the parent: expand these to reveal the node.',
          items: {
            type: 'object',
            required: ['id', 'name', 'kind'],
            properties: { id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' } },
          },
        },
      },
    },
  ],
};

export const treeRoutes: FastifyPluginAsync<TreeRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: { view: TreeViewName; parent?: string; offset: number; limit: number } }>(
    '/tree',
    {
      schema: {
        tags: ['tree'],
        summary: 'Children of a tree node (the top level when parent is absent).',
        querystring: {
          type: 'object',
          properties: {
            view: viewParameter,
            parent: {
              type: 'string',
              pattern: `^([0-9]{2,20}|${UNGROUPED}|${UNPLACED})$`,
              description: `Node ID: 2–20 digits (region codes, GB IDs), or "${UNGROUPED}" / "${UNPLACED}".`,
            },
            // A lower platform's node can have 150,000 direct children: the level is paged like the lists.
            ...pagingQueryProperties,
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['view', 'parent', 'total', 'items'],
            properties: {
              view: { type: 'string', enum: TREE_VIEW_NAMES },
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
      const { view, parent, offset, limit } = request.query;
      return { view, parent: parent ?? null, ...services.treeChildren(parent, { offset, limit }, view, principalOf(request)) };
    },
  );

  app.get<{ Querystring: { view: TreeViewName; q: string; limit: number } }>(
    '/tree/search',
    {
      schema: {
        tags: ['tree'],
        summary: 'Nodes of a view whose name contains q or whose ID starts with it, groups and regions first, each with its path.',
        querystring: {
          type: 'object',
          required: ['q'],
          properties: {
            view: viewParameter,
            q: searchText,
            limit: { type: 'integer', minimum: 1, maximum: MAX_SEARCH_LIMIT, default: 50, description: `Matches returned, 1–${MAX_SEARCH_LIMIT}.` },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['view', 'total', 'items'],
            properties: {
              view: { type: 'string', enum: TREE_VIEW_NAMES },
              total: { type: 'integer', description: 'Every match (items holds the first `limit`).' },
              items: { type: 'array', items: searchHit },
            },
          },
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { view, q, limit } = request.query;
      return { view, ...services.treeSearch(view, q, limit, principalOf(request)) };
    },
  );
};
