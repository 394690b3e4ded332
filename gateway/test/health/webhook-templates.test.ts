/**
 * WeCom (企业微信) and DingTalk (钉钉) group-robot webhooks: the body is the robot's markdown message, grouped by
 * device (an NVR's channels under one heading), within WeCom's 4096-byte limit; delivery is decided by the
 * robot's errcode (both answer HTTP 200 to a refusal), against a real HTTP server that answers like a robot.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookSender } from '../../src/domain/health/webhook.js';
import { robotAnswer, webhookBody, type RobotNotification } from '../../src/domain/health/webhook-templates.js';
import type { Alert, AlertRule } from '../../src/domain/health/types.js';

const rule: AlertRule = {
  id: 'r1',
  name: '离线 5 分钟',
  enabled: true,
  kind: 'offline',
  offlineMinutes: 5,
  failureCount: null,
  clearAfterSuccesses: null,
  reminderMinutes: null,
  notifyRecovery: true,
  scope: { kind: 'all', nodeId: null },
  webhookUrl: 'http://127.0.0.1/robot',
  webhookFormat: 'wecom',
  createdBy: 'admin',
  createdAt: 0,
  updatedAt: 0,
};

function alert(channel: number, deviceId: string, deviceName: string): Alert {
  return {
    id: `a${channel}`,
    ruleId: 'r1',
    ruleName: rule.name,
    kind: 'offline',
    channelId: `4403050000131000${String(channel).padStart(4, '0')}`,
    channelName: `通道 ${channel}`,
    deviceId,
    deviceName,
    civilCode: '44030500',
    place: { id: '440305001', name: '南头街道' },
    state: 'firing',
    reason: `device ${deviceId} offline: no keepalive within the timeout`,
    reasonCode: { code: 'device-offline', params: { deviceId, why: { code: 'offline.keepalive-timeout' } } },
    firedAt: Date.UTC(2026, 0, 2, 1, 0, 0),
    clearedAt: null,
    clearReason: null,
    lastNotifiedAt: 0,
    reminders: 0,
  };
}

const NVR = '44030500001180000001';
const IPC = '44030500001320000009';
const notifications: RobotNotification[] = [
  ...[1, 2, 3].map((n) => ({ event: 'fired' as const, alert: alert(n, NVR, '南头NVR') })),
  { event: 'fired', alert: alert(9, IPC, '路口球机') },
];

describe('robot message bodies', () => {
  it('WeCom: markdown content grouped by device, Chinese reasons, in Asia/Shanghai time', () => {
    const body = webhookBody('wecom', rule, { ours: true }, notifications, 'Asia/Shanghai') as { msgtype: string; markdown: { content: string } };
    expect(body.msgtype).toBe('markdown');
    const content = body.markdown.content;
    expect(content).toContain('【离线告警】离线 5 分钟');
    expect(content).toContain('告警 4 路，涉及 2 台设备');
    // One heading per device, its channels beneath it.
    expect(content.match(/\*\*南头NVR\*\*/g)).toHaveLength(1);
    expect(content).toContain(`**南头NVR**（${NVR}） · 南头街道`);
    expect(content).toContain(`- 告警：通道 1 — 设备 ${NVR} 离线：心跳超时（01/02 09:00）`);
    expect(content).not.toMatch(/no keepalive/);
  });

  it('DingTalk: markdown with a title and text', () => {
    const body = webhookBody('dingtalk', rule, { ours: true }, notifications, 'Asia/Shanghai') as { msgtype: string; markdown: { title: string; text: string } };
    expect(body).toMatchObject({ msgtype: 'markdown', markdown: { title: '【离线告警】离线 5 分钟' } });
    expect(body.markdown.text).toContain('**路口球机**');
  });

  it('json: our own payload, unchanged', () => {
    expect(webhookBody('json', rule, { ours: true }, notifications, 'Asia/Shanghai')).toEqual({ ours: true });
  });

  it('WeCom content stays within 4096 bytes for a region going dark, and says how much was left out', () => {
    const many: RobotNotification[] = Array.from({ length: 400 }, (_, i) => ({ event: 'fired' as const, alert: alert(i, `4403050000118000${String(i % 40).padStart(4, '0')}`, `NVR ${i % 40}`) }));
    const content = (webhookBody('wecom', rule, {}, many, 'Asia/Shanghai') as { markdown: { content: string } }).markdown.content;
    expect(Buffer.byteLength(content, 'utf8')).toBeLessThanOrEqual(4096);
    expect(content).toMatch(/另有 \d+ 行/);
  });

  it('the answer decides: errcode 0 is delivered; a refusal is not, and only a rate limit is retried', () => {
    expect(robotAnswer('{"errcode":0,"errmsg":"ok"}')).toEqual({ delivered: true });
    expect(robotAnswer('{"errcode":310000,"errmsg":"keywords not in content"}')).toEqual({ delivered: false, error: 'errcode 310000: keywords not in content', retriable: false });
    expect(robotAnswer('{"errcode":45009,"errmsg":"api freq out of limit"}')).toMatchObject({ delivered: false, retriable: true });
    expect(robotAnswer('<html>')).toMatchObject({ delivered: false, retriable: false });
  });
});

describe('delivery to a robot over HTTP', () => {
  let server: Server;
  let url: string;
  const received: unknown[] = [];
  /** What the robot answers next (HTTP 200 either way, as WeCom and DingTalk do). */
  let answer = '{"errcode":0,"errmsg":"ok"}';

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cgi-bin/webhook/send?key=test`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('is delivered when the robot says errcode 0, and not when it refuses with HTTP 200', async () => {
    const sender = new WebhookSender({ timeoutMs: 5000, retries: 2, retryBaseMs: 10 }, pino({ level: 'silent' }));
    const body = webhookBody('wecom', rule, {}, notifications, 'Asia/Shanghai');
    expect(await sender.deliver(url, body, 0, true)).toMatchObject({ delivered: true, status: 200 });
    expect(received.at(-1)).toMatchObject({ msgtype: 'markdown', markdown: { content: expect.stringContaining('南头NVR') } });

    answer = '{"errcode":93000,"errmsg":"invalid webhook url"}';
    const before = received.length;
    const refused = await sender.deliver(url, body, 2, true);
    expect(refused).toMatchObject({ delivered: false, status: 200, error: 'errcode 93000: invalid webhook url', attempts: 1 });
    // Not retried: the robot refused this message, sending it again will not help.
    expect(received.length).toBe(before + 1);
    // A plain JSON receiver is judged by HTTP status alone.
    expect(await sender.deliver(url, { ours: true }, 0, false)).toMatchObject({ delivered: true });
    sender.close();
  });
});
