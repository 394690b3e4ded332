/**
 * Alert rules against a real gateway, simulated devices and a real webhook receiver on 127.0.0.1: an offline
 * rule fires after X minutes (driven through the engine's clock, not by waiting), reminds, clears on recovery
 * and stays muted for a channel in maintenance; a stream-failure rule fires after N failed opens and clears
 * after P successful ones; notifications arrive on the WebSocket and by webhook (with retries, failures in
 * /metrics); the test button reports what the receiver answered; rule CRUD is for admins and maintainers.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DeviceFleet, type SimDeviceInfo } from '../../src/sim/index.js';
import type { Device, Page } from '../../src/domain/model.js';
import { hashPassword } from '../../src/domain/auth/auth-service.js';
import type { WebhookPayload } from '../../src/domain/health/alert-engine.js';
import type { Alert, AlertRule, HealthAlertEvent, HealthApi, ProbeResult, WebhookTestResult } from '../../src/domain/health/types.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

const PASSWORD = 'alert-pass';
const MINUTE = 60_000;

interface Received {
  payload: WebhookPayload;
  contentType: string | undefined;
}

/** A webhook receiver: records every POST, answers with the queued statuses first, then 200. */
class Receiver {
  readonly received: Received[] = [];
  readonly statuses: number[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.statuses.shift() ?? 200;
        if (status === 200) {
          this.received.push({ payload: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload, contentType: req.headers['content-type'] });
        }
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'try later');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hook?key=secret`;
  }

  notifications(event: string, channelId?: string): Array<WebhookPayload['notifications'][number]> {
    return this.received.flatMap((r) => r.payload.notifications).filter((n) => n.event === event && (!channelId || n.alert.channelId === channelId));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A port nothing listens on (connection refused at once). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('alert rules', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let receiver: Receiver;
  let deadUrl: string;
  let ipcs: SimDeviceInfo[];
  let engine: HealthApi;
  let ws: WebSocket;
  const wsAlerts: HealthAlertEvent[] = [];
  let viewerToken: string;

  const createRule = async (body: Record<string, unknown>, token?: string) =>
    h.api<AlertRule & { field?: string }>('/api/alert-rules', { body, ...(token ? { token } : {}) });

  const waitOffline = (deviceId: string) =>
    h.waitFor(async () => (await h.api<Device>(`/api/devices/${deviceId}`)).body.status === 'offline', 30_000, `${deviceId} offline`);

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.start();
    deadUrl = `http://127.0.0.1:${await closedPort()}/hook`;
    h = await startHarness({
      overrides: {
        // Devices go offline 9 s after they fall silent: long enough to fail two opens first.
        sip: { password: PASSWORD, keepaliveIntervalSec: 3, keepaliveMissCount: 3 },
        media: { host: '127.0.0.1', ports: '31350-31399', inviteTimeoutSec: 1 },
        // No default offline rule: this test counts what its own rules fire (the default is tested on its own).
        health: { evaluateIntervalSec: 0, snapshotIntervalMin: 0, webhookRetries: 2, webhookRetryBaseMs: 50, webhookTimeoutMs: 2000, defaultOfflineRuleMinutes: 0 },
      },
    });
    engine = h.gateway.services.health!;
    fleet = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: 3, keepaliveSec: 3 });
    await Promise.all([fleet.start(), fleet.prepareMedia({ personalised: false, profiles: ['sub'] })]);
    await fleet.waitForRegistered(3, 30_000);
    ipcs = [...fleet.devices];
    await h.waitFor(async () => (await h.api<Page<unknown>>('/api/channels?kind=channel&status=online&limit=1')).body.total === 3, 20_000, 'catalogs');
    await h.gateway.store.upsertUser({ username: 'viewer2', passwordHash: await hashPassword('viewer2-pw-1'), role: 'viewer', createdAt: Date.now() });
    viewerToken = (await h.api<{ token: string }>('/api/auth/login', { body: { username: 'viewer2', password: 'viewer2-pw-1' }, token: null })).body.token;
    ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${TEST_TOKEN}`);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; data: HealthAlertEvent };
      if (msg.type === 'health-alert') wsAlerts.push(msg.data);
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  }, 120_000);

  afterAll(async () => {
    ws?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
    await receiver?.stop();
  });

  it('rules are changed by admins and maintainers only, and checked field by field', async () => {
    expect((await createRule({ name: 'x', kind: 'offline', offlineMinutes: 5 }, viewerToken)).status).toBe(403);
    expect((await h.api('/api/alert-rules', { token: viewerToken })).status).toBe(200);
    const missing = await createRule({ name: 'x', kind: 'offline' });
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('body.offlineMinutes');
    expect((await createRule({ name: 'x', kind: 'offline', offlineMinutes: 5, webhookUrl: 'ftp://example.org/' })).body.field).toBe('body.webhookUrl');
    expect((await createRule({ name: 'x', kind: 'offline', offlineMinutes: 5, scope: { kind: 'region' } })).body.field).toBe('body.scope.nodeId');
    expect((await createRule({ name: 'x', kind: 'stream-failure', failureCount: 0 })).body.field).toBe('body.failureCount');
    expect((await createRule({ name: 'x', kind: 'offline', offlineMinutes: 5, colour: 'red' })).body.field).toBe('body.colour');
    const created = await createRule({ name: '临时', kind: 'offline', offlineMinutes: 5 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ enabled: true, notifyRecovery: true, scope: { kind: 'all', nodeId: null }, webhookUrl: null, createdBy: 'api-token' });
    const updated = await h.api<AlertRule>(`/api/alert-rules/${created.body.id}`, { method: 'PUT', body: { name: '临时2', kind: 'offline', offlineMinutes: 7 } });
    expect(updated.body).toMatchObject({ name: '临时2', offlineMinutes: 7, createdAt: created.body.createdAt });
    expect((await h.api(`/api/alert-rules/${created.body.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await h.api(`/api/alert-rules/${created.body.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await h.api('/api/alert-rules/00000000-0000-0000-0000-000000000000', { method: 'PUT', body: { name: 'x', kind: 'offline', offlineMinutes: 1 } })).status).toBe(404);
  });

  it('the test button sends a sample to the webhook and reports the answer', async () => {
    const good = await createRule({ name: 'test-good', kind: 'offline', offlineMinutes: 5, webhookUrl: receiver.url, enabled: false });
    const ok = await h.api<WebhookTestResult>(`/api/alert-rules/${good.body.id}/test`, { method: 'POST' });
    expect(ok.body).toEqual({ delivered: true, status: 200, attempts: 1 });
    const sample = receiver.received.at(-1)!;
    expect(sample.contentType).toMatch(/^application\/json/);
    expect(sample.payload).toMatchObject({ source: 'sharp-eyes', test: true, rule: { id: good.body.id, name: 'test-good', kind: 'offline' } });
    expect(sample.payload.notifications).toEqual([expect.objectContaining({ event: 'test' })]);

    receiver.statuses.push(503);
    const refused = await h.api<WebhookTestResult>(`/api/alert-rules/${good.body.id}/test`, { method: 'POST', body: {} });
    expect(refused.body).toMatchObject({ delivered: false, status: 503, error: 'HTTP 503', code: 'webhook.http-status', params: { status: 503 } });

    const dead = await createRule({ name: 'test-dead', kind: 'offline', offlineMinutes: 5, webhookUrl: deadUrl, enabled: false });
    const failed = await h.api<WebhookTestResult>(`/api/alert-rules/${dead.body.id}/test`, { method: 'POST' });
    expect(failed.body.delivered).toBe(false);
    expect(failed.body.error).toMatch(/fetch failed|ECONNREFUSED/);
    expect(failed.body.code).toBe('webhook.refused');
    // A port fetch() refuses to use ("fetch failed: bad port" in English) has a code the UI says in its language.
    const blocked = await createRule({ name: 'test-blocked', kind: 'offline', offlineMinutes: 5, webhookUrl: 'http://127.0.0.1:6000/hook', enabled: false });
    const blockedResult = await h.api<WebhookTestResult>(`/api/alert-rules/${blocked.body.id}/test`, { method: 'POST' });
    expect(blockedResult.body).toMatchObject({ delivered: false, code: 'webhook.blocked-port', params: { port: '6000' } });
    const none = await createRule({ name: 'test-none', kind: 'offline', offlineMinutes: 5, enabled: false });
    expect((await h.api<WebhookTestResult>(`/api/alert-rules/${none.body.id}/test`, { method: 'POST' })).body).toMatchObject({ delivered: false });
    expect((await h.api(`/api/alert-rules/${none.body.id}/test`, { method: 'POST', token: viewerToken })).status).toBe(403);
  });

  it('an offline rule fires after X minutes (not for blips), reminds, is muted by maintenance, and clears on recovery', async () => {
    const [down, maintained] = ipcs;
    const rule = (
      await createRule({ name: '离线5分钟', kind: 'offline', offlineMinutes: 5, reminderMinutes: 10, scope: { kind: 'region', nodeId: '440305' }, webhookUrl: receiver.url })
    ).body;
    const elsewhere = (await createRule({ name: 'other city', kind: 'offline', offlineMinutes: 1, scope: { kind: 'region', nodeId: '110101' } })).body;
    const deadRule = (await createRule({ name: 'dead hook', kind: 'offline', offlineMinutes: 5, scope: { kind: 'region', nodeId: '4403' }, webhookUrl: deadUrl })).body;
    const maint = await h.api(`/api/health/channels/${maintained.channelIds[0]}/maintenance`, { method: 'PUT', body: { on: true, note: 'repair' } });
    expect(maint.status).toBe(200);
    const metricsBefore = (await h.api<string>('/metrics', { token: null })).body;

    fleet.stopDevices([down.id, maintained.id]);
    await Promise.all([waitOffline(down.id), waitOffline(maintained.id)]);
    const t = Date.now();
    // Offline for seconds only: a blip, nothing fires.
    expect(await engine.evaluate(t)).toMatchObject({ fired: 0 });
    expect(await engine.evaluate(t + 4 * MINUTE)).toMatchObject({ fired: 0 });
    // The receiver refuses the first POST: the gateway retries.
    receiver.statuses.push(500);
    const fired = await engine.evaluate(t + 5 * MINUTE + 1000);
    // The down channel for the two matching rules; never the one in maintenance, nor the other city's rule.
    expect(fired.fired).toBe(2);
    const firing = (await h.api<Page<Alert>>(`/api/alerts?state=firing&ruleId=${rule.id}`)).body;
    expect(firing.items).toEqual([expect.objectContaining({ channelId: down.channelIds[0], deviceId: down.id, ruleName: '离线5分钟', state: 'firing', reminders: 0 })]);
    expect(firing.items[0].reason).toMatch(/offline/);
    expect((await h.api<Page<Alert>>(`/api/alerts?ruleId=${elsewhere.id}`)).body.total).toBe(0);
    expect((await h.api<Page<Alert>>(`/api/alerts?channelId=${maintained.channelIds[0]}`)).body.total).toBe(0);

    const hook = await h.waitFor(() => receiver.notifications('fired', down.channelIds[0])[0], 10_000, 'fired webhook');
    expect(hook.alert).toMatchObject({ id: firing.items[0].id, ruleId: rule.id, state: 'firing' });
    expect(receiver.received.find((r) => r.payload.notifications.includes(hook))?.payload).toMatchObject({ test: false, rule: { id: rule.id } });
    await h.waitFor(() => wsAlerts.find((e) => e.event === 'fired' && e.alert.id === firing.items[0].id), 10_000, 'health-alert on the WebSocket');

    // Retries and failures are counted.
    const metricsAfter = await h.waitFor(async () => {
      const text = (await h.api<string>('/metrics', { token: null })).body;
      return metricValue(text, 'se_health_webhook_deliveries_total', 'outcome="failed"') > metricValue(metricsBefore, 'se_health_webhook_deliveries_total', 'outcome="failed"') ? text : null;
    }, 10_000, 'failed delivery in /metrics');
    expect(metricValue(metricsAfter, 'se_health_webhook_retries_total')).toBeGreaterThanOrEqual(3);
    expect(metricValue(metricsAfter, 'se_health_alert_notifications_total', 'event="fired"')).toBeGreaterThanOrEqual(2);
    const deadAlerts = (await h.api<Page<Alert>>(`/api/alerts?ruleId=${deadRule.id}&state=firing`)).body;
    expect(deadAlerts.total).toBe(1);

    // Still down ten minutes later: one reminder.
    expect(await engine.evaluate(t + 15 * MINUTE + 2000)).toMatchObject({ fired: 0, reminders: 1 });
    await h.waitFor(() => receiver.notifications('reminder', down.channelIds[0])[0], 10_000, 'reminder webhook');

    fleet.restartDevices([down.id, maintained.id]);
    await h.waitFor(async () => (await h.api<Device>(`/api/devices/${down.id}`)).body.status === 'online', 30_000, 'back online');
    expect(await engine.evaluate(t + 16 * MINUTE)).toMatchObject({ cleared: 2, fired: 0 });
    const recovered = await h.waitFor(() => receiver.notifications('recovered', down.channelIds[0])[0], 10_000, 'recovery webhook');
    expect(recovered.alert).toMatchObject({ state: 'cleared', clearReason: 'recovered', reminders: 1 });
    const cleared = (await h.api<Page<Alert>>(`/api/alerts?state=cleared&ruleId=${rule.id}`)).body;
    expect(cleared.items[0]).toMatchObject({ channelId: down.channelIds[0], clearReason: 'recovered', clearedAt: t + 16 * MINUTE });
    await h.api(`/api/health/channels/${maintained.channelIds[0]}/maintenance`, { method: 'PUT', body: { on: false } });
    for (const r of [rule, elsewhere, deadRule]) await h.api(`/api/alert-rules/${r.id}`, { method: 'DELETE' });
  });

  it('a stream-failure rule fires after N failed opens and clears after P successful ones', async () => {
    const cam = ipcs[2];
    const channelId = cam.channelIds[0];
    const rule = (await createRule({ name: '取流失败', kind: 'stream-failure', failureCount: 2, clearAfterSuccesses: 2, webhookUrl: receiver.url })).body;
    const probe = () => h.api<ProbeResult>(`/api/health/channels/${channelId}/probe`, { body: {} });

    // The camera stops answering (still registered for a few seconds): opens fail at the INVITE.
    fleet.stopDevices([cam.id]);
    expect((await probe()).body).toMatchObject({ ok: false, error: { step: 'invite' } });
    expect(await engine.evaluate()).toMatchObject({ fired: 0 });
    expect((await probe()).body).toMatchObject({ ok: false, error: { step: 'invite' } });
    expect(await engine.evaluate()).toMatchObject({ fired: 1 });
    const alert = (await h.api<Page<Alert>>(`/api/alerts?state=firing&ruleId=${rule.id}`)).body.items[0];
    expect(alert).toMatchObject({ channelId, kind: 'stream-failure', reason: expect.stringMatching(/^2 consecutive failed stream opens/) });
    await h.waitFor(() => receiver.notifications('fired', channelId)[0], 10_000, 'fired webhook');

    fleet.restartDevices([cam.id]);
    await h.waitFor(() => fleet.stateOf(cam.id) === 'registered', 30_000, 'registered again');
    // First success (a new stream): not enough.
    const first = await h.waitFor(async () => {
      const r = (await probe()).body;
      return r.ok ? r : null;
    }, 20_000, 'a successful open');
    expect(first.reused).toBe(false);
    expect(await engine.evaluate()).toMatchObject({ cleared: 0 });
    // Second success joins the running stream: P = 2 reached.
    expect((await probe()).body).toMatchObject({ ok: true, reused: true });
    expect(await engine.evaluate()).toMatchObject({ cleared: 1 });
    const recovered = await h.waitFor(() => receiver.notifications('recovered', channelId)[0], 10_000, 'recovery webhook');
    expect(recovered.alert).toMatchObject({ id: alert.id, clearReason: 'recovered' });
    await h.waitFor(() => wsAlerts.find((e) => e.event === 'recovered' && e.alert.id === alert.id), 10_000, 'recovery on the WebSocket');
  });
});
