import { describe, expect, it } from 'vitest';
import {
  clickAction,
  clockText,
  dayKey,
  dayStart,
  DAY_MS,
  HOUR_MS,
  hourTicks,
  layoutBars,
  MIN_SPAN_MS,
  panWindow,
  parseDayKey,
  playSpanAt,
  shiftDay,
  shownPosition,
  timeToX,
  windowAround,
  xToTime,
  type RecordItem,
} from '../src/components/wall/timeline';

// Local times (the timeline works in the browser's days), so the tests hold in any time zone.
const day = new Date(2026, 10, 20).getTime();
const at = (h: number, m = 0, s = 0) => new Date(2026, 10, 20, h, m, s).getTime();
const rec = (from: number, to: number, type = 'time'): RecordItem => ({ start: new Date(from).toISOString(), end: new Date(to).toISOString(), type, secrecy: 0 });
const wholeDay = { from: day, to: day + DAY_MS };

describe('days', () => {
  it('starts, shifts and names local days', () => {
    expect(dayStart(at(13, 45))).toBe(day);
    expect(shiftDay(day, 1)).toBe(new Date(2026, 10, 21).getTime());
    expect(shiftDay(day, -20)).toBe(new Date(2026, 9, 31).getTime());
    expect(dayKey(day)).toBe('2026-11-20');
    expect(parseDayKey('2026-11-20')).toBe(day);
  });

  it('refuses dates that are not dates', () => {
    for (const bad of ['', '2026-13-01', '2026-02-30', '20261120', '2026-1-2', 'tomorrow']) expect(parseDayKey(bad), bad).toBeNull();
  });
});

describe('time ↔ pixel', () => {
  it('maps the day onto the bar and back', () => {
    expect(timeToX(day, wholeDay, 960)).toBe(0);
    expect(timeToX(at(12), wholeDay, 960)).toBe(480);
    expect(timeToX(day + DAY_MS, wholeDay, 960)).toBe(960);
    expect(xToTime(480, wholeDay, 960)).toBe(at(12));
    // 40 px an hour: one pixel is 90 s.
    expect(xToTime(1, wholeDay, 960)).toBe(day + 90_000);
  });

  it('clamps what lies outside the window or the bar', () => {
    expect(timeToX(day - HOUR_MS, wholeDay, 960)).toBe(0);
    expect(timeToX(day + 2 * DAY_MS, wholeDay, 960)).toBe(960);
    expect(xToTime(-50, wholeDay, 960)).toBe(day);
    expect(xToTime(5000, wholeDay, 960)).toBe(day + DAY_MS);
  });

  it('answers whole seconds (what t= and a seek carry) and survives a bar of no width', () => {
    expect(xToTime(333, wholeDay, 960) % 1000).toBe(0);
    expect(timeToX(at(5), wholeDay, 0)).toBe(0);
    expect(xToTime(10, wholeDay, 0)).toBe(day);
  });
});

describe('zoom and pan', () => {
  it('centres a zoomed window and keeps it inside the day', () => {
    expect(windowAround(day, day + DAY_MS, 1, at(12))).toEqual({ from: at(11, 30), to: at(12, 30) });
    expect(windowAround(day, day + DAY_MS, 1, at(0, 10))).toEqual({ from: day, to: at(1) });
    expect(windowAround(day, day + DAY_MS, 6, at(23, 50))).toEqual({ from: at(18), to: day + DAY_MS });
    expect(windowAround(day, day + DAY_MS, 24, at(3))).toEqual(wholeDay);
  });

  it('pans by half a window and stops at the day’s edges', () => {
    const w = { from: at(10), to: at(13) };
    expect(panWindow(w, day, day + DAY_MS, 0.5)).toEqual({ from: at(11, 30), to: at(14, 30) });
    expect(panWindow({ from: at(1), to: at(4) }, day, day + DAY_MS, -0.5)).toEqual({ from: day, to: at(3) });
    expect(panWindow({ from: at(20), to: at(23) }, day, day + DAY_MS, 0.5)).toEqual({ from: at(21), to: day + DAY_MS });
  });

  it('labels hours without crowding the bar', () => {
    const wide = hourTicks(wholeDay, 2400);
    expect(wide.map((t) => t.label)).toContain('13:00');
    expect(wide).toHaveLength(24);
    const narrow = hourTicks(wholeDay, 400);
    expect(narrow.length).toBeLessThan(12);
    for (let i = 1; i < narrow.length; i++) expect(narrow[i].x - narrow[i - 1].x).toBeGreaterThanOrEqual(44);
    const zoomed = hourTicks({ from: at(11, 30), to: at(12, 30) }, 600);
    expect(zoomed.map((t) => [t.label, t.x])).toEqual([['12:00', 300]]);
  });
});

