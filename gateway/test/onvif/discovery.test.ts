/**
 * WS-Discovery on the loopback interface only: our probe finds the simulated cameras with their names,
 * hardware and locations from the scopes; nothing leaves through another interface.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOnvif, interfaceAddress } from '../../src/protocol/onvif/discovery.js';
import { DiscoveryResponder } from '../../src/sim/onvif/discovery-responder.js';
import { OnvifCameraSim } from '../../src/sim/onvif/onvif-camera.js';

/** A port nobody else uses for this run (not 3702: parallel runs and other tests may probe that). */
async function freeUdpLikePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

describe('WS-Discovery on lo', () => {
  const cams: OnvifCameraSim[] = [];
  let responder: DiscoveryResponder;
  let port: number;

  beforeAll(async () => {
    port = await freeUdpLikePort();
    responder = new DiscoveryResponder({ interfaceAddress: '127.0.0.1', port });
    await responder.start();
    for (const [name, location] of [
      ['南山实验学校 东门', '南山区/桃源街道'],
      ['Shop 12 entrance', 'Futian'],
    ]) {
      const cam = new OnvifCameraSim({ name, location, hardware: 'IPC-SIM' });
      await cam.start();
      responder.add(cam);
      cams.push(cam);
    }
  });

  afterAll(async () => {
    responder?.close();
    await Promise.all(cams.map((c) => c.close()));
  });

  it('finds every camera once, with its XAddr and decoded scopes', async () => {
    const found = await discoverOnvif({ interface: 'lo', timeoutMs: 3_000, port });
    expect(found).toHaveLength(2);
    const byName = new Map(found.map((d) => [d.scopes.name, d]));
    const school = byName.get('南山实验学校 东门');
    expect(school).toMatchObject({ endpoint: `urn:uuid:${cams[0]!.uuid}`, xaddrs: [cams[0]!.xaddr], from: '127.0.0.1', scopes: { hardware: 'IPC-SIM', location: '南山区/桃源街道' } });
    expect(byName.get('Shop 12 entrance')?.xaddrs).toEqual([cams[1]!.xaddr]);
    expect(responder.probesAnswered).toBeGreaterThanOrEqual(1);
  });

  it('names the interface by name or address, and refuses one this machine does not have', () => {
    expect(interfaceAddress('lo')).toBe('127.0.0.1');
    expect(interfaceAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(() => interfaceAddress('no-such-if0')).toThrow(/no IPv4 address/);
  });
});
