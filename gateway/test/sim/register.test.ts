/**
 * The simulator as a SIP client against a real registrar (SipTransport + SipEndpoint, digest checked with
 * real MD5): registration over UDP and TCP, wrong passwords, keepalives, re-registration, unregistering.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import { TestRegistrar } from './test-registrar.js';

const PASSWORD = 'sim-secret-1';

let registrar: TestRegistrar | undefined;
let fleet: DeviceFleet | undefined;

afterEach(async () => {
  await fleet?.stop({ unregister: false });
  await registrar?.close();
  fleet = undefined;
  registrar = undefined;
});

describe('DeviceFleet registration', () => {
  it('registers 20 UDP devices with MD5 digest (qop=auth), each on its own port, and unregisters on stop', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 20, nvrEvery: 4, channelsPerNvr: 3, password: PASSWORD });
    const registered: string[] = [];
    fleet.on('registered', (e) => registered.push(e.deviceId));
    await fleet.start();
    await fleet.waitForRegistered(20, 10_000);

    expect(fleet.registeredCount).toBe(20);
    expect(fleet.failures).toBe(0);
    const ids = fleet.devices.map((d) => d.id);
    expect(new Set(registered)).toEqual(new Set(ids));
    // 5 NVRs (type 118) with 3 channels, 15 IPCs (type 132); realistic 20-digit IDs under the prefix.
    expect(fleet.devices.filter((d) => d.kind === 'nvr')).toHaveLength(5);
    for (const d of fleet.devices) {
      expect(d.id).toMatch(/^44030500\d{12}$/);
      expect(d.id.slice(10, 13)).toBe(d.kind === 'nvr' ? '118' : '132');
    }
    // Every device: one 401 challenge, then an authorized REGISTER the registrar accepted with qop=auth.
    for (const id of ids) {
      const mine = registrar.registers.filter((r) => r.deviceId === id);
      expect(mine.map((r) => r.status)).toEqual([401, 200]);
      expect(mine[1]!.qop).toBe('auth');
      expect(mine[1]!.nc).toBe('00000001');
      expect(mine[1]!.expires).toBe(3600);
      expect(mine[1]!.gbVersion).toBe('3.0');
      expect(mine[0]!.callId).toBe(mine[1]!.callId);
      expect(mine[1]!.source.transport).toBe('udp');
    }
    // Fewer than 200 devices: one socket each, so 20 distinct source ports.
    expect(new Set(ids.map((id) => registrar!.bindings.get(id)!.port)).size).toBe(20);

    await fleet.stop();
    const unregisters = registrar.registers.filter((r) => r.expires === 0 && r.status === 200);
    expect(new Set(unregisters.map((r) => r.deviceId))).toEqual(new Set(ids));
    expect(registrar.bindings.size).toBe(0);
  });

  it('registers 5 TCP devices, one connection each', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, transport: 'tcp', devices: 5, password: PASSWORD, firstSerial: 500 });
    await fleet.start();
    await fleet.waitForRegistered(5, 10_000);
    const sources = fleet.devices.map((d) => registrar!.bindings.get(d.id)!);
    expect(sources.every((s) => s.transport === 'tcp')).toBe(true);
    expect(new Set(sources.map((s) => s.connectionId)).size).toBe(5);
    expect(registrar.transport.tcpConnectionCount).toBe(5);
    expect(fleet.devices[0]!.id).toBe('44030500001320000500');
  });

  it('pools UDP devices behind shared sockets above the dedicated-socket threshold', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({
      server: registrar.server,
      devices: 30,
      password: PASSWORD,
      dedicatedSocketsBelow: 10,
      udpDevicesPerSocket: 8,
      ratePerSecond: 200,
      maxInFlight: 4,
    });
    await fleet.start();
    await fleet.waitForRegistered(30, 10_000);
    expect(fleet.stats.sockets).toBe(4);
    const ports = new Set(fleet.devices.map((d) => registrar!.bindings.get(d.id)!.port));
    expect(ports.size).toBe(4);
  });

  it('refuses a wrong password: register-failed with 403, nobody registered', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 3, password: 'not-the-password', retryDelaySec: 0 });
    const failed = new Promise<number>((resolve) => {
      let n = 0;
      fleet!.on('register-failed', (f) => {
        expect(f.status).toBe(403);
        if (++n === 3) resolve(n);
      });
    });
    await fleet.start();
    expect(await failed).toBe(3);
    expect(fleet.registeredCount).toBe(0);
    expect(fleet.failures).toBe(3);
    expect(registrar.bindings.size).toBe(0);
    expect(fleet.stateOf(fleet.devices[0]!.id)).toBe('failed');
  });

  it('mixes wrong passwords in with wrongPasswordEvery', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 6, password: PASSWORD, wrongPasswordEvery: 3, retryDelaySec: 0 });
    const failedIds: string[] = [];
    const twoFailed = new Promise<void>((resolve) =>
      fleet!.on('register-failed', (f) => {
        failedIds.push(f.deviceId);
        if (failedIds.length === 2) resolve();
      }),
    );
    await fleet.start();
    await fleet.waitForRegistered(4, 10_000);
    await twoFailed;
    // Devices 3 and 6 (every third) carry the wrong password.
    expect(failedIds.sort()).toEqual([fleet.devices[2]!.id, fleet.devices[5]!.id].sort());
    expect(fleet.failures).toBe(2);
    expect(registrar.bindings.has(fleet.devices[2]!.id)).toBe(false);
  });

  it('sends keepalives and re-registers when a keepalive is answered 403', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 2, password: PASSWORD, keepaliveSec: 1 });
    await fleet.start();
    await fleet.waitForRegistered(2, 10_000);
    const [a, b] = fleet.devices.map((d) => d.id) as [string, string];
    const keepalive = await registrar.waitForMessage((m) => m.from === a && m.msg.cmdType === 'Keepalive', 4_000);
    expect(keepalive.msg.root).toBe('Notify');
    expect(keepalive.msg.deviceId).toBe(a);
    expect(keepalive.body.toString('latin1')).toContain('<Status>OK</Status>');
    expect(keepalive.body.toString('latin1')).toMatch(/^<\?xml version="1.0" encoding="GB2312"\?>/);

    // The registrar "forgets" b: its next keepalive gets 403, and b registers again.
    const registersBefore = registrar.registers.filter((r) => r.deviceId === b && r.status === 200).length;
    registrar.keepaliveStatus = (id) => (id === b ? 403 : 200);
    const rejected = new Promise<void>((resolve) => fleet!.on('keepalive-rejected', (e) => e.deviceId === b && resolve()));
    await rejected;
    registrar.keepaliveStatus = () => 200;
    await registrar.waitForRegister((r) => r.deviceId === b && r.status === 200 && registrar!.registers.filter((x) => x.deviceId === b && x.status === 200).length > registersBefore, 5_000);
    await fleet.waitForRegistered(2, 5_000);
  });

  it('TCP devices register again when the gateway drops their connection (gateway restart)', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    const port = registrar.transport.port;
    fleet = new DeviceFleet({ server: registrar.server, transport: 'tcp', devices: 2, password: PASSWORD });
    await fleet.start();
    await fleet.waitForRegistered(2, 10_000);
    await registrar.close(); // closes both connections
    registrar = await TestRegistrar.start(PASSWORD, port);
    const restarted = registrar;
    await restarted.waitForRegister(() => restarted.bindings.size === 2, 10_000);
    expect([...restarted.bindings.values()].every((s) => s.transport === 'tcp')).toBe(true);
    await fleet.waitForRegistered(2, 5_000);
  });

  it('raises alarms periodically with alarmEverySec', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 1, password: PASSWORD, alarmEverySec: 1 });
    await fleet.start();
    await fleet.waitForRegistered(1, 10_000);
    const alarm = await registrar.waitForMessage((m) => m.msg.cmdType === 'Alarm', 3_000);
    expect(alarm.msg.root).toBe('Notify');
    expect(alarm.msg.deviceId).toBe(fleet.devices[0]!.id);
  });

  it('stopDevices makes devices go silent without unregistering', async () => {
    registrar = await TestRegistrar.start(PASSWORD);
    fleet = new DeviceFleet({ server: registrar.server, devices: 3, password: PASSWORD, keepaliveSec: 1 });
    await fleet.start();
    await fleet.waitForRegistered(3, 10_000);
    const silentId = fleet.devices[0]!.id;
    fleet.stopDevices([silentId]);
    expect(fleet.registeredCount).toBe(2);
    const since = Date.now();
    // Other devices keep sending keepalives; the silent one sends nothing, not even an unregister.
    const other = fleet.devices[1]!.id;
    await registrar.waitForMessage((m) => m.from === other && m.msg.cmdType === 'Keepalive' && m.at > since + 1_000, 4_000);
    expect(registrar.messages.some((m) => m.from === silentId && m.at > since + 50)).toBe(false);
    expect(registrar.registers.some((r) => r.deviceId === silentId && r.expires === 0)).toBe(false);
  });
});
