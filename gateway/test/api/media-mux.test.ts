/**
 * The media WebSocket (GET /api/media/ws) with a real `ws` client on 127.0.0.1: answers carry the request id
 * and the file, in the binary framing the browser loader decodes; signed paths are resolved like GET /media
 * (bad token 401, unknown stream 404, playlist reads are viewer heartbeats); malformed messages get an error
 * frame and the socket keeps working; the in-flight window is enforced; /metrics counts requests and bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { authenticationHook } from '../../src/api/authentication.js';
import type { MediaFileSource } from '../../src/api/media-files.js';
import { encodeMediaFrame, mediaMuxRoutes } from '../../src/api/routes/media-mux.js';
import type { GatewayServices } from '../../src/domain/services.js';
import { MediaTokens } from '../../src/domain/streams/media-token.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';

const TOKEN = 'mux-test-token';
const MAX_IN_FLIGHT = 8;

interface Answer {
  id: number;
  status: number;
  contentType: string;
  body: Buffer;
}

/** The browser's decoder (web/src/player/ws-media-loader.ts decodeResponseFrame), restated for Node. */
function decode(frame: Buffer): Answer {
  const typeLength = frame.readUInt8(6);
  return { id: frame.readUInt32BE(0), status: frame.readUInt16BE(4), contentType: frame.subarray(7, 7 + typeLength).toString('latin1'), body: frame.subarray(7 + typeLength) };
}

/** A ws client that collects binary answers by id and text frames in order. */
class MuxClient {
  readonly answers = new Map<number, Answer>();
  readonly texts: Array<{ error: string; message: string }> = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      if (isBinary) {
        const answer = decode(buffer);
        this.answers.set(answer.id, answer);
      } else {
        this.texts.push(JSON.parse(buffer.toString('utf8')) as { error: string; message: string });
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(url: string): Promise<MuxClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(new MuxClient(socket)));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** Several messages in one TCP write, so the server reads them all before answering any. */
  burst(messages: unknown[]): void {
    const raw = (this.socket as unknown as { _socket: import('node:net').Socket })._socket;
    raw.cork();
    for (const m of messages) this.send(m);
    process.nextTick(() => raw.uncork());
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Wait until `check` holds after some message (no fixed sleeps). */
  async until<T>(check: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  answer(id: number): Promise<Answer> {
    return this.until(() => this.answers.get(id), `answer ${id}`);
  }

  close(): void {
    this.socket.close();
  }
}

describe('media WebSocket /api/media/ws', () => {
  let app: FastifyInstance;
  let base: string;
  let dir: string;
  let metrics: GatewayMetrics;
  const tokens = new MediaTokens(3600);
  const touched: string[] = [];
  const STREAM = '11111111-1111-4111-8111-111111111111';
  const segment = Buffer.alloc(200_000, 7);
  const playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1.0,\nseg1.m4s\n';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-mux-'));
    writeFileSync(join(dir, 'index.m3u8'), playlist);
    writeFileSync(join(dir, 'seg1.m4s'), segment);
    const source: MediaFileSource = {
      tokens,
      mediaDirOf: (streamId) => (streamId === STREAM ? dir : null),
      touch: (streamId, viewerId) => {
        touched.push(`${streamId}/${viewerId}`);
        return true;
      },
    };
    metrics = new GatewayMetrics();
    app = Fastify();
    await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
    // The /api scope's real authentication hook: static tokens only here (no sessions behind it).
    const services = { authenticate: async () => null } as unknown as GatewayServices;
    await app.register(
      async (api) => {
        api.decorateRequest('principal', null);
        api.addHook('onRequest', authenticationHook(services, [TOKEN]));
        await api.register(mediaMuxRoutes, { streams: source, metrics, maxInFlight: MAX_IN_FLIGHT });
        // Stands in for the plays and releases a wall page sends over its socket.
        api.post<{ Body: { n: number } }>(
          '/echo',
          { schema: { body: { type: 'object', required: ['n'], additionalProperties: false, properties: { n: { type: 'integer' } } } } },
          async (request) => ({ n: request.body.n, by: request.principal?.username ?? null }),
        );
      },
      { prefix: '/api' },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const signed = (file: string, streamId = STREAM): string => `/media/${tokens.sign(streamId, 'viewer-1')}/${file}`;

  it('refuses the upgrade without a bearer token', async () => {
    await expect(MuxClient.open(`${base}/api/media/ws`)).rejects.toThrow(/401/);
    await expect(MuxClient.open(`${base}/api/media/ws?token=wrong`)).rejects.toThrow(/401/);
  });

  it('answers playlists and segments by id, with content type and the exact bytes; a playlist read is a heartbeat', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    client.send({ id: 7, path: signed('seg1.m4s') });
    client.send({ id: 3, path: signed('index.m3u8') });
    const [seg, pl] = await Promise.all([client.answer(7), client.answer(3)]);
    expect(pl).toMatchObject({ status: 200, contentType: 'application/vnd.apple.mpegurl' });
    expect(pl.body.toString('utf8')).toBe(playlist);
    expect(seg).toMatchObject({ status: 200, contentType: 'video/iso.segment' });
    expect(seg.body.equals(segment)).toBe(true);
    expect(touched).toContain(`${STREAM}/viewer-1`);
    client.close();
  });

  it('resolves like GET /media: bad token 401, unknown stream 404, missing file 404, bad file name 400', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    client.send({ id: 1, path: '/media/not-a-token.x/index.m3u8' });
    client.send({ id: 2, path: signed('index.m3u8', '22222222-2222-4222-8222-222222222222') });
    client.send({ id: 3, path: signed('seg9.m4s') });
    client.send({ id: 4, path: signed('..%2Fetc.m3u8') });
    client.send({ id: 5, path: '/api/streams' });
    const answers = await Promise.all([1, 2, 3, 4, 5].map((id) => client.answer(id)));
    expect(answers.map((a) => a.status)).toEqual([401, 404, 404, 400, 400]);
    for (const a of answers) {
      expect(a.contentType).toBe('application/json');
      expect(JSON.parse(a.body.toString('utf8'))).toHaveProperty('message');
    }
    expect(JSON.parse(answers[1].body.toString('utf8')).message).toMatch(/stream not running/);
    client.close();
  });

