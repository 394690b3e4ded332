/**
 * POST /api/onvif/discover (issue 10): a WS-Discovery Probe on lo (never a real interface in tests, and on a
 * private port), answered by our camera simulators; each answer with its XAddrs and scopes, and whether it is
 * already added through POST /api/devices.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryResponder } from '../../src/sim/onvif/discovery-responder.js';
import { OnvifCameraSim } from '../../src/sim/onvif/onvif-camera.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

type Found = { total: number; interface: string; items: Array<{ name: string | null; location: string | null; xaddrs: string[]; host: string; port: number; added: boolean; deviceId: string | null }> };

describe('ONVIF discovery through the API', () => {
  let h: Harness;
  let responder: DiscoveryResponder;
  const cams: OnvifCameraSim[] = [];

  beforeAll(async () => {
    const port = await freePort();
    responder = new DiscoveryResponder({ interfaceAddress: '127.0.0.1', port });
    await responder.start();
    for (const [name, location] of [['南山实验学校 东门', '南山区/桃源街道'], ['Shop 12 entrance', 'Futian']] as const) {
      const cam = new OnvifCameraSim({ name, location, hardware: 'IPC-SIM' });
      await cam.start();
      responder.add(cam);
      cams.push(cam);
    }
    h = await startHarness({ overrides: { onvif: { discoveryInterface: 'lo', discoveryPort: port } } });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    responder?.close();
    await Promise.all(cams.map((c) => c.close()));
  });

  it('lists every camera that answered, with name, location, XAddr and where to reach it; marks the added one', async () => {
    const { username, password } = cams[0]!.credentials;
    const added = await h.api<{ id: string }>('/api/devices', { body: { protocol: 'onvif', host: '127.0.0.1', port: cams[0]!.port, username, password } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const r = await h.api<Found>('/api/onvif/discover', { body: { timeoutMs: 1500 } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.interface).toBe('lo');
    expect(r.body.total).toBe(2);
    const byName = new Map(r.body.items.map((d) => [d.name, d]));
    expect(byName.get('南山实验学校 东门')).toMatchObject({ location: '南山区/桃源街道', xaddrs: [cams[0]!.xaddr], host: '127.0.0.1', port: cams[0]!.port, added: true, deviceId: added.body.id });
    expect(byName.get('Shop 12 entrance')).toMatchObject({ port: cams[1]!.port, added: false, deviceId: null });
  }, 30_000);

  it('an interface this machine does not have is 400 naming the field; so are bad timeouts', async () => {
    const r = await h.api<{ field: string; message: string }>('/api/onvif/discover', { body: { interface: 'no-such-if0' } });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('body.interface');
    expect((await h.api('/api/onvif/discover', { body: { timeoutMs: 60_000 } })).status).toBe(400);
  });
});
