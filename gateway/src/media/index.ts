/** Media ingest and packaging: RTP in (rtp-receiver), HLS out (ffmpeg/, hls-output). */
export { PortPool, PortPoolExhaustedError } from './port-pool.js';
export { ReorderBuffer, type ReorderStats } from './reorder-buffer.js';
export {
  RtpReceiver,
  type MediaTransport,
  type ReceiverStats,
  type RtpReceiverEvents,
  type RtpReceiverOptions,
} from './rtp-receiver.js';
export { detectTcpFraming, InterleavedSplitter, TcpRtpDeframer, type TcpFraming } from './tcp-framing.js';
export {
  HlsOutput,
  INIT_SEGMENT_NAME,
  isValidStreamId,
  mediaFilePath,
  PLAYLIST_NAME,
  SEGMENT_PATTERN,
  streamDirectory,
  sweepMediaRoot,
} from './hls-output.js';
export { estimateFrameRate } from './frame-rate.js';
export * from './ffmpeg/index.js';
