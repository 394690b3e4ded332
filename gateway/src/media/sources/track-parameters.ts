/**
 * Track parameters from what a source sees in the bitstream: parameter-set NAL units → VideoParameters (size and
 * codec string from the SPS), AAC AudioSpecificConfig / G.711 → AudioParameters. Shared by every source. Pure.
 */
import { audioSpecificConfig, aacCodecString, parseAudioSpecificConfig, AAC_SAMPLE_RATES } from '../../codecs/aac/adts.js';
import { H264_NAL, h264NalType, parseH264Sps } from '../../codecs/h264/sps.js';
import { H265_NAL, h265NalType, parseH265Sps } from '../../codecs/h265/sps.js';
import type { AudioCodecName, AudioParameters, TrackParameters, VideoCodecName, VideoParameters } from '../core/access-unit.js';

export interface ParameterSets {
  vps: Uint8Array[];
  sps: Uint8Array[];
  pps: Uint8Array[];
}

/** Parameter-set NAL units among an access unit's NAL units (none found: all lists empty). */
export function parameterSetsOf(codec: VideoCodecName, nalus: readonly Uint8Array[]): ParameterSets {
  const sets: ParameterSets = { vps: [], sps: [], pps: [] };
  for (const nal of nalus) {
    if (codec === 'h264') {
      const t = h264NalType(nal);
      if (t === H264_NAL.sps) sets.sps.push(nal);
      else if (t === H264_NAL.pps) sets.pps.push(nal);
    } else {
      const t = h265NalType(nal);
      if (t === H265_NAL.vps) sets.vps.push(nal);
      else if (t === H265_NAL.sps) sets.sps.push(nal);
      else if (t === H265_NAL.pps) sets.pps.push(nal);
    }
  }
  return sets;
}

/** VideoParameters from parameter sets (the first SPS decides size and codec string). Throws if the SPS does not parse. */
export function videoParameters(codec: VideoCodecName, sets: ParameterSets): VideoParameters {
  const sps = sets.sps[0];
  if (!sps) throw new RangeError('no SPS');
  const copy = (list: Uint8Array[]): Uint8Array[] => list.map((n) => Uint8Array.from(n));
  if (codec === 'h264') {
    const info = parseH264Sps(sps);
    return { kind: 'video', codec, sps: copy(sets.sps), pps: copy(sets.pps), width: info.width, height: info.height, codecString: info.codecString };
  }
  const info = parseH265Sps(sps);
  return {
    kind: 'video',
    codec,
    vps: copy(sets.vps),
    sps: copy(sets.sps),
    pps: copy(sets.pps),
    width: info.width,
    height: info.height,
    codecString: info.codecString,
  };
}

export function aacParameters(config: Uint8Array): AudioParameters {
  const asc = parseAudioSpecificConfig(config);
  if (!asc) throw new RangeError('unsupported AudioSpecificConfig');
  return {
    kind: 'audio',
    codec: 'aac',
    sampleRate: AAC_SAMPLE_RATES[asc.samplingFrequencyIndex]!,
    channels: asc.channelConfiguration,
    config: audioSpecificConfig(asc.objectType, asc.samplingFrequencyIndex, asc.channelConfiguration),
    codecString: aacCodecString(asc.objectType),
  };
}

export function g711Parameters(codec: Exclude<AudioCodecName, 'aac'>): AudioParameters {
  return { kind: 'audio', codec, sampleRate: 8000, channels: 1, config: new Uint8Array(0), codecString: '' };
}

function sameBytes(a: readonly Uint8Array[] | undefined, b: readonly Uint8Array[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (Buffer.compare(x[i]!, y[i]!) !== 0) return false;
  return true;
}

/** True if two track descriptions would give the same init segment. */
export function sameTrack(a: TrackParameters | undefined, b: TrackParameters | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.kind === 'video' && b.kind === 'video') {
    return a.codec === b.codec && a.width === b.width && a.height === b.height && sameBytes(a.sps, b.sps) && sameBytes(a.pps, b.pps) && sameBytes(a.vps, b.vps);
  }
  if (a.kind === 'audio' && b.kind === 'audio') {
    return a.codec === b.codec && a.sampleRate === b.sampleRate && a.channels === b.channels && Buffer.compare(a.config, b.config) === 0;
  }
  return false;
}
