/**
 * Mobile positions (domain/positions/position-service.ts) on the embedded store: latest per channel, the track,
 * what is dropped (no coordinates, 0/0, a channel of another device), survival across a restart, retention.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MobilePosition, MobilePositionNotify } from '../../src/codecs/manscdp/messages.js';
import { PositionService, type ChannelPosition } from '../../src/domain/positions/position-service.js';
import { NotFoundError, ValidationError } from '../../src/domain/services.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const NVR = '44030600001180000001';
const CAM1 = '44030600001310000001';
const CAM2 = '44030600001310000002';
const OTHER_DEVICE = '44030600001180000009';
const OTHERS_CAM = '44030600001310000099';
const owner: Record<string, string> = { [CAM1]: NVR, [CAM2]: NVR, [OTHERS_CAM]: OTHER_DEVICE };

function position(deviceId: string, longitude: number | null, latitude: number | null): MobilePosition {
  return { deviceId, time: '2026-12-06T11:00:00', longitude, latitude, speed: 40, direction: 90, altitude: 10, height: null };
}
function notify(positions: MobilePosition[]): MobilePositionNotify {
  return { deviceId: NVR, sn: 1, form: 'list', positions };
}

describe('PositionService', () => {
  let dir: string;
  let store: SqliteStore;
  let now: number;
  let counted: string[];
  let pushed: ChannelPosition[];

  const service = (): PositionService =>
    new PositionService(
      {
        records: store.records,
        deviceOfChannel: async (id) => owner[id] ?? null,
        onPosition: (p) => pushed.push(p),
        count: (outcome) => counted.push(outcome),
        logger: pino({ level: 'silent' }),
        now: () => now,
      },
      { retentionDays: 7, flushIntervalMs: 60_000 },
    );

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'positions-'));
    store = new SqliteStore(dir);
    await store.init();
    now = Date.UTC(2026, 11, 6, 3, 0, 0);
    counted = [];
    pushed = [];
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the latest position of each of the device\'s channels and pushes each one', async () => {
    const positions = service();
    expect(await positions.receive(NVR, notify([position(CAM1, 114.05, 22.54), position(CAM2, 114.06, 22.55)]))).toBe(2);
    now += 5_000;
    await positions.receive(NVR, notify([position(CAM1, 114.07, 22.56)]));
    expect(positions.latestOf(CAM1)).toMatchObject({ id: CAM1, deviceId: NVR, longitude: 114.07, latitude: 22.56, speed: 40, direction: 90 });
    expect(positions.latestOf(CAM2)?.longitude).toBe(114.06);
    expect(positions.latestOf(OTHERS_CAM)).toBeNull();
    expect(pushed.map((p) => p.id)).toEqual([CAM1, CAM2, CAM1]);
    expect(counted).toEqual(['accepted', 'accepted', 'accepted']);
    await positions.close();
  });

  it('drops reports without coordinates, 0/0 (no fix yet) and channels of another device, counting each', async () => {
    const positions = service();
    const accepted = await positions.receive(NVR, notify([position(CAM1, null, 22.5), position(CAM2, 0, 0), position(OTHERS_CAM, 114, 22.5)]));
    expect(accepted).toBe(0);
    expect(counted).toEqual(['unusable', 'unusable', 'foreign']);
    expect(positions.latestOf(OTHERS_CAM)).toBeNull();
    expect(pushed).toEqual([]);
    await positions.close();
  });

  it('a single-channel device reports for itself (the 2016 flat form names no channel)', async () => {
    const positions = service();
    const flat: MobilePositionNotify = { deviceId: CAM1, sn: 2, form: 'flat', positions: [position('', 113.9, 22.5)] };
    expect(await positions.receive(CAM1, flat)).toBe(1);
    expect(positions.latestOf(CAM1)).toMatchObject({ deviceId: CAM1, longitude: 113.9 });
    await positions.close();
  });

  it('the track lists where the channel went, oldest first, within the window; latest positions survive a restart', async () => {
    const first = service();
    const t0 = now;
    for (let i = 0; i < 5; i++) {
      await first.receive(NVR, notify([position(CAM1, 114 + i / 100, 22.5)]));
      now += 1_000;
    }
    const track = await first.trackOf(CAM1, t0 + 1_000, t0 + 4_000);
    expect(track.items.map((p) => p.longitude)).toEqual([114.01, 114.02, 114.03]);
    expect(track.items.every((p) => p.id === CAM1)).toBe(true);
    await expect(first.trackOf(CAM1, t0, t0)).rejects.toBeInstanceOf(ValidationError);
    await expect(first.trackOf(OTHERS_CAM, t0, t0 + 1)).rejects.toBeInstanceOf(NotFoundError);
    await first.close();

    const second = service();
    expect(second.latestOf(CAM1)).toBeNull();
    await second.load();
    expect(second.latestOf(CAM1)?.longitude).toBe(114.04);
    expect((await second.trackOf(CAM1, t0, now)).total).toBe(5);
    await second.close();
  });
});
