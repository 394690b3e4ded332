/**
 * Which device profile (device-profiles/*.yaml) a GB28181 device gets, and the per-device policies that
 * follow from its profile and its `sip.devices` entry. The GB driver (gb-driver.ts) asks here on REGISTER, on
 * DeviceInfo and when it opens a stream; nothing here touches a socket or the registry.
 *
 * Precedence, the same for every rule: the device's own config entry, then the gateway-wide `sip.*` setting
 * where there is one, then the profile. A configured profile name that no file defines is a config mistake
 * the gateway survives: it warns and matches as if none were configured.
 */
import type { Logger } from 'pino';
import type { DeviceConfigEntry, GatewayConfig } from '../../../config/schema.js';
import type { Device } from '../../model.js';
import { DeviceProfileMatcher, type DeviceIdentity, type DeviceProfile } from '../../device-profiles.js';
import type { NatRebinding } from '../../../protocol/gb28181/source-trust.js';

/** The part of `sip` the profile rules read. */
export type GbProfileConfig = Pick<GatewayConfig['sip'], 'devices' | 'natRebinding'>;

export class GbProfiles {
  private readonly matcher: DeviceProfileMatcher;
  private readonly byName: ReadonlyMap<string, DeviceProfile>;
  private readonly configured: ReadonlyMap<string, DeviceConfigEntry>;

  constructor(
    profiles: readonly DeviceProfile[],
    private readonly config: GbProfileConfig,
    private readonly logger: Logger,
  ) {
    this.matcher = new DeviceProfileMatcher(profiles);
    this.byName = new Map(profiles.map((p) => [p.name, p]));
    this.configured = new Map(config.devices.map((d) => [d.id, d]));
  }

  /** The device's `sip.devices` entry, if it has one. */
  entryOf(deviceId: string): DeviceConfigEntry | undefined {
    return this.configured.get(deviceId);
  }

  /**
   * The profile for what the device told us (REGISTER: its User-Agent; DeviceInfo: manufacturer and model
   * too). A profile forced in its config entry wins when it exists.
   */
  forDevice(deviceId: string, who: DeviceIdentity): DeviceProfile {
    const forced = this.configured.get(deviceId)?.profile;
    if (forced) {
      const p = this.byName.get(forced);
      if (p) return p;
      this.logger.warn({ deviceId, profile: forced }, 'configured device profile not found; matching instead');
    }
    return this.matcher.match(who);
  }

  /**
   * The profile a known device runs with: the one its row names, or, when that name is no longer loaded (a
   * profile file removed since), the one matching what the device told us.
   */
  ofDevice(device: Pick<Device, 'profile' | 'manufacturer' | 'model' | 'userAgent'>): DeviceProfile {
    return this.byName.get(device.profile) ?? this.matcher.match({ manufacturer: device.manufacturer, model: device.model, userAgent: device.userAgent });
  }

  /** NAT rebinding policy of a device: its config entry, then sip.natRebinding, then its profile. */
  natRebindingOf(deviceId: string, profileName: string): NatRebinding {
    const configured = this.configured.get(deviceId)?.natRebinding;
    if (configured) return configured;
    if (this.config.natRebinding !== 'profile') return this.config.natRebinding;
    return this.byName.get(profileName)?.natRebinding ?? 'off';
  }
}
