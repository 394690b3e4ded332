/**
 * Who is signed in. The bearer token lives in localStorage so a reload (or a wall PC restarting its
 * browser) keeps the operator signed in until the token expires; a 401 from any call signs out.
 * A consultation point that joined with a code holds a guest token scoped to one session.
 */
import { computed, reactive } from 'vue';
import { api, configureHttp } from '../api/http';
import type { LoginResult, UserRole } from '../api/types';

export interface SignedIn {
  token: string;
  expiresAt: number | null;
  username: string;
  role: UserRole | 'guest';
  /** Guest tokens only: the session (and participant) the token was issued for. */
  sessionId?: string;
  participantId?: string;
  /** A wall PC signed in with a kiosk device token (#/kiosk): it only ever shows the kiosk wall. */
  kiosk?: boolean;
}

const STORAGE_KEY = 'sharp-eyes.auth';

function load(): SignedIn | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as SignedIn;
    if (value.expiresAt !== null && value.expiresAt < Date.now()) return null;
    return value;
  } catch {
    return null;
  }
}

const state = reactive<{ current: SignedIn | null }>({ current: load() });

function save(value: SignedIn | null): void {
  state.current = value;
  if (value) localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  else localStorage.removeItem(STORAGE_KEY);
}

configureHttp({ token: () => state.current?.token ?? null, onUnauthorised: () => save(null) });

export const auth = {
  state,
  signedIn: computed(() => state.current !== null),
  isGuest: computed(() => state.current?.role === 'guest'),
  async login(username: string, password: string): Promise<void> {
    const result = await api<LoginResult>('/api/auth/login', { body: { username, password }, anonymous: true });
    save({ token: result.token, expiresAt: result.expiresAt, username: result.user.username, role: result.user.role });
  },
  /** Adopt a token obtained elsewhere (joining a session with a code). */
  adopt(value: SignedIn): void {
    save(value);
  },
  async logout(): Promise<void> {
    if (state.current && state.current.role !== 'guest') {
      await api('/api/auth/logout', { method: 'POST' }).catch(() => undefined);
    }
    save(null);
  },
};
