/**
 * The rules of a Playback/Download INVITE from an upper platform (domain/cascade/upward-legs.ts): which t= spans,
 * u= lines and download speeds are accepted, and which playback controls an upper platform's MANSRTSP becomes.
 * End to end: gateway/test/e2e/cascade-upper-playback.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildHistoryOffer, parseSdp } from '../../src/codecs/sdp/sdp.js';
import { decodeMansrtspRequest } from '../../src/codecs/gb/mansrtsp.js';
import { controlsOf, readHistoryOffer } from '../../src/domain/cascade/upward-legs.js';

const CHANNEL = '44030600001310000001';
const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const nowSec = NOW / 1000;

function offer(start: number, end: number, extra: { mode?: 'Playback' | 'Download'; downloadSpeed?: number; rewrite?: (s: string) => string } = {}) {
  const text = buildHistoryOffer({
    sipId: '44000000002000000001',
    mediaHost: '10.0.0.1',
    port: 30000,
    transport: 'udp',
    ssrc: '1000000001',
    mode: extra.mode ?? 'Playback',
    channelId: CHANNEL,
    start,
    end,
    ...(extra.downloadSpeed !== undefined ? { downloadSpeed: extra.downloadSpeed } : {}),
  });
  return parseSdp(extra.rewrite ? extra.rewrite(text) : text);
}

describe('readHistoryOffer', () => {
  it('accepts a past span in Unix seconds and keeps it exactly', () => {
    const r = readHistoryOffer(offer(nowSec - 7200, nowSec - 3600), 'playback', CHANNEL, NOW);
    expect(r).toEqual({ ok: true, span: { start: (nowSec - 7200) * 1000, end: (nowSec - 3600) * 1000 }, downloadSpeed: null });
  });

  it.each([
    ['backwards', nowSec - 3600, nowSec - 7200],
    ['empty', nowSec - 3600, nowSec - 3600],
    ['in the future', nowSec + 600, nowSec + 1200],
    ['longer than a day', nowSec - 3 * 86_400, nowSec - 3600],
    ['before 2000', 100, 200],
  ])('refuses a span that is %s as bad-range', (_what, start, end) => {
    const r = readHistoryOffer(offer(start, end), 'playback', CHANNEL, NOW);
    expect(r).toMatchObject({ ok: false, reason: 'bad-range' });
  });

  it.each(['t=0 0', 't=abc def', 't=99999999999999999999 1', 't=1.5 2.5'])('refuses %s as bad-range (no span)', (line) => {
    const r = readHistoryOffer(offer(nowSec - 60, nowSec - 30, { rewrite: (s) => s.replace(/^t=.*$/m, line) }), 'playback', CHANNEL, NOW);
    expect(r).toMatchObject({ ok: false, reason: 'bad-range' });
  });

  it('refuses a u= that names another channel, accepts one without a channel', () => {
    const other = readHistoryOffer(offer(nowSec - 60, nowSec - 30, { rewrite: (s) => s.replace(/^u=.*$/m, 'u=44030600001310000002:0') }), 'playback', CHANNEL, NOW);
    expect(other).toMatchObject({ ok: false, reason: 'bad-sdp' });
    const url = readHistoryOffer(offer(nowSec - 60, nowSec - 30, { rewrite: (s) => s.replace(/^u=.*$/m, 'u=http://storage/dir/file') }), 'playback', CHANNEL, NOW);
    expect(url.ok).toBe(true);
  });

  it('download: a=downloadspeed one of 1, 2, 4, 8 (absent = 1); others bad-speed', () => {
    expect(readHistoryOffer(offer(nowSec - 60, nowSec - 30, { mode: 'Download', downloadSpeed: 4 }), 'download', CHANNEL, NOW)).toMatchObject({ ok: true, downloadSpeed: 4 });
    expect(readHistoryOffer(offer(nowSec - 60, nowSec - 30, { mode: 'Download' }), 'download', CHANNEL, NOW)).toMatchObject({ ok: true, downloadSpeed: 1 });
    expect(readHistoryOffer(offer(nowSec - 60, nowSec - 30, { mode: 'Download', downloadSpeed: 3 }), 'download', CHANNEL, NOW)).toMatchObject({ ok: false, reason: 'bad-speed' });
    const text = readHistoryOffer(offer(nowSec - 60, nowSec - 30, { mode: 'Download', rewrite: (s) => s.replace(/\r\ny=/, '\r\na=downloadspeed:fast\r\ny=') }), 'download', CHANNEL, NOW);
    expect(text).toMatchObject({ ok: false, reason: 'bad-speed' });
  });
});

describe('controlsOf (upper MANSRTSP → playback controls)', () => {
  const of = (body: string) => controlsOf(decodeMansrtspRequest(body));
  it('maps PAUSE, resume, seek, speed, and seek + speed', () => {
    expect(of('PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: now\r\n\r\n')).toEqual([{ action: 'pause' }]);
    expect(of('PLAY RTSP/1.0\r\nCSeq: 2\r\nRange: npt=now-\r\n\r\n')).toEqual([{ action: 'resume' }]);
    expect(of('PLAY RTSP/1.0\r\nCSeq: 3\r\n\r\n')).toEqual([{ action: 'resume' }]);
    expect(of('PLAY RTSP/1.0\r\nCSeq: 4\r\nRange: npt=100-\r\n\r\n')).toEqual([{ action: 'seek', value: 100 }]);
    expect(of('PLAY RTSP/1.0\r\nCSeq: 5\r\nScale: 2.000000\r\n\r\n')).toEqual([{ action: 'speed', value: 2 }]);
    expect(of('PLAY RTSP/1.0\r\nCSeq: 6\r\nRange: npt=now-\r\nScale: 0.5\r\n\r\n')).toEqual([{ action: 'speed', value: 0.5 }]);
    expect(of('PLAY RTSP/1.0\r\nCSeq: 7\r\nRange: npt=30-\r\nScale: 4\r\n\r\n')).toEqual([
      { action: 'seek', value: 30 },
      { action: 'speed', value: 4 },
    ]);
  });
});
