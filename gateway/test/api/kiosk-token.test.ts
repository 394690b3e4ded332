/**
 * Kiosk tokens (http.kioskTokens): a wall PC's device token watches and never changes anything. Against a real
 * gateway (HTTP on 127.0.0.1, SQLite store): the wall's reads answer, every write and every other screen's
 * route answers 403 with a reason, a wrong token 401; and the route rule itself, table-driven.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kioskMayReach } from '../../src/api/authentication.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const KIOSK = 'kiosk-token-for-the-lobby-wall-0123456789';
const CAM = '44030500001320000001';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ overrides: { http: { kioskTokens: [KIOSK] } } });
});
afterAll(async () => {
  await h?.stop();
});

describe('kiosk token', () => {
  it('reads what the wall shows: tree, channels, shared views, tours, alarms', async () => {
    const view = await h.api<{ id: string }>('/api/views', { method: 'POST', body: { name: '大厅', shared: true, hotkey: null, layout: { kind: '1', tiles: [{ channelId: CAM }], maximised: null } } });
    expect(view.status).toBe(201);
    for (const path of ['/api/tree?view=region', '/api/channels?limit=1', '/api/views', `/api/views/${view.body.id}`, '/api/tours', '/api/alarms', '/api/streams']) {
      const r = await h.api(path, { token: KIOSK });
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
    }
  });

  it('changes nothing and reaches no other screen: 403 with a reason', async () => {
    const attempts: [string, string, unknown][] = [
      ['POST', `/api/channels/${CAM}/ptz`, { action: 'stop' }],
      ['POST', '/api/views', { name: 'x', shared: true, hotkey: null, layout: { kind: '1', tiles: [{ channelId: null }], maximised: null } }],
      ['POST', '/api/tours', { name: 'x', shared: false, scope: 'wall', layoutKind: null, steps: [] }],
      ['POST', '/api/sessions', { name: 'x', sources: [CAM] }],
      ['GET', '/api/devices', undefined],
      ['GET', '/api/health/summary?groupBy=region', undefined],
      ['GET', '/api/alert-rules', undefined],
      ['DELETE', '/api/streams/some-stream', undefined],
    ];
    for (const [method, path, body] of attempts) {
      const r = await h.api<{ message: string }>(path, { method, body, token: KIOSK });
      expect({ method, path, status: r.status }).toEqual({ method, path, status: 403 });
      expect(r.body.message).toContain('kiosk');
    }
  });

  it('a wrong token is refused with 401', async () => {
    expect((await h.api('/api/views', { token: `${KIOSK}-wrong` })).status).toBe(401);
  });

  it('the route rule', () => {
    expect(kioskMayReach('GET', '/api/tree/search', undefined)).toBe(true);
    expect(kioskMayReach('GET', '/api/media/ws', undefined)).toBe(true);
    expect(kioskMayReach('POST', '/api/channels/:id/play', undefined)).toBe(true);
    expect(kioskMayReach('DELETE', '/api/streams/:id', 'viewer-1')).toBe(true);
    expect(kioskMayReach('DELETE', '/api/streams/:id', undefined)).toBe(false);
    expect(kioskMayReach('GET', '/api/treasure', undefined)).toBe(false);
    expect(kioskMayReach('POST', '/api/alarms/:id/ack', undefined)).toBe(false);
    expect(kioskMayReach('PUT', '/api/views/:id', undefined)).toBe(false);
  });
});
