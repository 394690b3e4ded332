/**
 * RTP payload formats for H.264 (RFC 6184) and H.265 (RFC 7798): packets in, pictures out (the NAL units of
 * one access unit, without start codes), and the reverse for our simulator and tests. Pure and total: a
 * malformed packet is counted and dropped, never thrown.
 *
 * Depacketizing:
 *  - H.264: single NAL unit packets (types 1–23), STAP-A (24) and FU-A (28); STAP-B, MTAP and FU-B
 *    (interleaved mode, which no camera sends over RTSP) are dropped and counted.
 *  - H.265: single NAL unit packets, aggregation packets (48) and fragmentation units (49); PACI (50) dropped.
 *  - A picture ends at the marker bit or when the RTP timestamp changes (cameras that never set the marker).
 *  - A lost packet (sequence gap) inside a fragmented NAL drops that NAL and marks the picture `damaged`, so
 *    the stream core can wait for the next keyframe instead of feeding a decoder a broken slice.
 *
 * Written by hand: the npm RTP depacketizers are either browser-only (WebRTC stacks) or unmaintained, and
 * this is ~200 lines of well-specified bit fiddling that we fuzz like every other decoder.
 */
export type RtpVideoCodec = 'h264' | 'h265';

export interface RtpPacketView {
  payload: Uint8Array;
  timestamp: number;
  sequence: number;
  marker: boolean;
}

export interface DepacketizedPicture {
  /** RTP timestamp (90 kHz for video), not unwrapped. */
  timestamp: number;
  nalus: Uint8Array[];
  /** Contains an IDR (H.264 type 5) or IRAP (H.265 types 16–21) slice. */
  keyframe: boolean;
  /** Some packet of this picture was lost or malformed. */
  damaged: boolean;
}

export interface DepacketizerStats {
  packets: number;
  pictures: number;
  /** Packets or fragments dropped (malformed, unsupported, or part of a NAL that lost a fragment). */
  dropped: number;
  /** Sequence gaps seen. */
  gaps: number;
}

/** Caps the size of one picture (a hostile stream of fragments without an end). */
const MAX_PICTURE_BYTES = 8 * 1024 * 1024;

export class VideoDepacketizer {
  readonly stats: DepacketizerStats = { packets: 0, pictures: 0, dropped: 0, gaps: 0 };
  private nalus: Uint8Array[] = [];
  private bytes = 0;
  private timestamp: number | null = null;
  private damaged = false;
  private lastSequence: number | null = null;
  /** Fragments of the NAL being reassembled. */
  private fragments: Uint8Array[] | null = null;

  constructor(readonly codec: RtpVideoCodec) {}

  /** Feed one packet; returns the pictures it completed (0, 1, or 2 when a timestamp change also ended one). */
  push(packet: RtpPacketView): DepacketizedPicture[] {
    this.stats.packets++;
    const out: DepacketizedPicture[] = [];
    if (this.lastSequence !== null && ((this.lastSequence + 1) & 0xffff) !== packet.sequence) {
      this.stats.gaps++;
      this.damaged = true;
      if (this.fragments) {
        this.fragments = null;
        this.stats.dropped++;
      }
    }
    this.lastSequence = packet.sequence;
    if (this.timestamp !== null && packet.timestamp !== this.timestamp) {
      const done = this.finish();
      if (done) out.push(done);
    }
    this.timestamp = packet.timestamp;
    if (this.codec === 'h264') this.pushH264(packet.payload);
    else this.pushH265(packet.payload);
    if (packet.marker) {
      const done = this.finish();
      if (done) out.push(done);
    }
    return out;
  }

  /** Emit what is buffered (end of stream). */
  flush(): DepacketizedPicture | null {
    return this.finish();
  }

  private finish(): DepacketizedPicture | null {
    if (this.fragments) {
      // A NAL still missing its end when the picture ends: incomplete.
      this.fragments = null;
      this.stats.dropped++;
      this.damaged = true;
    }
    const nalus = this.nalus;
    const timestamp = this.timestamp;
    const damaged = this.damaged;
    this.nalus = [];
    this.bytes = 0;
    this.damaged = false;
    this.timestamp = null;
    if (nalus.length === 0 || timestamp === null) return null;
    this.stats.pictures++;
    return { timestamp, nalus, keyframe: nalus.some((n) => isKeyframeNal(this.codec, n)), damaged };
  }

  private addNal(nal: Uint8Array): void {
    if (nal.length === 0) return;
    if (this.bytes + nal.length > MAX_PICTURE_BYTES) {
      this.stats.dropped++;
      this.damaged = true;
      return;
    }
    this.nalus.push(nal);
    this.bytes += nal.length;
  }

