/**
 * A Stream: one live source fanned out to any number of readers, and the one owner of everything the stream
 * opened. See docs/media-core.md for the object model.
 *
 *  - The source emits `parameters` (before the first unit of every epoch) and `unit`; the Stream hands both to
 *    every reader, in order, synchronously. A reader that throws, or whose `backlog()` passes
 *    `maxReaderBacklog`, is cut (closed with the reason) and the others go on.
 *  - A reader added while the stream runs gets the parameters in force and then the units from the last
 *    keyframe on (the current GOP is kept, bounded by `gopCacheBytes`), so it can start at once with a
 *    decodable picture; if the GOP outgrew the cache it waits for the next keyframe.
 *  - `own(name, dispose)` hands the Stream something to release when it closes (the INVITE dialog's BYE, the
 *    SSRC, an output directory).
 *  - `close(reason)` runs once (later calls get the same promise): units stop flowing at once; what was owned
 *    `beforeSource` (the BYE that tells the sender to stop) is released first, then the source (its sockets and
 *    port), then the readers, then the other owned resources in reverse order of `own`.
 *    A failing step is logged and the next one still runs. The source ending on its own closes the stream.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { StreamSource } from '../sources/source.js';
import type { AccessUnit, StreamReader, TrackParameters, VideoParameters } from './access-unit.js';

export interface StreamOptions {
  id: string;
  source: StreamSource;
  logger?: Logger;
  /** A reader whose backlog() passes this is cut. Default 16 MiB (readers report bytes). */
  maxReaderBacklog?: number;
  /** Bytes of the current GOP kept for readers that join. Default 8 MiB. */
  gopCacheBytes?: number;
}

export interface ReaderStats {
  id: string;
  kind: string;
  addedAt: number;
  units: number;
  bytes: number;
  /** Units not delivered because the reader was waiting for a keyframe. */
  skipped: number;
  backlog: number;
  /** ms between the arrival of the last delivered unit and its delivery (queueing in front of the reader). */
  lagMs: number;
}

export interface StreamStats {
  epoch: number;
  units: number;
  videoUnits: number;
  audioUnits: number;
  bytes: number;
  keyframes: number;
  lastUnitAt: number | null;
  readersCut: number;
  /** Bytes of the GOP cache (units kept for readers that join). */
  gopCacheBytes: number;
  readers: ReaderStats[];
}

export interface StreamEvents {
  parameters: [tracks: readonly TrackParameters[], epoch: number];
  /** A video keyframe went out (the first one means the stream can be played). */
  keyframe: [AccessUnit];
  'reader-closed': [{ id: string; kind: string; reason: string; cut: boolean }];
  closed: [{ reason: string }];
}

interface ReaderEntry {
  id: string;
  reader: StreamReader;
  stats: ReaderStats;
  waitingForKeyframe: boolean;
}

let nextReaderId = 1;

function unitBytes(unit: AccessUnit): number {
  if (unit.nalus) {
    let n = 0;
    for (const nal of unit.nalus) n += nal.length;
    return n;
  }
  return unit.data?.length ?? 0;
}

export class Stream extends EventEmitter<StreamEvents> {
  readonly id: string;
  readonly source: StreamSource;
  private readonly log: Logger | undefined;
  private readonly maxBacklog: number;
  private readonly gopCacheBytes: number;
  private readonly readers = new Map<string, ReaderEntry>();
  private readonly owned: Array<{ name: string; dispose: () => void | Promise<void>; beforeSource: boolean }> = [];
  private tracks: readonly TrackParameters[] = [];
  private epoch = 0;
  private gop: AccessUnit[] = [];
  private gopBytes = 0;
  private gopComplete = false;
  private closing: Promise<void> | null = null;
  private closeReason: string | null = null;
  private readonly counters = { units: 0, videoUnits: 0, audioUnits: 0, bytes: 0, keyframes: 0, lastUnitAt: null as number | null, readersCut: 0 };
  private readonly onParameters = (tracks: readonly TrackParameters[], epoch: number): void => this.handleParameters(tracks, epoch);
  private readonly onUnit = (unit: AccessUnit): void => this.handleUnit(unit);
  private readonly onEnded = (reason: string): void => void this.close(reason);
  private readonly onSourceError = (err: Error): void => this.log?.warn({ err: err.message, streamId: this.id }, 'stream source error');

