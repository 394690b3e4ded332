/**
 * Device recordings (issue 11, playback part 1): GET /api/channels/:id/records asks the device with RecordInfo
 * (GB local time), collects its parts by SN and answers ISO instants. The simulator records around the clock in
 * one-hour files with a daily gap at 03:00–04:00 China time, so the answer has a known shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

type Records = { total: number; complete: boolean; items: Array<{ start: string; end: string; type: string; filePath: string }> };

describe('recordings on the device (RecordInfo)', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let channel: string;

  beforeAll(async () => {
    h = await startHarness({ overrides: { sip: { password: 'rec-pass' } } });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'rec-pass', devices: 1, keepaliveSec: 30, idPrefix: '44030500', firstSerial: 900 });
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    channel = fleet.devices[0]!.channelIds[0]!;
    await h.waitFor(async () => ((await h.api(`/api/channels/${channel}`)).status === 200 ? true : null), 20_000, 'catalog');
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('lists the recordings in the window in ISO time, clipped, with the 03:00 China-time gap', async () => {
    // 01:30–07:00 China time on 5 Dec 2026 = 17:30–23:00 UTC on 4 Dec.
    const r = await h.api<Records>(`/api/channels/${channel}/records?start=2026-12-04T17:30:00Z&end=2026-12-04T23:00:00Z`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.complete).toBe(true);
    expect(r.body.items.map((i) => [i.start, i.end])).toEqual([
      ['2026-12-04T17:30:00.000Z', '2026-12-04T18:00:00.000Z'],
      ['2026-12-04T18:00:00.000Z', '2026-12-04T19:00:00.000Z'],
      ['2026-12-04T20:00:00.000Z', '2026-12-04T21:00:00.000Z'],
      ['2026-12-04T21:00:00.000Z', '2026-12-04T22:00:00.000Z'],
      ['2026-12-04T22:00:00.000Z', '2026-12-04T23:00:00.000Z'],
    ]);
    expect(r.body.total).toBe(5);
    expect(r.body.items[0]!.type).toBe('time');
  });

  it('collects a many-part answer (three days: 69 items in parts of 8)', async () => {
    const r = await h.api<Records>(`/api/channels/${channel}/records?start=2026-12-01T16:00:00Z&end=2026-12-04T16:00:00Z`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ total: 69, complete: true });
    const starts = r.body.items.map((i) => Date.parse(i.start));
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
  });

  it('bad windows are 400 naming the field; an unknown channel is 404', async () => {
    const backwards = await h.api<{ field: string }>(`/api/channels/${channel}/records?start=2026-12-04T18:00:00Z&end=2026-12-04T17:00:00Z`);
    expect(backwards.status).toBe(400);
    expect(backwards.body.field).toBe('querystring.end');
    expect((await h.api(`/api/channels/${channel}/records?start=2026-10-01T00:00:00Z&end=2026-12-01T00:00:00Z`)).status).toBe(400);
    expect((await h.api(`/api/channels/${channel}/records?start=yesterday&end=2026-12-01T00:00:00Z`)).status).toBe(400);
    expect((await h.api('/api/channels/44030500001310099999/records?start=2026-12-04T17:00:00Z&end=2026-12-04T18:00:00Z')).status).toBe(404);
  });
});
