/**
 * Webhook bodies for the group robots maintenance teams actually read alerts in: WeCom (企业微信群机器人) and
 * DingTalk (钉钉自定义机器人). Both take a POST of `{"msgtype":"markdown", …}` to the robot's webhook URL and
 * answer HTTP 200 with `{"errcode":0,"errmsg":"ok"}`; a refusal (bad key, keyword or signature check, rate
 * limit) is also HTTP 200 with a non-zero errcode, so the answer's body decides delivery.
 *
 * - WeCom: `{ msgtype: 'markdown', markdown: { content } }`, content at most 4096 bytes (UTF-8).
 * - DingTalk: `{ msgtype: 'markdown', markdown: { title, text } }`; a robot takes at most 20 messages a
 *   minute, which is why notifications are one message per pass and rule, grouped by device, not one per
 *   channel.
 *
 * The text is Chinese: these groups are Chinese-speaking duty rosters (the in-app UI is bilingual from its
 * catalogues; a robot message has no locale to choose from).
 */
import type { Alert, AlertKind, AlertNotificationEvent, AlertRule, WebhookFormat } from './types.js';
import { reasonZh } from './reason-zh.js';

export { reasonZh };

export interface RobotNotification {
  event: AlertNotificationEvent;
  alert: Alert;
}

const EVENT_ZH: Record<AlertNotificationEvent, string> = {
  fired: '告警',
  reminder: '仍未恢复',
  recovered: '已恢复',
  cleared: '已清除',
  test: '测试',
};

const KIND_ZH: Record<AlertKind, string> = { offline: '离线', 'stream-failure': '取流失败', 'alarm-unacknowledged': '报警超时未确认' };

/** WeCom's markdown content limit, bytes. */
const WECOM_MAX_BYTES = 4096;
/** DingTalk has no documented small limit; keep messages readable on a phone. */
const DINGTALK_MAX_BYTES = 8000;

function time(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('zh-CN', { timeZone, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}

/** Markdown lines grouped by device (an NVR's channels under one heading), cut to fit `maxBytes`. */
function markdownLines(rule: AlertRule, list: readonly RobotNotification[], timeZone: string, maxBytes: number): { title: string; text: string } {
  const firing = list.filter((n) => n.event === 'fired' || n.event === 'reminder' || n.event === 'test').length;
  const recovered = list.length - firing;
  const devices = new Map<string, RobotNotification[]>();
  for (const n of list) {
    const key = n.alert.deviceId;
    const group = devices.get(key);
    if (group) group.push(n);
    else devices.set(key, [n]);
  }
  // An alarm escalation travels on a rule's webhook but is not that rule's kind: the title says what it is.
  const kind: AlertKind = list[0]?.alert.kind ?? rule.kind;
  const title =
    kind === 'alarm-unacknowledged'
      ? `【${KIND_ZH[kind]}${firing > 0 ? '' : '，已确认'}】${rule.name}`
      : `【${KIND_ZH[kind]}${firing > 0 ? '告警' : '恢复'}】${rule.name}`;
  const head = [
    `### ${title}`,
    `> ${firing > 0 ? `告警 ${firing} 路` : ''}${firing > 0 && recovered > 0 ? '，' : ''}${recovered > 0 ? `恢复 ${recovered} 路` : ''}，涉及 ${devices.size} 台设备`,
    '',
  ];
  const body: string[] = [];
  for (const [deviceId, group] of devices) {
    const first = group[0].alert;
    const place = first.place?.name ? ` · ${first.place.name}` : '';
    body.push(`**${first.deviceName || deviceId}**（${deviceId}）${place}`);
    for (const n of group) {
      const a = n.alert;
      body.push(`- ${EVENT_ZH[n.event]}：${a.channelName || a.channelId} — ${reasonZh(a.reasonCode, a.reason)}（${time(n.event === 'recovered' ? (a.clearedAt ?? a.firedAt) : a.firedAt, timeZone)}）`);
    }
  }
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  let text = [...head, ...body].join('\n');
  if (bytes(text) > maxBytes) {
    const kept: string[] = [...head];
    let size = bytes(kept.join('\n'));
    let shown = 0;
    for (const line of body) {
      const cost = bytes(line) + 1;
      if (size + cost > maxBytes - 64) break;
      kept.push(line);
      size += cost;
      shown++;
    }
    kept.push(`…… 另有 ${body.length - shown} 行，详见运维控制台`);
    text = kept.join('\n');
  }
  return { title, text };
}

/** The POST body for a rule's webhook format; `json` is our own payload, unchanged. */
export function webhookBody(format: WebhookFormat, rule: AlertRule, payload: unknown, list: readonly RobotNotification[], timeZone: string): unknown {
  if (format === 'wecom') {
    const { text } = markdownLines(rule, list, timeZone, WECOM_MAX_BYTES);
    return { msgtype: 'markdown', markdown: { content: text } };
  }
  if (format === 'dingtalk') {
    const { title, text } = markdownLines(rule, list, timeZone, DINGTALK_MAX_BYTES);
    return { msgtype: 'markdown', markdown: { title, text } };
  }
  return payload;
}

/**
 * Whether a robot accepted the message, from its answer body. Rate limits (WeCom 45009, DingTalk 130101) are
 * worth a retry after the back-off; any other refusal is not.
 */
export function robotAnswer(bodyText: string): { delivered: boolean; error?: string; retriable?: boolean } {
  let answer: { errcode?: unknown; errmsg?: unknown };
  try {
    answer = JSON.parse(bodyText) as { errcode?: unknown; errmsg?: unknown };
  } catch {
    return { delivered: false, error: 'the robot answered something other than JSON', retriable: false };
  }
  if (answer.errcode === 0) return { delivered: true };
  const code = typeof answer.errcode === 'number' ? answer.errcode : NaN;
  return { delivered: false, error: `errcode ${String(answer.errcode)}: ${String(answer.errmsg ?? '')}`, retriable: code === 45009 || code === 130101 };
}
