/** REST calls of the consultation-session screens (gateway/src/api/routes/sessions.ts). */
import { api } from '../../api/http';
import type { Channel, ConsultationSession, Page, WallLayout } from '../../api/types';

export interface JoinResult {
  participantId: string;
  session: ConsultationSession;
}

export interface GuestJoinResult extends JoinResult {
  token: string;
}

/** A channel chosen to share, with the name it was found under. */
export interface PickedSource {
  id: string;
  name: string;
}

export interface AttendanceEntry {
  participantId: string;
  name: string;
  joinedAt: number;
  leftAt: number | null;
}

export const sessionApi = {
  /** A guest leaves for good: the gateway voids its token and media at once (a 401 after that is expected). */
  leave: (id: string) => api<{ left: boolean }>(`/api/sessions/${encodeURIComponent(id)}/leave`, { method: 'POST', body: {}, keepSignedIn: true }),
  listActive: (signal?: AbortSignal) => api<Page<ConsultationSession>>('/api/sessions', { query: { active: true }, signal }),
  get: (id: string) => api<ConsultationSession>(`/api/sessions/${encodeURIComponent(id)}`),
  create: (body: { name: string; sources: string[]; layout?: WallLayout }) => api<ConsultationSession>('/api/sessions', { body }),
  end: (id: string) => api<unknown>(`/api/sessions/${encodeURIComponent(id)}/end`, { method: 'POST', body: {} }),
  join: (id: string, body: { name?: string; terminalChannelId?: string }) => api<JoinResult>(`/api/sessions/${encodeURIComponent(id)}/join`, { body }),
  joinWithCode: (body: { code: string; name: string; terminalChannelId?: string }) =>
    api<GuestJoinResult>('/api/sessions/join', { body, anonymous: true }),
  attendance: (id: string) => api<Page<AttendanceEntry>>(`/api/sessions/${encodeURIComponent(id)}/attendance`, { query: { limit: 1000 } }),
  searchChannels: (q: string, signal?: AbortSignal) => api<Page<Channel>>('/api/channels', { query: { q, kind: 'channel', limit: 50 }, signal }),
  channel: (id: string) => api<Channel>(`/api/channels/${encodeURIComponent(id)}`),
};

/**
 * Which participant this browser tab is in a session as. A signed-in user's participant id comes from
 * creating or joining; it is kept per tab (sessionStorage) so a reload rejoins as the same participant
 * instead of adding a new one, while a second tab joins as another point.
 */
const participantKey = (sessionId: string): string => `sharp-eyes.session.${sessionId}.participant`;

export function rememberParticipant(sessionId: string, participantId: string): void {
  sessionStorage.setItem(participantKey(sessionId), participantId);
}

export function rememberedParticipant(sessionId: string): string | null {
  return sessionStorage.getItem(participantKey(sessionId));
}

export function forgetParticipant(sessionId: string): void {
  sessionStorage.removeItem(participantKey(sessionId));
}
