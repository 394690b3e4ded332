/**
 * Consultation sessions (视频会商): a chair shares cameras and points' terminals; points join from a browser
 * with a 6-digit code (guests) or their own login, follow the chair's layout live, are rolled call, and
 * their attendance is kept.
 *
 * Active sessions live in memory (they are few, and every layout change must reach every point at once);
 * everything is also stored through the records port — the session, its participants, every attendance
 * interval and every layout change with its seq — by a CoalescingWriter off the request path (REST
 * mutations wait for it, so a 2xx means stored). After a restart the active sessions are loaded again with
 * every participant "lost" until it reconnects.
 *
 * Transport-agnostic: the API's session WebSocket calls connect / receive / networkRtt / disconnect and
 * fans the typed `event`s out; this service never sees a socket. Lifecycle: load() once, close() at
 * shutdown (stops every timer and flushes pending writes).
 *
 * Presence per participant: 'lost' without a connection; 'poor' when its latest round trip is ≥ poorRttMs
 * or it stopped its app-level pings for silentAfterMs; otherwise 'good'. The round trip comes from the
 * client's own ping/pong measurement (`ping { t, rttMs }`) or, for clients that do not report one, from the
 * WebSocket's protocol pings.
 */
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Page } from '../model.js';
import type { RecordCollection, RecordCondition, RecordStore } from '../records.js';
import { ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError, ValidationError, type Principal } from '../services.js';
import { CHANNEL_ID, channelsOf, layoutFor, validateLayout, type WallLayout } from '../views/layout.js';
import { checkedName } from '../views/owned-items.js';
import { CoalescingWriter } from './coalescing-writer.js';
import { JoinLimiter } from './join-limiter.js';
import {
  COLLECTIONS,
  type AttendanceEntry,
  type AttendanceRecord,
  type GuestTokenRecord,
  type LayoutChange,
  type LayoutRecord,
  type Participant,
  type ParticipantRecord,
  type Presence,
  type RollCallChange,
  type Session,
  type SessionEvent,
  type SessionRecord,
  type SessionReply,
} from './session-model.js';

export interface SessionServiceOptions {
  /** Failed joins by code per source address within the window before the address is refused. */
  joinMaxFailures: number;
  joinWindowMs: number;
  /** Round trip at or above which a participant is 'poor'. */
  poorRttMs: number;
  /** A client that sent app-level pings and then stayed silent this long is 'poor'. */
  silentAfterMs: number;
  /** How often presence is re-evaluated (silence is only noticed by looking). */
  presenceSweepMs: number;
  /** `state` (the whole session) at most this often per session: a burst of joins sends one. */
  stateMinIntervalMs: number;
  /** Guest tokens stop working when their session ends, or after this long. */
  guestTokenTtlMs: number;
  maxParticipants: number;
  maxSources: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionServiceOptions = {
  joinMaxFailures: 10,
  joinWindowMs: 10 * 60_000,
  poorRttMs: 300,
  silentAfterMs: 6_000,
  presenceSweepMs: 1_000,
  stateMinIntervalMs: 250,
  guestTokenTtlMs: 24 * 3600_000,
  maxParticipants: 1_000,
  maxSources: 256,
};

export const CYCLIC_DWELL_MIN_SEC = 1;
export const CYCLIC_DWELL_MAX_SEC = 3_600;
/** Guest tokens carry a prefix so that authentication knows where to look them up. */
export const GUEST_TOKEN_PREFIX = 'sg_';

export interface SessionServiceHooks {
  /** A join by code was refused: wrong code, or the address is rate-limited. */
  joinFailed?(reason: 'wrong-code' | 'rate-limited'): void;
}

export interface CreateSessionInput {
  name: string;
  sources: string[];
  layout?: WallLayout;
}

export interface JoinInput {
  name?: string;
  terminalChannelId?: string | null;
}

export interface JoinResult {
  participantId: string;
  session: Session;
}

/** One open socket of a participant, as the WebSocket layer knows it. */
export interface SessionConnection {
  readonly id: number;
  readonly sessionId: string;
  readonly participantId: string;
}

interface LiveParticipant extends ParticipantRecord {
  /**
   * For a signed-in participant: whether its user may share a channel (its channel scope, taken from its
   * latest connection). A chair widens what guests see only within its own scope; absent: no limit.
   */
  mayShare?: (channelId: string) => boolean;
  presence: Presence;
  rttMs: number | null;
  connections: number;
  /** When the client last sent an app-level ping; null if it never did. */
  lastAppPingAt: number | null;
  openAttendance: AttendanceRecord | null;
}

interface LiveSession {
  record: SessionRecord;
  /** Insertion order = join order (cyclic roll call goes through it). */
  participants: Map<string, LiveParticipant>;
  rollTimer: NodeJS.Timeout | null;
  stateTimer: NodeJS.Timeout | null;
  lastStateAt: number;
  /** Layout changes not yet written (one putMany per write turn). */
  unsavedLayouts: LayoutRecord[];
}

type SessionEventMap = {
  event: [SessionEvent];
  /** A guest left for good ("leave"): its token is void; the composition root revokes its media too. */
  'guest-left': [{ sessionId: string; participantId: string }];
};

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const PAGE = 1000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function participantView(p: LiveParticipant): Participant {
  return { id: p.id, name: p.name, username: p.username, terminalChannelId: p.terminalChannelId, presence: p.presence, joinedAt: p.joinedAt, leftAt: p.leftAt };
}

function participantRecord(p: LiveParticipant): ParticipantRecord {
  return { id: p.id, sessionId: p.sessionId, name: p.name, username: p.username, terminalChannelId: p.terminalChannelId, joinedAt: p.joinedAt, leftAt: p.leftAt };
}

function checkedChannel(value: unknown, field: string): string {
  if (typeof value !== 'string' || !CHANNEL_ID.test(value)) throw new ValidationError(`${field} must be a channel ID (2–20 digits)`, field);
  return value;
}

export class SessionService extends EventEmitter<SessionEventMap> {
  private readonly options: SessionServiceOptions;
  private readonly live = new Map<string, LiveSession>();
  private readonly byCode = new Map<string, LiveSession>();
  private readonly guestTokens = new Map<string, GuestTokenRecord>();
  private readonly limiter: JoinLimiter;
  private readonly writer: CoalescingWriter;
  private readonly sessions: RecordCollection<SessionRecord>;
  private readonly participants: RecordCollection<ParticipantRecord>;
  private readonly attendance: RecordCollection<AttendanceRecord>;
  private readonly layouts: RecordCollection<LayoutRecord>;
  private readonly tokens: RecordCollection<GuestTokenRecord>;
  private sweepTimer: NodeJS.Timeout | null = null;
  private nextConnectionId = 1;
  private closed = false;

