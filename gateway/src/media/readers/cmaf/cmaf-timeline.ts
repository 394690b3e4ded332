/**
 * From access units to fMP4 samples for one epoch of a stream: which tracks a browser can take (H.264,
 * H.265, AAC), their init segment and MSE/HLS codec string, and each unit turned into a sample with a decode
 * time on the track's timescale, a duration and a composition offset. Shared by the LL-HLS and the live fMP4
 * readers, which differ only in how they group samples into fragments. Pure (no I/O, no timers).
 *
 * Durations. fMP4 needs each sample's duration, known only when the next unit of the track arrives, so every
 * track holds back one unit: `push` returns the *previous* unit of that track, completed. A duration that
 * makes no sense (zero, negative, over five seconds: the source keeps such jumps for a new epoch, but a
 * reader must not trust that) is replaced by the last good one.
 *
 * Audio holes. An AAC frame is 1,024 samples whatever its stamped duration, and a browser's audio clock counts
 * decoded samples: a hole stretched into one frame's duration leaves the audio clock behind the media timeline
 * by the hole, and hls.js in Chromium stalled every 15-20 s on a stream with a 77 ms hole every 4 s
 * (bench/RESULTS.md, "stalls with AAC audio"). So on an AAC-LC mono/stereo track next to video, a hole longer
 * than half a frame (up to MAX_FILLED_HOLE_90K) is filled with silent frames: the frame before it keeps its
 * nominal duration and `takeFillers()` hands out the silent samples that follow it (counted in `filledAudioFrames`).
 *
 * Decode times. The first unit of the first epoch starts the timeline at one second (headroom: audio that
 * the source emits slightly ahead of the first video unit still lands at a positive time); a later epoch
 * continues where the previous one ended, so the presentation timeline never goes backwards across a
 * discontinuity (MSE appends in place; HLS clients get EXT-X-DISCONTINUITY anyway). Units that would land
 * before zero are dropped and counted, and so are units that start well before the previous unit of their
 * track ended (a slight overlap is shifted forward instead): decode times only ever go forward per track.
 */
import {
  avcCodecString,
  buildInitSegment,
  hevcCodecString,
  isFmp4Muxable,
  naluSample,
  type NaluSample,
  parseHevcSps,
  timescaleOf,
  type Fmp4Sample,
  type InitTrack,
} from '../../../codecs/fmp4/index.js';
import { isAacLc, silentAacFrame } from '../../../codecs/aac/silent-frame.js';
import type { AccessUnit, AudioParameters, TrackParameters, VideoParameters } from '../../core/access-unit.js';

export const CLOCK_90K = 90_000;
const MAX_SAMPLE_DURATION_90K = 5 * CLOCK_90K;
const DEFAULT_VIDEO_DURATION_90K = 3600; // 25 fps, until the second frame tells the real rate
const AAC_FRAME_SAMPLES = 1024;
const START_HEADROOM_90K = CLOCK_90K;
/** Holes up to this long are filled with silence; a longer one (the camera stopped sending audio) is stretched. */
const MAX_FILLED_HOLE_90K = 2 * CLOCK_90K;

export interface TimelineSample {
  kind: 'video' | 'audio';
  trackId: number;
  /** Decode time on the track's timescale (tfdt of a fragment starting here). */
  decodeTime: number;
  /** The same instant and the sample's end on the 90 kHz clock, for grouping tracks by time. */
  decodeTime90k: number;
  end90k: number;
  sample: Fmp4Sample;
  receivedAt: number;
}

interface TrackState {
  trackId: number;
  kind: 'video' | 'audio';
  timescale: number;
  parameters: VideoParameters | AudioParameters;
  pending: AccessUnit | null;
  lastDuration90k: number;
  /** End of the last sample handed out (90 kHz, on the output timeline), or null before the first. */
  lastEnd90k: number | null;
}

export class CmafTimeline {
  readonly init: Uint8Array;
  /** RFC 6381 codec strings of the muxed tracks, comma-separated (HLS CODECS, MSE mime type). */
  readonly codecs: string;
  readonly hasVideo: boolean;
  readonly hasAudio: boolean;
  readonly width: number;
  readonly height: number;
  /** Units dropped: a track the timeline does not carry, before zero, or with no payload. */
  dropped = 0;
  /** Silent AAC frames inserted into holes of the audio track. */
  filledAudioFrames = 0;
  /** Silent samples that follow the sample the last `push` returned (see takeFillers). */
  private fillers: TimelineSample[] = [];
  /** The silent frame for the audio track when its holes can be filled (AAC-LC, 1-2 channels, next to video). */
  private readonly silentFrame: Uint8Array | null;
  private readonly video: TrackState | null;
  private readonly audio: TrackState | null;
  private offset90k: number | null = null;

