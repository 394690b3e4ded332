/**
 * One shape for every protocol a device may speak. There are two kinds of driver, because devices come in two
 * ways:
 * - Added devices (ONVIF, RTSP, RTMP; `ProtocolDriver` below): the API adds them and the gateway reaches out.
 *   The driver describes the device from its endpoint, probes it, opens its streams as stream-core sources, and
 *   optionally steers it (`ptz`) and follows its events (`events`).
 * - Registering devices (GB28181; `GbDriver` in gb-driver.ts): the device comes to us over SIP. There is no
 *   endpoint to describe or probe, so GB does not implement `ProtocolDriver`; it implements the same five
 *   capabilities in the shape the protocol has:
 *
 *   | capability            | added devices (`ProtocolDriver`)          | GB28181 (`GbDriver`)                                             |
 *   |-----------------------|-------------------------------------------|------------------------------------------------------------------|
 *   | registration / status | `describe` on add, `probe` by the poller  | `registered` / `unregistered` / `keepalive` / `checkSource` (the registry times keepalives out) |
 *   | catalog / channels    | `describe` returns the channels           | `queryCatalog` / `subscribeCatalog` (parts and NOTIFYs), `queryDeviceInfo`, `deviceOfChannel` |
 *   | PTZ                   | optional `ptz` (one order → calls)        | `ptzTarget`, `sendPtz` (the PTZ service encodes the PTZCmd)      |
 *   | open a stream         | `openSource` → a stream-core source       | `streamTarget`: the stream service INVITEs with the profile's options; `dialogMessage` (MediaStatus 121) |
 *   | alarms / events       | optional `events` (a feed per device)     | pushed by the device: `alarmOf` maps each Alarm NOTIFY           |
 *
 * Both kinds are stateless about the gateway's bookkeeping: ProtocolDevices (protocol-devices.ts) owns the IDs,
 * registry rows and records of added devices and hands their driver what it needs per call; the GB driver is
 * handed the registry, the profiles and its `sip` config slice. Added drivers may keep per-device connection
 * state (an ONVIF client's clock offset) keyed by device ID, dropped in `forget`. See docs/devices.md.
 */
import type { StreamSource } from '../../../media/sources/source.js';
import type { ProbeOutcome } from '../liveness-poller.js';
import type { RtspTransport } from '../device-input.js';
import type { PtzOrder } from '../../control/ptz-service.js';

export type StreamKind = 'main' | 'sub';

/** How to reach a device; kept in the gateway's records (with credentials), never shown by the API. */
export type Endpoint =
  | { protocol: 'onvif'; host: string; port: number; username: string; password: string }
  | { protocol: 'rtsp'; url: string; subUrl: string | null; username: string; password: string; transport: RtspTransport }
  | { protocol: 'rtmp' };

export type EndpointOf<P extends Endpoint['protocol']> = Extract<Endpoint, { protocol: P }>;

/** A video channel as the device describes it (before the gateway gives it an ID). */
export interface DescribedChannel {
  name: string;
  /** Stream URIs (RTSP) per stream kind; '' where the protocol has none (RTMP pushes). */
  main: string;
  sub: string;
  /** ONVIF: the main profile's token (PTZ and snapshots address profiles). */
  profileToken?: string;
  /** ONVIF: the tokens events name this channel's video source by (VideoSourceToken, VideoSourceConfigurationToken). */
  sourceTokens?: string[];
  ptz: boolean;
}

export interface DeviceDescription {
  manufacturer: string;
  model: string;
  firmware: string;
  /** A name the device gives itself (ONVIF scopes / model) when the request had none. */
  suggestedName: string;
  /** Where the device was reached (shown as the device's remote address). */
  address: { host: string; port: number };
  /** The device's own serial number (ONVIF GetDeviceInformation), when it says: tells one camera from another. */
  serialNumber?: string;
  /** null: could not be asked (the device is unreachable or refused us); keep what we had. */
  channels: DescribedChannel[] | null;
  /** Why channels is null. */
  failure?: { reason: string; message: string };
}

/** A channel as the gateway keeps it: its 20-digit ID plus what the driver needs to open it. */
export interface KnownChannel extends DescribedChannel {
  id: string;
}

/** A failure with a reason the device's status shows (unreachable, auth-failed, soap-fault, rtsp-failed, …). */
export class DriverError extends Error {
  override readonly name = 'DriverError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A preset as the device keeps it; `preset` is the API's number for it (1–255) when it has one. */
export interface DevicePreset {
  preset: number | null;
  token: string;
  name: string;
}

/**
 * PTZ of a protocol that is not GB28181. The PTZ service (domain/control) keeps the leases, the auto-stops
 * and the stop rules for every protocol; a driver only turns one order into its protocol's call(s).
 */
export interface DriverPtz<E extends Endpoint = Endpoint> {
  /** Send one order; returns what was sent (shown in the API's `sent`). Throws DriverError. */
  execute(deviceId: string, endpoint: E, channel: KnownChannel, order: PtzOrder): Promise<string | null>;
  presets(deviceId: string, endpoint: E, channel: KnownChannel): Promise<DevicePreset[]>;
}

export type DeviceEventKind = 'motion' | 'tamper' | 'video-loss' | 'digital-input';

/** An event a device reported, in the gateway's terms (the driver maps its protocol's topics). */
export interface DeviceEvent {
  kind: DeviceEventKind;
  /** The condition is on (motion seen, signal lost, input closed) or off again. */
  active: boolean;
  /** What the device names the source by (a video source or input token); '' when it names none. */
  sourceToken: string;
  /** The device's own name of the event (an ONVIF topic). */
  topic: string;
  /** ISO time the device stamped it with (ours when it gave none). */
  time: string;
  data: Record<string, string>;
}

/** Event feeds (ONVIF PullPoint): one per device while it is online. */
export interface DriverEvents<E extends Endpoint = Endpoint> {
  /** Start the device's feed (no-op while one runs). `stopped` is called when the feed gave up (auth-failed). */
  watch(deviceId: string, endpoint: E, sink: { event: (e: DeviceEvent) => void; stopped: (reason: string, message: string) => void }): void;
  /** Stop and unsubscribe (device deleted or offline, credentials changed, gateway stopping). */
  unwatch(deviceId: string): Promise<void>;
  watching(deviceId: string): boolean;
}

export interface ProtocolDriver<E extends Endpoint = Endpoint> {
  readonly protocol: E['protocol'];
  /** On add and after a PATCH: who the device is and its channels. Never throws for a device that is down. */
  describe(deviceId: string, endpoint: E): Promise<DeviceDescription>;
  /** Liveness (the poller calls it); null when the protocol has no probe (RTMP: the publisher is the sign). */
  probe: ((deviceId: string, endpoint: E) => Promise<ProbeOutcome>) | null;
  /** Open one stream of a channel as a stream-core source. Throws DriverError. */
  openSource(deviceId: string, endpoint: E, channel: KnownChannel, stream: StreamKind): Promise<StreamSource>;
  /** Drop per-device state (deleted, or credentials changed). */
  forget(deviceId: string): void;
  /** PTZ, for protocols that have it (ONVIF); absent: PTZ requests answer 409. */
  readonly ptz?: DriverPtz<E>;
  /** Events → alarms, for protocols that have them (ONVIF PullPoint). */
  readonly events?: DriverEvents<E>;
}
