/**
 * Our registration with one upper platform (cascade, GB/T 28181 §9.1 seen from the lower side): REGISTER with
 * digest (answering the upper's challenge), refresh before expiry, Keepalive MESSAGEs, and recovery.
 *
 * Written on our SIP endpoint rather than a SIP user-agent library: the endpoint already does transactions,
 * retransmission and the GB quirks (replies to the transport source), and a cascade link is one REGISTER
 * dialogue plus MESSAGEs.
 *
 * States: `registering` (first attempt or after a loss), `online` (200 OK, keepalives answered), `offline`
 * (no answer, or keepalives missed), `auth-failed` (our credentials refused: 401 after our digest, or 403).
 * Recovery, with the WVP complaints in mind (cascades that stay down after the upper platform restarts):
 * - keepalive answered 403/404/481 or `keepaliveMisses` keepalives unanswered → register again at once;
 * - a failed REGISTER → retry with exponential back-off (1 s doubling to 60 s, ±25 % jitter), never a hot loop;
 * - auth-failed → retry slowly (5 min, jittered): the password is wrong until someone changes it, and some
 *   platforms lock an account after a few failures.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { header, type SipResponse } from '../../codecs/sip/message.js';
import { quote } from '../../codecs/sip/headers.js';
import { generateCallId, generateTag } from '../../codecs/sip/builder.js';
import { computeDigestResponse, parseDigestParams } from '../../codecs/sip/digest.js';
import { encodeKeepalive, MANSCDP_CONTENT_TYPE } from '../../codecs/manscdp/messages.js';
import type { ManscdpCharset } from '../../codecs/manscdp/charset.js';
import type { SipEndpoint } from '../sip-endpoint.js';
import type { TransportSource } from '../../transport/sip-transport.js';

export type UpperLinkStatus = 'registering' | 'online' | 'offline' | 'auth-failed';

export interface UpperLinkOptions {
  /** The upper platform's SIP ID and domain (its realm is whatever it challenges with). */
  platformId: string;
  domain: string;
  destination: TransportSource;
  /** Our SIP ID towards it (the gateway's ID unless the upper numbering plan wants another) and domain. */
  localId: string;
  localDomain: string;
  password: string;
  expiresSec: number;
  keepaliveSec: number;
  /** Keepalives unanswered in a row before the link counts as lost. */
  keepaliveMisses: number;
  charset: ManscdpCharset;
  /** SN source shared with the rest of the signalling. */
  nextSn: () => number;
  /** Timers, replaceable in tests. */
  setTimer?: (fn: () => void, ms: number) => NodeJS.Timeout;
  random?: () => number;
  now?: () => number;
}

export interface UpperLinkState {
  status: UpperLinkStatus;
  /** Epoch ms of the last status change. */
  since: number;
  /** What went wrong last (null while online). */
  lastError: string | null;
  /** Expiry the upper platform granted (s), null before the first 200 OK. */
  grantedExpiresSec: number | null;
  registeredAt: number | null;
  lastKeepaliveAt: number | null;
}

export interface UpperLinkEvents {
  status: [UpperLinkState];
}

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const AUTH_FAILED_RETRY_MS = 5 * 60_000;
/** Answers to a keepalive that mean "I do not know you" (the upper platform restarted): register again. */
const REREGISTER_ON = new Set([401, 403, 404, 481]);

export class UpperRegistration extends EventEmitter<UpperLinkEvents> {
  private readonly callId = generateCallId();
  private readonly fromTag = generateTag();
  private cseq = 0;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private missed = 0;
  private stopped = false;
  private busy = false;
  private readonly stateValue: UpperLinkState;

  constructor(
    private readonly endpoint: SipEndpoint,
    private opts: UpperLinkOptions,
  ) {
    super();
    this.stateValue = { status: 'registering', since: this.now(), lastError: null, grantedExpiresSec: null, registeredAt: null, lastKeepaliveAt: null };
  }

  get state(): UpperLinkState {
    return { ...this.stateValue };
  }

  start(): void {
    this.stopped = false;
    void this.register();
  }

