/**
 * Channel ID mapping towards an upper platform (issue 11, `channelIds` of a platform): the sim upper platform
 * above a real gateway with simulated GB devices sees a mapped channel only under the mapped ID — in its Catalog,
 * in DeviceStatus answers, and when it INVITEs it (ffprobe decodes the video) — and the channel's own ID is not
 * reachable from above (404). The API refuses mappings the upper platform could not use unambiguously (400).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformView } from '../../src/domain/cascade/platform-service.js';
import { classifyCatalogItem } from '../../src/codecs/manscdp/messages.js';
import { DeviceFleet, UpperPlatform } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const UPPER_ID = '45000000002000000001';
const UPPER_DOMAIN = '4500000000';
const UPPER_PASSWORD = 'upper-secret-idmap';
/** The IDs the upper platform's numbering plan gives our channels. */
const MAPPED = '45010200001310000001';
const MAPPED_AGAIN = '45010200001310000002';

describe('channel ID mapping towards an upper platform', () => {
  let gw: Harness;
  let upper: UpperPlatform;
  let fleet: DeviceFleet;
  let mappedChannel: string;
  let otherChannel: string;
  const gwId = (): string => gw.config.sip.id;
  const platformBody = (channelIds: Record<string, string>): Record<string, unknown> => ({
    id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.port, transport: 'udp', password: UPPER_PASSWORD, keepaliveSec: 5, share: { all: true }, channelIds,
  });

  beforeAll(async () => {
    upper = await UpperPlatform.start({ id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD });
    gw = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    fleet = new DeviceFleet({ server: gw.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030700', firstSerial: 700 });
    await fleet.start();
    await fleet.waitForRegistered(2, 30_000);
    [mappedChannel, otherChannel] = [fleet.devices[0]!.channelIds[0]!, fleet.devices[1]!.channelIds[0]!];
    await gw.waitFor(async () => ((await gw.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 2 ? true : null), 30_000, 'device catalogs');
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await gw?.stop();
    await upper?.stop();
  });

  it('refuses mappings the upper platform could not use (400 naming channelIds)', async () => {
    const refusals: Array<[string, Record<string, string>]> = [
      ['not 20 digits (upper side)', { [mappedChannel]: '4501020000131' }],
      ['not 20 digits (our side)', { '123': MAPPED }],
      ['two of ours on one upper ID', { [mappedChannel]: MAPPED, [otherChannel]: MAPPED }],
      ['an upper ID that is another shared channel\'s own ID', { [mappedChannel]: otherChannel }],
    ];
    for (const [why, channelIds] of refusals) {
      const r = await gw.api<{ field?: string; message: string }>('/api/platforms', { body: platformBody(channelIds) });
      expect(r.status, `${why}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.field ?? '', why).toMatch(/^(body\.)?channelIds/);
    }
    expect((await gw.api<{ total: number }>('/api/platforms')).body.total).toBe(0);
  });

  it('a mapped channel is in the Catalog under the mapped ID only; unmapped ones keep theirs', async () => {
    const created = await gw.api<PlatformView>('/api/platforms', { body: platformBody({ [mappedChannel]: MAPPED }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.channelIds).toEqual({ [mappedChannel]: MAPPED });
    await upper.waitForRegistered(gwId(), 15_000);
    await gw.waitFor(async () => ((await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.status === 'online' ? true : null), 15_000, 'online');
    const catalog = await upper.queryCatalog(gwId());
    expect(catalog.complete).toBe(true);
    const channels = catalog.items.filter((i) => classifyCatalogItem(i) === 'channel').map((i) => i.deviceId);
    expect(channels).toContain(MAPPED);
    expect(channels).toContain(otherChannel);
    expect(channels).not.toContain(mappedChannel);
    // A Catalog query for the mapped ID lists that one channel, under that ID.
    const one = await upper.queryCatalog(gwId(), { targetId: MAPPED });
    expect(one.items.map((i) => i.deviceId)).toEqual([MAPPED]);
  }, 30_000);

  it('DeviceStatus for the mapped ID answers with that ID; the original ID and an unknown one are 404', async () => {
    const mapped = await upper.query(gwId(), 'DeviceStatus', MAPPED);
    expect(mapped.status).toBe(200);
    expect(mapped.response?.deviceId).toBe(MAPPED);
    expect(mapped.response?.cmdType).toBe('DeviceStatus');
    const info = await upper.query(gwId(), 'DeviceInfo', MAPPED);
    expect(info.response?.deviceId).toBe(MAPPED);
    expect((await upper.query(gwId(), 'DeviceStatus', mappedChannel)).status).toBe(404);
    expect((await upper.query(gwId(), 'DeviceStatus', '45010200001310009999')).status).toBe(404);
    // The unmapped channel is answered under its own ID as before.
    expect((await upper.query(gwId(), 'DeviceStatus', otherChannel)).response?.deviceId).toBe(otherChannel);
  }, 30_000);

  it('PTZ from above for the mapped ID reaches the channel\'s camera; for the original ID it is 404', async () => {
    const RIGHT = 'A50F0101004000F6';
    expect(await upper.ptz(gwId(), MAPPED, RIGHT)).toBe(200);
    await gw.waitFor(() => (fleet.ptzLog(mappedChannel).some((e) => e.hex === RIGHT) ? true : null), 10_000, 'the command at the camera');
    expect(await upper.ptz(gwId(), mappedChannel, RIGHT)).toBe(404);
  }, 30_000);

  it('INVITE for the mapped ID streams the channel (ffprobe decodes it); INVITE for the original ID is refused', async () => {
    const play = await upper.play(gwId(), MAPPED, { transport: 'udp' });
    await play.waitForBytes(200_000, 20_000);
    const probe = await play.probe();
    expect(probe.video?.codec).toBe('h264');
    expect(probe.video?.frames ?? 0).toBeGreaterThan(5);
    const streams = (await gw.api<{ items: Array<{ channelId: string }> }>('/api/streams')).body.items;
    expect(streams.map((s) => s.channelId)).toContain(mappedChannel);
    await play.stop();
    await expect(upper.play(gwId(), mappedChannel, { transport: 'udp' })).rejects.toThrow(/404/);
  }, 45_000);

  it('PATCH changes the mapping: the Catalog and its subscription follow, the old mapped ID is 404, an emptied mapping restores the own ID', async () => {
    await upper.subscribeCatalog(gwId(), 600);
    const changed = await gw.api<PlatformView>(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { channelIds: { [mappedChannel]: MAPPED_AGAIN } } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const channels = (await upper.queryCatalog(gwId())).items.map((i) => i.deviceId);
    expect(channels).toContain(MAPPED_AGAIN);
    expect(channels).not.toContain(MAPPED);
    // The subscription is told: the old ID deleted, the new one added.
    const told = await upper.waitForNotifyItems((n) => n.deviceId === MAPPED || n.deviceId === MAPPED_AGAIN, 2, 15_000);
    expect(told.map((n) => `${n.deviceId} ${n.event}`).sort()).toEqual([`${MAPPED} DEL`, `${MAPPED_AGAIN} ADD`]);
    expect(upper.notifyItems.map((n) => n.deviceId)).not.toContain(mappedChannel);
    expect((await upper.query(gwId(), 'DeviceStatus', MAPPED)).status).toBe(404);
    expect((await upper.query(gwId(), 'DeviceStatus', MAPPED_AGAIN)).response?.deviceId).toBe(MAPPED_AGAIN);
    const refused = await gw.api<{ field?: string }>(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { channelIds: { [mappedChannel]: otherChannel } } });
    expect(refused.status).toBe(400);
    expect(refused.body.field ?? '').toMatch(/^(body\.)?channelIds/);
    // A share that newly lists the channel a mapping points at is refused too.
    const shareClash = await gw.api<{ field?: string }>(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { share: { channels: [mappedChannel, MAPPED_AGAIN] } } });
    expect(shareClash.status, JSON.stringify(shareClash.body)).toBe(400);
    expect((await gw.api(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { channelIds: {} } })).status).toBe(200);
    expect((await upper.query(gwId(), 'DeviceStatus', mappedChannel)).response?.deviceId).toBe(mappedChannel);
  }, 30_000);
});
