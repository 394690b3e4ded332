/**
 * The GB28181 source: one RTP receiver (UDP, TCP passive or TCP active, from the media port pool) → our PS
 * demuxer → access units (ps-access-units.ts). It owns the receiver and therefore the port: `close` releases both.
 *
 * Restarts: an SSRC change on the port (a device that ignores y= and restarts with another SSRC) or an RTP
 * sequence jump the reorder buffer takes as a sender restart resets the demuxer (it waits for the next PSM and
 * keyframe) and starts a new epoch. Demux problems (garbage, truncated PES, missing or changing PSM) are
 * dropped and counted by the demuxer and never reach the readers.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { PsDemuxer, type PsDemuxerStats } from '../../../codecs/ps/ps-demuxer.js';
import type { TrackParameters } from '../../core/access-unit.js';
import type { PortPool } from '../../port-pool.js';
import { RtpReceiver, type ReceiverStats, type RtpReceiverOptions } from '../../rtp-receiver.js';
import type { SourceStats, StreamSource, StreamSourceEvents } from '../source.js';
import { PsAccessUnitAssembler, type AssemblerOptions, type AssemblerStats } from './ps-access-units.js';

export interface GbPsSourceOptions extends Omit<RtpReceiverOptions, 'port'> {
  assembler?: AssemblerOptions;
}

export interface GbPsSourceStats extends SourceStats {
  receiver: ReceiverStats;
  demuxer: PsDemuxerStats;
  assembler: AssemblerStats;
  /** Demuxer resets after a sender restart. */
  restarts: number;
  /** Frames (not bytes) that never reached the stream: waiting for a keyframe, oversized, bad parameter sets or audio. */
  droppedFrames: number;
}

export class GbPsSource extends EventEmitter<StreamSourceEvents> implements StreamSource {
  readonly kind = 'gb28181';
  private demuxer = new PsDemuxer();
  /** Demuxer counters of demuxers replaced after a restart, so the totals stay monotonic. */
  private readonly demuxTotals: PsDemuxerStats = emptyDemuxStats();
  private readonly assembler: PsAccessUnitAssembler;
  private lastUnitAt: number | null = null;
  private restarts = 0;
  private seenResyncs = 0;
  private closing: Promise<void> | null = null;
  readonly firstPacket: Promise<void>;

  private constructor(
    readonly receiver: RtpReceiver,
    opts: GbPsSourceOptions,
    private readonly log: Logger | undefined,
  ) {
    super();
    this.assembler = new PsAccessUnitAssembler(
      {
        parameters: (tracks, epoch) => this.safeEmit('parameters', tracks, epoch),
        unit: (unit) => {
          this.lastUnitAt = unit.receivedAt;
          this.safeEmit('unit', unit);
        },
      },
      opts.assembler,
    );
    this.firstPacket = new Promise<void>((resolve) => receiver.once('first-packet', () => resolve()));
    receiver.on('payload', (payload) => this.onPayload(payload));
    receiver.on('ssrc-change', () => this.restart('ssrc-change'));
    receiver.on('error', (err) => this.safeEmit('error', err));
  }

  /** Opens the receiver on a port from the pool (see RtpReceiver.openFromPool). */
  static async open(pool: PortPool, opts: GbPsSourceOptions): Promise<GbPsSource> {
    const receiver = await RtpReceiver.openFromPool(pool, opts);
    return new GbPsSource(receiver, opts, opts.logger);
  }

  /** Wraps an opened receiver (tests, callers with their own port). */
  static fromReceiver(receiver: RtpReceiver, opts: Pick<GbPsSourceOptions, 'assembler' | 'logger'> = {}): GbPsSource {
    return new GbPsSource(receiver, { ...opts, transport: receiver.transport, host: '', expectedSsrc: 0, allowZeroSsrc: false }, opts.logger);
  }

  get localPort(): number {
    return this.receiver.localPort;
  }

  get tracks(): readonly TrackParameters[] {
    return this.assembler.tracks;
  }

  get epoch(): number {
    return this.assembler.epoch;
  }

  /** TCP active: dial the device's media port (from its SDP answer). */
  connectActive(host: string, port: number): Promise<void> {
    return this.receiver.connectActive(host, port);
  }

  /** Counters of the demuxer now in use plus those of earlier ones. */
  demuxStats(): PsDemuxerStats {
    const now = this.demuxer.stats;
    const sum = { ...this.demuxTotals };
    for (const key of Object.keys(sum) as Array<keyof PsDemuxerStats>) sum[key] += now[key];
    return sum;
  }

  stats(): GbPsSourceStats {
    const a = this.assembler.stats;
    const d = this.demuxStats();
    return {
      videoUnits: a.videoUnits,
      audioUnits: a.audioUnits,
      bytes: a.bytes,
      epoch: a.epoch,
      lastUnitAt: this.lastUnitAt,
      dropped: {
        ...a.dropped,
        psResyncs: d.resyncs,
        truncatedPes: d.truncatedPes,
        malformedPes: d.malformedPes,
        unsupportedPes: d.unsupportedPes,
        oversizedFrames: d.oversizedFrames,
        framesBeforeKeyframe: d.framesBeforeKeyframe,
      },
      receiver: this.receiver.stats,
      demuxer: d,
      assembler: a,
      restarts: this.restarts,
      droppedFrames:
        a.dropped.waitingForKeyframe + a.dropped.badParameterSets + a.dropped.badAudio + a.dropped.emptyFrames + d.framesBeforeKeyframe + d.oversizedFrames,
    };
  }

  close(reason: string): Promise<void> {
    if (this.closing) return this.closing;
    this.log?.debug({ reason }, 'GB source closing');
    this.closing = this.receiver.close();
    return this.closing;
  }

  private onPayload(payload: Buffer): void {
    // Per packet: the counter alone, not the receiver's whole stats object (a dozen fields, ~1 % of a core at 200 streams).
    const resyncs = this.receiver.resyncs;
    if (resyncs !== this.seenResyncs) {
      this.seenResyncs = resyncs;
      this.restart('rtp-sequence-jump');
    }
    const now = Date.now();
    for (const frame of this.demuxer.push(payload)) {
      this.assembler.push(frame, now, this.demuxer.streams.audio !== undefined);
    }
  }

  private restart(why: string): void {
    if (this.closing) return;
    this.restarts++;
    this.log?.info({ why, epoch: this.assembler.epoch }, 'the sender restarted; a new epoch starts at the next keyframe');
    const old = this.demuxer.stats;
    for (const key of Object.keys(this.demuxTotals) as Array<keyof PsDemuxerStats>) this.demuxTotals[key] += old[key];
    this.demuxer = new PsDemuxer();
    this.assembler.discontinuity();
  }

  private safeEmit<K extends keyof StreamSourceEvents>(event: K, ...args: StreamSourceEvents[K]): void {
    if (event === 'error' && this.listenerCount('error') === 0) {
      this.log?.warn({ err: (args[0] as Error).message }, 'GB source error');
      return;
    }
    (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  }
}

function emptyDemuxStats(): PsDemuxerStats {
  return {
    packs: 0,
    pesPackets: 0,
    resyncs: 0,
    droppedBytes: 0,
    psms: 0,
    videoFrames: 0,
    audioFrames: 0,
    framesBeforeKeyframe: 0,
    truncatedPes: 0,
    malformedPes: 0,
    unsupportedPes: 0,
    oversizedFrames: 0,
  };
}
