/**
 * GET /api/stats' per-region figures are the region tree's top-level nodes (the wall's region tree and the
 * health console's top level): the same ids, names, order and channel counts, "unplaced" included, so the
 * regions add up to the overall figures; devices count under the nodes their channels are in.
 */
import { describe, expect, it } from 'vitest';
import { StatsService } from '../../src/domain/stats.js';
import { TreeIndex } from '../../src/domain/catalog/tree-index.js';
import { TreeViews, UNPLACED } from '../../src/domain/catalog/tree-views.js';
import type { Channel, Device } from '../../src/domain/model.js';
import type { DeviceRegistry } from '../../src/domain/registry/device-registry.js';

function item(deviceId: string, id: string, f: { kind?: Channel['kind']; name?: string; civil?: string; parents?: string[]; reported?: 'online' | 'offline' } = {}): Channel {
  const reported = f.reported ?? 'online';
  return {
    id, deviceId, kind: f.kind ?? 'channel', name: f.name ?? `cam ${id.slice(-4)}`, manufacturer: '', model: '', owner: '',
    civilCode: f.civil ?? '', block: '', address: '', parental: 0, parentIds: f.parents ?? [], businessGroupId: '',
    safetyWay: null, registerWay: null, secrecy: 0, ipAddress: '', port: null, reportedStatus: reported, status: reported,
    statusChangedAt: 0, longitude: null, latitude: null, ptzType: null, extra: {}, createdAt: 0, updatedAt: 0,
  };
}

const P = '44030500002000000009'; // lower platform: cameras in Shenzhen and in Beijing
const NVR = '00000000001180000001'; // no usable code anywhere: its channel is unplaced
const IPC = '44030600001320000101'; // an IPC whose catalog lists itself
const SILENT = '44030600001320000102'; // an IPC that never answered a catalog query (a leaf of its own)
const OFF = '11010100001320000201'; // a Beijing IPC, offline
const SZ1 = '44030500001320000001';
const SZ2 = '44030500001320000002';
const BJ1 = '11010200001320000003';
const X = '00000000001320000001';

function fixture(): { tree: TreeIndex; views: TreeViews; online: Map<string, boolean>; stats: StatsService } {
  const tree = new TreeIndex();
  const views = new TreeViews(tree);
  const online = new Map<string, boolean>([[P, true], [NVR, true], [IPC, true], [SILENT, true], [OFF, false]]);
  const device = (id: string, civilCode: string): void => tree.upsertDevice(id, `dev ${id.slice(-4)}`, civilCode, online.get(id)!);
  device(P, '44030500');
  tree.replaceCatalog(P, [
    item(P, '440305', { kind: 'region', name: '南山区' }),
    item(P, SZ1, { civil: '440305' }),
    item(P, SZ2, { civil: '440305', reported: 'offline' }),
    item(P, BJ1, { civil: '110102' }),
  ]);
  device(NVR, '00000000');
  tree.replaceCatalog(NVR, [item(NVR, X, { parents: [NVR] })]);
  device(IPC, '44030600');
  tree.replaceCatalog(IPC, [item(IPC, IPC, { civil: '440306' })]);
  device(SILENT, '44030600');
  device(OFF, '11010100');
  tree.replaceCatalog(OFF, [item(OFF, OFF, { civil: '110101' })]);
  const registry = {
    all: () => [...online.keys()].map((id) => ({ id, status: online.get(id) ? 'online' : 'offline' }) as Device).values(),
    isOnline: (id: string) => online.get(id) === true,
  } as unknown as DeviceRegistry;
  return { tree, views, online, stats: new StatsService(registry, tree, views, 0) };
}

describe('StatsService', () => {
  it("lists the region tree's top-level nodes with its ids, names, order and channel counts", () => {
    const { views, stats } = fixture();
    const result = stats.compute();
    const top = views.children('region', undefined).items;
    expect(result.regions.map((r) => ({ id: r.region, name: r.name, online: r.channels.online, total: r.channels.total }))).toEqual(
      top.map((n) => ({ id: n.id, name: n.name, online: n.online, total: n.total })),
    );
    expect(result.regions.map((r) => r.region)).toEqual(['11', '44', UNPLACED]);
    expect(result.regions.map((r) => r.name)).toEqual(['北京市', '广东省', '未知区域']);
  });

  it('counts the channels beneath a node and the devices that reported them; the nodes add up to the whole', () => {
    const { stats } = fixture();
    const result = stats.compute();
    const byId = Object.fromEntries(result.regions.map((r) => [r.region, r]));
    // Shenzhen: SZ1 (online), SZ2 (reported off), IPC. Devices: the platform, the IPC, and the silent IPC (no channel, placed by its code).
    expect(byId['44']!.channels).toEqual({ online: 2, total: 3, rate: 0.6667 });
    expect(byId['44']!.devices).toEqual({ online: 3, total: 3, rate: 1 });
    // Beijing: BJ1 (the platform's), OFF's own channel (its device is offline). The platform counts here too.
    expect(byId['11']!.channels).toEqual({ online: 1, total: 2, rate: 0.5 });
    expect(byId['11']!.devices).toEqual({ online: 1, total: 2, rate: 0.5 });
    expect(byId[UNPLACED]!.channels).toEqual({ online: 1, total: 1, rate: 1 });
    expect(byId[UNPLACED]!.devices).toEqual({ online: 1, total: 1, rate: 1 });
    expect(result.channels).toEqual({ online: 4, total: 6, rate: 0.6667 });
    expect(result.devices).toEqual({ online: 4, total: 5, rate: 0.8 });
    const sum = (key: 'online' | 'total'): number => result.regions.reduce((n, r) => n + r.channels[key], 0);
    expect([sum('online'), sum('total')]).toEqual([result.channels.online, result.channels.total]);
  });

  it('follows status changes and new catalogs (after the cache age), still agreeing with the tree', () => {
    const { tree, views, online, stats } = fixture();
    stats.compute();
    online.set(P, false);
    tree.setDeviceOnline(P, false);
    // A new province appears with the platform's next catalog.
    tree.replaceCatalog(P, [item(P, SZ1, { civil: '440305' }), item(P, BJ1, { civil: '110102' }), item(P, '51010400001320000009', { civil: '510104' })]);
    const result = stats.compute();
    expect(result.regions.map((r) => r.region)).toEqual(['11', '44', '51', UNPLACED]);
    expect(result.regions.map((r) => [r.region, r.channels.online, r.channels.total])).toEqual(
      views.children('region', undefined).items.map((n) => [n.id, n.online, n.total]),
    );
    expect(result.regions.find((r) => r.region === '51')!.devices).toEqual({ online: 0, total: 1, rate: 0 });
    expect(result.regions.find((r) => r.region === '44')!.channels).toEqual({ online: 1, total: 2, rate: 0.5 });
  });

  it('serves the cached figures within the cache age', () => {
    const tree = new TreeIndex();
    let now = 1_000;
    const registry = { all: () => [].values(), isOnline: () => false } as unknown as DeviceRegistry;
    const stats = new StatsService(registry, tree, new TreeViews(tree), 1000, () => now);
    const first = stats.compute();
    tree.upsertDevice(SILENT, 'x', '44030600', true);
    now += 999;
    expect(stats.compute()).toBe(first);
    now += 1;
    expect(stats.compute()).not.toBe(first);
  });
});
