#!/usr/bin/env node
// Seeded, deterministic mutational fuzzer over the gateway's pure decoders (issue 8, "Fuzzing"):
// SIP parser (+ stream framer, header parsers, the 400 built from a parsed request), MANSCDP decoder (+ every
// reader), SDP, RTP (+ RFC 4571 splitter) and the PS demuxer — the targets of dist/codecs/decoder-harness.js.
//
//   npm run build   # or: npx tsc -p tsconfig.build.json (the script runs the compiled decoders)
//   node bench/fuzz.mjs [--total 1000000] [--seed 20261205] [--codecs sip,manscdp,sdp,rtp,ps,soap,rtsp,rtp-payload,flv,rtmp]
//        [--slow-ms 250] [--hang-sec 30] [--save true] [--max-saved 40]
//
// Crash: any throw that is not the decoder's documented error type (DecoderCrash). Hang: an input that keeps
// the decoder busy for --hang-sec (a watchdog in the main thread stops the worker; the input is rebuilt from
// its seed). Slow: an input that took more than --slow-ms. Heap: heapUsed after a full GC, after warm-up and
// at the end of each decoder's share (the worker also keeps ONE long-lived PsDemuxer and SipStreamFramer fed
// with every input, so state that grows without bound shows up here).
//
// Deterministic: input i of decoder d is derived from its own PRNG seeded by (seed, d, i), so any input can be
// rebuilt alone (`--only sip:12345` prints it as hex). Corpus: the first input of each new outcome signature
// (decoder, ok/refused, reason) and every crasher, minimised, saved as test-fixtures/fuzz/<codec>/<hash>.bin
// (crashers as crash-<hash>.bin); gateway/test/codecs/fuzz-corpus.test.ts replays them in every CI run. The
// corpus files are also seeds of the next run.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const HERE = fileURLToPath(import.meta.url);
const REPO = join(HERE, '..', '..');
// SE_FUZZ_DIST: another compiled tree (e.g. a copy with a planted bug, to check that the fuzzer finds it).
const DIST = process.env.SE_FUZZ_DIST ?? join(REPO, 'dist');
const CORPUS_ROOT = join(REPO, 'test-fixtures', 'fuzz');
const CODECS = ['sip', 'manscdp', 'sdp', 'rtp', 'ps', 'soap', 'rtsp', 'rtp-payload', 'flv', 'rtmp', 'mansrtsp'];

// ------------------------------------------------------------------------------------------ shared

