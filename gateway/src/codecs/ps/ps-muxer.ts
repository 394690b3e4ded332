/**
 * MPEG-2 Program Stream muxer shaped like a GB/T 28181 camera's output (GB 2022 Annex C), for the device
 * simulator and the tests. Pure: frames in, PS bytes out.
 *
 * One pack per frame. Keyframe packs carry pack header + system header + PSM before the PES, other packs just
 * the pack header + PES, as cameras do (the PSM is what lets a receiver joining at a keyframe know the codecs;
 * ffmpeg mistakes audio for MP2 without it, brief §5.4). A frame larger than one PES can hold is split over
 * several PES packets in the same pack; only the first carries the PTS (ISO 13818-1: a PTS belongs to the
 * access unit that starts in its PES) and the data_alignment_indicator. The SCR is the frame's PTS.
 *
 * Written by hand: the structures are a few fixed bit layouts, and no maintained npm package writes MPEG-PS.
 */
import {
  AUDIO_STREAM_ID,
  crc32Mpeg2,
  streamTypeOf,
  VIDEO_STREAM_ID,
  type AudioCodec,
  type VideoCodec,
} from './stream-types.js';

export interface PsMuxerOptions {
  video: VideoCodec;
  audio?: AudioCodec;
  /**
   * Largest PES payload in bytes (default 65 000, under the 16-bit PES_packet_length limit of 65 535 including
   * the PES header; GB cameras use 64 KB or less).
   */
  maxPesPayload?: number;
}

/** Bytes of a PES header with PTS after the 6-byte packet prefix: flags (2) + header length (1) + PTS (5). */
const PES_HEADER_WITH_PTS = 3 + 5;
const PES_HEADER_WITHOUT_PTS = 3;
const MAX_PES_PACKET_LENGTH = 0xffff;
/** Program mux rate in units of 50 bytes/s (ISO 13818-1 §2.5.3.4): 20 000 × 50 B/s = 8 Mbit/s, ample for GB streams. */
const MUX_RATE = 20_000;
const TIMESTAMP_MODULO = 2 ** 33;

export class PsMuxer {
  private readonly maxPesPayload: number;
  private readonly systemHeader: Buffer;
  private readonly psm: Buffer;

  constructor(private readonly opts: PsMuxerOptions) {
    const limit = MAX_PES_PACKET_LENGTH - PES_HEADER_WITH_PTS;
    this.maxPesPayload = Math.min(opts.maxPesPayload ?? 65_000, limit);
    if (!Number.isInteger(this.maxPesPayload) || this.maxPesPayload < 1) {
      throw new RangeError(`maxPesPayload must be a positive integer, got ${opts.maxPesPayload}`);
    }
    this.systemHeader = buildSystemHeader(opts.audio !== undefined);
    this.psm = buildProgramStreamMap(opts.video, opts.audio);
  }

  /** Pack header (+ system header + PSM on keyframes) + the access unit's PES packet(s). */
  /** `dts90k` (B-frames: decode time before the presentation time) is written only when it differs from the PTS. */
  muxVideo(accessUnit: Buffer, pts90k: number, keyframe: boolean, dts90k?: number): Buffer {
    const parts = [packHeader(dts90k ?? pts90k)];
    if (keyframe) parts.push(this.systemHeader, this.psm);
    parts.push(...this.pesPackets(VIDEO_STREAM_ID, accessUnit, pts90k, dts90k));
    return Buffer.concat(parts);
  }

  /**
   * Offset of the first PES header's PTS field in a pack muxVideo / muxAudio returns, so a sender can mux a
   * frame once and re-stamp copies of the pack's head with restampPack() (the simulator's shared loops: 400
   * cameras playing one clip differ only in these 10 bytes and the RTP header). Not for packs with a DTS.
   */
  ptsOffset(kind: 'video' | 'audio', keyframe: boolean): number {
    return PACK_HEADER_LENGTH + (kind === 'video' && keyframe ? this.systemHeader.length + this.psm.length : 0) + 9;
  }

