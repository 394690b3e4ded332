/**
 * RTP sequence-number reordering (pure: no I/O, no timers; the receiver owns the hold-time timer).
 *
 * Packets are released strictly in sequence order. A packet ahead of the next expected one waits in a
 * window of `window` packets; when a packet arrives that would not fit, the oldest gap is given up (counted
 * as lost) until it fits. 16-bit wraparound is handled by comparing sequence numbers modulo 2^16 (a distance
 * below 2^15 means "ahead"). A packet behind the expected one is a duplicate (if it was already released or is
 * waiting) or late (its gap was given up, or it is too old to tell) and is dropped either way.
 *
 * The start is held back too: the first packet to arrive is not necessarily the first one sent, so the first
 * `window / 2` packets (or whatever arrived when the receiver's hold time runs out) are collected and the run
 * starts at the lowest of them. Otherwise a stream whose first two packets swap would lose its first packet,
 * which for GB streams carries the pack header and PSM in front of the opening keyframe.
 *
 * Jumps follow RFC 3550 A.1: a packet more than MAX_DROPOUT ahead or more than MAX_MISORDER behind is taken as
 * a sender restart only when the next packet continues from it; then whatever waits is released and counting
 * starts over from the new number (not counted as loss: nothing was lost, the sender renumbered). Except when
 * the caller gives RTP timestamps and the jump is FORWARD with the timestamp advanced as far as that many
 * packets take at the stream's own pace (within a factor of LOSS_JUMP_TOLERANCE): that is no restart but a long
 * run of lost packets — a receive socket that overflowed for seconds (measured: 400 streams, runs of 3,000+
 * datagrams dropped in the kernel) — and it is counted as lost. A renumbering sender picks a random sequence
 * number; its timestamp does not advance in step with it. The receiver calls senderChanged() on an SSRC change,
 * after which the next jump is a restart again.
 *
 * Not taken from a library: the npm jitter buffers are WebRTC stacks' internals or time-based; what we need is
 * this page of sequence arithmetic with counters for the stream statistics.
 */

export interface ReorderStats {
  /** Sequence numbers given up (never released). */
  lost: number;
  /** Packets that arrived after a packet with a higher sequence number and were still released in order. */
  reordered: number;
  /** Packets received twice (the copy is dropped). */
  duplicates: number;
  /** Packets that arrived after their gap was given up, or too old to place (dropped). */
  late: number;
  /** Sender restarts (sequence jumps) followed. */
  resyncs: number;
  /** Forward jumps beyond MAX_DROPOUT whose timestamps show a run of loss, not a restart (their gaps are in `lost`). */
  lossJumps: number;
}

const MAX_DROPOUT = 3000;
/** A jump is loss when its timestamp advance is within this factor of the stream's ticks per sequence number × the jump. */
const LOSS_JUMP_TOLERANCE = 3;
/** Sequence numbers of in-order progress needed before the stream's pace is trusted for that judgement. */
const PACE_MIN_SEQUENCES = 100;
/** Sequence numbers remembered for telling duplicates from late packets; a power of two. */
const HISTORY = 1024;
const SKIPPED = 0x10000;
export const MAX_REORDER_WINDOW = 512;

export class ReorderBuffer<T> {
  readonly stats: ReorderStats = { lost: 0, reordered: 0, duplicates: 0, late: 0, resyncs: 0, lossJumps: 0 };
  private next: number | null = null;
  private highest = 0;
  private readonly waiting = new Map<number, T>();
  /** history[seq % HISTORY] = seq when released, seq | SKIPPED when given up, -1 when unknown. */
  private readonly history = new Int32Array(HISTORY).fill(-1);
  private restartCandidate: { seq: number; item: T; timestamp: number | undefined } | null = null;
  /** RTP timestamp of the packet with the highest sequence number, when the caller gives timestamps. */
  private highestTimestamp: number | undefined = undefined;
  /** The stream's pace: timestamp ticks advanced over sequence numbers advanced, summed over small steps. */
  private paceTicks = 0;
  private paceSequences = 0;
  private readonly maxMisorder: number;
  /** Collecting the first packets to find where the run starts. */
  private starting = false;
  private readonly startDepth: number;

