/**
 * One movie fragment (moof + mdat) with any number of tracks (ISO/IEC 14496-12 §8.8): mfhd, and per track a
 * traf with tfhd (default-base-is-moof), tfdt (version 1, 64-bit decode time) and a version-1 trun carrying
 * per-sample duration, size, flags and signed composition-time offset (B-frames: PTS − DTS may be negative
 * after reordering). The mdat holds each track's samples in turn. Pure.
 */
import { Fmp4InputError } from './avc-config.js';

export interface Fmp4Sample {
  /** In the track's timescale. */
  duration: number;
  /** PTS − DTS in the track's timescale (0 without B-frames). */
  compositionTimeOffset: number;
  keyframe: boolean;
  /**
   * Video: length-prefixed NAL units (see `lengthPrefixed`), or the NAL units to prefix while the mdat is
   * written (`naluSample`: one copy of each frame instead of two); audio: one raw frame.
   */
  data: Uint8Array | NaluSample;
}

/** A video sample as its NAL units (out-of-band ones already left out); `length` is the prefixed size. */
export interface NaluSample {
  readonly nalus: readonly Uint8Array[];
  readonly length: number;
}

export interface FragmentTrack {
  trackId: number;
  /** tfdt: decode time of the first sample, in the track's timescale. */
  baseMediaDecodeTime: number;
  samples: readonly Fmp4Sample[];
}

/** sample_depends_on = 2 (depends on no other sample). */
const SYNC_SAMPLE_FLAGS = 0x02000000;
/** sample_depends_on = 1, sample_is_non_sync_sample = 1. */
const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

const TRUN_FLAGS = 0x000001 /* data-offset */ | 0x000100 /* duration */ | 0x000200 /* size */ | 0x000400 /* flags */ | 0x000800; /* CTO */

