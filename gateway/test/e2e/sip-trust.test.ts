/**
 * Issue 8 part 3 and 4 end to end, over real sockets: a spoofed Alarm MESSAGE (unregistered ID, or a
 * registered ID from another port or transport) is answered 403, never stored, never listed, never on the
 * WebSocket, and counted in se_sip_rejected_total{reason}; a MESSAGE with SN 0 or an empty DeviceID from
 * the real device gets 400 instead of a handler error.
 *
 * The "device" is a raw UDP socket (pre-provisioned with noAuth, so one REGISTER registers it).
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Page } from '../../src/domain/model.js';
import { startHarness, TEST_TOKEN, type Harness } from '../support/gateway-harness.js';

const DEVICE = '44030500001320088001';
const STRANGER = '44030500001320088999';
const GW = '44030500002000000001';

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

/** A UDP socket that answers nothing and collects the status lines of responses by Call-ID. */
class RawUdp {
  readonly socket: Socket = createSocket('udp4');
  private readonly waiters = new Map<string, (status: number) => void>();
  private seq = 0;
  constructor(private readonly gatewayPort: number) {
    this.socket.on('message', (m) => {
      const text = m.toString('latin1');
      const status = /^SIP\/2\.0 (\d{3})/.exec(text);
      const callId = /\r\nCall-ID: ([^\r]+)/i.exec(text);
      if (status && callId) this.waiters.get(callId[1]!)?.(Number(status[1]));
    });
  }
  async bind(): Promise<number> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }
  get port(): number {
    return this.socket.address().port;
  }
  /** Send a request and wait for its final response (retransmitting like a UA would on UDP). */
  send(method: string, from: string, body = '', extra = ''): Promise<number> {
    const callId = `raw-${this.port}-${++this.seq}`;
    const b = Buffer.from(body);
    const text =
      `${method} sip:${GW}@4403050000 SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};rport;branch=z9hG4bK${callId}\r\n` +
      `From: <sip:${from}@4403050000>;tag=${callId}\r\nTo: <sip:${GW}@4403050000>\r\n` +
      `Call-ID: ${callId}\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\n${extra}` +
      (b.length ? 'Content-Type: Application/MANSCDP+xml\r\n' : '') +
      `Content-Length: ${b.length}\r\n\r\n`;
    const bytes = Buffer.concat([Buffer.from(text), b]);
    return new Promise((resolve) => {
      const timer = setInterval(() => this.socket.send(bytes, this.gatewayPort, '127.0.0.1'), 500);
      this.waiters.set(callId, (status) => {
        if (status < 200) return;
        clearInterval(timer);
        this.waiters.delete(callId);
        resolve(status);
      });
      this.socket.send(bytes, this.gatewayPort, '127.0.0.1');
    });
  }
  close(): void {
    this.socket.close();
  }
}

const alarm = (sn: string, deviceId: string, description: string): string =>
  `<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Alarm</CmdType><SN>${sn}</SN><DeviceID>${deviceId}</DeviceID>` +
  `<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-03-01T09:31:02</AlarmTime>` +
  `<AlarmDescription>${description}</AlarmDescription></Notify>`;

