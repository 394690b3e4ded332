/**
 * Sends a simulated camera's loop as GB/T 28181 PS over RTP at real-time pace.
 *
 * Cost model (hundreds of cameras): one MediaPump per fleet owns ONE interval timer; each tick walks the
 * active streams and sends every frame whose time has come — no timer per stream or per packet. A frame is
 * muxed into one PS pack (PsMuxer: pack header, + system header + PSM on keyframes, PES) and cut into RTP
 * packets of at most 1 400 payload bytes; the marker bit is set on the last packet of each pack (video frame
 * or 20 ms audio frame). Packets of one frame go out back to back, as a camera's encoder emits them.
 * Cameras playing the same loop do not mux it each: SharedLoopPackets muxes and cuts every loop frame once
 * (timestamps 0) and each camera writes only its RTP header and, into a copy of a frame's first payload, the
 * SCR and PTS — the same bytes as muxing per camera (tested), a fraction of the CPU (bench/RESULTS.md
 * "Stream scale 2"); `sharedPackets: false` is the per-camera way, kept for comparison.
 *
 * Timing and clocks:
 *  - A stream starts with loop frame 0 (a keyframe) the moment it starts, like a camera that forces an IDR
 *    when a call begins. Frame n is due at start + n / fps (monotonic clock); after an event-loop stall of
 *    more than MAX_LAG_MS the stream skips ahead to the next keyframe instead of bursting the backlog.
 *  - `loopEpochMs` is the wall-clock time (epoch ms) at which loop frame 0 of the first pass was due. A frame
 *    showing loop clock L (burnt in, or read from the frame-index bar: L = index × 1000 / fps) was captured
 *    at loopEpochMs + k × loopMs + L for the largest k that is not in the future.
 *  - PS PTS (33 bit) = due wall-clock epoch ms × 90 mod 2^33; the RTP timestamp is the same value mod 2^32
 *    (every packet of a frame shares it; audio and video packets carry their own, so RTP timestamps are not
 *    monotonic in a mixed PS stream — as on real devices).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { PsMuxer, restampPack } from '../codecs/ps/ps-muxer.js';
import { RtpPacketizer } from '../codecs/rtp/rtp.js';
import { frameRfc4571 } from '../codecs/rtp/rfc4571.js';
import type { AudioLoop, VideoLoop } from './media-source.js';

/** Largest PS payload per RTP packet (keeps UDP datagrams under a 1 500-byte MTU). */
export const MAX_RTP_PAYLOAD = 1_400;
export const PS_PAYLOAD_TYPE = 96;
/** How far behind schedule a stream may fall before it skips ahead instead of catching up. */
const MAX_LAG_MS = 1_000;
/** A TCP sink drops whole packets once this much is queued in the socket (the receiver is not reading). */
const TCP_MAX_QUEUED_BYTES = 2 * 1024 * 1024;
const PTS_MODULO = 2 ** 33;
const RTP_HEADER_BYTES = 12;
const RTP_TS_MODULO = 2 ** 32;

/**
 * When a frame was captured (sent), from what a viewer reads off the picture: the loop clock `loopPositionMs`
 * (burnt-in `HH:MM:SS.mmm`, or frame index × 1000 / fps from the frame-index bar) and the stream's
 * `loopEpochMs` (fleet.activeStreams()). The latest such time not after `nowMs`; valid while the latency is
 * below one loop (10 s by default).
 */
export function captureTimeOfLoopPosition(loopPositionMs: number, loopEpochMs: number, loopMs: number, nowMs: number = Date.now()): number {
  const passes = Math.floor((nowMs - loopEpochMs - loopPositionMs) / loopMs);
  return loopEpochMs + passes * loopMs + loopPositionMs;
}

/** Where a stream's RTP packets go. */
export interface RtpSink {
  /** Send one RTP packet; false when it was dropped (not connected, congested, closed). */
  send(packet: Buffer): boolean;
  /**
   * Send one RTP packet given as its header and a payload shared with other streams (not copied: UDP hands
   * both to one sendmsg, TCP to one writev). Optional; senders fall back to send(concat).
   */
  sendParts?(header: Buffer, payload: Buffer): boolean;
  /** Bracket the packets of one frame (TCP: one writev instead of one write per packet). Optional. */
  cork?(): void;
  uncork?(): void;
  close(): void;
  readonly closed: boolean;
}

