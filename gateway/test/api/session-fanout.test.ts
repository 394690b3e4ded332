/**
 * The session fan-out with sockets whose buffer the test controls (a real socket's bufferedAmount cannot be
 * held high deterministically): a follower that does not read gets only the latest of each message kind,
 * its backlog stays bounded however many changes the chair makes, it catches up in order once it drains,
 * and one that stalls is closed with 1013 and counted. The session service is the real one on SQLite.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { SessionFanout } from '../../src/api/session-fanout.js';
import type { Principal } from '../../src/domain/services.js';
import type { Session } from '../../src/domain/sessions/session-model.js';
import { SessionService } from '../../src/domain/sessions/session-service.js';
import type { WallLayout } from '../../src/domain/views/layout.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const MAX_BUFFERED = 64 * 1024;

/** Enough of ws.WebSocket for the fan-out; the test sets bufferedAmount and completes writes. */
class FakeSocket extends EventEmitter {
  bufferedAmount = 0;
  readonly sent: string[] = [];
  private readonly written: Array<(err?: Error) => void> = [];
  closedWith: number | null = null;

  send(text: string, cb?: (err?: Error) => void): void {
    this.sent.push(text);
    if (cb) this.written.push(cb);
  }

  /** Completes every pending write (as ws does when the kernel took the bytes). */
  drain(): void {
    this.bufferedAmount = 0;
    for (const cb of this.written.splice(0)) cb();
  }

  ping(): void {}
  close(code: number): void {
    this.closedWith ??= code;
    this.emit('close', code);
  }
  terminate(): void {
    this.close(1006);
  }

  messages(): Array<{ type: string; data: Record<string, unknown> }> {
    return this.sent.map((t) => JSON.parse(t) as { type: string; data: Record<string, unknown> });
  }
}

const asSocket = (s: FakeSocket): WebSocket => s as unknown as WebSocket;
const CHAIR: Principal = { kind: 'session', username: 'chair', role: 'operator' };
const CAM = '44030500001320000001';
const layoutWith = (channelId: string | null): WallLayout => ({ kind: '1', tiles: [{ channelId }], maximised: null });

describe('session fan-out to slow followers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'se-fanout-'));
  const store = new SqliteStore(dir);
  const metrics = new GatewayMetrics();
  let sessions: SessionService;
  let fanout: SessionFanout;
  let session: Session;

  beforeAll(async () => {
    await store.init();
    sessions = new SessionService(store.records, pino({ level: 'silent' }), { presenceSweepMs: 60_000 });
    await sessions.load();
    fanout = new SessionFanout({ sessions, metrics, logger: pino({ level: 'silent' }), maxBufferedBytes: MAX_BUFFERED, stallTimeoutMs: 500, heartbeatIntervalMs: 60_000, maxMessagesPerSecond: 10_000 });
    session = await sessions.create(CHAIR, { name: 'fan-out', sources: [CAM] });
  });

  afterAll(async () => {
    fanout.close();
    await sessions.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('coalesces to the latest layout and state, stays bounded, and catches up in order', async () => {
    const joined = await sessions.join({ kind: 'session', username: 'point', role: 'operator' }, session.id, {});
    const chairSocket = new FakeSocket();
    const fast = new FakeSocket();
    const slow = new FakeSocket();
    fanout.attach(asSocket(chairSocket), session.id, session.chair);
    fanout.attach(asSocket(fast), session.id, joined.participantId);
    fanout.attach(asSocket(slow), session.id, joined.participantId);
    expect(slow.messages()[0].type).toBe('state');

    // The slow follower stops reading.
    slow.bufferedAmount = MAX_BUFFERED + 1;
    const sentBefore = slow.sent.length;
    const chairConnection = { id: -1, sessionId: session.id, participantId: session.chair };
    for (let i = 0; i < 500; i++) {
      expect(sessions.receive(chairConnection, { type: 'layout', data: layoutWith(i % 2 === 0 ? CAM : null) })).toBeNull();
      expect(sessions.receive(chairConnection, { type: 'lock', data: { locked: i % 2 === 0 } })).toBeNull();
    }
    // The fast follower got every change; the slow one nothing more (all of it waits, coalesced).
    expect(fast.messages().filter((m) => m.type === 'layout')).toHaveLength(500);
    expect(slow.sent.length).toBe(sentBefore);

    // It drains: only the latest layout and lock follow, in the order of their latest change.
    slow.drain();
    const caughtUp = slow.messages().slice(sentBefore);
    expect(caughtUp.map((m) => m.type)).toEqual(['layout', 'lock']);
    expect(caughtUp[0].data).toMatchObject({ seq: 501, layout: layoutWith(null) });
    expect(caughtUp[1].data).toEqual({ locked: false });
    // Direct sending again.
    sessions.receive(chairConnection, { type: 'lock', data: { locked: true } });
    expect(slow.messages().at(-1)).toEqual({ type: 'lock', data: { locked: true } });
  });

  it('closes a follower that stays stalled with 1013 and counts it', async () => {
    const joined = await sessions.join({ kind: 'session', username: 'stuck', role: 'operator' }, session.id, {});
    const stuck = new FakeSocket();
    fanout.attach(asSocket(stuck), session.id, joined.participantId);
    stuck.bufferedAmount = MAX_BUFFERED + 1;
    sessions.receive({ id: -1, sessionId: session.id, participantId: session.chair }, { type: 'lock', data: { locked: false } });
    const closed = await new Promise<number>((resolve) => stuck.once('close', resolve));
    expect(closed).toBe(1013);
    expect(await metrics.metricsText()).toMatch(/se_session_ws_dropped_total\{reason="stalled"\} 1/);
    // Its participant is lost once its only socket is gone.
    const view = await sessions.get(session.id);
    expect(view.participants.find((p) => p.id === joined.participantId)).toMatchObject({ presence: 'lost' });
  });
});
