/**
 * One live tile's player, without any framework: asks the gateway to play a channel, runs hls.js on the
 * signed playlist — or, for a tile that wants low latency, the live fMP4 WebSocket through MSE — and keeps the
 * tile honest and alive by itself.
 *
 * Honest: the state is always one of connecting / playing / stalled / offline (since) / error (the gateway's
 * reason); the <video> is hidden whenever it is not playing, so a dead stream never shows a frozen frame.
 * Alive: every failure is retried with back-off for as long as the tile exists; a channel that comes back
 * online (event socket) is played again at once; a stream the gateway tore down (idle timeout, camera BYE,
 * RTP loss, expired media token) is simply played again, which re-opens it. Guests (consultation points)
 * have no event socket: for them the play errors and the progress watch are enough.
 *
 * Paths (docs/media-llhls.md, "Which path a wall tile plays"): `hls` is hls.js on the LL-HLS playlist (parts
 * and blocking reload, hls.js lowLatencyMode): at PART-HOLD-BACK for the main stream and low-latency tiles, 1.2 s
 * from the edge for grid sub-streams, or whole 1 s segments on a wall PC set to `segments` (hls-tuning.ts);
 * `fmp4` is the live fMP4 WebSocket into Media Source Extensions (MseLivePlayer), chosen when the tile wants
 * low latency (`lowLatency`: PTZ open on it, maximised, or the operator's per-tile setting) AND this browser
 * can play the stream's codec (H.265 in Debian's Chromium cannot: such a tile stays on HLS).
 *
 * Handover: changing stream or path on a tile that is playing does not blank it. The new attempt plays on a
 * second <video> underneath the one on screen; once its picture moves it goes on top and the old attempt is
 * torn down (player destroyed, viewer released, element removed). If the new attempt fails or shows nothing
 * within HANDOVER_TIMEOUT_MS it is dropped and the old picture simply stays.
 *
 * Sound (docs/media-core.md, "Listening"): every <video> is muted unless the tile listens (`listen`, one tile of
 * the wall at a time). A listening tile asks the play API for `listen: true`: a G.711 camera's HLS then comes
 * from the gateway's AAC rendition (a viewer that does not listen gets its stream video-only, no ffmpeg), so
 * switching listening on or off is a handover like a stream change, and the picture never blanks. The live
 * fMP4 path carries AAC cameras' audio only, so a listening G.711 tile plays HLS. A camera whose HLS already
 * carries AAC is simply unmuted in place.
 *
 * Lifecycle: `new LivePlayer(stage, options)` → `start()` → `configure()`* → `close()`. `close()` is
 * idempotent and leaves nothing behind: hls.js / MSE closed, the media elements detached and removed, every
 * gateway viewer released (also when a play answer arrives after the close).
 */
import Hls, { ErrorTypes, Events, type ErrorData } from 'hls.js';
import { ApiError, api } from '../api/http';
import type { Channel, StreamView } from '../api/types';
import { auth } from '../composables/auth';
import { gatewayEvents } from '../composables/gateway-events';
import { isMseLiveSupported, MseLivePlayer, type MseLiveState } from './mse-live';
import { codeOfStep, ProgressWatch, retryDelayMs, stateOfPlayFailure, type PlayerState, type PlayerStream } from './player-policy';
import { GRID_HLS_STORAGE_KEY, GRID_LL_HLS_TUNING, gridHlsMode, LIVE_SEEK_STORAGE_KEY, LL_HLS_TUNING, seekToLiveOnPlaying, SEGMENT_HLS_TUNING, type GridHlsMode } from './hls-tuning';
import { mediaLoaderConfig, pageApi } from './ws-media-loader';

export type { PlayerState, PlayerStateKind, PlayerStream } from './player-policy';

/** `hls`: hls.js on the LL-HLS playlist. `fmp4`: live fMP4 over the WebSocket into MSE (lowest latency). */
export type PlayerPath = 'hls' | 'fmp4';

