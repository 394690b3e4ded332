/**
 * Access units back into the byte streams ffmpeg reads on a pipe: Annex-B video (parameter sets in front of
 * every keyframe, as raw `-f h264` / `-f hevc` input needs) and ADTS for AAC. Pure.
 */
import { adtsHeaderFor } from '../../codecs/aac/adts.js';
import { H264_NAL, h264NalType } from '../../codecs/h264/sps.js';
import { H265_NAL, h265NalType } from '../../codecs/h265/sps.js';
import type { AccessUnit, AudioParameters, VideoParameters } from '../core/access-unit.js';

const START_CODE = Buffer.from([0, 0, 0, 1]);

function isParameterSet(video: VideoParameters, nal: Uint8Array): boolean {
  if (video.codec === 'h264') {
    const t = h264NalType(nal);
    return t === H264_NAL.sps || t === H264_NAL.pps;
  }
  const t = h265NalType(nal);
  return t === H265_NAL.vps || t === H265_NAL.sps || t === H265_NAL.pps;
}

/** One Annex-B access unit; a keyframe gets the stream's parameter sets in front when it lacks them. */
export function annexBOf(unit: AccessUnit, video: VideoParameters): Buffer {
  const nalus = unit.nalus ?? [];
  const parts: Uint8Array[] = [];
  if (unit.keyframe && !nalus.some((n) => isParameterSet(video, n))) {
    for (const nal of [...(video.vps ?? []), ...video.sps, ...video.pps]) parts.push(START_CODE, nal);
  }
  for (const nal of nalus) parts.push(START_CODE, nal);
  return Buffer.concat(parts);
}

/** An audio unit as ffmpeg's raw audio inputs want it: ADTS-framed AAC, G.711 bytes as they are. */
export function audioBytesOf(unit: AccessUnit, audio: AudioParameters): Buffer {
  const data = unit.data ?? new Uint8Array(0);
  if (audio.codec !== 'aac') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([adtsHeaderFor(audio.config, data.length), data]);
}
