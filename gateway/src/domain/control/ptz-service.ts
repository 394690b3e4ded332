/**
 * PTZ control of a channel: turns an operator's request into GB PTZCmd codes and sends them to the
 * device that owns the channel.
 *
 * Safety: a move that nobody stops keeps a dome turning for ever (a lost browser tab, a dropped network).
 * Every move, zoom, focus or iris request therefore carries an auto-stop: after `durationMs` (default 500,
 * at most 30 s) the matching stop code is sent unless another command of the same family for the same
 * channel came first.
 *
 * GB has two stop codes, one per instruction family: the PTZ stop (A50F0100000000B5) halts pan, tilt and
 * zoom, the FI stop (A50F0140000000F5) halts focus and iris; a camera may ignore the one for the other
 * family. Auto-stops are therefore kept per family (a focus press does not cancel a pan's auto-stop), and
 * `{ "action": "stop" }` sends, at once, the stop of every family still moving and of the channel's last
 * moving command; both stops when the gateway has not seen the channel move (e.g. after a restart).
 *
 * Arbitration (command centres fight over PTZ): one user steers a camera at a time. The first command takes a
 * lease on the channel (holder, role, since), renewed by each command and lost after `leaseMs` without one.
 * Another user's command is refused with a PtzLeaseConflict (409 naming the holder) unless their role ranks
 * higher (admin > operator > maintainer > viewer), which takes the camera over. Callers without an actor
 * (internal use) bypass the lease.
 *
 * Protocols: the service speaks orders (PtzOrder: the GB PTZCmd commands plus `home` and `relative`, which GB's
 * PTZCmd cannot say). The port sends an order the channel's way — a PTZCmd over SIP for GB28181, ONVIF PTZ calls
 * through the device's driver (docs/devices.md) — so leases, auto-stops and stop rules are the same for all.
 */
import type { Logger } from 'pino';
import { decodePtz, encodePtz, type PtzCommand } from '../../codecs/gb/ptz.js';
import { ConflictError, NotFoundError, ValidationError } from '../services.js';
import type { UserRole } from '../model.js';
import { ROLE_RANK } from '../auth/permissions.js';

/** Who sends a PTZ command (for the lease). */
export interface PtzActor {
  username: string;
  role: UserRole;
}

/** Who steers a camera now. */
export interface PtzLease {
  channelId: string;
  holder: string;
  role: UserRole;
  since: number;
  /** When the lease lapses unless the holder sends another command. */
  expiresAt: number;
}

/** Another user holds the camera: 409 with who, so the wall can show it. */
export class PtzLeaseConflict extends ConflictError {
  constructor(readonly lease: PtzLease) {
    super(`PTZ of channel ${lease.channelId} is held by ${lease.holder} (${lease.role}) until ${new Date(lease.expiresAt).toISOString()} unless they keep steering; a higher role can take it over`);
  }

  override get details(): Record<string, unknown> {
    return { holder: this.lease };
  }
}

export interface PtzResult {
  sent: string[];
  autoStopAfterMs: number | null;
  /** The caller's lease after the command (null without an actor). */
  lease: PtzLease | null;
  /** Set when the command took the camera over from another user. */
  takenOverFrom: { holder: string; role: UserRole } | null;
}

export interface PtzOptions {
  /** A lease lapses this long after its holder's last command. */
  leaseMs: number;
}

const DEFAULT_LEASE_MS = 30_000;

export type PtzDirection = 'up' | 'down' | 'left' | 'right' | 'up-left' | 'up-right' | 'down-left' | 'down-right';

export type PtzRequest =
  | { action: 'move'; direction?: PtzDirection; zoom?: 'in' | 'out'; speed?: number; zoomSpeed?: number; durationMs?: number }
  | { action: 'stop' }
  | { action: 'focus'; direction: 'near' | 'far'; speed?: number; durationMs?: number }
  | { action: 'iris'; direction: 'open' | 'close'; speed?: number; durationMs?: number }
  | { action: 'preset'; operation: 'set' | 'call' | 'delete'; preset: number }
  /** Drive to the home position (ONVIF GotoHomePosition; GB28181's PTZCmd has none). */
  | { action: 'home' }
  /** A step relative to where the head is, in the generic space −1…1 per axis (ONVIF RelativeMove). */
  | { action: 'relative'; pan?: number; tilt?: number; zoom?: number };

/** What the service asks a port to send: a GB PTZCmd command, or an order only some protocols have. */
export type PtzOrder = PtzCommand | { kind: 'home' } | { kind: 'relative'; pan: number; tilt: number; zoom: number };

