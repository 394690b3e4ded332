/**
 * Bit reader over an H.264 / H.265 RBSP (emulation-prevention bytes removed first), with Exp-Golomb codes.
 * Used only to read the few SPS fields an init segment needs (hvcC's profile_tier_level, chroma format and
 * bit depths). Reading past the end throws a RangeError, which the callers turn into a clear error.
 */

/** Removes emulation-prevention bytes (00 00 03 → 00 00), H.264 §7.4.1 / H.265 §7.4.2. */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let length = 0;
  let zeroRun = 0;
  for (let i = 0; i < nal.length; i++) {
    const byte = nal[i];
    if (zeroRun >= 2 && byte === 3) {
      zeroRun = 0;
      continue;
    }
    out[length++] = byte;
    zeroRun = byte === 0 ? zeroRun + 1 : 0;
  }
  return out.subarray(0, length);
}

export class BitReader {
  private bitOffset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get position(): number {
    return this.bitOffset;
  }

  bit(): number {
    const byteIndex = this.bitOffset >>> 3;
    if (byteIndex >= this.bytes.length) throw new RangeError('read past the end of the RBSP');
    const value = (this.bytes[byteIndex] >>> (7 - (this.bitOffset & 7))) & 1;
    this.bitOffset++;
    return value;
  }

  /** Up to 32 bits, unsigned. */
  bits(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) value = value * 2 + this.bit();
    return value;
  }

  skip(count: number): void {
    if (((this.bitOffset + count) >>> 3) > this.bytes.length) throw new RangeError('skip past the end of the RBSP');
    this.bitOffset += count;
  }

  /** Unsigned Exp-Golomb ue(v). */
  ue(): number {
    let leadingZeros = 0;
    while (this.bit() === 0) {
      leadingZeros++;
      if (leadingZeros > 31) throw new RangeError('Exp-Golomb code longer than 32 bits');
    }
    return 2 ** leadingZeros - 1 + this.bits(leadingZeros);
  }
}
