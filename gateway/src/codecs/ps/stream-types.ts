/**
 * Codec names and the PSM stream_type values GB/T 28181 uses (2022 Annex C; same constants in ireader's
 * media-server used by ZLMediaKit). Shared by the PS demuxer and muxer.
 */

export type VideoCodec = 'h264' | 'h265';
export type AudioCodec = 'g711a' | 'g711u' | 'aac';

export const PS_STREAM_TYPE = {
  mpeg4Video: 0x10,
  h264: 0x1b,
  h265: 0x24,
  svacVideo: 0x80,
  aac: 0x0f,
  g711a: 0x90,
  g711u: 0x91,
  g7221: 0x92,
  g7231: 0x93,
  g729: 0x99,
  svacAudio: 0x9b,
  opus: 0x9c,
} as const;

/** Stream ids GB devices use: the first video and the first audio stream of ISO/IEC 13818-1. */
export const VIDEO_STREAM_ID = 0xe0;
export const AUDIO_STREAM_ID = 0xc0;

export function isVideoStreamId(id: number): boolean {
  return id >= 0xe0 && id <= 0xef;
}

export function isAudioStreamId(id: number): boolean {
  return id >= 0xc0 && id <= 0xdf;
}

export function videoCodecOfStreamType(streamType: number): VideoCodec | null {
  if (streamType === PS_STREAM_TYPE.h264) return 'h264';
  if (streamType === PS_STREAM_TYPE.h265) return 'h265';
  return null;
}

export function audioCodecOfStreamType(streamType: number): AudioCodec | null {
  if (streamType === PS_STREAM_TYPE.g711a) return 'g711a';
  if (streamType === PS_STREAM_TYPE.g711u) return 'g711u';
  if (streamType === PS_STREAM_TYPE.aac) return 'aac';
  return null;
}

export function streamTypeOf(codec: VideoCodec | AudioCodec): number {
  return PS_STREAM_TYPE[codec];
}

/** CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor) as used by the PSM. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    table[i] = crc >>> 0;
  }
  return table;
})();

export function crc32Mpeg2(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc >>> 0;
}
