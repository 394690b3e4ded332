/**
 * The RTMP source: one publisher of the RTMP ingest server (protocol/rtmp) → FLV tag bodies (codecs/flv) →
 * access units on the core's timeline, through the same assembler as the GB and RTSP sources (parameters,
 * epochs, timing rules in one place).
 *
 * RTMP timing: tags carry a 32-bit millisecond DTS; video tags add a signed composition time (PTS = DTS + CTS,
 * B-frames pass through; a negative CTS moves the decode clock back, never the presentation time). SPS/PPS (VPS) come once in the decoder configuration record and are put in front of
 * every keyframe that lacks them. AAC frames are raw; they are given ADTS headers from the AudioSpecificConfig
 * so the assembler treats them like a camera's. A codec this gateway cannot serve (Sorenson, VP6, MP3, G.711 in
 * FLV …) is reported once as an `error` and its tags are dropped and counted; a publisher with no usable video
 * ends the source with that reason.
 */
import { EventEmitter } from 'node:events';
import { adtsHeaderFor } from '../../../codecs/aac/adts.js';
import { parseAudioTag, parseVideoTag } from '../../../codecs/flv/flv-tags.js';
import type { EsFrame } from '../../../codecs/ps/ps-demuxer.js';
import type { TrackParameters } from '../../core/access-unit.js';
import { PsAccessUnitAssembler, type AssemblerStats } from '../gb28181/ps-access-units.js';
import type { SourceStats, StreamSource, StreamSourceEvents } from '../source.js';

const WRAP33 = 2 ** 33;

export class RtmpSource extends EventEmitter<StreamSourceEvents> implements StreamSource {
  readonly kind = 'rtmp';
  private readonly assembler: PsAccessUnitAssembler;
  private lastUnitAt: number | null = null;
  private closed = false;
  private nalLengthSize = 4;
  /** Largest negative composition time seen (ms): how far the publisher's tag times run ahead of decode times. */
  private dtsLeadMs = 0;
  private videoCodec: 'h264' | 'h265' | null = null;
  private paramSets: Uint8Array[] = [];
  private aacConfig: Uint8Array | null = null;
  /** Audio this gateway cannot use was seen: do not hold video waiting for it. */
  private audioUnusable = false;
  private readonly reported = new Set<string>();
  private readonly dropped: Record<string, number> = { unsupportedVideo: 0, unsupportedAudio: 0, malformedTags: 0, framesBeforeConfig: 0 };
  /** Tags seen (for "no usable video" after a while). */
  private videoTags = 0;
  private usableVideoTags = 0;

  /**
   * @param close what ends the publisher's connection (the ingest server's publisher.close)
   * @param expectAudio wait briefly for audio at the start (from the publisher's metadata: audiocodecid)
   */
  constructor(
    private readonly closePublisher: (reason: string) => void,
    private readonly expectAudio = true,
  ) {
    super();
    this.assembler = new PsAccessUnitAssembler({
      parameters: (tracks, epoch) => this.emit('parameters', tracks, epoch),
      unit: (unit) => {
        this.lastUnitAt = unit.receivedAt;
        this.emit('unit', unit);
      },
    });
  }

  get tracks(): readonly TrackParameters[] {
    return this.assembler.tracks;
  }

  get epoch(): number {
    return this.assembler.epoch;
  }

  stats(): SourceStats & { assembler: AssemblerStats } {
    const s = this.assembler.stats;
    const dropped: Record<string, number> = { ...this.dropped };
    for (const [k, v] of Object.entries(s.dropped)) dropped[k] = v;
    return { videoUnits: s.videoUnits, audioUnits: s.audioUnits, bytes: s.bytes, epoch: s.epoch, lastUnitAt: this.lastUnitAt, dropped, assembler: s };
  }

  /** One FLV tag body from the publisher. */
  tag(type: 'audio' | 'video', timestampMs: number, body: Uint8Array, receivedAt = Date.now()): void {
    if (this.closed) return;
    if (type === 'video') this.video(timestampMs, body, receivedAt);
    else this.audio(timestampMs, body, receivedAt);
  }

