/**
 * RTMP ingest: a TCP server that accepts publishers (ffmpeg, OBS, mobile units, drones) at
 * rtmp://host:port/<app>/<stream key>?<query>, asks the caller whether that key may publish (the gateway signs
 * keys per channel), and hands over the audio/video tag bodies with their timestamps. Publish only: a play
 * request is refused. One publisher per key; a second one is refused while the first is live.
 *
 * The caller turns tags into access units (codecs/flv) and feeds the stream core; this module knows RTMP only.
 * A publisher that sends nothing for `idleTimeoutMs`, or does not reach `publish` within `publishTimeoutMs`,
 * is dropped. Every refusal and drop has a reason (for logs, metrics and the channel's status).
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Amf0Error, decodeAmf0, encodeAmf0, type Amf0Value } from '../../codecs/rtmp/amf0.js';
import { MSG, RtmpProtocolError, RtmpServerReader, controlMessage, writeMessage } from '../../codecs/rtmp/chunks.js';

export interface PublishRequest {
  app: string;
  /** The stream key without its query: the part the gateway maps to a channel. */
  key: string;
  query: URLSearchParams;
  remote: string;
}

export type PublishDecision = { ok: true } | { ok: false; code: 'NetStream.Publish.BadName' | 'NetStream.Publish.Unauthorized'; reason: string };

export interface RtmpPublisher {
  readonly id: number;
  readonly request: PublishRequest;
  /** Stop this publisher (its connection is closed). */
  close(reason: string): void;
}

export interface RtmpIngestEvents {
  publish: [RtmpPublisher];
  /** FLV tag body of type 8 (audio) or 9 (video), timestamp in ms (32-bit, as sent). */
  tag: [RtmpPublisher, { type: 'audio' | 'video'; timestamp: number; body: Buffer }];
  metadata: [RtmpPublisher, Record<string, Amf0Value>];
  unpublish: [RtmpPublisher, string];
  /** A connection refused or dropped before or without publishing. */
  refused: [{ remote: string; reason: string }];
}

export interface RtmpIngestOptions {
  host: string;
  port: number;
  authorize: (req: PublishRequest) => PublishDecision | Promise<PublishDecision>;
  publishTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
  maxMessageBytes?: number;
}

const OUT_CHUNK_SIZE = 4096;
const WINDOW_ACK = 5_000_000;

export class RtmpIngestServer extends EventEmitter<RtmpIngestEvents> {
  private server: Server | null = null;
  private nextId = 1;
  private readonly live = new Map<string, RtmpPublisher>();
  private connections = 0;
  port = 0;

  constructor(private readonly opts: RtmpIngestOptions) {
    super();
  }

  get publishers(): RtmpPublisher[] {
    return [...this.live.values()];
  }