  /**
   * @param tracks the stream's tracks; those fMP4 cannot carry (G.711) are left out.
   * @param continueAt90k where the previous epoch's timeline ended (its `end90k()`), or undefined for the first.
   */
  constructor(tracks: readonly TrackParameters[], private readonly continueAt90k?: number) {
    const video = tracks.find((t): t is VideoParameters => t.kind === 'video');
    const audio = tracks.find((t): t is AudioParameters => t.kind === 'audio' && isFmp4Muxable(t));
    let nextId = 1;
    this.video = video ? this.track('video', nextId++, video) : null;
    this.audio = audio ? this.track('audio', nextId++, audio) : null;
    if (!this.video && !this.audio) throw new Error('no track that fMP4 can carry (H.264, H.265 or AAC)');
    const initTracks: InitTrack[] = [this.video, this.audio]
      .filter((t): t is TrackState => t !== null)
      .map((t) => ({ trackId: t.trackId, timescale: t.timescale, parameters: t.parameters }));
    this.init = buildInitSegment(initTracks);
    this.codecs = [video ? videoCodecString(video) : null, audio ? audio.codecString || 'mp4a.40.2' : null].filter(Boolean).join(',');
    this.hasVideo = video !== undefined;
    this.hasAudio = audio !== undefined;
    this.width = video?.width ?? 0;
    this.height = video?.height ?? 0;
    this.silentFrame = video && audio && audio.codec === 'aac' && isAacLc(audio.config) ? silentAacFrame(audio.channels) : null;
  }

  private track(kind: 'video' | 'audio', trackId: number, parameters: VideoParameters | AudioParameters): TrackState {
    return {
      trackId,
      kind,
      timescale: timescaleOf(parameters),
      parameters,
      pending: null,
      lastEnd90k: null,
      lastDuration90k: kind === 'video' ? DEFAULT_VIDEO_DURATION_90K : Math.round((AAC_FRAME_SAMPLES * CLOCK_90K) / timescaleOf(parameters)),
    };
  }

  trackOf(kind: 'video' | 'audio'): { trackId: number; timescale: number } | null {
    const t = kind === 'video' ? this.video : this.audio;
    return t ? { trackId: t.trackId, timescale: t.timescale } : null;
  }

  /** The unit held back on a track (its duration is not known yet). */
  pendingOf(kind: 'video' | 'audio'): AccessUnit | null {
    return (kind === 'video' ? this.video : this.audio)?.pending ?? null;
  }

  /** Takes a unit; returns the previous unit of its track as a finished sample (or null). */
  push(unit: AccessUnit): TimelineSample | null {
    const track = unit.kind === 'video' ? this.video : this.audio;
    if (!track) {
      this.dropped++;
      return null;
    }
    if (unit.kind === 'video' ? !unit.nalus || unit.nalus.length === 0 : !unit.data || unit.data.length === 0) {
      this.dropped++;
      return null;
    }
    this.offset90k ??= (this.continueAt90k ?? START_HEADROOM_90K) - unit.dts;
    const previous = track.pending;
    track.pending = unit;
    if (!previous) return null;
    const delta = unit.dts - previous.dts;
    if (track.kind === 'audio' && this.silentFrame) {
      const nominal90k = (AAC_FRAME_SAMPLES * CLOCK_90K) / track.timescale;
      if (delta > 1.5 * nominal90k && delta - nominal90k <= MAX_FILLED_HOLE_90K) return this.fillHole(track, previous, delta, nominal90k, this.silentFrame);
    }
    const duration90k = delta > 0 && delta <= MAX_SAMPLE_DURATION_90K ? delta : track.lastDuration90k;
    track.lastDuration90k = duration90k;
    return this.finish(track, previous, duration90k);
  }

