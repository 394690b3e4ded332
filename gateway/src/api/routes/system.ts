/** GET /healthz and GET /metrics: unauthenticated, for load balancers and Prometheus. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices } from '../../domain/services.js';
import type { GatewayMetrics } from '../../observability/metrics.js';

export interface SystemRoutesOptions {
  services: GatewayServices;
  metrics: GatewayMetrics;
}

const healthBody = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    sip: { type: 'boolean' },
    http: { type: 'boolean' },
    store: { type: 'boolean' },
  },
};

export const systemRoutes: FastifyPluginAsync<SystemRoutesOptions> = async (app, { services, metrics }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['system'],
        summary: 'Readiness: 200 when SIP, HTTP and the store are all up, else 503 with the same fields.',
        security: [],
        querystring: { type: 'object', properties: {} },
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (request, reply) => {
      let readiness = { sip: false, http: false, store: false };
      try {
        readiness = await services.readiness();
      } catch (err) {
        request.log.error({ err }, 'readiness check failed');
      }
      const ready = readiness.sip && readiness.http && readiness.store;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', ...readiness });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics (text exposition format).',
        security: [],
        querystring: { type: 'object', properties: {} },
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const text = await metrics.metricsText();
      return reply.header('Content-Type', metrics.contentType).send(text);
    },
  );
};
