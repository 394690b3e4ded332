/**
 * H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1): the fields a muxer and the API need — profile,
 * constraint flags, level, picture size after cropping — and the RFC 6381 codec string ("avc1.PPCCLL"), plus
 * what a source needs to give pictures a decode time when the transport carries presentation times only
 * (RTP): the picture-order-count type and the VUI's max_num_reorder_frames. Pure.
 */
import { BitReader, hex2, removeEmulationPrevention } from './rbsp.js';

export interface H264SpsInfo {
  profileIdc: number;
  /** constraint_set0..5 flags + reserved bits: the byte between profile and level. */
  constraintFlags: number;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  width: number;
  height: number;
  frameMbsOnly: boolean;
  /** pic_order_cnt_type: 2 means output order is decode order (no reordering possible). */
  pocType: number;
  /**
   * VUI bitstream_restriction max_num_reorder_frames: how many pictures at most precede any picture in decode
   * order and follow it in output order. Null when the SPS does not say (no VUI or no bitstream restriction, or
   * a VUI we could not read: it is optional, so a damaged one never fails the SPS).
   */
  maxNumReorderFrames: number | null;
  /** RFC 6381: avc1.PPCCLL from the three bytes after the NAL header. */
  codecString: string;
}

/** Profiles whose SPS carries chroma_format_idc and the bit depths (H.264 §7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

export const H264_NAL = { idr: 5, sei: 6, sps: 7, pps: 8, aud: 9 } as const;

export function h264NalType(nal: Uint8Array): number {
  return (nal[0] ?? 0) & 0x1f;
}

/** Parses an SPS NAL unit (with its 1-byte header, without start code). Throws on a truncated or invalid one. */
export function parseH264Sps(nal: Uint8Array): H264SpsInfo {
  if (nal.length < 4 || h264NalType(nal) !== H264_NAL.sps) throw new RangeError('not an H.264 SPS NAL unit');
  const r = new BitReader(removeEmulationPrevention(nal.subarray(1)));
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let bitDepthLuma = 8;
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw new RangeError(`invalid chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.flag();
    bitDepthLuma = r.ue() + 8;
    r.ue(); // bit_depth_chroma_minus8
    r.u(1); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) {
    r.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    r.u(1); // delta_pic_order_always_zero_flag
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const cycle = r.ue();
    if (cycle > 255) throw new RangeError('num_ref_frames_in_pic_order_cnt_cycle out of range');
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) {
    throw new RangeError(`invalid pic_order_cnt_type ${pocType}`);
  }
  r.ue(); // max_num_ref_frames
  r.u(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.flag();
  if (!frameMbsOnly) r.u(1); // mb_adaptive_frame_field_flag
  r.u(1); // direct_8x8_inference_flag
  let cropLeft = 0;
  let cropRight = 0;
  let cropTop = 0;
  let cropBottom = 0;
  if (r.flag()) {
    cropLeft = r.ue();
    cropRight = r.ue();
    cropTop = r.ue();
    cropBottom = r.ue();
  }
  let maxNumReorderFrames: number | null = null;
  try {
    if (r.flag()) maxNumReorderFrames = vuiMaxNumReorderFrames(r); // vui_parameters_present_flag
  } catch {
    maxNumReorderFrames = null;
  }
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaFormatIdc === 3 ? 1 : 2;
  const subHeightC = chromaFormatIdc === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2);
  const width = widthMbs * 16 - cropUnitX * (cropLeft + cropRight);
  const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw new RangeError(`implausible picture size ${width}x${height}`);
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    chromaFormatIdc,
    bitDepthLuma,
    width,
    height,
    frameMbsOnly,
    pocType,
    maxNumReorderFrames,
    codecString: `avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}`,
  };
}

/** vui_parameters() (Annex E.1.1) up to bitstream_restriction: its max_num_reorder_frames, or null without it. */
function vuiMaxNumReorderFrames(r: BitReader): number | null {
  if (r.flag()) {
    // aspect_ratio_info_present_flag
    if (r.u(8) === 255) r.skip(32); // Extended_SAR: sar_width, sar_height
  }
  if (r.flag()) r.skip(1); // overscan_info_present_flag → overscan_appropriate_flag
  if (r.flag()) {
    // video_signal_type_present_flag
    r.skip(4); // video_format, video_full_range_flag
    if (r.flag()) r.skip(24); // colour_description_present_flag → primaries, transfer, matrix
  }
  if (r.flag()) {
    // chroma_loc_info_present_flag
    r.ue();
    r.ue();
  }
  if (r.flag()) r.skip(65); // timing_info_present_flag → num_units_in_tick, time_scale, fixed_frame_rate_flag
  const nalHrd = r.flag();
  if (nalHrd) skipHrdParameters(r);
  const vclHrd = r.flag();
  if (vclHrd) skipHrdParameters(r);
  if (nalHrd || vclHrd) r.skip(1); // low_delay_hrd_flag
  r.skip(1); // pic_struct_present_flag
  if (!r.flag()) return null; // bitstream_restriction_flag
  r.skip(1); // motion_vectors_over_pic_boundaries_flag
  r.ue(); // max_bytes_per_pic_denom
  r.ue(); // max_bits_per_mb_denom
  r.ue(); // log2_max_mv_length_horizontal
  r.ue(); // log2_max_mv_length_vertical
  const reorder = r.ue();
  r.ue(); // max_dec_frame_buffering
  if (reorder > 16) throw new RangeError(`max_num_reorder_frames ${reorder} out of range`);
  return reorder;
}

function skipHrdParameters(r: BitReader): void {
  const cpbCount = r.ue() + 1;
  if (cpbCount > 32) throw new RangeError('cpb_cnt_minus1 out of range');
  r.skip(8); // bit_rate_scale, cpb_size_scale
  for (let i = 0; i < cpbCount; i++) {
    r.ue(); // bit_rate_value_minus1
    r.ue(); // cpb_size_value_minus1
    r.skip(1); // cbr_flag
  }
  r.skip(20); // initial_cpb_removal_delay_length_minus1, cpb_removal_delay_length_minus1, dpb_output_delay_length_minus1, time_offset_length
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}
