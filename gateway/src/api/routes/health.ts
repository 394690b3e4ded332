/**
 * The maintenance health console: aggregates against yesterday, the channel health list (JSON or CSV), the
 * per-camera detail, stream probes and maintenance flags. Reading is for every signed-in user (not session
 * guests); setting maintenance is for admins and maintainers.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError, type GatewayServices } from '../../domain/services.js';
import { channelHealthCsv, type CsvLanguage } from '../../domain/health/health-csv.js';
import { reportCsv, reportHtml } from '../../domain/health/daily-report.js';
import {
  HEALTH_SORT_FIELDS,
  HEALTH_STATUSES,
  type HealthApi,
  type HealthGroupBy,
  type HealthSortField,
  type HealthStatus,
  type StreamKind,
} from '../../domain/health/types.js';
import { principalOf } from '../authentication.js';
import { UNGROUPED, UNPLACED } from '../../domain/catalog/tree-views.js';
import { epochMs, errorResponses, nodeIdParams, pagingQueryProperties, ref, searchText } from '../schemas.js';

export interface HealthRoutesOptions {
  health: HealthApi;
  /** The caller's channel scope (domain/auth): a scoped user's lists and CSV hold only its channels. */
  access?: Pick<GatewayServices, 'assertChannelInScope' | 'channelScopeOf'>;
}

/** Signed-in staff: any role, but not a consultation-session guest. */
export function requireStaff(request: FastifyRequest): void {
  if (principalOf(request).kind === 'session-guest') throw new ForbiddenError('session guests cannot use the health console');
}

/** Admins and maintainers (maintenance flags, alert rules). */
export function requireMaintainer(request: FastifyRequest): void {
  const principal = principalOf(request);
  if (principal.kind === 'session-guest' || (principal.role !== 'admin' && principal.role !== 'maintainer')) {
    throw new ForbiddenError(`only admins and maintainers may do this (you are ${principal.role})`);
  }
}

const nullableInt = { type: ['integer', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

const rateFigure = {
  type: 'object',
  properties: { online: { type: 'integer' }, total: { type: 'integer' }, rate: { type: 'number', description: '0..1' } },
} as const;

export const healthFiguresSchema = {
  type: 'object',
  properties: {
    devices: rateFigure,
    channels: rateFigure,
    intact: {
      type: 'object',
      description: 'Intact rate (完好率): channels online and not stream-failing, over channels not in maintenance.',
      properties: { intact: { type: 'integer' }, total: { type: 'integer' }, rate: { type: 'number' } },
    },
  },
} as const;

const nullableFigures = { anyOf: [{ type: 'null' }, healthFiguresSchema] } as const;

const treeNodeIdSchema = { type: 'string', pattern: `^([0-9]{2,20}|${UNGROUPED}|${UNPLACED})$` } as const;

/** A reason as a code with parameters (`reason.<code>` in the UIs' catalogues); parameters may nest reasons. */
export const reasonCodeSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['code'],
  properties: { code: { type: 'string' }, params: { type: 'object', additionalProperties: true } },
} as const;
const nullableReasonCode = { anyOf: [{ type: 'null' }, reasonCodeSchema] } as const;
const placeSchema = { anyOf: [{ type: 'null' }, { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } }] } as const;

export const channelHealthSchema = {
  type: 'object',
  properties: {
    channelId: { type: 'string' },
    name: { type: 'string' },
    deviceId: { type: 'string' },
    deviceName: { type: 'string' },
    civilCode: { type: 'string' },
    status: { type: 'string', enum: [...HEALTH_STATUSES] },
    reason: { type: 'string', description: 'English, for logs and scripts; UIs render reasonCode.' },
    reasonCode: reasonCodeSchema,
    since: { type: ['number', 'null'], description: 'When the status began; for a device offline its last sign of life (lastSeenAt).' },
    durationSec: nullableInt,
    lastKeepaliveAt: nullableNumber,
    lastSeenAt: { type: ['number', 'null'], description: 'Device offline: last sign of life (keepalive, registration, unregister).' },
    detectedAt: { type: ['number', 'null'], description: 'Device offline: when the gateway marked it offline.' },
    lastError: nullableString,
    lastErrorCode: nullableReasonCode,
    episodes24h: { type: 'integer' },
    place: placeSchema,
    channels: {
      type: 'array',
      description: 'rollup=device only: this row is an offline device with these channels.',
      items: { type: 'object', properties: { channelId: { type: 'string' }, name: { type: 'string' } } },
    },
  },
} as const;

