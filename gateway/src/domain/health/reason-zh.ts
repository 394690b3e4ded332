/**
 * Reasons in Chinese, rendered on the gateway for what has no UI catalogue to render them: the Chinese CSV
 * export and the WeCom / DingTalk robot messages. The words are those of the web catalogue
 * (web/src/i18n/zh-CN/reason-health.ts); a code this table does not know falls back to the English text.
 */
import type { ReasonCode, ReasonParam } from './types.js';

const TEXT: Record<string, string> = {
  healthy: '设备与通道在线，取流正常',
  'channel-offline': '设备在线，但报告该通道离线（目录状态 OFF）',
  'device-offline': '设备 {deviceId} 离线：{why}',
  'device-offline-then': '设备 {deviceId} 离线：{why}；此后：{then}',
  'stream-failing': '连续 {count} 次取流失败，最近一次失败于：{step}',
  'degraded-stream': '{stream}质量{grade}：{causes}',
  stalls: '近 1 小时卡顿 {count} 次',
  'fps-poor': '帧率 {fps} 低于期望值 {expected} 的 {percent}%',
  'fps-fair': '帧率 {fps} 低于期望值 {expected}',
  'packet-loss': '丢包率 {loss}',
  'resolution-low': '分辨率 {actual} 低于期望的 {expected}',
  maintenance: '检修中（{by} 设置）',
  'maintenance-over': '检修中（{by} 设置）；检修前状态：{beneath}',
  'stream-step-failed': '取流失败于：{step}',
  'registration-refused': '注册被拒：{why}',
  'alert-stream-failures': '连续 {count} 次取流失败：{cause}',
  'alert-test': '告警规则测试消息',
  'alarm-unacknowledged': '报警超过 {minutes} 分钟未确认：{description}',
  'alarm-unacknowledged-bare': '报警超过 {minutes} 分钟未确认',
  text: '{text}',
  'offline.keepalive-timeout': '心跳超时',
  'offline.registration-expired': '注册过期未续',
  'offline.unregistered': '设备已注销',
  'offline.tcp-connection-lost': 'TCP 连接断开',
  'offline.device-offline': '设备离线',
  'offline.reported-by-device': '设备上报离线',
  'offline.never-registered': '从未注册',
  'offline.unknown-device': '未知设备',
  'refused.wrong-password': '密码错误',
  'refused.unknown-device': '未登记的设备',
  'refused.bad-credentials': '认证信息有误',
  'refused.locked-out': '认证失败过多，已锁定',
  'refused.stale-nonce': '认证随机数过期',
  'step.channel': '通道查找',
  'step.device': '设备状态',
  'step.resources': '收流资源',
  'step.invite': '点播邀请（INVITE）',
  'step.answer': '设备应答',
  'step.rtp': '收流（RTP）',
  'step.keyframe': '关键帧',
  'step.packager': '切片封装',
  'stream.main': '主码流',
  'stream.sub': '子码流',
  'grade.good': '良好',
  'grade.fair': '一般',
  'grade.poor': '较差',
  'grade.unknown': '未知',
};

const isReason = (v: ReasonParam | undefined): v is ReasonCode => typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v.code === 'string';

/** The reason in Chinese; `fallback` (the English text) for a code the table does not know. */
export function reasonZh(code: ReasonCode | null | undefined, fallback: string): string {
  if (!code) return fallback;
  const template = TEXT[code.code];
  if (template === undefined) return fallback;
  const params = code.params ?? {};
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (Array.isArray(value)) return value.map((v) => reasonZh(v, '')).join('；');
    if (isReason(value)) return reasonZh(value, value.code);
    return value === undefined ? '' : String(value);
  });
}
