/**
 * sipp (Debian package sip-tester) as a third-party SIP peer, driving the scenarios in test-fixtures/sipp/:
 * register with digest, keepalive, wrong password, unregister.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device, Page } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { runSippProcess, SIPP_SCENARIOS, type SippResult } from '../support/sipp.js';

const SIPP_PORT = 20_000 + Math.floor(Math.random() * 20_000);
const DEVICES = Array.from({ length: 20 }, (_, i) => `44030500001329${String(i + 1).padStart(6, '0')}`);

function runSipp(h: Harness, scenario: string, csv: string, calls: number, extra: string[] = []): Promise<SippResult> {
  const args = [
    h.sipTarget,
    '-sf', join(SIPP_SCENARIOS, scenario),
    '-inf', csv,
    '-key', 'gw', h.config.sip.id,
    '-key', 'domain', h.config.sip.domain,
    '-i', '127.0.0.1',
    // A local port of its own (sipp's default 5060 could collide with other tests or a real gateway), the
    // same for every scenario: these are the same 20 devices, and a registered device's MESSAGEs are only
    // accepted from the source it registered on (issue 8 part 3).
    '-p', String(SIPP_PORT),
    '-m', String(calls),
    '-r', '50',
    '-timeout', '30s',
    '-timeout_error',
    '-nostdin',
    ...extra,
  ];
  return runSippProcess(args);
}

describe('sipp scenarios against the gateway', () => {
  let h: Harness;
  let dir: string;
  let goodCsv: string;
  let badCsv: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'se-sipp-'));
    goodCsv = join(dir, 'good.csv');
    badCsv = join(dir, 'bad.csv');
    // sipp takes digest credentials from an injection field holding its own [authentication …] keyword.
    const line = (id: string, pw: string): string => `${id};[authentication username=${id} password=${pw}]`;
    writeFileSync(goodCsv, `SEQUENTIAL\n${DEVICES.map((id) => line(id, 'sipp-pass')).join('\n')}\n`);
    writeFileSync(badCsv, `SEQUENTIAL\n${DEVICES.slice(0, 2).map((id) => line(id, 'not-the-password')).join('\n')}\n`);
    // sipp does not answer the gateway's DeviceInfo/Catalog queries: switch them off for this peer.
    h = await startHarness({ overrides: { sip: { password: 'sipp-pass', catalogOnRegister: false, lockout: { maxFailures: 50, windowSec: 60, durationSec: 60 } } } });
  });

  afterAll(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers 20 devices with digest; the 200 carries the GB Date header', async () => {
    const r = await runSipp(h, 'register.xml', goodCsv, DEVICES.length);
    expect(r.failed, r.output.slice(-2000)).toBe(0);
    expect(r.successful).toBe(DEVICES.length);
    expect(r.code).toBe(0);
    const page = await h.waitFor(async () => {
      const p = await h.api<Page<Device>>('/api/devices?status=online&limit=100');
      return p.body.total === DEVICES.length ? p.body : null;
    }, 10_000, 'all sipp devices online');
    expect(page.items.map((d) => d.id).sort()).toEqual([...DEVICES].sort());
    expect(page.items[0].userAgent).toBe('sipp GB28181 scenario');
  });

  it('keepalives from registered devices get 200', async () => {
    const r = await runSipp(h, 'keepalive.xml', goodCsv, DEVICES.length);
    expect(r.failed, r.output.slice(-2000)).toBe(0);
    expect(r.successful).toBe(DEVICES.length);
    const d = await h.api<Device>(`/api/devices/${DEVICES[0]}`);
    expect(d.body.lastKeepaliveAt).toBeGreaterThan(d.body.registeredAt ?? 0);
  });

  it('a wrong password is challenged and then refused with 403', async () => {
    const r = await runSipp(h, 'wrong-password.xml', badCsv, 2);
    expect(r.failed, r.output.slice(-2000)).toBe(0);
    expect(r.successful).toBe(2);
    const metrics = await h.api<string>('/metrics');
    expect(metrics.body).toMatch(/se_sip_auth_failures_total\{reason="wrong-password"\} [1-9]/);
  });

  it('unregister takes the devices offline with the reason recorded', async () => {
    const r = await runSipp(h, 'unregister.xml', goodCsv, 5);
    expect(r.failed, r.output.slice(-2000)).toBe(0);
    const offline = await h.waitFor(async () => {
      const p = await h.api<Page<Device>>('/api/devices?status=offline');
      return p.body.total === 5 ? p.body : null;
    }, 10_000, 'five devices offline');
    for (const d of offline.items) expect(d.offlineReason).toBe('unregistered');
    expect((await h.api<Page<Device>>('/api/devices?status=online')).body.total).toBe(DEVICES.length - 5);
  });
});
