/**
 * FLV tag bodies as RTMP carries them (video type 9, audio type 8), read into what the stream core wants:
 * parameter sets from the AVC/HEVC decoder configuration record, NAL units of each picture with its signed
 * composition time, the AAC AudioSpecificConfig and raw AAC frames. Covers classic FLV (AVC, codec 7) and
 * Enhanced RTMP (ExVideoTagHeader with FourCC 'hvc1' for HEVC). Pure and total: every input gets a result,
 * `unsupported` and `malformed` say what was wrong.
 *
 * Hand-written: the RTMP session layer may come from node-media-server, but its tag reader reads the
 * composition time as unsigned (negative CTS from B-frame encoders would be wrong) and throws on short tags.
 */
export type FlvVideoTag =
  | { kind: 'config'; codec: 'h264' | 'h265'; vps: Uint8Array[]; sps: Uint8Array[]; pps: Uint8Array[]; nalLengthSize: number }
  | { kind: 'frame'; codec: 'h264' | 'h265'; keyframe: boolean; compositionTimeMs: number; nalus: Uint8Array[] }
  | { kind: 'end' }
  | { kind: 'unsupported'; what: string }
  | { kind: 'malformed'; why: string };

export type FlvAudioTag =
  | { kind: 'config'; codec: 'aac'; config: Uint8Array; sampleRate: number; channels: number }
  | { kind: 'frame'; codec: 'aac'; data: Uint8Array }
  | { kind: 'unsupported'; what: string }
  | { kind: 'malformed'; why: string };

const AUDIO_FORMATS: Record<number, string> = { 0: 'Linear PCM', 1: 'ADPCM', 2: 'MP3', 3: 'PCM LE', 4: 'Nellymoser 16k', 5: 'Nellymoser 8k', 6: 'Nellymoser', 7: 'G.711 A-law', 8: 'G.711 mu-law', 11: 'Speex', 14: 'MP3 8k' };
const VIDEO_CODECS: Record<number, string> = { 2: 'Sorenson H.263', 3: 'Screen video', 4: 'VP6', 5: 'VP6 alpha', 6: 'Screen video 2', 12: 'HEVC (non-standard codec id 12)' };
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

function si24(b: Uint8Array, o: number): number {
  const v = (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
  return v & 0x800000 ? v - 0x1000000 : v;
}

/** Length-prefixed NAL units (AVCC / HVCC sample format). */
function splitLengthPrefixed(b: Uint8Array, lengthSize: number): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < b.length) {
    if (i + lengthSize > b.length) return null;
    let len = 0;
    for (let k = 0; k < lengthSize; k++) len = len * 256 + b[i + k]!;
    i += lengthSize;
    if (len === 0) continue;
    if (i + len > b.length) return null;
    out.push(b.slice(i, i + len));
    i += len;
  }
  return out;
}

export function parseAvcDecoderConfig(b: Uint8Array): { sps: Uint8Array[]; pps: Uint8Array[]; nalLengthSize: number } | null {
  if (b.length < 7 || b[0] !== 1) return null;
  const nalLengthSize = (b[4]! & 0x03) + 1;
  let i = 5;
  const sps: Uint8Array[] = [];
  const pps: Uint8Array[] = [];
  const nSps = b[i++]! & 0x1f;
  for (let k = 0; k < nSps; k++) {
    if (i + 2 > b.length) return null;
    const len = (b[i]! << 8) | b[i + 1]!;
    i += 2;
    if (i + len > b.length) return null;
    sps.push(b.slice(i, i + len));
    i += len;
  }
  if (i >= b.length) return { sps, pps, nalLengthSize };
  const nPps = b[i++]!;
  for (let k = 0; k < nPps; k++) {
    if (i + 2 > b.length) return null;
    const len = (b[i]! << 8) | b[i + 1]!;
    i += 2;
    if (i + len > b.length) return null;
    pps.push(b.slice(i, i + len));
    i += len;
  }
  return { sps, pps, nalLengthSize };
}

export function parseHevcDecoderConfig(b: Uint8Array): { vps: Uint8Array[]; sps: Uint8Array[]; pps: Uint8Array[]; nalLengthSize: number } | null {
  if (b.length < 23 || b[0] !== 1) return null;
  const nalLengthSize = (b[21]! & 0x03) + 1;
  const numArrays = b[22]!;
  let i = 23;
  const out = { vps: [] as Uint8Array[], sps: [] as Uint8Array[], pps: [] as Uint8Array[], nalLengthSize };
  for (let a = 0; a < numArrays; a++) {
    if (i + 3 > b.length) return null;
    const type = b[i]! & 0x3f;
    const count = (b[i + 1]! << 8) | b[i + 2]!;
    i += 3;
    for (let k = 0; k < count; k++) {
      if (i + 2 > b.length) return null;
      const len = (b[i]! << 8) | b[i + 1]!;
      i += 2;
      if (i + len > b.length) return null;
      const nal = b.slice(i, i + len);
      i += len;
      if (type === 32) out.vps.push(nal);
      else if (type === 33) out.sps.push(nal);
      else if (type === 34) out.pps.push(nal);
    }
  }
  return out;
}

