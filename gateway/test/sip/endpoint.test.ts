import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { SipEndpoint, SipTimeoutError, type ReplyFn } from '../../src/protocol/sip-endpoint.js';
import { header, headers, type SipRequest, type SipResponse } from '../../src/codecs/sip/message.js';
import { buildResponse } from '../../src/codecs/sip/builder.js';
import { parseCSeq, parseNameAddr, parseVia, tagOf } from '../../src/codecs/sip/headers.js';
import { serializeSipMessage } from '../../src/codecs/sip/serializer.js';
import { keepaliveMessage, REGISTER } from './fixtures.js';
import { nextEvent, TcpPeer, UdpPeer } from './peers.js';

describe('SipEndpoint', () => {
  let transport: SipTransport;
  let endpoint: SipEndpoint;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    transport = new SipTransport({ host: '127.0.0.1', port: 0 });
    await transport.listen();
    endpoint = new SipEndpoint({
      transport,
      localId: '44030500002000000001',
      localDomain: '4403050000',
      advertisedHost: '127.0.0.1',
      advertisedPort: transport.port,
      userAgent: 'test-gateway',
    });
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    endpoint.close();
    await transport.close();
  });

  async function udpPeer(): Promise<UdpPeer> {
    const peer = await UdpPeer.open();
    cleanups.push(() => peer.close());
    return peer;
  }

  describe('server transactions', () => {
    it('answers a retransmitted REGISTER from the cache: handler once, identical bytes twice', async () => {
      const peer = await udpPeer();
      let calls = 0;
      endpoint.onRequest((_req, _source, reply) => {
        calls++;
        reply(401, undefined, { headers: [['www-authenticate', 'Digest realm="4403050000", nonce="n1", qop="auth", algorithm=MD5']] });
      });
      await peer.send(REGISTER, transport.port);
      await peer.waitForRaw(1);
      await peer.send(REGISTER, transport.port);
      const [first, second] = await peer.waitForRaw(2);
      expect(calls).toBe(1);
      expect(second!.equals(first!)).toBe(true);
      const res = peer.messages[0]!;
      expect(res.kind === 'response' && res.status).toBe(401);
      // Reply went to the packet source and the Via says so (rport was requested).
      const via = parseVia(header(res, 'via')!);
      expect(via.params.get('rport')).toBe(String(peer.port));
      expect(via.params.get('received')).toBe('127.0.0.1');
      expect(tagOf(header(res, 'to'))).toBeDefined();
      expect(header(res, 'user-agent')).toBe('test-gateway');
    });

    it('swallows a retransmission that arrives before the handler replied', async () => {
      const peer = await udpPeer();
      const pending: ReplyFn[] = [];
      endpoint.onRequest((_req, _source, reply) => pending.push(reply));
      const firstRequest = nextEvent(endpoint, 'request');
      await peer.send(REGISTER, transport.port);
      await firstRequest;
      await peer.send(REGISTER, transport.port);
      await peer.send(keepaliveMessage(), transport.port); // a different request, to know the retransmission was processed
      while (pending.length < 2) await nextEvent(endpoint, 'request');
      expect(pending).toHaveLength(2);
      expect(peer.raw).toHaveLength(0);
      pending[0]!(200, 'OK', { headers: [['expires', '3600']] });
      const [ok] = await peer.waitFor(1);
      expect(header(ok!, 'cseq')).toBe('1 REGISTER');
      expect(header(ok!, 'expires')).toBe('3600');
      // A late second reply to the same transaction is ignored.
      pending[0]!(500);
      pending[1]!(200);
      await peer.waitFor(2);
      expect(peer.messages.map((m) => header(m, 'cseq'))).toEqual(['1 REGISTER', '20 MESSAGE']);
    });

    it('treats a reused branch with a new CSeq as a new request (sipp keepalive loops), and a reused Call-ID too', async () => {
      const peer = await udpPeer();
      const seen: string[] = [];
      endpoint.onRequest((req, _source, reply) => {
        seen.push(header(req, 'cseq')!);
        reply(200);
      });
      await peer.send(keepaliveMessage('z9hG4bK-sipp-1-4', 20), transport.port);
      await peer.waitFor(1);
      await peer.send(keepaliveMessage('z9hG4bK-sipp-1-4', 21), transport.port);
      await peer.waitFor(2);
      await peer.send(keepaliveMessage('z9hG4bK-other', 22), transport.port); // same Call-ID, fresh branch
      await peer.waitFor(3);
      expect(seen).toEqual(['20 MESSAGE', '21 MESSAGE', '22 MESSAGE']);
    });

    it('answers 500 when the handler throws and keeps serving', async () => {
      const peer = await udpPeer();
      let first = true;
      endpoint.onRequest((_req, _source, reply) => {
        if (first) {
          first = false;
          throw new Error('boom');
        }
        reply(200);
      });
      await peer.send(REGISTER, transport.port);
      const [failed] = await peer.waitFor(1);
      expect(failed!.kind === 'response' && failed!.status).toBe(500);
      await peer.send(keepaliveMessage(), transport.port);
      const [, ok] = await peer.waitFor(2);
      expect(ok!.kind === 'response' && ok!.status).toBe(200);
    });

    it('replies on the TCP connection the request came in on', async () => {
      const peer = await TcpPeer.connect(transport.port);
      cleanups.push(() => peer.close());
      let source: TransportSource | undefined;
      endpoint.onRequest((_req, src, reply) => {
        source = src;
        reply(200);
      });
      await peer.write(REGISTER);
      const [ok] = await peer.waitFor(1);
      expect(ok!.kind === 'response' && ok!.status).toBe(200);
      expect(source).toMatchObject({ transport: 'tcp', port: peer.localPort });
    });
  });

  describe('client transactions', () => {
    const destinationOf = (peer: UdpPeer): TransportSource => ({ transport: 'udp', address: '127.0.0.1', port: peer.port });

    it('builds a proper request, retransmits over UDP, and resolves on the final response after a 1xx', async () => {
      const device = await udpPeer();
      const provisional: number[] = [];
      const pending = endpoint.sendRequest({
        method: 'MESSAGE',
        uri: 'sip:44030500001320000017@4403050000',
        to: 'sip:44030500001320000017@4403050000',
        body: Buffer.from('<Query/>'),
        contentType: 'Application/MANSCDP+xml',
        destination: destinationOf(device),
        timeoutMs: 5000,
        onProvisional: (res) => provisional.push(res.status),
      });
      // Ignore the first copy: the endpoint must send it again (T1 = 500 ms).
      const [first, again] = await device.waitFor(2, 'request copies');
      expect(serializeSipMessage(again!).equals(serializeSipMessage(first!))).toBe(true);
      const req = first as SipRequest;
      expect(req.method).toBe('MESSAGE');
      const via = parseVia(header(req, 'via')!);
      expect(via).toMatchObject({ transport: 'UDP', host: '127.0.0.1', port: transport.port });
      expect(via.params.has('rport')).toBe(true);
      expect(via.params.get('branch')).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
      expect(header(req, 'max-forwards')).toBe('70');
      expect(parseNameAddr(header(req, 'from')!).uri).toBe('sip:44030500002000000001@4403050000');
      expect(tagOf(header(req, 'from'))).toBeDefined();
      expect(header(req, 'to')).toBe('<sip:44030500001320000017@4403050000>');
      expect(parseCSeq(header(req, 'cseq')!).method).toBe('MESSAGE');
      expect(header(req, 'contact')).toBe(`<sip:44030500002000000001@127.0.0.1:${transport.port}>`);
      expect(header(req, 'user-agent')).toBe('test-gateway');
      expect(header(req, 'content-type')).toBe('Application/MANSCDP+xml');
      expect(header(req, 'content-length')).toBe('8');
      expect(header(req, 'call-id')).toBeTruthy();

      await device.send(serializeSipMessage(buildResponse(req, 100)), transport.port);
      await device.send(serializeSipMessage(buildResponse(req, 200)), transport.port);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(provisional).toEqual([100]);
      expect(endpoint.pendingClientTransactions).toBe(0);
    });

    it('stops retransmitting after a provisional response', async () => {
      const device = await udpPeer();
      const pending = endpoint.sendRequest({
        method: 'MESSAGE',
        uri: 'sip:d@4403050000',
        to: 'sip:d@4403050000',
        destination: destinationOf(device),
        timeoutMs: 5000,
      });
      const [req] = await device.waitFor(1);
      await device.send(serializeSipMessage(buildResponse(req as SipRequest, 100)), transport.port);
      // Wait past the first two retransmission points (0.5 s, 1.5 s) by waiting for a marker round trip later.
      await new Promise((r) => setTimeout(r, 1700));
      expect(device.messages).toHaveLength(1);
      await device.send(serializeSipMessage(buildResponse(req as SipRequest, 486)), transport.port);
      expect((await pending).status).toBe(486);
    });

    it('rejects with SipTimeoutError after timeoutMs and emits transaction-timeout', async () => {
      const silent = await udpPeer();
      const timeoutEvent = nextEvent<[string, TransportSource]>(endpoint, 'transaction-timeout');
      const started = Date.now();
      const err = await endpoint
        .sendRequest({ method: 'OPTIONS', uri: 'sip:d@x', to: 'sip:d@x', destination: destinationOf(silent), timeoutMs: 800 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SipTimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      const [method, destination] = await timeoutEvent;
      expect(method).toBe('OPTIONS');
      expect(destination.port).toBe(silent.port);
      expect(silent.messages.length).toBeGreaterThanOrEqual(2); // the original and at least one retransmission
      expect(endpoint.pendingClientTransactions).toBe(0);
    });

    it('REGISTER retry after 401 reuses Call-ID and From-tag with a higher CSeq; a shared Call-ID for MESSAGEs works', async () => {
      const upper = await udpPeer();
      const first = endpoint.sendRequest({ method: 'REGISTER', uri: 'sip:4403050000', to: 'sip:44030500002000000001@4403050000', destination: destinationOf(upper), cseq: 1 });
      const [r1] = await upper.waitFor(1);
      await upper.send(serializeSipMessage(buildResponse(r1 as SipRequest, 401)), transport.port);
      expect((await first).status).toBe(401);
      const callId = header(r1!, 'call-id')!;
      const fromTag = tagOf(header(r1!, 'from'))!;
      const retry = endpoint.sendRequest({
        method: 'REGISTER', uri: 'sip:4403050000', to: 'sip:44030500002000000001@4403050000', destination: destinationOf(upper),
        callId, fromTag, cseq: 2, headers: [['authorization', 'Digest username="x"'], ['expires', '3600']],
      });
      const [, r2] = await upper.waitFor(2);
      expect(header(r2!, 'call-id')).toBe(callId);
      expect(tagOf(header(r2!, 'from'))).toBe(fromTag);
      expect(header(r2!, 'cseq')).toBe('2 REGISTER');
      expect(header(r2!, 'authorization')).toBe('Digest username="x"');
      await upper.send(serializeSipMessage(buildResponse(r2 as SipRequest, 200)), transport.port);
      expect((await retry).status).toBe(200);

      // Two MESSAGEs on one Call-ID in flight at once are told apart by branch.
      const a = endpoint.sendRequest({ method: 'MESSAGE', uri: 'sip:d@x', to: 'sip:d@x', destination: destinationOf(upper), callId: 'shared' });
      const b = endpoint.sendRequest({ method: 'MESSAGE', uri: 'sip:d@x', to: 'sip:d@x', destination: destinationOf(upper), callId: 'shared' });
      const [, , m1, m2] = await upper.waitFor(4);
      await upper.send(serializeSipMessage(buildResponse(m2 as SipRequest, 404)), transport.port);
      await upper.send(serializeSipMessage(buildResponse(m1 as SipRequest, 200)), transport.port);
      expect([(await a).status, (await b).status]).toEqual([200, 404]);
    });

    it('over TCP: sends on the device connection, no retransmission', async () => {
      const device = await TcpPeer.connect(transport.port);
      cleanups.push(() => device.close());
      let source: TransportSource | undefined;
      endpoint.onRequest((_req, src, reply) => {
        source = src;
        reply(200);
      });
      await device.write(REGISTER);
      await device.waitFor(1);
      const pending = endpoint.sendRequest({ method: 'MESSAGE', uri: 'sip:d@x', to: 'sip:d@x', destination: source!, timeoutMs: 5000 });
      const [, req] = await device.waitFor(2);
      expect(parseVia(header(req!, 'via')!).transport).toBe('TCP');
      expect(header(req!, 'contact')).toContain(';transport=tcp');
      await new Promise((r) => setTimeout(r, 700)); // past T1: nothing more may arrive on a reliable transport
      expect(device.messages).toHaveLength(2);
      await device.write(serializeSipMessage(buildResponse(req as SipRequest, 200)));
      expect((await pending).status).toBe(200);
    });

    it('ACKs a non-2xx final response to INVITE on the same branch', async () => {
      const device = await udpPeer();
      const invite = endpoint.sendRequest({
        method: 'INVITE',
        uri: 'sip:44030500001310000001@4403050000',
        to: 'sip:44030500001310000001@4403050000',
        destination: destinationOf(device),
        body: Buffer.from('v=0\r\n'),
        contentType: 'APPLICATION/SDP',
      });
      const [req] = await device.waitFor(1);
      const busy = buildResponse(req as SipRequest, 486, undefined, { toTag: 'dev1' });
      await device.send(serializeSipMessage(busy), transport.port);
      expect((await invite).status).toBe(486);
      const [, ack] = await device.waitFor(2);
      expect(ack!.kind === 'request' && ack!.method).toBe('ACK');
      expect(headers(ack!, 'via')).toEqual(headers(req!, 'via'));
      expect(tagOf(header(ack!, 'to'))).toBe('dev1');
      expect(header(ack!, 'cseq')).toBe(`${parseCSeq(header(req!, 'cseq')!).seq} ACK`);
      // The device did not get our ACK and repeats the 486: we ACK again.
      await device.send(serializeSipMessage(busy), transport.port);
      const [, , ackAgain] = await device.waitFor(3);
      expect(ackAgain!.kind === 'request' && ackAgain!.method).toBe('ACK');
    });

    it('reports responses matching nothing as stray', async () => {
      const device = await udpPeer();
      const stray = nextEvent<[SipResponse, TransportSource]>(endpoint, 'stray-response');
      await device.send(
        'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnope\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n',
        transport.port,
      );
      const [res] = await stray;
      expect(res.status).toBe(200);
    });

    it('close() rejects pending requests', async () => {
      const silent = await udpPeer();
      const pending = endpoint.sendRequest({ method: 'OPTIONS', uri: 'sip:d@x', to: 'sip:d@x', destination: destinationOf(silent) });
      endpoint.close();
      await expect(pending).rejects.toThrow('closed');
    });
  });
});
