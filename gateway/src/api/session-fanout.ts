/**
 * Fan-out of consultation-session events to the session WebSockets (GET /api/sessions/:id/ws).
 *
 * Cheap for many followers: each event is serialised once, and the same string goes to every socket of
 * the session (only the `state` sent on connect is per socket).
 *
 * A slow follower cannot make the gateway grow: while its socket buffer is above `maxBufferedBytes`, it is
 * coalescing — messages wait in a map keyed by what they describe (`layout`, `state`, `lock`, `roll-call`,
 * `chair`, `ended`, `presence:<participant>`), so only the latest of each waits (every one of them is a
 * state, not a delta: the newest layout replaces an older one). The map holds references to the shared
 * strings and has at most 6 + participants entries. Each completed write re-checks the buffer and sends
 * the waiting messages once it is below half the limit. A socket that makes no progress for
 * `stallTimeoutMs` is closed with 1013 and counted; it reconnects and gets a fresh `state`.
 *
 * Protocol pings every `heartbeatIntervalMs` find half-open connections (terminated when the previous ping
 * got no pong) and measure a round trip for clients that do not report their own.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { SessionEvent, SessionReply } from '../domain/sessions/session-model.js';
import type { SessionConnection, SessionService } from '../domain/sessions/session-service.js';
import type { GatewayMetrics } from '../observability/metrics.js';

export interface SessionFanoutOptions {
  sessions: SessionService;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Unsent bytes above which a socket is coalesced. */
  maxBufferedBytes: number;
  stallTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  closeGraceMs?: number;
  /** Messages a client may send per second (pings every 2 s and a chair's changes are far below). */
  maxMessagesPerSecond?: number;
}

const DEFAULTS = { stallTimeoutMs: 30_000, heartbeatIntervalMs: 10_000, closeGraceMs: 5_000, maxMessagesPerSecond: 20 };

export const WS_CLOSE_NORMAL = 1000;
export const WS_CLOSE_GOING_AWAY = 1001;
export const WS_CLOSE_POLICY = 1008;
export const WS_CLOSE_TRY_AGAIN_LATER = 1013;

function keyOf(event: SessionEvent): string {
  if (event.type === 'presence' || event.type === 'removed') return `${event.type}:${event.data.participantId}`;
  return event.type;
}

class Follower {
  private coalescing = false;
  private readonly waiting = new Map<string, string>();
  private stallTimer: NodeJS.Timeout | null = null;
  closing = false;
  alive = true;
  pingSentAt = 0;
  /** Messages received in the current one-second window (flood guard). */
  windowStartedAt = 0;
  windowMessages = 0;
  private readonly onWritten = (err?: Error): void => {
    if (!err && this.coalescing) this.flush();
  };

  constructor(
    readonly socket: WebSocket,
    readonly connection: SessionConnection,
    private readonly maxBufferedBytes: number,
    private readonly stallTimeoutMs: number,
    private readonly onStalled: (follower: Follower) => void,
  ) {}

  send(text: string): void {
    this.socket.send(text, this.onWritten);
  }

  deliver(key: string, text: string): void {
    if (this.closing) return;
    if (!this.coalescing && this.socket.bufferedAmount <= this.maxBufferedBytes) {
      this.send(text);
      return;
    }
    if (!this.coalescing) {
      this.coalescing = true;
      this.stallTimer = setTimeout(() => {
        if (this.coalescing) this.onStalled(this);
      }, this.stallTimeoutMs);
      this.stallTimer.unref();
    }
    // Re-inserted at the end: waiting messages go out in the order of their latest change.
    this.waiting.delete(key);
    this.waiting.set(key, text);
  }

  release(): void {
    this.closing = true;
    this.coalescing = false;
    this.waiting.clear();
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private flush(): void {
    const lowWater = this.maxBufferedBytes / 2;
    if (this.socket.bufferedAmount > lowWater) return;
    this.stallTimer?.refresh();
    while (!this.closing && this.socket.bufferedAmount <= lowWater) {
      const next = this.waiting.entries().next();
      if (next.done) {
        this.coalescing = false;
        if (this.stallTimer) clearTimeout(this.stallTimer);
        this.stallTimer = null;
        return;
      }
      const [key, text] = next.value;
      this.waiting.delete(key);
      this.send(text);
    }
  }
}

export class SessionFanout {
  private readonly rooms = new Map<string, Set<Follower>>();
  private readonly limits: typeof DEFAULTS;
  private readonly heartbeat: NodeJS.Timeout;
  private connections = 0;
  private closed = false;
  private readonly onEvent = (event: SessionEvent): void => this.broadcast(event);

