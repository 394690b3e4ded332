/**
 * "Since when" for each channel's health status.
 *
 * Some statuses carry their own start time (device offline: the device's status change, stored; stream
 * failing: the first failure of the run; maintenance: when the flag was set). The others (channel offline,
 * degraded, and healthy again after one of those) begin when the evaluation first sees them, so the clock
 * remembers the transition.
 *
 * Memory: entries exist only for channels whose status is not derivable from their device. Channels of an
 * offline device have none (the device's own status time is the answer), and a healthy channel's entry is
 * dropped once its device changed status after it (the device time is then the later, correct answer). On a
 * network where most channels are healthy, the map holds the unhealthy few.
 */
import type { HealthStatus } from './types.js';

interface ClockEntry {
  status: HealthStatus;
  since: number;
}

export interface ClockReading {
  since: number | null;
  /** The status differs from the previous observation (the channel just entered it). */
  entered: boolean;
}

export class StatusClock {
  private readonly entries = new Map<string, ClockEntry>();

  /**
   * Record an observation and return when the status began.
   * @param ownSince the status's own start time when it has one (see above), else null
   * @param deviceSince when the channel's device last changed status (online since, for healthy channels)
   */
  observe(channelId: string, status: HealthStatus, ownSince: number | null, deviceSince: number | null, now: number): ClockReading {
    const entry = this.entries.get(channelId);
    if (status === 'device-offline') {
      if (entry) this.entries.delete(channelId);
      return { since: ownSince, entered: entry !== undefined };
    }
    if (status === 'healthy') {
      if (!entry) return { since: deviceSince, entered: false };
      if (entry.status === 'healthy') {
        if (deviceSince !== null && entry.since <= deviceSince) {
          this.entries.delete(channelId);
          return { since: deviceSince, entered: false };
        }
        return { since: entry.since, entered: false };
      }
      this.entries.set(channelId, { status, since: now });
      return { since: now, entered: true };
    }
    if (entry && entry.status === status) {
      if (ownSince !== null && ownSince !== entry.since) entry.since = ownSince;
      return { since: entry.since, entered: false };
    }
    const since = ownSince ?? now;
    this.entries.set(channelId, { status, since });
    return { since, entered: true };
  }

  /** The last observed status (undefined: none recorded, i.e. healthy or device offline). */
  statusOf(channelId: string): HealthStatus | undefined {
    return this.entries.get(channelId)?.status;
  }

  get size(): number {
    return this.entries.size;
  }
}
