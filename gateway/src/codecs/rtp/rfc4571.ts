/**
 * RTP over TCP framing (RFC 4571, GB 2022 Annex D): every RTP packet is preceded by its length as a 2-byte
 * big-endian number; no `$`/channel byte as in RTSP interleaving. Pure state machine, no I/O.
 *
 * TCP delivers chunks with no relation to packet borders: one chunk may hold half a length prefix, or the end
 * of one packet and three more. The splitter keeps only the unfinished packet, so its memory is bounded by
 * `maxPacket + 2` bytes whatever the peer sends. A length above `maxPacket` cannot be handled, but its bytes
 * are skipped rather than treated as a desync: the announced length is still the best guess of where the next
 * frame starts. Zero-length frames carry nothing and are skipped.
 *
 * Returned packets are subarrays of the pushed chunks when a packet lies inside one chunk (no copy), otherwise
 * fresh buffers; callers must not reuse a pushed chunk's memory afterwards (Node's socket buffers never are).
 */

export interface Rfc4571Stats {
  packets: number;
  emptyFrames: number;
  oversizedDropped: number;
  droppedBytes: number;
}

export class Rfc4571Splitter {
  readonly stats: Rfc4571Stats = { packets: 0, emptyFrames: 0, oversizedDropped: 0, droppedBytes: 0 };
  /** First byte of a length prefix split across chunks, or -1. */
  private pendingLengthByte = -1;
  /** Length of the packet being collected, or -1 while reading a length prefix. */
  private expected = -1;
  private collected = 0;
  private parts: Buffer[] = [];
  private skipping = false;

  constructor(private readonly maxPacket = 65535) {
    if (!Number.isInteger(maxPacket) || maxPacket < 1 || maxPacket > 65535) {
      throw new RangeError(`maxPacket must be 1..65535, got ${maxPacket}`);
    }
  }

  /** Bytes held for the unfinished packet (for tests and metrics). */
  get bufferedBytes(): number {
    return (this.skipping ? 0 : this.collected) + (this.pendingLengthByte >= 0 ? 1 : 0);
  }

  push(chunk: Buffer): Buffer[] {
    const packets: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.expected < 0) {
        let length: number;
        if (this.pendingLengthByte >= 0) {
          length = (this.pendingLengthByte << 8) | chunk[offset]!;
          this.pendingLengthByte = -1;
          offset += 1;
        } else if (chunk.length - offset >= 2) {
          length = chunk.readUInt16BE(offset);
          offset += 2;
        } else {
          this.pendingLengthByte = chunk[offset]!;
          offset += 1;
          continue;
        }
        if (length === 0) {
          this.stats.emptyFrames++;
          continue;
        }
        this.expected = length;
        this.collected = 0;
        this.skipping = length > this.maxPacket;
        if (this.skipping) this.stats.oversizedDropped++;
        continue;
      }

      const wanted = this.expected - this.collected;
      const taken = Math.min(wanted, chunk.length - offset);
      if (this.skipping) {
        this.stats.droppedBytes += taken;
      } else if (this.collected === 0 && taken === wanted) {
        packets.push(chunk.subarray(offset, offset + taken));
      } else {
        this.parts.push(chunk.subarray(offset, offset + taken));
      }
      this.collected += taken;
      offset += taken;
      if (this.collected < this.expected) continue;

      if (!this.skipping) {
        if (this.parts.length > 0) packets.push(Buffer.concat(this.parts, this.expected));
        this.stats.packets++;
      }
      this.parts = [];
      this.expected = -1;
      this.collected = 0;
      this.skipping = false;
    }
    return packets;
  }
}

/** Prefixes one RTP packet with its 2-byte length. */
export function frameRfc4571(rtp: Buffer): Buffer {
  if (rtp.length > 65535) throw new RangeError(`RTP packet of ${rtp.length} bytes does not fit RFC 4571 framing`);
  const out = Buffer.allocUnsafe(rtp.length + 2);
  out.writeUInt16BE(rtp.length, 0);
  rtp.copy(out, 2);
  return out;
}
