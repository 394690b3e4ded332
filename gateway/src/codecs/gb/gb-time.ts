/**
 * GB/T 28181 time text: `YYYY-MM-DDTHH:mm:ss` in China Standard Time (UTC+8), without a zone — what devices put in
 * RecordInfo StartTime/EndTime, AlarmTime and the like. China has no daylight saving time, so a fixed +8 h offset
 * is exact; the API speaks ISO 8601 with a zone, and these two functions are the only place that converts.
 */

const CST_OFFSET_MS = 8 * 3600_000;
const GB_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})$/;

/** Epoch ms → GB local time text. */
export function toGbTime(epochMs: number): string {
  return new Date(epochMs + CST_OFFSET_MS).toISOString().slice(0, 19);
}

/** GB local time text (T or space between date and time) → epoch ms; null when it is not one. */
export function fromGbTime(text: string): number | null {
  const m = GB_TIME.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  return Date.UTC(y, mo - 1, d, h, mi, s) - CST_OFFSET_MS;
}
