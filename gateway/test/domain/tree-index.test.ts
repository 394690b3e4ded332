import { describe, expect, it } from 'vitest';
import { TreeIndex, ROOT } from '../../src/domain/catalog/tree-index.js';
import type { CatalogNodeKind, Channel } from '../../src/domain/model.js';

function item(id: string, kind: CatalogNodeKind, name: string, parentIds: string[] = [], reported: 'online' | 'offline' = 'online'): Channel {
  return {
    id, deviceId: '44030500002000000009', kind, name, manufacturer: '', model: '', owner: '', civilCode: id.slice(0, 6), block: '',
    address: '', parental: 0, parentIds, businessGroupId: '', safetyWay: null, registerWay: null, secrecy: 0, ipAddress: '',
    port: null, reportedStatus: reported, status: reported, statusChangedAt: 0, longitude: null, latitude: null, ptzType: null,
    extra: {}, createdAt: 0, updatedAt: 0,
  };
}

const PLATFORM = '44030500002000000009';

function platformTree(): TreeIndex {
  const t = new TreeIndex();
  t.upsertDevice(PLATFORM, '下级平台', '44030500', true);
  t.replaceCatalog(PLATFORM, [
    item('44', 'region', '广东省'),
    item('4403', 'region', '深圳市'),
    item('440305', 'region', '南山区'),
    item('44030500002150000001', 'business-group', '治安监控'),
    item('44030500002160000001', 'virtual-org', '学校', ['44030500002150000001']),
    item('44030500001320000001', 'channel', '南门入口', ['440305']),
    item('44030500001320000002', 'channel', '北门', ['440305', '44030500002160000001']),
    item('44030500001320000003', 'channel', '操场㙟', ['44030500002160000001'], 'offline'),
  ]);
  return t;
}

describe('TreeIndex', () => {
  it('nests regions by code and counts channels once per node, including multi-parent ones', () => {
    const t = platformTree();
    const root = t.childrenOf(ROOT);
    const gd = root.find((n) => n.id === '44')!;
    expect(gd).toMatchObject({ kind: 'region', name: '广东省', total: 2, online: 2 });
    expect(t.childrenOf('44').map((n) => n.id)).toEqual(['4403']);
    const ns = t.childrenOf('4403')[0];
    expect(ns).toMatchObject({ id: '440305', total: 2, online: 2 });
    // A business group without ParentID hangs under the platform (system) that reported it.
    expect(root.find((n) => n.id === PLATFORM)).toMatchObject({ kind: 'device', total: 2, online: 1, status: 'online' });
    const group = t.childrenOf(PLATFORM).find((n) => n.id === '44030500002150000001')!;
    expect(group).toMatchObject({ kind: 'business-group', total: 2, online: 1 });
    const vo = t.childrenOf('44030500002150000001')[0];
    expect(vo).toMatchObject({ kind: 'virtual-org', total: 2, online: 1 });
    expect(t.childrenOf('44030500002160000001').map((n) => n.name).sort()).toEqual(['北门', '操场㙟']);
  });

  it('device offline takes every channel offline; back online restores the reported status', () => {
    const t = platformTree();
    t.childrenOf(ROOT);
    t.setDeviceOnline(PLATFORM, false);
    expect(t.childrenOf('4403')[0]).toMatchObject({ online: 0, total: 2 });
    expect(t.channelStatus('44030500001320000001')).toBe('offline');
    t.setDeviceOnline(PLATFORM, true);
    expect(t.childrenOf('4403')[0]).toMatchObject({ online: 2, total: 2 });
    expect(t.channelStatus('44030500001320000003')).toBe('offline');
  });

  it('a new complete catalog replaces the old one', () => {
    const t = platformTree();
    t.replaceCatalog(PLATFORM, [item('440305', 'region', '南山区'), item('44030500001320000001', 'channel', '南门入口', ['440305'])]);
    expect(t.has('44030500001320000002')).toBe(false);
    expect(t.childrenOf(ROOT).map((n) => n.id)).toContain('440305');
    expect(t.channelIdsOf(PLATFORM)).toEqual(['44030500001320000001']);
  });

  it('a 150,000-channel tree builds and answers quickly enough for the API', () => {
    const t = new TreeIndex();
    t.upsertDevice(PLATFORM, 'p', '44030500', true);
    const items: Channel[] = [item('4403', 'region', '深圳市')];
    for (let r = 0; r < 100; r++) items.push(item(`4403${String(r).padStart(2, '0')}`, 'region', `区${r}`));
    for (let i = 0; i < 150_000; i++) {
      items.push(item(`440300001320${String(i).padStart(8, '0')}`, 'channel', `cam${i}`, [`4403${String(i % 100).padStart(2, '0')}`]));
    }
    t.replaceCatalog(PLATFORM, items);
    const top = t.childrenOf(ROOT).find((n) => n.id === '4403')!;
    expect(top.total).toBe(150_000);
    const started = performance.now();
    for (let i = 0; i < 100; i++) t.childrenOf(`4403${String(i).padStart(2, '0')}`);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
