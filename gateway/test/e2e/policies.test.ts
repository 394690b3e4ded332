/**
 * Registration policies from the configuration: unknown devices rejected, per-device passwords, devices that
 * cannot do digest (noAuth), registration expiry; and unknown MESSAGE CmdTypes answered 200 (not 400).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipTransport, type TransportSource } from '../../src/transport/sip-transport.js';
import { SipEndpoint } from '../../src/protocol/sip-endpoint.js';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Device } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const NO_AUTH = '44030500001320066001';
const OWN_PASSWORD = '44030500001320000001';

describe('registration policies', () => {
  let h: Harness;
  let transport: SipTransport;
  let endpoint: SipEndpoint;
  let gw: TransportSource;

  beforeAll(async () => {
    h = await startHarness({
      overrides: {
        sip: {
          unknownDevices: 'reject',
          registerExpiresMin: 60,
          catalogOnRegister: false,
          devices: [
            { id: NO_AUTH, noAuth: true, name: '老式编码器' },
            { id: OWN_PASSWORD, password: 'its-own-password' },
          ],
        },
      },
    });
    gw = { transport: 'udp', address: '127.0.0.1', port: h.gateway.sipPort };
    transport = new SipTransport({ host: '127.0.0.1', port: 0 });
    await transport.listen();
    endpoint = new SipEndpoint({ transport, localId: NO_AUTH, localDomain: '4403050000', advertisedHost: '127.0.0.1', advertisedPort: transport.port, userAgent: 'policy-test' });
    endpoint.onRequest((_req, _src, reply) => reply(200, 'OK'));
  });

  afterAll(async () => {
    endpoint?.close();
    await transport?.close();
    await h?.stop();
  });

  const register = (id: string, expires: number) =>
    endpoint.sendRequest({
      method: 'REGISTER',
      uri: 'sip:44030500002000000001@4403050000',
      to: `<sip:${id}@4403050000>`,
      from: `<sip:${id}@4403050000>`,
      headers: [['expires', String(expires)]],
      destination: gw,
    });

  it('a noAuth device registers without a challenge and gets its configured name', async () => {
    const res = await register(NO_AUTH, 60);
    expect(res.status).toBe(200);
    const d = await h.api<Device>(`/api/devices/${NO_AUTH}`);
    expect(d.body).toMatchObject({ status: 'online', name: '老式编码器', expires: 60 });
  });

  it('an unknown device is refused under the reject policy; a configured one needs its own password', async () => {
    expect((await register('44030500001320066999', 3600)).status).toBe(403);
    const wrong = new DeviceFleet({ server: h.sipTarget, password: '12345678', devices: 1, retryDelaySec: 0 });
    const statuses: Array<number | null> = [];
    wrong.on('register-failed', (f) => statuses.push(f.status));
    await wrong.start();
    await h.waitFor(() => statuses.length > 0, 10_000, 'refusal');
    await wrong.stop({ unregister: false });
    expect(statuses[0]).toBe(403);
    const right = new DeviceFleet({ server: h.sipTarget, password: 'its-own-password', devices: 1 });
    await right.start();
    await right.waitForRegistered(1, 10_000);
    expect(right.devices[0].id).toBe(OWN_PASSWORD);
    await right.stop();
  });

  it('an expiry shorter than the minimum gets 423 with Min-Expires', async () => {
    const res = await register(NO_AUTH, 10);
    expect(res.status).toBe(423);
  });

  it('a MESSAGE with a CmdType we do not know gets 200, not 400', async () => {
    const body = Buffer.from(`<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>DataTransfer</CmdType><SN>5</SN><DeviceID>${NO_AUTH}</DeviceID><Data>x</Data></Notify>`);
    const res = await endpoint.sendRequest({
      method: 'MESSAGE',
      uri: 'sip:44030500002000000001@4403050000',
      to: '<sip:44030500002000000001@4403050000>',
      body,
      contentType: 'Application/MANSCDP+xml',
      destination: gw,
    });
    expect(res.status).toBe(200);
  });
});
