/**
 * SDP as GB/T 28181 uses it (2022 Annex G, 2016 Annex F; protocol brief §4.2–4.4): RFC 4566 lines plus the GB
 * `y=` (SSRC) and `f=` (media format) lines, TCP roles from RFC 4145/4571 (`a=setup`, `a=connection`), and
 * the vendor sub-stream attributes (`a=streamnumber` 2022, `a=streamprofile` Dahua, `a=stream`,
 * `a=streamMode` Mercury/TP-Link). Pure.
 *
 * Written by hand: the npm SDP packages (sdp-transform, sdp) model WebRTC sessions, would reject or drop the
 * non-standard `y=`/`f=` lines, and are more code than the dozen lines GB uses.
 *
 * Parsing is lenient ("be lenient in what you accept", devices differ): CRLF or LF, blank lines, spaces around
 * `=`, media protocol spelled `RTP/AVP/TCP`, `c=` after `m=`. Unknown `a=` lines are kept in `attributes` as
 * [name, value]; unknown other lines as [`<letter>=`, value]. Only a body without any usable `m=` line throws.
 * Building writes CRLF lines in the order GB peers expect (`y=` and `f=` last).
 */

export interface GbSdpMedia {
  type: 'video' | 'audio';
  port: number;
  protocol: 'RTP/AVP' | 'TCP/RTP/AVP';
  formats: number[];
}

export interface GbSdp {
  origin: { username: string; address: string };
  sessionName: 'Play' | 'Playback' | 'Download' | string;
  /** The `c=` address (IP only, no "IN IP4"). */
  connection: string;
  media: GbSdpMedia;
  rtpmap: Record<number, string>;
  direction?: 'recvonly' | 'sendonly' | 'sendrecv';
  setup?: 'active' | 'passive' | 'actpass';
  connectionAttr?: 'new' | 'existing';
  /** y=: 10 decimal digits as sent (see codecs/gb/ssrc.ts). */
  ssrc?: string;
  /** f=: v/codec/resolution/fps/rate-control/bitrate a/codec/bitrate/sample-rate (see parseFormatField). */
  f?: string;
  /** u=: history only, `<channelId>:<type>`. */
  uri?: string;
  /** t=: Unix seconds; 0 0 for live. Playback/Download carry the requested span. */
  timing?: { start: number; stop: number };
  /** Other lines, in order: `a=` lines as [name, value] (value '' for flags), other letters as [`x=`, value]. */
  attributes: Array<[string, string]>;
}

export type SdpParseErrorReason = 'no-media' | 'bad-media';

export class SdpParseError extends Error {
  override readonly name = 'SdpParseError';
  constructor(
    readonly reason: SdpParseErrorReason,
    detail?: string,
  ) {
    super(detail ? `${reason}: ${detail}` : reason);
  }
}

const DIRECTIONS = new Set(['recvonly', 'sendonly', 'sendrecv']);
const SETUP_ROLES = new Set(['active', 'passive', 'actpass']);

export function parseSdp(text: string): GbSdp {
  const sdp: GbSdp = {
    origin: { username: '', address: '' },
    sessionName: '',
    connection: '',
    media: { type: 'video', port: 0, protocol: 'RTP/AVP', formats: [] },
    rtpmap: {},
    attributes: [],
  };
  let sawMedia = false;
  let sessionConnection = '';
  let mediaConnection = '';

  for (const rawLine of text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/)) {
    const match = /^\s*([A-Za-z])\s*=(.*)$/.exec(rawLine);
    if (!match) continue;
    const letter = match[1]!.toLowerCase();
    const value = match[2]!.trim();
    switch (letter) {
      case 'v':
        break;
      case 'o': {
        const parts = value.split(/\s+/);
        sdp.origin = { username: parts[0] ?? '', address: parts.length >= 6 ? parts[5]! : (parts[parts.length - 1] ?? '') };
        break;
      }
      case 's':
        sdp.sessionName = value;
        break;
      case 'c': {
        const address = value.split(/\s+/).pop() ?? '';
        if (sawMedia) mediaConnection ||= address;
        else sessionConnection = address;
        break;
      }
      case 't': {
        const [start, stop] = value.split(/\s+/).map(Number);
        if (Number.isFinite(start) && Number.isFinite(stop)) sdp.timing = { start: start!, stop: stop! };
        break;
      }
      case 'u':
        sdp.uri = value;
        break;
      case 'y':
        sdp.ssrc = value;
        break;
      case 'f':
        sdp.f = value;
        break;
      case 'm':
        if (sawMedia) {
          sdp.attributes.push(['m=', value]); // a second media section: kept, not interpreted
          break;
        }
        sdp.media = parseMediaLine(value);
        sawMedia = true;
        break;
      case 'a':
        readAttribute(sdp, value);
        break;
      default:
        sdp.attributes.push([`${letter}=`, value]);
    }
  }
  if (!sawMedia) throw new SdpParseError('no-media', 'no m= line');
  sdp.connection = mediaConnection || sessionConnection;
  return sdp;
}

