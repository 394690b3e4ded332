/**
 * POST /api/onvif/discover: a WS-Discovery Probe on one interface of the camera network; every ONVIF device that
 * answered, with its XAddrs and scopes (name, hardware, location), and whether it is already added.
 * Admins (manage-config): a Probe is traffic on the camera network.
 */
import type { FastifyPluginAsync } from 'fastify';
import { DiscoveryError, discoverOnvif } from '../../protocol/onvif/discovery.js';
import { ValidationError } from '../../domain/services.js';
import { errorResponses } from '../schemas.js';

export interface OnvifRoutesOptions {
  /** Interface used when the request names none ('' = the request must name one). */
  defaultInterface: string;
  port: number;
  /** The added ONVIF device at this host and port, if any. */
  addedAt: (host: string, port: number) => string | null;
}

export const onvifRoutes: FastifyPluginAsync<OnvifRoutesOptions> = async (app, { defaultInterface, port, addedAt }) => {
  app.post<{ Body: { interface?: string; timeoutMs?: number } }>('/onvif/discover', {
    schema: {
      tags: ['devices'],
      summary: 'Find ONVIF devices with a WS-Discovery Probe on one interface (default onvif.discoveryInterface, SE_ONVIF_DISCOVERY_INTERFACE).',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          interface: { type: 'string', minLength: 1, maxLength: 64, description: 'Interface name ("lo", "eth1") or one of its IPv4 addresses.' },
          timeoutMs: { type: 'integer', minimum: 100, maximum: 30_000, default: 3_000 },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            interface: { type: 'string' },
            total: { type: 'integer' },
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  endpoint: { type: 'string' },
                  xaddrs: { type: 'array', items: { type: 'string' } },
                  from: { type: 'string', description: 'The address the answer came from (XAddrs may name another).' },
                  host: { type: 'string' },
                  port: { type: 'integer' },
                  name: { type: ['string', 'null'] },
                  hardware: { type: ['string', 'null'] },
                  location: { type: ['string', 'null'] },
                  added: { type: 'boolean' },
                  deviceId: { type: ['string', 'null'] },
                },
              },
            },
          },
        },
        ...errorResponses(400, 401, 403),
      },
    },
  }, async (request) => {
    const iface = request.body?.interface ?? defaultInterface;
    if (!iface) throw new ValidationError('name an interface, or set onvif.discoveryInterface (SE_ONVIF_DISCOVERY_INTERFACE)', 'body.interface');
    let found;
    try {
      found = await discoverOnvif({ interface: iface, timeoutMs: request.body?.timeoutMs ?? 3_000, port });
    } catch (err) {
      if (err instanceof DiscoveryError) throw new ValidationError(err.message, 'body.interface');
      throw err;
    }
    const items = found.map((d) => {
      // The address we reach it at: the XAddr's port, the host it answered from (XAddrs often name an
      // internal or loopback host; the onvif driver rewrites them the same way).
      let xport = 80;
      try {
        const url = new URL(d.xaddrs[0] ?? '');
        xport = url.port ? Number(url.port) : 80;
      } catch {
        // An XAddr that is not a URL: keep the default port.
      }
      const deviceId = addedAt(d.from, xport);
      return {
        endpoint: d.endpoint,
        xaddrs: d.xaddrs,
        from: d.from,
        host: d.from,
        port: xport,
        name: d.scopes.name || null,
        hardware: d.scopes.hardware || null,
        location: d.scopes.location || null,
        added: deviceId !== null,
        deviceId,
      };
    });
    return { interface: iface, total: items.length, items };
  });
};
