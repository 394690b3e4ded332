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

export type DecoderName = 'sip' | 'manscdp' | 'sdp' | 'rtp' | 'ps';

export const DECODER_NAMES: readonly DecoderName[] = ['sip', 'manscdp', 'sdp', 'rtp', 'ps'];

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

const TARGETS: Record<DecoderName, (input: Buffer) => DecodeOutcome> = {
  sip: decodeSip,
  manscdp: decodeManscdpTarget,
  sdp: decodeSdpTarget,
  rtp: decodeRtpTarget,
  ps: decodePsTarget,
};

/** Run one input through a decoder. Throws DecoderCrash on any throw that is not the documented error. */
export function runDecoder(name: DecoderName, input: Buffer): DecodeOutcome {
  try {
    return TARGETS[name](input);
  } catch (err) {
    throw new DecoderCrash(name, err);
  }
}
