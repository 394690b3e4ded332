/**
 * Events of devices that are not GB28181 (ONVIF motion, tamper, video loss, digital input) become alarms of the
 * same shape a GB device's Alarm NOTIFY gives (GB/T 28181-2016 §9.4 / Annex A): the alarm desk filters by
 * AlarmMethod, the wall and the webhooks read the same fields, the cascade forwards them upward unchanged.
 *
 *   kind           AlarmMethod            AlarmType                        priority
 *   motion         5 video alarm          2 motion target detection        3
 *   tamper         5 video alarm          11 video anomaly (covered, moved) 2
 *   video-loss     2 device alarm         1 video loss                     2
 *   digital-input  2 device alarm         — (GB names no type for alarm inputs) 2
 *
 * Only rising edges raise an alarm: a camera reports "motion true" and "motion false" (and repeats its state
 * in the Initialized messages of every new subscription), while an alarm is the moment a condition begins.
 */
import type { DeviceEvent, DeviceEventKind } from '../devices/drivers/driver.js';
import type { IncomingAlarm } from './alarm-service.js';

export interface GbAlarmCode {
  method: number;
  type: number | null;
  priority: number;
  /** The description's words (the device's own topic follows them). */
  label: string;
}

export const GB_ALARM_OF_KIND: Readonly<Record<DeviceEventKind, GbAlarmCode>> = {
  motion: { method: 5, type: 2, priority: 3, label: 'motion detected' },
  tamper: { method: 5, type: 11, priority: 2, label: 'tamper (scene changed or covered)' },
  'video-loss': { method: 2, type: 1, priority: 2, label: 'video loss' },
  'digital-input': { method: 2, type: null, priority: 2, label: 'digital input active' },
};

/** A device event's alarm, with the channel (or device) it is about as the source. */
export function alarmOfDeviceEvent(deviceId: string, sourceId: string, e: DeviceEvent): IncomingAlarm {
  const code = GB_ALARM_OF_KIND[e.kind];
  return {
    deviceId,
    sourceId,
    priority: code.priority,
    method: code.method,
    type: code.type,
    description: `${code.label} (${e.topic}${e.sourceToken ? `, ${e.sourceToken}` : ''})`,
    alarmTime: e.time,
    longitude: null,
    latitude: null,
    raw: { Topic: e.topic, Kind: e.kind, ...(e.sourceToken ? { Source: e.sourceToken } : {}), ...e.data },
  };
}

/** Last known state per device and condition: `rise` is true only on an off → on change. */
export class RisingEdges {
  private readonly states = new Map<string, Map<string, boolean>>();

  rise(deviceId: string, key: string, active: boolean): boolean {
    let byKey = this.states.get(deviceId);
    if (!byKey) {
      byKey = new Map();
      this.states.set(deviceId, byKey);
    }
    const before = byKey.get(key) ?? false;
    byKey.set(key, active);
    return active && !before;
  }

  forget(deviceId: string): void {
    this.states.delete(deviceId);
  }
}