/** mulberry32 */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inputSeed(seed, codecIndex, i) {
  let h = (seed ^ Math.imul(codecIndex + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ i, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const TOKENS = {
  sip: ['\r\n', '\n', '\r', ':', ';', ',', '"', '<', '>', ' ', '\t', '\r\n ', '\0', 'Content-Length: 99999\r\n', 'l: -1\r\n', 'l: 4294967296\r\n',
    'v: SIP/2.0/UDP [::1\r\n', 'Via: SIP/2.0/TCP a:99999;branch=\r\n', 'CSeq: 99999999999 REGISTER\r\n', 'From: "unterminated <sip:\r\n', '\r\n\r\n',
    '[', ']', '@', '=', '\\', 'sip:', 'SIP/2.0 ', '%00', ';tag=', ';rport', 'Authorization: Digest realm="a", nonce=\r\n', '\u00ff\u00fe'],
  manscdp: ['<', '>', '</', '/>', '&', '&amp;', '&#x', '&#0;', '&#xFFFFFF;', ']]>', '<![CDATA[', '<!--', '-->', '"', "'", '=', '\0', '\uFFFD', '南',
    '<Item>', '</Item>', '<!DOCTYPE', '<?xml', '?>', '<SN>0</SN>', '<SN>-1</SN>', '<SN>999999999999999999999</SN>', '<DeviceID></DeviceID>',
    '<CmdType></CmdType>', '<SumNum>-5</SumNum>', '<DeviceList Num="99999">', '<Longitude>1e400</Longitude>', '\xa0', '\u3000'],
  sdp: ['\r\n', '\n', 'm=video 0 RTP/AVP 96\r\n', 'm=video 99999 TCP/RTP/AVP\r\n', 'm=audio -1 RTP/AVP 8\r\n', 'a=rtpmap:96\r\n', 'a=setup:\r\n',
    'y=\r\n', 'y=99999999999\r\n', 'f=v/////a///\r\n', 'f=v/2/5/25/1/99999999999\r\n', 'c=IN IP6 ::\r\n', 'c=\r\n', 'a=streamnumber:\r\n', '=', ' ', ':', '/'],
  rtp: [],
  ps: [],
  soap: ['<', '>', '</', '/>', '&amp;', '&#x', '<!DOCTYPE', '<!ENTITY', '<s:Body>', '</s:Body>', '<s:Fault>', 's:', 'tt:', '<tt:XAddr>', 'http://', '127.0.1.1', ' xmlns:a="b"', '<tt:Width>-1</tt:Width>', 'PT99999999S', '\uFFFD'],
  rtsp: ['\r\n', '\r\n\r\n', 'RTSP/1.0 ', 'Content-Length: 999999999\r\n', 'Content-Length: -1\r\n', 'CSeq: ', 'Session: ;timeout=0\r\n', 'Transport: RTP/AVP/TCP;interleaved=255-256\r\n', '$', 'm=video 0 RTP/AVP 96\r\n', 'a=control:', 'a=fmtp:96 sprop-parameter-sets=!!,==\r\n', 'a=rtpmap:96 H264/0\r\n'],
  'rtp-payload': [],
  flv: [],
  rtmp: [],
  mansrtsp: ['\r\n', '\n', ':', ' ', '-', '.', 'npt=', 'now', 'CSeq: ', 'CSeq: 99999999999\r\n', 'Scale: 0\r\n', 'Scale: -1\r\n', 'Scale: 1e999\r\n',
    'Range: npt=-\r\n', 'Range: npt=1e400-\r\n', 'RTP-Info: seq=99999;rtptime=\r\n', 'RTSP/1.0 ', 'PLAY ', 'PAUSE ', '\0'],
};

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xe0, 0xb9];
const START_CODES = [0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xc0, 0xe0, 0xb9, 0x00, 0xff];

function mutate(rand, base, seeds, codec) {
  const pick = (n) => Math.floor(rand() * n);
  let buf = Buffer.from(base);
  const rounds = 1 + pick(5);
  const tokens = TOKENS[codec];
  for (let r = 0; r < rounds; r++) {
    switch (pick(10)) {
      case 0: // flip bytes
        for (let k = 0, n = 1 + pick(8); k < n && buf.length > 0; k++) buf[pick(buf.length)] = pick(256);
        break;
      case 1: // truncate
        buf = buf.subarray(0, pick(buf.length + 1));
        break;
      case 2: { // splice another seed in
        const other = seeds[pick(seeds.length)];
        const from = pick(other.length + 1);
        const piece = other.subarray(from, from + pick(400));
        const at = pick(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)]);
        break;
      }
      case 3: { // structural token (text codecs) or a start code (binary)
        const tok = tokens.length > 0 ? Buffer.from(tokens[pick(tokens.length)], 'latin1') : Buffer.from([0, 0, 1, START_CODES[pick(START_CODES.length)]]);
        const at = pick(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), tok, buf.subarray(at)]);
        break;
      }
      case 4: { // delete a range
        const at = pick(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + pick(60))]);
        break;
      }
      case 5: { // duplicate a range (sometimes many times: length blow-up)
        const at = pick(buf.length + 1);
        const piece = buf.subarray(at, at + 1 + pick(80));
        const times = pick(8) === 0 ? 50 + pick(200) : 1 + pick(3);
        buf = Buffer.concat([buf.subarray(0, at), ...Array(times).fill(piece), buf.subarray(at)]);
        break;
      }
      case 6: // interesting byte values
        for (let k = 0, n = 1 + pick(4); k < n && buf.length > 0; k++) buf[pick(buf.length)] = INTERESTING_BYTES[pick(INTERESTING_BYTES.length)];
        break;
      case 7: { // 16-bit length fields: extremes at a random even offset
        if (buf.length >= 2) {
          const at = pick(buf.length - 1);
          buf.writeUInt16BE([0, 1, 0xffff, 0x7fff, 0x8000, buf.length, buf.length + 1][pick(7)] & 0xffff, at);
        }
        break;
      }
      case 8: { // swap two ranges
        if (buf.length > 4) {
          const a = pick(buf.length - 1);
          const b = pick(buf.length - 1);
          const n = 1 + pick(Math.min(30, buf.length - Math.max(a, b)));
          const pa = Buffer.from(buf.subarray(a, a + n));
          buf.copy(buf, a, b, b + n);
          pa.copy(buf, b);
        }
        break;
      }
      default: { // random bytes inserted
        const at = pick(buf.length + 1);
        const junk = Buffer.alloc(1 + pick(16));
        for (let k = 0; k < junk.length; k++) junk[k] = pick(256);
        buf = Buffer.concat([buf.subarray(0, at), junk, buf.subarray(at)]);
      }
    }
  }
  // Bound the input size: decoders have their own limits, the fuzzer need not test 100 MB inputs.
  return buf.length > 96 * 1024 ? buf.subarray(0, 96 * 1024) : buf;
}

function makeInput(seed, codecIndex, i, seeds, codec) {
  const rand = prng(inputSeed(seed, codecIndex, i));
  const base = seeds[Math.floor(rand() * seeds.length)];
  // 1 in 50: a raw seed (no mutation), so valid shapes stay in the mix.
  return rand() < 0.02 ? Buffer.from(base) : mutate(rand, base, seeds, codec);
}

