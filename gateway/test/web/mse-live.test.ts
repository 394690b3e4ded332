/**
 * The live fMP4 path end to end in Debian's Chromium: a WebSocket server gives each connection its own
 * Fmp4LiveReader fed live from real encoder output (H.264 with B-frames + AAC), and the page plays it with
 * the wall's MSE module (web/src/player/mse-live.ts, loaded as it is): video.currentTime advances, the
 * player sits close to the live edge, and a new epoch (new init segment) keeps playing.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { StreamReader, AccessUnit, TrackParameters } from '../../src/media/core/access-unit.js';
import { Fmp4LiveReader } from '../../src/media/readers/fmp4-live/index.js';
import { launchChromium } from '../support/browser.js';
import { encodeTestMedia, type EncodedMedia } from '../support/encoded-media.js';
import { feedLive, type LiveFeed } from '../support/llhls-serve.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** Fans units out to the readers of the connected sockets, as the Stream does. */
class Fanout implements StreamReader {
  readonly kind = 'fanout';
  readonly readers = new Set<Fmp4LiveReader>();
  private tracks: readonly TrackParameters[] = [];
  private epoch = 0;
  onParameters(tracks: readonly TrackParameters[], epoch: number): void {
    this.tracks = tracks;
    this.epoch = epoch;
    for (const r of this.readers) r.onParameters(tracks, epoch);
  }
  onAccessUnit(unit: AccessUnit): void {
    for (const r of this.readers) r.onAccessUnit(unit);
  }
  add(reader: Fmp4LiveReader): void {
    this.readers.add(reader);
    if (this.tracks.length > 0) reader.onParameters(this.tracks, this.epoch);
  }
  backlog(): number {
    return 0;
  }
  close(reason: string): void {
    for (const r of this.readers) r.close(reason);
  }
}

let media: EncodedMedia;
let browser: Browser;
let page: Page;
let server: Server;
let sockets: WebSocketServer;
let feed: LiveFeed;
const fanout = new Fanout();

const PAGE = `<!doctype html><html><body style="margin:0;background:#000">
<video id="v" muted autoplay playsinline style="width:640px"></video>
<script type="module">
  import { MseLivePlayer } from '/mse-live.js';
  window.states = [];
  const player = new MseLivePlayer(document.getElementById('v'), 'ws://' + location.host + '/live', { onState: (s) => window.states.push(s) });
  player.start();
  window.player = player;
</script></body></html>`;

beforeAll(async () => {
  media = await encodeTestMedia({ codec: 'h264', seconds: 4, bframes: 2, gop: 25, audio: true, width: 640, height: 360 });
  const source = await readFile(join(repoRoot, 'web/src/player/mse-live.ts'), 'utf8');
  const moduleJs = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  server = createServer((req, res) => {
    if (req.url === '/mse-live.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(moduleJs);
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(PAGE);
  });
  sockets = new WebSocketServer({ server, path: '/live' });
  sockets.on('connection', (ws: WebSocket) => {
    const reader = new Fmp4LiveReader({
      sendText: (text) => ws.send(text),
      sendBinary: (chunk) => ws.send(chunk),
      bufferedBytes: () => ws.bufferedAmount,
      close: (reason) => ws.close(1000, reason.slice(0, 120)),
    });
    fanout.add(reader);
    ws.on('close', () => {
      fanout.readers.delete(reader);
      reader.close('viewer left');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  feed = feedLive(fanout, media.tracks, media.units);
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  feed?.stop();
  fanout.close('test over');
  sockets?.close();
  server?.closeAllConnections();
  await new Promise((done) => server?.close(done));
});

const currentTime = (): Promise<number> => page.evaluate<number>(`document.getElementById('v').currentTime`);
const waitForTimeAbove = (t: number): Promise<unknown> =>
  page.waitForFunction(`document.getElementById('v').currentTime > ${t}`, undefined, { timeout: 90_000, polling: 200 });

describe('live fMP4 over WebSocket in Chromium (MSE)', () => {
  it('plays: video.currentTime advances and the tile says playing', async () => {
    await waitForTimeAbove(3);
    expect(await currentTime()).toBeGreaterThan(3);
    const states = await page.evaluate<Array<{ kind: string }>>('window.states');
    expect(states.map((s) => s.kind)).toContain('playing');
    expect(states.filter((s) => s.kind === 'error')).toEqual([]);
  }, 120_000);

  it('sits near the live edge', async () => {
    // After a few seconds of catching up the playhead is within the player's target band of the buffered end.
    const start = await currentTime();
    await waitForTimeAbove(start + 4);
    const stats = await page.evaluate<{ latencySec: number }>('window.player.stats()');
    console.info(`MSE buffered-end latency: ${stats.latencySec.toFixed(2)} s`);
    expect(stats.latencySec).toBeLessThan(1.5);
  }, 120_000);

  it('keeps playing across a new epoch (new init segment on the same timeline)', async () => {
    feed.stop();
    const t = await currentTime();
    feed = feedLive(fanout, media.tracks, media.units, { epoch: 2 });
    await waitForTimeAbove(t + 4);
    const stats = await page.evaluate<{ epoch: number }>('window.player.stats()');
    expect(stats.epoch).toBe(2);
    const states = await page.evaluate<Array<{ kind: string }>>('window.states');
    expect(states.filter((s) => s.kind === 'error')).toEqual([]);
  }, 120_000);
});
