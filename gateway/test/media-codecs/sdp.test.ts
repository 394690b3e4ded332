import { describe, expect, it } from 'vitest';
import {
  buildHistoryOffer,
  buildPlayOffer,
  buildSdp,
  getAttribute,
  parseFormatField,
  parseSdp,
  receiveTransportOfAnswer,
  SdpParseError,
  substreamAttributesOf,
} from '../../src/codecs/sdp/sdp.js';

/** The offer of brief §4.3, plus the H.265 payload type 100 the gateway also offers. */
const BRIEF_OFFER = [
  'v=0',
  'o=44030500002000000001 0 0 IN IP4 10.9.9.10',
  's=Play',
  'c=IN IP4 10.9.9.10',
  't=0 0',
  'm=video 30012 TCP/RTP/AVP 96 97 98 100',
  'a=recvonly',
  'a=rtpmap:96 PS/90000',
  'a=rtpmap:97 MPEG4/90000',
  'a=rtpmap:98 H264/90000',
  'a=rtpmap:100 H265/90000',
  'a=setup:passive',
  'a=connection:new',
  'a=streamnumber:1',
  'y=0500000017',
  '',
].join('\r\n');

/** Shape of a Dahua NVR answer (brief §4.3 [CAP]), LF line ends and a stray blank line, as devices send. */
const DAHUA_ANSWER = `v=0
o=44030500001320000005 0 0 IN IP4 10.1.2.3
s=Play
c=IN IP4 10.1.2.3
t=0 0

m=video 20004 TCP/RTP/AVP 96
a=sendonly
a=rtpmap:96 PS/90000
a=setup:active
a=connection:new
a=streamprofile:0
a=streamnumber:0
y=0500000017
f=v/0/0/0/0/0a/0/0/0
`;

