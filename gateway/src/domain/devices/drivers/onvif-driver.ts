/**
 * ONVIF cameras. On add (and after new credentials): GetSystemDateAndTime, GetDeviceInformation and the
 * services, then the media profiles — one channel per video source, its first profile the main stream and
 * its second (when there is one) the sub-stream — with their RTSP stream URIs (rewritten to the address we
 * reached the camera at by the client). Liveness: GetDeviceInformation, an authenticated call, so that a
 * changed password shows as auth-failed and not as "online". Streams are RTSP sources on the profile URIs
 * with the camera's credentials.
 *
 * One OnvifClient per device is kept: it holds the camera's clock offset (WS-Security tokens are dated in the
 * camera's time) and the service addresses.
 *
 * PTZ (docs/devices.md "PTZ of ONVIF channels"): the PTZ service's orders become PTZ ver20 calls on the channel's
 * main profile in the generic spaces — a move's speed 0–255 is the velocity 0–1 (left / down negative), the zoom
 * speed 0–15 the zoom velocity 0–1; the PTZ stop is Stop (pan/tilt and zoom); presets are addressed by the
 * API's number: the camera's preset named that number, else whose token is; a new number is stored with that
 * number as its name (cameras choose the token). Focus and iris are the Imaging service's, not PTZ's: refused.
 *
 * Events: one PullPoint session per online device (protocol/onvif/pull-point.ts), its notifications mapped by
 * onvif-topics.ts to device events for the device service, which raises the alarms.
 */
import type { Logger } from 'pino';
import { OnvifClient, OnvifError } from '../../../protocol/onvif/onvif-client.js';
import type { MediaProfile, PtzPreset, PtzVector } from '../../../codecs/onvif/messages.js';
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
}

/** One ONVIF PTZ call the order becomes; `none`: nothing to send on ONVIF. */
export type OnvifPtzCall =
  | { call: 'ContinuousMove'; velocity: PtzVector }
  | { call: 'Stop' }
  | { call: 'RelativeMove'; translation: PtzVector }
  | { call: 'GotoHomePosition' }
  | { call: 'Preset'; action: 'set' | 'call' | 'delete'; preset: number }
  | { call: 'none' }
  | { call: 'unsupported'; why: string };

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** A PTZ order → the ONVIF call, speeds scaled into the generic spaces (−1…1). Pure; exported for tests. */
export function onvifPtzCall(order: PtzOrder): OnvifPtzCall {
  switch (order.kind) {
    case 'move': {
      const velocity: PtzVector = {};
      if (order.pan || order.tilt) {
        velocity.pan = order.pan ? round3(((order.pan === 'left' ? -1 : 1) * order.panSpeed) / 255) : 0;
        // ONVIF's tilt axis points up: "up" is positive.
        velocity.tilt = order.tilt ? round3(((order.tilt === 'down' ? -1 : 1) * order.tiltSpeed) / 255) : 0;
      }
      if (order.zoom) velocity.zoom = round3(((order.zoom === 'out' ? -1 : 1) * order.zoomSpeed) / 15);
      if (velocity.pan === undefined && velocity.zoom === undefined) return { call: 'Stop' };
      return { call: 'ContinuousMove', velocity };
    }
    case 'stop':
      return { call: 'Stop' };
    case 'fi':
      // The focus/iris stop has nothing to halt on ONVIF PTZ (a stop request sends it when it does not know
      // what moved); a focus or iris move is an Imaging service call this driver does not make.
      if (order.focus === null && order.iris === null) return { call: 'none' };
      return { call: 'unsupported', why: 'focus and iris of ONVIF cameras are Imaging service calls, which the gateway does not send yet' };
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
  private readonly clients = new Map<string, { client: OnvifClient; connected: boolean }>();
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
      const profile = this.ptzProfile(channel);
      const call = onvifPtzCall(order);
      if (call.call === 'none') return null;
      if (call.call === 'unsupported') throw new DriverError('unsupported', call.why);
      try {
        const client = await this.connected(deviceId, endpoint);
        switch (call.call) {
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

  private clientOf(deviceId: string, endpoint: OnvifEndpoint): { client: OnvifClient; connected: boolean } {
    let entry = this.clients.get(deviceId);
    if (!entry) {
      entry = {
        client: new OnvifClient({ host: endpoint.host, port: endpoint.port, username: endpoint.username, password: endpoint.password, timeoutMs: this.opts.timeoutMs ?? 5_000 }),
        connected: false,
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
      const groups = channelsFromProfiles(await entry.client.profiles());
      const channels: DescribedChannel[] = [];
      for (const [i, g] of groups.entries()) {
        const main = await entry.client.streamUri(g.main.token, 'tcp');
        const sub = g.sub ? await entry.client.streamUri(g.sub.token, 'tcp') : main;
        const sourceTokens = [g.main.videoSourceToken, g.main.videoSourceConfigurationToken].filter(Boolean);
        channels.push({ name: groups.length > 1 ? `${g.main.name || 'video'} ${i + 1}` : '', main, sub, profileToken: g.main.token, sourceTokens, ptz: g.main.ptz });
      }
      return { manufacturer: info.manufacturer, model: info.model, firmware: info.firmwareVersion, suggestedName: [info.manufacturer, info.model].filter(Boolean).join(' '), address, channels };
    } catch (err) {
      this.opts.logger.warn({ deviceId, host: endpoint.host, err: (err as Error).message }, 'ONVIF device could not be described');
      return { manufacturer: '', model: '', firmware: '', suggestedName: `ONVIF ${endpoint.host}`, address, channels: null, failure: onvifReason(err) };
    }
  }

  readonly probe = async (deviceId: string, endpoint: OnvifEndpoint): Promise<ProbeOutcome> => {
    const entry = this.clientOf(deviceId, endpoint);
    try {
      if (!entry.connected) {
        await entry.client.connect();
        entry.connected = true;
      } else {
        await entry.client.deviceInformation();
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, ...onvifReason(err) };
    }
  };

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
  }

  /** Unsubscribe every feed (the gateway is stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.feeds.keys()].map((id) => this.events.unwatch(id)));
  }
}
