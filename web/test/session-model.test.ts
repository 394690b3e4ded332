import { describe, expect, it } from 'vitest';
import type { ConsultationSession, Participant, WallLayout } from '../src/api/types';
import { applyServerMessage, display, kindFor, presenceOf, rollCallCandidates, shareableChannels } from '../src/components/session/session-model';

const CAM_A = '44030500001320000001';
const CAM_B = '44030500001320000002';
const TERMINAL = '44030500001320000099';

function participant(id: string, extra: Partial<Participant> = {}): Participant {
  return { id, name: `point ${id}`, username: null, terminalChannelId: null, presence: 'good', joinedAt: 1_000, leftAt: null, ...extra };
}

const chairLayout: WallLayout = { kind: '4', tiles: [{ channelId: CAM_A }, { channelId: CAM_B }, { channelId: null }, { channelId: null }], maximised: null };
const ownLayout: WallLayout = { kind: '1', tiles: [{ channelId: CAM_B }], maximised: null };

function session(extra: Partial<ConsultationSession> = {}): ConsultationSession {
  return {
    id: 's1',
    code: '123456',
    name: 'flood briefing',
    createdBy: 'admin',
    chair: 'chair',
    createdAt: 1_000,
    endedAt: null,
    sources: [CAM_A, CAM_B],
    layout: chairLayout,
    layoutSeq: 3,
    locked: false,
    rollCall: { participantId: null, cyclicDwellSec: null },
    participants: [participant('chair', { username: 'admin' }), participant('p1', { terminalChannelId: TERMINAL }), participant('p2')],
    ...extra,
  };
}

describe('session messages', () => {
  it('a layout message replaces the layout and its sequence; an older one is ignored', () => {
    const nine: WallLayout = { kind: '9', tiles: Array.from({ length: 9 }, () => ({ channelId: null })), maximised: null };
    const next = applyServerMessage(session(), { type: 'layout', data: { seq: 4, layout: nine, by: 'chair', at: 2_000 } });
    expect(next?.layout.kind).toBe('9');
    expect(next?.layoutSeq).toBe(4);
    const stale = applyServerMessage(next, { type: 'layout', data: { seq: 2, layout: chairLayout, by: 'chair', at: 1_500 } });
    expect(stale?.layout.kind).toBe('9');
  });

  it('presence, lock, roll call, chair and end update only what they name', () => {
    let s = applyServerMessage(session(), { type: 'presence', data: { participantId: 'p1', presence: 'poor', rttMs: 900 } });
    expect(s?.participants.map((p) => p.presence)).toEqual(['good', 'poor', 'good']);
    s = applyServerMessage(s, { type: 'lock', data: { locked: true } });
    expect(s?.locked).toBe(true);
    s = applyServerMessage(s, { type: 'roll-call', data: { participantId: 'p1', channelId: TERMINAL, cyclicDwellSec: 15 } });
    expect(s?.rollCall).toEqual({ participantId: 'p1', cyclicDwellSec: 15 });
    s = applyServerMessage(s, { type: 'chair', data: { participantId: 'p2' } });
    expect(s?.chair).toBe('p2');
    expect(s?.endedAt).toBeNull();
    s = applyServerMessage(s, { type: 'ended', data: {} });
    expect(s?.endedAt).not.toBeNull();
    // Ended: nobody is being called, everyone has left (the page's last picture says so).
    expect(s?.rollCall.participantId).toBeNull();
    expect(s?.participants.every((p) => p.presence === 'lost' && p.leftAt !== null)).toBe(true);
  });

  it('removed: the point leaves the list and the roll call, if it was being called', () => {
    let s = applyServerMessage(session(), { type: 'roll-call', data: { participantId: 'p1', channelId: TERMINAL, cyclicDwellSec: null } });
    s = applyServerMessage(s, { type: 'removed', data: { participantId: 'p1' } });
    expect(s?.participants.map((p) => p.id)).not.toContain('p1');
    expect(s?.rollCall.participantId).toBeNull();
  });

  it('a state message replaces everything, and nothing else applies before the first state', () => {
    expect(applyServerMessage(null, { type: 'lock', data: { locked: true } })).toBeNull();
    const fresh = session({ name: 'renamed' });
    expect(applyServerMessage(session(), { type: 'state', data: fresh })).toBe(fresh);
  });
});

describe('what a participant sees', () => {
  it('a point follows the chair by default and sees its own layout when watching freely', () => {
    expect(display({ session: session(), me: 'p1', mode: 'follow', ownLayout }).source).toBe('chair');
    const free = display({ session: session(), me: 'p1', mode: 'free', ownLayout });
    expect(free.source).toBe('own');
    expect(free.layout).toBe(ownLayout);
    expect(free.canEditLayout).toBe(true);
  });

  it('the lock brings a free point back to the chair and stops it from editing; the chair may still edit', () => {
    const locked = session({ locked: true });
    const point = display({ session: locked, me: 'p1', mode: 'free', ownLayout });
    expect(point.source).toBe('chair');
    expect(point.layout).toBe(chairLayout);
    expect(point.canEditLayout).toBe(false);
    const chair = display({ session: locked, me: 'chair', mode: 'follow', ownLayout: null });
    expect(chair.isChair).toBe(true);
    expect(chair.canEditLayout).toBe(true);
  });

  it('roll call shows the named point\'s terminal to everyone, even a point watching freely', () => {
    const rolled = session({ rollCall: { participantId: 'p1', cyclicDwellSec: null } });
    for (const me of ['chair', 'p1', 'p2']) {
      const seen = display({ session: rolled, me, mode: 'free', ownLayout });
      expect(seen.source).toBe('roll-call');
      expect(seen.layout.tiles).toEqual([{ channelId: TERMINAL }]);
      expect(seen.rollCall?.participant.id).toBe('p1');
    }
  });

  it('hand-over makes the new chair the editor of the shared layout', () => {
    const handed = applyServerMessage(session(), { type: 'chair', data: { participantId: 'p1' } })!;
    expect(display({ session: handed, me: 'p1', mode: 'follow', ownLayout: null }).isChair).toBe(true);
    expect(display({ session: handed, me: 'chair', mode: 'follow', ownLayout: null }).isChair).toBe(false);
  });
});

describe('helpers', () => {
  it('roll-call candidates are present points with a terminal; shareable feeds add terminals after the sources', () => {
    const s = session({ participants: [...session().participants, participant('p3', { terminalChannelId: CAM_A, leftAt: 5_000 })] });
    expect(rollCallCandidates(s).map((p) => p.id)).toEqual(['p1']);
    expect(shareableChannels(s)).toEqual([CAM_A, CAM_B, TERMINAL]);
  });

  it('a point that has left shows as lost', () => {
    expect(presenceOf(participant('x', { presence: 'good', leftAt: 2_000 }))).toBe('lost');
    expect(presenceOf(participant('x', { presence: 'poor' }))).toBe('poor');
  });

  it('a new session\'s layout is the smallest that shows every shared feed', () => {
    expect([0, 1, 2, 4, 5, 6, 7, 9, 10, 16, 17, 40].map(kindFor)).toEqual(['1', '1', '4', '4', '1+5', '1+5', '9', '9', '16', '16', '25', '25']);
  });
});
