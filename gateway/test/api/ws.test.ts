/**
 * The event WebSocket over real sockets on 127.0.0.1: authentication, relaying, and what happens to a
 * client that stops reading (coalescing with a bounded backlog, then a 1013 close).
 *
 * A "slow client" is a real ws client whose TCP socket is paused: the kernel buffers fill, the server's
 * socket buffer grows past wsMaxBufferedBytes, and the hub has to cope.
 */
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildHttpServer, type HttpServerOptions } from '../../src/api/http-server.js';
import type { WsClientSnapshot } from '../../src/api/ws-hub.js';
import type { AlarmEvent } from '../../src/domain/model.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { DEVICE_ONLINE, FakeGatewayServices } from './fake-services.js';

const TOKEN = 'ws-test-static-token-0123456789';
const MAX_BUFFERED = 64 * 1024;

interface Server {
  app: FastifyInstance;
  services: FakeGatewayServices;
  metrics: GatewayMetrics;
  port: number;
}

interface Message {
  type: string;
  data: Record<string, unknown>;
}

interface Client {
  ws: WebSocket;
  /** The client's TCP socket: pause it to stop reading. */
  raw: Socket;
  messages: Message[];
  /** Resolves once a received message satisfies the predicate (checked on every message). */
  until(predicate: (messages: Message[]) => boolean): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

const servers: Server[] = [];
const clients: Client[] = [];

async function startServer(
  wsLimits: HttpServerOptions['wsLimits'] = {},
  logger: HttpServerOptions['logger'] = pino({ level: 'silent' }),
): Promise<Server> {
  const services = new FakeGatewayServices();
  const metrics = new GatewayMetrics();
  const app = await buildHttpServer({
    services,
    metrics,
    logger,
    apiTokens: [TOKEN],
    wsMaxBufferedBytes: MAX_BUFFERED,
    webRoot: '/nonexistent',
    wsLimits,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const server = { app, services, metrics, port: (app.server.address() as AddressInfo).port };
  servers.push(server);
  return server;
}

function openClient(server: Server, opts: { query?: string; headers?: Record<string, string> } = {}): Client {
  let raw: Socket | undefined;
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws${opts.query ?? ''}`, {
    headers: opts.headers,
    // Our own TCP socket, so that the test can pause reading.
    createConnection: () => {
      raw = netConnect({ host: '127.0.0.1', port: server.port });
      return raw;
    },
  });
  const messages: Message[] = [];
  const waiters: { predicate: (m: Message[]) => boolean; resolve: () => void }[] = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Message);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].predicate(messages)) {
        waiters[i].resolve();
        waiters.splice(i, 1);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  ws.on('error', () => {
    /* surfaced through `closed` or unexpected-response */
  });
  const client: Client = {
    ws,
    get raw(): Socket {
      if (!raw) throw new Error('not connected yet');
      return raw;
    },
    messages,
    until: (predicate) =>
      predicate(messages) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ predicate, resolve })),
    closed,
  };
  clients.push(client);
  return client;
}

const hasType = (type: string) => (messages: Message[]) => messages.some((m) => m.type === type);

/** Status of the upgrade when the server refuses it. */
function rejectedStatus(server: Server, query = '', headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws${query}`, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => {
      /* the unexpected-response handler decides */
    });
  });
}

function onlySnapshot(server: Server): WsClientSnapshot {
  const snapshots = server.app.wsHub.snapshot();
  expect(snapshots).toHaveLength(1);
  return snapshots[0];
}

/** Polls a condition that has no event of its own (server-side socket close), with a generous deadline. */
async function eventually(condition: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const deviceId = (n: number): string => `4403050000132${String(n).padStart(7, '0')}`;

/** Emits large catalog-progress events (distinct devices) until the hub coalesces for the client. */
async function fillUntilCoalescing(server: Server): Promise<number> {
  const padding = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 5_000; i++) {
    server.services.events.emit('catalog-progress', {
      deviceId: deviceId(900_000 + (i % 20)),
      sn: i,
      received: i,
      total: null,
      state: 'receiving',
      error: padding,
    });
    if (i % 10 === 9) await nextTurn();
    if (onlySnapshot(server).coalescing) return i + 1;
  }
  throw new Error('the client never started coalescing');
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const server of servers.splice(0)) await server.app.close();
});

