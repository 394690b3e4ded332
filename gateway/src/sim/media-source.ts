/**
 * Media for simulated cameras: short loops of real H.264 / H.265 video (and G.711A audio) encoded once with
 * ffmpeg, kept in memory as access units, and sent over and over so hundreds of cameras cost no encoding.
 *
 * Picture: ffmpeg's `testsrc2` pattern with burnt-in text (the camera's name and channel ID, so an operator
 * sees by eye which camera a tile shows; codec and size, the loop clock
 * `HH:MM:SS.mmm` and the frame number) and a 10-bit frame-index bar (white box = 1, most significant bit left)
 * that a benchmark can read from pixels without OCR. Stream shape: constant frame rate (25 fps), a keyframe
 * every second (GOP = fps, no scene-cut keyframes), no B-frames, SPS/PPS (VPS) before every keyframe, loops a
 * whole number of GOPs long, so every loop starts with a keyframe.
 *
 * Personalised vs shared loops (measured on this 2-core box, ffmpeg 5.1 ultrafast, 10 s loop, CPU seconds):
 * H.264 720p ≈ 1.2–1.4 s, 360p ≈ 0.35 s; H.265 720p ≈ 4.7 s. Encoding every camera's own loop would cost
 * ~1.6 s (H.264) or ~6 s (H.265) of CPU per channel — 500 cameras ≈ 13–50 CPU minutes — so only the first
 * `personalisedChannels` channels of a fleet (default 16) get a loop with their own channel ID; the others
 * share one loop per (codec, size) whose text reads "shared loop". Every loop is cached on disk
 * (`<cacheDir>/<codec>-<w>x<h>-<label>-<hash>.<ext>`, hash over the encode parameters, written via rename so
 * parallel processes never read half a file), so the cost is paid once per machine.
 *
 * Clock (for latency measurements, see media-sender.ts): the burnt-in clock is the position in the loop,
 * frame i ↔ i × 40 ms at 25 fps. The sender records, per stream, the wall-clock time at which loop frame 0
 * was due (`loopEpochMs`) and stamps PS PTS / RTP timestamps from the wall clock (PTS = due epoch ms × 90
 * mod 2^33), so the capture time of any frame is recoverable either from the picture (loop position + the
 * stream's loopEpochMs, unambiguous for latencies below the loop length) or from the PTS (unambiguous for
 * 26.5 h).
 *
 * The simulator spawns ffmpeg itself instead of going through media/ffmpeg/: that module owns the gateway's
 * long-lived packaging children; these are short one-shot encodes of a test tool.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNalUnits, isKeyframeAccessUnit, nalType, splitAnnexBAccessUnits } from '../codecs/ps/annexb.js';

export type SimVideoCodec = 'h264' | 'h265';
export type SimAudioCodec = 'g711a' | 'aac';
/** Main stream (720p) or sub-stream (smaller), as selected by the INVITE's stream attributes. */
export type StreamProfile = 'main' | 'sub';

export interface VideoFrame {
  /** Annex-B access unit (start codes included). */
  data: Buffer;
  keyframe: boolean;
}

export interface VideoLoop {
  codec: SimVideoCodec;
  profile: StreamProfile;
  width: number;
  height: number;
  fps: number;
  /** Frames per keyframe (keyframes sit at multiples of it). */
  gop: number;
  frames: readonly VideoFrame[];
  /** frames.length / fps × 1000. */
  durationMs: number;
  /** The channel ID burnt in, or null for the shared loop. */
  channelId: string | null;
  /** Sum of the access units' sizes. */
  bytes: number;
}

export interface AudioLoop {
  codec: SimAudioCodec;
  sampleRate: number;
  /** G.711A: 20 ms of A-law = 160 bytes per frame. AAC: one ADTS frame of 1024 samples at 16 kHz = 64 ms. */
  frameMs: number;
  frames: readonly Buffer[];
  durationMs: number;
}

export interface MediaLibraryOptions {
  /** Where encoded loops are cached. Default os.tmpdir()/sharp-eyes-sim-media. */
  cacheDir?: string;
  /** Loop length in whole seconds (a whole number of 1 s GOPs). Default 10. */
  loopSeconds?: number;
  /** Default 25. */
  fps?: number;
  /** ffmpeg binary. Default 'ffmpeg' (PATH). */
  ffmpegPath?: string;
  /** TrueType font for drawtext; default: the first DejaVu font found. null = no text (pattern and bar only). */
  fontFile?: string | null;
  /**
   * Font with CJK glyphs for a camera's name (Chinese in the demo); default: the first CJK font found (the
   * test setup installs fonts-wqy-microhei). null, or none found: a name that is not plain ASCII is left out
   * (DejaVu would draw boxes), the channel ID is always there.
   */
  titleFontFile?: string | null;
}

