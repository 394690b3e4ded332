/**
 * Escalation of alarms nobody acknowledges, on the gateway (no alarm desk open): after alarms.escalateAfterMin an
 * unacknowledged alarm is raised once as a health alert — on the event WebSocket and to the webhooks of the alert
 * rules that cover it (WeCom markdown here) — and acknowledging it resolves it. Passes are driven with
 * `alarmEscalation.tick(at)` at chosen times (the gateway's own timer cannot cross a 10-minute line in a test).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AlarmEscalation } from '../../src/domain/alarms/alarm-escalation.js';
import { GatewayEvents } from '../../src/domain/events.js';
import type { Alert, AlertRule, HealthAlertEvent } from '../../src/domain/health/types.js';
import type { AlarmEvent, Page } from '../../src/domain/model.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

const MINUTE = 60_000;
const NANSHAN = '44030500001320000001';

function alarm(receivedAt: number, description: string): AlarmEvent {
  return {
    id: randomUUID(),
    sourceId: NANSHAN,
    deviceId: NANSHAN,
    priority: 1,
    method: 5,
    type: 2,
    description,
    alarmTime: '2026-01-01T08:00:00',
    receivedAt,
    longitude: null,
    latitude: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    note: null,
    raw: {},
  };
}

/** A group robot: records each POST by path and answers errcode 0 (WeCom's "ok"). */
class Robot {
  private server: Server | null = null;
  readonly received: Array<{ path: string; body: { msgtype?: string; markdown?: { content: string } } & Record<string, unknown> }> = [];
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as never });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
  at(path: string): Robot['received'] {
    return this.received.filter((r) => r.path === path);
  }
}

