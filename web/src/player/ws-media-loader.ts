/**
 * hls.js loader that fetches playlists and segments over ONE WebSocket per page (GET /api/media/ws), so a
 * wall of 25 tiles is not throttled by the browser's six HTTP/1.1 connections per origin.
 *
 * Why: every tile polls its playlist once a second and fetches a segment once a second. Over HTTP/1.1 the
 * browser queues all of that behind six connections per origin, shared with the API calls (the plays are
 * long requests: the gateway answers once the stream is playable): 25 tiles need ~50 requests a second, and a
 * slow segment or a pending play holds a connection while the other tiles' playlists wait, so tiles start
 * late and stutter. The alternatives:
 * - HTTP/2 multiplexes everything over one connection, but browsers speak it only over TLS. When the gateway
 *   is configured with a certificate (http.tls) and the page arrived over h2, this loader is not used at all:
 *   hls.js's own loader is (see mediaLoaderConfig).
 * - More origins (media1.…, media2.… sub-domains) need DNS and certificates a command centre's LAN rarely has.
 * - A WebSocket is one TCP connection that browsers do not count against the six, works on plain http://, and
 *   the gateway already speaks it. Requests are small JSON text messages `{ id, path }` carrying the signed
 *   media path (the same `/media/<token>/<file>` hls.js would GET; the gateway resolves it with the same code
 *   as the /media route); each answer is one binary message: u32 id, u16 status, u8 content-type length, the
 *   content type, the body. `{ cancel: id }` abandons a request. At most MAX_IN_FLIGHT requests are on the wire
 *   (the gateway refuses more with 429); the rest wait here.
 * Cost of the choice: an answer arrives as one message, so a large segment delays the answers behind it on
 * the same socket (sub-streams are ~64 KB a segment: microseconds on a LAN), and there is no progress event.
 * The tiles' plays and releases ride on the same socket (pageApi): a play waits ~1 s for its stream, and 25 of
 * them behind six HTTP/1.1 connections would start the last tile seconds late.
 * When the socket is down (not yet open after a wait, refused, lost), requests go over plain fetch() — the page
 * keeps playing, just under the browser's connection limit — and the socket is tried again with back-off.
 */
import type { HlsConfig, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats, RetryConfig } from 'hls.js';
import { socketUrl } from '../api/event-socket';
import { ApiError, api, currentToken, withQuery, type RequestOptions } from '../api/http';
import type { PlayErrorBody } from '../api/types';

/** How media is fetched: `auto` = the socket, unless the page itself came over HTTP/2. */
export type MediaTransport = 'auto' | 'mux' | 'http';

/**
 * `localStorage['sharp-eyes.media-transport']` = 'mux' | 'http' overrides the choice on a wall PC (to rule the
 * socket in or out when a site's proxy misbehaves; the 25-tile benchmark compares the two this way).
 */
const TRANSPORT_STORAGE_KEY = 'sharp-eyes.media-transport';

function storedPreference(): MediaTransport {
  try {
    const value = typeof localStorage === 'undefined' ? null : localStorage.getItem(TRANSPORT_STORAGE_KEY);
    return value === 'mux' || value === 'http' ? value : 'auto';
  } catch {
    return 'auto';
  }
}

let preference: MediaTransport = storedPreference();

/** Force a transport (benchmarks compare them; `http` is hls.js's own loader). */
export function setMediaTransport(transport: MediaTransport): void {
  preference = transport;
}

/** The page was loaded over HTTP/2: hls.js's requests are multiplexed on its connection already. */
export function pageIsHttp2(): boolean {
  if (typeof performance === 'undefined' || typeof performance.getEntriesByType !== 'function') return false;
  const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  return navigation?.nextHopProtocol === 'h2';
}

/** Whether this page fetches media (and sends its plays) over the media socket. */
function usesSocket(): boolean {
  return preference === 'mux' || (preference === 'auto' && !pageIsHttp2());
}

/** The hls.js config fragment that selects the loader for this page. */
export function mediaLoaderConfig(): Partial<HlsConfig> {
  return usesSocket() ? { loader: WsMediaLoader } : {};
}

/**
 * An API call of the player (play, release) over the page's media socket when the page uses it, else api().
 * 25 tiles start with 25 plays that each take about a second (the gateway answers once the stream is
 * playable): over HTTP/1.1 they would wait for each other behind six connections. Answers are api()'s: the
 * parsed body, or an ApiError with the gateway's message, step and hint. A 401 is repeated over HTTP, where
 * api() signs the user out; a socket that closes under a request repeats it over HTTP too (a play the gateway
 * still completes then leaves a viewer that its idle timeout releases).
 */
