/**
 * The RTSP source: an RTSP session (protocol/rtsp) → RTP depacketizing (codecs/rtp/payload) → access units on
 * the core's timeline. The parameter/epoch/timing rules are the GB source's (PsAccessUnitAssembler takes
 * elementary-stream frames from either), so a resolution or codec change, a camera restart or a timestamp jump
 * behave the same whatever the protocol.
 *
 * RTSP specifics:
 *  - Each track has its own random RTP timestamp base. Tracks are put on one clock by the arrival time of each
 *    track's first packet (an error of a few ms of network jitter; RTCP sender reports would make it exact and
 *    are the next step for lip sync).
 *  - Many cameras send SPS/PPS only in the SDP (sprop-parameter-sets): those are put in front of every keyframe
 *    that lacks them.
 *  - 32-bit RTP timestamps are unwrapped per track. RTP carries presentation times only; the decode times of
 *    video come from a reorder window sized by the SPS's reorder depth (codecs/rtp/payload/decode-time.ts), so
 *    B-frames keep their display order (PTS ≥ DTS, DTS increasing, the difference becomes the fMP4 composition
 *    offset). A stream without B-frames gets DTS = PTS.
 *  - After it played, a broken session is re-opened with a backoff (1 s doubling to 30 s) and a new epoch; each
 *    failure is reported as an `error` with its step and reason; after `giveUpAfterMs` of failures the source
 *    ends. The first open is not retried here: the caller sees its error (the play API names the step).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { adtsHeaderFor } from '../../../codecs/aac/adts.js';
import { AacDepacketizer, aacHbrParamsFromFmtp } from '../../../codecs/rtp/payload/audio.js';
import { DecodeTimeDeriver, declaredReorderDepth, type DecodeTimeStats } from '../../../codecs/rtp/payload/decode-time.js';
import { VideoDepacketizer, type DepacketizedPicture, type RtpVideoCodec } from '../../../codecs/rtp/payload/video.js';
import { spropParameterSets, type RtspMediaDescription } from '../../../codecs/rtsp/rtsp.js';
import type { EsFrame } from '../../../codecs/ps/ps-demuxer.js';
import type { RtpPacket } from '../../../codecs/rtp/rtp.js';
import { RtspClient, RtspError, type RtspClientOptions, type RtspTrack } from '../../../protocol/rtsp/rtsp-client.js';
import type { TrackParameters } from '../../core/access-unit.js';
import { PsAccessUnitAssembler, type AssemblerStats } from '../gb28181/ps-access-units.js';
import type { SourceStats, StreamSource, StreamSourceEvents } from '../source.js';

export interface RtspSourceOptions extends Omit<RtspClientOptions, 'select'> {
  logger?: Logger;
  /** Stop reconnecting after failing this long. Default 5 minutes. */
  giveUpAfterMs?: number;
  /** First reconnect delay; doubles up to 30 s. Default 1 000 ms. */
  retryBaseMs?: number;
}

interface TrackState {
  kind: 'video' | 'audio';
  media: RtspMediaDescription;
  clockRate: number;
  video?: VideoDepacketizer;
  /** Video: decode times from presentation times (B-frames). */
  decodeTimes?: DecodeTimeDeriver;
  /** Video: the SPS whose reorder depth is in force (compared by bytes, so a repeated SPS costs no parsing). */
  lastSps?: Uint8Array;
  aac?: AacDepacketizer;
  aacConfig?: Uint8Array;
  g711?: 'g711a' | 'g711u';
  /** Unwrapped RTP time of the last packet (track clock units). */
  last: number | null;
  /** 90 kHz offset that puts this track on the session clock. */
  offset90: number | null;
  paramSets: Uint8Array[];
}

const WRAP33 = 2 ** 33;

/** RTP packets held before they can be used (about 2 s of a 4 Mb/s stream). */
const MAX_PENDING_RTP = 2000;

function mod33(t: number): number {
  return ((t % WRAP33) + WRAP33) % WRAP33;
}

