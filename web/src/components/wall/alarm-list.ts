/**
 * The alarm list's bookkeeping: the initial page from GET /api/alarms and the alarms pushed over the event
 * socket meet here. Pushes can repeat what a reload already brought (reconnect), acknowledgements come back as
 * updated records, and the list stays bounded for a wall that runs for weeks.
 */
import type { AlarmEvent } from '../../api/types';

export const ALARM_LIST_LIMIT = 200;

/** Newest first by receivedAt; an incoming record replaces the one with its id. */
export function mergeAlarms(current: readonly AlarmEvent[], incoming: readonly AlarmEvent[], limit = ALARM_LIST_LIMIT): AlarmEvent[] {
  const byId = new Map<string, AlarmEvent>();
  for (const alarm of current) byId.set(alarm.id, alarm);
  for (const alarm of incoming) {
    const known = byId.get(alarm.id);
    // A late push of the unacknowledged original must not undo an acknowledgement we already have.
    if (known && known.acknowledgedAt !== null && alarm.acknowledgedAt === null) continue;
    byId.set(alarm.id, alarm);
  }
  return [...byId.values()].sort((a, b) => b.receivedAt - a.receivedAt || (a.id < b.id ? 1 : -1)).slice(0, limit);
}

export function unacknowledgedCount(list: readonly AlarmEvent[]): number {
  return list.reduce((n, a) => n + (a.acknowledgedAt === null ? 1 : 0), 0);
}

/** Alarms that arrived over the socket and are not in the list yet: the ones that open the alarm tile. */
export function freshAlarms(current: readonly AlarmEvent[], incoming: readonly AlarmEvent[]): AlarmEvent[] {
  const known = new Set(current.map((a) => a.id));
  return incoming.filter((a) => !known.has(a.id) && a.acknowledgedAt === null);
}
