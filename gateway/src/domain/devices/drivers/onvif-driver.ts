/**
 * ONVIF cameras. On add (and after new credentials): GetSystemDateAndTime, GetDeviceInformation and the
 * services, then the media profiles — one channel per video source, its first profile the main stream and
 * its second (when there is one) the sub-stream — with their RTSP stream URIs (rewritten to the address we
 * reached the camera at by the client). Streams are RTSP sources on the profile URIs with the camera's credentials.
 *
 * Liveness (`probe`, called by the liveness poller): GetSystemDateAndTime most of the time, an authenticated
 * GetDeviceInformation every `healthAuthEvery` probes (default 10) and whenever the answer matters:
 *  - GetSystemDateAndTime is as telling about "is the camera's ONVIF service up" as any other call (it goes
 *    through the same HTTP server and SOAP stack), needs no WS-Security (no nonce, no SHA-1 on either side, a
 *    smaller request) and refreshes the clock offset every WS-Security token is dated with — so PTZ and the
 *    event feed keep working when a camera's clock is set or drifts, and a `clock-skew` refusal is judged on a
 *    fresh offset. It was measured at 10,000 cameras (bench/RESULTS.md, "Devices 1").
 *  - What it cannot tell is whether the camera still takes our credentials. An operator needs a changed or reset
 *    password to show as `auth-failed` (the streams, RTSP with the same credentials, fail too), and needs the
 *    gateway not to lock the account. So the probe is the authenticated call: the first time (connect), every
 *    `healthAuthEvery`-th time (a password changed on the camera shows within that many intervals: 5 min at the
 *    defaults), right after any failed probe (a camera that comes back may have been reset or swapped), and as
 *    soon as any other authenticated call to the camera (PTZ, the event feed) was refused — so a refusal seen
 *    elsewhere becomes the device status at the next probe. A device in `auth-failed` is therefore only ever
 *    probed with credentials, at the poller's slow auth-retry rate: never one failure per interval.
 *  - A camera that does not answer GetSystemDateAndTime without credentials (a fault or a 401 it gives no
 *    challenge for) is probed with GetDeviceInformation from then on.
 *
 * One OnvifClient per device is kept: it holds the camera's clock offset (WS-Security tokens are dated in the
 * camera's time) and the service addresses.
 *
 * PTZ (docs/devices.md "PTZ of ONVIF channels"): the PTZ service's orders become PTZ ver20 calls on the channel's
 * main profile. A move's speed 0–255 (zoom 0–15) is a fraction of full speed, scaled into the continuous velocity
 * ranges of the profile's PTZ node (GetNodes, cached per device; the generic −1…1 when the camera has no node
 * answer); an axis the node has no space for is left out. The PTZ stop is Stop (pan/tilt and zoom); presets are
 * addressed by the API's number: the camera's preset named that number, else whose token is; a new number is
 * stored with that number as its name (cameras choose the token).
 *
 * Focus and iris (GB's FI family) are Imaging ver20 calls on the channel's video source: focus near/far is Move
 * with a continuous focus speed (within GetMoveOptions' range), the FI stop is Imaging Stop when a focus move is
 * running on the channel; iris open/close is a step of the iris (GetOptions' range) set with SetImagingSettings in
 * manual exposure, ONVIF having no continuous iris. Cameras without Imaging, or without continuous focus or an
 * iris range, are refused with `unsupported` (409) before anything is sent.
 *
 * Events: one PullPoint session per online device (protocol/onvif/pull-point.ts), its notifications mapped by
 * onvif-topics.ts to device events for the device service, which raises the alarms.
 */