export interface LivePlayerOptions {
  channelId: string;
  stream: PlayerStream;
  /** The tile wants the lowest latency: live fMP4 where the browser can play the codec, else LL-HLS with parts. */
  lowLatency?: boolean;
  onState?: (state: PlayerState) => void;
  /** The path of the picture on screen, whenever it changes. */
  onPath?: (path: PlayerPath) => void;
  /** The tile listens: its <video> is unmuted and the play asks for the audio (AAC). */
  listen?: boolean;
  /** Whether the camera has audio, and whether the picture on screen is heard now. */
  onAudio?: (audio: PlayerAudio) => void;
}

/** `available`: the camera sends audio. `audible`: the <video> on screen is unmuted and its media carries it. */
export interface PlayerAudio {
  available: boolean;
  audible: boolean;
}

export interface LivePlayerStats {
  decodedFrames: number;
  droppedFrames: number;
  currentTime: number;
  /** Seconds buffered ahead of the playhead. */
  bufferSec: number;
  /** Distance from the live edge, seconds: hls.js's estimate, or the end of the MSE buffer (null before media). */
  latencySec: number | null;
  path: PlayerPath;
}

/** False on a wall PC whose storage turns the seek to the live sync position off (hls-tuning.ts). */
function liveSeekWanted(): boolean {
  try {
    return typeof localStorage === 'undefined' || localStorage.getItem(LIVE_SEEK_STORAGE_KEY) !== 'off';
  } catch {
    return true;
  }
}

/** How this wall PC plays grid tiles (LL-HLS parts unless set to segments; hls-tuning.ts). */
function storedGridHlsMode(): GridHlsMode {
  try {
    return gridHlsMode(typeof localStorage === 'undefined' ? null : localStorage.getItem(GRID_HLS_STORAGE_KEY));
  } catch {
    return gridHlsMode(null);
  }
}

/** Progress sampling: a tile reads "playing" within ~2 samples of its first presented frames. */
const WATCH_INTERVAL_MS = 250;
/** A handover whose new picture has not moved by then is dropped; the old picture stays. */
const HANDOVER_TIMEOUT_MS = 10_000;
/** MSE attempts that failed in a row before this player stops trying it (until it is asked for low latency again). */
const MAX_MSE_FAILURES = 2;

/**
 * Page-wide counts, for tests and the benchmark: players that are not closed, hls.js instances alive (`llhls`: of
 * those, the ones loading LL-HLS parts) and MSE players alive; `liveSeeks` counts the seeks of LL-HLS tiles to
 * hls.js's live sync position since the page loaded (seekToLiveOnPlaying).
 */
export const livePlayerCounters = { players: 0, hls: 0, llhls: 0, mse: 0, liveSeeks: 0 };
/** Players not closed, for the per-tile readings below. */
const openPlayers = new Set<LivePlayer>();
/** One open player's reading for tests and the benchmark: its channel and stream, and stats(). */
export interface LivePlayerReading extends LivePlayerStats {
  channelId: string;
  stream: PlayerStream;
}
declare global {
  interface Window {
    __sharpEyesPlayers?: typeof livePlayerCounters;
    /** Read on demand (no per-frame cost): hls.js's latency and the buffer of every open player. */
    __sharpEyesLiveStats?: () => LivePlayerReading[];
  }
}
if (typeof window !== 'undefined') {
  window.__sharpEyesPlayers = livePlayerCounters;
  window.__sharpEyesLiveStats = () => [...openPlayers].map((p) => ({ channelId: p.channel, stream: p.currentStream, ...p.stats() }));
}

type HlsTuningKind = 'segments' | 'grid' | 'edge';
/** hls.js with parts (lowLatencyMode): not whole-segment grid tiles, not MSE. */
const loadsParts = (attempt: { path: PlayerPath; tuning: HlsTuningKind }): boolean => attempt.path === 'hls' && attempt.tuning !== 'segments';
const HLS_TUNINGS = { segments: SEGMENT_HLS_TUNING, grid: GRID_LL_HLS_TUNING, edge: LL_HLS_TUNING } as const;

