/**
 * One movie fragment (moof + mdat) with any number of tracks (ISO/IEC 14496-12 §8.8): mfhd, and per track a
 * traf with tfhd (default-base-is-moof), tfdt (version 1, 64-bit decode time) and a version-1 trun carrying
 * per-sample duration, size, flags and signed composition-time offset (B-frames: PTS − DTS may be negative
 * after reordering). The mdat holds each track's samples in turn. Pure.
 */
import { Fmp4InputError } from './avc-config.js';
import { box, concatBytes, fullBox, i32, u32, u64 } from './boxes.js';

export interface Fmp4Sample {
  /** In the track's timescale. */
  duration: number;
  /** PTS − DTS in the track's timescale (0 without B-frames). */
  compositionTimeOffset: number;
  keyframe: boolean;
  /** Video: length-prefixed NAL units (see `lengthPrefixed`); audio: one raw frame. */
  data: Uint8Array;
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
  // The trun data offsets depend on the moof size, which does not depend on the offsets' values: build the
  // moof once with zero offsets to measure it, then again with the real ones.
  const build = (dataOffsets: readonly number[]): Uint8Array =>
    box('moof', fullBox('mfhd', 0, 0, u32(sequenceNumber)), ...nonEmpty.map((t, i) => traf(t, dataOffsets[i] ?? 0)));
  const moofSize = build([]).length;
  const offsets: number[] = [];
  let offset = moofSize + 8; // mdat header
  for (const track of nonEmpty) {
    offsets.push(offset);
    for (const sample of track.samples) offset += sample.data.length;
  }
  // moof, mdat header and sample data written once into one buffer (the samples are the bulk: no extra copy).
  const moof = build(offsets);
  const out = new Uint8Array(offset);
  out.set(moof, 0);
  new DataView(out.buffer).setUint32(moofSize, offset - moofSize);
  out.set([0x6d, 0x64, 0x61, 0x74], moofSize + 4); // 'mdat'
  let at = moofSize + 8;
  for (const track of nonEmpty) {
    for (const sample of track.samples) {
      out.set(sample.data, at);
      at += sample.data.length;
    }
  }
  return out;
}

function traf(track: FragmentTrack, dataOffset: number): Uint8Array {
  const entries: Uint8Array[] = [];
  for (const sample of track.samples) {
    if (!(sample.duration >= 0 && sample.duration <= 0xffffffff)) throw new Fmp4InputError(`sample duration out of range: ${sample.duration}`);
    entries.push(
      u32(sample.duration),
      u32(sample.data.length),
      u32(sample.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS),
      i32(sample.compositionTimeOffset),
    );
  }
  return box(
    'traf',
    fullBox('tfhd', 0, 0x020000 /* default-base-is-moof */, u32(track.trackId)),
    fullBox('tfdt', 1, 0, u64(track.baseMediaDecodeTime)),
    fullBox('trun', 1, TRUN_FLAGS, u32(track.samples.length), i32(dataOffset), ...entries),
  );
}

/** NAL unit types that live in the sample entry (parameter sets) or carry nothing for a decoder (AUD). */
const H264_OUT_OF_BAND = new Set([7, 8, 9]);
const H265_OUT_OF_BAND = new Set([32, 33, 34, 35]);

/**
 * A picture's NAL units as an avc1/hvc1 sample: 4-byte big-endian lengths, parameter sets and access unit
 * delimiters dropped (they are in the init segment; 'avc1'/'hvc1' promise they are not in band).
 */
export function lengthPrefixed(codec: 'h264' | 'h265', nalus: readonly Uint8Array[]): Uint8Array {
  const kept = nalus.filter((nal) => {
    if (nal.length === 0) return false;
    const type = codec === 'h264' ? nal[0] & 0x1f : (nal[0] >> 1) & 0x3f;
    return !(codec === 'h264' ? H264_OUT_OF_BAND : H265_OUT_OF_BAND).has(type);
  });
  return concatBytes(kept.flatMap((nal) => [u32(nal.length), nal]));
}