  /** Pack header + the audio frame's PES (G.711 raw bytes, AAC as ADTS). */
  muxAudio(frame: Buffer, pts90k: number): Buffer {
    if (!this.opts.audio) throw new Error('PsMuxer was created without an audio codec');
    return Buffer.concat([packHeader(pts90k), ...this.pesPackets(AUDIO_STREAM_ID, frame, pts90k)]);
  }

  private pesPackets(streamId: number, data: Buffer, pts90k: number, dts90k?: number): Buffer[] {
    const packets: Buffer[] = [];
    let offset = 0;
    do {
      const first = offset === 0;
      const end = Math.min(offset + this.maxPesPayload, data.length);
      packets.push(pesPacket(streamId, data.subarray(offset, end), first ? pts90k : null, first && dts90k !== undefined && dts90k !== pts90k ? dts90k : null));
      offset = end;
    } while (offset < data.length);
    return packets;
  }
}

function normaliseTimestamp(ts: number): number {
  if (!Number.isFinite(ts)) throw new RangeError(`timestamp must be a finite number, got ${ts}`);
  return ((Math.floor(ts) % TIMESTAMP_MODULO) + TIMESTAMP_MODULO) % TIMESTAMP_MODULO;
}

const PACK_HEADER_LENGTH = 14;

/**
 * Re-stamp a pack muxed without DTS: write `pts90k` as its SCR (pack header at `packOffset`) and as the first
 * PES's PTS (at `packOffset + ptsOffset`, see PsMuxer.ptsOffset). Gives the same bytes muxing with `pts90k`.
 */
export function restampPack(out: Buffer, packOffset: number, ptsOffset: number, pts90k: number): void {
  const ts = normaliseTimestamp(pts90k);
  writeScr(out, packOffset, ts);
  writeTimestamp(out, packOffset + ptsOffset, 0x2, ts);
}

/** SCR base = `scr`, extension 0, in bytes 4..9 of the pack header at `offset`. */
function writeScr(out: Buffer, offset: number, scr: number): void {
  const high = Math.floor(scr / 2 ** 30); // bits 32..30
  const low = scr % 2 ** 30; // bits 29..0
  out[offset + 4] = 0x40 | (high << 3) | 0x04 | (low >>> 28);
  out[offset + 5] = (low >>> 20) & 0xff;
  out[offset + 6] = (((low >>> 15) & 0x1f) << 3) | 0x04 | ((low >>> 13) & 0x03);
  out[offset + 7] = (low >>> 5) & 0xff;
  out[offset + 8] = ((low & 0x1f) << 3) | 0x04; // SCR extension bits 8..7 = 0
  out[offset + 9] = 0x01; // SCR extension bits 6..0 = 0, marker
}

/** MPEG-2 pack header, 14 bytes, no stuffing; SCR base = the PTS, SCR extension 0. */
function packHeader(pts90k: number): Buffer {
  const out = Buffer.alloc(PACK_HEADER_LENGTH);
  out.writeUInt32BE(0x000001ba, 0);
  writeScr(out, 0, normaliseTimestamp(pts90k));
  out[10] = (MUX_RATE >>> 14) & 0xff;
  out[11] = (MUX_RATE >>> 6) & 0xff;
  out[12] = ((MUX_RATE & 0x3f) << 2) | 0x03;
  out[13] = 0xf8; // reserved bits, pack_stuffing_length 0
  return out;
}