import type { Logger } from 'pino';
import { OnvifClient, OnvifError } from '../../../protocol/onvif/onvif-client.js';
import type { MediaProfile, PtzNodeSpaces, PtzPreset, PtzVector, Range } from '../../../codecs/onvif/messages.js';
import { PullPointSession, type PullPointOptions } from '../../../protocol/onvif/pull-point.js';
import type { PtzOrder } from '../../control/ptz-service.js';
import { deviceEventOf } from './onvif-topics.js';
import { RtspSource } from '../../../media/sources/rtsp/rtsp-source.js';
import type { StreamSource } from '../../../media/sources/source.js';
import type { ProbeOutcome } from '../liveness-poller.js';
import { rtspReason } from './rtsp-driver.js';
import {
  DriverError,
  type DescribedChannel,
  type DeviceDescription,
  type DeviceEvent,
  type DevicePreset,
  type DriverEvents,
  type DriverPtz,
  type EndpointOf,
  type KnownChannel,
  type ProtocolDriver,
  type StreamKind,
} from './driver.js';

type OnvifEndpoint = EndpointOf<'onvif'>;

export interface OnvifDriverOptions {
  logger: Logger;
  timeoutMs?: number;
  /** PullPoint subscription lifetime, hold time and backoff (defaults: pull-point.ts). */
  events?: PullPointOptions;
  /** Counters for the metrics (subscriptions made, feed failures by reason). */
  onEventFeed?: (what: 'subscribed' | 'failed', reason?: string) => void;
  /** Every Nth health probe is authenticated (GetDeviceInformation); the others GetSystemDateAndTime. Default 10. */
  healthAuthEvery?: number;
}

/** What the driver keeps per ONVIF device. */
interface ClientEntry {
  client: OnvifClient;
  /** connect() went through (service addresses known). */
  connected: boolean;
  /** Unauthenticated probes since the last authenticated one. */
  cheapProbes: number;
  /** The last probe failed: the next one is authenticated. */
  lastProbeFailed: boolean;
  /** The camera answers GetSystemDateAndTime without credentials (false: probe it with GetDeviceInformation). */
  tellsTimeFreely: boolean;
}

/** One ONVIF PTZ or Imaging call the order becomes; `none`: nothing to send on ONVIF. */
export type OnvifPtzCall =
  | { call: 'ContinuousMove'; velocity: PtzVector }
  | { call: 'Stop' }
  | { call: 'RelativeMove'; translation: PtzVector }
  | { call: 'GotoHomePosition' }
  | { call: 'Preset'; action: 'set' | 'call' | 'delete'; preset: number }
  /** Imaging Move, continuous focus; `fraction` of full speed, signed: + far, − near. */
  | { call: 'Focus'; fraction: number }
  /** The FI stop: Imaging Stop when a focus move runs. */
  | { call: 'FocusStop' }
  | { call: 'Iris'; direction: 'open' | 'close' }
  | { call: 'none' }
  | { call: 'unsupported'; why: string };

/** The continuous velocity ranges a move is scaled into (a PTZ node's; null: the node has no such space). */
export type PtzSpaces = Pick<PtzNodeSpaces, 'panTilt' | 'zoom'>;

/** ONVIF's generic velocity spaces, for cameras whose node says nothing usable. */
export const GENERIC_SPACES: PtzSpaces = { panTilt: { x: { min: -1, max: 1 }, y: { min: -1, max: 1 } }, zoom: { min: -1, max: 1 } };

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * A signed fraction of full speed (−1…1) → a velocity in the range: positive fractions scale to the range's max,
 * negative ones to its min, so full speed is the camera's own full speed either way (a range 0…1 cannot go
 * negative: 0). Exported for tests.
 */
export function scaleInto(fraction: number, range: Range): number {
  const f = Math.max(-1, Math.min(1, fraction));
  const v = f >= 0 ? f * Math.max(range.max, 0) : -f * Math.min(range.min, 0);
  return round3(v) + 0; // + 0: no -0 in the XML
}

