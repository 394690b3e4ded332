/**
 * Relays domain events to WebSocket clients as `{ "type": ..., "data": ... }` JSON messages.
 *
 * A client that reads slower than events arrive must not make the gateway grow without bound (a wall
 * browser in a background tab, a laptop on a bad link, an event storm when an NVR with 5,000 channels
 * drops). Per client:
 * - while `socket.bufferedAmount` ≤ `maxBufferedBytes`, messages are sent as they come;
 * - above it, the client switches to coalescing: status and catalog-progress events are kept in a map,
 *   one entry per device / channel / catalog (the latest wins, since only the current state matters);
 *   alarms are kept in order, every one of them;
 * - each completed socket write re-checks the buffer and, once it is below half the limit, sends the
 *   backlog and then returns to direct sending;
 * - a client whose backlog exceeds `maxBacklogKeys` keys or `maxPendingAlarms` alarms, or whose buffer
 *   makes no progress for `stallTimeoutMs`, is closed with 1013 (Try Again Later) and counted. It loses
 *   nothing it cannot recover: on reconnect it reloads state over HTTP.
 * So the memory per client is bounded by maxBufferedBytes + one message + the two capped backlogs.
 *
 * A scoped user's connection gets only the events of channels and devices in its scope (scopedEvent): the
 * same ChannelScope the HTTP reads apply (resolved once per scope and catalog shape: a set lookup per channel).
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { AlarmEvent } from '../domain/model.js';
import type { CatalogProgress, ChannelStatusChange, DeviceStatusChange, GatewayEvents, StreamFailure } from '../domain/events.js';
import type { StreamView } from '../domain/streams/stream-service.js';
import type { Principal } from '../domain/services.js';
import type { HealthAlertEvent } from '../domain/health/types.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { ChannelScope } from '../domain/auth/channel-scope.js';
import { alarmInScope } from '../domain/auth/scoped-catalog.js';
import type { PlatformStatusEvent } from '../domain/cascade/platform-service.js';
import type { ImportProgress } from '../domain/devices/device-import.js';
import type { ChannelPosition } from '../domain/positions/position-service.js';

/** Every message type the hub sends (the OpenAPI description in http-server.ts documents each). */
export const WS_MESSAGE_TYPES = [
  'hello',
  'device-status',
  'channel-status',
  'alarm',
  'catalog-progress',
  'stream-status',
  'stream-failed',
  'health-alert',
  'platform-status',
  'import-progress',
  'channel-position',
] as const;

export type WsMessageType = (typeof WS_MESSAGE_TYPES)[number];

export interface WsMessage {
  type: WsMessageType;
  data: unknown;
}

export interface WsHubOptions {
  events: GatewayEvents;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Unsent bytes above which a client is coalesced. */
  maxBufferedBytes: number;
  /** Coalesced status / catalog entries above which a client is dropped. */
  maxBacklogKeys?: number;
  /** Alarms waiting for a slow client above which it is dropped. */
  maxPendingAlarms?: number;
  /** A coalescing client whose buffer does not drain for this long is dropped. */
  stallTimeoutMs?: number;
  /** After a close frame, how long a client gets to complete the close before the socket is destroyed. */
  closeGraceMs?: number;
  /** Ping interval; a client that has not answered the previous ping is terminated (half-open TCP). */
  heartbeatIntervalMs?: number;
  /** The channel scope of a connection's principal; absent: every client gets every event. */
  scopeOf?: (principal: Principal) => ChannelScope;
}

/** The part of an event a scope lets through: the event itself, a narrowed copy, or null (nothing). */
export function scopedEvent(scope: ChannelScope, type: Exclude<WsMessageType, 'hello'>, data: unknown): unknown {
  if (scope.unrestricted) return data;
  switch (type) {
    case 'device-status':
      return scope.coversDevice((data as DeviceStatusChange).deviceId) ? data : null;
    case 'catalog-progress':
      return scope.coversDevice((data as CatalogProgress).deviceId) ? data : null;
    case 'channel-status': {
      const change = data as ChannelStatusChange;
      const channelIds = change.channelIds.filter((id) => scope.coversChannel(id));
      if (channelIds.length === 0) return null;
      return channelIds.length === change.channelIds.length ? data : { ...change, channelIds };
    }
    case 'alarm':
      return alarmInScope(scope, data as AlarmEvent) ? data : null;
    case 'stream-status':
      return scope.coversChannel((data as StreamView).channelId) ? data : null;
    case 'stream-failed':
      return scope.coversChannel((data as StreamFailure).channelId) ? data : null;
    case 'health-alert':
      return scope.coversChannel((data as HealthAlertEvent).alert.channelId) ? data : null;
    case 'platform-status':
      // Cascade links are the whole gateway's business, not a scoped user's.
      return null;
    case 'import-progress':
      // Imports are an administrator's business (manage-config), across every region.
      return null;
    case 'channel-position':
      return scope.coversChannel((data as ChannelPosition).id) ? data : null;
  }
}

