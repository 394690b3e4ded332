/**
 * 20-digit IDs for devices that do not bring their own (ONVIF, RTSP, RTMP), in the city's GB/T 28181 numbering
 * plan so that trees, scopes, the wall and the coming cascade key on one kind of ID:
 *
 *   civil code (8) + industry (2) + type (3) + network (1) + serial (6)
 *
 * - civil code: the request's `civilCode`, else the configured prefix's (devices.idPrefix, default the first
 *   10 digits of sip.id), so a scoped operator sees the device in the region it was added to.
 * - type: 132 (network camera) for the device, 131 (camera) for its channels — device and channel IDs never
 *   collide, and a GB platform upstream reads them as what they are.
 * - network: 8, "social resource access network" (社会资源接入网, GB/T 28181 Annex D): these are the schools',
 *   shops' and hospitals' cameras the issue brings in, and GB devices of the same plan (network 0–7) cannot
 *   collide with them.
 */
export const DEVICE_TYPE_CODE = '132';
export const CHANNEL_TYPE_CODE = '131';
export const SOCIAL_NETWORK_DIGIT = '8';
const SERIAL_SPACE = 1_000_000;

export class IdPlanExhaustedError extends Error {}

export class DeviceIdAllocator {
  /** Next serial to try per 13-digit prefix (civil + industry + type): allocation stays O(1) for thousands. */
  private readonly next = new Map<string, number>();

  /**
   * @param prefix10 civil code (8) + industry (2)
   * @param taken    whether an ID is in use already (registry, store, channels of other devices)
   */
  constructor(
    private readonly prefix10: string,
    private readonly taken: (id: string) => boolean,
  ) {
    if (!/^\d{10}$/.test(prefix10)) throw new Error(`id prefix must be 10 digits (civil code + industry), got ${JSON.stringify(prefix10)}`);
  }

  /** The prefix for a civil code override (8 digits) or the configured one. */
  prefixFor(civilCode?: string): string {
    return civilCode ? civilCode + this.prefix10.slice(8) : this.prefix10;
  }

  allocate(type: string, civilCode?: string, reserved: ReadonlySet<string> = new Set()): string {
    const head = this.prefixFor(civilCode) + type;
    let serial = this.next.get(head) ?? 1;
    for (let tries = 0; tries < SERIAL_SPACE; tries++, serial++) {
      if (serial >= SERIAL_SPACE) serial = 1;
      const id = head + SOCIAL_NETWORK_DIGIT + String(serial).padStart(6, '0');
      if (this.taken(id) || reserved.has(id)) continue;
      this.next.set(head, serial + 1);
      return id;
    }
    throw new IdPlanExhaustedError(`no free ID left under ${head}${SOCIAL_NETWORK_DIGIT}`);
  }
}
