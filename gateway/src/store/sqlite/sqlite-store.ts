/**
 * Embedded store: SQLite through better-sqlite3 (pinned to 12.x; 13.x crashes on Node 20).
 *
 * better-sqlite3 is synchronous. Reads here are short (indexed lookups) and run on the main thread's
 * connection; the writes to devices, channels and history (sqlite-writes.ts) run on a write thread with a
 * connection of its own (sqlite-write-lane.ts explains why and when they run inline instead). WAL mode lets
 * the writer and the readers work at the same time; users, session tokens and the generic records are written
 * on the main connection (rare, small, and not ordered with the write queue's batches).
 *
 * Durability (docs/durability.md): a REGISTER is answered once its batch is committed (group commit in
 * domain/write-behind.ts), so a commit must mean durable. In WAL mode synchronous=NORMAL already survives a
 * process kill (a committed transaction is in the WAL file, in the OS page cache) but not a power loss or OS
 * crash (the WAL is fsynced only at checkpoints); synchronous=FULL fsyncs the WAL at every commit and survives
 * both. With group commit that is one fsync per batch, not per device, so FULL is what is used.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AlarmEvent, Channel, Device, Page, SessionToken, StatusEvent, User } from '../../domain/model.js';
import { withProtocol } from '../../domain/model.js';
import type {
  AlarmQuery,
  ChannelQuery,
  ChannelSkeleton,
  DeviceLiveness,
  DeviceQuery,
  EventQuery,
  FlushRows,
  GatewayStore,
} from '../../domain/store.js';
import type { RecordStore } from '../../domain/records.js';
import { pageBounds } from '../paging.js';
import { SqliteRecordStore } from './sqlite-records.js';
import { configureConnection, type AlarmRow, type ChannelRow, type DeviceRow, type LivenessRow, type StatusEventRow } from './sqlite-writes.js';
import { InlineWriteLane, ThreadWriteLane, type SqliteWriteLane } from './sqlite-write-lane.js';

export interface SqliteStoreOptions {
  /**
   * Run the writes on a write thread (see sqlite-write-lane.ts). Default: yes when running compiled JavaScript
   * (the worker entry is a .js file next to this one), inline when running from TypeScript sources.
   */
  writeThread?: boolean;
}

// Rows as the write lane carries them (sqlite-writes.ts): documents serialised here, columns in table order.
function deviceRow(d: Device): DeviceRow {
  return [d.id, d.name, d.civilCode, d.status, JSON.stringify(d)];
}
function livenessRow(u: DeviceLiveness): LivenessRow {
  return [u.lastKeepaliveAt, u.remoteAddress, u.remotePort, u.transport, u.id];
}
function statusEventRow(e: StatusEvent): StatusEventRow {
  const { id: _ignored, ...rest } = e;
  return [e.subjectId, e.deviceId, e.at, JSON.stringify(rest)];
}
function alarmRow(a: AlarmEvent): AlarmRow {
  const id = a.id ?? `${a.receivedAt}-${Math.random().toString(36).slice(2, 10)}`;
  return [id, a.deviceId, a.receivedAt, a.acknowledgedAt ? 1 : 0, JSON.stringify({ ...a, id })];
}

const WORKER_URL = new URL('./sqlite-write-worker.js', import.meta.url);
const RUNNING_COMPILED = import.meta.url.endsWith('.js');

