/**
 * RTMP pushers (ffmpeg, OBS, a mobile unit, a drone): the device is a publishing point with one channel; the
 * pusher publishes to rtmp://<host>:<rtmp.port>/live/<channel id>?sign=<sign>. The sign is an HMAC of the
 * channel ID under the device's own key (kept in the gateway's records), so a URL cannot be guessed from a
 * channel ID, and deleting the device makes its URL useless.
 *
 * The device is online while a publisher is on it. A play does not pull anything: it attaches a stream-core
 * RtmpSource to the live publisher and replays the codec configuration (the sequence headers came once, at
 * the start of the publish); the picture starts at the next keyframe. Closing that source only detaches it —
 * the publisher keeps publishing for the next viewer.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Amf0Value } from '../../../codecs/rtmp/amf0.js';
import type { PublishDecision, PublishRequest, RtmpPublisher } from '../../../protocol/rtmp/rtmp-ingest.js';
import { RtmpSource } from '../../../media/sources/rtmp/rtmp-source.js';
import type { StreamSource } from '../../../media/sources/source.js';
import { DriverError, type DeviceDescription, type EndpointOf, type KnownChannel, type ProtocolDriver } from './driver.js';

type RtmpEndpoint = EndpointOf<'rtmp'>;

export const RTMP_APP = 'live';

export function newSignKey(): string {
  return randomBytes(24).toString('base64url');
}

export function signChannel(key: string, channelId: string): string {
  return createHmac('sha256', key).update(`rtmp-publish:${channelId}`).digest('base64url').slice(0, 32);
}

export function verifySign(key: string, channelId: string, sign: string | null): boolean {
  if (!sign) return false;
  const want = Buffer.from(signChannel(key, channelId));
  const got = Buffer.from(sign);
  return want.length === got.length && timingSafeEqual(want, got);
}

interface Live {
  publisher: RtmpPublisher;
  videoConfig: Buffer | null;
  audioConfig: Buffer | null;
  expectAudio: boolean;
  sinks: Set<RtmpSource>;
}

/** FLV sequence headers (legacy and enhanced RTMP video; AAC audio): the part a late joiner needs first. */
function isVideoConfig(body: Buffer): boolean {
  if (body.length < 2) return false;
  if (body[0]! & 0x80) return (body[0]! & 0x0f) === 0; // enhanced RTMP: PacketTypeSequenceStart
  const codec = body[0]! & 0x0f;
  return (codec === 7 || codec === 12) && body[1] === 0;
}
function isAudioConfig(body: Buffer): boolean {
  return body.length >= 2 && body[0]! >> 4 === 10 && body[1] === 0;
}

export interface RtmpDriverHooks {
  /** The sign key of the device owning a channel, or null for an unknown channel. */
  keyOfChannel(channelId: string): { deviceId: string; key: string } | null;
  /** A publisher came or went: the device service sets the device's status. */
  publishing(deviceId: string, channelId: string, live: boolean, reason: string): void;
}

export class RtmpDriver implements ProtocolDriver<RtmpEndpoint> {
  readonly protocol = 'rtmp' as const;
  readonly probe = null;
  private readonly live = new Map<string, Live>();
  private readonly byPublisher = new Map<number, string>();
  /** Refusals by reason, for logs and tests. */
  readonly refusals: Array<{ key: string; reason: string }> = [];

  constructor(private readonly hooks: RtmpDriverHooks) {}

  async describe(): Promise<DeviceDescription> {
    return { manufacturer: '', model: 'RTMP', firmware: '', suggestedName: 'RTMP', address: { host: '', port: 0 }, channels: [{ name: '', main: '', sub: '', ptz: false }] };
  }

