/**
 * REGISTER flood from one source (issue 8, "under load"): one UDP source sends REGISTERs at 10× the rate at
 * which 100 normal devices register, all through their registration and keepalives. The flood is throttled
 * (503 with Retry-After once, then dropped, counted in se_sip_throttled_total) and every normal device
 * registers at the first attempt and has its keepalives answered. Timing figures live in
 * bench/register-flood.mjs, not here.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Device, Page } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const NORMAL_DEVICES = 100;
/** The fleet starts this many registrations per second (2 REGISTERs each: challenge and answer). */
const NORMAL_REGISTRATIONS_PER_SEC = 50;
const FLOOD_REGISTERS_PER_SEC = 10 * 2 * NORMAL_REGISTRATIONS_PER_SEC;

function metricValue(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    if (labels && !line.includes(labels)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

class Flood {
  readonly socket: Socket = createSocket('udp4');
  sent = 0;
  readonly answers = new Map<number, number>();
  retryAfter: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly gatewayPort: number) {
    this.socket.on('message', (m) => {
      const text = m.toString('latin1');
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
      this.answers.set(status, (this.answers.get(status) ?? 0) + 1);
      if (status === 503) this.retryAfter = /\r\nRetry-After: *(\d+)/i.exec(text)?.[1] ?? '';
    });
  }

  async start(perSecond: number): Promise<void> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    const port = this.socket.address().port;
    // 10 ms ticks; a fresh device ID and Call-ID per REGISTER, like a scanner or a broken NVR in a loop.
    const perTick = Math.max(1, Math.round(perSecond / 100));
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) {
        const n = ++this.sent;
        const id = `440305000013207${String(n % 100_000).padStart(5, '0')}`;
        const text =
          `REGISTER sip:44030500002000000001@4403050000 SIP/2.0\r\n` +
          `Via: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bKflood${n}\r\n` +
          `From: <sip:${id}@4403050000>;tag=f${n}\r\nTo: <sip:${id}@4403050000>\r\n` +
          `Call-ID: flood-${n}@127.0.0.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:${id}@127.0.0.1:${port}>\r\n` +
          `Expires: 3600\r\nContent-Length: 0\r\n\r\n`;
        this.socket.send(text, this.gatewayPort, '127.0.0.1');
      }
    }, 10);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.socket.close();
  }
}

describe('REGISTER flood from one source', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let flood: Flood;

  beforeAll(async () => {
    h = await startHarness({
      overrides: { sip: { password: 'flood-pass', catalogOnRegister: false, keepaliveIntervalSec: 2, registerThrottle: { ratePerSec: 20, burst: 100 } } },
    });
    flood = new Flood(h.gateway.sipPort);
  });

  afterAll(async () => {
    flood?.stop();
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  it('throttles the flood; 100 normal devices all register at the first attempt and keep alive', async () => {
    await flood.start(FLOOD_REGISTERS_PER_SEC);
    // The flood is under way before the normal devices start.
    await h.waitFor(() => flood.answers.get(503), 20_000, 'the first 503 to the flood');

    const failures: Array<{ deviceId: string; status: number | null }> = [];
    const rejectedKeepalives: string[] = [];
    fleet = new DeviceFleet({
      server: h.sipTarget,
      password: 'flood-pass',
      devices: NORMAL_DEVICES,
      keepaliveSec: 2,
      ratePerSecond: NORMAL_REGISTRATIONS_PER_SEC,
      retryDelaySec: 60,
      idPrefix: '44030600',
    });
    fleet.on('register-failed', (f) => failures.push({ deviceId: f.deviceId, status: f.status }));
    fleet.on('keepalive-rejected', (k) => rejectedKeepalives.push(k.deviceId));
    await fleet.start();
    await fleet.waitForRegistered(NORMAL_DEVICES, 60_000);
    // Every device has had a keepalive answered after it registered (the flood still running).
    await h.waitFor(async () => {
      const page = await h.api<Page<Device>>(`/api/devices?status=online&limit=${NORMAL_DEVICES + 10}`);
      const kept = page.body.items.filter((d) => d.registeredAt !== null && (d.lastKeepaliveAt ?? 0) > d.registeredAt);
      return kept.length === NORMAL_DEVICES ? kept : null;
    }, 60_000, 'a keepalive from every normal device');
    flood.stop();

    expect(failures).toEqual([]);
    expect(rejectedKeepalives).toEqual([]);
    expect(fleet.stats.everRegistered).toBe(NORMAL_DEVICES);

    // The flood got its budget (burst + rate × time, answered 401: unknown devices are challenged) and a
    // 503 with Retry-After; the rest was dropped before any digest work.
    expect(flood.retryAfter).toMatch(/^[1-9]\d*$/);
    const challenged = flood.answers.get(401) ?? 0;
    expect(challenged).toBeLessThan(flood.sent / 2);
    const metrics = (await h.api<string>('/metrics')).body;
    const throttled = metricValue(metrics, 'se_sip_throttled_total');
    expect(metricValue(metrics, 'se_sip_throttled_total', 'outcome="503"')).toBeGreaterThanOrEqual(1);
    expect(throttled).toBeGreaterThan(flood.sent / 2);
    // No flood REGISTER created a device.
    const all = await h.api<Page<Device>>('/api/devices?limit=1');
    expect(all.body.total).toBe(NORMAL_DEVICES);
  });
});
