// Live-video benchmark helpers: the gateway configured for media, play/stop through the API, HLS playlist
// parsing and "is this playable" checks, and a player-like playlist poller that counts stalls.
import http from 'node:http';
import { startGatewayProcess } from './gateway.mjs';

/**
 * The gateway child with live video on loopback: RTP ports `ports` ("a-b"), at most `maxStreams` streams.
 * The catalog query after REGISTER is off (a camera is played by its device ID, which the gateway resolves
 * without a catalog), so registration does not load the run.
 */
export function startMediaGateway({ ports, maxStreams = 1000, env = {}, cpuProfileDir = null, nodeFlags = [] } = {}) {
  return startGatewayProcess({
    env: {
      SE_MEDIA_HOST: '127.0.0.1',
      SE_MEDIA_PORTS: ports,
      SE_MEDIA_MAX_STREAMS: String(maxStreams),
      SE_SIP_CATALOG_ON_REGISTER: 'false',
      ...env,
    },
    cpuProfileDir,
    nodeFlags,
  });
}

/** Minimal HTTP client (keep-alive): POST/DELETE/GET with bearer token, JSON or raw bytes. */
export class HttpClient {
  constructor(baseUrl, token, { maxSockets = 16 } = {}) {
    this.base = new URL(baseUrl);
    this.token = token;
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** → { status, body (JSON if JSON, else Buffer), bytes, ms } */
  request(method, path, { body, auth = true, timeoutMs = 30_000 } = {}) {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
      const headers = {};
      if (auth) headers.authorization = `Bearer ${this.token}`;
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const req = http.request({ host: this.base.hostname, port: this.base.port, path, method, agent: this.agent, headers, timeout: timeoutMs }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          let parsed = buf;
          if ((res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(buf.toString('utf8'));
            } catch {
              parsed = buf.toString('utf8');
            }
          }
          resolve({ status: res.statusCode, body: parsed, bytes: buf.length, ms: performance.now() - started });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** HLS media playlist → { targetDuration, mediaSequence, init, segments: [{ uri, duration }], ended }. */
export function parsePlaylist(text) {
  const out = { targetDuration: null, mediaSequence: 0, init: null, segments: [], ended: false };
  let duration = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-TARGETDURATION:')) out.targetDuration = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) out.mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MAP:')) out.init = /URI="([^"]+)"/.exec(line)?.[1] ?? null;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line === '#EXT-X-ENDLIST') out.ended = true;
    else if (!line.startsWith('#')) {
      out.segments.push({ uri: line, duration });
      duration = null;
    }
  }
  return out;
}

/** Directory part of a signed playlist path: segment URIs are relative to it. */
export function mediaBase(hlsPath) {
  return hlsPath.slice(0, hlsPath.lastIndexOf('/') + 1);
}

/**
 * What a player does first: get the playlist, then the init segment and the newest media segment.
 * → { ok, why, playlist, initBytes, segmentBytes, ms }
 */
export async function checkPlayable(client, hlsPath) {
  const t0 = performance.now();
  const pl = await client.request('GET', hlsPath, { auth: false });
  if (pl.status !== 200) return { ok: false, why: `playlist ${pl.status}`, ms: performance.now() - t0 };
  const playlist = parsePlaylist(Buffer.isBuffer(pl.body) ? pl.body.toString('utf8') : String(pl.body));
  if (playlist.segments.length === 0) return { ok: false, why: 'playlist lists no segment', playlist, ms: performance.now() - t0 };
  const base = mediaBase(hlsPath);
  const [init, seg] = await Promise.all([
    playlist.init ? client.request('GET', base + playlist.init, { auth: false }) : Promise.resolve({ status: 200, bytes: 0 }),
    client.request('GET', base + playlist.segments[playlist.segments.length - 1].uri, { auth: false }),
  ]);
  const ok = init.status === 200 && seg.status === 200 && seg.bytes > 0 && (!playlist.init || init.bytes > 0);
  return {
    ok,
    why: ok ? '' : `init ${init.status}/${init.bytes} B, segment ${seg.status}/${seg.bytes} B`,
    playlist,
    initBytes: init.bytes,
    segmentBytes: seg.bytes,
    ms: performance.now() - t0,
  };
}

/**
 * A player-like poller for one stream: GET the playlist every `intervalMs` (which also keeps the viewer alive).
 * Tracks the newest segment number (media sequence + listed − 1) and when it last advanced. A stall is a poll
 * that finds the newest segment unchanged for more than `stallFactor` × target duration (plus half a poll
 * interval, so that timer jitter at the poll granularity does not count: with 1 s polls and 1 s segments a
 * stall means 3 polls in a row without a new segment); each stall is counted once however long it lasts,
 * and its length is recorded when the playlist moves again.
 * `downloadSegments`: also fetch every new segment, as a player would (the gateway then serves the bytes).
 */
