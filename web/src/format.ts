/**
 * Dates and durations as operators read them: 24-hour clock, Asia/Shanghai time (the network's time zone,
 * whatever the browser's own setting), digits the same in both locales.
 */
const TIME_ZONE = 'Asia/Shanghai';

const hhmm = new Intl.DateTimeFormat('zh-CN', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hour12: false });
const full = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

export function formatHhMm(ms: number): string {
  return hhmm.format(ms);
}

export function formatDateTime(ms: number | null | undefined): string {
  return ms ? full.format(ms) : '—';
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  const rest = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

export function formatPercent(rate: number | null | undefined, digits = 1): string {
  return rate === null || rate === undefined || Number.isNaN(rate) ? '—' : `${(rate * 100).toFixed(digits)}%`;
}
