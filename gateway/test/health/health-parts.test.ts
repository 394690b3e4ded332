/**
 * The pure parts of the health console: keepalive ring buffers (intervals, jitter, memory), stream grading,
 * the status clock's "since", the CSV export's encoding rules, and region / group membership.
 */
import { describe, expect, it } from 'vitest';
import { KeepaliveHistory, KEEPALIVE_SAMPLES, meanAndDeviation } from '../../src/domain/health/keepalive-history.js';
import { expectationFor, gradeStream, isGoodSample } from '../../src/domain/health/stream-quality.js';
import { StatusClock } from '../../src/domain/health/status-clock.js';
import { channelHealthCsv, csvCell } from '../../src/domain/health/health-csv.js';
import type { ChannelHealth, StreamSample } from '../../src/domain/health/types.js';
import { TreeViewsGrouping } from '../../src/domain/health/grouping.js';
import { TreeViews, UNGROUPED } from '../../src/domain/catalog/tree-views.js';
import { NotFoundError } from '../../src/domain/services.js';
import { TreeIndex } from '../../src/domain/catalog/tree-index.js';
import type { Channel, Device, Page, StatusEvent } from '../../src/domain/model.js';
import pino from 'pino';
import { HealthService } from '../../src/domain/health/health-service.js';
import { GatewayEvents } from '../../src/domain/events.js';
import type { EventQuery, GatewayStore } from '../../src/domain/store.js';
import type { DeviceRegistry } from '../../src/domain/registry/device-registry.js';
import type { RecordCollection, RecordStore } from '../../src/domain/records.js';

