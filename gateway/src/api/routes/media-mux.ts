/**
 * GET /api/media/ws: the page's media WebSocket. A wall page fetches every tile's HLS playlists and segments
 * over this one connection instead of the six HTTP/1.1 connections a browser allows per origin (the why is at
 * the top of web/src/player/ws-media-loader.ts, the client).
 *
 * Protocol (client → server, JSON text):  { "id": <1..2^32-1>, "path": "/media/<token>/<file>" }  |  { "cancel": <id> }
 *   |  { "id", "method": "GET" | "POST" | "PUT" | "DELETE", "path": "/api/…", "body"?: JSON }
 * (server → client, one binary message per request):  u32 id · u16 status · u8 n · n bytes content type · body
 * Media paths are resolved by media-files.ts, exactly like GET /media/<token>/<file> (token check, viewer
 * heartbeat on playlists, 401/403/404 alike); the body is the file on 200, else `{ error, message }` JSON.
 * API requests are the page's plays and releases: 25 tiles start with 25 POST …/play that each wait ~1 s for
 * their stream, and the browser would queue them behind six HTTP/1.1 connections (five rounds: ~6 s before the
 * last tile can start). They go through the server's own router (`inject`) with the socket's bearer token, so
 * authentication, guest scoping, schemas and errors are those of the HTTP route, answer for answer. A message that is
 * not a valid request gets a text frame `{ "error": "bad-request", "message": … }` (or a 400 answer when it
 * names an id); nothing a client sends can throw out of the handler. At most `maxInFlight` requests per socket
 * are being read or written at a time — a request counts until its answer is written out to the socket, so a
 * client that does not read holds at most that many answers in the gateway's memory; more are refused with 429.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { grantMatches, grantOf } from '../../domain/streams/media-grants.js';
import { bearerTokenOf, principalOf } from '../authentication.js';
import { errorBody } from '../errors.js';
import { parseMediaPath, readMediaFile, type MediaFileSource } from '../media-files.js';

export interface MediaMuxRoutesOptions {
  streams: MediaFileSource;
  metrics: GatewayMetrics;
  /** Requests being served per socket at most (default MEDIA_MUX_MAX_IN_FLIGHT). */
  maxInFlight?: number;
}

/** The client keeps the same window (web/src/player/ws-media-loader.ts MAX_IN_FLIGHT). */
export const MEDIA_MUX_MAX_IN_FLIGHT = 64;
const API_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);
/** Close code when the grant the socket was opened with is revoked (policy: it may not reconnect with it). */
export const MEDIA_MUX_CLOSE_REVOKED = 4403;
/** Ping interval; a socket that did not answer the previous ping is terminated (half-open TCP). */
const HEARTBEAT_MS = 30_000;
const MAX_ID = 0xffff_ffff;
/** `/media/` + a 512-character token + a file name, with room to spare. */
const MAX_PATH_LENGTH = 1024;

/** One answer: u32 id, u16 status, u8 content-type length, content type, body. */
export function encodeMediaFrame(id: number, status: number, contentType: string, body: Buffer): Buffer {
  const type = Buffer.from(contentType, 'latin1');
  const head = Buffer.allocUnsafe(7 + type.length);
  head.writeUInt32BE(id, 0);
  head.writeUInt16BE(status, 4);
  head.writeUInt8(type.length, 6);
  type.copy(head, 7);
  return Buffer.concat([head, body]);
}

/** Runs an API request through the server's router, as the socket's principal. */
export type ApiInjector = (request: { method: string; path: string; body: unknown }) => Promise<{ status: number; contentType: string; body: Buffer }>;

interface Answer {
  status: number;
  /** Media body bytes (counted in /metrics); 0 for errors and API answers. */
  bodyBytes: number;
  frame: Buffer;
}

/** An error answer: `{ error, message }` as the HTTP routes send it. */
function jsonFrame(id: number, status: number, message: string, code?: string): Buffer {
  return encodeMediaFrame(id, status, 'application/json', Buffer.from(JSON.stringify(errorBody(status, message, undefined, code ? { code } : undefined))));
}

