/** A scripted source and a recording reader for the stream-core tests. */
import { EventEmitter } from 'node:events';
import type { AccessUnit, StreamReader, TrackParameters, VideoParameters } from '../../src/media/core/access-unit.js';
import type { SourceStats, StreamSource, StreamSourceEvents } from '../../src/media/sources/source.js';

export const VIDEO: VideoParameters = {
  kind: 'video',
  codec: 'h264',
  sps: [Uint8Array.of(0x67, 0x42, 0xc0, 0x1e)],
  pps: [Uint8Array.of(0x68, 0xce, 0x3c, 0x80)],
  width: 640,
  height: 360,
  codecString: 'avc1.42c01e',
};

export class ScriptedSource extends EventEmitter<StreamSourceEvents> implements StreamSource {
  readonly kind = 'scripted';
  tracks: readonly TrackParameters[] = [];
  epoch = 0;
  closedWith: string | null = null;
  constructor(private readonly journal: string[] = []) {
    super();
  }
  announce(tracks: readonly TrackParameters[], epoch: number): void {
    this.tracks = tracks;
    this.epoch = epoch;
    this.emit('parameters', tracks, epoch);
  }
  video(dts: number, keyframe: boolean, bytes = 100): AccessUnit {
    const unit: AccessUnit = { kind: 'video', pts: dts, dts, keyframe, nalus: [new Uint8Array(bytes)], epoch: this.epoch, receivedAt: Date.now() };
    this.emit('unit', unit);
    return unit;
  }
  stats(): SourceStats {
    return { videoUnits: 0, audioUnits: 0, bytes: 0, epoch: this.epoch, lastUnitAt: null, dropped: {} };
  }
  async close(reason: string): Promise<void> {
    this.closedWith = reason;
    this.journal.push('source');
  }
}

export class RecordingReader implements StreamReader {
  readonly units: AccessUnit[] = [];
  readonly parameters: Array<{ tracks: readonly TrackParameters[]; epoch: number }> = [];
  pending = 0;
  closeReasons: string[] = [];
  throwOnUnit = false;
  constructor(
    readonly kind: string,
    private readonly journal: string[] = [],
  ) {}
  onParameters(tracks: readonly TrackParameters[], epoch: number): void {
    this.parameters.push({ tracks, epoch });
  }
  onAccessUnit(unit: AccessUnit): void {
    if (this.throwOnUnit) throw new Error('reader exploded');
    this.units.push(unit);
  }
  backlog(): number {
    return this.pending;
  }
  async close(reason: string): Promise<void> {
    this.closeReasons.push(reason);
    this.journal.push(`reader:${this.kind}`);
  }
}
