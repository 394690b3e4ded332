/**
 * RTMP on the wire, server side of a publisher connection: the simple handshake (C0/C1 → S0/S1/S2, then C2),
 * the chunk stream (basic header with 1–3 byte chunk stream IDs, message header formats 0–3, extended
 * timestamps, Set Chunk Size), reassembled into messages; and the writer for what the server sends. Pure: the
 * caller feeds bytes and sends what it is given back.
 *
 * Bounds (a publisher port faces cameras and mobile units, not only friends): a message may be at most
 * `maxMessageBytes` (default 8 MiB: a 4K keyframe fits), at most `maxChunkStreams` chunk streams may be open at
 * once (default 32), and payload memory is allocated as chunks arrive, never from an announced length. A
 * violation is an RtmpProtocolError; the connection is then dropped.
 *
 * Why not node-media-server (on our list) for this part: its protocol class is internal (not exported as an
 * API), allocates each message's announced length up front for any number of chunk streams (16 MiB × 65,599
 * from one client), throws out of its parser on a malformed tcUrl, reads the FLV composition time unsigned, and
 * logs with console.log; its public API is a whole server (Express, JWT, its own store in ./data).
 */
export class RtmpProtocolError extends Error {
  override readonly name = 'RtmpProtocolError';
}

export interface RtmpMessage {
  typeId: number;
  streamId: number;
  /** Milliseconds, 32-bit, as the publisher stamped it (extended timestamps applied). */
  timestamp: number;
  chunkStreamId: number;
  payload: Buffer;
}

export const MSG = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  amf3Data: 15,
  amf3Command: 17,
  amf0Data: 18,
  amf0Command: 20,
} as const;

const HANDSHAKE_SIZE = 1536;

interface ChunkStream {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  parts: Buffer[];
  received: number;
}

export interface RtmpReaderOptions {
  maxMessageBytes?: number;
  maxChunkStreams?: number;
}

export type RtmpReadEvent = { kind: 'send'; data: Buffer } | { kind: 'message'; message: RtmpMessage };

export class RtmpServerReader {
  private state: 'c0c1' | 'c2' | 'chunks' = 'c0c1';
  private buffer: Buffer = Buffer.alloc(0);
  private inChunkSize = 128;
  private readonly streams = new Map<number, ChunkStream>();
  private readonly maxMessage: number;
  private readonly maxStreams: number;
  /** Total bytes received (for Acknowledgement). */
  bytesIn = 0;

  constructor(opts: RtmpReaderOptions = {}) {
    this.maxMessage = opts.maxMessageBytes ?? 8 * 1024 * 1024;
    this.maxStreams = opts.maxChunkStreams ?? 32;
  }

  /** Feed bytes; returns what to send back and the complete messages. Throws RtmpProtocolError. */
  push(chunk: Buffer): RtmpReadEvent[] {
    this.bytesIn += chunk.length;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: RtmpReadEvent[] = [];
    for (;;) {
      if (this.state === 'c0c1') {
        if (this.buffer.length < 1 + HANDSHAKE_SIZE) break;
        const version = this.buffer[0]!;
        if (version !== 3) throw new RtmpProtocolError(`RTMP version ${version} (expected 3; RTMPE/RTMPT are not supported)`);
        const c1 = this.buffer.subarray(1, 1 + HANDSHAKE_SIZE);
        const s1 = Buffer.alloc(HANDSHAKE_SIZE);
        s1.writeUInt32BE(0, 0);
        for (let k = 8; k < HANDSHAKE_SIZE; k++) s1[k] = (k * 7919) & 0xff;
        out.push({ kind: 'send', data: Buffer.concat([Buffer.of(3), s1, c1]) });
        this.buffer = this.buffer.subarray(1 + HANDSHAKE_SIZE);
        this.state = 'c2';
      } else if (this.state === 'c2') {
        if (this.buffer.length < HANDSHAKE_SIZE) break;
        this.buffer = this.buffer.subarray(HANDSHAKE_SIZE);
        this.state = 'chunks';
      } else {
        const consumed = this.readChunk(out);
        if (consumed === 0) break;
        this.buffer = this.buffer.subarray(consumed);
      }
    }
    if (this.buffer.length > 0 && this.buffer.byteOffset > 0 && this.buffer.length < 64 * 1024) this.buffer = Buffer.from(this.buffer);
    return out;
  }

