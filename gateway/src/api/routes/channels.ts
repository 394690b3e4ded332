/** Channels (every catalog item) and PTZ control. */
import type { FastifyPluginAsync } from 'fastify';
import type { CatalogNodeKind, OnlineStatus } from '../../domain/model.js';
import type { PtzRequest } from '../../domain/control/ptz-service.js';
import { NotFoundError, ValidationError, type GatewayServices } from '../../domain/services.js';
import { principalOf } from '../authentication.js';
import {
  DEVICE_ID_PATTERN,
  NODE_ID_PATTERN,
  errorResponses,
  nodeIdParams,
  pageOf,
  pagingQueryProperties,
  ref,
  searchText,
} from '../schemas.js';

const ptzLeaseSchema = {
  type: ['object', 'null'],
  properties: {
    channelId: { type: 'string' },
    holder: { type: 'string', description: 'Username of who steers the camera.' },
    role: { type: 'string' },
    since: { type: 'integer' },
    expiresAt: { type: 'integer', description: 'When control lapses unless the holder keeps steering.' },
  },
} as const;

const ptzConflictSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    holder: { ...ptzLeaseSchema, description: 'Present when another user holds the camera (absent: the device is offline).' },
  },
} as const;

export interface ChannelRoutesOptions {
  services: GatewayServices;
}

interface ChannelListQuery {
  q?: string;
  status?: OnlineStatus;
  deviceId?: string;
  parentId?: string;
  kind?: CatalogNodeKind;
  offset: number;
  limit: number;
}