async function buildSeeds(codec) {
  const out = [];
  const imp = (rel) => import(pathToFileURL(join(DIST, rel)).href);
  const enc = (s) => Buffer.from(s, 'latin1');
  if (codec === 'sip') {
    const head = (start, extra, body = '') =>
      enc(`${start}\r\nVia: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK776asdhds\r\nFrom: <sip:44030500001320000017@4403050000>;tag=1928301774\r\n` +
        `To: <sip:44030500001320000017@4403050000>\r\nCall-ID: a84b4c76e66710@10.1.2.3\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n${extra}Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`);
    out.push(head('REGISTER sip:44030500002000000001@4403050000 SIP/2.0', 'Contact: <sip:44030500001320000017@10.1.2.3:5060>\r\nExpires: 3600\r\nUser-Agent: IP Camera\r\n'));
    out.push(head('REGISTER sip:44030500002000000001@4403050000 SIP/2.0',
      'Contact: <sip:44030500001320000017@10.1.2.3:5060>;expires=3600\r\nAuthorization: Digest username="44030500001320000017", realm="4403050000", nonce="5f0ce2", uri="sip:44030500002000000001@4403050000", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="abc"\r\n'));
    out.push(head('SIP/2.0 401 Unauthorized', 'WWW-Authenticate: Digest realm="4403050000", qop="auth", nonce="5f0ce2", algorithm=MD5\r\n'));
    out.push(head('SIP/2.0 200 OK', 'Date: 2026-03-01T09:15:30.123\r\nExpires: 3600\r\n'));
    out.push(head('MESSAGE sip:44030500002000000001@4403050000 SIP/2.0', 'Content-Type: Application/MANSCDP+xml\r\n',
      '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify><CmdType>Keepalive</CmdType><SN>431</SN><DeviceID>44030500001320000017</DeviceID><Status>OK</Status></Notify>\r\n'));
    out.push(head('INVITE sip:44030500001320000005@10.1.2.3:5060 SIP/2.0', 'Contact: <sip:44030500002000000001@10.9.9.9:5060>\r\nSubject: 44030500001320000005:0500000017,44030500002000000001:0\r\nContent-Type: APPLICATION/SDP\r\n',
      'v=0\r\no=44030500002000000001 0 0 IN IP4 10.9.9.10\r\ns=Play\r\nc=IN IP4 10.9.9.10\r\nt=0 0\r\nm=video 30000 RTP/AVP 96\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\ny=0500000017\r\n'));
    out.push(enc('BYE sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bKx\r\nf: <sip:a@b>;tag=1\r\nt: <sip:b@c>;tag=2\r\ni: x\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n'));
  } else if (codec === 'manscdp') {
    const xml = [
      `<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Keepalive</CmdType><SN>431</SN><DeviceID>44030500001320000017</DeviceID><Status>OK</Status><Info><DeviceID>44030500001310000003</DeviceID></Info></Notify>`,
      `<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>7</SN><DeviceID>44030500001180000002</DeviceID><SumNum>2</SumNum><DeviceList Num="2"><Item><DeviceID>44030500001320000005</DeviceID><Name>南门入口</Name><Manufacturer>Hikvision</Manufacturer><ParentID>44030500001180000002/44030500002160000001</ParentID><CivilCode>440305</CivilCode><Status>ON</Status><Longitude>113.9</Longitude><Latitude>22.5</Latitude><Info><PTZType>1</PTZType></Info></Item><Item><DeviceID>440305</DeviceID><Name>南山</Name></Item></DeviceList></Response>`,
      `<Notify><CmdType>Alarm</CmdType><SN>9</SN><DeviceID>44030500001320000005</DeviceID><AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-03-01T09:31:02</AlarmTime><AlarmDescription>motion</AlarmDescription><Longitude>113.93</Longitude><Latitude>22.53</Latitude><Info><AlarmType>2</AlarmType><AlarmTypeParam><EventType>1</EventType></AlarmTypeParam></Info></Notify>`,
      `<Notify><CmdType>MobilePosition</CmdType><SN>6</SN><DeviceID>M</DeviceID><Time>2026-03-01T09:31:02</Time><SumNum>1</SumNum><DeviceList Num="1"><Item><DeviceID>M</DeviceID><CaptureTime>2026-03-01T09:31:02</CaptureTime><Longitude>1</Longitude><Latitude>2</Latitude><Speed>3</Speed><Direction>90</Direction></Item></DeviceList></Notify>`,
      `<Response><CmdType>DeviceInfo</CmdType><SN>10021</SN><DeviceID>44030500001180000002</DeviceID><DeviceName>NVR</DeviceName><Result>OK</Result><Manufacturer>Dahua</Manufacturer><Model>NVR4208</Model><Firmware>V4</Firmware><Channel>8</Channel></Response>`,
      `<Response><CmdType>DeviceStatus</CmdType><SN>10022</SN><DeviceID>44030500001180000002</DeviceID><Result>OK</Result><Online>ONLINE</Online><Status>OK</Status><Encode>ON</Encode><Record>OFF</Record><DeviceTime>2026-03-01T09:31:02</DeviceTime><Alarmstatus Num="1"><Item><DeviceID>44030500001340000001</DeviceID><DutyStatus>ONDUTY</DutyStatus></Item></Alarmstatus></Response>`,
      `<Response><CmdType>RecordInfo</CmdType><SN>55001</SN><DeviceID>44030500001320000005</DeviceID><Name>Cam</Name><SumNum>1</SumNum><RecordList Num="1"><Item><DeviceID>44030500001320000005</DeviceID><Name>南门入口</Name><StartTime>2026-03-01T00:00:00</StartTime><EndTime>2026-03-01T01:00:00</EndTime><Secrecy>0</Secrecy><Type>time</Type></Item></RecordList></Response>`,
      `<Response><CmdType>PresetQuery</CmdType><SN>3</SN><DeviceID>44030500001320000005</DeviceID><PresetList Num="2"><Item><PresetID>1</PresetID><PresetName>Gate</PresetName></Item><Item><PresetID>2</PresetID><PresetName>门</PresetName></Item></PresetList></Response>`,
      `<Control><CmdType>DeviceControl</CmdType><SN>11</SN><DeviceID>44030500001320000005</DeviceID><PTZCmd>A50F010800FA00B7</PTZCmd><Info><ControlPriority>5</ControlPriority></Info></Control>`,
      `<Notify><CmdType>MediaStatus</CmdType><SN>12</SN><DeviceID>44030500001320000005</DeviceID><NotifyType>121</NotifyType></Notify>`,
    ];
    for (const x of xml) out.push(Buffer.from(x, 'utf8'));
    try {
      const iconv = (await import('iconv-lite')).default;
      out.push(iconv.encode(xml[1], 'gb18030'));
    } catch {
      // iconv-lite is a dependency; without it the UTF-8 seeds still cover the decoder
    }
  } else if (codec === 'sdp') {
    out.push(enc('v=0\r\no=44030500001320000005 0 0 IN IP4 10.1.2.3\r\ns=Play\r\nc=IN IP4 10.1.2.3\r\nt=0 0\r\nm=video 15060 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\na=streamnumber:0\r\ny=0500000017\r\nf=v/2/5/25/1/2048a/1/8/1\r\n'));
    out.push(enc('v=0\r\no=44030500002000000001 0 0 IN IP4 10.9.9.10\r\ns=Playback\r\nu=44030500001320000005:0\r\nc=IN IP4 10.9.9.10\r\nt=1700000000 1700003600\r\nm=video 30000 TCP/RTP/AVP 96 97 98\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\na=setup:passive\r\na=connection:new\r\ny=1500000018\r\nf=v/////a///\r\n'));
    out.push(enc('v=0\no=x 0 0 IN IP4 1.2.3.4\ns=Play\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 8000 RTP/AVP 8\na=rtpmap:8 PCMA/8000\na=sendrecv\n'));
  } else if (codec === 'rtp') {
    const { serializeRtp } = await imp('codecs/rtp/rtp.js');
    const payload = Buffer.from('000001ba44000400040101312ffffffa000001e0', 'hex');
    out.push(serializeRtp({ payloadType: 96, sequenceNumber: 1, timestamp: 3600, ssrc: 500000017, marker: true, payload }));
    out.push(serializeRtp({ payloadType: 8, sequenceNumber: 65535, timestamp: 0xffffffff, ssrc: 0, marker: false, payload: Buffer.alloc(160, 0xd5), csrcs: [1, 2, 3] }));
    // With a header extension and padding, written by hand (the serializer does not make them).
    const ext = Buffer.from('b060000100000064000000000000beef0001dead000000000000000000000002', 'hex');
    out.push(ext);
    // RFC 4571 framing of two packets, as on a TCP media connection.
    const framed = Buffer.concat(out.slice(0, 2).map((p) => Buffer.concat([Buffer.from([p.length >> 8, p.length & 0xff]), p])));
    out.push(framed);
  } else if (codec === 'ps') {
    const { PsMuxer } = await imp('codecs/ps/ps-muxer.js');
    const sps = Buffer.from('000000016742c01e95a0500f84000000000000', 'hex');
    const pps = Buffer.from('0000000168ce3c80', 'hex');
    const idr = Buffer.concat([Buffer.from('0000000165888400', 'hex'), Buffer.alloc(300, 0x5a)]);
    const p = Buffer.concat([Buffer.from('00000001419a', 'hex'), Buffer.alloc(120, 0x33)]);
    const h264 = new PsMuxer({ video: 'h264', audio: 'g711a' });
    out.push(Buffer.concat([h264.muxVideo(Buffer.concat([sps, pps, idr]), 3600, true), h264.muxAudio(Buffer.alloc(160, 0xd5), 3600), h264.muxVideo(p, 7200, false)]));
    const vps = Buffer.from('0000000140010c01ffff016000000300b0000003000003005d', 'hex');
    const hsps = Buffer.from('00000001420101016000000300b0000003000003005da00280802d16', 'hex');
    const hpps = Buffer.from('000000014401c172b46240', 'hex');
    const hidr = Buffer.concat([Buffer.from('000000012601af', 'hex'), Buffer.alloc(200, 0x11)]);
    const h265 = new PsMuxer({ video: 'h265' });
    out.push(Buffer.concat([h265.muxVideo(Buffer.concat([vps, hsps, hpps, hidr]), 0, true), h265.muxVideo(Buffer.concat([Buffer.from('0000000102010d', 'hex'), Buffer.alloc(90, 7)]), 3600, false)]));
    const big = new PsMuxer({ video: 'h264', maxPesPayload: 100 });
    out.push(big.muxVideo(Buffer.concat([sps, pps, idr]), 90000, true));
  } else if (codec === 'soap') {
    const env = (body, header = '') => enc(`<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">${header ? `<s:Header>${header}</s:Header>` : ''}<s:Body>${body}</s:Body></s:Envelope>`);
    out.push(env('<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:UTCDateTime><tt:Time><tt:Hour>8</tt:Hour><tt:Minute>1</tt:Minute><tt:Second>2</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>12</tt:Month><tt:Day>5</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>'));
    out.push(env('<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>http://127.0.1.1/onvif/media</tt:XAddr></tt:Media><tt:PTZ><tt:XAddr>http://127.0.1.1/onvif/ptz</tt:XAddr></tt:PTZ></tds:Capabilities></tds:GetCapabilitiesResponse>'));
    out.push(env('<trt:GetProfilesResponse xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><trt:Profiles token="p1" fixed="true"><tt:Name>main</tt:Name><tt:VideoEncoderConfiguration token="v"><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration><tt:PTZConfiguration token="z"><tt:NodeToken>n</tt:NodeToken></tt:PTZConfiguration></trt:Profiles></trt:GetProfilesResponse>'));
    out.push(env('<tev:PullMessagesResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><tev:CurrentTime>2026-12-05T08:00:00Z</tev:CurrentTime><wsnt:NotificationMessage><wsnt:Topic>tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-12-05T08:00:00Z"><tt:Source><tt:SimpleItem Name="A" Value="1"/></tt:Source><tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse>'));
    out.push(env('<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">no</s:Text></s:Reason></s:Fault>'));
    out.push(enc('<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Header><a:MessageID xmlns:a="x">urn:uuid:1</a:MessageID></e:Header><e:Body><d:ProbeMatches><d:ProbeMatch><d:XAddrs>http://10.1.2.3/onvif/device_service</d:XAddrs><d:Scopes>onvif://www.onvif.org/name/A%20B</d:Scopes></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>'));
  } else if (codec === 'rtsp') {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHpWoFAFpIA==,aM48gA==\r\na=control:trackID=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\na=fmtp:97 mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1210\r\n';
    out.push(enc(`RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsp://h/x/\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`));
    out.push(enc('RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1A2B3C4D\r\n\r\n'));
    out.push(enc('RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm="IP Camera", nonce="abc", qop="auth"\r\n\r\n'));
    out.push(Buffer.concat([enc('RTSP/1.0 200 OK\r\nCSeq: 5\r\nRTP-Info: url=rtsp://h/x/trackID=0;seq=1;rtptime=2\r\n\r\n'), Buffer.from('2400000c80600001000000010000000141', 'hex')]));
    out.push(enc('GET_PARAMETER rtsp://h/x/ RTSP/1.0\r\nCSeq: 9\r\nSession: 1\r\n\r\n'));
  } else if (codec === 'rtp-payload') {
    const { packetizeVideo } = await imp('codecs/rtp/payload/video.js');
    const { packetizeAacHbr } = await imp('codecs/rtp/payload/audio.js');
    const nal = (h, n) => Buffer.concat([Buffer.from(h, 'hex'), Buffer.alloc(n, 0x5a)]);
    // Each packet prefixed by a length-ish byte so the harness cuts the input back into packets.
    const frame = (packets) => Buffer.concat(packets.map((p) => Buffer.concat([Buffer.of(Math.max(0, p.payload.length - 1) % 200), Buffer.from(p.payload)])));
    out.push(frame(packetizeVideo('h264', [nal('6742c01e', 10), nal('68ce3c80', 2), nal('6588', 500)], 150)));
    out.push(frame(packetizeVideo('h265', [nal('4001', 10), nal('4201', 20), nal('4401', 4), nal('2601', 400)], 120)));
    out.push(Buffer.from(packetizeAacHbr([Buffer.alloc(30, 1), Buffer.alloc(40, 2)])));
    out.push(Buffer.from('18000467420001000268ce', 'hex'));
  } else if (codec === 'flv') {
    out.push(Buffer.from('1700000000014d401effe1000a674d401e9a6602802d8801000468ee3c80', 'hex'));
    out.push(Buffer.concat([Buffer.from('1701000028', 'hex'), Buffer.from('0000000565888400aa', 'hex')]));
    out.push(Buffer.from('2701ffffd800000003419a12', 'hex'));
    out.push(Buffer.from('af001210', 'hex'));
    out.push(Buffer.from('af01210049900', 'hex').subarray(0, 6));
    out.push(Buffer.from('90687663310101600000', 'hex'));
  } else if (codec === 'mansrtsp') {
    out.push(enc('PLAY RTSP/1.0\r\nCSeq: 13\r\nRange: npt=now-\r\n\r\n'));
    out.push(enc('PAUSE RTSP/1.0\r\nCSeq: 12\r\nPauseTime: now\r\n\r\n'));
    out.push(enc('PLAY RTSP/1.0\r\nCSeq: 14\r\nScale: 2.000000\r\n\r\n'));
    out.push(enc('RTSP/1.0 200 OK\r\nCSeq: 15\r\nRange: npt=100-\r\nRTP-Info: seq=1234;rtptime=56789\r\n\r\n'));
  } else if (codec === 'rtmp') {
    const { writeMessage } = await imp('codecs/rtmp/chunks.js');
    const { encodeAmf0 } = await imp('codecs/rtmp/amf0.js');
    out.push(writeMessage(3, 20, 0, 0, encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live', flashVer: 'FMLE/3.0' }), 128));
    out.push(Buffer.concat([writeMessage(2, 1, 0, 0, Buffer.from('00001000', 'hex'), 128), writeMessage(3, 20, 1, 0, encodeAmf0('publish', 5, null, 'key?sign=x', 'live'), 4096)]));
    out.push(writeMessage(4, 18, 1, 0, encodeAmf0('@setDataFrame', 'onMetaData', { width: 640, height: 360, videocodecid: 7 }), 128));
    out.push(writeMessage(6, 9, 1, 0x1000000, Buffer.alloc(400, 0x17), 128));
  }
  // The saved corpus is part of the seed set: the next run starts where the last one got to.
  const dir = join(CORPUS_ROOT, codec);
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) if (f.endsWith('.bin')) out.push(readFileSync(join(dir, f)));
  return out;
}

// ------------------------------------------------------------------------------------------ worker

async function workerMain() {
  const { seed, codec, codecIndex, from, to, slowMs, progress } = workerData;
  const { runDecoder, DecoderCrash } = await import(pathToFileURL(join(DIST, 'codecs', 'decoder-harness.js')).href);
  const { PsDemuxer } = await import(pathToFileURL(join(DIST, 'codecs', 'ps', 'ps-demuxer.js')).href);
  const { SipStreamFramer } = await import(pathToFileURL(join(DIST, 'codecs', 'sip', 'framer.js')).href);
  const seeds = await buildSeeds(codec);
  const beat = new Int32Array(progress);
  const longLivedPs = new PsDemuxer();
  const longLivedFramer = new SipStreamFramer({ maxMessageBytes: 65_535 });

  const signatureOf = (fn) => {
    try {
      const o = fn();
      return `${o.kind}:${o.detail}`;
    } catch (err) {
      if (err instanceof DecoderCrash) return `crash:${String(err.message).split('\n')[0].replace(/\d+/g, 'N').slice(0, 160)}`;
      return `harness:${String(err)}`;
    }
  };
  /** Greedy minimisation: drop chunks (halving sizes) while the signature stays the same. Bounded work. */
  const minimise = (input, signature) => {
    let best = input;
    let budget = 3000;
    for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && budget > 0; chunk >>= 1) {
      for (let at = 0; at < best.length && budget > 0; ) {
        const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)]);
        budget--;
        if (candidate.length < best.length && signatureOf(() => runDecoder(codec, candidate)) === signature) best = candidate;
        else at += chunk;
      }
    }
    return best;
  };

  const gcHeap = () => {
    globalThis.gc?.();
    globalThis.gc?.();
    return process.memoryUsage().heapUsed;
  };
  const stats = { inputs: 0, ok: 0, refused: 0, crashes: 0, slow: 0, maxMs: 0, bytes: 0, heapAfterWarmup: 0, heapEnd: 0, heapSamples: [] };
  const seen = new Set();
  const warmup = Math.min(from + 5000, to);
  for (let i = from; i < to; i++) {
    Atomics.store(beat, 0, i);
    if (i === warmup) stats.heapAfterWarmup = gcHeap();
    if (i > warmup && (i - from) % 50_000 === 0) stats.heapSamples.push(Math.round(gcHeap() / 1024));
    const input = makeInput(seed, codecIndex, i, seeds, codec);
    stats.inputs++;
    stats.bytes += input.length;
    const t0 = performance.now();
    let signature;
    try {
      const o = runDecoder(codec, input);
      if (o.kind === 'ok') stats.ok++;
      else stats.refused++;
      signature = `${o.kind}:${o.detail}`;
    } catch (err) {
      if (!(err instanceof DecoderCrash)) throw err;
      stats.crashes++;
      signature = `crash:${String(err.message).split('\n')[0].replace(/\d+/g, 'N').slice(0, 160)}`;
      if (!seen.has(signature)) {
        seen.add(signature);
        const small = minimise(input, signature);
        parentPort.postMessage({ type: 'finding', kind: 'crash', codec, index: i, signature, stack: String(err.original?.stack ?? err.stack).slice(0, 1500), input: small.toString('base64') });
      }
      continue;
    }
    const ms = performance.now() - t0;
    if (ms > stats.maxMs) stats.maxMs = ms;
    if (ms > slowMs) {
      stats.slow++;
      parentPort.postMessage({ type: 'finding', kind: 'slow', codec, index: i, signature: `slow:${signature}`, ms, input: input.toString('base64') });
    }
    // The long-lived instances: state across inputs must stay bounded (they see a stream of garbage).
    if (codec === 'ps') longLivedPs.push(input);
    if (codec === 'sip') {
      try {
        longLivedFramer.push(input);
      } catch (err) {
        parentPort.postMessage({ type: 'finding', kind: 'crash', codec, index: i, signature: `crash:framer ${String(err).slice(0, 120)}`, stack: String(err?.stack), input: input.toString('base64') });
      }
    }
    if (!seen.has(signature)) {
      seen.add(signature);
      parentPort.postMessage({ type: 'finding', kind: 'interesting', codec, index: i, signature, input: minimise(input, signature).toString('base64') });
    }
  }
  stats.heapEnd = gcHeap();
  stats.longLivedFramerBufferedBytes = longLivedFramer.bufferedBytes;
  parentPort.postMessage({ type: 'done', stats });
}

