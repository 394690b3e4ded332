/** The live player's decisions: play failures → tile states, back-off, and the progress watch (stall, restart). */
import { describe, expect, it } from 'vitest';
import {
  FIRST_FRAME_TIMEOUT_MS,
  ProgressWatch,
  RESTART_AFTER_STALL_MS,
  RETRY_MAX_MS,
  STALL_AFTER_MS,
  codeOfStep,
  hintKey,
  retryDelayMs,
  stateOfPlayFailure,
} from '../src/player/player-policy';
import enErrors from '../src/i18n/en/errors';
import enPlayer from '../src/i18n/en/player';
import zhErrors from '../src/i18n/zh-CN/errors';
import zhPlayer from '../src/i18n/zh-CN/player';

// The catalogues as the app mounts them (web/src/i18n/index.ts): `error.*` and `player.*`.
const zh = { error: zhErrors, player: zhPlayer };
const en = { error: enErrors, player: enPlayer };

describe('stateOfPlayFailure', () => {
  it('a device that is offline (409, step device) is an offline tile, not an error', () => {
    expect(stateOfPlayFailure({ status: 409, body: { statusCode: 409, error: 'Conflict', message: 'device X is offline', step: 'device', hint: 'check' }, message: 'x' })).toEqual({ kind: 'offline', since: null });
  });

  it("any other failure is the gateway's code as a catalogue key, with its step; its English text is only detail", () => {
    const body = { statusCode: 502, error: 'Bad Gateway', message: 'no RTP within 5 s after the device answered', code: 'play.rtp', params: { step: 'rtp' }, step: 'rtp', hint: 'check 10.0.0.5:30012/udp' };
    expect(stateOfPlayFailure({ status: 502, body, message: '502' })).toEqual({
      kind: 'error',
      code: 'error.play.rtp',
      params: { step: 'rtp' },
      step: 'rtp',
      detail: 'no RTP within 5 s after the device answered — check 10.0.0.5:30012/udp',
    });
    const refused = { statusCode: 502, error: 'Bad Gateway', message: 'INVITE refused: 486 Busy Here', code: 'play.invite', params: { step: 'invite', sipStatus: 486 }, step: 'invite', hint: 'busy', sipStatus: 486 };
    expect(stateOfPlayFailure({ status: 502, body: refused, message: '' })).toMatchObject({ code: 'error.play.invite', params: { sipStatus: 486 }, step: 'invite' });
    expect(stateOfPlayFailure({ status: 403, body: { statusCode: 403, error: 'Forbidden', message: 'revoked', code: 'media.revoked' }, message: '' })).toMatchObject({ code: 'error.media.revoked', step: null });
  });

  it('a failure without an answer (gateway unreachable) is a network error; a body without a code says the status', () => {
    expect(stateOfPlayFailure({ status: null, body: null, message: 'Failed to fetch' })).toEqual({ kind: 'error', code: 'error.network', params: {}, step: 'network', detail: 'Failed to fetch' });
    expect(stateOfPlayFailure({ status: 500, body: null, message: '500 Internal Server Error' })).toEqual({
      kind: 'error',
      code: 'player.failure.status',
      params: { status: 500 },
      step: null,
      detail: '500 Internal Server Error',
    });
  });

  it('every code and hint key it can produce is in both catalogues', () => {
    const lookup = (messages: unknown, key: string): unknown => key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], messages);
    const keys = new Set<string>(['error.network', 'player.failure.status', 'player.failure.media', 'player.failure.no-picture', 'player.failure.unknown']);
    for (const step of ['channel', 'device', 'resources', 'invite', 'answer', 'rtp', 'keyframe', 'packager', 'nonsense', null]) keys.add(codeOfStep(step));
    for (const step of ['channel', 'device', 'resources', 'invite', 'answer', 'rtp', 'keyframe', 'packager', 'network', 'media']) {
      for (const sipStatus of [0, 401, 403, 404, 486, 488, 500, 603]) {
        const key = hintKey(step, { sipStatus });
        if (key) keys.add(key);
      }
    }
    expect(hintKey('invite', { sipStatus: 486 })).toBe('player.hints.invite-486');
    expect(hintKey('invite', { sipStatus: 403 })).toBe('player.hints.invite-refused');
    expect(hintKey(null, {})).toBeNull();
    for (const key of keys) {
      expect(typeof lookup(zh, key), `zh-CN ${key}`).toBe('string');
      expect(typeof lookup(en, key), `en ${key}`).toBe('string');
    }
  });
});

describe('retryDelayMs', () => {
  it('doubles from 1 s and is capped, spread ±25 %', () => {
    expect(retryDelayMs(0, 0.5)).toBe(1000);
    expect(retryDelayMs(1, 0.5)).toBe(2000);
    expect(retryDelayMs(3, 0.5)).toBe(8000);
    expect(retryDelayMs(30, 0.5)).toBe(RETRY_MAX_MS);
    expect(retryDelayMs(2, 0)).toBe(3000);
    expect(retryDelayMs(2, 0.999)).toBeLessThan(5000);
  });
});

describe('ProgressWatch', () => {
  it('connecting until time moves between two samples, then playing', () => {
    const w = new ProgressWatch(0);
    expect(w.sample(0, 500)).toBe('connecting');
    // A first sample already past zero is only the baseline: one decoded frame is not "playing".
    expect(w.sample(4.2, 1000)).toBe('connecting');
    expect(w.sample(4.7, 1500)).toBe('playing');
  });

  it('stalled after STALL_AFTER_MS without progress, restart after RESTART_AFTER_STALL_MS, playing again if time moves', () => {
    const w = new ProgressWatch(0);
    w.sample(1, 100);
    expect(w.sample(2, 1000)).toBe('playing');
    expect(w.sample(2, 1000 + STALL_AFTER_MS - 1)).toBe('playing');
    expect(w.sample(2, 1000 + STALL_AFTER_MS)).toBe('stalled');
    expect(w.lastProgress).toBe(1000);
    expect(w.sample(2.5, 1000 + STALL_AFTER_MS + 500)).toBe('playing');
    expect(w.sample(2.5, 1000 + STALL_AFTER_MS + 500 + RESTART_AFTER_STALL_MS)).toBe('restart');
  });

  it('no first frame within FIRST_FRAME_TIMEOUT_MS means restart', () => {
    const w = new ProgressWatch(10_000);
    expect(w.sample(0, 10_000 + FIRST_FRAME_TIMEOUT_MS)).toBe('connecting');
    expect(w.sample(0, 10_001 + FIRST_FRAME_TIMEOUT_MS)).toBe('restart');
  });

  it('a jump forward (hls.js seeking to the live edge) is not playback', () => {
    const w = new ProgressWatch(0);
    w.sample(0, 500);
    expect(w.sample(6, 1000)).toBe('connecting');
    expect(w.sample(6.5, 1500)).toBe('playing');
  });

  it('a jump back (media error recovery) becomes the new baseline instead of a stall', () => {
    const w = new ProgressWatch(0);
    w.sample(10, 0);
    expect(w.sample(10.5, 500)).toBe('playing');
    w.sample(3, 1000);
    expect(w.sample(3.5, 1500)).toBe('playing');
    expect(w.lastProgress).toBe(1500);
  });
});