describe('SIP trust: spoofed requests and odd envelopes', () => {
  let h: Harness;
  let device: RawUdp;
  let other: RawUdp;
  let ws: WebSocket;
  const wsMessages: Array<{ type: string; data: Record<string, unknown> }> = [];

  beforeAll(async () => {
    h = await startHarness({
      overrides: { sip: { password: 'trust-pass', catalogOnRegister: false, devices: [{ id: DEVICE, noAuth: true }] } },
    });
    device = new RawUdp(h.gateway.sipPort);
    other = new RawUdp(h.gateway.sipPort);
    await device.bind();
    await other.bind();
    ws = new WebSocket(`${h.gateway.httpUrl.replace('http', 'ws')}/api/ws?token=${TEST_TOKEN}`);
    ws.on('message', (data) => wsMessages.push(JSON.parse(String(data)) as { type: string; data: Record<string, unknown> }));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(await device.send('REGISTER', DEVICE, '', 'Expires: 3600\r\nContact: <sip:44030500001320088001@127.0.0.1>\r\n')).toBe(200);
  });

  afterAll(async () => {
    ws?.close();
    device?.close();
    other?.close();
    await h?.stop();
  });

  it('spoofed alarms are 403, counted by reason, never stored or pushed; the real one is', async () => {
    const before = (await h.api<string>('/metrics')).body;
    // 1. A device ID that never registered, from anywhere.
    expect(await other.send('MESSAGE', STRANGER, alarm('1', STRANGER, 'spoof-unregistered'))).toBe(403);
    // 2. The registered ID from another port of the same host.
    expect(await other.send('MESSAGE', DEVICE, alarm('2', DEVICE, 'spoof-port'))).toBe(403);
    // 3. The registered ID over TCP (it registered over UDP).
    const overTcp = await new Promise<number>((resolve, reject) => {
      const body = Buffer.from(alarm('3', DEVICE, 'spoof-tcp'));
      const c = connect(h.gateway.sipPort, '127.0.0.1', () => {
        c.write(
          `MESSAGE sip:${GW}@4403050000 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${c.localPort};branch=z9hG4bKtcp1\r\n` +
            `From: <sip:${DEVICE}@4403050000>;tag=t1\r\nTo: <sip:${GW}@4403050000>\r\nCall-ID: tcp-spoof-1\r\nCSeq: 1 MESSAGE\r\n` +
            `Content-Type: Application/MANSCDP+xml\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        c.write(body);
      });
      c.on('data', (d) => {
        const m = /^SIP\/2\.0 (\d{3})/.exec(d.toString('latin1'));
        if (m) {
          c.destroy();
          resolve(Number(m[1]));
        }
      });
      c.on('error', reject);
    });
    expect(overTcp).toBe(403);
    // 4. A keepalive from the wrong port: 403, which makes a real device register again.
    expect(await other.send('MESSAGE', DEVICE, `<Notify><CmdType>Keepalive</CmdType><SN>4</SN><DeviceID>${DEVICE}</DeviceID><Status>OK</Status></Notify>`)).toBe(403);
    // 5. NOTIFY from a stranger.
    expect(await other.send('NOTIFY', STRANGER)).toBe(403);

    // The real device's alarm from its registered source: 200, stored, on the WebSocket.
    expect(await device.send('MESSAGE', DEVICE, alarm('5', DEVICE, 'real-alarm'))).toBe(200);
    const pushed = await h.waitFor(() => wsMessages.find((m) => m.type === 'alarm'), 10_000, 'the real alarm on the WebSocket');
    expect(pushed.data.description).toBe('real-alarm');
    // The WebSocket keeps alarms in order: had a spoofed alarm been pushed, it would have come first.
    expect(wsMessages.filter((m) => m.type === 'alarm')).toHaveLength(1);
    const listed = await h.waitFor(async () => {
      const r = await h.api<Page<{ description: string; deviceId: string }>>('/api/alarms?limit=100');
      return r.body.total >= 1 ? r.body : null;
    }, 10_000, 'the stored alarm');
    expect(listed.items.map((a) => a.description)).toEqual(['real-alarm']);

    const after = (await h.api<string>('/metrics')).body;
    const delta = (reason: string): number =>
      metricValue(after, 'se_sip_rejected_total', `reason="${reason}"`) - metricValue(before, 'se_sip_rejected_total', `reason="${reason}"`);
    expect(delta('unregistered')).toBe(2);
    expect(delta('source-mismatch')).toBe(2);
    expect(delta('transport-mismatch')).toBe(1);
    // The stranger is still unknown to the gateway.
    expect((await h.api(`/api/devices/${STRANGER}`)).status).toBe(404);
  });

  it('SN 0 and an empty DeviceID from the real device get 400 with a reason, counted, and the gateway keeps serving', async () => {
    const before = (await h.api<string>('/metrics')).body;
    expect(await device.send('MESSAGE', DEVICE, alarm('0', DEVICE, 'sn-zero'))).toBe(400);
    expect(await device.send('MESSAGE', DEVICE, alarm('7', '', 'empty-id'))).toBe(400);
    expect(await device.send('MESSAGE', DEVICE, alarm('99999999999999999999', DEVICE, 'huge-sn'))).toBe(400);
    expect(await device.send('MESSAGE', DEVICE, `<Notify><CmdType>Keepalive</CmdType><SN>0</SN><DeviceID>${DEVICE}</DeviceID><Status>OK</Status></Notify>`)).toBe(200);
    const r = await h.api<Page<{ description: string }>>('/api/alarms?limit=100');
    expect(r.body.items.map((a) => a.description)).not.toContain('sn-zero');
    const after = (await h.api<string>('/metrics')).body;
    const delta = (reason: string): number =>
      metricValue(after, 'se_sip_rejected_total', `reason="${reason}"`) - metricValue(before, 'se_sip_rejected_total', `reason="${reason}"`);
    expect(delta('bad-sn')).toBe(2);
    expect(delta('bad-device-id')).toBe(1);
  });
});