function parseMediaLine(value: string): GbSdpMedia {
  const [type, port, protocol, ...formats] = value.split(/\s+/);
  const mediaType = type?.toLowerCase();
  if (mediaType !== 'video' && mediaType !== 'audio') throw new SdpParseError('bad-media', `media type ${JSON.stringify(type)}`);
  const portNumber = Number((port ?? '').split('/')[0]);
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    throw new SdpParseError('bad-media', `port ${JSON.stringify(port)}`);
  }
  return {
    type: mediaType,
    port: portNumber,
    // TCP/RTP/AVP per GB; some devices write RTP/AVP/TCP.
    protocol: /TCP/i.test(protocol ?? '') ? 'TCP/RTP/AVP' : 'RTP/AVP',
    formats: formats.map(Number).filter((pt) => Number.isInteger(pt) && pt >= 0 && pt <= 127),
  };
}

function readAttribute(sdp: GbSdp, value: string): void {
  const colon = value.indexOf(':');
  const name = (colon < 0 ? value : value.slice(0, colon)).trim();
  const attrValue = colon < 0 ? '' : value.slice(colon + 1).trim();
  const key = name.toLowerCase();
  if (key === 'rtpmap') {
    const rtpmap = /^(\d+)\s+(.+)$/.exec(attrValue);
    if (rtpmap) {
      sdp.rtpmap[Number(rtpmap[1])] = rtpmap[2]!.trim();
      return;
    }
  } else if (DIRECTIONS.has(key) && attrValue === '') {
    sdp.direction = key as NonNullable<GbSdp['direction']>;
    return;
  } else if (key === 'setup' && SETUP_ROLES.has(attrValue.toLowerCase())) {
    sdp.setup = attrValue.toLowerCase() as NonNullable<GbSdp['setup']>;
    return;
  } else if (key === 'connection' && (attrValue.toLowerCase() === 'new' || attrValue.toLowerCase() === 'existing')) {
    sdp.connectionAttr = attrValue.toLowerCase() as NonNullable<GbSdp['connectionAttr']>;
    return;
  }
  sdp.attributes.push([name, attrValue]);
}

function addressLine(address: string): string {
  return `IN ${address.includes(':') ? 'IP6' : 'IP4'} ${address}`;
}

export function buildSdp(s: GbSdp): string {
  const lines = [
    'v=0',
    `o=${s.origin.username} 0 0 ${addressLine(s.origin.address)}`,
    `s=${s.sessionName}`,
  ];
  if (s.uri !== undefined) lines.push(`u=${s.uri}`);
  lines.push(`c=${addressLine(s.connection)}`);
  lines.push(`t=${s.timing?.start ?? 0} ${s.timing?.stop ?? 0}`);
  const otherLines = s.attributes.filter(([name]) => name.endsWith('=') && name !== 'm=');
  for (const [name, value] of otherLines) lines.push(`${name}${value}`);
  lines.push(`m=${s.media.type} ${s.media.port} ${s.media.protocol} ${s.media.formats.join(' ')}`.trimEnd());
  if (s.direction) lines.push(`a=${s.direction}`);
  const mapped = [...s.media.formats, ...Object.keys(s.rtpmap).map(Number).filter((pt) => !s.media.formats.includes(pt))];
  for (const pt of mapped) {
    const encoding = s.rtpmap[pt];
    if (encoding !== undefined) lines.push(`a=rtpmap:${pt} ${encoding}`);
  }
  if (s.setup) lines.push(`a=setup:${s.setup}`);
  if (s.connectionAttr) lines.push(`a=connection:${s.connectionAttr}`);
  for (const [name, value] of s.attributes) {
    if (name.endsWith('=')) continue;
    lines.push(value === '' ? `a=${name}` : `a=${name}:${value}`);
  }
  for (const [name, value] of s.attributes) if (name === 'm=') lines.push(`m=${value}`);
  if (s.ssrc !== undefined) lines.push(`y=${s.ssrc}`);
  if (s.f !== undefined) lines.push(`f=${s.f}`);
  return lines.join('\r\n') + '\r\n';
}

