/**
 * The GB28181 driver: the gateway's rules for devices that register themselves over SIP. GbSignalling
 * (protocol/gb28181) speaks the protocol; this class decides what it means for the gateway: who may register
 * and with which password, what a REGISTER does to the registry (profile, charset, configured name), whether a
 * later request comes from where the device registered, where and in which charset to send to a device, which
 * device a channel ID belongs to, and the stream options a device's profile sets.
 *
 * GB's shape is not the added drivers' `ProtocolDriver` (driver.ts): the device comes to us, so there is no
 * endpoint to describe or probe; the catalog is a query the device answers in parts (or pushes as NOTIFYs);
 * streams are opened by the stream service's INVITE with the options `streamTarget` returns. driver.ts's header
 * maps each capability of the one device interface to both shapes.
 *
 * Dependencies are passed in (registry, profiles, a `sip` config slice, channel rows, and the signalling
 * engine behind a port), so tests build it without sockets. The engine is connected after construction
 * because it needs this driver's answers (credentials, source check) to be built itself.
 */
import type { DeviceConfigEntry, GatewayConfig } from '../../../config/schema.js';
import type { ManscdpCharset } from '../../../codecs/manscdp/charset.js';
import type { Logger } from 'pino';
import { decodeManscdp, isCmdType, readMediaStatus, type CatalogItem } from '../../../codecs/manscdp/messages.js';
import type { TransportSource } from '../../../transport/sip-transport.js';
import type { AlarmNotify, DeviceCredentials, GbSignalling, RegisterEvent } from '../../../protocol/gb28181/gb-signalling.js';
import { judgeSource, type SourceVerdict } from '../../../protocol/gb28181/source-trust.js';
import type { GbEventPackage, SubscriptionDialog } from '../../../protocol/gb28181/subscriptions.js';
import type { DeviceAddress, DeviceRegistry } from '../../registry/device-registry.js';
import type { Channel } from '../../model.js';
import { NotFoundError } from '../../services.js';
import type { CatalogQueryPort } from '../../catalog/catalog-service.js';
import type { StreamTarget } from '../../streams/stream-service.js';
import type { PtzTarget } from '../../control/ptz-service.js';
import type { IncomingAlarm } from '../../alarms/alarm-service.js';
import type { GbProfiles } from './gb-profiles.js';

/** What the driver reads and writes of the registry (DeviceRegistry is it; tests may use a real one in memory). */
export type GbDeviceBook = Pick<DeviceRegistry, 'get' | 'address' | 'isOnline' | 'registered' | 'unregistered' | 'updateInfo' | 'keepalive'>;

/** What the driver asks of the signalling engine: the requests it sends to devices. */
export type GbSignallingPort = Pick<
  GbSignalling,
  'registerAnswered' | 'queryCatalog' | 'queryDeviceInfo' | 'queryDeviceStatus' | 'queryRecordInfo' | 'sendPtz' | 'subscribe'
>;

/** The part of `sip` the registration rules read. */
export type GbDriverConfig = Pick<GatewayConfig['sip'], 'password' | 'unknownDevices'>;

/** Channel rows (the store), to find the device a channel ID belongs to. */
export interface GbChannelRows {
  getChannel(channelId: string): Promise<Pick<Channel, 'deviceId'> | null>;
}

export interface GbDriverDeps {
  registry: GbDeviceBook;
  profiles: GbProfiles;
  sip: GbDriverConfig;
  channels: GbChannelRows;
  /** For what the driver decides to ignore (in-dialog MESSAGEs). */
  logger: Logger;
  now?: () => number;
}

/** What an in-dialog MESSAGE means for the stream of its dialog. */
export type DialogMessageMeaning = 'end-of-file' | 'ignored' | 'unreadable';

/** A SIP transport source as the registry keeps it. */
export function deviceAddressOf(source: TransportSource): DeviceAddress {
  return {
    transport: source.transport,
    address: source.address,
    port: source.port,
    ...(source.connectionId ? { connectionId: source.connectionId } : {}),
  };
}

