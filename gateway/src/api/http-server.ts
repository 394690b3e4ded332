/**
 * The HTTP edge of the gateway: JSON API under /api (bearer auth), the event WebSocket at /api/ws,
 * /healthz, /metrics, the OpenAPI document at /docs, and the web UI's static files.
 *
 * Built but not listening: the caller decides where to listen. Every route validates its params,
 * querystring and body with JSON schemas; every error leaves as `{ error, message, field? }`.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayServices } from '../domain/services.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { authenticationHook } from './authentication.js';
import { errorBody, handleApiError, schemaErrorFormatter } from './errors.js';
import { alarmRoutes } from './routes/alarms.js';
import { authRoutes } from './routes/auth.js';
import { channelRoutes } from './routes/channels.js';
import { deviceRoutes } from './routes/devices.js';
import { deviceImportRoutes } from './routes/device-import.js';
import { eventRoutes } from './routes/events.js';
import { statsRoutes } from './routes/stats.js';
import { systemRoutes } from './routes/system.js';
import { treeRoutes } from './routes/tree.js';
import { wsRoutes } from './routes/ws.js';
import { mediaRoutes, streamRoutes } from './routes/streams.js';
import { mediaMuxRoutes } from './routes/media-mux.js';
import { viewRoutes } from './routes/views.js';
import { sessionRoutes } from './routes/sessions.js';
import { healthRoutes } from './routes/health.js';
import { alertRuleRoutes } from './routes/alert-rules.js';
import { onvifRoutes } from './routes/onvif.js';
import { platformRoutes } from './routes/platforms.js';
import { userRoutes } from './routes/users.js';
import { auditHook, auditRoutes } from './routes/audit.js';
import { addSharedSchemas } from './schemas.js';
import { staticFiles } from './static-files.js';
import { WS_MESSAGE_TYPES, WsHub, type WsHubOptions, type WsMessageType } from './ws-hub.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The WebSocket event hub (client counts and backlogs, for diagnostics and tests). */
    wsHub: WsHub;
  }
}

export interface HttpServerOptions {
  services: GatewayServices;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Static bearer tokens (configuration `http.apiTokens`). */
  apiTokens: string[];
  /** Wall PCs' watch-only device tokens (configuration `http.kioskTokens`). */
  kioskTokens?: string[];
  /** Unsent bytes above which a WebSocket client's status updates are coalesced. */
  wsMaxBufferedBytes: number;
  /** Directory of the web UI's files. */
  webRoot: string;
  /** Slow-client limits of the WebSocket hub other than the buffer size (defaults suit production). */
  /** PEM certificate and key: HTTPS with HTTP/2, HTTP/1.1 still accepted (WebSocket upgrades, old clients). */
  tls?: { cert: Buffer; key: Buffer } | null;
  wsLimits?: Partial<Pick<WsHubOptions, 'maxBacklogKeys' | 'maxPendingAlarms' | 'stallTimeoutMs' | 'closeGraceMs' | 'heartbeatIntervalMs'>>;
}

/** Version of the API contract in the OpenAPI document (not the package version). */
const API_VERSION = '1.0.0';
/** Request bodies are small JSON objects (login, PTZ, a note). */
const BODY_LIMIT_BYTES = 64 * 1024;
/** Clients do not send anything meaningful over the WebSocket yet. */
const WS_MAX_INCOMING_PAYLOAD_BYTES = 4 * 1024;