type Parsed =
  | { kind: 'get'; id: number; path: string }
  | { kind: 'api'; id: number; method: string; path: string; body: unknown }
  | { kind: 'cancel'; id: number }
  | { kind: 'bad'; id: number | null; message: string };

function parseRequest(data: RawData, isBinary: boolean): Parsed {
  if (isBinary) return { kind: 'bad', id: null, message: 'requests are JSON text messages' };
  let message: unknown;
  try {
    message = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'));
  } catch {
    return { kind: 'bad', id: null, message: 'not JSON' };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return { kind: 'bad', id: null, message: 'a request is a JSON object' };
  const fields = message as Record<string, unknown>;
  const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_ID;
  if ('cancel' in fields) {
    return isId(fields.cancel) ? { kind: 'cancel', id: fields.cancel } : { kind: 'bad', id: null, message: 'cancel: must be a request id (integer 1..4294967295)' };
  }
  if (!isId(fields.id)) return { kind: 'bad', id: null, message: 'id: must be an integer 1..4294967295' };
  if (typeof fields.path !== 'string' || fields.path.length > MAX_PATH_LENGTH) {
    return { kind: 'bad', id: fields.id, message: `path: must be a string of at most ${MAX_PATH_LENGTH} characters` };
  }
  if (fields.method === undefined) return { kind: 'get', id: fields.id, path: fields.path };
  if (typeof fields.method !== 'string' || !API_METHODS.has(fields.method)) {
    return { kind: 'bad', id: fields.id, message: `method: must be one of ${[...API_METHODS].join(', ')}` };
  }
  // Only plain API routes: not the sockets themselves (an upgrade cannot be injected), not the web UI.
  if (!/^\/api\/[A-Za-z0-9_\-./?=&%:,]*$/.test(fields.path) || /\/ws(\?|$)/.test(fields.path)) {
    return { kind: 'bad', id: fields.id, message: 'path: an API request goes to /api/… (not a WebSocket route)' };
  }
  return { kind: 'api', id: fields.id, method: fields.method, path: fields.path, body: fields.body };
}

/** One socket's requests: the in-flight window, cancellations, answers. */
class MuxConnection {
  /** Ids being served → cancelled? */
  private readonly inFlight = new Map<number, { cancelled: boolean }>();

  constructor(
    private readonly socket: WebSocket,
    private readonly streams: MediaFileSource,
    private readonly metrics: GatewayMetrics,
    private readonly maxInFlight: number,
    private readonly log: { debug: (obj: object, msg: string) => void },
    private readonly injectApi: ApiInjector,
  ) {}

  onMessage(data: RawData, isBinary: boolean): void {
    const request = parseRequest(data, isBinary);
    switch (request.kind) {
      case 'cancel': {
        const entry = this.inFlight.get(request.id);
        if (entry) entry.cancelled = true;
        return;
      }
      case 'bad':
        this.metrics.mediaMuxProtocolError();
        if (request.id === null) this.sendText({ error: 'bad-request', message: request.message });
        else this.answerError(request.id, 400, request.message);
        return;
      case 'get':
      case 'api':
        if (this.inFlight.has(request.id)) {
          this.metrics.mediaMuxProtocolError();
          this.sendText({ error: 'bad-request', message: `id ${request.id} is already in flight` });
          return;
        }
        if (this.inFlight.size >= this.maxInFlight) {
          this.answerError(request.id, 429, `more than ${this.maxInFlight} requests in flight on this socket; wait for answers`);
          return;
        }
        void this.serve(request);
    }
  }

  private async serve(request: Extract<Parsed, { kind: 'get' | 'api' }>): Promise<void> {
    const entry = { cancelled: false };
    this.inFlight.set(request.id, entry);
    let answer: Answer;
    try {
      answer = request.kind === 'api' ? await this.apiAnswer(request) : await this.mediaAnswer(request);
    } catch (err) {
      this.log.debug({ err }, 'media socket request failed');
      answer = { status: 500, bodyBytes: 0, frame: jsonFrame(request.id, 500, 'internal error; see the gateway log') };
    }
    this.finish(request.id, entry, answer);
  }

  private async mediaAnswer(request: { id: number; path: string }): Promise<Answer> {
    const parts = parseMediaPath(request.path);
    if (!parts) return { status: 400, bodyBytes: 0, frame: jsonFrame(request.id, 400, 'path: must be /media/<token>/<file> or /api/…') };
    const result = await readMediaFile(this.streams, parts.token, parts.file, parts.hls);
    if (!result.ok) return { status: result.status, bodyBytes: 0, frame: jsonFrame(request.id, result.status, result.message, result.code) };
    return { status: 200, bodyBytes: result.body.length, frame: encodeMediaFrame(request.id, 200, result.contentType, result.body) };
  }

  private async apiAnswer(request: { id: number; method: string; path: string; body: unknown }): Promise<Answer> {
    const response = await this.injectApi(request);
    return { status: response.status, bodyBytes: 0, frame: encodeMediaFrame(request.id, response.status, response.contentType, response.body) };
  }

  private finish(id: number, entry: { cancelled: boolean }, answer: Answer): void {
    if (entry.cancelled || this.socket.readyState !== this.socket.OPEN) {
      this.inFlight.delete(id);
      return;
    }
    this.metrics.mediaMuxRequest(answer.status, answer.bodyBytes);
    // The request leaves the window once its answer is handed to the kernel, not when it is queued here.
    this.socket.send(answer.frame, () => this.inFlight.delete(id));
  }

  private answerError(id: number, status: number, message: string): void {
    this.metrics.mediaMuxRequest(status, 0);
    this.socket.send(jsonFrame(id, status, message));
  }

  private sendText(message: { error: string; message: string }): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

export const mediaMuxRoutes: FastifyPluginAsync<MediaMuxRoutesOptions> = async (app, { streams, metrics, maxInFlight }) => {
  app.get(
    '/media/ws',
    {
      websocket: true,
      config: { queryToken: true },
      // @fastify/websocket hides WebSocket routes from OpenAPI; the protocol is described at the top of this file.
      schema: {
        querystring: {
          type: 'object',
          properties: { token: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
      },
    },
    (socket, request) => {
      // The token the socket was opened with (the authentication hook accepted it): API requests carry it.
      const token = bearerTokenOf(request.headers.authorization) ?? String((request.query as { token?: string }).token ?? '');
      const injectApi: ApiInjector = async ({ method, path, body }) => {
        const response = await app.inject({
          method: method as 'GET' | 'POST' | 'PUT' | 'DELETE',
          url: path,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
        });
        return { status: response.statusCode, contentType: String(response.headers['content-type'] ?? 'application/json').split(';')[0], body: response.rawPayload };
      };
      const connection = new MuxConnection(socket, streams, metrics, maxInFlight ?? MEDIA_MUX_MAX_IN_FLIGHT, request.log, injectApi);
      // A consultation that ends (or a point removed, a user signed out) closes the sockets opened with that right.
      const grant = grantOf(principalOf(request), token === '' ? null : token);
      const onRevoked = (revoked: string): void => {
        if (grant !== null && grantMatches(grant, revoked)) socket.close(MEDIA_MUX_CLOSE_REVOKED, 'media access revoked');
      };
      streams.grants?.on('revoked', onRevoked);
      metrics.mediaMuxSocketOpened();
      let alive = true;
      socket.on('pong', () => (alive = true));
      const heartbeat = setInterval(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, HEARTBEAT_MS);
      heartbeat.unref();
      socket.on('message', (data, isBinary) => {
        try {
          connection.onMessage(data, isBinary);
        } catch (err) {
          request.log.warn({ err }, 'media socket message handler failed');
        }
      });
      socket.on('error', (err) => request.log.debug({ err }, 'media socket error'));
      socket.once('close', () => {
        streams.grants?.off('revoked', onRevoked);
        clearInterval(heartbeat);
        metrics.mediaMuxSocketClosed();
      });
    },
  );
};
