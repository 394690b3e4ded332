/**
 * A tiny GB registrar for the simulator tests, built from the real SipTransport + SipEndpoint: it challenges
 * REGISTER with digest and checks the answer with verifyDigest (real MD5), answers MESSAGEs 200 (optionally
 * late, to observe serial sending), records everything, and can send queries/controls to registered devices.
 * Loopback only.
 */
import { EventEmitter } from 'node:events';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { SipEndpoint, type ReplyFn } from '../../src/protocol/sip-endpoint.js';
import { header, type SipRequest, type SipResponse } from '../../src/codecs/sip/message.js';
import { parseNameAddr, parseUri } from '../../src/codecs/sip/headers.js';
import { buildChallenge, NonceIssuer, parseDigestParams, verifyDigest } from '../../src/codecs/sip/digest.js';
import { decodeManscdp, MANSCDP_CONTENT_TYPE, type ManscdpMessage } from '../../src/codecs/manscdp/messages.js';
import { serializeSipMessage } from '../../src/codecs/sip/serializer.js';

export const REGISTRAR_ID = '44030500002000000001';
export const REALM = '4403050000';

export interface RegisterRecord {
  deviceId: string;
  expires: number;
  status: number;
  source: TransportSource;
  callId: string;
  /** Digest parameters of the Authorization header (when present). */
  qop?: string;
  nc?: string;
  algorithm?: string;
  userAgent: string;
  contact: string;
  gbVersion: string;
}

export interface MessageRecord {
  from: string;
  target: string;
  msg: ManscdpMessage;
  body: Buffer;
  /** Size of the whole SIP message as re-serialized (what went over the wire, near enough). */
  wireBytes: number;
  source: TransportSource;
  at: number;
}

interface RegistrarEvents {
  register: [RegisterRecord];
  message: [MessageRecord];
}

const userOf = (value: string | undefined): string => {
  if (!value) return '';
  try {
    return parseUri(parseNameAddr(value).uri).user;
  } catch {
    return '';
  }
};

export class TestRegistrar extends EventEmitter<RegistrarEvents> {
  readonly registers: RegisterRecord[] = [];
  readonly messages: MessageRecord[] = [];
  /** Last successful registration source per device. */
  readonly bindings = new Map<string, TransportSource>();
  /** Status to answer a keepalive from a device with (default 200). */
  keepaliveStatus: (deviceId: string) => number = () => 200;
  /** Delay before answering a non-keepalive MESSAGE (ms). */
  answerDelayMs = 0;
  /** MESSAGEs received but not yet answered, and the most ever outstanding at once. */
  outstanding = 0;
  maxOutstanding = 0;
  private readonly nonces = new NonceIssuer();
  private sn = 100;

  private constructor(
    readonly transport: SipTransport,
    readonly endpoint: SipEndpoint,
    private readonly password: string,
  ) {
    super();
    endpoint.onRequest((req, source, reply) => this.onRequest(req, source, reply));
  }

  static async start(password: string, port = 0): Promise<TestRegistrar> {
    const transport = new SipTransport({ host: '127.0.0.1', port });
    await transport.listen();
    const endpoint = new SipEndpoint({
      transport,
      localId: REGISTRAR_ID,
      localDomain: REALM,
      advertisedHost: '127.0.0.1',
      advertisedPort: transport.port,
      userAgent: 'test-registrar',
      transactionTimeoutMs: 5_000,
    });
    return new TestRegistrar(transport, endpoint, password);
  }

  get server(): string {
    return `127.0.0.1:${this.transport.port}`;
  }

  async close(): Promise<void> {
    this.endpoint.close();
    await this.transport.close();
  }

  /** Resolves with the first record (present or future) matching; rejects after timeoutMs. */
  waitForMessage(match: (m: MessageRecord) => boolean, timeoutMs = 5_000): Promise<MessageRecord> {
    const found = this.messages.find(match);
    if (found) return Promise.resolve(found);
    return this.waitFor('message', match, timeoutMs);
  }

  waitForRegister(match: (r: RegisterRecord) => boolean, timeoutMs = 5_000): Promise<RegisterRecord> {
    const found = this.registers.find(match);
    if (found) return Promise.resolve(found);
    return this.waitFor('register', match, timeoutMs);
  }