/** The orders a GB PTZCmd can carry (everything but home and relative). */
export function isGbCommand(order: PtzOrder): order is PtzCommand {
  return order.kind !== 'home' && order.kind !== 'relative';
}

export interface PtzTarget {
  channelId: string;
  deviceId: string;
  deviceOnline: boolean;
  /**
   * Set when the channel has no pan/tilt/zoom head but its focus and iris can still be steered (an ONVIF camera
   * whose profile has no PTZ configuration: Imaging is a service of its own). Move, preset, home and relative
   * orders are then refused with this reason (409) before a lease is taken; focus, iris and stop go through,
   * and a stop halts only the focus/iris family.
   */
  noPanTiltZoom?: string;
}

export interface PtzPort {
  /** Resolve a channel to its owning device; null when unknown. */
  resolve(channelId: string): Promise<PtzTarget | null>;
  /**
   * Send one order to a channel through its device. `ptzHex` is its PTZCmd ('' for orders GB cannot carry).
   * Answers what was sent when that is not the PTZCmd (an ONVIF call), null when the order needed nothing
   * on this protocol (ONVIF has no focus/iris stop in PTZ), nothing when the PTZCmd was sent.
   */
  send(target: PtzTarget, ptzHex: string, order: PtzOrder): Promise<string | null | void>;
}

const DEFAULT_DURATION_MS = 500;
const MAX_DURATION_MS = 30_000;
/** Channels whose last moving family is remembered; the oldest are forgotten (a stop then sends both codes). */
const MAX_REMEMBERED_CHANNELS = 10_000;

/** Instruction families with their own stop code: pan/tilt/zoom, and focus/iris. */
export type PtzFamily = 'ptz' | 'fi';
const FAMILIES: readonly PtzFamily[] = ['ptz', 'fi'];
/** What a channel without a pan/tilt/zoom head still takes (see PtzTarget.noPanTiltZoom). */
const FOCUS_IRIS_ACTIONS: ReadonlySet<string> = new Set(['focus', 'iris', 'stop']);

/** The stop of each family. */
export const STOP_COMMANDS: Readonly<Record<PtzFamily, PtzCommand>> = {
  ptz: { kind: 'stop' },
  fi: { kind: 'fi', focus: null, iris: null, focusSpeed: 0, irisSpeed: 0 },
};

export class PtzService {
  /** Pending auto-stops by `channelId/family`. */
  private readonly autoStops = new Map<string, NodeJS.Timeout>();
  /** The family of each channel's last moving command (move, focus, iris, preset call). */
  private readonly lastFamily = new Map<string, PtzFamily>();
  /** Current leases by channel (expired ones are dropped when met). */
  private readonly leases = new Map<string, PtzLease>();

  constructor(
    private readonly port: PtzPort,
    private readonly logger: Logger,
    private readonly options: PtzOptions = { leaseMs: DEFAULT_LEASE_MS },
    private readonly now: () => number = Date.now,
  ) {}

  /** Who holds a channel's PTZ now, or null. */
  leaseOf(channelId: string): PtzLease | null {
    const lease = this.leases.get(channelId);
    if (!lease) return null;
    if (lease.expiresAt <= this.now()) {
      this.leases.delete(channelId);
      return null;
    }
    return lease;
  }

  /** Give a lease back (its holder, or a higher role); true when one was released. */
  release(channelId: string, actor: PtzActor): boolean {
    const lease = this.leaseOf(channelId);
    if (!lease) return false;
    if (lease.holder !== actor.username && ROLE_RANK[actor.role] <= ROLE_RANK[lease.role]) throw new PtzLeaseConflict(lease);
    this.leases.delete(channelId);
    return true;
  }

  async execute(channelId: string, request: PtzRequest, actor?: PtzActor): Promise<PtzResult> {
    const target = await this.port.resolve(channelId);
    if (!target) throw new NotFoundError(`channel ${channelId} not found`);
    if (!target.deviceOnline) throw new ConflictError(`device ${target.deviceId} of channel ${channelId} is offline`);
    if (target.noPanTiltZoom && !FOCUS_IRIS_ACTIONS.has(request.action)) throw new ConflictError(target.noPanTiltZoom);
    const { lease, takenOverFrom } = actor ? this.acquire(channelId, actor) : { lease: null, takenOverFrom: null };
    const result = await this.send(target, channelId, request);
    return { ...result, lease, takenOverFrom };
  }

