/**
 * PS elementary-stream frames (codecs/ps PsDemuxer) → access units on the stream core's timeline. Pure (no I/O,
 * no timers): the GB source feeds it, the tests feed it directly.
 *
 * What it does to each frame:
 *  - video: Annex-B → NAL units (start codes, AUDs and trailing zero bytes removed); the parameter sets it
 *    carries are tracked, and a change of codec, size or parameter-set bytes starts a new epoch;
 *  - AAC: the PES payload is split into ADTS frames, headers stripped, the AudioSpecificConfig derived (a change
 *    of it starts a new epoch); each raw frame is one unit 1024 samples apart;
 *  - G.711: one unit per PES, raw bytes;
 *  - timing: the 33-bit PES clock is unwrapped (one unwrapper for both tracks: PS has one system clock), a
 *    missing PTS is extrapolated from the previous unit, a missing DTS is the PTS (13818-1), PTS ≠ DTS
 *    (B-frames) passes through, a DTS that does not advance is nudged one tick forward (counted), and a jump of
 *    more than `maxJumpSec` forwards or `maxBackwardSec` backwards starts a new epoch (camera restart, clock reset);
 *  - `discontinuity()` (SSRC change, RTP sender restart) also starts a new epoch at the next keyframe.
 *
 * A new epoch starts on a video keyframe (units before it are dropped and counted) so that every reader can
 * start a new init segment with a decodable picture. At the start, video units are held until the audio track
 * named by the PSM has shown itself (or `audioWaitMs` of video passed), so the first `parameters` already lists
 * both tracks instead of adding audio 40 ms later with a needless discontinuity.
 */
import { splitAdts, audioSpecificConfigOf, AAC_FRAME_SAMPLES } from '../../../codecs/aac/adts.js';
import { findNalUnits, isKeyframeNalType, nalType } from '../../../codecs/ps/annexb.js';
import type { EsFrame } from '../../../codecs/ps/ps-demuxer.js';
import type { AccessUnit, AudioParameters, TrackParameters, VideoCodecName, VideoParameters } from '../../core/access-unit.js';
import { aacParameters, g711Parameters, parameterSetsOf, sameTrack, videoParameters } from '../track-parameters.js';

export interface AssemblerSink {
  parameters(tracks: readonly TrackParameters[], epoch: number): void;
  unit(unit: AccessUnit): void;
}

export interface AssemblerOptions {
  /** Forward DTS jump (seconds) taken as a new timeline. Default 5. */
  maxJumpSec?: number;
  /** Backward DTS step (seconds) taken as a new timeline; smaller ones are nudged. Default 1. */
  maxBackwardSec?: number;
  /** How long (90 kHz video time) to hold video at the start waiting for the announced audio. Default 500 ms. */
  audioWaitMs?: number;
}

/** Why units were dropped; the keys are metric labels. */
export interface AssemblerDrops {
  waitingForKeyframe: number;
  badParameterSets: number;
  badAudio: number;
  adtsGarbageBytes: number;
  emptyFrames: number;
}

export interface AssemblerStats {
  videoUnits: number;
  audioUnits: number;
  bytes: number;
  epoch: number;
  timestampJumps: number;
  timestampFixups: number;
  discontinuities: number;
  dropped: AssemblerDrops;
}

const WRAP = 2 ** 33;

/**
 * The frame's bytes as units may keep them. The demuxer hands out either a fresh buffer or a view of a buffer
 * it assembled itself (a whole PES plus a few header bytes); such a view is kept as it is. A small view into
 * a larger buffer (Node pools buffers under 4 KB in shared 8 KB slabs) is copied, so a unit held in the GOP
 * cache never pins memory much larger than itself.
 */
function ownedFrameBytes(data: Buffer): Uint8Array {
  if (data.byteLength * 2 >= data.buffer.byteLength) return data;
  return new Uint8Array(data);
}
const DEFAULT_VIDEO_STEP = 3600; // 40 ms: 25 fps until measured

/** Folds the 33-bit PES clock into a monotonic number by choosing the candidate nearest the last value. */
export class TimestampUnwrapper {
  private last: number | null = null;

