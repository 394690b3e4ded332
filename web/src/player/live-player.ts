/**
 * One live tile's player, without any framework: asks the gateway to play a channel, runs hls.js on the
 * signed playlist, and keeps the tile honest and alive by itself.
 *
 * Honest: the state is always one of connecting / playing / stalled / offline (since) / error (the gateway's
 * reason); the <video> is hidden whenever it is not playing, so a dead stream never shows a frozen frame.
 * Alive: every failure is retried with back-off for as long as the tile exists; a channel that comes back
 * online (event socket) is played again at once; a stream the gateway tore down (idle timeout, camera BYE,
 * RTP loss, expired media token) is simply played again, which re-opens it. Guests (consultation points)
 * have no event socket: for them the play errors and the progress watch are enough.
 *
 * Lifecycle: `new LivePlayer(video, options)` → `start()` → `switchStream()`* → `close()`. `close()` is
 * idempotent and leaves nothing behind: hls.js destroyed, the media element detached, the gateway viewer
 * released (also when the play answer arrives after the close).
 */
import Hls, { ErrorTypes, Events, type ErrorData, type HlsConfig } from 'hls.js';
import { ApiError, api } from '../api/http';
import type { Channel, StreamView } from '../api/types';
import { auth } from '../composables/auth';
import { gatewayEvents } from '../composables/gateway-events';
import { codeOfStep, ProgressWatch, retryDelayMs, stateOfPlayFailure, type PlayerState, type PlayerStream } from './player-policy';
import { mediaLoaderConfig, pageApi } from './ws-media-loader';

export type { PlayerState, PlayerStateKind, PlayerStream } from './player-policy';

export interface LivePlayerOptions {
  channelId: string;
  stream: PlayerStream;
  onState?: (state: PlayerState) => void;
}

export interface LivePlayerStats {
  decodedFrames: number;
  droppedFrames: number;
  currentTime: number;
  /** Seconds buffered ahead of the playhead. */
  bufferSec: number;
  /** hls.js's distance from the live edge, seconds (null before the first playlist). */
  latencySec: number | null;
}

/** Live-stream tuning: 1 s segments, sit 2 behind the edge, keep little buffer (25 tiles share the memory). */
const HLS_TUNING: Partial<HlsConfig> = {
  liveSyncDurationCount: 2,
  liveMaxLatencyDurationCount: 6,
  maxLiveSyncPlaybackRate: 1.1,
  maxBufferLength: 6,
  backBufferLength: 4,
  // fMP4 is passed through, not transmuxed: a worker per tile (25 threads) would buy nothing.
  enableWorker: false,
};

/** Progress sampling: a tile reads "playing" within ~2 samples of its first presented frames. */
const WATCH_INTERVAL_MS = 250;

/** Page-wide counts, for tests and the benchmark: players that are not closed, hls.js instances alive. */
export const livePlayerCounters = { players: 0, hls: 0 };
declare global {
  interface Window {
    __sharpEyesPlayers?: typeof livePlayerCounters;
  }
}
if (typeof window !== 'undefined') window.__sharpEyesPlayers = livePlayerCounters;

/** One play of the stream: what must be undone when it ends. */
interface Attempt {
  id: number;
  view: StreamView | null;
  hls: Hls | null;
  watch: ProgressWatch | null;
  mediaRecoveries: number;
}

interface StreamFailedEvent {
  streamId: string;
  channelId: string;
  step: string;
  message: string;
  hint: string;
}
interface ChannelStatusEvent {
  channelIds: string[];
  status: 'online' | 'offline';
  at: number;
}
interface StreamStatusEvent {
  streamId: string;
  state: string;
}

export class LivePlayer {
  private state: PlayerState = { kind: 'idle' };
  private stream: PlayerStream;
  private readonly channelId: string;
  private readonly onState: (state: PlayerState) => void;
  private started = false;
  private closed = false;
  private attempt: Attempt | null = null;
  private attemptSeq = 0;
  /** Attempts that failed since the last one that played (drives the back-off). */
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchTimer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: Array<() => void> = [];

  constructor(
    private readonly video: HTMLVideoElement,
    options: LivePlayerOptions,
  ) {
    this.channelId = options.channelId;
    this.stream = options.stream;
    this.onState = options.onState ?? (() => undefined);
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    livePlayerCounters.players++;
    this.showVideo(false);
  }

  get current(): PlayerState {
    return this.state;
  }