export async function pageApi<T>(path: string, options: Pick<RequestOptions, 'method' | 'body' | 'query' | 'keepSignedIn'> = {}): Promise<T> {
  const exchange = usesSocket()
    ? pageMux().request({ path: withQuery(path, options.query), method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), body: options.body }, API_DEADLINE_MS)
    : null;
  if (exchange) {
    let response: MediaResponse | null = null;
    try {
      response = await exchange.response;
    } catch (err) {
      if (!(err instanceof SocketUnavailable)) throw err;
    }
    if (response && response.status !== 401) {
      const text = new TextDecoder().decode(response.body);
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      if (response.status >= 200 && response.status < 300) return (response.status === 204 ? undefined : parsed) as T;
      const body = parsed && typeof parsed === 'object' ? (parsed as PlayErrorBody) : null;
      throw new ApiError(response.status, body, body?.message ?? `HTTP ${response.status}`);
    }
  }
  return api<T>(path, options);
}

// ------------------------------------------------------------------------------------------------ the socket

/** Requests on the wire at most (the gateway's per-socket limit is the same). */
export const MAX_IN_FLIGHT = 64;
/**
 * An API call over the socket unanswered for this long means the socket is dead (a half-open connection):
 * it is dropped and its requests go over HTTP. Longer than the slowest play the gateway can answer (INVITE,
 * first RTP, key frame and first segment timeouts add up to ~35 s).
 */
const API_DEADLINE_MS = 45_000;
/** A request made while the socket is opening waits this long for it before going over fetch. */
const OPEN_WAIT_MS = 2_000;
const RECONNECT_BASE_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

export interface MediaResponse {
  status: number;
  contentType: string;
  body: ArrayBuffer;
}

/** The request could not be made over the socket (closed under it): make it over fetch instead. */
class SocketUnavailable extends Error {}

/** What goes on the wire: a media path, or an API call (method, /api/… path, JSON body). */
interface MuxMessage {
  path: string;
  method?: string;
  body?: unknown;
}

interface MuxRequest {
  id: number;
  message: MuxMessage;
  resolve: (response: MediaResponse) => void;
  reject: (error: Error) => void;
  onWire: boolean;
}

type MuxState = 'idle' | 'connecting' | 'open' | 'down';

/** Counters for tests and the benchmark (window.__sharpEyesMediaMux). */
export const mediaMuxCounters = { socketsOpened: 0, muxRequests: 0, fetchRequests: 0, muxBytes: 0 };
declare global {
  interface Window {
    __sharpEyesMediaMux?: typeof mediaMuxCounters;
  }
}
if (typeof window !== 'undefined') window.__sharpEyesMediaMux = mediaMuxCounters;

class MediaMux {
  private state: MuxState = 'idle';
  private socket: WebSocket | null = null;
  private token: string | null = null;
  private nextId = 1;
  private readonly requests = new Map<number, MuxRequest>();
  private readonly waiting: MuxRequest[] = [];
  private inFlight = 0;
  private failures = 0;
  private retryAt = 0;
  private openTimer: ReturnType<typeof setTimeout> | null = null;

  /** Null when the socket cannot take requests now: the caller fetches instead. */
  request(message: MuxMessage, deadlineMs?: number): { response: Promise<MediaResponse>; cancel: () => void } | null {
    const token = currentToken();
    if (token !== this.token) this.reset(token);
    if (this.state === 'down' && Date.now() >= this.retryAt) this.connect();
    if (this.state !== 'open' && this.state !== 'connecting') return null;
    const request: MuxRequest = { id: this.nextId++, message, resolve: () => undefined, reject: () => undefined, onWire: false };
    const response = new Promise<MediaResponse>((resolve, reject) => {
      request.resolve = resolve;
      request.reject = reject;
    });
    this.requests.set(request.id, request);
    this.waiting.push(request);
    this.pump();
    if (deadlineMs !== undefined) {
      const socket = this.socket;
      const timer = setTimeout(() => {
        if (this.requests.get(request.id) === request && socket && this.socket === socket) this.lost(socket);
      }, deadlineMs);
      void response.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    }
    return { response, cancel: () => this.cancel(request) };
  }

