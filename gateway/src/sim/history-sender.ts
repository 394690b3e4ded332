/**
 * A simulated device's recording, sent for a Playback or Download INVITE (GB 9.8/9.9, brief §4.4): the camera's
 * loop stands for what it recorded over the requested span — recording frame n is loop frame n mod loop length,
 * captured at spanStart + n / fps — and goes out as PS over RTP, paced by the MediaPump like live video.
 *
 *  - PTS (and the RTP timestamp) are the recording time, as an NVR stamps its files: (spanStart + n / fps) ×
 *    90 kHz mod 2^33. A receiver sees a seek as a timestamp jump and a speed change as media time running
 *    faster than the wall clock.
 *  - Rate: frames per wall second = fps × scale (MANSRTSP Scale) × downloadSpeed (a=downloadspeed, Download).
 *  - PAUSE stops sending and keeps the position; PLAY (Range npt=now-) continues from it; PLAY with
 *    Range npt=<s>- jumps to the keyframe at or before <s> (the loop has one every second), so the receiver
 *    gets a decodable picture at once. Every PLAY restarts the pacing clock: no burst of "missed" frames.
 *  - When the position reaches the span's end the stream stops and `onEnd` fires once (the device then sends
 *    MediaStatus 121). Video only: the recording has no audio track.
 */
import { randomInt } from 'node:crypto';
import { PsMuxer } from '../codecs/ps/ps-muxer.js';
import { RtpPacketizer } from '../codecs/rtp/rtp.js';
import { MAX_RTP_PAYLOAD, PS_PAYLOAD_TYPE, type MediaStreamStats, type PumpedStream, type RtpSink } from './media-sender.js';
import type { VideoLoop } from './media-source.js';

const PTS_MODULO = 2 ** 33;
const RTP_TS_MODULO = 2 ** 32;
/** More frames than this behind (an event-loop stall) and the pacing restarts from the current frame. */
const MAX_BURST_FRAMES = 50;

export interface HistoryStreamOptions {
  video: VideoLoop;
  ssrc: number;
  sink: RtpSink;
  payloadType?: number;
  /** Epoch ms and length of the requested span (SDP t=). */
  spanStartMs: number;
  spanMs: number;
  /** a=downloadspeed (1 for Playback). */
  speed: number;
  /** The position reached the span's end. */
  onEnd: () => void;
}

export class HistoryStream implements PumpedStream {
  readonly stats: MediaStreamStats = { packets: 0, bytes: 0, videoFrames: 0, audioFrames: 0, droppedPackets: 0, skippedFrames: 0 };
  private readonly packetizer: RtpPacketizer;
  private readonly muxer: PsMuxer;
  private readonly frameMs: number;
  private readonly totalFrames: number;
  /** Next recording frame to send. */
  private frame = 0;
  private anchorMono = 0;
  private anchorFrame = 0;
  private scaleValue = 1;
  private started = false;
  private stopped = false;
  private paused = false;
  private ended = false;

  constructor(private readonly opts: HistoryStreamOptions) {
    this.packetizer = new RtpPacketizer({
      ssrc: opts.ssrc >>> 0,
      payloadType: opts.payloadType ?? PS_PAYLOAD_TYPE,
      maxPayload: MAX_RTP_PAYLOAD,
      initialSequence: randomInt(0, 0x10000),
    });
    this.muxer = new PsMuxer({ video: opts.video.codec });
    this.frameMs = 1000 / opts.video.fps;
    this.totalFrames = Math.ceil(opts.spanMs / this.frameMs);
  }

  get isStarted(): boolean {
    return this.started;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get scale(): number {
    return this.scaleValue;
  }

  /** Seconds from the span's start of the next frame. */
  get positionSec(): number {
    return (this.frame * this.frameMs) / 1000;
  }

  start(nowMono: number): void {
    if (this.started) return;
    this.started = true;
    this.anchor(nowMono);
  }

  pause(): void {
    this.paused = true;
  }

  /** PLAY: resume, optionally at another position (seconds from the span start) and/or speed. */
  play(nowMono: number, change: { offsetSec?: number; scale?: number } = {}): void {
    if (change.scale !== undefined) this.scaleValue = change.scale;
    if (change.offsetSec !== undefined) {
      const gop = this.opts.video.gop;
      const target = Math.floor((change.offsetSec * 1000) / this.frameMs);
      this.frame = Math.max(0, Math.min(Math.floor(target / gop) * gop, Math.max(0, this.totalFrames - 1)));
    }
    this.paused = false;
    this.anchor(nowMono);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.sink.close();
  }

  pump(nowMono: number): void {
    if (!this.started || this.stopped || this.paused || this.ended) return;
    const rate = this.scaleValue * this.opts.speed;
    const due = this.anchorFrame + Math.floor(((nowMono - this.anchorMono) * rate) / this.frameMs);
    if (due - this.frame > MAX_BURST_FRAMES) {
      this.stats.skippedFrames += due - this.frame;
      this.anchor(nowMono);
    }
    while (this.frame <= due && !this.stopped) {
      if (this.frame >= this.totalFrames) {
        this.ended = true;
        this.opts.onEnd();
        return;
      }
      this.sendFrame();
    }
  }

  private anchor(nowMono: number): void {
    this.anchorMono = nowMono;
    this.anchorFrame = this.frame;
  }

  private sendFrame(): void {
    const loop = this.opts.video;
    const f = loop.frames[this.frame % loop.frames.length]!;
    const pts = Math.round((this.opts.spanStartMs + this.frame * this.frameMs) * 90) % PTS_MODULO;
    this.frame++;
    const pack = this.muxer.muxVideo(f.data, pts, f.keyframe);
    for (const packet of this.packetizer.packetize(pack, pts % RTP_TS_MODULO, true)) {
      if (this.opts.sink.send(packet)) {
        this.stats.packets++;
        this.stats.bytes += packet.length;
      } else {
        this.stats.droppedPackets++;
        if (this.opts.sink.closed) {
          this.stopped = true;
          return;
        }
      }
    }
    this.stats.videoFrames++;
  }
}
