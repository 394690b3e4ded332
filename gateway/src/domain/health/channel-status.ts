/**
 * Status with a reason for one channel, from what the gateway knows in memory: its device's registration,
 * the status the device reports for the channel, the stream history, running streams and maintenance flags.
 *
 * Order (first match wins): device offline › channel offline › stream failing › degraded › healthy; a
 * maintenance flag then overrides the displayed status (the reason still says what is underneath).
 */
import type { Device } from '../model.js';
import type { StreamView } from '../streams/stream-service.js';
import type { MaintenanceFlags } from './maintenance.js';
import type { SignallingErrors } from './signalling-errors.js';
import type { StreamHealthTracker } from './stream-health.js';
import { expectationFor, gradeStream } from './stream-quality.js';
import { sampleOf } from './stream-health.js';
import type { HealthStatus } from './types.js';

/** A video channel as the tree index yields it. */
export interface ChannelRef {
  id: string;
  deviceId: string;
  civilCode: string;
  /** Effective status: the device is online and reports the channel online. */
  online: boolean;
}

export interface Classification {
  status: HealthStatus;
  /** The status without the maintenance flag. */
  underlying: HealthStatus;
  reason: string;
  /** The status's own start time when it has one (see StatusClock), else null. */
  ownSince: number | null;
  /** When the device last changed status (online since, when online). */
  deviceSince: number | null;
}

export interface ClassifierOptions {
  configuredFps: number;
  /** A failed open keeps the channel "stream failing" this long without a newer success. */
  streamFailureWindowMs: number;
}

/** Stalls in an hour from which a channel with no running stream still reads "degraded". */
const DEGRADED_MIN_STALLS = 2;
const LAST_ERROR_MAX_AGE_MS = 24 * 3600_000;
const HEALTHY_REASON = 'device and channel online, stream not failing';

const OFFLINE_REASON_TEXT: Record<string, string> = {
  'keepalive-timeout': 'no keepalive within the timeout',
  'registration-expired': 'registration expired without refresh',
  unregistered: 'the device unregistered',
  'tcp-connection-lost': 'its TCP connection was lost',
  'device-offline': 'device offline',
  'reported-by-device': 'reported offline by the device',
  'never-registered': 'never registered',
};

export class ChannelStatusClassifier {
  constructor(
    private readonly deviceOf: (deviceId: string) => Device | undefined,
    private readonly maintenance: MaintenanceFlags,
    private readonly streams: StreamHealthTracker,
    private readonly signalling: SignallingErrors,
    private readonly options: ClassifierOptions,
  ) {}

  /** `active`: playing streams of this channel (main and/or sub). */
  classify(ref: ChannelRef, now: number, active: readonly StreamView[] = []): Classification {
    const device = this.deviceOf(ref.deviceId);
    const underlying = this.underlying(ref, device, now, active);
    const flag = this.maintenance.get(ref.id);
    if (!flag) return underlying;
    const note = flag.note ? `: ${flag.note}` : '';
    const beneath = underlying.status === 'healthy' ? '' : `; underneath, ${underlying.status}: ${underlying.reason}`;
    return {
      ...underlying,
      status: 'maintenance',
      underlying: underlying.status,
      reason: `in maintenance (set by ${flag.by}${note})${beneath}`,
      ownSince: flag.at,
    };
  }

  private underlying(ref: ChannelRef, device: Device | undefined, now: number, active: readonly StreamView[]): Classification {
    const deviceSince = device ? device.statusChangedAt : null;
    if (!device || device.status !== 'online') {
      const why = device?.offlineReason ? (OFFLINE_REASON_TEXT[device.offlineReason] ?? device.offlineReason) : 'unknown device';
      const signalling = this.signalling.get(ref.deviceId);
      const extra = signalling && device && signalling.at >= device.statusChangedAt ? `; since then: ${signalling.message}` : '';
      return { status: 'device-offline', underlying: 'device-offline', reason: `device ${ref.deviceId} offline: ${why}${extra}`, ownSince: deviceSince, deviceSince };
    }
    if (!ref.online) {
      return {
        status: 'channel-offline',
        underlying: 'channel-offline',
        reason: `device online, but it reports the channel offline (catalog Status OFF)`,
        ownSince: null,
        deviceSince,
      };
    }
    const rec = this.streams.get(ref.id);
    if (rec && rec.consecutiveFailures > 0 && rec.lastFailure && now - rec.lastFailure.at <= this.options.streamFailureWindowMs) {
      const n = rec.consecutiveFailures;
      return {
        status: 'stream-failing',
        underlying: 'stream-failing',
        reason: `${n} failed stream open${n === 1 ? '' : 's'} in a row; last: ${rec.lastFailure.step}: ${rec.lastFailure.message}`,
        ownSince: rec.failureRunStartedAt,
        deviceSince,
      };
    }
    if (rec) {
      const stalls = this.streams.stalls1h(rec, now);
      for (const view of active) {
        if (view.state !== 'playing') continue;
        const expected = expectationFor(rec.lastGood[view.stream] ?? null, this.options.configuredFps, now);
        const graded = gradeStream(sampleOf(view, now), expected, stalls);
        if (graded.grade === 'fair' || graded.grade === 'poor') {
          return { status: 'degraded', underlying: 'degraded', reason: `${view.stream} stream ${graded.grade}: ${graded.reasons.join('; ')}`, ownSince: null, deviceSince };
        }
      }
      if (active.length === 0 && stalls >= DEGRADED_MIN_STALLS) {
        return { status: 'degraded', underlying: 'degraded', reason: `${stalls} stalls in the last hour`, ownSince: null, deviceSince };
      }
    }
    return { status: 'healthy', underlying: 'healthy', reason: HEALTHY_REASON, ownSince: null, deviceSince };
  }

  /**
   * The most recent of: stream failure, signalling error, device offline reason (within 24 h; the reason of
   * a device that is still offline, however old). Asked only for rows shown, not in the status sweep.
   */
  lastError(ref: ChannelRef, now: number): string | null {
    const device = this.deviceOf(ref.deviceId);
    const candidates: Array<{ at: number; text: string }> = [];
    const rec = this.streams.get(ref.id);
    if (rec?.lastFailure) candidates.push({ at: rec.lastFailure.at, text: `${rec.lastFailure.step}: ${rec.lastFailure.message}` });
    const signalling = this.signalling.get(ref.deviceId);
    if (signalling) candidates.push({ at: signalling.at, text: signalling.message });
    if (device && device.status !== 'online' && device.offlineReason) candidates.push({ at: device.statusChangedAt, text: device.offlineReason });
    const recent = candidates.filter((c) => now - c.at <= LAST_ERROR_MAX_AGE_MS || (device?.status !== 'online' && c.text === device?.offlineReason));
    if (recent.length === 0) return null;
    recent.sort((a, b) => b.at - a.at);
    return recent[0].text;
  }
}