const streamSampleProperties = {
  at: epochMs,
  stream: { type: 'string', enum: ['main', 'sub'] },
  fps: { type: 'number' },
  bitrateKbps: { type: 'number' },
  packetLoss: { type: 'number' },
  codec: nullableString,
  width: nullableInt,
  height: nullableInt,
  viewers: { type: 'integer' },
  uptimeSec: { type: 'integer' },
} as const;

const failureRecord = {
  type: 'object',
  properties: { at: epochMs, step: { type: 'string' }, message: { type: 'string' }, messageCode: reasonCodeSchema },
} as const;

const maintenanceSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, note: nullableString, by: { type: 'string' }, at: epochMs },
} as const;

const detailSchema = {
  type: 'object',
  properties: {
    health: channelHealthSchema,
    keepalive: {
      type: 'object',
      properties: {
        expectedIntervalSec: { type: 'integer', description: "The device's own interval (median of its recent ones) once known, else configured." },
        expectedSource: { type: 'string', enum: ['device', 'config'] },
        configuredIntervalSec: { type: 'integer' },
        samples: {
          type: 'array',
          description: 'Oldest first: the last ≤ 32 keepalive intervals.',
          items: { type: 'object', properties: { at: { type: 'number' }, intervalMs: { type: 'integer' } } },
        },
        meanMs: nullableInt,
        jitterMs: { type: ['integer', 'null'], description: 'Standard deviation of the intervals.' },
      },
    },
    registrations: { type: 'array', items: ref('StatusEvent') },
    stream: {
      type: 'object',
      properties: {
        expected: {
          type: 'object',
          properties: {
            fps: { type: 'number' },
            codec: nullableString,
            width: nullableInt,
            height: nullableInt,
            bitrateKbps: nullableNumber,
            source: { type: 'string', enum: ['last-good', 'config'] },
          },
        },
        last: {
          description: 'The playing stream (active), else the last sample of an ended one (history); null while the device or channel is offline.',
          anyOf: [{ type: 'null' }, { type: 'object', properties: { ...streamSampleProperties, active: { type: 'boolean' } } }],
        },
        lastActiveAt: nullableNumber,
        grade: { type: 'string', enum: ['good', 'fair', 'poor', 'unknown'] },
        gradeReasons: { type: 'array', items: { type: 'string' } },
        gradeReasonCodes: { type: 'array', items: reasonCodeSchema },
        stalls1h: { type: 'integer' },
        consecutiveFailures: { type: 'integer' },
        consecutiveSuccesses: { type: 'integer' },
        recentFailures: { type: 'array', items: failureRecord },
        probes: { type: 'object', properties: { ok: { type: 'integer' }, failed: { type: 'integer' } } },
      },
    },
    alarms: { type: 'array', items: ref('Alarm') },
    maintenance: { anyOf: [{ type: 'null' }, maintenanceSchema] },
  },
} as const;

const STATUS_LIST_PATTERN = `^(${HEALTH_STATUSES.join('|')})(,(${HEALTH_STATUSES.join('|')}))*$`;

interface ChannelListQuery {
  status?: string;
  region?: string;
  group?: string;
  q?: string;
  sort?: HealthSortField;
  order?: 'asc' | 'desc';
  offset: number;
  limit: number;
  format: 'json' | 'csv';
  lang: CsvLanguage;
  rollup?: 'device';
}

