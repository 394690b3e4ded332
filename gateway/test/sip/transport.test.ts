import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { header, type SipMessage, type SipRequest } from '../../src/codecs/sip/message.js';
import { buildResponse } from '../../src/codecs/sip/builder.js';
import { parseVia } from '../../src/codecs/sip/headers.js';
import type { SipParseError } from '../../src/codecs/sip/errors.js';
import { keepaliveMessage, REGISTER } from './fixtures.js';
import { nextEvent, TcpListenerPeer, TcpPeer, UdpPeer } from './peers.js';

type MessageEvent = [SipMessage, TransportSource];
type ParseErrorEvent = [SipParseError, TransportSource, boolean];

describe('SipTransport', () => {
  let transport: SipTransport;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    transport = new SipTransport({ host: '127.0.0.1', port: 0 });
    await transport.listen();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    await transport.close();
  });

  it('binds UDP and TCP on the same port', async () => {
    expect(transport.port).toBeGreaterThan(0);
    // Both protocols are really bound: a second bind on that port fails for each.
    const udp = dgram.createSocket('udp4');
    const udpErr = await new Promise<NodeJS.ErrnoException>((resolve) => {
      udp.once('error', resolve);
      udp.bind(transport.port, '127.0.0.1');
    });
    udp.close();
    expect(udpErr.code).toBe('EADDRINUSE');
    const tcp = net.createServer();
    const tcpErr = await new Promise<NodeJS.ErrnoException>((resolve) => {
      tcp.once('error', resolve);
      tcp.listen(transport.port, '127.0.0.1');
    });
    expect(tcpErr.code).toBe('EADDRINUSE');
  });

  it('UDP: delivers a request with its source and sends a response back to that source', async () => {
    const peer = await UdpPeer.open();
    cleanups.push(() => peer.close());
    const got = nextEvent<MessageEvent>(transport, 'message');
    await peer.send(REGISTER, transport.port);
    const [msg, source] = await got;
    expect(msg.kind).toBe('request');
    expect(source).toEqual({ transport: 'udp', address: '127.0.0.1', port: peer.port });
    transport.send(buildResponse(msg as SipRequest, 200), source);
    const [res] = await peer.waitFor(1);
    expect(res!.kind === 'response' && res!.status).toBe(200);
  });

  it('UDP: a garbage datagram is dropped, a broken request gets 400, and the next valid one is served', async () => {
    const peer = await UdpPeer.open();
    cleanups.push(() => peer.close());
    const errors: ParseErrorEvent[] = [];
    const messages: MessageEvent[] = [];
    transport.on('parse-error', (...args) => errors.push(args));
    transport.on('message', (...args) => messages.push(args));

    await peer.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a]), transport.port);
    // Without a Call-ID no well-formed response can be built: dropped, like junk.
    await peer.send(Buffer.from(REGISTER.toString().replace('Call-ID: 84710223@10.1.2.3\r\n', '')), transport.port);
    const badHeader = Buffer.from(REGISTER.toString().replace('Max-Forwards: 70', 'Max-Forwards 70'));
    await peer.send(badHeader, transport.port);
    const [badRequest] = await peer.waitFor(1, '400');
    expect(badRequest!.kind === 'response' && badRequest!.status).toBe(400);
    expect(badRequest!.kind === 'response' && badRequest!.reason).toContain('bad-header');
    expect(header(badRequest!, 'call-id')).toBe('84710223@10.1.2.3');
    // The 400 records where the request really came from (rport was requested).
    const via = parseVia(header(badRequest!, 'via')!);
    expect(via.params.get('rport')).toBe(String(peer.port));
    expect(via.params.get('received')).toBe('127.0.0.1');

    const got = nextEvent<MessageEvent>(transport, 'message');
    await peer.send(keepaliveMessage(), transport.port);
    await got;
    expect(errors.map(([e, , answered]) => [e.reason, answered])).toEqual([
      ['binary', false],
      ['missing-header', false],
      ['bad-header', true],
    ]);
    expect(messages).toHaveLength(1);
    expect(peer.raw).toHaveLength(1); // only the 400: junk and the Call-ID-less request got no answer
  });

  it('UDP: ignores CRLF keep-alive datagrams without reporting an error', async () => {
    const peer = await UdpPeer.open();
    cleanups.push(() => peer.close());
    const errors: unknown[] = [];
    transport.on('parse-error', (e) => errors.push(e));
    await peer.send('\r\n\r\n', transport.port);
    const got = nextEvent<MessageEvent>(transport, 'message');
    await peer.send(REGISTER, transport.port);
    await got;
    expect(errors).toEqual([]);
  });

  it('TCP: frames split writes, answers on the same connection, and pongs CRLF pings', async () => {
    const peer = await TcpPeer.connect(transport.port);
    cleanups.push(() => peer.close());
    const received: MessageEvent[] = [];
    transport.on('message', (...args) => received.push(args));
    const wire = Buffer.concat([REGISTER, keepaliveMessage()]);
    // Cut inside the request line, inside a header, at the blank line and inside the body.
    for (const [from, to] of [[0, 7], [7, 60], [60, REGISTER.length - 2], [REGISTER.length - 2, REGISTER.length + 30], [REGISTER.length + 30, wire.length]]) {
      await peer.write(wire.subarray(from, to));
    }
    while (received.length < 2) await nextEvent(transport, 'message');
    const [[register, source], [keepalive, source2]] = received as [MessageEvent, MessageEvent];
    expect(header(register, 'cseq')).toBe('1 REGISTER');
    expect(header(keepalive, 'cseq')).toBe('20 MESSAGE');
    expect(source.transport).toBe('tcp');
    expect(source.port).toBe(peer.localPort);
    expect(source.connectionId).toBeDefined();
    expect(source2.connectionId).toBe(source.connectionId);

    transport.send(buildResponse(register as SipRequest, 200), source);
    const [res] = await peer.waitFor(1);
    expect(res!.kind === 'response' && res!.status).toBe(200);

    await peer.write('\r\n\r\n');
    await peer.waitForRaw(2);
    expect(peer.raw[1]!.toString()).toBe('\r\n');
  });

  it('TCP: a broken request on a good stream gets 400 and the connection stays usable', async () => {
    const peer = await TcpPeer.connect(transport.port);
    cleanups.push(() => peer.close());
    const errorEvent = nextEvent<ParseErrorEvent>(transport, 'parse-error');
    await peer.write(Buffer.from(REGISTER.toString().replace('CSeq: 1 REGISTER\r\n', 'CSeq: 1 REGISTER\r\nMax-Forwards\r\n')));
    const [err, , answered] = await errorEvent;
    expect(err.reason).toBe('bad-header');
    expect(answered).toBe(true);
    const [res] = await peer.waitFor(1);
    expect(res!.kind === 'response' && res!.status).toBe(400);
    const got = nextEvent<MessageEvent>(transport, 'message');
    await peer.write(REGISTER);
    await got;
  });

  it('TCP: binary junk closes that connection only; the transport keeps serving', async () => {
    const bad = await TcpPeer.connect(transport.port);
    const badPort = bad.localPort;
    const closedEvent = nextEvent<[TransportSource]>(transport, 'connection-closed');
    const errorEvent = nextEvent<ParseErrorEvent>(transport, 'parse-error');
    await bad.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
    const [err, , answered] = await errorEvent;
    expect(err.reason).toBe('binary');
    expect(answered).toBe(false);
    await bad.closed;
    const [closed] = await closedEvent;
    expect(closed.port).toBe(badPort);

    const good = await TcpPeer.connect(transport.port);
    cleanups.push(() => good.close());
    const got = nextEvent<MessageEvent>(transport, 'message');
    await good.write(REGISTER);
    await got;
  });

  it('TCP: sending to an address without a connection dials it and keeps the connection', async () => {
    const device = await TcpListenerPeer.open();
    cleanups.push(() => device.close());
    const used = transport.send(
      { kind: 'request', method: 'OPTIONS', uri: 'sip:d@127.0.0.1', version: 'SIP/2.0', headers: [['via', 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKdial'], ['from', '<sip:g@x>;tag=1'], ['to', '<sip:d@x>'], ['call-id', 'dial-1'], ['cseq', '1 OPTIONS']], body: Buffer.alloc(0) },
      { transport: 'tcp', address: '127.0.0.1', port: device.port },
    );
    expect(used?.connectionId).toBeDefined();
    const peer = await device.firstPeer();
    const [req] = await peer.waitFor(1);
    expect(req!.kind === 'request' && req!.method).toBe('OPTIONS');
    // The device answers on the same connection: it arrives tagged with that connection.
    const got = nextEvent<MessageEvent>(transport, 'message');
    await peer.write(Buffer.from(REGISTER));
    const [, source] = await got;
    expect(source.connectionId).toBe(used!.connectionId);
    // A second send with a stale connectionId reuses the open connection instead of dialling again.
    transport.send(buildResponse(req as SipRequest, 200), { transport: 'tcp', address: '127.0.0.1', port: device.port, connectionId: 'tcp-gone' });
    await peer.waitFor(2);
    expect(device.peers).toHaveLength(1);
  });

  it('survives sending to unreachable destinations', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const closedEvent = nextEvent<[TransportSource]>(transport, 'connection-closed');
    transport.sendBytes(REGISTER, { transport: 'tcp', address: '127.0.0.1', port: closedPort });
    await closedEvent; // ECONNREFUSED is logged and reported as a closed connection, not thrown
    expect(transport.sendBytes(REGISTER, { transport: 'udp', address: '127.0.0.1', port: 0 })).toBeUndefined();
    const peer = await UdpPeer.open();
    cleanups.push(() => peer.close());
    const got = nextEvent<MessageEvent>(transport, 'message');
    await peer.send(REGISTER, transport.port);
    await got;
  });

  it('TCP: refuses connections over maxTcpConnections and closes idle ones', async () => {
    const limited = new SipTransport({ host: '127.0.0.1', port: 0, maxTcpConnections: 1, tcpIdleTimeoutMs: 400 });
    await limited.listen();
    cleanups.push(() => limited.close());
    const first = await TcpPeer.connect(limited.port);
    cleanups.push(() => first.close());
    const firstPort = first.localPort;
    const got = nextEvent<MessageEvent>(limited, 'message');
    await first.write(REGISTER);
    await got;
    expect(limited.tcpConnectionCount).toBe(1);
    const second = await TcpPeer.connect(limited.port);
    await second.closed; // refused: closed by the gateway right after accept
    // The first one goes quiet and is closed once the idle timeout passes.
    const [closed] = await nextEvent<[TransportSource]>(limited, 'connection-closed');
    expect(closed.port).toBe(firstPort);
    await first.closed;
    expect(limited.tcpConnectionCount).toBe(0);
  });
});
