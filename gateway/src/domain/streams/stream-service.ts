/**
 * Live streams on demand: play a channel (INVITE → the GB source: RTP/PS in, our PS demux, access units → a
 * media-core Stream → its readers), share a running stream between viewers, count viewers by their playlist
 * polls, tear down when the last one has gone, and say exactly which step failed when a play does not work.
 *
 * One LiveStream per (channel, main|sub): the service's bookkeeping (viewers, state, rates, the signed URLs)
 * around one core Stream, which owns everything the play opened — the source (receiver, port), the readers,
 * the output directory, the INVITE dialog and the SSRC — and closes it once, in order (docs/media-core.md).
 * Timers: one sweep interval for all streams (idle viewers, RTP silence), not one per stream.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TransportSource } from '../../transport/sip-transport.js';
import type { InviteDialog } from '../../protocol/gb28181/invite.js';
import { InviteRefusedError, InviteTimeoutError } from '../../protocol/gb28181/invite.js';
import { buildHistoryOffer, buildPlayOffer, parseSdp } from '../../codecs/sdp/sdp.js';
import { SsrcAllocator, parseSsrc } from '../../codecs/gb/ssrc.js';
import type { AudioCodec, VideoCodec } from '../../codecs/ps/stream-types.js';
import { PortPool, PortPoolExhaustedError } from '../../media/port-pool.js';
import type { MediaTransport } from '../../media/rtp-receiver.js';
import type { HlsPackagerExit } from '../../media/ffmpeg/hls-packager.js';
import { HlsOutput } from '../../media/hls-output.js';
import { Stream, type ReaderStats } from '../../media/core/stream.js';
import { GbPsSource } from '../../media/sources/gb28181/gb-ps-source.js';
import type { StreamSource } from '../../media/sources/source.js';
import { FfmpegHlsReader } from '../../media/readers/ffmpeg-hls/ffmpeg-hls-reader.js';
import { LlhlsReader } from '../../media/readers/llhls/llhls-reader.js';
import { Fmp4LiveReader, type Fmp4LiveSink } from '../../media/readers/fmp4-live/fmp4-live-reader.js';
import type { AudioParameters, StreamReader, TrackParameters, VideoParameters } from '../../media/core/access-unit.js';
import { snapshotOfStream } from '../../media/readers/snapshot/snapshot-reader.js';
import { MediaTokens } from './media-token.js';
import { grantMatches, MediaGrants } from './media-grants.js';
import { PlayError, inviteRefusalHint } from './play-error.js';
import { Mp4FileReader } from '../../media/readers/mp4-file/mp4-file-reader.js';
import { ConflictError, NotFoundError, UpstreamError } from '../services.js';
import { PlaybackClock, controlRequest, exchangeControl, notPlayback, type ControlRequest, type HistorySpan } from './playback.js';
import type { MansrtspResponse } from '../../codecs/gb/mansrtsp.js';

export type StreamType = 'main' | 'sub';
/** Live view, device playback (s=Playback) or device download (s=Download): docs/playback.md. */
export type StreamKind = 'live' | 'playback' | 'download';
export type StreamState = 'starting' | 'playing' | 'failed' | 'closed';

export interface PlayRequest {
  channelId: string;
  stream?: StreamType;
  transport?: MediaTransport;
  /** Force H.265 → H.264 for this request (e.g. a browser without HEVC). */
  transcode?: boolean;
  /**
   * When the play answers: `playable` (default) once the HLS has its first segment, which a browser needs;
   * `keyframe` as soon as the source's first key frame is in the Stream. A reader that takes access units itself
   * (the cascade's upward RTP/PS sender) starts from the GOP the Stream holds and needs no segment: waiting
   * for one cost the upper platform a whole GOP before our 200 OK, and INVITE timeouts under load.
   */
  until?: 'playable' | 'keyframe';
  /**
   * This viewer listens (an unmuted tile): its HLS must carry the audio as AAC. A G.711 camera's stream is
   * served video-only while nobody listens; a listener gets the stream's shared AAC rendition (docs/media-core.md).
   */
  listen?: boolean;
}

export interface PlaybackRequest {
  channelId: string;
  /** Epoch ms, whole seconds (playback.ts validateSpan). */
  span: HistorySpan;
  transport?: MediaTransport;
  transcode?: boolean;
}

export interface DownloadRequest {
  channelId: string;
  span: HistorySpan;
  /** a=downloadspeed. */
  speed: number;
  transport?: MediaTransport;
  /** Aborts the download (the HTTP client went away): BYE, file removed. */
  signal?: AbortSignal;
}

export interface DownloadResult {
  streamId: string;
  file: string;
  bytes: number;
  /** Seconds of recording received (from the media timestamps). */
  durationSec: number;
  endReason: string;
}

/** A playback's or download's place in the recording. */
export interface HistoryView {
  /** ISO instants of the requested span. */
  start: string;
  end: string;
  paused: boolean;
  scale: number;
  /** Download speed asked for (downloads only). */
  downloadSpeed: number | null;
  /** Seconds from the span's start of the latest frame (null before the first). */
  positionSec: number | null;
  /** The latest frame's recording time (ISO), null before the first. */
  position: string | null;
  /** Downloads: share of the span received (0–100), and bytes written to the MP4 file. */
  percent: number;
  bytes: number;
}

export interface StreamView {
  streamId: string;
  /** live, playback or download. */
  kind: StreamKind;
  /** Why the stream ended (closed/failed): "end-of-file" when a device's playback or download reached the span's end. */
  endReason: string | null;
  /** Playback / download: the span, position, pause and speed; null for live streams. */
  history: HistoryView | null;
  channelId: string;
  deviceId: string;
  stream: StreamType;
  transport: MediaTransport;
  state: StreamState;
  /** Signed HLS playlist URL (path; relative to the gateway's HTTP origin). */
  hls: string;
  /** Signed live fMP4 WebSocket URL (path) for Media Source Extensions: the lowest-latency path. */
  ws: string;
  viewerId: string;
  codec: string | null;
  sourceCodec: VideoCodec | null;
  /** The camera's audio codec (aac, g711a, g711u), null without audio. */
  audio: string | null;
  /** The audio the returned `hls` carries for this viewer: 'aac', or null (no audio, or G.711 left out for a muted viewer). */
  hlsAudio: 'aac' | null;
  /** This viewer asked to listen (`listen: true`). */
  listening: boolean;
  /** Viewers that listen (polling or with a socket open). */
  listeners: number;
  /** The shared AAC rendition (ffmpeg: video copy + G.711 → AAC) runs for this stream's listeners. */
  audioRendition: boolean;
  /** The shared H.264 rendition (ffmpeg: H.265 → H.264) runs for viewers without HEVC. */
  h264Rendition: boolean;
  width: number | null;
  height: number | null;
  ssrc: string;
  localPort: number;
  viewers: number;
  startedAt: number;
  timeToFirstFrameMs: number | null;
  uptimeSec: number;
  bitrateKbps: number;
  fps: number;
  packets: number;
  packetsLost: number;
  packetLoss: number;
  reordered: number;
  foreignSsrcDropped: number;
  /** Video access units the stream received (since it started). */
  frames: number;
  /** Media payload bytes the stream received. */
  bytes: number;
  /** Units dropped before reaching the readers (broken PS, waiting for a keyframe, bad parameter sets …). */
  droppedFrames: number;
  /** Timeline restarts (camera restart, new SSRC, timestamp jump, codec or resolution change). */
  epoch: number;
  /** The stream's readers (ffmpeg packager, LL-HLS, live fMP4 …) with what they got and how far behind they are. */
  readers: ReaderStats[];
  /** Media bytes the stream holds in memory now: its GOP cache and its LL-HLS window (parts, init segments). */
  heldBytes: number;
  lastError: string | null;
}

