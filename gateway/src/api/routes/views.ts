/** Saved wall views and tours: private to their owner or shared; changed only by their owner or an admin. */
import type { FastifyPluginAsync } from 'fastify';
import type { TourInput, TourService } from '../../domain/views/tour-service.js';
import { DWELL_MAX_SEC, DWELL_MIN_SEC, MAX_TOUR_STEPS } from '../../domain/views/tour-service.js';
import type { ViewInput, ViewService } from '../../domain/views/view-service.js';
import { LAYOUT_KINDS, MAX_TILES } from '../../domain/views/layout.js';
import { principalOf } from '../authentication.js';
import { epochMs, errorResponses, pagingQueryProperties } from '../schemas.js';
import { channelIdSchema, uuidParams, wallLayoutSchema } from './wall-schemas.js';

export interface ViewRoutesOptions {
  views: ViewService;
  tours: TourService;
}

interface PagingQuery {
  offset: number;
  limit: number;
}

const ownedProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  owner: { type: 'string', description: 'Username of the creator.' },
  shared: { type: 'boolean', description: 'Visible to every user (else to its owner only).' },
  createdAt: epochMs,
  updatedAt: epochMs,
} as const;

const viewSchema = {
  type: 'object',
  properties: {
    ...ownedProperties,
    hotkey: { type: ['integer', 'null'], description: 'Alt+1…9, unique among the owner’s views.' },
    layout: wallLayoutSchema,
  },
} as const;

const viewBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'layout'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    shared: { type: 'boolean', description: 'Default false on create; omitted on update = unchanged.' },
    hotkey: { type: ['integer', 'null'], minimum: 1, maximum: 9, description: 'Assigning it removes it from the owner’s other views; omitted on update = unchanged.' },
    layout: wallLayoutSchema,
  },
} as const;

const tourStepSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['channelIds', 'dwellSec'],
  properties: {
    channelIds: { type: 'array', minItems: 1, maxItems: MAX_TILES, items: channelIdSchema, description: 'Tile scope: exactly 1; wall scope: fills the tiles in order.' },
    dwellSec: { type: 'integer', minimum: DWELL_MIN_SEC, maximum: DWELL_MAX_SEC },
    preset: { type: ['integer', 'null'], minimum: 1, maximum: 255, description: 'PTZ preset called when the step starts.' },
  },
} as const;

const tourSchema = {
  type: 'object',
  properties: {
    ...ownedProperties,
    scope: { type: 'string', enum: ['tile', 'wall'] },
    layoutKind: { type: ['string', 'null'], enum: [...LAYOUT_KINDS, null] },
    steps: { type: 'array', items: tourStepSchema },
  },
} as const;

const tourBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'scope', 'steps'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    shared: { type: 'boolean' },
    scope: { type: 'string', enum: ['tile', 'wall'] },
    layoutKind: { type: ['string', 'null'], enum: [...LAYOUT_KINDS, null], description: 'Wall scope: layout to switch to (null = keep). Tile scope: null.' },
    steps: { type: 'array', minItems: 1, maxItems: MAX_TOUR_STEPS, items: tourStepSchema },
  },
} as const;

const pageOfSchema = (item: object): object => ({
  type: 'object',
  required: ['total', 'items'],
  properties: { total: { type: 'integer' }, items: { type: 'array', items: item } },
});

const pagingQuery = { type: 'object', properties: { ...pagingQueryProperties } } as const;

export const viewRoutes: FastifyPluginAsync<ViewRoutesOptions> = async (app, { views, tours }) => {

  // ---- views

  app.get<{ Querystring: PagingQuery }>('/views', {
    schema: { tags: ['views'], summary: "The caller's own views and everyone's shared views, by name.", querystring: pagingQuery, response: { 200: pageOfSchema(viewSchema), ...errorResponses(400, 401, 403) } },
  }, async (request) => views.list(principalOf(request), request.query));

  app.get<{ Params: { id: string } }>('/views/:id', {
    schema: { tags: ['views'], summary: 'One view (own, shared, or any for an admin).', params: uuidParams, response: { 200: viewSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => views.get(principalOf(request), request.params.id));

  app.post<{ Body: ViewInput }>('/views', {
    schema: { tags: ['views'], summary: 'Save a view; the caller owns it.', body: viewBody, response: { 201: viewSchema, ...errorResponses(400, 401, 403) } },
  }, async (request, reply) => reply.code(201).send(await views.create(principalOf(request), request.body)));

  app.put<{ Params: { id: string }; Body: ViewInput }>('/views/:id', {
    schema: { tags: ['views'], summary: 'Change a view (its owner or an admin).', params: uuidParams, body: viewBody, response: { 200: viewSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => views.update(principalOf(request), request.params.id, request.body));

  app.delete<{ Params: { id: string } }>('/views/:id', {
    schema: { tags: ['views'], summary: 'Delete a view (its owner or an admin).', params: uuidParams, response: { 204: { type: 'null' }, ...errorResponses(400, 401, 403, 404) } },
  }, async (request, reply) => {
    await views.delete(principalOf(request), request.params.id);
    return reply.code(204).send();
  });

  // ---- tours

  app.get<{ Querystring: PagingQuery }>('/tours', {
    schema: { tags: ['tours'], summary: "The caller's own tours and everyone's shared tours, by name. Tours run in the browser.", querystring: pagingQuery, response: { 200: pageOfSchema(tourSchema), ...errorResponses(400, 401, 403) } },
  }, async (request) => tours.list(principalOf(request), request.query));

  app.get<{ Params: { id: string } }>('/tours/:id', {
    schema: { tags: ['tours'], summary: 'One tour.', params: uuidParams, response: { 200: tourSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => tours.get(principalOf(request), request.params.id));

  app.post<{ Body: TourInput }>('/tours', {
    schema: { tags: ['tours'], summary: 'Save a tour; the caller owns it.', body: tourBody, response: { 201: tourSchema, ...errorResponses(400, 401, 403) } },
  }, async (request, reply) => reply.code(201).send(await tours.create(principalOf(request), request.body)));

  app.put<{ Params: { id: string }; Body: TourInput }>('/tours/:id', {
    schema: { tags: ['tours'], summary: 'Change a tour (its owner or an admin).', params: uuidParams, body: tourBody, response: { 200: tourSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => tours.update(principalOf(request), request.params.id, request.body));

  app.delete<{ Params: { id: string } }>('/tours/:id', {
    schema: { tags: ['tours'], summary: 'Delete a tour (its owner or an admin).', params: uuidParams, response: { 204: { type: 'null' }, ...errorResponses(400, 401, 403, 404) } },
  }, async (request, reply) => {
    await tours.delete(principalOf(request), request.params.id);
    return reply.code(204).send();
  });
};