  private waitFor<K extends keyof RegistrarEvents>(
    event: K,
    match: (r: RegistrarEvents[K][0]) => boolean,
    timeoutMs: number,
  ): Promise<RegistrarEvents[K][0]> {
    return new Promise((resolve, reject) => {
      const listener = (record: RegistrarEvents[K][0]): void => {
        if (!match(record)) return;
        clearTimeout(timer);
        (this.off as (e: K, l: (r: RegistrarEvents[K][0]) => void) => this)(event, listener);
        resolve(record);
      };
      const timer = setTimeout(() => {
        (this.off as (e: K, l: (r: RegistrarEvents[K][0]) => void) => this)(event, listener);
        reject(new Error(`registrar: no matching ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      (this.on as (e: K, l: (r: RegistrarEvents[K][0]) => void) => this)(event, listener);
    });
  }

  nextSn(): number {
    return ++this.sn;
  }

  /** Send a MANSCDP MESSAGE to `targetId` (device or channel) at the registration source of `deviceId`. */
  sendTo(deviceId: string, targetId: string, body: Buffer, timeoutMs = 5_000): Promise<SipResponse> {
    const destination = this.bindings.get(deviceId);
    if (!destination) throw new Error(`registrar: ${deviceId} is not registered`);
    return this.endpoint.sendRequest({
      method: 'MESSAGE',
      uri: `sip:${targetId}@${REALM}`,
      to: `<sip:${targetId}@${REALM}>`,
      body,
      contentType: MANSCDP_CONTENT_TYPE,
      destination,
      timeoutMs,
    });
  }

  private onRequest(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    if (req.method === 'REGISTER') this.onRegister(req, source, reply);
    else if (req.method === 'MESSAGE') this.onMessage(req, source, reply);
    else reply(405, 'Method Not Allowed');
  }

  private onRegister(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const deviceId = userOf(header(req, 'from'));
    const expires = Number(header(req, 'expires') ?? '3600');
    const authorization = header(req, 'authorization');
    const record: RegisterRecord = {
      deviceId,
      expires,
      status: 0,
      source,
      callId: header(req, 'call-id') ?? '',
      userAgent: header(req, 'user-agent') ?? '',
      contact: header(req, 'contact') ?? '',
      gbVersion: header(req, 'x-gb-ver') ?? '',
    };
    const finish = (status: number, reason: string, headers?: Array<[string, string]>): void => {
      record.status = status;
      reply(status, reason, { headers });
      this.registers.push(record);
      this.emit('register', record);
    };
    if (!authorization) {
      finish(401, 'Unauthorized', [['www-authenticate', buildChallenge(REALM, this.nonces.issue(Date.now()))]]);
      return;
    }
    const params = parseDigestParams(authorization);
    record.qop = params.qop;
    record.nc = params.nc;
    record.algorithm = params.algorithm;
    if (this.nonces.verify(params.nonce ?? '', Date.now()) !== 'ok') {
      finish(401, 'Unauthorized', [['www-authenticate', buildChallenge(REALM, this.nonces.issue(Date.now()))]]);
      return;
    }
    if (params.username !== deviceId || !verifyDigest(params, this.password, 'REGISTER', { expectedRealm: REALM })) {
      finish(403, 'Wrong Password');
      return;
    }
    if (expires === 0) this.bindings.delete(deviceId);
    else this.bindings.set(deviceId, source);
    finish(200, 'OK', [
      ['expires', String(expires)],
      ['date', new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 23)],
    ]);
  }

  private onMessage(req: SipRequest, source: TransportSource, reply: ReplyFn): void {
    const from = userOf(header(req, 'from'));
    let msg: ManscdpMessage;
    try {
      msg = decodeManscdp(req.body);
    } catch {
      reply(400, 'Bad Body');
      return;
    }
    const record: MessageRecord = {
      from,
      target: parseUri(req.uri).user,
      msg,
      body: req.body,
      wireBytes: serializeSipMessage(req).length,
      source,
      at: Date.now(),
    };
    this.messages.push(record);
    this.emit('message', record);
    if (msg.cmdType === 'Keepalive') {
      reply(this.keepaliveStatus(from), undefined);
      return;
    }
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    const answer = (): void => {
      this.outstanding--;
      reply(200, 'OK');
    };
    if (this.answerDelayMs > 0) setTimeout(answer, this.answerDelayMs);
    else answer();
  }
}