/** `nalLengthSize` comes from the last config tag (4 when none was seen, as every encoder uses). */
export function parseVideoTag(body: Uint8Array, nalLengthSize = 4): FlvVideoTag {
  if (body.length < 1) return { kind: 'malformed', why: 'empty video tag' };
  const b0 = body[0]!;
  if (b0 & 0x80) {
    // Enhanced RTMP: [1 | frameType(3) | packetType(4)] FourCC(4) …
    if (body.length < 5) return { kind: 'malformed', why: 'short enhanced video tag' };
    const frameType = (b0 >> 4) & 0x07;
    const packetType = b0 & 0x0f;
    const fourcc = String.fromCharCode(body[1]!, body[2]!, body[3]!, body[4]!);
    if (fourcc !== 'hvc1') return { kind: 'unsupported', what: `video FourCC ${JSON.stringify(fourcc)}` };
    if (packetType === 0) {
      const cfg = parseHevcDecoderConfig(body.subarray(5));
      return cfg ? { kind: 'config', codec: 'h265', ...cfg } : { kind: 'malformed', why: 'bad HEVC decoder configuration record' };
    }
    if (packetType === 1 || packetType === 3) {
      const cts = packetType === 1 ? (body.length >= 8 ? si24(body, 5) : NaN) : 0;
      if (Number.isNaN(cts)) return { kind: 'malformed', why: 'short HEVC coded frame' };
      const nalus = splitLengthPrefixed(body.subarray(packetType === 1 ? 8 : 5), nalLengthSize);
      return nalus ? { kind: 'frame', codec: 'h265', keyframe: frameType === 1, compositionTimeMs: cts, nalus } : { kind: 'malformed', why: 'NAL lengths overrun the tag' };
    }
    if (packetType === 2) return { kind: 'end' };
    return { kind: 'unsupported', what: `enhanced video packet type ${packetType}` };
  }
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  if (codecId !== 7) return { kind: 'unsupported', what: `video codec ${VIDEO_CODECS[codecId] ?? codecId}` };
  if (body.length < 5) return { kind: 'malformed', why: 'short AVC tag' };
  const packetType = body[1]!;
  const cts = si24(body, 2);
  if (packetType === 0) {
    const cfg = parseAvcDecoderConfig(body.subarray(5));
    return cfg ? { kind: 'config', codec: 'h264', vps: [], ...cfg } : { kind: 'malformed', why: 'bad AVC decoder configuration record' };
  }
  if (packetType === 1) {
    const nalus = splitLengthPrefixed(body.subarray(5), nalLengthSize);
    return nalus ? { kind: 'frame', codec: 'h264', keyframe: frameType === 1, compositionTimeMs: cts, nalus } : { kind: 'malformed', why: 'NAL lengths overrun the tag' };
  }
  if (packetType === 2) return { kind: 'end' };
  return { kind: 'malformed', why: `AVC packet type ${packetType}` };
}

export function parseAudioTag(body: Uint8Array): FlvAudioTag {
  if (body.length < 1) return { kind: 'malformed', why: 'empty audio tag' };
  const format = body[0]! >> 4;
  if (format !== 10) return { kind: 'unsupported', what: `audio ${AUDIO_FORMATS[format] ?? `format ${format}`}` };
  if (body.length < 2) return { kind: 'malformed', why: 'short AAC tag' };
  if (body[1] === 0) {
    const config = body.slice(2);
    if (config.length < 2) return { kind: 'malformed', why: 'short AudioSpecificConfig' };
    const rateIndex = ((config[0]! & 0x07) << 1) | (config[1]! >> 7);
    const channels = (config[1]! >> 3) & 0x0f;
    const sampleRate = AAC_RATES[rateIndex];
    if (sampleRate === undefined) return { kind: 'unsupported', what: `AAC sampling index ${rateIndex}` };
    return { kind: 'config', codec: 'aac', config, sampleRate, channels };
  }
  return { kind: 'frame', codec: 'aac', data: body.slice(2) };
}
