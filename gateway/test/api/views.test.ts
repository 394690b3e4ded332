/**
 * Saved views and tours against a real gateway (HTTP on 127.0.0.1, SQLite store in a temp directory):
 * private vs shared visibility, hotkey uniqueness per owner, owner/admin-only changes, validation errors
 * naming the field, and everything surviving a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/domain/auth/auth-service.js';
import type { UserRole } from '../../src/domain/model.js';
import type { WallLayout } from '../../src/domain/views/layout.js';
import type { Tour } from '../../src/domain/views/tour-service.js';
import type { View } from '../../src/domain/views/view-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

interface Page<T> {
  total: number;
  items: T[];
}
interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

const CAM = (n: number): string => `440305000013200000${String(n).padStart(2, '0')}`;

function grid(kind: '1' | '4' | '9', channels: string[], maximised: number | null = null): WallLayout {
  const count = { '1': 1, '4': 4, '9': 9 }[kind];
  return { kind, tiles: Array.from({ length: count }, (_, i) => ({ channelId: channels[i] ?? null })), maximised };
}

const dataDir = mkdtempSync(join(tmpdir(), 'se-views-'));
let h: Harness;
const tokens: Record<string, string> = {};

async function addUser(username: string, role: UserRole): Promise<void> {
  await h.gateway.store.upsertUser({ username, passwordHash: await hashPassword(`${username}-pw`), role, createdAt: Date.now() });
}

async function login(username: string): Promise<string> {
  const r = await h.api<{ token: string }>('/api/auth/login', { body: { username, password: `${username}-pw` }, token: null });
  expect(r.status).toBe(200);
  return r.body.token;
}

async function loginAll(): Promise<void> {
  for (const user of ['alice', 'bob', 'root']) tokens[user] = await login(user);
}

function as<T>(user: string, path: string, init: { method?: string; body?: unknown } = {}) {
  return h.api<T>(path, { ...init, token: tokens[user] });
}

beforeAll(async () => {
  h = await startHarness({ dataDir });
  await addUser('alice', 'operator');
  await addUser('bob', 'operator');
  await addUser('root', 'admin');
  await loginAll();
});

afterAll(async () => {
  await h?.stop({ keepData: true });
  rmSync(dataDir, { recursive: true, force: true });
});

describe('saved views', () => {
  let alicePrivate: View;
  let bobShared: View;

  it('creates views owned by the caller; private ones are visible to their owner only', async () => {
    const created = await as<View>('alice', '/api/views', { body: { name: '南山 主路口', layout: grid('4', [CAM(1), CAM(2)], 1) } });
    expect(created.status).toBe(201);
    alicePrivate = created.body;
    expect(alicePrivate).toMatchObject({ name: '南山 主路口', owner: 'alice', shared: false, hotkey: null, layout: grid('4', [CAM(1), CAM(2)], 1) });
    expect(alicePrivate.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(alicePrivate.createdAt).toBe(alicePrivate.updatedAt);

    const shared = await as<View>('bob', '/api/views', { body: { name: 'Bob shared', shared: true, layout: { kind: 'custom', cols: 2, rows: 3, tiles: Array.from({ length: 6 }, () => ({ channelId: null })), maximised: null } } });
    expect(shared.status).toBe(201);
    bobShared = shared.body;
    expect(bobShared.layout).toEqual({ kind: 'custom', cols: 2, rows: 3, tiles: Array.from({ length: 6 }, () => ({ channelId: null })), maximised: null });

    const aliceList = await as<Page<View>>('alice', '/api/views');
    expect(aliceList.body.items.map((v) => v.id).sort()).toEqual([alicePrivate.id, bobShared.id].sort());
    expect(aliceList.body.total).toBe(2);
    const bobList = await as<Page<View>>('bob', '/api/views');
    expect(bobList.body.items.map((v) => v.id)).toEqual([bobShared.id]);
    // Private means private, also from an admin's list (an admin can still open it by id).
    const adminList = await as<Page<View>>('root', '/api/views');
    expect(adminList.body.items.map((v) => v.id)).toEqual([bobShared.id]);

    expect((await as('bob', `/api/views/${alicePrivate.id}`)).status).toBe(404);
    expect((await as<View>('alice', `/api/views/${bobShared.id}`)).body.owner).toBe('bob');
    expect((await as<View>('root', `/api/views/${alicePrivate.id}`)).status).toBe(200);
  });

  it('a hotkey is unique among one owner’s views: assigning it takes it from the others', async () => {
    const first = (await as<View>('alice', '/api/views', { body: { name: 'hk one', hotkey: 1, layout: grid('1', [CAM(3)]) } })).body;
    const bobs = (await as<View>('bob', '/api/views', { body: { name: 'bob hk', hotkey: 1, layout: grid('1', [CAM(4)]) } })).body;
    expect(first.hotkey).toBe(1);
    const second = (await as<View>('alice', '/api/views', { body: { name: 'hk two', hotkey: 1, layout: grid('1', [CAM(5)]) } })).body;
    expect(second.hotkey).toBe(1);
    expect((await as<View>('alice', `/api/views/${first.id}`)).body.hotkey).toBeNull();
    // Another owner's hotkey 1 is theirs.
    expect((await as<View>('bob', `/api/views/${bobs.id}`)).body.hotkey).toBe(1);

    // Taking it back by update; an update without hotkey keeps the view's hotkey.
    const back = await as<View>('alice', `/api/views/${first.id}`, { method: 'PUT', body: { name: 'hk one', hotkey: 1, layout: grid('1', [CAM(3)]) } });
    expect(back.status).toBe(200);
    expect(back.body.hotkey).toBe(1);
    expect((await as<View>('alice', `/api/views/${second.id}`)).body.hotkey).toBeNull();
    const renamed = await as<View>('alice', `/api/views/${first.id}`, { method: 'PUT', body: { name: 'hk one renamed', layout: grid('1', [CAM(3)]) } });
    expect(renamed.body).toMatchObject({ name: 'hk one renamed', hotkey: 1, owner: 'alice' });
    const withHotkey1 = (await as<Page<View>>('alice', '/api/views')).body.items.filter((v) => v.owner === 'alice' && v.hotkey === 1);
    expect(withHotkey1.map((v) => v.id)).toEqual([first.id]);
  });

  it('only the owner or an admin may change or delete a view', async () => {
    const body = { name: 'taken over', shared: true, layout: grid('9', [CAM(9)]) };
    const byOther = await as<ErrorBody>('alice', `/api/views/${bobShared.id}`, { method: 'PUT', body });
    expect(byOther.status).toBe(403);
    expect(byOther.body.message).toMatch(/owner/);
    expect((await as('alice', `/api/views/${bobShared.id}`, { method: 'DELETE' })).status).toBe(403);
    // Someone else's private view does not exist for them.
    expect((await as('bob', `/api/views/${alicePrivate.id}`, { method: 'PUT', body })).status).toBe(404);
    expect((await as('bob', `/api/views/${alicePrivate.id}`, { method: 'DELETE' })).status).toBe(404);

    const byAdmin = await as<View>('root', `/api/views/${bobShared.id}`, { method: 'PUT', body });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body).toMatchObject({ name: 'taken over', owner: 'bob', shared: true, layout: grid('9', [CAM(9)]) });

    const doomed = (await as<View>('bob', '/api/views', { body: { name: 'doomed', layout: grid('1', []) } })).body;
    const deleted = await as('bob', `/api/views/${doomed.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect((await as('bob', `/api/views/${doomed.id}`)).status).toBe(404);
    expect((await as('bob', `/api/views/${doomed.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses bad views with a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: 'x', layout: { ...grid('4', []), tiles: [{ channelId: null }] } }, 'body.layout.tiles'],
      [{ name: 'x', layout: { kind: 'custom', cols: 2, rows: 2, tiles: [{ channelId: null }], maximised: null } }, 'body.layout.tiles'],
      [{ name: 'x', layout: { kind: '5', tiles: [], maximised: null } }, 'body.layout.kind'],
      [{ name: 'x', layout: { kind: 'custom', rows: 2, tiles: [], maximised: null } }, 'body.layout.cols'],
      [{ name: 'x', layout: { kind: 'custom', cols: 9, rows: 2, tiles: [], maximised: null } }, 'body.layout.cols'],
      [{ name: 'x', layout: { ...grid('4', []), cols: 2 } }, 'body.layout.cols'],
      [{ name: 'x', layout: grid('4', [], 4) }, 'body.layout.maximised'],
      [{ name: 'x', layout: grid('4', ['12345678901234567890123']) }, 'body.layout.tiles.0.channelId'],
      [{ name: 'x', layout: { kind: '1', tiles: [{ channelId: null }] } }, 'body.layout.maximised'],
      [{ name: 'x', hotkey: 10, layout: grid('1', []) }, 'body.hotkey'],
      [{ name: '   ', layout: grid('1', []) }, 'body.name'],
      [{ layout: grid('1', []) }, 'body.name'],
      [{ name: 'x', layout: grid('1', []), colour: 'red' }, 'body.colour'],
    ];
    for (const [body, field] of cases) {
      const r = await as<ErrorBody>('alice', '/api/views', { body });
      expect({ status: r.status, field: r.body.field, body }).toEqual({ status: 400, field, body });
      expect(r.body.message).toContain(field);
    }
    expect((await as<ErrorBody>('alice', '/api/views/not-a-uuid')).body.field).toBe('params.id');
  });

  it('is described in the OpenAPI document', async () => {
    const doc = await h.api<{ paths: Record<string, Record<string, unknown>> }>('/docs/json');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/views', '/api/views/{id}', '/api/tours', '/api/tours/{id}']));
    expect(Object.keys(doc.body.paths['/api/views/{id}']).sort()).toEqual(['delete', 'get', 'put']);
  });
});

describe('tours', () => {
  let tileTour: Tour;

  it('stores tile and wall tours with visibility like views', async () => {
    const created = await as<Tour>('alice', '/api/tours', {
      body: { name: '路口轮巡', scope: 'tile', steps: [{ channelIds: [CAM(1)], dwellSec: 10, preset: 3 }, { channelIds: [CAM(2)], dwellSec: 86_400 }] },
    });
    expect(created.status).toBe(201);
    tileTour = created.body;
    expect(tileTour).toMatchObject({ owner: 'alice', shared: false, scope: 'tile', layoutKind: null, steps: [{ channelIds: [CAM(1)], dwellSec: 10, preset: 3 }, { channelIds: [CAM(2)], dwellSec: 86_400, preset: null }] });

    const wall = await as<Tour>('bob', '/api/tours', {
      body: { name: 'wall program', shared: true, scope: 'wall', layoutKind: '4', steps: [{ channelIds: [CAM(1), CAM(2), CAM(3), CAM(4)], dwellSec: 5, preset: null }] },
    });
    expect(wall.status).toBe(201);
    expect((await as<Page<Tour>>('alice', '/api/tours')).body.total).toBe(2);
    expect((await as<Page<Tour>>('bob', '/api/tours')).body.items.map((t) => t.id)).toEqual([wall.body.id]);
    expect((await as('alice', `/api/tours/${wall.body.id}`, { method: 'DELETE' })).status).toBe(403);

    const changed = await as<Tour>('alice', `/api/tours/${tileTour.id}`, { method: 'PUT', body: { name: '路口轮巡 2', scope: 'tile', shared: true, steps: [{ channelIds: [CAM(7)], dwellSec: 30 }] } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: '路口轮巡 2', shared: true, steps: [{ channelIds: [CAM(7)], dwellSec: 30, preset: null }], createdAt: tileTour.createdAt });
  });

  it('refuses bad tours with a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: 't', scope: 'tile', steps: [{ channelIds: [CAM(1), CAM(2)], dwellSec: 10 }] }, 'body.steps.0.channelIds'],
      [{ name: 't', scope: 'tile', steps: [{ channelIds: [CAM(1)], dwellSec: 4 }] }, 'body.steps.0.dwellSec'],
      [{ name: 't', scope: 'tile', steps: [{ channelIds: [CAM(1)], dwellSec: 10, preset: 256 }] }, 'body.steps.0.preset'],
      [{ name: 't', scope: 'tile', steps: [] }, 'body.steps'],
      [{ name: 't', scope: 'tile', layoutKind: '4', steps: [{ channelIds: [CAM(1)], dwellSec: 10 }] }, 'body.layoutKind'],
      [{ name: 't', scope: 'wall', layoutKind: '4', steps: [{ channelIds: [CAM(1), CAM(2), CAM(3), CAM(4), CAM(5)], dwellSec: 10 }] }, 'body.steps.0.channelIds'],
      [{ name: 't', scope: 'room', steps: [{ channelIds: [CAM(1)], dwellSec: 10 }] }, 'body.scope'],
      [{ name: 't', scope: 'wall', steps: [{ channelIds: ['abc'], dwellSec: 10 }] }, 'body.steps.0.channelIds.0'],
    ];
    for (const [body, field] of cases) {
      const r = await as<ErrorBody>('alice', '/api/tours', { body });
      expect({ status: r.status, field: r.body.field, body }).toEqual({ status: 400, field, body });
    }
  });
});

describe('after a gateway restart', () => {
  it('views and tours are still there, hotkeys included', async () => {
    const before = (await as<Page<View>>('alice', '/api/views')).body;
    const toursBefore = (await as<Page<Tour>>('alice', '/api/tours')).body;
    expect(before.total).toBeGreaterThan(2);
    await h.stop({ keepData: true });
    h = await startHarness({ dataDir });
    await loginAll();
    expect((await as<Page<View>>('alice', '/api/views')).body).toEqual(before);
    expect((await as<Page<Tour>>('alice', '/api/tours')).body).toEqual(toursBefore);
  });
});
