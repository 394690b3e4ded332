/**
 * The HTTP exchange under the ONVIF client: one request, one bounded answer, over `node:http` with one Agent
 * shared by every camera.
 *
 * Why not `fetch` (it was used until 2026-12-06): measured at 10,000 cameras polled every 15 s (bench/RESULTS.md,
 * "Devices 1"), fetch (undici) cost ≈ 1 ms of CPU per probe and ≈ 35–40 KB retained per camera. Three quarters of
 * the polling CPU was undici and its plumbing: an `AbortSignal.timeout` per request whose timer always fires and
 * builds a DOMException with a stack trace, WHATWG streams for every answer body, an InformationalError for each
 * idle connection closed, and a per-origin Pool with its Clients kept for every camera. A micro-benchmark on the
 * same machine (fresh connection per request, 600-byte answers): fetch 590–1,100 µs of CPU per request,
 * `node:http` with a keep-alive Agent 150–190 µs.
 *
 * What is kept from the fetch version (each checked by gateway/test/onvif/onvif-client.test.ts):
 *  - redirects are not followed (a 3xx is an answer like any other, which the SOAP reader refuses);
 *  - an answer larger than `maxBytes` (declared or counted) is refused and its connection dropped;
 *  - an answer that breaks off, a refused or reset connection: `unreachable`;
 *  - no answer in time: `unreachable` ("no answer within N ms").
 *
 * Time limit: the socket's idle timeout (no byte for `timeoutMs`) plus the total time checked on every chunk,
 * so that a camera that dribbles a byte now and then is cut off too — without a timer of its own per request.
 *
 * The Agent: keep-alive, so that the calls of one conversation (connect's 5–8 calls, a probe's two, a burst of
 * PTZ orders) share a connection; at most 4 connections per camera (a held PullMessages, a PTZ call, a probe,
 * a snapshot; a fifth call waits for one of them, and its timeout starts when it gets one), at most 1 idle one
 * per camera, closed after 4 s idle (or sooner when the camera's `Keep-Alive:
 * timeout=` says so). Idle connections are not kept across polling intervals: cameras close theirs within seconds
 * anyway, and 10,000 idle sockets would cost 10,000 descriptors for a saved handshake.
 *
 * The idle close is our own timer, not the Agent's `timeout` option: when an idle socket times out, node's Agent
 * (v20) looks for it in the free list of EVERY origin (`Object.keys(freeSockets).some(includes)`), which is
 * O(cameras) per closed connection — 6 % of the CPU at 2,000 cameras in a profile, and growing with the square of
 * the fleet. A timer per idle socket, cleared when the socket is reused, is O(1).
 */