export function buildFragment(sequenceNumber: number, tracks: readonly FragmentTrack[]): Uint8Array {
  const nonEmpty = tracks.filter((t) => t.samples.length > 0);
  if (nonEmpty.length === 0) throw new Fmp4InputError('a fragment needs at least one sample');
  // Sizes first (every box here has a fixed layout), then one buffer written front to back: the moof, the
  // mdat header and the sample data. One allocation per fragment; building the boxes from small arrays cost
  // a quarter of the gateway's CPU at 200 streams (bench/RESULTS.md, "Stream scale").
  let moofSize = MOOF_HEADER + MFHD_SIZE;
  let dataSize = 0;
  for (const track of nonEmpty) {
    moofSize += TRAF_FIXED + TRUN_ENTRY * track.samples.length;
    for (const sample of track.samples) {
      if (!(sample.duration >= 0 && sample.duration <= 0xffffffff)) throw new Fmp4InputError(`sample duration out of range: ${sample.duration}`);
      dataSize += sample.data.length;
    }
  }
  for (const track of nonEmpty) {
    if (!Number.isSafeInteger(track.baseMediaDecodeTime) || track.baseMediaDecodeTime < 0) {
      throw new RangeError(`u64 field out of range: ${track.baseMediaDecodeTime}`);
    }
  }
  const total = moofSize + 8 + dataSize;
  // Every byte is written below: no zero-filling (the fragment is most of the gateway's per-frame memory traffic).
  const out = new Uint8Array(Buffer.allocUnsafeSlow(total).buffer, 0, total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  const header = (size: number, type: number): void => {
    view.setUint32(at, size);
    view.setUint32(at + 4, type);
    at += 8;
  };
  const fullHeader = (size: number, type: number, version: number, flags: number): void => {
    header(size, type);
    view.setUint32(at, ((version & 0xff) << 24) | (flags & 0xffffff));
    at += 4;
  };
  header(moofSize, BOX_MOOF);
  fullHeader(MFHD_SIZE, BOX_MFHD, 0, 0);
  view.setUint32(at, sequenceNumber >>> 0);
  at += 4;
  let dataOffset = moofSize + 8; // first sample byte, relative to the moof start (default-base-is-moof)
  for (const track of nonEmpty) {
    const n = track.samples.length;
    const trunSize = TRUN_FIXED + TRUN_ENTRY * n;
    header(TRAF_FIXED - TRUN_FIXED + trunSize, BOX_TRAF);
    fullHeader(TFHD_SIZE, BOX_TFHD, 0, 0x020000 /* default-base-is-moof */);
    view.setUint32(at, track.trackId >>> 0);
    at += 4;
    fullHeader(TFDT_SIZE, BOX_TFDT, 1, 0);
    view.setUint32(at, Math.floor(track.baseMediaDecodeTime / 2 ** 32));
    view.setUint32(at + 4, track.baseMediaDecodeTime >>> 0);
    at += 8;
    fullHeader(trunSize, BOX_TRUN, 1, TRUN_FLAGS);
    view.setUint32(at, n);
    view.setInt32(at + 4, dataOffset | 0);
    at += 8;
    for (const sample of track.samples) {
      view.setUint32(at, sample.duration >>> 0);
      view.setUint32(at + 4, sample.data.length);
      view.setUint32(at + 8, sample.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS);
      view.setInt32(at + 12, sample.compositionTimeOffset | 0);
      at += TRUN_ENTRY;
      dataOffset += sample.data.length;
    }
  }
  header(8 + dataSize, BOX_MDAT);
  for (const track of nonEmpty) {
    for (const sample of track.samples) {
      const data = sample.data;
      if (data instanceof Uint8Array) {
        out.set(data, at);
        at += data.length;
      } else {
        at = writeLengthPrefixed(out, view, at, data.nalus);
      }
    }
  }
  return out;
}

const fourccValue = (type: string): number => ((type.charCodeAt(0) << 24) | (type.charCodeAt(1) << 16) | (type.charCodeAt(2) << 8) | type.charCodeAt(3)) >>> 0;
const BOX_MOOF = fourccValue('moof');
const BOX_MFHD = fourccValue('mfhd');
const BOX_TRAF = fourccValue('traf');
const BOX_TFHD = fourccValue('tfhd');
const BOX_TFDT = fourccValue('tfdt');
const BOX_TRUN = fourccValue('trun');
const BOX_MDAT = fourccValue('mdat');
const MOOF_HEADER = 8;
/** mfhd: full box header + sequence_number. */
const MFHD_SIZE = 12 + 4;
/** tfhd: full box header + track_ID (no optional fields). */
const TFHD_SIZE = 12 + 4;
/** tfdt version 1: full box header + 64-bit baseMediaDecodeTime. */
const TFDT_SIZE = 12 + 8;
/** trun without entries: full box header + sample_count + data_offset. */
const TRUN_FIXED = 12 + 4 + 4;
/** Per sample: duration, size, flags, composition time offset. */
const TRUN_ENTRY = 16;
/** traf header + tfhd + tfdt + trun without entries. */
const TRAF_FIXED = 8 + TFHD_SIZE + TFDT_SIZE + TRUN_FIXED;

/** NAL unit types that live in the sample entry (parameter sets) or carry nothing for a decoder (AUD). */
const H264_OUT_OF_BAND = new Set([7, 8, 9]);
const H265_OUT_OF_BAND = new Set([32, 33, 34, 35]);

/**
 * A picture's NAL units as an avc1/hvc1 sample: 4-byte big-endian lengths, parameter sets and access unit
 * delimiters dropped (they are in the init segment; 'avc1'/'hvc1' promise they are not in band).
 */
export function lengthPrefixed(codec: 'h264' | 'h265', nalus: readonly Uint8Array[]): Uint8Array {
  const sample = naluSample(codec, nalus);
  const out = new Uint8Array(sample.length);
  writeLengthPrefixed(out, new DataView(out.buffer), 0, sample.nalus);
  return out;
}

/** Writes each NAL unit after its 4-byte length at `at`; returns where the next byte goes. */
function writeLengthPrefixed(out: Uint8Array, view: DataView, at: number, nalus: readonly Uint8Array[]): number {
  for (const nal of nalus) {
    view.setUint32(at, nal.length);
    out.set(nal, at + 4);
    at += 4 + nal.length;
  }
  return at;
}

/**
 * The same sample without copying: the NAL units `lengthPrefixed` would write (views, not copies) and its
 * size; buildFragment writes the prefixes and the bytes straight into the mdat. The views must stay unchanged
 * until the fragment is built (the PS demuxer's frames are never reused).
 */
export function naluSample(codec: 'h264' | 'h265', nalus: readonly Uint8Array[]): NaluSample {
  const outOfBand = codec === 'h264' ? H264_OUT_OF_BAND : H265_OUT_OF_BAND;
  const kept: Uint8Array[] = [];
  let length = 0;
  for (const nal of nalus) {
    if (nal.length === 0 || outOfBand.has(codec === 'h264' ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f)) continue;
    kept.push(nal);
    length += 4 + nal.length;
  }
  return { nalus: kept, length };
}
