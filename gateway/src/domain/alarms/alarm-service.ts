/**
 * Alarm notifications from devices: stored as history, pushed to listeners (WebSocket, later rules).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlarmEvent } from '../model.js';
import type { GatewayEvents } from '../events.js';
import type { WriteBehind } from '../write-behind.js';

export interface IncomingAlarm {
  deviceId: string;
  sourceId: string;
  priority: number | null;
  method: number | null;
  type: number | null;
  description: string;
  alarmTime: string;
  longitude: number | null;
  latitude: number | null;
  raw: Record<string, string>;
}

export class AlarmService {
  constructor(
    private readonly writer: WriteBehind,
    private readonly events: GatewayEvents,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  received(alarm: IncomingAlarm): AlarmEvent {
    // The id is ours (not the store's) so the WebSocket can carry it before the write-behind flush.
    const event: AlarmEvent = {
      id: randomUUID(),
      sourceId: alarm.sourceId,
      deviceId: alarm.deviceId,
      priority: alarm.priority,
      method: alarm.method,
      type: alarm.type,
      description: alarm.description,
      alarmTime: alarm.alarmTime,
      receivedAt: this.now(),
      longitude: alarm.longitude,
      latitude: alarm.latitude,
      acknowledgedAt: null,
      acknowledgedBy: null,
      note: null,
      raw: alarm.raw,
    };
    this.writer.alarm(event);
    this.logger.info({ deviceId: alarm.deviceId, sourceId: alarm.sourceId, method: alarm.method, type: alarm.type, priority: alarm.priority }, 'alarm received');
    this.events.emit('alarm', event);
    return event;
  }
}
