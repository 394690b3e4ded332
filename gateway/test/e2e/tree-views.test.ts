/**
 * End to end: a simulated lower platform reports a region / business-group / virtual-org tree, two IPCs report
 * themselves; GET /api/tree?view=region|group and GET /api/tree/search show what they reported, with counts
 * that follow the devices' status, and the same shape after a restart (from the store).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { TreeNodeView } from '../../src/domain/services.js';
import type { TreeSearchHit } from '../../src/domain/catalog/tree-views.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const PASSWORD = 'tree-pass-1';
const PLATFORM_CHANNELS = 50; // 2 units, 2 business groups, 8 virtual orgs; channels 8–9 of every 10 in no group
const IPCS = 2;
const ALL = PLATFORM_CHANNELS + IPCS;

interface Level {
  view: string;
  parent: string | null;
  total: number;
  items: TreeNodeView[];
}

describe('tree views over the API (simulated lower platform, sqlite store)', () => {
  let h: Harness;
  let platform: DeviceFleet;
  let ipcs: DeviceFleet;
  let platformId: string;

  const level = async (view: string, parent?: string, page = ''): Promise<Level> => {
    const r = await h.api<Level>(`/api/tree?view=${view}${parent ? `&parent=${parent}` : ''}${page}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  /** Every channel leaf of a view with the id of the node it hangs under. */
  const leaves = async (view: string, parent?: string): Promise<Array<[string, string]>> => {
    const out: Array<[string, string]> = [];
    for (const n of (await level(view, parent, '&limit=1000')).items) {
      if (n.hasChildren) out.push(...(await leaves(view, n.id)));
      else if (n.kind === 'channel') out.push([n.id, parent ?? '']);
    }
    return out;
  };

  beforeAll(async () => {
    h = await startHarness({ overrides: { sip: { password: PASSWORD, keepaliveIntervalSec: 1, keepaliveMissCount: 3, catalogTimeoutSec: 5 } } });
    platform = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, platformChannels: PLATFORM_CHANNELS, keepaliveSec: 1, idPrefix: '44030500' });
    ipcs = new DeviceFleet({ server: h.sipTarget, password: PASSWORD, devices: IPCS, keepaliveSec: 1, idPrefix: '44030600', firstSerial: 700 });
    await Promise.all([platform.start(), ipcs.start()]);
    await Promise.all([platform.waitForRegistered(1, 20_000), ipcs.waitForRegistered(IPCS, 20_000)]);
    platformId = platform.devices[0].id;
    await h.waitFor(async () => (await level('region')).items.find((n) => n.id === '44' && n.total === ALL && n.online === ALL), 30_000, 'every channel online in the region view');
  });

  afterAll(async () => {
    await Promise.allSettled([platform?.stop({ unregister: false }), ipcs?.stop({ unregister: false })]);
    await h?.stop();
  });

  it('region view: province → city → county → police-station units → channels, named from the catalog', async () => {
    const top = await level('region');
    expect(top).toMatchObject({ view: 'region', parent: null, total: 1 });
    expect(top.items[0]).toMatchObject({ id: '44', kind: 'region', name: '广东省', deviceId: '', online: ALL, total: ALL, hasChildren: true });
    expect((await level('region', '44')).items.map((n) => [n.id, n.name])).toEqual([['4403', '深圳市']]);
    const counties = (await level('region', '4403')).items;
    // No device reported 440306 as a region: the IPCs' own IDs place them, and the GB/T 2260 dataset names it.
    expect(counties.map((n) => [n.id, n.name, n.total])).toEqual([
      ['440305', '南山区', PLATFORM_CHANNELS],
      ['440306', '宝安区', IPCS],
    ]);
    const units = (await level('region', '440305')).items;
    expect(units.map((n) => n.id)).toEqual(['44030501', '44030502']);
    for (const u of units) {
      expect(u.name).toMatch(/区域$/);
      expect(u.total).toBe(PLATFORM_CHANNELS / 2);
    }
    // Paging a level: total is every child, items one page of them in a stable order.
    const all = await level('region', '44030501', '&limit=1000');
    const page = await level('region', '44030501', '&offset=10&limit=10');
    expect(page.total).toBe(PLATFORM_CHANNELS / 2);
    expect(page.items.map((n) => n.id)).toEqual(all.items.slice(10, 20).map((n) => n.id));
    expect(page.items.every((n) => n.kind === 'channel' && n.status === 'online' && n.deviceId === platformId)).toBe(true);
    // The IPCs' catalogs list themselves: one channel node each.
    expect((await level('region', '440306')).items.map((n) => [n.id, n.kind])).toEqual(
      expect.arrayContaining(ipcs.devices.map((d) => [d.id, 'channel'])),
    );
  });

  it('group view: business groups → virtual orgs → channels plus "ungrouped"; both views partition the channels', async () => {
    const top = await level('group');
    expect(top.items.map((n) => n.kind)).toEqual(['business-group', 'business-group', 'unassigned']);
    const ungrouped = top.items[2];
    expect(ungrouped).toMatchObject({ id: 'ungrouped', total: PLATFORM_CHANNELS / 5 + IPCS });
    expect(top.items.reduce((sum, n) => sum + n.total, 0)).toBe(ALL);
    const orgs = (await level('group', top.items[0].id)).items;
    expect(orgs.length).toBeGreaterThan(0);
    expect(orgs.every((n) => n.kind === 'virtual-org')).toBe(true);
    const byRegion = await leaves('region');
    const byGroup = await leaves('group');
    const ids = (pairs: Array<[string, string]>): string[] => pairs.map(([id]) => id).sort();
    expect(byRegion).toHaveLength(ALL);
    expect(ids(byGroup)).toEqual(ids(byRegion));
    expect(new Set(ids(byGroup)).size).toBe(ALL);
  });

  it('search: matching nodes with the path to expand to them', async () => {
    const org = (await level('group', (await level('group')).items[0].id)).items[0];
    const found = await h.api<{ view: string; total: number; items: TreeSearchHit[] }>(`/api/tree/search?view=group&q=${encodeURIComponent(org.name)}`);
    expect(found.status).toBe(200);
    const hit = found.body.items.find((n) => n.id === org.id);
    expect(hit?.path.map((s) => s.kind)).toEqual(['business-group']);
    const channel = (await level('region', '44030502')).items[3];
    const byId = await h.api<{ total: number; items: TreeSearchHit[] }>(`/api/tree/search?view=region&q=${channel.id}`);
    expect(byId.body.total).toBe(1);
    expect(byId.body.items[0]).toMatchObject({ id: channel.id, name: channel.name, kind: 'channel', status: 'online' });
    expect(byId.body.items[0].path.map((s) => s.id)).toEqual(['44', '4403', '440305', '44030502']);
    const limited = await h.api<{ total: number; items: TreeSearchHit[] }>('/api/tree/search?view=region&q=44030&limit=3');
    expect(limited.body.total).toBeGreaterThan(3);
    expect(limited.body.items).toHaveLength(3);
  });

  it('bad input is a 400 naming the field; unknown nodes are 404; the default view is the catalog tree', async () => {
    const cases: Array<[string, string]> = [
      ['/api/tree?view=map', 'querystring.view'],
      ['/api/tree?view=group&parent=abc', 'querystring.parent'],
      ['/api/tree/search?view=group', 'querystring.q'],
      ['/api/tree/search?q=a&limit=0', 'querystring.limit'],
    ];
    for (const [path, field] of cases) {
      const r = await h.api<{ field?: string }>(path);
      expect(r.status, path).toBe(400);
      expect(r.body.field, path).toBe(field);
    }
    expect((await h.api('/api/tree?view=region&parent=4499')).status).toBe(404);
    expect((await h.api('/api/tree?view=region&parent=ungrouped')).status).toBe(404);
    expect((await level('group', 'ungrouped')).total).toBe(PLATFORM_CHANNELS / 5 + IPCS);
    const catalog = await level('catalog');
    expect((await h.api<Level>('/api/tree')).body).toEqual(catalog);
    expect(catalog.items.find((n) => n.id === platformId)).toMatchObject({ kind: 'device', total: PLATFORM_CHANNELS });
  });

  it('counts follow the platform going offline and coming back', async () => {
    platform.stopKeepalive([platformId]);
    await h.waitFor(async () => (await level('region')).items[0].online === IPCS, 20_000, 'only the IPCs online in the region view');
    expect((await level('catalog')).items.find((n) => n.id === platformId)).toMatchObject({ online: 0, total: PLATFORM_CHANNELS, status: 'offline' });
    const groups = (await level('group')).items;
    expect(groups.map((n) => n.online)).toEqual([0, 0, IPCS]);
    expect((await level('region', '44030501', '&limit=1')).items[0].status).toBe('offline');
    platform.resumeKeepalive([platformId]);
    await h.waitFor(async () => (await level('group')).items.every((n) => n.online === n.total), 20_000, 'every group back online');
  });

  it('a restart rebuilds the same views from the store', async () => {
    const before = { region: await leaves('region'), group: await leaves('group') };
    await Promise.allSettled([platform.stop({ unregister: false }), ipcs.stop({ unregister: false })]);
    const dataDir = h.dataDir;
    await h.stop({ keepData: true });
    h = await startHarness({ dataDir, overrides: { sip: { password: PASSWORD } } });
    try {
      expect((await leaves('region')).sort()).toEqual(before.region.sort());
      expect((await leaves('group')).sort()).toEqual(before.group.sort());
    } finally {
      await h.stop();
      rmSync(dataDir, { recursive: true, force: true });
      h = undefined as unknown as Harness;
    }
  });
});
