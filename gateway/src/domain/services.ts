/**
 * What the HTTP/WebSocket API may ask of the domain. The composition root builds one `GatewayServices`
 * from the registry, catalog, alarm, control and auth services; the API layer sees only this.
 */
import type { ChannelPosition } from './positions/position-service.js';
import type { DevicePatch, NewDeviceInput } from './devices/device-input.js';
import type { AddedDevice } from './devices/protocol-devices.js';
import type { DevicePreset } from './devices/drivers/driver.js';
import type { ImportResult, ImportRow } from './devices/device-import.js';
import type { AlarmEvent, Channel, Device, Page, StatusEvent, User, UserGrant, UserRole, UserScopes } from './model.js';
import type { AlarmQuery, ChannelQuery, DeviceQuery, EventQuery } from './store.js';
import type { GatewayEvents } from './events.js';
import type { PtzLease, PtzRequest, PtzResult } from './control/ptz-service.js';
import type { ChannelScope } from './auth/channel-scope.js';
import type { UserService } from './auth/user-service.js';
import type { AuditLog } from './audit/audit-log.js';
import type { StreamService } from './streams/stream-service.js';
import type { ViewService } from './views/view-service.js';
import type { TourService } from './views/tour-service.js';
import type { SessionService } from './sessions/session-service.js';
import type { HealthApi } from './health/types.js';
import type { DeviceInfoResponse, DeviceStatusResponse } from '../codecs/manscdp/messages.js';
import type { TreePage, TreeSearchHit, TreeViewName } from './catalog/tree-views.js';
import type { PlatformService } from './cascade/platform-service.js';

export interface TreeNodeView {
  id: string;
  /** The device that reported the node (empty for merged region nodes reported by several devices). */
  deviceId: string;
  /** 'unassigned': the region view's "unplaced" and the group view's "ungrouped" node. */
  kind: 'region' | 'business-group' | 'virtual-org' | 'system' | 'device' | 'channel' | 'unassigned';
  name: string;
  /** Channels (video sources) beneath this node, counted once each. */
  online: number;
  total: number;
  hasChildren: boolean;
  /** For channels and devices: their own effective status. */
  status?: 'online' | 'offline';
}

export interface RegionStats {
  region: string;
  name: string;
  devices: { online: number; total: number; rate: number };
  channels: { online: number; total: number; rate: number };
}

export interface GatewayStats {
  at: number;
  devices: { online: number; total: number; rate: number };
  channels: { online: number; total: number; rate: number };
  regions: RegionStats[];
  /** Where province/city/county names come from: the GB/T 2260 dataset package and version (null: none loaded). */
  regionDataset: string | null;
}

export interface CatalogRequestResult {
  deviceId: string;
  /** Progress follows on the WebSocket as 'catalog-progress' messages. */
  accepted: boolean;
}

/** Live answers from a device (GB DeviceInfo / DeviceStatus queries), as the device sent them. */
export type DeviceLiveInfo = Omit<DeviceInfoResponse, 'sn' | 'raw'>;
export type DeviceLiveStatus = Omit<DeviceStatusResponse, 'sn' | 'raw'>;

export interface LoginResult {
  token: string;
  expiresAt: number;
  user: { username: string; role: UserRole; scopes: UserScopes; permissions: string[] };
}

/** Who is calling: resolved from a bearer token. */
export interface Principal {
  /**
   * 'session-guest': a point that joined a consultation session with its code (see sessions/session-service.ts).
   * 'kiosk-token': a wall PC's device token (config http.kioskTokens): watches only (api/authentication.ts).
   */
  kind: 'static-token' | 'session' | 'session-guest' | 'kiosk-token';
  username: string;
  role: UserRole;
  /** session-guest only: the one session (and participant) the guest token reaches. */
  sessionId?: string;
  participantId?: string;
  /** Channels this principal may reach (absent: all); see domain/auth/channel-scope.ts. */
  scopes?: UserScopes;
  /** Permissions granted on top of the role (domain/auth/permissions.ts). */
  grants?: UserGrant[];
}

/** What /healthz reports. The store may be down while SIP and the API keep serving from memory (degraded). */
export interface Readiness {
  sip: boolean;
  http: boolean;
  /** The store answers and its write queue is draining. */
  store: boolean;
  /** Why the store is degraded, with its write queue; absent in API-only test setups. */
  storeDetail?: {
    state: 'ok' | 'degraded';
    reason: string | null;
    since: number | null;
    queued: number;
    dropped: number;
  };
}

