/**
 * GB/T 28181 device simulator: a real SIP peer of the gateway for tests, benchmarks and demos.
 *
 *   const fleet = new DeviceFleet({ server: '127.0.0.1:5060', devices: 20, nvrEvery: 4, password: '12345678' });
 *   await fleet.start();
 *   await fleet.waitForRegistered(20, 10_000);
 *   …
 *   await fleet.stop();
 */
export { DeviceFleet, type DeviceFleetOptions, type FleetStats, type SimDeviceInfo } from './fleet.js';
export type { DeviceFleetEvents, PtzLogEntry, RegisterFailure, SimDeviceKind } from './events.js';
export type { AlarmOptions, DeviceState } from './sim-device.js';
export { PlatformCatalog, platformShape, type PlatformTreeShape } from './catalog-source.js';
export { GbIdAllocator, gbId, TYPE_CODE } from './identity.js';
export { runSimulatorCli, type SimCliOptions } from './sim-cli.js';