  /** The ingest server's authorize hook: the app, a known channel and its sign. */
  authorize(req: PublishRequest): PublishDecision {
    const refuse = (reason: string): PublishDecision => {
      this.refusals.push({ key: req.key, reason });
      return { ok: false, code: 'NetStream.Publish.Unauthorized', reason };
    };
    if (req.app !== RTMP_APP) return refuse(`unknown application "${req.app}" (publish to /${RTMP_APP}/<channel id>)`);
    const owner = this.hooks.keyOfChannel(req.key);
    if (!owner) return refuse(`no RTMP channel ${req.key}`);
    if (!verifySign(owner.key, req.key, req.query.get('sign'))) return refuse(`stream key ${req.key} is not signed for publishing (wrong or missing sign)`);
    return { ok: true };
  }

  isLive(channelId: string): boolean {
    return this.live.has(channelId);
  }

  onPublish(publisher: RtmpPublisher): void {
    const channelId = publisher.request.key;
    const owner = this.hooks.keyOfChannel(channelId);
    if (!owner) {
      publisher.close('channel removed');
      return;
    }
    this.live.set(channelId, { publisher, videoConfig: null, audioConfig: null, expectAudio: true, sinks: new Set() });
    this.byPublisher.set(publisher.id, channelId);
    this.hooks.publishing(owner.deviceId, channelId, true, '');
  }

  onMetadata(publisher: RtmpPublisher, meta: Record<string, Amf0Value>): void {
    const live = this.liveOf(publisher);
    // No audiocodecid in the metadata: the pusher sends video only, so the source need not wait for audio.
    if (live && 'audiocodecid' in meta) live.expectAudio = meta.audiocodecid !== null && meta.audiocodecid !== 0 && meta.audiocodecid !== '';
  }

  onTag(publisher: RtmpPublisher, tag: { type: 'audio' | 'video'; timestamp: number; body: Buffer }): void {
    const live = this.liveOf(publisher);
    if (!live) return;
    if (tag.type === 'video' && isVideoConfig(tag.body)) live.videoConfig = Buffer.from(tag.body);
    else if (tag.type === 'audio' && isAudioConfig(tag.body)) live.audioConfig = Buffer.from(tag.body);
    for (const sink of live.sinks) sink.tag(tag.type, tag.timestamp, tag.body);
  }

  onUnpublish(publisher: RtmpPublisher, reason: string): void {
    const channelId = this.byPublisher.get(publisher.id);
    this.byPublisher.delete(publisher.id);
    if (!channelId) return;
    const live = this.live.get(channelId);
    if (live?.publisher !== publisher) return;
    this.live.delete(channelId);
    for (const sink of live.sinks) sink.publisherGone(reason);
    const owner = this.hooks.keyOfChannel(channelId);
    if (owner) this.hooks.publishing(owner.deviceId, channelId, false, reason);
  }

  async openSource(_deviceId: string, _endpoint: RtmpEndpoint, channel: KnownChannel): Promise<StreamSource> {
    const live = this.live.get(channel.id);
    if (!live) throw new DriverError('no-publisher', `nobody is publishing to channel ${channel.id}; start the pusher on its publishUrl`);
    // Closing a viewer's source detaches it; the publisher goes on for the next play.
    const source: RtmpSource = new RtmpSource(() => live.sinks.delete(source), live.expectAudio);
    live.sinks.add(source);
    if (live.videoConfig) source.tag('video', 0, live.videoConfig);
    if (live.audioConfig) source.tag('audio', 0, live.audioConfig);
    return source;
  }

  /** The device is deleted: end its publishers. */
  stopChannels(channelIds: readonly string[], reason: string): void {
    for (const id of channelIds) this.live.get(id)?.publisher.close(reason);
  }

  private liveOf(publisher: RtmpPublisher): Live | undefined {
    const channelId = this.byPublisher.get(publisher.id);
    const live = channelId ? this.live.get(channelId) : undefined;
    return live?.publisher === publisher ? live : undefined;
  }

  forget(): void {
    // Per-device state is the sign key, owned by the device service.
  }
}
