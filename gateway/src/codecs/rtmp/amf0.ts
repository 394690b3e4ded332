/**
 * AMF0 (Adobe Action Message Format 0), the encoding of RTMP commands and metadata: the value types RTMP
 * publishers send (number, boolean, string, object, null, undefined, ECMA array, strict array, date, long
 * string). Pure; decoding is bounded (depth, item counts) and throws Amf0Error only, which the RTMP reader
 * turns into a dropped connection with a reason.
 */
export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Value[] | { [key: string]: Amf0Value };

export class Amf0Error extends Error {
  override readonly name = 'Amf0Error';
}

const MAX_DEPTH = 16;
const MAX_ITEMS = 4096;

export function decodeAmf0(buf: Uint8Array): Amf0Value[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  const need = (n: number): void => {
    if (i + n > buf.length) throw new Amf0Error(`AMF0 value runs past the end (${n} bytes at ${i} of ${buf.length})`);
  };
  const utf8 = (len: number): string => {
    need(len);
    const s = Buffer.from(buf.buffer, buf.byteOffset + i, len).toString('utf8');
    i += len;
    return s;
  };
  const shortString = (): string => {
    need(2);
    const len = view.getUint16(i);
    i += 2;
    return utf8(len);
  };
  const properties = (depth: number): { [key: string]: Amf0Value } => {
    const out: { [key: string]: Amf0Value } = Object.create(null) as { [key: string]: Amf0Value };
    for (let n = 0; ; n++) {
      if (n > MAX_ITEMS) throw new Amf0Error('AMF0 object with too many properties');
      const key = shortString();
      need(1);
      if (key === '' && buf[i] === 0x09) {
        i++;
        return out;
      }
      out[key] = value(depth + 1);
    }
  };
  const value = (depth: number): Amf0Value => {
    if (depth > MAX_DEPTH) throw new Amf0Error('AMF0 nesting too deep');
    need(1);
    const marker = buf[i++]!;
    switch (marker) {
      case 0x00:
        need(8);
        i += 8;
        return view.getFloat64(i - 8);
      case 0x01:
        need(1);
        return buf[i++] !== 0;
      case 0x02:
        return shortString();
      case 0x03:
        return properties(depth);
      case 0x05:
        return null;
      case 0x06:
        return undefined;
      case 0x08:
        need(4);
        i += 4; // the count is advisory; the list ends with the object end marker
        return properties(depth);
      case 0x0a: {
        need(4);
        const count = view.getUint32(i);
        i += 4;
        if (count > MAX_ITEMS) throw new Amf0Error(`AMF0 strict array of ${count} items`);
        const arr: Amf0Value[] = [];
        for (let k = 0; k < count; k++) arr.push(value(depth + 1));
        return arr;
      }
      case 0x0b: {
        need(10);
        const ms = view.getFloat64(i);
        i += 10;
        return new Date(ms);
      }
      case 0x0c: {
        need(4);
        const len = view.getUint32(i);
        i += 4;
        return utf8(len);
      }
      default:
        throw new Amf0Error(`unsupported AMF0 type 0x${marker.toString(16)}`);
    }
  };
  const out: Amf0Value[] = [];
  while (i < buf.length) {
    if (out.length > MAX_ITEMS) throw new Amf0Error('too many AMF0 values');
    out.push(value(0));
  }
  return out;
}

export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(2);
    h.writeUInt16BE(b.length);
    return Buffer.concat([h, b]);
  };
  const write = (v: Amf0Value): void => {
    if (typeof v === 'number') {
      const b = Buffer.alloc(9);
      b[0] = 0x00;
      b.writeDoubleBE(v, 1);
      parts.push(b);
    } else if (typeof v === 'boolean') {
      parts.push(Buffer.of(0x01, v ? 1 : 0));
    } else if (typeof v === 'string') {
      parts.push(Buffer.of(0x02), str(v));
    } else if (v === null) {
      parts.push(Buffer.of(0x05));
    } else if (v === undefined) {
      parts.push(Buffer.of(0x06));
    } else if (v instanceof Date) {
      const b = Buffer.alloc(11);
      b[0] = 0x0b;
      b.writeDoubleBE(v.getTime(), 1);
      parts.push(b);
    } else if (Array.isArray(v)) {
      const h = Buffer.alloc(5);
      h[0] = 0x0a;
      h.writeUInt32BE(v.length, 1);
      parts.push(h);
      v.forEach(write);
    } else {
      parts.push(Buffer.of(0x03));
      for (const [k, val] of Object.entries(v)) {
        parts.push(str(k));
        write(val);
      }
      parts.push(Buffer.of(0, 0, 0x09));
    }
  };
  values.forEach(write);
  return Buffer.concat(parts);
}
