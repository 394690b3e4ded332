/**
 * The wall's calls to the gateway, typed. Tree views (region / group) and tree search follow the issue #4
 * contract; a gateway without them (404 on /api/tree/search) falls back to channel search, so the wall keeps
 * working against an older gateway.
 */
import { ApiError, api, currentToken } from '../../api/http';
import type { AlarmEvent, Channel, Page, SavedView, Tour, TreeNode, WallLayout } from '../../api/types';
import type { PtzRequest } from './ptz-hold';

export type WallTreeView = 'region' | 'group';

/** A tree node as the views return it ('unassigned': the region view's unplaced / the group view's ungrouped node). */
export interface WallTreeNode extends Omit<TreeNode, 'kind'> {
  kind: TreeNode['kind'] | 'unassigned';
}

export interface TreePathStep {
  id: string;
  name: string;
  kind?: string;
}

/** A search match and the ancestors to expand to reveal it (top level first; empty when unknown). */
export interface WallTreeHit {
  node: WallTreeNode;
  path: TreePathStep[];
}

export const TREE_PAGE = 200;

export async function treeChildren(view: WallTreeView, parent: string | null, offset = 0, limit = TREE_PAGE): Promise<Page<WallTreeNode>> {
  return api<Page<WallTreeNode>>('/api/tree', { query: { view, parent, offset, limit } });
}

export async function searchTree(view: WallTreeView, q: string, limit = 50): Promise<{ total: number; hits: WallTreeHit[] }> {
  try {
    const answer = await api<{ total: number; items: (WallTreeNode & { path: TreePathStep[] })[] }>('/api/tree/search', { query: { view, q, limit } });
    return { total: answer.total, hits: answer.items.map(({ path, ...node }) => ({ node, path })) };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  // An older gateway: channels whose name or ID matches, without a path.
  const page = await api<Page<Channel>>('/api/channels', { query: { q, kind: 'channel', limit } });
  return {
    total: page.total,
    hits: page.items.map((c) => ({
      node: { id: c.id, deviceId: c.deviceId, kind: 'channel', name: c.name, online: 0, total: 0, hasChildren: false, status: c.status },
      path: [],
    })),
  };
}

export function getChannel(id: string): Promise<Channel> {
  return api<Channel>(`/api/channels/${encodeURIComponent(id)}`);
}

export function listChannels(query: { deviceId?: string; parentId?: string; kind?: string; status?: string; limit?: number }): Promise<Page<Channel>> {
  return api<Page<Channel>>('/api/channels', { query });
}

// ---- views

export interface ViewInput {
  name: string;
  shared?: boolean;
  hotkey?: number | null;
  layout: WallLayout;
}

export function listViews(): Promise<Page<SavedView>> {
  return api<Page<SavedView>>('/api/views', { query: { limit: 1000 } });
}

export function createView(input: ViewInput): Promise<SavedView> {
  return api<SavedView>('/api/views', { method: 'POST', body: input });
}

export function updateView(id: string, input: ViewInput): Promise<SavedView> {
  return api<SavedView>(`/api/views/${id}`, { method: 'PUT', body: input });
}

export function deleteView(id: string): Promise<void> {
  return api<void>(`/api/views/${id}`, { method: 'DELETE' });
}

// ---- tours

export type TourInput = Pick<Tour, 'name' | 'shared' | 'scope' | 'layoutKind' | 'steps'>;

export function listTours(): Promise<Page<Tour>> {
  return api<Page<Tour>>('/api/tours', { query: { limit: 1000 } });
}

export function createTour(input: TourInput): Promise<Tour> {
  return api<Tour>('/api/tours', { method: 'POST', body: input });
}

export function updateTour(id: string, input: TourInput): Promise<Tour> {
  return api<Tour>(`/api/tours/${id}`, { method: 'PUT', body: input });
}

export function deleteTour(id: string): Promise<void> {
  return api<void>(`/api/tours/${id}`, { method: 'DELETE' });
}

// ---- alarms, PTZ, snapshots

export function listAlarms(limit = 100): Promise<Page<AlarmEvent>> {
  return api<Page<AlarmEvent>>('/api/alarms', { query: { limit } });
}

export function acknowledgeAlarm(id: string, note: string | null): Promise<AlarmEvent> {
  return api<AlarmEvent>(`/api/alarms/${encodeURIComponent(id)}/ack`, { method: 'POST', body: { note } });
}

export function sendPtz(channelId: string, request: PtzRequest): Promise<{ sent: string[]; autoStopAfterMs: number | null }> {
  return api(`/api/channels/${encodeURIComponent(channelId)}/ptz`, { method: 'POST', body: request });
}

/** The camera an alarm should open: its source when that is a video channel, else the device's first channel. */
export async function channelOfAlarm(alarm: Pick<AlarmEvent, 'sourceId' | 'deviceId'>): Promise<string | null> {
  try {
    const source = await getChannel(alarm.sourceId);
    if (source.kind === 'channel') return source.id;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  const first = await listChannels({ deviceId: alarm.deviceId, kind: 'channel', limit: 1 });
  return first.items[0]?.id ?? null;
}

/** A JPEG of the channel (the route needs the bearer header, so no plain <img src>). */
export async function fetchSnapshot(channelId: string): Promise<Blob> {
  const token = currentToken();
  const response = await fetch(`/api/channels/${encodeURIComponent(channelId)}/snapshot`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    // The body travels with the error: its code is what the UI renders (errorText), its message is for logs.
    let body: ApiError['body'] = null;
    try {
      body = (await response.json()) as ApiError['body'];
      if (body?.message) message = body.message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, body, message);
  }
  return response.blob();
}
