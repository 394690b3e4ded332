/**
 * Devices added through the API — ONVIF cameras, RTSP sources, RTMP publishing points — kept next to the GB
 * devices that register themselves: the same registry (list, detail, counts, status events), the same channel
 * rows and trees (catalog service), the same play route (a stream target whose driver opens the source).
 *
 * What is only theirs lives in the record collection `protocol_devices` (both stores): how to reach the device
 * (with credentials, never shown by the API), its channels' stream URIs and, for RTMP, the key its publish
 * URLs are signed with. A restart reloads those records; the device rows come back with the registry.
 *
 * Status: ONVIF and RTSP devices are probed by the liveness poller (interval with jitter, N misses → offline,
 * auth-failed at once and not retried in a loop); an RTMP device is online while someone publishes to it.
 *
 * PTZ and events go through the driver's optional capabilities (drivers/driver.ts): PTZ orders from the PTZ
 * service (leases and auto-stops stay there), and an event feed per online device whose rising edges become
 * alarms through the same entry point as GB alarms (`deps.alarm`). A feed runs while the device is online;
 * it stops when the device goes offline, is deleted or changes credentials, and with the gateway.
 */
import type { Logger } from 'pino';
import type { Channel, Device, OfflineReason } from '../model.js';
import type { RecordCollection, RecordStore } from '../records.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { CatalogService } from '../catalog/catalog-service.js';
import { emptyChannel } from '../catalog/catalog-service.js';
import type { StreamTarget } from '../streams/stream-service.js';
import type { StreamSource } from '../../media/sources/source.js';
import { ConflictError, NotFoundError, UnprocessableError, UpstreamError } from '../services.js';
import type { IncomingAlarm } from '../alarms/alarm-service.js';
import { RisingEdges, alarmOfDeviceEvent } from '../alarms/device-event-alarms.js';
import type { PtzOrder, PtzTarget } from '../control/ptz-service.js';
import { LivenessPoller, type LivenessChange } from './liveness-poller.js';
import { CHANNEL_TYPE_CODE, DEVICE_TYPE_CODE, DeviceIdAllocator } from './device-ids.js';
import type { AddedProtocol, DevicePatch, NewDeviceInput } from './device-input.js';
import { identityKey, type ImportMatch } from './device-import.js';
import { DriverError, type DescribedChannel, type DeviceDescription, type DeviceEvent, type DevicePreset, type Endpoint, type KnownChannel, type ProtocolDriver, type StreamKind } from './drivers/driver.js';
import type { OnvifDriver } from './drivers/onvif-driver.js';
import type { RtspDriver } from './drivers/rtsp-driver.js';
import { RTMP_APP, newSignKey, signChannel, type RtmpDriver } from './drivers/rtmp-driver.js';

export interface ProtocolDeviceRecord {
  id: string;
  protocol: AddedProtocol;
  endpoint: Endpoint;
  channels: KnownChannel[];
  /** RTMP: the HMAC key of this device's publish URLs. */
  signKey?: string;
  /** ONVIF: the camera's serial number as it last answered (a PATCH to an address answered by another is refused). */
  serialNumber?: string;
  createdAt: number;
  updatedAt: number;
}

/** A channel as the API shows it after an add: its ID, name and (RTMP) where to publish. */
export interface AddedChannel {
  id: string;
  name: string;
  publishUrl?: string;
}

export type AddedDevice = Device & { channels: AddedChannel[]; publishUrl?: string };

export interface ProtocolDevicesDeps {
  records: RecordStore;
  registry: DeviceRegistry;
  catalog: CatalogService;
  drivers: { onvif: OnvifDriver; rtsp: RtspDriver; rtmp: RtmpDriver };
  /** Whether an ID is in use (a GB device or any tree node): the ID plan skips it. */
  idTaken: (id: string) => boolean;
  /** Stop the running streams of these channels. */
  stopStreams: (channelIds: readonly string[], why: string) => Promise<number>;
  /** Before the rows are deleted: queued writes for this device must not bring it back. */
  flushWrites: () => Promise<void>;
  deleteDeviceRows: (deviceId: string) => Promise<void>;
  /** The alarm pipeline's entry point (the one GB alarms take): store, WebSocket, webhooks, escalation. */
  alarm: (alarm: IncomingAlarm) => void;
  /** Counters: a device event arrived (raised: it was a rising edge and became an alarm). */
  deviceEvent?: (kind: string, raised: boolean) => void;
  logger: Logger;
}