export class RtspSource extends EventEmitter<StreamSourceEvents> implements StreamSource {
  readonly kind = 'rtsp';
  private readonly assembler: PsAccessUnitAssembler;
  private client: RtspClient | null = null;
  private tracksState: TrackState[] = [];
  private lastUnitAt: number | null = null;
  private closing = false;
  private reconnects = 0;
  private failingSince: number | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The first open succeeded: later failures reconnect (the first one is the caller's to see). */
  private opened = false;
  private readonly dropped: Record<string, number> = { damagedPictures: 0, unknownTrack: 0, beforeSetup: 0 };
  /**
   * RTP held until it can be used: this session's tracks are set up here AND someone listens for units. A camera
   * starts sending right after its PLAY answer — often in the same TCP segment, which the client parses before
   * the PLAY promise lets `connect` continue — and `open` resolves before the Stream subscribes; the first packets
   * are the keyframe a viewer needs, and losing them cost a whole GOP of waiting (measured: ~2 s to first frame
   * instead of ~1 s). Bounded (counted in `beforeSetup` when full); replayed in order by `drainPending`.
   */
  private pendingRtp: Array<[number, RtpPacket]> = [];
  private tracksReady = false;

  private constructor(private readonly opts: RtspSourceOptions) {
    super();
    this.assembler = new PsAccessUnitAssembler({
      parameters: (tracks, epoch) => this.emit('parameters', tracks, epoch),
      unit: (unit) => {
        this.lastUnitAt = unit.receivedAt;
        this.emit('unit', unit);
      },
    });
    // 'newListener' is EventEmitter's own event, outside the typed source events. It fires before the listener
    // is added: drain right after the subscriber's own set-up.
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'unit') queueMicrotask(() => this.drainPending());
    });
  }

  private get canDeliver(): boolean {
    return this.tracksReady && this.listenerCount('unit') > 0;
  }

  private drainPending(): void {
    if (!this.canDeliver || this.pendingRtp.length === 0) return;
    const pending = this.pendingRtp;
    this.pendingRtp = [];
    for (const [track, packet] of pending) this.onRtp(track, packet);
  }

  /** Open the session (throws RtspError naming the step when the first open fails). */
  static async open(opts: RtspSourceOptions): Promise<RtspSource> {
    const source = new RtspSource(opts);
    await source.connect();
    return source;
  }

  get tracks(): readonly TrackParameters[] {
    return this.assembler.tracks;
  }

  get epoch(): number {
    return this.assembler.epoch;
  }

  stats(): SourceStats & { assembler: AssemblerStats; reconnects: number; rtp: { packets: number; bytes: number; bad: number }; decodeTimes: DecodeTimeStats | null } {
    const s = this.assembler.stats;
    const received = this.client?.received ?? { packets: 0, bytes: 0, badPackets: 0 };
    const dropped: Record<string, number> = { ...this.dropped };
    for (const [k, v] of Object.entries(s.dropped)) dropped[k] = v;
    return {
      videoUnits: s.videoUnits,
      audioUnits: s.audioUnits,
      bytes: s.bytes,
      epoch: s.epoch,
      lastUnitAt: this.lastUnitAt,
      dropped,
      assembler: s,
      reconnects: this.reconnects,
      rtp: { packets: received.packets, bytes: received.bytes, bad: received.badPackets },
      decodeTimes: this.tracksState.find((t) => t.decodeTimes)?.decodeTimes?.stats ?? null,
    };
  }

  async close(_reason: string): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.close();
  }

  // -------------------------------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    const client = new RtspClient({ ...this.opts });
    this.client = client;
    this.tracksReady = false;
    this.pendingRtp = [];
    client.on('rtp', ({ track, packet }) => {
      if (client !== this.client) return;
      if (this.canDeliver) this.onRtp(track, packet);
      else if (this.pendingRtp.length < MAX_PENDING_RTP) this.pendingRtp.push([track, packet]);
      else this.dropped.beforeSetup!++;
    });
    client.on('ended', (err) => this.onEnded(client, err));
    const { tracks } = await client.start();
    this.tracksState = tracks.map((t) => this.trackState(t));
    this.tracksReady = true;
    this.opened = true;
    this.failingSince = null;
    this.drainPending();
  }

  private trackState(t: RtspTrack): TrackState {
    const m = t.media;
    const state: TrackState = { kind: m.type === 'video' ? 'video' : 'audio', media: m, clockRate: m.clockRate || 90_000, last: null, offset90: null, paramSets: [] };
    if (m.encoding === 'H264' || m.encoding === 'H265') {
      const codec: RtpVideoCodec = m.encoding === 'H264' ? 'h264' : 'h265';
      state.video = new VideoDepacketizer(codec);
      const sets = spropParameterSets(m);
      state.paramSets = [...sets.vps, ...sets.sps, ...sets.pps];
      const sps = sets.sps[0];
      state.decodeTimes = new DecodeTimeDeriver(sps ? declaredReorderDepth(codec, sps) : null);
      if (sps) state.lastSps = sps;
    } else if (m.encoding === 'MPEG4-GENERIC') {
      const params = aacHbrParamsFromFmtp(m.fmtp);
      const hex = m.fmtp.config ?? '';
      if (params && /^[0-9a-f]{4,}$/i.test(hex)) {
        state.aac = new AacDepacketizer(params);
        state.aacConfig = new Uint8Array(Buffer.from(hex, 'hex'));
      }
    } else if (m.encoding === 'PCMA' || m.encoding === 'PCMU') {
      state.g711 = m.encoding === 'PCMA' ? 'g711a' : 'g711u';
    }
    return state;
  }

  /** RTP time (track clock) → session clock, 90 kHz, unwrapped (`mod33` before it goes to the assembler). */
  private sessionTime(state: TrackState, rtpTimestamp: number): number {
    let t = rtpTimestamp;
    if (state.last !== null) {
      const base = state.last - (state.last % 2 ** 32);
      t = base + rtpTimestamp;
      if (t - state.last > 2 ** 31) t -= 2 ** 32;
      else if (state.last - t > 2 ** 31) t += 2 ** 32;
    }
    state.last = t;
    const t90 = state.clockRate === 90_000 ? t : Math.round((t * 90_000) / state.clockRate);
    if (state.offset90 === null) {
      // First packet of this track: it is "now" on the session clock.
      const now90 = Math.round(Date.now() * 90);
      state.offset90 = now90 - t90;
    }
    return t90 + state.offset90;
  }

  private onRtp(track: number, packet: RtpPacket): void {
    const state = this.tracksState[track];
    if (!state) {
      this.dropped.unknownTrack!++;
      return;
    }
    const now = Date.now();
    const audioExpected = this.tracksState.some((t) => t.kind === 'audio' && (t.aac || t.g711));
    if (state.video) {
      for (const picture of state.video.push(packet)) this.onPicture(state, picture, now, audioExpected);
    } else if (state.aac && state.aacConfig) {
      for (const frame of state.aac.push(packet)) {
        const pts = mod33(this.sessionTime(state, frame.timestamp));
        const header = adtsHeaderFor(state.aacConfig, frame.data.length);
        const data = Buffer.concat([Buffer.from(header), Buffer.from(frame.data)]);
        this.assembler.push({ kind: 'audio', codec: 'aac', pts90k: pts, dts90k: pts, keyframe: true, data } satisfies EsFrame, now);
      }
    } else if (state.g711) {
      const pts = mod33(this.sessionTime(state, packet.timestamp));
      this.assembler.push({ kind: 'audio', codec: state.g711, pts90k: pts, dts90k: pts, keyframe: true, data: Buffer.from(packet.payload) } satisfies EsFrame, now);
    }
  }

  private onPicture(state: TrackState, picture: DepacketizedPicture, now: number, audioExpected: boolean): void {
    if (picture.damaged) {
      // A picture with a lost slice would decode as garbage; the assembler waits for the next keyframe when
      // a reference is missing, so drop it here and count it.
      this.dropped.damagedPictures!++;
      return;
    }
    const codec = state.video!.codec;
    const isParamSet = (n: Uint8Array): boolean => (codec === 'h264' ? [7, 8].includes(n[0]! & 0x1f) : [32, 33, 34].includes((n[0]! >> 1) & 0x3f));
    let nalus = picture.nalus;
    if (picture.keyframe && !nalus.some(isParamSet) && state.paramSets.length > 0) nalus = [...state.paramSets, ...nalus];
    else if (picture.keyframe) state.paramSets = nalus.filter(isParamSet);
    const start = Buffer.of(0, 0, 0, 1);
    const data = Buffer.concat(nalus.flatMap((n) => [start, Buffer.from(n.buffer, n.byteOffset, n.byteLength)]));
    const sps = nalus.find((n) => (codec === 'h264' ? (n[0]! & 0x1f) === 7 : ((n[0]! >> 1) & 0x3f) === 33));
    if (sps && state.decodeTimes && !(state.lastSps && Buffer.from(sps.buffer, sps.byteOffset, sps.byteLength).equals(state.lastSps))) {
      state.lastSps = sps;
      state.decodeTimes.declareDepth(declaredReorderDepth(codec, sps));
    }
    const pts = this.sessionTime(state, picture.timestamp);
    const dts = state.decodeTimes ? state.decodeTimes.next(pts) : pts;
    this.assembler.push({ kind: 'video', codec, pts90k: mod33(pts), dts90k: mod33(dts), keyframe: picture.keyframe, data } satisfies EsFrame, now, audioExpected);
  }

  private onEnded(client: RtspClient, err: RtspError): void {
    if (this.closing || client !== this.client || !this.opened) return;
    this.emit('error', new Error(`rtsp ${err.step}: ${err.reason}: ${err.message}`));
    const now = Date.now();
    this.failingSince ??= now;
    const giveUp = this.opts.giveUpAfterMs ?? 5 * 60_000;
    if (now - this.failingSince >= giveUp) {
      this.emit('ended', `rtsp-failed: ${err.step} ${err.reason} (${err.message}); gave up after ${Math.round((now - this.failingSince) / 1000)} s`);
      return;
    }
    const delay = Math.min(30_000, (this.opts.retryBaseMs ?? 1_000) * 2 ** Math.min(this.reconnects, 5));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closing) return;
      this.reconnects++;
      // The reopened session is a new timeline: the next keyframe starts a new epoch.
      this.assembler.discontinuity();
      // A failed reconnect ends its client, whose 'ended' schedules the next attempt.
      this.connect().catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }
}

