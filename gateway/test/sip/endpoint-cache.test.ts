import { afterEach, describe, expect, it, vi } from 'vitest';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { SipEndpoint } from '../../src/protocol/sip-endpoint.js';
import type { SipRequest } from '../../src/codecs/sip/message.js';

/** Feeds requests straight into the endpoint's transport listener: no sockets, fake clock. */
describe('SipEndpoint server-transaction cache', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function keepalive(i: number): SipRequest {
    return {
      kind: 'request',
      method: 'MESSAGE',
      uri: 'sip:44030500002000000001@4403050000',
      version: 'SIP/2.0',
      headers: [
        ['via', `SIP/2.0/UDP 10.0.${i >> 8 & 255}.${i & 255}:5060;rport;branch=z9hG4bK${i}`],
        ['from', `<sip:4403050000132${String(i).padStart(7, '0')}@4403050000>;tag=${i}`],
        ['to', '<sip:44030500002000000001@4403050000>'],
        ['call-id', `ka-${i}`],
        ['cseq', '20 MESSAGE'],
      ],
      body: Buffer.alloc(0),
    };
  }

  it('holds 100k transactions without timers and forgets them after the 32 s window', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    // Never listening: sends go nowhere, which is all this test needs.
    const transport = new SipTransport({ host: '127.0.0.1', port: 0 });
    const endpoint = new SipEndpoint({
      transport, localId: '44030500002000000001', localDomain: '4403050000', advertisedHost: '127.0.0.1', advertisedPort: 5060, userAgent: 't',
    });
    let handled = 0;
    endpoint.onRequest((_req, _source, reply) => {
      handled++;
      reply(200);
    });
    const source: TransportSource = { transport: 'udp', address: '10.0.0.1', port: 5060 };
    const requests = Array.from({ length: 100_000 }, (_, i) => keepalive(i));
    for (const req of requests) transport.emit('message', req, source);
    expect(handled).toBe(100_000);
    expect(endpoint.cachedServerTransactions).toBe(100_000);

    vi.advanceTimersByTime(16_100); // one rotation: still remembered
    for (const req of requests.slice(0, 1000)) transport.emit('message', req, source);
    expect(handled).toBe(100_000);
    expect(endpoint.cachedServerTransactions).toBe(100_000);

    vi.advanceTimersByTime(16_100); // second rotation: gone, a late copy is a new request again
    expect(endpoint.cachedServerTransactions).toBe(0);
    transport.emit('message', requests[0]!, source);
    expect(handled).toBe(100_001);
    endpoint.close();
  });
});
