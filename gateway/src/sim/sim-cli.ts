/**
 * `sharp-eyes sim`: runs a DeviceFleet from command-line options (parsed in ../cli.ts), prints progress and
 * a summary, and hands back a stop function (the CLI calls it on SIGINT/SIGTERM).
 *
 * Output: progress on stderr (rewritten in place on a terminal, one line every 5 s otherwise), summaries on
 * stdout. With `quiet` only the final summary is printed, when the simulator stops.
 *
 * Media: after the devices are queued, the shared video loops (main and sub) are encoded in the background (or
 * read from the disk cache), so the first INVITEs are answered without waiting for ffmpeg. The personalised
 * loops (the first 16 channels show their own ID) are encoded when first INVITEd and cached on disk; until one
 * is ready (≤ 3 s wait) that channel shows the shared loop.
 */
import { DeviceFleet } from './fleet.js';
import type { SimAudioCodec, SimVideoCodec } from './media-source.js';

export interface SimCliOptions {
  /** Gateway SIP address, host:port. */
  server: string;
  devices: number;
  channels: number;
  transport: 'udp' | 'tcp';
  password: string;
  idPrefix: string;
  keepaliveSec: number;
  expiresSec?: number;
  nvrEvery?: number;
  platformChannels?: number;
  ratePerSecond?: number;
  alarmEverySec?: number;
  localHost?: string;
  /** Video codec of the cameras. Default h264. */
  codec?: SimVideoCodec;
  /** G.711A audio in the PS stream. Default none. */
  audio?: SimAudioCodec;
  quiet?: boolean;
}

const PROGRESS_INTERVAL_TTY_MS = 1_000;
const PROGRESS_INTERVAL_LOG_MS = 5_000;

function seconds(ms: number): string {
  return (ms / 1_000).toFixed(ms < 10_000 ? 2 : 1);
}

export async function runSimulatorCli(opts: SimCliOptions): Promise<() => Promise<void>> {
  const fleet = new DeviceFleet({
    server: opts.server,
    transport: opts.transport,
    localHost: opts.localHost ?? '127.0.0.1',
    devices: opts.devices,
    nvrEvery: opts.nvrEvery ?? 0,
    channelsPerNvr: opts.channels,
    platformChannels: opts.platformChannels,
    idPrefix: opts.idPrefix,
    password: opts.password,
    keepaliveSec: opts.keepaliveSec,
    expiresSec: opts.expiresSec,
    ratePerSecond: opts.ratePerSecond ?? 0,
    alarmEverySec: opts.alarmEverySec ?? 0,
    codec: opts.codec ?? 'h264',
    audio: opts.audio ?? null,
  });
  const quiet = opts.quiet === true;
  const total = fleet.devices.length;
  const startedAt = Date.now();
  const tty = process.stderr.isTTY === true;

  const describe = (): string => {
    if (opts.platformChannels !== undefined) return `1 lower platform with ${opts.platformChannels} channels`;
    const nvrs = fleet.devices.filter((d) => d.kind === 'nvr').length;
    return nvrs > 0 ? `${total} devices (${nvrs} NVRs with ${opts.channels} channels)` : `${total} devices`;
  };
  const progressLine = (): string => {
    const s = fleet.stats;
    const elapsed = Date.now() - startedAt;
    const rate = elapsed > 0 ? Math.round((s.everRegistered * 1_000) / elapsed) : 0;
    return `registered ${s.registered}/${s.devices}  failures ${s.failures}  in flight ${s.inFlight}  queued ${s.queued}  ${rate}/s  ${seconds(elapsed)} s`;
  };

  if (!quiet) process.stdout.write(`sharp-eyes sim: ${describe()} → ${opts.server} over ${opts.transport.toUpperCase()}\n`);
  // start() encodes (or loads from the disk cache) the media before the first device registers, so a
  // registered camera answers INVITE at once.
  const mediaStartedAt = Date.now();
  let stopped = false;
  await fleet.start();
  if (!quiet) {
    const lib = fleet.mediaSource;
    process.stdout.write(
      `sharp-eyes sim: ${opts.codec ?? 'h264'}${opts.audio ? ` + ${opts.audio}` : ''} media ready in ${seconds(Date.now() - mediaStartedAt)} s ` +
        `(${lib.stats.encodes} encoded, ${lib.stats.diskHits} from ${lib.cacheDir}${lib.hasText ? '' : '; no font found: pictures carry no text'})\n`,
    );
  }

  let announced = false;
  const announceIfDone = (): void => {
    if (announced || fleet.allRegisteredAfterMs === null) return;
    announced = true;
    if (quiet) return;
    if (tty) process.stderr.write('\n');
    process.stdout.write(
      `sharp-eyes sim: all ${total} registered in ${seconds(fleet.allRegisteredAfterMs)} s, ${fleet.failures} failures; keepalive every ${opts.keepaliveSec} s (Ctrl+C stops and unregisters)\n`,
    );
  };
  fleet.on('registered', announceIfDone);

  let lastLogLine = 0;
  const progress = quiet
    ? null
    : setInterval(() => {
        if (tty) process.stderr.write(`\r${progressLine()}\x1b[K`);
        else if (Date.now() - lastLogLine >= PROGRESS_INTERVAL_LOG_MS && !announced) {
          lastLogLine = Date.now();
          process.stderr.write(`${progressLine()}\n`);
        }
      }, tty ? PROGRESS_INTERVAL_TTY_MS : PROGRESS_INTERVAL_LOG_MS / 5);

  return async () => {
    if (stopped) return;
    stopped = true;
    if (progress) clearInterval(progress);
    if (tty && !quiet) process.stderr.write('\n');
    const s = fleet.stats;
    const m = fleet.mediaStats;
    const allAfter = fleet.allRegisteredAfterMs;
    await fleet.stop({ unregister: true });
    process.stdout.write(
      `sharp-eyes sim summary: ${s.everRegistered}/${s.devices} registered (${s.registered} at stop), ${s.failures} failures, ` +
        `${allAfter === null ? 'not all registered' : `all registered after ${seconds(allAfter)} s`}, ` +
        `${m.streamsStarted} streams (${m.activeStreams} at stop, ${(m.bytes / 1e6).toFixed(1)} MB sent), elapsed ${seconds(Date.now() - startedAt)} s\n`,
    );
  };
}