  constructor(opts: StreamOptions) {
    super();
    this.id = opts.id;
    this.source = opts.source;
    this.log = opts.logger;
    this.maxBacklog = opts.maxReaderBacklog ?? 16 * 1024 * 1024;
    this.gopCacheBytes = opts.gopCacheBytes ?? 8 * 1024 * 1024;
    this.source.on('parameters', this.onParameters);
    this.source.on('unit', this.onUnit);
    this.source.on('ended', this.onEnded);
    this.source.on('error', this.onSourceError);
    if (this.source.tracks.length > 0) this.handleParameters(this.source.tracks, this.source.epoch);
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Why the stream closed (null while open). */
  get reason(): string | null {
    return this.closeReason;
  }

  get parameters(): readonly TrackParameters[] {
    return this.tracks;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  get video(): VideoParameters | null {
    return (this.tracks.find((t) => t.kind === 'video') as VideoParameters | undefined) ?? null;
  }

  /** The last video keyframe of the current epoch, with the parameters it needs; null before the first. */
  lastKeyframe(): { unit: AccessUnit; video: VideoParameters } | null {
    const first = this.gop.find((u) => u.kind === 'video' && u.keyframe);
    const video = this.video;
    return first && video ? { unit: first, video } : null;
  }

  /** Adds a reader; returns its id (for removeReader). Throws if the stream is closed. */
  addReader(reader: StreamReader): string {
    if (this.closing) throw new Error(`stream ${this.id} is closed (${this.closeReason ?? ''})`);
    const id = `${reader.kind}-${nextReaderId++}`;
    const entry: ReaderEntry = {
      id,
      reader,
      waitingForKeyframe: true,
      stats: { id, kind: reader.kind, addedAt: Date.now(), units: 0, bytes: 0, skipped: 0, backlog: 0, lagMs: 0 },
    };
    this.readers.set(id, entry);
    if (this.tracks.length > 0 && !this.call(entry, () => reader.onParameters(this.tracks, this.epoch))) return id;
    if (this.gopComplete) {
      for (const unit of this.gop) if (!this.deliver(entry, unit)) break;
    }
    return id;
  }

  /** Closes one reader (it is not cut: a viewer left). Unknown ids are ignored. */
  removeReader(id: string, reason: string): Promise<void> {
    const entry = this.readers.get(id);
    if (!entry) return Promise.resolve();
    return this.closeReader(entry, reason, false);
  }

  readerStats(): ReaderStats[] {
    return [...this.readers.values()].map((e) => ({ ...e.stats, backlog: safeBacklog(e.reader) }));
  }

  stats(): StreamStats {
    return { epoch: this.epoch, ...this.counters, gopCacheBytes: this.gopBytes, readers: this.readerStats() };
  }

  /**
   * Something to release when the stream closes: after the source and the readers, last owned first. With
   * `beforeSource` it goes before the source is closed: the signalling that tells the sender to stop (a BYE must
   * reach a camera before we reset its TCP media connection, or it sees a broken connection, not a hang-up).
   */
  own(name: string, dispose: () => void | Promise<void>, opts: { beforeSource?: boolean } = {}): void {
    if (this.closing) {
      // Too late to hold it: release it now.
      void Promise.resolve()
        .then(dispose)
        .catch((err: unknown) => this.log?.warn({ err: (err as Error).message, name, streamId: this.id }, 'release failed'));
      return;
    }
    this.owned.push({ name, dispose, beforeSource: opts.beforeSource === true });
  }

  close(reason: string): Promise<void> {
    if (this.closing) return this.closing;
    this.closeReason = reason;
    this.closing = this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason: string): Promise<void> {
    this.source.off('parameters', this.onParameters);
    this.source.off('unit', this.onUnit);
    this.source.off('ended', this.onEnded);
    const owned = this.owned.splice(0).reverse();
    await this.release(owned.filter((o) => o.beforeSource));
    try {
      await this.source.close(reason);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, streamId: this.id }, 'closing the source failed');
    }
    this.source.off('error', this.onSourceError);
    await Promise.all([...this.readers.values()].map((e) => this.closeReader(e, reason, false)));
    await this.release(owned.filter((o) => !o.beforeSource));
    this.gop = [];
    this.gopBytes = 0;
    this.emit('closed', { reason });
  }

