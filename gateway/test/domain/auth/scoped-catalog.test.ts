/**
 * ChannelScope and the scoped catalog reads over the real tree views (no store: the list reads are stubs):
 * region and group scopes, nested virtual organisations, channels placed by their own ID, counts recomputed
 * over the scope, hidden nodes answering NotFoundError, search, statistics and alarms.
 */
import { describe, expect, it } from 'vitest';
import { TreeIndex } from '../../../src/domain/catalog/tree-index.js';
import { TreeViews } from '../../../src/domain/catalog/tree-views.js';
import { ScopedCatalog, alarmInScope, type CatalogReads } from '../../../src/domain/auth/scoped-catalog.js';
import { NotFoundError, type Principal } from '../../../src/domain/services.js';
import type { Channel, UserScopes } from '../../../src/domain/model.js';

function item(deviceId: string, id: string, f: { kind?: Channel['kind']; name?: string; civil?: string; parents?: string[]; group?: string; reported?: 'online' | 'offline' } = {}): Channel {
  const reported = f.reported ?? 'online';
  return {
    id, deviceId, kind: f.kind ?? 'channel', name: f.name ?? `cam ${id.slice(-4)}`, manufacturer: '', model: '', owner: '',
    civilCode: f.civil ?? '', block: '', address: '', parental: 0, parentIds: f.parents ?? [], businessGroupId: f.group ?? '',
    safetyWay: null, registerWay: null, secrecy: 0, ipAddress: '', port: null, reportedStatus: reported, status: reported,
    statusChangedAt: 0, longitude: null, latitude: null, ptzType: null, extra: {}, createdAt: 0, updatedAt: 0,
  };
}

const P = '44030500002000000009';
const BG1 = '44030500002150000001';
const BG2 = '44030500002150000002';
const VO1 = '44030500002160000001';
const VO2 = '44030500002160000002';
const C1 = '44030500001320000001'; // unit 44030501, VO1 (BG1)
const C2 = '44030500001320000002'; // county 440305, VO2 nested in VO1 (BG1)
const C3 = '44030600001320000003'; // no civil code: placed by its own ID in 440306; BG2
const C4 = '44030500001320000004'; // 440305, no group, offline
const IPC = '44030600001320000101'; // an IPC listing itself, 440306

function fixture(): { index: TreeIndex; views: TreeViews; catalog: ScopedCatalog } {
  const index = new TreeIndex();
  const views = new TreeViews(index);
  index.upsertDevice(P, '下级平台', '44030500', true);
  index.replaceCatalog(P, [
    item(P, '440305', { kind: 'region', name: '南山区' }),
    item(P, '44030501', { kind: 'region', name: '南头派出所' }),
    item(P, BG1, { kind: 'business-group', name: '治安监控', parents: [P] }),
    item(P, BG2, { kind: 'business-group', name: '交通监控', parents: [P] }),
    item(P, VO1, { kind: 'virtual-org', name: '一中队', parents: [BG1], group: BG1 }),
    item(P, VO2, { kind: 'virtual-org', name: '巡逻组', parents: [VO1], group: BG1 }),
    item(P, C1, { name: '南门入口', civil: '44030501', parents: [VO1], group: BG1 }),
    item(P, C2, { name: 'North Gate', civil: '440305', parents: [P, VO2], group: BG1 }),
    item(P, C3, { name: '东侧停车场', parents: [P], group: BG2 }),
    item(P, C4, { name: '操场', civil: '440305', parents: [P], reported: 'offline' }),
  ]);
  index.upsertDevice(IPC, 'ipc', '44030600', true);
  index.replaceCatalog(IPC, [item(IPC, IPC, { name: '西门', civil: '440306', parents: [IPC] })]);
  const unused = (): never => {
    throw new Error('not used here');
  };
  const reads: CatalogReads = {
    listDevices: unused, getDevice: unused, listChannels: unused, getChannel: unused, listStatusEvents: unused, listAlarms: unused, getAlarm: unused,
    treeChildren: (parent, page, view) => views.children(view, parent, page),
    treeSearch: (view, q, limit) => views.search(view, q, limit),
    stats: unused,
  };
  return { index, views, catalog: new ScopedCatalog(reads, { index, views }) };
}

const user = (scopes?: UserScopes): Principal => ({ kind: 'session', username: 'u', role: 'operator', ...(scopes ? { scopes } : {}) });