  constructor(readonly window = 32) {
    if (!Number.isInteger(window) || window < 1 || window > MAX_REORDER_WINDOW) {
      throw new RangeError(`reorder window must be 1..${MAX_REORDER_WINDOW} packets, got ${window}`);
    }
    this.maxMisorder = Math.max(100, window * 2);
    this.startDepth = Math.max(1, Math.floor(window / 2));
  }

  /** Packets waiting for a gap before them to fill. */
  get pending(): number {
    return this.waiting.size;
  }

  /** The sender changed (another SSRC): forget its pace, so the next jump is a restart, never loss. */
  senderChanged(): void {
    this.highestTimestamp = undefined;
    this.paceTicks = 0;
    this.paceSequences = 0;
  }

  /**
   * Adds one packet; returns the items now ready, in order. `timestamp` (the RTP timestamp, optional) lets a
   * long forward jump be told apart as loss (see the file comment).
   */
  push(seq: number, item: T, timestamp?: number): T[] {
    seq &= 0xffff;
    const out: T[] = [];
    if (this.next === null) {
      this.next = seq;
      this.highest = seq;
      this.highestTimestamp = timestamp;
      this.starting = true;
    }
    if (this.starting) {
      if (this.pushWhileStarting(seq, item, timestamp)) {
        if (this.waiting.size >= this.startDepth) this.endStart(out);
        return out;
      }
      this.endStart(out); // far off the first packets: stop waiting and handle it normally
    }
    const ahead = (seq - this.next) & 0xffff;
    if (ahead < 0x8000) {
      if (ahead > MAX_DROPOUT) return this.maybeRestart(seq, item, timestamp, out);
      if (this.restartCandidate !== null) {
        // The held jump was a stray packet: the stream went on with the old numbers.
        this.stats.late++;
        this.restartCandidate = null;
      }
      if (this.waiting.has(seq)) {
        this.stats.duplicates++;
        return out;
      }
      const behindHighest = (this.highest - seq) & 0xffff;
      if (behindHighest !== 0 && behindHighest < 0x8000) this.stats.reordered++;
      else this.newHighest(seq, timestamp);
      // Make room: give up the oldest gaps until `seq` fits in the window.
      while (((seq - this.next) & 0xffff) >= this.window) this.advance(out);
      if (seq === this.next) this.release(seq, item, out);
      else this.waiting.set(seq, item);
      this.drain(out);
      return out;
    }
    const behind = 0x10000 - ahead;
    const seen = this.history[seq & (HISTORY - 1)];
    if (seen === seq) this.stats.duplicates++;
    else if (seen === (seq | SKIPPED)) this.stats.late++;
    else if (behind > this.maxMisorder) return this.maybeRestart(seq, item, timestamp, out);
    else this.stats.late++;
    return out;
  }

  /**
   * Gives up the gap in front of the oldest waiting packet and releases what follows it (the receiver calls
   * this when the head gap has waited too long). Returns [] when nothing waits.
   */
  skipGap(): T[] {
    const out: T[] = [];
    if (this.starting) {
      this.endStart(out);
      return out;
    }
    if (this.next === null || this.waiting.size === 0) return out;
    while (!this.waiting.has(this.next)) this.advance(out);
    this.drain(out);
    return out;
  }

  /** Releases everything waiting (in order), counting the gaps between as lost. */
  flush(): T[] {
    const out: T[] = [];
    while (this.waiting.size > 0) out.push(...this.skipGap());
    return out;
  }

  /** While starting: keeps a packet near the first ones, moving the start back if it is older. False if far off. */
  private pushWhileStarting(seq: number, item: T, timestamp: number | undefined): boolean {
    const ahead = (seq - this.next!) & 0xffff;
    const behind = (this.next! - seq) & 0xffff;
    if (ahead >= this.window && behind >= this.window) return false;
    if (this.waiting.has(seq)) {
      this.stats.duplicates++;
      return true;
    }
    const behindHighest = (this.highest - seq) & 0xffff;
    if (behindHighest !== 0 && behindHighest < 0x8000) this.stats.reordered++;
    else this.newHighest(seq, timestamp);
    if (behind !== 0 && behind < 0x8000) this.next = seq;
    this.waiting.set(seq, item);
    return true;
  }