/** A PTZ order → the ONVIF call, speeds scaled into the node's spaces. Pure; exported for tests. */
export function onvifPtzCall(order: PtzOrder, spaces: PtzSpaces = GENERIC_SPACES): OnvifPtzCall {
  switch (order.kind) {
    case 'move': {
      const velocity: PtzVector = {};
      const wantsPanTilt = order.pan !== null || order.tilt !== null;
      if (wantsPanTilt && spaces.panTilt) {
        velocity.pan = order.pan ? scaleInto(((order.pan === 'left' ? -1 : 1) * order.panSpeed) / 255, spaces.panTilt.x) : 0;
        // ONVIF's tilt axis points up: "up" is positive.
        velocity.tilt = order.tilt ? scaleInto(((order.tilt === 'down' ? -1 : 1) * order.tiltSpeed) / 255, spaces.panTilt.y) : 0;
      }
      if (order.zoom && spaces.zoom) velocity.zoom = scaleInto(((order.zoom === 'out' ? -1 : 1) * order.zoomSpeed) / 15, spaces.zoom);
      if (velocity.pan === undefined && velocity.zoom === undefined) {
        // Everything asked for is an axis the camera has no space for: say so instead of a silent Stop.
        if (order.zoom && !spaces.zoom) return { call: 'unsupported', why: "the camera's PTZ node has no zoom (no continuous zoom velocity space)" };
        if (wantsPanTilt && !spaces.panTilt) return { call: 'unsupported', why: "the camera's PTZ node cannot pan or tilt (no continuous pan/tilt velocity space)" };
        return { call: 'Stop' };
      }
      return { call: 'ContinuousMove', velocity };
    }
    case 'stop':
      return { call: 'Stop' };
    case 'fi':
      if (order.focus !== null) return { call: 'Focus', fraction: round3(((order.focus === 'near' ? -1 : 1) * Math.max(order.focusSpeed, 1)) / 255) };
      if (order.iris !== null) return { call: 'Iris', direction: order.iris };
      return { call: 'FocusStop' };
    case 'preset':
      return { call: 'Preset', action: order.action, preset: order.preset };
    case 'home':
      return { call: 'GotoHomePosition' };
    case 'relative':
      return { call: 'RelativeMove', translation: { pan: order.pan, tilt: order.tilt, zoom: order.zoom } };
    default:
      return { call: 'unsupported', why: `${order.kind} has no ONVIF PTZ call` };
  }
}

/**
 * How many clicks of the iris button go from fully closed to fully open. ONVIF has no continuous iris (only
 * Exposure/Iris, a value in dB within GetOptions' Min…Max), so each open/close order moves the iris by a tenth
 * of the camera's range: fine enough to adjust a picture, few enough clicks to cross the range.
 */
export const IRIS_STEPS = 10;

/**
 * The iris after one open/close step from `current` (null: the camera reports none, e.g. in auto exposure —
 * start from the middle of the range), kept within the range. Pure; exported for tests.
 */
export function irisStep(current: number | null, range: Range, direction: 'open' | 'close'): number {
  const step = (range.max - range.min) / IRIS_STEPS;
  const from = current === null ? (range.min + range.max) / 2 : Math.max(range.min, Math.min(range.max, current));
  // ONVIF's iris is attenuation in dB: 0 is fully open, lower values close it, so "open" is up.
  return round3(Math.max(range.min, Math.min(range.max, from + (direction === 'open' ? step : -step))));
}

/** Per device, learnt once (with the profiles): node spaces per profile, focus and iris ranges per source. */
interface DeviceAbilities {
  spaces: Map<string, PtzSpaces>;
  focus: Map<string, Range | null>;
  iris: Map<string, Range | null>;
  /** Channels whose focus is moving (the FI stop then sends Imaging Stop). */
  focusing: Set<string>;
}

/**
 * The camera's preset the API's number means: the one named that number (the gateway names the presets it
 * creates so, while the camera picks their tokens), else the one whose token is that number (cameras that come
 * with presets "1"…"256" named "Preset 1"…).
 */
export function presetFor(presets: readonly PtzPreset[], preset: number): PtzPreset | undefined {
  const n = String(preset);
  return presets.find((p) => p.name.trim() === n) ?? presets.find((p) => p.token === n);
}

