/**
 * The SIP transaction layer (RFC 3261 §17), trimmed to what a GB/T 28181 platform needs at 10k+ devices:
 *
 * Server side — every request goes to one handler with a `reply` function. Retransmissions (same top-Via
 * branch, method, CSeq, Call-ID and From-tag) are answered from a cache of the serialized final response
 * instead of reaching the handler again; retransmissions that arrive before the handler replied are
 * swallowed (or get the last provisional). The cache lives ~32 s (Timer J) in two generation Maps swapped
 * every 16 s, so 100k transactions cost two Map entries each and no timers. CSeq and Call-ID are part of
 * the key because sipp loops reuse the same branch for every keepalive of a call (GB brief §9): treating
 * those as retransmissions would silently eat keepalives.
 *
 * Client side — sendRequest() builds the request (Via with rport and a fresh z9hG4bK branch, From-tag,
 * Call-ID, CSeq, Contact, Max-Forwards, User-Agent), retransmits over UDP from T1 = 500 ms doubling to
 * T2 = 4 s until any response, and resolves on the final response (matched by branch + CSeq method) or
 * rejects with SipTimeoutError. A non-2xx final response to INVITE is ACKed here (§17.1.1.3). One shared
 * interval drives all retransmissions and timeouts.
 *
 * Replies always go to the transport source (UDP source address/port or the TCP connection), never to
 * Via/Contact addresses, which GB devices get wrong (GB brief §2.3).
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { header, type SipRequest, type SipResponse } from '../codecs/sip/message.js';
import { serializeSipMessage } from '../codecs/sip/serializer.js';
import {
  buildResponse,
  generateBranch,
  generateCallId,
  generateTag,
  stampReceivedOnTopVia,
} from '../codecs/sip/builder.js';
import { formatHostPort, formatNameAddr, parseCSeq, parseNameAddr, parseVia, tagOf } from '../codecs/sip/headers.js';
import type { SipTransport, TransportSource } from '../transport/sip-transport.js';

export type ReplyFn = (
  status: number,
  reason?: string,
  /** toTag: the To-tag of this transaction's responses (a UAS that must send its own BYE later keeps it). */
  opts?: { headers?: Array<[string, string]>; body?: Buffer; contentType?: string; toTag?: string },
) => void;

export type RequestHandler = (req: SipRequest, source: TransportSource, reply: ReplyFn) => void;

export interface SipEndpointOptions {
  transport: SipTransport;
  /** Our 20-digit SIP ID (From user part, Contact). */
  localId: string;
  /** Our SIP domain (From host part), e.g. the first 10 digits of the ID. */
  localDomain: string;
  /** Address and port peers can reach us on (Via sent-by, Contact). */
  advertisedHost: string;
  advertisedPort: number;
  userAgent: string;
  /** Default client transaction timeout (Timer B/F). Default 32 s. */
  transactionTimeoutMs?: number;
  logger?: Logger;
}

export interface SendRequestOptions {
  method: string;
  /** Request-URI. */
  uri: string;
  /** name-addr or bare URI. */
  to: string;
  toTag?: string;
  /** name-addr or bare URI; default <sip:localId@localDomain>. */
  from?: string;
  /** Default: a fresh tag. Reuse it (with callId, and a higher cseq) for a REGISTER retry after 401 or in a dialog. */
  fromTag?: string;
  callId?: string;
  cseq?: number;
  /** Extra headers (names case-insensitive). contact/user-agent/max-forwards given here replace the defaults. */
  headers?: Array<[string, string]>;
  body?: Buffer;
  contentType?: string;
  destination: TransportSource;
  /** Default: transactionTimeoutMs. */
  timeoutMs?: number;
  /** Called for each 1xx response (e.g. 100 Trying / 180 to an INVITE). */
  onProvisional?: (res: SipResponse) => void;
  /** Reuse this Via branch instead of a fresh one: CANCEL must carry the branch of the INVITE it cancels. */
  branch?: string;
  /** Called with the request as built and sent (e.g. to keep an INVITE's branch and tags for CANCEL/BYE). */
  onSent?: (request: SipRequest) => void;
}

