/** GET /healthz and GET /metrics: unauthenticated, for load balancers and Prometheus. */
import type { FastifyPluginAsync } from 'fastify';
import type { GatewayServices, Readiness } from '../../domain/services.js';
import type { GatewayMetrics } from '../../observability/metrics.js';

export interface SystemRoutesOptions {
  services: GatewayServices;
  metrics: GatewayMetrics;
}

const healthBody = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'unavailable'] },
    /** Why degraded (the store's last error), absent when ok. */
    reason: { type: 'string' },
    sip: { type: 'boolean' },
    http: { type: 'boolean' },
    store: { type: 'boolean' },
    storeQueue: {
      type: 'object',
      properties: {
        state: { type: 'string', enum: ['ok', 'degraded'] },
        since: { type: ['string', 'null'] },
        queued: { type: 'integer' },
        dropped: { type: 'integer' },
      },
    },
  },
};

export const systemRoutes: FastifyPluginAsync<SystemRoutesOptions> = async (app, { services, metrics }) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['system'],
        summary:
          'Readiness: 200 "ok" when SIP, HTTP and the store are up; 200 "degraded" with the reason while the store is down ' +
          '(signalling and the API serve from memory, writes are queued); 503 "unavailable" when SIP or HTTP is not up.',
        security: [],
        querystring: { type: 'object', properties: {} },
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (request, reply) => {
      let readiness: Readiness = { sip: false, http: false, store: false };
      try {
        readiness = await services.readiness();
      } catch (err) {
        request.log.error({ err }, 'readiness check failed');
      }
      const { storeDetail, ...parts } = readiness;
      const serving = parts.sip && parts.http;
      // A store outage does not take the gateway out of service: it keeps answering from memory (degraded).
      const status = !serving ? 'unavailable' : parts.store ? 'ok' : 'degraded';
      const reason =
        status === 'degraded' ? (storeDetail?.reason ? `store: ${storeDetail.reason}` : 'store: not answering') :
        status === 'unavailable' ? [!parts.sip && 'sip not listening', !parts.http && 'http not ready'].filter(Boolean).join(', ') : undefined;
      const storeQueue = storeDetail
        ? { state: storeDetail.state, since: storeDetail.since === null ? null : new Date(storeDetail.since).toISOString(), queued: storeDetail.queued, dropped: storeDetail.dropped }
        : undefined;
      return reply.code(serving ? 200 : 503).send({ status, ...(reason ? { reason } : {}), ...parts, ...(storeQueue ? { storeQueue } : {}) });
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
