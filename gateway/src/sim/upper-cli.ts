/**
 * `sharp-eyes sim --upper`: runs an UpperPlatform from command-line options (parsed in ../cli.ts) and prints a
 * status line for each step on stdout — listening, a lower platform registered, its catalog collected, NOTIFY
 * items, keepalives (the first, then every 10th), each played channel with its first-packet time, packets,
 * loss and the frames ffprobe decoded — and a summary when stopped.
 *
 * With --upper-play N, the first N online channels of the catalog are INVITEd one after another, checked
 * (ffprobe on what arrived after --upper-play-sec seconds), and kept playing until the simulator stops.
 *
 * With --upper-playback N, the recordings of the first N online channels are played back from above
 * (`s=Playback`, the --upper-playback-span seconds that ended an hour ago): PAUSE, PLAY with a Range to the
 * middle of the span, Scale 2, each with the gateway's RTSP answer printed, then played to the end (the
 * gateway's MediaStatus 121, answered with BYE) and checked with ffprobe. --upper-download makes them
 * `s=Download` at a=downloadspeed 4 (no control, straight to the end).
 */
import { classifyCatalogItem } from '../codecs/manscdp/messages.js';
import type { SdpMediaTransport } from '../codecs/sdp/sdp.js';
import type { MansrtspRequest } from '../codecs/gb/mansrtsp.js';
import { UpperPlatform, type LowerRegistration, type UpperPlay } from './upper-platform.js';

export interface UpperCliOptions {
  id: string;
  domain: string;
  password: string;
  host: string;
  port: number;
  /** Query the catalog when a lower platform registers. Default true. */
  catalog: boolean;
  subscribe: boolean;
  play: number;
  playTransport: SdpMediaTransport;
  /** Seconds of video collected before ffprobe checks a played channel. */
  playSec: number;
  /** Channels whose recording is played back from above (after the live plays). */
  playback?: number;
  /** Seconds of recording each playback asks for. */
  playbackSpanSec?: number;
  /** s=Download (a=downloadspeed 4) instead of s=Playback. */
  download?: boolean;
  write?: (line: string) => void;
}

