/**
 * Routing by transport source: a device behind NAT whose public port changes (NAT rebinding) is reached at
 * its new address; Via/Contact addresses are never used; live DeviceInfo/DeviceStatus queries reach it there.
 * The "device" here is built from our SIP transport and endpoint, speaking plain GB28181 on the wire.
 *
 * Following a device to a new port is allowed only when its profile or config says so (issue 8 part 3:
 * otherwise a request from another source is a spoof and gets 403, see sip-trust.test.ts), so this device
 * is configured with `natRebinding: port`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { SipEndpoint } from '../../src/protocol/sip-endpoint.js';
import { header } from '../../src/codecs/sip/message.js';
import { computeDigestResponse, parseDigestParams } from '../../src/codecs/sip/digest.js';
import { decodeManscdp, encodeDeviceInfoResponse, encodeDeviceStatusResponse, encodeKeepalive, MANSCDP_CONTENT_TYPE } from '../../src/codecs/manscdp/messages.js';
import type { Device } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const DEVICE = '44030500001320077001';
const PASSWORD = 'nat-pass';

interface NatSide {
  transport: SipTransport;
  endpoint: SipEndpoint;
  queries: string[];
}

async function side(gateway: TransportSource): Promise<NatSide> {
  const transport = new SipTransport({ host: '127.0.0.1', port: 0 });
  await transport.listen();
  // Lie in Via/Contact like devices behind NAT do: a private address nobody can reach.
  const endpoint = new SipEndpoint({ transport, localId: DEVICE, localDomain: '4403050000', advertisedHost: '192.168.3.99', advertisedPort: 5060, userAgent: 'nat-test-device' });
  const s: NatSide = { transport, endpoint, queries: [] };
  endpoint.onRequest((req, _source, reply) => {
    reply(200, 'OK');
    if (req.method !== 'MESSAGE') return;
    const m = decodeManscdp(req.body);
    s.queries.push(m.cmdType);
    const answer =
      m.cmdType === 'DeviceInfo'
        ? encodeDeviceInfoResponse(DEVICE, m.sn, { deviceName: '南门 NAT', manufacturer: 'Test', model: 'NAT-1', firmware: 'V1', channel: 1 })
        : m.cmdType === 'DeviceStatus'
          ? encodeDeviceStatusResponse(DEVICE, m.sn, { online: 'ONLINE', status: 'OK', encode: 'ON', record: 'OFF' })
          : null;
    if (answer) {
      void endpoint
        .sendRequest({ method: 'MESSAGE', uri: `sip:44030500002000000001@4403050000`, to: '<sip:44030500002000000001@4403050000>', body: answer, contentType: MANSCDP_CONTENT_TYPE, destination: gateway })
        .catch(() => undefined);
    }
  });
  return s;
}

describe('routing by transport source (NAT rebinding)', () => {
  let h: Harness;
  let a: NatSide;
  let b: NatSide;
  let gw: TransportSource;

  beforeAll(async () => {
    h = await startHarness({
      overrides: { sip: { password: PASSWORD, catalogOnRegister: false, queryTimeoutSec: 5, devices: [{ id: DEVICE, natRebinding: 'port' }] } },
    });
    gw = { transport: 'udp', address: '127.0.0.1', port: h.gateway.sipPort };
    a = await side(gw);
    b = await side(gw);
  });

  afterAll(async () => {
    for (const s of [a, b]) {
      s?.endpoint.close();
      await s?.transport.close();
    }
    await h?.stop();
  });

  it('registers from port A with digest, then follows the device to port B when its keepalives move', async () => {
    const base = {
      method: 'REGISTER',
      uri: 'sip:44030500002000000001@4403050000',
      to: `<sip:${DEVICE}@4403050000>`,
      from: `<sip:${DEVICE}@4403050000>`,
      headers: [['expires', '3600']] as Array<[string, string]>,
      destination: gw,
      fromTag: 'nat1',
      callId: 'nat-reg-1',
    };
    const challenge = await a.endpoint.sendRequest({ ...base, cseq: 1 });
    expect(challenge.status).toBe(401);
    const params = parseDigestParams(header(challenge, 'www-authenticate') ?? '');
    const uri = 'sip:44030500002000000001@4403050000';
    const response = computeDigestResponse({ username: DEVICE, realm: params.realm ?? '', password: PASSWORD, method: 'REGISTER', uri, nonce: params.nonce ?? '', qop: 'auth', nc: '00000001', cnonce: 'abc123' });
    const auth = `Digest username="${DEVICE}", realm="${params.realm}", nonce="${params.nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="abc123"`;
    const ok = await a.endpoint.sendRequest({ ...base, cseq: 2, headers: [...base.headers, ['authorization', auth]] });
    expect(ok.status).toBe(200);
    expect(header(ok, 'date')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/);

    const registered = await h.api<Device>(`/api/devices/${DEVICE}`);
    expect(registered.body).toMatchObject({ status: 'online', remoteAddress: '127.0.0.1', remotePort: a.transport.port });
    expect(registered.body.contact).toContain('192.168.3.99');

    // Live query goes to A.
    const info = await h.api<{ deviceName: string }>(`/api/devices/${DEVICE}/info`);
    expect(info.status).toBe(200);
    expect(info.body.deviceName).toBe('南门 NAT');
    expect(a.queries).toEqual(['DeviceInfo']);

    // NAT rebinding: the keepalive now arrives from port B.
    const ka = await b.endpoint.sendRequest({
      method: 'MESSAGE',
      uri: 'sip:44030500002000000001@4403050000',
      to: '<sip:44030500002000000001@4403050000>',
      body: encodeKeepalive(DEVICE, 7),
      contentType: MANSCDP_CONTENT_TYPE,
      destination: gw,
    });
    expect(ka.status).toBe(200);
    const moved = await h.api<Device>(`/api/devices/${DEVICE}`);
    expect(moved.body.remotePort).toBe(b.transport.port);

    const status = await h.api<{ online: string; encode: string }>(`/api/devices/${DEVICE}/status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ online: 'ONLINE', encode: 'ON' });
    expect(b.queries).toEqual(['DeviceStatus']);
    expect(a.queries).toEqual(['DeviceInfo']);
  });

  it('a live query to an unknown device is 404, to a device that does not answer is 502', async () => {
    expect((await h.api('/api/devices/44030500001320077999/status')).status).toBe(404);
    // Close B: the device is still registered but nobody answers at its address.
    b.endpoint.close();
    await b.transport.close();
    const r = await h.api<{ message: string }>(`/api/devices/${DEVICE}/info`);
    expect(r.status).toBe(502);
    expect(r.body.message).toMatch(/DeviceInfo/);
  });
});