/** "20260301-0930" in the export's time zone, for the download's file name. */
function fileStamp(now: number, timeZone: string): string {
  const parts: Record<string, string> = {};
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  for (const p of format.formatToParts(new Date(now))) parts[p.type] = p.value;
  return `${parts.year}${parts.month}${parts.day}-${parts.hour}${parts.minute}`;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { health, access }) => {
  const timeZone = health.timeZone;
  app.addHook('preHandler', async (request) => requireStaff(request));

  app.get<{ Querystring: { groupBy: HealthGroupBy; parent?: string } }>(
    '/health/summary',
    {
      schema: {
        tags: ['health'],
        summary: 'Online and intact rates overall and per region or group node, against yesterday (and last week overall), with targets.',
        description:
          'The nodes are those of GET /api/tree?view=region|group with the same ids, names and channel counts: the top level, ' +
          'or the region / group nodes directly under `parent` (channels are not listed). A node counts the channels beneath it ' +
          'and the devices that reported them.',
        querystring: {
          type: 'object',
          properties: {
            groupBy: { type: 'string', enum: ['region', 'group'], default: 'region' },
            parent: { ...treeNodeIdSchema, description: 'A node of that tree (hasChildren): its child nodes instead of the top level.' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              at: epochMs,
              targets: { type: 'object', properties: { onlineRate: { type: 'number' }, intactRate: { type: 'number' } } },
              overall: healthFiguresSchema,
              yesterday: nullableFigures,
              lastWeek: nullableFigures,
              nodes: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    name: { type: 'string' },
                    kind: { type: 'string', enum: ['region', 'business-group', 'virtual-org', 'unassigned'] },
                    hasChildren: { type: 'boolean' },
                    figures: healthFiguresSchema,
                    yesterday: nullableFigures,
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      // A scoped user's figures count only its channels, and nodes outside its scope are neither listed nor reachable.
      const scope = access?.channelScopeOf?.(principalOf(request));
      return health.summary(request.query.groupBy, request.query.parent, scope && !scope.unrestricted ? scope : undefined);
    },
  );

  app.get<{ Querystring: ChannelListQuery }>(
    '/health/channels',
    {
      schema: {
        tags: ['health'],
        summary: 'Channels with their health status and reason (the offline list): filter, sort by any column, page, or export as CSV.',
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', pattern: STATUS_LIST_PATTERN, description: `Comma-separated: ${HEALTH_STATUSES.join(', ')}. Absent = all.` },
            region: { type: 'string', pattern: `^([0-9]{2,19}|${UNPLACED})$`, description: 'A node of the region tree (GET /api/tree?view=region): channels beneath it.' },
            group: { type: 'string', pattern: `^([0-9]{20}|${UNGROUPED})$`, description: 'A node of the group tree (GET /api/tree?view=group): channels beneath it.' },
            q: searchText,
            sort: { type: 'string', enum: [...HEALTH_SORT_FIELDS], description: 'Default status (most severe first, then longest-standing).' },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
            ...pagingQueryProperties,
            format: { type: 'string', enum: ['json', 'csv'], default: 'json', description: 'csv: every matching row (offset/limit ignored), UTF-8 with BOM.' },
            lang: { type: 'string', enum: ['zh-CN', 'en'], default: 'zh-CN', description: 'Language of the CSV headers and status labels.' },
            rollup: { type: 'string', enum: ['device'], description: 'device: an offline device with several channels (an NVR) is one row with `channels` inside.' },
          },
        },
        response: {
          200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: channelHealthSchema } } },
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { status, region, group, q, sort, order, offset, limit, format, lang, rollup } = request.query;
      const statuses = status ? (status.split(',') as HealthStatus[]) : undefined;
      const csv = format === 'csv';
      const scope = access?.channelScopeOf?.(principalOf(request));
      const scoped = scope !== undefined && !scope.unrestricted;
      // Scoped: every matching row, filtered by the scope, then paged (total counts only channels in scope). A
      // rolled-up device row keeps only its channels in scope (and goes when none is).
      const all = await health.listChannels({ statuses, region, group, q, sort, order, offset: csv || scoped ? 0 : offset, limit: csv || scoped ? undefined : limit, rollup: csv ? undefined : rollup });
      const kept = scoped
        ? all.items.flatMap((c) => {
            if (!c.channels) return scope.coversChannel(c.channelId) ? [c] : [];
            const inScope = c.channels.filter((ch) => scope.coversChannel(ch.channelId));
            return inScope.length > 0 ? [{ ...c, channelId: inScope[0]!.channelId, channels: inScope }] : [];
          })
        : all.items;
      const page = scoped && !csv ? { total: kept.length, items: kept.slice(offset, offset + limit) } : { ...all, items: kept };
      if (!csv) return page;
      const body = Buffer.from(channelHealthCsv(page.items, { language: lang, timeZone }), 'utf8');
      const name = `channel-health-${fileStamp(Date.now(), timeZone)}.csv`;
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store')
        .send(body);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/health/channels/:id',
    {
      schema: {
        tags: ['health'],
        summary: 'One channel: status with reason, keepalive intervals with jitter, registration history, stream figures against expected with a grade, recent alarms.',
        params: nodeIdParams,
        response: { 200: detailSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      access?.assertChannelInScope?.(request.params.id, principalOf(request));
      return health.channelDetail(request.params.id);
    },
  );

  app.post<{ Params: { id: string }; Body: { stream?: StreamKind } }>(
    '/health/channels/:id/probe',
    {
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['health'],
        summary: 'Open the stream (sub by default) like a play, wait for the first frame or the error, release it; counts as a success or failure.',
        params: nodeIdParams,
        body: { type: 'object', additionalProperties: false, properties: { stream: { type: 'string', enum: ['main', 'sub'] } } },
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              timeToFirstFrameMs: { type: 'integer' },
              reused: { type: 'boolean', description: 'The probe joined a stream that was already running.' },
              error: { type: 'object', properties: { step: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } } },
            },
          },
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      access?.assertChannelInScope?.(request.params.id, principalOf(request));
      return health.probe(request.params.id, request.body.stream);
    },
  );

  app.put<{ Params: { id: string }; Body: { on: boolean; note?: string | null } }>(
    '/health/channels/:id/maintenance',
    {
      schema: {
        tags: ['health'],
        summary: 'Set or clear the maintenance flag (检修): status "maintenance", alerts muted, out of the intact-rate total. Admins and maintainers.',
        params: nodeIdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['on'],
          properties: { on: { type: 'boolean' }, note: { type: ['string', 'null'], maxLength: 500 } },
        },
        response: { 200: channelHealthSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      requireMaintainer(request);
      access?.assertChannelInScope?.(request.params.id, principalOf(request));
      const by = principalOf(request).username;
      return health.setMaintenance(request.params.id, request.body.on, request.body.note ?? null, by);
    },
  );

  // ---- daily intact-rate report (完好率日报)

  const reportSummaryProperties = {
    id: { type: 'string' },
    date: { type: 'string', description: 'The local date (health.timeZone) of the report.' },
    generatedAt: epochMs,
    timeZone: { type: 'string' },
    trigger: { type: 'string', enum: ['schedule', 'manual'] },
    targets: { type: 'object', properties: { onlineRate: { type: 'number' }, intactRate: { type: 'number' } } },
    overall: healthFiguresSchema,
    truncated: { type: 'boolean' },
  } as const;
  const reportSchema = {
    type: 'object',
    properties: {
      ...reportSummaryProperties,
      rows: {
        type: 'array',
        description: 'Region nodes depth-first down to the township; each with the figures GET /api/health/summary?groupBy=region&parent=<parent> gives it.',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            kind: { type: 'string' },
            depth: { type: 'integer' },
            parent: { type: ['string', 'null'] },
            figures: healthFiguresSchema,
          },
        },
      },
    },
  } as const;

  app.get<{ Querystring: { offset: number; limit: number } }>(
    '/health/reports',
    {
      schema: {
        tags: ['health'],
        summary: 'Daily intact-rate reports (完好率日报), newest first: generated each day at health.dailyReportTime and kept health.reportRetentionDays.',
        querystring: { type: 'object', properties: { ...pagingQueryProperties } },
        response: {
          200: {
            type: 'object',
            properties: { total: { type: 'integer' }, items: { type: 'array', items: { type: 'object', properties: { ...reportSummaryProperties, rowCount: { type: 'integer' } } } } },
          },
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => health.listReports(request.query.offset, request.query.limit),
  );

  app.post(
    '/health/reports',
    {
      schema: {
        tags: ['health'],
        summary: "Make today's report now (replacing today's). Admins and maintainers.",
        response: { 200: reportSchema, ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      requireMaintainer(request);
      return health.generateReport('manual');
    },
  );

  app.get<{ Params: { id: string }; Querystring: { format: 'json' | 'html' | 'csv'; lang: CsvLanguage } }>(
    '/health/reports/:id',
    {
      schema: {
        tags: ['health'],
        summary: 'One daily report: JSON, print-ready HTML (A4 landscape, self-contained) or CSV (UTF-8 with BOM, for Excel).',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^daily-[0-9]{4}-[0-9]{2}-[0-9]{2}$' } } },
        querystring: {
          type: 'object',
          properties: {
            format: { type: 'string', enum: ['json', 'html', 'csv'], default: 'json' },
            lang: { type: 'string', enum: ['zh-CN', 'en'], default: 'zh-CN' },
          },
        },
        response: { 200: reportSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const report = await health.getReport(request.params.id);
      if (!report) throw new NotFoundError(`report ${request.params.id} not found`);
      const { format, lang } = request.query;
      if (format === 'json') return report;
      const name = `intact-rate-${report.date}.${format}`;
      const body = format === 'csv' ? reportCsv(report, lang) : reportHtml(report, lang);
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'text/html; charset=utf-8')
        .header('content-disposition', `${format === 'csv' ? 'attachment' : 'inline'}; filename="${name}"`)
        .header('cache-control', 'no-store')
        .send(Buffer.from(body, 'utf8'));
    },
  );

  // ---- morning check: overnight summary and batch probe

  const overnightDevice = {
    type: 'object',
    properties: {
      deviceId: { type: 'string' },
      name: { type: 'string' },
      channelCount: { type: 'integer' },
      channelIds: { type: 'array', items: { type: 'string' }, description: 'Its channels (the first 64).' },
      place: placeSchema,
      outcome: { type: 'string', enum: ['recovered', 'still-down'] },
      wentOfflineAt: nullableNumber,
      episodes: { type: 'integer' },
      recoveredAt: nullableNumber,
      lastSeenAt: nullableNumber,
      offlineReason: nullableString,
    },
  } as const;

  app.get<{ Querystring: { since?: number; until?: number } }>(
    '/health/overnight',
    {
      schema: {
        tags: ['health'],
        summary: 'The morning check: devices that went offline in the window (default the last 14 h), recovered, and still down now, grouped by township / county.',
        querystring: { type: 'object', properties: { since: { ...epochMs, description: 'Window start (epoch ms); default until − 14 h.' }, until: epochMs } },
        response: {
          200: {
            type: 'object',
            properties: {
              since: epochMs,
              until: epochMs,
              wentOffline: { type: 'integer' },
              recovered: { type: 'integer' },
              stillDown: { type: 'integer' },
              stillDownChannels: { type: 'integer' },
              groups: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    name: { type: 'string' },
                    wentOffline: { type: 'integer' },
                    recovered: { type: 'integer' },
                    stillDown: { type: 'integer' },
                    devices: { type: 'array', items: overnightDevice },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => health.overnight(request.query.since, request.query.until),
  );

  app.post<{ Body: { channelIds: string[]; stream?: StreamKind } }>(
    '/health/probe-batch',
    {
      schema: {
        tags: ['health'],
        summary: 'Probe up to 50 channels (e.g. the offline list), 4 at a time; each result as POST /api/health/channels/:id/probe.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['channelIds'],
          properties: {
            channelIds: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', pattern: '^[0-9]{20}$' } },
            stream: { type: 'string', enum: ['main', 'sub'] },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    channelId: { type: 'string' },
                    ok: { type: 'boolean' },
                    timeToFirstFrameMs: { type: 'integer' },
                    reused: { type: 'boolean' },
                    error: { type: 'object', properties: { step: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } } },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request) => ({ items: await health.probeBatch(request.body.channelIds, request.body.stream) }),
  );
};
