/** Channels (every catalog item) and PTZ control. */
import type { FastifyPluginAsync } from 'fastify';
import type { CatalogNodeKind, OnlineStatus } from '../../domain/model.js';
import type { PtzRequest } from '../../domain/control/ptz-service.js';
import { NotFoundError, type GatewayServices } from '../../domain/services.js';
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
      return services.listChannels({ q, status, deviceId, parentId, kind, offset, limit });
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
      const channel = await services.getChannel(request.params.id);
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
              sent: { type: 'array', items: { type: 'string' }, description: 'PTZCmd codes sent (hex).' },
              autoStopAfterMs: { type: ['integer', 'null'] },
            },
          },
          ...errorResponses(400, 401, 404, 409, 502),
        },
      },
    },
    async (request) => services.ptz(request.params.id, request.body),
  );
};