describe('ChannelScope', () => {
  it('a region prefix covers the channels under it in the region view, including those placed by their own ID', () => {
    const { catalog } = fixture();
    const county = catalog.scopeOf(user({ regions: ['440305'] }));
    expect([C1, C2, C3, C4, IPC].filter((c) => county.coversChannel(c))).toEqual([C1, C2, C4]);
    const other = catalog.scopeOf(user({ regions: ['440306'] }));
    expect([C1, C2, C3, C4, IPC].filter((c) => other.coversChannel(c))).toEqual([C3, IPC]);
    expect(catalog.scopeOf(user({ regions: ['44030501'] })).coversChannel(C1)).toBe(true);
    expect(catalog.scopeOf(user({ regions: ['44030501'] })).coversChannel(C2)).toBe(false);
  });

  it('a group covers its virtual orgs, nested ones too; regions and groups add up; devices follow their channels', () => {
    const { catalog } = fixture();
    const bg1 = catalog.scopeOf(user({ groups: [BG1] }));
    expect([C1, C2, C3, C4, IPC].filter((c) => bg1.coversChannel(c))).toEqual([C1, C2]);
    const vo2 = catalog.scopeOf(user({ groups: [VO2] }));
    expect([C1, C2, C3, C4, IPC].filter((c) => vo2.coversChannel(c))).toEqual([C2]);
    const both = catalog.scopeOf(user({ regions: ['440306'], groups: [VO2] }));
    expect([C1, C2, C3, C4, IPC].filter((c) => both.coversChannel(c))).toEqual([C2, C3, IPC]);
    expect(bg1.coversDevice(P)).toBe(true);
    expect(bg1.coversDevice(IPC)).toBe(false);
    expect(catalog.scopeOf(user()).unrestricted).toBe(true);
    expect(catalog.scopeOf(user({ regions: [], groups: [] })).unrestricted).toBe(true);
  });

  it('alarms: a channel\'s alarm by its channel; a device-level alarm by the device; a platform alarm input is not in scope through one channel', () => {
    const { catalog } = fixture();
    const scope = catalog.scopeOf(user({ groups: [VO2] }));
    expect(alarmInScope(scope, { sourceId: C2, deviceId: P })).toBe(true);
    expect(alarmInScope(scope, { sourceId: C1, deviceId: P })).toBe(false);
    expect(alarmInScope(scope, { sourceId: '44030500001340000001', deviceId: P })).toBe(false);
    const ipcScope = catalog.scopeOf(user({ regions: ['440306'] }));
    expect(alarmInScope(ipcScope, { sourceId: IPC, deviceId: IPC })).toBe(true);
  });
});

describe('ScopedCatalog tree reads', () => {
  it('region view: only nodes with channels in scope, counts over the scope, nodes outside are NotFound', () => {
    const { catalog } = fixture();
    const p = user({ regions: ['440305'] });
    const top = catalog.treeChildren(undefined, undefined, 'region', p);
    expect(top.items.map((n) => [n.id, n.online, n.total])).toEqual([['44', 2, 3]]);
    expect(catalog.treeChildren('4403', undefined, 'region', p).items.map((n) => [n.id, n.total])).toEqual([['440305', 3]]);
    expect(() => catalog.treeChildren('440306', undefined, 'region', p)).toThrow(NotFoundError);
    // The unscoped view of the same node counts everything.
    expect(catalog.treeChildren(undefined, undefined, 'region', user()).items.find((n) => n.id === '44')?.total).toBe(5);
  });

  it('group view and paging: the scoped group and its nested orgs only', () => {
    const { catalog } = fixture();
    const p = user({ groups: [BG1] });
    expect(catalog.treeChildren(undefined, undefined, 'group', p).items.map((n) => [n.id, n.total])).toEqual([[BG1, 2]]);
    const page = catalog.treeChildren(undefined, { offset: 1, limit: 10 }, 'group', p);
    expect(page).toEqual({ total: 1, items: [] });
    expect(() => catalog.treeChildren(BG2, undefined, 'group', p)).toThrow(NotFoundError);
  });

  it('search finds only nodes in scope, with counts over the scope', () => {
    const { catalog } = fixture();
    const p = user({ regions: ['440306'] });
    const hits = catalog.treeSearch('region', '4403', 50, p);
    expect(hits.items.map((n) => n.id).sort()).toEqual(['4403', '440306', C3, IPC].sort());
    expect(hits.items.find((n) => n.id === '4403')?.total).toBe(2);
    expect(catalog.treeSearch('region', '南门', 50, p).total).toBe(0);
  });
});