  constructor(
    records: RecordStore,
    private readonly logger: Logger,
    options: Partial<SessionServiceOptions> = {},
    private readonly hooks: SessionServiceHooks = {},
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.options = { ...DEFAULT_SESSION_OPTIONS, ...options };
    this.limiter = new JoinLimiter({ maxFailures: this.options.joinMaxFailures, windowMs: this.options.joinWindowMs }, now);
    this.writer = new CoalescingWriter((err, key) => this.logger.error({ err, key }, 'session write failed'));
    this.sessions = records.collection<SessionRecord>(COLLECTIONS.sessions, ['code', 'endedAt', 'createdAt']);
    this.participants = records.collection<ParticipantRecord>(COLLECTIONS.participants, ['sessionId']);
    this.attendance = records.collection<AttendanceRecord>(COLLECTIONS.attendance, ['sessionId', 'joinedAt', 'leftAt']);
    this.layouts = records.collection<LayoutRecord>(COLLECTIONS.layouts, ['sessionId', 'seq']);
    this.tokens = records.collection<GuestTokenRecord>(COLLECTIONS.guestTokens, ['sessionId', 'expiresAt']);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Load the active sessions (after a restart nobody is connected: everyone is lost and has left). */
  async load(): Promise<void> {
    const at = this.now();
    const active = await this.findAll(this.sessions, { endedAt: null });
    for (const record of active) {
      const live = this.newLive(record);
      const openRows = await this.findAll(this.attendance, { sessionId: record.id, leftAt: null });
      for (const row of openRows) this.writeAttendance({ ...row, leftAt: at });
      for (const p of await this.findAll(this.participants, { sessionId: record.id })) {
        const participant: LiveParticipant = { ...p, leftAt: p.leftAt ?? at, presence: 'lost', rttMs: null, connections: 0, lastAppPingAt: null, openAttendance: null };
        live.participants.set(p.id, participant);
        if (p.leftAt === null) this.writeParticipant(participant);
      }
      if (record.rollCall.cyclicDwellSec !== null) this.scheduleRollCall(live);
    }
    for (const token of await this.findAll(this.tokens, { expiresAt: { gte: at } })) {
      if (this.live.has(token.sessionId)) this.guestTokens.set(token.id, token);
    }
    this.writer.write('guest-token-purge', async () => {
      await this.tokens.deleteWhere({ expiresAt: { lt: at } });
    });
    await this.writer.flush();
    this.sweepTimer = setInterval(() => this.sweepPresence(), this.options.presenceSweepMs);
    this.sweepTimer.unref();
    if (active.length > 0) this.logger.info({ sessions: active.length }, 'active consultation sessions loaded');
  }

  /** Stop every timer and write what is pending. Further calls are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const live of this.live.values()) this.stopTimers(live);
    await this.writer.flush();
  }

  get activeCount(): number {
    return this.live.size;
  }

  // ------------------------------------------------------------------ REST

  async create(actor: Principal, input: CreateSessionInput): Promise<Session> {
    this.assertOpen();
    if (actor.kind === 'session-guest') throw new ForbiddenError('a session guest cannot create sessions', { code: 'session.guest-cannot-create' });
    const name = checkedName(input.name, 'body.name');
    const sources = this.checkedSources(input.sources);
    const layout = input.layout === undefined ? layoutFor(sources) : validateLayout(input.layout, 'body.layout');
    // The creator is a logged-in user, who may share any channel: what the layout shows is shared too.
    for (const channelId of channelsOf(layout)) if (!sources.includes(channelId)) sources.push(channelId);
    const at = this.now();
    const id = randomUUID();
    const chair: LiveParticipant = this.newParticipant(id, actor.username, actor.username, null, at);
    const record: SessionRecord = {
      id,
      code: this.unusedCode(),
      name,
      createdBy: actor.username,
      chair: chair.id,
      createdAt: at,
      endedAt: null,
      sources,
      layout,
      layoutSeq: 1,
      locked: false,
      rollCall: { participantId: null, cyclicDwellSec: null },
    };
    const live = this.newLive(record);
    live.participants.set(chair.id, chair);
    this.openAttendance(live, chair, at);
    this.writeSession(live);
    this.writeParticipant(chair);
    this.appendLayout(live, { seq: 1, layout, by: chair.id, at });
    await this.writer.flush();
    this.logger.info({ sessionId: id, name, createdBy: actor.username, sources: sources.length }, 'consultation session created');
    return this.viewOf(live);
  }

  async list(query: { active?: boolean; offset?: number; limit?: number }): Promise<Page<Session>> {
    await this.writer.flush();
    const where: Record<string, RecordCondition> = query.active === undefined ? {} : { endedAt: query.active ? null : { gte: 0 } };
    const page = await this.sessions.find({ where, sort: { field: 'createdAt', order: 'desc' }, offset: query.offset, limit: query.limit });
    const stored = page.items.filter((s) => !this.live.has(s.id));
    const participants = await this.storedParticipants(stored.map((s) => s.id));
    return {
      total: page.total,
      items: page.items.map((s) => {
        const live = this.live.get(s.id);
        return live ? this.viewOf(live) : { ...s, participants: participants.get(s.id) ?? [] };
      }),
    };
  }

  async get(id: string): Promise<Session> {
    const live = this.live.get(id);
    if (live) return this.viewOf(live);
    const record = await this.sessions.get(id);
    if (!record) throw new NotFoundError(`session ${id} not found`, { code: 'session.not-found' });
    return { ...record, participants: (await this.storedParticipants([id])).get(id) ?? [] };
  }

  /** End a session (its chair or an admin): everyone is disconnected, guest tokens stop working. */
  async end(actor: Principal, id: string): Promise<Session> {
    this.assertOpen();
    const live = this.live.get(id);
    if (!live) {
      await this.get(id); // 404 when unknown
      throw new ConflictError(`session ${id} has already ended`, { code: 'session.ended' });
    }
    if (!this.isChair(actor, live) && actor.role !== 'admin') throw new ForbiddenError('only the chair or an admin may end the session', { code: 'session.chair-or-admin-only' });
    const at = this.now();
    this.stopTimers(live);
    live.record.endedAt = at;
    for (const p of live.participants.values()) {
      if (p.openAttendance) this.closeAttendance(p, at);
      if (p.leftAt === null) p.leftAt = at;
      p.presence = 'lost';
      p.connections = 0;
      this.writeParticipant(p);
    }
    const view = this.viewOf(live);
    this.live.delete(id);
    this.byCode.delete(live.record.code);
    for (const [hash, token] of this.guestTokens) if (token.sessionId === id) this.guestTokens.delete(hash);
    this.writeSession(live);
    this.writer.write(`guest-tokens:${id}`, async () => {
      await this.tokens.deleteWhere({ sessionId: id });
    });
    this.emit('event', { sessionId: id, type: 'ended', data: {} });
    await this.writer.flush();
    this.logger.info({ sessionId: id, by: actor.username }, 'consultation session ended');
    return view;
  }

  /** A point joins with the code (no login): a guest token scoped to the session. Rate-limited per address. */
  async joinByCode(input: { code: string; name: string; terminalChannelId?: string | null }, address: string): Promise<JoinResult & { token: string }> {
    this.assertOpen();
    const wait = this.limiter.blockedForSec(address);
    if (wait > 0) {
      this.hooks.joinFailed?.('rate-limited');
      throw new TooManyRequestsError(`too many wrong session codes from ${address}; try again in ${wait} s`, wait, { code: 'session.join-rate-limited', params: { retryAfterSec: wait } });
    }
    const live = this.byCode.get(input.code);
    if (!live) {
      this.limiter.failed(address);
      this.hooks.joinFailed?.('wrong-code');
      this.logger.info({ address }, 'session join with a wrong code');
      throw new NotFoundError('no active session with this code', { code: 'session.wrong-code' });
    }
    const name = checkedName(input.name, 'body.name');
    const terminal = input.terminalChannelId === undefined || input.terminalChannelId === null ? null : checkedChannel(input.terminalChannelId, 'body.terminalChannelId');
    // A guest proves nothing about which channel is its terminal, so naming one shares nothing: guests see it
    // once the chair (a signed-in user) rolls the point in, which shares it (rollCall).
    this.assertRoom(live);
    const at = this.now();
    const participant = this.newParticipant(live.record.id, name, null, terminal, at);
    live.participants.set(participant.id, participant);
    this.openAttendance(live, participant, at);
    this.writeParticipant(participant);
    const token = `${GUEST_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const tokenRecord: GuestTokenRecord = { id: sha256(token), sessionId: live.record.id, participantId: participant.id, expiresAt: at + this.options.guestTokenTtlMs };
    this.guestTokens.set(tokenRecord.id, tokenRecord);
    this.writer.write(`guest-token:${tokenRecord.id}`, () => this.tokens.put(tokenRecord));
    this.scheduleState(live);
    await this.writer.flush();
    this.logger.info({ sessionId: live.record.id, participantId: participant.id, name }, 'guest joined a consultation session');
    return { token, participantId: participant.id, session: this.viewOf(live) };
  }

  /** A logged-in user joins (or rejoins: one participant per user); a guest gets its own participant back. */
  async join(actor: Principal, id: string, input: JoinInput): Promise<JoinResult> {
    this.assertOpen();
    const live = this.activeSession(id);
    if (actor.kind === 'session-guest') {
      const own = actor.participantId ? live.participants.get(actor.participantId) : undefined;
      if (!own || actor.sessionId !== id) throw new ForbiddenError('a guest token is scoped to one session', { code: 'session.guest-scope' });
      return { participantId: own.id, session: this.viewOf(live) };
    }
    const terminal = input.terminalChannelId === undefined || input.terminalChannelId === null ? input.terminalChannelId : checkedChannel(input.terminalChannelId, 'body.terminalChannelId');
    const name = input.name === undefined ? undefined : checkedName(input.name, 'body.name');
    let participant = [...live.participants.values()].find((p) => p.username === actor.username);
    if (participant) {
      if (name !== undefined) participant.name = name;
      if (terminal !== undefined) participant.terminalChannelId = terminal;
    } else {
      this.assertRoom(live);
      const at = this.now();
      participant = this.newParticipant(id, name ?? actor.username, actor.username, terminal ?? null, at);
      live.participants.set(participant.id, participant);
      this.openAttendance(live, participant, at);
    }
    this.writeParticipant(participant);
    this.scheduleState(live);
    await this.writer.flush();
    return { participantId: participant.id, session: this.viewOf(live) };
  }

  /**
   * A guest leaves for good (its "sign out"): its guest token stops working at once, and with it (app.ts)
   * its media. Its attendance closes when its socket goes, as for any disconnect. Users just disconnect.
   */
  async leave(actor: Principal, id: string): Promise<{ left: boolean }> {
    if (actor.kind !== 'session-guest' || actor.sessionId !== id || !actor.participantId) return { left: false };
    const participantId = actor.participantId;
    for (const [hash, token] of this.guestTokens) if (token.participantId === participantId) this.guestTokens.delete(hash);
    this.writer.write(`guest-tokens:${id}:${participantId}`, async () => {
      await this.tokens.deleteWhere({ participantId });
    });
    await this.writer.flush();
    this.emit('guest-left', { sessionId: id, participantId });
    this.logger.info({ sessionId: id, participantId }, 'guest left the consultation session');
    return { left: true };
  }

  async attendanceOf(id: string, page: { offset?: number; limit?: number }): Promise<Page<AttendanceEntry>> {
    await this.get(id);
    await this.writer.flush();
    const rows = await this.attendance.find({ where: { sessionId: id }, sort: { field: 'joinedAt', order: 'asc' }, ...page });
    return { total: rows.total, items: rows.items.map(({ participantId, name, joinedAt, leftAt }) => ({ participantId, name, joinedAt, leftAt })) };
  }

  async layoutHistory(id: string, page: { offset?: number; limit?: number }): Promise<Page<LayoutChange>> {
    await this.get(id);
    await this.writer.flush();
    const rows = await this.layouts.find({ where: { sessionId: id }, sort: { field: 'seq', order: 'asc' }, ...page });
    return { total: rows.total, items: rows.items.map(({ seq, by, at, layout }) => ({ seq, by, at, layout })) };
  }

  // ------------------------------------------------------------------ guests

  /** The principal of a guest token, or null (unknown, expired, or its session ended). */
  authenticateGuest(token: string): Principal | null {
    if (!token.startsWith(GUEST_TOKEN_PREFIX)) return null;
    const record = this.guestTokens.get(sha256(token));
    if (!record || record.expiresAt <= this.now()) return null;
    const live = this.live.get(record.sessionId);
    if (!live?.participants.has(record.participantId)) return null;
    return { kind: 'session-guest', username: `guest:${record.participantId}`, role: 'viewer', sessionId: record.sessionId, participantId: record.participantId };
  }

  /** A guest of `sessionId` may play the session's sources and the participants' terminals. */
  mayGuestPlay(sessionId: string, channelId: string): boolean {
    const live = this.live.get(sessionId);
    return live !== undefined && this.sharedChannels(live).has(channelId);
  }

  // ------------------------------------------------------------------ live connections

  /** Throws unless `principal` may open a connection as `participantId` (checked before the upgrade). */
  authorizeConnection(principal: Principal, sessionId: string, participantId: string): void {
    const live = this.activeSession(sessionId);
    const participant = live.participants.get(participantId);
    if (!participant) throw new NotFoundError(`participant ${participantId} is not in session ${sessionId}`, { code: 'session.participant-unknown' });
    const allowed = principal.kind === 'session-guest' ? principal.sessionId === sessionId && principal.participantId === participantId : participant.username === principal.username;
    if (!allowed) throw new ForbiddenError(`participant ${participantId} is someone else; join the session first`, { code: 'session.participant-someone-else' });
  }

  /** A socket of the participant opened: present again (a new attendance interval if it had left). */
  connect(sessionId: string, participantId: string, mayShare?: (channelId: string) => boolean): { connection: SessionConnection; state: Session } {
    this.assertOpen();
    const live = this.activeSession(sessionId);
    const participant = live.participants.get(participantId);
    if (!participant) throw new NotFoundError(`participant ${participantId} is not in session ${sessionId}`, { code: 'session.participant-unknown' });
    if (mayShare) participant.mayShare = mayShare;
    participant.connections++;
    if (participant.connections === 1) {
      const at = this.now();
      participant.leftAt = null;
      participant.rttMs = null;
      participant.lastAppPingAt = null;
      if (!participant.openAttendance) this.openAttendance(live, participant, at);
      this.writeParticipant(participant);
      this.updatePresence(live, participant);
      this.scheduleState(live);
    }
    return { connection: { id: this.nextConnectionId++, sessionId, participantId }, state: this.viewOf(live) };
  }

  /** A socket closed: when it was the participant's last, it is lost and has left. */
  disconnect(connection: SessionConnection): void {
    const live = this.live.get(connection.sessionId);
    const participant = live?.participants.get(connection.participantId);
    if (!live || !participant || participant.connections === 0) return;
    participant.connections--;
    if (participant.connections > 0) return;
    const at = this.now();
    participant.leftAt = at;
    if (participant.openAttendance) this.closeAttendance(participant, at);
    this.writeParticipant(participant);
    this.updatePresence(live, participant);
    this.scheduleState(live);
  }

  /** Round trip of a WebSocket protocol ping; used when the client does not report its own. */
  networkRtt(connection: SessionConnection, rttMs: number): void {
    const live = this.live.get(connection.sessionId);
    const participant = live?.participants.get(connection.participantId);
    if (!live || !participant) return;
    const at = this.now();
    if (participant.lastAppPingAt !== null && at - participant.lastAppPingAt <= this.options.silentAfterMs) return;
    participant.rttMs = Math.round(rttMs);
    this.updatePresence(live, participant);
  }

  /**
   * A message from a client: `ping` from anyone; `layout`, `lock`, `roll-call` and `hand-over` from the
   * chair only. Returns what to answer that client (pong, or an error), or null.
   */
  receive(connection: SessionConnection, message: unknown): SessionReply | null {
    try {
      const live = this.live.get(connection.sessionId);
      if (!live || this.closed) return { type: 'error', data: { message: 'the session has ended', code: 'session.ended' } };
      const participant = live.participants.get(connection.participantId);
      if (!participant) return { type: 'error', data: { message: 'not a participant of this session', code: 'session.participant-unknown' } };
      if (!isObject(message) || typeof message.type !== 'string') throw new ValidationError('a message is { "type": string, "data": ... }', 'type');
      const data = message.data;
      if (message.type === 'ping') return this.ping(live, participant, data);
      if (!['layout', 'lock', 'roll-call', 'hand-over', 'remove'].includes(message.type)) throw new ValidationError(`unknown message type "${message.type}"`, 'type');
      if (live.record.chair !== participant.id) throw new ForbiddenError(`only the chair may send "${message.type}"`, { code: 'session.chair-only', params: { type: message.type } });
      switch (message.type) {
        case 'layout':
          this.changeLayout(live, participant, data);
          break;
        case 'lock':
          this.lock(live, data);
          break;
        case 'roll-call':
          this.rollCall(live, data);
          break;
        case 'hand-over':
          this.handOver(live, data);
          break;
        case 'remove':
          this.remove(live, participant, data);
          break;
      }
      return null;
    } catch (error) {
      if (error instanceof ValidationError || error instanceof ForbiddenError || error instanceof NotFoundError) {
        const code = error.detail ?? { code: error instanceof ValidationError ? 'validation.invalid' : error instanceof ForbiddenError ? 'forbidden' : 'not-found' };
        return { type: 'error', data: { message: error.message, ...code } };
      }
      throw error;
    }
  }

  // ------------------------------------------------------------------ chair commands

  private ping(live: LiveSession, participant: LiveParticipant, data: unknown): SessionReply {
    if (!isObject(data) || typeof data.t !== 'number' || !Number.isFinite(data.t)) throw new ValidationError('ping data.t must be a number', 'data.t');
    participant.lastAppPingAt = this.now();
    if (data.rttMs !== undefined && data.rttMs !== null) {
      if (typeof data.rttMs !== 'number' || !(data.rttMs >= 0 && data.rttMs <= 600_000)) throw new ValidationError('ping data.rttMs must be 0–600000 ms', 'data.rttMs');
      participant.rttMs = Math.round(data.rttMs);
    }
    this.updatePresence(live, participant);
    return { type: 'pong', data: { t: data.t } };
  }

  private changeLayout(live: LiveSession, chair: LiveParticipant, data: unknown): void {
    const layout = validateLayout(data, 'data');
    const shared = this.sharedChannels(live);
    const added = channelsOf(layout).filter((c) => !shared.has(c));
    if (added.length > 0) {
      // A guest chair (after a hand-over) may not widen what guests can see; a logged-in chair shares more.
      if (chair.username === null) throw new ForbiddenError(`channel ${added[0]} is not shared in this session`, { code: 'session.not-shared', params: { channelId: added[0] } });
      // A scoped chair shares only its own channels; one outside its scope is "not found", as everywhere else.
      const outOfScope = chair.mayShare ? added.find((c) => !chair.mayShare?.(c)) : undefined;
      if (outOfScope !== undefined) throw new NotFoundError(`channel ${outOfScope} not found`, { code: 'not-found', params: { channelId: outOfScope } });
      live.record.sources.push(...added);
      this.scheduleState(live);
    }
    const change: LayoutChange = { seq: live.record.layoutSeq + 1, layout, by: chair.id, at: this.now() };
    live.record.layout = layout;
    live.record.layoutSeq = change.seq;
    this.emit('event', { sessionId: live.record.id, type: 'layout', data: change });
    this.appendLayout(live, change);
    this.writeSession(live);
  }

  private lock(live: LiveSession, data: unknown): void {
    if (!isObject(data) || typeof data.locked !== 'boolean') throw new ValidationError('lock data.locked must be true or false', 'data.locked');
    live.record.locked = data.locked;
    this.emit('event', { sessionId: live.record.id, type: 'lock', data: { locked: data.locked } });
    this.writeSession(live);
  }

  private rollCall(live: LiveSession, data: unknown): void {
    if (!isObject(data)) throw new ValidationError('roll-call data must be an object', 'data');
    const { participantId, cyclicDwellSec } = data;
    if (participantId !== null && typeof participantId !== 'string') throw new ValidationError('roll-call data.participantId must be a participant ID or null', 'data.participantId');
    const dwell = cyclicDwellSec ?? null;
    if (dwell !== null && (typeof dwell !== 'number' || !Number.isInteger(dwell) || dwell < CYCLIC_DWELL_MIN_SEC || dwell > CYCLIC_DWELL_MAX_SEC)) {
      throw new ValidationError(`roll-call data.cyclicDwellSec must be ${CYCLIC_DWELL_MIN_SEC}–${CYCLIC_DWELL_MAX_SEC} or null`, 'data.cyclicDwellSec');
    }
    if (participantId !== null) {
      const target = live.participants.get(participantId);
      if (!target) throw new NotFoundError(`participant ${participantId} is not in this session`, { code: 'session.participant-unknown' });
      if (target.terminalChannelId === null) throw new ValidationError(`participant ${target.name} has no terminal channel to show`, 'data.participantId', { code: 'session.no-terminal', params: { name: target.name } });
      if (!this.mayCall(live, target)) throw new ForbiddenError(`channel ${target.terminalChannelId} is not shared in this session`, { code: 'session.not-shared', params: { channelId: target.terminalChannelId } });
    }
    if (live.rollTimer) clearTimeout(live.rollTimer);
    live.rollTimer = null;
    let called = participantId;
    if (dwell !== null && called === null) {
      called = this.rollCallCandidates(live)[0]?.id ?? null;
      if (called === null) throw new ValidationError('no connected participant has a terminal channel to call', 'data.participantId', { code: 'session.no-roll-call-candidate' });
    }
    live.record.rollCall = { participantId: called as string | null, cyclicDwellSec: dwell as number | null };
    this.announceRollCall(live);
    if (dwell !== null) this.scheduleRollCall(live);
  }

  private handOver(live: LiveSession, data: unknown): void {
    if (!isObject(data) || typeof data.participantId !== 'string') throw new ValidationError('hand-over data.participantId must be a participant ID', 'data.participantId');
    const target = live.participants.get(data.participantId);
    if (!target) throw new NotFoundError(`participant ${data.participantId} is not in this session`, { code: 'session.participant-unknown' });
    if (target.connections === 0) throw new ValidationError(`participant ${target.name} is not connected`, 'data.participantId', { code: 'session.not-connected', params: { name: target.name } });
    if (live.record.chair === target.id) return;
    live.record.chair = target.id;
    this.emit('event', { sessionId: live.record.id, type: 'chair', data: { participantId: target.id } });
    this.writeSession(live);
    this.logger.info({ sessionId: live.record.id, chair: target.id }, 'session chair handed over');
  }

  /**
   * The chair removes a point: it leaves at once, its guest token stops working, its sockets get `removed`
   * and close, and (app.ts) its media access is revoked.
   */
  private remove(live: LiveSession, chair: LiveParticipant, data: unknown): void {
    if (!isObject(data) || typeof data.participantId !== 'string') throw new ValidationError('remove data.participantId must be a participant ID', 'data.participantId');
    const target = live.participants.get(data.participantId);
    if (!target) throw new NotFoundError(`participant ${data.participantId} is not in this session`, { code: 'session.participant-unknown' });
    if (target.id === chair.id) throw new ValidationError('the chair cannot remove itself; hand over or end the session', 'data.participantId', { code: 'session.remove-self' });
    const at = this.now();
    if (target.openAttendance) this.closeAttendance(target, at);
    target.leftAt = at;
    target.presence = 'lost';
    target.connections = 0;
    this.writeParticipant(target);
    live.participants.delete(target.id);
    for (const [hash, token] of this.guestTokens) if (token.participantId === target.id) this.guestTokens.delete(hash);
    this.writer.write(`guest-tokens:${live.record.id}:${target.id}`, async () => {
      await this.tokens.deleteWhere({ participantId: target.id });
    });
    this.emit('event', { sessionId: live.record.id, type: 'removed', data: { participantId: target.id } });
    if (live.record.rollCall.participantId === target.id) {
      live.record.rollCall = { ...live.record.rollCall, participantId: null };
      this.announceRollCall(live);
    }
    this.scheduleState(live);
    this.logger.info({ sessionId: live.record.id, participantId: target.id }, 'participant removed from the session');
  }

  // ------------------------------------------------------------------ roll call, presence, state

  /**
   * Whether the chair may show this point's terminal to everyone: it is shared already (a source, or a
   * signed-in point's own terminal), or the chair is a signed-in user, who may share any channel (as with
   * layouts) — so roll call works for every point that joined with a terminal, without pre-sharing it.
   */
  private mayCall(live: LiveSession, p: LiveParticipant): boolean {
    if (p.terminalChannelId === null) return false;
    if (this.sharedChannels(live).has(p.terminalChannelId)) return true;
    // Rolling in an unshared terminal shares it: only a signed-in chair may, and only within its scope.
    const chair = live.participants.get(live.record.chair);
    return chair?.username != null && (chair.mayShare?.(p.terminalChannelId) ?? true);
  }

  /** Participants a cyclic roll call visits: connected, with a terminal it may show, in join order. */
  private rollCallCandidates(live: LiveSession): LiveParticipant[] {
    return [...live.participants.values()].filter((p) => p.connections > 0 && this.mayCall(live, p));
  }

  private scheduleRollCall(live: LiveSession): void {
    const dwell = live.record.rollCall.cyclicDwellSec;
    if (dwell === null || this.closed) return;
    live.rollTimer = setTimeout(() => this.advanceRollCall(live), dwell * 1000);
    live.rollTimer.unref();
  }

  /** Next connected participant with a terminal after the current one, in join order (wrapping). */
  private advanceRollCall(live: LiveSession): void {
    live.rollTimer = null;
    if (!this.live.has(live.record.id) || live.record.rollCall.cyclicDwellSec === null) return;
    const order = [...live.participants.values()];
    const current = order.findIndex((p) => p.id === live.record.rollCall.participantId);
    let next: LiveParticipant | null = null;
    for (let step = 1; step <= order.length; step++) {
      const candidate = order[(current + step + order.length) % order.length];
      if (candidate.connections > 0 && this.mayCall(live, candidate)) {
        next = candidate;
        break;
      }
    }
    const nextId = next?.id ?? null;
    if (nextId !== live.record.rollCall.participantId || nextId !== null) {
      live.record.rollCall = { ...live.record.rollCall, participantId: nextId };
      this.announceRollCall(live);
    }
    this.scheduleRollCall(live);
  }

  private announceRollCall(live: LiveSession): void {
    const { participantId, cyclicDwellSec } = live.record.rollCall;
    const channelId = participantId === null ? null : (live.participants.get(participantId)?.terminalChannelId ?? null);
    // Calling a guest's terminal shares it (mayCall allowed it): every point may now play it.
    if (channelId !== null && !this.sharedChannels(live).has(channelId)) {
      live.record.sources.push(channelId);
      this.scheduleState(live);
    }
    const data: RollCallChange = { participantId, channelId, cyclicDwellSec };
    this.emit('event', { sessionId: live.record.id, type: 'roll-call', data });
    this.writeSession(live);
  }

  private presenceOf(p: LiveParticipant, at: number): Presence {
    if (p.connections === 0) return 'lost';
    if (p.rttMs !== null && p.rttMs >= this.options.poorRttMs) return 'poor';
    if (p.lastAppPingAt !== null && at - p.lastAppPingAt > this.options.silentAfterMs) return 'poor';
    return 'good';
  }

  private updatePresence(live: LiveSession, p: LiveParticipant): void {
    const presence = this.presenceOf(p, this.now());
    if (presence === p.presence) return;
    p.presence = presence;
    this.emit('event', { sessionId: live.record.id, type: 'presence', data: { participantId: p.id, presence, rttMs: p.rttMs } });
  }

  private sweepPresence(): void {
    for (const live of this.live.values()) {
      for (const p of live.participants.values()) if (p.connections > 0) this.updatePresence(live, p);
    }
  }

  /** The whole session to everyone, at most every stateMinIntervalMs (trailing: the last change is sent). */
  private scheduleState(live: LiveSession): void {
    if (live.stateTimer) return;
    const wait = live.lastStateAt + this.options.stateMinIntervalMs - this.now();
    const send = (): void => {
      live.stateTimer = null;
      if (!this.live.has(live.record.id)) return;
      live.lastStateAt = this.now();
      this.emit('event', { sessionId: live.record.id, type: 'state', data: this.viewOf(live) });
    };
    if (wait <= 0) {
      send();
      return;
    }
    live.stateTimer = setTimeout(send, wait);
    live.stateTimer.unref();
  }

  private stopTimers(live: LiveSession): void {
    if (live.rollTimer) clearTimeout(live.rollTimer);
    if (live.stateTimer) clearTimeout(live.stateTimer);
    live.rollTimer = null;
    live.stateTimer = null;
  }

  // ------------------------------------------------------------------ helpers

  private assertOpen(): void {
    if (this.closed) throw new ConflictError('the gateway is shutting down');
  }

  private activeSession(id: string): LiveSession {
    const live = this.live.get(id);
    if (!live) throw new NotFoundError(`session ${id} is not active (unknown or ended)`, { code: 'session.not-active' });
    return live;
  }

  private assertRoom(live: LiveSession): void {
    if (live.participants.size >= this.options.maxParticipants) throw new ConflictError(`session is full (${this.options.maxParticipants} participants)`, { code: 'session.full', params: { max: this.options.maxParticipants } });
  }

  private isChair(actor: Principal, live: LiveSession): boolean {
    const chair = live.participants.get(live.record.chair);
    if (!chair) return false;
    return actor.kind === 'session-guest' ? actor.participantId === chair.id : chair.username === actor.username;
  }

  private checkedSources(sources: unknown): string[] {
    if (!Array.isArray(sources)) throw new ValidationError('body.sources must be an array of channel IDs', 'body.sources');
    if (sources.length > this.options.maxSources) throw new ValidationError(`body.sources must have at most ${this.options.maxSources} channels`, 'body.sources');
    const unique = new Set<string>();
    sources.forEach((s: unknown, i) => unique.add(checkedChannel(s, `body.sources.${i}`)));
    return [...unique];
  }

  /** Sources, and the terminals of signed-in points (a guest's own word shares nothing: see joinByCode). */
  private sharedChannels(live: LiveSession): Set<string> {
    const shared = new Set(live.record.sources);
    for (const p of live.participants.values()) if (p.terminalChannelId !== null && p.username !== null) shared.add(p.terminalChannelId);
    return shared;
  }

  /** A 6-digit code no active session uses (randomInt is a CSPRNG: codes cannot be predicted). */
  private unusedCode(): string {
    for (;;) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      if (!this.byCode.has(code)) return code;
    }
  }

  private newLive(record: SessionRecord): LiveSession {
    const live: LiveSession = { record, participants: new Map(), rollTimer: null, stateTimer: null, lastStateAt: 0, unsavedLayouts: [] };
    this.live.set(record.id, live);
    this.byCode.set(record.code, live);
    return live;
  }

  private newParticipant(sessionId: string, name: string, username: string | null, terminalChannelId: string | null, at: number): LiveParticipant {
    return { id: randomUUID(), sessionId, name, username, terminalChannelId, joinedAt: at, leftAt: null, presence: 'lost', rttMs: null, connections: 0, lastAppPingAt: null, openAttendance: null };
  }

  private viewOf(live: LiveSession): Session {
    const r = live.record;
    return {
      ...r,
      sources: [...r.sources],
      rollCall: { ...r.rollCall },
      participants: [...live.participants.values()].map(participantView),
    };
  }

  private async storedParticipants(sessionIds: string[]): Promise<Map<string, Participant[]>> {
    const bySession = new Map<string, Participant[]>();
    if (sessionIds.length === 0) return bySession;
    for (const p of await this.findAll(this.participants, { sessionId: { in: sessionIds } })) {
      const list = bySession.get(p.sessionId) ?? [];
      const { sessionId: _sessionId, ...rest } = p;
      list.push({ ...rest, presence: 'lost' });
      bySession.set(p.sessionId, list);
    }
    for (const list of bySession.values()) list.sort((a, b) => a.joinedAt - b.joinedAt || (a.id < b.id ? -1 : 1));
    return bySession;
  }

  private async findAll<T extends { id: string }>(collection: RecordCollection<T>, where: Record<string, RecordCondition>): Promise<T[]> {
    const all: T[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await collection.find({ where, offset, limit: PAGE });
      all.push(...page.items);
      if (page.items.length < PAGE) return all;
    }
  }

  // ------------------------------------------------------------------ writes (latest state per key)

  private writeSession(live: LiveSession): void {
    this.writer.write(`session:${live.record.id}`, () => this.sessions.put({ ...live.record, sources: [...live.record.sources], rollCall: { ...live.record.rollCall } }));
  }

  private writeParticipant(p: LiveParticipant): void {
    this.writer.write(`participant:${p.id}`, () => this.participants.put(participantRecord(p)));
  }

  private writeAttendance(row: AttendanceRecord): void {
    const snapshot = { ...row };
    this.writer.write(`attendance:${row.id}`, () => this.attendance.put(snapshot));
  }

  private openAttendance(live: LiveSession, p: LiveParticipant, at: number): void {
    p.openAttendance = { id: randomUUID(), sessionId: live.record.id, participantId: p.id, name: p.name, joinedAt: at, leftAt: null };
    this.writeAttendance(p.openAttendance);
  }

  private closeAttendance(p: LiveParticipant, at: number): void {
    if (!p.openAttendance) return;
    this.writeAttendance({ ...p.openAttendance, leftAt: at });
    p.openAttendance = null;
  }

  /** Every layout change is kept; a burst goes out as one putMany. */
  private appendLayout(live: LiveSession, change: LayoutChange): void {
    live.unsavedLayouts.push({ ...change, id: `${live.record.id}:${String(change.seq).padStart(10, '0')}`, sessionId: live.record.id });
    this.writer.write(`layouts:${live.record.id}`, async () => {
      const batch = live.unsavedLayouts.splice(0);
      await this.layouts.putMany(batch);
    });
  }
}