/** First value of an `a=` attribute kept in `attributes` (name compared case-insensitively). */
export function getAttribute(sdp: GbSdp, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return sdp.attributes.find(([n]) => n.toLowerCase() === wanted)?.[1];
}

export type SubstreamAttribute = 'streamnumber' | 'streamprofile' | 'stream' | 'streamMode';

const SUBSTREAM_ATTRIBUTES: readonly SubstreamAttribute[] = ['streamnumber', 'streamprofile', 'stream', 'streamMode'];

/** The sub-stream selectors present (Dahua answers carry both streamprofile and streamnumber). */
export function substreamAttributesOf(sdp: GbSdp): Array<{ attribute: SubstreamAttribute; value: string }> {
  const found: Array<{ attribute: SubstreamAttribute; value: string }> = [];
  for (const [name, value] of sdp.attributes) {
    const attribute = SUBSTREAM_ATTRIBUTES.find((known) => known.toLowerCase() === name.toLowerCase());
    if (attribute) found.push({ attribute, value });
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// Offers the gateway sends (brief §4.3 / §4.4)

export type SdpMediaTransport = 'udp' | 'tcp-passive' | 'tcp-active';

export interface PlayOfferOptions {
  /** The gateway's own 20-digit SIP ID (o= username is the sender's ID). */
  sipId: string;
  /** Where the device must send media (c= and o= address). */
  mediaHost: string;
  port: number;
  transport: SdpMediaTransport;
  /** 10-digit y= value (codecs/gb/ssrc.ts). */
  ssrc: string;
  substream?: { attribute: SubstreamAttribute; value: string };
}

export interface HistoryOfferOptions extends PlayOfferOptions {
  mode: 'Playback' | 'Download';
  channelId: string;
  /** Unix seconds. */
  start: number;
  end: number;
  /** Download only: a=downloadspeed multiplier. */
  downloadSpeed?: number;
  /** u= record type: 0 all (default), 1 manual, 2 alarm, 3 time. */
  recordType?: number;
}

/** PS is the GB default; MPEG-4, H.264 and H.265 elementary streams are offered as fallbacks. */
export const OFFER_RTPMAP: Readonly<Record<number, string>> = {
  96: 'PS/90000',
  97: 'MPEG4/90000',
  98: 'H264/90000',
  100: 'H265/90000',
};

function offer(opts: PlayOfferOptions, sessionName: string): GbSdp {
  const tcp = opts.transport !== 'udp';
  const sdp: GbSdp = {
    origin: { username: opts.sipId, address: opts.mediaHost },
    sessionName,
    connection: opts.mediaHost,
    media: { type: 'video', port: opts.port, protocol: tcp ? 'TCP/RTP/AVP' : 'RTP/AVP', formats: [96, 97, 98, 100] },
    rtpmap: { ...OFFER_RTPMAP },
    direction: 'recvonly',
    ssrc: opts.ssrc,
    attributes: [],
  };
  if (tcp) {
    // Our role: passive = we listen on `port` and the device connects; active = we dial the device's answer port.
    sdp.setup = opts.transport === 'tcp-passive' ? 'passive' : 'active';
    sdp.connectionAttr = 'new';
  }
  if (opts.substream) sdp.attributes.push([opts.substream.attribute, opts.substream.value]);
  return sdp;
}

/** The live-view offer (s=Play, t=0 0) as a GbSdp, for callers that want to adjust it before building. */
export function playOfferSdp(opts: PlayOfferOptions): GbSdp {
  return offer(opts, 'Play');
}

/** The live-view offer text (brief §4.3). */
export function buildPlayOffer(opts: PlayOfferOptions): string {
  return buildSdp(playOfferSdp(opts));
}

/** Playback / Download offer (brief §4.4): u=<channelId>:<type>, t=<start> <end>, optional a=downloadspeed. */
export function buildHistoryOffer(opts: HistoryOfferOptions): string {
  const sdp = offer(opts, opts.mode);
  sdp.uri = `${opts.channelId}:${opts.recordType ?? 0}`;
  sdp.timing = { start: Math.floor(opts.start), stop: Math.floor(opts.end) };
  if (opts.mode === 'Download' && opts.downloadSpeed !== undefined) {
    sdp.attributes.push(['downloadspeed', String(Math.max(1, Math.floor(opts.downloadSpeed)))]);
  }
  return buildSdp(sdp);
}

/**
 * How the platform receives media given the device's answer: TCP with the device `active` (it connects, the
 * usual case) → tcp-passive; device `passive` → tcp-active (we dial its c=/m= address); RTP/AVP → udp. A TCP
 * answer without a=setup keeps the offered role.
 */
export function receiveTransportOfAnswer(answer: GbSdp, offered: SdpMediaTransport): SdpMediaTransport {
  if (answer.media.protocol !== 'TCP/RTP/AVP') return 'udp';
  if (answer.setup === 'active') return 'tcp-passive';
  if (answer.setup === 'passive') return 'tcp-active';
  return offered === 'udp' ? 'tcp-passive' : offered;
}

// ---------------------------------------------------------------------------------------------------------
// f= media format line

export interface GbVideoFormat {
  codec: 'MPEG-4' | 'H.264' | 'SVAC' | '3GP' | 'H.265' | null;
  /** 'QCIF' | 'CIF' | '4CIF' | 'D1' | '720P' | '1080P/I' or "WxH" as sent; null when empty/0. */
  resolution: string | null;
  fps: number | null;
  rateControl: 'CBR' | 'VBR' | null;
  bitrateKbps: number | null;
}

export interface GbAudioFormat {
  codec: 'G.711' | 'G.723.1' | 'G.729' | 'G.722.1' | 'SVAC' | 'AAC' | null;
  bitrateKbps: number | null;
  sampleRateHz: number | null;
}

const VIDEO_CODECS: Record<string, GbVideoFormat['codec']> = { '1': 'MPEG-4', '2': 'H.264', '3': 'SVAC', '4': '3GP', '5': 'H.265' };
const RESOLUTIONS: Record<string, string> = { '1': 'QCIF', '2': 'CIF', '3': '4CIF', '4': 'D1', '5': '720P', '6': '1080P/I' };
const AUDIO_CODECS: Record<string, GbAudioFormat['codec']> = {
  '1': 'G.711',
  '2': 'G.723.1',
  '3': 'G.729',
  '4': 'G.722.1',
  '5': 'SVAC',
  '6': 'AAC',
};
/** Audio bitrate index (2016 Annex F): 1 5.3, 2 6.3, 3 8, 4 16, 5 24, 6 32, 7 48, 8 64 (G.711) kb/s. */
const AUDIO_BITRATES: Record<string, number> = { '1': 5.3, '2': 6.3, '3': 8, '4': 16, '5': 24, '6': 32, '7': 48, '8': 64 };
/** Sample-rate index: 1 8 kHz, 2 14 kHz, 3 16 kHz, 4 32 kHz. */
const SAMPLE_RATES: Record<string, number> = { '1': 8000, '2': 14000, '3': 16000, '4': 32000 };

function positive(text: string | undefined): number | null {
  const n = Number(text);
  return text && Number.isFinite(n) && n > 0 ? n : null;
}

/**
 * Reads `f=v/2/6/25/2/4096a/1/8/1`. The standard writes the audio part right after the video bitrate without
 * a slash ("…/4096a/…"); empty slots and zeros mean "unspecified" (`v/////a///`, Dahua's `v/0/0/0/0/0a/0/0/0`).
 */
export function parseFormatField(f: string): { video: GbVideoFormat | null; audio: GbAudioFormat | null } {
  const text = f.trim();
  const audioAt = text.search(/\/?a\//);
  const videoText = audioAt >= 0 ? text.slice(0, audioAt) : text;
  const audioText = audioAt >= 0 ? text.slice(audioAt).replace(/^\/?a\//, '') : null;
  let video: GbVideoFormat | null = null;
  if (/^v\//.test(videoText)) {
    const [codec, resolution, fps, rateControl, bitrate] = videoText.slice(2).split('/');
    video = {
      codec: VIDEO_CODECS[codec ?? ''] ?? null,
      resolution: RESOLUTIONS[resolution ?? ''] ?? (/^\d+x\d+$/i.test(resolution ?? '') ? resolution! : null),
      fps: positive(fps),
      rateControl: rateControl === '1' ? 'CBR' : rateControl === '2' ? 'VBR' : null,
      bitrateKbps: positive(bitrate),
    };
  }
  let audio: GbAudioFormat | null = null;
  if (audioText !== null) {
    const [codec, bitrate, sampleRate] = audioText.split('/');
    audio = {
      codec: AUDIO_CODECS[codec ?? ''] ?? null,
      bitrateKbps: AUDIO_BITRATES[bitrate ?? ''] ?? null,
      sampleRateHz: SAMPLE_RATES[sampleRate ?? ''] ?? null,
    };
  }
  return { video, audio };
}
