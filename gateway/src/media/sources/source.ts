/**
 * What every live source of a Stream implements: GB28181 RTP/PS today (gb28181/), RTSP, RTMP and
 * upper-platform relays next. A source turns whatever arrives on the wire into access units on the 90 kHz,
 * unwrapped, per-epoch timeline of `core/access-unit.ts`, and announces its track parameters before the first
 * unit of every epoch. It never calls into its readers: the Stream that owns it listens to these events.
 *
 * A source owns what it opened (sockets, ports, connections) and releases all of it in `close`, which is
 * idempotent. When it stops on its own (the remote end went away for good) it emits `ended` once; the Stream
 * then closes itself with that reason.
 */
import type { EventEmitter } from 'node:events';
import type { AccessUnit, TrackParameters } from '../core/access-unit.js';

export interface StreamSourceEvents {
  /** Track parameters in force from now on; `epoch` is the epoch of every unit that follows. */
  parameters: [tracks: readonly TrackParameters[], epoch: number];
  unit: [AccessUnit];
  /** The source stopped for good (not emitted for `close`). */
  ended: [reason: string];
  /** A problem worth logging; the source keeps running. */
  error: [Error];
}

/** Counters every source keeps; `dropped` says what was thrown away and why (keys are stable metric labels). */
export interface SourceStats {
  videoUnits: number;
  audioUnits: number;
  /** Payload bytes of the units emitted. */
  bytes: number;
  epoch: number;
  lastUnitAt: number | null;
  dropped: Record<string, number>;
}

export interface StreamSource extends EventEmitter<StreamSourceEvents> {
  /** "gb28181", "rtsp", … */
  readonly kind: string;
  /** The parameters in force (empty before the first `parameters` event). */
  readonly tracks: readonly TrackParameters[];
  readonly epoch: number;
  stats(): SourceStats;
  close(reason: string): Promise<void>;
}
