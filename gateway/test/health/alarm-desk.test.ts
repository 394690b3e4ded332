/**
 * The alarm desk's API: search by time window, alarm method / type, region and acknowledged state, escalation of
 * alarms left unacknowledged, and bulk acknowledge, against a real gateway and store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlarmEvent } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

interface SearchPage {
  total: number;
  scanned: number;
  truncated: boolean;
  escalated: number;
  items: (AlarmEvent & { escalated: boolean })[];
}

const MINUTE = 60_000;

function alarm(deviceId: string, method: number, type: number, minutesAgo: number, description: string): AlarmEvent {
  return {
    id: randomUUID(),
    sourceId: `${deviceId.slice(0, 10)}1340000001`,
    deviceId,
    priority: 1,
    method,
    type,
    description,
    alarmTime: '2026-01-01T08:00:00',
    receivedAt: Date.now() - minutesAgo * MINUTE,
    longitude: null,
    latitude: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    note: null,
    raw: {},
  };
}

describe('alarm desk API', () => {
  let h: Harness;
  const NANSHAN = '44030500001320000001';
  const FUTIAN = '44030400001320000002';
  const alarms = [
    alarm(NANSHAN, 5, 2, 90, '移动侦测'),
    alarm(NANSHAN, 2, 1, 30, '防拆'),
    alarm(FUTIAN, 5, 2, 5, '移动侦测'),
    alarm(FUTIAN, 6, 1, 1, '视频丢失'),
  ];

  beforeAll(async () => {
    h = await startHarness({});
    await h.gateway.store.appendAlarms(alarms);
  });
  afterAll(async () => {
    await h?.stop();
  });

  const search = async (query: string): Promise<SearchPage> => {
    const r = await h.api<SearchPage>(`/api/alarms/search${query}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };

  it('filters by method, type, region and time window, newest first', async () => {
    expect((await search('')).items.map((a) => a.description)).toEqual(['视频丢失', '移动侦测', '防拆', '移动侦测']);
    expect((await search('?method=5')).items.map((a) => a.deviceId)).toEqual([FUTIAN, NANSHAN]);
    expect((await search('?method=5,6&type=1')).items.map((a) => a.description)).toEqual(['视频丢失']);
    expect((await search('?region=440305')).total).toBe(2);
    expect((await search('?region=44030400')).items.map((a) => a.description)).toEqual(['视频丢失', '移动侦测']);
    const since = Date.now() - 60 * MINUTE;
    const until = Date.now() - 3 * MINUTE;
    expect((await search(`?since=${since}&until=${until}`)).items.map((a) => a.description)).toEqual(['移动侦测', '防拆']);
    expect((await h.api('/api/alarms/search?method=9')).status).toBe(400);
  });

  it('marks unacknowledged alarms older than escalateAfterMin as escalated', async () => {
    const page = await search('?escalateAfterMin=20');
    expect(page.escalated).toBe(2);
    expect(page.items.filter((a) => a.escalated).map((a) => a.description)).toEqual(['防拆', '移动侦测']);
    expect((await search('')).items.every((a) => !a.escalated)).toBe(true);
  });

  it('acknowledges several at once; acknowledged ones are no longer escalated, and the filter finds them', async () => {
    const targets = alarms.filter((a) => a.deviceId === NANSHAN).map((a) => a.id!);
    const r = await h.api<{ acknowledged: AlarmEvent[]; notFound: string[] }>('/api/alarms/ack', { body: { ids: [...targets, 'no-such-alarm'], note: '已派人处理' } });
    expect(r.status).toBe(200);
    expect(r.body.acknowledged.map((a) => a.id).sort()).toEqual([...targets].sort());
    expect(r.body.acknowledged.every((a) => a.note === '已派人处理' && a.acknowledgedBy === 'api-token' && a.acknowledgedAt !== null)).toBe(true);
    expect(r.body.notFound).toEqual(['no-such-alarm']);
    expect((await search('?acknowledged=false')).items.map((a) => a.deviceId)).toEqual([FUTIAN, FUTIAN]);
    expect((await search('?acknowledged=true')).total).toBe(2);
    expect((await search('?escalateAfterMin=20')).escalated).toBe(0);
    expect((await h.api('/api/alarms/ack', { body: { ids: [] } })).status).toBe(400);
  });
});
