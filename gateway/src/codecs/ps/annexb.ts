/**
 * Annex-B byte streams (ITU-T H.264 / H.265 Annex B): NAL unit scanning, access-unit splitting, keyframe
 * detection and codec sniffing. Pure; results are subarrays of the input (no copies).
 *
 * Written by hand: no maintained npm package does only this, and the rules fit in a page:
 *  - NAL units start after 00 00 01 (or 00 00 00 01). Emulation prevention guarantees 00 00 01 never occurs
 *    inside a NAL unit, and the NAL header's forbidden_zero_bit keeps the next byte below 0x80.
 *  - Access-unit boundaries follow H.264 §7.4.1.2.3 / H.265 §7.4.2.4.4: after a picture's VCL NAL units, an
 *    AUD, parameter set, prefix SEI (or reserved prefix types) starts a new AU, and so does a VCL NAL unit
 *    that begins a new picture (H.264 first_mb_in_slice = 0, i.e. the first slice-header bit is 1; H.265
 *    first_slice_segment_in_pic_flag = 1). Multi-slice pictures therefore stay one AU.
 *  - Keyframe: H.264 IDR (5) or SPS (7); H.265 IRAP (16–21) or VPS (32). GB encoders send parameter sets
 *    only in front of I-frames, so their presence marks a random-access point even without IDR
 *    (open-GOP / recovery-point streams).
 */
import type { VideoCodec } from './stream-types.js';

export interface NalUnitRef {
  /** Offset of the start code (the leading zero of a 4-byte start code included). */
  start: number;
  /** Offset of the NAL header, right after 00 00 01. */
  header: number;
  /** End (exclusive): where the next start code begins, or the buffer end. */
  end: number;
}

const START_CODE = Buffer.from([0, 0, 1]);

/** All NAL units of an Annex-B buffer, in order. Bytes before the first start code are not part of any. */
export function findNalUnits(buf: Buffer): NalUnitRef[] {
  const nals: NalUnitRef[] = [];
  let found = buf.indexOf(START_CODE);
  while (found >= 0) {
    const start = found > 0 && buf[found - 1] === 0 ? found - 1 : found;
    const header = found + 3;
    const next = buf.indexOf(START_CODE, header);
    const end = next < 0 ? buf.length : next > header && buf[next - 1] === 0 ? next - 1 : next;
    if (header < buf.length) nals.push({ start, header, end: Math.max(end, header) });
    found = next;
  }
  return nals;
}

export function nalType(codec: VideoCodec, headerByte: number): number {
  return codec === 'h264' ? headerByte & 0x1f : (headerByte >> 1) & 0x3f;
}

export function isVclNalType(codec: VideoCodec, type: number): boolean {
  return codec === 'h264' ? type >= 1 && type <= 5 : type <= 31;
}

export function isKeyframeNalType(codec: VideoCodec, type: number): boolean {
  return codec === 'h264' ? type === 5 || type === 7 : (type >= 16 && type <= 21) || type === 32;
}

/**
 * True if the NAL unit at `header` starts a new access unit once the current AU already holds a picture
 * (see the module comment). Needs the byte after the NAL header for slices; a cut-off slice counts as
 * "not a new picture".
 */
export function startsAccessUnit(buf: Buffer, header: number, codec: VideoCodec): boolean {
  const b0 = buf[header];
  if (b0 === undefined) return false;
  const type = nalType(codec, b0);
  if (codec === 'h264') {
    if (type === 9 || type === 7 || type === 8 || type === 6 || (type >= 14 && type <= 18)) return true;
    if (type === 1 || type === 2 || type === 5) return ((buf[header + 1] ?? 0) & 0x80) !== 0;
    return false;
  }
  if ((buf[header + 1] ?? 0) >> 3 !== 0 || (b0 & 1) !== 0) return false; // nuh_layer_id > 0: enhancement layer
  if (type === 35 || (type >= 32 && type <= 34) || type === 39 || (type >= 41 && type <= 44) || (type >= 48 && type <= 55)) {
    return true;
  }
  if (type <= 31) return ((buf[header + 2] ?? 0) & 0x80) !== 0;
  return false;
}

/**
 * Splits an Annex-B elementary stream into access units (subarrays, start codes included). Concatenating the
 * result gives the input from its first start code on. The last AU is returned as is, even if the stream was
 * cut in the middle of it.
 */
export function splitAnnexBAccessUnits(buf: Buffer, codec: VideoCodec): Buffer[] {
  const units: Buffer[] = [];
  const nals = findNalUnits(buf);
  if (nals.length === 0) return units;
  let auStart = nals[0]!.start;
  let auHasPicture = false;
  for (const nal of nals) {
    if (auHasPicture && startsAccessUnit(buf, nal.header, codec)) {
      units.push(buf.subarray(auStart, nal.start));
      auStart = nal.start;
      auHasPicture = false;
    }
    if (isVclNalType(codec, nalType(codec, buf[nal.header]!))) auHasPicture = true;
  }
  units.push(buf.subarray(auStart));
  return units;
}

/** True if the access unit holds a VCL NAL unit (a coded picture). */
export function hasPicture(au: Buffer, codec: VideoCodec): boolean {
  return findNalUnits(au).some((nal) => isVclNalType(codec, nalType(codec, au[nal.header]!)));
}

export function isKeyframeAccessUnit(au: Buffer, codec: VideoCodec): boolean {
  return findNalUnits(au).some((nal) => isKeyframeNalType(codec, nalType(codec, au[nal.header]!)));
}

/**
 * Guesses H.264 vs H.265 from NAL headers, for streams whose PSM has not arrived (or never does). Each NAL
 * header votes for the codec under which it reads as a plausible, commonly used unit:
 *  - H.264: slice/IDR/SEI/SPS/PPS/AUD (1, 5, 6, 7, 8, 9) with a consistent nal_ref_idc (IDR/SPS/PPS ≠ 0,
 *    SEI/AUD = 0);
 *  - H.265: layer 0, temporal id 1–7 (second byte 0x01–0x07) and a used type (0–9, 16–21, 32–40).
 * The common units of one codec never read as plausible units of the other (H.265 VPS 40 01 is H.264 type 0,
 * H.264 SPS 67 is H.265 type 51), so a handful of NAL units settles it. Null when undecided.
 */
export function sniffVideoCodec(au: Buffer): VideoCodec | null {
  let h264Votes = 0;
  let h265Votes = 0;
  for (const nal of findNalUnits(au)) {
    const b0 = au[nal.header]!;
    const b1 = au[nal.header + 1];
    if ((b0 & 0x80) !== 0) continue;
    const type264 = b0 & 0x1f;
    const refIdc = (b0 >> 5) & 3;
    if (
      type264 === 1 ||
      ((type264 === 5 || type264 === 7 || type264 === 8) && refIdc !== 0) ||
      ((type264 === 6 || type264 === 9) && refIdc === 0)
    ) {
      h264Votes++;
    }
    const type265 = (b0 >> 1) & 0x3f;
    if (
      (b0 & 1) === 0 &&
      b1 !== undefined &&
      b1 >= 1 &&
      b1 <= 7 &&
      (type265 <= 9 || (type265 >= 16 && type265 <= 21) || (type265 >= 32 && type265 <= 40))
    ) {
      h265Votes++;
    }
  }
  if (h264Votes === h265Votes) return null;
  return h264Votes > h265Votes ? 'h264' : 'h265';
}
