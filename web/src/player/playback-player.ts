/**
 * One tile's playback of a device recording (docs/playback.md, "The wall"): POST /api/channels/:id/playback
 * for a span, hls.js on the playback stream's playlist, and the stream's controls (pause, resume, seek, speed
 * → POST /api/streams/:id/control). Unlike LivePlayer it never re-opens a stream by itself: a playback that
 * ended (end of file) or failed stays ended and says so; the operator clicks the timeline to play again.
 *
 * Speed and the player's rate. A device playing at Scale N sends N seconds of recording per second, stamped
 * with the recording's own timestamps (media time is recording time). hls.js plays media time at the
 * element's playbackRate, so:
 * - at rate 1 and N > 1 the buffer grows by N − 1 s every second until hls.js's live-latency rule
 *   (liveMaxLatencyDuration) jumps the playhead to the edge — skipping recording — or the playlist window
 *   slides past it; at N < 1 the player drains the buffer faster than it fills and stalls every segment;
 * - at rate N consumption equals arrival and the buffer ahead stays what it was, so the picture runs at the
 *   device's pace with no jumps and no starving.
 * So video.playbackRate = the stream's scale (`history.scale`, as the gateway reports it after each speed
 * control and on every poll), set as soon as the control is answered: what is already buffered is just
 * media, and playing it at N keeps the buffer level constant. hls.js must not steer the rate itself: its
 * LatencyController only does so with lowLatencyMode on and maxLiveSyncPlaybackRate ≠ 1 (hls.js 1.7
 * latency-controller.ts onTimeupdate), so playback runs whole segments with maxLiveSyncPlaybackRate 1.
 * The live fMP4 path (MseLivePlayer) is not used for playback for the same reason: it holds the playhead at
 * the live edge with its own catch-up rate.
 */
import Hls, { ErrorTypes, Events, type HlsConfig } from 'hls.js';
import { ApiError, api } from '../api/http';
import type { StreamView } from '../api/types';
import { auth } from '../composables/auth';
import { gatewayEvents } from '../composables/gateway-events';
import { codeOfStep } from './player-policy';
import { mediaLoaderConfig, pageApi } from './ws-media-loader';

export type PlaybackError = ApiError | { key: string; params?: Record<string, string | number> } | Error;

/**
 * `starting`: asked the gateway, no picture yet. `playing` / `paused` as the operator set it. `buffering`:
 * not paused but the picture has not moved for BUFFERING_AFTER_MS. `ended`: the device reached the span's end
 * (`reason` "end-of-file") or hung up; the last picture stays under the notice. `error`: could not start, or
 * the stream failed.
 */
export type PlaybackState =
  | { kind: 'starting' }
  | { kind: 'playing' }
  | { kind: 'paused' }
  | { kind: 'buffering' }
  | { kind: 'ended'; reason: string }
  | { kind: 'error'; error: PlaybackError };

export interface PlaybackSpan {
  start: number;
  end: number;
}

export interface PlaybackPlayerOptions {
  channelId: string;
  span: PlaybackSpan;
  onState?: (state: PlaybackState) => void;
  /** Whenever the gateway reports the stream (poll, control answer): speed, pause, received position. */
  onView?: (view: StreamView) => void;
}

/** Whole 1 s segments, two behind the edge; no rate steering by hls.js (see the file comment). */
const PLAYBACK_TUNING: Partial<HlsConfig> = {
  lowLatencyMode: false,
  liveSyncDurationCount: 2,
  liveMaxLatencyDurationCount: 10,
  maxLiveSyncPlaybackRate: 1,
  maxBufferLength: 8,
  backBufferLength: 4,
  enableWorker: false,
};

const WATCH_INTERVAL_MS = 250;
const POLL_INTERVAL_MS = 1_000;
/** Not paused and no movement for this long: "waiting for the recording" (a seek, a slow device). */
const BUFFERING_AFTER_MS = 3_000;
/** After the device ended the stream, what is buffered plays out; no movement for this long means it has. */
const DRAIN_IDLE_MS = 1_200;

/**
 * Page-wide count of playback players alive (tests check none outlive a "back to live"), and of seeks whose new
 * picture was jumped to past the old buffered recording.
 */
export const playbackPlayerCounters = { players: 0, seekSkips: 0 };
declare global {
  interface Window {
    __sharpEyesPlayback?: typeof playbackPlayerCounters;
  }
}
if (typeof window !== 'undefined') window.__sharpEyesPlayback = playbackPlayerCounters;

interface StreamEvent {
  streamId: string;
  state?: string;
  endReason?: string | null;
  step?: string;
}

