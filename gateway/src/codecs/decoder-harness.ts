/**
 * Every pure decoder behind one signature, each with the error type it documents, so "total" can be checked
 * mechanically: an input either decodes, or is refused with the decoder's own error type; any other throw is
 * a crash. Used by the mutational fuzzer (bench/fuzz.mjs, on the compiled code) and by the corpus replay test
 * (gateway/test/codecs/fuzz-corpus.test.ts, on the sources), which is why it lives here and not in a test.
 *
 * Each target also runs what the gateway does next with a decoded value (the readers of a MANSCDP message,
 * the 400 a transport builds from a parsed SIP request, the header parsers the endpoint applies), because
 * that is where odd but well-formed input used to fail (issue 8 part 4).
 */
import { parseSipMessage, tryExtractResponseContext } from './sip/parser.js';
import { SipParseError } from './sip/errors.js';
import { SipStreamFramer } from './sip/framer.js';
import { parseCSeq, parseNameAddr, parseUri, parseVia, tagOf } from './sip/headers.js';
import { header, type SipMessage } from './sip/message.js';
import { buildResponse } from './sip/builder.js';
import { serializeSipMessage } from './sip/serializer.js';
import { parseDigestParams } from './sip/digest.js';
import {
  decodeManscdp,
  envelopeProblem,
  readAlarmNotify,
  readCatalogResponse,
  readDeviceControl,
  readDeviceInfo,
  readDeviceStatus,
  readKeepalive,
  readMediaStatus,
  readMobilePosition,
  readPresetList,
  readRecordInfoResponse,
  readResult,
} from './manscdp/messages.js';
import { tryReadPlainKeepalive } from './manscdp/keepalive-fast-path.js';
import { ManscdpError } from './manscdp/xml.js';
import { parseFormatField, parseSdp, receiveTransportOfAnswer, SdpParseError, substreamAttributesOf } from './sdp/sdp.js';
import { parseRtp, RtpParseError } from './rtp/rtp.js';
import { Rfc4571Splitter } from './rtp/rfc4571.js';
import { PsDemuxer, parseProgramStreamMap } from './ps/ps-demuxer.js';
import { SoapError, parseEnvelope } from './soap/soap.js';
import {
  parseCapabilities,
  parseCreatePullPointSubscription,
  parseDeviceInformation,
  parseNetworkInterfaces,
  parsePresets,
  parseProfiles,
  parsePullMessages,
  parseServices,
  parseSystemDateAndTime,
  parseUri as parseOnvifUri,
  OnvifDecodeError,
} from './onvif/messages.js';
import { parseProbe, parseProbeMatches } from './onvif/discovery.js';
import { RtspFramer, parseRtpInfo, parseRtspSdp, parseSession, parseTransport } from './rtsp/rtsp.js';
import { VideoDepacketizer } from './rtp/payload/video.js';
import { AacDepacketizer } from './rtp/payload/audio.js';
import { parseAudioTag, parseVideoTag } from './flv/flv-tags.js';
import { RtmpServerReader, RtmpProtocolError } from './rtmp/chunks.js';
import { Amf0Error, decodeAmf0 } from './rtmp/amf0.js';
import { MansrtspError, decodeMansrtsp, encodeMansrtspRequest, encodeMansrtspResponse } from './gb/mansrtsp.js';

export type DecoderName = 'sip' | 'manscdp' | 'sdp' | 'rtp' | 'ps' | 'soap' | 'rtsp' | 'rtp-payload' | 'flv' | 'rtmp' | 'mansrtsp';

export const DECODER_NAMES: readonly DecoderName[] = ['sip', 'manscdp', 'sdp', 'rtp', 'ps', 'soap', 'rtsp', 'rtp-payload', 'flv', 'rtmp', 'mansrtsp'];

/** What one input did: decoded, or refused with the decoder's documented error (its reason code). */
export type DecodeOutcome = { kind: 'ok'; detail: string } | { kind: 'refused'; detail: string };

/** A throw that is not the decoder's documented error type: a bug. */
export class DecoderCrash extends Error {
  override readonly name = 'DecoderCrash';
  constructor(
    readonly decoder: DecoderName,
    readonly original: unknown,
  ) {
    super(`${decoder}: undocumented ${original instanceof Error ? `${original.name}: ${original.message}` : String(original)}`);
  }
}

