/** GET /api/ws: the event WebSocket (see ws-hub.ts for what is sent and how slow clients are handled). */
import type { FastifyPluginAsync } from 'fastify';
import { principalOf } from '../authentication.js';
import type { WsHub } from '../ws-hub.js';

export interface WsRoutesOptions {
  hub: WsHub;
}

export const wsRoutes: FastifyPluginAsync<WsRoutesOptions> = async (app, { hub }) => {
  app.get(
    '/ws',
    {
      websocket: true,
      config: { queryToken: true },
      // @fastify/websocket hides WebSocket routes from OpenAPI; the API description in http-server.ts covers it.
      schema: {
        querystring: {
          type: 'object',
          properties: { token: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
      },
    },
    (socket, request) => {
      hub.add(socket, principalOf(request));
    },
  );
};