/** The API's number of a camera preset (its name, else its token, when that is a number 1–255), else null. */
export function presetNumber(p: PtzPreset): number | null {
  for (const s of [p.name.trim(), p.token]) {
    if (/^\d{1,3}$/.test(s) && Number(s) >= 1 && Number(s) <= 255) return Number(s);
  }
  return null;
}

const fmt = (v: PtzVector): string =>
  Object.entries(v)
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `${k}=${x as number}`)
    .join(',');

function onvifReason(err: unknown): { reason: string; message: string } {
  if (err instanceof OnvifError) return { reason: err.reason, message: err.message };
  return { reason: 'unreachable', message: (err as Error).message };
}

/** Profiles grouped by video source, in the camera's order: [main, sub?] per source. */
export function channelsFromProfiles(profiles: readonly MediaProfile[]): Array<{ main: MediaProfile; sub: MediaProfile | null }> {
  const bySource = new Map<string, MediaProfile[]>();
  for (const p of profiles) {
    const key = p.videoSourceToken || p.token;
    const list = bySource.get(key) ?? [];
    list.push(p);
    bySource.set(key, list);
  }
  return [...bySource.values()].map((list) => {
    // Cameras list the main profile first, but not all: the larger picture is the main stream.
    const sorted = [...list].sort((a, b) => b.width * b.height - a.width * a.height);
    return { main: sorted[0]!, sub: sorted[1] ?? null };
  });
}

export class OnvifDriver implements ProtocolDriver<OnvifEndpoint> {
  readonly protocol = 'onvif' as const;
  private readonly clients = new Map<string, ClientEntry>();
  private readonly abilities = new Map<string, DeviceAbilities>();
  private readonly feeds = new Map<string, { session: PullPointSession | null; starting: boolean; closed: boolean }>();

  constructor(private readonly opts: OnvifDriverOptions) {}

  /** The client, connected (service addresses known) before a PTZ or events call. */
  private async connected(deviceId: string, endpoint: OnvifEndpoint): Promise<OnvifClient> {
    const entry = this.clientOf(deviceId, endpoint);
    if (!entry.connected) {
      await entry.client.connect();
      entry.connected = true;
    }
    return entry.client;
  }