  /** Unregister (Expires: 0, best effort) and stop every timer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (this.stateValue.status !== 'online') return;
    try {
      await this.sendRegister(0);
    } catch {
      // Best effort: the upper platform's registration will expire on its own.
    }
  }

  // ------------------------------------------------------------------ registration

  private async register(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    this.clearTimer();
    try {
      const res = await this.sendRegister(this.opts.expiresSec);
      if (this.stopped) return;
      if (res.status >= 200 && res.status < 300) {
        const granted = grantedExpires(res) ?? this.opts.expiresSec;
        this.failures = 0;
        this.missed = 0;
        this.stateValue.grantedExpiresSec = granted;
        this.stateValue.registeredAt = this.now();
        this.setStatus('online', null);
        // Refresh at 80 % of the granted time (at least 5 s before it runs out), keepalive meanwhile.
        this.scheduleKeepalive(Math.max(1_000, Math.min(granted * 800, (granted - 5) * 1000)));
        return;
      }
      if (res.status === 401 || res.status === 403) {
        this.setStatus('auth-failed', `${res.status} ${res.reason}`);
        this.schedule(() => void this.register(), this.jitter(AUTH_FAILED_RETRY_MS));
        return;
      }
      this.fail(`REGISTER answered ${res.status} ${res.reason}`);
    } catch (err) {
      if (!this.stopped) this.fail(`REGISTER: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  /** REGISTER, answering one digest challenge on the same Call-ID with the next CSeq. */
  private async sendRegister(expires: number): Promise<SipResponse> {
    const first = await this.request(expires, null);
    if (first.status !== 401 && first.status !== 407) return first;
    const challenge = header(first, first.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
    if (!challenge) return first;
    const authorization = this.authorization(challenge);
    if (!authorization) return first;
    return this.request(expires, [first.status === 401 ? 'authorization' : 'proxy-authorization', authorization]);
  }

  private request(expires: number, auth: [string, string] | null): Promise<SipResponse> {
    const self = `<sip:${this.opts.localId}@${this.opts.localDomain}>`;
    return this.endpoint.sendRequest({
      method: 'REGISTER',
      uri: `sip:${this.opts.platformId}@${this.opts.domain}`,
      to: self,
      from: self,
      fromTag: this.fromTag,
      callId: this.callId,
      cseq: ++this.cseq,
      headers: [['expires', String(expires)], ...(auth ? [auth] : [])],
      destination: this.opts.destination,
    });
  }

  private authorization(challengeHeader: string): string | null {
    const p = parseDigestParams(challengeHeader);
    if (!p.realm || !p.nonce) return null;
    const qops = (p.qop ?? '').split(',').map((q) => q.trim().toLowerCase());
    const useQop = qops.includes('auth');
    const nc = '00000001';
    const cnonce = randomBytes(8).toString('hex');
    const uri = `sip:${this.opts.platformId}@${this.opts.domain}`;
    let response: string;
    try {
      response = computeDigestResponse({
        username: this.opts.localId,
        realm: p.realm,
        password: this.opts.password,
        method: 'REGISTER',
        uri,
        nonce: p.nonce,
        qop: useQop ? 'auth' : undefined,
        nc,
        cnonce,
        algorithm: p.algorithm,
      });
    } catch {
      return null;
    }
    let value = `Digest username=${quote(this.opts.localId)}, realm=${quote(p.realm)}, nonce=${quote(p.nonce)}, uri=${quote(uri)}, response=${quote(response)}`;
    if (p.algorithm !== undefined) value += `, algorithm=${p.algorithm}`;
    if (useQop) value += `, cnonce=${quote(cnonce)}, nc=${nc}, qop=auth`;
    if (p.opaque !== undefined) value += `, opaque=${quote(p.opaque)}`;
    return value;
  }

  // ------------------------------------------------------------------ keepalive

  private scheduleKeepalive(refreshInMs: number): void {
    const refreshAt = this.now() + refreshInMs;
    const tick = (): void => {
      if (this.stopped) return;
      if (this.now() >= refreshAt - this.opts.keepaliveSec * 500) {
        void this.register();
        return;
      }
      void this.keepalive().then(() => {
        if (!this.stopped && this.stateValue.status === 'online') this.schedule(tick, this.opts.keepaliveSec * 1000);
      });
    };
    this.schedule(tick, Math.min(this.opts.keepaliveSec * 1000, refreshInMs));
  }

  private async keepalive(): Promise<void> {
    try {
      const res = await this.endpoint.sendRequest({
        method: 'MESSAGE',
        uri: `sip:${this.opts.platformId}@${this.opts.domain}`,
        to: `<sip:${this.opts.platformId}@${this.opts.domain}>`,
        from: `<sip:${this.opts.localId}@${this.opts.localDomain}>`,
        body: encodeKeepalive(this.opts.localId, this.opts.nextSn(), {}, this.opts.charset),
        contentType: MANSCDP_CONTENT_TYPE,
        destination: this.opts.destination,
        timeoutMs: Math.min(this.opts.keepaliveSec * 1000, 32_000),
      });
      if (this.stopped) return;
      if (res.status >= 200 && res.status < 300) {
        this.missed = 0;
        this.stateValue.lastKeepaliveAt = this.now();
        return;
      }
      if (REREGISTER_ON.has(res.status)) {
        // The upper platform forgot us (restarted, or expired our registration): register again now.
        this.setStatus('registering', `keepalive answered ${res.status} ${res.reason}`);
        this.schedule(() => void this.register(), 0);
        return;
      }
      this.missKeepalive(`keepalive answered ${res.status} ${res.reason}`);
    } catch (err) {
      if (!this.stopped) this.missKeepalive(`keepalive: ${(err as Error).message}`);
    }
  }

  private missKeepalive(reason: string): void {
    this.missed++;
    if (this.missed < this.opts.keepaliveMisses) return;
    this.fail(`${this.missed} keepalives unanswered (${reason})`);
  }

  // ------------------------------------------------------------------ helpers

  private fail(reason: string): void {
    this.failures++;
    this.setStatus('offline', reason);
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(10, this.failures - 1));
    this.schedule(() => void this.register(), this.jitter(delay));
  }

  private setStatus(status: UpperLinkStatus, error: string | null): void {
    const changed = this.stateValue.status !== status || this.stateValue.lastError !== error;
    if (this.stateValue.status !== status) this.stateValue.since = this.now();
    this.stateValue.status = status;
    this.stateValue.lastError = error;
    if (changed) this.emit('status', this.state);
  }

  private schedule(fn: () => void, ms: number): void {
    this.clearTimer();
    if (this.stopped) return;
    const timer = (this.opts.setTimer ?? setTimeout)(fn, ms);
    timer.unref?.();
    this.timer = timer;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private jitter(ms: number): number {
    return Math.round(ms * (0.75 + (this.opts.random ?? Math.random)() * 0.5));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

/** Expires the upper platform granted: the Expires header, or the expires parameter of our Contact. */
function grantedExpires(res: SipResponse): number | null {
  const value = header(res, 'expires');
  if (value !== undefined && /^\d+$/.test(value.trim())) return Number(value.trim());
  const contact = header(res, 'contact');
  const m = contact ? /;\s*expires=(\d+)/i.exec(contact) : null;
  return m ? Number(m[1]) : null;
}