  /**
   * A PTZCmd relayed as received — an upper platform's DeviceControl (cascade). It takes the channel's lease like
   * a local user: `actor` is the platform (`platform:<id>`, with the role `cascade.ptzRole` gives it), so a local
   * operator who holds the camera is not fought from above, and one of a higher role takes it back. No
   * auto-stop: the upper platform sends its own stop, as GB devices expect. Throws PtzLeaseConflict when the
   * lease is someone else's, ValidationError for a PTZCmd that does not decode.
   */
  async relay(channelId: string, ptzHex: string, actor: PtzActor): Promise<PtzResult> {
    let command: PtzCommand;
    try {
      command = decodePtz(ptzHex);
    } catch (err) {
      throw new ValidationError(`PTZCmd ${JSON.stringify(ptzHex.slice(0, 32))} does not decode: ${(err as Error).message}`, 'ptzCmd');
    }
    const target = await this.port.resolve(channelId);
    if (!target) throw new NotFoundError(`channel ${channelId} not found`);
    if (!target.deviceOnline) throw new ConflictError(`device ${target.deviceId} of channel ${channelId} is offline`);
    const { lease, takenOverFrom } = this.acquire(channelId, actor);
    const family = familyOf(command);
    if (family) {
      // The relayed command replaces its family's motion, including a local auto-stop still pending.
      this.cancelAutoStop(channelId, family);
      this.remember(channelId, family);
    }
    const sent = sentAs(await this.port.send(target, ptzHex, command), ptzHex);
    return { sent, autoStopAfterMs: null, lease, takenOverFrom };
  }

  /** Take or renew the caller's lease; throws PtzLeaseConflict when someone of equal or higher rank holds it. */
  private acquire(channelId: string, actor: PtzActor): { lease: PtzLease; takenOverFrom: PtzResult['takenOverFrom'] } {
    const now = this.now();
    const current = this.leaseOf(channelId);
    let takenOverFrom: PtzResult['takenOverFrom'] = null;
    if (current && current.holder !== actor.username) {
      if (ROLE_RANK[actor.role] <= ROLE_RANK[current.role]) throw new PtzLeaseConflict(current);
      takenOverFrom = { holder: current.holder, role: current.role };
      this.logger.info({ channelId, from: current.holder, to: actor.username }, 'PTZ taken over by a higher role');
    }
    const since = current && current.holder === actor.username ? current.since : now;
    const lease: PtzLease = { channelId, holder: actor.username, role: actor.role, since, expiresAt: now + this.options.leaseMs };
    // Re-inserted so the map's order is least recently used first; lapsed leases are swept from the front.
    this.leases.delete(channelId);
    this.leases.set(channelId, lease);
    for (const [id, l] of this.leases) {
      if (l.expiresAt > now) break;
      this.leases.delete(id);
    }
    return { lease, takenOverFrom };
  }

  private async send(target: PtzTarget, channelId: string, request: PtzRequest): Promise<{ sent: string[]; autoStopAfterMs: number | null }> {
    if (request.action === 'stop') return { sent: await this.stopNow(target), autoStopAfterMs: null };

    const { command, stop, durationMs, family } = PtzService.translate(request);
    const hex = isGbCommand(command) ? encodePtz(command) : '';
    if (family) {
      // The new command replaces its family's motion (and its auto-stop); the other family keeps its own.
      this.cancelAutoStop(channelId, family);
      // Before sending: a stop that arrives while this is in flight must know what to stop.
      this.remember(channelId, family);
    }
    const sent = sentAs(await this.port.send(target, hex, command), hex);
    if (!stop || !family) return { sent, autoStopAfterMs: null };

    const stopHex = encodePtz(stop);
    const key = autoStopKey(channelId, family);
    const timer = setTimeout(() => {
      this.autoStops.delete(key);
      this.port.send(target, stopHex, stop).catch((err: unknown) => {
        this.logger.error({ err, channelId, deviceId: target.deviceId, family }, 'PTZ auto-stop failed to send; the camera may keep moving');
      });
    }, durationMs);
    timer.unref();
    this.autoStops.set(key, timer);
    return { sent, autoStopAfterMs: durationMs };
  }

  close(): void {
    for (const t of this.autoStops.values()) clearTimeout(t);
    this.autoStops.clear();
  }

  /** The families a stop request halts: every one still moving, and the last one moved; both when unknown. */
  stopFamilies(channelId: string): PtzFamily[] {
    const last = this.lastFamily.get(channelId);
    const families = FAMILIES.filter((f) => f === last || this.autoStops.has(autoStopKey(channelId, f)));
    return families.length > 0 ? families : [...FAMILIES];
  }