  unwrap(raw: number): number {
    if (this.last === null) {
      this.last = raw;
      return raw;
    }
    const base = this.last - (((this.last % WRAP) + WRAP) % WRAP);
    let best = base + raw;
    for (const candidate of [best - WRAP, best + WRAP]) if (Math.abs(candidate - this.last) < Math.abs(best - this.last)) best = candidate;
    this.last = best;
    return best;
  }

  reset(): void {
    this.last = null;
  }
}

interface TrackClock {
  lastPts: number | null;
  lastDts: number | null;
  /** Duration of one unit (90 kHz), for extrapolating a missing PTS. */
  step: number;
}

export class PsAccessUnitAssembler {
  readonly stats: AssemblerStats = {
    videoUnits: 0,
    audioUnits: 0,
    bytes: 0,
    epoch: 0,
    timestampJumps: 0,
    timestampFixups: 0,
    discontinuities: 0,
    dropped: { waitingForKeyframe: 0, badParameterSets: 0, badAudio: 0, adtsGarbageBytes: 0, emptyFrames: 0 },
  };
  private readonly maxJump: number;
  private readonly maxBackward: number;
  private readonly audioWait: number;
  private readonly unwrapper = new TimestampUnwrapper();
  private video: VideoParameters | undefined;
  private audio: AudioParameters | undefined;
  /** Parameters announced to the sink (what readers have). */
  private announced: readonly TrackParameters[] = [];
  private started = false;
  /** A new epoch is due at the next video keyframe. */
  private restartPending = false;
  private held: AccessUnit[] = [];
  private readonly clocks: Record<'video' | 'audio', TrackClock> = {
    video: { lastPts: null, lastDts: null, step: DEFAULT_VIDEO_STEP },
    audio: { lastPts: null, lastDts: null, step: 0 },
  };

  constructor(
    private readonly sink: AssemblerSink,
    opts: AssemblerOptions = {},
  ) {
    this.maxJump = (opts.maxJumpSec ?? 5) * 90_000;
    this.maxBackward = (opts.maxBackwardSec ?? 1) * 90_000;
    this.audioWait = ((opts.audioWaitMs ?? 500) * 90_000) / 1000;
  }

  get epoch(): number {
    return this.stats.epoch;
  }

  get tracks(): readonly TrackParameters[] {
    return this.announced;
  }

  /** The sender restarted (new SSRC, RTP sequence jump): the next keyframe starts a new epoch. */
  discontinuity(): void {
    this.stats.discontinuities++;
    this.restartPending = this.started;
    this.unwrapper.reset();
  }

  /**
   * One demuxed frame. `audioExpected`: the PSM announces an audio stream we can output (so video waits for it
   * briefly at the start).
   */
  push(frame: EsFrame, receivedAt: number, audioExpected = false): void {
    if (frame.kind === 'video') this.pushVideo(frame, receivedAt, audioExpected);
    else this.pushAudio(frame, receivedAt);
  }

  /** Emits units still held at the start (end of input). */
  flush(): void {
    if (!this.started && this.video) this.start();
  }

  // ---------------------------------------------------------------------------------------------- video