export interface ProtocolDevicesOptions {
  /** civil code (8) + industry (2) of the IDs given to added devices. */
  idPrefix: string;
  pollIntervalMs: number;
  missesToOffline: number;
  pollConcurrency: number;
  /** rtmp://host:port of the publish URLs (the address pushers reach the ingest at). */
  rtmpBaseUrl: () => string;
  /** After an event feed could not start (device unreachable at that moment) it is tried again this much later. Default 30 s. */
  eventRetryMs?: number;
  /** Run event feeds (ONVIF PullPoint) at all. Default true. */
  events?: boolean;
}

/** Driver failures that are about the request or the channel (409), not about reaching the device (502). */
const CONFLICT_REASONS: ReadonlySet<string> = new Set(['no-ptz', 'unsupported', 'no-preset']);

const OFFLINE_REASONS: ReadonlySet<string> = new Set(['unreachable', 'auth-failed', 'soap-fault', 'rtsp-failed', 'clock-skew', 'bad-answer', 'no-publisher']);

function offlineReasonOf(reason: string): OfflineReason {
  return (OFFLINE_REASONS.has(reason) ? reason : 'unreachable') as OfflineReason;
}

/**
 * A device with this identity exists already (POST /api/devices): 409 `conflict` with its ID, so an integrator's
 * script can PATCH it instead. The import answers such a row `unchanged`/`updated` instead (device-import.ts).
 */
export class DeviceExistsError extends ConflictError {
  constructor(
    readonly existingId: string,
    input: NewDeviceInput,
  ) {
    const what = input.protocol === 'onvif' ? `ONVIF ${input.host}:${input.port}` : input.protocol === 'rtsp' ? 'the same RTSP URL' : `RTMP "${input.name ?? ''}"`;
    super(`device ${existingId} is already added as ${what}; change it with PATCH /api/devices/${existingId}`, { code: 'conflict', params: { existingId } });
  }

  override get details(): Record<string, unknown> {
    return { existingId: this.existingId };
  }
}

export class ProtocolDevices {
  private readonly collection: RecordCollection<ProtocolDeviceRecord>;
  private readonly byId = new Map<string, ProtocolDeviceRecord>();
  private readonly byChannel = new Map<string, { record: ProtocolDeviceRecord; channel: KnownChannel }>();
  /** ONVIF and RTSP devices by identity (identityKey): an import of thousands of rows looks each one up. */
  private readonly byIdentity = new Map<string, string>();
  /** Identities of devices being added (describe in flight) → their reserved ID. */
  private readonly adding = new Map<string, string>();
  private readonly ids: DeviceIdAllocator;
  private readonly poller: LivenessPoller;
  /** Devices whose channels are being (re-)described, so a poll and a PATCH do not do it twice at once. */
  private readonly describing = new Set<string>();
  private readonly edges = new RisingEdges();
  /** Event feeds to try again (their start failed while the device was still online). */
  private readonly eventRetries = new Map<string, NodeJS.Timeout>();
  readonly eventStats = { received: 0, raised: 0, feedsStopped: 0 };

  constructor(
    private readonly deps: ProtocolDevicesDeps,
    private readonly opts: ProtocolDevicesOptions,
  ) {
    this.collection = deps.records.collection<ProtocolDeviceRecord>('protocol_devices', ['protocol']);
    this.ids = new DeviceIdAllocator(opts.idPrefix, (id) => this.byId.has(id) || this.byChannel.has(id) || deps.idTaken(id));
    this.poller = new LivenessPoller(
      { intervalMs: opts.pollIntervalMs, missesToOffline: opts.missesToOffline, concurrency: opts.pollConcurrency },
      (change) => this.onLiveness(change),
    );
  }

  /** Reload the records after a restart and start polling. */
  async load(): Promise<void> {
    for (let offset = 0; ; offset += 1000) {
      const page = await this.collection.find({ offset, limit: 1000 });
      for (const record of page.items) this.index(record);
      if (page.items.length < 1000) break;
    }
    for (const record of this.byId.values()) {
      if (!this.deps.registry.get(record.id)) {
        // The record was written but the device row not (a crash in between): the record is the truth.
        this.deps.logger.warn({ deviceId: record.id }, 'added device without a device row; restoring it');
        this.deps.registry.putExternal(this.newDevice(record.id, record.protocol, '', record.id.slice(0, 8), { host: '', port: 0 }));
      }
      if (record.protocol === 'rtmp') this.deps.registry.setPolledStatus(record.id, 'offline', 'no-publisher');
      this.watch(record);
    }
    this.poller.start();
    this.deps.logger.info({ devices: this.byId.size, channels: this.byChannel.size }, 'added devices (onvif/rtsp/rtmp) loaded');
  }

