/** Devices: list with filters, detail, their channels, and a catalog re-query. */
import type { FastifyPluginAsync } from 'fastify';
import type { OnlineStatus } from '../../domain/model.js';
import { ConflictError, NotFoundError, type AddedDevicesApi, type GatewayServices } from '../../domain/services.js';
import { parseDevicePatch, parseNewDevice } from '../../domain/devices/device-input.js';
import { principalOf } from '../authentication.js';
import {
  REGION_PATTERN,
  deviceIdParams,
  errorCodeProperties,
  errorResponses,
  pageOf,
  pagingQueryProperties,
  ref,
  searchText,
} from '../schemas.js';

export interface DeviceRoutesOptions {
  services: GatewayServices;
}

interface DeviceListQuery {
  status?: OnlineStatus;
  q?: string;
  region?: string;
  offset: number;
  limit: number;
}

interface PagingQuery {
  offset: number;
  limit: number;
}

export const deviceRoutes: FastifyPluginAsync<DeviceRoutesOptions> = async (app, { services }) => {
  app.get<{ Querystring: DeviceListQuery }>(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'List devices.',
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['online', 'offline'] },
            q: searchText,
            region: { type: 'string', pattern: REGION_PATTERN, description: 'Civil-code prefix, 2–8 digits.' },
            ...pagingQueryProperties,
          },
        },
        response: { 200: pageOf('Device'), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { status, q, region, offset, limit } = request.query;
      return services.listDevices({ status, q, region, offset, limit }, principalOf(request));
    },
  );

  const added = (): AddedDevicesApi => {
    if (!services.addedDevices) throw new NotFoundError('adding devices is not available on this gateway');
    return services.addedDevices;
  };
  // Bodies are checked by device-input.ts (one route, three shapes: a schema oneOf would not name the field).
  const anyBody = { type: 'object', description: 'onvif: host, port, username, password; rtsp: url, subUrl?, username?, password?, transport?; rtmp: nothing. All: name?, civilCode?' } as const;

  app.post<{ Body: unknown }>(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'Add an ONVIF camera, an RTSP source or an RTMP publishing point (GB28181 devices register themselves).',
        description:
          'The same identity as POST /api/devices/import (ONVIF host:port, RTSP URL, RTMP name): a device that exists already is a 409 `conflict` with its `existingId` (also in `params`); nothing is added or changed — PATCH it.',
        body: anyBody,
        response: {
          201: ref('AddedDevice'),
          ...errorResponses(400, 401, 403, 404),
          409: {
            type: 'object',
            required: ['error', 'message'],
            properties: {
              error: { type: 'string' },
              message: { type: 'string' },
              ...errorCodeProperties,
              existingId: { type: 'string', description: 'The device with the same identity (409 `conflict` for an existing device).' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const input = parseNewDevice(request.body);
      const device = await added().add(input);
      return reply.code(201).send(device);
    },
  );

  app.patch<{ Params: { id: string }; Body: unknown }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Change an added device: name, credentials, host/port (onvif), URLs and transport (rtsp).',
        description:
          'New addresses or credentials are tried first: a device that does not answer to them is a 422 with the `reason` (auth-failed, unreachable, rtsp-failed, …) and keeps its settings; an ONVIF address answered by a camera with another serial number, or the address of another added device, is a 409 `conflict`. `"force": true` applies failing settings anyway (not another device\'s address).',
        params: deviceIdParams,
        body: anyBody,
        response: {
          200: ref('AddedDevice'),
          ...errorResponses(400, 401, 403, 404, 409),
          422: {
            type: 'object',
            properties: {
              error: { type: 'string' },
              message: { type: 'string' },
              code: { type: 'string', description: '"device.probe-failed"' },
              params: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
              reason: { type: 'string', description: 'Why the device did not answer to the new settings: the offline reason it would show.' },
            },
          },
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      const device = await services.getDevice(id, principalOf(request));
      if (!device) throw new NotFoundError(`device ${id} not found`);
      if (device.protocol === 'gb28181') throw new ConflictError(`device ${id} is a GB28181 device: its settings come from its registration, not from PATCH`);
      return added().update(id, parseDevicePatch(device.protocol, request.body));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Delete an added device: its streams stop, its channels leave the trees, its publish URL stops working.',
        params: deviceIdParams,
        response: {
          200: { type: 'object', properties: { id: { type: 'string' }, stoppedStreams: { type: 'integer' } } },
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      if (!(await services.getDevice(id, principalOf(request)))) throw new NotFoundError(`device ${id} not found`);
      return added().remove(id);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'One device.',
        params: deviceIdParams,
        response: { 200: ref('Device'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const device = await services.getDevice(request.params.id, principalOf(request));
      if (!device) throw new NotFoundError(`device ${request.params.id} not found`);
      // An RTMP device shows where to publish (the answer of its POST said so once; operators look again).
      const publishUrl = device.protocol === 'rtmp' ? services.addedDevices?.get(device.id)?.publishUrl : undefined;
      return publishUrl ? { ...device, publishUrl } : device;
    },
  );

  app.get<{ Params: { id: string }; Querystring: PagingQuery }>(
    '/devices/:id/channels',
    {
      schema: {
        tags: ['devices'],
        summary: "A device's catalog items (channels, and the regions / groups it reported).",
        params: deviceIdParams,
        querystring: { type: 'object', properties: { ...pagingQueryProperties } },
        response: { 200: pageOf('Channel'), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const deviceId = request.params.id;
      // An unknown device is a 404, not an empty page: the client most likely has a wrong ID.
      const device = await services.getDevice(deviceId, principalOf(request));
      if (!device) throw new NotFoundError(`device ${deviceId} not found`);
      const { offset, limit } = request.query;
      return services.listChannels({ deviceId, offset, limit }, principalOf(request));
    },
  );

  const liveInfoSchema = {
    type: 'object',
    properties: {
      deviceId: { type: 'string' },
      result: { type: 'string' },
      deviceName: { type: 'string' },
      manufacturer: { type: 'string' },
      model: { type: 'string' },
      firmware: { type: 'string' },
      channel: { type: ['integer', 'null'] },
    },
  } as const;
  const liveStatusSchema = {
    type: 'object',
    properties: {
      deviceId: { type: 'string' },
      result: { type: 'string' },
      online: { type: 'string' },
      status: { type: 'string' },
      encode: { type: 'string' },
      record: { type: 'string' },
      deviceTime: { type: 'string' },
      reason: { type: 'string' },
      alarmStatus: {
        type: 'array',
        items: { type: 'object', properties: { deviceId: { type: 'string' }, dutyStatus: { type: 'string' } } },
      },
    },
  } as const;

  app.get<{ Params: { id: string } }>(
    '/devices/:id/info',
    {
      schema: {
        tags: ['devices'],
        summary: 'Ask the device now for its DeviceInfo (name, manufacturer, model, firmware, channel count).',
        params: deviceIdParams,
        response: { 200: liveInfoSchema, ...errorResponses(400, 401, 404, 409, 502) },
      },
    },
    async (request) => {
      if (!(await services.getDevice(request.params.id, principalOf(request)))) throw new NotFoundError(`device ${request.params.id} not found`);
      return services.queryDeviceInfo(request.params.id);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/devices/:id/status',
    {
      schema: {
        tags: ['devices'],
        summary: 'Ask the device now for its DeviceStatus (online, encode, record, alarm inputs).',
        params: deviceIdParams,
        response: { 200: liveStatusSchema, ...errorResponses(400, 401, 404, 409, 502) },
      },
    },
    async (request) => {
      if (!(await services.getDevice(request.params.id, principalOf(request)))) throw new NotFoundError(`device ${request.params.id} not found`);
      return services.queryDeviceStatus(request.params.id);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/devices/:id/catalog',
    {
      schema: {
        tags: ['devices'],
        summary: "Re-query a device's catalog; progress follows on the WebSocket as catalog-progress.",
        params: deviceIdParams,
        response: {
          202: {
            type: 'object',
            properties: { deviceId: { type: 'string' }, accepted: { type: 'boolean' } },
          },
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request, reply) => {
      if (!(await services.getDevice(request.params.id, principalOf(request)))) throw new NotFoundError(`device ${request.params.id} not found`);
      const result = await services.requestCatalog(request.params.id);
      return reply.code(202).send(result);
    },
  );
};
