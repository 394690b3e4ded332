/**
 * RTP fixed header (RFC 3550 §5.1): parse and serialize. Pure.
 *
 *   0                   1                   2                   3
 *   V=2|P|X| CC  |M|     PT      |       sequence number         |
 *   timestamp                                                    |
 *   SSRC                                                         |
 *   CSRC list (CC × 4 bytes)                                     |
 *   [X] profile-specific id (2) | length in 32-bit words (2) | extension words
 *   payload … [P] padding, last byte = padding count (includes itself)
 *
 * The header extension is skipped (GB devices do not use one; when a vendor adds one it carries nothing we
 * need). Written by hand: the header is 12 bytes of bit fields, and the npm RTP packages either pull in a whole
 * WebRTC stack or copy the payload; the receiver wants a zero-copy subarray.
 */

export type RtpParseErrorReason =
  | 'truncated' // shorter than the header, CSRC list or extension it announces
  | 'bad-version' // version field is not 2
  | 'bad-padding'; // padding count 0 or larger than the payload

export class RtpParseError extends Error {
  override readonly name = 'RtpParseError';
  constructor(
    readonly reason: RtpParseErrorReason,
    detail?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
  }
}

export interface RtpPacket {
  version: 2;
  padding: boolean;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  /** A subarray of the parsed buffer (no copy), padding removed. */
  payload: Buffer;
}

export const RTP_HEADER_LENGTH = 12;

export function parseRtp(buf: Buffer): RtpPacket {
  if (buf.length < RTP_HEADER_LENGTH) throw new RtpParseError('truncated', `${buf.length} bytes`);
  const b0 = buf[0]!;
  const version = b0 >> 6;
  if (version !== 2) throw new RtpParseError('bad-version', `version ${version}`);
  const hasPadding = (b0 & 0x20) !== 0;
  const hasExtension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_LENGTH + 4 * csrcCount;
  if (offset > buf.length) throw new RtpParseError('truncated', `CSRC list of ${csrcCount}`);
  const csrcs: number[] = [];
  for (let i = 0; i < csrcCount; i++) csrcs.push(buf.readUInt32BE(RTP_HEADER_LENGTH + 4 * i));
  if (hasExtension) {
    if (offset + 4 > buf.length) throw new RtpParseError('truncated', 'extension header');
    offset += 4 + 4 * buf.readUInt16BE(offset + 2);
    if (offset > buf.length) throw new RtpParseError('truncated', 'extension words');
  }
  let end = buf.length;
  if (hasPadding) {
    const paddingCount = buf[buf.length - 1]!;
    if (paddingCount === 0 || offset + paddingCount > buf.length) {
      throw new RtpParseError('bad-padding', `padding count ${paddingCount}`);
    }
    end -= paddingCount;
  }
  const b1 = buf[1]!;
  return {
    version: 2,
    padding: hasPadding,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcs,
    payload: buf.subarray(offset, end),
  };
}

export type RtpPacketInit = Omit<RtpPacket, 'version' | 'csrcs' | 'padding'> &
  Partial<Pick<RtpPacket, 'csrcs' | 'padding'>>;

/**
 * Builds one RTP packet. Sequence and timestamp are taken modulo 2^16 / 2^32 so callers can simply keep
 * counting; payload type and CSRC count are checked because a wrong value there is a programming error.
 * `padding: true` pads the packet to a multiple of 4 bytes (at least one byte: the count itself).
 */
export function serializeRtp(p: RtpPacketInit): Buffer {
  const csrcs = p.csrcs ?? [];
  if (!Number.isInteger(p.payloadType) || p.payloadType < 0 || p.payloadType > 127) {
    throw new RangeError(`RTP payload type must be 0..127, got ${p.payloadType}`);
  }
  if (csrcs.length > 15) throw new RangeError(`at most 15 CSRCs, got ${csrcs.length}`);
  const headerLength = RTP_HEADER_LENGTH + 4 * csrcs.length;
  const unpadded = headerLength + p.payload.length;
  const paddingCount = p.padding ? 4 - (unpadded % 4) || 4 : 0;
  const out = Buffer.alloc(unpadded + paddingCount);
  out[0] = 0x80 | (p.padding ? 0x20 : 0) | csrcs.length;
  out[1] = (p.marker ? 0x80 : 0) | p.payloadType;
  out.writeUInt16BE(p.sequence & 0xffff, 2);
  out.writeUInt32BE(p.timestamp >>> 0, 4);
  out.writeUInt32BE(p.ssrc >>> 0, 8);
  csrcs.forEach((csrc, i) => out.writeUInt32BE(csrc >>> 0, RTP_HEADER_LENGTH + 4 * i));
  p.payload.copy(out, headerLength);
  if (paddingCount > 0) out[out.length - 1] = paddingCount;
  return out;
}

/**
 * RTCP packets (SR 200 … APP 204, plus RTPFB/PSFB/XR 205–207) share the port with RTP in "rtcp-mux" setups and
 * some devices send them to the RTP port anyway. RFC 5761 §4: the second byte of an RTCP packet reads as RTP
 * marker + payload type 72–79, which no RTP session uses, so the byte alone tells them apart.
 */
export function looksLikeRtcp(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0]! >> 6 === 2 && buf[1]! >= 200 && buf[1]! <= 207;
}

/**
 * Splits a payload (one PS pack, one frame …) into RTP packets of at most `maxPayload` bytes that share one
 * timestamp (GB 2022 §4.3.6), keeping the sequence number across calls. Used by the simulator and tests.
 */
export class RtpPacketizer {
  private sequence: number;
  private readonly maxPayload: number;

  constructor(
    private readonly opts: { ssrc: number; payloadType: number; maxPayload?: number; initialSequence?: number },
  ) {
    this.maxPayload = opts.maxPayload ?? 1400;
    if (!Number.isInteger(this.maxPayload) || this.maxPayload < 1) {
      throw new RangeError(`maxPayload must be a positive integer, got ${this.maxPayload}`);
    }
    this.sequence = (opts.initialSequence ?? 0) & 0xffff;
  }

  /** Sequence number the next packet will carry. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** `markLast` sets the marker bit on the last packet (end of frame); GB devices often never set it. */
  packetize(payload: Buffer, timestamp: number, markLast = false): Buffer[] {
    const packets: Buffer[] = [];
    let offset = 0;
    do {
      const end = Math.min(offset + this.maxPayload, payload.length);
      packets.push(
        serializeRtp({
          marker: markLast && end === payload.length,
          payloadType: this.opts.payloadType,
          sequence: this.sequence,
          timestamp,
          ssrc: this.opts.ssrc,
          payload: payload.subarray(offset, end),
        }),
      );
      this.sequence = (this.sequence + 1) & 0xffff;
      offset = end;
    } while (offset < payload.length);
    return packets;
  }
}
