/**
 * MANSRTSP (playback control in SIP INFO, GB 2022 Annex B): the exact text the gateway sends for each control
 * action, what it reads from a device's answer, and a defined error for anything else.
 */
import { describe, expect, it } from 'vitest';
import {
  MansrtspError,
  decodeMansrtsp,
  decodeMansrtspRequest,
  decodeMansrtspResponse,
  encodeMansrtspRequest,
  encodeMansrtspResponse,
  parseNptRange,
} from '../../src/codecs/gb/mansrtsp.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof MansrtspError) return err.code;
    throw err;
  }
  return 'ok';
};

describe('MANSRTSP requests', () => {
  it('encodes pause, resume, seek and speed as the standard shows them', () => {
    expect(encodeMansrtspRequest({ method: 'PAUSE', cseq: 12 })).toBe('PAUSE RTSP/1.0\r\nCSeq: 12\r\nPauseTime: now\r\n\r\n');
    expect(encodeMansrtspRequest({ method: 'PLAY', cseq: 13, range: { start: 'now' } })).toBe('PLAY RTSP/1.0\r\nCSeq: 13\r\nRange: npt=now-\r\n\r\n');
    expect(encodeMansrtspRequest({ method: 'PLAY', cseq: 14, scale: 2 })).toBe('PLAY RTSP/1.0\r\nCSeq: 14\r\nScale: 2.0\r\n\r\n');
    expect(encodeMansrtspRequest({ method: 'PLAY', cseq: 15, range: { start: 100 } })).toBe('PLAY RTSP/1.0\r\nCSeq: 15\r\nRange: npt=100.0-\r\n\r\n');
    expect(encodeMansrtspRequest({ method: 'PLAY', cseq: 16, scale: 0.25 })).toContain('Scale: 0.25\r\n');
    expect(encodeMansrtspRequest({ method: 'TEARDOWN', cseq: 17 })).toBe('TEARDOWN RTSP/1.0\r\nCSeq: 17\r\n\r\n');
  });

  it('round-trips', () => {
    for (const req of [
      { method: 'PAUSE', cseq: 1, pauseTime: 'now' },
      { method: 'PLAY', cseq: 2, range: { start: 'now' } },
      { method: 'PLAY', cseq: 3, range: { start: 12.5, end: 30 } },
      { method: 'PLAY', cseq: 4, scale: -1 },
      { method: 'TEARDOWN', cseq: 4294967295 },
    ] as const) {
      expect(decodeMansrtspRequest(encodeMansrtspRequest(req))).toEqual(req);
    }
  });

  it('reads what devices and platforms write: LF lines, any header case, WVP\'s %.6f scale, no trailing blank line', () => {
    expect(decodeMansrtspRequest('PLAY RTSP/1.0\ncseq : 7\nSCALE: 4.000000')).toEqual({ method: 'PLAY', cseq: 7, scale: 4 });
    expect(decodeMansrtspRequest('\r\nplay RTSP/1.0\r\nCSeq: 9\r\nRange: npt = 30 -\r\n')).toEqual({ method: 'PLAY', cseq: 9, range: { start: 30 } });
    expect(parseNptRange('npt=-')).toEqual({ start: 'now' });
    expect(parseNptRange('10-20')).toEqual({ start: 10, end: 20 });
  });

  it('refuses garbage with a stable code', () => {
    expect(codeOf(() => decodeMansrtspRequest(''))).toBe('empty');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\n\r\n'))).toBe('missing-cseq');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\nCSeq: x\r\n'))).toBe('bad-cseq');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\nCSeq: 99999999999\r\n'))).toBe('bad-cseq');
    expect(codeOf(() => decodeMansrtspRequest('DESCRIBE RTSP/1.0\r\nCSeq: 1\r\n'))).toBe('unknown-method');
    expect(codeOf(() => decodeMansrtspRequest('PLAY HTTP/1.1\r\nCSeq: 1\r\n'))).toBe('bad-version');
    expect(codeOf(() => decodeMansrtspRequest('PLAY\r\nCSeq: 1\r\n'))).toBe('bad-start-line');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\nCSeq 1\r\n'))).toBe('bad-header');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 0\r\n'))).toBe('bad-scale');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 1e999\r\n'))).toBe('bad-scale');
    expect(codeOf(() => decodeMansrtspRequest('PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: clock=20261205T000000Z-\r\n'))).toBe('bad-range');
    expect(codeOf(() => decodeMansrtspRequest(`PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=${'9'.repeat(400)}-\r\n`))).toBe('bad-range');
    expect(codeOf(() => decodeMansrtspRequest(Buffer.alloc(5000, 0x41)))).toBe('too-large');
    expect(codeOf(() => encodeMansrtspRequest({ method: 'PLAY', cseq: 1, scale: Number.NaN }))).toBe('bad-scale');
    expect(codeOf(() => encodeMansrtspRequest({ method: 'PLAY', cseq: -1 }))).toBe('bad-cseq');
    expect(codeOf(() => encodeMansrtspRequest({ method: 'PLAY', cseq: 1, range: { start: -5 } }))).toBe('bad-range');
  });
});

describe('MANSRTSP responses', () => {
  it('round-trips the device answer with Range, Scale and RTP-Info', () => {
    const res = { status: 200, reason: 'OK', cseq: 15, range: { start: 100 }, scale: 2, rtpInfo: { seq: 1234, rtptime: 56789 } };
    const text = encodeMansrtspResponse(res);
    expect(text).toBe('RTSP/1.0 200 OK\r\nCSeq: 15\r\nRange: npt=100.0-\r\nScale: 2.0\r\nRTP-Info: seq=1234;rtptime=56789\r\n\r\n');
    expect(decodeMansrtspResponse(text)).toEqual(res);
    expect(decodeMansrtsp(text)).toEqual({ kind: 'response', response: res });
    expect(decodeMansrtsp('PAUSE RTSP/1.0\r\nCSeq: 1\r\n').kind).toBe('request');
  });

  it('reads an RTP-Info with a url and leaves out numbers it cannot use', () => {
    expect(decodeMansrtspResponse('RTSP/1.0 200 OK\r\nCSeq: 1\r\nRTP-Info: url=x;seq=99999;rtptime=12\r\n').rtpInfo).toEqual({ rtptime: 12 });
  });

  it('refuses a bad status line', () => {
    expect(codeOf(() => decodeMansrtspResponse('RTSP/1.0 abc OK\r\nCSeq: 1\r\n'))).toBe('bad-start-line');
    expect(codeOf(() => decodeMansrtspResponse('RTSP/1.0 999 Huh\r\nCSeq: 1\r\n'))).toBe('bad-status');
    expect(codeOf(() => decodeMansrtspResponse('SIP/2.0 200 OK\r\nCSeq: 1\r\n'))).toBe('bad-version');
    expect(codeOf(() => decodeMansrtspResponse('RTSP/1.0 200 OK\r\n'))).toBe('missing-cseq');
  });
});
