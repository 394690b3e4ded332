/**
 * Revocable media access (domain/streams/media-grants.ts): which grant a caller plays under, what revoking
 * one refuses (released viewers too), prefix revocation of a whole session, and forgetting after expiry.
 */
import { describe, expect, it } from 'vitest';
import { grantMatches, grantOf, loginGrant, MediaGrants, sessionGrant } from '../../src/domain/streams/media-grants.js';
import type { Principal } from '../../src/domain/services.js';

describe('media grants', () => {
  it('a guest plays under its session and participant, a signed-in user under its login, a static token under none', () => {
    const guest: Principal = { kind: 'session-guest', username: 'guest:p1', role: 'viewer', sessionId: 's1', participantId: 'p1' };
    expect(grantOf(guest, 'sg_x')).toBe('session:s1:p1');
    const user: Principal = { kind: 'session', username: 'op', role: 'operator' };
    expect(grantOf(user, 'tok')).toBe(loginGrant('tok'));
    expect(loginGrant('tok')).not.toContain('tok');
    expect(grantOf({ kind: 'static-token', username: 'api-token', role: 'admin' }, 'x')).toBeNull();
  });

  it('a session prefix revokes every point of that session and no other', () => {
    expect(grantMatches('session:s1:p1', sessionGrant('s1'))).toBe(true);
    expect(grantMatches('session:s10:p1', sessionGrant('s1'))).toBe(false);
    expect(grantMatches('session:s1:p1', sessionGrant('s1', 'p2'))).toBe(false);
    expect(grantMatches('session:s1:p1', sessionGrant('s1', 'p1'))).toBe(true);
  });

  it('revoking refuses issued viewers (released ones too), tells listeners, and forgets them after expiry', () => {
    let now = 1_000;
    const grants = new MediaGrants(() => now);
    grants.issue('v1', 'session:s1:p1', 5_000);
    grants.issue('v2', 'session:s1:p2', 5_000);
    grants.issue('v3', 'session:s2:p1', 5_000);
    const heard: string[] = [];
    grants.on('revoked', (g) => heard.push(g));
    grants.revoke(sessionGrant('s1'));
    expect(['v1', 'v2', 'v3'].map((v) => grants.isRevoked(v))).toEqual([true, true, false]);
    expect(heard).toEqual(['session:s1:']);
    now = 5_000;
    grants.prune();
    expect(grants.size).toBe(0);
    expect(grants.isRevoked('v1')).toBe(false);
  });
});
