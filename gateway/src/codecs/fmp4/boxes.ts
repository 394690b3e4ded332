/**
 * ISO-BMFF (ISO/IEC 14496-12) box assembly: the few primitives the init and fragment writers build on.
 * Pure, no I/O. A box is built bottom-up from already-assembled payload parts, so sizes are known when the
 * header is written and nothing is patched afterwards except the trun data offset (see fragment.ts).
 */

export type BoxPart = Uint8Array;

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function fourcc(type: string): Uint8Array {
  if (type.length !== 4) throw new Error(`box type must have 4 characters: ${JSON.stringify(type)}`);
  return Uint8Array.from(type, (ch) => ch.charCodeAt(0));
}

export function box(type: string, ...payload: readonly BoxPart[]): Uint8Array {
  let size = 8;
  for (const part of payload) size += part.length;
  const header = new Uint8Array(8);
  new DataView(header.buffer).setUint32(0, size);
  header.set(fourcc(type), 4);
  return concatBytes([header, ...payload]);
}

export function fullBox(type: string, version: number, flags: number, ...payload: readonly BoxPart[]): Uint8Array {
  return box(type, u8(version), u24(flags), ...payload);
}

export function u8(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff);
}

export function u16(value: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, value & 0xffff);
  return out;
}

export function u24(value: number): Uint8Array {
  return Uint8Array.of((value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}

export function i32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value | 0);
  return out;
}

export function u64(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 field out of range: ${value}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

export function zeros(count: number): Uint8Array {
  return new Uint8Array(count);
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 0x7f);
}

/** The unity transformation matrix of mvhd/tkhd (16.16 and 2.30 fixed point). */
export const UNITY_MATRIX = concatBytes([
  u32(0x00010000), u32(0), u32(0),
  u32(0), u32(0x00010000), u32(0),
  u32(0), u32(0), u32(0x40000000),
]);