export interface EncodeStats {
  /** ffmpeg runs (cache misses). */
  encodes: number;
  /** Loops read from the disk cache. */
  diskHits: number;
  /** Wall time spent in ffmpeg, ms. */
  encodeMs: number;
}

interface ProfileShape {
  width: number;
  height: number;
  kbps: number;
  fontSize: number;
  bitBox: number;
}

/** 720p main stream and a 640×360 sub-stream, bit rates like a small real camera's defaults. */
export const PROFILE_SHAPES: Readonly<Record<StreamProfile, ProfileShape>> = {
  main: { width: 1280, height: 720, kbps: 2048, fontSize: 44, bitBox: 32 },
  sub: { width: 640, height: 360, kbps: 512, fontSize: 22, bitBox: 16 },
};

/** Bits in the frame-index bar: 1024 frames = 40.96 s at 25 fps, longer than any sensible loop. */
export const FRAME_INDEX_BITS = 10;
const MAX_LOOP_SECONDS = 40;
/** Bump when the encode recipe changes in a way the hash of the arguments would not show. */
const RECIPE_VERSION = 1;

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSansMono.ttf',
];

/** CJK fonts for camera names, in order of preference (Debian package paths). */
const CJK_FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc',
  '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf',
];

/** A camera name as burnt-in text: one line, printable, at most 40 characters. */
export function pictureTitle(name: string | null | undefined): string | null {
  if (!name) return null;
  const line = [...name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim()].slice(0, 40).join('');
  return line.length > 0 ? line : null;
}

/** Where a benchmark finds the frame-index bar in a decoded picture (box k = bit FRAME_INDEX_BITS-1-k). */
export function frameIndexBarLayout(profile: StreamProfile): { x: number; y: number; box: number; pitch: number; bits: number } {
  const s = PROFILE_SHAPES[profile];
  const box = s.bitBox;
  return { x: box + box / 4, y: s.height - box * 3, box, pitch: box + box / 4, bits: FRAME_INDEX_BITS };
}

/** Escape a literal for a filtergraph option value inside single quotes (drawtext text). */
function filterText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/:/g, '\\:').replace(/%/g, '\\%');
}

export class MediaLibrary {
  private static readonly instances = new Map<string, MediaLibrary>();

  /**
   * One library per settings in a process: several fleets (tests, benchmarks) share the loops in memory
   * instead of holding a copy each.
   */
  static shared(opts: MediaLibraryOptions = {}): MediaLibrary {
    const probe = new MediaLibrary(opts);
    const key = JSON.stringify([probe.cacheDir, probe.loopSeconds, probe.fps, probe.fontFile, probe.titleFontFile, probe.ffmpegPath]);
    let lib = MediaLibrary.instances.get(key);
    if (!lib) MediaLibrary.instances.set(key, (lib = probe));
    return lib;
  }

  readonly cacheDir: string;
  readonly loopSeconds: number;
  readonly fps: number;
  readonly fontFile: string | null;
  readonly titleFontFile: string | null;
  readonly stats: EncodeStats = { encodes: 0, diskHits: 0, encodeMs: 0 };
  private readonly ffmpegPath: string;
  private readonly videoLoops = new Map<string, Promise<VideoLoop>>();
  private readonly ready = new Map<string, VideoLoop>();
  private readonly audio = new Map<SimAudioCodec, Promise<AudioLoop>>();
  /** One encode at a time: the machine is small and shared; a queue keeps INVITE answers predictable. */
  private encodeChain: Promise<unknown> = Promise.resolve();
  private staleCleaned = false;

  constructor(opts: MediaLibraryOptions = {}) {
    this.cacheDir = opts.cacheDir ?? join(tmpdir(), 'sharp-eyes-sim-media');
    this.loopSeconds = opts.loopSeconds ?? 10;
    this.fps = opts.fps ?? 25;
    if (!Number.isInteger(this.loopSeconds) || this.loopSeconds < 1 || this.loopSeconds > MAX_LOOP_SECONDS) {
      throw new RangeError(`loopSeconds must be a whole number of seconds from 1 to ${MAX_LOOP_SECONDS}`);
    }
    if (!Number.isInteger(this.fps) || this.fps < 1 || this.fps > 60 || 1000 % this.fps !== 0) {
      // 1000 % fps: frame durations in whole milliseconds keep the wall-clock schedule exact (25 → 40 ms).
      throw new RangeError('fps must divide 1000 (e.g. 25, 20, 10)');
    }
    this.ffmpegPath = opts.ffmpegPath ?? 'ffmpeg';
    this.fontFile = opts.fontFile === undefined ? (FONT_CANDIDATES.find((f) => existsSync(f)) ?? null) : opts.fontFile;
    this.titleFontFile = opts.titleFontFile === undefined ? (CJK_FONT_CANDIDATES.find((f) => existsSync(f)) ?? null) : opts.titleFontFile;
  }

