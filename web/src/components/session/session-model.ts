/**
 * What a session page shows, as pure functions of the server's session state and this participant's own
 * choices — so the rules (follow the chair or watch freely, the chair's lock, roll call over everything)
 * are unit-tested apart from the page (web/test/session-model.test.ts).
 *
 * The server is the authority: it sends the full session on connect (`state`) and every change as a small
 * message; `applyServerMessage` folds those into the session the page renders.
 */
import type { ConsultationSession, LayoutKind, Participant, Presence, WallLayout } from '../../api/types';

export interface LayoutMessage {
  seq: number;
  layout: WallLayout;
  by: string;
  at: number;
}

export interface PresenceMessage {
  participantId: string;
  presence: Presence;
  rttMs: number | null;
}

export interface RollCallMessage {
  participantId: string | null;
  channelId: string | null;
  cyclicDwellSec: number | null;
}

export type ServerMessage =
  | { type: 'state'; data: ConsultationSession }
  | { type: 'layout'; data: LayoutMessage }
  | { type: 'presence'; data: PresenceMessage }
  | { type: 'lock'; data: { locked: boolean } }
  | { type: 'roll-call'; data: RollCallMessage }
  | { type: 'chair'; data: { participantId: string } }
  | { type: 'removed'; data: { participantId: string } }
  | { type: 'ended'; data: Record<string, never> };

/** The session after one server message (a new object; the input is not changed). */
export function applyServerMessage(session: ConsultationSession | null, message: ServerMessage): ConsultationSession | null {
  if (message.type === 'state') return message.data;
  if (!session) return session;
  switch (message.type) {
    case 'layout':
      // Messages can only arrive in order on one socket, but a `state` sent after a reconnect may already
      // carry a newer layout than a message still in flight from before: never go back.
      if (message.data.seq < session.layoutSeq) return session;
      return { ...session, layout: message.data.layout, layoutSeq: message.data.seq };
    case 'presence':
      return {
        ...session,
        participants: session.participants.map((p) => (p.id === message.data.participantId ? { ...p, presence: message.data.presence } : p)),
      };
    case 'lock':
      return { ...session, locked: message.data.locked };
    case 'roll-call':
      return { ...session, rollCall: { participantId: message.data.participantId, cyclicDwellSec: message.data.cyclicDwellSec } };
    case 'chair':
      return { ...session, chair: message.data.participantId };
    case 'removed': {
      // The chair removed a point: it is gone from the list, and from the roll call if it was being shown.
      const rollCall = session.rollCall.participantId === message.data.participantId ? { ...session.rollCall, participantId: null } : session.rollCall;
      return { ...session, rollCall, participants: session.participants.filter((p) => p.id !== message.data.participantId) };
    }
    case 'ended': {
      // Everyone has left and nothing is being called any more: the last picture must not say otherwise.
      const at = session.endedAt ?? Date.now();
      return {
        ...session,
        endedAt: at,
        rollCall: { participantId: null, cyclicDwellSec: null },
        participants: session.participants.map((p) => ({ ...p, presence: 'lost' as const, leftAt: p.leftAt ?? at })),
      };
    }
  }
}

/** 'follow': show the chair's layout as it changes; 'free': this point's own layout (unless locked). */
export type WatchMode = 'follow' | 'free';

export interface DisplayInput {
  session: ConsultationSession;
  me: string | null;
  mode: WatchMode;
  /** This point's own layout while it watches freely. */
  ownLayout: WallLayout | null;
}

export interface RollCallView {
  participant: Participant;
  channelId: string | null;
  cyclicDwellSec: number | null;
}

export interface Display {
  layout: WallLayout;
  /** Whose layout is shown. */
  source: 'chair' | 'own' | 'roll-call';
  rollCall: RollCallView | null;
  isChair: boolean;
  /** May this participant change what it sees (the chair always; a point unless locked). */
  canEditLayout: boolean;
}

export function isChair(session: ConsultationSession, me: string | null): boolean {
  return me !== null && session.chair === me;
}

export function rollCallOf(session: ConsultationSession): RollCallView | null {
  const id = session.rollCall.participantId;
  if (!id) return null;
  const participant = session.participants.find((p) => p.id === id);
  if (!participant) return null;
  return { participant, channelId: participant.terminalChannelId, cyclicDwellSec: session.rollCall.cyclicDwellSec };
}

export function display({ session, me, mode, ownLayout }: DisplayInput): Display {
  const chair = isChair(session, me);
  const canEditLayout = chair || !session.locked;
  const rollCall = rollCallOf(session);
  if (rollCall) {
    // Roll call shows the named point's terminal to everyone, whatever they were watching.
    return { layout: { kind: '1', tiles: [{ channelId: rollCall.channelId }], maximised: null }, source: 'roll-call', rollCall, isChair: chair, canEditLayout };
  }
  if (!chair && mode === 'free' && !session.locked && ownLayout) {
    return { layout: ownLayout, source: 'own', rollCall: null, isChair: chair, canEditLayout };
  }
  return { layout: session.layout, source: 'chair', rollCall: null, isChair: chair, canEditLayout };
}

/** Who can be rolled: points that are still in the session and have a terminal to show. */
export function rollCallCandidates(session: ConsultationSession): Participant[] {
  return session.participants.filter((p) => p.leftAt === null && p.terminalChannelId !== null);
}

/** The channels a tile may show: the session's shared sources, then the points' terminals. */
export function shareableChannels(session: ConsultationSession): string[] {
  const ids = [...session.sources];
  for (const p of session.participants) if (p.terminalChannelId && !ids.includes(p.terminalChannelId)) ids.push(p.terminalChannelId);
  return ids;
}

/** Presence shown for a participant: one that has left is lost whatever its last reading. */
export function presenceOf(participant: Participant): Presence {
  return participant.leftAt !== null ? 'lost' : participant.presence;
}

/** The smallest standard layout that shows `n` feeds at once (a new session shows all it shares, up to 25). */
export function kindFor(n: number): LayoutKind {
  if (n <= 1) return '1';
  if (n <= 4) return '4';
  if (n <= 6) return '1+5';
  if (n <= 9) return '9';
  if (n <= 16) return '16';
  return '25';
}