  private reset(token: string | null): void {
    this.token = token;
    this.failures = 0;
    this.retryAt = 0;
    this.closeSocket();
    this.state = token ? 'down' : 'idle';
  }

  private connect(): void {
    if (!this.token) return;
    this.state = 'connecting';
    const socket = new WebSocket(socketUrl('/api/media/ws', { token: this.token }));
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    // A socket that does not open soon (a proxy that swallows upgrades) must not hold the tiles back.
    this.openTimer = setTimeout(() => {
      if (this.socket === socket && this.state === 'connecting') this.lost(socket);
    }, OPEN_WAIT_MS);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      if (this.openTimer) clearTimeout(this.openTimer);
      this.state = 'open';
      this.failures = 0;
      mediaMuxCounters.socketsOpened++;
      this.pump();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      if (typeof event.data === 'string') {
        // A protocol complaint about a request we could not have sent wrongly: nothing to match it with.
        console.warn('media socket:', event.data);
        return;
      }
      this.answer(event.data as ArrayBuffer);
    };
    socket.onclose = (event) => {
      console.warn(`media socket closed (${event.code}${event.reason ? `: ${event.reason}` : ''}); media over HTTP until it is back`);
      this.lost(socket);
    };
    socket.onerror = () => this.lost(socket);
  }

  /** The socket closed or never opened: its requests go over fetch; try again later. */
  private lost(socket: WebSocket): void {
    if (this.socket !== socket) return;
    if (this.openTimer) clearTimeout(this.openTimer);
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close();
    this.state = 'down';
    this.retryAt = Date.now() + Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** this.failures++);
    this.failAll();
  }

  private closeSocket(): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    socket.close(1000);
    this.failAll();
  }

  private failAll(): void {
    const requests = [...this.requests.values()];
    this.requests.clear();
    this.waiting.length = 0;
    this.inFlight = 0;
    for (const r of requests) r.reject(new SocketUnavailable('media socket closed'));
  }

  private pump(): void {
    const socket = this.socket;
    if (this.state !== 'open' || !socket) return;
    while (this.inFlight < MAX_IN_FLIGHT && this.waiting.length > 0) {
      const request = this.waiting.shift()!;
      request.onWire = true;
      this.inFlight++;
      mediaMuxCounters.muxRequests++;
      socket.send(JSON.stringify({ id: request.id, ...request.message }));
    }
  }

  private cancel(request: MuxRequest): void {
    if (!this.requests.delete(request.id)) return;
    if (request.onWire) {
      this.inFlight--;
      if (this.state === 'open') this.socket?.send(JSON.stringify({ cancel: request.id }));
      this.pump();
    } else {
      const i = this.waiting.indexOf(request);
      if (i >= 0) this.waiting.splice(i, 1);
    }
  }

  private answer(frame: ArrayBuffer): void {
    let response: MediaResponse & { id: number };
    try {
      response = decodeResponseFrame(frame);
    } catch (err) {
      console.warn('media socket: bad frame', err);
      return;
    }
    const request = this.requests.get(response.id);
    if (!request) return; // cancelled meanwhile
    this.requests.delete(response.id);
    this.inFlight--;
    mediaMuxCounters.muxBytes += response.body.byteLength;
    request.resolve(response);
    this.pump();
  }
}

/** u32 id, u16 status, u8 content-type length, content type (ASCII), body. */
export function decodeResponseFrame(frame: ArrayBuffer): MediaResponse & { id: number } {
  const view = new DataView(frame);
  if (frame.byteLength < 7) throw new Error(`frame of ${frame.byteLength} bytes`);
  const id = view.getUint32(0);
  const status = view.getUint16(4);
  const typeLength = view.getUint8(6);
  if (frame.byteLength < 7 + typeLength) throw new Error('truncated content type');
  const contentType = new TextDecoder().decode(new Uint8Array(frame, 7, typeLength));
  return { id, status, contentType, body: frame.slice(7 + typeLength) };
}

let mux: MediaMux | null = null;
const pageMux = (): MediaMux => (mux ??= new MediaMux());

// ------------------------------------------------------------------------------------------------ the loader

