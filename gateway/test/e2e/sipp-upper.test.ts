/**
 * sipp as the UPPER platform (test-fixtures/sipp/upper-uas-*.xml): a third-party SIP stack challenges the
 * gateway's cascade REGISTER with digest and checks the answer with its own digest code, then answers its
 * keepalives. The gateway shows the platform online (or auth-failed with a wrong password) in GET /api/platforms.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformView } from '../../src/domain/cascade/platform-service.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';
import { runSippProcess, SIPP_SCENARIOS, type SippResult } from '../support/sipp.js';

const UPPER_DOMAIN = '4400000000';
const PASSWORD = 'sipp-upper-pass';
const basePort = 20_000 + Math.floor(Math.random() * 20_000);

/** sipp as a UAS on 127.0.0.1:port, ending after `calls` calls (or 30 s without traffic). */
function sippUas(h: Harness, scenario: string, port: number, calls: number): Promise<SippResult> {
  return runSippProcess([
    '-sf', join(SIPP_SCENARIOS, scenario),
    '-i', '127.0.0.1',
    '-p', String(port),
    '-key', 'realm', UPPER_DOMAIN,
    '-key', 'user', h.config.sip.id,
    '-key', 'password', PASSWORD,
    '-m', String(calls),
    '-timeout', '30s',
    '-timeout_error',
    '-nostdin',
  ]);
}

describe('sipp as the upper platform the gateway cascades to', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });

  afterAll(async () => {
    await h?.stop();
  });

  const platform = async (id: string): Promise<PlatformView> => (await h.api<PlatformView>(`/api/platforms/${id}`)).body;
  const addPlatform = (id: string, port: number, password: string) =>
    h.api('/api/platforms', { body: { id, domain: UPPER_DOMAIN, host: '127.0.0.1', port, transport: 'udp', password, keepaliveSec: 5, share: { all: true } } });

  it('challenges REGISTER with 401, accepts the digest (checked by sipp), then answers keepalives: online, keepalives flow', async () => {
    const id = '44000000002000000011';
    // sipp retransmission timing is on our side: the gateway retransmits its REGISTER until sipp listens.
    const registered = sippUas(h, 'upper-uas-register.xml', basePort, 1);
    expect((await addPlatform(id, basePort, PASSWORD)).status).toBe(201);
    const r = await registered;
    expect(r.successful, r.output.slice(-2000)).toBe(1);
    expect(r.failed).toBe(0);
    await h.waitFor(async () => ((await platform(id)).status === 'online' ? true : null), 10_000, 'online');
    // Keepalives every 5 s, each a MESSAGE answered 200 by the keepalive scenario on the same port.
    const keepalives = await sippUas(h, 'upper-uas-keepalive.xml', basePort, 2);
    expect(keepalives.successful, keepalives.output.slice(-2000)).toBe(2);
    const p = await platform(id);
    expect(p.status).toBe('online');
    expect(p.lastKeepaliveAt).not.toBeNull();
  }, 60_000);

  it('a wrong password gets 403 from sipp: auth-failed, and no REGISTER again within 2 s', async () => {
    const id = '44000000002000000012';
    const refused = sippUas(h, 'upper-uas-register.xml', basePort + 1, 1);
    expect((await addPlatform(id, basePort + 1, 'not-the-password')).status).toBe(201);
    const r = await refused;
    // The call fails at its last step: sipp waited 2 s for another REGISTER, and none came.
    expect(r.failed, r.output.slice(-2000)).toBe(1);
    const p = await h.waitFor(async () => {
      const v = await platform(id);
      return v.status === 'auth-failed' ? v : null;
    }, 10_000, 'auth-failed');
    expect(p.lastError).toMatch(/403/);
  }, 60_000);
});