describe('alarm escalation on the gateway', () => {
  let h: Harness;
  let robot: Robot;
  let ws: WebSocket;
  const pushed: HealthAlertEvent[] = [];
  const t0 = Date.now();
  const old = alarm(t0 - 30 * MINUTE, '周界入侵');
  const young = alarm(t0 - 2 * MINUTE, '移动侦测');

  beforeAll(async () => {
    robot = new Robot();
    await robot.start();
    h = await startHarness({
      overrides: {
        alarms: { escalateAfterMin: 10 },
        health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0, defaultOfflineRuleMinutes: 0, webhookRetries: 0 },
      },
    });
    const rule = async (body: Record<string, unknown>) => {
      const r = await h.api<AlertRule>('/api/alert-rules', { body });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    };
    await rule({ name: '值班群', kind: 'offline', offlineMinutes: 5, webhookUrl: `${robot.url}/wecom`, webhookFormat: 'wecom' });
    // Another township's rule: its webhook must not hear of Nanshan's alarms.
    await rule({ name: '福田', kind: 'offline', offlineMinutes: 5, webhookUrl: `${robot.url}/futian`, scope: { kind: 'region', nodeId: '440304' } });
    // In-app only: no webhook, nothing to post.
    await rule({ name: '站内', kind: 'offline', offlineMinutes: 5 });
    await h.gateway.store.appendAlarms([old, young]);
    ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${TEST_TOKEN}`);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; data: HealthAlertEvent };
      if (msg.type === 'health-alert') pushed.push(msg.data);
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  }, 60_000);

  afterAll(async () => {
    ws?.close();
    await h?.stop();
    await robot?.stop();
  });

  const firing = async (): Promise<Alert[]> =>
    (await h.api<Page<Alert>>('/api/alerts?state=firing')).body.items.filter((a) => a.kind === 'alarm-unacknowledged');

  it('raises an alarm unacknowledged for escalateAfterMin once: in-app, and to the webhooks of the rules covering it', async () => {
    expect(await h.gateway.alarmEscalation.tick(t0)).toBe(1);
    const raised = await h.waitFor(() => pushed.find((e) => e.event === 'fired' && e.alert.alarmId === old.id), 10_000, 'health-alert for the old alarm');
    expect(raised.alert).toMatchObject({ kind: 'alarm-unacknowledged', deviceId: NANSHAN, state: 'firing', reasonCode: { code: 'alarm-unacknowledged', params: { minutes: 10, description: '周界入侵' } } });
    const wecom = await h.waitFor(() => robot.at('/wecom')[0], 10_000, 'WeCom message');
    expect(wecom.body.msgtype).toBe('markdown');
    expect(wecom.body.markdown?.content).toContain('报警超时未确认');
    expect(wecom.body.markdown?.content).toContain('报警超过 10 分钟未确认：周界入侵');
    expect((await firing()).map((a) => a.alarmId)).toEqual([old.id]);
    // Alarm lists say so too (the wall and the desk mark it without a threshold of their own).
    const listed = (await h.api<Page<AlarmEvent>>('/api/alarms')).body.items;
    expect(listed.find((a) => a.id === old.id)?.escalatedAt).toBe(t0);
    expect(listed.find((a) => a.id === young.id)?.escalatedAt).toBeNull();
    const desk = (await h.api<{ escalated: number; items: Array<AlarmEvent & { escalated: boolean }> }>('/api/alarms/search')).body;
    expect(desk.escalated).toBe(1);
    expect(desk.items.filter((a) => a.escalated).map((a) => a.id)).toEqual([old.id]);

    // Once: a later pass does not raise it again, and the young alarm is not due yet.
    expect(await h.gateway.alarmEscalation.tick(t0 + MINUTE)).toBe(0);
    // The young one crosses the line 10 minutes after it arrived.
    expect(await h.gateway.alarmEscalation.tick(t0 + 9 * MINUTE)).toBe(1);
    await h.waitFor(() => robot.at('/wecom').length === 2, 10_000, 'second WeCom message');
    expect(robot.at('/wecom')[1].body.markdown?.content).toContain('移动侦测');
    expect((await firing()).map((a) => a.alarmId).sort()).toEqual([old.id, young.id].sort());
    expect(robot.at('/futian')).toEqual([]);
    expect(pushed.filter((e) => e.event === 'fired' && e.alert.alarmId === old.id)).toHaveLength(1);
  });

  it('resolves the escalation when the alarm is acknowledged (at once in-app, with the next pass by webhook)', async () => {
    const r = await h.api<AlarmEvent>(`/api/alarms/${old.id}/ack`, { body: { note: '已出警' } });
    expect(r.status).toBe(200);
    const resolved = await h.waitFor(() => pushed.find((e) => e.event === 'recovered' && e.alert.alarmId === old.id), 10_000, 'resolution on the socket');
    expect(resolved.alert).toMatchObject({ state: 'cleared', clearReason: 'acknowledged' });
    expect((await firing()).map((a) => a.alarmId)).toEqual([young.id]);
    expect((await h.api<Page<AlarmEvent>>('/api/alarms')).body.items.find((a) => a.id === old.id)?.escalatedAt).toBeNull();
    // Bulk acknowledge resolves too.
    expect((await h.api('/api/alarms/ack', { body: { ids: [young.id] } })).status).toBe(200);
    await h.waitFor(async () => (await firing()).length === 0, 10_000, 'no escalation open');

    expect(await h.gateway.alarmEscalation.tick(t0 + 20 * MINUTE)).toBe(0);
    const recovery = await h.waitFor(() => robot.at('/wecom')[2], 10_000, 'recovery message');
    expect(recovery.body.markdown?.content).toContain('已确认');
    expect(recovery.body.markdown?.content).toContain('周界入侵');
    expect(recovery.body.markdown?.content).toContain('移动侦测');
    expect(robot.at('/wecom')).toHaveLength(3);
    expect(robot.at('/futian')).toEqual([]);
  });
});

describe('AlarmEscalation', () => {
  it('does nothing (reads no alarms) when escalateAfterMin is 0', async () => {
    let reads = 0;
    const escalation = new AlarmEscalation(
      {
        listAlarms: async () => {
          reads++;
          return { total: 0, items: [] };
        },
        escalate: async () => 0,
        alreadyEscalated: () => false,
        resolve: async () => undefined,
      },
      new GatewayEvents(),
      pino({ level: 'silent' }),
      { escalateAfterMin: 0, now: () => 0 },
    );
    expect(await escalation.tick(10 * 24 * 60 * MINUTE)).toBe(0);
    expect(reads).toBe(0);
    escalation.close();
  });

  it('skips alarms older than its look-back and those already escalated', async () => {
    const at = Date.UTC(2026, 0, 10);
    const stale = alarm(at - 2 * 24 * 60 * MINUTE, 'old history');
    const done = alarm(at - 15 * MINUTE, 'already raised');
    const due = alarm(at - 12 * MINUTE, 'due');
    const escalated: string[] = [];
    const escalation = new AlarmEscalation(
      {
        listAlarms: async (q) => ({ total: 3, items: [due, done, stale].filter((a) => q.since === undefined || a.receivedAt >= q.since) }),
        escalate: async (list) => {
          escalated.push(...list.map((a) => a.description));
          return list.length;
        },
        alreadyEscalated: (id) => id === done.id,
        resolve: async () => undefined,
      },
      new GatewayEvents(),
      pino({ level: 'silent' }),
      { escalateAfterMin: 10 },
    );
    expect(await escalation.tick(at)).toBe(1);
    expect(escalated).toEqual(['due']);
    escalation.close();
  });
});