export type SendAckOptions = Omit<SendRequestOptions, 'method' | 'timeoutMs' | 'onProvisional'> & {
  callId: string;
  cseq: number;
  fromTag: string;
};

export class SipTimeoutError extends Error {
  override readonly name = 'SipTimeoutError';
  constructor(
    readonly method: string,
    readonly destination: TransportSource,
    readonly timeoutMs: number,
  ) {
    super(`no final response to ${method} from ${destination.transport}:${destination.address}:${destination.port} within ${timeoutMs} ms`);
  }
}

export interface SipEndpointEvents {
  request: [req: SipRequest, source: TransportSource];
  'response-sent': [status: number, method: string];
  'transaction-timeout': [method: string, destination: TransportSource];
  /** A response matching no pending client transaction (late, duplicate 2xx, or not ours). */
  'stray-response': [res: SipResponse, source: TransportSource];
}

const T1_MS = 500;
const T2_MS = 4000;
/** Timer J: how long a server transaction remembers its final response. */
const SERVER_CACHE_MS = 32_000;
const TICK_MS = 100;

interface ServerTransaction {
  method: string;
  /** 0 until a final reply was sent. */
  finalStatus: number;
  finalBytes?: Buffer;
  provisionalBytes?: Buffer;
  toTag?: string;
}

interface ClientTransaction {
  key: string;
  method: string;
  request: SipRequest;
  bytes: Buffer;
  destination: TransportSource;
  timeoutMs: number;
  deadline: number;
  /** Infinity when not (or no longer) retransmitting. */
  nextRetransmitAt: number;
  interval: number;
  resolve: (res: SipResponse) => void;
  reject: (err: Error) => void;
  onProvisional?: (res: SipResponse) => void;
}

interface CompletedInvite {
  ackBytes: Buffer;
  destination: TransportSource;
}

/** Two Maps swapped every `lifetimeMs / 2`: entries live between half and the whole lifetime, with no timers. */
class GenerationCache<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private rotatedAt: number;

  constructor(
    private readonly lifetimeMs: number,
    now: number,
  ) {
    this.rotatedAt = now;
  }

  get(key: string): V | undefined {
    return this.current.get(key) ?? this.previous.get(key);
  }

  set(key: string, value: V): void {
    this.current.set(key, value);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  rotateIfDue(now: number): void {
    if (now - this.rotatedAt < this.lifetimeMs / 2) return;
    this.previous = this.current;
    this.current = new Map();
    this.rotatedAt = now;
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }
}

/** Header names whose default value sendRequest lets the caller replace. */
const OVERRIDABLE_DEFAULTS = new Set(['contact', 'user-agent', 'max-forwards']);

export class SipEndpoint extends EventEmitter<SipEndpointEvents> {
  private readonly opts: SipEndpointOptions;
  private readonly log: Logger;
  private readonly defaultTimeoutMs: number;
  private handler: RequestHandler | undefined;
  private readonly serverTransactions: GenerationCache<ServerTransaction>;
  private readonly completedInvites: GenerationCache<CompletedInvite>;
  private readonly clientTransactions = new Map<string, ClientTransaction>();
  /** Earliest deadline or retransmission among client transactions; the tick skips the scan before it. */
  private nextClientEventAt = Infinity;
  private cseqCounter = 0;
  private readonly ticker: NodeJS.Timeout;
  private readonly onMessage: (msg: SipRequest | SipResponse, source: TransportSource) => void;
  private closed = false;

  constructor(opts: SipEndpointOptions) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? pino({ enabled: false });
    this.defaultTimeoutMs = opts.transactionTimeoutMs ?? 32_000;
    const now = Date.now();
    this.serverTransactions = new GenerationCache(SERVER_CACHE_MS, now);
    this.completedInvites = new GenerationCache(SERVER_CACHE_MS, now);
    this.onMessage = (msg, source) => {
      try {
        if (msg.kind === 'request') this.onIncomingRequest(msg, source);
        else this.onIncomingResponse(msg, source);
      } catch (err) {
        this.log.error({ err }, 'SIP endpoint failed on an incoming message');
      }
    };
    opts.transport.on('message', this.onMessage);
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  onRequest(handler: RequestHandler): void {
    this.handler = handler;
  }

