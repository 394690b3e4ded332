/**
 * The contract between sources and readers of the stream core: what a source emits (access units with
 * their timing and the codec parameters in force) and what a reader accepts. Pure types, no I/O.
 *
 * Timing. Every timestamp is on a 90 kHz clock, already unwrapped (the 33-bit MPEG wrap and RTP's 32-bit
 * wrap are folded away by the source), monotonic per track within one "epoch". When a source cannot keep
 * time continuous (camera restart, SSRC change, a jump of more than a few seconds) it starts a new epoch:
 * readers then start a new init segment / discontinuity instead of stitching two timelines together.
 *
 * Payload shapes are the ones fMP4 wants, so a muxer never re-parses them:
 *  - video: the NAL units of one picture, without start codes or length prefixes, in decode order;
 *    parameter sets (SPS/PPS/VPS) may be among them (muxers drop them from samples; they live in the init
 *    segment through `VideoParameters`);
 *  - audio AAC: one raw AAC frame (ADTS header stripped); the AudioSpecificConfig is in `AudioParameters`;
 *  - audio G.711: raw A-law/µ-law bytes (browsers cannot play them: only the transcoder reader takes them).
 */
export type VideoCodecName = 'h264' | 'h265';
export type AudioCodecName = 'aac' | 'g711a' | 'g711u';

export interface VideoParameters {
  kind: 'video';
  codec: VideoCodecName;
  /** H.264: one or more SPS / PPS NAL units (no start codes). H.265 adds VPS. */
  sps: Uint8Array[];
  pps: Uint8Array[];
  vps?: Uint8Array[];
  width: number;
  height: number;
  /** RFC 6381 codec string for HLS CODECS / MSE, e.g. "avc1.64001f", "hvc1.1.6.L93.B0". */
  codecString: string;
}

export interface AudioParameters {
  kind: 'audio';
  codec: AudioCodecName;
  sampleRate: number;
  channels: number;
  /** AAC AudioSpecificConfig (2+ bytes); empty for G.711. */
  config: Uint8Array;
  /** RFC 6381 codec string ("mp4a.40.2"); empty for G.711. */
  codecString: string;
}

export type TrackParameters = VideoParameters | AudioParameters;

export interface AccessUnit {
  kind: 'video' | 'audio';
  /** 90 kHz, unwrapped, monotonic within an epoch. */
  pts: number;
  dts: number;
  /** Video: an IDR / IRAP picture (decodable on its own with the parameter sets). Audio: always true. */
  keyframe: boolean;
  /** Video: NAL units of one picture (no start codes). Audio: one raw frame. */
  nalus?: Uint8Array[];
  data?: Uint8Array;
  /** Increments when the source's timeline or codec parameters change; readers restart cleanly on a change. */
  epoch: number;
  /** Wall-clock time (ms since 1970) the unit arrived at the gateway: for PROGRAM-DATE-TIME and reader lag. */
  receivedAt: number;
}

/**
 * What every reader of a stream implements (LL-HLS, live fMP4 over WebSocket, transcoder, snapshot, and
 * later the upward RTP/PS sender and the recorder). The Stream calls these; a reader never calls back into
 * its source. `close` is idempotent.
 */
export interface StreamReader {
  readonly kind: string;
  /** Called before the first unit and whenever a track's parameters change (a new epoch). */
  onParameters(tracks: readonly TrackParameters[], epoch: number): void;
  onAccessUnit(unit: AccessUnit): void;
  /** Bytes or units the reader holds but has not delivered: the stream cuts a reader that keeps growing it. */
  backlog(): number;
  /** May return a promise that settles once the reader has released what it holds (an ffmpeg process, a socket). */
  close(reason: string): void | Promise<void>;
}
