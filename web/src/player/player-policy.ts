/**
 * The decisions of the live player that do not need a browser: how a failed play maps to a tile state, how
 * long to wait before the next attempt, and when a picture that stopped moving counts as stalled or dead.
 * Kept apart from live-player.ts so they are unit-tested (web/test/player-policy.test.ts).
 */
import type { PlayErrorBody } from '../api/types';

export type PlayerStream = 'main' | 'sub';

/**
 * What a tile shows. `stalled`: the picture stopped moving for a few seconds (it is hidden, never shown
 * frozen). `offline.since`: epoch ms the channel or its device went offline (null when unknown). `error`: why a
 * play failed as a catalogue key (`code`, rendered with `params` in the page's language, so it follows a language
 * switch) and the step (`step` as in the play error body, or `network` / `media` for failures on the browser's
 * side). `detail` is the gateway's or the browser's own English text: for logs and data attributes, never shown.
 */
export type PlayerState =
  | { kind: 'idle' }
  | { kind: 'connecting' }
  | { kind: 'playing' }
  | { kind: 'stalled'; since: number }
  | { kind: 'offline'; since: number | null }
  | { kind: 'error'; code: string; params: Record<string, string | number>; step: string | null; detail: string };

/** The steps of a play the gateway names (PlayError, gateway/src/domain/streams/play-error.ts). */
const PLAY_STEPS = new Set(['channel', 'device', 'resources', 'invite', 'answer', 'rtp', 'keyframe', 'packager']);

/** The catalogue key of a failure the gateway reported at `step` (play answer or `stream-failed` event). */
export function codeOfStep(step: string | null | undefined): string {
  return step && PLAY_STEPS.has(step) ? `error.play.${step}` : 'player.failure.unknown';
}

/**
 * The catalogue key of the hint for a failed step (`player.hints.*`): what an operator can check. For a refused
 * INVITE the SIP status says more than the step (busy, wrong channel, refused).
 */
export function hintKey(step: string | null, params: Record<string, string | number>): string | null {
  if (!step) return null;
  if (step === 'invite') {
    const sip = Number(params.sipStatus);
    if (sip === 488 || sip === 486 || sip === 404) return `player.hints.invite-${sip}`;
    if (sip === 401 || sip === 403) return 'player.hints.invite-refused';
    if (sip >= 500) return 'player.hints.invite-failed';
  }
  return PLAY_STEPS.has(step) || step === 'network' || step === 'media' ? `player.hints.${step}` : null;
}

export type PlayerStateKind = PlayerState['kind'];

/** A picture with no progress for this long is `stalled` (1 s segments, 2 segments behind the edge). */
export const STALL_AFTER_MS = 3_000;
/** A stall this long is not going to heal: the attempt is torn down and the stream played again. */
export const RESTART_AFTER_STALL_MS = 10_000;
/** After the gateway answered the play, the first frame must show within this long. */
export const FIRST_FRAME_TIMEOUT_MS = 15_000;
/** Back-off between attempts: 1 s, 2 s, 4 s … capped. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 30_000;

/** Delay before attempt `failures` + 1; `random` in [0, 1) spreads 25 tiles that failed together (±25 %). */
export function retryDelayMs(failures: number, random: number = Math.random()): number {
  const base = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, failures));
  return Math.round(base * (0.75 + random * 0.5));
}

/** The outcome of a failed POST /api/channels/:id/play, as a tile state. */
export function stateOfPlayFailure(failure: { status: number | null; body: PlayErrorBody | null; message: string }): PlayerState {
  const body = failure.body;
  if (failure.status === 409 && body?.step === 'device') return { kind: 'offline', since: null };
  if (failure.status === null) {
    return { kind: 'error', code: 'error.network', params: {}, step: 'network', detail: failure.message };
  }
  const detail = [body?.message ?? failure.message, body?.hint].filter(Boolean).join(' — ');
  const params: Record<string, string | number> = { ...(body?.params ?? {}), ...(body?.sipStatus ? { sipStatus: body.sipStatus } : {}) };
  // The gateway's code (`play.rtp`, `media.revoked`, …) is a key of the errors catalogue; without one, the
  // status says what little is known.
  if (body?.code) return { kind: 'error', code: `error.${body.code}`, params, step: body.step ?? null, detail };
  return { kind: 'error', code: 'player.failure.status', params: { ...params, status: failure.status }, step: body?.step ?? null, detail };
}

/**
 * Watches a playing attempt's progress (video.currentTime) and says what the tile is: connecting until the
 * first frame, playing while time moves, stalled when it stopped for STALL_AFTER_MS, and `restart` when the
 * attempt should be torn down (no first frame in time, or stalled for too long).
 */
export class ProgressWatch {
  private lastTime = -1;
  private lastSampleAt: number;
  private lastProgressAt: number;
  private started = false;

  constructor(private readonly startedAt: number) {
    this.lastProgressAt = startedAt;
    this.lastSampleAt = startedAt;
  }

  /** Feed the current media time; returns the verdict at `now`. */
  sample(currentTime: number, now: number): 'connecting' | 'playing' | 'stalled' | 'restart' {
    const delta = currentTime - this.lastTime;
    // Playback moves media time at about wall-clock speed (hls.js catches up at ≤ 1.1×); a bigger step is a
    // seek (hls.js jumping to the live edge at start, or over a gap) and only sets a new baseline.
    const playable = ((now - this.lastSampleAt) / 1000) * 1.5 + 0.25;
    if (this.lastTime >= 0 && delta > 0.01 && delta <= playable) {
      this.started = true;
      this.lastProgressAt = now;
    }
    if (Math.abs(delta) > 0.01) this.lastTime = currentTime;
    this.lastSampleAt = now;
    if (!this.started) return now - this.startedAt > FIRST_FRAME_TIMEOUT_MS ? 'restart' : 'connecting';
    const still = now - this.lastProgressAt;
    if (still >= RESTART_AFTER_STALL_MS) return 'restart';
    if (still >= STALL_AFTER_MS) return 'stalled';
    return 'playing';
  }

  /** When the picture last moved (epoch ms of the sample that saw it move). */
  get lastProgress(): number {
    return this.lastProgressAt;
  }
}
