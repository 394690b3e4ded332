/**
 * MongoDB adapter through the official driver. Tested against FerretDB 1.24 (SQLite backend) and usable
 * with MongoDB; so it uses only what both support: plain find/count/updateMany/bulkWrite and single-field or
 * compound indexes — no transactions, no change streams, no aggregation pipelines.
 *
 * Documents are the domain objects plus a string `_id` (device id, `${deviceId}/${id}` for channels), so
 * reads only strip `_id`.
 *
 * Two FerretDB 1.24 (SQLite backend) behaviours shape the write paths (both measured, see the contract tests):
 * - Its SQLite queries look documents up by `_ferretdb_sjson->'$._id'` while its _id index is on a different
 *   expression, so every update/replace/delete of one document scans the whole collection. A replace-upsert
 *   of 5,000 new devices took 36 s; insertMany of the same took 0.2 s. Batches are therefore written
 *   insert-first (see upsertAll): new documents go in through insertMany, only the ones that already exist
 *   are replaced one by one. On MongoDB that costs one extra round trip for existing documents, nothing else.
 * - An `update` command keeps one SQLite connection per statement until the whole command ends, and the
 *   pool has 100: an update command with ~100 statements that match documents never returns. So
 *   multi-statement updates go out UPDATE_CHUNK at a time, one command at a time per store (updateLane).
 */
import { MongoClient, ObjectId, type AnyBulkWriteOperation, type Collection, type Db, type Document, type Filter } from 'mongodb';
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
import { MongoRecordStore } from './mongo-records.js';
import { upsertInsertFirst, type KeyedDoc } from './insert-first.js';

/** Documents per insertMany/deleteMany. */
const BULK_CHUNK = 1000;
/** Statements per update command: well under FerretDB's 100 pooled connections (see the header). */
const UPDATE_CHUNK = 32;

type WithStringId<T> = T & { _id: string };
/** Any stored document keyed by a string `_id` (the generic batch writers work on these). */

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function strip<T>(doc: Document | null): T | null {
  if (!doc) return null;
  const { _id: _ignored, ...rest } = doc;
  return rest as T;
}

/**
 * FerretDB (like MongoDB before 5.0) refuses field names containing '.' or starting with '$', and catalog
 * extras are keyed 'Info.Resolution'. Free-form records are therefore stored as [{k, v}] pairs.
 */
