/**
 * The embedded store's writes to the device, channel and history tables, as operations on plain rows that one
 * SQLite connection runs. They run either on the main thread's connection or on a write thread's own connection
 * (sqlite-write-lane.ts decides); callers build the rows (JSON documents included) so that only strings and
 * numbers cross the thread boundary.
 *
 * Every operation is one transaction, i.e. one commit and — with synchronous=FULL — one fsync.
 */
import type Database from 'better-sqlite3';

/** id, name, civil_code, status, doc */
export type DeviceRow = [string, string, string, string, string];
/** lastKeepaliveAt, remoteAddress, remotePort, transport, id */
export type LivenessRow = [number | null, string | null, number | null, string | null, string];
/** device_id, id, kind, name, civil_code, status, reported_status, doc, parent ids */
export type ChannelRow = [string, string, string, string, string, string, string, string, string[]];
/** subject_id, device_id, at, doc */
export type StatusEventRow = [string, string, number, string];
/** id, device_id, received_at, acknowledged (0/1), doc */
export type AlarmRow = [string, string, number, number, string];

export class SqliteWrites {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  upsertDevices(rows: DeviceRow[]): void {
    const upsert = this.stmt(
      `INSERT INTO devices (id, name, civil_code, status, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, civil_code = excluded.civil_code, status = excluded.status, doc = excluded.doc`,
    );
    this.db.transaction(() => {
      for (const r of rows) upsert.run(r);
    })();
  }

  updateDeviceLiveness(rows: LivenessRow[]): void {
    const update = this.stmt(
      `UPDATE devices SET doc = json_set(doc, '$.lastKeepaliveAt', ?, '$.remoteAddress', ?, '$.remotePort', ?, '$.transport', ?) WHERE id = ?`,
    );
    this.db.transaction(() => {
      for (const r of rows) update.run(r);
    })();
  }

  deleteDevice(id: string): void {
    this.db.transaction(() => {
      this.stmt('DELETE FROM devices WHERE id = ?').run(id);
      this.stmt('DELETE FROM channels WHERE device_id = ?').run(id);
      this.stmt('DELETE FROM channel_parents WHERE device_id = ?').run(id);
    })();
  }

  upsertChannels(rows: ChannelRow[]): void {
    const upsert = this.stmt(
      `INSERT INTO channels (device_id, id, kind, name, civil_code, status, reported_status, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(device_id, id) DO UPDATE SET kind = excluded.kind, name = excluded.name, civil_code = excluded.civil_code,
         status = excluded.status, reported_status = excluded.reported_status, doc = excluded.doc`,
    );
    const clearParents = this.stmt('DELETE FROM channel_parents WHERE device_id = ? AND channel_id = ?');
    const addParent = this.stmt('INSERT OR IGNORE INTO channel_parents (parent_id, device_id, channel_id) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const [deviceId, id, kind, name, civilCode, status, reportedStatus, doc, parentIds] of rows) {
        upsert.run(deviceId, id, kind, name, civilCode, status, reportedStatus, doc);
        clearParents.run(deviceId, id);
        for (const p of parentIds) addParent.run(p, deviceId, id);
      }
    })();
  }

  /** Removes the device's channels whose IDs are not in keepIds; answers how many were removed. */
  deleteChannelsNotIn(deviceId: string, keepIds: string[]): number {
    const db = this.db;
    return db.transaction(() => {
      db.exec('CREATE TEMP TABLE IF NOT EXISTS keep_ids (id TEXT PRIMARY KEY) WITHOUT ROWID');
      db.exec('DELETE FROM keep_ids');
      const ins = this.stmt('INSERT OR IGNORE INTO keep_ids (id) VALUES (?)');
      for (const id of keepIds) ins.run(id);
      this.stmt('DELETE FROM channel_parents WHERE device_id = ? AND channel_id NOT IN (SELECT id FROM keep_ids)').run(deviceId);
      const removed = this.stmt('DELETE FROM channels WHERE device_id = ? AND id NOT IN (SELECT id FROM keep_ids)').run(deviceId).changes;
      db.exec('DELETE FROM keep_ids');
      return removed;
    })();
  }

  setChannelsStatusForDevice(deviceId: string, status: 'online' | 'offline', at: number): void {
    // Effective status: a channel is online only when the device is online AND the device reported it online.
    const effective = status === 'online' ? "CASE WHEN reported_status = 'online' THEN 'online' ELSE 'offline' END" : "'offline'";
    this.stmt(
      `UPDATE channels SET status = ${effective},
         doc = json_set(doc, '$.status', ${effective}, '$.statusChangedAt', CASE WHEN status = ${effective} THEN json_extract(doc, '$.statusChangedAt') ELSE @at END)
       WHERE device_id = @deviceId`,
    ).run({ deviceId, at });
  }

  appendStatusEvents(rows: StatusEventRow[]): void {
    const insert = this.stmt('INSERT INTO status_events (subject_id, device_id, at, doc) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const r of rows) insert.run(r);
    })();
  }

  appendAlarms(rows: AlarmRow[]): void {
    const insert = this.stmt('INSERT OR REPLACE INTO alarms (id, device_id, received_at, acknowledged, doc) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const r of rows) insert.run(r);
    })();
  }

  /** One flush of the write queue in one transaction (one commit, one fsync); the parts nest as savepoints. */
  writeFlush(rows: {
    devices: DeviceRow[];
    liveness: LivenessRow[];
    channelStatus: Array<[string, 'online' | 'offline', number]>;
    statusEvents: StatusEventRow[];
    alarms: AlarmRow[];
  }): void {
    this.db.transaction(() => {
      if (rows.devices.length) this.upsertDevices(rows.devices);
      if (rows.liveness.length) this.updateDeviceLiveness(rows.liveness);
      for (const [deviceId, status, at] of rows.channelStatus) this.setChannelsStatusForDevice(deviceId, status, at);
      if (rows.statusEvents.length) this.appendStatusEvents(rows.statusEvents);
      if (rows.alarms.length) this.appendAlarms(rows.alarms);
    })();
  }

  /**
   * Marks an alarm acknowledged; answers its new JSON document, or null when there is no such alarm. A
   * read-modify-write, so it runs where the alarm rows are written (after any append still in the lane).
   */
  acknowledgeAlarm(id: string, by: string, note: string | null, at: number): string | null {
    return this.db.transaction(() => {
      const row = this.stmt('SELECT doc FROM alarms WHERE id = ?').get(id) as { doc: string } | undefined;
      if (!row) return null;
      const doc = JSON.stringify({ ...(JSON.parse(row.doc) as Record<string, unknown>), acknowledgedAt: at, acknowledgedBy: by, note });
      this.stmt('UPDATE alarms SET acknowledged = 1, doc = ? WHERE id = ?').run(doc, id);
      return doc;
    })();
  }
}

/** The operations a write lane carries, by name, with their arguments and results. */
export type WriteOp = {
  [K in keyof SqliteWrites]: SqliteWrites[K] extends (...args: never[]) => unknown ? K : never;
}[keyof SqliteWrites];
export type WriteArgs<K extends WriteOp> = Parameters<SqliteWrites[K]>;
export type WriteResult<K extends WriteOp> = ReturnType<SqliteWrites[K]>;

/** Opens a connection with the store's settings (see sqlite-store.ts for why synchronous=FULL). */
export function configureConnection(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF');
}
