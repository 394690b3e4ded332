/**
 * AVCDecoderConfigurationRecord ('avcC', ISO/IEC 14496-15 §5.3.3) from raw SPS/PPS NAL units, and the
 * RFC 6381 codec string ("avc1.PPCCLL") read from the SPS header bytes.
 */
import { box, concatBytes, u16, u8 } from './boxes.js';

export class Fmp4InputError extends Error {
  override readonly name = 'Fmp4InputError';
}

export function avcCodecString(sps: Uint8Array): string {
  if (sps.length < 4) throw new Fmp4InputError(`H.264 SPS too short (${sps.length} bytes)`);
  const hex = (byte: number): string => byte.toString(16).padStart(2, '0');
  return `avc1.${hex(sps[1])}${hex(sps[2])}${hex(sps[3])}`;
}

export function avcConfigurationBox(spsList: readonly Uint8Array[], ppsList: readonly Uint8Array[]): Uint8Array {
  const sps = spsList[0];
  if (!sps || sps.length < 4) throw new Fmp4InputError('H.264 init segment needs an SPS of at least 4 bytes');
  if (ppsList.length === 0) throw new Fmp4InputError('H.264 init segment needs a PPS');
  const parts: Uint8Array[] = [
    u8(1), // configurationVersion
    u8(sps[1]), // AVCProfileIndication
    u8(sps[2]), // profile_compatibility
    u8(sps[3]), // AVCLevelIndication
    u8(0xfc | 3), // reserved + lengthSizeMinusOne: 4-byte NAL lengths
    u8(0xe0 | spsList.length),
  ];
  for (const nal of spsList) parts.push(u16(nal.length), nal);
  parts.push(u8(ppsList.length));
  for (const nal of ppsList) parts.push(u16(nal.length), nal);
  // The high-profile extension (chroma format, bit depths) is optional in practice and needs a full SPS
  // parse; decoders take those from the SPS itself. It is left out on purpose, as ffmpeg does when it
  // cannot parse them.
  return box('avcC', concatBytes(parts));
}
