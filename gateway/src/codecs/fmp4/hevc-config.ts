/**
 * HEVCDecoderConfigurationRecord ('hvcC', ISO/IEC 14496-15 §8.3.3) from raw VPS/SPS/PPS, and the RFC 6381 /
 * ISO/IEC 14496-15 Annex E codec string ("hvc1.1.6.L93.B0"). The record repeats the SPS's
 * general_profile_tier_level, chroma format and bit depths, so the SPS is parsed up to those fields here
 * (H.265 §7.3.2.2). Pure.
 */
import { Fmp4InputError } from './avc-config.js';
import { BitReader, unescapeRbsp } from './bit-reader.js';
import { box, concatBytes, u16, u32, u8 } from './boxes.js';

export interface HevcSpsInfo {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flags, bit 31 = flag 0 as in the bitstream. */
  profileCompatibilityFlags: number;
  /** The 6 bytes of general constraint indicator flags. */
  constraintIndicatorFlags: Uint8Array;
  levelIdc: number;
  maxSubLayersMinus1: number;
  temporalIdNesting: boolean;
  chromaFormatIdc: number;
  bitDepthLumaMinus8: number;
  bitDepthChromaMinus8: number;
  width: number;
  height: number;
}

export function parseHevcSps(nal: Uint8Array): HevcSpsInfo {
  try {
    return parseSpsUnchecked(nal);
  } catch (err) {
    if (err instanceof RangeError) throw new Fmp4InputError(`H.265 SPS truncated (${nal.length} bytes): ${err.message}`);
    throw err;
  }
}

function parseSpsUnchecked(nal: Uint8Array): HevcSpsInfo {
  const rbsp = unescapeRbsp(nal);
  const nalType = (rbsp[0] >> 1) & 0x3f;
  if (nalType !== 33) throw new Fmp4InputError(`not an H.265 SPS (NAL type ${nalType})`);
  const r = new BitReader(rbsp);
  r.skip(16); // NAL unit header
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.bits(3);
  const temporalIdNesting = r.bit() === 1;
  // general_profile_tier_level: 2+1+5 bits, 32 compatibility flags, 48 constraint bits, 8 level bits = 12 bytes.
  const ptlStart = r.position >>> 3; // byte aligned here (2 + 1 bytes)
  const profileSpace = r.bits(2);
  const tierFlag = r.bit();
  const profileIdc = r.bits(5);
  const profileCompatibilityFlags = r.bits(32) >>> 0;
  r.skip(48);
  const levelIdc = r.bits(8);
  const constraintIndicatorFlags = rbsp.slice(ptlStart + 5, ptlStart + 11);
  if (constraintIndicatorFlags.length !== 6) throw new RangeError('profile_tier_level cut short');
  const subLayerProfilePresent: boolean[] = [];
  const subLayerLevelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subLayerProfilePresent.push(r.bit() === 1);
    subLayerLevelPresent.push(r.bit() === 1);
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subLayerProfilePresent[i]) r.skip(88);
    if (subLayerLevelPresent[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc === 3) r.skip(1); // separate_colour_plane_flag
  let width = r.ue();
  let height = r.ue();
  if (r.bit() === 1) {
    // conformance window, in chroma units
    const subWidth = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
    const subHeight = chromaFormatIdc === 1 ? 2 : 1;
    const left = r.ue();
    const right = r.ue();
    const top = r.ue();
    const bottom = r.ue();
    width -= subWidth * (left + right);
    height -= subHeight * (top + bottom);
  }
  const bitDepthLumaMinus8 = r.ue();
  const bitDepthChromaMinus8 = r.ue();
  return {
    profileSpace,
    tierFlag,
    profileIdc,
    profileCompatibilityFlags,
    constraintIndicatorFlags,
    levelIdc,
    maxSubLayersMinus1,
    temporalIdNesting,
    chromaFormatIdc,
    bitDepthLumaMinus8,
    bitDepthChromaMinus8,
    width,
    height,
  };
}

function reverseBits32(value: number): number {
  let out = 0;
  for (let i = 0; i < 32; i++) out = (out << 1) | ((value >>> i) & 1);
  return out >>> 0;
}

/** "hvc1.<space><profile>.<compat, bit-reversed hex>.<L|H><level>[.<constraint bytes>]" (ISO/IEC 14496-15 E.3). */
export function hevcCodecString(sps: HevcSpsInfo): string {
  const space = ['', 'A', 'B', 'C'][sps.profileSpace] ?? '';
  const compat = reverseBits32(sps.profileCompatibilityFlags).toString(16).toUpperCase();
  const tier = sps.tierFlag ? 'H' : 'L';
  const constraints = Array.from(sps.constraintIndicatorFlags, (b) => b.toString(16).toUpperCase());
  while (constraints.length > 0 && constraints[constraints.length - 1] === '0') constraints.pop();
  return ['hvc1', `${space}${sps.profileIdc}`, compat, `${tier}${sps.levelIdc}`, ...constraints].join('.');
}

const NAL_VPS = 32;
const NAL_SPS = 33;
const NAL_PPS = 34;

export function hevcConfigurationBox(vps: readonly Uint8Array[], sps: readonly Uint8Array[], pps: readonly Uint8Array[]): Uint8Array {
  if (vps.length === 0 || sps.length === 0 || pps.length === 0) {
    throw new Fmp4InputError(`H.265 init segment needs VPS, SPS and PPS (got ${vps.length}/${sps.length}/${pps.length})`);
  }
  const info = parseHevcSps(sps[0]);
  const arrays: Array<[number, readonly Uint8Array[]]> = [
    [NAL_VPS, vps],
    [NAL_SPS, sps],
    [NAL_PPS, pps],
  ];
  const parts: Uint8Array[] = [
    u8(1), // configurationVersion
    u8((info.profileSpace << 6) | (info.tierFlag << 5) | info.profileIdc),
    u32(info.profileCompatibilityFlags),
    info.constraintIndicatorFlags,
    u8(info.levelIdc),
    u16(0xf000), // reserved + min_spatial_segmentation_idc 0
    u8(0xfc), // reserved + parallelismType 0 (unknown)
    u8(0xfc | info.chromaFormatIdc),
    u8(0xf8 | info.bitDepthLumaMinus8),
    u8(0xf8 | info.bitDepthChromaMinus8),
    u16(0), // avgFrameRate unknown
    // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
    u8((((info.maxSubLayersMinus1 + 1) & 7) << 3) | ((info.temporalIdNesting ? 1 : 0) << 2) | 3),
    u8(arrays.length),
  ];
  for (const [type, nals] of arrays) {
    parts.push(u8(0x80 | type), u16(nals.length)); // array_completeness 1: all parameter sets are here
    for (const nal of nals) parts.push(u16(nal.length), nal);
  }
  return box('hvcC', concatBytes(parts));
}
