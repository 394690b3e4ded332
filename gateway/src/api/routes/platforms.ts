/** Upper platforms (cascade): /api/platforms (admins: manage-config; see domain/cascade/platform-service.ts). */
import type { FastifyPluginAsync } from 'fastify';
import type { CreatePlatformInput, PlatformService, UpdatePlatformInput } from '../../domain/cascade/platform-service.js';
import { DEVICE_ID_PATTERN, REGION_PATTERN, errorResponses } from '../schemas.js';

export interface PlatformRoutesOptions {
  platforms: PlatformService;
}

const sipId = { type: 'string', pattern: DEVICE_ID_PATTERN };
const shareSchema = {
  description: 'What the upper platform sees: `{ "all": true }`, or channels by region prefix, business group / virtual organisation, and/or ID.',
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['all'], properties: { all: { type: 'boolean', const: true } } },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        regions: { type: 'array', maxItems: 1000, items: { type: 'string', pattern: REGION_PATTERN } },
        groups: { type: 'array', maxItems: 1000, items: sipId },
        channels: { type: 'array', maxItems: 100_000, items: sipId },
      },
    },
  ],
};

const editable = {
  name: { type: 'string', maxLength: 100 },
  domain: { type: 'string', pattern: '^([0-9]{8}|[0-9]{10}|[0-9]{20})$' },
  host: { type: 'string', minLength: 1, maxLength: 253 },
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  transport: { type: 'string', enum: ['udp', 'tcp'] },
  password: { type: 'string', maxLength: 128 },
  localId: { anyOf: [sipId, { type: 'null' }] },
  expires: { type: 'integer', minimum: 60, maximum: 86_400 },
  keepaliveSec: { type: 'integer', minimum: 5, maximum: 3_600 },
  keepaliveMisses: { type: 'integer', minimum: 1, maximum: 10 },
  charset: { type: 'string', enum: ['GB2312', 'GB18030', 'UTF-8'] },
  share: shareSchema,
  channelIds: {
    type: 'object',
    description: 'ID mapping: our 20-digit channel ID to the ID the upper platform\'s numbering plan gives it. The platform sees and names a mapped channel only by the mapped ID; unmapped channels keep their own.',
    maxProperties: 100_000,
    propertyNames: { pattern: DEVICE_ID_PATTERN },
    additionalProperties: sipId,
  },
  enabled: { type: 'boolean' },
};

const platformSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    domain: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer' },
    transport: { type: 'string' },
    passwordSet: { type: 'boolean' },
    localId: { type: ['string', 'null'] },
    expires: { type: 'integer' },
    keepaliveSec: { type: 'integer' },
    keepaliveMisses: { type: 'integer' },
    charset: { type: 'string' },
    share: { type: 'object', additionalProperties: true },
    channelIds: { type: 'object', additionalProperties: { type: 'string' } },
    enabled: { type: 'boolean' },
    source: { type: 'string', enum: ['api', 'config'], description: '`config`: from the config file (cascade.platforms), read-only here (409).' },
    status: { type: 'string', enum: ['registering', 'online', 'offline', 'auth-failed', 'disabled'] },
    lastError: { type: ['string', 'null'] },
    since: { type: 'integer' },
    registeredAt: { type: ['integer', 'null'] },
    lastKeepaliveAt: { type: ['integer', 'null'] },
    subscriptions: { type: 'array', items: { type: 'string' }, description: 'Events the upper platform subscribed to with us (Catalog, Alarm, MobilePosition).' },
    upwardLegs: { type: 'integer', description: 'Live upward streams this platform INVITEd that are still open.' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
  },
};

const idParams = { type: 'object', required: ['id'], properties: { id: sipId } };

export const platformRoutes: FastifyPluginAsync<PlatformRoutesOptions> = async (app, { platforms }) => {
  app.post<{ Body: CreatePlatformInput }>('/platforms', {
    schema: {
      tags: ['cascade'],
      summary: 'Add an upper platform: the gateway registers with it (digest), keeps alive and re-registers after losses.',
      body: { type: 'object', additionalProperties: false, required: ['id', 'domain', 'host', 'port', 'password', 'share'], properties: { id: sipId, ...editable } },
      response: { 201: platformSchema, ...errorResponses(400, 401, 403, 409) },
    },
  }, async (request, reply) => reply.code(201).send(await platforms.create(request.body)));

  app.get('/platforms', {
    schema: {
      tags: ['cascade'],
      summary: 'Upper platforms with their link status (registering | online | offline | auth-failed | disabled), last error and since.',
      response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: platformSchema } } }, ...errorResponses(401, 403) },
    },
  }, async () => platforms.list());

  app.get<{ Params: { id: string } }>('/platforms/:id', {
    schema: { tags: ['cascade'], summary: 'One upper platform.', params: idParams, response: { 200: platformSchema, ...errorResponses(400, 401, 403, 404) } },
  }, async (request) => platforms.get(request.params.id));

  app.patch<{ Params: { id: string }; Body: UpdatePlatformInput }>('/platforms/:id', {
    schema: {
      tags: ['cascade'],
      summary: 'Change an upper platform; a change to the link (address, credentials, timers, enabled) re-registers it.',
      params: idParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: editable },
      response: { 200: platformSchema, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (request) => platforms.update(request.params.id, request.body));

  app.delete<{ Params: { id: string } }>('/platforms/:id', {
    schema: { tags: ['cascade'], summary: 'Remove an upper platform (unregisters from it first).', params: idParams, response: { 204: { type: 'null' }, ...errorResponses(400, 401, 403, 404, 409) } },
  }, async (request, reply) => {
    await platforms.delete(request.params.id);
    return reply.code(204).send();
  });
};
