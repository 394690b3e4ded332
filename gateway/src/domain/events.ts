/**
 * Typed domain events: what the API's WebSocket, metrics and (later) health services listen to.
 * Emitted by the registry, catalog and alarm services; never by protocol code.
 */
import { EventEmitter } from 'node:events';
import type { AlarmEvent, OfflineReason, OnlineStatus } from './model.js';
import type { StreamView } from './streams/stream-service.js';
import type { HealthAlertEvent } from './health/types.js';

export interface DeviceStatusChange {
  deviceId: string;
  status: OnlineStatus;
  reason: OfflineReason | 'registered' | 'keepalive' | null;
  at: number;
}

export interface ChannelStatusChange {
  deviceId: string;
  /** The channels whose effective status changed (all of a device's channels when the device changed). */
  channelIds: string[];
  status: OnlineStatus;
  at: number;
}

export interface CatalogProgress {
  deviceId: string;
  sn: number;
  received: number;
  /** SumNum announced by the device; null until the first part arrives. */
  total: number | null;
  state: 'querying' | 'receiving' | 'complete' | 'partial' | 'failed';
  error?: string;
}

export interface StreamFailure {
  streamId: string;
  channelId: string;
  step: string;
  message: string;
  hint: string;
}

import type { PlatformStatusEvent } from './cascade/platform-service.js';
import type { ImportProgress } from './devices/device-import.js';
import type { ChannelPosition } from './positions/position-service.js';

export interface GatewayEventMap {
  'device-status': [DeviceStatusChange];
  'channel-status': [ChannelStatusChange];
  alarm: [AlarmEvent];
  /** An alarm was acknowledged (alone or in a bulk acknowledge): resolves its escalation. */
  'alarm-acknowledged': [AlarmEvent];
  'catalog-progress': [CatalogProgress];
  'stream-status': [StreamView];
  'stream-failed': [StreamFailure];
  /** An alert rule fired, reminded, recovered or was cleared (domain/health/alert-engine.ts). */
  'health-alert': [HealthAlertEvent];
  /** An upper platform's link changed status (domain/cascade/platform-service.ts). */
  'platform-status': [PlatformStatusEvent];
  /** A bulk device import advanced (domain/devices/device-import.ts): about every 1 % and at the end. */
  'import-progress': [ImportProgress];
  /** A channel reported a new mobile position (domain/positions/position-service.ts). */
  'channel-position': [ChannelPosition];
}

export class GatewayEvents extends EventEmitter<GatewayEventMap> {
  constructor() {
    super();
    // Listeners are the WebSocket hub and a few services; a leak would show up as hundreds.
    this.setMaxListeners(100);
  }
}