type Pairs = Array<{ k: string; v: string }>;
function toPairs(record: Record<string, string>): Pairs {
  return Object.entries(record).map(([k, v]) => ({ k, v }));
}
function fromPairs(pairs: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(pairs)) for (const p of pairs as Pairs) out[p.k] = p.v;
  return out;
}
function channelDoc(c: Channel): KeyedDoc {
  return { ...c, _id: `${c.deviceId}/${c.id}`, extra: toPairs(c.extra) };
}
function channelFrom(doc: Document | null): Channel | null {
  const c = strip<Channel>(doc);
  if (c) c.extra = fromPairs(c.extra);
  return c;
}
function alarmDoc(a: AlarmEvent, id: string): KeyedDoc {
  return { ...a, id, _id: id, raw: toPairs(a.raw) };
}
function alarmFrom(doc: Document | null): AlarmEvent | null {
  const a = strip<AlarmEvent>(doc);
  if (a) a.raw = fromPairs(a.raw);
  return a;
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

export class MongoStore implements GatewayStore {
  readonly description: string;
  /**
   * FerretDB 1.24 rewrites existing documents one statement at a time with a collection scan each: 500
   * liveness updates of 1,200 devices took 6-13 s on the shared test machine, past the 5 s operation
   * timeout. 100 rows per call keeps each call within it, so a backlog drains call by call.
   */
  readonly rowsPerWrite = 100;
  private client: MongoClient | null = null;
  private db: Db | null = null;
  /** Generic record collections (views, sessions, ...), one collection each: see mongo-records.ts. */
  readonly records: RecordStore = new MongoRecordStore(() => {
    if (!this.db) throw new Error('MongoStore used before init() or after close()');
    return this.db;
  });

  constructor(
    private readonly url: string,
    private readonly databaseName: string,
    private readonly logger?: Logger,
    /** Bounds one operation's wait for a server (the write queue has its own timeout around every call). */
    private readonly operationTimeoutMs = 5000,
  ) {
    this.description = `${redact(url)} (database ${databaseName})`;
  }

  private col<T extends Document>(name: string): Collection<T> {
    if (!this.db) throw new Error('MongoStore used before init() or after close()');
    return this.db.collection<T>(name);
  }
  private get devices(): Collection<WithStringId<Device>> {
    return this.col('devices');
  }
  private get channels(): Collection<WithStringId<Channel>> {
    return this.col('channels');
  }
  /** The same collections, untyped, for the generic batch writers. */
  private get rawDevices(): Collection<KeyedDoc> {
    return this.col('devices');
  }
  private get rawChannels(): Collection<KeyedDoc> {
    return this.col('channels');
  }
  private get rawAlarms(): Collection<KeyedDoc> {
    return this.col('alarms');
  }
  private get statusEvents(): Collection<Document> {
    return this.col('status_events');
  }
  private get alarms(): Collection<WithStringId<AlarmEvent>> {
    return this.col('alarms');
  }
  private get users(): Collection<WithStringId<User>> {
    return this.col('users');
  }
  private get tokens(): Collection<WithStringId<SessionToken>> {
    return this.col('session_tokens');
  }

  async init(): Promise<void> {
    if (this.db) return;
    // ignoreUndefined: an absent optional field (StatusEvent.source) must stay absent, not come back as null.
    // Durability (docs/durability.md): a REGISTER is answered once its batch is written, so writes are
    // journaled (j: true) before they are acknowledged. w: 1 (not majority) because the supported servers
    // include a single FerretDB; a replica set should say ?w=majority&journal=true in the URL.
    // Outages: a missing server fails an operation after operationTimeoutMs (server selection), a black-holed
    // connection is noticed by the monitor within connectTimeoutMS and dropped by socketTimeoutMS; the
    // write queue also abandons every call after its own timeout and retries.
    const client = new MongoClient(this.url, {
      serverSelectionTimeoutMS: this.operationTimeoutMs,
      connectTimeoutMS: this.operationTimeoutMs,
      socketTimeoutMS: Math.max(30_000, this.operationTimeoutMs * 2),
      heartbeatFrequencyMS: 2000,
      // A write concern in the URL (e.g. ?w=majority&journal=true) is the operator's choice and is kept.
      ...(/[?&](w|journal)=/i.test(this.url) ? {} : { writeConcern: { w: 1, journal: true } }),
      appName: 'sharp-eyes-gateway',
      ignoreUndefined: true,
    });
    await client.connect();
    this.client = client;
    this.db = client.db(this.databaseName);
    await this.ensureIndexes(this.devices, [{ status: 1, id: 1 }, { civilCode: 1, id: 1 }, { name: 1 }]);
    await this.ensureIndexes(this.channels, [{ deviceId: 1, id: 1 }, { id: 1 }, { parentIds: 1 }, { status: 1, id: 1 }, { civilCode: 1, id: 1 }, { name: 1 }]);
    await this.ensureIndexes(this.statusEvents, [{ deviceId: 1, at: -1 }, { subjectId: 1, at: -1 }, { at: -1 }]);
    await this.ensureIndexes(this.alarms, [{ deviceId: 1, receivedAt: -1 }, { receivedAt: -1 }]);
    await this.ensureIndexes(this.tokens, [{ expiresAt: 1 }]);
    this.logger?.info({ store: this.description }, 'mongodb store ready');
  }

  /**
   * Create the indexes that do not exist yet, one at a time. FerretDB 1.24 panics ("slice bounds out of
   * range") on a createIndexes with several specs when some already exist, and on concurrent createIndexes
   * against a new database; MongoDB is fine either way, so this is only a little slower there.
   */
  private async ensureIndexes(collection: Collection<Document> | Collection<WithStringId<Device>> | Collection<WithStringId<Channel>> | Collection<WithStringId<AlarmEvent>> | Collection<WithStringId<SessionToken>>, keys: Array<Record<string, 1 | -1>>): Promise<void> {
    const col = collection as unknown as Collection<Document>;
    let existing = new Set<string>();
    try {
      existing = new Set((await col.listIndexes().toArray()).map((i) => String(i.name)));
    } catch {
      // Collection does not exist yet: every index is missing.
    }
    for (const key of keys) {
      const name = Object.entries(key).map(([k, v]) => `${k}_${v}`).join('_');
      if (!existing.has(name)) await col.createIndex(key, { name });
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.db?.command({ ping: 1 });
      return this.db !== null;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
    this.db = null;
  }

  /** Serialises multi-statement update commands of this store (FerretDB connection-pool limit, see header). */
  private updateLane: Promise<unknown> = Promise.resolve();

  private async updateInChunks<T extends Document>(collection: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<void> {
    if (ops.length === 0) return;
    const run = async (): Promise<void> => {
      for (let i = 0; i < ops.length; i += UPDATE_CHUNK) {
        await collection.bulkWrite(ops.slice(i, i + UPDATE_CHUNK), { ordered: false });
      }
    };
    const turn = this.updateLane.then(run, run);
    this.updateLane = turn.catch(() => undefined);
    await turn;
  }

  /** Insert-first upsert (see insert-first.ts); replacements go through the update lane. */
  private async upsertAll(collection: Collection<KeyedDoc>, docs: KeyedDoc[]): Promise<void> {
    await upsertInsertFirst(collection, docs, BULK_CHUNK, (c, ops) => this.updateInChunks(c, ops));
  }

  // ------------------------------------------------------------------ devices

  async upsertDevices(devices: Device[]): Promise<void> {
    await this.upsertAll(this.rawDevices, devices.map((d) => ({ ...d, _id: d.id })));
  }

  async updateDeviceLiveness(updates: DeviceLiveness[]): Promise<void> {
    await this.updateInChunks(
      this.devices,
      updates.map((u) => ({
        updateOne: {
          filter: { _id: u.id },
          update: { $set: { lastKeepaliveAt: u.lastKeepaliveAt, remoteAddress: u.remoteAddress, remotePort: u.remotePort, transport: u.transport } },
        },
      })),
    );
  }

  async getDevice(id: string): Promise<Device | null> {
    const doc = strip<Device>(await this.devices.findOne({ _id: id }));
    return doc ? withProtocol(doc) : null;
  }

  async listDevices(query: DeviceQuery): Promise<Page<Device>> {
    const filter: Filter<Document> = {};
    if (query.status) filter.status = query.status;
    if (query.region) filter.civilCode = { $regex: `^${escapeRegex(query.region)}` };
    if (query.q) filter.$or = [{ name: { $regex: escapeRegex(query.q), $options: 'i' } }, { id: { $regex: `^${escapeRegex(query.q)}` } }];
    return this.page<Device>(this.devices as unknown as Collection<Document>, filter, query, { id: 1 });
  }

  async loadAllDevices(): Promise<Device[]> {
    const docs = await this.devices.find({}).toArray();
    return docs.map((d) => withProtocol(strip<Device>(d) as Device));
  }

  async deleteDevice(id: string): Promise<void> {
    await this.devices.deleteOne({ _id: id });
    await this.channels.deleteMany({ deviceId: id });
  }

  // ------------------------------------------------------------------ channels

  async upsertChannels(channels: Channel[]): Promise<void> {
    await this.upsertAll(this.rawChannels, channels.map(channelDoc));
  }

  async deleteChannelsNotIn(deviceId: string, keepIds: string[]): Promise<number> {
    // $nin with 150,000 ids is a large query document; compare in memory against the device's ids instead.
    const keep = new Set(keepIds);
    const existing = await this.channels.find({ deviceId }, { projection: { _id: 1, id: 1 } }).toArray();
    const remove = existing.filter((c) => !keep.has(c.id)).map((c) => c._id);
    let removed = 0;
    for (let i = 0; i < remove.length; i += BULK_CHUNK) {
      removed += (await this.channels.deleteMany({ _id: { $in: remove.slice(i, i + BULK_CHUNK) } })).deletedCount;
    }
    return removed;
  }

  async setChannelsStatusForDevice(deviceId: string, status: 'online' | 'offline', at: number): Promise<void> {
    if (status === 'offline') {
      await this.channels.updateMany({ deviceId, status: 'online' }, { $set: { status: 'offline', statusChangedAt: at } });
    } else {
      await this.channels.updateMany({ deviceId, reportedStatus: 'online', status: 'offline' }, { $set: { status: 'online', statusChangedAt: at } });
    }
  }

  async getChannel(id: string, deviceId?: string): Promise<Channel | null> {
    if (deviceId) return channelFrom(await this.channels.findOne({ _id: `${deviceId}/${id}` }));
    // Several devices may report the same id (relaying platforms): prefer the row where it is a video
    // channel, then the lowest device id, so the answer does not depend on storage order.
    const asChannel = await this.channels.find({ id, kind: 'channel' }).sort({ deviceId: 1 }).limit(1).toArray();
    if (asChannel.length > 0) return channelFrom(asChannel[0]);
    const any = await this.channels.find({ id }).sort({ deviceId: 1 }).limit(1).toArray();
    return channelFrom(any[0] ?? null);
  }

  async listChannels(query: ChannelQuery): Promise<Page<Channel>> {
    const filter: Filter<Document> = {};
    if (query.deviceId) filter.deviceId = query.deviceId;
    if (query.parentId) filter.parentIds = query.parentId;
    if (query.status) filter.status = query.status;
    if (query.kind) filter.kind = Array.isArray(query.kind) ? { $in: query.kind } : query.kind;
    if (query.region) filter.civilCode = { $regex: `^${escapeRegex(query.region)}` };
    if (query.q) filter.$or = [{ name: { $regex: escapeRegex(query.q), $options: 'i' } }, { id: { $regex: `^${escapeRegex(query.q)}` } }];
    return this.page<Channel>(this.channels as unknown as Collection<Document>, filter, query, { id: 1, deviceId: 1 }, channelFrom);
  }

  async loadChannelSkeletons(): Promise<ChannelSkeleton[]> {
    // extra as a whole (stored as pairs, see toPairs): one of its keys is the 2022 GrassrootsCode.
    const docs = await this.channels
      .find({}, { projection: { _id: 0, id: 1, deviceId: 1, kind: 1, parentIds: 1, civilCode: 1, name: 1, reportedStatus: 1, status: 1, businessGroupId: 1, extra: 1 } })
      .toArray();
    return (docs as unknown as Array<Omit<ChannelSkeleton, 'grassrootsCode'> & { extra?: unknown }>).map(({ extra, ...s }) => ({
      ...s,
      businessGroupId: s.businessGroupId ?? '',
      grassrootsCode: fromPairs(extra)['Info.GrassrootsCode'] ?? '',
    }));
  }

  // ------------------------------------------------------------------ history

  async appendStatusEvents(events: StatusEvent[]): Promise<void> {
    if (events.length === 0) return;
    for (let i = 0; i < events.length; i += BULK_CHUNK) {
      await this.statusEvents.insertMany(
        events.slice(i, i + BULK_CHUNK).map(({ id: _ignored, ...e }) => ({ ...e })),
        { ordered: false },
      );
    }
  }

  async listStatusEvents(query: EventQuery): Promise<Page<StatusEvent>> {
    const filter: Filter<Document> = {};
    if (query.deviceId) filter.deviceId = query.deviceId;
    if (query.subjectId) filter.subjectId = query.subjectId;
    if (query.since !== undefined || query.until !== undefined) {
      filter.at = {
        ...(query.since !== undefined ? { $gte: query.since } : {}),
        ...(query.until !== undefined ? { $lte: query.until } : {}),
      };
    }
    const { offset, limit } = pageBounds(query);
    const [total, docs] = await Promise.all([
      this.statusEvents.countDocuments(filter),
      this.statusEvents.find(filter).sort({ at: -1, _id: -1 }).skip(offset).limit(limit).toArray(),
    ]);
    return {
      total,
      items: docs.map(({ _id, ...rest }) => ({ ...(rest as StatusEvent), id: (_id as ObjectId).toHexString() })),
    };
  }

  async appendAlarms(alarms: AlarmEvent[]): Promise<void> {
    await this.upsertAll(this.rawAlarms, alarms.map((a) => alarmDoc(a, a.id ?? new ObjectId().toHexString())));
  }

  async listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>> {
    const filter: Filter<Document> = {};
    if (query.deviceId) filter.deviceId = query.deviceId;
    if (query.since !== undefined) filter.receivedAt = { $gte: query.since };
    if (query.acknowledged !== undefined) filter.acknowledgedAt = query.acknowledged ? { $ne: null } : null;
    return this.page<AlarmEvent>(this.alarms as unknown as Collection<Document>, filter, query, { receivedAt: -1, _id: -1 }, alarmFrom);
  }

  async getAlarm(id: string): Promise<AlarmEvent | null> {
    return alarmFrom(await this.alarms.findOne({ _id: id }));
  }

  async acknowledgeAlarm(id: string, by: string, note: string | null, at: number): Promise<AlarmEvent | null> {
    const result = await this.alarms.updateOne({ _id: id }, { $set: { acknowledgedAt: at, acknowledgedBy: by, note } });
    if (result.matchedCount === 0) return null;
    return alarmFrom(await this.alarms.findOne({ _id: id }));
  }

  // ------------------------------------------------------------------ users and tokens

  async getUser(username: string): Promise<User | null> {
    return strip<User>(await this.users.findOne({ _id: username }));
  }

  async upsertUser(user: User): Promise<void> {
    await this.users.replaceOne({ _id: user.username }, { ...user }, { upsert: true });
  }

  async listUsers(): Promise<User[]> {
    const docs = await this.users.find({}).sort({ _id: 1 }).toArray();
    return docs.map((d) => strip<User>(d) as User);
  }

  async deleteUser(username: string): Promise<boolean> {
    return (await this.users.deleteOne({ _id: username })).deletedCount > 0;
  }

  async putSessionToken(token: SessionToken): Promise<void> {
    await this.tokens.replaceOne({ _id: token.tokenHash }, { ...token }, { upsert: true });
  }

  async getSessionToken(tokenHash: string): Promise<SessionToken | null> {
    return strip<SessionToken>(await this.tokens.findOne({ _id: tokenHash }));
  }

  async deleteSessionToken(tokenHash: string): Promise<void> {
    await this.tokens.deleteOne({ _id: tokenHash });
  }

  async purgeExpiredSessionTokens(now: number): Promise<number> {
    return (await this.tokens.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
  }

  // ------------------------------------------------------------------ internals

  private async page<T>(
    collection: Collection<Document>,
    filter: Filter<Document>,
    query: { offset?: number; limit?: number },
    sort: Record<string, 1 | -1>,
    decode: (doc: Document | null) => T | null = strip,
  ): Promise<Page<T>> {
    const { offset, limit } = pageBounds(query);
    const [total, docs] = await Promise.all([
      collection.countDocuments(filter),
      collection.find(filter).sort(sort).skip(offset).limit(limit).toArray(),
    ]);
    return { total, items: docs.map((d) => decode(d) as T) };
  }
}
