/**
 * MPEG-2 Program Stream demuxer for GB/T 28181 media (ISO/IEC 13818-1 §2.5, GB 2022 Annex C): PS bytes in,
 * complete elementary-stream frames out. Pure (no I/O, no timers) and total: it never throws on input, it
 * counts what it had to skip.
 *
 * Written by hand because no maintained npm package demuxes MPEG-PS (mux.js and the other JS demuxers handle
 * MPEG-TS only), and because ffmpeg's own PS demuxer cannot take GB streams as they come: it maps G.711 on
 * 0xC0 to MP2 and misdetects audio when the PSM is missing (protocol brief §5.4).
 *
 * Parsing. The input is a byte stream in arrival order (RTP payloads concatenated after reordering); any
 * split is fine. Packets are located by start codes 00 00 01 xx with xx ≥ 0xB9:
 *  - BA pack header (MPEG-2: 14 bytes + stuffing `byte[13] & 7`; MPEG-1: 12 bytes), B9 end code (4 bytes);
 *  - BB system header, BD private 1 (Hikvision data), BE padding, BF private 2, F0–FF: skipped by length;
 *  - BC program stream map: stream types of the elementary streams (0x1B H.264, 0x24 H.265, 0x90 G.711A,
 *    0x91 G.711U, 0x0F AAC); the CRC is not checked (devices get it wrong: one public simulator computes it
 *    from the third byte of the start code on);
 *  - E0–EF video and C0–DF audio PES with optional PTS/DTS (33-bit, 90 kHz).
 * Anything else is garbage: bytes are dropped up to the next start code ≥ 0xB9 (one resync per run). A PES
 * whose announced length runs into the next pack (a lost UDP packet shortened it) is cut at the embedded start
 * code: inside Annex-B video 00 00 01 is always followed by a NAL header < 0x80, so any 00 00 01 ≥ 0xB9
 * inside a video PES is the next packet; for other packets only a pack start (00 00 01 BA) is trusted. Video
 * PES with length 0 ("unbounded", TS style) run to the next such start code.
 *
 * Framing. Video PES payloads are concatenated into one access unit until a video PES starts the next one:
 * it carries a PTS different from the current frame's, or (no PTS / same PTS) its payload begins with a NAL
 * unit that starts a new access unit while the current one already holds a picture. The pack header is NOT a
 * frame boundary: some encoders split one frame over several packs. A frame is emitted when the next one
 * starts (one frame of latency, 40 ms at 25 fps) or on `flush()`. PES not aligned to access units (ffmpeg's
 * generic mpeg muxer) yield frames that straddle AU borders, but the byte stream stays intact, which is all
 * an `-f h264` / `-f hevc` pipe needs. Audio PES are emitted one by one (G.711 raw bytes, AAC as ADTS).
 * Each kind comes out in arrival order; across kinds an audio frame may come out before the video frame that
 * was sent just ahead of it (that frame is still being collected), so consumers order by kind, not globally.
 *
 * Start. Video is emitted only from the first keyframe on, audio only once video has started (or when the PSM
 * announces no video): the packager has to start with a decodable picture and the parameter sets in front of
 * it (brief §5.4, ffmpeg pitfalls: a stream joined mid-GOP has neither PSM nor SPS until the next key frame),
 * and audio from before that point would only push the first segment's start back. A codec change or a dropped
 * oversized frame waits for the next keyframe again.
 *
 * The demuxer may keep references to pushed buffers until the frame using them is emitted; emitted frame data
 * is never a view of a pushed buffer: it is a fresh copy, or a view of a buffer the demuxer put together itself
 * from several pushed ones (which nothing else holds or writes).
 */
import { findNalUnits, hasPicture, isKeyframeAccessUnit, isKeyframeNalType, nalType, sniffVideoCodec, startsAccessUnit, type NalUnitRef } from './annexb.js';
import {
  audioCodecOfStreamType,
  crc32Mpeg2,
  isAudioStreamId,
  isVideoStreamId,
  videoCodecOfStreamType,
  type AudioCodec,
  type VideoCodec,
} from './stream-types.js';

export type { AudioCodec, VideoCodec } from './stream-types.js';

