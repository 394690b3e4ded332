/**
 * One participant's live connection to a session: the session WebSocket (LiveSocket: reconnects with
 * back-off, exposes its state), the session as the server last described it, a ping every few seconds
 * carrying the last measured round trip (the server grades presence from it; the page shows it too), and the
 * chair's commands.
 */
import { ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue';
import { LiveSocket, socketUrl, type SocketState } from '../../api/event-socket';
import { currentToken } from '../../api/http';
import type { ConsultationSession, WallLayout } from '../../api/types';
import { applyServerMessage, type ServerMessage } from './session-model';
import { i18n } from '../../i18n';

const PING_INTERVAL_MS = 2_000;

export interface SessionLive {
  session: ShallowRef<ConsultationSession | null>;
  state: Ref<SocketState>;
  rttMs: Ref<number | null>;
  /** The latest error the server answered a command with, as `{ key, params }` for errorText. */
  lastError: Ref<{ key: string; params?: Record<string, string | number> } | null>;
  /** The chair removed this participant: the socket closes and its video stops (the server revoked it). */
  removed: Ref<boolean>;
  /** Set when the chair's `layout` message arrived (Date.now()), for the page's own "updated" hint. */
  layoutReceivedAt: Ref<number | null>;
  sendLayout(layout: WallLayout): boolean;
  setLocked(locked: boolean): boolean;
  rollCall(participantId: string | null, cyclicDwellSec?: number | null): boolean;
  handOver(participantId: string): boolean;
  remove(participantId: string): boolean;
  close(): void;
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const SERVER_TYPES = ['state', 'layout', 'presence', 'lock', 'roll-call', 'chair', 'removed', 'ended'] as const;

export function connectSession(sessionId: string, participantId: string, initial: ConsultationSession | null): SessionLive {
  const session = shallowRef<ConsultationSession | null>(initial);
  const rttMs = ref<number | null>(null);
  const lastError = ref<{ key: string; params?: Record<string, string | number> } | null>(null);
  const layoutReceivedAt = ref<number | null>(null);
  const removed = ref(false);
  const socket = new LiveSocket(() => {
    const token = currentToken();
    return token ? socketUrl(`/api/sessions/${encodeURIComponent(sessionId)}/ws`, { token, participant: participantId }) : null;
  });
  for (const type of SERVER_TYPES) {
    socket.on(type, (data) => {
      if (type === 'layout') layoutReceivedAt.value = Date.now();
      session.value = applyServerMessage(session.value, { type, data } as ServerMessage);
      if (type === 'ended') stopPinging();
      if (type === 'removed' && (data as { participantId?: unknown }).participantId === participantId) {
        removed.value = true;
        stopPinging();
        socket.close();
      }
    });
  }
  // The reported round trip is the median of the last three: one late pong (this page's own event loop
  // busy for a moment) must not flip the point to 'poor' and back, which every other page then re-renders.
  let samples: number[] = [];
  socket.on('pong', (data) => {
    const sent = (data as { t?: unknown }).t;
    if (typeof sent !== 'number') return;
    samples = [...samples.slice(-2), Math.max(0, Date.now() - sent)];
    rttMs.value = medianOf(samples);
  });
  socket.on('error', (data) => {
    // The gateway's code and params (gateway/src/api/errors.ts), said in the page's language; never its English.
    const { code, params } = data as { code?: unknown; params?: Record<string, string | number> };
    const key = typeof code === 'string' && i18n.global.te(`error.${code}`) ? `error.${code}` : 'error.unknown';
    lastError.value = { key, params: { status: '-', ...(params ?? {}) } };
  });

  // The server grades presence from the round trip the client reports with its next ping.
  const ping = (): void => {
    socket.send('ping', rttMs.value === null ? { t: Date.now() } : { t: Date.now(), rttMs: rttMs.value });
  };
  let pinger: ReturnType<typeof setInterval> | null = setInterval(ping, PING_INTERVAL_MS);
  // A fresh connection measures afresh at once, so presence is right within one round trip.
  const stopWatching = watch(socket.connectedAt, () => {
    rttMs.value = null;
    samples = [];
    ping();
  });
  function stopPinging(): void {
    if (pinger) clearInterval(pinger);
    pinger = null;
  }

  return {
    session,
    state: socket.state,
    rttMs,
    lastError,
    removed,
    layoutReceivedAt,
    sendLayout(layout) {
      const current = session.value;
      if (!socket.send('layout', layout)) return false;
      // The chair sees its own change at once; the server's echo (or the next `state`) confirms it.
      if (current) session.value = { ...current, layout };
      return true;
    },
    setLocked(locked) {
      return socket.send('lock', { locked });
    },
    rollCall(participantId, cyclicDwellSec = null) {
      return socket.send('roll-call', { participantId, cyclicDwellSec });
    },
    handOver(participantId) {
      return socket.send('hand-over', { participantId });
    },
    remove(participantId) {
      return socket.send('remove', { participantId });
    },
    close() {
      stopWatching();
      stopPinging();
      socket.close();
    },
  };
}