export class PlaylistPoller {
  constructor(client, hlsPath, { intervalMs = 1000, stallFactor = 2, downloadSegments = false } = {}) {
    this.client = client;
    this.path = hlsPath;
    this.base = mediaBase(hlsPath);
    this.intervalMs = intervalMs;
    this.stallFactor = stallFactor;
    this.downloadSegments = downloadSegments;
    this.timer = null;
    this.busy = false;
    this.newest = null;
    this.lastAdvanceAt = null;
    this.targetDuration = 1;
    this.stalls = 0;
    this.stallLengthsMs = [];
    this.inStall = false;
    this.polls = 0;
    this.errors = 0;
    this.lastError = '';
    this.skippedPolls = 0;
    this.segmentBytes = 0;
    this.segmentsFetched = 0;
    this.pollMs = [];
    this.mark = null;
    /** Media time (EXTINF) of the segments seen appearing: tells late segments from long ones. */
    this.mediaSeconds = 0;
    this.segmentDurations = [];
  }

  start(phaseMs = Math.random() * this.intervalMs) {
    setTimeout(() => {
      if (this.stopped) return;
      void this.poll();
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
    }, phaseMs);
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Start a measurement window: counters below are then relative to it. */
  markWindow() {
    this.mark = { at: performance.now(), newest: this.newest, stalls: this.stalls, stallLengths: this.stallLengthsMs.length, polls: this.polls, errors: this.errors, mediaSeconds: this.mediaSeconds };
  }

  window() {
    const m = this.mark ?? { at: 0, newest: null, stalls: 0, stallLengths: 0, polls: 0, errors: 0, mediaSeconds: 0 };
    return {
      segmentsProduced: this.newest !== null && m.newest !== null ? this.newest - m.newest : null,
      mediaSecondsProduced: m.newest !== null ? this.mediaSeconds - m.mediaSeconds : null,
      segmentDurationsSec: this.segmentDurations.slice(-10),
      stalls: this.stalls - m.stalls,
      stallLengthsMs: this.stallLengthsMs.slice(m.stallLengths),
      polls: this.polls - m.polls,
      errors: this.errors - m.errors,
      seconds: (performance.now() - m.at) / 1000,
    };
  }

  async poll() {
    if (this.busy) {
      // The previous poll has not come back: the gateway (or this process) is behind.
      this.skippedPolls++;
      return;
    }
    this.busy = true;
    const now = performance.now();
    try {
      const res = await this.client.request('GET', this.path, { auth: false, timeoutMs: 10_000 });
      this.polls++;
      this.pollMs.push(res.ms);
      if (this.pollMs.length > 600) this.pollMs.splice(0, this.pollMs.length - 600);
      if (res.status !== 200) {
        this.errors++;
        this.lastError = `playlist ${res.status}`;
        return;
      }
      const pl = parsePlaylist(res.body.toString('utf8'));
      if (pl.targetDuration) this.targetDuration = pl.targetDuration;
      if (pl.segments.length === 0) return;
      const newest = pl.mediaSequence + pl.segments.length - 1;
      if (this.newest === null || newest > this.newest) {
        if (this.newest !== null) {
          for (const s of pl.segments.slice(Math.max(0, pl.segments.length - (newest - this.newest)))) {
            if (s.duration !== null) {
              this.mediaSeconds += s.duration;
              this.segmentDurations.push(s.duration);
              if (this.segmentDurations.length > 20) this.segmentDurations.shift();
            }
          }
        }
        if (this.inStall && this.lastAdvanceAt !== null) this.stallLengthsMs.push(now - this.lastAdvanceAt);
        this.inStall = false;
        if (this.downloadSegments && this.newest !== null) {
          const fresh = pl.segments.slice(Math.max(0, pl.segments.length - (newest - this.newest)));
          for (const s of fresh) {
            const r = await this.client.request('GET', this.base + s.uri, { auth: false, timeoutMs: 10_000 });
            if (r.status === 200) {
              this.segmentBytes += r.bytes;
              this.segmentsFetched++;
            }
          }
        }
        this.newest = newest;
        this.lastAdvanceAt = now;
      } else if (!this.inStall && this.lastAdvanceAt !== null && now - this.lastAdvanceAt > this.stallFactor * this.targetDuration * 1000 + this.intervalMs / 2) {
        this.inStall = true;
        this.stalls++;
      }
    } catch (err) {
      this.errors++;
      this.lastError = err.message;
    } finally {
      this.busy = false;
    }
  }
}

/** Run `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}