/** UDP: one socket per stream (its own source port, like a real camera), sending to the offer's c=/m=. */
export class UdpRtpSink implements RtpSink {
  private isClosed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly localPort: number,
    readonly remoteHost: string,
    readonly remotePort: number,
  ) {
    // ICMP port unreachable (nobody listening) surfaces as an error on later sends; a camera ignores it.
    socket.on('error', () => undefined);
  }

  static async open(localHost: string, remoteHost: string, remotePort: number): Promise<UdpRtpSink> {
    const socket = dgram.createSocket(net.isIPv6(localHost) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, localHost, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // Connected: every send then skips the per-call address lookup (a dns.lookup + nextTick even for an IP
    // literal): ~30 % less CPU per datagram, which at 400 cameras × ~190 packets/s is most of the simulator.
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(remotePort, remoteHost, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpRtpSink(socket, socket.address().port, remoteHost, remotePort);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(packet: Buffer): boolean {
    if (this.isClosed) return false;
    this.socket.send(packet);
    return true;
  }

  sendParts(header: Buffer, payload: Buffer): boolean {
    if (this.isClosed) return false;
    this.socket.send([header, payload]);
    return true;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.close();
  }
}

/** RTP over TCP (RFC 4571 framing) on an established connection, whichever side dialled. */
export class TcpRtpSink implements RtpSink {
  private isClosed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly onClose: () => void = () => undefined,
  ) {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.isClosed) return;
      this.isClosed = true;
      this.onClose();
    });
    // We only send; whatever the peer sends (RTCP, nothing) is discarded.
    socket.resume();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(packet: Buffer): boolean {
    if (this.isClosed) return false;
    // A stalled receiver: drop whole packets rather than queue without bound (a camera's buffer is finite).
    if (this.socket.writableLength > TCP_MAX_QUEUED_BYTES) return false;
    this.socket.write(frameRfc4571(packet));
    return true;
  }

  sendParts(header: Buffer, payload: Buffer): boolean {
    if (this.isClosed) return false;
    if (this.socket.writableLength > TCP_MAX_QUEUED_BYTES) return false;
    const length = header.length + payload.length;
    if (length > 0xffff) throw new RangeError(`RTP packet of ${length} bytes does not fit RFC 4571 framing`);
    const head = Buffer.allocUnsafe(2 + header.length);
    head.writeUInt16BE(length, 0);
    header.copy(head, 2);
    this.socket.write(head);
    this.socket.write(payload);
    return true;
  }

  cork(): void {
    if (!this.isClosed) this.socket.cork();
  }

  uncork(): void {
    if (!this.isClosed) this.socket.uncork();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.destroy();
  }
}

export interface MediaStreamStats {
  packets: number;
  bytes: number;
  videoFrames: number;
  audioFrames: number;
  /** Packets the sink refused (TCP congestion, not yet connected). */
  droppedPackets: number;
  /** Frames skipped after a stall or while waiting for a keyframe after resume. */
  skippedFrames: number;
}

/** What the pump drives: live loops (MediaStream) and recordings (history-sender.ts). */
export interface PumpedStream {
  readonly stats: MediaStreamStats;
  readonly isStopped: boolean;
  start(nowMono: number, nowWall: number): void;
  pump(nowMono: number): void;
  stop(): void;
}

export interface MediaStreamOptions {
  video: VideoLoop;
  audio?: AudioLoop | null;
  /** RTP SSRC (the decimal value of the INVITE's y=, or 0 for devices that send 0). */
  ssrc: number;
  sink: RtpSink;
  payloadType?: number;
  maxPayloadBytes?: number;
  /** First RTP sequence number (default random, as a camera's). */
  initialSequence?: number;
  /**
   * Send the loop's shared pre-muxed, pre-cut packets (see SharedLoopPackets) instead of muxing and packetising
   * every frame for this camera: the same bytes on the wire. Default true; false is the old per-camera way,
   * kept for comparison (bench: --sim-packets per-camera).
   */
  sharedPackets?: boolean;
}

/** One frame of a loop, muxed into its PS pack once (timestamps 0) and cut into RTP payloads. */
interface SharedPack {
  /** The RTP payloads, subarrays of one pack; payloads[0] holds the SCR and the PTS and is copied per camera. */
  readonly payloads: readonly Buffer[];
  /** Offset of the first PES's PTS in the pack (PsMuxer.ptsOffset). */
  readonly ptsOffset: number;
}