  async listen(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = this.opts.maxConnections ?? 1024;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const p of this.live.values()) p.close('gateway shutting down');
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(socket: Socket): void {
    this.connections++;
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const reader = new RtmpServerReader({ maxMessageBytes: this.opts.maxMessageBytes });
    socket.setNoDelay(true);
    let app = '';
    let publisher: RtmpPublisher | null = null;
    let ended = false;
    let peerWindow = 2_500_000;
    let lastAck = 0;
    let deciding = false;
    const send = (data: Buffer): void => {
      if (!socket.destroyed) socket.write(data);
    };
    const command = (streamId: number, ...values: Amf0Value[]): void => send(writeMessage(3, MSG.amf0Command, streamId, 0, encodeAmf0(...values), OUT_CHUNK_SIZE));
    const status = (streamId: number, level: 'status' | 'error', code: string, description: string): void =>
      command(streamId, 'onStatus', 0, null, { level, code, description });
    /** `graceful`: let what was written (an error status) reach the publisher before the connection closes. */
    const end = (reason: string, graceful = false): void => {
      if (ended) return;
      ended = true;
      clearTimeout(publishTimer);
      if (graceful) {
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      } else {
        socket.destroy();
      }
      this.connections--;
      if (publisher) {
        if (this.live.get(publisher.request.key) === publisher) this.live.delete(publisher.request.key);
        this.emit('unpublish', publisher, reason);
      } else {
        this.emit('refused', { remote, reason });
      }
    };
    const publishTimer = setTimeout(() => {
      if (!publisher) end(`no publish within ${this.opts.publishTimeoutMs ?? 10_000} ms`);
    }, this.opts.publishTimeoutMs ?? 10_000);
    socket.setTimeout(this.opts.idleTimeoutMs ?? 20_000, () => end('no data from the publisher (idle timeout)'));
    socket.on('error', (err: NodeJS.ErrnoException) => end(`connection error: ${err.code ?? err.message}`));
    socket.on('close', () => end('the publisher closed the connection'));

    const onCommand = async (streamId: number, values: Amf0Value[]): Promise<void> => {
      const [name, transId] = values;
      const tid = typeof transId === 'number' ? transId : 0;
      switch (name) {
        case 'connect': {
          const obj = values[2];
          app = obj && typeof obj === 'object' && !Array.isArray(obj) && !(obj instanceof Date) && typeof obj.app === 'string' ? obj.app : '';
          send(controlMessage(MSG.windowAckSize, WINDOW_ACK));
          send(controlMessage(MSG.setPeerBandwidth, WINDOW_ACK, 2));
          send(controlMessage(MSG.setChunkSize, OUT_CHUNK_SIZE));
          command(0, '_result', tid, { fmsVer: 'FMS/3,5,7,7009', capabilities: 31 }, { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 });
          return;
        }
        case 'releaseStream':
        case 'FCPublish':
        case 'FCUnpublish':
        case 'getStreamLength':
          command(0, '_result', tid, null);
          return;
        case 'createStream':
          command(0, '_result', tid, null, 1);
          return;
        case 'publish': {
          if (publisher || deciding) return;
          const raw = typeof values[3] === 'string' ? values[3] : '';
          const q = raw.indexOf('?');
          const request: PublishRequest = { app: app.split('?')[0]!, key: q < 0 ? raw : raw.slice(0, q), query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)), remote };
          deciding = true;
          let decision: PublishDecision;
          try {
            decision = await this.opts.authorize(request);
          } catch (err) {
            decision = { ok: false, code: 'NetStream.Publish.Unauthorized', reason: `authorisation failed: ${(err as Error).message}` };
          }
          deciding = false;
          if (ended) return;
          if (decision.ok && this.live.has(request.key)) decision = { ok: false, code: 'NetStream.Publish.BadName', reason: `${request.key} is already being published` };
          if (!decision.ok) {
            status(streamId, 'error', decision.code, decision.reason);
            end(`publish refused: ${decision.reason}`, true);
            return;
          }
          const id = this.nextId++;
          publisher = { id, request, close: (reason: string) => end(reason) };
          this.live.set(request.key, publisher);
          clearTimeout(publishTimer);
          status(streamId, 'status', 'NetStream.Publish.Start', `${request.key} is now published.`);
          this.emit('publish', publisher);
          return;
        }
        case 'play':
          status(streamId, 'error', 'NetStream.Play.Failed', 'this gateway takes RTMP publishers only; watch over HLS or WebSocket');
          end('play refused (publish only)', true);
          return;
        case 'deleteStream':
        case 'closeStream':
          end('the publisher stopped (deleteStream)');
          return;
        default:
          if (tid > 0) command(0, '_error', tid, null, { level: 'error', code: 'NetConnection.Call.Failed', description: `unsupported call ${String(name)}` });
      }
    };

    socket.on('data', (chunk: Buffer) => {
      let events;
      try {
        events = reader.push(chunk);
      } catch (err) {
        end(err instanceof RtmpProtocolError ? `RTMP protocol error: ${err.message}` : `RTMP error: ${(err as Error).message}`);
        return;
      }
      for (const e of events) {
        if (ended) return;
        if (e.kind === 'send') {
          send(e.data);
          continue;
        }
        const m = e.message;
        if (m.typeId === MSG.windowAckSize && m.payload.length >= 4) peerWindow = m.payload.readUInt32BE(0) || peerWindow;
        else if (m.typeId === MSG.amf0Command || m.typeId === MSG.amf3Command || m.typeId === MSG.amf0Data || m.typeId === MSG.amf3Data) {
          let values: Amf0Value[];
          try {
            values = decodeAmf0(m.typeId === MSG.amf3Command || m.typeId === MSG.amf3Data ? m.payload.subarray(1) : m.payload);
          } catch (err) {
            end(err instanceof Amf0Error ? `bad AMF0: ${err.message}` : String(err));
            return;
          }
          if (m.typeId === MSG.amf0Command || m.typeId === MSG.amf3Command) {
            void onCommand(m.streamId, values);
          } else if (publisher) {
            // @setDataFrame("onMetaData", {...}) or onMetaData({...})
            const meta = values.find((v) => v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date));
            if (meta) this.emit('metadata', publisher, meta as Record<string, Amf0Value>);
          }
        } else if ((m.typeId === MSG.audio || m.typeId === MSG.video) && publisher) {
          this.emit('tag', publisher, { type: m.typeId === MSG.audio ? 'audio' : 'video', timestamp: m.timestamp, body: m.payload });
        }
      }
      if (reader.bytesIn - lastAck >= peerWindow) {
        lastAck = reader.bytesIn;
        send(controlMessage(MSG.acknowledgement, reader.bytesIn >>> 0));
      }
    });
  }
}