// ------------------------------------------------------------------------------------------ main

async function main() {
  if (typeof globalThis.gc !== 'function') {
    // Heap figures need a full GC: run again with --expose-gc (workers share the process's V8 flags).
    const r = spawnSync(process.execPath, ['--expose-gc', HERE, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const { options } = await import('./lib/args.mjs');
  const { machineInfo, machineLine } = await import('./lib/machine.mjs');
  const { writeResult, log } = await import('./lib/out.mjs');
  const usage = 'node bench/fuzz.mjs [--total 1000000] [--seed 20261205] [--codecs sip,manscdp,sdp,rtp,ps] [--slow-ms 250] [--hang-sec 30] [--save true] [--max-saved 40] [--only codec:index]';
  const o = options({ total: 1_000_000, seed: 20261205, codecs: CODECS.join(','), 'slow-ms': 250, 'hang-sec': 30, save: 'true', 'max-saved': 40, only: '' }, usage);
  if (!existsSync(join(DIST, 'codecs', 'decoder-harness.js'))) throw new Error('dist/codecs/decoder-harness.js is missing: run "npm run build" (or npx tsc -p tsconfig.build.json) first');

  if (o.only) {
    const [codec, index] = o.only.split(':');
    const seeds = await buildSeeds(codec);
    process.stdout.write(`${makeInput(o.seed, CODECS.indexOf(codec), Number(index), seeds, codec).toString('hex')}\n`);
    return;
  }

  const codecs = o.codecs.split(',').filter(Boolean);
  for (const c of codecs) if (!CODECS.includes(c)) throw new Error(`unknown codec ${c} (known: ${CODECS.join(', ')})`);
  const perCodec = Math.floor(o.total / codecs.length);
  const machine = machineInfo();
  log(`fuzz: ${o.total} inputs (${perCodec} per decoder), seed ${o.seed}; ${machineLine(machine)}`);
  const results = {};
  const findings = [];
  const save = o.save === 'true';
  const savedPerCodec = new Map();

  const saveFinding = (f) => {
    if (!save || f.kind === 'slow' && f.ms < 1000) return null;
    const dir = join(CORPUS_ROOT, f.codec);
    mkdirSync(dir, { recursive: true });
    const bytes = Buffer.from(f.input, 'base64');
    const name = `${f.kind === 'interesting' ? '' : `${f.kind}-`}${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}.bin`;
    const path = join(dir, name);
    if (existsSync(path)) return null;
    const n = savedPerCodec.get(f.codec) ?? readdirSync(dir).length;
    if (f.kind === 'interesting' && n >= o['max-saved']) return null;
    savedPerCodec.set(f.codec, n + 1);
    writeFileSync(path, bytes);
    return name;
  };

  for (const [codecIndex, codec] of codecs.entries()) {
    const started = performance.now();
    let from = 0;
    const agg = { inputs: 0, ok: 0, refused: 0, crashes: 0, uniqueCrashes: 0, hangs: 0, slow: 0, maxMs: 0, bytes: 0, heapAfterWarmupKB: null, heapEndKB: null, heapSamplesKB: [], saved: [] };
    while (from < perCodec) {
      const progress = new SharedArrayBuffer(4);
      const beat = new Int32Array(progress);
      Atomics.store(beat, 0, from);
      const worker = new Worker(HERE, { workerData: { seed: o.seed, codec, codecIndex: CODECS.indexOf(codec), from, to: perCodec, slowMs: o['slow-ms'], progress } });
      const outcome = await new Promise((resolve, reject) => {
        let last = -1;
        let lastChange = Date.now();
        const watchdog = setInterval(() => {
          const now = Atomics.load(beat, 0);
          if (now !== last) {
            last = now;
            lastChange = Date.now();
          } else if (Date.now() - lastChange > o['hang-sec'] * 1000) {
            clearInterval(watchdog);
            void worker.terminate();
            resolve({ hangAt: now });
          }
        }, 500);
        worker.on('message', (m) => {
          if (m.type === 'finding') {
            const name = saveFinding(m);
            findings.push({ kind: m.kind, codec: m.codec, index: m.index, signature: m.signature, ...(m.stack ? { stack: m.stack } : {}), ...(m.ms ? { ms: m.ms } : {}), saved: name });
            if (m.kind === 'crash') {
              agg.uniqueCrashes++;
              log(`CRASH ${codec} #${m.index}: ${m.signature}${name ? ` → test-fixtures/fuzz/${codec}/${name}` : ''}`);
            } else if (m.kind === 'slow') log(`slow ${codec} #${m.index}: ${m.ms.toFixed(0)} ms (${m.signature})`);
            if (name) agg.saved.push(name);
          } else if (m.type === 'done') {
            clearInterval(watchdog);
            resolve({ stats: m.stats });
          }
        });
        worker.on('error', (err) => {
          clearInterval(watchdog);
          reject(err);
        });
      });
      if (outcome.hangAt !== undefined) {
        const i = outcome.hangAt;
        const seeds = await buildSeeds(codec);
        const input = makeInput(o.seed, CODECS.indexOf(codec), i, seeds, codec);
        agg.hangs++;
        const name = saveFinding({ kind: 'hang', codec, input: input.toString('base64'), ms: o['hang-sec'] * 1000 });
        findings.push({ kind: 'hang', codec, index: i, signature: 'hang', saved: name });
        log(`HANG ${codec} #${i} (no progress for ${o['hang-sec']} s)${name ? ` → test-fixtures/fuzz/${codec}/${name}` : ''}`);
        agg.inputs += i - from + 1;
        from = i + 1;
        continue;
      }
      const s = outcome.stats;
      agg.inputs += s.inputs;
      agg.ok += s.ok;
      agg.refused += s.refused;
      agg.crashes += s.crashes;
      agg.slow += s.slow;
      agg.maxMs = Math.max(agg.maxMs, s.maxMs);
      agg.bytes += s.bytes;
      agg.heapAfterWarmupKB = Math.round(s.heapAfterWarmup / 1024);
      agg.heapEndKB = Math.round(s.heapEnd / 1024);
      agg.heapSamplesKB = s.heapSamples;
      agg.longLivedFramerBufferedBytes = s.longLivedFramerBufferedBytes;
      from = perCodec;
    }
    agg.seconds = Math.round((performance.now() - started) / 100) / 10;
    agg.maxMs = Math.round(agg.maxMs * 10) / 10;
    agg.meanInputBytes = Math.round(agg.bytes / Math.max(1, agg.inputs));
    results[codec] = agg;
    log(`${codec}: ${agg.inputs} inputs in ${agg.seconds} s — ok ${agg.ok}, refused ${agg.refused}, crashes ${agg.crashes} (${agg.uniqueCrashes} unique), hangs ${agg.hangs}, slow>${o['slow-ms']}ms ${agg.slow}, max ${agg.maxMs} ms; heap ${agg.heapAfterWarmupKB} → ${agg.heapEndKB} KB; saved ${agg.saved.length}`);
  }
  const totals = Object.values(results).reduce((t, r) => ({ inputs: t.inputs + r.inputs, crashes: t.crashes + r.crashes, hangs: t.hangs + r.hangs, slow: t.slow + r.slow }), { inputs: 0, crashes: 0, hangs: 0, slow: 0 });
  log(`total: ${totals.inputs} inputs, ${totals.crashes} crashes, ${totals.hangs} hangs, ${totals.slow} slow`);
  const file = writeResult('fuzz', { options: o, machine, results, totals, findings });
  log(`written ${file}`);
  process.exitCode = totals.crashes + totals.hangs > 0 ? 1 : 0;
}

if (isMainThread) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
} else {
  workerMain().catch((err) => {
    parentPort.postMessage({ type: 'finding', kind: 'crash', codec: workerData.codec, index: Atomics.load(new Int32Array(workerData.progress), 0), signature: `harness:${String(err)}`, stack: String(err?.stack), input: '' });
    throw err;
  });
}