/**
 * A loop's frames as PS packs cut into RTP payloads, built once and shared by every camera that plays the loop
 * with the same codecs, payload size: per packet a camera then only writes a 12-byte RTP header (its SSRC,
 * sequence number, timestamp) and, in the first packet of each frame, the SCR and PTS (10 bytes). The old
 * per-camera PsMuxer + RtpPacketizer produced exactly these bytes at ~0.15 % of a core per 2 Mb/s camera.
 */
export class SharedLoopPackets {
  private static readonly cache = new WeakMap<VideoLoop, Map<AudioLoop | null, Map<number, SharedLoopPackets>>>();

  private constructor(
    readonly video: readonly SharedPack[],
    readonly audio: readonly SharedPack[],
  ) {}

  /** The shared packets of `video` (+ `audio`), or null when a pack's timestamps do not all fall in its first payload. */
  static of(video: VideoLoop, audio: AudioLoop | null, maxPayload: number): SharedLoopPackets | null {
    let byAudio = SharedLoopPackets.cache.get(video);
    if (!byAudio) SharedLoopPackets.cache.set(video, (byAudio = new Map()));
    let byKey = byAudio.get(audio);
    if (!byKey) byAudio.set(audio, (byKey = new Map()));
    const key = maxPayload;
    const known = byKey.get(key);
    if (known) return known;
    const muxer = new PsMuxer({ video: video.codec, ...(audio ? { audio: audio.codec } : {}) });
    const cut = (pack: Buffer, ptsOffset: number): SharedPack | null => {
      // The SCR (bytes 4..9) and the 5-byte PTS must lie in the first payload, the only one copied per camera.
      if (ptsOffset + 5 > Math.min(maxPayload, pack.length)) return null;
      const payloads: Buffer[] = [];
      for (let offset = 0; offset < pack.length; offset += maxPayload) payloads.push(pack.subarray(offset, Math.min(offset + maxPayload, pack.length)));
      return { payloads, ptsOffset };
    };
    const videoPacks: SharedPack[] = [];
    for (const frame of video.frames) {
      const pack = cut(muxer.muxVideo(frame.data, 0, frame.keyframe), muxer.ptsOffset('video', frame.keyframe));
      if (!pack) return null;
      videoPacks.push(pack);
    }
    const audioPacks: SharedPack[] = [];
    for (const frame of audio?.frames ?? []) {
      const pack = cut(muxer.muxAudio(frame, 0), muxer.ptsOffset('audio', false));
      if (!pack) return null;
      audioPacks.push(pack);
    }
    const shared = new SharedLoopPackets(videoPacks, audioPacks);
    byKey.set(key, shared);
    return shared;
  }
}

export class MediaStream implements PumpedStream {
  readonly video: VideoLoop;
  readonly audio: AudioLoop | null;
  readonly ssrc: number;
  readonly stats: MediaStreamStats = { packets: 0, bytes: 0, videoFrames: 0, audioFrames: 0, droppedPackets: 0, skippedFrames: 0 };
  private readonly sink: RtpSink;
  private readonly packetizer: RtpPacketizer;
  private readonly muxer: PsMuxer;
  private readonly frameMs: number;
  private readonly shared: SharedLoopPackets | null;
  private readonly payloadType: number;
  /** Next RTP sequence number of the shared path (the packetizer keeps its own). */
  private sequence: number;
  private startMono = 0;
  private startWall = 0;
  private nextVideo = 0;
  private nextAudio = 0;
  private started = false;
  private stopped = false;
  private paused = false;
  /** After a skip or resume: send no video until a keyframe, so the receiver never sees a broken GOP. */
  private awaitKeyframe = false;

  constructor(opts: MediaStreamOptions) {
    this.video = opts.video;
    this.audio = opts.audio ?? null;
    this.ssrc = opts.ssrc >>> 0;
    this.sink = opts.sink;
    this.payloadType = opts.payloadType ?? PS_PAYLOAD_TYPE;
    const maxPayload = opts.maxPayloadBytes ?? MAX_RTP_PAYLOAD;
    this.sequence = (opts.initialSequence ?? randomInt(0, 0x10000)) & 0xffff;
    this.packetizer = new RtpPacketizer({
      ssrc: this.ssrc,
      payloadType: this.payloadType,
      maxPayload,
      initialSequence: this.sequence,
    });
    this.shared = opts.sharedPackets === false ? null : SharedLoopPackets.of(this.video, this.audio, maxPayload);
    this.muxer = new PsMuxer({ video: opts.video.codec, ...(this.audio ? { audio: this.audio.codec } : {}) });
    this.frameMs = 1000 / opts.video.fps;
  }