export interface WsClientSnapshot {
  id: number;
  username: string;
  bufferedAmount: number;
  coalescing: boolean;
  /** Dropped or closing: no longer receives events. */
  closing: boolean;
  backlogKeys: number;
  pendingAlarms: number;
  /** Largest backlog (keys + alarms) this client ever had. */
  peakBacklog: number;
}

export const WS_CLOSE_TRY_AGAIN_LATER = 1013;

const DEFAULTS = {
  maxBacklogKeys: 10_000,
  maxPendingAlarms: 1_000,
  stallTimeoutMs: 30_000,
  closeGraceMs: 5_000,
  heartbeatIntervalMs: 30_000,
};

/** Channel-status entries flushed together in one message (same device, status and time). */
const MAX_CHANNELS_PER_FLUSHED_MESSAGE = 1_000;

type PendingEntry =
  | { type: 'device-status'; data: DeviceStatusChange }
  | { type: 'catalog-progress'; data: CatalogProgress }
  | { type: 'stream-status'; data: StreamView }
  | { type: 'stream-failed'; data: StreamFailure }
  | { type: 'health-alert'; data: HealthAlertEvent }
  | { type: 'platform-status'; data: PlatformStatusEvent }
  | { type: 'import-progress'; data: ImportProgress }
  | { type: 'channel-position'; data: ChannelPosition }
  | { type: 'channel-status'; channelId: string; deviceId: string; status: ChannelStatusChange['status']; at: number };

type Limits = typeof DEFAULTS & { maxBufferedBytes: number };

class WsClient {
  private coalescing = false;
  /** Latest pending state per key: `d:<deviceId>`, `c:<channelId>`, `p:<deviceId>` (insertion order). */
  private readonly backlog = new Map<string, PendingEntry>();
  private readonly pendingAlarms: AlarmEvent[] = [];
  private stallTimer: NodeJS.Timeout | null = null;
  private closing = false;
  peakBacklog = 0;
  alive = true;
  private readonly onWritten = (err?: Error): void => {
    if (!err && this.coalescing) this.flush();
  };

  constructor(
    readonly id: number,
    readonly principal: Principal,
    readonly socket: WebSocket,
    private readonly limits: Limits,
    private readonly drop: (client: WsClient, reason: string) => void,
  ) {}

  get isClosing(): boolean {
    return this.closing;
  }

  snapshot(): WsClientSnapshot {
    return {
      id: this.id,
      username: this.principal.username,
      bufferedAmount: this.socket.bufferedAmount,
      coalescing: this.coalescing,
      closing: this.closing,
      backlogKeys: this.backlog.size,
      pendingAlarms: this.pendingAlarms.length,
      peakBacklog: this.peakBacklog,
    };
  }

  sendNow(text: string): void {
    this.socket.send(text, this.onWritten);
  }

  /** `text` serialises the message; called at most once per event for all clients (see WsHub.broadcast). */
  deliver(type: Exclude<WsMessageType, 'hello'>, data: unknown, text: () => string): void {
    if (this.closing) return;
    if (!this.coalescing && this.socket.bufferedAmount <= this.limits.maxBufferedBytes) {
      this.sendNow(text());
      return;
    }
    if (!this.coalescing) this.startCoalescing();
    this.enqueue(type, data);
  }