  private pushVideo(frame: EsFrame, receivedAt: number, audioExpected: boolean): void {
    const codec = frame.codec as VideoCodecName;
    // The unit's NAL units are views of the frame's bytes (no copy per NAL unit; readers treat unit bytes as
    // read-only), found by the demuxer's scan when it made one.
    const data = ownedFrameBytes(frame.data);
    const nalus: Uint8Array[] = [];
    let keyframe = false;
    for (const ref of frame.nalUnits ?? findNalUnits(frame.data)) {
      let end = ref.end;
      while (end > ref.header && data[end - 1] === 0) end--;
      if (end <= ref.header) continue;
      const type = nalType(codec, data[ref.header]!);
      if ((codec === 'h264' && type === 9) || (codec === 'h265' && type === 35)) continue; // AUD
      if (isKeyframeNalType(codec, type)) keyframe = true;
      nalus.push(data.subarray(ref.header, end));
    }
    if (nalus.length === 0) {
      this.stats.dropped.emptyFrames++;
      return;
    }

    let newVideo: VideoParameters | undefined;
    const sets = parameterSetsOf(codec, nalus);
    if (sets.sps.length > 0) {
      if (sets.pps.length === 0 && this.video?.codec === codec) sets.pps = this.video.pps;
      if (codec === 'h265' && sets.vps.length === 0 && this.video?.codec === codec) sets.vps = this.video.vps ?? [];
      try {
        const candidate = videoParameters(codec, sets);
        if (!sameTrack(candidate, this.video)) newVideo = candidate;
      } catch {
        this.stats.dropped.badParameterSets++;
      }
    } else if (this.video && this.video.codec !== codec) {
      // The codec changed but this frame has no parameter sets to describe it: wait for one that has.
      this.stats.dropped.waitingForKeyframe++;
      return;
    }
    if (!this.video && !newVideo) {
      this.stats.dropped.waitingForKeyframe++;
      return;
    }

    const unit = this.timed('video', frame, receivedAt, keyframe, nalus);
    if (!unit) return;

    if (newVideo || this.restartPending || unit.jumped) {
      if (!keyframe) {
        this.stats.dropped.waitingForKeyframe++;
        this.restartPending = this.restartPending || unit.jumped;
        return;
      }
      if (newVideo) this.video = newVideo;
      if (this.started) {
        this.newEpoch();
        this.clocks.video.lastPts = unit.unit.pts;
        this.clocks.video.lastDts = unit.unit.dts;
      }
      this.restartPending = false;
    }
    this.emit(unit.unit, audioExpected);
  }

  // ---------------------------------------------------------------------------------------------- audio

  private pushAudio(frame: EsFrame, receivedAt: number): void {
    if (this.restartPending) {
      this.stats.dropped.waitingForKeyframe++;
      return;
    }
    if (frame.codec === 'aac') {
      const split = splitAdts(frame.data);
      this.stats.dropped.adtsGarbageBytes += split.droppedBytes;
      if (split.frames.length === 0) {
        this.stats.dropped.badAudio++;
        return;
      }
      const first = split.frames[0]!.header;
      let params: AudioParameters;
      try {
        params = aacParameters(audioSpecificConfigOf(first));
      } catch {
        this.stats.dropped.badAudio++;
        return;
      }
      this.clocks.audio.step = (AAC_FRAME_SAMPLES * 90_000) / params.sampleRate;
      this.setAudio(params);
      const timed = this.timed('audio', frame, receivedAt, true, undefined);
      if (!timed) return;
      if (timed.jumped && this.started) {
        this.restartPending = true;
        this.stats.dropped.waitingForKeyframe++;
        return;
      }
      const step = this.clocks.audio.step;
      split.frames.forEach((f, i) => {
        const offset = Math.round(i * step);
        this.emit({ ...timed.unit, pts: timed.unit.pts + offset, dts: timed.unit.dts + offset, data: Uint8Array.from(f.raw) }, false);
      });
      // The next PES without PTS continues after the last frame of this one.
      this.clocks.audio.lastPts = timed.unit.pts + Math.round((split.frames.length - 1) * step);
      this.clocks.audio.lastDts = this.clocks.audio.lastPts;
      return;
    }
    if (frame.data.length === 0) {
      this.stats.dropped.emptyFrames++;
      return;
    }
    this.clocks.audio.step = (frame.data.length * 90_000) / 8000;
    this.setAudio(g711Parameters(frame.codec === 'g711u' ? 'g711u' : 'g711a'));
    const timed = this.timed('audio', frame, receivedAt, true, undefined);
    if (!timed) return;
    if (timed.jumped && this.started) {
      this.restartPending = true;
      this.stats.dropped.waitingForKeyframe++;
      return;
    }
    this.emit({ ...timed.unit, data: Uint8Array.from(frame.data) }, false);
  }