/** One play of the stream on one <video>: what must be undone when it ends. */
interface Attempt {
  id: number;
  video: HTMLVideoElement;
  view: StreamView | null;
  path: PlayerPath;
  /** Which hls.js settings (hls-tuning.ts): whole segments, grid parts (1.2 s from the edge), steered parts. */
  tuning: HlsTuningKind;
  hls: Hls | null;
  /** Stops the seek to the live sync position (LL-HLS only). */
  stopLiveSeek: (() => void) | null;
  mse: MseLivePlayer | null;
  watch: ProgressWatch | null;
  mediaRecoveries: number;
  startedAt: number;
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

/** A codec string MSE must accept for the live fMP4 of a stream of this codec (the init message has the exact one). */
const MSE_PROBE: Record<string, string> = {
  h264: 'video/mp4; codecs="avc1.42E01E"',
  h265: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
};

/** HEVC codec strings (both sample-entry forms cameras' streams end up in); any accepted means the browser decodes H.265. */
const HEVC_PROBES = ['video/mp4; codecs="hvc1.1.6.L93.B0"', 'video/mp4; codecs="hev1.1.6.L93.B0"'];

/**
 * Can this browser decode H.265 in MSE (hls.js and the live fMP4 both play through it)? Debian's Chromium and
 * desktop Chromes without hardware HEVC cannot: the wall then asks the play API for `transcode`, so an H.265
 * camera's HLS comes as H.264 (the gateway adds a transcoded rendition for such viewers; docs/streams.md).
 */
export function canDecodeHevc(): boolean {
  return HEVC_PROBES.some((type) => isMseLiveSupported(type));
}

/** Can this browser play the stream's live fMP4? The WebSocket carries the camera's codec, not a transcode. */
export function mseCanPlay(view: Pick<StreamView, 'codec' | 'sourceCodec'>): boolean {
  const codec = view.sourceCodec ?? view.codec;
  const probe = codec ? MSE_PROBE[codec] : undefined;
  // An unknown codec is tried: the init message's exact type is checked before anything is appended.
  return probe ? isMseLiveSupported(probe) : typeof MediaSource !== 'undefined';
}

export class LivePlayer {
  private state: PlayerState = { kind: 'idle' };
  private stream: PlayerStream;
  private lowLatency: boolean;
  private listen: boolean;
  private audio: PlayerAudio = { available: false, audible: false };
  private readonly onAudio: (audio: PlayerAudio) => void;
  private readonly channelId: string;
  private readonly onState: (state: PlayerState) => void;
  private readonly onPath: (path: PlayerPath) => void;
  private started = false;
  private closed = false;
  /** The <video> on screen (on top); a handover's video sits underneath it until it takes over. */
  private front: HTMLVideoElement;
  private attempt: Attempt | null = null;
  /** A handover in progress: the new stream or path, playing underneath the current picture. */
  private pending: Attempt | null = null;
  private attemptSeq = 0;
  private path: PlayerPath = 'hls';
  /** Attempts that failed since the last one that played (drives the back-off). */
  private failures = 0;
  /** MSE attempts that failed in a row; at MAX_MSE_FAILURES the player stays on HLS. */
  private mseFailures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchTimer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: Array<() => void> = [];
  /** Read once per player: a wall PC's setting, not something that changes under a playing tile. */
  private readonly gridMode: GridHlsMode = storedGridHlsMode();

  constructor(
    private readonly stage: HTMLElement,
    options: LivePlayerOptions,
  ) {
    this.channelId = options.channelId;
    this.stream = options.stream;
    this.lowLatency = options.lowLatency ?? false;
    this.listen = options.listen ?? false;
    this.onAudio = options.onAudio ?? (() => undefined);
    this.onState = options.onState ?? (() => undefined);
    this.onPath = options.onPath ?? (() => undefined);
    this.front = this.createVideo(true);
    livePlayerCounters.players++;
    openPlayers.add(this);
    this.showVideo(false);
  }

  get current(): PlayerState {
    return this.state;
  }

  get channel(): string {
    return this.channelId;
  }

  get currentStream(): PlayerStream {
    return this.stream;
  }

