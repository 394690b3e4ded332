/**
 * The playback timeline's arithmetic, without a browser (web/test/wall-timeline.test.ts): one local day, the
 * part of it on screen (zoom), time to pixel and back, the record bars, what a click means (play from here, or seek the
 * playback that runs), and where the picture on screen is in the recording.
 *
 * Days are the browser's local days: the operator reads "yesterday 14:00" on the wall PC's clock. The gateway
 * takes ISO instants and asks the device in its own time zone (docs/cascade.md), so no zone arithmetic is
 * needed here beyond the Date object's own.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Speeds the gateway and GB devices accept (MANSRTSP Scale; docs/playback.md). */
export const SPEEDS = [0.25, 0.5, 1, 2, 4, 8] as const;
export type Speed = (typeof SPEEDS)[number];

/** Hours on screen at each zoom step: the whole day down to one hour. */
export const ZOOM_HOURS = [24, 12, 6, 3, 1] as const;

/** One recording as GET /api/channels/:id/records answers it. */
export interface RecordItem {
  start: string;
  end: string;
  type: string;
  secrecy: number | null;
  filePath?: string;
}

/** The part of the day on screen, epoch ms. */
export interface TimeWindow {
  from: number;
  to: number;
}

export interface RecordBar {
  /** px from the bar's left edge. */
  left: number;
  width: number;
  /** `time` | `alarm` | `manual` | `other`: the colour class. */
  kind: 'time' | 'alarm' | 'manual' | 'other';
  start: number;
  end: number;
}

