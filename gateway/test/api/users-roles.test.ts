/**
 * Users, roles and scopes against a real gateway (SQLite store) and simulated devices in two counties
 * (440306: IPCs A, 440307: IPCs B) plus a lower platform with business groups (440305):
 * - /api/users: create / list / get / change / delete, validation, admins only;
 * - the role table: what each role may and may not do (403 with the reason);
 * - a scoped operator sees only its channels in lists, detail, tree, search, stats, WebSocket events, play,
 *   snapshot, the health list and its CSV, and gets 404 (not 403) for the rest; a group-scoped one likewise;
 * - PTZ arbitration between two operators and a takeover by an admin;
 * - the audit log (filters, CSV) for logins, plays, PTZ, acknowledgements and user changes;
 * - login lockout per user and per source (last: it locks this test's own address out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DeviceFleet } from '../../src/sim/index.js';
import type { AlarmEvent, Channel, Device, Page } from '../../src/domain/model.js';
import type { GatewayStats, TreeNodeView } from '../../src/domain/services.js';
import type { TreeSearchHit } from '../../src/domain/catalog/tree-views.js';
import type { AuditEntry } from '../../src/domain/audit/audit-log.js';
import type { UserView } from '../../src/domain/auth/user-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const PASSWORD = 'roles-pass-1';
const PLATFORM_CHANNELS = 20;

interface ErrorBody {
  error: string;
  message: string;
  field?: string;
  holder?: { holder: string; role: string; channelId: string; since: number; expiresAt: number };
}
interface WsMessage {
  type: string;
  data: Record<string, unknown>;
}
interface Level {
  total: number;
  items: TreeNodeView[];
}

function openWs(h: Harness, token: string): Promise<{ ws: WebSocket; messages: WsMessage[] }> {
  const ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(token)}`);
  const messages: WsMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as WsMessage));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

describe('users, roles and scopes (real gateway, simulated devices)', () => {
  let h: Harness;
  let countyA: DeviceFleet;
  let countyB: DeviceFleet;
  let platform: DeviceFleet;
  let a: string[];
  let b: string[];
  let groupId: string;
  let groupTotal: number;
  const tokens: Record<string, string> = {};

  const as = <T>(user: string, path: string, init: { method?: string; body?: unknown } = {}) => h.api<T>(path, { ...init, token: tokens[user] });
  const login = async (username: string, password = `${username}-password`) => {
    const r = await h.api<{ token: string }>('/api/auth/login', { body: { username, password }, token: null });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    tokens[username] = r.body.token;
  };
  const createUser = async (username: string, role: string, extra: Record<string, unknown> = {}) => {
    const r = await h.api<UserView>('/api/users', { body: { username, password: `${username}-password`, role, ...extra } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    await login(username);
    return r.body;
  };

  beforeAll(async () => {
    h = await startHarness({
      overrides: {
        sip: { password: PASSWORD, keepaliveIntervalSec: 2, catalogTimeoutSec: 5 },
        access: { loginMaxFailuresPerUser: 3, loginMaxFailuresPerSource: 8, loginLockoutSec: 600, ptzLeaseSec: 600 },
      },
    });
    countyA = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 2, keepaliveSec: 2, idPrefix: '44030600', firstSerial: 100 });
    countyB = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 2, keepaliveSec: 2, idPrefix: '44030700', firstSerial: 200 });
    platform = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, platformChannels: PLATFORM_CHANNELS, keepaliveSec: 2, idPrefix: '44030500' });
    await Promise.all([countyA.start(), countyB.start(), platform.start()]);
    await Promise.all([countyA.waitForRegistered(2, 30_000), countyB.waitForRegistered(2, 30_000), platform.waitForRegistered(1, 30_000)]);
    a = countyA.devices.map((d) => d.id);
    b = countyB.devices.map((d) => d.id);
    const all = 4 + PLATFORM_CHANNELS;
    await h.waitFor(async () => (await h.api<GatewayStats>('/api/stats')).body.channels.online === all, 60_000, 'every channel online');
    const groups = (await h.api<Level>('/api/tree?view=group')).body.items.filter((n) => n.kind === 'business-group');
    expect(groups.length).toBeGreaterThan(0);
    groupId = groups[0].id;
    groupTotal = groups[0].total;
    expect(groupTotal).toBeGreaterThan(0);

    await createUser('op-a', 'operator', { scopes: { regions: ['440306'] } });
    await createUser('op-a2', 'operator', { scopes: { regions: ['440306'] } });
    await createUser('op-b', 'operator', { scopes: { regions: ['440307'] } });
    await createUser('op-grp', 'operator', { scopes: { groups: [groupId] } });
    await createUser('watcher', 'viewer');
    await createUser('fixer', 'maintainer');
    await createUser('fixer-play', 'maintainer', { grants: ['play'] });
    await createUser('boss', 'admin');
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([countyA?.stop({ unregister: false }), countyB?.stop({ unregister: false }), platform?.stop({ unregister: false })]);
    await h?.stop();
  });

  describe('/api/users', () => {
    it('creates, lists, reads, changes and deletes users; never returns a password', async () => {
      const created = await h.api<UserView & { password?: string; passwordHash?: string }>('/api/users', {
        body: { username: 'temp', password: 'temp-password', role: 'viewer', scopes: { regions: ['440306', '440306'] } },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: 'temp', username: 'temp', role: 'viewer', scopes: { regions: ['440306'], groups: [] }, grants: [], permissions: ['view', 'play'] });
      expect(created.body.password).toBeUndefined();
      expect(created.body.passwordHash).toBeUndefined();
      const list = await h.api<{ total: number; items: UserView[] }>('/api/users');
      expect(list.body.items.map((u) => u.id)).toEqual(expect.arrayContaining(['admin', 'op-a', 'boss', 'temp']));
      const changed = await h.api<UserView>('/api/users/temp', { method: 'PATCH', body: { role: 'operator', scopes: { groups: [groupId] } } });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ role: 'operator', scopes: { regions: [], groups: [groupId] } });
      expect((await h.api<UserView>('/api/users/temp')).body.role).toBe('operator');
      expect((await h.api('/api/users/temp', { method: 'DELETE' })).status).toBe(200);
      expect((await h.api('/api/users/temp')).status).toBe(404);
    });

    it('validation names the field; duplicates are 409; only admins manage users (403 with the reason)', async () => {
      const short = await h.api<ErrorBody>('/api/users', { body: { username: 'x1', password: 'short', role: 'viewer' } });
      expect(short.status).toBe(400);
      expect(short.body.field).toBe('body.password');
      const badRole = await h.api<ErrorBody>('/api/users', { body: { username: 'x1', password: 'long-enough-1', role: 'superuser' } });
      expect(badRole.body.field).toBe('body.role');
      const badScope = await h.api<ErrorBody>('/api/users', { body: { username: 'x1', password: 'long-enough-1', role: 'viewer', scopes: { regions: ['Shenzhen'] } } });
      expect(badScope.body.field).toBe('body.scopes.regions.0');
      expect((await h.api<ErrorBody>('/api/users', { body: { username: 'op-a', password: 'long-enough-1', role: 'viewer' } })).status).toBe(409);
      const denied = await as<ErrorBody>('op-a', '/api/users');
      expect(denied.status).toBe(403);
      expect(denied.body.message).toMatch(/operator role may not manage users/);
      expect((await as('boss', '/api/users')).status).toBe(200);
    });

    it('GET /api/auth/me tells the caller its role, scopes and permissions; a static token is an unscoped admin', async () => {
      const me = await as<{ user: Record<string, unknown> }>('fixer-play', '/api/auth/me');
      expect(me.body.user).toEqual({ username: 'fixer-play', role: 'maintainer', kind: 'session', scopes: {}, permissions: ['view', 'export', 'maintain', 'play'] });
      expect((await as<{ user: Record<string, unknown> }>('op-a', '/api/auth/me')).body.user).toMatchObject({ role: 'operator', scopes: { regions: ['440306'] } });
      expect((await h.api<{ user: Record<string, unknown> }>('/api/auth/me')).body.user).toMatchObject({ username: 'api-token', role: 'admin', kind: 'static-token', scopes: {} });
    });
  });

  describe('the role table', () => {
    it('a viewer may look and play but not steer, acknowledge, export or re-query', async () => {
      expect((await as('watcher', '/api/devices')).status).toBe(200);
      const ptz = await as<ErrorBody>('watcher', `/api/channels/${a[0]}/ptz`, { body: { action: 'stop' } });
      expect(ptz.status).toBe(403);
      expect(ptz.body.message).toMatch(/viewer role may not steer cameras/);
      expect((await as('watcher', '/api/alarms/0000000000000000000000aa/ack', { body: {} })).status).toBe(403);
      expect((await as('watcher', '/api/health/channels?format=csv')).status).toBe(403);
      expect((await as('watcher', `/api/devices/${a[0]}/catalog`, { method: 'POST' })).status).toBe(403);
      expect((await as('watcher', '/api/audit')).status).toBe(403);
    });

    it('a maintainer may re-query and export but not play, unless granted play; an operator may not re-query', async () => {
      const play = await as<ErrorBody>('fixer', `/api/channels/${a[0]}/play`, { body: {} });
      expect(play.status).toBe(403);
      expect(play.body.message).toMatch(/maintainer role may not play live video/);
      expect((await as('fixer', `/api/channels/${a[0]}/snapshot`)).status).toBe(403);
      expect((await as('fixer', `/api/devices/${a[0]}/catalog`, { method: 'POST' })).status).toBe(202);
      expect((await as('fixer', '/api/health/channels?format=csv')).status).toBe(200);
      expect((await as('fixer', `/api/channels/${a[0]}/ptz`, { body: { action: 'stop' } })).status).toBe(403);
      expect((await as('op-a', `/api/devices/${a[0]}/catalog`, { method: 'POST' })).status).toBe(403);
      const granted = await as<{ hls: string; streamId: string; viewerId: string }>('fixer-play', `/api/channels/${a[0]}/play`, { body: {} });
      expect(granted.status, JSON.stringify(granted.body)).toBe(200);
      expect(granted.body.hls).toMatch(/^\/media\/[^/]+\/index\.m3u8$/);
      await as('fixer-play', `/api/streams/${granted.body.streamId}?viewerId=${granted.body.viewerId}`, { method: 'DELETE' });
    }, 60_000);
  });

  describe('a scoped operator sees only its channels', () => {
    it('device and channel lists and details: in scope listed, out of scope 404', async () => {
      const devices = await as<Page<Device>>('op-a', '/api/devices?limit=100');
      expect(devices.body.items.map((d) => d.id).sort()).toEqual([...a].sort());
      expect(devices.body.total).toBe(2);
      const channels = await as<Page<Channel>>('op-a', '/api/channels?kind=channel&limit=100');
      expect(channels.body.items.map((c) => c.id).sort()).toEqual([...a].sort());
      expect((await as('op-a', `/api/devices/${a[0]}`)).status).toBe(200);
      expect((await as('op-a', `/api/channels/${a[0]}`)).status).toBe(200);
      for (const path of [`/api/devices/${b[0]}`, `/api/channels/${b[0]}`, `/api/devices/${b[0]}/channels`, `/api/devices/${b[0]}/info`]) {
        const r = await as<ErrorBody>('op-a', path);
        expect(r.status, path).toBe(404);
      }
      // The admin's view of the same lists is whole.
      expect((await h.api<Page<Device>>('/api/devices')).body.total).toBe(5);
    });

    it('trees and search: counts only the scope, nodes outside it are 404, search finds only in scope', async () => {
      const top = await as<Level>('op-a', '/api/tree?view=region');
      expect(top.body.items.map((n) => [n.id, n.total])).toEqual([['44', 2]]);
      const counties = await as<Level>('op-a', '/api/tree?view=region&parent=4403');
      expect(counties.body.items.map((n) => n.id)).toEqual(['440306']);
      expect((await as('op-a', '/api/tree?view=region&parent=440307')).status).toBe(404);
      const leaves = await as<Level>('op-a', '/api/tree?view=region&parent=440306');
      expect(leaves.body.items.map((n) => n.id).sort()).toEqual([...a].sort());
      const search = await as<{ total: number; items: TreeSearchHit[] }>('op-a', '/api/tree/search?view=region&q=4403');
      const hits = search.body.items.map((n) => n.id);
      expect(hits).toEqual(expect.arrayContaining([...a, '440306']));
      expect(hits.some((id) => id.startsWith('440307') || id.startsWith('440305'))).toBe(false);
      const catalog = await as<Level>('op-a', '/api/tree?view=catalog');
      expect(catalog.body.items.map((n) => n.id).sort()).toEqual([...a].sort());
      const stats = await as<GatewayStats>('op-a', '/api/stats');
      expect(stats.body.channels).toMatchObject({ online: 2, total: 2 });
      expect(stats.body.devices).toMatchObject({ online: 2, total: 2 });
    });

    it('a group-scoped operator sees exactly the group\'s channels', async () => {
      const channels = await as<Page<Channel>>('op-grp', '/api/channels?kind=channel&limit=1000');
      expect(channels.body.total).toBe(groupTotal);
      const top = await as<Level>('op-grp', '/api/tree?view=group');
      expect(top.body.items.map((n) => [n.id, n.total])).toEqual([[groupId, groupTotal]]);
      expect((await as('op-grp', `/api/channels/${a[0]}`)).status).toBe(404);
    });

    it('play and snapshot: out of scope 404 without touching the device; in scope plays; streams list only the scope', async () => {
      const out = await as<ErrorBody>('op-a', `/api/channels/${b[0]}/play`, { body: {} });
      expect(out.status).toBe(404);
      expect(out.body.message).toBe(`channel ${b[0]} not found`);
      expect((await as('op-a', `/api/channels/${b[0]}/snapshot`)).status).toBe(404);
      expect(countyB.activeStreams()).toHaveLength(0);
      const mine = await as<{ streamId: string; viewerId: string; hls: string }>('op-a', `/api/channels/${a[1]}/play`, { body: {} });
      expect(mine.status, JSON.stringify(mine.body)).toBe(200);
      const other = await as<{ streamId: string; viewerId: string }>('op-b', `/api/channels/${b[1]}/play`, { body: {} });
      expect(other.status, JSON.stringify(other.body)).toBe(200);
      const listA = await as<{ items: Array<{ channelId: string }> }>('op-a', '/api/streams');
      // The earlier play of a[0] may still be idling out; b[1]'s stream (op-b's) must not be listed.
      const listed = listA.body.items.map((s) => s.channelId);
      expect(listed).toContain(a[1]);
      expect(listed.every((id) => a.includes(id))).toBe(true);
      expect((await h.api<{ items: Array<{ channelId: string }> }>('/api/streams')).body.items.map((s) => s.channelId)).toContain(b[1]);
      expect((await as('op-a', `/api/streams/${other.body.streamId}`)).status).toBe(404);
      expect((await as('op-a', `/api/streams/${other.body.streamId}`, { method: 'DELETE' })).status).toBe(404);
      await as('op-a', `/api/streams/${mine.body.streamId}?viewerId=${mine.body.viewerId}`, { method: 'DELETE' });
      await as('op-b', `/api/streams/${other.body.streamId}?viewerId=${other.body.viewerId}`, { method: 'DELETE' });
    }, 90_000);

    it('a scoped chair shares only channels in its scope in a consultation session', async () => {
      const outside = await as<ErrorBody>('op-a', '/api/sessions', { body: { name: 'cross-county', sources: [a[0], b[0]] } });
      expect(outside.status).toBe(404);
      expect(outside.body.message).toBe(`channel ${b[0]} not found`);
      const inside = await as<{ id: string; code: string; participants: Array<{ id: string }> }>('op-a', '/api/sessions', { body: { name: 'county A', sources: [a[0]] } });
      expect(inside.status, JSON.stringify(inside.body)).toBe(201);
      // Over the session WebSocket the chair cannot widen the session beyond its scope either: a layout with a
      // county-B camera, or rolling in a guest whose terminal is a county-B camera, is refused as "not found".
      const guest = await h.api<{ participantId: string }>('/api/sessions/join', { body: { code: inside.body.code, name: 'B point', terminalChannelId: b[0] }, token: null });
      expect(guest.status).toBe(200);
      const url = `${h.gateway.httpUrl.replace('http', 'ws')}/api/sessions/${inside.body.id}/ws?token=${encodeURIComponent(tokens['op-a']!)}&participant=${inside.body.participants[0]!.id}`;
      const chair = new WebSocket(url);
      const replies: WsMessage[] = [];
      chair.on('message', (raw) => replies.push(JSON.parse(String(raw)) as WsMessage));
      await new Promise<void>((resolve, reject) => {
        chair.once('open', () => resolve());
        chair.once('error', reject);
      });
      try {
        const errorAbout = (channelId: string) => h.waitFor(() => replies.find((m) => m.type === 'error' && JSON.stringify(m.data).includes(channelId)) ?? null, 10_000, `error about ${channelId}`);
        chair.send(JSON.stringify({ type: 'layout', data: { kind: '4', tiles: [a[0], b[0], null, null].map((channelId) => ({ channelId })), maximised: null } }));
        expect((await errorAbout(b[0]!)).data).toMatchObject({ code: 'not-found', message: `channel ${b[0]} not found` });
        chair.send(JSON.stringify({ type: 'roll-call', data: { participantId: guest.body.participantId } }));
        await h.waitFor(() => (replies.filter((m) => m.type === 'error' && JSON.stringify(m.data).includes(b[0]!)).length >= 2 ? true : null), 10_000, 'roll-call refused');
        const session = await as<{ sources: string[]; rollCall: { participantId: string | null } }>('op-a', `/api/sessions/${inside.body.id}`);
        expect(session.body.sources).not.toContain(b[0]);
        expect(session.body.rollCall.participantId).toBeNull();
      } finally {
        chair.close();
      }
      expect((await as('op-a', `/api/sessions/${inside.body.id}/end`, { method: 'POST' })).status).toBe(200);
    });

    it('the health list and its CSV hold only the scope', async () => {
      const list = await h.waitFor(async () => {
        const r = await as<Page<{ channelId: string }>>('op-a', '/api/health/channels?limit=100');
        return r.body.total === 2 ? r : null;
      }, 30_000, 'op-a health list');
      const everything = await h.api<Page<{ channelId: string }>>('/api/health/channels?limit=100');
      expect(everything.body.total).toBeGreaterThanOrEqual(4 + PLATFORM_CHANNELS);
      expect(list.body.items.map((c) => c.channelId).sort()).toEqual([...a].sort());
      const csv = await as<string>('op-a', '/api/health/channels?format=csv&lang=en');
      expect(csv.status).toBe(200);
      const rows = csv.body.trim().split('\r\n');
      expect(rows).toHaveLength(3);
      for (const id of a) expect(csv.body).toContain(id);
      for (const id of b) expect(csv.body).not.toContain(id);
      expect((await as('op-a', `/api/health/channels/${b[0]}`)).status).toBe(404);
    });

    it('the health summary counts only the scope and hides nodes outside it', async () => {
      type Figures = { devices: { total: number }; channels: { total: number } };
      type Summary = { overall: Figures; yesterday: unknown; nodes: Array<{ id: string; figures: Figures }> };
      const mine = await as<Summary>('op-a', '/api/health/summary?groupBy=region');
      expect(mine.status).toBe(200);
      expect(mine.body.overall.channels.total).toBe(2);
      expect(mine.body.overall.devices.total).toBe(2);
      expect(mine.body.yesterday).toBeNull();
      for (const node of mine.body.nodes) expect(node.figures.channels.total).toBeGreaterThan(0);
      const everything = await h.api<Summary>('/api/health/summary?groupBy=region');
      expect(everything.body.overall.channels.total).toBeGreaterThanOrEqual(4 + PLATFORM_CHANNELS);
      // Down the region tree to the county: op-a's county is there, op-b's is 404 (not 403: nothing revealed).
      const path = async (user: string | null, parent?: string) =>
        (user ? as<Summary>(user, `/api/health/summary?groupBy=region${parent ? `&parent=${parent}` : ''}`) : h.api<Summary>(`/api/health/summary?groupBy=region${parent ? `&parent=${parent}` : ''}`));
      const countyOf = async (user: string | null, county: string): Promise<number> => {
        let parent: string | undefined;
        for (let depth = 0; depth < 4; depth++) {
          const r = await path(user, parent);
          if (r.status !== 200) return r.status;
          const next = r.body.nodes.find((n) => county.startsWith(n.id) || n.id.startsWith(county));
          if (!next) return 404;
          if (next.id.startsWith(county)) return 200;
          parent = next.id;
        }
        return 404;
      };
      expect(await countyOf('op-a', '440306')).toBe(200);
      expect(await countyOf(null, '440307')).toBe(200);
      expect(await countyOf('op-a', '440307')).toBe(404);
      expect((await as('op-a', '/api/health/summary?groupBy=region&parent=440307')).status).toBe(404);
    });

    it('WebSocket events: alarms and status changes of other counties never reach a scoped connection', async () => {
      const admin = await openWs(h, tokens.boss);
      const mine = await openWs(h, tokens['op-a']);
      try {
        await h.waitFor(() => admin.messages.some((m) => m.type === 'hello') && mine.messages.some((m) => m.type === 'hello'), 10_000, 'hello');
        expect(await countyB.raiseAlarm(b[0], { description: 'B alarm' })).toBe(200);
        await h.waitFor(() => admin.messages.some((m) => m.type === 'alarm' && m.data.sourceId === b[0]), 20_000, 'admin sees B alarm');
        expect(await countyA.raiseAlarm(a[0], { description: 'A alarm' })).toBe(200);
        await h.waitFor(() => mine.messages.some((m) => m.type === 'alarm' && m.data.sourceId === a[0]), 20_000, 'op-a sees A alarm');
        // B went offline and back too: op-a must not hear of it.
        countyB.stopDevices([b[0]]);
        await h.waitFor(() => admin.messages.some((m) => m.type === 'device-status' && m.data.deviceId === b[0] && m.data.status === 'offline'), 30_000, 'admin sees B offline');
        countyB.restartDevices([b[0]]);
        await h.waitFor(() => admin.messages.some((m) => m.type === 'device-status' && m.data.deviceId === b[0] && m.data.status === 'online'), 30_000, 'admin sees B online');
        countyA.stopDevices([a[0]]);
        await h.waitFor(() => mine.messages.some((m) => m.type === 'device-status' && m.data.deviceId === a[0] && m.data.status === 'offline'), 30_000, 'op-a sees A offline');
        countyA.restartDevices([a[0]]);
        await h.waitFor(() => mine.messages.some((m) => m.type === 'device-status' && m.data.deviceId === a[0] && m.data.status === 'online'), 30_000, 'op-a sees A online');
        const leaked = mine.messages.filter((m) => JSON.stringify(m.data).includes(b[0]) || JSON.stringify(m.data).includes(platform.devices[0].id));
        expect(leaked).toEqual([]);
        // The admin heard both counties' alarms; op-a's alarm list over HTTP holds only its own, and B's is 404 to it.
        const bAlarm = (await h.api<Page<AlarmEvent>>(`/api/alarms?deviceId=${b[0]}`)).body.items[0];
        expect((await as('op-a', `/api/alarms/${bAlarm.id}/ack`, { body: {} })).status).toBe(404);
        expect((await h.api<Page<AlarmEvent>>(`/api/alarms?deviceId=${b[0]}&acknowledged=false`)).body.total).toBe(1);
        const alarms = await as<Page<AlarmEvent>>('op-a', '/api/alarms');
        expect(alarms.body.items.map((x) => x.sourceId)).toEqual([a[0]]);
        const ack = await as<AlarmEvent>('op-a', `/api/alarms/${alarms.body.items[0].id}/ack`, { body: { note: 'seen' } });
        expect(ack.status).toBe(200);
      } finally {
        admin.ws.close();
        mine.ws.close();
      }
    }, 120_000);
  });

  describe('PTZ arbitration', () => {
    it('one operator steers at a time; the other gets 409 with the holder; an admin takes over', async () => {
      await h.waitFor(async () => (await as<Device>('op-a', `/api/devices/${a[0]}`)).body.status === 'online', 30_000, 'A0 online');
      const first = await as<{ lease: { holder: string } }>('op-a', `/api/channels/${a[0]}/ptz`, { body: { action: 'move', direction: 'left', durationMs: 200 } });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.lease.holder).toBe('op-a');
      const second = await as<ErrorBody>('op-a2', `/api/channels/${a[0]}/ptz`, { body: { action: 'move', direction: 'right' } });
      expect(second.status).toBe(409);
      expect(second.body.holder).toMatchObject({ holder: 'op-a', role: 'operator', channelId: a[0] });
      expect(second.body.message).toMatch(/held by op-a/);
      expect((await as<{ lease: { holder: string } }>('op-a2', `/api/channels/${a[0]}/ptz/lease`)).body.lease.holder).toBe('op-a');
      // Out of scope: not even the lease is visible.
      expect((await as('op-b', `/api/channels/${a[0]}/ptz`, { body: { action: 'stop' } })).status).toBe(404);
      const takeover = await as<{ takenOverFrom: { holder: string } }>('boss', `/api/channels/${a[0]}/ptz`, { body: { action: 'stop' } });
      expect(takeover.status).toBe(200);
      expect(takeover.body.takenOverFrom).toEqual({ holder: 'op-a', role: 'operator' });
      const back = await as<ErrorBody>('op-a', `/api/channels/${a[0]}/ptz`, { body: { action: 'stop' } });
      expect(back.status).toBe(409);
      expect(back.body.holder?.holder).toBe('boss');
      expect((await as('boss', `/api/channels/${a[0]}/ptz/lease`, { method: 'DELETE' })).status).toBe(200);
      expect((await as('op-a2', `/api/channels/${a[0]}/ptz`, { body: { action: 'stop' } })).status).toBe(200);
    });
  });

  describe('audit log', () => {
    it('records logins, plays, PTZ with the takeover, acknowledgements and user changes; filters and CSV', async () => {
      const byOpA = await h.api<Page<AuditEntry>>('/api/audit?user=op-a&limit=200');
      expect(byOpA.status).toBe(200);
      const actions = new Set(byOpA.body.items.map((e) => `${e.action}/${e.outcome}`));
      for (const expected of ['login/ok', 'play/ok', 'play/denied', 'snapshot/denied', 'ptz/ok', 'ptz/failed', 'alarm-ack/ok', 'catalog-query/denied']) expect(actions, expected).toContain(expected);
      expect(byOpA.body.items.every((e) => e.user === 'op-a' && e.source !== '')).toBe(true);
      const takeover = await h.api<Page<AuditEntry>>('/api/audit?action=ptz-takeover');
      expect(takeover.body.items).toHaveLength(1);
      expect(takeover.body.items[0]).toMatchObject({ user: 'boss', role: 'admin', target: a[0], outcome: 'ok' });
      expect(takeover.body.items[0].detail).toMatch(/took over from op-a/);
      const userChanges = await h.api<Page<AuditEntry>>('/api/audit?action=user-update');
      expect(userChanges.body.items[0]).toMatchObject({ target: 'temp', user: 'api-token' });
      const onChannel = await h.api<Page<AuditEntry>>(`/api/audit?target=${b[0]}&user=op-a`);
      expect(onChannel.body.items.length).toBeGreaterThan(0);
      expect(onChannel.body.items.every((e) => e.outcome === 'denied')).toBe(true);
      // Time range and paging: newest first.
      const newest = byOpA.body.items[0].at;
      const ranged = await h.api<Page<AuditEntry>>(`/api/audit?user=op-a&since=${newest}&until=${newest + 1}`);
      expect(ranged.body.items.every((e) => e.at === newest)).toBe(true);
      const page2 = await h.api<Page<AuditEntry>>('/api/audit?user=op-a&offset=1&limit=1');
      expect(page2.body.items[0].id).toBe(byOpA.body.items[1].id);

      const csv = await h.api<string>('/api/audit?format=csv&action=user-create');
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      const rows = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
      expect(rows[0]).toBe('time (UTC),user,role,action,target,outcome,source,detail');
      expect(rows.some((r) => r.includes(',user-create,op-a,ok,'))).toBe(true);
      // Exporting the audit log is itself audited.
      expect((await h.api<Page<AuditEntry>>('/api/audit?action=export')).body.items.some((e) => e.target === '/api/audit')).toBe(true);
    });
  });

  describe('login brute force (last: it locks this test\'s address out)', () => {
    it('locks a username after repeated failures, refusing even the right password (429 with Retry-After)', async () => {
      for (let i = 0; i < 3; i++) expect((await h.api('/api/auth/login', { body: { username: 'watcher', password: `guess-${i}` }, token: null })).status).toBe(401);
      const locked = await h.api<ErrorBody>('/api/auth/login', { body: { username: 'watcher', password: 'watcher-password' }, token: null });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(590);
      expect(locked.body.message).toMatch(/too many failed logins for this user/);
      // Another user from the same address (3 failures so far, below 8) still logs in.
      expect((await h.api('/api/auth/login', { body: { username: 'op-b', password: 'op-b-password' }, token: null })).status).toBe(200);
      // Existing sessions of the locked user keep working: the lock is on logging in.
      expect((await as('watcher', '/api/devices')).status).toBe(200);
    });

    it('locks the source address after failures across usernames', async () => {
      for (let i = 0; i < 5; i++) expect((await h.api('/api/auth/login', { body: { username: `nobody-${i}`, password: 'x' }, token: null })).status).toBe(401);
      const locked = await h.api<ErrorBody>('/api/auth/login', { body: { username: 'boss', password: 'boss-password' }, token: null });
      expect(locked.status).toBe(429);
      expect(locked.body.message).toMatch(/from this address/);
      const audit = await h.api<Page<AuditEntry>>('/api/audit?action=login-locked');
      expect(audit.body.items.map((e) => e.user)).toEqual(['boss', 'watcher']);
      expect((await h.api<Page<AuditEntry>>('/api/audit?action=login-failed&user=watcher')).body.total).toBe(3);
      const metrics = (await h.api<string>('/metrics', { token: null })).body;
      expect(metrics).toMatch(/se_api_logins_total\{result="locked-out"\} 2/);
      expect(metrics).toMatch(/se_api_logins_total\{result="wrong-password"\} 8/);
    });
  });
});