  /** The silent samples that go right after the sample the last `push` returned (empty unless it filled a hole). */
  takeFillers(): TimelineSample[] {
    if (this.fillers.length === 0) return this.fillers;
    const out = this.fillers;
    this.fillers = [];
    return out;
  }

  private fillHole(track: TrackState, previous: AccessUnit, delta90k: number, nominal90k: number, silent: Uint8Array): TimelineSample | null {
    const finished = this.finish(track, previous, nominal90k);
    const hole90k = delta90k - nominal90k;
    const count = Math.max(1, Math.round(hole90k / nominal90k));
    for (let i = 0; i < count; i++) {
      const dts = previous.dts + nominal90k * (i + 1);
      // The last silent frame takes what is left (0.5-1.5 frames), so the next real frame starts where it is stamped.
      const duration90k = i < count - 1 ? nominal90k : hole90k - nominal90k * (count - 1);
      const filler = this.finish(track, { ...previous, dts, pts: dts, data: silent }, duration90k);
      if (filler) {
        this.fillers.push(filler);
        this.filledAudioFrames++;
      }
    }
    track.lastDuration90k = nominal90k;
    return finished;
  }

  /** Finishes the units still held back (end of an epoch or of the stream), with the last known durations. */
  flush(): TimelineSample[] {
    const out: TimelineSample[] = [];
    for (const track of [this.video, this.audio]) {
      if (!track?.pending) continue;
      const sample = this.finish(track, track.pending, track.lastDuration90k);
      track.pending = null;
      if (sample) out.push(sample);
    }
    return out;
  }

  /** The 90 kHz time right after the last unit seen (where a next epoch continues). */
  end90k(): number {
    let end = this.continueAt90k ?? START_HEADROOM_90K;
    if (this.offset90k === null) return end;
    for (const track of [this.video, this.audio]) {
      if (track?.pending) end = Math.max(end, track.pending.dts + this.offset90k + track.lastDuration90k);
      if (track?.lastEnd90k != null) end = Math.max(end, track.lastEnd90k);
    }
    return end;
  }

  private finish(track: TrackState, unit: AccessUnit, duration90k: number): TimelineSample | null {
    let decodeTime90k = unit.dts + (this.offset90k ?? 0);
    if (decodeTime90k < 0) {
      this.dropped++;
      return null;
    }
    if (track.lastEnd90k !== null && decodeTime90k < track.lastEnd90k) {
      // A unit that starts before the previous one ended (audio jitter, a source that steps back): a small
      // overlap is moved to the end of the previous sample, a larger one (a repeated or out-of-order unit)
      // is dropped, so a track's decode times only ever go forward and fragments never overlap in a player.
      if (track.lastEnd90k - decodeTime90k > duration90k / 2) {
        this.dropped++;
        return null;
      }
      decodeTime90k = track.lastEnd90k;
    }
    track.lastEnd90k = decodeTime90k + duration90k;
    const toTrack = (t90k: number): number => Math.round((t90k * track.timescale) / CLOCK_90K);
    const decodeTime = toTrack(decodeTime90k);
    let data: Uint8Array | NaluSample;
    if (track.kind === 'video') {
      // Not copied here: buildFragment writes the length prefixes and the NAL units into the mdat.
      data = naluSample((track.parameters as VideoParameters).codec, unit.nalus ?? []);
      if (data.length === 0) {
        this.dropped++;
        return null;
      }
    } else {
      data = unit.data ?? new Uint8Array(0);
    }
    const duration = Math.max(1, toTrack(decodeTime90k + duration90k) - decodeTime);
    return {
      kind: track.kind,
      trackId: track.trackId,
      decodeTime,
      decodeTime90k,
      end90k: decodeTime90k + duration90k,
      receivedAt: unit.receivedAt,
      sample: {
        duration,
        compositionTimeOffset: track.kind === 'video' ? toTrack(unit.pts - unit.dts) : 0,
        keyframe: track.kind === 'audio' || unit.keyframe,
        data,
      },
    };
  }
}

/** The codec string as the source gave it, else derived from the parameter sets. */
export function videoCodecString(video: VideoParameters): string {
  if (video.codecString) return video.codecString;
  const sps = video.sps[0];
  if (!sps) return video.codec === 'h264' ? 'avc1.42e01e' : 'hvc1.1.6.L93.B0';
  return video.codec === 'h264' ? avcCodecString(sps) : hevcCodecString(parseHevcSps(sps));
}
