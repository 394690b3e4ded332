/**
 * Press-and-hold PTZ: a held button (or key) keeps the camera moving, and letting go always stops it.
 *
 * The gateway stops every move by itself after `durationMs` (a lost tab must not leave a dome turning), so a
 * hold re-sends its move every `refreshMs` (< durationMs) to keep going; release sends an explicit
 * `{ action: 'stop' }`. Requests go out one after another: a stop sent while the move is still in flight
 * could otherwise overtake it on another connection and leave the camera moving until the auto-stop.
 */
import type { PtzDirection } from './shortcuts';

export type PtzMotion =
  | { action: 'move'; direction?: PtzDirection; zoom?: 'in' | 'out'; speed?: number; zoomSpeed?: number }
  | { action: 'focus'; direction: 'near' | 'far'; speed?: number }
  | { action: 'iris'; direction: 'open' | 'close'; speed?: number };

/** The body of POST /api/channels/:id/ptz (gateway/src/domain/control/ptz-service.ts PtzRequest). */
export type PtzRequest =
  | (PtzMotion & { durationMs?: number })
  | { action: 'stop' }
  | { action: 'preset'; operation: 'set' | 'call' | 'delete'; preset: number };

export type PtzSend = (channelId: string, request: PtzRequest) => Promise<unknown>;

export interface PtzTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface PtzHoldOptions {
  refreshMs?: number;
  durationMs?: number;
  /** A failed request (offline device, 409, network): shown to the operator. */
  onError?: (error: unknown) => void;
}

export class PtzHold {
  private held: { channelId: string; motion: PtzMotion; timer: unknown } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly refreshMs: number;
  private readonly durationMs: number;

  constructor(
    private readonly send: PtzSend,
    private readonly timers: PtzTimers,
    private readonly options: PtzHoldOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 1_000;
    this.durationMs = options.durationMs ?? 1_500;
  }

  get active(): boolean {
    return this.held !== null;
  }

  /** Start (or change) a hold. A hold on another camera is stopped first. */
  press(channelId: string, motion: PtzMotion): void {
    if (this.held && this.held.channelId !== channelId) this.release();
    if (this.held) this.timers.clearInterval(this.held.timer);
    const timer = this.timers.setInterval(() => this.enqueue(channelId, { ...motion, durationMs: this.durationMs }), this.refreshMs);
    this.held = { channelId, motion, timer };
    this.enqueue(channelId, { ...motion, durationMs: this.durationMs });
  }

  /** Let go: stop refreshing and send an explicit stop. Safe to call when nothing is held. */
  release(): Promise<unknown> {
    const held = this.held;
    if (!held) return this.queue;
    this.held = null;
    this.timers.clearInterval(held.timer);
    return this.enqueue(held.channelId, { action: 'stop' });
  }

  /** A one-shot command (presets), in order with the holds. */
  command(channelId: string, request: PtzRequest): Promise<unknown> {
    return this.enqueue(channelId, request);
  }

  /** Everything sent so far has been answered (or failed). */
  idle(): Promise<unknown> {
    return this.queue;
  }

  private enqueue(channelId: string, request: PtzRequest): Promise<unknown> {
    this.queue = this.queue.then(() =>
      this.send(channelId, request).catch((error: unknown) => {
        this.options.onError?.(error);
      }),
    );
    return this.queue;
  }
}
