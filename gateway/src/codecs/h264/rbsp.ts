/**
 * RBSP helpers shared by the H.264 and H.265 parameter-set parsers: emulation-prevention removal and an
 * Exp-Golomb bit reader (ITU-T H.264 §7.3 / §9.1, H.265 §7.3 / §9.2). Pure.
 *
 * Written by hand: the npm parsers that exist either cover H.264 only, or pull in a whole demuxer (mux.js);
 * what is needed here is two dozen lines.
 */

/** The RBSP of a NAL unit: every 00 00 03 becomes 00 00 (H.264 §7.4.1, H.265 §7.4.2). A fresh copy when needed. */
export function removeEmulationPrevention(nal: Uint8Array): Uint8Array {
  let zeros = 0;
  let found = -1;
  for (let i = 0; i < nal.length; i++) {
    if (zeros >= 2 && nal[i] === 3) {
      found = i;
      break;
    }
    zeros = nal[i] === 0 ? zeros + 1 : 0;
  }
  if (found < 0) return nal;
  const out = new Uint8Array(nal.length);
  let n = 0;
  zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/** Thrown when a parameter set ends before the parser is done with it. */
export class TruncatedRbspError extends Error {
  constructor() {
    super('parameter set is truncated');
    this.name = 'TruncatedRbspError';
  }
}

export class BitReader {
  private pos = 0;

  constructor(private readonly data: Uint8Array) {}

  get bitsLeft(): number {
    return this.data.length * 8 - this.pos;
  }

  u(bits: number): number {
    if (bits > this.bitsLeft) throw new TruncatedRbspError();
    let v = 0;
    for (let i = 0; i < bits; i++) {
      const byte = this.data[this.pos >> 3]!;
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  skip(bits: number): void {
    if (bits > this.bitsLeft) throw new TruncatedRbspError();
    this.pos += bits;
  }

  /** ue(v) */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new TruncatedRbspError();
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }

  /** se(v) */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Two hex digits. */
export function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
