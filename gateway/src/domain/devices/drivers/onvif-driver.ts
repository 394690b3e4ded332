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
 */
import type { Logger } from 'pino';
import { OnvifClient, OnvifError } from '../../../protocol/onvif/onvif-client.js';
import type { MediaProfile } from '../../../codecs/onvif/messages.js';
import { RtspSource } from '../../../media/sources/rtsp/rtsp-source.js';
import type { StreamSource } from '../../../media/sources/source.js';
import type { ProbeOutcome } from '../liveness-poller.js';
import { rtspReason } from './rtsp-driver.js';
import { DriverError, type DescribedChannel, type DeviceDescription, type EndpointOf, type KnownChannel, type ProtocolDriver, type StreamKind } from './driver.js';

type OnvifEndpoint = EndpointOf<'onvif'>;

export interface OnvifDriverOptions {
  logger: Logger;
  timeoutMs?: number;
}

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

  constructor(private readonly opts: OnvifDriverOptions) {}

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
        channels.push({ name: groups.length > 1 ? `${g.main.name || 'video'} ${i + 1}` : '', main, sub, profileToken: g.main.token, ptz: g.main.ptz });
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
    this.clients.delete(deviceId);
  }
}
