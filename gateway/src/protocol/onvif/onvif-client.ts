/**
 * ONVIF client for one camera: SOAP over HTTP with WS-Security (UsernameToken, PasswordDigest, signed with the
 * camera's clock), HTTP digest or basic where a camera asks for it, addresses rewritten to the host we reached,
 * a timeout on every call and a bounded answer size (HTTP over node:http, not fetch: see soap-http.ts).
 * Failures are OnvifError with a reason the device status shows: unreachable, auth-failed, clock-skew,
 * soap-fault, bad-answer.
 *
 * Clock: GetSystemDateAndTime is asked without credentials first; the difference to our clock is kept and
 * applied to every token's Created (cameras reject tokens more than a few minutes off). When a camera refuses
 * a token, the clock is read again and the call retried once (the camera's clock may have been set since);
 * a second refusal is `auth-failed`, or `clock-skew` when the camera's clock is more than `skewLimitSec` away
 * from ours (many cameras compare Created with their NTP-less clock and some refuse large offsets anyway).
 * Wrong credentials are never retried beyond that one call: cameras lock accounts after a few failures.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { computeDigestResponse, parseDigestParams } from '../../codecs/sip/digest.js';
import { rewriteToReachedHost } from '../../codecs/onvif/address.js';
import {
  EVENT_ACTIONS,
  OnvifDecodeError,
  device,
  events,
  media,
  media2,
  imaging,
  parseCapabilities,
  parseExposure,
  parseFocusMoveOptions,
  parseIrisOptions,
  parsePtzNodes,
  parseCreatePullPointSubscription,
  parseDeviceInformation,
  parseNetworkInterfaces,
  parsePresets,
  parseProfiles,
  parsePullMessages,
  parseServices,
  parseSetPreset,
  parseSystemDateAndTime,
  parseUri,
  ptz,
  type DeviceInformation,
  type MediaProfile,
  type NetworkInterface,
  type OnvifEvent,
  type PtzNodeSpaces,
  type PtzPreset,
  type Range,
  type PtzVector,
  type PullPointSubscription,
  type ServiceAddresses,
} from '../../codecs/onvif/messages.js';
import { HttpExchangeError, httpExchange, type HttpAnswer } from './soap-http.js';
import { SoapError, buildEnvelope, parseEnvelope, usernameTokenHeader, wsAddressingHeader, type SoapFault, type XmlNode } from '../../codecs/soap/soap.js';

export type OnvifFailureReason = 'unreachable' | 'auth-failed' | 'clock-skew' | 'soap-fault' | 'bad-answer';

export class OnvifError extends Error {
  override readonly name = 'OnvifError';
  constructor(
    readonly reason: OnvifFailureReason,
    message: string,
    readonly detail: { fault?: SoapFault; httpStatus?: number } = {},
  ) {
    super(message);
  }
}

/** A parser's complaint about a camera's answer is a bad answer from that camera. */
function decoded<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof OnvifDecodeError) throw new OnvifError('bad-answer', err.message);
    throw err;
  }
}

export interface OnvifClientOptions {
  /** The address we reach the camera at (an IP or host name). */
  host: string;
  /** HTTP port of the device service. Default 80. */
  port?: number;
  username: string;
  password: string;
  /** Device service path. Default /onvif/device_service. */
  devicePath?: string;
  /** Per call. Default 5 000 ms. */
  timeoutMs?: number;
  /** Answers larger than this are refused. Default 4 MiB. */
  maxAnswerBytes?: number;
  /** A camera clock further than this from ours is reported as clock-skew when it refuses our token. Default 300 s. */
  skewLimitSec?: number;
  /** Our clock (tests inject one). */
  now?: () => number;
}

export interface OnvifConnection {
  info: DeviceInformation;
  services: ServiceAddresses;
  /** Camera clock minus ours, ms (0 when the camera gave no time). */
  clockOffsetMs: number;
}

