/**
 * Contract tests of the HTTP edge against an in-memory GatewayServices, over a real socket on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpServer } from '../../src/api/http-server.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { WS_MESSAGE_TYPES } from '../../src/api/ws-hub.js';
import { ForbiddenError, TooManyRequestsError } from '../../src/domain/services.js';
import { CHANNEL_ID, DEVICE_OFFLINE, DEVICE_ONLINE, FakeGatewayServices, REGION_ID } from './fake-services.js';

const STATIC_TOKEN = 'static-api-token-for-tests-0123456789abcdef';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

let app: FastifyInstance;
let base: string;
let services: FakeGatewayServices;
let metrics: GatewayMetrics;
let tempDir: string;

async function call(path: string, init: RequestInit & { token?: string | null } = {}): Promise<JsonResponse> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? STATIC_TOKEN : init.token;
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const response = await fetch(base + path, { ...init, headers });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  if (text !== '' && (response.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text) as Record<string, unknown>;
  return { status: response.status, headers: response.headers, body };
}

const post = (path: string, body: unknown, token?: string | null): Promise<JsonResponse> =>
  call(path, { method: 'POST', body: JSON.stringify(body), token });

/** A raw GET, so that "..", "%2e%2e" and friends reach the server exactly as written (fetch normalises them). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  tempDir = mkdtempSync(join(tmpdir(), 'api-test-'));
  const webRoot = join(tempDir, 'web');
  mkdirSync(join(webRoot, 'sub'), { recursive: true });
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>test root</title>');
  writeFileSync(join(webRoot, 'app.js'), 'console.log("app");');
  writeFileSync(join(webRoot, 'sub', 'index.html'), '<p>sub index</p>');
  writeFileSync(join(webRoot, '.env'), 'SECRET=dotfile');
  writeFileSync(join(tempDir, 'secret.txt'), 'outside the web root');
  symlinkSync(join(tempDir, 'secret.txt'), join(webRoot, 'link.txt'));

  services = new FakeGatewayServices();
  metrics = new GatewayMetrics();
  metrics.setDeviceCountsProvider(() => ({ registered: 2, online: 1 }));
  app = await buildHttpServer({
    services,
    metrics,
    logger: pino({ level: 'silent' }),
    apiTokens: [STATIC_TOKEN, 'another-static-token'],
    wsMaxBufferedBytes: 1024 * 1024,
    webRoot,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});

describe('authentication', () => {
  it('answers 401 with a Bearer challenge without a token', async () => {
    const r = await call('/api/devices', { token: null });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(r.body).toMatchObject({ error: 'Unauthorized' });
  });

  it('answers 401 for a wrong token and for a non-Bearer scheme', async () => {
    const wrong = await call('/api/devices', { token: 'not-the-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    const basic = await call('/api/devices', { token: null, headers: { authorization: `Basic ${STATIC_TOKEN}` } });
    expect(basic.status).toBe(401);
    // A token in the URL is only for the WebSocket.
    const inQuery = await call(`/api/devices?token=${STATIC_TOKEN}`, { token: null });
    expect(inQuery.status).toBe(401);
  });

  it('accepts every static token', async () => {
    expect((await call('/api/devices')).status).toBe(200);
    expect((await call('/api/devices', { token: 'another-static-token' })).status).toBe(200);
  });

  it('logs in, accepts the session token, and refuses it after logout', async () => {
    const bad = await post('/api/auth/login', { username: 'operator', password: 'wrong' }, null);
    expect(bad.status).toBe(401);

    const login = await post('/api/auth/login', { username: 'operator', password: 'correct horse' }, null);
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ user: { username: 'operator', role: 'operator' } });
    const token = login.body.token as string;
    expect(typeof token).toBe('string');

    expect((await call('/api/devices', { token })).status).toBe(200);
    const logout = await call('/api/auth/logout', { method: 'POST', token });
    expect(logout.status).toBe(200);
    expect(services.calls.logout).toContain(token);
    expect((await call('/api/devices', { token })).status).toBe(401);
  });

  it('validates the login body', async () => {
    const r = await post('/api/auth/login', { username: 'operator' }, null);
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('body.password');
  });
});

describe('validation errors name the field', () => {
  it.each([
    ['/api/devices?limit=0', 'querystring.limit'],
    ['/api/devices?limit=1001', 'querystring.limit'],
    ['/api/devices?status=foo', 'querystring.status'],
    ['/api/devices?region=1', 'querystring.region'],
    ['/api/devices?offset=-1', 'querystring.offset'],
    ['/api/devices/abc', 'params.id'],
    ['/api/devices/4403050000132000000', 'params.id'],
    ['/api/devices/abc/channels', 'params.id'],
    ['/api/channels/x1', 'params.id'],
    ['/api/channels?deviceId=12', 'querystring.deviceId'],
    ['/api/tree?parent=1', 'querystring.parent'],
    ['/api/events?since=yesterday', 'querystring.since'],
    ['/api/alarms?acknowledged=maybe', 'querystring.acknowledged'],
  ])('GET %s → 400 naming %s', async (path, field) => {
    const r = await call(path);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'Bad Request', field });
    expect(r.body.message).toContain(field);
  });

  const ptz = `/api/channels/${CHANNEL_ID}/ptz`;
  it.each([
    [{ action: 'move', direction: 'up', speed: 999 }, 'body.speed'],
    [{ action: 'move', zoom: 'in', zoomSpeed: 16 }, 'body.zoomSpeed'],
    [{ action: 'move', direction: 'sideways' }, 'body.direction'],
    [{ action: 'move', direction: 'up', durationMs: 10 }, 'body.durationMs'],
    [{ action: 'move', direction: 'up', sped: 3 }, 'body.sped'],
    [{ action: 'fly' }, 'body.action'],
    [{ direction: 'up' }, 'body.action'],
    [{ action: 'focus' }, 'body.direction'],
    [{ action: 'preset', operation: 'call', preset: 0 }, 'body.preset'],
    [{ action: 'preset', operation: 'call', preset: 256 }, 'body.preset'],
    [{ action: 'preset', operation: 'jump', preset: 3 }, 'body.operation'],
    [{ action: 'relative', pan: 2 }, 'body.pan'],
    [{ action: 'home', speed: 3 }, 'body.speed'],
    [[1, 2], 'body'],
  ])('PTZ body %j → 400 naming %s', async (body, field) => {
    const r = await post(ptz, body);
    expect(r.status).toBe(400);
    expect(r.body.field).toBe(field);
    // For UIs: a validation code with the field as a parameter, never only the English sentence.
    expect(r.body.code).toMatch(/^validation\.[a-z-]+$/i);
    expect((r.body.params as Record<string, unknown> | undefined)?.field).toBe(field);
  });

  it('reports unparsable JSON as a bad body', async () => {
    const r = await call(`/api/channels/${CHANNEL_ID}/ptz`, { method: 'POST', body: '{"action":' });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('body');
  });

  it('does not call the service for an invalid PTZ request', () => {
    expect(services.calls.ptz).toEqual([]);
  });
});

describe('resources', () => {
  it('lists devices as { total, items } and passes the filters through', async () => {
    const all = await call('/api/devices');
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(2);
    expect(all.body.items).toHaveLength(2);

    const offline = await call('/api/devices?status=offline&region=4403&q=%E8%AE%BE&offset=0&limit=5');
    expect(offline.body.total).toBe(1);
    expect((offline.body.items as { id: string }[])[0].id).toBe(DEVICE_OFFLINE);
    expect(services.calls.listDevices.at(-1)).toEqual({ status: 'offline', region: '4403', q: '设', offset: 0, limit: 5 });
    // Defaults are applied before the service sees the query.
    await call('/api/devices');
    expect(services.calls.listDevices.at(-1)).toMatchObject({ offset: 0, limit: 100 });
  });

  it('returns a device and a channel unchanged (the response schemas cover every field)', async () => {
    const device = await call(`/api/devices/${DEVICE_OFFLINE}`);
    expect(device.status).toBe(200);
    expect(device.body).toEqual(services.devices.get(DEVICE_OFFLINE));

    const channel = await call(`/api/channels/${CHANNEL_ID}`);
    expect(channel.status).toBe(200);
    expect(channel.body).toEqual(services.channels.get(CHANNEL_ID));
  });

  it('answers 404 for unknown devices, channels and tree nodes', async () => {
    for (const path of [
      '/api/devices/44030500001329999999',
      '/api/devices/44030500001329999999/channels',
      '/api/channels/44030500001319999999',
      '/api/tree?parent=4499',
    ]) {
      const r = await call(path);
      expect(r.status, path).toBe(404);
      expect(r.body.error).toBe('Not Found');
    }
    const catalog = await call('/api/devices/44030500001329999999/catalog', { method: 'POST' });
    expect(catalog.status).toBe(404);
  });

  it("lists a device's channels", async () => {
    const r = await call(`/api/devices/${DEVICE_ONLINE}/channels?limit=10`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ total: 1, items: [services.channels.get(CHANNEL_ID)] });
  });

  it('searches channels', async () => {
    const r = await call(`/api/channels?parentId=${REGION_ID}&status=online&kind=channel`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(1);
    expect(services.calls.listChannels.at(-1)).toMatchObject({ parentId: REGION_ID, status: 'online', kind: 'channel' });
  });

  it('re-queries a catalog: 202, or 409 for an offline device', async () => {
    const ok = await call(`/api/devices/${DEVICE_ONLINE}/catalog`, { method: 'POST' });
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ deviceId: DEVICE_ONLINE, accepted: true });
    const offline = await call(`/api/devices/${DEVICE_OFFLINE}/catalog`, { method: 'POST' });
    expect(offline.status).toBe(409);
    expect(offline.body.error).toBe('Conflict');
  });

  it('walks the tree', async () => {
    const root = await call('/api/tree');
    expect(root.status).toBe(200);
    expect(root.body.parent).toBeNull();
    expect(root.body.items).toEqual(services.treeChildren(undefined).items);
    const region = await call(`/api/tree?parent=${REGION_ID}`);
    expect(region.body).toEqual({ view: 'catalog', parent: REGION_ID, ...services.treeChildren(REGION_ID) });
    const found = await call(`/api/tree/search?q=${encodeURIComponent('通道')}`);
    expect(found.body).toEqual({ view: 'catalog', ...services.treeSearch('catalog', '通道', 50) });
    expect((found.body.items as Array<{ path: unknown }>)[0].path).toEqual([{ id: REGION_ID, name: '南山区', kind: 'region' }]);
  });

  it('returns stats, events and alarms', async () => {
    expect((await call('/api/stats')).body).toEqual(services.stats());
    const events = await call(`/api/events?deviceId=${DEVICE_OFFLINE}&since=0&until=1800000000000`);
    expect(events.body).toEqual({ total: 1, items: services.statusEvents });
    const alarms = await call('/api/alarms?acknowledged=false');
    expect(alarms.body.total).toBe(1);
  });

  it('sends PTZ requests and acknowledges alarms as the calling user', async () => {
    const move = await post(`/api/channels/${CHANNEL_ID}/ptz`, { action: 'move', direction: 'up-left', speed: 200, durationMs: 800 });
    expect(move.status).toBe(200);
    expect(move.body).toEqual({ sent: ['A50F0108808000B4'], autoStopAfterMs: 800, lease: null, takenOverFrom: null });
    expect(services.calls.ptz.at(-1)).toEqual({
      channelId: CHANNEL_ID,
      request: { action: 'move', direction: 'up-left', speed: 200, durationMs: 800 },
    });
    const stop = await post(`/api/channels/${CHANNEL_ID}/ptz`, { action: 'stop' });
    expect(stop.body).toEqual({ sent: ['A50F0108808000B4'], autoStopAfterMs: null, lease: null, takenOverFrom: null });

    const login = await post('/api/auth/login', { username: 'operator', password: 'correct horse' }, null);
    const ack = await post('/api/alarms/a1/ack', { note: '已处理' }, login.body.token as string);
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ id: 'a1', acknowledgedBy: 'operator', note: '已处理' });

    const noBody = await call('/api/alarms/a1/ack', { method: 'POST' });
    expect(noBody.status).toBe(200);
    expect(services.calls.acknowledge.at(-1)).toEqual({ id: 'a1', by: 'api-token', note: null });

    expect((await post('/api/alarms/zz9/ack', {})).status).toBe(404);
  });

  it('hides internal errors behind a generic 500', async () => {
    const original = services.stats.bind(services);
    services.stats = () => {
      throw new Error('database password is hunter2');
    };
    try {
      const r = await call('/api/stats');
      expect(r.status).toBe(500);
      expect(r.body.error).toBe('Internal Server Error');
      expect(JSON.stringify(r.body)).not.toContain('hunter2');
    } finally {
      services.stats = original;
    }
  });

  it('maps ForbiddenError to 403 and TooManyRequestsError to 429 with Retry-After on every route', async () => {
    const original = services.stats.bind(services);
    try {
      services.stats = () => {
        throw new ForbiddenError('not for you');
      };
      const forbidden = await call('/api/stats');
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ error: 'Forbidden', message: 'not for you', code: 'forbidden' });
      services.stats = () => {
        throw new TooManyRequestsError('slow down', 42);
      };
      const tooMany = await call('/api/stats');
      expect(tooMany.status).toBe(429);
      expect(tooMany.headers.get('retry-after')).toBe('42');
      expect(tooMany.body).toEqual({ error: 'Too Many Requests', message: 'slow down', code: 'rate-limited', params: { retryAfterSec: 42 } });
      // A domain error that names its own code and params keeps them; the English message stays for integrators.
      services.stats = () => {
        throw new ForbiddenError('channel 1 is not shared in this session', { code: 'session.not-shared', params: { channelId: '1' } });
      };
      expect((await call('/api/stats')).body).toEqual({ error: 'Forbidden', message: 'channel 1 is not shared in this session', code: 'session.not-shared', params: { channelId: '1' } });
    } finally {
      services.stats = original;
    }
  });

  it('answers unknown routes with 404 JSON', async () => {
    const post404 = await call('/api/nothing-here', { method: 'POST', body: '{}' });
    expect(post404.status).toBe(404);
    expect(post404.body.error).toBe('Not Found');
    const get404 = await call('/api/nothing-here');
    expect(get404.status).toBe(404);
    expect(get404.body.error).toBe('Not Found');
  });
});

describe('health, metrics and docs', () => {
  it('reports ok when all is up, degraded (still 200) when only the store is down, unavailable (503) when SIP is down', async () => {
    const ready = await call('/healthz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', sip: true, http: true, store: true });

    services.readiness_.store = false;
    try {
      // Signalling and the API serve from memory during a store outage: in service, but degraded.
      const degraded = await call('/healthz', { token: null });
      expect(degraded.status).toBe(200);
      expect(degraded.body).toEqual({ status: 'degraded', reason: 'store: not answering', sip: true, http: true, store: false });
      services.readiness_.sip = false;
      const notReady = await call('/healthz', { token: null });
      expect(notReady.status).toBe(503);
      expect(notReady.body).toMatchObject({ status: 'unavailable', sip: false, http: true, store: false });
    } finally {
      services.readiness_.store = true;
      services.readiness_.sip = true;
    }
  });

  it('exposes Prometheus metrics without authentication', async () => {
    metrics.sipMessage('in', 'request', 'REGISTER', '');
    metrics.sipMessage('out', 'response', 'REGISTER', 200);
    metrics.sipMessage('in', 'request', 'X-GARBAGE-METHOD', '');
    metrics.storeWrite('upsertDevices', 0.004);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const name of [
      'se_devices_registered 2',
      'se_devices_online 1',
      'se_sip_messages_total{direction="in",kind="request",method="REGISTER",code=""} 1',
      'se_sip_messages_total{direction="out",kind="response",method="REGISTER",code="200"} 1',
      'se_sip_messages_total{direction="in",kind="request",method="other",code=""} 1',
      'se_sip_parse_errors_total',
      'se_sip_auth_failures_total',
      'se_sip_lockouts_total',
      'se_store_write_seconds_bucket{le="0.005",operation="upsertDevices"} 1',
      'se_store_write_failures_total',
      'se_ws_clients',
      'se_ws_dropped_clients_total',
      'se_catalog_items_total',
      'se_alarms_total',
      'se_api_requests_total{route="/api/devices",code="200"}',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toContain(name);
    }
  });

  it('serves an OpenAPI document listing the routes and the bearer scheme', async () => {
    const r = await call('/docs/json', { token: null });
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(r.body.paths as object);
    for (const path of [
      '/api/auth/login',
      '/api/auth/logout',
      '/api/devices',
      '/api/devices/{id}',
      '/api/devices/{id}/channels',
      '/api/devices/{id}/catalog',
      '/api/channels',
      '/api/channels/{id}',
      '/api/channels/{id}/ptz',
      '/api/tree',
      '/api/stats',
      '/api/events',
      '/api/alarms',
      '/api/alarms/{id}/ack',
      '/healthz',
      '/metrics',
    ]) {
      expect(paths, path).toContain(path);
    }
    // @fastify/websocket hides WebSocket routes from the document; the API description covers /api/ws, each message type.
    const description = (r.body.info as { description: string }).description;
    expect(description).toContain('/api/ws');
    for (const type of WS_MESSAGE_TYPES) expect(description, type).toMatch(new RegExp(`^- \`${type}\`: .+`, 'm'));
    expect(description).toMatch(/- `health-alert`: `\{ event: .*, alert \}`/);
    const components = r.body.components as { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    expect(components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(components.schemas)).toEqual(expect.arrayContaining(['Device', 'Channel', 'PtzRequest', 'Error']));

    const ui = await fetch(`${base}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');
  });
});

describe('static files', () => {
  it('serves the web root with content types', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('test root');

    const js = await fetch(`${base}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');

    const sub = await fetch(`${base}/sub/`);
    expect(await sub.text()).toContain('sub index');
  });

  it.each([
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/sub/..%2f..%2fsecret.txt',
    '/link.txt',
    '/.env',
    '/missing.html',
    '/%00index.html',
  ])('refuses %s', async (path) => {
    const r = await rawGet(path);
    expect(r.status).toBe(404);
    expect(r.body).not.toContain('outside the web root');
    expect(r.body).not.toContain('SECRET');
  });

  it("serves the wall's entry page from web/ (the built wall is checked in a browser by gateway/test/web/)", async () => {
    const placeholder = await buildHttpServer({
      services: new FakeGatewayServices(),
      metrics: new GatewayMetrics(),
      logger: pino({ level: 'silent' }),
      apiTokens: [],
      wsMaxBufferedBytes: 1024 * 1024,
      webRoot: join(repoRoot, 'web'),
    });
    try {
      await placeholder.listen({ host: '127.0.0.1', port: 0 });
      const port = (placeholder.server.address() as AddressInfo).port;
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(page).toContain('<div id="app"></div>');
      expect(page).toContain('视频联网网关');
    } finally {
      await placeholder.close();
    }
  });
});