  /** Stop polling and every event feed (their subscriptions are cancelled on the cameras). */
  async close(): Promise<void> {
    this.poller.stop();
    for (const t of this.eventRetries.values()) clearTimeout(t);
    this.eventRetries.clear();
    await Promise.all([...this.byId.values()].map((r) => this.stopEvents(r.id)));
  }

  get count(): number {
    return this.byId.size;
  }

  has(deviceId: string): boolean {
    return this.byId.has(deviceId);
  }

  // ------------------------------------------------------------------ API

  /**
   * Adds a device, or throws DeviceExistsError (409 with the existing device's ID) when one with the same identity
   * (identityKey: ONVIF host:port, RTSP URL, RTMP name — the import's rule) exists or is being added right now.
   */
  async add(input: NewDeviceInput): Promise<AddedDevice> {
    const key = identityKey(input);
    const existing = this.match(input)?.id ?? (key === null ? undefined : this.adding.get(key));
    if (existing !== undefined) throw new DeviceExistsError(existing, input);
    const id = this.ids.allocate(DEVICE_TYPE_CODE, input.civilCode);
    // The identity is taken from here on: a concurrent add of the same camera gets this device's ID in its 409.
    if (key !== null) this.adding.set(key, id);
    try {
      return await this.addNew(id, input);
    } finally {
      if (key !== null && this.adding.get(key) === id) this.adding.delete(key);
    }
  }

  private async addNew(id: string, input: NewDeviceInput): Promise<AddedDevice> {
    const endpoint = endpointOf(input);
    const now = Date.now();
    const record: ProtocolDeviceRecord = { id, protocol: input.protocol, endpoint, channels: [], createdAt: now, updatedAt: now };
    if (input.protocol === 'rtmp') record.signKey = newSignKey();
    // Reserve the ID at once: a second add running concurrently must not get it too.
    this.byId.set(id, record);
    let description;
    try {
      description = await this.driver(record.protocol).describe(id, endpoint as never);
    } catch (err) {
      this.byId.delete(id);
      throw err;
    }
    const civilCode = input.civilCode ?? id.slice(0, 8);
    const device = this.newDevice(id, input.protocol, input.name ?? description.suggestedName, civilCode, description.address);
    device.manufacturer = description.manufacturer;
    device.model = description.model;
    device.firmware = description.firmware;
    if (input.protocol === 'rtmp') {
      device.offlineReason = 'no-publisher';
    } else if (description.failure) {
      device.offlineReason = offlineReasonOf(description.failure.reason);
    } else {
      device.status = 'online';
      device.offlineReason = null;
      device.lastKeepaliveAt = now;
    }
    record.channels = this.assignChannelIds(description.channels ?? [], [], civilCode);
    if (description.serialNumber) record.serialNumber = description.serialNumber;
    await this.collection.put(record);
    this.index(record);
    this.deps.registry.putExternal(device);
    await this.deps.catalog.storeChannels(id, this.channelRows(device, record.channels));
    this.watch(record);
    if (device.status === 'online') this.startEvents(record);
    this.deps.logger.info({ deviceId: id, protocol: record.protocol, channels: record.channels.length, status: device.status, reason: device.offlineReason }, 'device added');
    return this.answer(record);
  }

