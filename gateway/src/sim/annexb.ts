/**
 * Annex-B (ITU-T H.264 / H.265 byte-stream format) access-unit splitter for the simulator's media loops: the
 * encoder writes one long elementary stream, the simulator sends it frame by frame, so it needs the byte
 * range of every access unit and whether it is a random-access point.
 *
 * Pure: bytes in, ranges out (subarrays, no copies). Written here rather than taken from a library because
 * no maintained npm package does just this, and it is ~100 lines. AU boundaries follow H.264 §7.4.1.2.3 /
 * H.265 §7.4.2.4.4: a new AU starts at an AUD / parameter set / prefix SEI after a picture's VCL NAL units,
 * or at a VCL NAL unit that begins a new picture (H.264 first_mb_in_slice = 0, H.265
 * first_slice_segment_in_pic_flag = 1). Multi-slice pictures (x264 -tune zerolatency uses sliced threads) stay
 * one AU.
 */
export type AnnexBCodec = 'h264' | 'h265';

export interface AccessUnit {
  /** The AU's bytes with their start codes (a subarray of the input). */
  data: Buffer;
  /** IDR (H.264) / IRAP (H.265): decoding can start here. */
  keyframe: boolean;
  /** SPS/PPS (and VPS for H.265) are inside this AU. */
  hasParameterSets: boolean;
}

interface NalUnit {
  /** Offset of the start code. */
  start: number;
  /** Offset of the NAL header (after the start code). */
  payload: number;
  type: number;
}

/** Offsets of the NAL units in an Annex-B buffer (3- or 4-byte start codes). */
export function findNalUnits(buf: Buffer, codec: AnnexBCodec): NalUnit[] {
  const nals: NalUnit[] = [];
  const n = buf.length;
  let i = 0;
  while (i + 3 <= n) {
    // Skip fast to the next 0x01 preceded by two zeros.
    if (buf[i + 2]! > 1) {
      i += 3;
      continue;
    }
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      const start = i > 0 && buf[i - 1] === 0 ? i - 1 : i;
      const payload = i + 3;
      if (payload < n) {
        const type = codec === 'h264' ? buf[payload]! & 0x1f : (buf[payload]! >> 1) & 0x3f;
        nals.push({ start, payload, type });
      }
      i += 3;
      continue;
    }
    i++;
  }
  return nals;
}

function isVcl(codec: AnnexBCodec, type: number): boolean {
  return codec === 'h264' ? type >= 1 && type <= 5 : type <= 31;
}

/** Non-VCL NAL units that may only come before the first VCL NAL unit of an AU (so they start a new one). */
function startsAccessUnit(codec: AnnexBCodec, type: number): boolean {
  if (codec === 'h264') return type === 6 || type === 7 || type === 8 || type === 9 || (type >= 14 && type <= 18);
  return type === 32 || type === 33 || type === 34 || type === 35 || type === 39 || (type >= 41 && type <= 44) || (type >= 48 && type <= 55);
}

/** First bit of the slice header: first_mb_in_slice == 0 (ue(v) '1') / first_slice_segment_in_pic_flag. */
function firstSliceOfPicture(buf: Buffer, codec: AnnexBCodec, nal: NalUnit): boolean {
  const headerBytes = codec === 'h264' ? 1 : 2;
  const at = nal.payload + headerBytes;
  return at < buf.length && (buf[at]! & 0x80) !== 0;
}

function isKeyframeNal(codec: AnnexBCodec, type: number): boolean {
  return codec === 'h264' ? type === 5 : type >= 16 && type <= 23;
}

function isParameterSet(codec: AnnexBCodec, type: number): boolean {
  return codec === 'h264' ? type === 7 || type === 8 : type === 32 || type === 33 || type === 34;
}

/** Split an Annex-B elementary stream into access units. Bytes before the first start code are dropped. */
export function splitAccessUnits(buf: Buffer, codec: AnnexBCodec): AccessUnit[] {
  const nals = findNalUnits(buf, codec);
  const units: AccessUnit[] = [];
  let auStart = -1;
  let sawVcl = false;
  let keyframe = false;
  let parameterSets = false;
  const close = (end: number): void => {
    if (auStart >= 0 && sawVcl) units.push({ data: buf.subarray(auStart, end), keyframe, hasParameterSets: parameterSets });
  };
  for (const nal of nals) {
    const vcl = isVcl(codec, nal.type);
    const boundary = auStart < 0 || (sawVcl && (vcl ? firstSliceOfPicture(buf, codec, nal) : startsAccessUnit(codec, nal.type)));
    if (boundary) {
      close(nal.start);
      auStart = nal.start;
      sawVcl = false;
      keyframe = false;
      parameterSets = false;
    }
    if (vcl) {
      sawVcl = true;
      if (isKeyframeNal(codec, nal.type)) keyframe = true;
    } else if (isParameterSet(codec, nal.type)) parameterSets = true;
  }
  close(buf.length);
  return units;
}

/** The parameter-set NAL units (with start codes) of an access unit, concatenated, or null if it has none. */
export function parameterSetsOf(au: Buffer, codec: AnnexBCodec): Buffer | null {
  const nals = findNalUnits(au, codec);
  const parts: Buffer[] = [];
  nals.forEach((nal, k) => {
    if (isParameterSet(codec, nal.type)) parts.push(au.subarray(nal.start, k + 1 < nals.length ? nals[k + 1]!.start : au.length));
  });
  return parts.length > 0 ? Buffer.concat(parts) : null;
}