export class PlaybackPlayer {
  readonly video: HTMLVideoElement;
  private view: StreamView | null = null;
  private hls: Hls | null = null;
  private state: PlaybackState = { kind: 'starting' };
  private closed = false;
  private paused = false;
  private scale = 1;
  /** The device has ended the stream; what is buffered still plays out. */
  private ending: string | null = null;
  /** The gateway ended or failed the stream itself: nothing to stop on close. */
  private streamGone = false;
  private lastTime = -1;
  private lastMoveAt = Date.now();
  private moved = false;
  private mediaRecoveries = 0;
  /** Discontinuity counter of the newest fragment buffered (a seek starts a new one: new device timestamps). */
  private bufferedCc = -1;
  /** After a seek: the first fragment buffered with a higher counter is the new picture; jump to it. */
  private skipPastCc: number | null = null;
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private unsubscribe: Array<() => void> = [];
  private readonly onState: (state: PlaybackState) => void;
  private readonly onView: (view: StreamView) => void;

  constructor(
    private readonly stage: HTMLElement,
    private readonly options: PlaybackPlayerOptions,
  ) {
    this.onState = options.onState ?? (() => undefined);
    this.onView = options.onView ?? (() => undefined);
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.autoplay = true;
    this.video.disablePictureInPicture = true;
    this.video.style.visibility = 'hidden';
    stage.appendChild(this.video);
    playbackPlayerCounters.players++;
  }

  get current(): PlaybackState {
    return this.state;
  }

  get streamId(): string | null {
    return this.view?.streamId ?? null;
  }

  get speed(): number {
    return this.scale;
  }

  async start(): Promise<void> {
    this.setState({ kind: 'starting' });
    this.subscribe();
    let view: StreamView;
    try {
      view = await pageApi<StreamView>(`/api/channels/${encodeURIComponent(this.options.channelId)}/playback`, {
        body: { start: new Date(this.options.span.start).toISOString(), end: new Date(this.options.span.end).toISOString() },
      });
    } catch (err) {
      if (!this.closed) this.setState({ kind: 'error', error: err instanceof Error ? err : new Error(String(err)) });
      return;
    }
    if (this.closed) {
      // Back to live while the device was still answering: that stream is nobody's.
      stopStream(view.streamId);
      return;
    }
    this.view = view;
    this.onView(view);
    this.attach(view.hls);
    this.timers.push(setInterval(() => this.watch(), WATCH_INTERVAL_MS));
    this.timers.push(setInterval(() => void this.poll(), POLL_INTERVAL_MS));
  }

  /** Seconds of media buffered ahead of the playhead (recording seconds: media time is recording time). */
  bufferedAhead(): number {
    const v = this.video;
    for (let i = 0; i < v.buffered.length; i++) {
      if (v.buffered.start(i) <= v.currentTime + 0.1 && v.buffered.end(i) >= v.currentTime) return v.buffered.end(i) - v.currentTime;
    }
    return 0;
  }

  async pause(): Promise<void> {
    await this.control({ action: 'pause' });
    this.paused = true;
    this.video.pause();
    if (this.state.kind !== 'ended' && this.state.kind !== 'error') this.setState({ kind: 'paused' });
  }

  async resume(): Promise<void> {
    await this.control({ action: 'resume' });
    this.paused = false;
    this.lastMoveAt = Date.now();
    this.video.play().catch(() => undefined);
    if (this.state.kind === 'paused') this.setState({ kind: 'playing' });
  }

  /** Seek to `offsetSec` seconds from the span's start (the device lands on the keyframe at or before it). */
  async seek(offsetSec: number): Promise<void> {
    // The new picture comes after what is buffered (a discontinuity in the playlist). Playing the old buffer out
    // first showed ~2 s of the recording the operator just left; so the player jumps to the first fragment of
    // the new timeline the moment it is buffered (marked before asking: it may arrive right after the answer).
    this.skipPastCc = this.bufferedCc;
    try {
      await this.control({ action: 'seek', value: offsetSec });
    } catch (err) {
      this.skipPastCc = null;
      throw err;
    }
    this.lastMoveAt = Date.now();
  }

  async setSpeed(speed: number): Promise<void> {
    await this.control({ action: 'speed', value: speed });
  }

  /** Stop the playback stream (never shared: docs/playback.md) and remove everything. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    playbackPlayerCounters.players--;
    for (const off of this.unsubscribe) off();
    for (const timer of this.timers) clearInterval(timer);
    this.unsubscribe = [];
    this.timers = [];
    this.hls?.destroy();
    this.hls = null;
    this.video.removeAttribute('src');
    this.video.load();
    this.video.remove();
    // A browser-side failure (hls.js) leaves the gateway's stream running: stop it, or it waits for the idle rule.
    if (this.view && !this.streamGone) stopStream(this.view.streamId);
  }

  // ------------------------------------------------------------------------------------------ internals

  private async control(body: { action: string; value?: number }): Promise<void> {
    const id = this.view?.streamId;
    if (!id || this.closed) throw new ApiError(409, null, 'no playback');
    const answer = await api<{ history: StreamView['history'] }>(`/api/streams/${id}/control`, { body });
    if (answer.history) this.applyHistory(answer.history);
  }

  private applyHistory(history: NonNullable<StreamView['history']>): void {
    if (this.view) {
      this.view = { ...this.view, history };
      this.onView(this.view);
    }
    if (history.scale !== this.scale) {
      this.scale = history.scale;
      // The reason for this line is the file comment: the picture must run at the device's pace.
      this.video.playbackRate = history.scale;
    }
  }

  /** Moves the playhead to the buffered picture at (or just after) `start`, skipping what plays before it. */
  private jumpTo(start: number): void {
    const buffered = this.video.buffered;
    for (let i = 0; i < buffered.length; i++) {
      if (buffered.end(i) <= start) continue;
      const target = Math.max(start, buffered.start(i)) + 0.05;
      if (this.video.currentTime < target) {
        this.video.currentTime = target;
        playbackPlayerCounters.seekSkips++;
      }
      return;
    }
  }