  /**
   * Applies a PATCH. New addresses or credentials are tried first, on the side (the device's streams, event feed
   * and driver state keep the old ones meanwhile): when the device does not answer to them the PATCH is refused
   * with a 422 naming the reason (`auth-failed`, `unreachable`, `rtsp-failed`, …) and nothing changes; an ONVIF
   * address answered by a camera with another serial number is a different camera, refused with a 409
   * `conflict`. `force` applies them anyway (the device then shows offline with that reason, as before).
   */
  async update(deviceId: string, patch: DevicePatch): Promise<AddedDevice> {
    const record = this.recordOf(deviceId);
    const endpoint = { ...record.endpoint } as Endpoint;
    let reach = false;
    if (endpoint.protocol === 'onvif') {
      for (const key of ['host', 'port', 'username', 'password'] as const) {
        if (patch[key] !== undefined && patch[key] !== endpoint[key]) {
          (endpoint as Record<string, unknown>)[key] = patch[key];
          reach = true;
        }
      }
    } else if (endpoint.protocol === 'rtsp') {
      for (const key of ['url', 'username', 'password', 'transport'] as const) {
        if (patch[key] !== undefined && patch[key] !== endpoint[key]) {
          (endpoint as Record<string, unknown>)[key] = patch[key];
          reach = true;
        }
      }
      if (patch.subUrl !== undefined && patch.subUrl !== endpoint.subUrl) {
        endpoint.subUrl = patch.subUrl;
        reach = true;
      }
    }
    const device = this.deps.registry.get(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    // The new address is another added device's (forced or not: two devices for one camera is never meant).
    const key = identityKey(endpoint);
    const owner = key === null ? undefined : (this.byIdentity.get(key) ?? this.adding.get(key));
    if (owner !== undefined && owner !== deviceId) {
      throw new ConflictError(`the new address of device ${deviceId} is device ${owner}'s; nothing was changed`, { code: 'conflict', params: { existingId: owner } });
    }
    const description = reach ? await this.tryEndpoint(record, endpoint, patch.force === true) : null;
    const next: Device = { ...device, updatedAt: Date.now() };
    if (patch.name !== undefined) next.name = patch.name;
    record.endpoint = endpoint;
    record.updatedAt = next.updatedAt;
    if (description) {
      // Running streams use the old address or credentials: they stop, the next play opens the new ones.
      await this.deps.stopStreams(record.channels.map((c) => c.id), 'device address or credentials changed');
      await this.stopEvents(deviceId);
      this.deps.drivers[record.protocol].forget(deviceId);
      if (description.serialNumber) record.serialNumber = description.serialNumber;
      next.remoteAddress = description.address.host;
      next.remotePort = description.address.port;
      if (description.channels) record.channels = this.assignChannelIds(description.channels, record.channels, device.civilCode);
      if (description.failure) {
        next.status = 'offline';
        next.offlineReason = offlineReasonOf(description.failure.reason);
      } else {
        next.status = 'online';
        next.offlineReason = null;
      }
      if (next.status !== device.status) next.statusChangedAt = next.updatedAt;
    }
    await this.collection.put(record);
    this.unindex(deviceId);
    this.index(record);
    this.deps.registry.putExternal(next);
    // putExternal replaces the row without a transition; the status event and channel status follow here.
    if (reach) this.deps.registry.setPolledStatus(deviceId, next.status, next.offlineReason);
    this.deps.catalog.deviceChanged(deviceId);
    await this.deps.catalog.storeChannels(deviceId, this.channelRows(next, record.channels));
    if (reach) this.poller.reset(deviceId);
    if (reach && next.status === 'online') this.startEvents(record);
    return this.answer(record);
  }

  /**
   * Describes the device at new settings without touching its current state (a driver ID of its own, forgotten
   * afterwards), and refuses settings it does not answer to, or (ONVIF) that reach another camera, unless forced.
   */
  private async tryEndpoint(record: ProtocolDeviceRecord, endpoint: Endpoint, force: boolean): Promise<DeviceDescription> {
    const trialId = `${record.id}~trial`;
    const driver = this.deps.drivers[record.protocol];
    let description: DeviceDescription;
    try {
      description = await this.driver(record.protocol).describe(trialId, endpoint as never);
    } finally {
      driver.forget(trialId);
    }
    this.deps.logger.info(
      { deviceId: record.id, ok: !description.failure, reason: description.failure?.reason, serialNumber: description.serialNumber, force },
      'new device settings tried',
    );
    if (force) return description;
    if (description.failure) {
      const { reason, message } = description.failure;
      throw new UnprocessableError(
        `device ${record.id} does not answer to the new settings (${reason}: ${message}); nothing was changed. Send "force": true to apply them anyway`,
        reason,
        { code: 'device.probe-failed', params: { reason } },
      );
    }
    if (record.serialNumber && description.serialNumber && description.serialNumber !== record.serialNumber) {
      throw new ConflictError(
        `the new address of device ${record.id} is answered by another camera (serial number ${description.serialNumber}, not ${record.serialNumber}); nothing was changed. Add it as a new device, or send "force": true to make this device that camera`,
        { code: 'conflict', params: { serialNumber: description.serialNumber, expectedSerialNumber: record.serialNumber } },
      );
    }
    return description;
  }

  async remove(deviceId: string): Promise<{ id: string; stoppedStreams: number }> {
    const record = this.byId.get(deviceId);
    if (!record) {
      if (this.deps.registry.get(deviceId)) {
        throw new ConflictError(`device ${deviceId} is a GB28181 device: it registers itself; remove it from the device's own platform settings (or sip.devices)`);
      }
      throw new NotFoundError(`device ${deviceId} not found`);
    }
    this.poller.remove(deviceId);
    // Unsubscribe while the driver still has the device's client (forget drops it).
    await this.stopEvents(deviceId);
    this.edges.forget(deviceId);
    const channelIds = record.channels.map((c) => c.id);
    const stopped = await this.deps.stopStreams(channelIds, 'device deleted');
    if (record.protocol === 'rtmp') this.deps.drivers.rtmp.stopChannels(channelIds, 'device deleted');
    this.deps.drivers[record.protocol].forget(deviceId);
    this.unindex(deviceId);
    await this.collection.delete(deviceId);
    this.deps.registry.remove(deviceId);
    this.deps.catalog.removeDevice(deviceId);
    await this.deps.flushWrites();
    await this.deps.deleteDeviceRows(deviceId);
    this.deps.logger.info({ deviceId, protocol: record.protocol, stoppedStreams: stopped }, 'device deleted');
    return { id: deviceId, stoppedStreams: stopped };
  }

  /**
   * The existing device a new-device body names by identity (device-import.ts, identityKey), with what the body
   * would change in it: credentials, sub-stream URL and transport (rtsp), and the name. Fields the body leaves
   * out change nothing; civilCode is not compared (the device's ID was allocated from it and stays).
   */
  match(input: NewDeviceInput): ImportMatch | null {
    const key = identityKey(input);
    if (key === null) return null;
    let id: string | undefined;
    if (input.protocol === 'rtmp') {
      // RTMP devices have no address; their name is their identity. Few of them: a scan is fine.
      for (const record of this.byId.values()) {
        if (record.protocol === 'rtmp' && this.deps.registry.get(record.id)?.name === input.name) {
          id = record.id;
          break;
        }
      }
    } else {
      id = this.byIdentity.get(key);
    }
    const record = id === undefined ? undefined : this.byId.get(id);
    if (!record) return null;
    const patch: DevicePatch = {};
    const e = record.endpoint;
    if (input.protocol === 'onvif' && e.protocol === 'onvif') {
      if (input.username !== e.username) patch.username = input.username;
      if (input.password !== e.password) patch.password = input.password;
    } else if (input.protocol === 'rtsp' && e.protocol === 'rtsp') {
      if (input.subUrl !== undefined && input.subUrl !== e.subUrl) patch.subUrl = input.subUrl;
      if (input.username !== undefined && input.username !== e.username) patch.username = input.username;
      if (input.password !== undefined && input.password !== e.password) patch.password = input.password;
      if (input.transport !== undefined && input.transport !== e.transport) patch.transport = input.transport;
    }
    if (input.name !== undefined && input.name !== this.deps.registry.get(record.id)?.name) patch.name = input.name;
    return { id: record.id, patch };
  }

  /** The added ONVIF device at this host (and port, when given), if any: discovery marks what is already added. */
  onvifDeviceAt(host: string, port?: number): string | null {
    for (const record of this.byId.values()) {
      const e = record.endpoint;
      if (e.protocol === 'onvif' && e.host === host && (port === undefined || e.port === port)) return record.id;
    }
    return null;
  }

  describeAdded(deviceId: string): AddedDevice | null {
    const record = this.byId.get(deviceId);
    return record ? this.answer(record) : null;
  }

  // ------------------------------------------------------------------ streams and RTMP

  /** The stream target of a channel of an added device, or null (a GB channel, or unknown). */
  streamTarget(channelId: string): StreamTarget | null {
    const entry = this.byChannel.get(channelId) ?? this.firstChannelOf(channelId);
    if (!entry) return null;
    const { record, channel } = entry;
    const device = this.deps.registry.get(record.id);
    if (!device) return null;
    const online = record.protocol === 'rtmp' ? this.deps.drivers.rtmp.isLive(channel.id) : device.status === 'online';
    return {
      channelId: channel.id,
      deviceId: record.id,
      deviceOnline: online,
      destination: { transport: 'tcp', address: device.remoteAddress, port: device.remotePort },
      defaultTransport: 'tcp-passive',
      substream: { attribute: 'streamnumber', main: '0', sub: '1' },
      allowZeroSsrc: false,
      transcodeH265: false,
      openSource: (stream: StreamKind) => this.openSource(record, channel, stream),
      offlineHint:
        record.protocol === 'rtmp'
          ? `nobody is publishing to this channel: start the pusher on its publishUrl (GET /api/devices/${record.id})`
          : `the device is ${device.offlineReason ?? 'offline'}: check its address and credentials (PATCH /api/devices/${record.id})`,
    };
  }

  // ------------------------------------------------------------------ PTZ

  /**
   * The PTZ target of a channel of an added device (or of a single-channel device by its own ID), or null for a
   * channel that is not ours. A channel of a protocol without PTZ throws the 409 here, before the PTZ service
   * takes a lease on it. An ONVIF channel whose profile has no PTZ configuration keeps its focus and iris (the
   * Imaging service is its own): the target says so, and the PTZ service refuses its pan/tilt/zoom orders.
   */
  ptzTarget(channelId: string): PtzTarget | null {
    const entry = this.byChannel.get(channelId) ?? this.firstChannelOf(channelId);
    if (!entry) return null;
    this.ptzOf(channelId);
    const device = this.deps.registry.get(entry.record.id);
    const target: PtzTarget = { channelId: entry.channel.id, deviceId: entry.record.id, deviceOnline: device?.status === 'online' };
    if (entry.record.protocol === 'onvif' && !entry.channel.ptz) {
      target.noPanTiltZoom = `channel ${entry.channel.id} cannot pan, tilt or zoom: its ONVIF profile has no PTZ configuration (focus and iris work through the Imaging service)`;
    }
    return target;
  }

  /** Send one PTZ order through the channel's driver; what was sent (null: nothing needed on this protocol). */
  async ptz(channelId: string, order: PtzOrder): Promise<string | null> {
    const { record, channel, ptz } = this.ptzOf(channelId);
    try {
      return await ptz.execute(record.id, record.endpoint, channel, order);
    } catch (err) {
      throw ptzError(err);
    }
  }

  async ptzPresets(channelId: string): Promise<DevicePreset[]> {
    const { record, channel, ptz } = this.ptzOf(channelId);
    if (this.deps.registry.get(record.id)?.status !== 'online') throw new ConflictError(`device ${record.id} of channel ${channelId} is offline`);
    try {
      return await ptz.presets(record.id, record.endpoint, channel);
    } catch (err) {
      throw ptzError(err);
    }
  }

  private ptzOf(channelId: string): { record: ProtocolDeviceRecord; channel: KnownChannel; ptz: NonNullable<ProtocolDriver['ptz']> } {
    const entry = this.byChannel.get(channelId) ?? this.firstChannelOf(channelId);
    if (!entry) throw new NotFoundError(`channel ${channelId} not found`);
    const ptz = this.driver(entry.record.protocol).ptz;
    if (!ptz) throw new ConflictError(`${entry.record.protocol} channels have no PTZ (channel ${channelId}): the protocol cannot steer a camera`);
    return { ...entry, ptz };
  }

  // ------------------------------------------------------------------ events → alarms

  private startEvents(record: ProtocolDeviceRecord): void {
    const events = this.driver(record.protocol).events;
    if (!events || this.opts.events === false || events.watching(record.id)) return;
    events.watch(record.id, record.endpoint, {
      event: (e) => this.onDeviceEvent(record.id, e),
      stopped: (reason, message) => {
        this.eventStats.feedsStopped++;
        this.deps.logger.warn({ deviceId: record.id, reason, message }, 'device event feed stopped');
        // auth-failed waits for new credentials or for the poller to see the device answer again; a camera
        // without an events service never gets one. Anything else (down at that moment) is tried again later.
        if (reason === 'auth-failed' || reason === 'no-events') return;
        this.retryEvents(record.id);
      },
    });
  }

  private retryEvents(deviceId: string): void {
    if (this.eventRetries.has(deviceId)) return;
    const timer = setTimeout(() => {
      this.eventRetries.delete(deviceId);
      const record = this.byId.get(deviceId);
      if (record && this.deps.registry.get(deviceId)?.status === 'online') this.startEvents(record);
    }, this.opts.eventRetryMs ?? 30_000);
    timer.unref();
    this.eventRetries.set(deviceId, timer);
  }

  private async stopEvents(deviceId: string): Promise<void> {
    const retry = this.eventRetries.get(deviceId);
    if (retry) clearTimeout(retry);
    this.eventRetries.delete(deviceId);
    const record = this.byId.get(deviceId);
    const events = record ? this.driver(record.protocol).events : undefined;
    await events?.unwatch(deviceId).catch(() => undefined);
  }

  private onDeviceEvent(deviceId: string, e: DeviceEvent): void {
    const record = this.byId.get(deviceId);
    if (!record) return;
    this.eventStats.received++;
    const raised = this.edges.rise(deviceId, `${e.kind}/${e.sourceToken}`, e.active);
    this.deps.deviceEvent?.(e.kind, raised);
    if (!raised) return;
    this.eventStats.raised++;
    this.deps.alarm(alarmOfDeviceEvent(deviceId, this.sourceOf(record, e.sourceToken), e));
  }

  /** The channel an event's source token names; the device's only channel; else the device itself. */
  private sourceOf(record: ProtocolDeviceRecord, token: string): string {
    const channel = token ? record.channels.find((c) => c.sourceTokens?.includes(token)) : undefined;
    if (channel) return channel.id;
    if (record.channels.length === 1) return record.channels[0]!.id;
    return record.id;
  }

  /** For the RTMP driver: the sign key of the device owning a channel. */
  keyOfChannel(channelId: string): { deviceId: string; key: string } | null {
    const entry = this.byChannel.get(channelId);
    if (!entry || entry.record.protocol !== 'rtmp' || !entry.record.signKey) return null;
    return { deviceId: entry.record.id, key: entry.record.signKey };
  }

  /** An RTMP publisher came or went. */
  publishing(deviceId: string, live: boolean, reason: string): void {
    const record = this.byId.get(deviceId);
    if (!record) return;
    const anyLive = live || record.channels.some((c) => this.deps.drivers.rtmp.isLive(c.id));
    this.deps.registry.setPolledStatus(deviceId, anyLive ? 'online' : 'offline', anyLive ? null : 'no-publisher');
    if (!live) this.deps.logger.info({ deviceId, reason }, 'RTMP publisher left');
  }

  publishUrl(record: ProtocolDeviceRecord, channelId: string): string {
    return `${this.opts.rtmpBaseUrl()}/${RTMP_APP}/${channelId}?sign=${signChannel(record.signKey ?? '', channelId)}`;
  }

  // ------------------------------------------------------------------ internals

  private driver(protocol: AddedProtocol): ProtocolDriver {
    return this.deps.drivers[protocol] as unknown as ProtocolDriver;
  }

  private async openSource(record: ProtocolDeviceRecord, channel: KnownChannel, stream: StreamKind): Promise<StreamSource> {
    try {
      return await this.driver(record.protocol).openSource(record.id, record.endpoint, channel, stream);
    } catch (err) {
      if (err instanceof DriverError) throw new Error(`${err.reason}: ${err.message}`);
      throw err;
    }
  }

  /** A single-channel device may be played by its own ID, as a GB IPC can. */
  private firstChannelOf(deviceId: string): { record: ProtocolDeviceRecord; channel: KnownChannel } | undefined {
    const record = this.byId.get(deviceId);
    const channel = record?.channels.length === 1 ? record.channels[0] : undefined;
    return record && channel ? { record, channel } : undefined;
  }

  private recordOf(deviceId: string): ProtocolDeviceRecord {
    const record = this.byId.get(deviceId);
    if (record) return record;
    if (this.deps.registry.get(deviceId)) throw new ConflictError(`device ${deviceId} is a GB28181 device: its settings come from its registration, not from PATCH`);
    throw new NotFoundError(`device ${deviceId} not found`);
  }

  private index(record: ProtocolDeviceRecord): void {
    this.byId.set(record.id, record);
    const key = identityKey(record.endpoint);
    if (key !== null) this.byIdentity.set(key, record.id);
    for (const channel of record.channels) this.byChannel.set(channel.id, { record, channel });
  }

  private unindex(deviceId: string): void {
    const record = this.byId.get(deviceId);
    if (!record) return;
    for (const channel of record.channels) this.byChannel.delete(channel.id);
    const key = identityKey(record.endpoint);
    if (key !== null && this.byIdentity.get(key) === deviceId) this.byIdentity.delete(key);
    this.byId.delete(deviceId);
  }

  /** Channel IDs: kept by position when a device is described again (PATCH), new ones from the plan. */
  private assignChannelIds(described: readonly DescribedChannel[], previous: readonly KnownChannel[], civilCode: string): KnownChannel[] {
    const reserved = new Set<string>();
    return described.map((c, i) => {
      const id = previous[i]?.id ?? this.ids.allocate(CHANNEL_TYPE_CODE, civilCode, reserved);
      reserved.add(id);
      return { ...c, id };
    });
  }

  private channelRows(device: Device, channels: readonly KnownChannel[]): Channel[] {
    const now = Date.now();
    return channels.map((c, i) => ({
      ...emptyChannel(device.id, c.id),
      name: c.name || (channels.length > 1 ? `${device.name} ${i + 1}` : device.name),
      manufacturer: device.manufacturer,
      model: device.model,
      civilCode: device.civilCode,
      parentIds: [device.id],
      ipAddress: device.remoteAddress,
      port: device.remotePort || null,
      reportedStatus: 'online',
      status: device.status,
      statusChangedAt: now,
      // GB PTZType: 1 = dome (steerable), 3 = fixed bullet.
      ptzType: c.ptz ? 1 : 3,
      extra: { Protocol: device.protocol },
      createdAt: now,
      updatedAt: now,
    }));
  }

  private newDevice(id: string, protocol: AddedProtocol, name: string, civilCode: string, address: { host: string; port: number }): Device {
    const now = Date.now();
    return {
      id,
      protocol,
      name,
      typeCode: DEVICE_TYPE_CODE,
      civilCode,
      manufacturer: '',
      model: '',
      firmware: '',
      userAgent: '',
      gbVersion: '',
      profile: protocol,
      status: 'offline',
      offlineReason: 'not-probed',
      transport: 'tcp',
      remoteAddress: address.host,
      remotePort: address.port,
      contact: '',
      expires: 0,
      registeredAt: null,
      registrationExpiresAt: null,
      lastKeepaliveAt: null,
      statusChangedAt: now,
      channelCount: 0,
      charset: 'UTF-8',
      createdAt: now,
      updatedAt: now,
    };
  }

  private watch(record: ProtocolDeviceRecord): void {
    const probe = this.deps.drivers[record.protocol].probe;
    if (!probe) return;
    this.poller.add(record.id, () => {
      const current = this.byId.get(record.id);
      return current ? this.driver(current.protocol).probe!(current.id, current.endpoint) : Promise.resolve({ ok: true });
    });
  }

  private onLiveness(change: LivenessChange): void {
    const record = this.byId.get(change.id);
    if (!record) return;
    if (change.status === 'online') {
      this.deps.registry.setPolledStatus(change.id, 'online', null);
      this.startEvents(record);
      // Added while it was down or refused us: its channels are learnt now.
      if (record.channels.length === 0) void this.rediscover(record);
    } else if (change.status === 'offline' || change.status === 'auth-failed') {
      this.deps.registry.setPolledStatus(change.id, 'offline', offlineReasonOf(change.reason));
      this.deps.logger.warn({ deviceId: change.id, reason: change.reason, message: change.message }, 'added device offline');
      // The poller watches the device now; the feed starts again when it answers.
      void this.stopEvents(change.id);
    }
  }

  private async rediscover(record: ProtocolDeviceRecord): Promise<void> {
    if (this.describing.has(record.id)) return;
    this.describing.add(record.id);
    try {
      const description = await this.driver(record.protocol).describe(record.id, record.endpoint);
      const device = this.deps.registry.get(record.id);
      if (!description.channels || !device || this.byId.get(record.id) !== record) return;
      record.channels = this.assignChannelIds(description.channels, record.channels, device.civilCode);
      record.updatedAt = Date.now();
      // Devices added before serial numbers were kept learn theirs here.
      record.serialNumber ??= description.serialNumber;
      if (!device.manufacturer) this.deps.registry.updateInfo(record.id, { manufacturer: description.manufacturer, model: description.model, firmware: description.firmware });
      await this.collection.put(record);
      this.index(record);
      await this.deps.catalog.storeChannels(record.id, this.channelRows(device, record.channels));
    } catch (err) {
      this.deps.logger.warn({ deviceId: record.id, err: (err as Error).message }, 'describing the device again failed');
    } finally {
      this.describing.delete(record.id);
    }
  }

  private answer(record: ProtocolDeviceRecord): AddedDevice {
    const device = this.deps.registry.get(record.id);
    if (!device) throw new NotFoundError(`device ${record.id} not found`);
    const channels: AddedChannel[] = record.channels.map((c, i) => ({
      id: c.id,
      name: c.name || (record.channels.length > 1 ? `${device.name} ${i + 1}` : device.name),
      ...(record.protocol === 'rtmp' ? { publishUrl: this.publishUrl(record, c.id) } : {}),
    }));
    return { ...device, channels, ...(record.protocol === 'rtmp' && channels[0]?.publishUrl ? { publishUrl: channels[0].publishUrl } : {}) };
  }
}

function endpointOf(input: NewDeviceInput): Endpoint {
  switch (input.protocol) {
    case 'onvif':
      return { protocol: 'onvif', host: input.host, port: input.port, username: input.username, password: input.password };
    case 'rtsp':
      return { protocol: 'rtsp', url: input.url, subUrl: input.subUrl ?? null, username: input.username ?? '', password: input.password ?? '', transport: input.transport ?? 'tcp' };
    case 'rtmp':
      return { protocol: 'rtmp' };
  }
}

/** A driver's PTZ failure as the API answers it: 409 for what the channel cannot do, 502 for the device failing. */
function ptzError(err: unknown): unknown {
  if (!(err instanceof DriverError)) return err;
  if (CONFLICT_REASONS.has(err.reason)) return new ConflictError(err.message);
  return new UpstreamError(`the camera did not take the PTZ command (${err.reason}): ${err.message}`);
}
