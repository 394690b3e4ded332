/**
 * The morning check's overnight summary: which devices went offline in a window (by default the last 14 hours:
 * the evening before until now), which of them recovered, and what is still down now, grouped by township /
 * county (the region node the device's cameras sit in) with the devices inside.
 *
 * Built from the stored device status events of the window and the registry's current state; per device, not
 * per channel (an NVR that went down overnight is one line with its channel count).
 */
import type { Device, StatusEvent } from '../model.js';
import type { HealthPlace } from './grouping.js';

export type OvernightOutcome = 'recovered' | 'still-down';

export interface OvernightDevice {
  deviceId: string;
  name: string;
  channelCount: number;
  /** Its channels (the first 64): what a batch probe of the still-down list opens. */
  channelIds: string[];
  place: HealthPlace | null;
  outcome: OvernightOutcome;
  /** First time it went offline in the window (null: it was already down when the window began). */
  wentOfflineAt: number | null;
  /** Offline episodes in the window. */
  episodes: number;
  /** When it came back for good (recovered), else null. */
  recoveredAt: number | null;
  /** Still down: its last sign of life. */
  lastSeenAt: number | null;
  offlineReason: string | null;
}

export interface OvernightGroup {
  /** Region node id; '' = unplaced. */
  id: string;
  name: string;
  wentOffline: number;
  recovered: number;
  stillDown: number;
  devices: OvernightDevice[];
}

export interface OvernightSummary {
  since: number;
  until: number;
  /** Devices that went offline in the window (recovered or not). */
  wentOffline: number;
  recovered: number;
  /** Devices offline now (including those down since before the window). */
  stillDown: number;
  /** Channels of the devices still down. */
  stillDownChannels: number;
  groups: OvernightGroup[];
}

export interface OvernightInputs {
  since: number;
  until: number;
  /** Device status events of the window, any order. */
  events: readonly StatusEvent[];
  devices: Iterable<Device>;
  channelIds: (deviceId: string) => readonly string[];
  placeOf: (deviceId: string) => HealthPlace | null;
  lastSeen: (device: Device) => number;
}

export function overnightSummary(inputs: OvernightInputs): OvernightSummary {
  const byDevice = new Map<string, StatusEvent[]>();
  for (const e of inputs.events) {
    if (e.subject !== 'device') continue;
    const list = byDevice.get(e.subjectId);
    if (list) list.push(e);
    else byDevice.set(e.subjectId, [e]);
  }
  const rows: OvernightDevice[] = [];
  for (const device of inputs.devices) {
    const events = (byDevice.get(device.id) ?? []).sort((a, b) => a.at - b.at);
    const offlineEvents = events.filter((e) => e.status === 'offline');
    const downNow = device.status !== 'online';
    if (offlineEvents.length === 0 && !downNow) continue;
    const lastOnline = [...events].reverse().find((e) => e.status === 'online');
    rows.push({
      deviceId: device.id,
      name: device.name || device.id,
      channelCount: inputs.channelIds(device.id).length,
      channelIds: inputs.channelIds(device.id).slice(0, 64),
      place: inputs.placeOf(device.id),
      outcome: downNow ? 'still-down' : 'recovered',
      wentOfflineAt: offlineEvents[0]?.at ?? null,
      episodes: offlineEvents.length,
      recoveredAt: downNow ? null : (lastOnline?.at ?? null),
      lastSeenAt: downNow ? inputs.lastSeen(device) : null,
      offlineReason: downNow ? device.offlineReason : (offlineEvents.at(-1)?.reason ?? null),
    });
  }
  const groups = new Map<string, OvernightGroup>();
  for (const row of rows) {
    const id = row.place?.id ?? '';
    let group = groups.get(id);
    if (!group) {
      group = { id, name: row.place?.name ?? '', wentOffline: 0, recovered: 0, stillDown: 0, devices: [] };
      groups.set(id, group);
    }
    group.devices.push(row);
    if (row.wentOfflineAt !== null) group.wentOffline++;
    if (row.outcome === 'recovered') group.recovered++;
    else group.stillDown++;
  }
  for (const group of groups.values()) {
    // Still down first, longest down first; then the recovered.
    group.devices.sort((a, b) => (a.outcome === b.outcome ? (a.lastSeenAt ?? a.wentOfflineAt ?? 0) - (b.lastSeenAt ?? b.wentOfflineAt ?? 0) : a.outcome === 'still-down' ? -1 : 1));
  }
  const list = [...groups.values()].sort((a, b) => b.stillDown - a.stillDown || b.wentOffline - a.wentOffline || (a.id < b.id ? -1 : 1));
  return {
    since: inputs.since,
    until: inputs.until,
    wentOffline: rows.filter((r) => r.wentOfflineAt !== null).length,
    recovered: rows.filter((r) => r.outcome === 'recovered').length,
    stillDown: rows.filter((r) => r.outcome === 'still-down').length,
    stillDownChannels: rows.filter((r) => r.outcome === 'still-down').reduce((n, r) => n + r.channelCount, 0),
    groups: list,
  };
}
