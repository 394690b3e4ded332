/**
 * CMAF / fragmented-MP4 initialization segment (ftyp + moov with mvex), one track per TrackParameters:
 * avc1 + avcC, hvc1 + hvcC, mp4a + esds (AudioSpecificConfig). ISO/IEC 14496-12 §8, 14496-14 (esds),
 * 14496-15 (avcC / hvcC), 23000-19 (CMAF). Pure.
 *
 * Written by hand, not with a library: the npm muxers (mp4-muxer, mux.js) take WebCodecs chunks or MPEG-TS
 * and decide fragment boundaries themselves, while LL-HLS needs exact control of every part and the hvcC
 * built from the camera's raw VPS/SPS/PPS.
 */
import { avcConfigurationBox, Fmp4InputError } from './avc-config.js';
import { ascii, box, concatBytes, fullBox, u16, u32, u8, UNITY_MATRIX, zeros } from './boxes.js';
import { hevcConfigurationBox } from './hevc-config.js';

/**
 * What a track needs for its sample entry. Structurally a subset of media/core's VideoParameters /
 * AudioParameters (codecs/ sits below media/ and does not import it), so those pass as they are.
 */
export interface VideoParameters {
  kind: 'video';
  codec: 'h264' | 'h265';
  sps: readonly Uint8Array[];
  pps: readonly Uint8Array[];
  vps?: readonly Uint8Array[];
  width: number;
  height: number;
}

export interface AudioParameters {
  kind: 'audio';
  codec: string;
  sampleRate: number;
  channels: number;
  /** AAC AudioSpecificConfig. */
  config: Uint8Array;
}

export type TrackParameters = VideoParameters | AudioParameters;

export interface InitTrack {
  /** 1-based track ID, also used by the fragments. */
  trackId: number;
  /** Media timescale: 90000 for video, the sample rate for audio (see `timescaleOf`). */
  timescale: number;
  parameters: TrackParameters;
}

/** The timescale the muxers use for a track: 90 kHz for video (the source clock), the sample rate for audio. */
export function timescaleOf(parameters: TrackParameters): number {
  return parameters.kind === 'video' ? 90_000 : parameters.sampleRate;
}

/** Tracks a browser / fMP4 can carry: H.264, H.265 and AAC (G.711 needs the transcoder). */
export function isFmp4Muxable(parameters: TrackParameters): boolean {
  return parameters.kind === 'video' || parameters.codec === 'aac';
}

export function buildInitSegment(tracks: readonly InitTrack[]): Uint8Array {
  if (tracks.length === 0) throw new Fmp4InputError('an init segment needs at least one track');
  const ftyp = box('ftyp', ascii('iso6'), u32(0), ascii('iso6'), ascii('cmfc'), ascii('iso5'), ascii('mp41'));
  const nextTrackId = Math.max(...tracks.map((t) => t.trackId)) + 1;
  const mvhd = fullBox(
    'mvhd', 0, 0,
    u32(0), u32(0), // creation / modification time
    u32(1000), u32(0), // timescale, duration (unknown: fragmented)
    u32(0x00010000), u16(0x0100), zeros(10), // rate 1.0, volume 1.0, reserved
    UNITY_MATRIX,
    zeros(24), // pre_defined
    u32(nextTrackId),
  );
  const mvex = box('mvex', ...tracks.map((t) => fullBox('trex', 0, 0, u32(t.trackId), u32(1), u32(0), u32(0), u32(0))));
  const moov = box('moov', mvhd, ...tracks.map(trak), mvex);
  return concatBytes([ftyp, moov]);
}