  private pushH264(p: Uint8Array): void {
    if (p.length < 1 || (p[0]! & 0x80) !== 0) {
      this.stats.dropped++;
      this.damaged = true;
      return;
    }
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.addNal(p.slice());
    } else if (type === 24) {
      this.aggregate(p, 1);
    } else if (type === 28) {
      if (p.length < 3) return this.malformed();
      const fu = p[1]!;
      const start = (fu & 0x80) !== 0;
      const end = (fu & 0x40) !== 0;
      const header = (p[0]! & 0xe0) | (fu & 0x1f);
      this.fragment(start, end, Uint8Array.of(header), p.subarray(2));
    } else {
      this.stats.dropped++;
    }
  }

  private pushH265(p: Uint8Array): void {
    if (p.length < 3 || (p[0]! & 0x80) !== 0) {
      this.stats.dropped++;
      this.damaged = true;
      return;
    }
    const type = (p[0]! >> 1) & 0x3f;
    if (type === 48) {
      this.aggregate(p, 2);
    } else if (type === 49) {
      if (p.length < 4) return this.malformed();
      const fu = p[2]!;
      const start = (fu & 0x80) !== 0;
      const end = (fu & 0x40) !== 0;
      const header = Uint8Array.of((p[0]! & 0x81) | ((fu & 0x3f) << 1), p[1]!);
      this.fragment(start, end, header, p.subarray(3));
    } else if (type === 50) {
      this.stats.dropped++;
    } else {
      this.addNal(p.slice());
    }
  }

  /** STAP-A / AP: [header] then (16-bit size, NAL)*. */
  private aggregate(p: Uint8Array, headerBytes: number): void {
    let i = headerBytes;
    while (i + 2 <= p.length) {
      const size = (p[i]! << 8) | p[i + 1]!;
      i += 2;
      if (size === 0 || i + size > p.length) return this.malformed();
      this.addNal(p.slice(i, i + size));
      i += size;
    }
    if (i !== p.length) this.malformed();
  }

  private fragment(start: boolean, end: boolean, header: Uint8Array, body: Uint8Array): void {
    if (start) {
      if (this.fragments) {
        // A new start while one is open: the previous one lost its end.
        this.stats.dropped++;
        this.damaged = true;
      }
      this.fragments = [header, body.slice()];
    } else if (!this.fragments) {
      // A middle or end without its start (start lost): drop.
      this.stats.dropped++;
      this.damaged = true;
      return;
    } else {
      this.fragments.push(body.slice());
    }
    if (end) {
      const parts = this.fragments;
      this.fragments = null;
      this.addNal(concat(parts));
    } else if (this.fragments.reduce((n, f) => n + f.length, 0) > MAX_PICTURE_BYTES) {
      this.fragments = null;
      this.malformed();
    }
  }

  private malformed(): void {
    this.stats.dropped++;
    this.damaged = true;
  }
}

export function isKeyframeNal(codec: RtpVideoCodec, nal: Uint8Array): boolean {
  if (nal.length === 0) return false;
  if (codec === 'h264') return (nal[0]! & 0x1f) === 5;
  const type = (nal[0]! >> 1) & 0x3f;
  return type >= 16 && type <= 21;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Packetize one picture's NAL units: a NAL that fits goes alone, a larger one in FU-A / FU fragments. The
 * marker bit is set on the picture's last packet. Returns payloads; the caller adds RTP headers.
 */
export function packetizeVideo(codec: RtpVideoCodec, nalus: readonly Uint8Array[], maxPayload = 1400): Array<{ payload: Uint8Array; marker: boolean }> {
  const out: Array<{ payload: Uint8Array; marker: boolean }> = [];
  const headerBytes = codec === 'h264' ? 1 : 2;
  nalus.forEach((nal, n) => {
    const lastNal = n === nalus.length - 1;
    if (nal.length <= maxPayload) {
      out.push({ payload: nal, marker: lastNal });
      return;
    }
    const body = nal.subarray(headerBytes);
    const chunk = maxPayload - headerBytes - 1;
    for (let i = 0; i < body.length; i += chunk) {
      const start = i === 0;
      const end = i + chunk >= body.length;
      const piece = body.subarray(i, i + chunk);
      let prefix: Uint8Array;
      if (codec === 'h264') {
        prefix = Uint8Array.of((nal[0]! & 0xe0) | 28, (start ? 0x80 : 0) | (end ? 0x40 : 0) | (nal[0]! & 0x1f));
      } else {
        const type = (nal[0]! >> 1) & 0x3f;
        prefix = Uint8Array.of((nal[0]! & 0x81) | (49 << 1), nal[1]!, (start ? 0x80 : 0) | (end ? 0x40 : 0) | type);
      }
      const payload = new Uint8Array(prefix.length + piece.length);
      payload.set(prefix);
      payload.set(piece, prefix.length);
      out.push({ payload, marker: lastNal && end });
    }
  });
  return out;
}
