/**
 * Consultation sessions against a real gateway with real WebSockets (ws package) on 127.0.0.1: create, join
 * by code, the chair's layout reaching followers with increasing seq, chair-only commands refused from
 * followers, lock, roll call (single and cyclic, driven by the gateway's timer), presence from reported
 * round trips and disconnects, hand-over, attendance and layout history stored and surviving a restart (on
 * SQLite and on the MongoDB adapter), what a guest token may reach, and the rate limit on wrong codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hashPassword } from '../../src/domain/auth/auth-service.js';
import type { AttendanceEntry, LayoutChange, Session } from '../../src/domain/sessions/session-model.js';
import type { WallLayout } from '../../src/domain/views/layout.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { uniqueDatabaseName } from '../support/mongo.js';

interface Page<T> {
  total: number;
  items: T[];
}
interface Message {
  type: string;
  data: Record<string, unknown>;
}
interface GuestJoin {
  token: string;
  participantId: string;
  session: Session;
}

const CAM1 = '44030500001320000001';
const CAM2 = '44030500001320000002';
const TERM_A = '44030500001320000101';
const TERM_B = '44030500001320000102';
const TERM_C = '44030500001320000103';
const NOT_SHARED = '44030500001320000999';

function four(...channels: Array<string | null>): WallLayout {
  return { kind: '4', tiles: [0, 1, 2, 3].map((i) => ({ channelId: channels[i] ?? null })), maximised: null };
}

/** A session WebSocket client that keeps every message and lets tests wait for the one they expect. */
class SessionClient {
  readonly messages: Message[] = [];
  private readonly listeners = new Set<() => void>();
  closedWith: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.messages.push(JSON.parse(String(raw)) as Message);
      for (const l of this.listeners) l();
    });
    ws.on('close', (code) => {
      this.closedWith = code;
      for (const l of this.listeners) l();
    });
  }

  static open(h: Harness, sessionId: string, token: string, participant: string): Promise<SessionClient> {
    const url = `${h.gateway.httpUrl.replace('http', 'ws')}/api/sessions/${sessionId}/ws?token=${encodeURIComponent(token)}&participant=${participant}`;
    const ws = new WebSocket(url);
    const client = new SessionClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(type: string, data: unknown): void {
    this.ws.send(JSON.stringify({ type, data }));
  }

  of(type: string): Message[] {
    return this.messages.filter((m) => m.type === type);
  }

  /** The first message (received so far or later) of `type` that satisfies `match`. */
  waitFor(type: string, match: (data: Record<string, unknown>) => boolean = () => true, timeoutMs = 10_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.messages.find((m) => m.type === type && match(m.data));
        if (found) {
          cleanup();
          resolve(found);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${type} message matched within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((m) => m.type))}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = (): void => void check();
      if (!check()) this.listeners.add(listener);
    });
  }

  /** Waits until the server closed the socket; returns the close code. */
  waitClosed(timeoutMs = 10_000): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.closedWith !== null) return resolve(this.closedWith);
      const timer = setTimeout(() => reject(new Error('socket not closed')), timeoutMs);
      this.ws.once('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** The upgrade's HTTP status when the server refuses it. */
function refusedStatus(h: Harness, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}${path}`);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      ws.close();
      reject(new Error(`${path} was accepted`));
    });
    ws.once('error', () => undefined);
  });
}

async function addUser(h: Harness, username: string, role: 'admin' | 'operator' = 'operator'): Promise<string> {
  await h.gateway.store.upsertUser({ username, passwordHash: await hashPassword(`${username}-pw`), role, createdAt: Date.now() });
  const r = await h.api<{ token: string }>('/api/auth/login', { body: { username, password: `${username}-pw` }, token: null });
  expect(r.status).toBe(200);
  return r.body.token;
}

describe('consultation session over WebSockets', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-sessions-'));
  let h: Harness;
  let chairToken: string;
  let opToken: string;
  let session: Session;
  let chairId: string;
  let guest: GuestJoin;
  let opId: string;
  let chair: SessionClient;
  let guestWs: SessionClient;
  let opWs: SessionClient;
  const opened: SessionClient[] = [];

  beforeAll(async () => {
    h = await startHarness({ dataDir });
    chairToken = await addUser(h, 'chair1');
    opToken = await addUser(h, 'op2');
  });

  afterAll(async () => {
    for (const c of opened) await c.close();
    await h?.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const open = async (token: string, participant: string): Promise<SessionClient> => {
    const c = await SessionClient.open(h, session.id, token, participant);
    opened.push(c);
    return c;
  };

  it('creates a session with a 6-digit code; the creator is its chair', async () => {
    const r = await h.api<Session>('/api/sessions', { body: { name: '防汛会商', sources: [CAM1, CAM2, TERM_A, TERM_B] }, token: chairToken });
    expect(r.status).toBe(201);
    session = r.body;
    expect(session.code).toMatch(/^[0-9]{6}$/);
    expect(session.participants).toHaveLength(1);
    chairId = session.participants[0].id;
    expect(session).toMatchObject({ name: '防汛会商', createdBy: 'chair1', chair: chairId, endedAt: null, locked: false, layoutSeq: 1, rollCall: { participantId: null, cyclicDwellSec: null } });
    expect(session.participants[0]).toMatchObject({ username: 'chair1', terminalChannelId: null, leftAt: null });
    // Default layout: the smallest grid holding the sources, in order.
    expect(session.layout).toEqual(four(CAM1, CAM2, TERM_A, TERM_B));
    const active = await h.api<Page<Session>>('/api/sessions?active=true', { token: opToken });
    expect(active.body.items.map((s) => s.id)).toContain(session.id);
  });

  it('points join: a guest with the code, a user with its login (and its own terminal)', async () => {
    const badTerminal = await h.api<{ field: string }>('/api/sessions/join', { body: { code: session.code, name: '南山派出所', terminalChannelId: 'not-a-channel' }, token: null });
    expect(badTerminal.status).toBe(400);
    expect(badTerminal.body.field).toBe('body.terminalChannelId');

    const r = await h.api<GuestJoin>('/api/sessions/join', { body: { code: session.code, name: '南山派出所', terminalChannelId: TERM_A }, token: null });
    expect(r.status).toBe(200);
    guest = r.body;
    expect(guest.token).toMatch(/^sg_/);
    expect(guest.session.participants.find((p) => p.id === guest.participantId)).toMatchObject({ name: '南山派出所', username: null, terminalChannelId: TERM_A });

    const joined = await h.api<{ participantId: string; session: Session }>(`/api/sessions/${session.id}/join`, { body: { name: '西丽街道', terminalChannelId: TERM_C }, token: opToken });
    expect(joined.status).toBe(200);
    opId = joined.body.participantId;
    // Joining again as the same user is the same participant.
    const again = await h.api<{ participantId: string }>(`/api/sessions/${session.id}/join`, { body: {}, token: opToken });
    expect(again.body.participantId).toBe(opId);
  });

  it('sockets open with the state; someone else’s participant or an unknown session is refused before the upgrade', async () => {
    chair = await open(chairToken, chairId);
    guestWs = await open(guest.token, guest.participantId);
    opWs = await open(opToken, opId);
    for (const c of [chair, guestWs, opWs]) {
      const first = c.messages[0] ?? (await c.waitFor('state'));
      expect(first.type).toBe('state');
      expect((first.data as unknown as Session).id).toBe(session.id);
    }
    expect(await refusedStatus(h, `/api/sessions/${session.id}/ws?token=${guest.token}&participant=${opId}`)).toBe(403);
    expect(await refusedStatus(h, `/api/sessions/${session.id}/ws?token=${opToken}&participant=${chairId}`)).toBe(403);
    expect(await refusedStatus(h, `/api/sessions/00000000-0000-4000-8000-000000000000/ws?token=${opToken}&participant=${opId}`)).toBe(404);
    expect(await refusedStatus(h, `/api/sessions/${session.id}/ws?token=nope&participant=${opId}`)).toBe(401);
    // Everyone connected is present.
    await chair.waitFor('presence', (d) => d.participantId === opId && d.presence === 'good');
  });

  it('the chair’s layout reaches every follower with increasing seq', async () => {
    chair.send('layout', four(CAM2, CAM1, null, TERM_A));
    chair.send('layout', { ...four(TERM_A, CAM1), maximised: 0 });
    for (const c of [guestWs, opWs, chair]) {
      const second = await c.waitFor('layout', (d) => d.seq === 2);
      const third = await c.waitFor('layout', (d) => d.seq === 3);
      expect(second.data).toMatchObject({ seq: 2, by: chairId, layout: four(CAM2, CAM1, null, TERM_A) });
      expect(third.data).toMatchObject({ seq: 3, by: chairId, layout: { ...four(TERM_A, CAM1), maximised: 0 } });
      expect(third.data.at as number).toBeGreaterThanOrEqual(second.data.at as number);
    }
  });

  it('followers may not send layout, lock, roll call or hand-over; bad messages get an error', async () => {
    guestWs.send('layout', four(CAM1));
    await guestWs.waitFor('error', (d) => /only the chair/.test(String(d.message)) && /layout/.test(String(d.message)));
    opWs.send('lock', { locked: true });
    await opWs.waitFor('error', (d) => /only the chair/.test(String(d.message)) && /lock/.test(String(d.message)));
    opWs.send('roll-call', { participantId: opId });
    await opWs.waitFor('error', (d) => /roll-call/.test(String(d.message)));
    opWs.send('hand-over', { participantId: opId });
    await opWs.waitFor('error', (d) => /hand-over/.test(String(d.message)));
    chair.send('layout', { kind: '4', tiles: [], maximised: null });
    await chair.waitFor('error', (d) => /data\.tiles must have 4 tiles/.test(String(d.message)));
    chair.ws.send('not json');
    await chair.waitFor('error', (d) => /JSON/.test(String(d.message)));

    // Nothing of that changed the session: the next layout is seq 4, and nobody saw a lock.
    chair.send('layout', four(CAM1, CAM2));
    await opWs.waitFor('layout', (d) => d.seq === 4);
    expect(opWs.of('layout').map((m) => m.data.seq)).toEqual([2, 3, 4]);
    expect(opWs.of('lock')).toEqual([]);
  });

  it('lock and a single roll call are broadcast', async () => {
    chair.send('lock', { locked: true });
    expect((await guestWs.waitFor('lock')).data).toEqual({ locked: true });
    chair.send('roll-call', { participantId: guest.participantId });
    const call = await opWs.waitFor('roll-call', (d) => d.participantId === guest.participantId);
    expect(call.data).toEqual({ participantId: guest.participantId, channelId: TERM_A, cyclicDwellSec: null });
    chair.send('roll-call', { participantId: chairId });
    await chair.waitFor('error', (d) => /no terminal channel/.test(String(d.message)));
  });

  it('a cyclic roll call advances through the connected points with a terminal, on the gateway’s timer', async () => {
    const before = opWs.of('roll-call').length;
    chair.send('roll-call', { participantId: null, cyclicDwellSec: 1 });
    const cyclic = (): Message[] => opWs.of('roll-call').slice(before);
    await opWs.waitFor('roll-call', () => cyclic().length >= 3);
    const calls = cyclic().slice(0, 3).map((m) => m.data);
    // Join order: the chair (no terminal) is skipped; the guest, then op2, then the guest again.
    expect(calls).toEqual([
      { participantId: guest.participantId, channelId: TERM_A, cyclicDwellSec: 1 },
      { participantId: opId, channelId: TERM_C, cyclicDwellSec: 1 },
      { participantId: guest.participantId, channelId: TERM_A, cyclicDwellSec: 1 },
    ]);
    chair.send('roll-call', { participantId: null, cyclicDwellSec: null });
    await opWs.waitFor('roll-call', (d) => d.participantId === null && d.cyclicDwellSec === null);
    const stoppedAt = opWs.of('roll-call').length;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(opWs.of('roll-call').length).toBe(stoppedAt);
  });

  it('presence follows the round trip a client reports with its pings', async () => {
    guestWs.send('ping', { t: 12345, rttMs: 850 });
    expect((await guestWs.waitFor('pong', (d) => d.t === 12345)).data).toEqual({ t: 12345 });
    expect((await chair.waitFor('presence', (d) => d.participantId === guest.participantId && d.presence === 'poor')).data.rttMs).toBe(850);
    guestWs.send('ping', { t: 12346, rttMs: 40 });
    const good = chair.of('presence').length;
    await chair.waitFor('presence', (d) => d.participantId === guest.participantId && d.presence === 'good' && chair.of('presence').length > good);
  });

  it('the chair hands over; the new chair commands, the old one no longer does', async () => {
    chair.send('hand-over', { participantId: opId });
    for (const c of [chair, guestWs, opWs]) expect((await c.waitFor('chair')).data).toEqual({ participantId: opId });
    chair.send('layout', four(CAM1));
    await chair.waitFor('error', (d) => /only the chair/.test(String(d.message)));
    opWs.send('layout', four(TERM_C, CAM1));
    const change = await guestWs.waitFor('layout', (d) => d.seq === 5);
    expect(change.data).toMatchObject({ by: opId, layout: four(TERM_C, CAM1) });
    expect((await h.api<Session>(`/api/sessions/${session.id}`, { token: chairToken })).body).toMatchObject({ chair: opId, layoutSeq: 5, locked: true });
  });

  it('a guest token reaches its session and the video shared in it, nothing else', async () => {
    const asGuest = (path: string, init: { method?: string; body?: unknown } = {}) => h.api(path, { ...init, token: guest.token });
    expect((await asGuest(`/api/sessions/${session.id}`)).status).toBe(200);
    expect((await asGuest(`/api/sessions/${session.id}/attendance`)).status).toBe(200);
    for (const path of ['/api/devices', '/api/sessions', '/api/views', '/api/stats', '/api/streams', `/api/channels/${CAM1}/ptz`]) {
      const r = await asGuest(path, path.endsWith('/ptz') ? { body: { action: 'stop' } } : {});
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
    }
    expect((await asGuest('/api/sessions', { body: { name: 'mine', sources: [] } })).status).toBe(403);
    // Shared channels (sources, and participants' terminals such as op2's) get past authorisation: no such camera is registered here, so 404.
    for (const channel of [CAM1, TERM_C]) {
      const play = await asGuest(`/api/channels/${channel}/play`, { body: {} });
      expect({ channel, status: play.status }).toEqual({ channel, status: 404 });
    }
    expect((await asGuest(`/api/channels/${NOT_SHARED}/play`, { body: {} })).status).toBe(403);
    expect((await asGuest(`/api/streams/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' })).status).toBe(403);
    expect((await asGuest(`/api/streams/00000000-0000-4000-8000-000000000000?viewerId=00000000-0000-4000-8000-000000000001`, { method: 'DELETE' })).status).toBe(404);
    expect(await refusedStatus(h, `/api/ws?token=${guest.token}`)).toBe(403);

    const other = await h.api<Session>('/api/sessions', { body: { name: 'other', sources: [CAM2] }, token: opToken });
    expect((await asGuest(`/api/sessions/${other.body.id}`)).status).toBe(403);
    expect((await asGuest(`/api/sessions/${other.body.id}/join`, { body: {} })).status).toBe(403);
    await h.api(`/api/sessions/${other.body.id}/end`, { body: {}, token: opToken });
  });

  it('a disconnect is presence lost with leftAt; attendance keeps every interval', async () => {
    await guestWs.close();
    await chair.waitFor('presence', (d) => d.participantId === guest.participantId && d.presence === 'lost');
    const state = await opWs.waitFor('state', (d) => (d as unknown as Session).participants.some((p) => p.id === guest.participantId && p.leftAt !== null));
    const left = (state.data as unknown as Session).participants.find((p) => p.id === guest.participantId)!;
    expect(left.presence).toBe('lost');

    // The guest reconnects (a second interval) and leaves again.
    guestWs = await open(guest.token, guest.participantId);
    await opWs.waitFor('presence', (d) => d.participantId === guest.participantId && d.presence === 'good' && opWs.of('presence').filter((m) => m.data.participantId === guest.participantId).length >= 4);
    await guestWs.close();
    await opWs.waitFor('presence', (d) => d.participantId === guest.participantId && d.presence === 'lost' && opWs.of('presence').filter((m) => m.data.participantId === guest.participantId && m.data.presence === 'lost').length >= 2);

    const attendance = await h.api<Page<AttendanceEntry>>(`/api/sessions/${session.id}/attendance`, { token: chairToken });
    const guestRows = attendance.body.items.filter((a) => a.participantId === guest.participantId);
    expect(guestRows).toHaveLength(2);
    expect(guestRows.every((a) => a.name === '南山派出所' && a.leftAt !== null && a.leftAt >= a.joinedAt)).toBe(true);
    expect(guestRows[1].joinedAt).toBeGreaterThanOrEqual(guestRows[0].leftAt!);
    expect(attendance.body.items.filter((a) => a.leftAt === null).map((a) => a.participantId).sort()).toEqual([chairId, opId].sort());
  });

  it('ending (chair or admin only) sends ended, closes the sockets and voids the guest token', async () => {
    const notChair = await h.api(`/api/sessions/${session.id}/end`, { body: {}, token: chairToken });
    expect(notChair.status).toBe(403);
    const ended = await h.api<Session>(`/api/sessions/${session.id}/end`, { method: 'POST', token: opToken });
    expect(ended.status).toBe(200);
    expect(ended.body.endedAt).not.toBeNull();
    for (const c of [chair, opWs]) {
      await c.waitFor('ended');
      expect(await c.waitClosed()).toBe(1000);
    }
    expect((await h.api(`/api/sessions/${session.id}`, { token: guest.token })).status).toBe(401);
    expect((await h.api(`/api/sessions/${session.id}/end`, { body: {}, token: opToken })).status).toBe(409);
    const joinEnded = await h.api('/api/sessions/join', { body: { code: session.code, name: 'late' }, token: null });
    expect(joinEnded.status).toBe(404);
  });

  it('after a restart: the session, its attendance and every layout change are still there', async () => {
    const before = (await h.api<Session>(`/api/sessions/${session.id}`, { token: opToken })).body;
    await h.stop({ keepData: true });
    h = await startHarness({ dataDir });
    opToken = (await h.api<{ token: string }>('/api/auth/login', { body: { username: 'op2', password: 'op2-pw' }, token: null })).body.token;
    const after = await h.api<Session>(`/api/sessions/${session.id}`, { token: opToken });
    expect(after.body).toEqual(before);
    const history = await h.api<Page<LayoutChange>>(`/api/sessions/${session.id}/layout-history`, { token: opToken });
    expect(history.body.items.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(history.body.items.map((c) => c.by)).toEqual([chairId, chairId, chairId, chairId, opId]);
    expect(history.body.items[4].layout).toEqual(four(TERM_C, CAM1));
    const attendance = await h.api<Page<AttendanceEntry>>(`/api/sessions/${session.id}/attendance`, { token: opToken });
    expect(attendance.body.total).toBe(4); // chair, guest twice, op2
    expect(attendance.body.items.every((a) => a.leftAt !== null)).toBe(true);
    expect((await h.api<Page<Session>>('/api/sessions?active=false', { token: opToken })).body.items.map((s) => s.id)).toContain(session.id);
  });

  it('a point joins with a terminal nobody pre-shared; rolling it in shares it; the chair removes a point', async () => {
    const created = await h.api<Session>('/api/sessions', { body: { name: '无预共享', sources: [CAM1] }, token: opToken });
    const own = (await h.api<{ participantId: string }>(`/api/sessions/${created.body.id}/join`, { body: {}, token: opToken })).body.participantId;
    const point = await h.api<GuestJoin>('/api/sessions/join', { body: { code: created.body.code, name: '西丽派出所', terminalChannelId: NOT_SHARED }, token: null });
    expect(point.status).toBe(200);
    const other = (await h.api<GuestJoin>('/api/sessions/join', { body: { code: created.body.code, name: '桃源派出所' }, token: null })).body;
    const asPoint = (token: string, path: string) => h.api(path, { body: {}, token });
    // Naming a terminal shares nothing: the other point may not play it yet.
    expect((await asPoint(other.token, `/api/channels/${NOT_SHARED}/play`)).status).toBe(403);
    const chairWs = await SessionClient.open(h, created.body.id, opToken, own);
    const pointWs = await SessionClient.open(h, created.body.id, point.body.token, point.body.participantId);
    const otherWs = await SessionClient.open(h, created.body.id, other.token, other.participantId);
    chairWs.send('roll-call', { participantId: point.body.participantId });
    const call = await otherWs.waitFor('roll-call', (d) => d.participantId === point.body.participantId);
    expect(call.data.channelId).toBe(NOT_SHARED);
    // Rolled in: shared, so every point gets past authorisation (404: no such camera registered here).
    expect((await asPoint(other.token, `/api/channels/${NOT_SHARED}/play`)).status).toBe(404);
    expect((await h.api<Session>(`/api/sessions/${created.body.id}`, { token: opToken })).body.sources).toContain(NOT_SHARED);

    // Removing a point: it is told, its socket closes, its token stops working, the roll call goes.
    chairWs.send('remove', { participantId: point.body.participantId });
    await pointWs.waitFor('removed', (d) => d.participantId === point.body.participantId);
    expect(await pointWs.waitClosed()).toBe(1000);
    await otherWs.waitFor('roll-call', (d) => d.participantId === null);
    await otherWs.waitFor('state', (d) => !(d as unknown as Session).participants.some((p) => p.id === point.body.participantId));
    expect((await h.api(`/api/sessions/${created.body.id}`, { token: point.body.token })).status).toBe(401);
    chairWs.send('remove', { participantId: own });
    await chairWs.waitFor('error', (d) => /cannot remove itself/.test(String(d.message)));
    otherWs.send('remove', { participantId: own });
    const refused = await otherWs.waitFor('error', (d) => /only the chair/.test(String(d.message)));
    // Errors carry a code for the UI besides the English message.
    expect(refused.data).toMatchObject({ code: 'session.chair-only', params: { type: 'remove' } });
    // A guest that leaves for good: its token stops working at once (a user's leave changes nothing).
    expect((await h.api<{ left: boolean }>(`/api/sessions/${created.body.id}/leave`, { body: {}, token: other.token })).body).toEqual({ left: true });
    expect((await h.api(`/api/sessions/${created.body.id}`, { token: other.token })).status).toBe(401);
    expect((await h.api<{ left: boolean }>(`/api/sessions/${created.body.id}/leave`, { body: {}, token: opToken })).body).toEqual({ left: false });
    await h.api(`/api/sessions/${created.body.id}/end`, { body: {}, token: opToken });
    await Promise.all([chairWs.waitClosed(), otherWs.waitClosed()]);
  });

  it('is described in the OpenAPI document, WebSocket protocol included', async () => {
    const doc = await h.api<{ paths: Record<string, Record<string, { description?: string }>> }>('/docs/json');
    const paths = Object.keys(doc.body.paths);
    for (const path of ['/api/sessions', '/api/sessions/join', '/api/sessions/{id}', '/api/sessions/{id}/end', '/api/sessions/{id}/join', '/api/sessions/{id}/attendance', '/api/sessions/{id}/layout-history']) {
      expect(paths).toContain(path);
    }
    expect(doc.body.paths['/api/sessions/join'].post.description).toContain('/api/sessions/:id/ws');
  });

  it('wrong codes are 404, then 429 for that address, counted in /metrics', async () => {
    const live = await h.api<Session>('/api/sessions', { body: { name: 'limit', sources: [CAM1] }, token: opToken });
    const wrong = live.body.code === '000000' ? '000001' : '000000';
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await h.api('/api/sessions/join', { body: { code: wrong, name: 'guess' }, token: null })).status);
    expect(statuses).toEqual([...Array(10).fill(404), 429]);
    // Refused even with the right code while the address is limited.
    const right = await h.api('/api/sessions/join', { body: { code: live.body.code, name: 'late' }, token: null });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    const metrics = (await h.api<string>('/metrics', { token: null })).body;
    expect(metrics).toMatch(/se_session_join_failures_total\{reason="wrong-code"\} 10/);
    expect(metrics).toMatch(/se_session_join_failures_total\{reason="rate-limited"\} 2/);
    expect(metrics).toMatch(/se_sessions_active 1/);
    const malformed = await h.api<{ field: string }>('/api/sessions/join', { body: { code: '12345', name: 'x' }, token: null });
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('body.code');
  });
});