  /** Open client transactions (for metrics and tests). */
  /** Contact URI for `localId` at our advertised address (answers that set up a dialog carry it). */
  contactUri(localId: string, transport: 'udp' | 'tcp' = 'udp'): string {
    return `sip:${localId}@${formatHostPort(this.opts.advertisedHost, this.opts.advertisedPort)}${transport === 'tcp' ? ';transport=tcp' : ''}`;
  }

  get pendingClientTransactions(): number {
    return this.clientTransactions.size;
  }

  /** Server transactions currently remembered for retransmission matching. */
  get cachedServerTransactions(): number {
    return this.serverTransactions.size;
  }

  sendRequest(opts: SendRequestOptions): Promise<SipResponse> {
    if (this.closed) return Promise.reject(new Error('SIP endpoint closed'));
    const branch = opts.branch ?? generateBranch();
    const request = this.buildRequest(opts, branch);
    const bytes = serializeSipMessage(request);
    const key = clientKey(branch, opts.method);
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<SipResponse>((resolve, reject) => {
      const used = this.opts.transport.sendBytes(bytes, opts.destination);
      if (!used) {
        reject(new Error(`SIP ${opts.method} not sent: no route to ${opts.destination.transport}:${opts.destination.address}:${opts.destination.port}`));
        return;
      }
      opts.onSent?.(request);
      const now = Date.now();
      const reliable = used.transport === 'tcp';
      const tx: ClientTransaction = {
        key,
        method: opts.method,
        request,
        bytes,
        destination: used,
        timeoutMs,
        deadline: now + timeoutMs,
        nextRetransmitAt: reliable ? Infinity : now + T1_MS,
        interval: T1_MS,
        resolve,
        reject,
        onProvisional: opts.onProvisional,
      };
      this.clientTransactions.set(key, tx);
      this.nextClientEventAt = Math.min(this.nextClientEventAt, tx.deadline, tx.nextRetransmitAt);
    });
  }

  /** ACK for a 2xx to INVITE: its own transaction (new branch), sent once, no response expected. */
  sendAck(opts: SendAckOptions): SipRequest {
    const ack = this.buildRequest({ ...opts, method: 'ACK' }, generateBranch());
    this.opts.transport.sendBytes(serializeSipMessage(ack), opts.destination);
    return ack;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    this.opts.transport.off('message', this.onMessage);
    const pending = [...this.clientTransactions.values()];
    this.clientTransactions.clear();
    for (const tx of pending) tx.reject(new Error('SIP endpoint closed'));
    this.serverTransactions.clear();
    this.completedInvites.clear();
  }

  // ------------------------------------------------------------------------------------------------ client

  private buildRequest(opts: SendRequestOptions, branch: string): SipRequest {
    const transport = opts.destination.transport === 'tcp' ? 'TCP' : 'UDP';
    const hostPort = formatHostPort(this.opts.advertisedHost, this.opts.advertisedPort);
    const fromBase = asNameAddr(opts.from ?? `<sip:${this.opts.localId}@${this.opts.localDomain}>`);
    const from = withTag(fromBase, tagOf(fromBase) ? undefined : (opts.fromTag ?? generateTag()));
    const toBase = asNameAddr(opts.to);
    const to = withTag(toBase, tagOf(toBase) ? undefined : opts.toTag);
    const cseq = opts.cseq ?? this.nextCSeq();
    const headers: Array<[string, string]> = [
      ['via', `SIP/2.0/${transport} ${hostPort};rport;branch=${branch}`],
      ['from', from],
      ['to', to],
      ['call-id', opts.callId ?? generateCallId(this.opts.advertisedHost)],
      ['cseq', `${cseq} ${opts.method}`],
      ['contact', `<sip:${this.opts.localId}@${hostPort}${transport === 'TCP' ? ';transport=tcp' : ''}>`],
      ['max-forwards', '70'],
      ['user-agent', this.opts.userAgent],
    ];
    const replaced = new Set<string>();
    for (const [rawName, value] of opts.headers ?? []) {
      const name = rawName.toLowerCase();
      if (OVERRIDABLE_DEFAULTS.has(name) && !replaced.has(name)) {
        replaced.add(name);
        const idx = headers.findIndex(([n]) => n === name);
        if (idx >= 0) headers.splice(idx, 1);
      }
      headers.push([name, value]);
    }
    const body = opts.body ?? Buffer.alloc(0);
    if (body.length > 0 && opts.contentType) headers.push(['content-type', opts.contentType]);
    return { kind: 'request', method: opts.method, uri: opts.uri, version: 'SIP/2.0', headers, body };
  }