describe('KeepaliveHistory', () => {
  it('keeps the last 32 intervals with their arrival times, mean and jitter', () => {
    const history = new KeepaliveHistory();
    const t0 = 1_700_000_000_000;
    history.online('d1', t0);
    let t = t0;
    const intervals: number[] = [];
    for (let i = 0; i < 40; i++) {
      const interval = 60_000 + (i % 2 === 0 ? 500 : -500);
      t += interval;
      intervals.push(interval);
      history.arrived('d1', t);
    }
    const report = history.report('d1', 60);
    expect(report.samples).toHaveLength(KEEPALIVE_SAMPLES);
    expect(report.samples.map((s) => s.intervalMs)).toEqual(intervals.slice(-KEEPALIVE_SAMPLES));
    expect(report.samples.at(-1)?.at).toBe(t);
    expect(report.samples[0].at).toBe(t - intervals.slice(-KEEPALIVE_SAMPLES + 1).reduce((a, b) => a + b, 0));
    expect(report.meanMs).toBe(60_000);
    expect(report.jitterMs).toBe(500);
    expect(report.expectedIntervalSec).toBe(60);
  });

  it('does not count an outage as an interval: offline stops measuring, registering restarts it', () => {
    const history = new KeepaliveHistory();
    history.online('d', 1000);
    history.arrived('d', 2000);
    history.offline('d');
    history.arrived('d', 900_000); // a stray keepalive while offline: no interval
    history.online('d', 1_000_000);
    history.arrived('d', 1_001_000);
    expect(history.report('d', 1).samples.map((s) => s.intervalMs)).toEqual([1000, 1000]);
  });

  it('costs a fixed ~150 bytes per device in typed arrays (50,000 devices ≈ 8 MB)', () => {
    const history = new KeepaliveHistory();
    for (let i = 0; i < 50_000; i++) history.arrived(`dev${i}`, 1000 + i);
    expect(history.devices).toBe(50_000);
    expect(history.bytes / 50_000).toBeLessThan(200);
    expect(history.report('unknown', 60)).toEqual({ expectedIntervalSec: 60, expectedSource: 'config', configuredIntervalSec: 60, samples: [], meanMs: null, jitterMs: null });
  });

  it('mean and standard deviation', () => {
    expect(meanAndDeviation([])).toEqual({ mean: null, deviation: null });
    expect(meanAndDeviation([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ mean: 5, deviation: 2 });
  });
});

describe('stream grading', () => {
  const sample = (over: Partial<StreamSample> = {}): StreamSample => ({
    at: 1000,
    stream: 'main',
    fps: 25,
    bitrateKbps: 2000,
    packetLoss: 0,
    codec: 'h264',
    width: 1280,
    height: 720,
    viewers: 1,
    uptimeSec: 30,
    ...over,
  });
  const configured = expectationFor(null, 25, 1000);

  it('grades against the configured fps until the channel has a good sample, then against that', () => {
    expect(configured).toMatchObject({ fps: 25, source: 'config' });
    expect(gradeStream(sample(), configured, 0).grade).toBe('good');
    expect(gradeStream(sample({ fps: 20 }), configured, 0)).toMatchObject({ grade: 'fair', reasons: [expect.stringMatching(/fps 20/)] });
    expect(gradeStream(sample({ fps: 10 }), configured, 0).grade).toBe('poor');
    const own = expectationFor(sample({ fps: 15 }), 25, 2000);
    expect(own).toMatchObject({ fps: 15, source: 'last-good', width: 1280 });
    expect(gradeStream(sample({ fps: 15 }), own, 0).grade).toBe('good');
    // A last good sample older than a day no longer counts.
    expect(expectationFor(sample({ fps: 15 }), 25, 1000 + 25 * 3600_000).source).toBe('config');
  });

  it('loss, stalls and a smaller picture lower the grade; a warming-up stream is unknown', () => {
    expect(gradeStream(sample({ packetLoss: 0.01 }), configured, 0).grade).toBe('fair');
    expect(gradeStream(sample({ packetLoss: 0.05 }), configured, 0).grade).toBe('poor');
    expect(gradeStream(sample(), configured, 1).grade).toBe('fair');
    expect(gradeStream(sample(), configured, 3).grade).toBe('poor');
    const expected = expectationFor(sample(), 25, 1000);
    expect(gradeStream(sample({ width: 640, height: 360 }), expected, 0).grade).toBe('fair');
    expect(gradeStream(sample({ uptimeSec: 1, fps: 3 }), configured, 0).grade).toBe('unknown');
    expect(gradeStream(null, configured, 0).grade).toBe('unknown');
  });

  it('a good sample must not be a drop against the previous good one', () => {
    expect(isGoodSample(sample({ fps: 15 }), null, 25)).toBe(true);
    expect(isGoodSample(sample({ fps: 5 }), null, 25)).toBe(false);
    expect(isGoodSample(sample({ fps: 20 }), sample({ fps: 25 }), 25)).toBe(false);
    expect(isGoodSample(sample({ fps: 24 }), sample({ fps: 25 }), 25)).toBe(true);
    expect(isGoodSample(sample({ uptimeSec: 1 }), null, 25)).toBe(false);
  });
});

describe('StatusClock', () => {
  it('takes a status’s own start time, else the first time it was seen; healthy again starts at recovery', () => {
    const clock = new StatusClock();
    // Healthy with no history: online since the device came online.
    expect(clock.observe('c', 'healthy', null, 500, 1000)).toEqual({ since: 500, entered: false });
    expect(clock.observe('c', 'degraded', null, 500, 2000)).toEqual({ since: 2000, entered: true });
    expect(clock.observe('c', 'degraded', null, 500, 3000)).toEqual({ since: 2000, entered: false });
    expect(clock.observe('c', 'healthy', null, 500, 4000)).toEqual({ since: 4000, entered: true });
    expect(clock.observe('c', 'healthy', null, 500, 5000).since).toBe(4000);
    // The device went offline and came back after that: its own time is the later, better answer.
    expect(clock.observe('c', 'device-offline', 6000, 6000, 6500).since).toBe(6000);
    expect(clock.observe('c', 'healthy', null, 7000, 8000)).toEqual({ since: 7000, entered: false });
    expect(clock.size).toBe(0);
    expect(clock.observe('c', 'stream-failing', 7500, 7000, 9000).since).toBe(7500);
  });
});

describe('CSV export', () => {
  const row: ChannelHealth = {
    channelId: '44030500001320000001',
    name: '深圳南山,"一号"',
    deviceId: '44030500001180000001',
    deviceName: '=HYPERLINK("x")',
    civilCode: '44030500',
    status: 'device-offline',
    reason: 'device offline: keepalive timeout',
    reasonCode: { code: 'device-offline', params: { deviceId: '44030500001180000001', why: { code: 'offline.keepalive-timeout' } } },
    since: Date.UTC(2026, 0, 1, 0, 0, 0),
    durationSec: 3600,
    lastKeepaliveAt: null,
    lastSeenAt: Date.UTC(2026, 0, 1, 0, 0, 0),
    detectedAt: Date.UTC(2026, 0, 1, 0, 3, 0),
    lastError: 'keepalive-timeout',
    lastErrorCode: { code: 'offline.keepalive-timeout' },
    episodes24h: 2,
  };

  it('is UTF-8 with a BOM, CRLF, quoted where needed, times in Beijing time, IDs kept as text, formulas defused', () => {
    const text = channelHealthCsv([row], { language: 'zh-CN', timeZone: 'Asia/Shanghai' });
    expect(text.startsWith('\uFEFF通道编码,')).toBe(true);
    const lines = text.slice(1).split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines[1]).toBe(
      '\t44030500001320000001,"深圳南山,""一号""",\t44030500001180000001,"\'=HYPERLINK(""x"")",\t44030500,设备离线,设备 44030500001180000001 离线：心跳超时,2026-01-01 08:00:00,3600,,心跳超时,2',
    );
    expect(channelHealthCsv([row], { language: 'en', timeZone: 'UTC' })).toContain('device offline,device offline: keepalive timeout,2026-01-01 00:00:00');
    // A code the gateway has no Chinese words for keeps the English text rather than showing the code.
    expect(channelHealthCsv([{ ...row, reasonCode: { code: 'something-new' } }], { language: 'zh-CN', timeZone: 'UTC' })).toContain(',device offline: keepalive timeout,');
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell(null)).toBe('');
  });
});