export async function runUpperCli(opts: UpperCliOptions): Promise<() => Promise<void>> {
  const write = opts.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const say = (line: string): void => write(`sharp-eyes sim upper: ${line}`);
  const upper = await UpperPlatform.start({ id: opts.id, domain: opts.domain, password: opts.password, host: opts.host, port: opts.port });
  const plays: UpperPlay[] = [];
  let stopped = false;
  say(`listening on ${opts.host}:${upper.port} (SIP over UDP and TCP), ID ${opts.id}, domain ${opts.domain}`);
  say(`add it to the gateway: POST /api/platforms {"id":"${opts.id}","domain":"${opts.domain}","host":"${opts.host}","port":${upper.port},"transport":"udp","password":"…","share":{"all":true}}`);

  upper.on('register-refused', (r) => say(`REGISTER from ${r.id} refused (${r.status}): wrong password`));
  upper.on('keepalive', (r) => {
    if (r.keepalives === 1 || r.keepalives % 10 === 0) say(`keepalive ${r.keepalives} from ${r.id}`);
  });
  upper.on('notify-item', (n) => say(`NOTIFY from ${n.lowerId}: ${n.event || '(no event)'} ${n.deviceId}${n.status ? ` ${n.status}` : ''}`));
  upper.on('remote-bye', (b) => say(`BYE from the gateway for ${b.channelId}`));

  const playOne = async (lower: LowerRegistration, channelId: string): Promise<void> => {
    const play = await upper.play(lower.id, channelId, { transport: opts.playTransport });
    plays.push(play);
    const firstMs = await play.waitForFirstPacket(10_000);
    await new Promise((resolve) => setTimeout(resolve, opts.playSec * 1_000));
    const probe = await play.probe();
    const v = probe.video;
    say(
      `play ${channelId} over ${opts.playTransport}: answer ${play.answer?.host}:${play.answer?.port} y=${play.answer?.ssrc ?? '(none)'}, ` +
        `first packet after ${firstMs.toFixed(0)} ms, ${play.stats.packets} packets, ${play.stats.lost} lost, ` +
        `${v ? `${v.codec} ${v.width}x${v.height}, ${v.frames ?? 0} frames decoded by ffprobe` : 'no video found by ffprobe'}`,
    );
  };

  const playbackOne = async (lower: LowerRegistration, channelId: string): Promise<void> => {
    const spanSec = opts.playbackSpanSec ?? 20;
    const end = Math.floor(Date.now() / 1000) - 3600;
    const mode = opts.download ? 'Download' : 'Playback';
    const play = await upper.playback(lower.id, channelId, { mode, start: end - spanSec, end, transport: opts.playTransport, ...(opts.download ? { downloadSpeed: 4 } : {}) });
    plays.push(play);
    const firstMs = await play.waitForFirstPacket(10_000);
    say(`${mode.toLowerCase()} ${channelId} over ${opts.playTransport}: answer s=${play.answer?.sessionName ?? '?'} y=${play.answer?.ssrc ?? '(none)'}, first packet after ${firstMs.toFixed(0)} ms`);
    if (!opts.download) {
      const steps: Array<[string, Omit<MansrtspRequest, 'cseq'>]> = [
        ['PAUSE', { method: 'PAUSE', pauseTime: 'now' }],
        [`PLAY Range npt=${Math.floor(spanSec / 2)}-`, { method: 'PLAY', range: { start: Math.floor(spanSec / 2) } }],
        ['PLAY Scale 2', { method: 'PLAY', scale: 2 }],
      ];
      for (const [what, req] of steps) {
        const res = await play.control(req);
        const rtsp = res.rtsp;
        say(`${mode.toLowerCase()} ${channelId}: ${what}: SIP ${res.status}, ${rtsp ? `RTSP ${rtsp.status} ${rtsp.reason}${rtsp.range ? ` Range npt=${String(rtsp.range.start)}-` : ''}${rtsp.scale !== undefined ? ` Scale ${rtsp.scale}` : ''}` : 'no RTSP answer'}`);
      }
    }
    await play.waitForEndOfFile((spanSec + 30) * 1_000);
    const probe = await play.probe();
    const v = probe.video;
    say(
      `${mode.toLowerCase()} ${channelId}: MediaStatus 121 (end of the recording) after ${((play.endOfFileAt! - play.invitedAt) / 1000).toFixed(1)} s, ` +
        `${play.stats.packets} packets, ${play.stats.lost} lost, ${v ? `${v.codec} ${v.width}x${v.height}, ${v.frames ?? 0} frames decoded by ffprobe` : 'no video found by ffprobe'}`,
    );
  };

  const onRegistered = async (lower: LowerRegistration): Promise<void> => {
    say(`${lower.id} registered over ${lower.source.transport.toUpperCase()} from ${lower.source.address}:${lower.source.port} (expires ${lower.expires} s)`);
    if (!opts.catalog && opts.play === 0 && !opts.playback) return;
    const catalog = await upper.queryCatalog(lower.id);
    const channels = catalog.items.filter((i) => classifyCatalogItem(i) === 'channel');
    say(
      `catalog of ${lower.id}: ${catalog.items.length}/${catalog.sumNum} items (${channels.length} channels) in ${catalog.parts} parts, ` +
        `${(catalog.totalMs / 1_000).toFixed(2)} s${catalog.complete ? '' : ' — INCOMPLETE'}`,
    );
    if (opts.subscribe) {
      const sub = await upper.subscribeCatalog(lower.id);
      say(`subscribed to the catalog of ${lower.id} for ${sub.expires} s`);
    }
    for (const c of channels.filter((i) => i.status !== 'OFF').slice(0, opts.play)) {
      if (stopped) return;
      await playOne(lower, c.deviceId).catch((err: unknown) => say(`play ${c.deviceId} failed: ${err instanceof Error ? err.message : String(err)}`));
    }
    for (const c of channels.filter((i) => i.status !== 'OFF').slice(0, opts.playback ?? 0)) {
      if (stopped) return;
      await playbackOne(lower, c.deviceId).catch((err: unknown) => say(`playback ${c.deviceId} failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  upper.on('registered', (lower) => {
    onRegistered(lower).catch((err: unknown) => say(`${lower.id}: ${err instanceof Error ? err.message : String(err)}`));
  });

  return async () => {
    if (stopped) return;
    stopped = true;
    const s = upper.stats;
    await upper.stop();
    say(
      `summary: ${s.registersAccepted} registrations (${s.registerChallenges} challenges, ${s.registersRefused} refused), ${s.keepalives} keepalives, ` +
        `${s.notifyItems} NOTIFY items, ${plays.length} streams (${plays.reduce((n, p) => n + p.stats.packets, 0)} packets, ${plays.reduce((n, p) => n + p.stats.lost, 0)} lost)`,
    );
  };
}
