/**
 * The alarm desk's queries: alarms filtered by time window, alarm method (报警方式, GB/T 28181 A.2.6: 1 phone,
 * 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other) and type, region (civil-code prefix of the device
 * or the alarm source) and acknowledged state; escalation (unacknowledged for N minutes); bulk acknowledge.
 *
 * The store answers device / since / acknowledged; the other filters are applied here over the newest alarms
 * of the window, read page by page and bounded (`MAX_SCANNED`): an alarm desk looks at hours and days, not at a
 * year of history, and the answer says how many it scanned and whether it stopped early.
 */
import type { AlarmEvent, Page } from '../model.js';
import type { AlarmQuery } from '../store.js';

export const MAX_SCANNED = 20_000;
export const BULK_ACK_MAX = 500;
const PAGE = 1000;

export interface AlarmSearch {
  since?: number;
  until?: number;
  /** Alarm methods (报警方式); empty = any. */
  methods?: number[];
  /** Alarm types (报警类型, meaning depends on the method); empty = any. */
  types?: number[];
  /** Civil-code prefix (2–8 digits, or a longer township / village code prefix) of the device or the alarm source. */
  region?: string;
  acknowledged?: boolean;
  deviceId?: string;
  /** Unacknowledged alarms older than this many minutes are `escalated`. */
  escalateAfterMin?: number;
  offset?: number;
  limit?: number;
}

export type AlarmRow = AlarmEvent & { escalated: boolean };

export interface AlarmSearchPage extends Page<AlarmRow> {
  /** Alarms read from the store for this answer. */
  scanned: number;
  /** The scan stopped at MAX_SCANNED: `total` counts the matches among those only. */
  truncated: boolean;
  /** Unacknowledged, escalated alarms among the matches. */
  escalated: number;
}

export interface AlarmStorePort {
  listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>>;
  acknowledgeAlarm(id: string, by: string, note: string | null): Promise<AlarmEvent | null>;
}

export class AlarmQueries {
  constructor(
    private readonly store: AlarmStorePort,
    private readonly now: () => number = Date.now,
  ) {}

  async search(query: AlarmSearch): Promise<AlarmSearchPage> {
    const now = this.now();
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 50;
    const escalateMs = query.escalateAfterMin && query.escalateAfterMin > 0 ? query.escalateAfterMin * 60_000 : null;
    const methods = query.methods && query.methods.length > 0 ? new Set(query.methods) : null;
    const types = query.types && query.types.length > 0 ? new Set(query.types) : null;
    const matches = (a: AlarmEvent): boolean =>
      (query.until === undefined || a.receivedAt <= query.until) &&
      (methods === null || (a.method !== null && methods.has(a.method))) &&
      (types === null || (a.type !== null && types.has(a.type))) &&
      (!query.region || a.deviceId.startsWith(query.region) || a.sourceId.startsWith(query.region));
    const items: AlarmRow[] = [];
    let total = 0;
    let escalated = 0;
    let scanned = 0;
    let truncated = false;
    for (let from = 0; ; from += PAGE) {
      if (scanned >= MAX_SCANNED) {
        truncated = true;
        break;
      }
      const page = await this.store.listAlarms({ deviceId: query.deviceId, since: query.since, acknowledged: query.acknowledged, offset: from, limit: PAGE });
      scanned += page.items.length;
      for (const alarm of page.items) {
        if (!matches(alarm)) continue;
        // Escalated by the gateway (alarms.escalateAfterMin), or by the desk's own, stricter threshold.
        const isEscalated =
          alarm.acknowledgedAt === null && ((alarm.escalatedAt ?? null) !== null || (escalateMs !== null && now - alarm.receivedAt >= escalateMs));
        if (isEscalated) escalated++;
        if (total >= offset && items.length < limit) items.push({ ...alarm, escalated: isEscalated });
        total++;
      }
      if (page.items.length < PAGE) break;
    }
    return { total, items, scanned, truncated, escalated };
  }

  /** Acknowledge several alarms at once (one note for all); returns those acknowledged and the ids not found. */
  async acknowledgeMany(ids: readonly string[], by: string, note: string | null): Promise<{ acknowledged: AlarmEvent[]; notFound: string[] }> {
    const acknowledged: AlarmEvent[] = [];
    const notFound: string[] = [];
    for (const id of [...new Set(ids)].slice(0, BULK_ACK_MAX)) {
      const alarm = await this.store.acknowledgeAlarm(id, by, note);
      if (alarm) acknowledged.push(alarm);
      else notFound.push(id);
    }
    return { acknowledged, notFound };
  }
}
