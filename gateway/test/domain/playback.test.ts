/**
 * Playback rules (domain/streams/playback.ts): which spans are accepted (and which field a refusal names), the
 * MANSRTSP each control action becomes, how a device's answer is judged, and the position from media timestamps.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_DOWNLOAD_SPAN_MS,
  MAX_PLAYBACK_SPAN_MS,
  PlaybackClock,
  controlRequest,
  exchangeControl,
  validateSpan,
} from '../../src/domain/streams/playback.js';
import { encodeMansrtspRequest } from '../../src/codecs/gb/mansrtsp.js';
import { UpstreamError, ValidationError } from '../../src/domain/services.js';
import type { AccessUnit } from '../../src/media/core/access-unit.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const opts = { fieldPrefix: 'body', maxSpanMs: MAX_PLAYBACK_SPAN_MS, now: NOW };

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof ValidationError) return err.field;
    throw err;
  }
  return 'accepted';
}

describe('spans', () => {
  it('accepts a past span, widened to whole seconds', () => {
    expect(validateSpan('2026-12-05T08:00:00.400Z', '2026-12-05T08:10:00.200Z', opts)).toEqual({
      start: Date.parse('2026-12-05T08:00:00Z'),
      end: Date.parse('2026-12-05T08:10:01Z'),
    });
    // A zone offset is an instant like any other.
    expect(validateSpan('2026-12-05T16:00:00+08:00', '2026-12-05T16:01:00+08:00', opts).start).toBe(Date.parse('2026-12-05T08:00:00Z'));
  });

  it('refuses bad spans naming the field', () => {
    expect(fieldOf(() => validateSpan('yesterday', '2026-12-05T08:00:00Z', opts))).toBe('body.start');
    expect(fieldOf(() => validateSpan('2026-12-05T08:00:00Z', 12, opts))).toBe('body.end');
    expect(fieldOf(() => validateSpan('2026-12-05T08:00:00Z', '2026-12-05T07:00:00Z', opts))).toBe('body.end');
    expect(fieldOf(() => validateSpan('2026-12-05T08:00:00Z', '2026-12-05T08:00:00Z', opts))).toBe('body.end');
    expect(fieldOf(() => validateSpan('1999-12-31T23:00:00Z', '2026-12-05T08:00:00Z', opts))).toBe('body.start');
    expect(fieldOf(() => validateSpan('2026-12-05T11:00:00Z', '2026-12-05T13:00:00Z', opts))).toBe('body.end');
    expect(fieldOf(() => validateSpan('2026-12-05T13:00:00Z', '2026-12-05T14:00:00Z', opts))).toBe('body.start');
    expect(fieldOf(() => validateSpan('2026-12-03T08:00:00Z', '2026-12-05T08:00:00Z', opts))).toBe('body.end');
    expect(fieldOf(() => validateSpan('2026-12-05T03:00:00Z', '2026-12-05T08:00:00Z', { ...opts, fieldPrefix: 'querystring', maxSpanMs: MAX_DOWNLOAD_SPAN_MS }))).toBe('querystring.end');
    // A minute of clock skew towards the future is tolerated ("until now" from a device clock a little ahead).
    expect(fieldOf(() => validateSpan('2026-12-05T11:00:00Z', '2026-12-05T12:00:30Z', opts))).toBe('accepted');
  });
});

describe('control actions', () => {
  const span = { start: Date.parse('2026-12-05T08:00:00Z'), end: Date.parse('2026-12-05T08:10:00Z') };

  it('map to PAUSE / PLAY Range / PLAY Scale', () => {
    expect(encodeMansrtspRequest(controlRequest({ action: 'pause' }, span, 1).request)).toBe('PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: now\r\n\r\n');
    expect(encodeMansrtspRequest(controlRequest({ action: 'resume' }, span, 2).request)).toBe('PLAY RTSP/1.0\r\nCSeq: 2\r\nRange: npt=now-\r\n\r\n');
    expect(controlRequest({ action: 'seek', value: 90 }, span, 3)).toMatchObject({ offsetSec: 90, request: { method: 'PLAY', range: { start: 90 } } });
    expect(controlRequest({ action: 'seek', value: '2026-12-05T08:05:00Z' }, span, 4).offsetSec).toBe(300);
    expect(controlRequest({ action: 'speed', value: 0.25 }, span, 5)).toMatchObject({ scale: 0.25, request: { method: 'PLAY', scale: 0.25 } });
    expect(controlRequest({ action: 'speed', value: '8' }, span, 6).scale).toBe(8);
  });

  it('refuse values outside the span or the speeds', () => {
    for (const req of [
      { action: 'seek' },
      { action: 'seek', value: -1 },
      { action: 'seek', value: 600 },
      { action: 'seek', value: '2026-12-05T07:59:59Z' },
      { action: 'seek', value: 'soon' },
      { action: 'speed', value: 3 },
      { action: 'speed', value: 16 },
      { action: 'speed', value: -1 },
      { action: 'speed' },
    ] as const) {
      expect(fieldOf(() => controlRequest(req, span, 1)), JSON.stringify(req)).toBe('body.value');
    }
  });

  it('judge the device answer: empty 200 fine, RTSP error or garbage → UpstreamError', async () => {
    const req = controlRequest({ action: 'pause' }, span, 7).request;
    const answering = (status: number, body: string) => ({ send: async () => ({ status, reason: 'x', body }) });
    await expect(exchangeControl(answering(200, ''), req)).resolves.toBeNull();
    await expect(exchangeControl(answering(200, 'RTSP/1.0 200 OK\r\nCSeq: 7\r\nRange: npt=12-\r\n\r\n'), req)).resolves.toMatchObject({ status: 200, range: { start: 12 } });
    await expect(exchangeControl(answering(200, 'RTSP/1.0 457 Invalid Range\r\nCSeq: 7\r\n'), req)).rejects.toThrow(/RTSP 457/);
    await expect(exchangeControl(answering(200, 'garbage\0'), req)).rejects.toThrow(UpstreamError);
    await expect(exchangeControl(answering(481, ''), req)).rejects.toThrow(/SIP 481/);
    await expect(exchangeControl({ send: () => Promise.reject(new Error('timeout')) }, req)).rejects.toThrow(/did not answer/);
  });
});

describe('position from the media timestamps', () => {
  const video = (pts: number, keyframe: boolean, epoch = 0): AccessUnit => ({ kind: 'video', pts, dts: pts, keyframe, nalus: [], epoch, receivedAt: 0 });

  it('starts at 0, follows the PTS, lands on the seek target at the next keyframe, continues across a new epoch', () => {
    const clock = new PlaybackClock();
    expect(clock.positionSec).toBeNull();
    clock.onAccessUnit(video(1_000_000, true));
    clock.onAccessUnit(video(1_000_000 + 90_000 * 2, false));
    expect(clock.positionSec).toBe(2);
    clock.seekTo(120);
    clock.onAccessUnit(video(1_000_000 + 90_000 * 2.04, false)); // in flight before the seek: ignored
    expect(clock.positionSec).toBe(2);
    clock.onAccessUnit(video(50_000_000, true, 1));
    clock.onAccessUnit(video(50_000_000 + 90_000, false, 1));
    expect(clock.positionSec).toBe(121);
    clock.onAccessUnit(video(7_000, true, 2)); // the device restarted its timeline without a seek
    clock.onAccessUnit(video(7_000 + 45_000, false, 2));
    expect(clock.positionSec).toBe(121.5);
    clock.seekTo(10);
    clock.onAccessUnit(video(9_000_000, true, 3));
    expect(clock.positionSec).toBe(10);
    expect(clock.furthestSec).toBe(121.5);
  });
});
