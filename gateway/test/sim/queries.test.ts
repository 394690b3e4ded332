/**
 * The simulator as a SIP server: the registrar queries registered devices (Catalog, DeviceInfo,
 * DeviceStatus), sends PTZ controls, and receives alarms — all over real loopback sockets.
 */
import { isUtf8 } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { encodePtz } from '../../src/codecs/gb/ptz.js';
import {
  classifyCatalogItem,
  encodePtzControl,
  encodeQuery,
  readAlarmNotify,
  readCatalogResponse,
  readDeviceInfo,
  readDeviceStatus,
  type CatalogItem,
} from '../../src/codecs/manscdp/messages.js';
import { TestRegistrar, type MessageRecord } from './test-registrar.js';

const PASSWORD = 'sim-secret-2';

let registrar: TestRegistrar | undefined;
let fleet: DeviceFleet | undefined;

afterEach(async () => {
  await fleet?.stop({ unregister: false });
  await registrar?.close();
  fleet = undefined;
  registrar = undefined;
});

async function startFleet(options: Omit<ConstructorParameters<typeof DeviceFleet>[0], 'server' | 'password'>): Promise<DeviceFleet> {
  registrar = await TestRegistrar.start(PASSWORD);
  fleet = new DeviceFleet({ server: registrar.server, password: PASSWORD, ...options });
  await fleet.start();
  await fleet.waitForRegistered(fleet.devices.length, 10_000);
  return fleet;
}

/** Every Catalog Response part with this SN, once SumNum items arrived. */
async function collectCatalog(sn: number, timeoutMs = 10_000): Promise<{ parts: MessageRecord[]; items: CatalogItem[]; sumNums: number[] }> {
  const r = registrar!;
  const parts = (): MessageRecord[] => r.messages.filter((m) => m.msg.cmdType === 'Catalog' && m.msg.sn === sn);
  const count = (): number => parts().reduce((n, m) => n + readCatalogResponse(m.msg).items.length, 0);
  const done = (): boolean => {
    const first = parts()[0];
    return first !== undefined && count() >= (readCatalogResponse(first.msg).sumNum ?? Infinity);
  };
  if (!done()) await r.waitForMessage(() => done(), timeoutMs);
  const all = parts();
  return {
    parts: all,
    items: all.flatMap((m) => readCatalogResponse(m.msg).items),
    sumNums: all.map((m) => readCatalogResponse(m.msg).sumNum ?? -1),
  };
}