  /** The publisher went away: the source ends with its reason. */
  publisherGone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.assembler.flush();
    this.emit('ended', `rtmp publisher stopped: ${reason}`);
  }

  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closePublisher(reason);
  }

  private report(key: string, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.emit('error', new Error(message));
  }

  private video(ts: number, body: Uint8Array, receivedAt: number): void {
    this.videoTags++;
    const tag = parseVideoTag(body, this.nalLengthSize);
    switch (tag.kind) {
      case 'config':
        if (this.videoCodec !== null && this.videoCodec !== tag.codec) this.assembler.discontinuity();
        this.videoCodec = tag.codec;
        this.nalLengthSize = tag.nalLengthSize;
        this.paramSets = [...tag.vps, ...tag.sps, ...tag.pps];
        return;
      case 'frame': {
        if (!this.videoCodec || this.paramSets.length === 0) {
          this.dropped.framesBeforeConfig!++;
          return;
        }
        this.usableVideoTags++;
        const codec = tag.codec;
        const isParamSet = (n: Uint8Array): boolean => (codec === 'h264' ? [7, 8].includes(n[0]! & 0x1f) : [32, 33, 34].includes((n[0]! >> 1) & 0x3f));
        const nalus = tag.keyframe && !tag.nalus.some(isParamSet) ? [...this.paramSets, ...tag.nalus] : tag.nalus;
        const start = Buffer.of(0, 0, 0, 1);
        const data = Buffer.concat(nalus.flatMap((n) => [start, Buffer.from(n.buffer, n.byteOffset, n.byteLength)]));
        // A negative composition time (some encoders stamp the tag with a decode time shifted to the first
        // picture's presentation time) would put PTS before DTS, and the assembler would clamp PTS = DTS,
        // reordering nothing and showing B-frames out of order. The decode clock is moved back by the largest
        // negative offset seen instead, so PTS passes through exactly and DTS ≤ PTS holds.
        if (-tag.compositionTimeMs > this.dtsLeadMs) this.dtsLeadMs = -tag.compositionTimeMs;
        const dts = ((ts - this.dtsLeadMs) * 90 + WRAP33) % WRAP33;
        const pts = ((ts + tag.compositionTimeMs) * 90 + WRAP33) % WRAP33;
        this.assembler.push({ kind: 'video', codec, pts90k: pts, dts90k: dts, keyframe: tag.keyframe, data } satisfies EsFrame, receivedAt, this.expectAudio && !this.audioUnusable);
        return;
      }
      case 'end':
        return;
      case 'unsupported':
        this.dropped.unsupportedVideo!++;
        this.report(`v:${tag.what}`, `rtmp: unsupported ${tag.what} (publish H.264 or H.265)`);
        if (this.videoTags >= 50 && this.usableVideoTags === 0) {
          this.closed = true;
          this.closePublisher(`unsupported ${tag.what}`);
          this.emit('ended', `rtmp publisher sends ${tag.what}; this gateway takes H.264 or H.265`);
        }
        return;
      case 'malformed':
        this.dropped.malformedTags!++;
        this.report(`vm:${tag.why}`, `rtmp: malformed video tag (${tag.why})`);
        return;
    }
  }

  private audio(ts: number, body: Uint8Array, receivedAt: number): void {
    const tag = parseAudioTag(body);
    switch (tag.kind) {
      case 'config':
        this.aacConfig = tag.config;
        return;
      case 'frame': {
        if (!this.aacConfig) return;
        const header = adtsHeaderFor(this.aacConfig, tag.data.length);
        const data = Buffer.concat([Buffer.from(header), Buffer.from(tag.data)]);
        const pts = (ts * 90) % WRAP33;
        this.assembler.push({ kind: 'audio', codec: 'aac', pts90k: pts, dts90k: pts, keyframe: true, data } satisfies EsFrame, receivedAt);
        return;
      }
      case 'unsupported':
        this.dropped.unsupportedAudio!++;
        this.audioUnusable = true;
        this.report(`a:${tag.what}`, `rtmp: unsupported ${tag.what} dropped (publish AAC for sound)`);
        return;
      case 'malformed':
        this.dropped.malformedTags!++;
        return;
    }
  }
}
