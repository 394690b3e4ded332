/**
 * The GB28181 driver without sockets: a real DeviceRegistry in memory (its write-behind queue replaced by a
 * recorder), profiles parsed by the real profile parser, and a signalling engine that answers from a table.
 */
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDeviceProfile, loadDeviceProfiles, type DeviceProfile } from '../../../../src/domain/device-profiles.js';
import { DeviceRegistry } from '../../../../src/domain/registry/device-registry.js';
import { GatewayEvents } from '../../../../src/domain/events.js';
import type { GatewayStore } from '../../../../src/domain/store.js';
import type { WriteBehind } from '../../../../src/domain/write-behind.js';
import type { GatewayConfig, DeviceConfigEntry } from '../../../../src/config/schema.js';
import { GbProfiles } from '../../../../src/domain/devices/drivers/gb-profiles.js';
import { GbDriver, type GbSignallingPort } from '../../../../src/domain/devices/drivers/gb-driver.js';
import type { TransportSource } from '../../../../src/transport/sip-transport.js';
import { encodeNotify, type DeviceInfoResponse } from '../../../../src/codecs/manscdp/messages.js';
import type { ManscdpCharset } from '../../../../src/codecs/manscdp/charset.js';
import type { Device } from '../../../../src/domain/model.js';

const REPO_PROFILES = resolve(import.meta.dirname, '../../../../../device-profiles');

/** A profile document with every required key; `over` sets what the test is about. */
function profile(over: Record<string, unknown>): DeviceProfile {
  return parseDeviceProfile(
    {
      priority: 10,
      charset: 'GB2312',
      substreamSdpAttribute: { name: 'streamnumber', main: '0', sub: '1' },
      configCommandTarget: 'device',
      allowZeroSsrc: false,
      defaultMediaTransport: 'udp',
      transcodeH265: false,
      iframeCmdElement: 'IFameCmd',
      catalogItemsPerMessageHint: 1,
      ...over,
    },
    `${String(over['name'])}.yaml`,
  );
}

// Each profile differs from the others in every field a test reads, so a wrong pick shows.
const PROFILES: DeviceProfile[] = [
  profile({ name: 'generic', priority: 0, match: {}, natRebinding: 'off' }),
  profile({
    name: 'acme',
    match: { userAgent: '^ACME' },
    charset: 'UTF-8',
    substreamSdpAttribute: { name: 'streamprofile', main: 'main', sub: 'sub' },
    allowZeroSsrc: true,
    defaultMediaTransport: 'tcp-active',
    transcodeH265: true,
    natRebinding: 'port',
  }),
  profile({
    name: 'vendorx',
    match: { manufacturer: 'vendorx' },
    charset: 'GB18030',
    substreamSdpAttribute: { name: 'stream', main: 'm', sub: 's' },
    defaultMediaTransport: 'tcp-passive',
    natRebinding: 'address',
  }),
  // Only by name (an empty match list): the forced-profile case.
  profile({ name: 'pinned', match: [], charset: 'UTF-8', substreamSdpAttribute: { name: 'streamMode', main: 'MAIN', sub: 'SUB' } }),
];

const DEV = '34020000001320000001';
const OTHER = '34020000001320000002';
const CHANNEL = '34020000001310000001';
const SRC: TransportSource = { transport: 'udp', address: '10.0.0.5', port: 5060 };

/** Records what the registry would write behind (the registry itself is the real one, in memory). */
function recordingWriter(): { writer: WriteBehind; devices: Device[] } {
  const devices: Device[] = [];
  const writer = { device: (d: Device) => devices.push({ ...d }), statusEvent: () => undefined, keepalive: () => undefined };
  return { writer: writer as unknown as WriteBehind, devices };
}

/** A signalling engine answering DeviceInfo from a table and recording every request's address and charset. */
class TableSignalling implements GbSignallingPort {
  readonly sent: Array<{ what: string; deviceId: string; destination: TransportSource; charset: ManscdpCharset | undefined }> = [];
  readonly answered: string[] = [];
  constructor(private readonly infos: Record<string, Partial<DeviceInfoResponse>>) {}