  readonly ptz: DriverPtz<OnvifEndpoint> = {
    execute: async (deviceId, endpoint, channel, order) => {
      // Focus and iris are Imaging calls on the video source: they need no PTZ configuration in the profile
      // (a fixed camera with a motorised lens has none). Everything else is a PTZ call on the profile.
      const focusIris = order.kind === 'fi';
      const profile = focusIris ? '' : this.ptzProfile(channel);
      const abilities = this.abilitiesOf(deviceId);
      try {
        const client = await this.connected(deviceId, endpoint);
        const spaces = order.kind === 'move' ? await this.spacesOf(client, abilities, profile) : GENERIC_SPACES;
        const call = onvifPtzCall(order, spaces);
        switch (call.call) {
          case 'none':
            return null;
          case 'unsupported':
            throw new DriverError('unsupported', call.why);
          case 'Focus': {
            const source = this.imagingSource(client, channel);
            const range = await this.learn(abilities.focus, source, () => client.focusMoveOptions(source));
            if (!range) throw new DriverError('unsupported', 'the camera cannot move its focus continuously (its Imaging GetMoveOptions has no Continuous speed)');
            const speed = round3(call.fraction * Math.max(Math.abs(range.min), Math.abs(range.max)));
            await client.moveFocus(source, speed);
            abilities.focusing.add(channel.id);
            return `Imaging.Move(source=${source},focus=${speed})`;
          }
          case 'FocusStop': {
            // Only a running focus move has anything to stop (the PTZ stop sends the FI stop too, blindly).
            if (!abilities.focusing.delete(channel.id)) return null;
            const source = this.imagingSource(client, channel);
            await client.stopFocus(source);
            return `Imaging.Stop(source=${source})`;
          }
          case 'Iris': {
            const source = this.imagingSource(client, channel);
            const range = await this.learn(abilities.iris, source, () => client.irisOptions(source));
            if (!range) throw new DriverError('unsupported', 'the camera has no iris setting (its Imaging GetOptions has no Exposure Iris range)');
            const { iris } = await client.exposure(source);
            const next = irisStep(iris, range, call.direction);
            await client.setIris(source, next);
            return `Imaging.SetImagingSettings(source=${source},exposure=MANUAL,iris=${next})`;
          }
          case 'ContinuousMove':
            await client.continuousMove(profile, call.velocity);
            return `ContinuousMove(${fmt(call.velocity)})`;
          case 'Stop':
            await client.stop(profile, true, true);
            return 'Stop(panTilt,zoom)';
          case 'RelativeMove':
            await client.relativeMove(profile, call.translation);
            return `RelativeMove(${fmt(call.translation)})`;
          case 'GotoHomePosition':
            await client.gotoHome(profile);
            return 'GotoHomePosition';
          case 'Preset':
            return await this.preset(client, profile, call.action, call.preset);
        }
      } catch (err) {
        if (err instanceof DriverError) throw err;
        const { reason, message } = onvifReason(err);
        throw new DriverError(reason, message);
      }
    },
    presets: async (deviceId, endpoint, channel) => {
      const profile = this.ptzProfile(channel);
      try {
        const list = await (await this.connected(deviceId, endpoint)).presets(profile);
        return list.map((p): DevicePreset => ({ preset: presetNumber(p), token: p.token, name: p.name }));
      } catch (err) {
        const { reason, message } = onvifReason(err);
        throw new DriverError(reason, message);
      }
    },
  };

  private abilitiesOf(deviceId: string): DeviceAbilities {
    let a = this.abilities.get(deviceId);
    if (!a) {
      a = { spaces: new Map(), focus: new Map(), iris: new Map(), focusing: new Set() };
      this.abilities.set(deviceId, a);
    }
    return a;
  }

  /** A cached answer, asked once; a SOAP fault (the camera does not know the call) counts as "none". */
  private async learn<T>(cache: Map<string, T | null>, key: string, ask: () => Promise<T | null>): Promise<T | null> {
    if (cache.has(key)) return cache.get(key)!;
    let value: T | null;
    try {
      value = await ask();
    } catch (err) {
      if (!(err instanceof OnvifError) || err.reason !== 'soap-fault') throw err;
      value = null;
    }
    cache.set(key, value);
    return value;
  }

  /** The continuous velocity spaces of the profile's PTZ node (GetNodes once per device; generic when unknown). */
  private async spacesOf(client: OnvifClient, abilities: DeviceAbilities, profile: string): Promise<PtzSpaces> {
    const known = abilities.spaces.get(profile);
    if (known) return known;
    let spaces = GENERIC_SPACES;
    try {
      const nodes = await client.ptzNodes();
      const nodeToken = (await client.profiles()).find((p) => p.token === profile)?.ptzNodeToken;
      const node = nodes.find((n) => n.token === nodeToken) ?? (nodes.length === 1 ? nodes[0] : undefined);
      if (node) spaces = { panTilt: node.panTilt, zoom: node.zoom };
    } catch (err) {
      // Cameras of before GetNodes answer a fault: steer them in the generic spaces.
      if (!(err instanceof OnvifError) || err.reason !== 'soap-fault') throw err;
    }
    abilities.spaces.set(profile, spaces);
    return spaces;
  }

  private imagingSource(client: OnvifClient, channel: KnownChannel): string {
    if (!client.hasImaging) throw new DriverError('unsupported', 'the camera has no Imaging service: its focus and iris cannot be steered over ONVIF');
    const source = channel.sourceTokens?.[0];
    if (!source) throw new DriverError('unsupported', 'the channel has no video source token (describe the device again)');
    return source;
  }