  get currentPath(): PlayerPath {
    return this.path;
  }

  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    this.subscribe();
    this.watchTimer = setInterval(() => this.checkProgress(), WATCH_INTERVAL_MS);
    this.setState({ kind: 'connecting' });
    void this.play();
  }

  /** Main stream when maximised, sub-stream in grids. */
  switchStream(stream: PlayerStream): void {
    this.configure({ stream });
  }

  /**
   * A new stream type and/or low-latency wish. A playing tile hands over without going black; a tile that is
   * not playing (connecting, offline, error) simply plays again with the new settings.
   */
  configure(next: { stream?: PlayerStream; lowLatency?: boolean; listen?: boolean }): void {
    if (this.closed) return;
    const stream = next.stream ?? this.stream;
    const lowLatency = next.lowLatency ?? this.lowLatency;
    const listen = next.listen ?? this.listen;
    if (stream === this.stream && lowLatency === this.lowLatency && listen === this.listen) return;
    const streamChanged = stream !== this.stream;
    this.stream = stream;
    this.lowLatency = lowLatency;
    this.listen = listen;
    // Muting takes effect at once, before any handover back to the stream without audio.
    if (!listen) this.front.muted = true;
    this.updateAudio();
    // Asked for low latency (again): give MSE a fresh chance.
    if (lowLatency) this.mseFailures = 0;
    if (!this.started) return;
    const current = this.attempt;
    if (!streamChanged && current?.view && this.samePlan(current, current.view) && !this.audioNeedsNewPlay(current.view)) {
      // Already on what the new settings pick (an H.265 tile asked for low latency and already on LL-HLS; an
      // AAC camera whose HLS carries the audio already: unmuted in place).
      this.endPending();
      this.applyMuted();
      return;
    }
    if (!current?.view || this.state.kind !== 'playing') {
      this.endAll();
      this.failures = 0;
      this.setState({ kind: 'connecting' });
      void this.play();
      return;
    }
    void this.startHandover();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    livePlayerCounters.players--;
    openPlayers.delete(this);
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.retryTimer = this.watchTimer = null;
    this.endAll();
    this.front.remove();
    this.setState({ kind: 'idle' });
  }

  stats(): LivePlayerStats {
    const v = this.front;
    const quality = typeof v.getVideoPlaybackQuality === 'function' ? v.getVideoPlaybackQuality() : null;
    let bufferSec = 0;
    for (let i = 0; i < v.buffered.length; i++) {
      if (v.buffered.start(i) <= v.currentTime + 0.1 && v.buffered.end(i) > v.currentTime) bufferSec = v.buffered.end(i) - v.currentTime;
    }
    const latency = this.attempt?.hls ? this.attempt.hls.latency : this.attempt?.mse?.stats().latencySec;
    return {
      decodedFrames: quality?.totalVideoFrames ?? 0,
      droppedFrames: quality?.droppedVideoFrames ?? 0,
      currentTime: v.currentTime,
      bufferSec,
      latencySec: latency !== undefined && latency !== null && Number.isFinite(latency) ? latency : null,
      path: this.path,
    };
  }

  // ------------------------------------------------------------------------------------------ attempts

  private newAttempt(video: HTMLVideoElement): Attempt {
    return { id: ++this.attemptSeq, video, view: null, path: 'hls', tuning: 'segments', hls: null, stopLiveSeek: null, mse: null, watch: null, mediaRecoveries: 0, startedAt: Date.now() };
  }

  /**
   * The play answer's audio does not match the listen wish: a listener on an HLS without the camera's audio
   * (G.711 left out), or a tile that stopped listening still holding a listener's place (the gateway runs the
   * AAC rendition for it). AAC cameras never need a new play: their HLS carries the audio either way.
   */
  private audioNeedsNewPlay(view: StreamView): boolean {
    if (!view.audio || view.audio === 'aac') return false;
    return this.listen ? view.hlsAudio !== 'aac' : view.listening === true && view.hlsAudio === 'aac';
  }