  async registerAnswered(deviceId: string): Promise<void> {
    this.answered.push(deviceId);
  }
  async queryDeviceInfo(deviceId: string, destination: TransportSource, charset?: ManscdpCharset): Promise<DeviceInfoResponse> {
    this.sent.push({ what: 'DeviceInfo', deviceId, destination, charset });
    const info = this.infos[deviceId];
    if (!info) throw new Error(`no answer from ${deviceId}`);
    return { deviceId, sn: 1, result: 'OK', deviceName: '', manufacturer: '', model: '', firmware: '', channel: null, raw: {}, ...info };
  }
  async sendPtz(targetId: string, destination: TransportSource, _hex: string, charset?: ManscdpCharset): Promise<void> {
    this.sent.push({ what: 'PTZ', deviceId: targetId, destination, charset });
  }
  queryCatalog(): ReturnType<GbSignallingPort['queryCatalog']> {
    throw new Error('not used here');
  }
  queryDeviceStatus(): ReturnType<GbSignallingPort['queryDeviceStatus']> {
    throw new Error('not used here');
  }
  queryRecordInfo(): ReturnType<GbSignallingPort['queryRecordInfo']> {
    throw new Error('not used here');
  }
  subscribe(): ReturnType<GbSignallingPort['subscribe']> {
    throw new Error('not used here');
  }
}

type SipSlice = Pick<GatewayConfig['sip'], 'devices' | 'natRebinding' | 'password' | 'unknownDevices'>;

const registries: DeviceRegistry[] = [];
afterEach(() => {
  for (const r of registries.splice(0)) r.close();
});

function build(
  sipOver: Partial<SipSlice> = {},
  options: { profiles?: DeviceProfile[]; infos?: Record<string, Partial<DeviceInfoResponse>>; channels?: Record<string, string> } = {},
) {
  let now = 1_700_000_000_000;
  const clock = (): number => now;
  const logLines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const sip: SipSlice = { devices: [], natRebinding: 'profile', password: 'secret', unknownDevices: 'accept', ...sipOver };
  const { writer, devices: written } = recordingWriter();
  const registry = new DeviceRegistry({} as GatewayStore, writer, new GatewayEvents(), { keepaliveIntervalSec: 60, keepaliveMissCount: 3, now: clock }, logger);
  registries.push(registry);
  const profiles = new GbProfiles(options.profiles ?? PROFILES, sip, logger);
  const channelRows = options.channels ?? {};
  const driver = new GbDriver({
    registry,
    profiles,
    sip,
    channels: { getChannel: async (id) => (channelRows[id] ? { deviceId: channelRows[id] } : null) },
    logger,
    now: clock,
  });
  const signalling = new TableSignalling(options.infos ?? {});
  driver.connect(signalling);
  const register = (deviceId: string, userAgent: string, source: TransportSource = SRC, expires = 3600): void =>
    driver.registered({ deviceId, source, expires, contact: `<sip:${deviceId}@${source.address}:${source.port}>`, userAgent, gbVersion: '3.0' });
  return { driver, registry, profiles, signalling, register, written, logLines, advance: (ms: number) => (now += ms) };
}

