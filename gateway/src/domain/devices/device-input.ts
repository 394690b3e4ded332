/**
 * The bodies of `POST /api/devices` and `PATCH /api/devices/:id` for devices added by hand (ONVIF, RTSP, RTMP),
 * checked here rather than in a JSON schema: the three shapes share one route, and a schema `oneOf` would
 * answer a typo in `url` with "must match exactly one schema" instead of naming the field. Every refusal is a
 * ValidationError naming the field as `body.<name>`, like the API's schema errors.
 */
import { ValidationError } from '../services.js';

export type AddedProtocol = 'onvif' | 'rtsp' | 'rtmp';
export type RtspTransport = 'tcp' | 'udp';

export interface OnvifDeviceInput {
  protocol: 'onvif';
  host: string;
  port: number;
  username: string;
  password: string;
  name?: string;
  civilCode?: string;
}

export interface RtspDeviceInput {
  protocol: 'rtsp';
  url: string;
  subUrl?: string;
  username?: string;
  password?: string;
  transport?: RtspTransport;
  name?: string;
  civilCode?: string;
}

export interface RtmpDeviceInput {
  protocol: 'rtmp';
  name?: string;
  civilCode?: string;
}

export type NewDeviceInput = OnvifDeviceInput | RtspDeviceInput | RtmpDeviceInput;

/** What PATCH may change: credentials, addresses and URLs, the name. Absent fields stay as they are. */
export interface DevicePatch {
  name?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  url?: string;
  subUrl?: string | null;
  transport?: RtspTransport;
  /**
   * Apply new addresses or credentials even when the device does not answer to them (a camera being re-addressed
   * that is not up yet), and an ONVIF address answered by a different camera (serial number). Without it such a
   * PATCH is refused and the old settings stay.
   */
  force?: boolean;
}

const FIELDS: Record<AddedProtocol, readonly string[]> = {
  onvif: ['protocol', 'host', 'port', 'username', 'password', 'name', 'civilCode'],
  rtsp: ['protocol', 'url', 'subUrl', 'username', 'password', 'transport', 'name', 'civilCode'],
  rtmp: ['protocol', 'name', 'civilCode'],
};
const PATCH_FIELDS: Record<AddedProtocol, readonly string[]> = {
  onvif: ['name', 'host', 'port', 'username', 'password', 'force'],
  rtsp: ['name', 'url', 'subUrl', 'username', 'password', 'transport', 'force'],
  rtmp: ['name'],
};

const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$/;
const CIVIL_CODE = /^\d{8}$/;
const MAX_TEXT = 200;

function fail(field: string, message: string): never {
  throw new ValidationError(`body.${field} ${message}`, `body.${field}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(body: Record<string, unknown>, field: string, required: boolean, allowEmpty = false): string | undefined {
  const v = body[field];
  if (v === undefined) {
    if (required) fail(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') fail(field, 'must be a string');
  if (!allowEmpty && v.trim() === '') fail(field, 'must not be empty');
  if (v.length > MAX_TEXT) fail(field, `must be at most ${MAX_TEXT} characters`);
  // Names end up in SIP/XML catalogs and log lines: control characters have no place there.
  if (/[\u0000-\u001f\u007f]/.test(v)) fail(field, 'must not contain control characters');
  return v;
}

function unknownFields(body: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) fail(key, `is not a field of ${what}`);
  }
}

function host(body: Record<string, unknown>, required: boolean): string | undefined {
  const v = text(body, 'host', required);
  if (v !== undefined && !HOST.test(v)) fail('host', 'must be an IP address or a host name');
  return v;
}

function port(body: Record<string, unknown>, required: boolean): number | undefined {
  const v = body.port;
  if (v === undefined) {
    if (required) fail('port', 'is required');
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) fail('port', 'must be an integer 1-65535');
  return v;
}

/** An rtsp:// URL with a host; credentials in it are allowed (some cameras are configured that way). */
function rtspUrl(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = text(body, field, required);
  if (v === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    fail(field, 'must be a URL like rtsp://host:554/path');
  }
  if (url.protocol !== 'rtsp:') fail(field, 'must be an rtsp:// URL');
  if (!url.hostname) fail(field, 'must name a host');
  return v;
}

function transport(body: Record<string, unknown>): RtspTransport | undefined {
  const v = body.transport;
  if (v === undefined) return undefined;
  if (v !== 'tcp' && v !== 'udp') fail('transport', 'must be "tcp" or "udp"');
  return v;
}

function civilCode(body: Record<string, unknown>): string | undefined {
  const v = body.civilCode;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !CIVIL_CODE.test(v)) fail('civilCode', 'must be 8 digits (GB/T 2260 civil code + grass-roots unit)');
  return v;
}

function protocolOf(body: Record<string, unknown>): AddedProtocol {
  const p = body.protocol;
  if (p === undefined) fail('protocol', 'is required');
  if (p === 'gb28181') fail('protocol', 'gb28181 devices register themselves over SIP; add onvif, rtsp or rtmp devices here');
  if (p !== 'onvif' && p !== 'rtsp' && p !== 'rtmp') fail('protocol', 'must be one of onvif, rtsp, rtmp');
  return p;
}

export function parseNewDevice(body: unknown): NewDeviceInput {
  if (!isObject(body)) throw new ValidationError('body must be a JSON object', 'body');
  const protocol = protocolOf(body);
  unknownFields(body, FIELDS[protocol], `an ${protocol} device`);
  const common = { ...opt('name', text(body, 'name', false)), ...opt('civilCode', civilCode(body)) };
  switch (protocol) {
    case 'onvif':
      return {
        protocol,
        host: host(body, true)!,
        port: port(body, false) ?? 80,
        username: text(body, 'username', true)!,
        password: text(body, 'password', true, true)!,
        ...common,
      };
    case 'rtsp':
      return {
        protocol,
        url: rtspUrl(body, 'url', true)!,
        ...opt('subUrl', rtspUrl(body, 'subUrl', false)),
        ...opt('username', text(body, 'username', false)),
        ...opt('password', text(body, 'password', false, true)),
        ...opt('transport', transport(body)),
        ...common,
      };
    case 'rtmp':
      return { protocol, ...common };
  }
}

export function parseDevicePatch(protocol: AddedProtocol, body: unknown): DevicePatch {
  if (!isObject(body)) throw new ValidationError('body must be a JSON object', 'body');
  unknownFields(body, PATCH_FIELDS[protocol], `a PATCH of an ${protocol} device`);
  if (Object.keys(body).filter((k) => k !== 'force').length === 0) throw new ValidationError('body must change at least one field', 'body');
  if (body.force !== undefined && typeof body.force !== 'boolean') throw new ValidationError('force must be true or false', 'force');
  const patch: DevicePatch = {
    ...(body.force === true ? { force: true } : {}),
    ...opt('name', text(body, 'name', false)),
    ...opt('host', host(body, false)),
    ...opt('port', port(body, false)),
    ...opt('username', text(body, 'username', false)),
    ...opt('password', text(body, 'password', false, true)),
    ...opt('url', rtspUrl(body, 'url', false)),
    ...opt('transport', transport(body)),
  };
  // null removes the sub-stream URL (the main URL then serves both).
  if (body.subUrl === null) patch.subUrl = null;
  else if (body.subUrl !== undefined) patch.subUrl = rtspUrl(body, 'subUrl', false)!;
  return patch;
}

/** `{ [key]: value }` when value is defined, else `{}` (exactOptionalPropertyTypes-friendly spreading). */
function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
