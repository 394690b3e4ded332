/**
 * H.265 parameter sets (ITU-T H.265 §7.3.2.2, §7.3.3): profile_tier_level (which the hvcC box and the RFC 6381
 * / ISO 14496-15 Annex E codec string need), picture size after the conformance window. Pure.
 */
import { BitReader, removeEmulationPrevention } from '../h264/rbsp.js';

export const H265_NAL = { vps: 32, sps: 33, pps: 34, aud: 35, prefixSei: 39 } as const;

export function h265NalType(nal: Uint8Array): number {
  return ((nal[0] ?? 0) >> 1) & 0x3f;
}

export interface H265ProfileTierLevel {
  profileSpace: number;
  tierFlag: boolean;
  profileIdc: number;
  /** general_profile_compatibility_flag[0..31], bit 31 = flag 0 (as written in the bitstream). */
  compatibilityFlags: number;
  /** The 48 bits from general_progressive_source_flag on, as 6 bytes (hvcC general_constraint_indicator_flags). */
  constraintIndicator: Uint8Array;
  levelIdc: number;
}

export interface H265SpsInfo {
  ptl: H265ProfileTierLevel;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  width: number;
  height: number;
  /**
   * sps_max_num_reorder_pics of the highest sub-layer: how many pictures at most precede any picture in decode
   * order and follow it in output order (what a source needs to derive decode times from presentation times).
   * Null when the SPS is cut short before it.
   */
  maxNumReorderPics: number | null;
  /** ISO 14496-15 Annex E: hvc1.<space><profile>.<compat>.<tier><level>.<constraints>, e.g. "hvc1.1.6.L93.B0". */
  codecString: string;
}

function parseProfileTierLevel(r: BitReader, maxSubLayersMinus1: number): H265ProfileTierLevel {
  const profileSpace = r.u(2);
  const tierFlag = r.flag();
  const profileIdc = r.u(5);
  const compatibilityFlags = r.u(32);
  const constraintIndicator = new Uint8Array(6);
  for (let i = 0; i < 6; i++) constraintIndicator[i] = r.u(8);
  const levelIdc = r.u(8);
  const subProfile: boolean[] = [];
  const subLevel: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.flag());
    subLevel.push(r.flag());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88);
    if (subLevel[i]) r.skip(8);
  }
  return { profileSpace, tierFlag, profileIdc, compatibilityFlags, constraintIndicator, levelIdc };
}

/** The codec string of ISO/IEC 14496-15 Annex E (what MSE's isTypeSupported and HLS CODECS expect). */
export function h265CodecString(ptl: H265ProfileTierLevel): string {
  const space = ['', 'A', 'B', 'C'][ptl.profileSpace] ?? '';
  // The compatibility flags in reverse bit order, hex without leading zeros.
  let reversed = 0;
  for (let i = 0; i < 32; i++) if ((ptl.compatibilityFlags >>> i) & 1) reversed |= 1 << (31 - i);
  const compat = (reversed >>> 0).toString(16).toUpperCase();
  let bytes = ptl.constraintIndicator.length;
  while (bytes > 0 && ptl.constraintIndicator[bytes - 1] === 0) bytes--;
  const constraints = Array.from(ptl.constraintIndicator.subarray(0, bytes), (b) => b.toString(16).toUpperCase());
  return ['hvc1', `${space}${ptl.profileIdc}`, compat, `${ptl.tierFlag ? 'H' : 'L'}${ptl.levelIdc}`, ...constraints].join('.');
}

/** Parses an SPS NAL unit (2-byte header included, no start code). Throws on a truncated or invalid one. */
export function parseH265Sps(nal: Uint8Array): H265SpsInfo {
  if (nal.length < 4 || h265NalType(nal) !== H265_NAL.sps) throw new RangeError('not an H.265 SPS NAL unit');
  const r = new BitReader(removeEmulationPrevention(nal.subarray(2)));
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.skip(1); // sps_temporal_id_nesting_flag
  const ptl = parseProfileTierLevel(r, maxSubLayersMinus1);
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc > 3) throw new RangeError(`invalid chroma_format_idc ${chromaFormatIdc}`);
  if (chromaFormatIdc === 3) r.skip(1); // separate_colour_plane_flag
  let width = r.ue();
  let height = r.ue();
  if (r.flag()) {
    const subWidthC = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
    const subHeightC = chromaFormatIdc === 1 ? 2 : 1;
    const left = r.ue();
    const right = r.ue();
    const top = r.ue();
    const bottom = r.ue();
    width -= subWidthC * (left + right);
    height -= subHeightC * (top + bottom);
  }
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw new RangeError(`implausible picture size ${width}x${height}`);
  const bitDepthLuma = r.ue() + 8;
  const bitDepthChroma = r.ue() + 8;
  let maxNumReorderPics: number | null = null;
  try {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
    const perSubLayer = r.flag(); // sps_sub_layer_ordering_info_present_flag
    for (let i = perSubLayer ? 0 : maxSubLayersMinus1; i <= maxSubLayersMinus1; i++) {
      r.ue(); // sps_max_dec_pic_buffering_minus1
      maxNumReorderPics = r.ue(); // the last one read is HighestTid's
      r.ue(); // sps_max_latency_increase_plus1
    }
    if (maxNumReorderPics !== null && maxNumReorderPics > 16) maxNumReorderPics = null;
  } catch {
    maxNumReorderPics = null;
  }
  return { ptl, chromaFormatIdc, bitDepthLuma, bitDepthChroma, width, height, maxNumReorderPics, codecString: h265CodecString(ptl) };
}

/** profile_tier_level of a VPS NAL unit (H.265 §7.3.2.1), for when the SPS is damaged. */
export function parseH265VpsProfile(nal: Uint8Array): H265ProfileTierLevel {
  if (nal.length < 6 || h265NalType(nal) !== H265_NAL.vps) throw new RangeError('not an H.265 VPS NAL unit');
  const r = new BitReader(removeEmulationPrevention(nal.subarray(2)));
  r.skip(4 + 1 + 1 + 6); // vps_video_parameter_set_id, base_layer flags, max_layers_minus1
  const maxSubLayersMinus1 = r.u(3);
  r.skip(1 + 16); // temporal_id_nesting, reserved 0xffff
  return parseProfileTierLevel(r, maxSubLayersMinus1);
}