/** Same-origin /media path of a URL hls.js resolved, or null when the socket cannot serve it. */
function muxPath(url: string, context: LoaderContext): string | null {
  // hls.js sets rangeStart = rangeEnd = 0 for whole files; a real byte range goes over fetch.
  if (context.rangeEnd || context.rangeStart) return null;
  let parsed: URL;
  try {
    parsed = new URL(url, location.href);
  } catch {
    return null;
  }
  if (parsed.origin !== location.origin || !parsed.pathname.startsWith('/media/')) return null;
  // LL-HLS blocking reloads (_HLS_msn / _HLS_part) go over the socket too: held on plain HTTP/1.1 they would
  // tie up the page's six connections. Any other query goes over fetch.
  if (parsed.search && !/^\?_HLS_[a-z]+=[^&]*(&_HLS_[a-z]+=[^&]*)*$/.test(parsed.search)) return null;
  return parsed.pathname + parsed.search;
}

function absoluteUrl(url: string): string {
  try {
    return new URL(url, location.href).href;
  } catch {
    return url;
  }
}

function newStats(): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  };
}

/** hls.js's rule: retry timeouts and 5xx / network failures, never 4xx. */
function shouldRetry(retry: RetryConfig | null, count: number, isTimeout: boolean, status: number): retry is RetryConfig {
  if (!retry || count >= retry.maxNumRetry) return false;
  return isTimeout || status === 0 || status < 400 || status > 499;
}

function retryDelay(retry: RetryConfig, count: number): number {
  const factor = retry.backoff === 'linear' ? 1 : 2 ** count;
  return Math.min(factor * retry.retryDelayMs, retry.maxRetryDelayMs);
}

interface Exchange {
  cancel: () => void;
}

/**
 * hls.js Loader over the page's media socket, with fetch() when the socket is down. Stats, timeouts
 * (loadPolicy: time to first byte, then load time; a socket answer is one message, so its first byte is its
 * last and the first limit covers it), retries (loadPolicy.timeoutRetry / errorRetry, like hls.js's own
 * loaders) and abort.
 */
export class WsMediaLoader implements Loader<LoaderContext> {
  context: LoaderContext | null = null;
  stats: LoaderStats = newStats();
  private config: LoaderConfiguration | null = null;
  private callbacks: LoaderCallbacks<LoaderContext> | null = null;
  private exchange: Exchange | null = null;
  private timeout: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped per try: answers of an abandoned try are ignored. */
  private tryId = 0;
  private responseHeaders: Headers | null = null;

  constructor(_config: HlsConfig) {}

  load(context: LoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
    if (this.stats.loading.start) throw new Error('Loader can only be used once.');
    this.stats.loading.start = performance.now();
    this.context = context;
    this.config = config;
    this.callbacks = callbacks;
    this.attempt();
  }

  abort(): void {
    const wasLoading = this.exchange !== null || this.retryTimer !== null;
    this.stop();
    if (wasLoading) this.stats.aborted = true;
    if (this.context) this.callbacks?.onAbort?.(this.stats, this.context, null);
  }

  destroy(): void {
    this.stop();
    this.callbacks = null;
    this.config = null;
    this.context = null;
  }

  getCacheAge(): number | null {
    const age = this.responseHeaders?.get('age');
    return age ? Number.parseFloat(age) : null;
  }

  getResponseHeader(name: string): string | null {
    return this.responseHeaders?.get(name) ?? null;
  }

  private stop(): void {
    this.tryId++;
    if (this.timeout) clearTimeout(this.timeout);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timeout = this.retryTimer = null;
    this.exchange?.cancel();
    this.exchange = null;
  }

  private attempt(): void {
    const { context, config } = this;
    if (!context || !config) return;
    const id = ++this.tryId;
    const stats = this.stats;
    stats.loading.first = 0;
    stats.loaded = 0;
    stats.aborted = false;
    const { maxTimeToFirstByteMs, maxLoadTimeMs } = config.loadPolicy;
    const firstByteLimit = maxTimeToFirstByteMs && Number.isFinite(maxTimeToFirstByteMs) ? maxTimeToFirstByteMs : maxLoadTimeMs;
    this.timeout = setTimeout(() => this.timedOut(id), firstByteLimit);

    const path = muxPath(context.url, context);
    const viaSocket = path ? pageMux().request({ path }) : null;
    if (viaSocket) {
      this.exchange = { cancel: viaSocket.cancel };
      viaSocket.response.then(
        (response) => {
          if (id !== this.tryId) return;
          this.firstByte(id, performance.now(), config);
          this.responseHeaders = new Headers({ 'content-type': response.contentType });
          // The absolute URL, as fetch's and XHR's responses give it: hls.js resolves the playlist's URIs against
          // it and adds the LL-HLS delivery directives with new URL(uri), which throws on a relative one. It then
          // sends the blocking reload without _HLS_msn / _HLS_part, gets the old playlist at once ("MISSED") and
          // falls back to reloading every half target duration: parts arrived a second at a time.
          this.complete(id, response.status, response.body, absoluteUrl(context.url));
        },
        (err: unknown) => {
          if (id !== this.tryId) return;
          // The socket went away under this request: same try, over fetch, without counting a retry.
          if (err instanceof SocketUnavailable) this.overFetch(id, context, config);
          else this.complete(id, 0, null, context.url, String(err));
        },
      );
      return;
    }
    this.overFetch(id, context, config);
  }

