/**
 * With a certificate (http.tls) the gateway speaks HTTP/2 and still HTTP/1.1 for WebSocket upgrades. A page
 * loaded over h2 plays with hls.js's own loader (every request multiplexed on the page's connection), not the
 * media WebSocket; the event socket still connects. The certificate is a throw-away self-signed one, trusted
 * by the Node client explicitly and by Chromium through ignoreHTTPSErrors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DeviceFleet } from '../../src/sim/index.js';
import { buildWeb, launchChromium, saveScreenshot, signIn } from '../support/browser.js';
import { TEST_TOKEN, startHarness, type Harness } from '../support/gateway-harness.js';

describe('web: live player over HTTP/2 (http.tls)', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let browser: Browser;
  let certDir: string;
  let cert: Buffer;
  let h2: ClientHttp2Session;

  /** GET over the HTTP/2 session: status, negotiated protocol, body. */
  const get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const stream = h2.request({ ':path': path, authorization: `Bearer ${TEST_TOKEN}` });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
      stream.on('error', reject);
    });

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'se-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(certDir, 'cert.pem'));
    h = await startHarness({
      webRoot: await buildWeb(),
      overrides: {
        http: { tls: { certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') } },
        sip: { password: 'h2-pass' },
        media: { host: '127.0.0.1', ports: '31870-31879' },
      },
    });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'h2-pass', devices: 1, codec: 'h264', personalisedChannels: 0, idPrefix: '44031400', firstSerial: 300 });
    await fleet.prepareMedia({ personalised: false, profiles: ['sub'] });
    await fleet.start();
    await fleet.waitForRegistered(1, 30_000);
    h2 = connect(h.gateway.httpUrl, { ca: cert });
    await h.waitFor(async () => JSON.parse((await get('/api/channels?limit=1')).body).total >= 1, 20_000, 'the camera in the catalog');
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    h2?.close();
    await browser?.close();
    await fleet?.stop({ unregister: false });
    await h?.stop();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('serves HTTP/2 over TLS and still accepts WebSocket upgrades over HTTP/1.1', async () => {
    expect(h.gateway.httpUrl).toMatch(/^https:\/\//);
    expect((await get('/healthz')).status).toBe(200);
    expect(h2.alpnProtocol).toBe('h2');
    const socket = new WebSocket(`${h.gateway.httpUrl.replace(/^https/, 'wss')}/api/media/ws?token=${TEST_TOKEN}`, { ca: cert });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.close();
  });

  it('a page loaded over h2 plays with hls.js\'s own loader, its media multiplexed on HTTP/2', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await context.newPage();
    const mediaProtocols = new Set<string>();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', (e) => {
      if (e.response.url.includes('/media/')) mediaProtocols.add(e.response.protocol ?? '?');
    });
    await signIn(page, h.gateway.httpUrl, 'admin', 'admin-password-1');
    await page.goto(`${h.gateway.httpUrl}/#/diagnostics/players?channels=${fleet.devices[0].channelIds[0]}`);
    const tile = page.locator('[data-testid=live-video]');
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 30_000 }).toBe('playing');
    expect(await page.evaluate<string>(`performance.getEntriesByType('navigation')[0].nextHopProtocol`)).toBe('h2');
    // The media socket was never needed: not opened, nothing fetched through the loader's fallback either.
    expect(await page.evaluate(`({ ...window.__sharpEyesMediaMux })`)).toMatchObject({ socketsOpened: 0, muxRequests: 0, fetchRequests: 0 });
    expect([...mediaProtocols]).toEqual(['h2']);
    // The event socket (an HTTP/1.1 upgrade next to the h2 connection) is live.
    await expect.poll(() => page.locator('[data-testid=socket-state]').getAttribute('data-state')).toBe('open');
    await saveScreenshot(page, 'player-h2');
    await context.close();
  });
});
