/**
 * The storage port owned by the domain. Two adapters implement it: `store/sqlite` (embedded, zero setup)
 * and `store/mongo` (the official driver; tested against FerretDB and usable with MongoDB).
 *
 * Rules every adapter follows (the contract tests in gateway/test/store/ check them on both):
 * - Batch methods take arrays and must not turn N items into N round trips.
 * - Only features both MongoDB and FerretDB support: no transactions, no change streams.
 * - Channels are keyed by (deviceId, id): region nodes like "4403" can be reported by several devices.
 * - Text search `q` matches a substring of the name or a prefix of the ID, case-insensitively.
 */
import type {
  AlarmEvent,
  CatalogNodeKind,
  Channel,
  Device,
  OnlineStatus,
  Page,
  SessionToken,
  StatusEvent,
  SipTransportKind,
  User,
} from './model.js';
import type { RecordStore } from './records.js';

export interface PageRequest {
  offset?: number;
  limit?: number;
}

export interface DeviceQuery extends PageRequest {
  status?: OnlineStatus;
  q?: string;
  /** Civil-code prefix (2–8 digits): matches devices whose civilCode starts with it. */
  region?: string;
}

export interface ChannelQuery extends PageRequest {
  deviceId?: string;
  /** Direct children of this node (any of parentIds equals it). */
  parentId?: string;
  status?: OnlineStatus;
  kind?: CatalogNodeKind | CatalogNodeKind[];
  q?: string;
  region?: string;
}

/** Liveness written behind keepalives: cheap, periodic, batched. */
export interface DeviceLiveness {
  id: string;
  lastKeepaliveAt: number;
  remoteAddress: string;
  remotePort: number;
  transport: SipTransportKind;
}

/** Minimal channel view used to rebuild in-memory tree counts at start-up. */
export interface ChannelSkeleton {
  id: string;
  deviceId: string;
  kind: CatalogNodeKind;
  parentIds: string[];
  civilCode: string;
  name: string;
  reportedStatus: OnlineStatus;
  status: OnlineStatus;
  /** Group view placement of channels reported only with a BusinessGroupID (no group ParentID). */
  businessGroupId: string;
  /** extra['Info.GrassrootsCode'] (2022 township + village code), '' when absent: region view placement. */
  grassrootsCode: string;
}

export interface EventQuery extends PageRequest {
  deviceId?: string;
  subjectId?: string;
  since?: number;
  until?: number;
}

export interface AlarmQuery extends PageRequest {
  deviceId?: string;
  since?: number;
  acknowledged?: boolean;
}

/** One flush of the write queue (see GatewayStore.writeFlush). */
export interface FlushRows {
  devices: Device[];
  liveness: DeviceLiveness[];
  channelStatus: Array<[deviceId: string, change: { status: OnlineStatus; at: number }]>;
  statusEvents: StatusEvent[];
  alarms: AlarmEvent[];
}

export interface GatewayStore {
  /** Human-readable adapter name for logs and /healthz ("sqlite:/path", "mongodb://host/db"). */
  readonly description: string;
  /**
   * Rows the write queue puts in one batch call, so that each call finishes well within its timeout on this
   * backend (a backlog after an outage is then written call by call). Default 500.
   */
  readonly rowsPerWrite?: number;
  /**
   * Optional: write one flush of the write queue — rows of every kind — in one call, all or nothing. A store
   * with transactions (SQLite) makes it one commit, so a group commit costs one fsync instead of one per kind
   * of row. The queue uses it when the flush fits in one call (`rowsPerWrite` rows of each kind); stores
   * without it get the per-kind calls.
   */
  writeFlush?(rows: FlushRows): Promise<void>;
  /** Connect, create tables/collections and indexes. Idempotent. */
  init(): Promise<void>;
  /** True while the backend answers (used by /healthz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;

  /** Generic record collections for features off the device hot path (views, sessions, ...): see records.ts. */
  readonly records: RecordStore;

  // ---- devices
  upsertDevices(devices: Device[]): Promise<void>;
  updateDeviceLiveness(updates: DeviceLiveness[]): Promise<void>;
  getDevice(id: string): Promise<Device | null>;
  listDevices(query: DeviceQuery): Promise<Page<Device>>;
  /** Every device, for rebuilding the in-memory registry after a restart. */
  loadAllDevices(): Promise<Device[]>;
  deleteDevice(id: string): Promise<void>;

  // ---- channels and catalog tree
  upsertChannels(channels: Channel[]): Promise<void>;
  /** Remove this device's channels whose id is not in keepIds (after a complete catalog). */
  deleteChannelsNotIn(deviceId: string, keepIds: string[]): Promise<number>;
  /** Set effective status of all of a device's channels (device went offline / came back). */
  setChannelsStatusForDevice(deviceId: string, status: OnlineStatus, at: number): Promise<void>;
  getChannel(id: string, deviceId?: string): Promise<Channel | null>;
  listChannels(query: ChannelQuery): Promise<Page<Channel>>;
  loadChannelSkeletons(): Promise<ChannelSkeleton[]>;

  // ---- history
  appendStatusEvents(events: StatusEvent[]): Promise<void>;
  listStatusEvents(query: EventQuery): Promise<Page<StatusEvent>>;
  appendAlarms(alarms: AlarmEvent[]): Promise<void>;
  listAlarms(query: AlarmQuery): Promise<Page<AlarmEvent>>;
  acknowledgeAlarm(id: string, by: string, note: string | null, at: number): Promise<AlarmEvent | null>;
  /** One alarm by id, or null. */
  getAlarm(id: string): Promise<AlarmEvent | null>;

  // ---- users and API session tokens
  getUser(username: string): Promise<User | null>;
  upsertUser(user: User): Promise<void>;
  /** Every user, by username (user accounts are few: tens to hundreds). */
  listUsers(): Promise<User[]>;
  /** True when the user existed. */
  deleteUser(username: string): Promise<boolean>;
  putSessionToken(token: SessionToken): Promise<void>;
  getSessionToken(tokenHash: string): Promise<SessionToken | null>;
  deleteSessionToken(tokenHash: string): Promise<void>;
  purgeExpiredSessionTokens(now: number): Promise<number>;
}