  /** What the current settings pick for a play answer: the path, and whether hls.js loads parts. */
  private planFor(view: StreamView): { path: PlayerPath; tuning: HlsTuningKind } {
    // The live fMP4 carries the camera's audio only when it is AAC: a listening G.711 tile plays HLS (AAC rendition).
    const fmp4Heard = !this.listen || !view.audio || view.audio === 'aac';
    if (this.lowLatency && fmp4Heard && view.ws && this.mseFailures < MAX_MSE_FAILURES && mseCanPlay(view)) return { path: 'fmp4', tuning: 'segments' };
    // LL-HLS parts (grid tiles further from the edge, hls-tuning.ts), unless the wall PC opted out to whole
    // segments for its grid tiles; the main stream (a maximised tile) and a low-latency tile always load parts.
    const steered = this.stream === 'main' || this.lowLatency;
    const tuning: HlsTuningKind = steered ? 'edge' : this.gridMode === 'parts' ? 'grid' : 'segments';
    return { path: 'hls', tuning };
  }

  private samePlan(attempt: Attempt, view: StreamView): boolean {
    const plan = this.planFor(view);
    return plan.path === attempt.path && (plan.path !== 'hls' || plan.tuning === attempt.tuning);
  }

  private async play(): Promise<void> {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.endAll();
    const attempt = this.newAttempt(this.front);
    this.attempt = attempt;
    const view = await this.requestPlayFor(attempt, () => this.attempt === attempt);
    if (!view) return;
    attempt.view = view;
    this.attach(attempt, view);
  }

  /**
   * A play for an attempt. A tile meant for the live fMP4 path asks to be answered at the camera's first key
   * frame (`until: 'keyframe'`): the socket starts from that GOP, about one GOP before the HLS has a segment.
   * Should the answer show that this tile must play HLS after all (a codec MSE cannot play), that early answer
   * is traded for one that waits for a playable HLS.
   */
  private async requestPlayFor(attempt: Attempt, stillWanted: () => boolean): Promise<StreamView | null> {
    const early = this.lowLatency && !this.listen && this.mseFailures < MAX_MSE_FAILURES;
    const view = await this.requestPlay(attempt, stillWanted, early);
    if (!view || !early || view.state === 'playing' || this.planFor(view).path === 'fmp4') return view;
    const playable = await this.requestPlay(attempt, stillWanted, false);
    releaseViewer(view);
    return playable;
  }

  /** POST play; null when it failed (handled) or the attempt is no longer wanted (viewer released). */
  private async requestPlay(attempt: Attempt, stillWanted: () => boolean, early = false): Promise<StreamView | null> {
    let view: StreamView;
    try {
      view = await pageApi<StreamView>(`/api/channels/${encodeURIComponent(this.channelId)}/play`, {
        body: { stream: this.stream, transcode: !canDecodeHevc(), ...(this.listen ? { listen: true } : {}), ...(early ? { until: 'keyframe' } : {}) },
      });
    } catch (err) {
      if (!stillWanted()) return null;
      if (attempt === this.pending) {
        // The handover could not start: keep what is on screen.
        this.endPending();
        return null;
      }
      this.attempt = null;
      await this.failed(err);
      return null;
    }
    // Closed, switched or restarted while the gateway was starting the stream: that viewer is not ours to keep.
    if (!stillWanted() || this.closed) {
      releaseViewer(view);
      return null;
    }
    return view;
  }

  private async startHandover(): Promise<void> {
    this.endPending();
    const attempt = this.newAttempt(this.createVideo(false));
    this.pending = attempt;
    const view = await this.requestPlayFor(attempt, () => this.pending === attempt);
    if (!view) return;
    attempt.view = view;
    const current = this.attempt;
    if (current?.view && current.view.streamId === view.streamId && this.samePlan(current, view) && (current.view.hlsAudio ?? null) === (view.hlsAudio ?? null)) {
      this.endPending();
      this.applyMuted();
      return;
    }
    this.attach(attempt, view);
  }