  /** True when text is burnt in (a font was found). */
  get hasText(): boolean {
    return this.fontFile !== null;
  }

  /**
   * A loop, encoding (or reading from the disk cache) on first use. `channelId` null = the shared loop;
   * `name` (a personalised channel's camera name) is burnt in above the channel ID.
   */
  videoLoop(codec: SimVideoCodec, profile: StreamProfile, channelId: string | null, name: string | null = null): Promise<VideoLoop> {
    if (channelId !== null && !/^[0-9A-Za-z_-]{1,32}$/.test(channelId)) throw new RangeError(`bad channel ID for a media loop: ${channelId}`);
    const title = channelId === null ? null : pictureTitle(name);
    const key = `${codec}/${profile}/${channelId ?? ''}/${title ?? ''}`;
    let loop = this.videoLoops.get(key);
    if (!loop) {
      loop = this.loadVideo(codec, profile, channelId, title).then((l) => {
        this.ready.set(key, l);
        return l;
      });
      // A failed encode must not stick: the next INVITE tries again.
      loop.catch(() => this.videoLoops.delete(key));
      this.videoLoops.set(key, loop);
    }
    return loop;
  }

  /** The loop if it is already in memory (no waiting). */
  readyVideoLoop(codec: SimVideoCodec, profile: StreamProfile, channelId: string | null, name: string | null = null): VideoLoop | undefined {
    return this.ready.get(`${codec}/${profile}/${channelId ?? ''}/${channelId === null ? '' : (pictureTitle(name) ?? '')}`);
  }

  /**
   * A tone (440 Hz with a beep at every whole second) as long as the video loop: G.711 A-law (the GB default), or
   * AAC-LC in ADTS as many IPCs send it in PS (16 kHz mono).
   */
  audioLoop(codec: SimAudioCodec = 'g711a'): Promise<AudioLoop> {
    let loop = this.audio.get(codec);
    if (!loop) {
      loop = codec === 'aac' ? this.loadAacAudio() : this.loadAudio();
      loop.catch(() => this.audio.delete(codec));
      this.audio.set(codec, loop);
    }
    return loop;
  }

  /** Bytes held in memory by loaded loops. */
  get memoryBytes(): number {
    let total = 0;
    for (const loop of this.ready.values()) total += loop.bytes;
    return total;
  }

  // ------------------------------------------------------------------------------------------ encoding