/** A complete catalog row for the tree index. */
function catalogItem(deviceId: string, id: string, kind: Channel['kind'], parentIds: string[], civilCode = '44030501'): Channel {
  return {
    id,
    deviceId,
    kind,
    name: `n${id.slice(-3)}`,
    manufacturer: '',
    model: '',
    owner: '',
    civilCode,
    block: '',
    address: '',
    parental: 0,
    parentIds,
    businessGroupId: '',
    safetyWay: null,
    registerWay: null,
    secrecy: 0,
    ipAddress: '',
    port: null,
    reportedStatus: 'online',
    status: 'online',
    statusChangedAt: 0,
    longitude: null,
    latitude: null,
    ptzType: null,
    extra: {},
    createdAt: 0,
    updatedAt: 0,
  };
}

describe('TreeViewsGrouping', () => {
  const PLATFORM = '44030500002000000100';
  const item = (id: string, kind: Channel['kind'], parentIds: string[]): Channel => catalogItem(PLATFORM, id, kind, parentIds);
  const G = '44030500002150000001';
  const V1 = '44030500002160000001';
  const V2 = '44030500002160000002';
  const cam = (n: number): string => `4403050000132000000${n}`;
  const sorted = (ids: readonly string[]): string[] => [...ids].sort();

  function fixture(): { tree: TreeIndex; grouping: TreeViewsGrouping } {
    const tree = new TreeIndex();
    const grouping = new TreeViewsGrouping(new TreeViews(tree));
    tree.upsertDevice(PLATFORM, 'platform', '44030500', true);
    tree.replaceCatalog(PLATFORM, [
      item('440305', 'region', []),
      item(G, 'business-group', [PLATFORM]),
      item(V1, 'virtual-org', [G]),
      item(V2, 'virtual-org', [V1]),
      item(cam(1), 'channel', [V1]),
      item(cam(2), 'channel', [V2]),
      item(cam(3), 'channel', [G]),
      item(cam(4), 'channel', ['440305']),
      // 2022: several parents; counted once per group.
      item(cam(5), 'channel', [V1, V2]),
    ]);
    return { tree, grouping };
  }

  it("puts a channel under every group node above it, once, and under its region's levels, as the wall's trees do", () => {
    const { grouping } = fixture();
    const m = grouping.current();
    expect(sorted(m.nodesAbove('group', cam(1)))).toEqual(sorted([G, V1]));
    expect(sorted(m.nodesAbove('group', cam(2)))).toEqual(sorted([G, V1, V2]));
    expect(m.nodesAbove('group', cam(3))).toEqual([G]);
    expect(m.nodesAbove('group', cam(4))).toEqual([UNGROUPED]);
    expect(sorted(m.nodesAbove('group', cam(5)))).toEqual(sorted([G, V1, V2]));
    expect(sorted(m.nodesAbove('region', cam(4)))).toEqual(['44', '4403', '440305', '44030501']);
    expect(m.nodesAbove('region', '99999999991320000001')).toEqual([]);
    // A filter or rule may name a unit with its unused trailing level ("44030500" is the node "440305").
    expect(m.isUnder('region', cam(1), '44030500')).toBe(true);
    expect(m.isUnder('region', cam(1), '110101')).toBe(false);
    expect(m.isUnder('group', cam(2), V2)).toBe(true);
    expect(m.isUnder('group', cam(3), V1)).toBe(false);
  });

  it('lists the nodes of a level with the names and kinds of the tree, never channels; an unknown parent is NotFound', () => {
    const { grouping } = fixture();
    const m = grouping.current();
    expect(m.nodesUnder('group')).toEqual([
      { id: G, name: 'n001', kind: 'business-group', hasChildren: true },
      { id: UNGROUPED, name: '未分组', kind: 'unassigned', hasChildren: true },
    ]);
    expect(m.nodesUnder('group', G)).toEqual([{ id: V1, name: 'n001', kind: 'virtual-org', hasChildren: true }]);
    expect(m.nodesUnder('region')).toEqual([{ id: '44', name: '广东省', kind: 'region', hasChildren: true }]);
    expect(m.nodesUnder('region', '4403')).toEqual([{ id: '440305', name: '南山区', kind: 'region', hasChildren: true }]); // GB/T 2260 names a county over what a device reported (n305)
    expect(m.nodesUnder('region', '44030501')).toEqual([]);
    expect(() => m.nodesUnder('region', '4499')).toThrow(NotFoundError);
  });

  it('a membership keeps the trees as they were when the pass began; the next one sees the new catalog', () => {
    const { tree, grouping } = fixture();
    const during = grouping.current();
    expect(sorted(during.nodesAbove('group', cam(1)))).toEqual(sorted([G, V1]));
    tree.replaceCatalog(PLATFORM, [item(G, 'business-group', [PLATFORM]), item(cam(1), 'channel', [G])]);
    expect(sorted(during.nodesAbove('group', cam(1)))).toEqual(sorted([G, V1]));
    expect(grouping.current().nodesAbove('group', cam(1))).toEqual([G]);
  });
});