  private ptzProfile(channel: KnownChannel): string {
    if (!channel.ptz || !channel.profileToken) {
      throw new DriverError('no-ptz', `channel ${channel.id} cannot be steered: its ONVIF profile has no PTZ configuration`);
    }
    return channel.profileToken;
  }

  private async preset(client: OnvifClient, profile: string, action: 'set' | 'call' | 'delete', preset: number): Promise<string> {
    const existing = presetFor(await client.presets(profile), preset);
    if (action === 'set') {
      // Overwrite the camera's preset of that number; a new one gets the number as its name (the camera picks the token).
      const token = await client.setPreset(profile, existing?.name || String(preset), existing?.token);
      return `SetPreset(token=${token})`;
    }
    if (!existing) throw new DriverError('no-preset', `the camera has no preset ${preset} (set it first, or see GET /api/channels/:id/ptz/presets)`);
    if (action === 'call') {
      await client.gotoPreset(profile, existing.token);
      return `GotoPreset(token=${existing.token})`;
    }
    await client.removePreset(profile, existing.token);
    return `RemovePreset(token=${existing.token})`;
  }

  readonly events: DriverEvents<OnvifEndpoint> = {
    watch: (deviceId, endpoint, sink) => {
      const current = this.feeds.get(deviceId);
      if (current && !current.closed) return;
      const feed = { session: null as PullPointSession | null, starting: true, closed: false };
      this.feeds.set(deviceId, feed);
      const log = this.opts.logger.child({ deviceId });
      void (async () => {
        let client: OnvifClient;
        try {
          client = await this.connected(deviceId, endpoint);
        } catch (err) {
          // The liveness poller owns "is it up": it calls watch again when the device is back.
          feed.closed = true;
          const { reason, message } = onvifReason(err);
          sink.stopped(reason, message);
          return;
        } finally {
          feed.starting = false;
        }
        if (feed.closed) return;
        if (!client.services.events) {
          feed.closed = true;
          sink.stopped('no-events', 'the camera has no events service');
          return;
        }
        const session = new PullPointSession(client, this.opts.events);
        feed.session = session;
        session.on('event', (e) => {
          const event: DeviceEvent | null = deviceEventOf(e);
          if (event) sink.event(event);
        });
        session.on('subscribed', ({ address, count }) => {
          this.opts.onEventFeed?.('subscribed');
          log.info({ address, count }, 'ONVIF event subscription created');
        });
        session.on('failed', ({ reason, message, retryInMs }) => {
          this.opts.onEventFeed?.('failed', reason);
          log.warn({ reason, message, retryInMs }, retryInMs === null ? 'ONVIF event feed stopped' : 'ONVIF event feed failed; retrying');
          if (retryInMs === null) {
            feed.closed = true;
            sink.stopped(reason, message);
          }
        });
        session.start();
      })();
    },
    unwatch: async (deviceId) => {
      const feed = this.feeds.get(deviceId);
      if (!feed) return;
      this.feeds.delete(deviceId);
      feed.closed = true;
      await feed.session?.close();
    },
    watching: (deviceId) => {
      const feed = this.feeds.get(deviceId);
      return feed !== undefined && !feed.closed;
    },
  };

  private clientOf(deviceId: string, endpoint: OnvifEndpoint): ClientEntry {
    let entry = this.clients.get(deviceId);
    if (!entry) {
      entry = {
        client: new OnvifClient({ host: endpoint.host, port: endpoint.port, username: endpoint.username, password: endpoint.password, timeoutMs: this.opts.timeoutMs ?? 5_000 }),
        connected: false,
        cheapProbes: 0,
        lastProbeFailed: false,
        tellsTimeFreely: true,
      };
      this.clients.set(deviceId, entry);
    }
    return entry;
  }