  private videoArgs(codec: SimVideoCodec, profile: StreamProfile, channelId: string | null, title: string | null): string[] {
    const s = PROFILE_SHAPES[profile];
    const gop = this.fps;
    const filters: string[] = [];
    const bar = frameIndexBarLayout(profile);
    filters.push(`drawbox=x=${bar.x - bar.box / 4}:y=${bar.y - bar.box / 4}:w=${bar.pitch * bar.bits + bar.box / 4}:h=${bar.box * 1.5}:color=black:t=fill`);
    for (let k = 0; k < bar.bits; k++) {
      const bit = bar.bits - 1 - k;
      filters.push(`drawbox=x=${bar.x + k * bar.pitch}:y=${bar.y}:w=${bar.box}:h=${bar.box}:color=white:t=fill:enable='eq(mod(floor(n/${2 ** bit}),2),1)'`);
    }
    if (this.fontFile) {
      const font = `fontfile='${filterText(this.fontFile)}':fontsize=${s.fontSize}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=${Math.round(s.fontSize / 5)}`;
      const margin = s.fontSize;
      // One text height of room at the top: a wall tile's name bar covers that strip of the picture.
      const top = s.fontSize;
      const line = (n: number): number => top + margin + n * Math.round(s.fontSize * 1.5);
      const label = `${codec === 'h264' ? 'H.264' : 'H.265'} ${profile} ${s.width}x${s.height} ${this.fps}fps`;
      // The camera's name on the top line, larger (Chinese needs the CJK font; plain ASCII does with DejaVu).
      const titleFont = title === null ? null : /^[\x20-\x7e]*$/.test(title) ? this.fontFile : this.titleFontFile;
      if (title !== null && titleFont !== null) {
        const size = Math.round(s.fontSize * 1.3);
        filters.push(
          `drawtext=fontfile='${filterText(titleFont)}':fontsize=${size}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=${Math.round(size / 5)}:x=${margin}:y=${top + Math.round(margin * 0.6)}:text='${filterText(title)}'`,
        );
      }
      filters.push(`drawtext=${font}:x=${margin}:y=${line(1)}:text='${filterText(channelId ?? 'shared loop')}'`);
      filters.push(`drawtext=${font}:x=${margin}:y=${line(2)}:text='${filterText(label)}'`);
      // Loop clock and frame number: ffmpeg expands %{pts:hms} and %{frame_num} per frame.
      filters.push(`drawtext=${font}:x=${margin}:y=${line(3)}:text='%{pts\\:hms}  #%{frame_num}'`);
    }
    const encoder =
      codec === 'h264'
        ? [
            '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline',
            '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0',
          ]
        : [
            '-c:v', 'libx265', '-preset', 'ultrafast',
            '-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:bframes=0:open-gop=0:repeat-headers=1:log-level=error`,
          ];
    return [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'lavfi', '-i', `testsrc2=size=${s.width}x${s.height}:rate=${this.fps}:duration=${this.loopSeconds}`,
      '-vf', filters.join(','),
      ...encoder,
      '-b:v', `${s.kbps}k`, '-maxrate', `${s.kbps}k`, '-bufsize', `${s.kbps}k`,
      '-pix_fmt', 'yuv420p',
      '-f', codec === 'h264' ? 'h264' : 'hevc',
    ];
  }

  private cachePath(kind: string, label: string, args: readonly string[], ext: string): string {
    const hash = createHash('sha256').update(`${RECIPE_VERSION}\n${args.join('\n')}`).digest('hex').slice(0, 10);
    return join(this.cacheDir, `${kind}-${label}-${hash}.${ext}`);
  }

  private async loadVideo(codec: SimVideoCodec, profile: StreamProfile, channelId: string | null, title: string | null): Promise<VideoLoop> {
    const s = PROFILE_SHAPES[profile];
    const args = this.videoArgs(codec, profile, channelId, title);
    const path = this.cachePath(`${codec}-${s.width}x${s.height}`, channelId ?? 'shared', args, codec === 'h264' ? 'h264' : 'h265');
    const bytes = await this.cachedOrEncoded(path, args);
    const loop = this.buildVideoLoop(bytes, codec, profile, channelId);
    if (!loop) {
      await rm(path, { force: true });
      throw new Error(`ffmpeg produced an unusable ${codec} loop (${bytes.length} bytes) at ${path}`);
    }
    return loop;
  }

  /**
   * Access units and keyframe flags of an encoded loop; null when it does not look like what we asked for
   * (wrong frame count, not starting with a keyframe) — a truncated cache file, say.
   */
  private buildVideoLoop(bytes: Buffer, codec: SimVideoCodec, profile: StreamProfile, channelId: string | null): VideoLoop | null {
    const units = splitAnnexBAccessUnits(bytes, codec);
    const expected = this.fps * this.loopSeconds;
    if (units.length !== expected || !isKeyframeAccessUnit(units[0]!, codec)) return null;
    let lastParameterSets: Buffer | null = null;
    const frames: VideoFrame[] = units.map((au) => {
      const keyframe = isKeyframeAccessUnit(au, codec);
      if (!keyframe) return { data: au, keyframe };
      const own = parameterSetsOf(au, codec);
      if (own) lastParameterSets = own;
      // Every keyframe must be decodable on its own (a viewer joins at any of them): add missing parameter sets.
      return { data: !own && lastParameterSets ? Buffer.concat([lastParameterSets, au]) : au, keyframe };
    });
    return {
      codec,
      profile,
      width: PROFILE_SHAPES[profile].width,
      height: PROFILE_SHAPES[profile].height,
      fps: this.fps,
      gop: this.fps,
      frames,
      durationMs: (frames.length * 1000) / this.fps,
      channelId,
      bytes: frames.reduce((sum, f) => sum + f.data.length, 0),
    };
  }