  private setAudio(params: AudioParameters): void {
    if (sameTrack(params, this.audio)) return;
    const changed = this.audio !== undefined;
    this.audio = params;
    // A new or changed audio track once running: readers need a new init segment, at the next video keyframe.
    if (this.started && (changed || !this.announced.some((t) => t.kind === 'audio'))) {
      if (this.video) this.restartPending = true;
      else this.newEpoch();
    }
  }

  // ---------------------------------------------------------------------------------------------- common

  private timed(
    kind: 'video' | 'audio',
    frame: EsFrame,
    receivedAt: number,
    keyframe: boolean,
    nalus: Uint8Array[] | undefined,
  ): { unit: AccessUnit; jumped: boolean } | null {
    const clock = this.clocks[kind];
    let pts: number;
    let dts: number;
    if (frame.pts90k !== null) {
      // The unwrapper follows the decode clock (PTS of B-frames runs ahead and back); PTS is DTS + the offset.
      const rawDts = frame.dts90k ?? frame.pts90k;
      dts = this.unwrapper.unwrap(rawDts);
      let offset = (((frame.pts90k - rawDts) % WRAP) + WRAP) % WRAP;
      if (offset >= WRAP / 2) offset -= WRAP;
      pts = dts + offset;
    } else if (clock.lastPts !== null && clock.lastDts !== null) {
      pts = clock.lastDts + clock.step;
      dts = pts;
    } else {
      pts = 0;
      dts = 0;
    }
    if (pts < dts) pts = dts;
    let jumped = false;
    if (clock.lastDts !== null) {
      const delta = dts - clock.lastDts;
      if (delta > this.maxJump || delta < -this.maxBackward) {
        jumped = true;
        this.stats.timestampJumps++;
      } else if (delta <= 0) {
        // Same or slightly earlier DTS (a duplicated timestamp): keep decode order strictly increasing. Only the
        // decode time moves: a B-frame's presentation time is right as it is (moving it with DTS would show it
        // out of order), unless it would now come before its decode time (pts = dts streams: both move).
        dts += 1 - delta;
        if (pts < dts) pts = dts;
        this.stats.timestampFixups++;
      } else if (kind === 'video' && delta < 90_000) {
        clock.step = delta;
      }
    }
    clock.lastPts = pts;
    clock.lastDts = dts;
    const unit: AccessUnit = { kind, pts, dts, keyframe, epoch: this.stats.epoch, receivedAt };
    if (nalus) unit.nalus = nalus;
    return { unit, jumped };
  }

  private currentTracks(): TrackParameters[] {
    const tracks: TrackParameters[] = [];
    if (this.video) tracks.push(this.video);
    if (this.audio) tracks.push(this.audio);
    return tracks;
  }

  private newEpoch(): void {
    this.stats.epoch++;
    // The other track's clock belongs to the old timeline.
    this.clocks.video.lastDts = this.clocks.video.lastPts = null;
    this.clocks.audio.lastDts = this.clocks.audio.lastPts = null;
    this.announced = this.currentTracks();
    this.sink.parameters(this.announced, this.stats.epoch);
  }

  private start(): void {
    this.started = true;
    this.announced = this.currentTracks();
    this.sink.parameters(this.announced, this.stats.epoch);
    const held = this.held;
    this.held = [];
    for (const unit of held) this.deliver(unit);
  }

  private emit(unit: AccessUnit, audioExpected: boolean): void {
    unit.epoch = this.stats.epoch;
    if (this.started) {
      this.deliver(unit);
      return;
    }
    if (!this.video) {
      // Audio before the first video keyframe: the demuxer already holds it back; drop anything else.
      this.stats.dropped.waitingForKeyframe++;
      return;
    }
    this.held.push(unit);
    const first = this.held.find((u) => u.kind === 'video');
    const waited = first ? unit.dts - first.dts : 0;
    if (!audioExpected || this.audio || waited >= this.audioWait) this.start();
  }

  private deliver(unit: AccessUnit): void {
    if (unit.kind === 'video') this.stats.videoUnits++;
    else this.stats.audioUnits++;
    this.stats.bytes += unit.nalus ? unit.nalus.reduce((n, x) => n + x.length, 0) : (unit.data?.length ?? 0);
    this.sink.unit(unit);
  }
}
