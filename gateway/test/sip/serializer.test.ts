import { describe, expect, it } from 'vitest';
import { parseSipMessage } from '../../src/codecs/sip/parser.js';
import { serializeSipMessage } from '../../src/codecs/sip/serializer.js';
import { buildResponse, reasonPhrase } from '../../src/codecs/sip/builder.js';
import {
  displayHeaderName,
  formatNameAddr,
  formatUri,
  formatVia,
  parseCSeq,
  parseNameAddr,
  parseUri,
  parseVia,
  tagOf,
} from '../../src/codecs/sip/headers.js';
import { header, headers, type SipRequest } from '../../src/codecs/sip/message.js';
import { SipParseError } from '../../src/codecs/sip/errors.js';
import { crlf, keepaliveMessage, OK_200, REGISTER, REGISTER_WITH_AUTH } from './fixtures.js';

describe('serializeSipMessage', () => {
  it('round-trips the brief examples byte for byte', () => {
    // The fixtures use canonical capitalisation and one header per line, so the bytes must come back unchanged.
    for (const wire of [REGISTER, OK_200, keepaliveMessage()]) {
      expect(serializeSipMessage(parseSipMessage(wire)).toString('latin1')).toBe(wire.toString('latin1'));
    }
  });

  it('re-emits compact, lower-case and folded input in canonical form', () => {
    const out = serializeSipMessage(
      parseSipMessage(
        Buffer.from(
          'MESSAGE sip:a@b SIP/2.0\nv: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP g;branch=z9hG4bK2\nf: <sip:x@y>;tag=1\nt: <sip:a@b>\n' +
            'i: c\ncseq: 1 MESSAGE\nx-gb-ver: 3.0\nwww-authenticate: Digest realm="r"\nuser-agent: u\nmax-forwards: 70\n' +
            'subject: 1:0,\n 2:0\ndate: 2026-03-01T09:15:30.123\nl: 3\n\nabc',
        ),
      ),
    ).toString();
    expect(out).toBe(
      [
        'MESSAGE sip:a@b SIP/2.0',
        'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
        'Via: SIP/2.0/UDP g;branch=z9hG4bK2',
        'From: <sip:x@y>;tag=1',
        'To: <sip:a@b>',
        'Call-ID: c',
        'CSeq: 1 MESSAGE',
        'X-GB-ver: 3.0',
        'WWW-Authenticate: Digest realm="r"',
        'User-Agent: u',
        'Max-Forwards: 70',
        'Subject: 1:0, 2:0',
        'Date: 2026-03-01T09:15:30.123',
        'Content-Length: 3',
        '',
        'abc',
      ].join('\r\n'),
    );
  });

  it('always writes the real Content-Length and neutralises CR/LF in values', () => {
    const req = parseSipMessage(REGISTER) as SipRequest;
    req.body = Buffer.from('hello');
    req.headers.push(['subject', 'evil\r\nVia: injected']);
    const back = parseSipMessage(serializeSipMessage(req));
    expect(header(back, 'content-length')).toBe('5');
    expect(back.body.toString()).toBe('hello');
    expect(headers(back, 'via')).toHaveLength(1);
    expect(header(back, 'subject')).toBe('evil Via: injected');
  });

  it('capitalises unknown names word by word', () => {
    expect(displayHeaderName('x-custom-thing')).toBe('X-Custom-Thing');
    expect(displayHeaderName('call-id')).toBe('Call-ID');
    expect(displayHeaderName('www-authenticate')).toBe('WWW-Authenticate');
  });
});