export interface EsFrame {
  kind: 'video' | 'audio';
  codec: VideoCodec | AudioCodec;
  /** 33-bit 90 kHz PTS as sent (no wrap-around unfolding), null when the PES carried none. */
  pts90k: number | null;
  /** DTS, or the PTS when the PES carried no DTS (ISO 13818-1: DTS absent means DTS = PTS). */
  dts90k: number | null;
  /** Video: the AU holds IDR/SPS (H.264) or IRAP/VPS (H.265). Audio frames are always true. */
  keyframe: boolean;
  /** Video: Annex-B access unit; G.711: raw bytes; AAC: ADTS. */
  data: Buffer;
  /** Video: the NAL units of `data` (the demuxer scanned them for the keyframe flag; consumers need not again). */
  nalUnits?: NalUnitRef[];
}

export interface PsDemuxerStats {
  packs: number;
  /** Audio and video PES packets seen (any stream id in C0–EF). */
  pesPackets: number;
  /** Garbage runs skipped to find the next start code. */
  resyncs: number;
  droppedBytes: number;
  psms: number;
  videoFrames: number;
  audioFrames: number;
  /** Video frames discarded while waiting for a keyframe (plus audio PES before video started). */
  framesBeforeKeyframe: number;
  /** PES cut short because the next packet started inside the announced length. */
  truncatedPes: number;
  /** PES whose header does not parse (MPEG-1 PES, header longer than the packet …). */
  malformedPes: number;
  /** PES of streams whose codec we do not handle (SVAC, MPEG-4, G.729 …) or cannot tell. */
  unsupportedPes: number;
  /** Video frames larger than `maxFrameBytes`, dropped. */
  oversizedFrames: number;
}

export interface PsmEntry {
  streamType: number;
  streamId: number;
}

export interface ProgramStreamMap {
  version: number;
  entries: PsmEntry[];
  /** CRC-32/MPEG-2 over the PSM as ISO 13818-1 defines it; informational only. */
  crcValid: boolean;
}

export interface PsDemuxerOptions {
  /** Largest video access unit kept (default 8 MiB); larger ones are dropped and counted. */
  maxFrameBytes?: number;
}

/** Parses a complete PSM packet (from its 00 00 01 BC start code to its end). Null if it does not parse. */
export function parseProgramStreamMap(packet: Buffer): ProgramStreamMap | null {
  if (packet.length < 16 || packet[3] !== 0xbc) return null;
  const end = Math.min(packet.length, 6 + packet.readUInt16BE(4));
  const infoLength = packet.readUInt16BE(8);
  let offset = 10 + infoLength;
  if (offset + 2 > end) return null;
  const mapEnd = Math.min(offset + 2 + packet.readUInt16BE(offset), end);
  offset += 2;
  const entries: PsmEntry[] = [];
  while (offset + 4 <= mapEnd) {
    entries.push({ streamType: packet[offset]!, streamId: packet[offset + 1]! });
    offset += 4 + packet.readUInt16BE(offset + 2);
  }
  const crcValid = end >= 10 && crc32Mpeg2(packet.subarray(0, end - 4)) === packet.readUInt32BE(end - 4);
  return { version: packet[6]! & 0x1f, entries, crcValid };
}

/** 33-bit timestamp from the 5-byte PES encoding (marker bits not checked: devices set them carelessly). */
function readTimestamp(buf: Buffer, offset: number): number {
  return (
    ((buf[offset]! >> 1) & 0x07) * 2 ** 30 +
    buf[offset + 1]! * 2 ** 22 +
    (buf[offset + 2]! >> 1) * 2 ** 15 +
    buf[offset + 3]! * 2 ** 7 +
    (buf[offset + 4]! >> 1)
  );
}

const START_CODE = Buffer.from([0, 0, 1]);

/**
 * Offset of the next 00 00 01 xx with xx ≥ 0xB9 (a PS packet start) at or after `from`, or of a start code
 * whose id byte has not arrived yet; -1 if none.
 */
function findPacketStart(buf: Buffer, from: number, to = buf.length): number {
  let at = buf.indexOf(START_CODE, from);
  while (at >= 0 && at + 3 <= to) {
    if (at + 3 === to || buf[at + 3]! >= 0xb9) return at;
    at = buf.indexOf(START_CODE, at + 1);
  }
  return -1;
}