  private attach(attempt: Attempt, view: StreamView): void {
    const plan = this.planFor(view);
    attempt.path = plan.path;
    attempt.tuning = plan.tuning;
    attempt.watch = new ProgressWatch(Date.now());
    if (plan.path === 'fmp4' && view.ws) this.attachMse(attempt, view.ws);
    else this.attachHls(attempt, view.hls, plan.tuning);
    if (attempt === this.attempt) {
      this.setPath(plan.path);
      this.applyMuted();
    }
  }

  private attachHls(attempt: Attempt, playlist: string, kind: HlsTuningKind): void {
    const partial = kind !== 'segments';
    const hls = new Hls({ ...HLS_TUNINGS[kind], ...mediaLoaderConfig() });
    livePlayerCounters.hls++;
    if (partial) livePlayerCounters.llhls++;
    attempt.hls = hls;
    // hls.js starts up to a GOP behind its target and stays there: one seek forward when the picture moves
    // (and again after a rebuffer) brings the tile to the distance it was tuned for.
    if (partial && liveSeekWanted()) attempt.stopLiveSeek = seekToLiveOnPlaying(hls, attempt.video, () => livePlayerCounters.liveSeeks++);
    hls.on(Events.ERROR, (_event, data) => this.onHlsError(attempt, data));
    hls.on(Events.MANIFEST_PARSED, () => {
      attempt.video.play().catch(() => undefined);
    });
    hls.loadSource(playlist);
    hls.attachMedia(attempt.video);
  }

  private attachMse(attempt: Attempt, path: string): void {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const mse = new MseLivePlayer(attempt.video, url.toString(), { onState: (s) => this.onMseState(attempt, s) });
    livePlayerCounters.mse++;
    attempt.mse = mse;
    mse.start();
  }

  private onMseState(attempt: Attempt, state: MseLiveState): void {
    if (state.kind !== 'error' && state.kind !== 'ended') return;
    if (attempt === this.pending) {
      // e.g. "this browser cannot play hvc1…" from the init message: stay on the picture we have.
      this.mseFailures++;
      this.endPending();
      return;
    }
    if (attempt !== this.attempt) return;
    this.mseFailures++;
    // The gateway ended the socket (stream torn down, token expired, viewer cut as too slow) or it broke:
    // play again, which re-opens the stream and — after MAX_MSE_FAILURES — falls back to HLS.
    const failure: PlayerState =
      state.kind === 'ended' ? { kind: 'connecting' } : { kind: 'error', code: 'player.failure.media', params: {}, step: 'media', detail: `live fMP4: ${state.reason}` };
    this.restart(failure, state.kind === 'ended' ? 0 : null);
  }

