/**
 * RTP over TCP as devices really send it. GB 2022 Annex D says RFC 4571 (2-byte length prefix), which
 * `Rfc4571Splitter` handles; some devices and media servers use the RTSP-interleaved form instead
 * (`$`, channel byte, 2-byte length; RFC 2326 §10.12), as ZLMediaKit's RtpSplitter also accepts. The form is
 * decided once per connection from its first bytes, which is cheap and never wrong for a conforming peer:
 * an interleaved stream starts with `$`, a small channel number and an RTP version-2 byte at offset 4, while an
 * RFC 4571 stream has the RTP version-2 byte at offset 2. Pure: no I/O.
 */
import { Rfc4571Splitter } from '../codecs/rtp/rfc4571.js';

export type TcpFraming = 'rfc4571' | 'interleaved';

/** Bytes needed to decide the framing. */
export const FRAMING_PROBE_BYTES = 5;

/** Decides the framing from the first bytes of a connection; null while fewer than 5 bytes have arrived. */
export function detectTcpFraming(head: Buffer): TcpFraming | null {
  if (head.length < FRAMING_PROBE_BYTES) return null;
  const interleaved = head[0] === 0x24 && head[1]! <= 0x0f && head[4]! >> 6 === 2;
  return interleaved ? 'interleaved' : 'rfc4571';
}

/**
 * RTSP-interleaved splitter: `$`, channel, length16, packet. Even channels carry RTP, odd ones RTCP (dropped
 * here). A byte other than `$` where a frame should start means the stream is out of step: bytes are skipped up
 * to the next `$` and counted.
 */
export class InterleavedSplitter {
  readonly stats = { packets: 0, rtcpDropped: 0, droppedBytes: 0 };
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const packets: Buffer[] = [];
    let offset = 0;
    while (buf.length - offset >= 4) {
      if (buf[offset] !== 0x24) {
        const next = buf.indexOf(0x24, offset + 1);
        const skipTo = next < 0 ? buf.length : next;
        this.stats.droppedBytes += skipTo - offset;
        offset = skipTo;
        continue;
      }
      const channel = buf[offset + 1]!;
      const length = buf.readUInt16BE(offset + 2);
      if (buf.length - offset - 4 < length) break;
      const packet = buf.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      if (channel % 2 === 1) {
        this.stats.rtcpDropped++;
        continue;
      }
      if (length > 0) {
        this.stats.packets++;
        packets.push(packet);
      }
    }
    // Keep only the unfinished frame; copy it so the caller's chunk can be released.
    this.pending = offset < buf.length ? Buffer.from(buf.subarray(offset)) : Buffer.alloc(0);
    return packets;
  }

  get bufferedBytes(): number {
    return this.pending.length;
  }
}

/** One connection's de-framer: waits for 5 bytes, picks the framing, then splits. */
export class TcpRtpDeframer {
  private framingChosen: TcpFraming | null = null;
  private head: Buffer = Buffer.alloc(0);
  private splitter: { push(chunk: Buffer): Buffer[] } | null = null;

  get framing(): TcpFraming | null {
    return this.framingChosen;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.splitter) return this.splitter.push(chunk);
    this.head = this.head.length > 0 ? Buffer.concat([this.head, chunk]) : chunk;
    const framing = detectTcpFraming(this.head);
    if (framing === null) return [];
    this.framingChosen = framing;
    this.splitter = framing === 'interleaved' ? new InterleavedSplitter() : new Rfc4571Splitter();
    const first = this.head;
    this.head = Buffer.alloc(0);
    return this.splitter.push(first);
  }
}