  /** Wall-clock epoch ms at which loop frame 0 was due (null before start). See the file comment. */
  get loopEpochMs(): number | null {
    return this.started ? this.startWall : null;
  }

  get isStarted(): boolean {
    return this.started;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** True while sending is suspended (pause()). */
  get isPaused(): boolean {
    return this.paused;
  }

  start(nowMono: number, nowWall: number): void {
    if (this.started) return;
    this.started = true;
    this.startMono = nowMono;
    this.startWall = nowWall;
  }

  /** Stop sending (the stream stays registered; the receiver sees silence). */
  pause(): void {
    this.paused = true;
  }

  /** Send again from the current position, starting at the next keyframe. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.awaitKeyframe = true;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sink.close();
  }

  /** Send every frame due by `nowMono` (performance.now() ms). */
  pump(nowMono: number): void {
    if (!this.started || this.stopped) return;
    const elapsed = nowMono - this.startMono;
    if (elapsed - this.nextVideo * this.frameMs > MAX_LAG_MS) this.skipAhead(elapsed);
    const audio = this.audio;
    for (;;) {
      const videoDue = this.nextVideo * this.frameMs;
      const audioDue = audio ? this.nextAudio * audio.frameMs : Infinity;
      const due = Math.min(videoDue, audioDue);
      if (due > elapsed) return;
      if (audio && audioDue < videoDue) this.sendAudio(audio, audioDue);
      else this.sendVideo(videoDue);
      if (this.stopped) return;
    }
  }

  private sendVideo(dueMs: number): void {
    const loop = this.video;
    const frame = loop.frames[this.nextVideo % loop.frames.length]!;
    this.nextVideo++;
    if (this.paused || (this.awaitKeyframe && !frame.keyframe)) {
      this.stats.skippedFrames++;
      return;
    }
    this.awaitKeyframe = false;
    const pts = this.pts(dueMs);
    if (this.shared) this.sendShared(this.shared.video[(this.nextVideo - 1) % loop.frames.length]!, pts);
    else this.sendPack(this.muxer.muxVideo(frame.data, pts, frame.keyframe), pts);
    this.stats.videoFrames++;
  }

  private sendAudio(audio: AudioLoop, dueMs: number): void {
    const frame = audio.frames[this.nextAudio % audio.frames.length]!;
    this.nextAudio++;
    // Audio waits for the video keyframe too: after a resume the stream starts over like a new call.
    if (this.paused || this.awaitKeyframe) return;
    const pts = this.pts(dueMs);
    if (this.shared) this.sendShared(this.shared.audio[(this.nextAudio - 1) % audio.frames.length]!, pts);
    else this.sendPack(this.muxer.muxAudio(frame, pts), pts);
    this.stats.audioFrames++;
  }

  private pts(dueMs: number): number {
    return Math.round((this.startWall + dueMs) * 90) % PTS_MODULO;
  }

  private sendPack(pack: Buffer, pts: number): void {
    for (const packet of this.packetizer.packetize(pack, pts % RTP_TS_MODULO, true)) {
      if (this.sink.send(packet)) {
        this.stats.packets++;
        this.stats.bytes += packet.length;
      } else {
        this.stats.droppedPackets++;
        if (this.sink.closed) {
          this.stopped = true;
          return;
        }
      }
    }
  }

  /** One frame from the shared packets: per packet only our RTP header; the first payload re-stamped in a copy. */
  private sendShared(pack: SharedPack, pts: number): void {
    const sink = this.sink;
    const timestamp = pts % RTP_TS_MODULO;
    const last = pack.payloads.length - 1;
    sink.cork?.();
    try {
      for (let i = 0; i <= last; i++) {
        const payload = pack.payloads[i]!;
        let ok: boolean;
        let length: number;
        if (i === 0) {
          const packet = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
          this.writeRtpHeader(packet, i === last, timestamp);
          payload.copy(packet, RTP_HEADER_BYTES);
          restampPack(packet, RTP_HEADER_BYTES, pack.ptsOffset, pts);
          ok = sink.send(packet);
          length = packet.length;
        } else {
          const header = Buffer.allocUnsafe(RTP_HEADER_BYTES);
          this.writeRtpHeader(header, i === last, timestamp);
          ok = sink.sendParts ? sink.sendParts(header, payload) : sink.send(Buffer.concat([header, payload]));
          length = RTP_HEADER_BYTES + payload.length;
        }
        if (ok) {
          this.stats.packets++;
          this.stats.bytes += length;
        } else {
          this.stats.droppedPackets++;
          if (sink.closed) {
            this.stopped = true;
            return;
          }
        }
      }
    } finally {
      sink.uncork?.();
    }
  }

  /** RTP fixed header (RFC 3550 §5.1, no CSRC, no padding) as serializeRtp writes it; advances the sequence. */
  private writeRtpHeader(out: Buffer, marker: boolean, timestamp: number): void {
    out[0] = 0x80;
    out[1] = (marker ? 0x80 : 0) | this.payloadType;
    out.writeUInt16BE(this.sequence, 2);
    out.writeUInt32BE(timestamp >>> 0, 4);
    out.writeUInt32BE(this.ssrc, 8);
    this.sequence = (this.sequence + 1) & 0xffff;
  }

  /** After a stall: continue at the next keyframe at or after the current position. */
  private skipAhead(elapsed: number): void {
    const position = Math.floor(elapsed / this.frameMs);
    const gop = this.video.gop;
    const next = Math.ceil(position / gop) * gop;
    this.stats.skippedFrames += next - this.nextVideo;
    this.nextVideo = next;
    if (this.audio) this.nextAudio = Math.floor((next * this.frameMs) / this.audio.frameMs);
  }
}

export interface PumpTotals {
  streamsStarted: number;
  packets: number;
  bytes: number;
  videoFrames: number;
  audioFrames: number;
  droppedPackets: number;
}

/** The one timer that drives every stream of a fleet. */
export class MediaPump {
  private readonly streams = new Set<PumpedStream>();
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;
  /** Counts of streams already removed (live streams are added on read). */
  private readonly finished: PumpTotals = { streamsStarted: 0, packets: 0, bytes: 0, videoFrames: 0, audioFrames: 0, droppedPackets: 0 };