describe.each(['sqlite', 'mongo'] as const)('an active session across a restart (%s store)', (store) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'se-sessions-restart-'));
  const mongoDatabase = uniqueDatabaseName('sessions_restart');
  let h: Harness | undefined;

  afterAll(async () => {
    await h?.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps chair, layout and seq; everyone is lost with leftAt until they reconnect; guest tokens still work', async () => {
    h = await startHarness({ store, dataDir, mongoDatabase });
    const created = (await h.api<Session>('/api/sessions', { body: { name: '跨重启', sources: [CAM1, TERM_A] } })).body;
    const chairId = created.chair;
    const guest = (await h.api<GuestJoin>('/api/sessions/join', { body: { code: created.code, name: 'point', terminalChannelId: TERM_A }, token: null })).body;
    const chair = await SessionClient.open(h, created.id, 'test-token-0123456789', chairId);
    const follower = await SessionClient.open(h, created.id, guest.token, guest.participantId);
    chair.send('layout', four(TERM_A, CAM1));
    await follower.waitFor('layout', (d) => d.seq === 2);
    await follower.close();
    await chair.close();

    await h.stop({ keepData: true });
    h = await startHarness({ store, dataDir, mongoDatabase });
    const after = await h.api<Session>(`/api/sessions/${created.id}`, { token: guest.token });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ code: created.code, chair: chairId, endedAt: null, layoutSeq: 2, layout: four(TERM_A, CAM1) });
    expect(after.body.participants.every((p) => p.presence === 'lost' && p.leftAt !== null)).toBe(true);

    const back = await SessionClient.open(h, created.id, guest.token, guest.participantId);
    const state = (await back.waitFor('state', (d) => (d as unknown as Session).participants.some((p) => p.id === guest.participantId && p.presence === 'good'))).data as unknown as Session;
    expect(state.participants.find((p) => p.id === guest.participantId)?.leftAt).toBeNull();
    const attendance = await h.api<Page<AttendanceEntry>>(`/api/sessions/${created.id}/attendance`);
    expect(attendance.body.items.filter((a) => a.participantId === guest.participantId).map((a) => a.leftAt === null)).toEqual([false, true]);
    const history = await h.api<Page<LayoutChange>>(`/api/sessions/${created.id}/layout-history`);
    expect(history.body.items.map((c) => c.seq)).toEqual([1, 2]);
    await back.close();
  });
});