describe('header helpers', () => {
  it('parseVia / formatVia', () => {
    const via = parseVia('SIP/2.0/udp 10.1.2.3:5060;rport;branch=z9hG4bK771234;received=1.1.1.1');
    expect(via.transport).toBe('UDP');
    expect(via.host).toBe('10.1.2.3');
    expect(via.port).toBe(5060);
    expect(via.params.get('rport')).toBe('');
    expect(via.params.get('branch')).toBe('z9hG4bK771234');
    via.params.set('rport', '40000');
    expect(formatVia(via)).toBe('SIP/2.0/UDP 10.1.2.3:5060;rport=40000;branch=z9hG4bK771234;received=1.1.1.1');
    expect(parseVia('SIP / 2.0 / TCP host.example').port).toBeUndefined();
    expect(formatVia(parseVia('SIP/2.0/TCP [::1]:5060;branch=z9hG4bKx'))).toBe('SIP/2.0/TCP [::1]:5060;branch=z9hG4bKx');
    expect(() => parseVia('SIP/2.0/UDP')).toThrow(SipParseError);
    expect(() => parseVia('SIP/2.0/UDP host:99999')).toThrow(SipParseError);
  });

  it('parseNameAddr / formatNameAddr / tagOf', () => {
    expect(parseNameAddr('"Cam \\"1\\"" <sip:44030500001320000017@4403050000>;tag=abc')).toEqual({
      displayName: 'Cam "1"',
      uri: 'sip:44030500001320000017@4403050000',
      params: new Map([['tag', 'abc']]),
    });
    expect(parseNameAddr('Bob Smith <sip:bob@h;transport=tcp>;expires=60')).toMatchObject({
      displayName: 'Bob Smith',
      uri: 'sip:bob@h;transport=tcp',
    });
    // addr-spec form: the ;tag belongs to the header, not the URI
    const bare = parseNameAddr('sip:a@b;tag=9');
    expect(bare.uri).toBe('sip:a@b');
    expect(bare.params.get('tag')).toBe('9');
    expect(parseNameAddr('*').uri).toBe('*');
    expect(formatNameAddr({ displayName: 'A "b"', uri: 'sip:a@b', params: new Map([['tag', 't1']]) })).toBe('"A \\"b\\"" <sip:a@b>;tag=t1');
    expect(tagOf('<sip:a@b>;tag=xyz')).toBe('xyz');
    expect(tagOf('<sip:a@b>')).toBeUndefined();
    expect(tagOf('<<<')).toBeUndefined();
    expect(() => parseNameAddr('<sip:a@b')).toThrow(SipParseError);
  });

  it('parseUri / formatUri', () => {
    const u = parseUri('sip:44030500001320000017@10.1.2.3:5060;transport=tcp?subject=x');
    expect(u).toMatchObject({ scheme: 'sip', user: '44030500001320000017', host: '10.1.2.3', port: 5060, headers: 'subject=x' });
    expect(u.params.get('transport')).toBe('tcp');
    expect(formatUri(u)).toBe('sip:44030500001320000017@10.1.2.3:5060;transport=tcp?subject=x');
    expect(parseUri('sip:4403050000')).toMatchObject({ user: '', host: '4403050000', port: undefined });
    expect(parseUri('SIP:u:pw@[2001:db8::2]')).toMatchObject({ scheme: 'sip', user: 'u', password: 'pw', host: '2001:db8::2' });
    expect(parseUri('tel:+8610;phone-context=x').user).toBe('+8610');
    expect(() => parseUri('not a uri')).toThrow(SipParseError);
    expect(() => parseUri('sip:@host')).toThrow(SipParseError);
  });

  it('parseCSeq', () => {
    expect(parseCSeq('  42   MESSAGE ')).toEqual({ seq: 42, method: 'MESSAGE' });
    expect(() => parseCSeq('42')).toThrow(SipParseError);
    expect(() => parseCSeq('99999999999 REGISTER')).toThrow(SipParseError);
  });
});

describe('buildResponse', () => {
  it('copies all Via in order, From, To, Call-ID, CSeq and adds a To-tag', () => {
    const req = parseSipMessage(
      crlf([
        'REGISTER sip:s@d SIP/2.0',
        'Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2',
        'Via: SIP/2.0/UDP c;branch=z9hG4bK3',
        'From: <sip:x@d>;tag=f',
        'To: <sip:x@d>',
        'Call-ID: cid',
        'CSeq: 2 REGISTER',
        'Expires: 3600',
        '',
        '',
      ]),
    ) as SipRequest;
    const res = buildResponse(req, 200, undefined, { headers: [['expires', '3600']], toTag: 'tt' });
    expect(res.reason).toBe('OK');
    expect(res.headers).toEqual([
      ['via', 'SIP/2.0/UDP a;branch=z9hG4bK1'],
      ['via', 'SIP/2.0/UDP b;branch=z9hG4bK2'],
      ['via', 'SIP/2.0/UDP c;branch=z9hG4bK3'],
      ['from', '<sip:x@d>;tag=f'],
      ['to', '<sip:x@d>;tag=tt'],
      ['call-id', 'cid'],
      ['cseq', '2 REGISTER'],
      ['expires', '3600'],
    ]);
    expect(tagOf(header(buildResponse(req, 100), 'to'))).toBeUndefined();
    expect(tagOf(header(buildResponse(req, 401), 'to'))).toMatch(/^[0-9a-f]{12}$/);
  });

  it('keeps an existing To-tag and sets Content-Type with a body', () => {
    const req = parseSipMessage(REGISTER_WITH_AUTH) as SipRequest;
    req.headers = req.headers.map(([n, v]) => [n, n === 'to' ? `${v};tag=keep` : v]);
    const res = buildResponse(req, 486, undefined, { body: Buffer.from('x'), contentType: 'text/plain' });
    expect(header(res, 'to')).toBe('<sip:44030500001320000017@4403050000>;tag=keep');
    expect(header(res, 'content-type')).toBe('text/plain');
    expect(res.reason).toBe('Busy Here');
    expect(reasonPhrase(499)).toBe('Bad Request');
  });
});
