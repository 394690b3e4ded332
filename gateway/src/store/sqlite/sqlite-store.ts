/**
 * Embedded store: SQLite through better-sqlite3 (pinned to 12.x; 13.x crashes on Node 20).
 *
 * better-sqlite3 is synchronous; every call here is short (indexed lookups, or one transaction with
 * prepared statements for a batch), so it never blocks the event loop for long. WAL mode lets the periodic
 * write-behind flush and API reads interleave.
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
  GatewayStore,
} from '../../domain/store.js';
import type { RecordStore } from '../../domain/records.js';
import { pageBounds } from '../paging.js';
import { SqliteRecordStore } from './sqlite-records.js';

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
  readonly description: string;
  /** One transaction (one fsync) per call: large calls are cheap here (5,000 rows ≈ 50 ms). */
  readonly rowsPerWrite = 5000;
  private readonly file: string;
  /** Generic record collections (views, sessions, ...), in tables of their own: see sqlite-records.ts. */
  readonly records: RecordStore = new SqliteRecordStore(() => this.conn);

  constructor(
    dataDir: string,
    private readonly logger?: Logger,
  ) {
    this.file = join(dataDir, 'gateway.sqlite3');
    this.description = `sqlite:${this.file}`;
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('SqliteStore used before init() or after close()');
    return this.db;
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(join(this.file, '..'), { recursive: true });
    const db = new Database(this.file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = OFF');
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
    this.db.close();
    this.db = null;
  }

  // ------------------------------------------------------------------ devices

  async upsertDevices(devices: Device[]): Promise<void> {
    if (devices.length === 0) return;
    const stmt = this.conn.prepare(
      `INSERT INTO devices (id, name, civil_code, status, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, civil_code = excluded.civil_code, status = excluded.status, doc = excluded.doc`,
    );
    this.conn.transaction((list: Device[]) => {
      for (const d of list) stmt.run(d.id, d.name, d.civilCode, d.status, JSON.stringify(d));
    })(devices);
  }

  async updateDeviceLiveness(updates: DeviceLiveness[]): Promise<void> {
    if (updates.length === 0) return;
    const stmt = this.conn.prepare(
      `UPDATE devices SET doc = json_set(doc, '$.lastKeepaliveAt', ?, '$.remoteAddress', ?, '$.remotePort', ?, '$.transport', ?) WHERE id = ?`,
    );
    this.conn.transaction((list: DeviceLiveness[]) => {
      for (const u of list) stmt.run(u.lastKeepaliveAt, u.remoteAddress, u.remotePort, u.transport, u.id);
    })(updates);
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
    this.conn.transaction(() => {
      this.conn.prepare('DELETE FROM devices WHERE id = ?').run(id);
      this.conn.prepare('DELETE FROM channels WHERE device_id = ?').run(id);
      this.conn.prepare('DELETE FROM channel_parents WHERE device_id = ?').run(id);
    })();
  }

  // ------------------------------------------------------------------ channels

  async upsertChannels(channels: Channel[]): Promise<void> {
    if (channels.length === 0) return;
    const upsert = this.conn.prepare(
      `INSERT INTO channels (device_id, id, kind, name, civil_code, status, reported_status, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(device_id, id) DO UPDATE SET kind = excluded.kind, name = excluded.name, civil_code = excluded.civil_code,
         status = excluded.status, reported_status = excluded.reported_status, doc = excluded.doc`,
    );
    const clearParents = this.conn.prepare('DELETE FROM channel_parents WHERE device_id = ? AND channel_id = ?');
    const addParent = this.conn.prepare('INSERT OR IGNORE INTO channel_parents (parent_id, device_id, channel_id) VALUES (?, ?, ?)');
    this.conn.transaction((list: Channel[]) => {
      for (const c of list) {
        upsert.run(c.deviceId, c.id, c.kind, c.name, c.civilCode, c.status, c.reportedStatus, JSON.stringify(c));
        clearParents.run(c.deviceId, c.id);
        for (const p of c.parentIds) addParent.run(p, c.deviceId, c.id);
      }
    })(channels);
  }

  async deleteChannelsNotIn(deviceId: string, keepIds: string[]): Promise<number> {
    const db = this.conn;
    return db.transaction(() => {
      db.exec('CREATE TEMP TABLE IF NOT EXISTS keep_ids (id TEXT PRIMARY KEY) WITHOUT ROWID');
      db.exec('DELETE FROM keep_ids');
      const ins = db.prepare('INSERT OR IGNORE INTO keep_ids (id) VALUES (?)');
      for (const id of keepIds) ins.run(id);
      db.prepare('DELETE FROM channel_parents WHERE device_id = ? AND channel_id NOT IN (SELECT id FROM keep_ids)').run(deviceId);
      const removed = db.prepare('DELETE FROM channels WHERE device_id = ? AND id NOT IN (SELECT id FROM keep_ids)').run(deviceId).changes;
      db.exec('DELETE FROM keep_ids');
      return removed;
    })();
  }

  async setChannelsStatusForDevice(deviceId: string, status: 'online' | 'offline', at: number): Promise<void> {
    // Effective status: a channel is online only when the device is online AND the device reported it online.
    const effective = status === 'online' ? "CASE WHEN reported_status = 'online' THEN 'online' ELSE 'offline' END" : "'offline'";
    this.conn
      .prepare(
        `UPDATE channels SET status = ${effective},
           doc = json_set(doc, '$.status', ${effective}, '$.statusChangedAt', CASE WHEN status = ${effective} THEN json_extract(doc, '$.statusChangedAt') ELSE @at END)
         WHERE device_id = @deviceId`,
      )
      .run({ deviceId, at });
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
    const stmt = this.conn.prepare('INSERT INTO status_events (subject_id, device_id, at, doc) VALUES (?, ?, ?, ?)');
    this.conn.transaction((list: StatusEvent[]) => {
      for (const e of list) {
        const { id: _ignored, ...rest } = e;
        stmt.run(e.subjectId, e.deviceId, e.at, JSON.stringify(rest));
      }
    })(events);
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
    const stmt = this.conn.prepare('INSERT OR REPLACE INTO alarms (id, device_id, received_at, acknowledged, doc) VALUES (?, ?, ?, ?, ?)');
    this.conn.transaction((list: AlarmEvent[]) => {
      for (const a of list) {
        const id = a.id ?? `${a.receivedAt}-${Math.random().toString(36).slice(2, 10)}`;
        stmt.run(id, a.deviceId, a.receivedAt, a.acknowledgedAt ? 1 : 0, JSON.stringify({ ...a, id }));
      }
    })(alarms);
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
    const row = this.conn.prepare('SELECT doc FROM alarms WHERE id = ?').get(id) as { doc: string } | undefined;
    if (!row) return null;
    const alarm = { ...(JSON.parse(row.doc) as AlarmEvent), acknowledgedAt: at, acknowledgedBy: by, note };
    this.conn.prepare('UPDATE alarms SET acknowledged = 1, doc = ? WHERE id = ?').run(JSON.stringify(alarm), id);
    return alarm;
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