  private nextCSeq(): number {
    this.cseqCounter = (this.cseqCounter % 0x7fffffff) + 1;
    return this.cseqCounter;
  }

  private onIncomingResponse(res: SipResponse, source: TransportSource): void {
    let key: string;
    let branch: string;
    try {
      branch = parseVia(header(res, 'via')!).params.get('branch') ?? '';
      key = clientKey(branch, parseCSeq(header(res, 'cseq')!).method);
    } catch {
      return; // the parser checked both; unreachable in practice
    }
    const tx = this.clientTransactions.get(key);
    if (!tx) {
      const completed = this.completedInvites.get(branch);
      if (completed && res.status >= 300) {
        this.opts.transport.sendBytes(completed.ackBytes, completed.destination); // our ACK was lost: ACK again
        return;
      }
      this.log.debug({ status: res.status, source }, 'response for no pending transaction');
      this.emit('stray-response', res, source);
      return;
    }
    if (res.status < 200) {
      tx.nextRetransmitAt = Infinity; // the peer has it; wait for the final response
      try {
        tx.onProvisional?.(res);
      } catch (err) {
        this.log.error({ err }, 'onProvisional callback threw');
      }
      return;
    }
    this.clientTransactions.delete(key);
    if (tx.method === 'INVITE' && res.status >= 300) this.ackNon2xx(tx, res, branch);
    tx.resolve(res);
  }

  /** RFC 3261 §17.1.1.3: same branch, top Via only, To from the response, CSeq number of the INVITE. */
  private ackNon2xx(tx: ClientTransaction, res: SipResponse, branch: string): void {
    const pick = (name: string): string => header(tx.request, name) ?? '';
    const headers: Array<[string, string]> = [
      ['via', pick('via')],
      ['from', pick('from')],
      ['to', header(res, 'to') ?? pick('to')],
      ['call-id', pick('call-id')],
      ['cseq', `${parseCSeq(pick('cseq')).seq} ACK`],
      ['max-forwards', '70'],
      ['user-agent', this.opts.userAgent],
    ];
    for (const [n, v] of tx.request.headers) if (n === 'route') headers.push([n, v]);
    const ack: SipRequest = { kind: 'request', method: 'ACK', uri: tx.request.uri, version: 'SIP/2.0', headers, body: Buffer.alloc(0) };
    const ackBytes = serializeSipMessage(ack);
    this.opts.transport.sendBytes(ackBytes, tx.destination);
    this.completedInvites.set(branch, { ackBytes, destination: tx.destination });
  }

  private tick(): void {
    const now = Date.now();
    this.serverTransactions.rotateIfDue(now);
    this.completedInvites.rotateIfDue(now);
    if (now < this.nextClientEventAt) return;
    let next = Infinity;
    for (const tx of this.clientTransactions.values()) {
      if (now >= tx.deadline) {
        this.clientTransactions.delete(tx.key);
        this.log.debug({ method: tx.method, destination: tx.destination }, 'SIP transaction timed out');
        this.emit('transaction-timeout', tx.method, tx.destination);
        tx.reject(new SipTimeoutError(tx.method, tx.destination, tx.timeoutMs));
        continue;
      }
      if (now >= tx.nextRetransmitAt) {
        this.opts.transport.sendBytes(tx.bytes, tx.destination);
        // INVITE (Timer A) keeps doubling; non-INVITE (Timer E) is capped at T2.
        tx.interval = tx.method === 'INVITE' ? tx.interval * 2 : Math.min(tx.interval * 2, T2_MS);
        tx.nextRetransmitAt = now + tx.interval;
      }
      next = Math.min(next, tx.deadline, tx.nextRetransmitAt);
    }
    this.nextClientEventAt = next;
  }

