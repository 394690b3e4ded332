/**
 * `POST /api/devices/import`: bulk onboarding from a CSV file or a JSON array (domain/devices/device-import.ts).
 *
 * A plugin of its own, so that its text/csv parser, its refusal of other content types and its larger body
 * limit apply to this route only: every other route keeps the server's 64 KiB limit and JSON-only bodies.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AddedDevicesApi } from '../../domain/services.js';
import { ValidationError } from '../../domain/services.js';
import { IMPORT_COLUMNS, IMPORT_ID_PATTERN, MAX_IMPORT_ROWS, rowsFromCsv, rowsFromJson } from '../../domain/devices/device-import.js';
import { errorResponses } from '../schemas.js';

/** 8 MiB: 20,000 rows of ~150 bytes with room to spare; an import is the one request that carries a fleet. */
export const IMPORT_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export interface DeviceImportRoutesOptions {
  devices: AddedDevicesApi;
}

class UnsupportedMediaType extends Error {
  readonly statusCode = 415;
  readonly code = 'FST_ERR_CTP_INVALID_MEDIA_TYPE';
}

export const deviceImportRoutes: FastifyPluginAsync<DeviceImportRoutesOptions> = async (app, { devices }) => {
  app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body));
  // Anything else than CSV or JSON: say what is accepted (Fastify's own 415 names only the type it got).
  app.addContentTypeParser('*', (request, _payload, done) =>
    done(new UnsupportedMediaType(`Content-Type ${request.headers['content-type'] ?? '(none)'} is not an import: send text/csv (a header row with ${IMPORT_COLUMNS.join(',')}) or application/json`)),
  );

  const counts = { type: 'integer' } as const;
  app.post<{ Body: unknown; Querystring: { importId?: string } }>(
    '/devices/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT_BYTES,
      schema: {
        tags: ['devices'],
        summary: `Add up to ${MAX_IMPORT_ROWS} ONVIF/RTSP/RTMP devices from CSV (text/csv, header ${IMPORT_COLUMNS.join(',')}) or JSON (an array of POST /api/devices bodies, or { devices: [...] }).`,
        description:
          'Each row is validated like POST /api/devices; a bad row is reported in `errors` with its line (CSV line, 1 = header; JSON array index) ' +
          'and field, and the other rows go in. A row whose device exists (onvif: host+port, rtsp: url, rtmp: name) is `unchanged`, or `updated` ' +
          'when its credentials, subUrl, transport or name differ. Progress: `import-progress` on the WebSocket (choose `importId` to follow it). ' +
          'One import at a time (409 while another runs).',
        querystring: {
          type: 'object',
          properties: { importId: { type: 'string', pattern: IMPORT_ID_PATTERN, description: 'Names this import in its import-progress events (default: a UUID).' } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              importId: { type: 'string' },
              total: counts,
              added: counts,
              unchanged: counts,
              updated: counts,
              failed: counts,
              elapsedMs: counts,
              errors: {
                type: 'array',
                items: { type: 'object', properties: { line: counts, field: { type: 'string' }, message: { type: 'string' } } },
              },
              devices: {
                type: 'array',
                items: { type: 'object', properties: { line: counts, id: { type: 'string' }, outcome: { type: 'string', enum: ['added', 'unchanged', 'updated'] } } },
              },
            },
          },
          ...errorResponses(400, 401, 403, 404, 409, 413, 415),
        },
      },
    },
    async (request) => {
      const body = request.body;
      if (body === undefined || body === null) throw new ValidationError('the import is empty: send a CSV file (text/csv) or a JSON array of devices', 'body');
      const rows = typeof body === 'string' ? rowsFromCsv(body) : rowsFromJson(body);
      return devices.import(rows, request.query.importId);
    },
  );
};