export class GbDriver implements CatalogQueryPort {
  readonly protocol = 'gb28181' as const;
  private engine: GbSignallingPort | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: GbDriverDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The signalling engine to send through (it is built with this driver's answers, so it comes second). */
  connect(signalling: GbSignallingPort): void {
    this.engine = signalling;
  }

  private get signalling(): GbSignallingPort {
    if (!this.engine) throw new Error('GB28181 driver: no signalling engine connected');
    return this.engine;
  }

  // ------------------------------------------------------------------ registration and status

  /** Digest credentials of a device: its config entry's, else sip.password; null when unknown devices are refused. */
  credentialsFor(deviceId: string): DeviceCredentials | null {
    const entry: DeviceConfigEntry | undefined = this.deps.profiles.entryOf(deviceId);
    if (entry) return { password: entry.password ?? this.deps.sip.password, noAuth: entry.noAuth === true };
    if (this.deps.sip.unknownDevices === 'reject') return null;
    return { password: this.deps.sip.password, noAuth: false };
  }

  /** A keepalive: true when the device holds a registration (answer 200), false to make it register again. */
  keepalive(deviceId: string, source: TransportSource): boolean {
    return this.deps.registry.keepalive(deviceId, deviceAddressOf(source));
  }

  /**
   * Whether an out-of-dialog request from `deviceId` at `source` comes from where it registered, with the
   * device's NAT rebinding policy (source-trust.ts).
   */
  checkSource(deviceId: string, source: TransportSource): SourceVerdict {
    const device = this.deps.registry.get(deviceId);
    // The same "registered" the keepalive rule uses: a registration that has not expired.
    const live = device !== undefined && device.registrationExpiresAt !== null && device.registrationExpiresAt > this.now();
    return judgeSource(
      live ? this.deps.registry.address(deviceId) : undefined,
      source,
      device ? this.deps.profiles.natRebindingOf(deviceId, device.profile) : 'off',
    );
  }

  /**
   * An accepted REGISTER: record it with the profile its User-Agent (or its config entry) picks, give a new
   * device its configured name, and write in the profile's charset from now on.
   */
  registered(e: RegisterEvent): void {
    const { registry, profiles } = this.deps;
    const profile = profiles.forDevice(e.deviceId, { userAgent: e.userAgent, manufacturer: '', model: '' });
    registry.registered({
      deviceId: e.deviceId,
      source: deviceAddressOf(e.source),
      expires: e.expires,
      contact: e.contact,
      userAgent: e.userAgent,
      gbVersion: e.gbVersion,
      profile: profile.name,
    });
    const device = registry.get(e.deviceId);
    if (device && !device.name) {
      const configuredName = profiles.entryOf(e.deviceId)?.name;
      if (configuredName) registry.updateInfo(e.deviceId, { name: configuredName });
    }
    if (device && device.charset !== profile.charset) registry.updateInfo(e.deviceId, { charset: profile.charset });
  }

  /** REGISTER with Expires: 0. */
  unregistered(e: { deviceId: string }): void {
    this.deps.registry.unregistered(e.deviceId);
  }

  // ------------------------------------------------------------------ addressing a device

  /** The charset MANSCDP bodies to the device are written in (its profile's, set on REGISTER). */
  charsetOf(deviceId: string): ManscdpCharset {
    const c = this.deps.registry.get(deviceId)?.charset;
    return c === 'UTF-8' || c === 'GB18030' ? c : 'GB2312';
  }

  /** Where requests to the device go: the source of its last REGISTER or keepalive. */
  destinationOf(deviceId: string): TransportSource {
    const addr = this.deps.registry.address(deviceId);
    if (!addr) throw new NotFoundError(`device ${deviceId} has no known address`);
    return addr;
  }

  // ------------------------------------------------------------------ catalog and channels

  /** CatalogQueryPort: the whole catalog, once the device's REGISTER has been answered. */
  async queryCatalog(
    deviceId: string,
    onProgress: (received: number, total: number | null) => void,
    storePart?: (items: CatalogItem[]) => Promise<void>,
  ): ReturnType<CatalogQueryPort['queryCatalog']> {
    await this.signalling.registerAnswered(deviceId);
    return this.signalling.queryCatalog(deviceId, this.destinationOf(deviceId), onProgress, this.charsetOf(deviceId), storePart ? { storePart } : {});
  }

  /**
   * CatalogQueryPort: DeviceInfo, and a new look at the device's profile now that its manufacturer and model
   * are known (a User-Agent alone often names no vendor).
   */
  async queryDeviceInfo(deviceId: string): ReturnType<CatalogQueryPort['queryDeviceInfo']> {
    await this.signalling.registerAnswered(deviceId);
    const info = await this.signalling.queryDeviceInfo(deviceId, this.destinationOf(deviceId), this.charsetOf(deviceId));
    const { registry, profiles } = this.deps;
    const device = registry.get(deviceId);
    const profile = profiles.forDevice(deviceId, { userAgent: device?.userAgent ?? '', manufacturer: info.manufacturer, model: info.model });
    if (device && device.profile !== profile.name) registry.updateInfo(deviceId, { profile: profile.name, charset: profile.charset });
    return { name: info.deviceName, manufacturer: info.manufacturer, model: info.model, firmware: info.firmware, channels: info.channel };
  }

  /**
   * SUBSCRIBE to one of the device's event packages (device-subscriptions.ts); dialog null: a new subscription.
   * The Query body says what we want: MobilePosition the report `Interval` (GB 9.8, seconds); Alarm every
   * priority and method (0 = all, GB A.2.4.5); Catalog nothing more.
   */
  async subscribe(event: GbEventPackage, deviceId: string, expiresSec: number, dialog: SubscriptionDialog | null, opts: { intervalSec?: number } = {}): ReturnType<GbSignallingPort['subscribe']> {
    const fields =
      event === 'MobilePosition'
        ? { Interval: String(opts.intervalSec ?? 5) }
        : event === 'Alarm'
          ? { StartAlarmPriority: '0', EndAlarmPriority: '0', AlarmMethod: '0' }
          : undefined;
    return this.signalling.subscribe(deviceId, this.destinationOf(deviceId), event, expiresSec, dialog, this.charsetOf(deviceId), fields);
  }

  /**
   * The device a channel ID belongs to: the device of its catalog row, or the device itself when the ID is a
   * registered device's (a single-channel IPC is addressed by its own ID). null: neither.
   */
  async deviceOfChannel(channelId: string): Promise<string | null> {
    const channel = await this.deps.channels.getChannel(channelId);
    if (channel) return channel.deviceId;
    return this.deps.registry.get(channelId) ? channelId : null;
  }

  // ------------------------------------------------------------------ streams

  /** What the stream service needs to INVITE a channel: where its device is and its profile's media options. */
  async streamTarget(channelId: string): Promise<StreamTarget | null> {
    const deviceId = await this.deviceOfChannel(channelId);
    if (!deviceId) return null;
    const device = this.deps.registry.get(deviceId);
    const address = this.deps.registry.address(deviceId);
    if (!device || !address) return null;
    const profile = this.deps.profiles.ofDevice(device);
    return {
      channelId,
      deviceId,
      deviceOnline: device.status === 'online',
      destination: address,
      defaultTransport: profile.defaultMediaTransport,
      substream: { attribute: profile.substreamSdpAttribute.name, main: profile.substreamSdpAttribute.main, sub: profile.substreamSdpAttribute.sub },
      allowZeroSsrc: profile.allowZeroSsrc,
      transcodeH265: profile.transcodeH265,
    };
  }

  // ------------------------------------------------------------------ alarms

  /**
   * An Alarm NOTIFY (already source-checked by the engine) in the alarm pipeline's terms: the reporting device,
   * and the alarm's own DeviceID (a channel or an alarm input) as its source.
   */
  alarmOf(e: { deviceId: string; alarm: AlarmNotify }): IncomingAlarm {
    return {
      deviceId: e.deviceId,
      sourceId: e.alarm.deviceId,
      priority: e.alarm.priority,
      method: e.alarm.method,
      type: e.alarm.type,
      description: e.alarm.description,
      alarmTime: e.alarm.time,
      longitude: e.alarm.longitude,
      latitude: e.alarm.latitude,
      raw: e.alarm.raw,
    };
  }

  // ------------------------------------------------------------------ in-dialog messages

  /**
   * An in-dialog MESSAGE of a stream's INVITE dialog (already answered 200 by the dialog layer). MediaStatus
   * 121 means the device sent the whole span of a playback or download (GB 9.9.2): the stream ends with reason
   * end-of-file and we send BYE. No other NotifyType is defined; other CmdTypes are logged and ignored.
   * 'unreadable': not MANSCDP (the caller counts it as a bad body).
   */
  dialogMessage(callId: string, body: Buffer): DialogMessageMeaning {
    let notifyType: number | null = null;
    try {
      const m = decodeManscdp(body);
      if (isCmdType(m, 'MediaStatus')) notifyType = readMediaStatus(m).notifyType;
      else this.deps.logger.info({ callId, cmdType: m.cmdType }, 'in-dialog MESSAGE ignored');
    } catch (err) {
      this.deps.logger.warn({ callId, err: (err as Error).message }, 'unreadable in-dialog MESSAGE ignored');
      return 'unreadable';
    }
    if (notifyType === 121) return 'end-of-file';
    if (notifyType !== null) this.deps.logger.info({ callId, notifyType }, 'MediaStatus ignored (only 121 end-of-file is defined)');
    return 'ignored';
  }

  // ------------------------------------------------------------------ PTZ and live queries

  async ptzTarget(channelId: string): Promise<PtzTarget | null> {
    const deviceId = await this.deviceOfChannel(channelId);
    return deviceId ? { channelId, deviceId, deviceOnline: this.deps.registry.isOnline(deviceId) } : null;
  }

  /** A PTZCmd (hex, ptz-service.ts) to a channel, through its device's address and charset. */
  async sendPtz(channelId: string, deviceId: string, ptzCmd: string): Promise<void> {
    return this.signalling.sendPtz(channelId, this.destinationOf(deviceId), ptzCmd, this.charsetOf(deviceId));
  }

  async deviceInfo(deviceId: string): ReturnType<GbSignallingPort['queryDeviceInfo']> {
    return this.signalling.queryDeviceInfo(deviceId, this.destinationOf(deviceId), this.charsetOf(deviceId));
  }

  async deviceStatus(deviceId: string): ReturnType<GbSignallingPort['queryDeviceStatus']> {
    return this.signalling.queryDeviceStatus(deviceId, this.destinationOf(deviceId), this.charsetOf(deviceId));
  }

  /** RecordInfo of a channel (the device keeps the recordings). */
  async records(deviceId: string, channelId: string, window: { start: number; end: number; type?: string }): ReturnType<GbSignallingPort['queryRecordInfo']> {
    return this.signalling.queryRecordInfo(deviceId, channelId, this.destinationOf(deviceId), window, this.charsetOf(deviceId));
  }
}