  constructor(private readonly options: SessionFanoutOptions) {
    this.limits = {
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      closeGraceMs: options.closeGraceMs ?? DEFAULTS.closeGraceMs,
      maxMessagesPerSecond: options.maxMessagesPerSecond ?? DEFAULTS.maxMessagesPerSecond,
    };
    options.sessions.on('event', this.onEvent);
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.limits.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** Open session WebSockets. */
  get connectionCount(): number {
    return this.connections;
  }

  /** Take over an authorised socket: connect the participant, send it the state, relay until it closes. */
  attach(socket: WebSocket, sessionId: string, participantId: string, mayShare?: (channelId: string) => boolean): void {
    if (this.closed) {
      this.closeSocket(socket, WS_CLOSE_GOING_AWAY, 'server shutting down');
      return;
    }
    let connected: ReturnType<SessionService['connect']>;
    try {
      connected = this.options.sessions.connect(sessionId, participantId, mayShare);
    } catch (error) {
      // The session ended between the upgrade check and now.
      socket.send(JSON.stringify({ type: 'error', data: { message: (error as Error).message } }));
      this.closeSocket(socket, WS_CLOSE_POLICY, 'session not active');
      return;
    }
    const follower = new Follower(socket, connected.connection, this.options.maxBufferedBytes, this.limits.stallTimeoutMs, (f) => this.drop(f, 'stalled'));
    let room = this.rooms.get(sessionId);
    if (!room) {
      room = new Set();
      this.rooms.set(sessionId, room);
    }
    room.add(follower);
    this.connections++;

    socket.on('pong', () => {
      follower.alive = true;
      if (follower.pingSentAt > 0) this.options.sessions.networkRtt(follower.connection, Date.now() - follower.pingSentAt);
    });
    socket.on('error', (err) => this.options.logger.debug({ err, sessionId }, 'session WebSocket error'));
    socket.on('message', (raw, isBinary) => this.received(follower, raw, isBinary));
    socket.once('close', () => {
      follower.release();
      const members = this.rooms.get(sessionId);
      if (members?.delete(follower)) {
        this.connections--;
        if (members.size === 0) this.rooms.delete(sessionId);
      }
      this.options.sessions.disconnect(follower.connection);
    });
    follower.send(JSON.stringify({ type: 'state', data: connected.state }));
  }

  /** Stop listening and close every socket (server shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.options.sessions.off('event', this.onEvent);
    for (const room of this.rooms.values()) {
      for (const follower of room) {
        follower.release();
        this.closeSocket(follower.socket, WS_CLOSE_GOING_AWAY, 'server shutting down');
      }
    }
  }

  private broadcast(event: SessionEvent): void {
    const room = this.rooms.get(event.sessionId);
    if (!room || room.size === 0) return;
    // Serialised once for the whole room.
    const text = JSON.stringify({ type: event.type, data: event.data });
    const key = keyOf(event);
    for (const follower of room) follower.deliver(key, text);
    if (event.type === 'ended') {
      for (const follower of room) {
        follower.release();
        this.closeSocket(follower.socket, WS_CLOSE_NORMAL, 'session ended');
      }
    }
    if (event.type === 'removed') {
      for (const follower of room) {
        if (follower.connection.participantId !== event.data.participantId) continue;
        follower.release();
        this.closeSocket(follower.socket, WS_CLOSE_NORMAL, 'removed from the session');
      }
    }
  }

  private received(follower: Follower, raw: unknown, isBinary: boolean): void {
    if (follower.closing) return;
    const now = Date.now();
    if (now - follower.windowStartedAt >= 1000) {
      follower.windowStartedAt = now;
      follower.windowMessages = 0;
    }
    if (++follower.windowMessages > this.limits.maxMessagesPerSecond) {
      this.drop(follower, 'flooding');
      return;
    }
    let message: unknown;
    try {
      if (isBinary) throw new Error('binary');
      message = JSON.parse(String(raw));
    } catch {
      this.reply(follower, { type: 'error', data: { message: 'messages are JSON text: { "type": ..., "data": ... }', code: 'session.bad-message' } });
      return;
    }
    const answer = this.options.sessions.receive(follower.connection, message);
    if (answer) this.reply(follower, answer);
  }

  private reply(follower: Follower, answer: SessionReply): void {
    // Pongs and errors are for this socket only; they never wait behind a coalesced backlog for long.
    if (!follower.closing) follower.send(JSON.stringify(answer));
  }

  private drop(follower: Follower, reason: 'stalled' | 'no-pong' | 'flooding'): void {
    if (follower.closing) return;
    follower.release();
    this.options.metrics.sessionWsDropped(reason);
    this.options.logger.warn({ sessionId: follower.connection.sessionId, participantId: follower.connection.participantId, reason }, 'closing session WebSocket; the client can reconnect');
    this.closeSocket(follower.socket, reason === 'flooding' ? WS_CLOSE_POLICY : WS_CLOSE_TRY_AGAIN_LATER, reason);
  }

  private closeSocket(socket: WebSocket, code: number, reason: string): void {
    socket.close(code, reason);
    const grace = setTimeout(() => socket.terminate(), this.limits.closeGraceMs);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    for (const room of this.rooms.values()) {
      for (const follower of room) {
        if (follower.closing) continue;
        if (!follower.alive) {
          this.drop(follower, 'no-pong');
          continue;
        }
        follower.alive = false;
        follower.pingSentAt = now;
        follower.socket.ping();
      }
    }
  }
}