/** The device-facing facts the service needs; provided by the composition root. */
export interface StreamTarget {
  channelId: string;
  deviceId: string;
  deviceOnline: boolean;
  destination: TransportSource;
  /** From the device profile. */
  defaultTransport: MediaTransport;
  substream: { attribute: 'streamnumber' | 'streamprofile' | 'stream' | 'streamMode'; main: string; sub: string };
  allowZeroSsrc: boolean;
  transcodeH265: boolean;
  /**
   * Devices that are not GB28181 (ONVIF, RTSP, RTMP): their driver opens the source itself — no INVITE, no
   * RTP port, no SSRC. Throws an Error whose message says what failed (the play answers step `source`).
   */
  openSource?: (stream: StreamType) => Promise<StreamSource>;
  /** What to check when such a device is offline (the GB hint talks about registration and keepalives). */
  offlineHint?: string;
}

export interface StreamPorts {
  resolve(channelId: string): Promise<StreamTarget | null>;
  invite(target: StreamTarget, sdpOffer: string, subject: string, timeoutMs: number): Promise<InviteDialog>;
  bye(dialog: InviteDialog): Promise<void>;
  /** In-dialog INFO (MANSRTSP playback control); absent: playback control answers 501-like errors. */
  info?(dialog: InviteDialog, body: string, contentType: string): Promise<{ status: number; reason: string; body: string }>;
}

export interface StreamServiceOptions {
  sipId: string;
  domain: string;
  mediaHost: string;
  /** Address the RTP sockets bind to. */
  bindHost: string;
  portRange: [number, number];
  mediaDir: string;
  defaultTransport: 'profile' | MediaTransport;
  idleSec: number;
  inviteTimeoutSec: number;
  firstPacketTimeoutSec: number;
  keyframeTimeoutSec: number;
  rtpTimeoutSec: number;
  transcodeH265: boolean;
  segmentSeconds: number;
  /** LL-HLS window, seconds; 0 or absent = the reader's default (8 segments). */
  llhlsWindowSec?: number;
  /** Seconds without an LL-HLS request after which a stream keeps only its newest segment; 0 = never (reader default 10). */
  llhlsIdleWindowSec?: number;
  tokenTtlSec: number;
  maxStreams: number;
  /** Mux H.264/H.265/AAC to LL-HLS in process (default true); false keeps every stream on ffmpeg. */
  inProcessMuxer?: boolean;
}

export interface StreamEvents {
  'stream-status': [StreamView];
  'stream-failed': [{ streamId: string; channelId: string; step: string; message: string; hint: string }];
}

const STATS_PUBLISH_MS = 5000;
/** Ended playbacks/downloads kept for GET /api/streams/:id (their endReason), at most this many. */
const ENDED_KEPT = 200;
/** Rendition viewer ids a stream remembers per rendition (released ones included), oldest forgotten first. */
const RENDITION_VIEWERS_KEPT = 1000;

/**
 * The ffmpeg renditions a stream can run beside its own HLS, each shared by the viewers that need it:
 * `h264` (H.265 → H.264 for browsers without HEVC; it carries the audio as AAC too) and `aac` (video copied,
 * G.711 → AAC, for listeners of a stream whose in-process LL-HLS leaves G.711 out).
 */
type RenditionKind = 'h264' | 'aac';

interface Viewer {
  id: string;
  lastSeen: number;
  released: boolean;
  /** Who opened it (media-grants.ts); null for static API tokens and the gateway's own snapshots. */
  grant: string | null;
  /** Live fMP4 sockets open for this viewer: an open socket keeps the viewer alive without playlist polls. */
  liveSockets: number;
  /** Closes this viewer's open live fMP4 sockets (a revoked grant ends them at once). */
  liveClosers: Set<(reason: string) => void>;
  /**
   * This viewer's HLS is one of the stream's renditions: `h264` (it asked for transcode and the stream's HLS
   * is H.265) or `aac` (it listens and the stream's HLS left G.711 out); null: the stream's own HLS.
   */
  rendition: RenditionKind | null;
  /** It asked to listen. */
  listening: boolean;
}

/**
 * A rendition of a stream (a second reader, the ffmpeg transcoder, writing HLS into a directory of its own) for
 * the viewers that need it, started on the first such viewer and stopped when the last leaves: the H.264
 * rendition of a stream whose own HLS carries H.265, or the AAC rendition of a G.711 camera's stream.
 */
interface Rendition {
  /** Null until its directory exists. */
  output: HlsOutput | null;
  readerId: string;
  /** Its first segment is out (the idle sweep leaves a rendition that is still starting alone). */
  started: boolean;
  /** Settles once the transcoder wrote its first segment (rejects with the PlayError the join answers). */
  ready: Promise<void>;
}

/** The service's record of one live stream; the media itself lives in `core` (a media-core Stream). */
class LiveStream {
  readonly id = randomUUID();
  state: StreamState = 'starting';
  /** Set once the source is open; owns source, readers, output, dialog and SSRC from then on. */
  core: Stream | null = null;
  /** The GB source (RTP receiver, port) when the stream came by INVITE; null for driver-opened sources. */
  source: GbPsSource | null = null;
  /** Any source (GB or a driver's): the sweep reads its last unit time. */
  anySource: StreamSource | null = null;
  output: HlsOutput | null = null;
  /** The in-process LL-HLS muxer, when the codecs need no change; else ffmpeg writes into `output`. */
  llhls: LlhlsReader | null = null;
  /** The renditions running while viewers that need them are there (docs/media-core.md). */
  readonly renditions: Record<RenditionKind, Rendition | null> = { h264: null, aac: null };
  /**
   * Viewer ids (also released ones, most recent RENDITION_VIEWERS_KEPT) whose HLS is a rendition: a released
   * or idle viewer's token must never fall back to the stream's own playlist (H.265 its browser cannot decode,
   * or a listener's picture that would lose its sound); once the rendition is gone it gets 404 and plays again.
   */
  readonly renditionViewers: Record<RenditionKind, Set<string>> = { h264: new Set(), aac: new Set() };
  /** The core Stream removes a rendition's directory when it closes (registered once per kind). */
  readonly renditionOwned = new Set<RenditionKind>();
  /** Renditions started so far (names their directories). */
  renditionStarts = 0;
  dialog: InviteDialog | null = null;
  viewers = new Map<string, Viewer>();
  lastError: string | null = null;
  codec: string | null = null;
  sourceCodec: VideoCodec | null = null;
  audio: AudioCodec | null = null;
  width: number | null = null;
  height: number | null = null;
  startedAt = Date.now();
  playingAt: number | null = null;
  timeToFirstFrameMs: number | null = null;
  lastActivity = Date.now();
  /** fps / bitrate over the last sweep interval, from the core's counters. */
  rate = { at: Date.now(), frames: 0, bytes: 0, fps: 0, kbps: 0 };
  ready: Promise<void> | null = null;
  /** Settles once the source's first key frame is in the Stream (never rejects: `ready` carries failures). */
  readonly sourceLive: Promise<void>;
  markSourceLive: () => void = () => undefined;
  endReason: string | null = null;
  /** Playback / download state (null for live). */
  history: {
    span: HistorySpan;
    downloadSpeed: number | null;
    paused: boolean;
    /** When the last resume (or seek/speed, which also restart sending) was answered: RTP silence counts from there. */
    resumedAt: number;
    scale: number;
    cseq: number;
    clock: PlaybackClock;
    file: Mp4FileReader | null;
  } | null = null;
  /**
   * A playback or download relayed to an upper platform (cascade): no HLS output, no file; the upward RTP/PS
   * sender the leg attaches is its only reader besides the position clock.
   */
  relay = false;
  /** Settles once the stream is torn down (downloads wait for it). */
  readonly ended: Promise<void>;
  markEnded: () => void = () => undefined;

  constructor(
    readonly key: string,
    readonly target: StreamTarget,
    readonly stream: StreamType,
    readonly transport: MediaTransport,
    readonly ssrc: string,
    readonly kind: StreamKind = 'live',
  ) {
    this.ended = new Promise<void>((resolve) => (this.markEnded = resolve));
    this.sourceLive = new Promise<void>((resolve) => (this.markSourceLive = resolve));
  }

  get port(): number {
    return this.source?.localPort ?? 0;
  }
}

