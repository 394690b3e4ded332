/**
 * The one place the UI talks HTTP to the gateway: adds the bearer token, turns error bodies into
 * `ApiError` (with the gateway's message, failing step and hint), and signs the user out on 401.
 */
import type { PlayErrorBody } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: PlayErrorBody | null,
    message: string,
  ) {
    super(message);
  }
}

type TokenSource = () => string | null;
type UnauthorisedHandler = () => void;

let tokenSource: TokenSource = () => null;
let onUnauthorised: UnauthorisedHandler = () => undefined;

export function configureHttp(options: { token: TokenSource; onUnauthorised: UnauthorisedHandler }): void {
  tokenSource = options.token;
  onUnauthorised = options.onUnauthorised;
}

export function currentToken(): string | null {
  return tokenSource();
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  /** Do not sign out on 401 (the login form itself). */
  anonymous?: boolean;
  /**
   * Send the token but do not sign out on 401: releasing a viewer after a consultation ended or the point was
   * removed (the gateway revoked the guest token and released the viewer itself; the page must keep showing
   * "the session has ended", not the sign-in page).
   */
  keepSignedIn?: boolean;
}

export function withQuery(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = options.anonymous ? null : tokenSource();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(withQuery(path, options.query), {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    if (response.status === 401 && !options.anonymous && !options.keepSignedIn) onUnauthorised();
    const body = (parsed && typeof parsed === 'object' ? parsed : null) as PlayErrorBody | null;
    throw new ApiError(response.status, body, body?.message ?? `${response.status} ${response.statusText}`);
  }
  return parsed as T;
}