  private attach(playlist: string): void {
    const hls = new Hls({ ...PLAYBACK_TUNING, ...mediaLoaderConfig() });
    this.hls = hls;
    hls.on(Events.MANIFEST_PARSED, () => {
      if (!this.paused) this.video.play().catch(() => undefined);
    });
    hls.on(Events.FRAG_BUFFERED, (_event, data) => {
      const frag = data.frag;
      if (frag.type !== 'main') return;
      if (this.skipPastCc !== null && frag.cc > this.skipPastCc) {
        this.skipPastCc = null;
        this.jumpTo(frag.start);
      }
      if (frag.cc > this.bufferedCc) this.bufferedCc = frag.cc;
    });
    hls.on(Events.ERROR, (_event, data) => {
      if (!data.fatal || this.closed) return;
      if (this.ending) return; // the playlist is gone after the end: what is buffered plays out
      if (data.type === ErrorTypes.MEDIA_ERROR && this.mediaRecoveries < 1) {
        this.mediaRecoveries++;
        hls.recoverMediaError();
        return;
      }
      this.fail({ key: data.type === ErrorTypes.NETWORK_ERROR ? 'error.network' : 'player.failure.media' });
    });
    hls.loadSource(playlist);
    hls.attachMedia(this.video);
  }

  private async poll(): Promise<void> {
    const id = this.view?.streamId;
    if (!id || this.closed || this.ending) return;
    let view: StreamView;
    try {
      view = await api<StreamView>(`/api/streams/${id}`);
    } catch (err) {
      // Gone without an event (gateway restarted): it cannot come back.
      if (err instanceof ApiError && err.status === 404 && !this.closed) {
        this.streamGone = true;
        this.end('gone');
      }
      return;
    }
    if (this.closed) return;
    if (view.history) this.applyHistory(view.history);
    if (view.state === 'closed' || view.state === 'failed') {
      this.streamGone = true;
      if (view.state === 'failed' && view.endReason !== 'end-of-file' && view.endReason !== 'device-bye') this.fail({ key: 'player.failure.unknown' });
      else this.end(view.endReason ?? 'closed');
    }
  }

  private subscribe(): void {
    if (auth.state.current?.role === 'guest') return;
    const events = gatewayEvents();
    this.unsubscribe.push(
      events.on('stream-status', (data) => {
        const e = data as StreamEvent;
        if (e.streamId !== this.view?.streamId || e.state !== 'closed') return;
        this.streamGone = true;
        this.end(e.endReason ?? 'closed');
      }),
      events.on('stream-failed', (data) => {
        const e = data as StreamEvent;
        if (e.streamId !== this.view?.streamId) return;
        this.streamGone = true;
        this.fail({ key: codeOfStep(e.step) });
      }),
    );
  }

  /** The device ended the stream: stop loading (its playlist is gone) and let the buffer play out. */
  private end(reason: string): void {
    if (this.ending || this.closed) return;
    this.ending = reason;
    this.hls?.stopLoad();
    this.lastMoveAt = Date.now();
  }

  private fail(error: PlaybackError): void {
    if (this.closed || this.state.kind === 'ended') return;
    this.ending = 'failed';
    this.hls?.stopLoad();
    this.setState({ kind: 'error', error });
  }

  private watch(): void {
    if (this.closed || this.state.kind === 'error' || this.state.kind === 'ended') return;
    const now = Date.now();
    const t = this.video.currentTime;
    if (Math.abs(t - this.lastTime) > 0.01) {
      if (this.lastTime >= 0 && t > this.lastTime) {
        this.moved = true;
        this.lastMoveAt = now;
      }
      this.lastTime = t;
    }
    if (this.moved) this.video.style.visibility = 'visible';
    if (this.ending) {
      if (now - this.lastMoveAt >= DRAIN_IDLE_MS || this.bufferedAhead() < 0.1) this.setState({ kind: 'ended', reason: this.ending });
      return;
    }
    if (this.paused) return;
    if (!this.moved) return; // still starting
    const still = now - this.lastMoveAt;
    const next: PlaybackState['kind'] = still >= BUFFERING_AFTER_MS ? 'buffering' : 'playing';
    if (next !== this.state.kind) this.setState({ kind: next });
  }

  private setState(state: PlaybackState): void {
    this.state = state;
    this.onState(state);
  }
}

/** DELETE without viewerId: the stream stops for everyone, which for a playback is its one operator. */
function stopStream(streamId: string): void {
  void pageApi(`/api/streams/${streamId}`, { method: 'DELETE', keepSignedIn: true }).catch(() => undefined);
}