export class StreamService extends EventEmitter<StreamEvents> {
  private readonly sessions = new Map<string, LiveStream>();
  private readonly byId = new Map<string, LiveStream>();
  private readonly ports: PortPool;
  private readonly ssrcs: SsrcAllocator;
  readonly tokens: MediaTokens;
  readonly grants = new MediaGrants();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;
  private lastPublish = 0;
  /** Final views of ended playbacks and downloads: the API still answers with their endReason. */
  private readonly endedViews = new Map<string, StreamView>();

  constructor(
    private readonly deps: StreamPorts,
    private readonly opts: StreamServiceOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.ports = new PortPool(opts.portRange[0], opts.portRange[1]);
    this.ssrcs = new SsrcAllocator(opts.sipId);
    this.tokens = new MediaTokens(opts.tokenTtlSec);
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  get active(): number {
    return this.byId.size;
  }

  list(): StreamView[] {
    return [...this.byId.values()].map((s) => this.view(s, ''));
  }

  get(streamId: string): StreamView | null {
    const s = this.byId.get(streamId);
    return s ? this.view(s, '') : (this.endedViews.get(streamId) ?? null);
  }

  /** Directory of a stream's HLS files, for the media route (null when unknown). */
  mediaDirOf(streamId: string, viewerId?: string): string | null {
    const s = this.byId.get(streamId);
    const kind = s && viewerId !== undefined ? renditionOfViewer(s, viewerId) : null;
    if (kind) return s?.renditions[kind]?.output?.dir ?? null;
    return s?.output?.dir ?? null;
  }

  /** The LL-HLS reader serving a stream muxed in process (null: ffmpeg packages it into mediaDirOf). */
  llhlsOf(streamId: string, viewerId?: string): LlhlsReader | null {
    const s = this.byId.get(streamId);
    // A rendition viewer reads ffmpeg's directory, not the in-process LL-HLS (H.265, or without the G.711 audio).
    if (s && viewerId !== undefined && renditionOfViewer(s, viewerId)) return null;
    return s?.llhls ?? null;
  }

  /**
   * A viewer's live fMP4 WebSocket (the MSE path): a reader on the stream that sends init + a fragment per
   * frame from the next keyframe on; it skips a slow socket to the next keyframe or cuts it (fmp4-live).
   * Null when the stream or viewer is gone. `detach` when the socket closes.
   */
  attachLive(streamId: string, viewerId: string, sink: Fmp4LiveSink): { detach: () => void } | null {
    const s = this.byId.get(streamId);
    const viewer = s?.viewers.get(viewerId);
    if (!s?.core || s.core.closed || !viewer || viewer.released) return null;
    const core = s.core;
    const id = core.addReader(new Fmp4LiveReader(sink));
    viewer.liveSockets++;
    const closeSocket = (reason: string): void => sink.close(reason);
    viewer.liveClosers.add(closeSocket);
    viewer.lastSeen = Date.now();
    s.lastActivity = viewer.lastSeen;
    let attached = true;
    return {
      detach: () => {
        if (!attached) return;
        attached = false;
        viewer.liveSockets--;
        viewer.liveClosers.delete(closeSocket);
        viewer.lastSeen = Date.now();
        s.lastActivity = viewer.lastSeen;
        void core.removeReader(id, 'the viewer closed the socket');
      },
    };
  }

  /**
   * Another reader on a viewer's stream (the upward RTP/PS sender of a cascade leg): it lives as long as the
   * viewer; `detach` removes it. Null when the stream or viewer is gone. The viewer is kept alive by the
   * reader itself (no playlist polls come from an upper platform).
   */
  attachReader(streamId: string, viewerId: string, reader: StreamReader): { detach: () => void } | null {
    const s = this.byId.get(streamId);
    const viewer = s?.viewers.get(viewerId);
    if (!s?.core || s.core.closed || !viewer || viewer.released) return null;
    const core = s.core;
    const id = core.addReader(reader);
    // Counts as a live socket: the idle sweep never releases a viewer with one open.
    viewer.liveSockets++;
    let attached = true;
    return {
      detach: () => {
        if (!attached) return;
        attached = false;
        viewer.liveSockets--;
        viewer.lastSeen = Date.now();
        void core.removeReader(id, 'the upward leg ended');
      },
    };
  }

  /** A playlist poll: the viewer is still there. */
  touch(streamId: string, viewerId: string): boolean {
    const s = this.byId.get(streamId);
    if (!s) return false;
    const v = s.viewers.get(viewerId);
    if (!v || v.released) return false;
    v.lastSeen = Date.now();
    s.lastActivity = v.lastSeen;
    return true;
  }

  /**
   * Open (or share) a stream for one more viewer. `grant` names who asked (media-grants.ts) so that
   * revoking it later releases this viewer and refuses its media token at once.
   */
  async play(req: PlayRequest, grant: string | null = null): Promise<StreamView> {
    const target = await this.playableTarget(req.channelId);
    const stream = req.stream ?? 'main';
    const transport = this.transportFor(target, req.transport);
    const key = `${req.channelId}|${stream}`;
    let session = this.sessions.get(key);
    if (!session || session.state === 'failed' || session.state === 'closed') {
      session = this.start(key, target, stream, transport, req.transcode === true);
    }
    return this.join(session, grant, req.transcode === true, req.until ?? 'playable', req.listen === true);
  }

  /**
   * Device playback (s=Playback) of a span: a stream of its own, never shared with live view or another
   * playback (each operator seeks and pauses their own; docs/playback.md), with the same viewers, URLs and
   * readers as a live stream.
   */
  async playback(req: PlaybackRequest, grant: string | null = null): Promise<StreamView> {
    const target = await this.historyTarget(req.channelId);
    const session = this.start(`playback|${randomUUID()}`, target, 'main', this.transportFor(target, req.transport), req.transcode === true, 'playback', { span: req.span, downloadSpeed: null });
    return this.join(session, grant);
  }

  /**
   * A playback or download for an upper platform (cascade, docs/cascade.md): like `playback`/`download` its own
   * device session (never shared with a live view or another playback), but without HLS or a file: the caller
   * attaches its reader (the upward RTP/PS sender) with `attachReader` to the returned viewer. Answers once the
   * first keyframe arrived (the Stream hands a reader that joins then the GOP from that keyframe, so nothing is
   * lost). Controlled with `control` like a local playback; MediaStatus 121 closes it with endReason `end-of-file`.
   */
  async relayHistory(req: { channelId: string; span: HistorySpan; kind: 'playback' | 'download'; downloadSpeed: number | null }, grant: string | null = null): Promise<StreamView> {
    const target = await this.historyTarget(req.channelId);
    const s = this.start(`${req.kind}-relay|${randomUUID()}`, target, 'main', this.transportFor(target, undefined), false, req.kind, { span: req.span, downloadSpeed: req.kind === 'download' ? req.downloadSpeed : null }, true);
    return this.join(s, grant);
  }

  /** The device's SDP answer of a stream's INVITE (null: none, or the stream is gone). */
  deviceAnswerOf(streamId: string): string | null {
    return this.byId.get(streamId)?.dialog?.answerSdp ?? null;
  }

  /** RTP ports held by open streams (a leak shows here). */
  get portsInUse(): number {
    return this.ports.used;
  }

  /**
   * Device download (s=Download, a=downloadspeed) of a span into an MP4 file; resolves once the device said
   * the span is complete (MediaStatus 121, or its BYE) with the file, which the caller removes when done.
   * Progress goes out as `stream-status` events (history.percent, history.bytes) every second.
   */
  async download(req: DownloadRequest): Promise<DownloadResult> {
    const target = await this.historyTarget(req.channelId);
    const s = this.start(`download|${randomUUID()}`, target, 'main', this.transportFor(target, req.transport), false, 'download', { span: req.span, downloadSpeed: req.speed });
    const abort = (): void => void this.stop(s, 'cancelled: the client went away');
    req.signal?.addEventListener('abort', abort, { once: true });
    try {
      await s.ready;
      await s.ended;
    } catch (err) {
      // The failed stream is being torn down: remove the file once its writer has let go of it.
      await s.ended;
      await this.removeDownloadFile(s);
      throw err;
    } finally {
      req.signal?.removeEventListener('abort', abort);
    }
    const file = s.history?.file;
    const complete = s.endReason === 'end-of-file' || s.endReason === 'device-bye';
    if (!file || !complete || file.error !== null || file.stats.bytes === 0) {
      await this.removeDownloadFile(s);
      const why = file?.error ?? s.lastError ?? s.endReason ?? 'unknown';
      throw new UpstreamError(`the download did not complete: ${why}`, { code: 'download.incomplete', params: { reason: why.slice(0, 200) } });
    }
    return { streamId: s.id, file: file.path, bytes: file.stats.bytes, durationSec: s.history!.clock.furthestSec, endReason: s.endReason! };
  }

  /**
   * Pause / resume / seek / speed of a playback: MANSRTSP in an INFO inside the playback's dialog
   * (playback.ts). 404 unknown stream, 409 a live stream or one not playing, 400 a bad value, 502 the device
   * refused or answered something unreadable.
   */
  async control(streamId: string, req: ControlRequest): Promise<{ streamId: string; action: string; mansrtsp: string; device: MansrtspResponse | null; history: HistoryView }> {
    const s = this.byId.get(streamId);
    if (!s) throw new NotFoundError(`stream ${streamId} not found`);
    const h = s.history;
    if (s.kind !== 'playback' || !h) throw notPlayback(s.kind);
    const dialog = s.dialog;
    if (s.state !== 'playing' || !dialog) throw new ConflictError(`the playback is ${s.state}; it can be controlled while it plays`);
    const info = this.deps.info;
    if (!info) throw new UpstreamError('playback control is not wired in this gateway');
    const { request, offsetSec, scale } = controlRequest(req, h.span, h.cseq + 1);
    h.cseq++;
    const device = await exchangeControl({ send: (body, contentType) => info(dialog, body, contentType) }, request);
    const now = Date.now();
    if (req.action === 'pause') {
      h.paused = true;
    } else {
      // Every PLAY (resume, seek, speed) sets the device sending again.
      h.paused = false;
      h.resumedAt = now;
    }
    if (offsetSec !== undefined) h.clock.seekTo(device?.range && typeof device.range.start === 'number' ? device.range.start : offsetSec);
    if (scale !== undefined) h.scale = scale;
    s.lastActivity = now;
    this.logger.info({ streamId, channelId: s.target.channelId, action: req.action, value: req.value }, 'playback control');
    const view = this.view(s, '');
    this.emit('stream-status', view);
    return { streamId, action: req.action, mansrtsp: `${request.method} ${request.range ? `Range: npt=${request.range.start}-` : request.scale !== undefined ? `Scale: ${request.scale}` : ''}`.trim(), device, history: view.history! };
  }

  /** The device's MediaStatus 121 in a dialog: that playback/download reached the end of its span. */
  endOfFile(callId: string): boolean {
    for (const s of this.byId.values()) {
      if (s.dialog?.callId !== callId) continue;
      if (!s.history) {
        this.logger.warn({ streamId: s.id, channelId: s.target.channelId }, 'MediaStatus end-of-file for a live stream ignored');
        return false;
      }
      void this.stop(s, 'end-of-file');
      return true;
    }
    return false;
  }

  private async removeDownloadFile(s: LiveStream): Promise<void> {
    const path = s.history?.file?.path;
    if (path) await rm(path, { force: true }).catch(() => undefined);
  }

  /** The channel's device, known and online; else the play error every kind of stream answers with. */
  private async playableTarget(channelId: string): Promise<StreamTarget> {
    if (this.closed) throw new PlayError('resources', 'gateway is shutting down', 'retry in a moment');
    const target = await this.deps.resolve(channelId);
    if (!target) throw new PlayError('channel', `channel ${channelId} not found`, 're-query the catalog of its device, or check the channel ID');
    if (!target.deviceOnline) {
      throw new PlayError('device', `device ${target.deviceId} of channel ${channelId} is offline`, target.offlineHint ?? 'check the device registration and keepalive (GET /api/devices/:id, /api/events)');
    }
    return target;
  }

  private async historyTarget(channelId: string): Promise<StreamTarget> {
    const target = await this.playableTarget(channelId);
    if (target.openSource) {
      throw new ConflictError(`channel ${channelId} is not a GB28181 channel: recordings are played back from GB28181 devices (RecordInfo / Playback)`);
    }
    return target;
  }

  private transportFor(target: StreamTarget, asked: MediaTransport | undefined): MediaTransport {
    return asked ?? (this.opts.defaultTransport === 'profile' ? target.defaultTransport : this.opts.defaultTransport);
  }

  /** One more viewer of a stream; answers once the stream plays (or with the step that failed). */
  private async join(session: LiveStream, grant: string | null, wantsH264 = false, until: 'playable' | 'keyframe' = 'playable', listen = false): Promise<StreamView> {
    const viewer: Viewer = { id: randomUUID(), lastSeen: Date.now(), released: false, grant, liveSockets: 0, liveClosers: new Set(), rendition: null, listening: listen };
    // A little past the token's expiry: a token signed later in this play (view()) expires no later than that.
    if (grant !== null) this.grants.issue(viewer.id, grant, Date.now() + (this.opts.tokenTtlSec + 60) * 1000);
    session.viewers.set(viewer.id, viewer);
    session.lastActivity = viewer.lastSeen;
    try {
      // `ready` also rejects when the stream fails before its first key frame, so the race never hangs.
      await (until === 'keyframe' ? Promise.race([session.ready, session.sourceLive]) : session.ready);
    } catch (err) {
      session.viewers.delete(viewer.id);
      throw err;
    }
    // Its idle clock starts when it gets its URL: a slow start (a loaded machine, a transcoder warming up) must
    // not count against it.
    viewer.lastSeen = Date.now();
    const kind = renditionFor(session, wantsH264, listen);
    if (kind) {
      // Marked before the wait: the sweep counts it as a rendition viewer while the transcoder starts.
      viewer.rendition = kind;
      const ids = session.renditionViewers[kind];
      ids.add(viewer.id);
      if (ids.size > RENDITION_VIEWERS_KEPT) ids.delete(ids.values().next().value as string);
      try {
        await this.ensureRendition(session, kind);
      } catch (err) {
        session.viewers.delete(viewer.id);
        await this.stopRenditionIfUnused(session, kind, 'its viewer could not start');
        throw err;
      }
      viewer.lastSeen = Date.now();
    }
    return this.view(session, viewer.id);
  }

  /** DELETE /api/streams/:id — release one viewer (or, without viewerId, stop the stream for everyone). */
  async release(streamId: string, viewerId?: string): Promise<{ viewers: number } | null> {
    const s = this.byId.get(streamId);
    if (!s) return null;
    if (viewerId) {
      const v = s.viewers.get(viewerId);
      if (v) v.released = true;
      s.viewers.delete(viewerId);
      if (v?.rendition) await this.stopRenditionIfUnused(s, v.rendition, 'its last viewer left');
      // A relayed playback/download belongs to its one upward leg: the device session ends with it (no idle wait).
      if (s.relay && s.viewers.size === 0) await this.stop(s, 'the upward leg ended');
    } else {
      s.viewers.clear();
      await this.stop(s, 'stopped by an operator');
    }
    return { viewers: this.liveViewers(s) };
  }

  /**
   * The right behind `grant` ended (a consultation ended, a point was removed, a user signed out): release
   * its viewers, refuse their media tokens from now on and close the media WebSockets opened with it.
   * `session:<id>:` revokes every participant of a session. Returns how many viewers were released.
   */
  revoke(grant: string): number {
    let released = 0;
    for (const s of this.byId.values()) {
      for (const v of [...s.viewers.values()]) {
        if (v.grant === null || !grantMatches(v.grant, grant)) continue;
        v.released = true;
        s.viewers.delete(v.id);
        for (const close of [...v.liveClosers]) close('media access revoked');
        released++;
      }
    }
    this.grants.revoke(grant);
    if (released > 0) this.logger.info({ grant, viewers: released }, 'media access revoked');
    return released;
  }

  /** A recent JPEG of a channel: from its running stream, or from a short pull of the sub-stream. */
  async snapshot(channelId: string, outFile: string): Promise<void> {
    const running = this.sessions.get(`${channelId}|main`) ?? this.sessions.get(`${channelId}|sub`);
    if (running && running.state === 'playing' && running.core) {
      await snapshotOfStream(running.core, outFile);
      return;
    }
    const view = await this.play({ channelId, stream: 'sub' });
    try {
      const core = this.byId.get(view.streamId)?.core;
      if (!core || core.closed) throw new PlayError('packager', 'stream vanished before the snapshot', 'retry');
      await snapshotOfStream(core, outFile);
    } finally {
      await this.release(view.streamId, view.viewerId);
    }
  }

  /** The device ended the dialog (BYE). */
  remoteBye(dialog: InviteDialog): void {
    for (const s of [...this.byId.values()]) {
      if (s.dialog?.callId === dialog.callId) {
        s.dialog = null;
        // A playback or download the device ends has (for many devices) simply reached the span's end.
        if (s.history && s.state === 'playing') void this.stop(s, 'device-bye');
        else this.fail(s, 'rtp', 'the device ended the stream (BYE)', 'the camera or its NVR closed the session; it may have restarted or reached its stream limit');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    await Promise.all([...this.byId.values()].map((s) => this.stop(s, 'gateway shutting down')));
  }

  // ------------------------------------------------------------------ lifecycle

  private start(
    key: string,
    target: StreamTarget,
    stream: StreamType,
    transport: MediaTransport,
    transcode: boolean,
    kind: StreamKind = 'live',
    history: { span: HistorySpan; downloadSpeed: number | null } | null = null,
    relay = false,
  ): LiveStream {
    if (this.byId.size >= this.opts.maxStreams) {
      throw new PlayError('resources', `stream limit reached (${this.opts.maxStreams})`, 'raise media.maxStreams or close unused streams');
    }
    let ssrc: string;
    try {
      // GB y= rule: first digit 1 for history (playback, download), 0 for live.
      ssrc = this.ssrcs.allocate(kind === 'live' ? 'live' : 'history');
    } catch (err) {
      throw new PlayError('resources', (err as Error).message, 'close unused streams');
    }
    const session = new LiveStream(key, target, stream, transport, ssrc, kind);
    session.relay = relay;
    if (history) {
      session.history = { ...history, paused: false, resumedAt: 0, scale: 1, cseq: 0, clock: new PlaybackClock(), file: null };
    }
    this.sessions.set(key, session);
    this.byId.set(session.id, session);
    session.ready = this.run(session, transcode || target.transcodeH265 || this.opts.transcodeH265).catch(async (err: unknown) => {
      const pe = err instanceof PlayError ? err : new PlayError('packager', (err as Error).message, 'see the gateway log');
      this.fail(session, pe.step, pe.message, pe.hint);
      throw pe;
    });
    // Callers await `ready`; an unobserved rejection must not crash the process.
    session.ready.catch(() => undefined);
    return session;
  }

  private async run(s: LiveStream, transcodeH265: boolean): Promise<void> {
    const t0 = Date.now();
    const log = this.logger.child({ channelId: s.target.channelId, deviceId: s.target.deviceId, streamId: s.id, stream: s.stream, transport: s.transport });
    if (s.target.openSource) return this.runDriverSource(s, s.target.openSource, transcodeH265, t0, log);
    let source: GbPsSource;
    try {
      // The pool skips ports someone else holds; the port goes back to the pool when the source closes.
      source = await GbPsSource.open(this.ports, {
        transport: s.transport,
        host: this.opts.bindHost,
        expectedSsrc: parseSsrc(s.ssrc),
        allowZeroSsrc: s.target.allowZeroSsrc,
        logger: log,
      });
    } catch (err) {
      if (err instanceof PortPoolExhaustedError) {
        throw new PlayError('resources', `no free RTP port in ${this.opts.portRange.join('-')}`, 'widen media.ports (SE_MEDIA_PORTS) or close unused streams');
      }
      throw err;
    }
    // From here on the core Stream owns everything: closing it releases source and port, readers, output
    // directory, dialog and SSRC (the last owned first).
    const core = new Stream({ id: s.id, source, logger: log });
    s.source = source;
    s.anySource = source;
    s.core = core;
    core.own('ssrc', () => {
      this.ssrcs.release(s.ssrc);
    });
    if (s.state !== 'starting') {
      await core.close('stream was closed while starting');
      throw new PlayError('resources', 'stream was closed while starting', 'retry');
    }
    if (s.history) core.addReader(s.history.clock);
    const { firstKeyframe, firstSegment } = s.relay ? this.attachRelay(s, core) : s.kind === 'download' ? this.attachDownload(s, core) : await this.attachReaders(s, core, transcodeH265, log);

    const sub = s.stream === 'sub' ? s.target.substream.sub : s.target.substream.main;
    const offerBase = { sipId: this.opts.sipId, mediaHost: this.opts.mediaHost, port: s.port, transport: s.transport, ssrc: s.ssrc };
    const offer = s.history
      ? buildHistoryOffer({
          ...offerBase,
          mode: s.kind === 'download' ? 'Download' : 'Playback',
          channelId: s.target.channelId,
          // t= is Unix seconds (brief §4.2).
          start: s.history.span.start / 1000,
          end: s.history.span.end / 1000,
          ...(s.history.downloadSpeed !== null ? { downloadSpeed: s.history.downloadSpeed } : {}),
        })
      : buildPlayOffer({ ...offerBase, substream: { attribute: s.target.substream.attribute, value: sub } });
    const subject = `${s.target.channelId}:${s.ssrc},${this.opts.sipId}:0`;
    let dialog: InviteDialog;
    try {
      dialog = await this.deps.invite(s.target, offer, subject, this.opts.inviteTimeoutSec * 1000);
    } catch (err) {
      if (err instanceof InviteRefusedError) {
        throw new PlayError('invite', `INVITE refused by the device: ${err.status} ${err.reason}`, inviteRefusalHint(err.status), err.status);
      }
      if (err instanceof InviteTimeoutError) {
        throw new PlayError(
          'invite',
          `no answer to INVITE within ${this.opts.inviteTimeoutSec} s`,
          err.provisional
            ? 'the device accepted the request but never finished setting up the stream; it may be overloaded or a lower platform may be waiting for its camera'
            : `the device did not answer at ${s.target.destination.address}:${s.target.destination.port}/${s.target.destination.transport}; check it is still reachable (keepalives arriving?) and not behind a NAT that dropped the mapping`,
        );
      }
      throw new PlayError('invite', `INVITE failed: ${(err as Error).message}`, 'check the device address and the gateway log');
    }
    s.dialog = dialog;
    // The BYE goes out when the stream closes — at once if it already has (the dialog must not leak).
    core.own('dialog', async () => {
      if (s.dialog === dialog) {
        s.dialog = null;
        await this.deps.bye(dialog);
      }
    }, { beforeSource: true });
    if (this.closed || s.state !== 'starting') throw new PlayError('resources', 'stream was closed while starting', 'retry');

    // A 200 OK without SDP is tolerated (some devices/simulators): keep our offer's SSRC and transport.
    if (dialog.answerSdp) {
      try {
        const answer = parseSdp(dialog.answerSdp);
        if (s.transport === 'tcp-active') {
          const host = answer.connection || s.target.destination.address;
          await source.connectActive(host, answer.media.port);
        }
        if (answer.ssrc && answer.ssrc !== s.ssrc) {
          log.info({ offered: s.ssrc, answered: answer.ssrc }, 'device answered with another SSRC; not enforcing ours');
        }
      } catch (err) {
        if (s.transport === 'tcp-active') {
          throw new PlayError('answer', `cannot connect to the device's media port: ${(err as Error).message}`, 'tcp-active needs the device to listen on the port in its SDP answer; try tcp-passive or udp');
        }
        log.warn({ err: (err as Error).message }, 'unparseable SDP answer; keeping our offer');
      }
    } else if (s.transport === 'tcp-active') {
      throw new PlayError('answer', 'the device answered without SDP, so there is no port to connect to', 'tcp-active needs an SDP answer; use tcp-passive or udp for this device');
    }

    const reachHint =
      s.transport === 'udp'
        ? `check that ${this.opts.mediaHost}:${s.port}/udp (SE_MEDIA_HOST, media.ports) is reachable from the device — NAT, Docker or a firewall often block it — or try transport tcp-passive`
        : s.transport === 'tcp-passive'
          ? `the device should connect to ${this.opts.mediaHost}:${s.port}/tcp; check SE_MEDIA_HOST and the firewall, or try udp`
          : 'the connection to the device stayed silent; try tcp-passive or udp';
    await withTimeout(source.firstPacket, this.opts.firstPacketTimeoutSec * 1000, () => new PlayError('rtp', `no RTP within ${this.opts.firstPacketTimeoutSec} s after the device answered`, reachHint));
    await withTimeout(firstKeyframe, this.opts.keyframeTimeoutSec * 1000, () => {
      const st = source.stats();
      return new PlayError(
        'keyframe',
        `RTP arrives but no key frame with a stream map (PSM) within ${this.opts.keyframeTimeoutSec} s (${st.receiver.packets} packets, ${st.demuxer.packs} PS packs)`,
        st.demuxer.packs === 0
          ? 'the payload is not MPEG-PS: the device may send raw H.264/H.265 or a vendor format (check its GB28181 stream settings)'
          : 'the camera GOP may be very long; set its I-frame interval to 1–2 s',
      );
    });
    s.markSourceLive();
    await withTimeout(firstSegment, 15_000, () => new PlayError('packager', 'ffmpeg produced no HLS segment within 15 s', 'see the gateway log for ffmpeg output'));
    s.timeToFirstFrameMs = Date.now() - t0;
    s.playingAt = Date.now();
    s.state = 'playing';
    log.info({ ttffMs: s.timeToFirstFrameMs, codec: s.codec, width: s.width, height: s.height }, 'stream playing');
    this.emit('stream-status', this.view(s, ''));
  }

  /**
   * The output directory and the packager, chosen once the codecs are known: in process when the browser can
   * play them as they are, ffmpeg only where a codec must change (H.265 → H.264 on request, G.711 → AAC).
   */
  private async attachReaders(s: LiveStream, core: Stream, transcodeH265: boolean, log: Logger): Promise<{ firstKeyframe: Promise<void>; firstSegment: Promise<void> }> {
    const output = await HlsOutput.create(this.opts.mediaDir, s.id);
    s.output = output;
    core.own('output directory', () => output.remove().catch(() => undefined));

    let resolveKeyframe: () => void = () => undefined;
    const firstKeyframe = new Promise<void>((resolve) => (resolveKeyframe = resolve));
    let resolveSegment: () => void = () => undefined;
    let rejectSegment: (e: Error) => void = () => undefined;
    const firstSegment = new Promise<void>((resolve, reject) => {
      resolveSegment = resolve;
      rejectSegment = reject;
    });
    const onStarted = (video: VideoParameters, audio: AudioParameters | null, transcoding: boolean): void => {
      s.sourceCodec = video.codec;
      s.codec = transcoding ? 'h264' : video.codec;
      s.audio = audio?.codec ?? null;
      s.width = video.width;
      s.height = video.height;
      resolveKeyframe();
    };
    const startFfmpeg = (): void => {
      const packager = new FfmpegHlsReader({
        dir: output.dir,
        transcodeH265ToH264: transcodeH265,
        segmentSeconds: this.opts.segmentSeconds,
        listSize: 6,
        logger: log,
      });
      packager.on('started', ({ video, audio, transcoding }) => onStarted(video, audio, transcoding));
      packager.on('first-segment', () => resolveSegment());
      packager.on('exit', (info: HlsPackagerExit) => {
        if (info.expected) return;
        if (s.state === 'starting') rejectSegment(new PlayError('packager', `ffmpeg exited (${info.code}) before the first segment`, info.stderrTail.slice(-300)));
        else if (s.state === 'playing') this.fail(s, 'packager', `ffmpeg exited with code ${info.code}`, info.stderrTail.slice(-300));
      });
      packager.on('error', (err: Error) => log.warn({ err: err.message }, 'packager error'));
      core.addReader(packager);
    };
    const startLlhls = (video: VideoParameters, audio: AudioParameters | null): void => {
      const llhls = new LlhlsReader({
        segmentTargetSec: this.opts.segmentSeconds,
        maxSegmentSec: Math.max(2, this.opts.segmentSeconds * 2),
        ...(this.opts.llhlsWindowSec ? { windowSec: this.opts.llhlsWindowSec } : {}),
        ...(this.opts.llhlsIdleWindowSec !== undefined ? { idleWindowSec: this.opts.llhlsIdleWindowSec } : {}),
      });
      s.llhls = llhls;
      core.addReader(llhls);
      onStarted(video, audio, false);
      // Playable once the first segment is complete (plain HLS clients need one; hls.js starts on parts).
      const waitForSegment = (): void => {
        if (llhls.closed) return;
        llhls.playlist({ msn: 0 }, true).then(
          () => (llhls.stats().segments > 0 ? resolveSegment() : waitForSegment()),
          () => undefined,
        );
      };
      waitForSegment();
    };
    onceVideoParameters(core, (video, audio) => {
      // G.711 audio alone does not send the stream through ffmpeg: the in-process LL-HLS and live fMP4 leave
      // it out (tiles are muted), and a listener gets the AAC rendition (ensureRendition) while it listens.
      const mustTranscode = video.codec === 'h265' && transcodeH265;
      if (mustTranscode || this.opts.inProcessMuxer === false) startFfmpeg();
      else startLlhls(video, audio);
    });
    core.on('reader-closed', ({ kind, reason, cut }) => {
      if (cut) log.warn({ reader: kind, reason }, 'stream reader cut');
    });
    return { firstKeyframe, firstSegment };
  }

  /**
   * For a stream without HLS (relayed history, download): the codec and size as the source announces them; settles
   * with the first parameters that have video, which is where the caller's key-frame wait starts.
   */
  private recordParameters(s: LiveStream, core: Stream): Promise<void> {
    return new Promise<void>((resolve) => {
      onceVideoParameters(core, (video, audio) => {
        s.sourceCodec = video.codec;
        s.codec = video.codec;
        s.audio = audio?.codec ?? null;
        s.width = video.width;
        s.height = video.height;
        resolve();
      });
    });
  }

  /** A relayed playback/download: no reader of ours; playable at the first keyframe (its caller attaches the sender). */
  private attachRelay(s: LiveStream, core: Stream): { firstKeyframe: Promise<void>; firstSegment: Promise<void> } {
    return { firstKeyframe: this.recordParameters(s, core), firstSegment: Promise.resolve() };
  }

  /** A download's only reader: the MP4 file (no HLS output, nobody watches it). */
  private attachDownload(s: LiveStream, core: Stream): { firstKeyframe: Promise<void>; firstSegment: Promise<void> } {
    const file = new Mp4FileReader(join(this.opts.mediaDir, `${s.id}.mp4`));
    s.history!.file = file;
    core.addReader(file);
    return { firstKeyframe: this.recordParameters(s, core), firstSegment: Promise.resolve() };
  }

  /**
   * A stream whose source a protocol driver opens (ONVIF/RTSP pull, RTMP push): no INVITE, port or SSRC
   * handling; the same readers, the same "playable once the first segment is out" rule. When the source ends
   * on its own (the camera went away for good, the pusher stopped), the stream fails with that reason.
   */
  private async runDriverSource(s: LiveStream, open: (stream: StreamType) => Promise<StreamSource>, transcodeH265: boolean, t0: number, log: Logger): Promise<void> {
    let source: StreamSource;
    try {
      source = await open(s.stream);
    } catch (err) {
      throw new PlayError('source', `the device's stream could not be opened: ${(err as Error).message}`, 'check the device (GET /api/devices/:id: status and offlineReason), its stream URL and credentials (PATCH /api/devices/:id)');
    }
    const core = new Stream({ id: s.id, source, logger: log });
    s.anySource = source;
    s.core = core;
    // Driver sources hold no SSRC; the one allocated for the bookkeeping goes back with the stream.
    core.own('ssrc', () => {
      this.ssrcs.release(s.ssrc);
    });
    core.on('closed', ({ reason }) => {
      if (s.state === 'playing' || s.state === 'starting') this.fail(s, 'source', reason, 'the device stopped sending; it is re-opened at the next play');
    });
    if (this.closed || s.state !== 'starting') {
      await core.close('stream was closed while starting');
      throw new PlayError('resources', 'stream was closed while starting', 'retry');
    }
    const { firstKeyframe, firstSegment } = await this.attachReaders(s, core, transcodeH265, log);
    await withTimeout(firstKeyframe, (this.opts.firstPacketTimeoutSec + this.opts.keyframeTimeoutSec) * 1000, () => {
      const st = source.stats();
      return new PlayError(
        'keyframe',
        `no key frame within ${this.opts.firstPacketTimeoutSec + this.opts.keyframeTimeoutSec} s (${st.videoUnits} video units)`,
        st.videoUnits === 0 ? 'the device sends no video we can use (H.264 or H.265)' : 'the GOP may be very long; set the I-frame interval to 1–2 s',
      );
    });
    s.markSourceLive();
    await withTimeout(firstSegment, 15_000, () => new PlayError('packager', 'no HLS segment within 15 s', 'see the gateway log'));
    if (s.state !== 'starting') throw new PlayError('source', s.lastError ?? 'the stream ended while starting', 'retry');
    s.timeToFirstFrameMs = Date.now() - t0;
    s.playingAt = Date.now();
    s.state = 'playing';
    log.info({ ttffMs: s.timeToFirstFrameMs, codec: s.codec, width: s.width, height: s.height, source: source.kind }, 'stream playing');
    this.emit('stream-status', this.view(s, ''));
  }

  /** Stop every stream of these channels (their device was deleted or its address changed). */
  async stopChannels(channelIds: readonly string[], why: string): Promise<number> {
    const ids = new Set(channelIds);
    const doomed = [...this.byId.values()].filter((s) => ids.has(s.target.channelId));
    await Promise.all(doomed.map((s) => this.stop(s, why)));
    return doomed.length;
  }

  /** Viewers still there (polling or with a socket open), all or those matching `which`. */
  private liveViewers(s: LiveStream, which: (v: Viewer) => boolean = () => true): number {
    const cutoff = Date.now() - this.opts.idleSec * 1000;
    let n = 0;
    for (const v of s.viewers.values()) if (!v.released && which(v) && (v.liveSockets > 0 || v.lastSeen >= cutoff)) n++;
    return n;
  }

  /**
   * Starts a rendition of a stream (once; later viewers wait for the same start): ffmpeg reads the stream's
   * access units and writes HLS into a directory of its own, next to the stream's. `h264`: H.265 → H.264 (and
   * the audio as AAC); `aac`: the video copied, G.711 → AAC.
   */
  private ensureRendition(s: LiveStream, kind: RenditionKind): Promise<void> {
    const running = s.renditions[kind];
    if (running) return running.ready;
    const core = s.core;
    if (!core || core.closed) return Promise.reject(new PlayError('packager', `the stream ended before its ${RENDITION_NAME[kind]} started`, 'retry'));
    const name = RENDITION_NAME[kind];
    const log = this.logger.child({ streamId: s.id, channelId: s.target.channelId, rendition: kind });
    // A directory per start: a stopped rendition removes its own directory after its ffmpeg exits, which must
    // not be the directory of the next one, started meanwhile.
    const outputDir = HlsOutput.create(this.opts.mediaDir, `${s.id}-${kind}-${++s.renditionStarts}`);
    const rendition: Rendition = { output: null, readerId: '', started: false, ready: Promise.resolve() };
    rendition.ready = (async () => {
      const output = await outputDir;
      rendition.output = output;
      // The stream closing removes the running rendition's directory too (its reader is closed with the
      // stream's readers); owned once per stream and kind, not once per rendition started.
      if (!s.renditionOwned.has(kind)) {
        s.renditionOwned.add(kind);
        core.own(`${name} directory`, () => s.renditions[kind]?.output?.remove().catch(() => undefined));
      }
      if (s.renditions[kind] !== rendition || core.closed) throw new PlayError('packager', `the ${name} was stopped while starting`, 'retry');
      const reader = new FfmpegHlsReader({ dir: output.dir, transcodeH265ToH264: kind === 'h264', segmentSeconds: this.opts.segmentSeconds, listSize: 6, logger: log });
      const firstSegment = new Promise<void>((resolve, reject) => {
        reader.on('first-segment', () => resolve());
        reader.on('exit', (info: HlsPackagerExit) => {
          if (info.expected) return;
          reject(new PlayError('packager', `the ${name} transcoder exited (${info.code}) before its first segment`, info.stderrTail.slice(-300)));
          // Its viewers get 404s and play again, which starts a new one.
          log.warn({ code: info.code }, `${name} transcoder exited`);
          if (s.renditions[kind] === rendition) void this.stopRendition(s, kind, 'the transcoder exited');
        });
      });
      reader.on('error', (err: Error) => log.warn({ err: err.message }, `${name} error`));
      rendition.readerId = core.addReader(reader);
      log.info(`${name} started`);
      await withTimeout(firstSegment, 15_000, () => new PlayError('packager', `the ${name} transcoder produced no segment within 15 s`, 'see the gateway log for ffmpeg output'));
      rendition.started = true;
    })();
    s.renditions[kind] = rendition;
    return rendition.ready;
  }

  private async stopRenditionIfUnused(s: LiveStream, kind: RenditionKind, why: string): Promise<void> {
    if (s.renditions[kind] && this.liveViewers(s, (v) => v.rendition === kind) === 0) await this.stopRendition(s, kind, why);
  }

  private async stopRendition(s: LiveStream, kind: RenditionKind, why: string): Promise<void> {
    const r = s.renditions[kind];
    if (!r) return;
    s.renditions[kind] = null;
    // Viewers still marked for it (idle ones) now get 404s for their playlist and play again.
    await r.ready.catch(() => undefined);
    if (r.readerId && s.core) await s.core.removeReader(r.readerId, why);
    await r.output?.remove().catch(() => undefined);
    this.logger.info({ streamId: s.id, channelId: s.target.channelId, why }, `${RENDITION_NAME[kind]} stopped`);
  }

  private sweep(): void {
    const now = Date.now();
    this.grants.prune();
    // Every few seconds, playing streams' statistics go to listeners (WebSocket, metrics).
    const publish = now - this.lastPublish >= STATS_PUBLISH_MS;
    if (publish) this.lastPublish = now;
    for (const s of [...this.byId.values()]) {
      // fps / bitrate over the last interval
      const dt = (now - s.rate.at) / 1000;
      if (dt >= 1 && s.core) {
        const st = s.core.stats();
        s.rate.fps = Math.round(((st.videoUnits - s.rate.frames) / dt) * 10) / 10;
        s.rate.kbps = Math.round(((st.bytes - s.rate.bytes) * 8) / dt / 1000);
        s.rate.frames = st.videoUnits;
        s.rate.bytes = st.bytes;
        s.rate.at = now;
      }
      if (s.state === 'starting') continue;
      if (s.state === 'playing') {
        // A paused playback sends nothing by design; after a resume the silence counts from the resume.
        const received = (s.source ? s.source.receiver.stats.lastPacketAt : s.anySource?.stats().lastUnitAt) ?? s.playingAt ?? now;
        const last = s.history?.paused ? now : Math.max(received, s.history?.resumedAt ?? 0);
        if (now - last > this.opts.rtpTimeoutSec * 1000) {
          this.fail(s, 'rtp', `no RTP for ${this.opts.rtpTimeoutSec} s`, 'the camera stopped sending: check the device (GET /api/devices/:id), its network, or its stream limit');
          continue;
        }
        // A download has no viewers: it runs until the device says the span is complete.
        if (s.kind !== 'download' && this.liveViewers(s) === 0 && now - s.lastActivity > this.opts.idleSec * 1000) {
          void this.stop(s, 'no viewers');
          continue;
        }
        for (const kind of RENDITION_KINDS) {
          // A rendition still starting has viewers waiting for it (their join stops it if it fails).
          const r = s.renditions[kind];
          if (r?.started && this.liveViewers(s, (v) => v.rendition === kind) === 0) void this.stopRenditionIfUnused(s, kind, 'its viewers went idle');
        }
        // Downloads report progress every second.
        if (publish || s.kind === 'download') this.emit('stream-status', this.view(s, ''));
      }
    }
  }

  private fail(s: LiveStream, step: string, message: string, hint: string): void {
    if (s.state === 'failed' || s.state === 'closed') return;
    s.lastError = `${step}: ${message}`;
    this.logger.warn({ channelId: s.target.channelId, deviceId: s.target.deviceId, streamId: s.id, step, hint }, `stream failed: ${message}`);
    this.emit('stream-failed', { streamId: s.id, channelId: s.target.channelId, step, message, hint });
    void this.stop(s, message, 'failed');
  }

  private async stop(s: LiveStream, why: string, state: StreamState = 'closed'): Promise<void> {
    if (!this.byId.has(s.id)) return;
    s.state = state;
    s.endReason = why;
    this.byId.delete(s.id);
    if (this.sessions.get(s.key) === s) this.sessions.delete(s.key);
    try {
      if (s.core) await s.core.close(why);
      // Not started far enough to own anything but the SSRC (the port pool had no port, the source did not open).
      else this.ssrcs.release(s.ssrc);
    } finally {
      s.markEnded();
    }
    this.logger.info({ channelId: s.target.channelId, streamId: s.id, why, state }, 'stream torn down');
    const view = this.view(s, '');
    if (s.kind !== 'live') {
      this.endedViews.set(s.id, view);
      if (this.endedViews.size > ENDED_KEPT) this.endedViews.delete(this.endedViews.keys().next().value as string);
    }
    this.emit('stream-status', view);
  }

  private historyView(s: LiveStream): HistoryView {
    const h = s.history!;
    const spanSec = (h.span.end - h.span.start) / 1000;
    const position = h.clock.positionSec;
    const complete = s.endReason === 'end-of-file' || s.endReason === 'device-bye';
    return {
      start: iso(h.span.start),
      end: iso(h.span.end),
      paused: h.paused,
      scale: h.scale,
      downloadSpeed: h.downloadSpeed,
      positionSec: position,
      position: position === null ? null : iso(h.span.start + Math.round(position * 1000)),
      // The last GOP may end a little before the span's end: a completed download is 100.
      percent: complete && s.kind === 'download' ? 100 : Math.min(100, Math.round((h.clock.furthestSec / spanSec) * 1000) / 10),
      bytes: h.file?.stats.bytes ?? 0,
    };
  }

  private view(s: LiveStream, viewerId: string): StreamView {
    const st = s.source?.receiver.stats;
    const core = s.core?.stats();
    const sourceStats = s.source?.stats();
    const packets = st?.packets ?? 0;
    const lost = st?.lost ?? 0;
    const token = viewerId ? this.tokens.sign(s.id, viewerId) : '';
    const viewer = viewerId ? s.viewers.get(viewerId) : undefined;
    return {
      streamId: s.id,
      kind: s.kind,
      endReason: s.endReason,
      history: s.history ? this.historyView(s) : null,
      channelId: s.target.channelId,
      deviceId: s.target.deviceId,
      stream: s.stream,
      transport: s.transport,
      state: s.state,
      hls: token ? `/media/${token}/index.m3u8` : '',
      ws: token ? `/media/${token}/live` : '',
      viewerId,
      // The codec the returned `hls` carries for this viewer: the H.264 rendition's, or the stream's own.
      codec: viewer?.rendition === 'h264' ? 'h264' : s.codec,
      sourceCodec: s.sourceCodec,
      audio: s.audio,
      hlsAudio: hlsAudioOf(s, viewer?.rendition ?? null),
      listening: viewer?.listening ?? false,
      listeners: this.liveViewers(s, (v) => v.listening),
      audioRendition: s.renditions.aac !== null,
      h264Rendition: s.renditions.h264 !== null,
      width: s.width,
      height: s.height,
      ssrc: s.ssrc,
      localPort: s.port,
      viewers: this.liveViewers(s),
      startedAt: s.startedAt,
      timeToFirstFrameMs: s.timeToFirstFrameMs,
      uptimeSec: s.playingAt ? Math.round((Date.now() - s.playingAt) / 1000) : 0,
      bitrateKbps: s.rate.kbps,
      fps: s.rate.fps,
      packets,
      packetsLost: lost,
      packetLoss: packets + lost === 0 ? 0 : Math.round((lost / (packets + lost)) * 10_000) / 10_000,
      reordered: st?.reordered ?? 0,
      foreignSsrcDropped: st?.foreignSsrcDropped ?? 0,
      frames: core?.videoUnits ?? 0,
      bytes: core?.bytes ?? 0,
      droppedFrames: sourceStats?.droppedFrames ?? 0,
      epoch: core?.epoch ?? 0,
      readers: core?.readers ?? [],
      heldBytes: (core?.gopCacheBytes ?? 0) + (s.llhls && !s.llhls.closed ? s.llhls.stats().heldBytes : 0),
      lastError: s.lastError,
    };
  }
}

const RENDITION_KINDS: readonly RenditionKind[] = ['h264', 'aac'];
const RENDITION_NAME: Record<RenditionKind, string> = { h264: 'H.264 rendition', aac: 'AAC rendition' };

/** Which rendition a viewer's HLS is (checked against the remembered ids, so released viewers never fall back). */
function renditionOfViewer(s: LiveStream, viewerId: string): RenditionKind | null {
  for (const kind of RENDITION_KINDS) if (s.renditionViewers[kind].has(viewerId)) return kind;
  return null;
}

/**
 * The rendition a new viewer of a playing stream needs, or null for the stream's own HLS:
 * - needs H.264 and the stream's HLS is H.265: the H.264 rendition (which carries the audio as AAC, so a
 *   listener without HEVC needs nothing more: one transcoder, not two);
 * - listens, the camera sends G.711 and the stream's HLS is the in-process LL-HLS (which leaves G.711 out):
 *   the AAC rendition. A stream packaged by ffmpeg (transcoded, or `media.inProcessMuxer: false`) already
 *   carries AAC; AAC cameras pass through in process; a camera without audio has nothing to listen to.
 */
function renditionFor(s: LiveStream, wantsH264: boolean, listen: boolean): RenditionKind | null {
  if (wantsH264 && s.codec === 'h265') return 'h264';
  if (listen && s.llhls !== null && s.audio !== null && s.audio !== 'aac') return 'aac';
  return null;
}

/** The audio a viewer's HLS carries: renditions transcode it to AAC; the in-process LL-HLS carries AAC only. */
function hlsAudioOf(s: LiveStream, rendition: RenditionKind | null): 'aac' | null {
  if (s.audio === null) return null;
  if (rendition !== null || s.llhls === null) return 'aac';
  return s.audio === 'aac' ? 'aac' : null;
}

/**
 * Calls `fn` once, with the first parameters that have a video track: those already in force on the stream, or
 * the next ones. The readers are chosen after an await (the output directory is created first); a source that
 * is already receiving — an RTMP publisher, a play issued the moment the pusher connected — may have announced
 * its first keyframe's parameters in that gap, and listening for the event alone then missed them and the play
 * failed with "no key frame within 11 s" while units were arriving.
 */
function onceVideoParameters(core: Stream, fn: (video: VideoParameters, audio: AudioParameters | null) => void): void {
  const handle = (tracks: readonly TrackParameters[]): boolean => {
    const video = tracks.find((t): t is VideoParameters => t.kind === 'video');
    if (!video) return false;
    fn(video, tracks.find((t): t is AudioParameters => t.kind === 'audio') ?? null);
    return true;
  };
  if (handle(core.parameters)) return;
  const listener = (tracks: readonly TrackParameters[]): void => {
    if (handle(tracks)) core.off('parameters', listener);
  };
  core.on('parameters', listener);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

async function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
