/**
 * The domain model: what the gateway knows about devices, channels and the catalog tree.
 * Plain data (no methods) so that both store adapters and the API can pass it around unchanged.
 * Times are epoch milliseconds (numbers) everywhere: cheap to compare, identical in SQLite and MongoDB.
 */

export type OnlineStatus = 'online' | 'offline';
export type SipTransportKind = 'udp' | 'tcp';

/** Why a device or channel went offline; shown to maintenance staff next to "offline since". */
export type OfflineReason =
  | 'keepalive-timeout'
  | 'registration-expired'
  | 'unregistered'
  | 'tcp-connection-lost'
  | 'device-offline' // channel only: its parent device went offline
  | 'reported-by-device' // catalog/notify said Status=OFF
  | 'never-registered'
  // Devices without a keepalive of their own (ONVIF, RTSP, RTMP): what the last probe or publisher said.
  | 'unreachable'
  | 'auth-failed'
  | 'soap-fault'
  | 'rtsp-failed'
  | 'clock-skew'
  | 'bad-answer'
  | 'no-publisher'
  | 'not-probed';

/** How the gateway talks to a device. Devices stored before protocols existed are GB28181 ones. */
export type DeviceProtocol = 'gb28181' | 'onvif' | 'rtsp' | 'rtmp';
export const DEVICE_PROTOCOLS: readonly DeviceProtocol[] = ['gb28181', 'onvif', 'rtsp', 'rtmp'];

/** A device row as stored before `protocol` existed gets 'gb28181' (every such device registered over SIP). */
export function withProtocol(device: Device): Device {
  if (device.protocol) return device;
  return { ...device, protocol: 'gb28181' };
}

/** A device registered over SIP: IPC, NVR, DVR or a lower platform. Keyed by its 20-digit GB ID. */
export interface Device {
  id: string;
  /** gb28181 devices register over SIP; onvif/rtsp/rtmp devices are added through the API (drivers/). */
  protocol: DeviceProtocol;
  name: string;
  /** GB type code (digits 11-13 of the ID), e.g. "132" IPC, "118" NVR, "200" platform. */
  typeCode: string;
  /** Administrative-division prefix of the ID (first 8 digits), e.g. "44030500". */
  civilCode: string;
  manufacturer: string;
  model: string;
  firmware: string;
  userAgent: string;
  /** X-GB-ver from REGISTER ("2.0" = 2016, "3.0" = 2022), empty when absent. */
  gbVersion: string;
  /** Name of the matched device profile in device-profiles/. */
  profile: string;
  status: OnlineStatus;
  offlineReason: OfflineReason | null;
  /** Where the device is reachable: the transport source of its last REGISTER/keepalive (never Contact). */
  transport: SipTransportKind;
  remoteAddress: string;
  remotePort: number;
  /** SIP Contact URI as the device sent it (informational only). */
  contact: string;
  /** Registration expiry in seconds as granted. */
  expires: number;
  registeredAt: number | null;
  /** When the registration lapses unless refreshed (epoch ms). */
  registrationExpiresAt: number | null;
  lastKeepaliveAt: number | null;
  /** Last status transition (online or offline), for "offline since". */
  statusChangedAt: number;
  /** Number of channels reported by the latest catalog. */
  channelCount: number;
  /** Charset the device speaks in MANSCDP bodies ('GB2312' | 'GB18030' | 'UTF-8'). */
  charset: string;
  createdAt: number;
  updatedAt: number;
}

/** Kind of node in a catalog tree. */
export type CatalogNodeKind = 'region' | 'business-group' | 'virtual-org' | 'system' | 'device' | 'channel';

/**
 * Every item of a Catalog answer: regions (2–8 digit IDs), business groups (215), virtual orgs (216),
 * systems (200) and video channels. One collection, so the tree API walks one kind of row.
 */
export interface Channel {
  /** Item DeviceID: 2/4/6/8 digits for regions, 20 digits otherwise. */
  id: string;
  /** The registered device that reported this item. */
  deviceId: string;
  kind: CatalogNodeKind;
  name: string;
  manufacturer: string;
  model: string;
  owner: string;
  civilCode: string;
  block: string;
  address: string;
  parental: number;
  /** All parents (2022 ParentID may list several separated by '/'); empty for a root. */
  parentIds: string[];
  businessGroupId: string;
  safetyWay: number | null;
  registerWay: number | null;
  secrecy: number;
  ipAddress: string;
  port: number | null;
  /** Status as reported by the device in the catalog (before combining with device status). */
  reportedStatus: OnlineStatus;
  /** Effective status: offline whenever the device is offline. */
  status: OnlineStatus;
  statusChangedAt: number;
  longitude: number | null;
  latitude: number | null;
  ptzType: number | null;
  /** Every other field from the item (Info/* and unknown elements), kept verbatim as strings. */
  extra: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export type StatusSubject = 'device' | 'channel';

/** A status transition, written as history (the health console reads episodes from these). */
export interface StatusEvent {
  id?: string;
  subject: StatusSubject;
  subjectId: string;
  deviceId: string;
  status: OnlineStatus;
  reason: OfflineReason | 'registered' | 'keepalive' | 'reported-by-device' | null;
  at: number;
  /** Network source at that moment (address:port/transport), useful to spot NAT rebinding. */
  source?: string;
}

export interface AlarmEvent {
  id?: string;
  /** DeviceID in the Notify body (a channel or alarm input). */
  sourceId: string;
  /** The registered device that sent it. */
  deviceId: string;
  priority: number | null;
  method: number | null;
  type: number | null;
  description: string;
  /** Time as the device reported it (text, Beijing local time) and when we received it. */
  alarmTime: string;
  receivedAt: number;
  longitude: number | null;
  latitude: number | null;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  note: string | null;
  raw: Record<string, string>;
  /**
   * When the gateway escalated it (unacknowledged for alarms.escalateAfterMin), while that escalation is open;
   * null otherwise. Added when alarms are read (GET /api/alarms), never stored with the alarm.
   */
  escalatedAt?: number | null;
}

export type UserRole = 'admin' | 'operator' | 'maintainer' | 'viewer';

/**
 * What a scoped user may reach: channels under these civil-code prefixes (region view) and/or these business
 * groups / virtual organisations (group view). Absent or both lists empty: every channel.
 */
export interface UserScopes {
  regions?: string[];
  groups?: string[];
}

/** Permissions a role lacks that one user is granted on top (e.g. `play` for a maintainer): see domain/auth/permissions.ts. */
export type UserGrant = 'play' | 'ptz' | 'ack' | 'export';

export interface User {
  username: string;
  /** scrypt hash in the form scrypt$N$r$p$saltB64$hashB64. */
  passwordHash: string;
  role: UserRole;
  createdAt: number;
  scopes?: UserScopes;
  grants?: UserGrant[];
  updatedAt?: number;
  /** Sessions from logins before this are refused (a password change signs the user out everywhere). */
  passwordChangedAt?: number;
}

/** A session token from POST /api/auth/login; only its SHA-256 is stored. */
export interface SessionToken {
  tokenHash: string;
  username: string;
  createdAt: number;
  expiresAt: number;
}

/** Result page of a list query. */
export interface Page<T> {
  total: number;
  items: T[];
}