function trak(track: InitTrack): Uint8Array {
  const p = track.parameters;
  const isVideo = p.kind === 'video';
  const tkhd = fullBox(
    'tkhd', 0, 0x3, // enabled, in movie
    u32(0), u32(0), u32(track.trackId), u32(0), u32(0), // times, track_ID, reserved, duration
    zeros(8), u16(0), u16(0), // reserved, layer, alternate_group
    u16(isVideo ? 0 : 0x0100), u16(0), // volume, reserved
    UNITY_MATRIX,
    u32(isVideo ? (p as VideoParameters).width * 0x10000 : 0),
    u32(isVideo ? (p as VideoParameters).height * 0x10000 : 0),
  );
  const mdhd = fullBox('mdhd', 0, 0, u32(0), u32(0), u32(track.timescale), u32(0), u16(0x55c4 /* 'und' */), u16(0));
  const hdlr = fullBox('hdlr', 0, 0, u32(0), ascii(isVideo ? 'vide' : 'soun'), zeros(12), ascii(isVideo ? 'VideoHandler' : 'SoundHandler'), u8(0));
  const mediaHeader = isVideo ? fullBox('vmhd', 0, 1, zeros(8)) : fullBox('smhd', 0, 0, zeros(4));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), isVideo ? videoSampleEntry(p as VideoParameters) : audioSampleEntry(p as AudioParameters)),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0), u32(0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl)));
}

function videoSampleEntry(p: VideoParameters): Uint8Array {
  if (!(p.width > 0 && p.width < 65536 && p.height > 0 && p.height < 65536)) {
    throw new Fmp4InputError(`video size out of range: ${p.width}x${p.height}`);
  }
  const config = p.codec === 'h264' ? avcConfigurationBox(p.sps, p.pps) : hevcConfigurationBox(p.vps ?? [], p.sps, p.pps);
  return box(
    p.codec === 'h264' ? 'avc1' : 'hvc1',
    zeros(6), u16(1), // reserved, data_reference_index
    zeros(16), // pre_defined, reserved, pre_defined[3]
    u16(p.width), u16(p.height),
    u32(0x00480000), u32(0x00480000), // 72 dpi
    u32(0), u16(1), // reserved, frame_count
    zeros(32), // compressorname
    u16(0x0018), u16(0xffff), // depth, pre_defined -1
    config,
  );
}

/** An MPEG-4 descriptor (14496-1 §8.3.3): tag, length in 7-bit groups, body. */
function descriptor(tag: number, body: Uint8Array): Uint8Array {
  const sizeBytes: number[] = [];
  let size = body.length;
  do {
    sizeBytes.unshift(size & 0x7f);
    size >>>= 7;
  } while (size > 0);
  for (let i = 0; i < sizeBytes.length - 1; i++) sizeBytes[i] |= 0x80;
  return concatBytes([Uint8Array.of(tag, ...sizeBytes), body]);
}

function audioSampleEntry(p: AudioParameters): Uint8Array {
  if (p.codec !== 'aac') throw new Fmp4InputError(`audio codec ${p.codec} cannot go into fMP4 for browsers (transcode it to AAC)`);
  if (p.config.length < 2) throw new Fmp4InputError('AAC track needs its AudioSpecificConfig (2+ bytes)');
  if (!(p.sampleRate > 0 && p.sampleRate < 65536)) throw new Fmp4InputError(`AAC sample rate out of range: ${p.sampleRate}`);
  const decoderConfig = descriptor(
    0x04,
    concatBytes([
      u8(0x40), // objectTypeIndication: MPEG-4 Audio
      u8((0x05 << 2) | 1), // streamType audio, upStream 0, reserved 1
      Uint8Array.of(0, 0, 0), // bufferSizeDB
      u32(0), u32(0), // max / avg bitrate unknown
      descriptor(0x05, p.config),
    ]),
  );
  const esDescriptor = descriptor(0x03, concatBytes([u16(0), u8(0), decoderConfig, descriptor(0x06, u8(0x02))]));
  return box(
    'mp4a',
    zeros(6), u16(1),
    zeros(8),
    u16(p.channels), u16(16), // channelcount, samplesize
    u16(0), u16(0),
    u32(p.sampleRate * 0x10000),
    fullBox('esds', 0, 0, esDescriptor),
  );
}