const SCHEMA_VERSION = 2;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE devices (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL DEFAULT '',
      civil_code TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      doc TEXT NOT NULL
    );
    CREATE INDEX devices_status ON devices(status, id);
    CREATE INDEX devices_civil ON devices(civil_code, id);

    CREATE TABLE channels (
      device_id TEXT NOT NULL,
      id TEXT NOT NULL,
      kind TEXT NOT NULL,
      name TEXT NOT NULL DEFAULT '',
      civil_code TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL,
      reported_status TEXT NOT NULL,
      doc TEXT NOT NULL,
      PRIMARY KEY (device_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX channels_id ON channels(id);
    CREATE INDEX channels_status ON channels(status, id);
    CREATE INDEX channels_civil ON channels(civil_code, id);
    CREATE INDEX channels_kind ON channels(kind, id);

    CREATE TABLE channel_parents (
      parent_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      channel_id TEXT NOT NULL,
      PRIMARY KEY (parent_id, device_id, channel_id)
    ) WITHOUT ROWID;
    CREATE INDEX channel_parents_child ON channel_parents(device_id, channel_id);

    CREATE TABLE status_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      subject_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      at INTEGER NOT NULL,
      doc TEXT NOT NULL
    );
    CREATE INDEX status_events_device ON status_events(device_id, at);
    CREATE INDEX status_events_subject ON status_events(subject_id, at);
    CREATE INDEX status_events_at ON status_events(at);

    CREATE TABLE alarms (
      id TEXT PRIMARY KEY,
      device_id TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      acknowledged INTEGER NOT NULL DEFAULT 0,
      doc TEXT NOT NULL
    );
    CREATE INDEX alarms_device ON alarms(device_id, received_at);
    CREATE INDEX alarms_received ON alarms(received_at);

    CREATE TABLE users (username TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE session_tokens (token_hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, doc TEXT NOT NULL);
    CREATE INDEX session_tokens_expiry ON session_tokens(expires_at);
  `,
  // Text search (q) is a substring LIKE, which no B-tree can seek. A covering index of the searched columns
  // makes the unavoidable scan read a few MB instead of every JSON row: 150,000 channels, count of a
  // substring match 66 ms -> 17 ms. (FTS5 trigram was measured too: 0.2 ms for rare 3+ character terms,
  // but 40-70 ms for common terms and for 2-character Chinese terms such as 南山, which are typical here.)
  2: `
    CREATE INDEX devices_search ON devices(name, id);
    CREATE INDEX channels_search ON channels(name, id, device_id);
  `,
};

/** Up to this many matches a text search sorts its matches; above, it walks the id order (see searchFew). */
const SEARCH_SORT_MATCHES = 5000;

/** `q` matches a substring of the name or a prefix of the id; SQLite's LIKE ignores ASCII case. */
const SEARCH_CLAUSE = "(name LIKE @qContains ESCAPE '\\' OR id LIKE @qPrefix ESCAPE '\\')";

/** LIKE pattern for a substring, with the wildcard characters escaped. */
function likeContains(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
function searchParams(q: string): { qContains: string; qPrefix: string } {
  return { qContains: likeContains(q), qPrefix: likePrefix(q) };
}
function likePrefix(q: string): string {
  return `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * `column` starts with `prefix`, as a range so the B-tree index is used (LIKE 'x%' is not: SQLite's LIKE is
 * case-insensitive). The upper bound appends the highest BMP code unit, which sorts after every digit/letter.
 */
function prefixRange(column: string, param: string, w: Where, prefix: string): void {
  w.clauses.push(`(${column} >= @${param}Lo AND ${column} < @${param}Hi)`);
  w.params[`${param}Lo`] = prefix;
  w.params[`${param}Hi`] = `${prefix}\uffff`;
}

interface Where {
  clauses: string[];
  params: Record<string, string | number>;
}

export class SqliteStore implements GatewayStore {
  private db: Database.Database | null = null;
  private lane: SqliteWriteLane | null = null;
  readonly description: string;
  /** One transaction (one fsync) per call: large calls are cheap here (5,000 rows ≈ 50 ms). */
  readonly rowsPerWrite = 5000;
  private readonly file: string;
  /** Generic record collections (views, sessions, ...), in tables of their own: see sqlite-records.ts. */
  readonly records: RecordStore = new SqliteRecordStore(() => this.conn);

  private readonly writeThread: boolean;

  constructor(
    dataDir: string,
    private readonly logger?: Logger,
    options: SqliteStoreOptions = {},
  ) {
    this.file = join(dataDir, 'gateway.sqlite3');
    this.writeThread = options.writeThread ?? RUNNING_COMPILED;
    this.description = `sqlite:${this.file}`;
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('SqliteStore used before init() or after close()');
    return this.db;
  }

  private get writes(): SqliteWriteLane {
    if (!this.lane) throw new Error('SqliteStore used before init() or after close()');
    return this.lane;
  }

  /** 'thread' or 'inline': where the writes run (for logs and tests). */
  get writeLane(): 'thread' | 'inline' {
    return this.writes.kind;
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(join(this.file, '..'), { recursive: true });
    const db = new Database(this.file);
    configureConnection(db);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new Error(`${this.file} has schema version ${version}, newer than this gateway understands (${SCHEMA_VERSION}); upgrade the gateway`);
    }
    for (let v = version + 1; v <= SCHEMA_VERSION; v++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[v]);
        db.pragma(`user_version = ${v}`);
      })();
      this.logger?.info({ file: this.file, version: v }, 'sqlite schema migrated');
    }
    // The write thread opens its connection after the migrations, so it never sees an older schema.
    if (this.writeThread) {
      const lane = new ThreadWriteLane(this.file, WORKER_URL, this.logger);
      try {
        await lane.start();
      } catch (err) {
        db.close();
        throw err;
      }
      this.lane = lane;
    } else {
      this.lane = new InlineWriteLane(db);
    }
    this.db = db;
  }

  async ping(): Promise<boolean> {
    try {
      this.conn.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (!this.db) return;
    const lane = this.lane;
    this.lane = null;
    // Writes already handed to the lane finish first (the thread answers them before it closes).
    await lane?.close();
    this.db.close();
    this.db = null;
  }

  // ------------------------------------------------------------------ devices

  async upsertDevices(devices: Device[]): Promise<void> {
    if (devices.length === 0) return;
    await this.writes.run('upsertDevices', devices.map(deviceRow));
  }

  async updateDeviceLiveness(updates: DeviceLiveness[]): Promise<void> {
    if (updates.length === 0) return;
    await this.writes.run('updateDeviceLiveness', updates.map(livenessRow));
  }

  async writeFlush(rows: FlushRows): Promise<void> {
    await this.writes.run('writeFlush', {
      devices: rows.devices.map(deviceRow),
      liveness: rows.liveness.map(livenessRow),
      channelStatus: rows.channelStatus.map(([deviceId, c]): [string, 'online' | 'offline', number] => [deviceId, c.status, c.at]),
      statusEvents: rows.statusEvents.map(statusEventRow),
      alarms: rows.alarms.map(alarmRow),
    });
  }

  async getDevice(id: string): Promise<Device | null> {
    const row = this.conn.prepare('SELECT doc FROM devices WHERE id = ?').get(id) as { doc: string } | undefined;
    return row ? withProtocol(JSON.parse(row.doc) as Device) : null;
  }

  async listDevices(query: DeviceQuery): Promise<Page<Device>> {
    const w: Where = { clauses: [], params: {} };
    if (query.status) {
      w.clauses.push('status = @status');
      w.params.status = query.status;
    }
    if (query.region) prefixRange('civil_code', 'region', w, query.region);
    return this.page<Device>('devices', w, query, 'id', query.q);
  }

  async loadAllDevices(): Promise<Device[]> {
    const rows = this.conn.prepare('SELECT doc FROM devices').all() as Array<{ doc: string }>;
    return rows.map((r) => withProtocol(JSON.parse(r.doc) as Device));
  }

  async deleteDevice(id: string): Promise<void> {
    await this.writes.run('deleteDevice', id);
  }

  // ------------------------------------------------------------------ channels

  async upsertChannels(channels: Channel[]): Promise<void> {
    if (channels.length === 0) return;
    const rows = channels.map(
      (c): ChannelRow => [c.deviceId, c.id, c.kind, c.name, c.civilCode, c.status, c.reportedStatus, JSON.stringify(c), c.parentIds],
    );
    await this.writes.run('upsertChannels', rows);
  }

  async deleteChannelsNotIn(deviceId: string, keepIds: string[]): Promise<number> {
    return this.writes.run('deleteChannelsNotIn', deviceId, keepIds);
  }

  async setChannelsStatusForDevice(deviceId: string, status: 'online' | 'offline', at: number): Promise<void> {
    await this.writes.run('setChannelsStatusForDevice', deviceId, status, at);
  }

  async getChannel(id: string, deviceId?: string): Promise<Channel | null> {
    const row = (
      deviceId
        ? this.conn.prepare('SELECT doc FROM channels WHERE device_id = ? AND id = ?').get(deviceId, id)
        : this.conn.prepare("SELECT doc FROM channels WHERE id = ? ORDER BY kind = 'channel' DESC, device_id LIMIT 1").get(id)
    ) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as Channel) : null;
  }

  async listChannels(query: ChannelQuery): Promise<Page<Channel>> {
    const w: Where = { clauses: [], params: {} };
    if (query.deviceId) {
      w.clauses.push('device_id = @deviceId');
      w.params.deviceId = query.deviceId;
    }
    if (query.parentId) {
      // Driven from the parent index (0.8 ms for 100 of 150,000); a correlated EXISTS made SQLite walk
      // every channel in id order instead (12 ms).
      w.clauses.push('(device_id, id) IN (SELECT device_id, channel_id FROM channel_parents WHERE parent_id = @parentId)');
      w.params.parentId = query.parentId;
    }
    if (query.status) {
      w.clauses.push('status = @status');
      w.params.status = query.status;
    }
    if (query.kind) {
      const kinds = Array.isArray(query.kind) ? query.kind : [query.kind];
      w.clauses.push(`kind IN (${kinds.map((_, i) => `@kind${i}`).join(', ')})`);
      kinds.forEach((k, i) => (w.params[`kind${i}`] = k));
    }
    if (query.region) prefixRange('civil_code', 'region', w, query.region);
    return this.page<Channel>('channels', w, query, 'id, device_id', query.q);
  }

  async loadChannelSkeletons(): Promise<ChannelSkeleton[]> {
    const rows = this.conn
      .prepare(
        `SELECT id, device_id AS deviceId, kind, name, civil_code AS civilCode, status, reported_status AS reportedStatus,
                json_extract(doc, '$.parentIds') AS parents,
                coalesce(json_extract(doc, '$.businessGroupId'), '') AS businessGroupId,
                coalesce(json_extract(doc, '$.extra."Info.GrassrootsCode"'), '') AS grassrootsCode FROM channels`,
      )
      .all() as Array<Omit<ChannelSkeleton, 'parentIds'> & { parents: string }>;
    return rows.map(({ parents, ...r }) => ({ ...r, parentIds: JSON.parse(parents) as string[] }));
  }

  // ------------------------------------------------------------------ history

  async appendStatusEvents(events: StatusEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.writes.run('appendStatusEvents', events.map(statusEventRow));
  }

  async listStatusEvents(query: EventQuery): Promise<Page<StatusEvent>> {
    const w: Where = { clauses: [], params: {} };
    if (query.deviceId) {
      w.clauses.push('device_id = @deviceId');
      w.params.deviceId = query.deviceId;
    }
    if (query.subjectId) {
      w.clauses.push('subject_id = @subjectId');
      w.params.subjectId = query.subjectId;
    }
    if (query.since !== undefined) {
      w.clauses.push('at >= @since');
      w.params.since = query.since;
    }
    if (query.until !== undefined) {
      w.clauses.push('at <= @until');
      w.params.until = query.until;
    }
    const where = w.clauses.length ? `WHERE ${w.clauses.join(' AND ')}` : '';
    const { offset, limit } = pageBounds(query);
    const total = (this.conn.prepare(`SELECT COUNT(*) AS n FROM status_events ${where}`).get(w.params) as { n: number }).n;
    const rows = this.conn
      .prepare(`SELECT seq, doc FROM status_events ${where} ORDER BY at DESC, seq DESC LIMIT @limit OFFSET @offset`)
      .all({ ...w.params, limit, offset }) as Array<{ seq: number; doc: string }>;
    return { total, items: rows.map((r) => ({ ...(JSON.parse(r.doc) as StatusEvent), id: String(r.seq) })) };
  }

  async appendAlarms(alarms: AlarmEvent[]): Promise<void> {
    if (alarms.length === 0) return;
    await this.writes.run('appendAlarms', alarms.map(alarmRow));
  }

  async listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>> {
    const w: Where = { clauses: [], params: {} };
    if (query.deviceId) {
      w.clauses.push('device_id = @deviceId');
      w.params.deviceId = query.deviceId;
    }
    if (query.since !== undefined) {
      w.clauses.push('received_at >= @since');
      w.params.since = query.since;
    }
    if (query.acknowledged !== undefined) {
      w.clauses.push('acknowledged = @ack');
      w.params.ack = query.acknowledged ? 1 : 0;
    }
    const where = w.clauses.length ? `WHERE ${w.clauses.join(' AND ')}` : '';
    const { offset, limit } = pageBounds(query);
    const total = (this.conn.prepare(`SELECT COUNT(*) AS n FROM alarms ${where}`).get(w.params) as { n: number }).n;
    const rows = this.conn
      .prepare(`SELECT doc FROM alarms ${where} ORDER BY received_at DESC, id DESC LIMIT @limit OFFSET @offset`)
      .all({ ...w.params, limit, offset }) as Array<{ doc: string }>;
    return { total, items: rows.map((r) => JSON.parse(r.doc) as AlarmEvent) };
  }

  async getAlarm(id: string): Promise<AlarmEvent | null> {
    const row = this.conn.prepare('SELECT doc FROM alarms WHERE id = ?').get(id) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as AlarmEvent) : null;
  }

  async acknowledgeAlarm(id: string, by: string, note: string | null, at: number): Promise<AlarmEvent | null> {
    const doc = await this.writes.run('acknowledgeAlarm', id, by, note, at);
    return doc === null ? null : (JSON.parse(doc) as AlarmEvent);
  }

  // ------------------------------------------------------------------ users and tokens

  async getUser(username: string): Promise<User | null> {
    const row = this.conn.prepare('SELECT doc FROM users WHERE username = ?').get(username) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as User) : null;
  }

  async upsertUser(user: User): Promise<void> {
    this.conn.prepare('INSERT INTO users (username, doc) VALUES (?, ?) ON CONFLICT(username) DO UPDATE SET doc = excluded.doc').run(user.username, JSON.stringify(user));
  }

  async listUsers(): Promise<User[]> {
    const rows = this.conn.prepare('SELECT doc FROM users ORDER BY username').all() as Array<{ doc: string }>;
    return rows.map((r) => JSON.parse(r.doc) as User);
  }

  async deleteUser(username: string): Promise<boolean> {
    return this.conn.prepare('DELETE FROM users WHERE username = ?').run(username).changes > 0;
  }

  async putSessionToken(token: SessionToken): Promise<void> {
    this.conn
      .prepare('INSERT OR REPLACE INTO session_tokens (token_hash, expires_at, doc) VALUES (?, ?, ?)')
      .run(token.tokenHash, token.expiresAt, JSON.stringify(token));
  }

  async getSessionToken(tokenHash: string): Promise<SessionToken | null> {
    const row = this.conn.prepare('SELECT doc FROM session_tokens WHERE token_hash = ?').get(tokenHash) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as SessionToken) : null;
  }

  async deleteSessionToken(tokenHash: string): Promise<void> {
    this.conn.prepare('DELETE FROM session_tokens WHERE token_hash = ?').run(tokenHash);
  }

  async purgeExpiredSessionTokens(now: number): Promise<number> {
    return this.conn.prepare('DELETE FROM session_tokens WHERE expires_at <= ?').run(now).changes;
  }

  // ------------------------------------------------------------------ internals

  /** One page plus the total, ordered by `order` (the table's id order). */
  private page<T>(table: 'devices' | 'channels', w: Where, query: { offset?: number; limit?: number }, order: string, q?: string): Page<T> {
    const { offset, limit } = pageBounds(query);
    if (q) {
      // One read transaction: the keys and the rows read after them come from the same snapshot.
      const few = this.conn.transaction(() => this.searchFew<T>(table, w, q, offset, limit))();
      if (few) return few;
    }
    const filters = [...w.clauses];
    const params: Record<string, string | number> = { ...w.params };
    if (q) {
      filters.push(SEARCH_CLAUSE);
      Object.assign(params, searchParams(q));
    }
    const where = filters.length ? `WHERE ${filters.join(' AND ')}` : '';
    const total = (this.conn.prepare(`SELECT COUNT(*) AS n FROM ${table} ${where}`).get(params) as { n: number }).n;
    if (total <= offset) return { total, items: [] };
    const rows = this.conn
      .prepare(`SELECT doc FROM ${table} ${where} ORDER BY ${order} LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit, offset }) as Array<{ doc: string }>;
    return { total, items: rows.map((r) => JSON.parse(r.doc) as T) };
  }

  /**
   * Text search (`q`: substring of the name, or prefix of the id) when it matches few rows. A substring LIKE
   * cannot seek any index, so one scan of the small covering search index collects the matching keys (up to
   * SEARCH_SORT_MATCHES); they are sorted here and only the page's rows are read. With 150,000 channels that
   * is ~17 ms, where walking the id order to find 100 rare matches took 121 ms. Returns null when there are
   * more matches: then they are dense, and page() walks the id order, which finds a page almost at once.
   */
  private searchFew<T>(table: 'devices' | 'channels', w: Where, q: string, offset: number, limit: number): Page<T> | null {
    const rest = w.clauses.length ? ` AND ${w.clauses.join(' AND ')}` : '';
    const params = { ...w.params, ...searchParams(q), cap: SEARCH_SORT_MATCHES + 1 };
    const keys = (
      table === 'channels'
        ? this.conn.prepare(`SELECT id, device_id AS deviceId FROM channels INDEXED BY channels_search WHERE ${SEARCH_CLAUSE}${rest} LIMIT @cap`).all(params)
        : this.conn.prepare(`SELECT id, '' AS deviceId FROM devices INDEXED BY devices_search WHERE ${SEARCH_CLAUSE}${rest} LIMIT @cap`).all(params)
    ) as Array<{ id: string; deviceId: string }>;
    if (keys.length > SEARCH_SORT_MATCHES) return null;
    // Same order as SQL's BINARY collation for these keys (GB IDs are ASCII).
    keys.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    const pageKeys = keys.slice(offset, offset + limit);
    const read =
      table === 'channels'
        ? this.conn.prepare('SELECT doc FROM channels WHERE device_id = ? AND id = ?')
        : this.conn.prepare('SELECT doc FROM devices WHERE id = ?');
    const items = pageKeys.map((k) => {
      const row = (table === 'channels' ? read.get(k.deviceId, k.id) : read.get(k.id)) as { doc: string };
      return JSON.parse(row.doc) as T;
    });
    return { total: keys.length, items };
  }
}
