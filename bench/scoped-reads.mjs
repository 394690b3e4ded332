// Scoped catalog reads (users-roles): what a region- or group-scoped user's tree level, tree search, statistics
// and WebSocket filtering cost at 150,000 channels, against the same unscoped read (the baseline) in the same run.
// In-process on the compiled domain classes (TreeIndex, TreeViews, ScopedCatalog): no store, no HTTP, so the
// figures are the scope's own cost. The scoped device/channel lists also page through the store: not measured here.
//
//   npm run build && node bench/scoped-reads.mjs [--channels 150000] [--runs 7]
//
// Plain .mjs: Node 20 cannot run TypeScript, so it imports dist/ like the other in-process benches.
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const CHANNELS = Number(args.channels ?? 150_000);
const RUNS = Number(args.runs ?? 7);
const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'dist');
const load = (p) => import(pathToFileURL(path.join(dist, p)).href);
const { TreeIndex } = await load('domain/catalog/tree-index.js');
const { TreeViews } = await load('domain/catalog/tree-views.js');
const { ScopedCatalog } = await load('domain/auth/scoped-catalog.js');
const { scopedEvent } = await load('api/ws-hub.js');
const { ScopedChannels } = await load('domain/auth/channel-scope.js');

const PLATFORM = '44030000002000000001';
const COUNTIES = 10;
const UNITS = 10;
const GROUPS = 20;
const ORGS_PER_GROUP = 5;
const pad = (n, w) => String(n).padStart(w, '0');
const item = (id, f) => ({
  id, deviceId: PLATFORM, kind: f.kind ?? 'channel', name: f.name, manufacturer: '', model: '', owner: '', civilCode: f.civil ?? '', block: '', address: '',
  parental: 0, parentIds: f.parents ?? [], businessGroupId: f.group ?? '', safetyWay: null, registerWay: null, secrecy: 0, ipAddress: '', port: null,
  reportedStatus: 'online', status: 'online', statusChangedAt: 0, longitude: null, latitude: null, ptzType: null, extra: {}, createdAt: 0, updatedAt: 0,
});

const items = [];
for (let c = 1; c <= COUNTIES; c++) {
  const county = `4403${pad(c, 2)}`;
  items.push(item(county, { kind: 'region', name: `区${c}` }));
  for (let u = 1; u <= UNITS; u++) items.push(item(`${county}${pad(u, 2)}`, { kind: 'region', name: `派出所${c}-${u}` }));
}
const groupIds = [];
const orgIds = [];
for (let g = 1; g <= GROUPS; g++) {
  const bg = `44030000002150${pad(g, 6)}`;
  groupIds.push(bg);
  items.push(item(bg, { kind: 'business-group', name: `业务分组${g}`, parents: [PLATFORM] }));
  for (let o = 1; o <= ORGS_PER_GROUP; o++) {
    const vo = `44030000002160${pad(g * 100 + o, 6)}`;
    orgIds.push([vo, bg]);
    items.push(item(vo, { kind: 'virtual-org', name: `虚拟组织${g}-${o}`, parents: [bg], group: bg }));
  }
}
const channelIds = [];
for (let i = 0; i < CHANNELS; i++) {
  const county = 1 + (i % COUNTIES);
  const unit = 1 + (Math.floor(i / COUNTIES) % UNITS);
  const civil = `4403${pad(county, 2)}${pad(unit, 2)}`;
  const [vo, bg] = orgIds[i % orgIds.length];
  const id = `${civil}00132${pad(i, 7)}`.slice(0, 20);
  channelIds.push(id);
  items.push(item(id, { name: `摄像机${i}`, civil, parents: [vo], group: bg }));
}
const index = new TreeIndex();
const views = new TreeViews(index);
index.upsertDevice(PLATFORM, '市级平台', '44030000', true);
index.replaceCatalog(PLATFORM, items);
const reads = {
  treeChildren: (parent, page, view) => views.children(view, parent, page),
  treeSearch: (view, q, limit) => views.search(view, q, limit),
  stats: () => ({ at: 0, devices: { online: 0, total: 0, rate: 0 }, channels: { online: 0, total: 0, rate: 0 }, regions: [] }),
};
const catalog = new ScopedCatalog(reads, { index, views });
// The same reads with the per-scope counts always expired (a clock that jumps 2 s per call): the recount a
// scoped user pays on the first tree read after a second.
let clock = 0;
const recounting = new ScopedCatalog(reads, { index, views }, () => (clock += 2000));
// Warm the derived views once (they are built lazily on the first read after a catalog change, for everyone).
views.children('region', undefined, {});
views.children('group', undefined, {});

const admin = { kind: 'session', username: 'admin', role: 'admin' };
const countyUser = { kind: 'session', username: 'c', role: 'operator', scopes: { regions: ['440301'] } };
const groupUser = { kind: 'session', username: 'g', role: 'operator', scopes: { groups: [groupIds[0]] } };
const event = { deviceId: PLATFORM, channelIds: channelIds.slice(0, 5000), status: 'offline', at: 0 };

const cases = [
  // Paid once per distinct scope after each catalog change (ScopeCache), then a set lookup per channel.
  ['resolve the scope (after a catalog change)', (p) => (p.scopes ? new ScopedChannels(p.scopes, { index, views }) : null)],
  ['tree top level (region view), counts < 1 s old', (p) => catalog.treeChildren(undefined, { offset: 0, limit: 200 }, 'region', p)],
  ['tree level of county 440301', (p) => catalog.treeChildren('4403', { offset: 0, limit: 200 }, 'region', p)],
  ['tree top level, counts expired (recount)', (p) => recounting.treeChildren(undefined, { offset: 0, limit: 200 }, 'region', p)],
  ['tree search "派出所1-" (region view)', (p) => catalog.treeSearch('region', '派出所1-', 50, p)],
  ['group view top level', (p) => catalog.treeChildren(undefined, { offset: 0, limit: 200 }, 'group', p)],
  ['group view top level, counts expired (recount)', (p) => recounting.treeChildren(undefined, { offset: 0, limit: 200 }, 'group', p)],
  ['stats', (p) => (p.scopes ? catalog.stats(p) : null)],
  ['WS channel-status of 5,000 channels', (p) => scopedEvent(catalog.scopeOf(p), 'channel-status', event)],
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};

console.log(`scoped reads: ${CHANNELS} channels, ${COUNTIES} counties × ${UNITS} units, ${GROUPS} groups × ${ORGS_PER_GROUP} orgs; ${RUNS} runs each; node ${process.version}; ${os.cpus().length} cores; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('| read | unscoped (baseline) ms | county-scoped ms | group-scoped ms |');
// Unscoped "resolve" and "stats" are not this code (no scope to resolve; StatsService caches for 1 s): shown as 0.
console.log('|---|---|---|---|');
for (const [name, fn] of cases) {
  const row = [admin, countyUser, groupUser].map((p) => {
    fn(p);
    return median(Array.from({ length: RUNS }, () => time(() => fn(p)))).toFixed(1);
  });
  console.log(`| ${name} | ${row.join(' | ')} |`);
}
console.log(`load after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