/** POST/PATCH/DELETE /api/devices: the bodies are validated by the route (device-input.ts) before these run. */
export interface AddedDevicesApi {
  add(input: NewDeviceInput): Promise<AddedDevice>;
  /** Throws NotFoundError, or ConflictError for a GB28181 device (its settings come from its registration). */
  update(deviceId: string, patch: DevicePatch): Promise<AddedDevice>;
  /** Stops the device's streams; NotFoundError / ConflictError as update. */
  remove(deviceId: string): Promise<{ id: string; stoppedStreams: number }>;
  /** The added device with its channels and publish URLs, or null (unknown, or a GB device). */
  get(deviceId: string): AddedDevice | null;
  /** A bulk import (device-import.ts); ConflictError while another import runs. */
  import(rows: readonly ImportRow[], importId?: string): Promise<ImportResult>;
}

export interface GatewayServices {
  events: GatewayEvents;
  /** Live video; absent in API-only test setups. */
  streams?: StreamService;
  /** Saved wall views and tours (records port); absent in API-only test setups. */
  views?: ViewService;
  tours?: TourService;
  /** Consultation sessions (视频会商); absent in API-only test setups. */
  sessions?: SessionService;
  /** Maintenance health console and alert rules (domain/health); absent in API-only test setups. */
  health?: HealthApi;
  readiness(): Promise<Readiness>;
  /** ONVIF / RTSP / RTMP devices added through the API (domain/devices); absent in API-only test setups. */
  addedDevices?: AddedDevicesApi;
  /** ONVIF WS-Discovery for POST /api/onvif/discover: default interface, port, and which answers are added already. */
  onvifDiscovery?: { defaultInterface: string; port: number; addedAt: (host: string, port: number) => string | null };

  /*
   * Reads that take a principal answer within its channel scope (domain/auth/scoped-catalog.ts): an item out
   * of scope is absent (null / not listed / NotFoundError), never a 403. Without a principal: unscoped.
   */
  listDevices(query: DeviceQuery, principal?: Principal): Promise<Page<Device>>;
  getDevice(id: string, principal?: Principal): Promise<Device | null>;
  listChannels(query: ChannelQuery, principal?: Principal): Promise<Page<Channel>>;
  getChannel(id: string, principal?: Principal): Promise<Channel | null>;
  /** Re-query a device's catalog; throws NotFoundError / ConflictError (device offline). */
  requestCatalog(deviceId: string): Promise<CatalogRequestResult>;
  /** Children of a tree node (root when parent is undefined) in a view (default 'catalog'); throws NotFoundError for an unknown node. */
  treeChildren(parent: string | undefined, page?: { offset: number; limit: number }, view?: TreeViewName, principal?: Principal): { total: number; items: TreeNodeView[] };
  /** Nodes of a view matching a name substring / ID prefix, each with its path from the top level. */
  treeSearch(view: TreeViewName, q: string, limit: number, principal?: Principal): TreePage<TreeSearchHit>;
  /** Ask the device now (GB DeviceInfo); throws NotFoundError / ConflictError (offline) / UpstreamError (no answer). */
  queryDeviceInfo(deviceId: string): Promise<DeviceLiveInfo>;
  /** Recordings of a channel on its device (GB RecordInfo); NotFoundError out of scope, ConflictError offline, UpstreamError no answer. */
  listRecords?(channelId: string, window: { start: number; end: number; type: string }, principal?: Principal): Promise<RecordsPage>;
  /** Ask the device now (GB DeviceStatus); same errors as queryDeviceInfo. */
  queryDeviceStatus(deviceId: string): Promise<DeviceLiveStatus>;
  stats(principal?: Principal): GatewayStats;
  listStatusEvents(query: EventQuery, principal?: Principal): Promise<Page<StatusEvent>>;
  listAlarms(query: AlarmQuery, principal?: Principal): Promise<Page<AlarmEvent>>;
  /** Null when the alarm is unknown or out of the principal's scope. */
  acknowledgeAlarm(id: string, by: string, note: string | null, principal?: Principal): Promise<AlarmEvent | null>;
  /** Send a PTZ command to a channel; throws NotFoundError / ConflictError (offline) / ValidationError. */
  ptz(channelId: string, request: PtzRequest, principal?: Principal): Promise<PtzResult>;
  /** Who holds a channel's PTZ now (NotFoundError out of scope). */
  ptzLease?(channelId: string, principal: Principal): Promise<PtzLease | null>;
  /** The channel's latest mobile position (GB MobilePosition), null when it never reported one; NotFoundError out of scope. */
  channelPosition?(channelId: string, principal: Principal): Promise<ChannelPosition | null>;
  /** Where the channel was in [start, end) (epoch ms), oldest first; NotFoundError out of scope or never reported. */
  channelTrack?(channelId: string, window: { start: number; end: number }, principal: Principal): Promise<{ total: number; items: ChannelPosition[] }>;
  /** Give a channel's PTZ lease back (its holder or a higher role). */
  releasePtz?(channelId: string, principal: Principal): Promise<boolean>;
  /** The presets the camera keeps (ONVIF GetPresets); ConflictError for channels whose protocol cannot list them. */
  ptzPresets?(channelId: string, principal: Principal): Promise<DevicePreset[]>;
  /**
   * Throws NotFoundError unless the channel is in the principal's scope: the one check the play, snapshot,
   * stream and health routes ask before they open or show a channel (absent in API-only test setups).
   */
  assertChannelInScope?(channelId: string, principal: Principal): void;
  /** The channel scope of a principal (WebSocket filtering, health lists). */
  channelScopeOf?(principal: Principal): ChannelScope;
  /** User accounts (absent in API-only test setups). */
  users?: UserService;
  /** Upper platforms the gateway cascades to (absent in API-only test setups). */
  platforms?: PlatformService;
  /** The audit log (absent in API-only test setups). */
  audit?: AuditLog;