/** What each /api/ws message carries, for the OpenAPI description (a Record: a new message type must be described here). */
const WS_MESSAGES: Record<WsMessageType, string> = {
  hello: '`{ username, role, at }`, once, on connect.',
  'device-status':
    '`{ deviceId, status: "online" | "offline", reason, at }`; reason `registered`, `keepalive` (back online), or why it went ' +
    'offline (`keepalive-timeout`, `registration-expired`, `unregistered`, `tcp-connection-lost`, …), or null.',
  'channel-status':
    '`{ deviceId, channelIds: string[], status: "online" | "offline", at }`: the channels whose effective status changed ' +
    '(all of a device\'s channels when the device changed).',
  alarm:
    'an Alarm as in GET /api/alarms: `{ id, sourceId, deviceId, priority, method, type, description, alarmTime, receivedAt, ' +
    'longitude, latitude, acknowledgedAt, acknowledgedBy, note, raw }`.',
  'catalog-progress':
    '`{ deviceId, sn, received, total: number | null, state: "querying" | "receiving" | "complete" | "partial" | "failed", error? }`.',
  'stream-status':
    'a Stream as in GET /api/streams/{id}: `{ streamId, channelId, deviceId, stream, transport, state, hls, codec, width, height, ' +
    'viewers, startedAt, timeToFirstFrameMs, uptimeSec, bitrateKbps, fps, packetLoss, lastError, … }`.',
  'stream-failed': '`{ streamId, channelId, step, message, hint }`: which step of a play failed and what to check.',
  'platform-status': '`{ platformId, status: "registering" | "online" | "offline" | "auth-failed" | "disabled", lastError, since }`: an upper platform link changed (admins and unscoped users only).',
  'import-progress':
    '`{ importId, done, total, added, unchanged, updated, failed, state: "running" | "complete" }`: a POST /api/devices/import advanced ' +
    '(about every 1 % of its rows, and once at the end; admins and unscoped users only).',
  'channel-position':
    '`{ id, deviceId, longitude, latitude, speed, direction, altitude, time, receivedAt }`: a channel (a vehicle, body-worn or ' +
    'drone camera) reported a new position (GB MobilePosition); as in GET /api/channels/{id}/position.',
  'health-alert':
    '`{ event: "fired" | "reminder" | "recovered" | "cleared", alert }` with an Alert as in GET /api/alerts: `{ id, ruleId, ' +
    'ruleName, kind, channelId, channelName, deviceId, civilCode, state, reason, firedAt, clearedAt, clearReason, ' +
    'lastNotifiedAt, reminders }`; kind "alarm-unacknowledged" (with `alarmId`) is an alarm escalated after alarms.escalateAfterMin, ' +
    'recovered when it is acknowledged.',
};
const WS_MESSAGE_LIST = WS_MESSAGE_TYPES.map((type) => `- \`${type}\`: ${WS_MESSAGES[type]}`).join('\n');