  private async loadAudio(): Promise<AudioLoop> {
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:sample_rate=8000:duration=${this.loopSeconds}`,
      '-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1', '-f', 'alaw',
    ];
    const path = this.cachePath('g711a-8000', 'tone', args, 'alaw');
    const bytes = await this.cachedOrEncoded(path, args);
    const frameBytes = 160;
    if (bytes.length !== this.loopSeconds * 8000) {
      await rm(path, { force: true });
      throw new Error(`ffmpeg produced ${bytes.length} bytes of A-law, expected ${this.loopSeconds * 8000}`);
    }
    const frames: Buffer[] = [];
    for (let off = 0; off + frameBytes <= bytes.length; off += frameBytes) frames.push(bytes.subarray(off, off + frameBytes));
    return { codec: 'g711a', sampleRate: 8000, frameMs: 20, frames, durationMs: frames.length * 20 };
  }

  private async loadAacAudio(): Promise<AudioLoop> {
    const sampleRate = 16000;
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:sample_rate=${sampleRate}:duration=${this.loopSeconds}`,
      '-c:a', 'aac', '-b:a', '32k', '-ar', String(sampleRate), '-ac', '1', '-f', 'adts',
    ];
    const path = this.cachePath(`aac-${sampleRate}`, 'tone', args, 'aac');
    const bytes = await this.cachedOrEncoded(path, args);
    // Whole ADTS frames (7-byte header, 13-bit frame length); a loop of them, headers kept as cameras send them.
    const frames: Buffer[] = [];
    for (let off = 0; off + 7 <= bytes.length; ) {
      const length = ((bytes[off + 3]! & 3) << 11) | (bytes[off + 4]! << 3) | (bytes[off + 5]! >> 5);
      if (bytes[off] !== 0xff || length < 7 || off + length > bytes.length) break;
      frames.push(bytes.subarray(off, off + length));
      off += length;
    }
    const frameMs = (1024 * 1000) / sampleRate;
    if (frames.length < (this.loopSeconds * 1000) / frameMs - 2) {
      await rm(path, { force: true });
      throw new Error(`ffmpeg produced ${frames.length} AAC frames, expected about ${Math.floor((this.loopSeconds * 1000) / frameMs)}`);
    }
    return { codec: 'aac', sampleRate, frameMs, frames, durationMs: frames.length * frameMs };
  }

  private async cachedOrEncoded(path: string, args: readonly string[]): Promise<Buffer> {
    try {
      const cached = await readFile(path);
      this.stats.diskHits++;
      return cached;
    } catch {
      // not cached yet
    }
    const run = this.encodeChain.then(() => this.encodeToFile(path, args));
    this.encodeChain = run.catch(() => undefined);
    await run;
    return readFile(path);
  }

  private async encodeToFile(path: string, args: readonly string[]): Promise<void> {
    // Another process (or an earlier queued request) may have produced it meanwhile.
    if (existsSync(path)) return;
    await mkdir(this.cacheDir, { recursive: true });
    if (!this.staleCleaned) {
      this.staleCleaned = true;
      await this.removeStalePartials();
    }
    const partial = `${path}.${process.pid}.${Date.now()}.part`;
    const startedAt = Date.now();
    try {
      await runFfmpeg(this.ffmpegPath, [...args, '-y', partial]);
      await rename(partial, path);
    } finally {
      await rm(partial, { force: true });
    }
    this.stats.encodes++;
    this.stats.encodeMs += Date.now() - startedAt;
  }

  private async removeStalePartials(): Promise<void> {
    const names = await readdir(this.cacheDir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.part')) continue;
      const path = join(this.cacheDir, name);
      const info = await stat(path).catch(() => null);
      if (info && Date.now() - info.mtimeMs > STALE_PARTIAL_MS) await rm(path, { force: true });
    }
  }
}

/** The SPS/PPS (and VPS) NAL units of an access unit, start codes included, concatenated; null if none. */
function parameterSetsOf(au: Buffer, codec: SimVideoCodec): Buffer | null {
  const parts = findNalUnits(au)
    .filter((nal) => {
      const type = nalType(codec, au[nal.header]!);
      return codec === 'h264' ? type === 7 || type === 8 : type >= 32 && type <= 34;
    })
    .map((nal) => au.subarray(nal.start, nal.end));
  return parts.length > 0 ? Buffer.concat(parts) : null;
}

/** A process that died mid-encode leaves `*.part` files behind; they are useless after a few minutes. */
const STALE_PARTIAL_MS = 10 * 60_000;

function runFfmpeg(ffmpegPath: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4_000) stderr += chunk;
    });
    child.on('error', (err) => reject(new Error(`cannot run ${ffmpegPath}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${ffmpegPath} exited with ${code ?? signal}: ${stderr.trim().slice(0, 1_000)}`));
    });
  });
}
