import { describe, expect, it } from 'vitest';
import { parseSipMessage, SipParseError, tryExtractResponseContext, type SipParseErrorReason } from '../../src/codecs/sip/parser.js';
import { header, headers, type SipRequest } from '../../src/codecs/sip/message.js';
import { parseVia } from '../../src/codecs/sip/headers.js';
import { crlf, KEEPALIVE_BODY, keepaliveMessage, OK_200, REGISTER, REGISTER_WITH_AUTH, UNAUTHORIZED_401 } from './fixtures.js';

function rejects(input: Buffer, reason: SipParseErrorReason, opts?: { maxBytes?: number }): SipParseError {
  try {
    parseSipMessage(input, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(SipParseError);
    expect((err as SipParseError).reason).toBe(reason);
    return err as SipParseError;
  }
  throw new Error(`expected a SipParseError(${reason})`);
}

describe('parseSipMessage: brief examples', () => {
  it('parses the REGISTER of GB brief §2.1', () => {
    const msg = parseSipMessage(REGISTER);
    expect(msg.kind).toBe('request');
    const req = msg as SipRequest;
    expect(req.method).toBe('REGISTER');
    expect(req.uri).toBe('sip:44030500002000000001@4403050000');
    expect(req.version).toBe('SIP/2.0');
    expect(header(req, 'call-id')).toBe('84710223@10.1.2.3');
    expect(header(req, 'cseq')).toBe('1 REGISTER');
    expect(header(req, 'x-gb-ver')).toBe('3.0');
    expect(header(req, 'expires')).toBe('3600');
    expect(req.body.length).toBe(0);
    expect(req.headers.map(([n]) => n)).toEqual([
      'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'user-agent', 'expires', 'x-gb-ver', 'content-length',
    ]);
  });

  it('joins the folded Authorization header of the second REGISTER', () => {
    const req = parseSipMessage(REGISTER_WITH_AUTH);
    const auth = header(req, 'authorization')!;
    expect(auth.startsWith('Digest username="44030500001320000017", realm="4403050000", nonce="5f0ce2"')).toBe(true);
    expect(auth.endsWith('cnonce="0a4f113b", nc=00000001, qop=auth')).toBe(true);
    expect(auth).not.toMatch(/[\r\n]/);
  });

  it('parses the 401 and 200 responses', () => {
    const challenge = parseSipMessage(UNAUTHORIZED_401);
    expect(challenge.kind).toBe('response');
    if (challenge.kind !== 'response') return;
    expect(challenge.status).toBe(401);
    expect(challenge.reason).toBe('Unauthorized');
    expect(header(challenge, 'www-authenticate')).toContain('qop="auth"');
    const ok = parseSipMessage(OK_200);
    expect(ok.kind === 'response' && ok.status).toBe(200);
    expect(header(ok, 'date')).toBe('2026-03-01T09:15:30.123');
  });

  it('parses a MESSAGE body by Content-Length', () => {
    const msg = parseSipMessage(keepaliveMessage());
    expect(msg.body.equals(KEEPALIVE_BODY)).toBe(true);
    expect(header(msg, 'content-type')).toBe('Application/MANSCDP+xml');
  });
});

describe('parseSipMessage: lenient forms', () => {
  it('expands compact header names and ignores case', () => {
    const msg = parseSipMessage(
      crlf([
        'MESSAGE sip:a@b SIP/2.0',
        'v: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1',
        'F: <sip:x@y>;tag=1',
        't: <sip:a@b>',
        'I: abc',
        'cSeQ: 5 MESSAGE',
        'm: <sip:x@1.2.3.4>',
        'c: text/plain',
        'k: path',
        's: subj',
        'e: gzip',
        'o: presence',
        'u: presence',
        'r: <sip:r@r>',
        'a: *',
        'x: 90',
        'WWW-AUTHENTICATE: Digest realm="r"',
        'l: 2',
        '',
        'hi',
      ]),
    );
    expect(msg.headers.map(([n]) => n)).toEqual([
      'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'content-type', 'supported', 'subject', 'content-encoding', 'event',
      'allow-events', 'refer-to', 'accept-contact', 'session-expires', 'www-authenticate', 'content-length',
    ]);
    expect(msg.body.toString()).toBe('hi');
  });

  it('splits several Via values in one line and keeps Via lines in order', () => {
    const msg = parseSipMessage(
      crlf([
        'OPTIONS sip:a@b SIP/2.0',
        'Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK2;received="a,b"',
        'v: SIP/2.0/UDP 10.0.0.3:5060;branch=z9hG4bK3',
        'From: "Smith, J" <sip:x@y>;tag=1',
        'To: <sip:a@b>',
        'Call-ID: c',
        'CSeq: 1 OPTIONS',
        'Contact: <sip:a@1.1.1.1>, "A, B" <sip:b@2.2.2.2>;expires=30',
        '',
        '',
      ]),
    );
    const vias = headers(msg, 'via');
    expect(vias).toHaveLength(3);
    expect(parseVia(vias[0]!).host).toBe('p1.example.com');
    const second = parseVia(vias[1]!);
    expect(second).toMatchObject({ transport: 'TCP', host: '2001:db8::1', port: 5070 });
    expect(second.params.get('received')).toBe('a,b');
    expect(parseVia(vias[2]!).params.get('branch')).toBe('z9hG4bK3');
    expect(header(msg, 'from')).toBe('"Smith, J" <sip:x@y>;tag=1');
    expect(headers(msg, 'contact')).toEqual(['<sip:a@1.1.1.1>', '"A, B" <sip:b@2.2.2.2>;expires=30']);
  });

  it('accepts bare LF line ends, LWS around the colon, leading CRLFs and folded lines', () => {
    const text =
      '\r\n\r\nMESSAGE sip:a@b SIP/2.0\nVia : SIP/2.0/UDP 1.2.3.4:5060\n ;branch=z9hG4bK9\nFrom:<sip:x@y>;tag=1\nTo:\t<sip:a@b>\n' +
      'Call-ID: c1\nCSeq: 7 MESSAGE\nSubject: one,\n\ttwo\nContent-Length: 3\n\nabcEXTRA';
    const msg = parseSipMessage(Buffer.from(text));
    expect(header(msg, 'via')).toBe('SIP/2.0/UDP 1.2.3.4:5060 ;branch=z9hG4bK9');
    expect(parseVia(header(msg, 'via')!).params.get('branch')).toBe('z9hG4bK9');
    expect(header(msg, 'to')).toBe('<sip:a@b>');
    expect(header(msg, 'subject')).toBe('one, two');
    // Datagram bytes beyond Content-Length are discarded (RFC 3261 §18.3).
    expect(msg.body.toString()).toBe('abc');
  });

  it('takes the rest of the datagram as body when Content-Length is absent', () => {
    const msg = parseSipMessage(
      crlf(['MESSAGE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:x@y>;tag=1', 'To: <sip:a@b>', 'Call-ID: c', 'CSeq: 1 MESSAGE', '', '<x/>']),
    );
    expect(msg.body.toString()).toBe('<x/>');
  });

  it('decodes UTF-8 display names and keeps GB2312 bodies as bytes', () => {
    const gbBody = Buffer.from([0xc9, 0xe3, 0xcf, 0xf1, 0xbb, 0xfa]); // "摄像机" in GB2312
    const head = crlf([
      'MESSAGE sip:a@b SIP/2.0',
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
      'From: "摄像机" <sip:x@y>;tag=1',
      'To: <sip:a@b>',
      'Call-ID: c',
      'CSeq: 1 MESSAGE',
      `Content-Length: ${gbBody.length}`,
      '',
      '',
    ]);
    const msg = parseSipMessage(Buffer.concat([head, gbBody]));
    expect(header(msg, 'from')).toBe('"摄像机" <sip:x@y>;tag=1');
    expect(msg.body.equals(gbBody)).toBe(true);
  });
});

describe('parseSipMessage: rejects malformed input with a reason', () => {
  it('truncated: no blank line', () => {
    rejects(REGISTER.subarray(0, 100), 'truncated');
    rejects(Buffer.from('\r\n\r\n'), 'truncated');
  });

  it('too-large', () => {
    const big = Buffer.concat([REGISTER.subarray(0, REGISTER.length - 4), Buffer.from(`\r\nX-Pad: ${'a'.repeat(70_000)}\r\n\r\n`)]);
    rejects(big, 'too-large');
    rejects(REGISTER, 'too-large', { maxBytes: 100 });
  });

  it('binary junk', () => {
    rejects(Buffer.from([0x00, 0x01, 0x02, 0x03, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]), 'binary');
    // A STUN binding request (what NAT keep-alive code sometimes sends to a SIP port).
    rejects(Buffer.from('000100002112a442b7e7a701bc34d686fa87dfae', 'hex'), 'binary');
    const withNul = Buffer.from(REGISTER);
    withNul[30] = 0;
    rejects(withNul, 'binary');
  });

  it('content-length-mismatch when the body is shorter than announced', () => {
    const msg = keepaliveMessage();
    rejects(msg.subarray(0, msg.length - 10), 'content-length-mismatch');
  });

  it('bad-header on a non-numeric or conflicting Content-Length', () => {
    rejects(Buffer.from(REGISTER.toString().replace('Content-Length: 0', 'Content-Length: zero')), 'bad-header');
    rejects(Buffer.from(REGISTER.toString().replace('Content-Length: 0', 'Content-Length: 0\r\nl: 5')), 'bad-header');
  });

  it('missing-header names the missing one', () => {
    for (const [line, name] of [
      ['Via: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK771234\r\n', 'via'],
      ['From: <sip:44030500001320000017@4403050000>;tag=1928301774\r\n', 'from'],
      ['To: <sip:44030500001320000017@4403050000>\r\n', 'to'],
      ['Call-ID: 84710223@10.1.2.3\r\n', 'call-id'],
      ['CSeq: 1 REGISTER\r\n', 'cseq'],
    ] as const) {
      const err = rejects(Buffer.from(REGISTER.toString().replace(line, '')), 'missing-header');
      expect(err.header).toBe(name);
    }
  });

  it('bad-start-line and bad-header', () => {
    rejects(Buffer.from(REGISTER.toString().replace('REGISTER sip:', 'REGISTER  sip: x')), 'bad-start-line');
    rejects(Buffer.from(OK_200.toString().replace('200 OK', '999 Huh')), 'bad-start-line');
    rejects(Buffer.from(REGISTER.toString().replace('Max-Forwards: 70', 'Max-Forwards 70')), 'bad-header');
    rejects(Buffer.from(REGISTER.toString().replace('CSeq: 1 REGISTER', 'CSeq: one REGISTER')), 'bad-header');
    rejects(Buffer.from(REGISTER.toString().replace('SIP/2.0/UDP 10.1.2.3:5060', 'garbage')), 'bad-header');
    rejects(Buffer.from(REGISTER.toString().replace('REGISTER sip:', ' REGISTER sip:')), 'bad-start-line');
  });
});

describe('tryExtractResponseContext', () => {
  it('recovers Via/From/To/Call-ID/CSeq from a request with a broken header', () => {
    const broken = Buffer.from(REGISTER.toString().replace('Max-Forwards: 70', 'Max-Forwards 70'));
    const ctx = tryExtractResponseContext(broken);
    expect(ctx).not.toBeNull();
    expect(ctx!.method).toBe('REGISTER');
    expect(ctx!.headers.map(([n]) => n)).toEqual(['via', 'from', 'to', 'call-id', 'cseq']);
  });

  it('returns null for responses, ACKs, junk and requests missing a transaction header', () => {
    expect(tryExtractResponseContext(OK_200)).toBeNull();
    expect(tryExtractResponseContext(Buffer.from(REGISTER.toString().replace(/REGISTER/g, 'ACK')))).toBeNull();
    expect(tryExtractResponseContext(Buffer.from([0, 1, 2, 3]))).toBeNull();
    expect(tryExtractResponseContext(Buffer.from(REGISTER.toString().replace('CSeq: 1 REGISTER', 'CSeq: x')))).toBeNull();
    expect(tryExtractResponseContext(Buffer.from(REGISTER.toString().replace(/^Via:.*$/m, 'Via: junk')))).toBeNull();
    expect(tryExtractResponseContext(Buffer.from(REGISTER.toString().replace('Call-ID: 84710223@10.1.2.3\r\n', '')))).toBeNull();
    expect(tryExtractResponseContext(Buffer.from(REGISTER.toString().replace(/^To:.*\r\n/m, '')))).toBeNull();
  });
});