describe('DeviceFleet answering the gateway', () => {
  it('answers a Catalog query to an NVR with 8 channels in serial parts with one SN and intact Chinese names', async () => {
    // 16 IPCs first so the NVR's channels are cameras 16–23, whose names carry 㙟 and 䶮 (outside GB 2312).
    await startFleet({ devices: 17, nvrEvery: 17, channelsPerNvr: 8 });
    const nvr = fleet!.devices.find((d) => d.kind === 'nvr')!;
    expect(nvr.id.slice(10, 13)).toBe('118');
    registrar!.answerDelayMs = 30; // answer each part late: a device that does not wait would overlap parts
    const queried = new Promise<{ sumNum: number }>((resolve) => fleet!.on('catalog-queried', resolve));
    const sent = new Promise<{ parts: number; complete: boolean }>((resolve) => fleet!.on('catalog-sent', resolve));

    const sn = registrar!.nextSn();
    const res = await registrar!.sendTo(nvr.id, nvr.id, encodeQuery('Catalog', sn, nvr.id));
    expect(res.status).toBe(200);
    expect((await queried).sumNum).toBe(8);
    const { parts, items, sumNums } = await collectCatalog(sn);

    expect(items.map((i) => i.deviceId)).toEqual(nvr.channelIds);
    expect(sumNums.every((n) => n === 8)).toBe(true);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.length).toBeLessThanOrEqual(8);
    for (const part of parts) {
      expect(part.from).toBe(nvr.id);
      expect(part.msg.deviceId).toBe(nvr.id);
      expect(part.wireBytes).toBeLessThanOrEqual(1_400);
      expect(part.body.subarray(0, 60).toString('latin1')).toContain('encoding="GB2312"');
      // Chinese text is sent as GB 18030 bytes, not UTF-8.
      expect(isUtf8(part.body)).toBe(false);
    }
    // Serial (Annex M): never more than one part waiting for its 200 OK.
    expect(registrar!.maxOutstanding).toBe(1);
    const names = items.map((i) => i.name);
    expect(names[0]).toBe('㙟口村路口-017');
    expect(names[1]).toBe('䶮山公园-018');
    expect(names[2]).toBe('医院急诊-019');
    expect(items.every((i) => i.parentIds[0] === nvr.id && i.status === 'ON' && i.manufacturer !== '')).toBe(true);
    expect(await sent).toMatchObject({ parts: parts.length, complete: true });
  });

  it('answers DeviceInfo and DeviceStatus', async () => {
    await startFleet({ devices: 2, nvrEvery: 2, channelsPerNvr: 6 });
    const nvr = fleet!.devices[1]!;
    const infoSn = registrar!.nextSn();
    await registrar!.sendTo(nvr.id, nvr.id, encodeQuery('DeviceInfo', infoSn, nvr.id));
    const info = readDeviceInfo((await registrar!.waitForMessage((m) => m.msg.cmdType === 'DeviceInfo' && m.msg.sn === infoSn)).msg);
    expect(info).toMatchObject({ deviceId: nvr.id, result: 'OK', manufacturer: nvr.manufacturer, channel: 6, deviceName: nvr.name });
    expect(info.model).not.toBe('');
    expect(info.firmware).not.toBe('');

    const statusSn = registrar!.nextSn();
    await registrar!.sendTo(nvr.id, nvr.id, encodeQuery('DeviceStatus', statusSn, nvr.id));
    const status = readDeviceStatus((await registrar!.waitForMessage((m) => m.msg.cmdType === 'DeviceStatus' && m.msg.sn === statusSn)).msg);
    expect(status).toMatchObject({ deviceId: nvr.id, result: 'OK', online: 'ONLINE', status: 'OK' });
    expect(status.deviceTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('decodes a PTZ DeviceControl sent to an NVR channel and remembers it per channel', async () => {
    await startFleet({ devices: 3, nvrEvery: 3, channelsPerNvr: 4 });
    const nvr = fleet!.devices[2]!;
    const channel = nvr.channelIds[2]!;
    const seen = new Promise<unknown>((resolve) => fleet!.on('ptz', resolve));
    const hex = encodePtz({ kind: 'move', pan: 'left', tilt: 'up', zoom: null, panSpeed: 0x40, tiltSpeed: 0x20, zoomSpeed: 0 });
    const res = await registrar!.sendTo(nvr.id, channel, encodePtzControl(channel, registrar!.nextSn(), hex));
    expect(res.status).toBe(200);
    const event = await seen;
    expect(event).toMatchObject({ deviceId: nvr.id, channelId: channel, hex, command: { kind: 'move', pan: 'left', tilt: 'up', panSpeed: 0x40 } });
    await registrar!.sendTo(nvr.id, channel, encodePtzControl(channel, registrar!.nextSn(), 'A50F0100000000B5'));
    const log = fleet!.ptzLog(channel);
    expect(log.map((e) => e.command?.kind)).toEqual(['move', 'stop']);
    expect(fleet!.ptzLog(nvr.channelIds[0]!)).toEqual([]);
    // A broken checksum is logged with its error, not dropped.
    await registrar!.sendTo(nvr.id, channel, encodePtzControl(channel, registrar!.nextSn(), 'A50F0100000000B6'));
    expect(fleet!.ptzLog(channel)[2]).toMatchObject({ command: null, error: expect.stringContaining('checksum') });
    // PTZCmd has no answer MESSAGE (GB 9.3.1).
    expect(registrar!.messages.some((m) => m.msg.cmdType === 'DeviceControl')).toBe(false);
  });

  it('answers a request for a channel that is not behind the socket it arrived on with 404', async () => {
    await startFleet({ devices: 2 });
    const [a, b] = [fleet!.devices[0]!, fleet!.devices[1]!];
    const res = await registrar!.sendTo(a.id, b.id, encodeQuery('DeviceInfo', registrar!.nextSn(), b.id));
    expect(res.status).toBe(404);
  });

  it('answers an unknown query with 200 only', async () => {
    await startFleet({ devices: 1 });
    const ipc = fleet!.devices[0]!;
    const ignored = new Promise<{ cmdType: string }>((resolve) => fleet!.on('message-ignored', resolve));
    const res = await registrar!.sendTo(ipc.id, ipc.id, encodeQuery('HomePositionQuery', registrar!.nextSn(), ipc.id));
    expect(res.status).toBe(200);
    expect((await ignored).cmdType).toBe('HomePositionQuery');
  });

  it('raises an alarm as an Alarm Notify MESSAGE', async () => {
    await startFleet({ devices: 1 });
    const ipc = fleet!.devices[0]!;
    const status = await fleet!.raiseAlarm(ipc.id, { priority: 2, method: 5, type: 6, eventType: 1, description: '区域入侵' });
    expect(status).toBe(200);
    const alarm = readAlarmNotify((await registrar!.waitForMessage((m) => m.msg.cmdType === 'Alarm')).msg);
    expect(alarm).toMatchObject({ deviceId: ipc.id, priority: 2, method: 5, type: 6, eventType: 1, description: '区域入侵' });
    expect(alarm.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('serves a lower-platform tree of 2 000 channels with regions, 215/216 groups and multi-parent items (TCP)', async () => {
    await startFleet({ platformChannels: 2_000, transport: 'tcp' });
    const platform = fleet!.devices[0]!;
    expect(platform.kind).toBe('platform');
    expect(platform.id.slice(10, 13)).toBe('200');
    const sn = registrar!.nextSn();
    await registrar!.sendTo(platform.id, platform.id, encodeQuery('Catalog', sn, platform.id));
    const { parts, items, sumNums } = await collectCatalog(sn, 20_000);

    const total = sumNums[0]!;
    expect(sumNums.every((n) => n === total)).toBe(true);
    expect(items).toHaveLength(total);
    expect(new Set(items.map((i) => i.deviceId)).size).toBe(total);
    // Up to 100 items per TCP message.
    expect(parts.length).toBeGreaterThanOrEqual(Math.ceil(total / 100));
    expect(parts.length).toBeLessThan(total / 10);
    const byKind = new Map<string, CatalogItem[]>();
    for (const item of items) {
      const kind = classifyCatalogItem(item);
      byKind.set(kind, [...(byKind.get(kind) ?? []), item]);
    }
    const regions = byKind.get('region')!.map((i) => i.deviceId);
    expect(regions).toContain('4403');
    expect(regions).toContain('440305');
    expect(regions.filter((r) => r.length === 8).length).toBeGreaterThanOrEqual(2);
    const groups = byKind.get('business-group')!;
    const orgs = byKind.get('virtual-org')!;
    expect(groups.length).toBeGreaterThanOrEqual(2);
    expect(groups.every((g) => g.parentIds[0] === platform.id)).toBe(true);
    const groupIds = new Set(groups.map((g) => g.deviceId));
    const orgIds = new Set(orgs.map((o) => o.deviceId));
    expect(orgs.every((o) => groupIds.has(o.businessGroupId))).toBe(true);
    // Nested virtual orgs: some have another virtual org as parent.
    expect(orgs.some((o) => orgIds.has(o.parentIds[0]!))).toBe(true);
    const channels = byKind.get('channel')!;
    expect(channels).toHaveLength(2_000);
    const multiParent = channels.filter((c) => c.parentIds.length === 2);
    expect(multiParent.length).toBeGreaterThan(100);
    expect(multiParent.every((c) => c.parentIds[0] === platform.id && orgIds.has(c.parentIds[1]!))).toBe(true);
    expect(channels.every((c) => regions.includes(c.civilCode) && c.civilCode.length === 8)).toBe(true);
    expect(new Set(channels.map((c) => c.deviceId.slice(10, 13)))).toEqual(new Set(['131', '132']));
  });

  it('keeps platform catalog parts over UDP within the budget (8 KB default; here the 1 300-byte MTU budget)', async () => {
    await startFleet({ platformChannels: 60, udpPlatformMessageBytes: 1_300 });
    const platform = fleet!.devices[0]!;
    const sn = registrar!.nextSn();
    await registrar!.sendTo(platform.id, platform.id, encodeQuery('Catalog', sn, platform.id));
    const { parts, items, sumNums } = await collectCatalog(sn);
    expect(items).toHaveLength(sumNums[0]!);
    expect(Math.max(...parts.map((p) => p.wireBytes))).toBeLessThanOrEqual(1_400);
    // Small region/group items are packed several to a message.
    expect(Math.max(...parts.map((p) => readCatalogResponse(p.msg).items.length))).toBeGreaterThan(2);
  });

  it('packs a platform catalog over UDP into parts of up to ~8 KB by default', async () => {
    await startFleet({ platformChannels: 300 });
    const platform = fleet!.devices[0]!;
    const sn = registrar!.nextSn();
    await registrar!.sendTo(platform.id, platform.id, encodeQuery('Catalog', sn, platform.id));
    const { parts, items, sumNums } = await collectCatalog(sn);
    expect(items).toHaveLength(sumNums[0]!);
    const sizes = parts.map((p) => p.wireBytes);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8_000);
    expect(Math.max(...sizes)).toBeGreaterThan(4_000);
    expect(parts.length).toBeLessThan(items.length / 8);
  });
});
