/** Pure fragmented-MP4 (CMAF) writer: init segments and movie fragments for H.264, H.265 and AAC. */
export { avcCodecString, avcConfigurationBox, Fmp4InputError } from './avc-config.js';
export { hevcCodecString, hevcConfigurationBox, parseHevcSps, type HevcSpsInfo } from './hevc-config.js';
export { buildInitSegment, isFmp4Muxable, timescaleOf, type InitTrack, type AudioParameters as Fmp4AudioParameters, type TrackParameters as Fmp4TrackParameters, type VideoParameters as Fmp4VideoParameters } from './init-segment.js';
export { buildFragment, lengthPrefixed, naluSample, type FragmentTrack, type Fmp4Sample, type NaluSample } from './fragment.js';
export { unescapeRbsp } from './bit-reader.js';