  /** Send the stops at once (their auto-stops are no longer needed); every stop is tried even if one fails. */
  private async stopNow(target: PtzTarget): Promise<string[]> {
    const sent: string[] = [];
    let failure: unknown = null;
    const families = this.stopFamilies(target.channelId).filter((f) => f === 'fi' || !target.noPanTiltZoom);
    for (const family of families) {
      this.cancelAutoStop(target.channelId, family);
      const hex = encodePtz(STOP_COMMANDS[family]);
      try {
        sent.push(...sentAs(await this.port.send(target, hex, STOP_COMMANDS[family]), hex));
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== null) throw failure;
    return sent;
  }

  private remember(channelId: string, family: PtzFamily): void {
    // Re-inserted so the map's order is least recently moved first.
    this.lastFamily.delete(channelId);
    this.lastFamily.set(channelId, family);
    if (this.lastFamily.size > MAX_REMEMBERED_CHANNELS) {
      const oldest = this.lastFamily.keys().next().value;
      if (oldest !== undefined) this.lastFamily.delete(oldest);
    }
  }

  private cancelAutoStop(channelId: string, family: PtzFamily): void {
    const key = autoStopKey(channelId, family);
    const t = this.autoStops.get(key);
    if (t) clearTimeout(t);
    this.autoStops.delete(key);
  }

  /**
   * Request → PTZ command, its family (whose motion it replaces; null for commands that move nothing), and
   * the stop to send when it times out. A stop request is answered by the service (stopFamilies); here it
   * is the PTZ stop. Pure; exported for tests.
   */
  static translate(request: PtzRequest): { command: PtzOrder; stop: PtzCommand | null; durationMs: number; family: PtzFamily | null } {
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
        return { command: STOP_COMMANDS.ptz, stop: null, durationMs: 0, family: 'ptz' };
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
          stop: STOP_COMMANDS.ptz,
          durationMs: duration(request.durationMs),
          family: 'ptz',
        };
      }
      case 'focus':
      case 'iris': {
        const s = speed(request.speed, 'speed', 255, 128);
        const command: PtzCommand =
          request.action === 'focus'
            ? { kind: 'fi', focus: request.direction, iris: null, focusSpeed: s, irisSpeed: 0 }
            : { kind: 'fi', focus: null, iris: request.direction, focusSpeed: 0, irisSpeed: s };
        return { command, stop: STOP_COMMANDS.fi, durationMs: duration(request.durationMs), family: 'fi' };
      }
      case 'preset': {
        if (!Number.isInteger(request.preset) || request.preset < 1 || request.preset > 255) {
          throw new ValidationError('preset must be an integer 1-255', 'preset');
        }
        // A preset call drives the head to the preset: it replaces a pan's motion (a pending pan auto-stop
        // would halt the travel half-way), and the PTZ stop is what halts it. Set and delete move nothing.
        return {
          command: { kind: 'preset', action: request.operation, preset: request.preset },
          stop: null,
          durationMs: 0,
          family: request.operation === 'call' ? 'ptz' : null,
        };
      }
      case 'home':
        // Drives the head like a preset call: it replaces a pan's motion, and the PTZ stop halts it.
        return { command: { kind: 'home' }, stop: null, durationMs: 0, family: 'ptz' };
      case 'relative': {
        const axis = (v: number | undefined, field: string): number => {
          const x = v ?? 0;
          if (typeof x !== 'number' || !Number.isFinite(x) || x < -1 || x > 1) throw new ValidationError(`${field} must be a number -1…1`, field);
          return x;
        };
        const order = { kind: 'relative' as const, pan: axis(request.pan, 'pan'), tilt: axis(request.tilt, 'tilt'), zoom: axis(request.zoom, 'zoom') };
        if (order.pan === 0 && order.tilt === 0 && order.zoom === 0) throw new ValidationError('relative needs a non-zero pan, tilt or zoom', 'pan');
        return { command: order, stop: null, durationMs: 0, family: 'ptz' };
      }
      default:
        throw new ValidationError('unknown action', 'action');
    }
  }
}

/** What a port's answer means for the API's `sent` list (see PtzPort.send). */
function sentAs(answer: string | null | void, hex: string): string[] {
  if (answer === null) return [];
  return [answer ?? hex];
}

function autoStopKey(channelId: string, family: PtzFamily): string {
  return `${channelId}/${family}`;
}

/** The stop family a relayed command moves (null for commands that do not move the head: stop, preset set, aux…). */
function familyOf(command: PtzCommand): PtzFamily | null {
  if (command.kind === 'move') return command.pan || command.tilt || command.zoom ? 'ptz' : null;
  if (command.kind === 'fi') return command.focus || command.iris ? 'fi' : null;
  if (command.kind === 'preset') return command.action === 'call' ? 'ptz' : null;
  return null;
}