  /** Stop all timers and forget the backlog (the socket is closing or closed). */
  release(): void {
    this.closing = true;
    this.coalescing = false;
    this.backlog.clear();
    this.pendingAlarms.length = 0;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private startCoalescing(): void {
    this.coalescing = true;
    this.stallTimer = setTimeout(() => {
      if (this.coalescing) this.drop(this, 'stalled');
    }, this.limits.stallTimeoutMs);
    this.stallTimer.unref();
  }

  private enqueue(type: Exclude<WsMessageType, 'hello'>, data: unknown): void {
    switch (type) {
      case 'alarm':
        this.pendingAlarms.push(data as AlarmEvent);
        if (this.pendingAlarms.length > this.limits.maxPendingAlarms) {
          this.drop(this, 'alarm-backlog');
          return;
        }
        break;
      case 'device-status': {
        const change = data as DeviceStatusChange;
        this.backlog.set(`d:${change.deviceId}`, { type, data: change });
        break;
      }
      case 'catalog-progress': {
        const progress = data as CatalogProgress;
        this.backlog.set(`p:${progress.deviceId}`, { type, data: progress });
        break;
      }
      case 'stream-status': {
        // Stream statistics are a snapshot: only the latest per stream matters to a slow client.
        const view = data as StreamView;
        this.backlog.set(`s:${view.streamId}`, { type, data: view });
        break;
      }
      case 'stream-failed': {
        const failure = data as StreamFailure;
        this.backlog.set(`f:${failure.streamId}`, { type, data: failure });
        break;
      }
      case 'health-alert': {
        // Like alarms, no alert is lost; unlike them, only an alert's latest state matters (fired → cleared).
        const event = data as HealthAlertEvent;
        this.backlog.set(`h:${event.alert.id}`, { type, data: event });
        break;
      }
      case 'platform-status': {
        const event = data as PlatformStatusEvent;
        this.backlog.set(`u:${event.platformId}`, { type, data: event });
        break;
      }
      case 'channel-position': {
        // Only where the vehicle is now matters to a slow client.
        const position = data as ChannelPosition;
        this.backlog.set(`p:${position.id}`, { type, data: position });
        break;
      }
      case 'import-progress': {
        // Only the latest count of an import matters to a slow client.
        const progress = data as ImportProgress;
        this.backlog.set(`i:${progress.importId}`, { type, data: progress });
        break;
      }
      case 'channel-status': {
        const change = data as ChannelStatusChange;
        for (const channelId of change.channelIds) {
          this.backlog.set(`c:${channelId}`, {
            type,
            channelId,
            deviceId: change.deviceId,
            status: change.status,
            at: change.at,
          });
          // Checked inside the loop: one event may carry a whole NVR's channels.
          if (this.backlog.size > this.limits.maxBacklogKeys) break;
        }
        break;
      }
    }
    const size = this.backlog.size + this.pendingAlarms.length;
    if (size > this.peakBacklog) this.peakBacklog = size;
    if (this.backlog.size > this.limits.maxBacklogKeys) this.drop(this, 'backlog');
  }

  /** Send the backlog while the socket buffer is below the low-water mark; leave coalescing when empty. */
  private flush(): void {
    const lowWater = this.limits.maxBufferedBytes / 2;
    if (this.socket.bufferedAmount > lowWater) return;
    // The buffer drained to the low-water mark: the client is reading, so it is not stalled.
    this.stallTimer?.refresh();
    while (!this.closing && this.socket.bufferedAmount <= lowWater) {
      const alarm = this.pendingAlarms.shift();
      if (alarm) {
        this.sendNow(JSON.stringify({ type: 'alarm', data: alarm }));
        continue;
      }
      const message = this.takeBacklogMessage();
      if (!message) {
        this.coalescing = false;
        if (this.stallTimer) clearTimeout(this.stallTimer);
        this.stallTimer = null;
        return;
      }
      this.sendNow(JSON.stringify(message));
    }
  }

  /** The oldest backlog entry as a message; channel entries that follow it with the same state are merged. */
  private takeBacklogMessage(): WsMessage | null {
    const first = this.backlog.entries().next();
    if (first.done) return null;
    const [firstKey, entry] = first.value;
    if (entry.type !== 'channel-status') {
      this.backlog.delete(firstKey);
      return { type: entry.type, data: entry.data };
    }
    const channelIds: string[] = [];
    const taken: string[] = [];
    for (const [key, next] of this.backlog) {
      if (
        next.type !== 'channel-status' ||
        next.deviceId !== entry.deviceId ||
        next.status !== entry.status ||
        next.at !== entry.at ||
        channelIds.length >= MAX_CHANNELS_PER_FLUSHED_MESSAGE
      ) {
        break;
      }
      channelIds.push(next.channelId);
      taken.push(key);
    }
    for (const key of taken) this.backlog.delete(key);
    const data: ChannelStatusChange = { deviceId: entry.deviceId, channelIds, status: entry.status, at: entry.at };
    return { type: 'channel-status', data };
  }
}

export class WsHub {
  private readonly clients = new Set<WsClient>();
  private readonly limits: Limits;
  private nextId = 1;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  private readonly listeners = {
    'device-status': (e: DeviceStatusChange) => this.broadcast('device-status', e),
    'channel-status': (e: ChannelStatusChange) => this.broadcast('channel-status', e),
    alarm: (e: AlarmEvent) => this.broadcast('alarm', e),
    'catalog-progress': (e: CatalogProgress) => this.broadcast('catalog-progress', e),
    'stream-status': (e: StreamView) => this.broadcast('stream-status', e),
    'stream-failed': (e: StreamFailure) => this.broadcast('stream-failed', e),
    'health-alert': (e: HealthAlertEvent) => this.broadcast('health-alert', e),
    'platform-status': (e: PlatformStatusEvent) => this.broadcast('platform-status', e),
    'import-progress': (e: ImportProgress) => this.broadcast('import-progress', e),
    'channel-position': (e: ChannelPosition) => this.broadcast('channel-position', e),
  };

