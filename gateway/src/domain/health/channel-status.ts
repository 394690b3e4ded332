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
import type { HealthStatus, ReasonCode } from './types.js';

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
  reasonCode: ReasonCode;
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

/** Offline reasons after which the device's last keepalive or registration, not the transition, was its last sign of life. */
const SILENT_REASONS = new Set(['keepalive-timeout', 'registration-expired', 'tcp-connection-lost']);

/**
 * When an offline device was last heard from. A device that went silent was last heard at its latest keepalive
 * or registration, a keepalive timeout before the gateway noticed; one that unregistered (or said it was
 * offline) was heard at that very moment.
 */
export function lastSignOfLife(device: Device): number {
  if (!device.offlineReason || !SILENT_REASONS.has(device.offlineReason)) return device.statusChangedAt;
  const heard = Math.max(device.lastKeepaliveAt ?? 0, device.registeredAt ?? 0);
  return heard > 0 && heard <= device.statusChangedAt ? heard : device.statusChangedAt;
}

/** `step.<step>`: the step of a failed stream open, as the UIs name it. */
export const stepCode = (step: string): ReasonCode => ({ code: `step.${step}` });

/** A stream failure as a code: the step (translated); the English message stays in `message`. */
export const streamFailureCode = (step: string): ReasonCode => ({ code: 'stream-step-failed', params: { step: stepCode(step) } });

/**
 * A signalling error as a code. The composition root records refused REGISTERs as "registration refused:
 * <reason>" (SipAuthFailure reasons); anything else is shown by its English text.
 */
export function signallingCode(message: string): ReasonCode {
  const refused = /^registration refused: ([a-z-]+)$/.exec(message);
  if (refused) return { code: 'registration-refused', params: { why: { code: `refused.${refused[1]}` } } };
  return { code: 'text', params: { text: message } };
}

const offlineWhy = (reason: string | null | undefined): ReasonCode =>
  reason ? (OFFLINE_REASON_TEXT[reason] ? { code: `offline.${reason}` } : { code: 'text', params: { text: reason } }) : { code: 'offline.unknown-device' };

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
      // The note is the maintainer's own words: the UIs show it next to the flag, not inside the reason.
      reasonCode:
        underlying.status === 'healthy'
          ? { code: 'maintenance', params: { by: flag.by } }
          : { code: 'maintenance-over', params: { by: flag.by, beneath: underlying.reasonCode } },
      ownSince: flag.at,
    };
  }

  private underlying(ref: ChannelRef, device: Device | undefined, now: number, active: readonly StreamView[]): Classification {
    const deviceSince = device ? device.statusChangedAt : null;
    if (!device || device.status !== 'online') {
      const why = device?.offlineReason ? (OFFLINE_REASON_TEXT[device.offlineReason] ?? device.offlineReason) : 'unknown device';
      const signalling = this.signalling.get(ref.deviceId);
      const since = signalling && device && signalling.at >= device.statusChangedAt ? signalling : null;
      const extra = since ? `; since then: ${since.message}` : '';
      const whyCode = offlineWhy(device?.offlineReason);
      return {
        status: 'device-offline',
        underlying: 'device-offline',
        reason: `device ${ref.deviceId} offline: ${why}${extra}`,
        reasonCode: since
          ? { code: 'device-offline-then', params: { deviceId: ref.deviceId, why: whyCode, then: signallingCode(since.message) } }
          : { code: 'device-offline', params: { deviceId: ref.deviceId, why: whyCode } },
        // "Offline since" is the last sign of life, not the detection a keepalive timeout later.
        ownSince: device ? lastSignOfLife(device) : null,
        deviceSince,
      };
    }
    if (!ref.online) {
      return {
        status: 'channel-offline',
        underlying: 'channel-offline',
        reason: `device online, but it reports the channel offline (catalog Status OFF)`,
        reasonCode: { code: 'channel-offline' },
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
        reasonCode: { code: 'stream-failing', params: { count: n, step: stepCode(rec.lastFailure.step) } },
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
          return {
            status: 'degraded',
            underlying: 'degraded',
            reason: `${view.stream} stream ${graded.grade}: ${graded.reasons.join('; ')}`,
            reasonCode: { code: 'degraded-stream', params: { stream: { code: `stream.${view.stream}` }, grade: { code: `grade.${graded.grade}` }, causes: graded.codes } },
            ownSince: null,
            deviceSince,
          };
        }
      }
      if (active.length === 0 && stalls >= DEGRADED_MIN_STALLS) {
        return {
          status: 'degraded',
          underlying: 'degraded',
          reason: `${stalls} stalls in the last hour`,
          reasonCode: { code: 'stalls', params: { count: stalls } },
          ownSince: null,
          deviceSince,
        };
      }
    }
    return { status: 'healthy', underlying: 'healthy', reason: HEALTHY_REASON, reasonCode: { code: 'healthy' }, ownSince: null, deviceSince };
  }

  /**
   * The most recent of: stream failure, signalling error, device offline reason (within 24 h; the reason of
   * a device that is still offline, however old). Asked only for rows shown, not in the status sweep.
   */
  lastError(ref: ChannelRef, now: number): { text: string; code: ReasonCode } | null {
    const device = this.deviceOf(ref.deviceId);
    const candidates: Array<{ at: number; text: string; code: ReasonCode }> = [];
    const rec = this.streams.get(ref.id);
    if (rec?.lastFailure) candidates.push({ at: rec.lastFailure.at, text: `${rec.lastFailure.step}: ${rec.lastFailure.message}`, code: streamFailureCode(rec.lastFailure.step) });
    const signalling = this.signalling.get(ref.deviceId);
    if (signalling) candidates.push({ at: signalling.at, text: signalling.message, code: signallingCode(signalling.message) });
    if (device && device.status !== 'online' && device.offlineReason) candidates.push({ at: device.statusChangedAt, text: device.offlineReason, code: offlineWhy(device.offlineReason) });
    const recent = candidates.filter((c) => now - c.at <= LAST_ERROR_MAX_AGE_MS || (device?.status !== 'online' && c.text === device?.offlineReason));
    if (recent.length === 0) return null;
    recent.sort((a, b) => b.at - a.at);
    return { text: recent[0].text, code: recent[0].code };
  }
}
