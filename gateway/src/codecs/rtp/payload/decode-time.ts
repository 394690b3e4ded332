/**
 * Decode times for video that arrives with presentation times only. RTP (RFC 6184, RFC 7798) stamps each
 * picture with its presentation time; a stream with B-frames sends pictures in decode order, so those times go
 * back and forth. A muxer needs a decode time per sample (monotonic, never after the presentation time) and the
 * difference as the composition offset; without one the B-frames lose their place in display order.
 *
 * The rule. Let d be the stream's reorder depth: at most d pictures precede any picture in decode order and
 * follow it in display order (H.264 max_num_reorder_frames, H.265 sps_max_num_reorder_pics). Then a picture
 * with display index k arrives no later than decode index k + d, so when the picture with decode index i
 * arrives, every picture up to display index i − d has arrived. Its presentation time is the smallest one not
 * yet handed out, and that is the decode time of picture i: the (i − d)-th presentation time in display order.
 * It is never after picture i's own presentation time (that one is in the pool too) and never goes back. The
 * output is not delayed: a pool of d + 1 presentation times, no held pictures. Lost pictures leave a valid
 * stream of smaller depth, so a gap needs no special case.
 *
 * Before d + 1 pictures arrived (the start), the decode time is the smallest presentation time so far minus
 * the missing pictures' worth of `frameDuration`; only the first samples' durations depend on that estimate.
 * After the depth was raised (below), the window refills with decode times one tick apart.
 *
 * When the depth is unknown (an H.264 SPS without the VUI bitstream restriction, the common case of cameras
 * that send no B-frames) it starts at 0, which gives DTS = PTS. A presentation time earlier than a decode time
 * already given out shows the depth was too small: the depth goes up by one (counted in `depthRaised`), and that
 * picture gets the last decode time plus one tick; its presentation time can then not be kept (the stream core
 * moves it to its decode time), so a stream with B-frames and no declared depth shows its first few B-frames
 * late, once, and plays in display order from then on.
 *
 * A presentation time more than 5 s after or 1 s before the previous one (the stream core's own limits) is a
 * new timeline (a camera restart, a clock reset, a long loss), not reordering: the pool starts over (counted in `timelineResets`), so the decode
 * times jump with it and the stream core sees the jump and starts a new epoch as it does for any source.
 *
 * Pure and bounded: at most 17 numbers held.
 */
import { parseH264Sps } from '../../h264/sps.js';
import { parseH265Sps } from '../../h265/sps.js';
import type { RtpVideoCodec } from './video.js';

/** H.264 and H.265 allow at most 16 pictures in the decoded picture buffer. */
export const MAX_REORDER_DEPTH = 16;

export interface DecodeTimeStats {
  pictures: number;
  /** Times the depth went up because a presentation time came before a decode time already given out. */
  depthRaised: number;
  /** Pictures whose decode time had to be later than their presentation time (they show late). */
  lateForDisplay: number;
  /** Presentation-time jumps that started the pool over. */
  timelineResets: number;
}

/** Reordering moves presentation times by a few pictures; a jump of more than these is a new timeline. */
const MAX_FORWARD_JUMP_90K = 5 * 90_000;
const MAX_BACKWARD_JUMP_90K = 90_000;

export class DecodeTimeDeriver {
  readonly stats: DecodeTimeStats = { pictures: 0, depthRaised: 0, lateForDisplay: 0, timelineResets: 0 };
  /** Presentation times not yet given out as decode times, ascending. */
  private pool: number[] = [];
  private lastDts: number | null = null;
  private lastPts: number | null = null;
  /** The window was full once (decode times come from it, not from the start's guess). */
  private filled = false;
  private depthValue: number;

  /**
   * @param depth the reorder depth if known (0 for a stream without B-frames), else null to find it out.
   * @param frameDuration90k one picture's duration (90 kHz), for the decode times of the first pictures only.
   */
  constructor(
    depth: number | null,
    private readonly frameDuration90k = 3600,
  ) {
    this.depthValue = clampDepth(depth ?? 0);
  }

  get depth(): number {
    return this.depthValue;
  }

  /**
   * A new SPS declared its depth (or null: it does not say). A declared depth replaces the current one; an
   * undeclared one keeps what the stream has shown so far.
   */
  declareDepth(depth: number | null): void {
    if (depth === null) return;
    this.depthValue = clampDepth(depth);
  }

  /** The decode time of the next picture in decode order, from its presentation time (90 kHz, unwrapped). */
  next(pts: number): number {
    this.stats.pictures++;
    if (this.lastPts !== null && (pts - this.lastPts > MAX_FORWARD_JUMP_90K || this.lastPts - pts > MAX_BACKWARD_JUMP_90K)) {
      this.stats.timelineResets++;
      this.pool = [];
      this.lastDts = null;
      this.filled = false;
    }
    this.lastPts = pts;
    if (this.lastDts !== null && pts < this.lastDts) {
      if (this.depthValue < MAX_REORDER_DEPTH) {
        this.depthValue++;
        this.stats.depthRaised++;
      }
      this.stats.lateForDisplay++;
      this.lastDts += 1;
      return this.lastDts;
    }
    insertSorted(this.pool, pts);
    // A smaller declared depth (a new SPS): the pool's oldest times are behind us.
    while (this.pool.length > this.depthValue + 1) this.pool.shift();
    let dts: number;
    if (this.pool.length > this.depthValue) {
      dts = this.pool.shift()!;
      this.filled = true;
    } else if (!this.filled) {
      // The start: the pictures still to come are assumed a frame apart before the earliest one seen.
      dts = this.pool[0]! - (this.depthValue + 1 - this.pool.length) * this.frameDuration90k;
    } else {
      // The depth was raised: the pictures that will fill the window may come before any guess; wait one tick.
      dts = this.lastDts! + 1;
    }
    if (this.lastDts !== null && dts <= this.lastDts) dts = this.lastDts + 1;
    if (dts > pts) this.stats.lateForDisplay++;
    this.lastDts = dts;
    return dts;
  }
}

/**
 * The reorder depth an SPS declares: H.265's sps_max_num_reorder_pics; H.264's VUI max_num_reorder_frames, or 0
 * when pic_order_cnt_type is 2 (output order is decode order) or the profile is Baseline (no B slices). Null
 * when it does not say or cannot be read.
 */
export function declaredReorderDepth(codec: RtpVideoCodec, sps: Uint8Array): number | null {
  try {
    if (codec === 'h265') return parseH265Sps(sps).maxNumReorderPics;
    const info = parseH264Sps(sps);
    if (info.maxNumReorderFrames !== null) return info.maxNumReorderFrames;
    if (info.pocType === 2 || info.profileIdc === 66) return 0;
    return null;
  } catch {
    return null;
  }
}

function clampDepth(depth: number): number {
  return Math.max(0, Math.min(MAX_REORDER_DEPTH, Math.floor(depth)));
}

function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > value) i--;
  list.splice(i, 0, value);
}