describe('WebSocket authentication', () => {
  it('refuses an upgrade without a token or with a wrong one', async () => {
    const server = await startServer();
    expect(await rejectedStatus(server)).toBe(401);
    expect(await rejectedStatus(server, '?token=wrong')).toBe(401);
    expect(await rejectedStatus(server, '', { authorization: 'Bearer wrong' })).toBe(401);
    expect(server.app.wsHub.clientCount).toBe(0);
  });

  it('accepts the token as ?token= or in the Authorization header, and a session token', async () => {
    const server = await startServer();
    const byQuery = openClient(server, { query: `?token=${TOKEN}` });
    const byHeader = openClient(server, { headers: { authorization: `Bearer ${TOKEN}` } });
    const login = await server.services.login('operator', 'correct horse');
    const bySession = openClient(server, { query: `?token=${encodeURIComponent(login?.token ?? '')}` });
    await Promise.all([byQuery, byHeader, bySession].map((c) => c.until(hasType('hello'))));
    expect(bySession.messages[0]).toMatchObject({ type: 'hello', data: { username: 'operator', role: 'operator' } });
    expect(server.app.wsHub.clientCount).toBe(3);
    expect(await server.metrics.metricsText()).toContain('se_ws_clients 3');
  });

  it('keeps tokens passed in the URL out of the log', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const server = await startServer({}, logger);
    expect(await rejectedStatus(server, '?token=wrong-secret-in-url')).toBe(401);
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));
    client.ws.close();
    await client.closed;
    await eventually(() => server.app.wsHub.clientCount === 0, 'the server to see the close');
    const log = lines.join('');
    expect(log).toContain('token=REDACTED');
    expect(log).not.toContain('wrong-secret-in-url');
    expect(log).not.toContain(TOKEN);
  });
});

describe('WebSocket relaying', () => {
  it('relays device, channel, alarm and catalog events as { type, data }', async () => {
    const server = await startServer();
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));

    const events = server.services.events;
    events.emit('device-status', { deviceId: DEVICE_ONLINE, status: 'offline', reason: 'keepalive-timeout', at: 1 });
    events.emit('channel-status', { deviceId: DEVICE_ONLINE, channelIds: ['44030500001310000001'], status: 'offline', at: 1 });
    const alarm = { ...server.services.alarms[0] };
    events.emit('alarm', alarm);
    events.emit('catalog-progress', { deviceId: DEVICE_ONLINE, sn: 7, received: 3, total: 10, state: 'receiving' });
    await client.until((m) => m.length >= 5);

    expect(client.messages.slice(1)).toEqual([
      { type: 'device-status', data: { deviceId: DEVICE_ONLINE, status: 'offline', reason: 'keepalive-timeout', at: 1 } },
      { type: 'channel-status', data: { deviceId: DEVICE_ONLINE, channelIds: ['44030500001310000001'], status: 'offline', at: 1 } },
      { type: 'alarm', data: alarm },
      { type: 'catalog-progress', data: { deviceId: DEVICE_ONLINE, sn: 7, received: 3, total: 10, state: 'receiving' } },
    ]);
  });

  it('unsubscribes from the domain events when the server closes', async () => {
    const server = await startServer();
    expect(server.services.events.listenerCount('device-status')).toBe(1);
    await server.app.close();
    servers.splice(servers.indexOf(server), 1);
    expect(server.services.events.listenerCount('device-status')).toBe(0);
  });
});