  get currentStream(): PlayerStream {
    return this.stream;
  }

  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    this.subscribe();
    this.watchTimer = setInterval(() => this.checkProgress(), WATCH_INTERVAL_MS);
    this.setState({ kind: 'connecting' });
    void this.play();
  }

  /** Main stream when maximised, sub-stream in grids: a new play of the other stream type. */
  switchStream(stream: PlayerStream): void {
    if (this.closed || stream === this.stream) return;
    this.stream = stream;
    if (!this.started) return;
    this.endAttempt();
    this.failures = 0;
    this.setState({ kind: 'connecting' });
    void this.play();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    livePlayerCounters.players--;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.retryTimer = this.watchTimer = null;
    this.endAttempt();
    this.showVideo(false);
    this.setState({ kind: 'idle' });
  }

  stats(): LivePlayerStats {
    const v = this.video;
    const quality = typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : null;
    let bufferSec = 0;
    for (let i = 0; i < v.buffered.length; i++) {
      if (v.buffered.start(i) <= v.currentTime + 0.1 && v.buffered.end(i) > v.currentTime) bufferSec = v.buffered.end(i) - v.currentTime;
    }
    const latency = this.attempt?.hls?.latency;
    return {
      decodedFrames: quality?.totalVideoFrames ?? 0,
      droppedFrames: quality?.droppedVideoFrames ?? 0,
      currentTime: v.currentTime,
      bufferSec,
      latencySec: latency !== undefined && Number.isFinite(latency) ? latency : null,
    };
  }

  // ------------------------------------------------------------------------------------------ attempts

  private async play(): Promise<void> {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.endAttempt();
    const attempt: Attempt = { id: ++this.attemptSeq, view: null, hls: null, watch: null, mediaRecoveries: 0 };
    this.attempt = attempt;
    const stream = this.stream;
    let view: StreamView;
    try {
      view = await pageApi<StreamView>(`/api/channels/${encodeURIComponent(this.channelId)}/play`, { body: { stream } });
    } catch (err) {
      if (this.attempt !== attempt) return;
      this.attempt = null;
      await this.failed(err);
      return;
    }
    // Closed, switched or restarted while the gateway was starting the stream: that viewer is not ours to keep.
    if (this.attempt !== attempt || this.closed) {
      releaseViewer(view);
      return;
    }
    attempt.view = view;
    this.attachHls(attempt, view.hls);
  }

  private attachHls(attempt: Attempt, playlist: string): void {
    // The main stream (a maximised tile, the one an operator steers) plays LL-HLS: parts and blocking reload
    // where the gateway muxes in process. Grid tiles (sub-streams) load whole 1 s segments of the same
    // playlist: 25 tiles fetching 200 ms parts with held requests overloaded a page on a busy 2-core machine.
    const hls = new Hls({ ...HLS_TUNING, lowLatencyMode: this.stream === 'main', ...mediaLoaderConfig() });
    livePlayerCounters.hls++;
    attempt.hls = hls;
    attempt.watch = new ProgressWatch(Date.now());
    hls.on(Events.ERROR, (_event, data) => this.onHlsError(attempt, data));
    hls.on(Events.MANIFEST_PARSED, () => {
      this.video.play().catch(() => undefined);
    });
    hls.loadSource(playlist);
    hls.attachMedia(this.video);
  }

  private onHlsError(attempt: Attempt, data: ErrorData): void {
    if (this.attempt !== attempt || !data.fatal) return;
    if (data.type === ErrorTypes.MEDIA_ERROR && attempt.mediaRecoveries < 1) {
      attempt.mediaRecoveries++;
      attempt.hls?.recoverMediaError();
      return;
    }
    // A fatal network error is nearly always the stream being gone (torn down after its viewers left, the
    // camera's BYE, an expired token): play again, which re-opens it. The play's own answer says why not.
    const network = data.type === ErrorTypes.NETWORK_ERROR;
    const failure: PlayerState = { kind: 'error', code: network ? 'error.network' : 'player.failure.media', params: {}, step: network ? 'network' : 'media', detail: `${data.type}: ${data.details}` };
    this.restart(failure, data.type === ErrorTypes.NETWORK_ERROR ? 0 : null);
  }

  /** Undo the current attempt: hls.js destroyed, media detached, the viewer released. */
  private endAttempt(): void {
    const attempt = this.attempt;
    this.attempt = null;
    if (!attempt) return;
    if (attempt.hls) {
      attempt.hls.destroy();
      attempt.hls = null;
      livePlayerCounters.hls--;
    }
    // hls.js detached its MediaSource; make sure the element holds no decoded picture or source either.
    this.video.removeAttribute('src');
    this.video.load();
    if (attempt.view) releaseViewer(attempt.view);
    attempt.view = null;
  }

  /** Tear down and try again: at once (delayMs 0) or after the back-off, showing `state` meanwhile. */
  private restart(state: PlayerState, delayMs: number | null): void {
    if (this.closed) return;
    this.endAttempt();
    this.showVideo(false);
    if (state.kind !== 'offline' || this.state.kind !== 'offline') this.setState(state);
    this.schedule(delayMs ?? retryDelayMs(this.failures));
    this.failures++;
  }

  private schedule(delayMs: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state.kind !== 'offline' && this.state.kind !== 'error') this.setState({ kind: 'connecting' });
      void this.play();
    }, delayMs);
  }

  private async failed(err: unknown): Promise<void> {
    const state =
      err instanceof ApiError
        ? stateOfPlayFailure({ status: err.status, body: err.body, message: err.message })
        : stateOfPlayFailure({ status: null, body: null, message: err instanceof Error ? err.message : String(err) });
    if (state.kind === 'offline') {
      const since = this.state.kind === 'offline' && this.state.since !== null ? this.state.since : await this.offlineSince();
      if (this.closed) return;
      this.restart({ kind: 'offline', since }, null);
      return;
    }
    this.restart(state, null);
  }

  /** When the channel went offline, from the gateway's record; when we noticed, if that cannot be read. */
  private async offlineSince(): Promise<number> {
    try {
      const channel = await api<Channel>(`/api/channels/${encodeURIComponent(this.channelId)}`);
      if (channel.status === 'offline' && channel.statusChangedAt) return channel.statusChangedAt;
    } catch {
      // Guests may not read channels; the time we saw it offline is the best we know.
    }
    return Date.now();
  }

  // ------------------------------------------------------------------------------------------ watching

  private checkProgress(): void {
    const attempt = this.attempt;
    if (this.closed || !attempt?.watch) return;
    const verdict = attempt.watch.sample(this.video.currentTime, Date.now());
    switch (verdict) {
      case 'playing':
        this.failures = 0;
        this.showVideo(true);
        if (this.state.kind !== 'playing') this.setState({ kind: 'playing' });
        break;
      case 'stalled':
        this.showVideo(false);
        if (this.state.kind !== 'stalled') this.setState({ kind: 'stalled', since: attempt.watch.lastProgress });
        break;
      case 'restart':
        this.restart(
          this.state.kind === 'stalled' ? this.state : { kind: 'error', code: 'player.failure.no-picture', params: {}, step: 'media', detail: 'no picture from the stream' },
          this.state.kind === 'stalled' ? 0 : null,
        );
        break;
      case 'connecting':
        break;
    }
  }

  private subscribe(): void {
    // Guests have no event socket (it is refused for their token); play errors and progress cover them.
    if (auth.state.current?.role === 'guest') return;
    const events = gatewayEvents();
    this.unsubscribe.push(
      events.on('channel-status', (data) => {
        const change = data as ChannelStatusEvent;
        if (!change.channelIds?.includes(this.channelId)) return;
        if (change.status === 'offline') {
          this.failures = 0;
          this.restart({ kind: 'offline', since: change.at }, null);
        } else if (this.state.kind !== 'playing') {
          // Back online: play now instead of waiting out the back-off.
          this.failures = 0;
          if (this.state.kind === 'offline') this.setState({ kind: 'connecting' });
          void this.play();
        }
      }),
      events.on('stream-failed', (data) => {
        const failure = data as StreamFailedEvent;
        if (failure.streamId !== this.attempt?.view?.streamId) return;
        this.restart({ kind: 'error', code: codeOfStep(failure.step), params: {}, step: failure.step, detail: [failure.message, failure.hint].filter(Boolean).join(' — ') }, null);
      }),
      events.on('stream-status', (data) => {
        const status = data as StreamStatusEvent;
        if (status.streamId !== this.attempt?.view?.streamId) return;
        // Closed under us (idle teardown, an operator's stop): re-open it.
        if (status.state === 'closed') this.restart({ kind: 'connecting' }, 0);
      }),
    );
  }

  private setState(state: PlayerState): void {
    this.state = state;
    this.onState(state);
  }

  private showVideo(visible: boolean): void {
    this.video.style.visibility = visible ? 'visible' : 'hidden';
  }
}

function releaseViewer(view: StreamView): void {
  // keepSignedIn: after a consultation ends the guest token is void and the gateway released the viewer already.
  void pageApi(`/api/streams/${view.streamId}`, { method: 'DELETE', query: { viewerId: view.viewerId }, keepSignedIn: true }).catch(() => undefined);
}
