/**
 * Plain RTSP sources (an encoder, an NVR's RTSP URL, a camera with ONVIF turned off): one device, one channel,
 * its main URL and an optional sub-stream URL. Liveness is an OPTIONS + DESCRIBE probe (it checks the
 * credentials and the path without setting up a stream); a play opens the stream core's RTSP source.
 */
import { createSocket } from 'node:dgram';
import type { Logger } from 'pino';
import { RtspClient, RtspError } from '../../../protocol/rtsp/rtsp-client.js';
import { RtspSource } from '../../../media/sources/rtsp/rtsp-source.js';
import type { StreamSource } from '../../../media/sources/source.js';
import type { ProbeOutcome } from '../liveness-poller.js';
import { DriverError, type DeviceDescription, type EndpointOf, type KnownChannel, type ProtocolDriver, type StreamKind } from './driver.js';

type RtspEndpoint = EndpointOf<'rtsp'>;

export interface RtspDriverOptions {
  logger: Logger;
  timeoutMs?: number;
  /** UDP transport: even RTP ports are taken from here upward (their successors carry RTCP). */
  udpPortRange?: [number, number];
}

/** An RTSP failure as a device status reason: a refused password is auth-failed, anything else rtsp-failed or unreachable. */
export function rtspReason(err: unknown): { reason: string; message: string } {
  if (err instanceof RtspError) {
    const reason = err.reason === 'auth-failed' ? 'auth-failed' : err.reason === 'unreachable' ? 'unreachable' : 'rtsp-failed';
    return { reason, message: `${err.step}: ${err.message}` };
  }
  return { reason: 'rtsp-failed', message: (err as Error).message };
}

function hostOf(url: string): { host: string; port: number } {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 554) };
  } catch {
    return { host: '', port: 554 };
  }
}

/** Bind-tests an even/odd UDP pair so that the RTSP client's RTP and RTCP sockets can take them. */
export class UdpPairAllocator {
  private nextPort: number;
  constructor(private readonly range: [number, number]) {
    this.nextPort = range[0] + (range[0] % 2);
  }

  async allocate(): Promise<[number, number]> {
    const span = Math.floor((this.range[1] - this.range[0]) / 2);
    for (let i = 0; i < span; i++) {
      const p = this.nextPort;
      this.nextPort = p + 2 > this.range[1] - 1 ? this.range[0] + (this.range[0] % 2) : p + 2;
      if ((await canBind(p)) && (await canBind(p + 1))) return [p, p + 1];
    }
    throw new DriverError('rtsp-failed', `no free UDP port pair in ${this.range.join('-')}`);
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, () => s.close(() => resolve(true)));
  });
}

export class RtspDriver implements ProtocolDriver<RtspEndpoint> {
  readonly protocol = 'rtsp' as const;
  private readonly udp: UdpPairAllocator;

  constructor(private readonly opts: RtspDriverOptions) {
    this.udp = new UdpPairAllocator(opts.udpPortRange ?? [50000, 59999]);
  }

  private clientOptions(endpoint: RtspEndpoint, url: string) {
    return {
      url,
      ...(endpoint.username ? { username: endpoint.username, password: endpoint.password } : {}),
      transport: endpoint.transport,
      timeoutMs: this.opts.timeoutMs ?? 5_000,
      allocateUdpPorts: () => this.udp.allocate(),
    };
  }

  async describe(_deviceId: string, endpoint: RtspEndpoint): Promise<DeviceDescription> {
    const address = hostOf(endpoint.url);
    const outcome = await this.probe(_deviceId, endpoint);
    // The channel is known from the URL alone: a source that is down today is still the channel to show.
    return {
      manufacturer: '',
      model: 'RTSP',
      firmware: '',
      suggestedName: address.host ? `RTSP ${address.host}` : 'RTSP',
      address,
      channels: [{ name: '', main: endpoint.url, sub: endpoint.subUrl ?? endpoint.url, ptz: false }],
      ...(outcome.ok ? {} : { failure: { reason: outcome.reason, message: outcome.message } }),
    };
  }

  readonly probe = async (_deviceId: string, endpoint: RtspEndpoint): Promise<ProbeOutcome> => {
    const client = new RtspClient({ ...this.clientOptions(endpoint, endpoint.url) });
    // A failed request also ends the client; that 'ended' needs a listener or EventEmitter throws it.
    client.on('ended', () => undefined);
    try {
      await client.probe();
      return { ok: true };
    } catch (err) {
      return { ok: false, ...rtspReason(err) };
    }
  };

  async openSource(deviceId: string, endpoint: RtspEndpoint, channel: KnownChannel, stream: StreamKind): Promise<StreamSource> {
    const url = stream === 'sub' && channel.sub ? channel.sub : channel.main;
    try {
      return await RtspSource.open({ ...this.clientOptions(endpoint, url), logger: this.opts.logger.child({ deviceId, channelId: channel.id }) });
    } catch (err) {
      const { reason, message } = rtspReason(err);
      throw new DriverError(reason, message);
    }
  }

  forget(): void {
    // Nothing kept per device: every probe and stream opens its own connection.
  }
}