  private onHlsError(attempt: Attempt, data: ErrorData): void {
    if (!data.fatal) return;
    if (attempt === this.pending) {
      this.endPending();
      return;
    }
    if (this.attempt !== attempt) return;
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

  /** Undo one attempt: player destroyed, media detached, the viewer released. */
  private teardown(attempt: Attempt): void {
    attempt.stopLiveSeek?.();
    attempt.stopLiveSeek = null;
    if (attempt.hls) {
      attempt.hls.destroy();
      attempt.hls = null;
      livePlayerCounters.hls--;
      if (loadsParts(attempt)) livePlayerCounters.llhls--;
    }
    if (attempt.mse) {
      attempt.mse.close();
      attempt.mse = null;
      livePlayerCounters.mse--;
    }
    // The players detached their MediaSource; make sure the element holds no decoded picture or source either.
    attempt.video.removeAttribute('src');
    attempt.video.load();
    if (attempt.view) releaseViewer(attempt.view);
    attempt.view = null;
  }

  private endPending(): void {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return;
    this.teardown(pending);
    pending.video.remove();
  }

  /** End the attempt on screen and any handover. */
  private endAll(): void {
    this.endPending();
    const attempt = this.attempt;
    this.attempt = null;
    if (attempt) this.teardown(attempt);
  }

  /** The handover's picture moves: it goes on top, the old attempt goes away. */
  private promote(pending: Attempt): void {
    const old = this.attempt;
    const oldVideo = this.front;
    this.pending = null;
    this.attempt = pending;
    this.front = pending.video;
    this.front.style.zIndex = '1';
    this.failures = 0;
    if (pending.path === 'fmp4') this.mseFailures = 0;
    this.showVideo(true);
    if (old) this.teardown(old);
    oldVideo.remove();
    if (this.state.kind !== 'playing') this.setState({ kind: 'playing' });
    this.setPath(pending.path);
    this.applyMuted();
  }

  /** Tear down and try again: at once (delayMs 0) or after the back-off, showing `state` meanwhile. */
  private restart(state: PlayerState, delayMs: number | null): void {
    if (this.closed) return;
    this.endAll();
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
    if (this.closed) return;
    const now = Date.now();
    const pending = this.pending;
    if (pending?.watch) {
      const verdict = pending.watch.sample(pending.video.currentTime, now);
      if (verdict === 'playing') this.promote(pending);
      else if (verdict === 'restart' || now - pending.startedAt > HANDOVER_TIMEOUT_MS) this.endPending();
    }
    const attempt = this.attempt;
    if (!attempt?.watch) return;
    const verdict = attempt.watch.sample(attempt.video.currentTime, now);
    switch (verdict) {
      case 'playing':
        this.failures = 0;
        if (attempt.path === 'fmp4') this.mseFailures = 0;
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
        if (failure.streamId !== this.attempt?.view?.streamId) {
          // The handover's stream (e.g. the main stream of a camera whose sub-stream plays) failed: keep the picture.
          if (failure.streamId === this.pending?.view?.streamId) this.endPending();
          return;
        }
        this.restart({ kind: 'error', code: codeOfStep(failure.step), params: {}, step: failure.step, detail: [failure.message, failure.hint].filter(Boolean).join(' — ') }, null);
      }),
      events.on('stream-status', (data) => {
        const status = data as StreamStatusEvent;
        if (status.state !== 'closed') return;
        // Closed under us (idle teardown, an operator's stop): re-open it.
        if (status.streamId === this.attempt?.view?.streamId) this.restart({ kind: 'connecting' }, 0);
        else if (status.streamId === this.pending?.view?.streamId) this.endPending();
      }),
    );
  }

  private setState(state: PlayerState): void {
    this.state = state;
    this.onState(state);
  }

  /** The <video> on screen is unmuted exactly while the tile listens; the rest stay muted. */
  private applyMuted(): void {
    const muted = !this.listen;
    if (this.front.muted !== muted) {
      this.front.muted = muted;
      // A browser may pause a video that becomes audible without a user gesture; the listen click is one.
      if (!muted) this.front.play().catch(() => undefined);
    }
    this.updateAudio();
  }

  private updateAudio(): void {
    const attempt = this.attempt;
    const view = attempt?.view ?? null;
    const carried = view ? (attempt?.path === 'fmp4' ? view.audio === 'aac' : view.hlsAudio === 'aac') : false;
    // Between attempts (a retry) the camera's audio is what the last play answer said.
    const next: PlayerAudio = { available: view ? Boolean(view.audio) : this.audio.available, audible: carried && !this.front.muted };
    if (next.available === this.audio.available && next.audible === this.audio.audible) return;
    this.audio = next;
    this.onAudio(next);
  }

  private setPath(path: PlayerPath): void {
    if (path === this.path) return;
    this.path = path;
    this.onPath(path);
  }

  /**
   * A muted inline <video> in the stage. The one on screen is on top (z-index 1) and first in the stage, so
   * `querySelector('video')` finds the picture; a handover's is appended underneath, visible but covered.
   */
  private createVideo(onTop: boolean): HTMLVideoElement {
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.disablePictureInPicture = true;
    video.style.zIndex = onTop ? '1' : '0';
    this.stage.appendChild(video);
    return video;
  }

  private showVideo(visible: boolean): void {
    this.front.style.visibility = visible ? 'visible' : 'hidden';
  }
}

function releaseViewer(view: StreamView): void {
  // keepSignedIn: after a consultation ends the guest token is void and the gateway released the viewer already.
  void pageApi(`/api/streams/${view.streamId}`, { method: 'DELETE', query: { viewerId: view.viewerId }, keepSignedIn: true }).catch(() => undefined);
}
