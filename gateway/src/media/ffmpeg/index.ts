/** The media layer's only door to ffmpeg/ffprobe (see processes.ts for why we spawn directly). */
export {
  buildHlsPackagerArgs,
  buildProbeArgs,
  buildSnapshotArgs,
  transcodesVideo,
  type HlsArgsOptions,
  type SnapshotArgsOptions,
} from './args.js';
export {
  countPlaylistSegments,
  HlsPackager,
  type HlsPackagerEvents,
  type HlsPackagerExit,
  type HlsPackagerOptions,
  type HlsPackagerStats,
} from './hls-packager.js';
export { probeFile, snapshotJpeg, snapshotJpegFromAccessUnit, type ProbedStream, type ProbeResult } from './probe.js';
export { activeFfmpegProcesses, mediaToolPath, runMediaTool, setMediaToolPath, spawnMediaTool, terminate, type MediaTool } from './processes.js';
export { checkMediaTool, FFMPEG_INSTALL_HINT, missingMediaTools, type MediaToolCheck } from './prerequisites.js';