  it('API requests go through the router with the socket\'s token: the same answers as over HTTP', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    client.send({ id: 1, method: 'POST', path: '/api/echo', body: { n: 3 } });
    client.send({ id: 2, method: 'POST', path: '/api/echo', body: { n: 'x' } });
    client.send({ id: 3, method: 'GET', path: '/api/nothing-here' });
    client.send({ id: 4, method: 'GET', path: '/api/media/ws' });
    client.send({ id: 5, method: 'PATCH', path: '/api/echo', body: { n: 1 } });
    client.send({ id: 6, method: 'GET', path: '/docs' });
    const [ok, invalid, missing, upgrade, method, outside] = await Promise.all([1, 2, 3, 4, 5, 6].map((id) => client.answer(id)));
    expect(ok).toMatchObject({ status: 200, contentType: 'application/json' });
    expect(JSON.parse(ok.body.toString('utf8'))).toEqual({ n: 3, by: 'api-token' });
    const http = await fetch(`${base.replace('ws:', 'http:')}/api/echo`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ n: 'x' }) });
    expect(invalid.status).toBe(http.status);
    expect(JSON.parse(invalid.body.toString('utf8'))).toEqual(await http.json());
    expect(missing.status).toBe(404);
    expect([upgrade.status, method.status, outside.status]).toEqual([400, 400, 400]);
    expect(JSON.parse(upgrade.body.toString('utf8')).message).toMatch(/not a WebSocket route/);
    client.close();
  });

  it('malformed messages get an error frame, never a crash; the same socket still answers afterwards', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    client.send('{not json');
    client.send('[1,2]');
    client.send({ id: -1, path: signed('index.m3u8') });
    client.send({ id: 1.5, path: signed('index.m3u8') });
    client.send({ cancel: 'x' });
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    client.send({ id: 9, path: 42 });
    await client.until(() => client.texts.length >= 6, 'six error frames');
    expect(client.texts.map((t) => t.error)).toEqual(Array(6).fill('bad-request'));
    expect(client.texts.map((t) => t.message)).toEqual([
      'not JSON',
      'a request is a JSON object',
      'id: must be an integer 1..4294967295',
      'id: must be an integer 1..4294967295',
      'cancel: must be a request id (integer 1..4294967295)',
      'requests are JSON text messages',
    ]);
    // A request with a usable id but a bad path is answered under that id.
    expect((await client.answer(9)).status).toBe(400);
    client.send({ id: 10, path: signed('index.m3u8') });
    expect((await client.answer(10)).status).toBe(200);
    client.close();
  });

  it('a message over the size limit closes that socket only (1009); the server keeps serving others', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
    client.send({ id: 1, path: 'x'.repeat(5000) });
    expect(await closed).toBe(1009);
    const other = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    other.send({ id: 1, path: signed('index.m3u8') });
    expect((await other.answer(1)).status).toBe(200);
    other.close();
  });

  it('enforces the in-flight window: more than the limit at once are refused with 429, the rest answered', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    // One TCP write: the server reads them all before any file read completes.
    const ids = Array.from({ length: MAX_IN_FLIGHT + 3 }, (_, i) => i + 1);
    client.burst(ids.map((id) => ({ id, path: signed('seg1.m4s') })));
    const answers = await Promise.all(ids.map((id) => client.answer(id)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(MAX_IN_FLIGHT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    // Once answered, the window is free again.
    client.send({ id: 100, path: signed('seg1.m4s') });
    expect((await client.answer(100)).status).toBe(200);
    client.close();
  });

  it('a duplicate id while the first is in flight gets an error frame, not a second answer under that id', async () => {
    const client = await MuxClient.open(`${base}/api/media/ws?token=${TOKEN}`);
    client.burst([{ id: 5, path: signed('seg1.m4s') }, { id: 5, path: signed('index.m3u8') }]);
    const first = await client.answer(5);
    expect(first.contentType).toBe('video/iso.segment');
    await client.until(() => client.texts.length >= 1, 'duplicate error frame');
    expect(client.texts[0].message).toMatch(/already in flight/);
    client.close();
  });

  it('counts requests by status and body bytes in /metrics', async () => {
    const text = await metrics.metricsText();
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? 'NaN');
    expect(value(/se_media_mux_requests_total\{code="200"\} (\d+)/)).toBeGreaterThanOrEqual(10);
    expect(value(/se_media_mux_requests_total\{code="429"\} (\d+)/)).toBe(3);
    expect(value(/se_media_mux_bytes_total (\d+)/)).toBeGreaterThanOrEqual(segment.length * (MAX_IN_FLIGHT + 2));
    expect(value(/se_media_mux_protocol_errors_total (\d+)/)).toBeGreaterThanOrEqual(7);
    expect(text).toMatch(/se_media_mux_sockets \d+/);
  });

  it('encodes frames the way the browser decodes them', () => {
    const frame = encodeMediaFrame(0xfffffffe, 404, 'application/json', Buffer.from('{}'));
    expect(decode(frame)).toEqual({ id: 0xfffffffe, status: 404, contentType: 'application/json', body: Buffer.from('{}') });
  });
});