/** System header listing the video (and audio) stream with P-STD buffer bounds. */
function buildSystemHeader(withAudio: boolean): Buffer {
  const streams: Array<[number, number]> = [
    // [stream_id, P-STD bytes1-2]: '11' + scale + 13-bit size. Video: scale 1024 × 400 = 400 KB.
    [VIDEO_STREAM_ID, 0xc000 | 0x2000 | 400],
  ];
  if (withAudio) streams.push([AUDIO_STREAM_ID, 0xc000 | 32]); // audio: scale 128 × 32 = 4 KB
  const length = 6 + 3 * streams.length;
  const out = Buffer.alloc(6 + length);
  out.writeUInt32BE(0x000001bb, 0);
  out.writeUInt16BE(length, 4);
  const rateBound = MUX_RATE;
  out[6] = 0x80 | ((rateBound >>> 15) & 0x7f);
  out[7] = (rateBound >>> 7) & 0xff;
  out[8] = ((rateBound & 0x7f) << 1) | 0x01;
  out[9] = ((withAudio ? 1 : 0) << 2) | 0x00; // audio_bound, fixed_flag 0, CSPS_flag 0
  out[10] = 0xe0 | 1; // system_audio_lock, system_video_lock, marker, video_bound 1
  out[11] = 0x7f; // packet_rate_restriction 0, reserved
  streams.forEach(([id, bound], i) => {
    out[12 + 3 * i] = id;
    out.writeUInt16BE(bound, 13 + 3 * i);
  });
  return out;
}

/** PSM with one entry per stream, no descriptors, CRC-32/MPEG-2 over the whole map (ISO 13818-1 §2.5.4). */
export function buildProgramStreamMap(video: VideoCodec, audio?: AudioCodec): Buffer {
  const entries: Array<[number, number]> = [[streamTypeOf(video), VIDEO_STREAM_ID]];
  if (audio) entries.push([streamTypeOf(audio), AUDIO_STREAM_ID]);
  const mapLength = 4 * entries.length;
  const total = 6 + 2 + 2 + 2 + mapLength + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(0x000001bc, 0);
  out.writeUInt16BE(total - 6, 4);
  out[6] = 0xe0; // current_next_indicator 1, reserved, version 0
  out[7] = 0xff; // reserved, marker
  out.writeUInt16BE(0, 8); // program_stream_info_length
  out.writeUInt16BE(mapLength, 10);
  entries.forEach(([streamType, streamId], i) => {
    out[12 + 4 * i] = streamType;
    out[13 + 4 * i] = streamId;
    out.writeUInt16BE(0, 14 + 4 * i); // elementary_stream_info_length
  });
  out.writeUInt32BE(crc32Mpeg2(out.subarray(0, total - 4)), total - 4);
  return out;
}

function pesPacket(streamId: number, payload: Buffer, pts90k: number | null, dts90k: number | null = null): Buffer {
  const withDts = pts90k !== null && dts90k !== null;
  const headerLength = pts90k === null ? PES_HEADER_WITHOUT_PTS : PES_HEADER_WITH_PTS + (withDts ? 5 : 0);
  const out = Buffer.alloc(6 + headerLength + payload.length);
  out.writeUInt32BE(0x00000100 | streamId, 0);
  out.writeUInt16BE(headerLength + payload.length, 4);
  out[6] = pts90k === null ? 0x80 : 0x84; // '10', data_alignment_indicator on the first PES of a frame
  out[7] = pts90k === null ? 0x00 : withDts ? 0xc0 : 0x80; // PTS_DTS_flags '11' or '10'
  out[8] = headerLength - 3;
  if (pts90k !== null) writeTimestamp(out, 9, withDts ? 0x3 : 0x2, normaliseTimestamp(pts90k));
  if (withDts) writeTimestamp(out, 14, 0x1, normaliseTimestamp(dts90k));
  payload.copy(out, 6 + headerLength);
  return out;
}

/** 5-byte PES timestamp: prefix(4) ts[32..30] 1 | ts[29..15] 1 | ts[14..0] 1. */
function writeTimestamp(out: Buffer, offset: number, prefix: number, ts: number): void {
  const high = Math.floor(ts / 2 ** 30);
  const low = ts % 2 ** 30;
  out[offset] = (prefix << 4) | (high << 1) | 0x01;
  out.writeUInt16BE((((low >>> 15) & 0x7fff) << 1) | 0x01, offset + 1);
  out.writeUInt16BE(((low & 0x7fff) << 1) | 0x01, offset + 3);
}
