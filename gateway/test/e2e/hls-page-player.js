/*
 * Browser side of the hls.js playback test (gateway/test/e2e/browser-playback.test.ts) and of
 * bench/glass-to-glass.mjs. Injected with page.addScriptTag after hls.min.js, into a page of the gateway's
 * own origin, so the media URLs are plain same-origin GETs like the web wall's. `startMse` plays the live fMP4
 * WebSocket instead, with the wall's own MseLivePlayer (web/src/player/mse-live.ts, transpiled and put on
 * window.MseLivePlayer by the caller) and its default latency settings.
 *
 * Plain browser JavaScript on purpose: the project's tsconfig has no DOM library, and adding one for a test
 * would change the globals every other file is checked against. The Node side talks to it only through
 * window.hlsPagePlayer (JSON-serialisable results).
 */
(() => {
  /** @type {{ type: string, details: string, fatal: boolean, reason: string }[]} */
  const errors = [];
  /** @type {any} */
  let hls = null;
  /** @type {any} */
  let mse = null;
  /** @type {HTMLVideoElement | null} */
  let video = null;
  /** @type {HTMLCanvasElement | null} */
  let canvas = null;
  /** Frames seen by requestVideoFrameCallback: { index, presentedEpochMs } (only while sampling). */
  let frameSamples = [];
  let sampling = null;
  /** Epoch ms at which the first frame of the current video was presented (null until then). */
  let firstFrameEpochMs = null;

  function createVideo(size) {
    // Keep the placeholder page (its /healthz poll keeps running against its own elements) but hide it.
    for (const el of document.body.children) el.hidden = true;
    video = document.createElement('video');
    video.id = 'player';
    video.muted = true; // autoplay without a user gesture needs a muted element
    video.autoplay = true;
    video.playsInline = true;
    video.style.cssText = `position:fixed;left:0;top:0;width:${size.width}px;height:${size.height}px;background:#000`;
    document.body.appendChild(video);
    // The first frame the compositor presents (bench/ttff.mjs: play API call → first frame in the browser).
    firstFrameEpochMs = null;
    if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
      const own = video;
      own.requestVideoFrameCallback((_now, meta) => {
        if (video === own) firstFrameEpochMs = performance.timeOrigin + meta.expectedDisplayTime;
      });
    }
  }

  /** Seeks to hls.js's live sync position made by the wall's seekToLiveOnPlaying (when `seekToLive` was asked). */
  let liveSeeks = 0;

  /**
   * `options.seekToLive`: run the wall's one seek to the live sync position when the video plays
   * (window.seekToLiveOnPlaying, web/src/player/hls-tuning.ts, injected by the caller), as its LL-HLS tiles do.
   */
  function start(url, config, size, options = {}) {
    if (!window.Hls) throw new Error('hls.js is not loaded');
    if (!window.Hls.isSupported()) throw new Error('hls.js: MediaSource Extensions are not supported here');
    createVideo(size);
    hls = new window.Hls(config);
    liveSeeks = 0;
    if (options.seekToLive) {
      if (!window.seekToLiveOnPlaying) throw new Error('seekToLiveOnPlaying is not loaded');
      window.seekToLiveOnPlaying(hls, video, () => liveSeeks++);
    }
    hls.on(window.Hls.Events.ERROR, (_event, data) => {
      errors.push({ type: String(data.type), details: String(data.details), fatal: Boolean(data.fatal), reason: String(data.reason ?? data.error?.message ?? '') });
    });
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
      video.play().catch((err) => errors.push({ type: 'play', details: String(err), fatal: false, reason: 'video.play() rejected' }));
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  /** Live fMP4 over a WebSocket (`path` is the play answer's `ws`, same origin). */
  function startMse(path, size) {
    if (!window.MseLivePlayer) throw new Error('MseLivePlayer is not loaded');
    createVideo(size);
    const url = new URL(path, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    mse = new window.MseLivePlayer(video, url.toString(), {
      onState: (s) => {
        if (s.kind === 'error' || s.kind === 'ended') errors.push({ type: 'mse', details: s.kind, fatal: true, reason: s.reason });
      },
    });
    mse.start();
  }

  function state() {
    const v = video;
    return {
      currentTime: v ? v.currentTime : 0,
      paused: v ? v.paused : true,
      readyState: v ? v.readyState : 0,
      videoWidth: v ? v.videoWidth : 0,
      videoHeight: v ? v.videoHeight : 0,
      decodedFrames: v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
      droppedFrames: v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().droppedVideoFrames : 0,
      mediaError: v && v.error ? `${v.error.code}: ${v.error.message}` : null,
      latency: hls && Number.isFinite(hls.latency) ? hls.latency : mse ? mse.stats().latencySec : null,
      playingDateMs: hls && hls.playingDate ? hls.playingDate.getTime() : null,
      errors: errors.slice(),
      nowMs: Date.now(),
      firstFrameEpochMs,
      liveSeeks,
    };
  }

  /**
   * Read the simulator's frame-index bar (see gateway/src/sim/media-source.ts frameIndexBarLayout) from the
   * frame the video element shows now: one white box per set bit, most significant bit left. Returns null
   * when no frame is there yet.
   */
  function readFrameIndex(bar) {
    if (!video || video.videoWidth === 0) return null;
    if (!canvas) canvas = document.createElement('canvas');
    if (canvas.width !== video.videoWidth) canvas.width = video.videoWidth;
    if (canvas.height !== video.videoHeight) canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    // Only the bar's rows are needed; drawing the whole frame keeps the coordinates those of the source.
    ctx.drawImage(video, 0, 0);
    const rows = ctx.getImageData(0, bar.y, canvas.width, bar.box).data;
    let index = 0;
    for (let k = 0; k < bar.bits; k++) {
      const x = bar.x + k * bar.pitch + bar.box / 2;
      const y = bar.box / 2;
      const i = (y * canvas.width + x) * 4;
      const luma = 0.299 * rows[i] + 0.587 * rows[i + 1] + 0.114 * rows[i + 2];
      if (luma > 128) index |= 1 << (bar.bits - 1 - k);
    }
    return index;
  }

  /**
   * Start recording, for every frame the compositor presents, its frame index and the wall-clock time it
   * was put on screen (requestVideoFrameCallback's expectedDisplayTime, on the performance clock, moved to
   * epoch ms). Draining returns what was recorded since the last drain.
   */
  function startFrameSampling(bar) {
    if (!video || !('requestVideoFrameCallback' in HTMLVideoElement.prototype)) return false;
    const token = {};
    sampling = token;
    const onFrame = (_now, meta) => {
      if (sampling !== token) return;
      const index = readFrameIndex(bar);
      if (index !== null) frameSamples.push({ index, presentedEpochMs: performance.timeOrigin + meta.expectedDisplayTime, mediaTime: meta.mediaTime });
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    return true;
  }

  function drainFrameSamples() {
    const out = frameSamples;
    frameSamples = [];
    return out;
  }

  function destroy() {
    sampling = null;
    if (hls) hls.destroy();
    hls = null;
    if (mse) mse.close();
    mse = null;
  }

  window.hlsPagePlayer = { start, startMse, state, readFrameIndex, startFrameSampling, drainFrameSamples, destroy };
})();
