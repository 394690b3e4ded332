/**
 * Test plumbing for the LL-HLS and live fMP4 readers: a tiny HTTP server that serves one LlhlsReader the way
 * the gateway's media routes do (playlist with `_HLS_msn` / `_HLS_part`, parts, segments, init; a page and
 * hls.js for the browser test), and a feeder that plays encoded media into a reader in real time, looping
 * with continuous timestamps.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { AccessUnit, StreamReader, TrackParameters } from '../../src/media/core/access-unit.js';
import { blockingRequestOf, LlhlsClosedError, LlhlsRequestError, type LlhlsReader } from '../../src/media/readers/llhls/index.js';

export interface ServedLlhls {
  base: string;
  /** Every request: path + query, and when it was answered (ms since the server started). */
  log: Array<{ url: string; startedAt: number; answeredAt: number; status: number; partsAtStart: number; partsAtAnswer: number }>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function serveLlhls(reader: LlhlsReader, extraPages: Record<string, string> = {}): Promise<ServedLlhls> {
  const log: ServedLlhls['log'] = [];
  const t0 = Date.now();
  const hlsJsPath = require.resolve('hls.js/dist/hls.min.js');
  const server: Server = createServer((req, res) => {
    const startedAt = Date.now() - t0;
    const partsAtStart = reader.closed ? -1 : reader.stats().parts;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const name = url.pathname.slice(1);
    const send = (status: number, body: Uint8Array | string, type: string): void => {
      const partsAtAnswer = reader.closed ? -1 : reader.stats().parts;
      log.push({ url: `${url.pathname}${url.search}`, startedAt, answeredAt: Date.now() - t0, status, partsAtStart, partsAtAnswer });
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache', 'access-control-allow-origin': '*' });
      res.end(body);
    };
    void (async () => {
      try {
        if (name in extraPages) return send(200, extraPages[name], 'text/html');
        if (name === 'hls.min.js') return send(200, await readFile(hlsJsPath), 'text/javascript');
        if (name === 'index.m3u8') {
          const text = await reader.playlist(blockingRequestOf(url.searchParams));
          return send(200, text, 'application/vnd.apple.mpegurl');
        }
        const resource = await reader.resource(name);
        if (!resource) return send(404, 'not found', 'text/plain');
        return send(200, resource.body, resource.contentType);
      } catch (err) {
        if (err instanceof LlhlsRequestError) return send(400, err.message, 'text/plain');
        if (err instanceof LlhlsClosedError) return send(404, err.message, 'text/plain');
        return send(500, String(err), 'text/plain');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Feeds `units` (one loop of encoded media) into a reader at their real pace, looping with timestamps that
 * keep increasing. Returns a stop function.
 */
export interface LiveFeed {
  stop(): void;
  /** Stops sending (a source that stalls); `resume` goes on with continuous timestamps. */
  pause(): void;
  resume(): void;
  fed(): number;
}

export function feedLive(reader: StreamReader, tracks: TrackParameters[], units: AccessUnit[], options: { epoch?: number } = {}): LiveFeed {
  const epoch = options.epoch ?? 1;
  reader.onParameters(tracks, epoch);
  const firstDts = units[0].dts;
  const loopDuration = units[units.length - 1].dts - firstDts + 3600;
  let startedAt = Date.now();
  let pausedAt: number | null = null;
  let index = 0;
  let loop = 0;
  let fed = 0;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const tick = (): void => {
    timer = null;
    if (stopped || pausedAt !== null) return;
    const elapsed90k = (Date.now() - startedAt) * 90;
    while (true) {
      const unit = units[index];
      const offset = loop * loopDuration;
      if (unit.dts - firstDts + offset > elapsed90k) break;
      reader.onAccessUnit({ ...unit, pts: unit.pts + offset, dts: unit.dts + offset, epoch, receivedAt: Date.now() });
      fed++;
      index++;
      if (index === units.length) {
        index = 0;
        loop++;
      }
    }
    timer = setTimeout(tick, 5);
  };
  tick();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    pause: () => {
      pausedAt ??= Date.now();
    },
    resume: () => {
      if (pausedAt === null) return;
      startedAt += Date.now() - pausedAt;
      pausedAt = null;
      if (!timer && !stopped) tick();
    },
    fed: () => fed,
  };
}
