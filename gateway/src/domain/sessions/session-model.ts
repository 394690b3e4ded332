/**
 * Consultation sessions (视频会商): the shapes the API and the session WebSocket exchange (a contract with the
 * web client), and what is stored through the records port.
 */
import type { WallLayout } from '../views/layout.js';

export type Presence = 'good' | 'poor' | 'lost';

export interface Participant {
  id: string;
  name: string;
  /** The user who joined with a bearer token; null for a guest who joined with the code. */
  username: string | null;
  /** The point's own conference terminal, registered as a channel; null when it has none. */
  terminalChannelId: string | null;
  presence: Presence;
  /** First join. */
  joinedAt: number;
  /** When its last connection went away; null while connected (or joined and not yet connected). */
  leftAt: number | null;
}

export interface RollCall {
  /** The participant whose terminal everyone sees, or null. */
  participantId: string | null;
  /** Cyclic roll call: seconds per participant; null = a single roll call (or none). */
  cyclicDwellSec: number | null;
}

export interface Session {
  id: string;
  /** 6 digits, unique among active sessions; points join with it. */
  code: string;
  name: string;
  /** Username of the creator. */
  createdBy: string;
  /** Participant ID of the chair. */
  chair: string;
  createdAt: number;
  endedAt: number | null;
  /** Channel IDs shared in the session (cameras and points' terminals). */
  sources: string[];
  layout: WallLayout;
  /** Increases by one with every layout change (the first layout is 1). */
  layoutSeq: number;
  /** Followers should not browse freely (the UI's business; the server only relays it). */
  locked: boolean;
  rollCall: RollCall;
  participants: Participant[];
}

export interface LayoutChange {
  seq: number;
  layout: WallLayout;
  /** Participant ID of the chair who made the change. */
  by: string;
  at: number;
}

export interface AttendanceEntry {
  participantId: string;
  name: string;
  joinedAt: number;
  leftAt: number | null;
}

// ---- WebSocket messages, server → client. `state` goes to one socket on connect and to all after
// participant changes; the others go to every socket of the session.

export interface PresenceChange {
  participantId: string;
  presence: Presence;
  /** Latest round-trip time measured for the participant, or null when none yet. */
  rttMs: number | null;
}

export interface RollCallChange {
  participantId: string | null;
  /** The called participant's terminal channel (what to show), or null. */
  channelId: string | null;
  cyclicDwellSec: number | null;
}

export type SessionEvent =
  | { sessionId: string; type: 'state'; data: Session }
  | { sessionId: string; type: 'layout'; data: LayoutChange }
  | { sessionId: string; type: 'presence'; data: PresenceChange }
  | { sessionId: string; type: 'lock'; data: { locked: boolean } }
  | { sessionId: string; type: 'roll-call'; data: RollCallChange }
  | { sessionId: string; type: 'chair'; data: { participantId: string } }
  | { sessionId: string; type: 'removed'; data: { participantId: string } }
  | { sessionId: string; type: 'ended'; data: Record<string, never> };

export type SessionEventType = SessionEvent['type'];

/** Answers to one client that sent a message: `pong` to a ping, `error` to a refused or malformed one. */
export type SessionReply =
  | { type: 'pong'; data: { t: number } }
  | { type: 'error'; data: { message: string; code: string; params?: Record<string, string | number> } };

// ---- stored records (collections of the records port)

export type SessionRecord = Omit<Session, 'participants'>;

export interface ParticipantRecord extends Omit<Participant, 'presence'> {
  sessionId: string;
}

export interface AttendanceRecord extends AttendanceEntry {
  id: string;
  sessionId: string;
}

export interface LayoutRecord extends LayoutChange {
  /** `${sessionId}:${seq as 10 digits}`. */
  id: string;
  sessionId: string;
}

export interface GuestTokenRecord {
  /** SHA-256 of the token (hex): a leaked database yields no usable token. */
  id: string;
  sessionId: string;
  participantId: string;
  expiresAt: number;
}

export const COLLECTIONS = {
  sessions: 'sessions',
  participants: 'session_participants',
  attendance: 'session_attendance',
  layouts: 'session_layouts',
  guestTokens: 'session_guest_tokens',
} as const;