  // ------------------------------------------------------------------------------------------------ server

  private onIncomingRequest(req: SipRequest, source: TransportSource): void {
    const key = serverKey(req, req.method);
    if (req.method === 'ACK') {
      // An ACK for our non-2xx final answer to an INVITE belongs to that transaction: absorb it.
      const invite = this.serverTransactions.get(serverKey(req, 'INVITE'));
      if (invite && invite.finalStatus >= 300) return;
      this.dispatch(req, source, () => undefined); // ACK for a 2xx: end-to-end, the dialog layer's business
      return;
    }
    const existing = this.serverTransactions.get(key);
    if (existing) {
      const cached = existing.finalBytes ?? existing.provisionalBytes;
      if (cached) this.opts.transport.sendBytes(cached, source);
      this.log.debug({ method: req.method, source, answered: cached !== undefined }, 'request retransmission');
      return;
    }
    const tx: ServerTransaction = { method: req.method, finalStatus: 0 };
    this.serverTransactions.set(key, tx);
    const reply: ReplyFn = (status, reason, replyOpts) => this.reply(tx, req, source, status, reason, replyOpts);
    this.dispatch(req, source, reply);
  }

  private dispatch(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    this.emit('request', req, source);
    if (!this.handler) {
      reply(503, 'Service Unavailable');
      return;
    }
    try {
      this.handler(req, source, reply);
    } catch (err) {
      this.log.error({ err, method: req.method }, 'SIP request handler threw');
      reply(500, 'Server Internal Error');
    }
  }

  private reply(
    tx: ServerTransaction,
    req: SipRequest,
    source: TransportSource,
    status: number,
    reason: string | undefined,
    opts: Parameters<ReplyFn>[2],
  ): void {
    if (this.closed) return;
    if (tx.finalStatus !== 0) {
      if (status >= 200) this.log.warn({ method: req.method, status, first: tx.finalStatus }, 'second final reply ignored');
      return;
    }
    if (!Number.isInteger(status) || status < 100 || status > 699) throw new RangeError(`bad SIP status ${status}`);
    tx.toTag ??= opts?.toTag ?? generateTag();
    const extra = opts?.headers ?? [];
    const headers = extra.some(([n]) => n.toLowerCase() === 'user-agent') ? extra : [...extra, ['user-agent', this.opts.userAgent] as [string, string]];
    const res = buildResponse(req, status, reason, { headers, body: opts?.body, contentType: opts?.contentType, toTag: tx.toTag });
    stampReceivedOnTopVia(res, source.address, source.port);
    const bytes = serializeSipMessage(res);
    if (status >= 200) {
      tx.finalStatus = status;
      tx.finalBytes = bytes;
      tx.provisionalBytes = undefined;
    } else tx.provisionalBytes = bytes;
    this.opts.transport.sendBytes(bytes, source);
    this.emit('response-sent', status, req.method);
  }
}

function clientKey(branch: string, method: string): string {
  return `${branch}\n${method.toUpperCase()}`;
}

/** Retransmission identity of a request; see the file comment for why CSeq and Call-ID are included. */
function serverKey(req: SipRequest, method: string): string {
  let branch = '';
  try {
    branch = parseVia(header(req, 'via')!).params.get('branch') ?? '';
  } catch {
    // parser-validated; keep '' and fall back to the RFC 2543 identity below
  }
  let seq = '';
  try {
    seq = String(parseCSeq(header(req, 'cseq')!).seq);
  } catch {
    seq = header(req, 'cseq') ?? '';
  }
  return `${branch}\n${method.toUpperCase()}\n${seq}\n${header(req, 'call-id') ?? ''}\n${tagOf(header(req, 'from')) ?? ''}`;
}

/** Bare URIs get angle brackets; an addr-spec with header params ("sip:a@b;tag=1") keeps them as header params. */
function asNameAddr(value: string): string {
  const v = value.trim();
  if (v.includes('<')) return v;
  try {
    return formatNameAddr(parseNameAddr(v));
  } catch {
    return `<${v}>`;
  }
}

function withTag(nameAddr: string, tag: string | undefined): string {
  return tag ? `${nameAddr};tag=${tag}` : nameAddr;
}
