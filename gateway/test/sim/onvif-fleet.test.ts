/** The ONVIF fleet: every camera is found by discovery and answers our client with its own name and streams. */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOnvif } from '../../src/protocol/onvif/discovery.js';
import { OnvifClient } from '../../src/protocol/onvif/onvif-client.js';
import { OnvifFleet } from '../../src/sim/onvif/onvif-fleet.js';

describe('OnvifFleet', () => {
  let fleet: OnvifFleet;
  let port: number;
  beforeAll(async () => {
    port = await new Promise<number>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    fleet = new OnvifFleet({ cameras: 5, discoveryPort: port, password: 'fleet-pw' });
    await fleet.start();
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
  });

  it('five cameras: discovered, each with its own port, name and RTSP path on the shared server', async () => {
    const found = await discoverOnvif({ interface: 'lo', timeoutMs: 2_000, port });
    expect(found.map((f) => f.scopes.name).sort()).toEqual(['ONVIF 摄像机 1', 'ONVIF 摄像机 2', 'ONVIF 摄像机 3', 'ONVIF 摄像机 4', 'ONVIF 摄像机 5']);
    expect(new Set(fleet.cameras.map((c) => c.port)).size).toBe(5);
    const third = fleet.cameras[2]!;
    const client = new OnvifClient({ host: '127.0.0.1', port: third.port, username: 'admin', password: 'fleet-pw' });
    await client.connect();
    expect(await client.streamUri('profile_1_main')).toBe(`rtsp://127.0.0.1:${fleet.rtspPort}/onvif/c3/profile_1_main`);
  });
});
