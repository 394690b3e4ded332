/**
 * Two platforms cascading to each other with distinct IDs (WVP #1729): two gateways of ours, A and B, each the
 * other's upper platform and each with its own simulated devices, on the wire on 127.0.0.1.
 *
 * - No confusion between the peer as a device and as a platform: A's keepalives and catalog answers reach B as
 *   a lower platform's reports (B is online at A as a device and learns A's channels), while A's queries,
 *   SUBSCRIBE and INVITE reach B as its upper platform's requests.
 * - No loops: what B shares up to A is not shared back down to B as A's own; after repeated catalog exchanges
 *   (queries both ways, subscriptions, a new device) each side holds its own channels plus the other's own,
 *   nothing more, and every channel keeps its real owner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformView } from '../../src/domain/cascade/platform-service.js';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const A = { id: '44000000002000000001', domain: '4400000000', password: 'pw-gateway-a' };
const B = { id: '51000000002000000001', domain: '5100000000', password: 'pw-gateway-b' };

interface ChannelRow {
  id: string;
  deviceId: string;
}

describe('two gateways cascading to each other (distinct IDs)', () => {
  let a: Harness;
  let b: Harness;
  let fleetA: DeviceFleet;
  let fleetB: DeviceFleet;
  let lateB: DeviceFleet | null = null;
  const ownA = (): string[] => fleetA.devices.flatMap((d) => d.channelIds);
  const ownB = (): string[] => [...fleetB.devices, ...(lateB?.devices ?? [])].flatMap((d) => d.channelIds);

  const start = (who: typeof A): Promise<Harness> =>
    startHarness({ overrides: { sip: { id: who.id, domain: who.domain, password: who.password, keepaliveIntervalSec: 5, registerThrottle: { ratePerSec: 0, burst: 100 } } } });

  const channels = async (h: Harness): Promise<ChannelRow[]> => (await h.api<{ items: ChannelRow[] }>('/api/channels?kind=channel&limit=1000')).body.items;

  /** Resolves once the gateway holds exactly `expected` channels (IDs), each with its expected owner. */
  const holdsExactly = (h: Harness, expected: Map<string, string>, what: string): Promise<ChannelRow[]> =>
    h.waitFor(async () => {
      const rows = await channels(h);
      if (rows.length !== expected.size) return null;
      return rows.every((r) => expected.get(r.id) === r.deviceId) ? rows : null;
    }, 30_000, what);

  const ownersOf = (fleet: DeviceFleet): Array<[string, string]> => fleet.devices.flatMap((d) => d.channelIds.map((c): [string, string] => [c, d.id]));

  beforeAll(async () => {
    [a, b] = await Promise.all([start(A), start(B)]);
    fleetA = new DeviceFleet({ server: a.sipTarget, password: A.password, devices: 2, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 300 });
    fleetB = new DeviceFleet({ server: b.sipTarget, password: B.password, devices: 3, nvrEvery: 3, channelsPerNvr: 2, keepaliveSec: 30, idPrefix: '51010600', firstSerial: 300 });
    await Promise.all([fleetA.start(), fleetB.start()]);
    await Promise.all([fleetA.waitForRegistered(2, 30_000), fleetB.waitForRegistered(3, 30_000)]);
    await holdsExactly(a, new Map(ownersOf(fleetA)), 'A: its own devices');
    await holdsExactly(b, new Map(ownersOf(fleetB)), 'B: its own devices');
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([fleetA?.stop({ unregister: false }), fleetB?.stop({ unregister: false }), lateB?.stop({ unregister: false })]);
    await Promise.allSettled([a?.stop(), b?.stop()]);
  });

  const platformOn = (h: Harness, peer: typeof A, sipPort: number) =>
    h.api<PlatformView>('/api/platforms', {
      body: { id: peer.id, domain: peer.domain, host: '127.0.0.1', port: sipPort, transport: 'udp', password: peer.password, keepaliveSec: 5, share: { all: true } },
    });

  it('each registers with the other; each is online both as the other\'s upper platform and as its lower platform (device)', async () => {
    expect((await platformOn(a, B, b.gateway.sipPort)).status).toBe(201);
    expect((await platformOn(b, A, a.gateway.sipPort)).status).toBe(201);
    for (const [h, peer] of [[a, B], [b, A]] as const) {
      await h.waitFor(async () => ((await h.api<PlatformView>(`/api/platforms/${peer.id}`)).body.status === 'online' ? true : null), 20_000, `${peer.id} online as upper`);
      await h.waitFor(async () => {
        const d = await h.api<{ status: string }>(`/api/devices/${peer.id}`);
        return d.status === 200 && d.body.status === 'online' ? true : null;
      }, 20_000, `${peer.id} online as a device`);
    }
  }, 60_000);

  it('each learns the other\'s own channels (answers to its Catalog query take the device path), and nothing comes back as the other\'s own', async () => {
    // A holds its own channels plus B's own, owned by device B; B the same the other way round. A channel B
    // shared to A is not shared back to B (it would come back as A's, owned by A, and overwrite B's owner).
    await holdsExactly(a, new Map([...ownersOf(fleetA), ...ownB().map((c): [string, string] => [c, B.id])]), 'A: own + B\'s own');
    await holdsExactly(b, new Map([...ownersOf(fleetB), ...ownA().map((c): [string, string] => [c, A.id])]), 'B: own + A\'s own');
  }, 60_000);

  it('repeated exchanges do not grow the catalog: queries both ways, then a new device at B arrives at A once and is not echoed back', async () => {
    for (let round = 0; round < 2; round++) {
      expect((await a.api(`/api/devices/${B.id}/catalog`, { method: 'POST', body: {} })).status).toBeLessThan(300);
      expect((await b.api(`/api/devices/${A.id}/catalog`, { method: 'POST', body: {} })).status).toBeLessThan(300);
      await holdsExactly(a, new Map([...ownersOf(fleetA), ...ownB().map((c): [string, string] => [c, B.id])]), `A after round ${round}`);
      await holdsExactly(b, new Map([...ownersOf(fleetB), ...ownA().map((c): [string, string] => [c, A.id])]), `B after round ${round}`);
    }
    lateB = new DeviceFleet({ server: b.sipTarget, password: B.password, devices: 1, keepaliveSec: 30, idPrefix: '51010600', firstSerial: 390 });
    await lateB.start();
    await lateB.waitForRegistered(1, 30_000);
    const newcomer = lateB.devices[0]!.channelIds[0]!;
    // At A through A's catalog subscription to B (or its next query); at B it stays B's device's channel.
    await a.waitFor(async () => ((await channels(a)).some((c) => c.id === newcomer) ? true : null), 30_000, 'the new channel at A');
    expect((await b.api(`/api/devices/${A.id}/catalog`, { method: 'POST', body: {} })).status).toBeLessThan(300);
    await holdsExactly(b, new Map([...ownersOf(fleetB), [newcomer, lateB.devices[0]!.id], ...ownA().map((c): [string, string] => [c, A.id])]), 'B: the newcomer is its own, once');
    await holdsExactly(a, new Map([...ownersOf(fleetA), ...ownB().map((c): [string, string] => [c, B.id])]), 'A: own + B\'s own including the newcomer');
  }, 90_000);

  it('an upper platform cannot reach its own channels through us: A playing one of B\'s channels via B works, B asking A for its own channel does not loop', async () => {
    // A's wall plays a channel of B: A INVITEs B as a device; B takes it as its upper platform's INVITE (an upward leg).
    const channelOfB = fleetB.devices[0]!.channelIds[0]!;
    const play = await a.api<{ streamId: string }>(`/api/channels/${channelOfB}/play`, { body: {} });
    expect(play.status, JSON.stringify(play.body)).toBe(200);
    await a.waitFor(async () => ((await a.api<{ frames: number }>(`/api/streams/${play.body.streamId}`)).body.frames > 10 ? true : null), 30_000, 'frames of B\'s channel at A');
    await b.waitFor(async () => ((await b.api<PlatformView>(`/api/platforms/${A.id}`)).body.upwardLegs === 1 ? true : null), 10_000, 'one upward leg at B');
    expect((await a.api(`/api/streams/${play.body.streamId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    await b.waitFor(async () => ((await b.api<PlatformView>(`/api/platforms/${A.id}`)).body.upwardLegs === 0 ? true : null), 15_000, 'the leg at B ended');
    // B's own channel is not at A as A's: B playing it goes to B's own device, never to A (no loop of INVITEs).
    const ownPlay = await b.api<{ streamId: string }>(`/api/channels/${channelOfB}/play`, { body: {} });
    expect(ownPlay.status, JSON.stringify(ownPlay.body)).toBe(200);
    await b.waitFor(async () => ((await b.api<{ frames: number }>(`/api/streams/${ownPlay.body.streamId}`)).body.frames > 10 ? true : null), 30_000, 'frames at B');
    expect((await a.api<PlatformView>(`/api/platforms/${B.id}`)).body.upwardLegs).toBe(0);
    await b.api(`/api/streams/${ownPlay.body.streamId}`, { method: 'DELETE' });
  }, 90_000);
});
