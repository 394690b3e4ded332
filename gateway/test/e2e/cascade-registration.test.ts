/**
 * Cascade registration (issue 11, first part): this gateway registers with an upper platform — here a second
 * gateway of ours, a real GB28181 registrar on the wire — with digest, keeps alive, reports its link status in
 * GET /api/platforms and over the WebSocket, refuses nothing silently (a wrong password is `auth-failed`, retried
 * slowly, not in a loop), registers again after the upper platform restarts, and unregisters when removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Device } from '../../src/domain/model.js';
import type { PlatformView } from '../../src/domain/cascade/platform-service.js';
import { DeviceFleet } from '../../src/sim/index.js';
import { TEST_TOKEN, startHarness, type Harness } from '../support/gateway-harness.js';
import type { PlatformConfigEntry } from '../../src/config/schema.js';

const UPPER_ID = '44000000002000000001';
const UPPER_DOMAIN = '4400000000';
const UPPER_PASSWORD = 'upper-secret-1';

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels}`) && !l.startsWith('#'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('cascade registration with an upper platform', () => {
  let upper: Harness;
  let lower: Harness;
  let upperPort: number;
  const lowerId = (): string => lower.config.sip.id;

  const startUpper = (port = 0): Promise<Harness> =>
    startHarness({ overrides: { sip: { id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, port, keepaliveIntervalSec: 5, catalogOnRegister: false, registerThrottle: { ratePerSec: 0, burst: 100 } } } });

  beforeAll(async () => {
    upper = await startUpper();
    upperPort = upper.gateway.sipPort;
    lower = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
  }, 60_000);

  afterAll(async () => {
    await lower?.stop();
    await upper?.stop();
  });

  const platformBody = (password: string) => ({
    id: UPPER_ID,
    name: '省平台',
    domain: UPPER_DOMAIN,
    host: '127.0.0.1',
    port: upperPort,
    transport: 'udp',
    password,
    expires: 3600,
    keepaliveSec: 5,
    share: { all: true },
  });
  const platformOf = async (): Promise<PlatformView> => (await lower.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body;
  const upperSees = async (): Promise<Device | null> => {
    const r = await upper.api<Device>(`/api/devices/${lowerId()}`);
    return r.status === 200 ? r.body : null;
  };

  it('validates the payload: field named in a 400; its own ID refused; duplicates 409', async () => {
    const bad = await lower.api<{ field?: string; message: string }>('/api/platforms', { body: { ...platformBody('x'), port: 70000 } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/port/);
    const self = await lower.api<{ message: string }>('/api/platforms', { body: { ...platformBody('x'), id: lower.config.sip.id } });
    expect(self.status).toBe(400);
    expect(self.body.message).toMatch(/own SIP ID/);
    expect((await lower.api('/api/platforms/44000000002000000009')).status).toBe(404);
  });

  it('a wrong password is auth-failed, shown with the reason, and not retried in a loop', async () => {
    const created = await lower.api<PlatformView>('/api/platforms', { body: platformBody('wrong-password') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id: UPPER_ID, passwordSet: true, share: { all: true } });
    expect(JSON.stringify(created.body)).not.toContain('wrong-password');
    expect((await lower.api('/api/platforms', { body: platformBody('again') })).status).toBe(409);
    const failed = await lower.waitFor(async () => ((await platformOf()).status === 'auth-failed' ? platformOf() : null), 15_000, 'auth-failed');
    expect(failed.lastError).toMatch(/403/);
    const before = metric((await upper.api<string>('/metrics')).body, 'se_sip_auth_failures_total');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const after = metric((await upper.api<string>('/metrics')).body, 'se_sip_auth_failures_total');
    expect(after - before, 'no REGISTER retries within 3 s of an auth failure').toBe(0);
    expect(await upperSees()).toBeNull();
  });

  it('with the right password: online at both ends, announced over the WebSocket, keepalives answered', async () => {
    const ws = new WebSocket(`${lower.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(TEST_TOKEN)}`);
    const statuses: string[] = [];
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { type: string; data: { status?: string } };
      if (m.type === 'platform-status' && m.data.status) statuses.push(m.data.status);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      const patched = await lower.api<PlatformView>(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { password: UPPER_PASSWORD } });
      expect(patched.status).toBe(200);
      await lower.waitFor(async () => ((await platformOf()).status === 'online' ? true : null), 15_000, 'online');
      await lower.waitFor(() => (statuses.includes('online') ? true : null), 5_000, 'platform-status online over the WebSocket');
      const seen = await lower.waitFor(upperSees, 10_000, 'the upper platform lists us');
      expect(seen.status).toBe('online');
      // A keepalive reaches the upper platform and is answered (lastKeepaliveAt set at our end).
      const alive = await lower.waitFor(async () => ((await platformOf()).lastKeepaliveAt !== null ? platformOf() : null), 15_000, 'keepalive answered');
      expect(alive.status).toBe('online');
      const list = await lower.api<{ total: number; items: PlatformView[] }>('/api/platforms');
      expect(list.body.items.map((p) => [p.id, p.status])).toEqual([[UPPER_ID, 'online']]);
    } finally {
      ws.close();
    }
  }, 60_000);

  it('registers again after the upper platform restarts without our registration', async () => {
    const registeredAt = (await platformOf()).registeredAt;
    await upper.stop();
    upper = await startUpper(upperPort);
    // The new upper platform does not know us: our next keepalive is refused, and we register again.
    await lower.waitFor(async () => {
      const p = await platformOf();
      return p.status === 'online' && p.registeredAt !== registeredAt ? true : null;
    }, 30_000, 're-registered');
    expect((await lower.waitFor(upperSees, 10_000, 'the restarted upper platform lists us')).status).toBe('online');
  }, 60_000);

  it('DELETE unregisters from the upper platform', async () => {
    expect((await lower.api(`/api/platforms/${UPPER_ID}`, { method: 'DELETE' })).status).toBe(204);
    await lower.waitFor(async () => ((await upperSees())?.status === 'offline' ? true : null), 10_000, 'offline at the upper platform');
    expect((await lower.api<{ total: number }>('/api/platforms')).body.total).toBe(0);
  });
});

describe('cascade: the upper platform queries what is shared with it', () => {
  let upper: Harness;
  let lower: Harness;
  let countyA: DeviceFleet;
  let countyB: DeviceFleet;
  let a: string[];
  let b: string[];

  beforeAll(async () => {
    upper = await startHarness({ overrides: { sip: { id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, catalogOnRegister: true } } });
    lower = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    countyA = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 500 });
    countyB = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030700', firstSerial: 600 });
    await Promise.all([countyA.start(), countyB.start()]);
    await Promise.all([countyA.waitForRegistered(2, 30_000), countyB.waitForRegistered(2, 30_000)]);
    a = countyA.devices.flatMap((d) => d.channelIds);
    b = countyB.devices.flatMap((d) => d.channelIds);
    await lower.waitFor(async () => (await lower.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= a.length + b.length ? true : null, 30_000, 'lower catalogs');
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([countyA?.stop({ unregister: false }), countyB?.stop({ unregister: false })]);
    await lower?.stop();
    await upper?.stop();
  });

  const upperChannelsOfLower = async (): Promise<string[]> => {
    const r = await upper.api<{ total: number; items: Array<{ id: string; kind: string }> }>(`/api/devices/${lower.config.sip.id}/channels?limit=1000`);
    return r.status === 200 ? r.body.items.filter((c) => c.kind === 'channel').map((c) => c.id).sort() : [];
  };

  it('shares one county: the upper platform\'s catalog of us holds exactly its channels', async () => {
    const created = await lower.api<PlatformView>('/api/platforms', {
      body: { id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD, keepaliveSec: 30, share: { regions: ['440306'] } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The upper platform queries our catalog when we register (catalogOnRegister), as WVP and provincial platforms do.
    const seen = await upper.waitFor(async () => {
      const ids = await upperChannelsOfLower();
      return ids.length >= a.length ? ids : null;
    }, 30_000, 'the upper platform stored our catalog');
    expect(seen).toEqual([...a].sort());
    for (const id of b) expect(seen).not.toContain(id);
    // DeviceInfo of us, live, through the upper platform's own API.
    const info = await upper.api<{ manufacturer: string; channels: number | null }>(`/api/devices/${lower.config.sip.id}/info`);
    expect(info.status, JSON.stringify(info.body)).toBe(200);
    expect(info.body.manufacturer).toBe('sharp-eyes');
  }, 60_000);

  it('share everything, re-query from above: every channel; the items carry their online state', async () => {
    expect((await lower.api(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { share: { all: true } } })).status).toBe(200);
    expect((await upper.api(`/api/devices/${lower.config.sip.id}/catalog`, { method: 'POST' })).status).toBeLessThan(300);
    const seen = await upper.waitFor(async () => {
      const ids = await upperChannelsOfLower();
      return ids.length >= a.length + b.length ? ids : null;
    }, 30_000, 'the whole catalog');
    expect(seen).toEqual([...a, ...b].sort());
    const online = await upper.api<{ total: number }>(`/api/devices/${lower.config.sip.id}/channels?status=online&limit=1`);
    expect(online.body.total).toBeGreaterThanOrEqual(a.length + b.length);
  }, 60_000);
});

describe('cascade: the upward catalog carries the region and group tree above the shared channels', () => {
  let upper: Harness;
  let lower: Harness;
  let county: DeviceFleet;
  let platformFleet: DeviceFleet;

  beforeAll(async () => {
    upper = await startHarness({ overrides: { sip: { id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, catalogOnRegister: true } } });
    lower = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    // IPCs in 440306, and a lower platform in 440308 whose catalog has business groups and virtual organisations.
    county = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 700 });
    platformFleet = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', platformChannels: 12, keepaliveSec: 30, idPrefix: '44030800', firstSerial: 300 });
    await Promise.all([county.start(), platformFleet.start()]);
    await Promise.all([county.waitForRegistered(2, 30_000), platformFleet.waitForRegistered(1, 30_000)]);
    await lower.waitFor(async () => ((await lower.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 14 ? true : null), 30_000, 'lower catalogs');
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([county?.stop({ unregister: false }), platformFleet?.stop({ unregister: false })]);
    await lower?.stop();
    await upper?.stop();
  });

  it('regions named from the dataset, groups under our ID, virtual organisations under their parents, channels under them', async () => {
    const created = await lower.api('/api/platforms', {
      body: { id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD, keepaliveSec: 30, share: { all: true } },
    });
    expect(created.status).toBe(201);
    type Item = { id: string; kind: string; name: string; parentIds: string[]; civilCode: string; businessGroupId: string };
    const items = await upper.waitFor(async () => {
      const r = await upper.api<{ items: Item[] }>(`/api/devices/${lower.config.sip.id}/channels?limit=1000`);
      return r.status === 200 && r.body.items.filter((i) => i.kind === 'channel').length >= 14 ? r.body.items : null;
    }, 30_000, 'the upper platform stored our catalog');
    const byId = new Map(items.map((i) => [i.id, i]));
    // Regions: top down, named, each under its parent level.
    for (const [code, parent] of [['44', null], ['4403', '44'], ['440306', '4403'], ['440308', '4403']] as const) {
      const region = byId.get(code);
      expect(region, `region ${code}`).toBeDefined();
      expect(region!.kind).toBe('region');
      expect(region!.parentIds).toEqual(parent ? [parent] : []);
    }
    expect(byId.get('44')!.name).toBe('广东省');
    expect(byId.get('440306')!.name).toBe('宝安区');
    // Groups: every business group under our ID; every virtual organisation under a group or organisation we sent.
    const groups = items.filter((i) => i.kind === 'business-group');
    const orgs = items.filter((i) => i.kind === 'virtual-org');
    expect(groups.length).toBeGreaterThan(0);
    expect(orgs.length).toBeGreaterThan(0);
    for (const g of groups) expect(g.parentIds).toEqual([lower.config.sip.id]);
    for (const o of orgs) {
      expect(byId.has(o.parentIds[0]!), `parent of ${o.id}`).toBe(true);
      expect(groups.map((g) => g.id)).toContain(o.businessGroupId);
    }
    // The lower platform's channels hang from its virtual organisations; the IPCs from our ID; every channel carries its county.
    const channels = items.filter((i) => i.kind === 'channel');
    const platformChannels = channels.filter((c) => c.id.startsWith('440308'));
    expect(platformChannels).toHaveLength(12);
    const orgIds = orgs.map((o) => o.id);
    for (const c of platformChannels) {
      // The simulated platform leaves a few channels outside every organisation: those hang from our ID.
      expect([...orgIds, lower.config.sip.id]).toContain(c.parentIds[0]);
      expect(c.civilCode.startsWith('440308')).toBe(true);
      if (orgIds.includes(c.parentIds[0]!)) expect(c.businessGroupId).toBe(byId.get(c.parentIds[0]!)!.businessGroupId);
    }
    expect(platformChannels.filter((c) => orgIds.includes(c.parentIds[0]!)).length).toBeGreaterThanOrEqual(10);
    for (const c of channels.filter((x) => x.id.startsWith('440306'))) {
      expect(c.parentIds).toEqual([lower.config.sip.id]);
      expect(c.civilCode).toBe('440306');
    }
  }, 60_000);
});

describe('cascade: catalog subscription (the upper platform subscribes; changes arrive as NOTIFY)', () => {
  let upper: Harness;
  let lower: Harness;
  let first: DeviceFleet;
  let later: DeviceFleet | undefined;
  type Item = { id: string; kind: string; status: string };
  const upperItems = async (): Promise<Item[]> => {
    const r = await upper.api<{ items: Item[] }>(`/api/devices/${lower.config.sip.id}/channels?limit=1000`);
    return r.status === 200 ? r.body.items : [];
  };

  beforeAll(async () => {
    // The upper platform reads our catalog when we register and then subscribes to it (catalogSubscription: platforms).
    upper = await startHarness({ overrides: { sip: { id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, catalogOnRegister: true } } });
    lower = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    first = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 900 });
    await first.start();
    await first.waitForRegistered(2, 30_000);
    await lower.waitFor(async () => ((await lower.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 2 ? true : null), 30_000, 'lower catalogs');
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([first?.stop({ unregister: false }), later?.stop({ unregister: false })]);
    await lower?.stop();
    await upper?.stop();
  });

  it('subscribes after reading our catalog; new channels arrive as ADD, without a new registration or query', async () => {
    const created = await lower.api('/api/platforms', {
      body: { id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD, keepaliveSec: 30, share: { all: true } },
    });
    expect(created.status).toBe(201);
    const subscribed = await lower.waitFor(async () => {
      const p = (await lower.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body;
      return p.subscriptions.includes('Catalog') ? p : null;
    }, 30_000, 'the upper platform subscribed to our catalog');
    expect((await upperItems()).filter((i) => i.kind === 'channel')).toHaveLength(2);

    later = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030700', firstSerial: 950 });
    await later.start();
    await later.waitForRegistered(2, 30_000);
    const added = later.devices.flatMap((d) => d.channelIds);
    const seen = await upper.waitFor(async () => {
      const ids = (await upperItems()).map((i) => i.id);
      return added.every((id) => ids.includes(id)) ? ids : null;
    }, 15_000, 'the new channels at the upper platform');
    // The new county's region node came with them.
    expect(seen).toContain('440307');
    // Still the same registration: the channels came by NOTIFY, not by a catalog query on a new REGISTER.
    expect((await lower.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.registeredAt).toBe(subscribed.registeredAt);
  }, 90_000);

  it('a device of ours going offline is OFF at the upper platform', async () => {
    const channelIds = later!.devices.flatMap((d) => d.channelIds);
    await upper.waitFor(async () => ((await upperItems()).filter((i) => channelIds.includes(i.id) && i.status === 'online').length === channelIds.length ? true : null), 15_000, 'ON at the upper platform first');
    await later!.stop({ unregister: true });
    await upper.waitFor(async () => ((await upperItems()).filter((i) => channelIds.includes(i.id) && i.status === 'offline').length === channelIds.length ? true : null), 15_000, 'OFF at the upper platform');
    // The devices that stayed are still ON there.
    const staying = first.devices.flatMap((d) => d.channelIds);
    expect((await upperItems()).filter((i) => staying.includes(i.id)).map((i) => i.status)).toEqual(staying.map(() => 'online'));
  }, 60_000);

  it('narrowing the share withdraws the channels no longer shared (DEL)', async () => {
    expect((await lower.api(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { share: { regions: ['440306'] } } })).status).toBe(200);
    const withdrawn = later!.devices.flatMap((d) => d.channelIds);
    const items = await upper.waitFor(async () => {
      const now = await upperItems();
      return now.some((i) => withdrawn.includes(i.id)) ? null : now;
    }, 15_000, 'the withdrawn channels gone at the upper platform');
    expect(items.filter((i) => i.kind === 'channel').map((i) => i.id).sort()).toEqual(first.devices.flatMap((d) => d.channelIds).sort());
  }, 60_000);
});

describe('cascade: live video upward (an upper platform INVITEs a shared channel)', () => {
  let upper: Harness;
  let lower: Harness;
  let fleet: DeviceFleet;
  let shared: string;
  let unshared: string;

  beforeAll(async () => {
    upper = await startHarness({ overrides: { sip: { id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, catalogOnRegister: true } } });
    lower = await startHarness({ overrides: { sip: { password: 'lower-devices' } } });
    fleet = new DeviceFleet({ server: lower.sipTarget, password: 'lower-devices', devices: 2, keepaliveSec: 30, idPrefix: '44030600', firstSerial: 800 });
    await fleet.start();
    await fleet.waitForRegistered(2, 30_000);
    [shared, unshared] = fleet.devices.map((d) => d.channelIds[0]!) as [string, string];
    await lower.waitFor(async () => ((await lower.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 2 ? true : null), 30_000, 'lower catalogs');
    const created = await lower.api('/api/platforms', {
      body: { id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD, keepaliveSec: 30, share: { channels: [shared] } },
    });
    expect(created.status).toBe(201);
    await upper.waitFor(async () => {
      const r = await upper.api<{ total: number }>(`/api/devices/${lower.config.sip.id}/channels?limit=10`);
      return r.status === 200 && r.body.total >= 1 ? true : null;
    }, 30_000, 'the upper platform knows the shared channel');
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await lower?.stop();
    await upper?.stop();
  });

  type View = { streamId: string; state: string; codec: string | null; width: number | null; viewers: number; frames: number; channelId: string; step?: string; message?: string };

  it('plays at the upper platform: INVITE → our answer with a real port and the SSRC → RTP/PS decoded into video there', async () => {
    const play = await upper.api<View>(`/api/channels/${shared}/play`, { body: {} });
    expect(play.status, JSON.stringify(play.body)).toBe(200);
    expect(play.body).toMatchObject({ state: 'playing', codec: 'h264', width: 1280 });
    const frames = await upper.waitFor(async () => {
      const s = await upper.api<View>(`/api/streams/${play.body.streamId}`);
      return s.body.frames > 25 ? s.body.frames : null;
    }, 20_000, 'frames keep arriving at the upper platform');
    expect(frames).toBeGreaterThan(25);
    // At our end: one stream of the channel, with the upward leg as its viewer.
    const ours = await lower.api<{ items: View[] }>('/api/streams');
    expect(ours.body.items.filter((s) => s.channelId === shared)).toHaveLength(1);
    expect((await upper.api(`/api/streams/${play.body.streamId}`, { method: 'DELETE' })).status).toBeLessThan(300);
  }, 60_000);

  it.each(['udp', 'tcp-active'] as const)('upward over %s as the upper platform offers it (a=setup honoured)', async (transport) => {
    const play = await upper.api<View>(`/api/channels/${shared}/play`, { body: { transport } });
    expect(play.status, JSON.stringify(play.body)).toBe(200);
    expect(play.body).toMatchObject({ state: 'playing', codec: 'h264', transport });
    await upper.waitFor(async () => ((await upper.api<View>(`/api/streams/${play.body.streamId}`)).body.frames > 25 ? true : null), 20_000, `frames over ${transport}`);
    expect((await upper.api(`/api/streams/${play.body.streamId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    // The BYE ends our leg: the channel's stream at our end loses its only viewer.
    await lower.waitFor(async () => {
      const ours = await lower.api<{ items: Array<View & { viewers: number }> }>('/api/streams');
      const s = ours.body.items.find((x) => x.channelId === shared);
      return !s || s.viewers === 0 ? true : null;
    }, 15_000, 'our leg ended');
  }, 60_000);

  it('PTZ from the upper platform reaches the camera; for an unshared channel it does not', async () => {
    const before = fleet.ptzLog(shared).length;
    const steer = await upper.api<{ sent: string[] }>(`/api/channels/${shared}/ptz`, { body: { action: 'move', direction: 'left', speed: 0x40, durationMs: 300 } });
    expect(steer.status, JSON.stringify(steer.body)).toBe(200);
    const log = await lower.waitFor(() => (fleet.ptzLog(shared).length >= before + 2 ? fleet.ptzLog(shared) : null), 10_000, 'the move and its stop at the camera');
    expect(log.slice(before).map((e) => e.hex)).toEqual([...steer.body.sent, 'A50F0100000000B5']);
    const other = fleet.ptzLog(unshared).length;
    await upper.api(`/api/channels/${unshared}/ptz`, { body: { action: 'move', direction: 'left', speed: 0x40, durationMs: 300 } });
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(fleet.ptzLog(unshared).length).toBe(other);
  }, 30_000);

  it('alarms of a shared channel are forwarded to the upper platform; others are not', async () => {
    const [sharedDevice, otherDevice] = fleet.devices.map((d) => d.id) as [string, string];
    expect(await fleet.raiseAlarm(otherDevice, { description: 'not for the province' })).toBe(200);
    expect(await fleet.raiseAlarm(sharedDevice, { description: 'for the province' })).toBe(200);
    type Alarm = { sourceId: string; deviceId: string; description: string };
    const alarms = await upper.waitFor(async () => {
      const r = await upper.api<{ items: Alarm[] }>(`/api/alarms?deviceId=${lower.config.sip.id}`);
      return r.body.items.some((a) => a.description === 'for the province') ? r.body.items : null;
    }, 10_000, 'the forwarded alarm at the upper platform');
    expect(alarms.find((a) => a.description === 'for the province')).toMatchObject({ sourceId: shared, deviceId: lower.config.sip.id });
    expect(alarms.some((a) => a.description === 'not for the province')).toBe(false);
  }, 30_000);

  it('RecordInfo from the upper platform is relayed to the camera and answered with its recordings', async () => {
    const window = 'start=2026-12-04T17:30:00Z&end=2026-12-04T23:00:00Z';
    const ours = await lower.api<{ total: number; items: Array<{ start: string; end: string }> }>(`/api/channels/${shared}/records?${window}`);
    expect(ours.body.total).toBe(5);
    const above = await upper.api<{ total: number; complete: boolean; items: Array<{ start: string; end: string }> }>(`/api/channels/${shared}/records?${window}`);
    expect(above.status, JSON.stringify(above.body)).toBe(200);
    expect(above.body).toMatchObject({ total: 5, complete: true });
    expect(above.body.items).toEqual(ours.body.items.map((i) => expect.objectContaining({ start: i.start, end: i.end })));
  }, 30_000);

  it('a channel that is not shared is 404 to the upper platform, and nothing is opened for it', async () => {
    // The upper platform never got it in our catalog; INVITE it anyway through its device (our gateway).
    const refused = await upper.api<View>(`/api/channels/${unshared}/play`, { body: {} });
    expect(refused.status).not.toBe(200);
    const ours = await lower.api<{ items: View[] }>('/api/streams');
    expect(ours.body.items.some((s) => s.channelId === unshared)).toBe(false);
  });

  it('BYE from the upper platform ends only its leg: the local wall keeps playing the same stream', async () => {
    const local = await lower.api<View>(`/api/channels/${shared}/play`, { body: {} });
    expect(local.status).toBe(200);
    const upPlay = await upper.api<View>(`/api/channels/${shared}/play`, { body: {} });
    expect(upPlay.status, JSON.stringify(upPlay.body)).toBe(200);
    const upStream = upPlay.body;
    expect((await upper.api(`/api/streams/${upStream.streamId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await lower.api<View>(`/api/streams/${local.body.streamId}`);
    expect(after.status).toBe(200);
    expect(after.body.state).toBe('playing');
    const framesBefore = after.body.frames;
    const moving = await lower.waitFor(async () => {
      const s = await lower.api<View>(`/api/streams/${local.body.streamId}`);
      return s.body.frames > framesBefore + 10 ? true : null;
    }, 10_000, 'the local stream keeps receiving frames');
    expect(moving).toBe(true);
  }, 60_000);
});

describe('cascade: upper platforms from the config file (cascade.platforms)', () => {
  let upper: Harness;
  let lower: Harness | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'se-cascade-config-'));

  const startLower = (platforms: PlatformConfigEntry[]): Promise<Harness> =>
    startHarness({ dataDir, overrides: { sip: { password: 'lower-devices' }, cascade: { platforms } } });

  beforeAll(async () => {
    upper = await startHarness({ overrides: { sip: { id: UPPER_ID, domain: UPPER_DOMAIN, password: UPPER_PASSWORD, keepaliveIntervalSec: 5, catalogOnRegister: false, registerThrottle: { ratePerSec: 0, burst: 100 } } } });
  }, 60_000);

  afterAll(async () => {
    await lower?.stop();
    await upper?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers a configured platform, lists it as source config, and refuses API changes to it', async () => {
    const entry: PlatformConfigEntry = {
      id: UPPER_ID, name: '省平台', domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD,
      keepaliveSec: 5, shareRegions: ['4403'],
    };
    lower = await startLower([entry]);
    const running = lower;
    const online = await running.waitFor(async () => {
      const p = (await running.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body;
      return p.status === 'online' ? p : null;
    }, 15_000, 'configured platform online');
    expect(online).toMatchObject({ source: 'config', name: '省平台', share: { regions: ['4403'] }, passwordSet: true });
    expect((await upper.api<Device>(`/api/devices/${running.config.sip.id}`)).body.status).toBe('online');

    const patch = await running.api<{ message: string }>(`/api/platforms/${UPPER_ID}`, { method: 'PATCH', body: { name: 'x' } });
    expect(patch.status).toBe(409);
    expect(patch.body.message).toMatch(/config file/);
    expect((await running.api(`/api/platforms/${UPPER_ID}`, { method: 'DELETE' })).status).toBe(409);
  }, 60_000);

  it('an entry edited in the file is updated at the next start; one removed from the file is removed', async () => {
    await lower?.stop({ keepData: true });
    lower = await startLower([{
      id: UPPER_ID, name: '省级平台', domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD,
      keepaliveSec: 5, shareAll: true,
    }]);
    const edited = (await lower.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body;
    expect(edited).toMatchObject({ source: 'config', name: '省级平台', share: { all: true } });

    await lower.stop({ keepData: true });
    lower = await startLower([]);
    expect((await lower.api<{ total: number }>('/api/platforms')).body.total).toBe(0);
  }, 60_000);

  it('over TCP: registers on a connection it dials, keeps alive, and the upper platform\'s queries come back over it', async () => {
    await lower?.stop({ keepData: true });
    lower = await startLower([{
      id: UPPER_ID, domain: UPPER_DOMAIN, host: '127.0.0.1', port: upper.gateway.sipPort, password: UPPER_PASSWORD, transport: 'tcp', keepaliveSec: 5, shareAll: true,
    }]);
    const running = lower;
    await running.waitFor(async () => ((await running.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body.status === 'online' ? true : null), 15_000, 'online over tcp');
    const seen = await upper.waitFor(async () => {
      const r = await upper.api<Device>(`/api/devices/${running.config.sip.id}`);
      return r.status === 200 && r.body.status === 'online' ? r.body : null;
    }, 10_000, 'the upper platform lists us');
    expect(seen.transport).toBe('tcp');
    // A query from above travels back over the connection we dialled (no listener of ours is dialled by the upper side).
    const info = await upper.api<{ manufacturer: string }>(`/api/devices/${running.config.sip.id}/info`);
    expect(info.status, JSON.stringify(info.body)).toBe(200);
    expect(info.body.manufacturer).toBe('sharp-eyes');
    const alive = await running.waitFor(async () => {
      const p = (await running.api<PlatformView>(`/api/platforms/${UPPER_ID}`)).body;
      return p.lastKeepaliveAt !== null ? p : null;
    }, 15_000, 'a keepalive answered over tcp');
    expect(alive.status).toBe('online');
  }, 60_000);
});
