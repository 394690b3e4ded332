import { describe, expect, it } from 'vitest';
import { SipStreamFramer, type FramerOutput } from '../../src/codecs/sip/framer.js';
import { header } from '../../src/codecs/sip/message.js';
import { KEEPALIVE_BODY, keepaliveMessage, REGISTER, REGISTER_WITH_AUTH } from './fixtures.js';

const messagesOf = (outs: FramerOutput[]) => outs.filter((o) => o.message).map((o) => o.message!);

describe('SipStreamFramer', () => {
  it('frames a message split at every byte boundary', () => {
    const wire = keepaliveMessage();
    for (let cut = 1; cut < wire.length; cut++) {
      const framer = new SipStreamFramer();
      const first = framer.push(wire.subarray(0, cut));
      expect(first).toEqual([]);
      const second = framer.push(wire.subarray(cut));
      expect(second).toHaveLength(1);
      expect(second[0]!.message!.body.equals(KEEPALIVE_BODY)).toBe(true);
      expect(framer.bufferedBytes).toBe(0);
    }
  });

  it('frames a stream fed one byte at a time', () => {
    const framer = new SipStreamFramer();
    const wire = Buffer.concat([REGISTER, keepaliveMessage(), REGISTER_WITH_AUTH]);
    const got: FramerOutput[] = [];
    for (const byte of wire) got.push(...framer.push(Buffer.from([byte])));
    expect(messagesOf(got).map((m) => header(m, 'cseq'))).toEqual(['1 REGISTER', '20 MESSAGE', '2 REGISTER']);
  });

  it('returns several messages from one chunk, in order', () => {
    const framer = new SipStreamFramer();
    const out = framer.push(Buffer.concat([keepaliveMessage('z9hG4bKa', 1), keepaliveMessage('z9hG4bKb', 2), REGISTER]));
    expect(messagesOf(out).map((m) => header(m, 'cseq'))).toEqual(['1 MESSAGE', '2 MESSAGE', '1 REGISTER']);
  });

  it('skips CRLF keep-alives and reports CRLFCRLF pings', () => {
    const framer = new SipStreamFramer();
    const out = framer.push(Buffer.concat([Buffer.from('\r\n\r\n'), REGISTER, Buffer.from('\r\n'), keepaliveMessage()]));
    expect(out.filter((o) => o.keepalivePing)).toHaveLength(1);
    expect(messagesOf(out)).toHaveLength(2);
    // A ping split across two reads is still one ping; a lone CRLF (pong) is not a ping.
    expect(framer.push(Buffer.from('\r\n'))).toEqual([]);
    expect(framer.push(Buffer.from('\r\n'))).toEqual([{ keepalivePing: true }]);
    expect(framer.bufferedBytes).toBe(0);
  });

  it('reports a frame that does not parse without losing the stream', () => {
    const framer = new SipStreamFramer();
    const broken = Buffer.from(REGISTER.toString().replace('Call-ID: 84710223@10.1.2.3\r\n', ''));
    const out = framer.push(Buffer.concat([broken, REGISTER]));
    expect(out).toHaveLength(2);
    expect(out[0]!.error?.reason).toBe('missing-header');
    expect(out[0]!.fatal).toBeUndefined();
    expect(out[0]!.raw?.equals(broken)).toBe(true);
    expect(out[1]!.message?.kind).toBe('request');
  });

  it('overflows: a header section that never ends is a fatal error and the buffer is dropped', () => {
    const framer = new SipStreamFramer({ maxMessageBytes: 1024 });
    expect(framer.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\n'))).toEqual([]);
    let out: FramerOutput[] = [];
    for (let i = 0; i < 100 && out.length === 0; i++) out = framer.push(Buffer.from(`X-Filler-${i}: ${'a'.repeat(40)}\r\n`));
    expect(out).toHaveLength(1);
    expect(out[0]!.error?.reason).toBe('too-large');
    expect(out[0]!.fatal).toBe(true);
    expect(framer.bufferedBytes).toBe(0);
  });

  it('overflows: a Content-Length beyond the limit is fatal before the body arrives', () => {
    const framer = new SipStreamFramer({ maxMessageBytes: 1024 });
    const out = framer.push(Buffer.from(REGISTER.toString().replace('Content-Length: 0', 'Content-Length: 5000')));
    expect(out).toEqual([expect.objectContaining({ fatal: true })]);
    expect(out[0]!.error?.reason).toBe('too-large');
  });

  it('binary junk and unreadable Content-Length are fatal', () => {
    const junk = new SipStreamFramer().push(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5])); // a TLS ClientHello
    expect(junk[0]).toMatchObject({ fatal: true });
    expect(junk[0]!.error?.reason).toBe('binary');
    const badLength = new SipStreamFramer().push(Buffer.from(REGISTER.toString().replace('Content-Length: 0', 'Content-Length: -3')));
    expect(badLength[0]).toMatchObject({ fatal: true });
    expect(badLength[0]!.error?.reason).toBe('bad-header');
  });

  it('treats a missing Content-Length on a stream as an empty body', () => {
    const framer = new SipStreamFramer();
    const noLength = Buffer.from(REGISTER.toString().replace('Content-Length: 0\r\n', ''));
    expect(messagesOf(framer.push(Buffer.concat([noLength, REGISTER])))).toHaveLength(2);
  });
});