  /** Null for wrong credentials; throws TooManyRequestsError while locked out. `source`: the client address. */
  login(username: string, password: string, source?: string): Promise<LoginResult | null>;
  logout(token: string): Promise<void>;
  authenticate(bearerToken: string): Promise<Principal | null>;
  getUser(username: string): Promise<User | null>;
}

/**
 * What an error is, for a UI to say in its own language: a stable code (the web's catalogues key it as
 * `error.<code>`) and the values its sentence needs. The English `message` stays for integrators and logs.
 * The same shape as the health domain's reasons (`{ code, params }`, `reason.<code>`).
 */
export interface ErrorCode {
  code: string;
  params?: Record<string, string | number>;
}

/** Errors the API maps to HTTP codes; each may carry an ErrorCode (else the API derives one from the status). */
export class DomainError extends Error {
  constructor(
    message: string,
    readonly detail?: ErrorCode,
  ) {
    super(message);
  }
}
export class NotFoundError extends DomainError {
  readonly statusCode = 404;
}
export class ConflictError extends DomainError {
  readonly statusCode = 409;
  /** Extra fields of the 409 body (e.g. who holds a camera's PTZ). */
  get details(): Record<string, unknown> | undefined {
    return undefined;
  }
}
/** The caller is known but may not do this (not the owner, not the chair, a session guest elsewhere). */
export class ForbiddenError extends DomainError {
  readonly statusCode = 403;
}
/** Too many attempts (failed session joins from one address); retry after `retryAfterSec`. */
export class TooManyRequestsError extends DomainError {
  readonly statusCode = 429;
  constructor(
    message: string,
    readonly retryAfterSec: number,
    detail?: ErrorCode,
  ) {
    super(message, detail);
  }
}
export class ValidationError extends DomainError {
  readonly statusCode = 400;
  constructor(
    message: string,
    readonly field: string,
    detail?: ErrorCode,
  ) {
    super(message, detail);
  }
}
export class UpstreamError extends DomainError {
  readonly statusCode = 502;
}
/**
 * The request is well-formed but what it asks for did not work out (new device settings that the device refuses
 * or does not answer): 422, with `reason` the device status's own word (`auth-failed`, `unreachable`, …).
 */
export class UnprocessableError extends DomainError {
  readonly statusCode = 422;
  constructor(
    message: string,
    readonly reason: string,
    detail?: ErrorCode,
  ) {
    super(message, detail);
  }
}

/** GET /api/channels/:id/records. */
export interface RecordsPage {
  total: number;
  complete: boolean;
  items: Array<{ start: string; end: string; type: string; secrecy: number | null; name: string; filePath: string; fileSize: number | null }>;
}
