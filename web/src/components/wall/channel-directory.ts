/**
 * What the wall knows about the cameras it shows: name, device, status and since when. Learnt from tree
 * nodes (cheap, no time), from GET /api/channels/:id (with statusChangedAt), and kept current by the event
 * socket (channel-status, device-status). Tiles read it to say "offline since 14:05" without asking the
 * gateway, tours read it to skip offline cameras. After a reconnect everything known is fetched again: the
 * socket may have missed changes while it was down.
 */
import { reactive, watch } from 'vue';
import type { Channel, OnlineStatus } from '../../api/types';
import { gatewayEvents } from '../../composables/gateway-events';
import { getChannel, type WallTreeNode } from './wall-api';

export interface ChannelInfo {
  id: string;
  name: string;
  deviceId: string;
  status: OnlineStatus | 'unknown';
  /** When the status last changed (epoch ms); null when only the tree told us. */
  since: number | null;
  /** GB PTZType: 1 dome, 2 half-dome, 3 fixed, 4 remote-controlled fixed; null unknown. */
  ptzType: number | null;
  /** The channel does not exist (any more). */
  missing: boolean;
}

const entries = reactive(new Map<string, ChannelInfo>());
const inFlight = new Map<string, Promise<void>>();
/** The event socket the directory listens to (signing out and in again opens a new one). */
let wiredTo: ReturnType<typeof gatewayEvents> | null = null;

function upsert(id: string, patch: Partial<ChannelInfo>): void {
  const known = entries.get(id);
  if (known) Object.assign(known, patch);
  else entries.set(id, { id, name: '', deviceId: '', status: 'unknown', since: null, ptzType: null, missing: false, ...patch });
}

function fromChannel(c: Channel): void {
  upsert(c.id, { name: c.name, deviceId: c.deviceId, status: c.status, since: c.statusChangedAt || null, ptzType: c.ptzType, missing: false });
}

function wire(): void {
  const socket = gatewayEvents();
  if (socket === wiredTo) return;
  wiredTo = socket;
  socket.on('channel-status', (data) => {
    const change = data as { channelIds: string[]; status: OnlineStatus; at: number };
    for (const id of change.channelIds ?? []) if (entries.has(id)) upsert(id, { status: change.status, since: change.at });
  });
  socket.on('device-status', (data) => {
    const change = data as { deviceId: string; status: OnlineStatus; at: number };
    // An offline device takes all its channels down; coming back, each channel's own status follows on channel-status.
    if (change.status !== 'offline') return;
    for (const info of entries.values()) {
      if (info.deviceId === change.deviceId && info.status !== 'offline') Object.assign(info, { status: 'offline', since: change.at });
    }
  });
  watch(socket.connectedAt, (at, before) => {
    if (at !== null && before !== null) refreshAll();
  });
}

function refreshAll(): void {
  for (const id of entries.keys()) void load(id, true);
}

function load(id: string, force = false): Promise<void> {
  const running = inFlight.get(id);
  if (running) return running;
  const known = entries.get(id);
  if (!force && known && known.since !== null) return Promise.resolve();
  const task = getChannel(id)
    .then(fromChannel)
    .catch((err: unknown) => {
      if ((err as { status?: number }).status === 404) upsert(id, { missing: true });
    })
    .finally(() => inFlight.delete(id));
  inFlight.set(id, task);
  return task;
}

export const channelDirectory = {
  get(id: string | null | undefined): ChannelInfo | undefined {
    wire();
    return id ? entries.get(id) : undefined;
  },
  /** Make sure the full record (with since) is loaded; cheap when it is. */
  ensure(id: string): Promise<void> {
    wire();
    return load(id);
  },
  learnNode(node: WallTreeNode): void {
    if (node.kind !== 'channel' || !node.status) return;
    const known = entries.get(node.id);
    // The tree has no time: keep a known since unless the status itself changed.
    if (known && known.status === node.status) {
      if (!known.name) known.name = node.name;
      return;
    }
    upsert(node.id, { name: node.name, deviceId: node.deviceId, status: node.status, since: known?.status === node.status ? known.since : null });
  },
  learnChannel: fromChannel,
  /** Known online, or not known to be offline (a tour must not stall on cameras it has not heard of). */
  usable(id: string): boolean {
    const info = entries.get(id);
    return !info || (info.status !== 'offline' && !info.missing);
  },
  label(id: string | null | undefined): string {
    if (!id) return '';
    const info = entries.get(id);
    return info?.name || id;
  },
};
