/**
 * PTZ control of a channel: turns an operator's request into GB PTZCmd codes and sends them to the
 * device that owns the channel.
 *
 * Safety: a move that nobody stops keeps a dome turning for ever (a lost browser tab, a dropped network).
 * Every move, zoom, focus or iris request therefore carries an auto-stop: after `durationMs` (default 500,
 * at most 30 s) the matching stop code is sent unless another command for the same channel came first.
 * `{ "action": "stop" }` stops at once.
 */
import type { Logger } from 'pino';
import { encodePtz, type PtzCommand } from '../../codecs/gb/ptz.js';
import { ConflictError, NotFoundError, ValidationError } from '../services.js';

export type PtzDirection = 'up' | 'down' | 'left' | 'right' | 'up-left' | 'up-right' | 'down-left' | 'down-right';

export type PtzRequest =
  | { action: 'move'; direction?: PtzDirection; zoom?: 'in' | 'out'; speed?: number; zoomSpeed?: number; durationMs?: number }
  | { action: 'stop' }
  | { action: 'focus'; direction: 'near' | 'far'; speed?: number; durationMs?: number }
  | { action: 'iris'; direction: 'open' | 'close'; speed?: number; durationMs?: number }
  | { action: 'preset'; operation: 'set' | 'call' | 'delete'; preset: number };

export interface PtzTarget {
  channelId: string;
  deviceId: string;
  deviceOnline: boolean;
}

export interface PtzPort {
  /** Resolve a channel to its owning device; null when unknown. */
  resolve(channelId: string): Promise<PtzTarget | null>;
  /** Send one PTZCmd code to a channel through its device. */
  send(target: PtzTarget, ptzHex: string): Promise<void>;
}

const DEFAULT_DURATION_MS = 500;
const MAX_DURATION_MS = 30_000;

export class PtzService {
  private readonly autoStops = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly port: PtzPort,
    private readonly logger: Logger,
  ) {}

  async execute(channelId: string, request: PtzRequest): Promise<{ sent: string[]; autoStopAfterMs: number | null }> {
    const target = await this.port.resolve(channelId);
    if (!target) throw new NotFoundError(`channel ${channelId} not found`);
    if (!target.deviceOnline) throw new ConflictError(`device ${target.deviceId} of channel ${channelId} is offline`);

    const { command, stop, durationMs } = PtzService.translate(request);
    const hex = encodePtz(command);
    this.cancelAutoStop(channelId);
    await this.port.send(target, hex);
    if (!stop) return { sent: [hex], autoStopAfterMs: null };

    const stopHex = encodePtz(stop);
    const timer = setTimeout(() => {
      this.autoStops.delete(channelId);
      this.port.send(target, stopHex).catch((err: unknown) => {
        this.logger.error({ err, channelId, deviceId: target.deviceId }, 'PTZ auto-stop failed to send; the camera may keep moving');
      });
    }, durationMs);
    timer.unref();
    this.autoStops.set(channelId, timer);
    return { sent: [hex], autoStopAfterMs: durationMs };
  }

  close(): void {
    for (const t of this.autoStops.values()) clearTimeout(t);
    this.autoStops.clear();
  }

  private cancelAutoStop(channelId: string): void {
    const t = this.autoStops.get(channelId);
    if (t) clearTimeout(t);
    this.autoStops.delete(channelId);
  }

  /** Request → PTZ command, plus the stop command to send when it times out. Pure; exported for tests. */
  static translate(request: PtzRequest): { command: PtzCommand; stop: PtzCommand | null; durationMs: number } {
    const duration = (d: number | undefined): number => {
      const v = d ?? DEFAULT_DURATION_MS;
      if (!Number.isInteger(v) || v < 50 || v > MAX_DURATION_MS) {
        throw new ValidationError(`durationMs must be an integer 50-${MAX_DURATION_MS}`, 'durationMs');
      }
      return v;
    };
    const speed = (s: number | undefined, field: string, max: number, dflt: number): number => {
      const v = s ?? dflt;
      if (!Number.isInteger(v) || v < 0 || v > max) throw new ValidationError(`${field} must be an integer 0-${max}`, field);
      return v;
    };
    switch (request.action) {
      case 'stop':
        return { command: { kind: 'stop' }, stop: null, durationMs: 0 };
      case 'move': {
        if (!request.direction && !request.zoom) throw new ValidationError('move needs direction or zoom', 'direction');
        const d = request.direction ?? '';
        const pan = d.includes('left') ? 'left' : d.includes('right') ? 'right' : null;
        const tilt = d.startsWith('up') ? 'up' : d.startsWith('down') ? 'down' : null;
        const s = speed(request.speed, 'speed', 255, 128);
        return {
          command: {
            kind: 'move',
            pan,
            tilt,
            zoom: request.zoom ?? null,
            panSpeed: pan ? s : 0,
            tiltSpeed: tilt ? s : 0,
            zoomSpeed: request.zoom ? speed(request.zoomSpeed, 'zoomSpeed', 15, 8) : 0,
          },
          stop: { kind: 'stop' },
          durationMs: duration(request.durationMs),
        };
      }
      case 'focus':
      case 'iris': {
        const s = speed(request.speed, 'speed', 255, 128);
        const command: PtzCommand =
          request.action === 'focus'
            ? { kind: 'fi', focus: request.direction, iris: null, focusSpeed: s, irisSpeed: 0 }
            : { kind: 'fi', focus: null, iris: request.direction, focusSpeed: 0, irisSpeed: s };
        return {
          command,
          stop: { kind: 'fi', focus: null, iris: null, focusSpeed: 0, irisSpeed: 0 },
          durationMs: duration(request.durationMs),
        };
      }
      case 'preset': {
        if (!Number.isInteger(request.preset) || request.preset < 1 || request.preset > 255) {
          throw new ValidationError('preset must be an integer 1-255', 'preset');
        }
        return { command: { kind: 'preset', action: request.operation, preset: request.preset }, stop: null, durationMs: 0 };
      }
      default:
        throw new ValidationError('unknown action', 'action');
    }
  }
}