  private endStart(out: T[]): void {
    this.starting = false;
    this.drain(out);
  }

  /** Moves `next` one step: releases the waiting packet there or counts it lost. */
  private advance(out: T[]): void {
    const seq = this.next!;
    const item = this.waiting.get(seq);
    if (item !== undefined) {
      this.waiting.delete(seq);
      this.release(seq, item, out);
      return;
    }
    this.stats.lost++;
    this.history[seq & (HISTORY - 1)] = seq | SKIPPED;
    this.next = (seq + 1) & 0xffff;
  }

  private release(seq: number, item: T, out: T[]): void {
    out.push(item);
    this.history[seq & (HISTORY - 1)] = seq;
    this.next = (seq + 1) & 0xffff;
  }

  private drain(out: T[]): void {
    for (let item = this.waiting.get(this.next!); item !== undefined; item = this.waiting.get(this.next!)) {
      this.waiting.delete(this.next!);
      this.release(this.next!, item, out);
    }
  }

  /** `seq` became the highest sequence number: learn the pace from a small forward step. */
  private newHighest(seq: number, timestamp: number | undefined): void {
    const step = (seq - this.highest) & 0xffff;
    if (timestamp !== undefined && this.highestTimestamp !== undefined && step > 0 && step <= MAX_DROPOUT) {
      // Signed: audio and video packets of one PS stream carry their own timestamps, so single steps may go
      // back a little; the sum over the stream is its advance.
      this.paceTicks += (timestamp - this.highestTimestamp) | 0;
      this.paceSequences += step;
    }
    this.highest = seq;
    if (timestamp !== undefined) this.highestTimestamp = timestamp;
  }

  /** A forward jump from the highest packet to (`seq`, `timestamp`) whose timestamp advanced in step with it. */
  private jumpIsLoss(seq: number, timestamp: number | undefined): boolean {
    if (timestamp === undefined || this.highestTimestamp === undefined || this.paceSequences < PACE_MIN_SEQUENCES) return false;
    const ticksPerSequence = this.paceTicks / this.paceSequences;
    if (!(ticksPerSequence > 0)) return false;
    const jump = (seq - this.highest) & 0xffff;
    if (jump === 0 || jump >= 0x8000) return false;
    const advanced = (timestamp - this.highestTimestamp) | 0;
    const expected = jump * ticksPerSequence;
    return advanced > 0 && advanced >= expected / LOSS_JUMP_TOLERANCE && advanced <= expected * LOSS_JUMP_TOLERANCE;
  }

  private maybeRestart(seq: number, item: T, timestamp: number | undefined, out: T[]): T[] {
    const candidate = this.restartCandidate;
    if (candidate === null || seq !== ((candidate.seq + 1) & 0xffff)) {
      // Either a stray packet or the first of a renumbered stream: hold it until the next one tells.
      if (candidate !== null) this.stats.late++;
      this.restartCandidate = { seq, item, timestamp };
      return out;
    }
    this.restartCandidate = null;
    if (this.jumpIsLoss(candidate.seq, candidate.timestamp)) {
      // A long run of loss: give up every gap up to the jump (released waiting packets in order, the rest
      // counted lost), then go on as if the packets had come in order.
      this.stats.lossJumps++;
      while (this.next !== candidate.seq) this.advance(out);
      this.release(candidate.seq, candidate.item, out);
      this.newHighest(candidate.seq, candidate.timestamp);
      this.release(seq, item, out);
      this.newHighest(seq, timestamp);
      return out;
    }
    this.stats.resyncs++;
    // Release what waited (in order) without counting the jump as loss, then continue from the new numbers.
    while (this.waiting.size > 0) {
      while (!this.waiting.has(this.next!)) this.next = (this.next! + 1) & 0xffff;
      this.drain(out);
    }
    this.history.fill(-1);
    this.release(candidate.seq, candidate.item, out);
    this.release(seq, item, out);
    this.highest = seq;
    this.highestTimestamp = timestamp;
    return out;
  }
}