  private overFetch(id: number, context: LoaderContext, config: LoaderConfiguration): void {
    mediaMuxCounters.fetchRequests++;
    const controller = new AbortController();
    this.exchange = { cancel: () => controller.abort() };
    const headers: Record<string, string> = { ...(context.headers ?? {}) };
    if (context.rangeEnd) headers.Range = `bytes=${context.rangeStart ?? 0}-${context.rangeEnd - 1}`;
    fetch(context.url, { signal: controller.signal, headers, credentials: 'same-origin' })
      .then(async (response) => {
        if (id !== this.tryId) return;
        this.firstByte(id, performance.now(), config);
        this.responseHeaders = response.headers;
        const body = response.ok ? await response.arrayBuffer() : null;
        if (!response.ok) void response.body?.cancel().catch(() => undefined);
        if (id !== this.tryId) return;
        this.complete(id, response.status, body, response.url || context.url, response.statusText);
      })
      .catch((err: unknown) => {
        if (id !== this.tryId || controller.signal.aborted) return;
        this.complete(id, 0, null, context.url, err instanceof Error ? err.message : String(err));
      });
  }

  /** Headers (or the whole socket answer) arrived: the rest of the load has the load-time limit. */
  private firstByte(id: number, at: number, config: LoaderConfiguration): void {
    const stats = this.stats;
    stats.loading.first = Math.max(at, stats.loading.start);
    if (this.timeout) clearTimeout(this.timeout);
    const rest = config.loadPolicy.maxLoadTimeMs - (stats.loading.first - stats.loading.start);
    this.timeout = setTimeout(() => this.timedOut(id), Math.max(0, rest));
  }

  private complete(id: number, status: number, body: ArrayBuffer | null, url: string, statusText = ''): void {
    const { context, config, callbacks } = this;
    if (id !== this.tryId || !context || !config || !callbacks) return;
    if (this.timeout) clearTimeout(this.timeout);
    this.timeout = null;
    this.exchange = null;
    const stats = this.stats;
    if (status >= 200 && status < 300 && body) {
      stats.loading.end = Math.max(performance.now(), stats.loading.first);
      stats.loaded = stats.total = body.byteLength;
      stats.chunkCount = 1;
      stats.bwEstimate = (stats.total * 8000) / Math.max(1, stats.loading.end - stats.loading.start);
      const data = context.responseType === 'arraybuffer' ? body : new TextDecoder().decode(body);
      callbacks.onProgress?.(stats, context, data, null);
      callbacks.onSuccess({ url, data, code: status }, stats, context, null);
      return;
    }
    const retry = config.loadPolicy.errorRetry;
    if (shouldRetry(retry, stats.retry, false, status)) {
      this.scheduleRetry(retry);
      return;
    }
    callbacks.onError({ code: status, text: statusText || `HTTP ${status}` }, context, null, stats);
  }

  private timedOut(id: number): void {
    const { context, config, callbacks } = this;
    if (id !== this.tryId || !context || !config || !callbacks) return;
    this.exchange?.cancel();
    this.exchange = null;
    this.timeout = null;
    const retry = config.loadPolicy.timeoutRetry;
    if (shouldRetry(retry, this.stats.retry, true, 0)) {
      this.scheduleRetry(retry);
      return;
    }
    this.tryId++;
    callbacks.onTimeout(this.stats, context, null);
  }

  private scheduleRetry(retry: RetryConfig): void {
    const delay = retryDelay(retry, this.stats.retry);
    this.stats.retry++;
    this.exchange?.cancel();
    this.exchange = null;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.attempt();
    }, delay);
  }
}