  /** One chunk from the buffer: bytes consumed (0 when incomplete). */
  private readChunk(out: RtmpReadEvent[]): number {
    const b = this.buffer;
    if (b.length < 1) return 0;
    const fmt = b[0]! >> 6;
    let csid = b[0]! & 0x3f;
    let i = 1;
    if (csid === 0) {
      if (b.length < 2) return 0;
      csid = 64 + b[1]!;
      i = 2;
    } else if (csid === 1) {
      if (b.length < 3) return 0;
      csid = 64 + b[1]! + b[2]! * 256;
      i = 3;
    }
    const headerSize = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
    if (b.length < i + headerSize) return 0;
    let cs = this.streams.get(csid);
    if (!cs) {
      if (fmt !== 0) throw new RtmpProtocolError(`chunk stream ${csid} starts with header format ${fmt}`);
      if (this.streams.size >= this.maxStreams) throw new RtmpProtocolError(`more than ${this.maxStreams} chunk streams`);
      cs = { timestamp: 0, delta: 0, length: 0, typeId: 0, streamId: 0, extended: false, parts: [], received: 0 };
      this.streams.set(csid, cs);
    }
    const startsMessage = cs.received === 0;
    let tsField = 0;
    let length = cs.length;
    let typeId = cs.typeId;
    let streamId = cs.streamId;
    if (fmt <= 2) tsField = b.readUIntBE(i, 3);
    if (fmt <= 1) {
      length = b.readUIntBE(i + 3, 3);
      typeId = b[i + 6]!;
    }
    if (fmt === 0) streamId = b.readUInt32LE(i + 7);
    i += headerSize;
    const extended = fmt <= 2 ? tsField === 0xffffff : cs.extended;
    let ts = tsField;
    if (extended) {
      if (b.length < i + 4) return 0;
      ts = b.readUInt32BE(i);
      i += 4;
    }
    if (length > this.maxMessage) throw new RtmpProtocolError(`message of ${length} bytes (limit ${this.maxMessage})`);
    if (!startsMessage && fmt !== 3) throw new RtmpProtocolError(`chunk stream ${csid}: a new message header before the last message was complete`);
    const want = Math.min(this.inChunkSize, length - cs.received);
    if (b.length < i + want) return 0;
    // The header is committed only once the whole chunk is here.
    if (startsMessage) {
      if (fmt === 0) {
        cs.timestamp = ts;
        cs.delta = 0;
      } else if (fmt === 1 || fmt === 2) {
        cs.delta = ts;
        cs.timestamp = (cs.timestamp + ts) >>> 0;
      } else {
        cs.timestamp = (cs.timestamp + cs.delta) >>> 0;
      }
      cs.length = length;
      cs.typeId = typeId;
      cs.streamId = streamId;
      cs.extended = extended;
    }
    cs.parts.push(Buffer.from(b.subarray(i, i + want)));
    cs.received += want;
    i += want;
    if (cs.received >= cs.length) {
      const payload = cs.parts.length === 1 ? cs.parts[0]! : Buffer.concat(cs.parts);
      cs.parts = [];
      cs.received = 0;
      if (cs.typeId === MSG.setChunkSize) {
        if (payload.length < 4) throw new RtmpProtocolError('short Set Chunk Size');
        const size = payload.readUInt32BE(0) & 0x7fffffff;
        if (size < 1 || size > 0xffffff) throw new RtmpProtocolError(`chunk size ${size}`);
        this.inChunkSize = size;
      } else if (cs.typeId === MSG.abort) {
        const id = payload.length >= 4 ? payload.readUInt32BE(0) : -1;
        const aborted = this.streams.get(id);
        if (aborted) {
          aborted.parts = [];
          aborted.received = 0;
        }
      } else {
        out.push({ kind: 'message', message: { typeId: cs.typeId, streamId: cs.streamId, timestamp: cs.timestamp, chunkStreamId: csid, payload } });
      }
    }
    return i;
  }
}

/** Serialise one message as format-0/3 chunks of `chunkSize` bytes on chunk stream `csid`. */
export function writeMessage(csid: number, typeId: number, streamId: number, timestamp: number, payload: Buffer, chunkSize: number): Buffer {
  const parts: Buffer[] = [];
  const basic = (fmt: number): Buffer => (csid < 64 ? Buffer.of((fmt << 6) | csid) : Buffer.of(fmt << 6, csid - 64));
  const header = Buffer.alloc(11);
  const extended = timestamp >= 0xffffff;
  header.writeUIntBE(extended ? 0xffffff : timestamp, 0, 3);
  header.writeUIntBE(payload.length, 3, 3);
  header[6] = typeId;
  header.writeUInt32LE(streamId, 7);
  const ext = Buffer.alloc(extended ? 4 : 0);
  if (extended) ext.writeUInt32BE(timestamp >>> 0);
  parts.push(basic(0), header, ext);
  for (let o = 0; o < payload.length || o === 0; o += chunkSize) {
    if (o > 0) parts.push(basic(3), ext);
    parts.push(payload.subarray(o, o + chunkSize));
    if (payload.length === 0) break;
  }
  return Buffer.concat(parts);
}

export function controlMessage(typeId: number, value: number, extra?: number): Buffer {
  const payload = Buffer.alloc(extra === undefined ? 4 : 5);
  payload.writeUInt32BE(value >>> 0);
  if (extra !== undefined) payload[4] = extra;
  return writeMessage(2, typeId, 0, 0, payload, 128);
}