import { Agent, request as httpRequest, type AgentOptions, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const IDLE_TIMER = Symbol('onvifIdleTimer');
const IDLE_HINT_MS = Symbol('onvifIdleHintMs');
type PooledSocket = Socket & { [IDLE_TIMER]?: NodeJS.Timeout; [IDLE_HINT_MS]?: number };

const closeIdle = (socket: Socket): void => {
  socket.destroy();
};

/** A keep-alive Agent whose idle connections close on their own timer (see the header for why). */
export class IdleClosingAgent extends Agent {
  constructor(
    private readonly idleMs: number,
    options: Omit<AgentOptions, 'keepAlive' | 'timeout'>,
  ) {
    super({ ...options, keepAlive: true });
  }

  /** Sockets now idle in the pool. */
  get idleSockets(): number {
    let n = 0;
    for (const list of Object.values(this.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  override keepSocketAlive(socket: PooledSocket): boolean {
    // The base class clears the request's socket timeout and refuses a camera that announced a keep-alive of 1 s.
    // (It returns whether to keep the socket; @types/node declares it void.)
    if (!(super.keepSocketAlive(socket) as unknown as boolean)) return false;
    const idle = Math.min(this.idleMs, socket[IDLE_HINT_MS] ?? Infinity);
    if (idle <= 0) return false;
    const timer = setTimeout(closeIdle, idle, socket);
    timer.unref();
    socket[IDLE_TIMER] = timer;
    return true;
  }

  override reuseSocket(socket: PooledSocket, request: ClientRequest): void {
    clearTimeout(socket[IDLE_TIMER]);
    socket[IDLE_TIMER] = undefined;
    super.reuseSocket(socket, request);
  }
}

export const ONVIF_HTTP_AGENT = new IdleClosingAgent(4_000, { maxSockets: 4, maxFreeSockets: 1, scheduling: 'lifo' });

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  /** WWW-Authenticate of a 401 (a Digest challenge preferred when the camera sends several), else null. */
  challenge: string | null;
}

/** Why an exchange failed: the peer could not be reached or broke off (`unreachable`), or its answer is too big. */
export class HttpExchangeError extends Error {
  override readonly name = 'HttpExchangeError';
  constructor(
    readonly kind: 'unreachable' | 'too-large',
    message: string,
  ) {
    super(message);
  }
}

export interface HttpExchange {
  method: 'GET' | 'POST';
  url: string;
  body: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
  maxBytes: number;
  agent?: Agent;
}

/** Errors of a kept-alive connection the camera closed just as we reused it: the request never reached it. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export async function httpExchange(x: HttpExchange): Promise<HttpAnswer> {
  try {
    return await exchangeOnce(x);
  } catch (err) {
    // A reused idle connection may have been closed by the camera at the same moment: once more, on a new one.
    if (err instanceof StaleSocketError) return exchangeOnce(x);
    throw err;
  }
}

class StaleSocketError extends Error {}

function exchangeOnce(x: HttpExchange): Promise<HttpAnswer> {
  const { method, url, timeoutMs, maxBytes } = x;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const startedAt = performance.now();
    let settled = false;
    let answered = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err);
    };
    const headers: Record<string, string | number> = { ...x.headers };
    const payload = x.body === null ? null : Buffer.from(x.body, 'utf8');
    // A length, never chunked: cameras' embedded HTTP servers often do not read chunked requests.
    if (payload) headers['content-length'] = payload.length;
    let req: ReturnType<typeof httpRequest>;
    try {
      req = httpRequest(url, { method, headers, agent: x.agent ?? ONVIF_HTTP_AGENT, timeout: timeoutMs });
    } catch (err) {
      // A URL node:http cannot use (a camera-announced address with another scheme, a bad host).
      reject(new HttpExchangeError('unreachable', `${method} ${url}: ${(err as Error).message}`));
      return;
    }
    req.on('timeout', () => fail(new HttpExchangeError('unreachable', `${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (!answered && req.reusedSocket && err.code && STALE_SOCKET.has(err.code)) {
        settled = true;
        reject(new StaleSocketError(err.message));
        return;
      }
      const what = answered ? `the answer broke off (${err.code ?? err.message})` : (err.code ?? err.message);
      fail(new HttpExchangeError('unreachable', `${method} ${url}: ${what}`));
    });
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      // `Keep-Alive: timeout=5`: close our side a second before the camera closes its side.
      const hint = res.headers['keep-alive'];
      if (typeof hint === 'string') {
        const seconds = /timeout=(\d+)/i.exec(hint)?.[1];
        if (seconds) (res.socket as PooledSocket)[IDLE_HINT_MS] = Number(seconds) * 1000 - 1000;
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > maxBytes) {
        fail(new HttpExchangeError('too-large', `${url} answered ${declared} bytes (limit ${maxBytes})`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > maxBytes) {
          fail(new HttpExchangeError('too-large', `${url} answered more than ${maxBytes} bytes`));
          return;
        }
        if (performance.now() - startedAt > timeoutMs) {
          fail(new HttpExchangeError('unreachable', `${method} ${url}: no complete answer within ${timeoutMs} ms`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('aborted', () => fail(new HttpExchangeError('unreachable', `${method} ${url}: the answer broke off`)));
      res.on('error', (err) => fail(new HttpExchangeError('unreachable', `${method} ${url}: the answer broke off (${err.message})`)));
      res.on('end', () => {
        if (settled) return;
        if (!res.complete) {
          fail(new HttpExchangeError('unreachable', `${method} ${url}: the answer broke off`));
          return;
        }
        settled = true;
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), challenge: res.statusCode === 401 ? challengeOf(res) : null });
      });
    });
    req.end(payload ?? undefined);
  });
}

/** A camera may send a Basic and a Digest challenge: take Digest (the password does not cross the wire). */
function challengeOf(res: IncomingMessage): string | null {
  const all = res.headersDistinct['www-authenticate'];
  if (!all || all.length === 0) return null;
  return all.find((c) => /^\s*digest/i.test(c)) ?? all[0]!;
}