  constructor(private readonly options: WsHubOptions) {
    this.limits = {
      maxBufferedBytes: options.maxBufferedBytes,
      maxBacklogKeys: options.maxBacklogKeys ?? DEFAULTS.maxBacklogKeys,
      maxPendingAlarms: options.maxPendingAlarms ?? DEFAULTS.maxPendingAlarms,
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs,
      closeGraceMs: options.closeGraceMs ?? DEFAULTS.closeGraceMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
    };
    const events = options.events;
    events.on('device-status', this.listeners['device-status']);
    events.on('channel-status', this.listeners['channel-status']);
    events.on('alarm', this.listeners.alarm);
    events.on('catalog-progress', this.listeners['catalog-progress']);
    events.on('stream-status', this.listeners['stream-status']);
    events.on('stream-failed', this.listeners['stream-failed']);
    events.on('health-alert', this.listeners['health-alert']);
    events.on('platform-status', this.listeners['platform-status']);
    events.on('import-progress', this.listeners['import-progress']);
    events.on('channel-position', this.listeners['channel-position']);
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.limits.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  snapshot(): WsClientSnapshot[] {
    return [...this.clients].map((c) => c.snapshot());
  }

  /** Take over an authenticated, open socket: greet it and relay events until it closes. */
  add(socket: WebSocket, principal: Principal): void {
    if (this.closed) {
      this.closeSocket(socket, 1001, 'server shutting down');
      return;
    }
    const client = new WsClient(this.nextId++, principal, socket, this.limits, (c, reason) => this.dropClient(c, reason));
    this.clients.add(client);
    this.options.metrics.wsClientConnected();

    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('error', (err) => {
      this.options.logger.debug({ err, client: client.id }, 'WebSocket client error');
    });
    socket.once('close', () => {
      client.release();
      if (this.clients.delete(client)) this.options.metrics.wsClientDisconnected();
    });
    // Clients have nothing to tell us yet; ignore what they send (maxPayload bounds it).
    client.sendNow(
      JSON.stringify({
        type: 'hello',
        data: { username: principal.username, role: principal.role, at: Date.now() },
      } satisfies WsMessage),
    );
  }

  /** Unsubscribe from events and close every client (server shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    const events = this.options.events;
    events.off('device-status', this.listeners['device-status']);
    events.off('channel-status', this.listeners['channel-status']);
    events.off('alarm', this.listeners.alarm);
    events.off('catalog-progress', this.listeners['catalog-progress']);
    events.off('stream-status', this.listeners['stream-status']);
    events.off('stream-failed', this.listeners['stream-failed']);
    events.off('health-alert', this.listeners['health-alert']);
    events.off('platform-status', this.listeners['platform-status']);
    events.off('import-progress', this.listeners['import-progress']);
    events.off('channel-position', this.listeners['channel-position']);
    for (const client of this.clients) {
      client.release();
      this.closeSocket(client.socket, 1001, 'server shutting down');
    }
  }

  /**
   * Close with a code, and destroy the socket if the close handshake has not completed after the grace
   * period: a client that does not read never sees the close frame, and ws would hold it for 30 s.
   */
  private closeSocket(socket: WebSocket, code: number, reason: string): void {
    socket.close(code, reason);
    const grace = setTimeout(() => socket.terminate(), this.limits.closeGraceMs);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
  }

  private broadcast(type: Exclude<WsMessageType, 'hello'>, data: unknown): void {
    if (this.clients.size === 0) return;
    let text: string | null = null;
    // Serialised once for all clients, and not at all when every client is coalescing.
    const serialise = (): string => (text ??= JSON.stringify({ type, data } satisfies WsMessage));
    for (const client of this.clients) {
      const scope = this.options.scopeOf?.(client.principal);
      const visible = scope ? scopedEvent(scope, type, data) : data;
      if (visible === null) continue;
      if (visible === data) client.deliver(type, data, serialise);
      else client.deliver(type, visible, () => JSON.stringify({ type, data: visible } satisfies WsMessage));
    }
  }

  private dropClient(client: WsClient, reason: string): void {
    if (client.isClosing) return;
    client.release();
    this.options.metrics.wsClientDropped(reason);
    this.options.logger.warn(
      { client: client.id, username: client.principal.username, reason },
      'closing slow WebSocket client; it can reconnect and reload state',
    );
    this.closeSocket(client.socket, WS_CLOSE_TRY_AGAIN_LATER, `slow consumer (${reason})`);
  }

  private checkHeartbeats(): void {
    for (const client of this.clients) {
      if (client.isClosing) continue;
      if (!client.alive) {
        this.dropClient(client, 'no-pong');
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }
}
