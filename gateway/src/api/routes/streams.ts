/**
 * Live video: play a channel, list/inspect/release streams, snapshots — and the media files themselves under
 * /media/<signed token>/…, which need no bearer header (hls.js and <img> cannot send one).
 */
import { readFile, rm } from 'node:fs/promises';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { NotFoundError, type GatewayServices } from '../../domain/services.js';
import type { StreamService } from '../../domain/streams/stream-service.js';
import { grantOf } from '../../domain/streams/media-grants.js';
import { bearerTokenOf, principalOf } from '../authentication.js';
import { errorBody } from '../errors.js';
import { hlsDirectivesOf, MEDIA_FILE_PATTERN, MEDIA_TOKEN_MAX_LENGTH, readMediaFile } from '../media-files.js';
import { NODE_ID_PATTERN, errorCodeProperties, errorResponses } from '../schemas.js';
import { DOWNLOAD_SPEEDS, MAX_DOWNLOAD_SPAN_MS, MAX_PLAYBACK_SPAN_MS, SCALES, validateSpan, type ControlAction } from '../../domain/streams/playback.js';

export interface StreamRoutesOptions {
  streams: StreamService;
  /** The caller's channel scope (domain/auth): out-of-scope channels and their streams answer 404. */
  access?: Pick<GatewayServices, 'assertChannelInScope' | 'channelScopeOf'>;
}

const playErrorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    ...errorCodeProperties,
    step: { type: 'string', enum: ['channel', 'device', 'resources', 'invite', 'answer', 'rtp', 'keyframe', 'packager', 'source'] },
    hint: { type: 'string' },
    sipStatus: { type: 'integer' },
  },
} as const;

const historySchema = {
  type: ['object', 'null'],
  description: 'Playback and download: the span, where the stream is in it, pause and speed (null for live streams).',
  properties: {
    start: { type: 'string' },
    end: { type: 'string' },
    paused: { type: 'boolean' },
    scale: { type: 'number' },
    downloadSpeed: { type: ['integer', 'null'] },
    positionSec: { type: ['number', 'null'], description: 'Seconds from the span start of the latest frame received.' },
    position: { type: ['string', 'null'], description: 'Recording time (ISO) of the latest frame received.' },
    percent: { type: 'number', description: 'Downloads: share of the span received (100 once complete).' },
    bytes: { type: 'integer', description: 'Downloads: MP4 bytes written so far.' },
  },
} as const;

const streamViewSchema = {
  type: 'object',
  properties: {
    streamId: { type: 'string' },
    kind: { type: 'string', enum: ['live', 'playback', 'download'] },
    endReason: { type: ['string', 'null'], description: 'Why an ended stream ended; "end-of-file" when the device finished the span (MediaStatus 121).' },
    history: historySchema,
    channelId: { type: 'string' },
    deviceId: { type: 'string' },
    stream: { type: 'string', enum: ['main', 'sub'] },
    transport: { type: 'string' },
    state: { type: 'string' },
    hls: { type: 'string', description: 'Signed playlist path; works without headers until the token expires.' },
    ws: { type: 'string', description: 'Signed live fMP4 WebSocket path (init message + segment, then a fragment per frame) for Media Source Extensions.' },
    viewerId: { type: 'string' },
    codec: { type: ['string', 'null'] },
    sourceCodec: { type: ['string', 'null'] },
    audio: { type: ['string', 'null'], description: "The camera's audio codec (aac, g711a, g711u); null without audio." },
    hlsAudio: { type: ['string', 'null'], enum: ['aac', null], description: "The audio the returned hls carries for this viewer: aac, or null (no audio, or a G.711 camera's audio left out for a viewer that does not listen)." },
    listening: { type: 'boolean', description: 'This viewer asked to listen (listen: true).' },
    listeners: { type: 'integer', description: 'Viewers of the stream that listen.' },
    audioRendition: { type: 'boolean', description: "The stream's shared AAC rendition (ffmpeg: video copied, G.711 to AAC) runs for its listeners." },
    h264Rendition: { type: 'boolean', description: "The stream's shared H.264 rendition (ffmpeg: H.265 to H.264) runs for viewers without HEVC." },
    width: { type: ['integer', 'null'] },
    height: { type: ['integer', 'null'] },
    ssrc: { type: 'string' },
    localPort: { type: 'integer' },
    viewers: { type: 'integer' },
    startedAt: { type: 'integer' },
    timeToFirstFrameMs: { type: ['integer', 'null'] },
    uptimeSec: { type: 'integer' },
    bitrateKbps: { type: 'number' },
    fps: { type: 'number' },
    packets: { type: 'integer' },
    packetsLost: { type: 'integer' },
    packetLoss: { type: 'number' },
    reordered: { type: 'integer' },
    foreignSsrcDropped: { type: 'integer' },
    frames: { type: 'integer', description: 'Video access units received.' },
    bytes: { type: 'integer', description: 'Media payload bytes received.' },
    droppedFrames: { type: 'integer', description: 'Frames dropped before the readers (broken PS, waiting for a keyframe, bad parameter sets).' },
    epoch: { type: 'integer', description: 'Timeline restarts (camera restart, new SSRC, timestamp jump, codec or resolution change).' },
    heldBytes: { type: 'integer', description: 'Media bytes held in memory now: the GOP cache and the LL-HLS window.' },
    readers: {
      type: 'array',
      description: 'What the stream feeds (packager, LL-HLS, live fMP4, snapshot) and how far behind each is.',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          kind: { type: 'string' },
          addedAt: { type: 'integer' },
          units: { type: 'integer' },
          bytes: { type: 'integer' },
          skipped: { type: 'integer' },
          backlog: { type: 'integer' },
          lagMs: { type: 'integer' },
        },
      },
    },
    lastError: { type: ['string', 'null'] },
  },
} as const;

const streamIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } },
} as const;

const channelIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: NODE_ID_PATTERN } },
} as const;

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, { streams, access }) => {
  const inScope = (request: FastifyRequest, channelId: string): boolean => access?.channelScopeOf?.(principalOf(request)).coversChannel(channelId) ?? true;
  const requireScope = (request: FastifyRequest, channelId: string): void => access?.assertChannelInScope?.(channelId, principalOf(request));

  app.post<{ Params: { id: string }; Body: { stream?: 'main' | 'sub'; transport?: 'udp' | 'tcp-passive' | 'tcp-active'; transcode?: boolean; listen?: boolean; until?: 'playable' | 'keyframe' } }>(
    '/channels/:id/play',
    {
      schema: {
        tags: ['streams'],
        summary: 'Open live video of a channel; answers once the HLS stream is playable (or with the step that failed).',
        params: channelIdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            stream: { type: 'string', enum: ['main', 'sub'] },
            transport: { type: 'string', enum: ['udp', 'tcp-passive', 'tcp-active'] },
            transcode: { type: 'boolean', description: "This viewer needs H.264 (a browser without HEVC): an H.265 stream is transcoded; on a running H.265 stream the viewer gets the stream's shared H.264 rendition. The answer's codec is the codec of the returned hls." },
            until: {
              type: 'string',
              enum: ['playable', 'keyframe'],
              default: 'playable',
              description:
                "When to answer: playable (default) once the hls has its first segment; keyframe as soon as the camera's first key frame is in, for a client that plays the live fMP4 ws (it starts from that GOP, about one GOP sooner). With keyframe the answer may say state starting and the hls may not list a segment yet.",
            },
            listen: { type: 'boolean', description: "This viewer listens (an unmuted tile): the returned hls carries the audio as AAC. A G.711 camera's stream is served video-only to viewers that do not listen; a listener gets the stream's shared AAC rendition, stopped when its last listener leaves. The answer's hlsAudio says what the hls carries." },
          },
        },
        response: { 200: streamViewSchema, 404: playErrorSchema, 409: playErrorSchema, 502: playErrorSchema, 503: playErrorSchema, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      // A media URL is only issued for a channel in the caller's scope.
      requireScope(request, request.params.id);
      // Held under the caller's grant: ending its session / signing out revokes it (media-grants.ts).
      return streams.play({ channelId: request.params.id, ...(request.body ?? {}) }, grantOf(principalOf(request), bearerTokenOf(request.headers.authorization)));
    },
  );

  app.post<{ Params: { id: string }; Body: { start: string; end: string; transport?: 'udp' | 'tcp-passive' | 'tcp-active'; transcode?: boolean } }>(
    '/channels/:id/playback',
    {
      schema: {
        tags: ['streams'],
        summary: "Play back the device's recording of a span (INVITE s=Playback); a stream of its own, answered once playable. Control it with POST /api/streams/{id}/control.",
        params: channelIdParams,
        body: {
          type: 'object',
          required: ['start', 'end'],
          additionalProperties: false,
          properties: {
            start: { type: 'string', description: 'ISO 8601 date-time.' },
            end: { type: 'string', description: `ISO 8601 date-time; after start, not in the future, at most ${MAX_PLAYBACK_SPAN_MS / 3600_000} h after start.` },
            transport: { type: 'string', enum: ['udp', 'tcp-passive', 'tcp-active'] },
            transcode: { type: 'boolean', description: 'Transcode H.265 to H.264 for browsers without HEVC.' },
          },
        },
        response: { 200: streamViewSchema, 404: playErrorSchema, 409: playErrorSchema, 502: playErrorSchema, 503: playErrorSchema, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      requireScope(request, request.params.id);
      const { start, end, transport, transcode } = request.body;
      const span = validateSpan(start, end, { fieldPrefix: 'body', maxSpanMs: MAX_PLAYBACK_SPAN_MS });
      return streams.playback(
        { channelId: request.params.id, span, ...(transport ? { transport } : {}), ...(transcode !== undefined ? { transcode } : {}) },
        grantOf(principalOf(request), bearerTokenOf(request.headers.authorization)),
      );
    },
  );

  app.post<{ Params: { id: string }; Body: { action: ControlAction; value?: number | string } }>(
    '/streams/:id/control',
    {
      schema: {
        tags: ['streams'],
        summary: 'Pause, resume, seek or change the speed of a playback (MANSRTSP in SIP INFO). 409 for live streams.',
        params: streamIdParams,
        body: {
          type: 'object',
          required: ['action'],
          additionalProperties: false,
          properties: {
            action: { type: 'string', enum: ['pause', 'resume', 'seek', 'speed'] },
            value: {
              type: ['number', 'string'],
              description: `seek: seconds from the span start, or an ISO date-time inside the span; speed: one of ${SCALES.join(', ')}.`,
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              streamId: { type: 'string' },
              action: { type: 'string' },
              mansrtsp: { type: 'string', description: 'What was sent (method and Range/Scale).' },
              device: {
                type: ['object', 'null'],
                description: "The device's MANSRTSP answer (null when it answered the INFO without a body).",
                properties: {
                  status: { type: 'integer' },
                  reason: { type: 'string' },
                  cseq: { type: 'integer' },
                  range: { type: 'object', properties: { start: { type: ['number', 'string'] }, end: { type: 'number' } } },
                  scale: { type: 'number' },
                  rtpInfo: { type: 'object', properties: { seq: { type: 'integer' }, rtptime: { type: 'integer' } } },
                },
              },
              history: historySchema,
            },
          },
          ...errorResponses(400, 401, 404, 409, 502),
        },
      },
    },
    async (request) => {
      const running = streams.get(request.params.id);
      if (!running || !inScope(request, running.channelId)) throw new NotFoundError(`stream ${request.params.id} not found`);
      return streams.control(request.params.id, request.body);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { start: string; end: string; speed: number; transport?: 'udp' | 'tcp-passive' | 'tcp-active' } }>(
    '/channels/:id/download',
    {
      schema: {
        tags: ['streams'],
        summary:
          "Download the device's recording of a span as an MP4 file (INVITE s=Download at a=downloadspeed). The request waits until the device has sent the whole span " +
          '(MediaStatus 121), then the file follows with Content-Disposition; progress meanwhile as stream-status events (kind "download") on /api/ws.',
        params: channelIdParams,
        querystring: {
          type: 'object',
          required: ['start', 'end'],
          properties: {
            start: { type: 'string' },
            end: { type: 'string', description: `At most ${MAX_DOWNLOAD_SPAN_MS / 3600_000} h after start.` },
            speed: { type: 'integer', enum: [...DOWNLOAD_SPEEDS], default: 4 },
            transport: { type: 'string', enum: ['udp', 'tcp-passive', 'tcp-active'] },
          },
        },
        response: { 404: playErrorSchema, 409: playErrorSchema, 502: playErrorSchema, 503: playErrorSchema, ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      requireScope(request, request.params.id);
      const { start, end, speed, transport } = request.query;
      const span = validateSpan(start, end, { fieldPrefix: 'querystring', maxSpanMs: MAX_DOWNLOAD_SPAN_MS });
      // The client hanging up before the file is ready cancels the download (BYE, file removed).
      const abort = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const result = await streams.download({ channelId: request.params.id, span, speed, ...(transport ? { transport } : {}), signal: abort.signal });
      const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15);
      const file = createReadStream(result.file);
      file.once('close', () => void rm(result.file, { force: true }).catch(() => undefined));
      return reply
        .type('video/mp4')
        .header('content-disposition', `attachment; filename="${request.params.id}_${stamp(span.start)}_${stamp(span.end)}.mp4"`)
        .header('content-length', String(result.bytes))
        .header('x-stream-id', result.streamId)
        .header('x-recording-seconds', result.durationSec.toFixed(1))
        .send(file);
    },
  );

  app.get('/streams', {
    schema: { tags: ['streams'], summary: 'Running streams with their statistics.', response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: streamViewSchema } } } } },
  }, async (request) => {
    const items = streams.list().filter((s) => inScope(request, s.channelId));
    return { total: items.length, items };
  });

  app.get<{ Params: { id: string } }>('/streams/:id', {
    schema: { tags: ['streams'], summary: 'One stream.', params: streamIdParams, response: { 200: streamViewSchema, ...errorResponses(400, 401, 404) } },
  }, async (request) => {
    const view = streams.get(request.params.id);
    if (!view || !inScope(request, view.channelId)) throw new NotFoundError(`stream ${request.params.id} not found`);
    return view;
  });

  app.delete<{ Params: { id: string }; Querystring: { viewerId?: string } }>('/streams/:id', {
    schema: {
      tags: ['streams'],
      summary: 'Release a viewer (viewerId from the play answer), or stop the stream for everyone without viewerId.',
      params: streamIdParams,
      querystring: { type: 'object', properties: { viewerId: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } },
      response: { 200: { type: 'object', properties: { viewers: { type: 'integer' } } }, ...errorResponses(400, 401, 404) },
    },
  }, async (request) => {
    const running = streams.get(request.params.id);
    if (running && !inScope(request, running.channelId)) throw new NotFoundError(`stream ${request.params.id} not found`);
    const r = await streams.release(request.params.id, request.query.viewerId);
    if (!r) throw new NotFoundError(`stream ${request.params.id} not found`);
    return r;
  });

  app.get<{ Params: { id: string } }>('/channels/:id/snapshot', {
    schema: { tags: ['streams'], summary: 'A recent JPEG of the channel (from its running stream or a short pull of the sub-stream).', params: channelIdParams },
  }, async (request, reply) => {
    requireScope(request, request.params.id);
    const dir = mkdtempSync(join(tmpdir(), 'se-snap-'));
    try {
      const file = join(dir, 'snapshot.jpg');
      await streams.snapshot(request.params.id, file);
      const jpeg = await readFile(file);
      return reply.type('image/jpeg').header('cache-control', 'no-store').send(jpeg);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
};

/** GET /media/<token>/<file>: token-checked HLS files. Playlist fetches count as viewer heartbeats. */
export const mediaRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, { streams }) => {
  // WebSocket /media/<token>/live: live fMP4 for MSE (readers/fmp4-live). The open socket is the viewer's
  // heartbeat; a socket that cannot keep up is skipped to the next keyframe or closed with the reason.
  app.get<{ Params: { token: string } }>('/media/:token/live', { websocket: true }, (socket, request) => {
    const refuse = (code: number, reason: string): void => {
      socket.send(JSON.stringify({ type: 'end', reason }));
      socket.close(code, reason.slice(0, 120));
    };
    const token = request.params.token;
    if (token.length > MEDIA_TOKEN_MAX_LENGTH) return refuse(4400, 'media token too long');
    const verdict = streams.tokens.verify(token);
    if (!verdict.ok) return refuse(verdict.reason === 'expired' ? 4403 : 4401, `media token ${verdict.reason}`);
    const handle = streams.attachLive(verdict.claims.streamId, verdict.claims.viewerId, {
      sendText: (text) => socket.send(text),
      sendBinary: (chunk) => socket.send(chunk),
      bufferedBytes: () => socket.bufferedAmount,
      close: (reason) => socket.close(1000, reason.slice(0, 120)),
    });
    if (!handle) return refuse(4404, 'stream not running (it may have been torn down after its viewers left)');
    socket.on('error', (err) => request.log.debug({ err }, 'live fMP4 socket error'));
    socket.once('close', () => handle.detach());
  });

  app.get<{ Params: { token: string; file: string }; Querystring: Record<string, string> }>(
    '/media/:token/:file',
    {
      schema: {
        tags: ['streams'],
        summary: 'HLS playlist and segments of a stream (signed, expiring token in the path).',
        params: {
          type: 'object',
          required: ['token', 'file'],
          properties: { token: { type: 'string', maxLength: MEDIA_TOKEN_MAX_LENGTH }, file: { type: 'string', pattern: MEDIA_FILE_PATTERN.source } },
        },
      },
    },
    async (request, reply) => {
      // Shared with the media WebSocket (media-mux.ts): both answer a signed path exactly alike.
      const result = await readMediaFile(streams, request.params.token, request.params.file, hlsDirectivesOf(request.query));
      if (!result.ok) return reply.code(result.status).send(errorBody(result.status, result.message, undefined, result.code ? { code: result.code } : undefined));
      return reply
        .type(result.contentType)
        .header('cache-control', result.cacheControl)
        .header('access-control-allow-origin', '*')
        .send(result.body);
    },
  );
};