describe('GB SDP', () => {
  it('builds the brief §4.3 live offer byte for byte (TCP passive, sub-stream selector)', () => {
    const text = buildPlayOffer({
      sipId: '44030500002000000001',
      mediaHost: '10.9.9.10',
      port: 30012,
      transport: 'tcp-passive',
      ssrc: '0500000017',
      substream: { attribute: 'streamnumber', value: '1' },
    });
    expect(text).toBe(BRIEF_OFFER);
  });

  it('offers UDP without setup/connection, TCP active with a=setup:active, and the vendor sub-stream attributes', () => {
    const udp = buildPlayOffer({ sipId: '34020000002000000001', mediaHost: '192.168.1.9', port: 30000, transport: 'udp', ssrc: '0200000001' });
    expect(udp).toContain('m=video 30000 RTP/AVP 96 97 98 100\r\n');
    expect(udp).not.toContain('a=setup');
    expect(udp).not.toContain('a=connection');
    const active = parseSdp(
      buildPlayOffer({ sipId: '34020000002000000001', mediaHost: '192.168.1.9', port: 30000, transport: 'tcp-active', ssrc: '0200000001', substream: { attribute: 'streamMode', value: 'SUB' } }),
    );
    expect(active).toMatchObject({ setup: 'active', connectionAttr: 'new', direction: 'recvonly', ssrc: '0200000001' });
    expect(active.media).toEqual({ type: 'video', port: 30000, protocol: 'TCP/RTP/AVP', formats: [96, 97, 98, 100] });
    expect(active.rtpmap).toEqual({ 96: 'PS/90000', 97: 'MPEG4/90000', 98: 'H264/90000', 100: 'H265/90000' });
    expect(substreamAttributesOf(active)).toEqual([{ attribute: 'streamMode', value: 'SUB' }]);
  });

  it('parses the Dahua-shaped answer', () => {
    const answer = parseSdp(DAHUA_ANSWER);
    expect(answer).toMatchObject({
      origin: { username: '44030500001320000005', address: '10.1.2.3' },
      sessionName: 'Play',
      connection: '10.1.2.3',
      media: { type: 'video', port: 20004, protocol: 'TCP/RTP/AVP', formats: [96] },
      rtpmap: { 96: 'PS/90000' },
      direction: 'sendonly',
      setup: 'active',
      connectionAttr: 'new',
      ssrc: '0500000017',
      f: 'v/0/0/0/0/0a/0/0/0',
      timing: { start: 0, stop: 0 },
    });
    expect(answer.attributes).toEqual([
      ['streamprofile', '0'],
      ['streamnumber', '0'],
    ]);
    expect(substreamAttributesOf(answer).map((s) => s.attribute)).toEqual(['streamprofile', 'streamnumber']);
    expect(receiveTransportOfAnswer(answer, 'tcp-passive')).toBe('tcp-passive');
    expect(parseFormatField(answer.f!)).toEqual({
      video: { codec: null, resolution: null, fps: null, rateControl: null, bitrateKbps: null },
      audio: { codec: null, bitrateKbps: null, sampleRateHz: null },
    });
  });

  it('is lenient: RTP/AVP/TCP, c= after m=, spaces, unknown lines kept and rebuilt', () => {
    const sdp = parseSdp(
      'v=0\no=dev 1 1 IN IP4 1.2.3.4\ns=Play\nt=0 0\nb=AS:4096\nm=video 6000/2 RTP/AVP/TCP 96 x\nc = IN IP4 5.6.7.8\na=rtpmap:96  PS/90000 \na=SETUP:PASSIVE\na=inactive\na=x-vendor:1:2\na=stream:1\ny=0200000001\n',
    );
    expect(sdp.connection).toBe('5.6.7.8');
    expect(sdp.media).toEqual({ type: 'video', port: 6000, protocol: 'TCP/RTP/AVP', formats: [96] });
    expect(sdp.setup).toBe('passive');
    expect(sdp.rtpmap[96]).toBe('PS/90000');
    expect(sdp.attributes).toEqual([
      ['b=', 'AS:4096'],
      ['inactive', ''],
      ['x-vendor', '1:2'],
      ['stream', '1'],
    ]);
    expect(getAttribute(sdp, 'X-VENDOR')).toBe('1:2');
    expect(receiveTransportOfAnswer(sdp, 'tcp-passive')).toBe('tcp-active');
    const rebuilt = buildSdp(sdp);
    expect(rebuilt).toContain('b=AS:4096\r\nm=video 6000 TCP/RTP/AVP 96\r\n');
    expect(rebuilt).toContain('a=inactive\r\na=x-vendor:1:2\r\na=stream:1\r\ny=0200000001\r\n');
    expect(parseSdp(rebuilt)).toEqual(sdp);
    expect(() => parseSdp('v=0\r\ns=Play\r\n')).toThrow(SdpParseError);
    expect(() => parseSdp('m=application 9 UDP/BFCP *')).toThrow(/bad-media/);
    expect(() => parseSdp('m=video port RTP/AVP 96')).toThrow(/bad-media/);
  });

  it('builds Playback / Download offers (brief §4.4)', () => {
    const text = buildHistoryOffer({
      sipId: '44030500002000000001',
      mediaHost: '10.9.9.10',
      port: 30014,
      transport: 'udp',
      ssrc: '1500000018',
      mode: 'Download',
      channelId: '44030500001320000005',
      start: 1772326800,
      end: 1772328600,
      downloadSpeed: 4,
    });
    expect(text).toBe(
      [
        'v=0',
        'o=44030500002000000001 0 0 IN IP4 10.9.9.10',
        's=Download',
        'u=44030500001320000005:0',
        'c=IN IP4 10.9.9.10',
        't=1772326800 1772328600',
        'm=video 30014 RTP/AVP 96 97 98 100',
        'a=recvonly',
        'a=rtpmap:96 PS/90000',
        'a=rtpmap:97 MPEG4/90000',
        'a=rtpmap:98 H264/90000',
        'a=rtpmap:100 H265/90000',
        'a=downloadspeed:4',
        'y=1500000018',
        '',
      ].join('\r\n'),
    );
    expect(parseSdp(text)).toMatchObject({ sessionName: 'Download', uri: '44030500001320000005:0', timing: { start: 1772326800, stop: 1772328600 } });
  });

  it('reads f= codes (standard layout, WVP talk, explicit resolution)', () => {
    expect(parseFormatField('v/2/6/25/2/4096a/1/8/1')).toEqual({
      video: { codec: 'H.264', resolution: '1080P/I', fps: 25, rateControl: 'VBR', bitrateKbps: 4096 },
      audio: { codec: 'G.711', bitrateKbps: 64, sampleRateHz: 8000 },
    });
    expect(parseFormatField('v/////a/1/8/1')).toEqual({
      video: { codec: null, resolution: null, fps: null, rateControl: null, bitrateKbps: null },
      audio: { codec: 'G.711', bitrateKbps: 64, sampleRateHz: 8000 },
    });
    expect(parseFormatField('v/5/1920x1080/30/1/2048a///').video).toEqual({ codec: 'H.265', resolution: '1920x1080', fps: 30, rateControl: 'CBR', bitrateKbps: 2048 });
    expect(parseFormatField('v/5/1920x1080/30/1/2048a///').audio).toEqual({ codec: null, bitrateKbps: null, sampleRateHz: null });
    expect(parseFormatField('garbage')).toEqual({ video: null, audio: null });
  });
});