/** The URL with a `token` query parameter masked: WebSocket URLs carry the bearer token. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1REDACTED');
}

export async function buildHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const { services, metrics, logger } = opts;
  const serverOptions = {
    // pino's Logger type carries its custom-level generics, which Fastify's instance type does not accept.
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request log would print WebSocket URLs with their ?token=; see the onResponse hook.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Signed media tokens are path parameters of ~200 characters (find-my-way's default limit is 100).
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: true,
    // On close, destroy keep-alive connections too. With the default ('idle'), a connection whose streamed
    // response had not quite finished when close() began stays open until keepAliveTimeout (72 s), and
    // shutdown waits for it.
    forceCloseConnections: true,
    schemaErrorFormatter,
    ajv: {
      customOptions: {
        // Reject unknown body fields instead of silently dropping them: a typo like "sped" must not move a
        // camera at the default speed.
        removeAdditional: false,
        // Only the oneOf branch named by the discriminator is checked, so errors name the real field.
        discriminator: true,
        allowUnionTypes: true,
      },
    },
  } as const;
  // Over TLS the server speaks HTTP/2 (a wall page's 25 tiles share one connection) and still HTTP/1.1 for
  // WebSocket upgrades. Routes are written against the HTTP/1 instance type; Fastify's request/reply API is the
  // same on both servers, so the HTTP/2 instance is used through that type.
  const app: FastifyInstance = opts.tls
    ? (Fastify({ ...serverOptions, http2: true, https: { allowHTTP1: true, cert: opts.tls.cert, key: opts.tls.key } }) as unknown as FastifyInstance)
    : Fastify(serverOptions);

  app.setErrorHandler(handleApiError);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    return reply.code(404).send(errorBody(404, `no route for ${request.method} ${path}`));
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.apiRequest(route, reply.statusCode);
    const entry = {
      method: request.method,
      url: redactUrl(request.url),
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    // Probes and scrapes every few seconds would drown the access log.
    if (route === '/healthz' || route === '/metrics') request.log.debug(entry, 'request completed');
    else request.log.info(entry, 'request completed');
  });

  await app.register(fastifyWebsocket, { options: { maxPayload: WS_MAX_INCOMING_PAYLOAD_BYTES } });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Sharp Eyes gateway API',
        description:
          'Devices, channels, the catalog tree, status history, alarms and PTZ of a GB/T 28181 gateway. ' +
          'Every /api route except POST /api/auth/login needs `Authorization: Bearer <token>` (a static API token ' +
          'or a session token from login). Errors are `{ error, message, field? }`.\n\n' +
          '**WebSocket `GET /api/ws`** (not listed below: OpenAPI 3.0 cannot describe WebSockets). Pass the token as ' +
          '`?token=` (browsers cannot set headers on a WebSocket) or in the Authorization header. The server sends JSON ' +
          '`{ "type", "data" }` messages (what a client sends is ignored):\n\n' +
          WS_MESSAGE_LIST +
          '\n\nA client that reads too slowly gets status, catalog, stream and alert updates coalesced (only the latest ' +
          'per device, channel, stream or alert; alarms are all kept); one that falls too far behind is closed with code ' +
          '1013 and should reconnect and reload state.\n\n' +
          '**WebSocket `GET /api/sessions/{id}/ws`**: a consultation session\'s live layout, presence and roll call; see ' +
          'POST /api/sessions.\n\n' +
          '**WebSocket `GET /api/media/ws`**: HLS playlists and segments for a whole wall page over one connection ' +
          '(requests `{ id, path: "/media/<token>/<file>" }`, binary answers; see gateway/src/api/routes/media-mux.ts).',
        version: API_VERSION,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Name components after the shared schemas' $id (Device, Channel, ...) instead of def-0, def-1.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  addSharedSchemas(app);

  const hub = new WsHub({
    events: services.events,
    metrics,
    logger: logger.child({ component: 'ws-hub' }),
    maxBufferedBytes: opts.wsMaxBufferedBytes,
    ...(services.channelScopeOf ? { scopeOf: services.channelScopeOf } : {}),
    ...opts.wsLimits,
  });
  app.decorate('wsHub', hub);
  app.addHook('preClose', async () => hub.close());

  await app.register(systemRoutes, { services, metrics });

  await app.register(
    async (api) => {
      api.decorateRequest('principal', null);
      api.addHook('onRequest', authenticationHook(services, opts.apiTokens, opts.kioskTokens ?? []));
      api.decorateRequest('auditNote', null);
      if (services.audit) api.addHook('onSend', auditHook(services.audit));
      await api.register(authRoutes, { services });
      await api.register(deviceRoutes, { services });
      await api.register(channelRoutes, { services });
      await api.register(treeRoutes, { services });
      await api.register(statsRoutes, { services });
      await api.register(eventRoutes, { services });
      await api.register(alarmRoutes, { services });
      await api.register(wsRoutes, { hub });
      if (services.streams) await api.register(streamRoutes, { streams: services.streams, access: services });
      if (services.streams) await api.register(mediaMuxRoutes, { streams: services.streams, metrics });
      if (services.views && services.tours) await api.register(viewRoutes, { views: services.views, tours: services.tours });
      if (services.sessions) {
        await api.register(sessionRoutes, { sessions: services.sessions, metrics, logger: logger.child({ component: 'sessions-api' }), wsMaxBufferedBytes: opts.wsMaxBufferedBytes, access: services });
      }
      if (services.users) await api.register(userRoutes, { users: services.users });
      if (services.platforms) await api.register(platformRoutes, { platforms: services.platforms });
      if (services.onvifDiscovery) await api.register(onvifRoutes, services.onvifDiscovery);
      if (services.addedDevices) await api.register(deviceImportRoutes, { devices: services.addedDevices });
      if (services.audit) await api.register(auditRoutes, { audit: services.audit });
      if (services.health) {
        await api.register(healthRoutes, { health: services.health, access: services });
        await api.register(alertRuleRoutes, { health: services.health });
      }
    },
    { prefix: '/api' },
  );
  if (services.streams) await app.register(mediaRoutes, { streams: services.streams });

  await app.register(staticFiles, { root: opts.webRoot });

  return app;
}