export const channelRoutes: FastifyPluginAsync<ChannelRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: ChannelListQuery }>(
    '/channels',
    {
      schema: {
        tags: ['channels'],
        summary: 'Search catalog items across devices.',
        querystring: {
          type: 'object',
          properties: {
            q: searchText,
            status: { type: 'string', enum: ['online', 'offline'] },
            deviceId: { type: 'string', pattern: DEVICE_ID_PATTERN },
            parentId: { type: 'string', pattern: NODE_ID_PATTERN, description: 'Direct children of this node.' },
            kind: { type: 'string', enum: ['region', 'business-group', 'virtual-org', 'system', 'device', 'channel'] },
            ...pagingQueryProperties,
          },
        },
        response: { 200: pageOf('Channel'), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { q, status, deviceId, parentId, kind, offset, limit } = request.query;
      return services.listChannels({ q, status, deviceId, parentId, kind, offset, limit }, principalOf(request));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/channels/:id',
    {
      schema: {
        tags: ['channels'],
        summary: 'One catalog item.',
        params: nodeIdParams,
        response: { 200: ref('Channel'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const channel = await services.getChannel(request.params.id, principalOf(request));
      if (!channel) throw new NotFoundError(`channel ${request.params.id} not found`);
      return channel;
    },
  );

  app.post<{ Params: { id: string }; Body: PtzRequest }>(
    '/channels/:id/ptz',
    {
      schema: {
        tags: ['channels'],
        summary: 'PTZ control. Moves stop by themselves after durationMs; {"action":"stop"} stops at once.',
        params: nodeIdParams,
        body: ref('PtzRequest'),
        response: {
          200: {
            type: 'object',
            properties: {
              sent: { type: 'array', items: { type: 'string' }, description: 'PTZCmd codes sent (hex); for ONVIF channels the ONVIF calls made, e.g. "ContinuousMove(pan=-0.502,tilt=0)".' },
              autoStopAfterMs: { type: ['integer', 'null'] },
              lease: { ...ptzLeaseSchema, description: 'Your control of the camera (renewed by each command).' },
              takenOverFrom: { type: ['object', 'null'], properties: { holder: { type: 'string' }, role: { type: 'string' } } },
            },
          },
          409: ptzConflictSchema,
          ...errorResponses(400, 401, 403, 404, 502),
        },
      },
    },
    async (request) => {
      const result = await services.ptz(request.params.id, request.body, principalOf(request));
      if (result.takenOverFrom) request.auditNote = { action: 'ptz-takeover', detail: `took over from ${result.takenOverFrom.holder} (${result.takenOverFrom.role})` };
      return result;
    },
  );

  app.get<{ Params: { id: string }; Querystring: { start: string; end: string; type?: string } }>(
    '/channels/:id/records',
    {
      schema: {
        tags: ['channels'],
        summary: 'Recordings on the device (GB RecordInfo) between start and end; times in ISO 8601, the device is asked in China Standard Time.',
        params: nodeIdParams,
        querystring: {
          type: 'object',
          required: ['start', 'end'],
          properties: {
            start: { type: 'string', format: 'date-time' },
            end: { type: 'string', format: 'date-time' },
            type: { type: 'string', enum: ['all', 'time', 'alarm', 'manual'], default: 'all' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              complete: { type: 'boolean', description: 'False when the device went quiet before SumNum items arrived.' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    start: { type: 'string' },
                    end: { type: 'string' },
                    type: { type: 'string' },
                    secrecy: { type: ['integer', 'null'] },
                    name: { type: 'string' },
                    filePath: { type: 'string' },
                    fileSize: { type: ['integer', 'null'] },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 404, 409, 502),
        },
      },
    },
    async (request) => {
      if (!services.listRecords) throw new NotFoundError('recordings are not available in this gateway');
      const start = Date.parse(request.query.start);
      const end = Date.parse(request.query.end);
      if (!(end > start)) throw new ValidationError('end must be after start', 'querystring.end');
      if (end - start > 31 * 86_400_000) throw new ValidationError('a records query spans at most 31 days', 'querystring.end');
      return services.listRecords(request.params.id, { start, end, type: request.query.type ?? 'all' }, principalOf(request));
    },
  );

  const positionSchema = {
    type: 'object',
    properties: {
      id: { type: 'string', description: 'The channel.' },
      deviceId: { type: 'string', description: 'The device or lower platform that reported it.' },
      longitude: { type: 'number' },
      latitude: { type: 'number' },
      speed: { type: ['number', 'null'], description: 'km/h' },
      direction: { type: ['number', 'null'], description: 'Degrees clockwise from north.' },
      altitude: { type: ['number', 'null'] },
      time: { type: 'string', description: 'The device\'s time of the fix, as it wrote it (local time).' },
      receivedAt: { type: 'integer', description: 'When the gateway received it (epoch ms).' },
    },
  } as const;

  app.get<{ Params: { id: string } }>(
    '/channels/:id/position',
    {
      schema: {
        tags: ['channels'],
        summary: 'Where a mobile camera (vehicle, body-worn, drone) last reported it was (GB MobilePosition); position null when it never reported.',
        params: nodeIdParams,
        response: { 200: { type: 'object', properties: { position: { ...positionSchema, type: ['object', 'null'] } } }, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      if (!services.channelPosition) throw new NotFoundError('positions are not available in this gateway');
      return { position: await services.channelPosition(request.params.id, principalOf(request)) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { start: string; end: string } }>(
    '/channels/:id/positions',
    {
      schema: {
        tags: ['channels'],
        summary: 'Where a mobile camera went between start and end (ISO 8601; end exclusive), oldest first, at most 20,000 points; kept for sip.mobilePositionRetentionDays.',
        params: nodeIdParams,
        querystring: {
          type: 'object',
          required: ['start', 'end'],
          properties: { start: { type: 'string', format: 'date-time' }, end: { type: 'string', format: 'date-time' } },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: positionSchema } } }, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      if (!services.channelTrack) throw new NotFoundError('positions are not available in this gateway');
      return services.channelTrack(request.params.id, { start: Date.parse(request.query.start), end: Date.parse(request.query.end) }, principalOf(request));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/channels/:id/ptz/lease',
    {
      schema: {
        tags: ['channels'],
        summary: 'Who steers the camera now (null: nobody); a lease lapses access.ptzLeaseSec after its last command.',
        params: nodeIdParams,
        response: { 200: { type: 'object', properties: { lease: ptzLeaseSchema } }, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => ({ lease: (await services.ptzLease?.(request.params.id, principalOf(request))) ?? null }),
  );

  app.get<{ Params: { id: string } }>(
    '/channels/:id/ptz/presets',
    {
      schema: {
        tags: ['channels'],
        summary: 'The presets the camera keeps (ONVIF GetPresets). `preset` is the number the PTZ API calls it by (null: the camera gave it a token that is no number 1–255).',
        params: nodeIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              presets: {
                type: 'array',
                items: { type: 'object', properties: { preset: { type: ['integer', 'null'] }, token: { type: 'string' }, name: { type: 'string' } } },
              },
            },
          },
          ...errorResponses(400, 401, 404, 409, 502),
        },
      },
    },
    async (request) => {
      if (!services.ptzPresets) throw new NotFoundError('PTZ presets are not available in this gateway');
      return { presets: await services.ptzPresets(request.params.id, principalOf(request)) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/channels/:id/ptz/lease',
    {
      schema: {
        tags: ['channels'],
        summary: 'Give up control of the camera (the holder, or a higher role).',
        params: nodeIdParams,
        response: { 200: { type: 'object', properties: { released: { type: 'boolean' } } }, 409: ptzConflictSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => ({ released: (await services.releasePtz?.(request.params.id, principalOf(request))) ?? false }),
  );
};