/** Offset of a packet start inside [from, to) that proves the announced length wrong (see module comment). */
function findEmbeddedPacketStart(buf: Buffer, from: number, to: number, video: boolean): number {
  let at = buf.indexOf(START_CODE, from);
  while (at >= 0 && at + 3 < to) {
    const id = buf[at + 3]!;
    if (video ? id >= 0xb9 : id === 0xba) return at;
    at = buf.indexOf(START_CODE, at + 1);
  }
  return -1;
}

interface PendingFrame {
  parts: Buffer[];
  bytes: number;
  /** Every part is a view of a buffer the demuxer assembled itself (nobody else holds or writes it). */
  owned: boolean;
  pts: number | null;
  dts: number | null;
  overflowed: boolean;
}

interface PesHeader {
  pts: number | null;
  dts: number | null;
  payloadStart: number;
}

export class PsDemuxer {
  readonly stats: PsDemuxerStats = {
    packs: 0,
    pesPackets: 0,
    resyncs: 0,
    droppedBytes: 0,
    psms: 0,
    videoFrames: 0,
    audioFrames: 0,
    framesBeforeKeyframe: 0,
    truncatedPes: 0,
    malformedPes: 0,
    unsupportedPes: 0,
    oversizedFrames: 0,
  };

  private readonly maxFrameBytes: number;
  /** Unconsumed input; parsed once `buffered >= need` so a big PES is copied together once, not per chunk. */
  private chunks: Buffer[] = [];
  /** chunks[0] is the rest of a buffer the demuxer assembled (not the caller's). */
  private firstChunkOwned = false;
  /** The buffer being parsed is the demuxer's own. */
  private parsingOwned = false;
  private buffered = 0;
  private need = 4;
  private inGarbage = false;
  /** Inside a length-0 video PES: payload runs to the next packet start code. */
  private inUnboundedVideoPes = false;
  /** Whether that payload belongs to the video stream we output (else it is skipped). */
  private unboundedPayloadWanted = false;
  /** Timestamps of that PES until its first payload bytes arrive (they decide whether a new frame starts). */
  private unboundedStart: { pts: number | null; dts: number | null } | null = null;

  private lastPsm: ProgramStreamMap | null = null;
  private videoStreamId: number | null = null;
  private audioStreamId: number | null = null;
  /** From the PSM: the codec, null for an unsupported stream type, undefined when the PSM has no such stream. */
  private psmVideoCodec: VideoCodec | null | undefined;
  private psmAudioCodec: AudioCodec | null | undefined;
  private sniffedVideoCodec: VideoCodec | null = null;
  private sniffedAudioCodec: AudioCodec | null = null;

  private pending: PendingFrame | null = null;
  private videoStarted = false;
  private lastVideoCodec: VideoCodec | null = null;

  constructor(opts: PsDemuxerOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? 8 * 1024 * 1024;
  }

  /** Codecs from the last PSM, else from sniffing the payloads. */
  get streams(): { video?: VideoCodec; audio?: AudioCodec } {
    const video = this.currentVideoCodec();
    const audio = this.psmAudioCodec !== undefined ? this.psmAudioCodec : this.sniffedAudioCodec;
    return { ...(video ? { video } : {}), ...(audio ? { audio } : {}) };
  }

  /** The last program stream map seen (stream types of unsupported codecs are visible here). */
  get psm(): ProgramStreamMap | null {
    return this.lastPsm;
  }

  /** Feed PS bytes in arrival order; returns the frames completed by them. */
  push(psBytes: Buffer): EsFrame[] {
    const out: EsFrame[] = [];
    if (psBytes.length === 0) return out;
    this.chunks.push(psBytes);
    this.buffered += psBytes.length;
    if (this.buffered < this.need) return out;
    const single = this.chunks.length === 1;
    const buf = single ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.parsingOwned = single ? this.firstChunkOwned : true;
    const consumed = this.parse(buf, out);
    const rest = buf.subarray(consumed);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.firstChunkOwned = rest.length > 0 && this.parsingOwned;
    this.buffered = rest.length;
    return out;
  }

  /** End of stream: emits the frame still being collected (if it may be emitted). */
  flush(): EsFrame[] {
    const out: EsFrame[] = [];
    this.inUnboundedVideoPes = false;
    this.unboundedStart = null;
    this.finishVideoFrame(out);
    return out;
  }

  private currentVideoCodec(): VideoCodec | null {
    return this.psmVideoCodec !== undefined ? this.psmVideoCodec : this.sniffedVideoCodec;
  }

