/**
 * GB/T 28181 device simulator: a real SIP peer of the gateway for tests, benchmarks and demos.
 *
 *   const fleet = new DeviceFleet({ server: '127.0.0.1:5060', devices: 20, nvrEvery: 4, password: '12345678' });
 *   await fleet.start();
 *   await fleet.waitForRegistered(20, 10_000);
 *   …
 *   await fleet.stop();
 */
export { DeviceFleet, type DeviceFleetOptions, type FleetMediaStats, type FleetStats, type SimDeviceInfo } from './fleet.js';
export type { DeviceFleetEvents, MediaStopReason, PtzLogEntry, RegisterFailure, SimDeviceKind } from './events.js';
export type { ActiveStreamInfo, SessionState, SimMediaTransport } from './media-session.js';
export {
  frameIndexBarLayout,
  MediaLibrary,
  PROFILE_SHAPES,
  type AudioLoop,
  type MediaLibraryOptions,
  type SimAudioCodec,
  type SimVideoCodec,
  type StreamProfile,
  type VideoLoop,
} from './media-source.js';
export { captureTimeOfLoopPosition } from './media-sender.js';
export type { AlarmOptions, DeviceState } from './sim-device.js';
export { PlatformCatalog, platformShape, type PlatformTreeShape } from './catalog-source.js';
export { GbIdAllocator, gbId, TYPE_CODE } from './identity.js';
export { runSimulatorCli, type SimCliOptions } from './sim-cli.js';
export {
  UpperPlatform,
  UpperPlay,
  type CatalogResult,
  type LowerRegistration,
  type NotifyItem,
  type UpperPlatformOptions,
  type UpperPlatformStats,
  type UpperPlayStats,
} from './upper-platform.js';
export { runUpperCli, type UpperCliOptions } from './upper-cli.js';
