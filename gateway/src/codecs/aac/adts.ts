/**
 * AAC in ADTS (ISO/IEC 13818-7 §6.2, 14496-3 §1.A.2): splitting a PES payload into raw AAC frames and deriving
 * the AudioSpecificConfig (14496-3 §1.6.2.1) that MP4 wants instead of the 7-byte headers — the step whose
 * absence made ffmpeg stop with "Malformed AAC bitstream detected" on cameras that send AAC in PS. And the
 * reverse (an ADTS header for a raw frame), for feeding ffmpeg's ADTS reader. Pure.
 */

export const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350] as const;

/** Samples per AAC frame (AAC-LC; HE-AAC signals 1024 core samples too). */
export const AAC_FRAME_SAMPLES = 1024;

export interface AdtsHeader {
  /** MPEG-4 Audio Object Type (profile + 1): 2 = AAC-LC. */
  objectType: number;
  samplingFrequencyIndex: number;
  sampleRate: number;
  channelConfiguration: number;
  /** Whole frame, header included. */
  frameLength: number;
  headerLength: 7 | 9;
  /** number_of_raw_data_blocks_in_frame + 1. */
  rawBlocks: number;
}

export interface AdtsFrame {
  header: AdtsHeader;
  /** The raw AAC frame (header and CRC stripped); a view into the input. */
  raw: Uint8Array;
}

export interface AdtsSplit {
  frames: AdtsFrame[];
  /** Bytes that were not part of a valid ADTS frame (garbage, a truncated last frame). */
  droppedBytes: number;
}

/** The ADTS header at `offset`, or null if there is none (bad sync word, reserved values, too short). */
export function parseAdtsHeader(buf: Uint8Array, offset = 0): AdtsHeader | null {
  if (buf.length - offset < 7) return null;
  const b0 = buf[offset]!;
  const b1 = buf[offset + 1]!;
  if (b0 !== 0xff || (b1 & 0xf6) !== 0xf0) return null; // sync word, layer 00
  const b2 = buf[offset + 2]!;
  const b3 = buf[offset + 3]!;
  const protectionAbsent = (b1 & 1) === 1;
  const objectType = (b2 >> 6) + 1;
  const samplingFrequencyIndex = (b2 >> 2) & 0x0f;
  const sampleRate = AAC_SAMPLE_RATES[samplingFrequencyIndex];
  if (sampleRate === undefined) return null;
  const channelConfiguration = ((b2 & 1) << 2) | (b3 >> 6);
  const frameLength = ((b3 & 3) << 11) | (buf[offset + 4]! << 3) | (buf[offset + 5]! >> 5);
  const headerLength = protectionAbsent ? 7 : 9;
  if (frameLength <= headerLength) return null;
  const rawBlocks = (buf[offset + 6]! & 3) + 1;
  return { objectType, samplingFrequencyIndex, sampleRate, channelConfiguration, frameLength, headerLength, rawBlocks };
}

/** Splits concatenated ADTS frames; resynchronises on the next sync word after garbage. */
export function splitAdts(buf: Uint8Array): AdtsSplit {
  const frames: AdtsFrame[] = [];
  let dropped = 0;
  let p = 0;
  while (p < buf.length) {
    const header = parseAdtsHeader(buf, p);
    if (header && p + header.frameLength <= buf.length) {
      frames.push({ header, raw: buf.subarray(p + header.headerLength, p + header.frameLength) });
      p += header.frameLength;
      continue;
    }
    // Not a frame here (or cut short): skip to the next possible sync word.
    let next = p + 1;
    while (next < buf.length && !(buf[next] === 0xff && next + 1 < buf.length && (buf[next + 1]! & 0xf6) === 0xf0)) next++;
    if (header && next >= buf.length) next = buf.length; // a truncated last frame
    dropped += next - p;
    p = next;
  }
  return { frames, droppedBytes: dropped };
}

/** AudioSpecificConfig (2 bytes) for an object type, frequency index and channel configuration. */
export function audioSpecificConfig(objectType: number, samplingFrequencyIndex: number, channelConfiguration: number): Uint8Array {
  return Uint8Array.of((objectType << 3) | (samplingFrequencyIndex >> 1), ((samplingFrequencyIndex & 1) << 7) | (channelConfiguration << 3));
}

export function audioSpecificConfigOf(header: AdtsHeader): Uint8Array {
  return audioSpecificConfig(header.objectType, header.samplingFrequencyIndex, header.channelConfiguration);
}

/** Fields of a 2-byte AudioSpecificConfig (no explicit frequency / extension support: GB cameras send AAC-LC). */
export function parseAudioSpecificConfig(config: Uint8Array): { objectType: number; samplingFrequencyIndex: number; channelConfiguration: number } | null {
  if (config.length < 2) return null;
  const objectType = config[0]! >> 3;
  const samplingFrequencyIndex = ((config[0]! & 7) << 1) | (config[1]! >> 7);
  const channelConfiguration = (config[1]! >> 3) & 0x0f;
  if (objectType === 0 || objectType > 4 || samplingFrequencyIndex > 12) return null;
  return { objectType, samplingFrequencyIndex, channelConfiguration };
}

/** A 7-byte ADTS header (no CRC) for a raw frame described by `config`. */
export function adtsHeaderFor(config: Uint8Array, rawLength: number): Uint8Array {
  const asc = parseAudioSpecificConfig(config);
  if (!asc) throw new RangeError('unsupported AudioSpecificConfig');
  const length = rawLength + 7;
  if (length > 0x1fff) throw new RangeError(`AAC frame too long for ADTS (${rawLength} bytes)`);
  return Uint8Array.of(
    0xff,
    0xf1,
    ((asc.objectType - 1) << 6) | (asc.samplingFrequencyIndex << 2) | (asc.channelConfiguration >> 2),
    ((asc.channelConfiguration & 3) << 6) | (length >> 11),
    (length >> 3) & 0xff,
    ((length & 7) << 5) | 0x1f,
    0xfc,
  );
}

/** RFC 6381 codec string of an AAC object type ("mp4a.40.2" for AAC-LC). */
export function aacCodecString(objectType: number): string {
  return `mp4a.40.${objectType}`;
}
