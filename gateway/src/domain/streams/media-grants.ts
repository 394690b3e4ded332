/**
 * Revocable media access. A media token is signed for (stream, viewer) and stays valid until it expires; the
 * viewer it names also carries a *grant* — who opened it, e.g. `session:<sessionId>:<participantId>` for a
 * point that joined a consultation with its code, `login:<token hash>` for a signed-in user. When that right
 * ends (the session ends, the chair removes the point, the user signs out) the grant is revoked: its viewers
 * are released, their tokens refused from then on (403 on /media and on the media WebSocket), and the media
 * WebSockets opened with it are closed — at once, not when the token expires or the player stops polling.
 *
 * Every viewer opened under a grant is remembered (with its grant) until its tokens would have expired anyway
 * — also after the player released it, since a released viewer's URL still verifies — so the table is bounded
 * by the plays made within one token lifetime.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Principal } from '../services.js';

/** Revoking `session:<id>:` (trailing colon) revokes every grant of that session; otherwise exact. */
export function grantMatches(grant: string, revoked: string): boolean {
  return grant === revoked || (revoked.endsWith(':') && grant.startsWith(revoked));
}

export const sessionGrant = (sessionId: string, participantId?: string): string => `session:${sessionId}:${participantId ?? ''}`;
/** A signed-in user's login token, by its hash (the token itself is never kept). */
export const loginGrant = (token: string): string => `login:${createHash('sha256').update(token).digest('hex')}`;

/** The grant a play by this caller is held under; null for static API tokens (automation: not revocable here). */
export function grantOf(principal: Principal, bearerToken: string | null): string | null {
  if (principal.kind === 'session-guest') return principal.sessionId && principal.participantId ? sessionGrant(principal.sessionId, principal.participantId) : null;
  if (principal.kind === 'session' && bearerToken !== null) return loginGrant(bearerToken);
  return null;
}

interface IssuedViewer {
  grant: string;
  /** Epoch ms: its tokens have expired by then. */
  forgetAt: number;
  revoked: boolean;
}

export class MediaGrants extends EventEmitter<{ revoked: [string] }> {
  private readonly issued = new Map<string, IssuedViewer>();

  constructor(private readonly now: () => number = Date.now) {
    super();
    // Every media WebSocket listens; more than the default 10 is normal.
    this.setMaxListeners(0);
  }

  /** A viewer was opened under `grant`; its tokens expire by `forgetAt`. */
  issue(viewerId: string, grant: string, forgetAt: number): void {
    this.issued.set(viewerId, { grant, forgetAt, revoked: false });
  }

  /** Refuse the tokens of every viewer issued under a matching grant (released ones too); tell the sockets. */
  revoke(grant: string): void {
    for (const viewer of this.issued.values()) if (grantMatches(viewer.grant, grant)) viewer.revoked = true;
    this.emit('revoked', grant);
  }

  isRevoked(viewerId: string): boolean {
    return this.issued.get(viewerId)?.revoked === true;
  }

  /** Forget viewers whose tokens have expired (called from the stream sweep). */
  prune(): void {
    const at = this.now();
    for (const [viewerId, viewer] of this.issued) if (viewer.forgetAt <= at) this.issued.delete(viewerId);
  }

  get size(): number {
    return this.issued.size;
  }
}