/** Local midnight of the day holding `ms`. */
export function dayStart(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Local midnight `delta` days away (a DST day is 23 or 25 h long: step by the calendar, not by 24 h). */
export function shiftDay(dayStartMs: number, delta: number): number {
  const d = new Date(dayStartMs);
  d.setDate(d.getDate() + delta);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The day as the date input writes it: YYYY-MM-DD (local). */
export function dayKey(dayStartMs: number): string {
  const d = new Date(dayStartMs);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Local midnight of a YYYY-MM-DD the date input gave; null when it is not one. */
export function parseDayKey(key: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) || d.getMonth() !== Number(m[2]) - 1 || d.getDate() !== Number(m[3]) ? null : d.getTime();
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * The window of `hours` around `centre`, kept inside the day [dayStartMs, dayEndMs): zooming in near
 * midnight shows 00:00–01:00, not 23:30 of the day before.
 */
export function windowAround(dayStartMs: number, dayEndMs: number, hours: number, centre: number): TimeWindow {
  const span = Math.min(hours * HOUR_MS, dayEndMs - dayStartMs);
  const from = clamp(centre - span / 2, dayStartMs, dayEndMs - span);
  return { from, to: from + span };
}

/** Move the window by `fraction` of its width, inside the day. */
export function panWindow(window: TimeWindow, dayStartMs: number, dayEndMs: number, fraction: number): TimeWindow {
  const span = window.to - window.from;
  const from = clamp(window.from + span * fraction, dayStartMs, dayEndMs - span);
  return { from, to: from + span };
}

/** Pixel of an instant on a bar `width` px wide; instants outside the window are clamped to its edges. */
export function timeToX(ms: number, window: TimeWindow, width: number): number {
  if (width <= 0 || window.to <= window.from) return 0;
  return ((clamp(ms, window.from, window.to) - window.from) / (window.to - window.from)) * width;
}

/** Instant of a pixel on the bar (clamped to the window), whole seconds: what t= and the seek carry. */
export function xToTime(x: number, window: TimeWindow, width: number): number {
  if (width <= 0) return window.from;
  const ms = window.from + (clamp(x, 0, width) / width) * (window.to - window.from);
  return Math.floor(ms / 1000) * 1000;
}

function kindOf(type: string): RecordBar['kind'] {
  return type === 'time' || type === 'alarm' || type === 'manual' ? type : 'other';
}

/**
 * Records as bars in the window: clipped to it, records outside dropped, unreadable times skipped, at least
 * 2 px wide so a 10-second alarm clip on a 24-hour bar can still be seen and clicked.
 */
export function layoutBars(records: readonly RecordItem[], window: TimeWindow, width: number): RecordBar[] {
  const bars: RecordBar[] = [];
  for (const r of records) {
    const start = Date.parse(r.start);
    const end = Date.parse(r.end);
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) continue;
    if (end <= window.from || start >= window.to) continue;
    const left = timeToX(start, window, width);
    const right = timeToX(end, window, width);
    bars.push({ left, width: Math.max(2, right - left), kind: kindOf(r.type), start, end });
  }
  return bars.sort((a, b) => a.start - b.start);
}

/** Hour ticks to label in the window: every hour, or every 2/3/6 when the bar would be crowded. */
export function hourTicks(window: TimeWindow, width: number, minGapPx = 44): Array<{ at: number; x: number; label: string }> {
  const hours = (window.to - window.from) / HOUR_MS;
  const step = [1, 2, 3, 6].find((s) => (width / hours) * s >= minGapPx) ?? 6;
  const ticks: Array<{ at: number; x: number; label: string }> = [];
  const first = new Date(window.from);
  first.setMinutes(0, 0, 0);
  // The window's end is left out: its label would hang off the bar's right edge.
  for (let d = first; d.getTime() < window.to; d = new Date(d.getTime() + HOUR_MS)) {
    if (d.getTime() < window.from || d.getHours() % step !== 0) continue;
    ticks.push({ at: d.getTime(), x: timeToX(d.getTime(), window, width), label: `${String(d.getHours()).padStart(2, '0')}:00` });
  }
  return ticks;
}

/** The shortest span asked of a device: a click in a record's last second still plays something. */
export const MIN_SPAN_MS = 2_000;

/** Records this close are one recording: devices cut continuous recording into files (the simulator: hourly). */
export const CONTIGUOUS_MS = 1_000;

/**
 * What to play for a click at `at`: from there to the end of the recording under it (never past `latest`: the
 * gateway refuses spans in the future), or — in a gap — the next recording of the day from its start. Null when
 * nothing is recorded from there to the day's end. Back-to-back files count as one recording, so playback runs
 * on over a file boundary (and a click a pixel before a boundary — minutes on a 24-hour bar — does not play
 * just the tail of the earlier file).
 */
export function playSpanAt(at: number, records: readonly RecordItem[], dayEndMs: number, latest: number): { start: number; end: number } | null {
  const spans = records
    .map((r) => ({ start: Date.parse(r.start), end: Math.min(Date.parse(r.end), dayEndMs, latest) }))
    .filter((r) => Number.isFinite(r.start) && Number.isFinite(r.end) && r.end - r.start >= MIN_SPAN_MS)
    .sort((a, b) => a.start - b.start)
    .reduce<Array<{ start: number; end: number }>>((runs, r) => {
      const last = runs[runs.length - 1];
      if (last && r.start - last.end <= CONTIGUOUS_MS) last.end = Math.max(last.end, r.end);
      else runs.push({ ...r });
      return runs;
    }, []);
  const under = spans.find((r) => at >= r.start && at < r.end);
  if (under) {
    const end = Math.floor(under.end / 1000) * 1000;
    const start = Math.max(under.start, Math.min(Math.floor(at / 1000) * 1000, end - MIN_SPAN_MS));
    return { start: Math.ceil(start / 1000) * 1000, end };
  }
  const next = spans.find((r) => r.start > at);
  return next ? { start: Math.ceil(next.start / 1000) * 1000, end: Math.floor(next.end / 1000) * 1000 } : null;
}

/**
 * A click while a playback runs: inside its span (but not in its last 2 s, where the device would answer 457
 * "past the end") it is a seek to that many seconds from the span's start; anywhere else a new playback.
 */
export function clickAction(at: number, span: { start: number; end: number } | null): { kind: 'seek'; offsetSec: number } | { kind: 'play' } {
  if (span && at >= span.start && at < span.end - MIN_SPAN_MS) return { kind: 'seek', offsetSec: Math.floor((at - span.start) / 1000) };
  return { kind: 'play' };
}

/**
 * The recording time of the picture on screen. The gateway reports the position of the latest frame it
 * received (`history.positionSec`, polled); the player is behind that by what it has buffered ahead of the
 * playhead — in media seconds, which are recording seconds (docs/playback.md: media time is recording time),
 * whatever the speed. Clamped to the span.
 */
export function shownPosition(span: { start: number; end: number }, receivedSec: number | null, bufferedAheadSec: number): number | null {
  if (receivedSec === null) return null;
  return clamp(span.start + (receivedSec - Math.max(0, bufferedAheadSec)) * 1000, span.start, span.end);
}

/** hh:mm:ss of an instant, local. */
export function clockText(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** "×0.25" … "×8" as the speed buttons read. */
export function speedLabel(speed: number): string {
  return `×${speed}`;
}