export class OnvifClient {
  private readonly port: number;
  private readonly timeoutMs: number;
  private readonly maxAnswerBytes: number;
  private readonly skewLimitSec: number;
  private readonly now: () => number;
  /** Camera clock − our clock, ms. */
  clockOffsetMs = 0;
  clockKnown = false;
  services: ServiceAddresses = {};
  /**
   * The last authenticated call was refused (auth-failed or clock-skew), whoever made it (a probe, PTZ, the event
   * feed); cleared by the next authenticated call that goes through. The health probe reads it: a camera that
   * refuses our credentials must not look online because it still tells the time to anyone.
   */
  credentialsRefused = false;
  /** HTTP digest state when a camera asks for it on SOAP calls too (nc counts per nonce). */
  private digest: { realm: string; nonce: string; qop?: string; opaque?: string; algorithm?: string; nc: number } | null = null;

  constructor(private readonly opts: OnvifClientOptions) {
    this.port = opts.port ?? 80;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.maxAnswerBytes = opts.maxAnswerBytes ?? 4 * 1024 * 1024;
    this.skewLimitSec = opts.skewLimitSec ?? 300;
    this.now = opts.now ?? Date.now;
  }

  get deviceServiceUrl(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.port}${this.opts.devicePath ?? '/onvif/device_service'}`;
  }

  /** Read the camera clock, the device information and the service addresses. */
  async connect(): Promise<OnvifConnection> {
    await this.syncClock().catch((err: unknown) => {
      // A camera that wants credentials even for the time, or faults the call: go on with our own clock (its
      // authenticated calls below say whether that is good enough). Unreachable or not ONVIF at all: stop here.
      if (!(err instanceof OnvifError) || (err.reason !== 'soap-fault' && err.reason !== 'auth-failed')) throw err;
    });
    const info = parseDeviceInformation(await this.call(this.deviceServiceUrl, device.getDeviceInformation()));
    let services: ServiceAddresses;
    try {
      services = parseServices(await this.call(this.deviceServiceUrl, device.getServices()));
    } catch (err) {
      // GetServices is optional for Profile S devices of before 2012: fall back to GetCapabilities.
      if (!(err instanceof OnvifError) || err.reason !== 'soap-fault') throw err;
      const message = await this.call(this.deviceServiceUrl, device.getCapabilities());
      services = decoded(() => parseCapabilities(message));
    }
    this.services = Object.fromEntries(Object.entries(services).map(([k, v]) => [k, this.reached(v)])) as ServiceAddresses;
    this.services.device ??= this.deviceServiceUrl;
    return { info, services: this.services, clockOffsetMs: this.clockOffsetMs };
  }

  /** GetSystemDateAndTime without credentials; keeps the offset. Returns the camera's UTC time or null. */
  async syncClock(): Promise<Date | null> {
    const sentAt = this.now();
    const message = await this.call(this.deviceServiceUrl, device.getSystemDateAndTime(), { authenticate: false });
    const cameraTime = parseSystemDateAndTime(message);
    if (cameraTime) {
      // The answer is stamped somewhere inside the round trip: take its middle, to the second the camera gives.
      const midpoint = (sentAt + this.now()) / 2;
      this.clockOffsetMs = Math.round((cameraTime.getTime() - midpoint) / 1000) * 1000;
      this.clockKnown = true;
    }
    return cameraTime;
  }

  async deviceInformation(): Promise<DeviceInformation> {
    return parseDeviceInformation(await this.call(this.deviceServiceUrl, device.getDeviceInformation()));
  }

  async networkInterfaces(): Promise<NetworkInterface[]> {
    return parseNetworkInterfaces(await this.call(this.deviceServiceUrl, device.getNetworkInterfaces()));
  }

  /** Media2 profiles when the camera has Media2 (it reports H.265), else Media ver10. */
  async profiles(): Promise<MediaProfile[]> {
    if (this.services.media2) {
      try {
        return parseProfiles(await this.call(this.services.media2, media2.getProfiles()));
      } catch (err) {
        if (!(err instanceof OnvifError) || err.reason !== 'soap-fault' || !this.services.media) throw err;
      }
    }
    return parseProfiles(await this.call(this.need('media'), media.getProfiles()));
  }

  async streamUri(profileToken: string, transport: 'tcp' | 'udp' = 'tcp'): Promise<string> {
    const message = this.services.media2
      ? await this.call(this.services.media2, media2.getStreamUri(profileToken, transport))
      : await this.call(this.need('media'), media.getStreamUri(profileToken, transport));
    return this.reached(this.uri(message));
  }

  async snapshotUri(profileToken: string): Promise<string> {
    const message = this.services.media2
      ? await this.call(this.services.media2, media2.getSnapshotUri(profileToken))
      : await this.call(this.need('media'), media.getSnapshotUri(profileToken));
    return this.reached(this.uri(message));
  }

  /** The JPEG at a snapshot URI (HTTP digest or basic with the camera's credentials). */
  async snapshot(uri: string): Promise<Buffer> {
    const answer = await this.http('GET', uri, null, {});
    if (answer.status === 401) throw new OnvifError('auth-failed', `snapshot refused with 401 at ${uri}`, { httpStatus: 401 });
    if (answer.status !== 200) throw new OnvifError('bad-answer', `snapshot answered HTTP ${answer.status} at ${uri}`, { httpStatus: answer.status });
    if (answer.body[0] !== 0xff || answer.body[1] !== 0xd8) throw new OnvifError('bad-answer', `snapshot at ${uri} is not a JPEG (${answer.contentType || 'no content type'})`);
    return answer.body;
  }

  // ---- PTZ (velocities as given: the driver scales them into the node's ranges, see ptzNodes)

  async continuousMove(profileToken: string, velocity: PtzVector, timeoutSec?: number): Promise<void> {
    await this.call(this.need('ptz'), ptz.continuousMove(profileToken, velocity, timeoutSec));
  }

  async stop(profileToken: string, panTilt = true, zoom = true): Promise<void> {
    await this.call(this.need('ptz'), ptz.stop(profileToken, panTilt, zoom));
  }

  async relativeMove(profileToken: string, translation: PtzVector, speed?: PtzVector): Promise<void> {
    await this.call(this.need('ptz'), ptz.relativeMove(profileToken, translation, speed));
  }

  async gotoPreset(profileToken: string, presetToken: string): Promise<void> {
    await this.call(this.need('ptz'), ptz.gotoPreset(profileToken, presetToken));
  }

  async setPreset(profileToken: string, name: string, presetToken?: string): Promise<string> {
    const message = await this.call(this.need('ptz'), ptz.setPreset(profileToken, name, presetToken));
    return decoded(() => parseSetPreset(message));
  }

  async presets(profileToken: string): Promise<PtzPreset[]> {
    return parsePresets(await this.call(this.need('ptz'), ptz.getPresets(profileToken)));
  }

  async removePreset(profileToken: string, presetToken: string): Promise<void> {
    await this.call(this.need('ptz'), ptz.removePreset(profileToken, presetToken));
  }

  async gotoHome(profileToken: string): Promise<void> {
    await this.call(this.need('ptz'), ptz.gotoHomePosition(profileToken));
  }

  /** GetNodes: every PTZ node with its continuous velocity spaces. */
  async ptzNodes(): Promise<PtzNodeSpaces[]> {
    return parsePtzNodes(await this.call(this.need('ptz'), ptz.getNodes()));
  }

  // ---- Imaging (ver20)

  get hasImaging(): boolean {
    return this.services.imaging !== undefined;
  }

  /** Continuous focus speed range of a video source, null when it has none. */
  async focusMoveOptions(source: string): Promise<Range | null> {
    const message = await this.call(this.need('imaging'), imaging.getMoveOptions(source));
    return parseFocusMoveOptions(message);
  }

  async irisOptions(source: string): Promise<Range | null> {
    return parseIrisOptions(await this.call(this.need('imaging'), imaging.getOptions(source)));
  }

  async exposure(source: string): Promise<{ mode: string; iris: number | null }> {
    return parseExposure(await this.call(this.need('imaging'), imaging.getImagingSettings(source)));
  }

  async moveFocus(source: string, speed: number): Promise<void> {
    await this.call(this.need('imaging'), imaging.moveFocus(source, speed));
  }

  async stopFocus(source: string): Promise<void> {
    await this.call(this.need('imaging'), imaging.stop(source));
  }

  async setIris(source: string, iris: number): Promise<void> {
    await this.call(this.need('imaging'), imaging.setIris(source, iris));
  }

  // ---- Events (PullPoint)

  async createPullPoint(terminationSec: number): Promise<PullPointSubscription> {
    const message = await this.call(this.need('events'), events.createPullPointSubscription(terminationSec));
    const sub = decoded(() => parseCreatePullPointSubscription(message));
    return { ...sub, address: this.reached(sub.address) };
  }

  async pullMessages(address: string, timeoutSec: number, limit: number): Promise<{ events: OnvifEvent[]; terminationTime: Date | null }> {
    // The camera holds the call up to timeoutSec: allow for it on top of the normal timeout.
    const message = await this.call(address, events.pullMessages(timeoutSec, limit), { action: EVENT_ACTIONS.pullMessages, timeoutMs: this.timeoutMs + timeoutSec * 1000 });
    const parsed = parsePullMessages(message);
    return { events: parsed.events, terminationTime: parsed.terminationTime };
  }

  async renew(address: string, terminationSec: number): Promise<void> {
    await this.call(address, events.renew(terminationSec), { action: EVENT_ACTIONS.renew });
  }

  async unsubscribe(address: string): Promise<void> {
    await this.call(address, events.unsubscribe(), { action: EVENT_ACTIONS.unsubscribe });
  }

  // -------------------------------------------------------------------------------------------------------

  private need(kind: keyof ServiceAddresses): string {
    const url = this.services[kind];
    if (!url) throw new OnvifError('soap-fault', `the camera has no ${kind} service (connect() first, or it does not support it)`);
    return url;
  }

  private uri(message: XmlNode): string {
    try {
      return parseUri(message);
    } catch (err) {
      throw new OnvifError('bad-answer', (err as Error).message);
    }
  }

  /** Camera-announced address → the same path and port on the host we reached it at. */
  private reached(uri: string): string {
    return rewriteToReachedHost(uri, this.opts.host);
  }

  /**
   * One SOAP call: the message element of the answer, or OnvifError. `action` adds WS-Addressing headers
   * (subscription managers route on wsa:To). A refused token is retried once after re-reading the clock.
   */
  async call(url: string, body: string, opts: { authenticate?: boolean; action?: string; timeoutMs?: number } = {}): Promise<XmlNode> {
    const authenticate = opts.authenticate ?? true;
    if (!authenticate) return this.callOnce(url, body, false, opts);
    try {
      const message = await this.callAuthenticated(url, body, opts);
      this.credentialsRefused = false;
      return message;
    } catch (err) {
      if (err instanceof OnvifError && (err.reason === 'auth-failed' || err.reason === 'clock-skew')) this.credentialsRefused = true;
      throw err;
    }
  }

  private async callAuthenticated(url: string, body: string, opts: { action?: string; timeoutMs?: number }): Promise<XmlNode> {
    const authenticate = true;
    try {
      return await this.callOnce(url, body, authenticate, opts);
    } catch (err) {
      if (!(err instanceof OnvifError) || err.reason !== 'auth-failed') throw err;
      const before = this.clockOffsetMs;
      await this.syncClock().catch(() => null);
      if (Math.abs(this.clockOffsetMs - before) >= 2_000) {
        try {
          return await this.callOnce(url, body, authenticate, opts);
        } catch (retryErr) {
          throw this.skewOr(retryErr);
        }
      }
      throw this.skewOr(err);
    }
  }

  private skewOr(err: unknown): unknown {
    if (err instanceof OnvifError && err.reason === 'auth-failed' && this.clockKnown && Math.abs(this.clockOffsetMs) > this.skewLimitSec * 1000) {
      return new OnvifError('clock-skew', `${err.message}; the camera's clock is ${Math.round(this.clockOffsetMs / 1000)} s off ours (set NTP on the camera)`, err.detail);
    }
    return err;
  }

  private async callOnce(url: string, body: string, authenticate: boolean, opts: { action?: string; timeoutMs?: number }): Promise<XmlNode> {
    const headers: string[] = [];
    if (opts.action) headers.push(wsAddressingHeader({ action: opts.action, to: url, messageId: randomUUID() }));
    if (authenticate) {
      headers.push(usernameTokenHeader({ username: this.opts.username, password: this.opts.password, nonce: randomBytes(16), created: new Date(this.now() + this.clockOffsetMs) }));
    }
    const envelope = buildEnvelope(body, headers.join(''));
    const contentType = `application/soap+xml; charset=utf-8${opts.action ? `; action="${opts.action}"` : ''}`;
    const answer = await this.http('POST', url, envelope, { 'content-type': contentType }, opts.timeoutMs);
    const text = answer.body.toString('utf8');
    let parsed;
    try {
      parsed = parseEnvelope(text);
    } catch (err) {
      if (answer.status === 401 || answer.status === 403) throw new OnvifError('auth-failed', `HTTP ${answer.status} from ${url}`, { httpStatus: answer.status });
      const what = err instanceof SoapError ? err.message : String(err);
      throw new OnvifError('bad-answer', `HTTP ${answer.status} from ${url} is not a SOAP answer: ${what}`, { httpStatus: answer.status });
    }
    if (parsed.fault) {
      const f = parsed.fault;
      const authFault = /notauthorized|failedauthentication|invalidsecurity|unauthorized/i.test(`${f.subcode} ${f.code}`) || answer.status === 401;
      throw new OnvifError(authFault ? 'auth-failed' : 'soap-fault', `${url}: ${f.subcode || f.code}: ${f.reason}`, { fault: f, httpStatus: answer.status });
    }
    if (answer.status === 401) throw new OnvifError('auth-failed', `HTTP 401 from ${url}`, { httpStatus: 401 });
    if (!parsed.message) throw new OnvifError('bad-answer', `empty SOAP body from ${url}`);
    return parsed.message;
  }

  /** HTTP with a timeout, a size cap, and one digest/basic round when the camera challenges. */
  private async http(method: 'GET' | 'POST', url: string, body: string | null, headers: Record<string, string>, timeoutMs = this.timeoutMs): Promise<HttpAnswer> {
    let answer = await this.exchange(method, url, body, { ...headers, ...this.authorization(method, url) }, timeoutMs);
    if (answer.status === 401) {
      const challenge = answer.challenge;
      if (challenge && this.learnChallenge(challenge)) {
        answer = await this.exchange(method, url, body, { ...headers, ...this.authorization(method, url) }, timeoutMs);
      }
    }
    return answer;
  }

  private learnChallenge(challenge: string): boolean {
    if (/^basic/i.test(challenge.trim())) {
      this.digest = { realm: '', nonce: '', nc: 0, algorithm: 'basic' };
      return true;
    }
    const p = parseDigestParams(challenge);
    if (!p.nonce || p.realm === undefined) return false;
    this.digest = { realm: p.realm, nonce: p.nonce, qop: p.qop?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined, opaque: p.opaque, algorithm: p.algorithm, nc: 0 };
    return true;
  }

  private authorization(method: string, url: string): Record<string, string> {
    const d = this.digest;
    if (!d) return {};
    if (d.algorithm === 'basic') return { authorization: `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password}`).toString('base64')}` };
    const uri = (() => {
      const u = new URL(url);
      return `${u.pathname}${u.search}`;
    })();
    d.nc++;
    const nc = d.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    const response = computeDigestResponse({ username: this.opts.username, realm: d.realm, password: this.opts.password, method, uri, nonce: d.nonce, qop: d.qop, nc, cnonce, algorithm: d.algorithm });
    const q = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;
    let value = `Digest username=${q(this.opts.username)}, realm=${q(d.realm)}, nonce=${q(d.nonce)}, uri=${q(uri)}, response=${q(response)}`;
    if (d.algorithm) value += `, algorithm=${d.algorithm}`;
    if (d.qop) value += `, qop=${d.qop}, nc=${nc}, cnonce=${q(cnonce)}`;
    if (d.opaque !== undefined) value += `, opaque=${q(d.opaque)}`;
    return { authorization: value };
  }

  private async exchange(method: 'GET' | 'POST', url: string, body: string | null, headers: Record<string, string>, timeoutMs: number): Promise<HttpAnswer> {
    try {
      return await httpExchange({ method, url, body, headers, timeoutMs, maxBytes: this.maxAnswerBytes });
    } catch (err) {
      if (err instanceof HttpExchangeError) throw new OnvifError(err.kind === 'too-large' ? 'bad-answer' : 'unreachable', err.message);
      throw err;
    }
  }
}

export { OnvifDecodeError };