  /** Parses as much of `buf` as possible; returns the number of bytes consumed and sets `need`. */
  private parse(buf: Buffer, out: EsFrame[]): number {
    const length = buf.length;
    let p = 0;
    for (;;) {
      if (this.inUnboundedVideoPes) {
        const next = findPacketStart(buf, p);
        // Wait for the first few payload bytes (start code + NAL header + slice header byte) to frame it.
        if (this.unboundedStart && next < 0 && length - p < 11) {
          this.need = 0;
          return p;
        }
        // Keep the last bytes back when no start code is in sight: they may be the first half of one.
        const end = next >= 0 ? next : Math.max(p, length - 3);
        if (end > p && this.unboundedPayloadWanted) {
          const payload = buf.subarray(p, end);
          if (this.unboundedStart) this.startVideoPes(payload, this.unboundedStart.pts, this.unboundedStart.dts, out);
          else this.appendVideoPayload(payload, null, null);
        }
        if (end > p) this.unboundedStart = null;
        p = end;
        if (next < 0 || next + 3 >= length) {
          this.need = 0;
          return p;
        }
        this.inUnboundedVideoPes = false;
        this.unboundedStart = null;
        continue;
      }

      if (length - p < 4) {
        this.need = 4;
        return p;
      }
      if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1 || buf[p + 3]! < 0xb9) {
        p = this.skipGarbage(buf, p + 1, p);
        if (length - p < 4) {
          this.need = 4;
          return p;
        }
        continue;
      }

      const id = buf[p + 3]!;
      if (id === 0xba) {
        if (length - p < 14) {
          this.need = 14;
          return p;
        }
        const b4 = buf[p + 4]!;
        const size = (b4 & 0xc0) === 0x40 ? 14 + (buf[p + 13]! & 7) : (b4 & 0xf0) === 0x20 ? 12 : 0;
        if (size === 0) {
          p = this.skipGarbage(buf, p + 1, p);
          continue;
        }
        if (length - p < size) {
          this.need = size;
          return p;
        }
        this.stats.packs++;
        this.inGarbage = false;
        p += size;
        continue;
      }
      if (id === 0xb9) {
        this.inGarbage = false;
        p += 4;
        continue;
      }

      if (length - p < 6) {
        this.need = 6;
        return p;
      }
      const declared = buf.readUInt16BE(p + 4);
      const video = isVideoStreamId(id);
      if (declared === 0 && video) {
        if (length - p < 9 || length - p < 9 + buf[p + 8]!) {
          this.need = length - p < 9 ? 9 : 9 + buf[p + 8]!;
          return p;
        }
        const headerEnd = p + 9 + buf[p + 8]!;
        this.inUnboundedVideoPes = true;
        this.unboundedPayloadWanted = this.handlePes(id, buf.subarray(p, headerEnd), out, true);
        this.inGarbage = false;
        p = headerEnd;
        continue;
      }
      const total = 6 + declared;
      if (length - p < total) {
        this.need = total;
        return p;
      }
      let end = p + total;
      const scanFrom = isAudioStreamId(id) || video ? Math.min(end, p + 9 + (buf[p + 8] ?? 0)) : p + 6;
      const cut = findEmbeddedPacketStart(buf, scanFrom, end, video);
      if (cut >= 0) {
        this.stats.truncatedPes++;
        end = cut;
      }
      this.handlePacket(id, buf.subarray(p, end), out);
      this.inGarbage = false;
      p = end;
    }
  }

  /** Drops bytes from `from` up to the next packet start; returns the new position. */
  private skipGarbage(buf: Buffer, from: number, garbageStart: number): number {
    const next = findPacketStart(buf, from);
    const to = next >= 0 ? next : Math.max(garbageStart, buf.length - 3);
    if (!this.inGarbage) {
      this.stats.resyncs++;
      this.inGarbage = true;
    }
    this.stats.droppedBytes += to - garbageStart;
    return to;
  }

  private handlePacket(id: number, packet: Buffer, out: EsFrame[]): void {
    if (id === 0xbc) {
      const psm = parseProgramStreamMap(packet);
      if (psm) this.applyPsm(psm, out);
      return;
    }
    if (isVideoStreamId(id) || isAudioStreamId(id)) this.handlePes(id, packet, out);
    // BB system header, BD/BF private streams, BE padding, F0–FF: nothing for us.
  }

  private applyPsm(psm: ProgramStreamMap, out: EsFrame[]): void {
    this.stats.psms++;
    this.lastPsm = psm;
    const video = psm.entries.find((entry) => isVideoStreamId(entry.streamId));
    const audio = psm.entries.find((entry) => isAudioStreamId(entry.streamId));
    const videoCodec = video ? videoCodecOfStreamType(video.streamType) : undefined;
    // The frame being collected was sent under the old map: close it before the codec changes under it.
    if (videoCodec !== this.psmVideoCodec) this.finishVideoFrame(out);
    this.videoStreamId = video ? video.streamId : this.videoStreamId;
    this.audioStreamId = audio ? audio.streamId : this.audioStreamId;
    this.psmVideoCodec = videoCodec;
    this.psmAudioCodec = audio ? audioCodecOfStreamType(audio.streamType) : undefined;
  }

  private parsePesHeader(packet: Buffer): PesHeader | null {
    if (packet.length < 9 || (packet[6]! & 0xc0) !== 0x80) return null;
    const flags = packet[7]! >> 6;
    const headerLength = packet[8]!;
    const payloadStart = 9 + headerLength;
    if (payloadStart > packet.length && packet.readUInt16BE(4) !== 0) return null;
    const pts = flags & 2 && headerLength >= 5 ? readTimestamp(packet, 9) : null;
    const dts = flags === 3 && headerLength >= 10 ? readTimestamp(packet, 14) : pts;
    return { pts, dts, payloadStart: Math.min(payloadStart, packet.length) };
  }

  private acceptsVideo(id: number): boolean {
    if (this.videoStreamId === null) this.videoStreamId = id;
    return id === this.videoStreamId && this.psmVideoCodec !== null;
  }

  /** Returns true if the PES belongs to a stream we output. */
  private handlePes(id: number, packet: Buffer, out: EsFrame[], unbounded = false): boolean {
    this.stats.pesPackets++;
    const header = this.parsePesHeader(packet);
    if (!header) {
      this.stats.malformedPes++;
      return false;
    }
    const payload = packet.subarray(header.payloadStart);
    if (isVideoStreamId(id)) {
      if (!this.acceptsVideo(id)) {
        this.stats.unsupportedPes++;
        return false;
      }
      if (unbounded) this.unboundedStart = { pts: header.pts, dts: header.dts };
      else this.startVideoPes(payload, header.pts, header.dts, out);
      return true;
    }
    if (this.audioStreamId === null) this.audioStreamId = id;
    if (id !== this.audioStreamId || this.psmAudioCodec === null) {
      this.stats.unsupportedPes++;
      return false;
    }
    this.emitAudio(payload, header.pts, header.dts, out);
    return true;
  }

  /** A video PES begins: decide whether it continues the pending frame or starts the next one. */
  private startVideoPes(payload: Buffer, pts: number | null, dts: number | null, out: EsFrame[]): void {
    const pending = this.pending;
    if (pending) {
      let boundary: boolean;
      if (pts !== null && pending.pts !== null) {
        boundary = pts !== pending.pts || this.payloadStartsNewPicture(payload, pending);
      } else if (pts !== null) {
        boundary = this.pendingHasPicture(pending);
      } else {
        boundary = this.payloadStartsNewPicture(payload, pending);
      }
      if (boundary) {
        this.finishVideoFrame(out);
      } else if (pending.pts === null && pts !== null) {
        // Parameter sets came in a PES without PTS; the picture's PES names the frame's time.
        pending.pts = pts;
        pending.dts = dts;
      }
    }
    this.appendVideoPayload(payload, pts, dts);
  }

  private payloadStartsNewPicture(payload: Buffer, pending: PendingFrame): boolean {
    const codec = this.currentVideoCodec() ?? sniffVideoCodec(payload);
    if (!codec) return false;
    let header = -1;
    if (payload[0] === 0 && payload[1] === 0) {
      if (payload[2] === 1) header = 3;
      else if (payload[2] === 0 && payload[3] === 1) header = 4;
    }
    return header > 0 && startsAccessUnit(payload, header, codec) && this.pendingHasPicture(pending);
  }

  private pendingHasPicture(pending: PendingFrame): boolean {
    if (pending.overflowed || pending.bytes === 0) return pending.overflowed;
    const data = Buffer.concat(pending.parts, pending.bytes);
    const codec = this.currentVideoCodec() ?? sniffVideoCodec(data);
    return codec !== null && hasPicture(data, codec);
  }

  private appendVideoPayload(payload: Buffer, pts: number | null, dts: number | null): void {
    let pending = this.pending;
    if (!pending) {
      pending = this.pending = { parts: [], bytes: 0, owned: true, pts, dts, overflowed: false };
    }
    if (pending.overflowed) return;
    if (pending.bytes + payload.length > this.maxFrameBytes) {
      pending.overflowed = true;
      pending.parts = [];
      pending.bytes = 0;
      return;
    }
    if (payload.length > 0) {
      pending.parts.push(payload);
      pending.bytes += payload.length;
      pending.owned &&= this.parsingOwned;
    }
  }

  private finishVideoFrame(out: EsFrame[]): void {
    const pending = this.pending;
    this.pending = null;
    if (!pending) return;
    if (pending.overflowed) {
      this.stats.oversizedFrames++;
      this.videoStarted = false;
      return;
    }
    if (pending.bytes === 0) return;
    // A frame in one PES of a buffer the demuxer assembled is handed out as a view of it (most frames of a
    // stream sent in RTP packets: their PES was put together from the packets' payloads already).
    const data = pending.owned && pending.parts.length === 1 ? pending.parts[0]! : Buffer.concat(pending.parts, pending.bytes);
    let codec = this.currentVideoCodec();
    if (!codec) {
      codec = sniffVideoCodec(data);
      if (!codec) {
        this.stats.unsupportedPes++;
        return;
      }
      this.sniffedVideoCodec = codec;
    }
    if (codec !== this.lastVideoCodec) {
      this.lastVideoCodec = codec;
      this.videoStarted = false;
    }
    const nalUnits = findNalUnits(data);
    const keyframe = nalUnits.some((nal) => isKeyframeNalType(codec, nalType(codec, data[nal.header]!)));
    if (!this.videoStarted) {
      if (!keyframe) {
        this.stats.framesBeforeKeyframe++;
        return;
      }
      this.videoStarted = true;
    }
    this.stats.videoFrames++;
    out.push({ kind: 'video', codec, pts90k: pending.pts, dts90k: pending.dts, keyframe, data, nalUnits });
  }

  /**
   * The frame being collected already shows keyframe NAL units, so it will be emitted as the first video frame:
   * audio sent with it (in the same GOP) must not be dropped just because the frame is not complete yet.
   */
  private pendingIsKeyframe(): boolean {
    const pending = this.pending;
    const codec = this.currentVideoCodec();
    if (!pending || pending.overflowed || pending.bytes === 0) return false;
    const data = Buffer.concat(pending.parts, pending.bytes);
    const effective = codec ?? sniffVideoCodec(data);
    return effective !== null && isKeyframeAccessUnit(data, effective);
  }

  /** Whether audio has to wait for video: yes unless the PSM says there is no usable video. */
  private videoExpected(): boolean {
    if (this.psmVideoCodec === null) return false; // video in a codec we do not output (SVAC, MPEG-4)
    if (this.psmVideoCodec !== undefined) return true;
    // No PSM yet: GB streams carry video, so wait for it; a PSM without video makes the stream audio-only.
    return this.lastPsm === null || this.videoStreamId !== null;
  }

  private emitAudio(payload: Buffer, pts: number | null, dts: number | null, out: EsFrame[]): void {
    if (payload.length === 0) return;
    let codec = this.psmAudioCodec;
    if (codec === undefined) {
      // No PSM entry: ADTS sync word means AAC; otherwise assume G.711 A-law, the GB default audio codec.
      this.sniffedAudioCodec ??= payload[0] === 0xff && (payload[1]! & 0xf0) === 0xf0 ? 'aac' : 'g711a';
      codec = this.sniffedAudioCodec;
    }
    if (codec === null) return;
    if (this.videoExpected() && !this.videoStarted && !this.pendingIsKeyframe()) {
      this.stats.framesBeforeKeyframe++;
      return;
    }
    this.stats.audioFrames++;
    out.push({ kind: 'audio', codec, pts90k: pts, dts90k: dts, keyframe: true, data: Buffer.from(payload) });
  }
}
