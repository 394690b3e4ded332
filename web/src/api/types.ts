import type { ReasonCode } from '../i18n/health-reason';
/**
 * Wire types of the gateway API, as the browser sees them. They mirror gateway/src/domain (model.ts,
 * services.ts, streams, views, sessions, health); the web build cannot import server code, so the shapes
 * are restated here and checked end to end by the browser tests.
 */
export type UserRole = 'admin' | 'operator' | 'maintainer' | 'viewer';
export type OnlineStatus = 'online' | 'offline';

export interface Page<T> {
  total: number;
  items: T[];
}

export interface LoginResult {
  token: string;
  expiresAt: number;
  user: { username: string; role: UserRole };
}

export type TreeViewKind = 'catalog' | 'region' | 'group';

export interface TreeNode {
  id: string;
  deviceId: string;
  kind: 'region' | 'business-group' | 'virtual-org' | 'system' | 'device' | 'channel';
  name: string;
  online: number;
  total: number;
  hasChildren: boolean;
  status?: OnlineStatus;
}

export interface TreeSearchHit {
  node: TreeNode;
  path: { id: string; name: string }[];
}

export interface Channel {
  id: string;
  deviceId: string;
  kind: string;
  name: string;
  manufacturer: string;
  model: string;
  civilCode: string;
  address: string;
  parentIds: string[];
  ptzType: number | null;
  reportedStatus: OnlineStatus;
  status: OnlineStatus;
  statusChangedAt: number;
}

export interface Device {
  id: string;
  name: string;
  manufacturer: string;
  model: string;
  status: OnlineStatus;
  statusChangedAt: number;
  lastKeepaliveAt: number | null;
  civilCode: string;
}

export interface StreamView {
  streamId: string;
  channelId: string;
  deviceId: string;
  stream: 'main' | 'sub';
  state: string;
  hls: string;
  /** Signed live fMP4 WebSocket path (MSE). */
  ws?: string;
  viewerId: string;
  codec: string | null;
  /** The camera's codec; the live fMP4 WebSocket carries this one even where HLS is transcoded. */
  sourceCodec?: string | null;
  /** The camera's audio codec (aac, g711a, g711u); null without audio. */
  audio?: string | null;
  /** The audio the returned hls carries for this viewer: aac, or null (none, or G.711 left out for a viewer that does not listen). */
  hlsAudio?: 'aac' | null;
  /** This viewer asked to listen (play with listen: true). */
  listening?: boolean;
  /** Viewers of the stream that listen, and whether its AAC rendition (G.711 to AAC) runs. */
  listeners?: number;
  audioRendition?: boolean;
  width: number | null;
  height: number | null;
  fps: number;
  bitrateKbps: number;
  packetLoss: number;
  viewers: number;
  timeToFirstFrameMs: number | null;
  lastError: string | null;
  /** live, playback (device recording) or download; older gateways leave it out (live). */
  kind?: 'live' | 'playback' | 'download';
  /** Why the stream ended: "end-of-file" when the device reached the span's end, "device-bye", … */
  endReason?: string | null;
  /** Playback / download: the span, pause, speed and position (docs/playback.md). */
  history?: HistoryView | null;
}

/** A playback's place in the recording, as the gateway reports it (GET /api/streams/:id, stream-status). */
export interface HistoryView {
  start: string;
  end: string;
  paused: boolean;
  /** The speed the device was set to (MANSRTSP Scale). */
  scale: number;
  /** Seconds from the span's start of the latest frame the gateway received (null before the first). */
  positionSec: number | null;
  position: string | null;
}

/** Error body of a failed play: which step failed and what to do about it. */
export interface PlayErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** For the UI: rendered from the catalogues as `error.<code>` (web/src/api/error-text.ts). */
  code?: string;
  params?: Record<string, string | number>;
  step?: string;
  hint?: string;
  sipStatus?: number;
}

export interface AlarmEvent {
  id: string;
  sourceId: string;
  deviceId: string;
  priority: number | null;
  method: number | null;
  type: number | null;
  description: string;
  alarmTime: string;
  receivedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  note: string | null;
  /** When the gateway escalated it (unacknowledged for alarms.escalateAfterMin), while unacknowledged; else null. */
  escalatedAt?: number | null;
}

export interface StatusEvent {
  id?: string;
  subject: 'device' | 'channel';
  subjectId: string;
  deviceId: string;
  status: OnlineStatus;
  reason: string | null;
  at: number;
  source?: string;
}

// ---- layouts, views, tours

export type LayoutKind = '1' | '4' | '1+5' | '1+7' | '9' | '16' | '25' | 'custom';

export interface WallTile {
  channelId: string | null;
}

export interface WallLayout {
  kind: LayoutKind;
  cols?: number;
  rows?: number;
  tiles: WallTile[];
  maximised: number | null;
}

export interface SavedView {
  id: string;
  name: string;
  owner: string;
  shared: boolean;
  hotkey: number | null;
  layout: WallLayout;
  createdAt: number;
  updatedAt: number;
}

export interface TourStep {
  channelIds: string[];
  dwellSec: number;
  preset: number | null;
}

export interface Tour {
  id: string;
  name: string;
  owner: string;
  shared: boolean;
  scope: 'tile' | 'wall';
  layoutKind: LayoutKind | null;
  steps: TourStep[];
  createdAt: number;
  updatedAt: number;
}

// ---- consultation sessions

export type Presence = 'good' | 'poor' | 'lost';

export interface Participant {
  id: string;
  name: string;
  username: string | null;
  terminalChannelId: string | null;
  presence: Presence;
  joinedAt: number;
  leftAt: number | null;
}

export interface ConsultationSession {
  id: string;
  code: string;
  name: string;
  createdBy: string;
  chair: string;
  createdAt: number;
  endedAt: number | null;
  sources: string[];
  layout: WallLayout;
  layoutSeq: number;
  locked: boolean;
  rollCall: { participantId: string | null; cyclicDwellSec: number | null };
  participants: Participant[];
}

// ---- health

export interface Rate {
  online: number;
  total: number;
  rate: number;
}

export interface HealthFigures {
  devices: Rate;
  channels: Rate;
  intact: { intact: number; total: number; rate: number };
}

export interface HealthSummary {
  at: number;
  targets: { onlineRate: number; intactRate: number };
  overall: HealthFigures;
  yesterday: HealthFigures | null;
  lastWeek: HealthFigures | null;
  /** One level of the region / group tree: the top, or the nodes under the `parent` asked for (hasChildren: ask again with it). */
  nodes: { id: string; name: string; kind: string; hasChildren: boolean; figures: HealthFigures; yesterday: HealthFigures | null }[];
}

export type ChannelHealthStatus = 'device-offline' | 'channel-offline' | 'stream-failing' | 'degraded' | 'maintenance' | 'healthy';

export interface ChannelHealth {
  channelId: string;
  name: string;
  deviceId: string;
  deviceName: string;
  civilCode: string;
  status: ChannelHealthStatus;
  /** English (API, logs); the UI renders reasonCode. */
  reason: string;
  reasonCode?: ReasonCode;
  /** Device offline: the last sign of life (lastSeenAt). */
  since: number | null;
  durationSec: number | null;
  lastKeepaliveAt: number | null;
  lastSeenAt?: number | null;
  detectedAt?: number | null;
  lastError: string | null;
  lastErrorCode?: ReasonCode | null;
  episodes24h: number;
  place?: { id: string; name: string } | null;
  /** rollup=device: an offline device (an NVR) as one row, with its channels. */
  channels?: Array<{ channelId: string; name: string }>;
}
