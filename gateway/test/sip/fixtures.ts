/** Sample wire messages shared by the SIP tests (IDs and addresses invented, as in the GB brief §2.1). */

export const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

export const REGISTER = crlf([
  'REGISTER sip:44030500002000000001@4403050000 SIP/2.0',
  'Via: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK771234',
  'From: <sip:44030500001320000017@4403050000>;tag=1928301774',
  'To: <sip:44030500001320000017@4403050000>',
  'Call-ID: 84710223@10.1.2.3',
  'CSeq: 1 REGISTER',
  'Contact: <sip:44030500001320000017@10.1.2.3:5060>',
  'Max-Forwards: 70',
  'User-Agent: ExampleCam',
  'Expires: 3600',
  'X-GB-ver: 3.0',
  'Content-Length: 0',
  '',
  '',
]);

export const REGISTER_WITH_AUTH = crlf([
  'REGISTER sip:44030500002000000001@4403050000 SIP/2.0',
  'Via: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK771235',
  'From: <sip:44030500001320000017@4403050000>;tag=1928301774',
  'To: <sip:44030500001320000017@4403050000>',
  'Call-ID: 84710223@10.1.2.3',
  'CSeq: 2 REGISTER',
  'Contact: <sip:44030500001320000017@10.1.2.3:5060>',
  'Authorization: Digest username="44030500001320000017", realm="4403050000",',
  '  nonce="5f0ce2", uri="sip:44030500002000000001@4403050000", response="0123456789abcdef0123456789abcdef",',
  '  algorithm=MD5, cnonce="0a4f113b", nc=00000001, qop=auth',
  'Max-Forwards: 70',
  'User-Agent: ExampleCam',
  'Expires: 3600',
  'Content-Length: 0',
  '',
  '',
]);

export const UNAUTHORIZED_401 = crlf([
  'SIP/2.0 401 Unauthorized',
  'Via: SIP/2.0/UDP 10.1.2.3:5060;rport=5060;received=10.1.2.3;branch=z9hG4bK771234',
  'From: <sip:44030500001320000017@4403050000>;tag=1928301774',
  'To: <sip:44030500001320000017@4403050000>;tag=a73kszlfl',
  'Call-ID: 84710223@10.1.2.3',
  'CSeq: 1 REGISTER',
  'WWW-Authenticate: Digest realm="4403050000", qop="auth", nonce="5f0ce2", algorithm=MD5',
  'Content-Length: 0',
  '',
  '',
]);

export const OK_200 = crlf([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 10.1.2.3:5060;rport=5060;received=10.1.2.3;branch=z9hG4bK771235',
  'From: <sip:44030500001320000017@4403050000>;tag=1928301774',
  'To: <sip:44030500001320000017@4403050000>;tag=a73kszlfl',
  'Call-ID: 84710223@10.1.2.3',
  'CSeq: 2 REGISTER',
  'Date: 2026-03-01T09:15:30.123',
  'Contact: <sip:44030500001320000017@10.1.2.3:5060>',
  'Expires: 3600',
  'Content-Length: 0',
  '',
  '',
]);

const KEEPALIVE_XML =
  '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>43</SN>\r\n' +
  '<DeviceID>44030500001320000017</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n';

export const KEEPALIVE_BODY = Buffer.from(KEEPALIVE_XML, 'utf8');

export function keepaliveMessage(branch = 'z9hG4bK5551', cseq = 20): Buffer {
  return Buffer.concat([
    crlf([
      'MESSAGE sip:44030500002000000001@4403050000 SIP/2.0',
      `Via: SIP/2.0/UDP 10.1.2.3:5060;rport;branch=${branch}`,
      'From: <sip:44030500001320000017@4403050000>;tag=77',
      'To: <sip:44030500002000000001@4403050000>',
      'Call-ID: ka-1@10.1.2.3',
      `CSeq: ${cseq} MESSAGE`,
      'Content-Type: Application/MANSCDP+xml',
      'Max-Forwards: 70',
      `Content-Length: ${KEEPALIVE_BODY.length}`,
      '',
      '',
    ]),
    KEEPALIVE_BODY,
  ]);
}