describe('offline episodes read back at start', () => {
  /** Records port in memory: enough for the service's start (flags, rules, alerts, snapshots). */
  const memoryRecords: RecordStore = {
    collection<T extends { id: string }>(): RecordCollection<T> {
      const rows = new Map<string, T>();
      return {
        put: async (r) => void rows.set(r.id, r),
        putMany: async (list) => list.forEach((r) => rows.set(r.id, r)),
        get: async (id) => rows.get(id) ?? null,
        delete: async (id) => rows.delete(id),
        find: async () => ({ total: 0, items: [] }),
        deleteWhere: async () => 0,
      };
    },
  };

  it.each([
    ['a quiet day, read over the whole day', 50],
    ['a storm day, read in 15-minute windows', 30_000],
  ])('%s', async (_what, onlineEvents) => {
    const now = Date.now();
    const flappy = '44030500001320000001';
    const quiet = '44030500001320000002';
    const events: StatusEvent[] = [];
    for (let i = 0; i < onlineEvents; i++) events.push({ subject: 'device', subjectId: `4403050000132${String(i).padStart(7, '0')}`, deviceId: '', status: 'online', reason: 'registered', at: now - 1 - (i % 86_000) * 1000 });
    for (let i = 0; i < 300; i++) events.push({ subject: 'device', subjectId: flappy, deviceId: flappy, status: 'offline', reason: 'keepalive-timeout', at: now - 60_000 - i * 200_000 });
    events.push({ subject: 'device', subjectId: quiet, deviceId: quiet, status: 'offline', reason: 'unregistered', at: now - 25 * 3600_000 });
    let calls = 0;
    const store = {
      records: memoryRecords,
      listStatusEvents: async (q: EventQuery): Promise<Page<StatusEvent>> => {
        calls++;
        const match = events.filter((e) => e.at >= (q.since ?? 0) && e.at <= (q.until ?? Infinity)).sort((a, b) => b.at - a.at);
        return { total: match.length, items: match.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 100)) };
      },
    };
    const tree = new TreeIndex();
    const devices = new Map<string, Device>();
    for (const id of [flappy, quiet]) {
      devices.set(id, { id, name: id, civilCode: '44030500', status: 'online', statusChangedAt: now - 1000, lastKeepaliveAt: now, offlineReason: null } as Device);
      tree.upsertDevice(id, id, '44030500', true);
      // An IPC lists itself as its one channel.
      tree.replaceCatalog(id, [catalogItem(id, id, 'channel', [], '44030500')]);
    }
    const registry = { get: (id: string) => devices.get(id), all: () => devices.values(), isOnline: () => true };
    const health = new HealthService(
      {
        store: store as unknown as GatewayStore,
        registry: registry as unknown as DeviceRegistry,
        tree,
        grouping: new TreeViewsGrouping(new TreeViews(tree)),
        events: new GatewayEvents(),
        logger: pino({ level: 'silent' }),
      },
      {
        keepaliveIntervalSec: 60,
        expectedFps: 25,
        streamFailureWindowMin: 60,
        onlineRateTarget: 0.98,
        intactRateTarget: 0.95,
        evaluateIntervalSec: 0,
        snapshotIntervalMin: 0,
        timeZone: 'Asia/Shanghai',
        webhook: { timeoutMs: 1000, retries: 0, retryBaseMs: 10 },
      },
    );
    await health.start();
    try {
      const rows = (await health.listChannels({ sort: 'episodes24h', order: 'desc' })).items;
      // Every offline transition of the last 24 h, once; the one 25 h ago no longer.
      expect(rows.map((r) => [r.channelId, r.episodes24h])).toEqual([
        [flappy, 300],
        [quiet, 0],
      ]);
      if (onlineEvents > 20_000) expect(calls).toBeGreaterThan(96);
      else expect(calls).toBe(1);
    } finally {
      await health.close();
    }
  });
});