  private async release(items: ReadonlyArray<{ name: string; dispose: () => void | Promise<void> }>): Promise<void> {
    for (const item of items) {
      try {
        await item.dispose();
      } catch (err) {
        this.log?.warn({ err: (err as Error).message, name: item.name, streamId: this.id }, 'release failed');
      }
    }
  }

  private handleParameters(tracks: readonly TrackParameters[], epoch: number): void {
    this.tracks = tracks;
    this.epoch = epoch;
    this.gop = [];
    this.gopBytes = 0;
    this.gopComplete = false;
    for (const entry of [...this.readers.values()]) {
      entry.waitingForKeyframe = true;
      this.call(entry, () => entry.reader.onParameters(tracks, epoch));
    }
    this.emit('parameters', tracks, epoch);
  }

  private handleUnit(unit: AccessUnit): void {
    if (this.closing) return;
    const bytes = unitBytes(unit);
    this.counters.units++;
    this.counters.bytes += bytes;
    this.counters.lastUnitAt = unit.receivedAt;
    if (unit.kind === 'video') this.counters.videoUnits++;
    else this.counters.audioUnits++;
    const hasVideo = this.tracks.some((t) => t.kind === 'video');
    const startsGop = unit.kind === 'video' ? unit.keyframe : !hasVideo;
    if (startsGop) {
      this.gop = [];
      this.gopBytes = 0;
      this.gopComplete = true;
    }
    if (this.gopComplete) {
      if (this.gopBytes + bytes <= this.gopCacheBytes) {
        this.gop.push(unit);
        this.gopBytes += bytes;
      } else {
        this.gop = [];
        this.gopBytes = 0;
        this.gopComplete = false;
      }
    }
    for (const entry of [...this.readers.values()]) this.deliver(entry, unit);
    if (unit.kind === 'video' && unit.keyframe) {
      this.counters.keyframes++;
      this.emit('keyframe', unit);
    }
  }

  /** Returns false if the reader was cut. */
  private deliver(entry: ReaderEntry, unit: AccessUnit): boolean {
    if (entry.waitingForKeyframe) {
      const hasVideo = this.tracks.some((t) => t.kind === 'video');
      if (hasVideo ? unit.kind === 'video' && unit.keyframe : true) entry.waitingForKeyframe = false;
      else {
        entry.stats.skipped++;
        return true;
      }
    }
    if (!this.call(entry, () => entry.reader.onAccessUnit(unit))) return false;
    entry.stats.units++;
    entry.stats.bytes += unitBytes(unit);
    entry.stats.lagMs = Date.now() - unit.receivedAt;
    const backlog = safeBacklog(entry.reader);
    if (backlog > this.maxBacklog) {
      this.counters.readersCut++;
      void this.closeReader(entry, `cannot keep up: ${backlog} bytes waiting (limit ${this.maxBacklog})`, true);
      return false;
    }
    return true;
  }

  /** Runs a reader callback; a throw cuts the reader. Returns false if it threw. */
  private call(entry: ReaderEntry, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.counters.readersCut++;
      this.log?.warn({ err: (err as Error).message, reader: entry.id, streamId: this.id }, 'stream reader failed; cut');
      void this.closeReader(entry, `reader failed: ${(err as Error).message}`, true);
      return false;
    }
  }

  private async closeReader(entry: ReaderEntry, reason: string, cut: boolean): Promise<void> {
    if (!this.readers.delete(entry.id)) return;
    try {
      await entry.reader.close(reason);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, reader: entry.id, streamId: this.id }, 'closing a reader failed');
    }
    this.emit('reader-closed', { id: entry.id, kind: entry.reader.kind, reason, cut });
  }
}

function safeBacklog(reader: StreamReader): number {
  try {
    return reader.backlog();
  } catch {
    return 0;
  }
}