describe('slow WebSocket clients', () => {
  it('coalesces statuses of a client that stops reading, keeps every alarm, and catches it up when it reads again', async () => {
    const server = await startServer();
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));
    client.raw.pause();

    const DEVICES = 500;
    const events = server.services.events;
    let emitted = 0;
    let round = 0;
    const emitRound = (): void => {
      round++;
      for (let d = 0; d < DEVICES; d++) {
        events.emit('device-status', {
          deviceId: deviceId(d),
          status: round % 2 === 0 ? 'online' : 'offline',
          reason: null,
          at: round,
        });
        emitted++;
      }
    };

    // Until the kernel buffers are full nothing needs coalescing.
    while (!onlySnapshot(server).coalescing) {
      emitRound();
      await nextTurn();
      if (round > 2_000) throw new Error('the client never started coalescing');
    }

    // 50,000 more status events and some alarms while the client reads nothing.
    const alarms: AlarmEvent[] = [];
    const emittedBefore = emitted;
    while (emitted - emittedBefore < 50_000) {
      emitRound();
      const alarm = { ...server.services.alarms[0], id: `storm-${round}` };
      alarms.push(alarm);
      events.emit('alarm', alarm);
      await nextTurn();
      const snapshot = onlySnapshot(server);
      expect(snapshot.coalescing).toBe(true);
      expect(snapshot.backlogKeys).toBeLessThanOrEqual(DEVICES);
      expect(snapshot.pendingAlarms).toBe(alarms.length);
      // The socket buffer stays at the limit plus at most one message.
      expect(snapshot.bufferedAmount).toBeLessThanOrEqual(MAX_BUFFERED + 1024);
    }
    const finalRound = round;
    expect(onlySnapshot(server).peakBacklog).toBeLessThanOrEqual(DEVICES + alarms.length);

    // Reading again: every device ends at its latest state, statuses never go back in time, no alarm is lost.
    const latest = new Map<string, number>();
    let wentBack = false;
    let cursor = 0;
    const caughtUp = (messages: Message[]): boolean => {
      for (; cursor < messages.length; cursor++) {
        const message = messages[cursor];
        if (message.type !== 'device-status') continue;
        const id = message.data.deviceId as string;
        const at = message.data.at as number;
        if ((latest.get(id) ?? 0) > at) wentBack = true;
        latest.set(id, at);
      }
      return latest.size === DEVICES && [...latest.values()].every((at) => at === finalRound);
    };
    client.raw.resume();
    await client.until(caughtUp);
    await client.until((m) => m.filter((x) => x.type === 'alarm').length === alarms.length);

    expect(wentBack).toBe(false);
    const receivedAlarmIds = client.messages.filter((m) => m.type === 'alarm').map((m) => m.data.id);
    expect(receivedAlarmIds).toEqual(alarms.map((a) => a.id));
    const receivedStatuses = client.messages.filter((m) => m.type === 'device-status').length;
    expect(receivedStatuses).toBeLessThan(emitted);

    await eventually(() => !onlySnapshot(server).coalescing, 'the client to leave coalescing');
    expect(onlySnapshot(server)).toMatchObject({ backlogKeys: 0, pendingAlarms: 0, closing: false });
    // Back to direct sending.
    events.emit('device-status', { deviceId: deviceId(0), status: 'online', reason: 'registered', at: finalRound + 1 });
    await client.until((m) => {
      caughtUp(m);
      return latest.get(deviceId(0)) === finalRound + 1;
    });
    expect(await server.metrics.metricsText()).not.toMatch(/se_ws_dropped_clients_total\{reason=/);
  });

  it('coalesces channel statuses per channel and merges them into few messages when flushing', async () => {
    const server = await startServer();
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));
    client.raw.pause();
    await fillUntilCoalescing(server);

    const channelIds = Array.from({ length: 3_000 }, (_, i) => `4403050000131${String(i).padStart(7, '0')}`);
    for (const status of ['offline', 'online', 'offline'] as const) {
      server.services.events.emit('channel-status', { deviceId: DEVICE_ONLINE, channelIds, status, at: 5 });
    }
    expect(onlySnapshot(server).backlogKeys).toBeLessThanOrEqual(20 + channelIds.length);

    client.raw.resume();
    const channelStatus = (): Message[] => client.messages.filter((m) => m.type === 'channel-status');
    await client.until(() => channelStatus().reduce((n, m) => n + (m.data.channelIds as string[]).length, 0) >= channelIds.length);
    const messages = channelStatus();
    expect(messages.every((m) => m.data.status === 'offline')).toBe(true);
    expect(messages.length).toBeLessThanOrEqual(3);
    expect(messages.flatMap((m) => m.data.channelIds as string[]).sort()).toEqual([...channelIds].sort());
  });

  it('closes a client with 1013 when its backlog exceeds the cap, and counts it', async () => {
    const CAP = 1_000;
    const server = await startServer({ maxBacklogKeys: CAP });
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));
    client.raw.pause();
    await fillUntilCoalescing(server);

    // Every event names a new device: nothing to coalesce, so the backlog grows until the cap.
    let n = 0;
    while (!onlySnapshot(server).closing) {
      server.services.events.emit('device-status', { deviceId: deviceId(n++), status: 'online', reason: null, at: n });
      if (n % 100 === 0) await nextTurn();
      expect(onlySnapshot(server).backlogKeys).toBeLessThanOrEqual(CAP);
      if (n > 50_000) throw new Error('the client was never dropped');
    }
    // The backlog already held the ~20 catalog entries of the fill.
    expect(n).toBeGreaterThan(CAP - 20);
    expect(onlySnapshot(server).backlogKeys).toBe(0);

    client.raw.resume();
    expect((await client.closed).code).toBe(1013);
    await eventually(() => server.app.wsHub.clientCount === 0, 'the server to forget the client');
    const metrics = await server.metrics.metricsText();
    expect(metrics).toContain('se_ws_dropped_clients_total{reason="backlog"} 1');
    expect(metrics).toContain('se_ws_clients 0');
  });

  it('closes a client that stays stalled past the stall timeout', async () => {
    const server = await startServer({ stallTimeoutMs: 300 });
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));
    client.raw.pause();
    await fillUntilCoalescing(server);

    await eventually(() => onlySnapshot(server).closing, 'the stalled client to be dropped');
    client.raw.resume();
    expect((await client.closed).code).toBe(1013);
    expect(await server.metrics.metricsText()).toContain('se_ws_dropped_clients_total{reason="stalled"} 1');
  });

  it('drops a client rather than lose alarms beyond the alarm cap', async () => {
    const server = await startServer({ maxPendingAlarms: 50 });
    const client = openClient(server, { query: `?token=${TOKEN}` });
    await client.until(hasType('hello'));
    client.raw.pause();
    await fillUntilCoalescing(server);

    for (let i = 0; i < 50; i++) server.services.events.emit('alarm', { ...server.services.alarms[0], id: `a-${i}` });
    expect(onlySnapshot(server)).toMatchObject({ pendingAlarms: 50, closing: false });
    server.services.events.emit('alarm', { ...server.services.alarms[0], id: 'one-too-many' });
    expect(onlySnapshot(server)).toMatchObject({ pendingAlarms: 0, closing: true });

    client.raw.resume();
    expect((await client.closed).code).toBe(1013);
    expect(await server.metrics.metricsText()).toContain('se_ws_dropped_clients_total{reason="alarm-backlog"} 1');
  });
});