  constructor(opts: { tickMs?: number } = {}) {
    // 10 ms: audio frames are 20 ms, video 40 ms; a coarser tick adds jitter, a finer one only costs wake-ups.
    this.tickMs = opts.tickMs ?? 10;
  }

  /** Start a stream now (its first keyframe goes out immediately) and keep pumping it. */
  add(stream: PumpedStream): void {
    if (this.streams.has(stream) || stream.isStopped) return;
    this.streams.add(stream);
    this.finished.streamsStarted++;
    stream.start(performance.now(), Date.now());
    stream.pump(performance.now());
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  /** Stop a stream and forget it. */
  remove(stream: PumpedStream): void {
    stream.stop();
    if (!this.streams.delete(stream)) return;
    this.account(stream);
    if (this.streams.size === 0) this.stopTimer();
  }

  /** Streams being pumped (paused ones included). */
  get size(): number {
    return this.streams.size;
  }

  get totals(): PumpTotals {
    const t = { ...this.finished };
    for (const s of this.streams) {
      t.packets += s.stats.packets;
      t.bytes += s.stats.bytes;
      t.videoFrames += s.stats.videoFrames;
      t.audioFrames += s.stats.audioFrames;
      t.droppedPackets += s.stats.droppedPackets;
    }
    return t;
  }

  close(): void {
    for (const s of [...this.streams]) this.remove(s);
    this.stopTimer();
  }

  private tick(): void {
    const now = performance.now();
    for (const stream of this.streams) {
      stream.pump(now);
      // The sink died under it (TCP peer closed): nothing more to send.
      if (stream.isStopped) {
        this.streams.delete(stream);
        this.account(stream);
      }
    }
    if (this.streams.size === 0) this.stopTimer();
  }

  private account(stream: PumpedStream): void {
    this.finished.packets += stream.stats.packets;
    this.finished.bytes += stream.stats.bytes;
    this.finished.videoFrames += stream.stats.videoFrames;
    this.finished.audioFrames += stream.stats.audioFrames;
    this.finished.droppedPackets += stream.stats.droppedPackets;
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