/** The endpoint's and the transport's header work on a parsed SIP message; SipParseError is documented. */
function exerciseSip(msg: SipMessage): string {
  const soft = (f: () => unknown): void => {
    try {
      f();
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
  };
  soft(() => parseVia(header(msg, 'via') ?? ''));
  soft(() => parseCSeq(header(msg, 'cseq') ?? ''));
  soft(() => parseUri(parseNameAddr(header(msg, 'from') ?? '').uri));
  soft(() => parseNameAddr(header(msg, 'to') ?? ''));
  soft(() => parseNameAddr(header(msg, 'contact') ?? ''));
  tagOf(header(msg, 'from'));
  parseDigestParams(header(msg, 'authorization') ?? header(msg, 'www-authenticate') ?? '');
  if (msg.kind === 'request') {
    soft(() => parseUri(msg.uri));
    // What the transport sends back for a request it could not use, and what the endpoint sends for any.
    serializeSipMessage(buildResponse(msg, 400, 'Bad Request'));
    return `request ${msg.method.length <= 12 ? msg.method : 'long'}`;
  }
  return `response ${Math.floor(msg.status / 100)}xx`;
}

function decodeSip(input: Buffer): DecodeOutcome {
  // The stream framer (TCP) sees the same bytes split in two.
  const framer = new SipStreamFramer({ maxMessageBytes: 65_535 });
  const cut = input.length >> 1;
  for (const out of [...framer.push(input.subarray(0, cut)), ...framer.push(input.subarray(cut))]) {
    if (out.message) exerciseSip(out.message);
  }
  const context = tryExtractResponseContext(input);
  if (context) exerciseSip(context);
  try {
    return { kind: 'ok', detail: exerciseSip(parseSipMessage(input, { maxBytes: 65_535 })) };
  } catch (err) {
    if (err instanceof SipParseError) return { kind: 'refused', detail: err.header ? `${err.reason} ${err.header.slice(0, 20)}` : err.reason };
    throw err;
  }
}

const KNOWN_CMD_TYPES = new Set(['Keepalive', 'Catalog', 'DeviceInfo', 'DeviceStatus', 'RecordInfo', 'Alarm', 'MobilePosition', 'DeviceControl', 'PresetQuery', 'MediaStatus']);

function decodeManscdpTarget(input: Buffer): DecodeOutcome {
  tryReadPlainKeepalive(input);
  try {
    const m = decodeManscdp(input, { maxBytes: 64 * 1024 });
    // Every reader on every message: none may throw, whatever the CmdType.
    readKeepalive(m);
    readCatalogResponse(m);
    readDeviceInfo(m);
    readDeviceStatus(m);
    readAlarmNotify(m);
    readMobilePosition(m);
    readPresetList(m);
    readRecordInfoResponse(m);
    readDeviceControl(m);
    readResult(m);
    readMediaStatus(m);
    // The detail (root, known CmdType, envelope verdict) is what tells the fuzzer an input reached new ground.
    const cmdType = KNOWN_CMD_TYPES.has(m.cmdType) ? m.cmdType : 'other';
    return { kind: 'ok', detail: `${m.root} ${cmdType} ${envelopeProblem(m) ?? 'envelope-ok'} ${m.charset}` };
  } catch (err) {
    if (err instanceof ManscdpError) return { kind: 'refused', detail: err.code };
    throw err;
  }
}

function decodeSdpTarget(input: Buffer): DecodeOutcome {
  const text = input.toString('latin1');
  try {
    const sdp = parseSdp(text);
    substreamAttributesOf(sdp);
    receiveTransportOfAnswer(sdp, 'udp');
    receiveTransportOfAnswer(sdp, 'tcp-passive');
    for (const [name, value] of sdp.attributes) if (name === 'f=') parseFormatField(value);
    return { kind: 'ok', detail: `${sdp.media.type} ${sdp.media.protocol} ${sdp.direction ?? 'no-direction'}` };
  } catch (err) {
    if (err instanceof SdpParseError) return { kind: 'refused', detail: err.reason };
    throw err;
  }
}

function decodeRtpTarget(input: Buffer): DecodeOutcome {
  // TCP media: RFC 4571 framing over the same bytes, split at an odd place.
  const splitter = new Rfc4571Splitter();
  const cut = Math.min(input.length, 7);
  for (const packet of [...splitter.push(input.subarray(0, cut)), ...splitter.push(input.subarray(cut))]) {
    try {
      parseRtp(packet);
    } catch (err) {
      if (!(err instanceof RtpParseError)) throw err;
    }
  }
  try {
    const p = parseRtp(input);
    return { kind: 'ok', detail: `pt ${p.payloadType < 96 ? 'static' : 'dynamic'}${p.padding ? ' padded' : ''}` };
  } catch (err) {
    if (err instanceof RtpParseError) return { kind: 'refused', detail: err.reason };
    throw err;
  }
}

function decodePsTarget(input: Buffer): DecodeOutcome {
  // Documented total: never throws. Pushed in three pieces like RTP payloads, then flushed.
  const demuxer = new PsDemuxer();
  const a = Math.floor(input.length / 3);
  const b = Math.floor((2 * input.length) / 3);
  const frames = [...demuxer.push(input.subarray(0, a)), ...demuxer.push(input.subarray(a, b)), ...demuxer.push(input.subarray(b)), ...demuxer.flush()];
  parseProgramStreamMap(input);
  const kinds = new Set(frames.map((f) => f.kind));
  return { kind: 'ok', detail: `frames ${[...kinds].sort().join('+') || 'none'}` };
}

/** SOAP envelopes (ONVIF answers, camera-side requests) and every ONVIF reader on the message; discovery datagrams. */
function decodeSoapTarget(input: Buffer): DecodeOutcome {
  const text = input.toString('utf8');
  parseProbe(text);
  parseProbeMatches(text);
  try {
    const env = parseEnvelope(text, 64 * 1024);
    const m = env.message;
    if (m) {
      const readers: Array<(node: NonNullable<typeof m>) => unknown> = [parseSystemDateAndTime, parseDeviceInformation, parseCapabilities, parseServices, parseNetworkInterfaces, parseProfiles, parseOnvifUri, parsePresets, parseCreatePullPointSubscription, parsePullMessages];
      for (const read of readers) {
        try {
          read(m);
        } catch (err) {
          if (!(err instanceof OnvifDecodeError)) throw err;
        }
      }
    }
    return { kind: 'ok', detail: `${env.version} ${env.fault ? 'fault' : m ? 'message' : 'empty'}` };
  } catch (err) {
    if (err instanceof SoapError) return { kind: 'refused', detail: err.code };
    throw err;
  }
}

/** An RTSP byte stream (messages and interleaved packets) split in two, and the headers/SDP of what it held. */
function decodeRtspTarget(input: Buffer): DecodeOutcome {
  const framer = new RtspFramer({ maxHeaderBytes: 8 * 1024, maxBodyBytes: 32 * 1024 });
  const cut = input.length >> 1;
  const items = [...framer.push(input.subarray(0, cut)), ...framer.push(input.subarray(cut))];
  const kinds = new Set<string>();
  for (const item of items) {
    kinds.add(item.kind === 'error' ? item.reason : item.kind);
    if (item.kind !== 'message') continue;
    const h = item.message.headers;
    parseSession(h.session);
    parseTransport(h.transport);
    parseRtpInfo(h['rtp-info']);
    parseDigestParams(h['www-authenticate'] ?? '');
    if (item.message.body.length > 0) parseRtspSdp(item.message.body.toString('utf8'), 'rtsp://127.0.0.1/x/');
  }
  parseRtspSdp(input.toString('latin1'), 'rtsp://127.0.0.1/x/');
  return { kind: 'ok', detail: [...kinds].sort().join('+') || 'none' };
}

/** RTP payloads for H.264, H.265 and AAC-hbr: the input cut into packets by its own bytes (documented total). */
function decodeRtpPayloadTarget(input: Buffer): DecodeOutcome {
  const h264 = new VideoDepacketizer('h264');
  const h265 = new VideoDepacketizer('h265');
  const aac = new AacDepacketizer({ sizeLength: 13, indexLength: 3, indexDeltaLength: 3 });
  let pictures = 0;
  let seq = input.length > 0 ? input[0]! * 256 : 0;
  for (let i = 0; i < input.length; ) {
    const len = Math.max(1, Math.min(input.length - i, (input[i]! % 200) + 1));
    const payload = input.subarray(i, i + len);
    const packet = { payload, timestamp: Math.floor(i / 64), sequence: seq++ & 0xffff, marker: (input[i]! & 1) === 1 };
    pictures += h264.push(packet).length + h265.push(packet).length;
    aac.push(packet);
    i += len;
  }
  if (h264.flush()) pictures++;
  if (h265.flush()) pictures++;
  return { kind: 'ok', detail: `pictures ${pictures > 0 ? 'some' : 'none'} dropped ${h264.stats.dropped + h265.stats.dropped > 0 ? 'some' : 'none'}` };
}

function decodeFlvTarget(input: Buffer): DecodeOutcome {
  const v = parseVideoTag(input);
  const a = parseAudioTag(input);
  parseVideoTag(input, 2);
  return { kind: 'ok', detail: `${v.kind}/${a.kind}` };
}

/** A publisher's byte stream after a valid handshake, split in three; AMF0 of every command and data message. */
function decodeRtmpTarget(input: Buffer): DecodeOutcome {
  const reader = new RtmpServerReader({ maxMessageBytes: 256 * 1024, maxChunkStreams: 8 });
  const handshake = Buffer.concat([Buffer.of(3), Buffer.alloc(1536 * 2)]);
  try {
    reader.push(handshake);
    const a = Math.floor(input.length / 3);
    const events = [...reader.push(input.subarray(0, a)), ...reader.push(input.subarray(a, 2 * a)), ...reader.push(input.subarray(2 * a))];
    let amf = 'none';
    for (const e of events) {
      if (e.kind !== 'message' || ![15, 17, 18, 20].includes(e.message.typeId)) continue;
      try {
        decodeAmf0(e.message.typeId === 15 || e.message.typeId === 17 ? e.message.payload.subarray(1) : e.message.payload);
        amf = 'ok';
      } catch (err) {
        if (!(err instanceof Amf0Error)) throw err;
        amf = 'refused';
      }
    }
    try {
      decodeAmf0(input);
    } catch (err) {
      if (!(err instanceof Amf0Error)) throw err;
    }
    return { kind: 'ok', detail: `messages ${events.length > 0 ? 'some' : 'none'} amf ${amf}` };
  } catch (err) {
    if (err instanceof RtmpProtocolError) return { kind: 'refused', detail: err.message.replace(/\d+/g, 'N').slice(0, 40) };
    throw err;
  }
}

/** MANSRTSP (INFO bodies, both directions); a decoded value must encode again (the simulator echoes what it read). */
function decodeMansrtspTarget(input: Buffer): DecodeOutcome {
  try {
    const decoded = decodeMansrtsp(input);
    if (decoded.kind === 'request') encodeMansrtspRequest(decoded.request);
    else encodeMansrtspResponse(decoded.response);
    return { kind: 'ok', detail: decoded.kind === 'request' ? `request ${decoded.request.method}` : `response ${Math.floor(decoded.response.status / 100)}xx` };
  } catch (err) {
    if (err instanceof MansrtspError) return { kind: 'refused', detail: err.code };
    throw err;
  }
}

const TARGETS: Record<DecoderName, (input: Buffer) => DecodeOutcome> = {
  sip: decodeSip,
  manscdp: decodeManscdpTarget,
  sdp: decodeSdpTarget,
  rtp: decodeRtpTarget,
  ps: decodePsTarget,
  soap: decodeSoapTarget,
  rtsp: decodeRtspTarget,
  'rtp-payload': decodeRtpPayloadTarget,
  flv: decodeFlvTarget,
  rtmp: decodeRtmpTarget,
  mansrtsp: decodeMansrtspTarget,
};

/** Run one input through a decoder. Throws DecoderCrash on any throw that is not the documented error. */
export function runDecoder(name: DecoderName, input: Buffer): DecodeOutcome {
  try {
    return TARGETS[name](input);
  } catch (err) {
    throw new DecoderCrash(name, err);
  }
}