const warnings = (lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> => lines.filter((l) => l['level'] === 40);

describe('GB28181 driver: REGISTER', () => {
  it('creates a new device online, with the profile its User-Agent matches and that profile’s charset', () => {
    const { driver, registry, register, written } = build();
    register(DEV, 'ACME IPC 2.1');
    const device = registry.get(DEV);
    expect(device).toMatchObject({ id: DEV, protocol: 'gb28181', status: 'online', profile: 'acme', charset: 'UTF-8', userAgent: 'ACME IPC 2.1' });
    expect(registry.address(DEV)).toEqual(SRC);
    expect(driver.charsetOf(DEV)).toBe('UTF-8');
    expect(driver.destinationOf(DEV)).toEqual(SRC);
    // What reaches the store carries the profile and charset too (the last write of the device).
    expect(written.at(-1)).toMatchObject({ id: DEV, profile: 'acme', charset: 'UTF-8' });
  });

  it('gives a device no profile claims the catch-all profile, and GB2312', () => {
    const { driver, registry, register } = build();
    register(DEV, 'SIP UAS V2.0');
    expect(registry.get(DEV)).toMatchObject({ profile: 'generic', charset: 'GB2312' });
    expect(driver.charsetOf(DEV)).toBe('GB2312');
  });

  it('picks the vendor profiles that ship in device-profiles/ by User-Agent', () => {
    const { registry, register } = build({}, { profiles: loadDeviceProfiles(REPO_PROFILES) });
    register(DEV, 'DH-IPC-HFW');
    register(OTHER, 'Hikvision NVR');
    expect(registry.get(DEV)?.profile).toBe('dahua');
    expect(registry.get(OTHER)?.profile).toBe('hikvision');
  });

  it('names a new device from its config entry, and never renames a device that has a name', () => {
    const { registry, register } = build({ devices: [{ id: DEV, name: '东门 1' }] });
    register(DEV, 'ACME');
    expect(registry.get(DEV)?.name).toBe('东门 1');
    registry.updateInfo(DEV, { name: 'reported by the device' });
    register(DEV, 'ACME');
    expect(registry.get(DEV)?.name).toBe('reported by the device');
  });

  it('a configured profile wins over matching', () => {
    const { registry, register, logLines } = build({ devices: [{ id: DEV, profile: 'pinned' }] });
    register(DEV, 'ACME IPC');
    expect(registry.get(DEV)).toMatchObject({ profile: 'pinned', charset: 'UTF-8' });
    expect(warnings(logLines)).toEqual([]);
  });

  it('an unknown configured profile falls back to matching, with a warning naming device and profile', () => {
    const { registry, register, logLines } = build({ devices: [{ id: DEV, profile: 'no-such-profile' }] });
    register(DEV, 'ACME IPC');
    expect(registry.get(DEV)).toMatchObject({ profile: 'acme', charset: 'UTF-8' });
    expect(warnings(logLines)).toEqual([
      expect.objectContaining({ deviceId: DEV, profile: 'no-such-profile', msg: 'configured device profile not found; matching instead' }),
    ]);
  });

  it('Expires: 0 takes the device offline as unregistered', () => {
    const { driver, registry, register } = build();
    register(DEV, 'ACME');
    driver.unregistered({ deviceId: DEV });
    expect(registry.get(DEV)).toMatchObject({ status: 'offline', offlineReason: 'unregistered' });
  });

  it('keepalives are accepted from registered devices only', () => {
    const { driver, register, advance } = build();
    expect(driver.keepalive(DEV, SRC)).toBe(false);
    register(DEV, 'ACME', SRC, 60);
    expect(driver.keepalive(DEV, SRC)).toBe(true);
    advance(61_000);
    expect(driver.keepalive(DEV, SRC)).toBe(false);
  });
});

describe('GB28181 driver: credentials', () => {
  const devices: DeviceConfigEntry[] = [
    { id: DEV, password: 'own' },
    { id: OTHER, noAuth: true },
  ];
  it('a configured device has its own password (else sip.password) and its noAuth flag', () => {
    const { driver } = build({ devices });
    expect(driver.credentialsFor(DEV)).toEqual({ password: 'own', noAuth: false });
    expect(driver.credentialsFor(OTHER)).toEqual({ password: 'secret', noAuth: true });
  });

  it('an unknown device gets sip.password, or nothing when unknown devices are rejected', () => {
    expect(build({ devices }).driver.credentialsFor('34020000001320000099')).toEqual({ password: 'secret', noAuth: false });
    expect(build({ devices, unknownDevices: 'reject' }).driver.credentialsFor('34020000001320000099')).toBeNull();
    expect(build({ devices, unknownDevices: 'reject' }).driver.credentialsFor(DEV)).toEqual({ password: 'own', noAuth: false });
  });
});

describe('GB28181 driver: DeviceInfo', () => {
  it('re-matches the profile on manufacturer and model, asks at the registered source in the old charset', async () => {
    const { driver, registry, register, signalling } = build({}, { infos: { [DEV]: { deviceName: 'Gate', manufacturer: 'VendorX', model: 'X1', firmware: '1.2', channel: 4 } } });
    register(DEV, 'SIP UAS V2.0');
    expect(registry.get(DEV)?.profile).toBe('generic');
    const info = await driver.queryDeviceInfo(DEV);
    expect(info).toEqual({ name: 'Gate', manufacturer: 'VendorX', model: 'X1', firmware: '1.2', channels: 4 });
    expect(registry.get(DEV)).toMatchObject({ profile: 'vendorx', charset: 'GB18030' });
    expect(driver.charsetOf(DEV)).toBe('GB18030');
    // The query waited for the REGISTER answer and went where the device registered, in its charset then.
    expect(signalling.answered).toEqual([DEV]);
    expect(signalling.sent).toEqual([{ what: 'DeviceInfo', deviceId: DEV, destination: SRC, charset: 'GB2312' }]);
  });

  it('keeps the User-Agent in the match: a UA profile stays when the manufacturer names no other', async () => {
    const { driver, registry, register } = build({}, { infos: { [DEV]: { manufacturer: 'Unknown Co' } } });
    register(DEV, 'ACME IPC');
    await driver.queryDeviceInfo(DEV);
    expect(registry.get(DEV)).toMatchObject({ profile: 'acme', charset: 'UTF-8' });
  });

  it('a configured profile stays configured whatever DeviceInfo says', async () => {
    const { driver, registry, register } = build({ devices: [{ id: DEV, profile: 'pinned' }] }, { infos: { [DEV]: { manufacturer: 'VendorX' } } });
    register(DEV, 'SIP UAS');
    await driver.queryDeviceInfo(DEV);
    expect(registry.get(DEV)?.profile).toBe('pinned');
  });

  it('a device with no known address is a NotFound, not a request to nowhere', async () => {
    const { driver, signalling } = build({}, { infos: { [DEV]: { manufacturer: 'VendorX' } } });
    await expect(driver.deviceInfo(DEV)).rejects.toThrow(`device ${DEV} has no known address`);
    expect(signalling.sent).toEqual([]);
  });

  it('says so when no signalling engine is connected', async () => {
    const { registry, profiles } = build();
    const bare = new GbDriver({ registry, profiles, sip: { password: '', unknownDevices: 'accept' }, channels: { getChannel: async () => null }, logger: pino({ level: 'silent' }) });
    await expect(bare.queryDeviceInfo(DEV)).rejects.toThrow('no signalling engine connected');
  });
});

describe('GB28181 driver: source judgement and NAT rebinding', () => {
  const portMoved: TransportSource = { ...SRC, port: 6000 };
  const addressMoved: TransportSource = { ...SRC, address: '10.0.0.9' };

  it('accepts the registered source and refuses another; an unknown or unregistered device is unregistered', () => {
    const { driver, register } = build();
    expect(driver.checkSource(DEV, SRC)).toBe('unregistered');
    register(DEV, 'SIP UAS'); // generic: natRebinding off
    expect(driver.checkSource(DEV, SRC)).toBe('ok');
    expect(driver.checkSource(DEV, portMoved)).toBe('source-mismatch');
    expect(driver.checkSource(DEV, addressMoved)).toBe('source-mismatch');
    expect(driver.checkSource(DEV, { ...SRC, transport: 'tcp', connectionId: 'c1' })).toBe('transport-mismatch');
    driver.unregistered({ deviceId: DEV });
    expect(driver.checkSource(DEV, SRC)).toBe('unregistered');
  });

  it('an expired registration is not trusted, even from its source', () => {
    const { driver, register, advance } = build();
    register(DEV, 'SIP UAS', SRC, 60);
    advance(59_000);
    expect(driver.checkSource(DEV, SRC)).toBe('ok');
    advance(1_000);
    expect(driver.checkSource(DEV, SRC)).toBe('unregistered');
  });

  it('a TCP device is bound to its connection', () => {
    const { driver, register } = build();
    const tcp: TransportSource = { transport: 'tcp', address: '10.0.0.5', port: 40000, connectionId: 'c1' };
    register(DEV, 'ACME', tcp); // acme allows port rebinding, which TCP ignores
    expect(driver.checkSource(DEV, tcp)).toBe('ok');
    expect(driver.checkSource(DEV, { ...tcp, connectionId: 'c2' })).toBe('source-mismatch');
  });

  it('with sip.natRebinding "profile", the profile decides (acme: port; vendorx: address)', () => {
    const { driver, profiles, register } = build();
    register(DEV, 'ACME');
    expect(profiles.natRebindingOf(DEV, 'acme')).toBe('port');
    expect(driver.checkSource(DEV, portMoved)).toBe('ok');
    expect(driver.checkSource(DEV, addressMoved)).toBe('source-mismatch');
    expect(profiles.natRebindingOf(DEV, 'vendorx')).toBe('address');
    expect(profiles.natRebindingOf(DEV, 'removed-profile')).toBe('off');
  });

  it('sip.natRebinding overrides the profile', () => {
    const off = build({ natRebinding: 'off' });
    off.register(DEV, 'ACME');
    expect(off.driver.checkSource(DEV, portMoved)).toBe('source-mismatch');
    const address = build({ natRebinding: 'address' });
    address.register(DEV, 'SIP UAS');
    expect(address.driver.checkSource(DEV, addressMoved)).toBe('ok');
  });

  it("the device's config entry overrides sip.natRebinding and the profile", () => {
    const { driver, profiles, register } = build({ natRebinding: 'off', devices: [{ id: DEV, natRebinding: 'address' }, { id: OTHER, natRebinding: 'off' }] });
    register(DEV, 'SIP UAS');
    register(OTHER, 'ACME', { ...SRC, address: '10.0.0.6' });
    expect(driver.checkSource(DEV, addressMoved)).toBe('ok');
    expect(profiles.natRebindingOf(OTHER, 'acme')).toBe('off');
    expect(driver.checkSource(OTHER, { ...SRC, address: '10.0.0.6', port: 6000 })).toBe('source-mismatch');
  });
});

describe('GB28181 driver: channels and streams', () => {
  it('resolves a catalog channel to its device and a device ID to itself; anything else to nothing', async () => {
    const { driver, register } = build({}, { channels: { [CHANNEL]: DEV } });
    register(DEV, 'ACME');
    expect(await driver.deviceOfChannel(CHANNEL)).toBe(DEV);
    expect(await driver.deviceOfChannel(DEV)).toBe(DEV);
    expect(await driver.deviceOfChannel(OTHER)).toBeNull();
    expect(await driver.ptzTarget(CHANNEL)).toEqual({ channelId: CHANNEL, deviceId: DEV, deviceOnline: true });
    expect(await driver.ptzTarget(OTHER)).toBeNull();
  });

  it("builds the stream-open options from the device's profile", async () => {
    const { driver, register } = build({}, { channels: { [CHANNEL]: DEV } });
    register(DEV, 'ACME');
    expect(await driver.streamTarget(CHANNEL)).toEqual({
      channelId: CHANNEL,
      deviceId: DEV,
      deviceOnline: true,
      destination: SRC,
      defaultTransport: 'tcp-active',
      substream: { attribute: 'streamprofile', main: 'main', sub: 'sub' },
      allowZeroSsrc: true,
      transcodeH265: true,
    });
  });

  it('a generic device gets the generic options; an offline device is still a target, marked offline', async () => {
    const { driver, register } = build({}, { channels: { [CHANNEL]: DEV } });
    register(DEV, 'SIP UAS');
    driver.unregistered({ deviceId: DEV });
    expect(await driver.streamTarget(CHANNEL)).toMatchObject({
      deviceOnline: false,
      defaultTransport: 'udp',
      substream: { attribute: 'streamnumber', main: '0', sub: '1' },
      allowZeroSsrc: false,
      transcodeH265: false,
    });
  });

  it('a device whose profile is no longer loaded is matched again from what it reported', async () => {
    const { driver, registry, register } = build();
    register(DEV, 'SIP UAS');
    registry.updateInfo(DEV, { profile: 'deleted-since', manufacturer: 'VendorX' });
    expect(await driver.streamTarget(DEV)).toMatchObject({ defaultTransport: 'tcp-passive', substream: { attribute: 'stream', main: 'm', sub: 's' } });
  });

  it('a channel whose device is unknown is no target', async () => {
    const { driver } = build({}, { channels: { [CHANNEL]: DEV } });
    expect(await driver.streamTarget(CHANNEL)).toBeNull();
    expect(await driver.streamTarget(OTHER)).toBeNull();
  });

  it('sends PTZ to the device of the channel, at its address, in its charset', async () => {
    const { driver, register, signalling } = build({}, { channels: { [CHANNEL]: DEV } });
    register(DEV, 'ACME');
    await driver.sendPtz(CHANNEL, DEV, 'A50F0108000000B5');
    expect(signalling.sent).toEqual([{ what: 'PTZ', deviceId: CHANNEL, destination: SRC, charset: 'UTF-8' }]);
  });
});

describe('GB28181 driver: alarms', () => {
  it('maps an Alarm NOTIFY to the alarm pipeline: reporting device, and the alarm’s own DeviceID as source', () => {
    const { driver } = build();
    const alarm = driver.alarmOf({
      deviceId: DEV,
      alarm: {
        deviceId: CHANNEL, sn: 7, priority: 1, method: 5, type: 2, eventType: 1, description: '区域入侵',
        time: '2026-12-06T08:00:00', longitude: 114.05, latitude: 22.54, raw: { AlarmPriority: '1' },
      },
    });
    expect(alarm).toEqual({
      deviceId: DEV, sourceId: CHANNEL, priority: 1, method: 5, type: 2, description: '区域入侵',
      alarmTime: '2026-12-06T08:00:00', longitude: 114.05, latitude: 22.54, raw: { AlarmPriority: '1' },
    });
  });
});

describe('GB28181 driver: in-dialog MESSAGEs', () => {
  const notify = (cmdType: string, fields: Record<string, string>): Buffer => encodeNotify(cmdType, 9, CHANNEL, fields);

  it('MediaStatus 121 ends the stream (end-of-file); another NotifyType is logged and ignored', () => {
    const { driver, logLines } = build();
    expect(driver.dialogMessage('call-1', notify('MediaStatus', { NotifyType: '121' }))).toBe('end-of-file');
    expect(logLines).toEqual([]);
    expect(driver.dialogMessage('call-1', notify('MediaStatus', { NotifyType: '122' }))).toBe('ignored');
    expect(logLines).toEqual([expect.objectContaining({ callId: 'call-1', notifyType: 122, msg: 'MediaStatus ignored (only 121 end-of-file is defined)' })]);
  });

  it('another CmdType is ignored with its name logged; a body that is not MANSCDP is unreadable, with a warning', () => {
    const { driver, logLines } = build();
    expect(driver.dialogMessage('call-2', notify('Keepalive', { Status: 'OK' }))).toBe('ignored');
    expect(driver.dialogMessage('call-2', Buffer.from('<html>not MANSCDP'))).toBe('unreadable');
    expect(logLines.map((l) => [l['level'], l['msg'], l['cmdType'] ?? null])).toEqual([
      [30, 'in-dialog MESSAGE ignored', 'Keepalive'],
      [40, 'unreadable in-dialog MESSAGE ignored', null],
    ]);
  });
});