  async describe(deviceId: string, endpoint: OnvifEndpoint): Promise<DeviceDescription> {
    const entry = this.clientOf(deviceId, endpoint);
    const address = { host: endpoint.host, port: endpoint.port };
    try {
      const { info } = await entry.client.connect();
      entry.connected = true;
      // New profiles may mean new nodes and sources: learn their abilities again.
      this.abilities.delete(deviceId);
      const groups = channelsFromProfiles(await entry.client.profiles());
      const channels: DescribedChannel[] = [];
      for (const [i, g] of groups.entries()) {
        const main = await entry.client.streamUri(g.main.token, 'tcp');
        const sub = g.sub ? await entry.client.streamUri(g.sub.token, 'tcp') : main;
        const sourceTokens = [g.main.videoSourceToken, g.main.videoSourceConfigurationToken].filter(Boolean);
        channels.push({ name: groups.length > 1 ? `${g.main.name || 'video'} ${i + 1}` : '', main, sub, profileToken: g.main.token, sourceTokens, ptz: g.main.ptz });
      }
      return {
        manufacturer: info.manufacturer,
        model: info.model,
        firmware: info.firmwareVersion,
        suggestedName: [info.manufacturer, info.model].filter(Boolean).join(' '),
        address,
        channels,
        ...(info.serialNumber ? { serialNumber: info.serialNumber } : {}),
      };
    } catch (err) {
      this.opts.logger.warn({ deviceId, host: endpoint.host, err: (err as Error).message }, 'ONVIF device could not be described');
      return { manufacturer: '', model: '', firmware: '', suggestedName: `ONVIF ${endpoint.host}`, address, channels: null, failure: onvifReason(err) };
    }
  }

  /** Liveness: GetSystemDateAndTime, or an authenticated call when it is due (see the header). */
  readonly probe = async (deviceId: string, endpoint: OnvifEndpoint): Promise<ProbeOutcome> => {
    const entry = this.clientOf(deviceId, endpoint);
    const outcome = await this.probeOnce(entry);
    entry.lastProbeFailed = !outcome.ok;
    return outcome;
  };

  private async probeOnce(entry: ClientEntry): Promise<ProbeOutcome> {
    const { client } = entry;
    const authDue =
      !entry.connected || !entry.tellsTimeFreely || entry.lastProbeFailed || client.credentialsRefused || entry.cheapProbes + 1 >= (this.opts.healthAuthEvery ?? 10);
    try {
      if (!entry.connected) {
        await client.connect();
        entry.connected = true;
      } else if (authDue) {
        await client.deviceInformation();
      } else {
        try {
          await client.syncClock();
          entry.cheapProbes++;
          return { ok: true };
        } catch (err) {
          // Down is down; a camera that answered, but not with the time, may still take an authenticated call.
          if (!(err instanceof OnvifError) || err.reason === 'unreachable') throw err;
          await client.deviceInformation();
          entry.tellsTimeFreely = false;
        }
      }
      entry.cheapProbes = 0;
      return { ok: true };
    } catch (err) {
      return { ok: false, ...onvifReason(err) };
    }
  }

  async openSource(deviceId: string, endpoint: OnvifEndpoint, channel: KnownChannel, stream: StreamKind): Promise<StreamSource> {
    const url = stream === 'sub' && channel.sub ? channel.sub : channel.main;
    if (!url) throw new DriverError('bad-answer', 'the camera gave no stream URI for this channel');
    try {
      return await RtspSource.open({
        url,
        username: endpoint.username,
        password: endpoint.password,
        transport: 'tcp',
        timeoutMs: this.opts.timeoutMs ?? 5_000,
        logger: this.opts.logger.child({ deviceId, channelId: channel.id }),
      });
    } catch (err) {
      const { reason, message } = rtspReason(err);
      throw new DriverError(reason, message);
    }
  }

  forget(deviceId: string): void {
    void this.events.unwatch(deviceId);
    this.clients.delete(deviceId);
    this.abilities.delete(deviceId);
  }

  /** Unsubscribe every feed (the gateway is stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.feeds.keys()].map((id) => this.events.unwatch(id)));
  }
}
