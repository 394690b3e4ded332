/**
 * The latest signalling error per device (a refused REGISTER: wrong password, unknown device, locked out),
 * for the offline list's "last error". A device that cannot authenticate is offline for that reason, and the
 * registry's own offline reason (keepalive timeout) would hide it.
 *
 * Bounded: beyond `maxDevices` the oldest entries go (a scan of random IDs must not grow memory).
 */
export interface SignallingError {
  at: number;
  message: string;
}

export class SignallingErrors {
  private readonly errors = new Map<string, SignallingError>();

  constructor(private readonly maxDevices = 50_000) {}

  record(deviceId: string, message: string, at: number): void {
    this.errors.delete(deviceId);
    this.errors.set(deviceId, { at, message });
    if (this.errors.size > this.maxDevices) {
      const oldest = this.errors.keys().next();
      if (!oldest.done) this.errors.delete(oldest.value);
    }
  }

  /** Forget a device's error once it registered successfully. */
  clear(deviceId: string): void {
    this.errors.delete(deviceId);
  }

  get(deviceId: string): SignallingError | undefined {
    return this.errors.get(deviceId);
  }
}