describe('record bars', () => {
  it('draws records as bars, coloured by type, in time order', () => {
    const bars = layoutBars([rec(at(4), at(5), 'alarm'), rec(at(0), at(3)), rec(at(6), at(7), 'manual'), rec(at(8), at(9), 'odd')], wholeDay, 960);
    expect(bars.map((b) => [b.kind, b.left, b.width])).toEqual([
      ['time', 0, 120],
      ['alarm', 160, 40],
      ['manual', 240, 40],
      ['other', 320, 40],
    ]);
  });

  it('clips records to the window, drops the ones outside and the unreadable ones', () => {
    const w = { from: at(10), to: at(12) };
    const bars = layoutBars([rec(at(9), at(11)), rec(at(13), at(14)), rec(at(11, 30), at(20)), { start: 'x', end: 'y', type: 'time', secrecy: 0 }, rec(at(10, 30), at(10, 30))], w, 200);
    expect(bars.map((b) => [b.left, b.width])).toEqual([
      [0, 100],
      [150, 50],
    ]);
  });

  it('keeps a short clip visible and clickable (≥ 2 px)', () => {
    const [bar] = layoutBars([rec(at(14), at(14, 0, 10), 'alarm')], wholeDay, 960);
    expect(bar.width).toBe(2);
  });
});

describe('what a click plays', () => {
  const records = [rec(at(0), at(1)), rec(at(1), at(2)), rec(at(4), at(5))];
  const dayEnd = day + DAY_MS;
  const now = at(23);

  it('plays from the clicked second to the end of the recording under it; back-to-back files are one recording', () => {
    expect(playSpanAt(at(0, 30, 15), records, dayEnd, now)).toEqual({ start: at(0, 30, 15), end: at(2) });
    expect(playSpanAt(at(4, 30), records, dayEnd, now)).toEqual({ start: at(4, 30), end: at(5) });
    // A second apart still joins; a minute apart does not.
    expect(playSpanAt(at(6, 10), [rec(at(6), at(7)), rec(at(7, 0, 1), at(8))], dayEnd, now)).toEqual({ start: at(6, 10), end: at(8) });
    expect(playSpanAt(at(6, 10), [rec(at(6), at(7)), rec(at(7, 1), at(8))], dayEnd, now)).toEqual({ start: at(6, 10), end: at(7) });
  });

  it('plays the next record from its start when the click is in a gap, nothing after the last', () => {
    expect(playSpanAt(at(3), records, dayEnd, now)).toEqual({ start: at(4), end: at(5) });
    expect(playSpanAt(at(6), records, dayEnd, now)).toBeNull();
  });

  it('never asks for the future: a record still being written ends at `latest`', () => {
    const open = [rec(at(22), at(23, 59))];
    expect(playSpanAt(at(22, 30), open, dayEnd, at(22, 40))).toEqual({ start: at(22, 30), end: at(22, 40) });
    // Clicked after `latest`: nothing there yet.
    expect(playSpanAt(at(22, 50), open, dayEnd, at(22, 40))).toBeNull();
  });

  it('a click in a recording’s last second still plays MIN_SPAN_MS of it', () => {
    const span = playSpanAt(at(1, 59, 59), records, dayEnd, now)!;
    expect(span.end - span.start).toBe(MIN_SPAN_MS);
    expect(span.end).toBe(at(2));
  });

  it('seeks inside the running span, plays anew outside it or in its last seconds', () => {
    const running = { start: at(0), end: at(1) };
    expect(clickAction(at(0, 20), running)).toEqual({ kind: 'seek', offsetSec: 1200 });
    expect(clickAction(at(0, 59, 59), running)).toEqual({ kind: 'play' });
    expect(clickAction(at(1, 30), running)).toEqual({ kind: 'play' });
    expect(clickAction(at(0, 20), null)).toEqual({ kind: 'play' });
  });
});

describe('position on screen', () => {
  const span = { start: at(10), end: at(11) };
  it('is the received position minus what the player has buffered ahead', () => {
    expect(shownPosition(span, 120, 2)).toBe(at(10, 1, 58));
    expect(shownPosition(span, null, 2)).toBeNull();
  });
  it('stays inside the span', () => {
    expect(shownPosition(span, 1, 3)).toBe(at(10));
    expect(shownPosition(span, 4000, 0)).toBe(at(11));
  });
  it('reads as a local clock', () => {
    expect(clockText(at(9, 5, 7))).toBe('09:05:07');
  });
});
