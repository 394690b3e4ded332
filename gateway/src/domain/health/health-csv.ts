/**
 * CSV export of the channel health list, for Excel: UTF-8 with a byte-order mark (without it Excel reads
 * the file as the local ANSI code page and Chinese names turn into mojibake), CRLF line ends, RFC 4180
 * quoting, times as "YYYY-MM-DD HH:mm:ss" in the configured time zone (Asia/Shanghai by default, 24-hour).
 *
 * Cells that start with = + - @ are prefixed with an apostrophe: a device name is attacker-controlled text,
 * and Excel would otherwise run it as a formula (CSV injection).
 *
 * ID columns (20-digit GB codes, civil codes) start with a tab: Excel would otherwise read them as numbers
 * and show 4.40305E+19, losing digits. This is the usual trick of Chinese platforms' exports; programs that
 * read the file should trim the cells.
 */
import type { ChannelHealth, HealthStatus } from './types.js';
import { reasonZh } from './reason-zh.js';

export type CsvLanguage = 'zh-CN' | 'en';

const BOM = '\uFEFF';

const HEADERS: Record<CsvLanguage, string[]> = {
  'zh-CN': ['通道编码', '通道名称', '设备编码', '设备名称', '行政区划', '状态', '原因', '开始时间', '持续(秒)', '最后心跳', '最后错误', '24小时离线次数'],
  en: ['Channel ID', 'Channel name', 'Device ID', 'Device name', 'Civil code', 'Status', 'Reason', 'Since', 'Duration (s)', 'Last keepalive', 'Last error', 'Offline episodes (24 h)'],
};

const STATUS_LABELS: Record<CsvLanguage, Record<HealthStatus, string>> = {
  'zh-CN': {
    'device-offline': '设备离线',
    'channel-offline': '通道离线',
    'stream-failing': '取流失败',
    degraded: '质量下降',
    maintenance: '检修中',
    healthy: '正常',
  },
  en: {
    'device-offline': 'device offline',
    'channel-offline': 'channel offline',
    'stream-failing': 'stream failing',
    degraded: 'degraded',
    maintenance: 'in maintenance',
    healthy: 'healthy',
  },
};

/** A digit string Excel must keep as text. */
export function csvIdCell(id: string): string {
  return /^[0-9]+$/.test(id) ? `\t${id}` : csvCell(id);
}

export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function timeFormatter(timeZone: string): (ms: number | null) => string {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  return (ms) => {
    if (ms === null) return '';
    const parts: Record<string, string> = {};
    for (const p of format.formatToParts(new Date(ms))) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  };
}

export function channelHealthCsv(rows: readonly ChannelHealth[], options: { language: CsvLanguage; timeZone: string }): string {
  const time = timeFormatter(options.timeZone);
  const labels = STATUS_LABELS[options.language];
  // The Chinese file gets Chinese reasons (the English ones are the API's own words).
  const zh = options.language === 'zh-CN';
  const lines = [HEADERS[options.language].map(csvCell).join(',')];
  for (const r of rows) {
    lines.push(
      [
        csvIdCell(r.channelId),
        csvCell(r.name),
        csvIdCell(r.deviceId),
        csvCell(r.deviceName),
        csvIdCell(r.civilCode),
        csvCell(labels[r.status]),
        csvCell(zh ? reasonZh(r.reasonCode, r.reason) : r.reason),
        csvCell(time(r.since)),
        csvCell(r.durationSec),
        csvCell(time(r.lastKeepaliveAt)),
        csvCell(zh && r.lastError !== null ? reasonZh(r.lastErrorCode, r.lastError) : r.lastError),
        csvCell(r.episodes24h),
      ].join(','),
    );
  }
  return BOM + lines.join('\r\n') + '\r\n';
}
