/**
 * POST /api/devices/import against real peers: ONVIF cameras of our simulator (each on its own port), GStreamer's
 * RTSP server, an RTMP publishing point. A CSV with good and bad rows: the good ones are listed and online, the bad
 * ones are reported by line and field; progress arrives over the WebSocket; a re-import adds nothing; a changed
 * name updates; malformed files, empty bodies, wrong content types and oversized bodies get clear refusals.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Device, Page } from '../../src/domain/model.js';
import type { ImportProgress, ImportResult } from '../../src/domain/devices/device-import.js';
import { OnvifFleet } from '../../src/sim/onvif/onvif-fleet.js';
import { startGstRtspServer, type GstRtspServer } from '../support/gst-rtsp.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

interface ErrorBody {
  message: string;
  field?: string;
}

describe('POST /api/devices/import', () => {
  let h: Harness;
  let gst: GstRtspServer;
  let fleet: OnvifFleet;
  const dataDir = mkdtempSync(join(tmpdir(), 'se-import-'));

  beforeAll(async () => {
    [h, gst] = await Promise.all([
      startHarness({ dataDir, overrides: { sip: { id: '44030500002000000001' }, devices: { pollIntervalSec: 5 } } }),
      startGstRtspServer(),
    ]);
    fleet = new OnvifFleet({ cameras: 3, discoveryInterface: null, password: 'cam-pass-1' });
    await fleet.start();
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([h?.stop(), gst?.stop(), fleet?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = async <T>(path: string, body: string, contentType: string | null): Promise<{ status: number; body: T }> => {
    const headers: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}` };
    if (contentType) headers['content-type'] = contentType;
    const res = await fetch(`${h.gateway.httpUrl}${path}`, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const importCsv = (csv: string, importId?: string) => post<ImportResult & ErrorBody>(`/api/devices/import${importId ? `?importId=${importId}` : ''}`, csv, 'text/csv');
  const allDevices = async () => (await h.api<Page<Device>>('/api/devices?limit=100')).body.items.filter((d) => d.protocol !== 'gb28181');

  const cameraRows = () => fleet.cameras.map((c) => `onvif,${c.host},${c.port},admin,cam-pass-1,,,,`);
  const header = 'protocol,host,port,username,password,url,transport,name,civilCode';
  let csv: string;

  it('adds the good rows (online, channels listed), reports each bad row by line and field, and shows progress on the WebSocket', async () => {
    csv = [
      header,
      ...cameraRows(), // lines 2–4
      `rtsp,,,,,${gst.url('/h264-aac')},tcp,"校门口, 北",44030600`, // line 5: a quoted name with a comma
      'onvif,127.0.0.1,70000,admin,x,,,,', // line 6: bad port
      'rtsp,,,,,http://127.0.0.1/x,,,', // line 7: not an rtsp:// URL
      'rtmp,,,,,,,"无人机 ""一号""",', // line 8: an RTMP point named with quotes
      'rtsp,,,,,rtsp://127.0.0.1:1/x,udp,,123', // line 9: bad civil code
      'ftp,,,,,,,,', // line 10: unknown protocol
    ].join('\r\n');

    const ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(TEST_TOKEN)}`);
    const progress: ImportProgress[] = [];
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { type: string; data: ImportProgress };
      if (m.type === 'import-progress') progress.push(m.data);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let r;
    try {
      r = await importCsv(csv, 'first-import');
      await h.waitFor(() => (progress.some((p) => p.state === 'complete') ? true : null), 5_000, 'import-progress complete');
    } finally {
      ws.close();
    }
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ importId: 'first-import', total: 9, added: 5, unchanged: 0, updated: 0, failed: 4 });
    expect(r.body.errors).toEqual([
      { line: 6, field: 'port', message: 'port must be an integer 1-65535' },
      { line: 7, field: 'url', message: 'url must be an rtsp:// URL' },
      { line: 9, field: 'civilCode', message: expect.stringContaining('civilCode must be 8 digits') },
      { line: 10, field: 'protocol', message: 'protocol must be one of onvif, rtsp, rtmp' },
    ]);
    expect(progress[0]).toMatchObject({ importId: 'first-import', total: 9 });
    expect(progress.at(-1)).toEqual({ importId: 'first-import', done: 9, total: 9, added: 5, unchanged: 0, updated: 0, failed: 4, state: 'complete' });

    // What an operator sees: the devices listed with their names, ONVIF and RTSP online, their channels listed.
    const devices = await allDevices();
    expect(devices.map((d) => [d.protocol, d.protocol === 'onvif' ? '' : d.name, d.status]).sort()).toEqual(
      [['onvif', '', 'online'], ['onvif', '', 'online'], ['onvif', '', 'online'], ['rtmp', '无人机 "一号"', 'offline'], ['rtsp', '校门口, 北', 'online']].sort(),
    );
    expect(devices.filter((d) => d.protocol === 'onvif').map((d) => d.remotePort).sort()).toEqual(fleet.cameras.map((c) => c.port).sort());
    const rtsp = devices.find((d) => d.protocol === 'rtsp')!;
    expect(rtsp.civilCode).toBe('44030600');
    for (const d of devices.filter((x) => x.protocol !== 'rtmp')) {
      const channels = (await h.api<Page<Channel>>(`/api/devices/${d.id}/channels`)).body;
      expect(channels.total, d.name).toBeGreaterThan(0);
    }
  }, 90_000);

  it('a re-import adds nothing; a changed name or password updates that device', async () => {
    const again = await importCsv(csv);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ total: 9, added: 0, unchanged: 5, updated: 0, failed: 4 });
    expect(again.body.importId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await allDevices()).toHaveLength(5);

    const cam = fleet.cameras[0]!;
    const renamed = await importCsv([header, `onvif,${cam.host},${cam.port},admin,cam-pass-1,,,东门 1,`, `rtsp,,,,,${gst.url('/h264-aac')},tcp,,`].join('\n'));
    expect(renamed.body).toMatchObject({ total: 2, added: 0, updated: 1, unchanged: 1, failed: 0 });
    const id = renamed.body.devices.find((d) => d.outcome === 'updated')!.id;
    expect((await h.api<Device>(`/api/devices/${id}`)).body).toMatchObject({ name: '东门 1', status: 'online' });

    // A wrong password on re-import is applied like a PATCH: the camera refuses it, the device says so.
    const wrong = await post<ImportResult>('/api/devices/import', JSON.stringify({ devices: [{ protocol: 'onvif', host: cam.host, port: cam.port, username: 'admin', password: 'not-it' }] }), 'application/json');
    expect(wrong.body).toMatchObject({ updated: 1, failed: 0 });
    expect((await h.api<Device>(`/api/devices/${id}`)).body).toMatchObject({ status: 'offline', offlineReason: 'auth-failed' });
    const back = await post<ImportResult>('/api/devices/import', JSON.stringify([{ protocol: 'onvif', host: cam.host, port: cam.port, username: 'admin', password: 'cam-pass-1' }]), 'application/json');
    expect(back.body).toMatchObject({ updated: 1 });
    expect((await h.api<Device>(`/api/devices/${id}`)).body.status).toBe('online');
  }, 60_000);

  it('a large import is accepted on this route only (beyond the 64 KiB limit of the others)', async () => {
    // 3,000 rows, all refused by the validator (~150 KB): nothing is added, every row is reported.
    const rows = Array.from({ length: 3000 }, (_, i) => `onvif,10.9.${i >> 8}.${i & 255},0,admin,password-${'x'.repeat(20)},,,,`);
    const big = [header, ...rows].join('\n');
    expect(big.length).toBeGreaterThan(128 * 1024);
    const r = await importCsv(big);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    expect(r.body).toMatchObject({ total: 3000, added: 0, failed: 3000 });
    expect(r.body.errors[2999]).toEqual({ line: 3001, field: 'port', message: 'port must be an integer 1-65535' });
    // The same size on POST /api/devices: the server's limit.
    const single = await post<ErrorBody>('/api/devices', JSON.stringify({ protocol: 'rtmp', name: 'x'.repeat(big.length) }), 'application/json');
    expect(single.status).toBe(413);
    // Past the import's own limit (8 MiB): 413 too.
    const huge = await importCsv(`${header}\n${`rtmp,,,,,,,n,\n`.repeat(700_000)}`);
    expect(huge.status).toBe(413);
  }, 60_000);

  it('refuses a malformed CSV, an empty body, an unknown column and a wrong content type with a clear message', async () => {
    const unterminated = await importCsv(`${header}\nrtsp,,,,,rtsp://h/x,,"open,\nrtmp,,,,,,,a,\n`);
    expect(unterminated.status).toBe(400);
    expect(unterminated.body.message).toBe('CSV line 2: unterminated quoted field (a " opened here is never closed)');
    const columns = await importCsv(`${header}\nrtmp,,,,,,,a\n`);
    expect(columns.status).toBe(400);
    expect(columns.body.message).toBe('CSV line 2: 8 columns where the header (line 1) has 9');
    const unknown = await importCsv('protocol,adress\nonvif,x\n');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/column 2 "adress" is not a device field \(columns: protocol,host,port/);
    for (const empty of ['', '\r\n', header]) {
      const r = await importCsv(empty);
      expect(r.status, JSON.stringify(empty)).toBe(400);
      expect(r.body.message).toMatch(/empty|no devices/);
    }
    const noBody = await post<ErrorBody>('/api/devices/import', '', null);
    expect(noBody.status).toBe(400);
    const xml = await post<ErrorBody>('/api/devices/import', '<devices/>', 'application/xml');
    expect(xml.status).toBe(415);
    expect(xml.body.message).toMatch(/application\/xml is not an import: send text\/csv .* or application\/json/);
    const object = await post<ErrorBody>('/api/devices/import', JSON.stringify({ protocol: 'rtmp' }), 'application/json');
    expect(object.status).toBe(400);
    expect(object.body.message).toMatch(/array of device bodies/);
    const badId = await importCsv(`${header}\nrtmp,,,,,,,a,\n`, 'not%20ok');
    expect(badId.status).toBe(400);
    // Nothing of the above was added, and the gateway still answers.
    expect(await allDevices()).toHaveLength(5);
  }, 30_000);

  it('needs manage-config (an operator is refused)', async () => {
    const created = await h.api('/api/users', { body: { username: 'op-import', password: 'op-password-1', role: 'operator' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const login = await h.api<{ token: string }>('/api/auth/login', { body: { username: 'op-import', password: 'op-password-1' }, token: null });
    const res = await fetch(`${h.gateway.httpUrl}/api/devices/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.body.token}`, 'content-type': 'text/csv' },
      body: `${header}\nrtmp,,,,,,,op,\n`,
    });
    expect(res.status).toBe(403);
  });
});
