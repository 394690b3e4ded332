/**
 * RTP audio payloads: AAC in "mpeg4-generic" mode AAC-hbr (RFC 3640: AU-headers-length, then 13-bit size +
 * 3-bit index per access unit; fragmented AUs joined until the marker) and G.711 (PCMA/PCMU, raw bytes).
 * Pure and total: malformed packets are counted and dropped.
 */
export interface AacFrame {
  /** RTP timestamp of this frame (sample-rate clock), not unwrapped. */
  timestamp: number;
  data: Uint8Array;
}

export interface AacHbrParams {
  sizeLength: number;
  indexLength: number;
  indexDeltaLength: number;
  /** Samples per AAC frame (1024 for AAC-LC). */
  frameSamples?: number;
}

/** From the SDP fmtp: "streamtype=5;profile-level-id=15;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190". */
export function aacHbrParamsFromFmtp(fmtp: Record<string, string>): AacHbrParams | null {
  const mode = (fmtp.mode ?? '').toLowerCase();
  if (mode !== 'aac-hbr' && mode !== 'aac-lbr') return null;
  const n = (k: string, d: number): number => {
    const v = Number(fmtp[k]);
    return Number.isInteger(v) && v >= 0 && v <= 32 ? v : d;
  };
  return { sizeLength: n('sizelength', 13), indexLength: n('indexlength', 3), indexDeltaLength: n('indexdeltalength', 3) };
}

export class AacDepacketizer {
  readonly stats = { packets: 0, frames: 0, dropped: 0 };
  private fragment: { timestamp: number; parts: Uint8Array[]; size: number; expected: number } | null = null;

  constructor(private readonly params: AacHbrParams) {}

  push(packet: { payload: Uint8Array; timestamp: number; marker: boolean }): AacFrame[] {
    this.stats.packets++;
    const p = packet.payload;
    if (p.length < 2) return this.drop();
    const headersBits = (p[0]! << 8) | p[1]!;
    const headersBytes = Math.ceil(headersBits / 8);
    if (2 + headersBytes > p.length) return this.drop();
    const perAu = this.params.sizeLength + this.params.indexLength;
    const deltaAu = this.params.sizeLength + this.params.indexDeltaLength;
    if (perAu === 0 || headersBits < perAu) return this.drop();
    const sizes: number[] = [];
    let bit = 0;
    const reader = new BitReader(p.subarray(2, 2 + headersBytes));
    while (bit + (sizes.length === 0 ? perAu : deltaAu) <= headersBits) {
      sizes.push(reader.read(this.params.sizeLength));
      reader.read(sizes.length === 1 ? this.params.indexLength : this.params.indexDeltaLength);
      bit += sizes.length === 1 ? perAu : deltaAu;
    }
    let offset = 2 + headersBytes;
    const body = p.length - offset;
    // One AU larger than this packet: a fragment (RFC 3640 §3.2.3), joined until the marker.
    if (sizes.length === 1 && sizes[0]! > body) {
      if (!this.fragment || this.fragment.timestamp !== packet.timestamp) {
        this.fragment = { timestamp: packet.timestamp, parts: [], size: 0, expected: sizes[0]! };
      }
      this.fragment.parts.push(p.slice(offset));
      this.fragment.size += body;
      if (packet.marker || this.fragment.size >= this.fragment.expected) {
        const f = this.fragment;
        this.fragment = null;
        if (f.size !== f.expected) return this.drop();
        const data = new Uint8Array(f.size);
        let o = 0;
        for (const part of f.parts) {
          data.set(part, o);
          o += part.length;
        }
        this.stats.frames++;
        return [{ timestamp: f.timestamp, data }];
      }
      return [];
    }
    this.fragment = null;
    const out: AacFrame[] = [];
    const frameSamples = this.params.frameSamples ?? 1024;
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!;
      if (size === 0 || offset + size > p.length) return this.drop(out);
      out.push({ timestamp: (packet.timestamp + i * frameSamples) >>> 0, data: p.slice(offset, offset + size) });
      offset += size;
    }
    this.stats.frames += out.length;
    return out;
  }

  private drop(keep: AacFrame[] = []): AacFrame[] {
    this.stats.dropped++;
    this.stats.frames += keep.length;
    return keep;
  }
}

/** AAC-hbr payload for one or more frames (13-bit sizes, 3-bit index 0), as GStreamer's rtpmp4gpay sends it. */
export function packetizeAacHbr(frames: readonly Uint8Array[]): Uint8Array {
  const headerBits = 16 * frames.length;
  const out = new Uint8Array(2 + headerBits / 8 + frames.reduce((n, f) => n + f.length, 0));
  out[0] = headerBits >> 8;
  out[1] = headerBits & 0xff;
  let o = 2;
  for (const f of frames) {
    const v = (f.length & 0x1fff) << 3;
    out[o++] = v >> 8;
    out[o++] = v & 0xff;
  }
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.bytes[this.bit >> 3] ?? 0;
      v = (v << 1) | ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v >>> 0;
  }
}
