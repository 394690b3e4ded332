/**
 * GbSignalling in isolation (a fake endpoint and directory): who may send MESSAGE/NOTIFY/INFO (issue 8 part
 * 3), that every odd MANSCDP envelope gets a defined answer and never a handler error (part 4), and the
 * REGISTER throttle in front of digest work.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { SipRequest, SipResponse } from '../../src/codecs/sip/message.js';
import type { ReplyFn, RequestHandler, SipEndpoint } from '../../src/protocol/sip-endpoint.js';
import type { TransportSource } from '../../src/transport/sip-transport.js';
import { GbSignalling, type GbDirectory } from '../../src/protocol/gb28181/gb-signalling.js';
import { judgeSource, type SourceVerdict } from '../../src/protocol/gb28181/source-trust.js';
import { RateLimitedLog } from '../../src/protocol/gb28181/rate-limited-log.js';
import { RegisterThrottle } from '../../src/protocol/gb28181/register-throttle.js';

const GW = '44030500002000000001';
const DEV = '44030500001320000017';
const HOME: TransportSource = { transport: 'udp', address: '10.0.0.5', port: 5060 };

interface Answer {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
}

class FakeEndpoint {
  handler: RequestHandler | null = null;
  sent: Array<{ method: string; body: Buffer | undefined }> = [];
  onRequest(h: RequestHandler): void {
    this.handler = h;
  }
  sendAck(): void {}
  contactUri(localId: string): string {
    return `sip:${localId}@127.0.0.1:5060`;
  }
  async sendRequest(opts: { method: string; body?: Buffer }): Promise<SipResponse> {
    this.sent.push({ method: opts.method, body: opts.body });
    return { kind: 'response', status: 200, reason: 'OK', version: 'SIP/2.0', headers: [], body: Buffer.alloc(0) };
  }
  /** Deliver a request; returns every final answer given (exactly one is expected). */
  deliver(req: SipRequest, source: TransportSource): Answer[] {
    const answers: Answer[] = [];
    const reply: ReplyFn = (status, reason, opts) => answers.push({ status, reason: reason ?? '', headers: opts?.headers ?? [] });
    this.handler!(req, source, reply);
    return answers;
  }
}

function request(method: string, from: string, body = '', extra: Array<[string, string]> = []): SipRequest {
  return {
    kind: 'request',
    method,
    uri: `sip:${GW}@4403050000`,
    version: 'SIP/2.0',
    headers: [
      ['via', 'SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1'],
      ['from', `<sip:${from}@4403050000>;tag=1`],
      ['to', `<sip:${GW}@4403050000>`],
      ['call-id', 'c1'],
      ['cseq', `1 ${method}`],
      ...extra,
    ],
    body: Buffer.from(body),
  };
}

interface Rig {
  endpoint: FakeEndpoint;
  signalling: GbSignalling;
  errors: string[];
  warnings: string[];
  alarms: string[];
  rejected: string[];
  throttled: string[];
  now: { t: number };
}

function rig(opts: { maxRecordItems?: number; registered?: Map<string, TransportSource>; throttle?: { ratePerSec: number; burst: number }; alarmGate?: () => Promise<unknown>; upper?: Pick<GbDirectory, 'upperPlatformAt' | 'upperMayQuery'>; catalogNotified?: GbDirectory['catalogNotified'] } = {}): Rig {
  const registered = opts.registered ?? new Map([[DEV, HOME]]);
  const endpoint = new FakeEndpoint();
  const errors: string[] = [];
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.level >= 50) errors.push(entry.msg);
        else if (entry.level >= 40) warnings.push(entry.msg);
      }
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const directory: GbDirectory = {
    credentialsFor: () => ({ password: 'pw', noAuth: true }),
    keepalive: (id) => registered.has(id),
    checkSource: (id, source): SourceVerdict => judgeSource(registered.get(id), source, 'off'),
    ...(opts.alarmGate ? { alarmDurable: opts.alarmGate } : {}),
    ...(opts.upper ?? {}),
    ...(opts.catalogNotified ? { catalogNotified: opts.catalogNotified } : {}),
  };
  const now = { t: 1_000_000 };
  const signalling = new GbSignalling({
    endpoint: endpoint as unknown as SipEndpoint,
    directory,
    sipId: GW,
    domain: '4403050000',
    registerExpiresMin: 60,
    registerExpiresMax: 86400,
    dateHeader: false,
    lockout: { maxFailures: 5, windowSec: 60, durationSec: 60 },
    queryTimeoutMs: 1000,
    catalogIdleTimeoutMs: 1000,
    maxBodyBytes: 64 * 1024,
    registerThrottle: opts.throttle ?? { ratePerSec: 10, burst: 40 },
    logger,
    now: () => now.t,
    ...(opts.maxRecordItems !== undefined ? { maxRecordItems: opts.maxRecordItems } : {}),
  });
  const r: Rig = { endpoint, signalling, errors, warnings, alarms: [], rejected: [], throttled: [], now };
  signalling.on('alarm', (e) => r.alarms.push(e.alarm.deviceId));
  signalling.on('rejected', (e) => r.rejected.push(e.reason));
  signalling.on('throttled', (e) => r.throttled.push(e.outcome));
  return r;
}

const alarm = (sn: string, deviceId = DEV): string =>
  `<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Alarm</CmdType><SN>${sn}</SN><DeviceID>${deviceId}</DeviceID>` +
  `<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-03-01T09:31:02</AlarmTime></Notify>`;
const keepalive = (sn: string, deviceId = DEV): string =>
  `<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType><SN>${sn}</SN><DeviceID>${deviceId}</DeviceID><Status>OK</Status></Notify>`;

/** Let promise callbacks (the Alarm Response MESSAGE) run, and flush pino's stream. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('source trust (spoofed MESSAGE/NOTIFY/INFO)', () => {
  const spoofs: Array<[string, string]> = [
    ['MESSAGE Alarm', alarm('9')],
    ['MESSAGE Keepalive', keepalive('10')],
    ['MESSAGE Catalog response', `<Response><CmdType>Catalog</CmdType><SN>5</SN><DeviceID>${DEV}</DeviceID><SumNum>0</SumNum></Response>`],
    ['MESSAGE MediaStatus', `<Notify><CmdType>MediaStatus</CmdType><SN>5</SN><DeviceID>${DEV}</DeviceID><NotifyType>121</NotifyType></Notify>`],
    ['MESSAGE DeviceInfo response', `<Response><CmdType>DeviceInfo</CmdType><SN>5</SN><DeviceID>${DEV}</DeviceID><Result>OK</Result></Response>`],
  ];

  it.each(spoofs)('%s from a device ID that never registered is 403, counted, and not acted on', async (_what, body) => {
    const r = rig();
    const answers = r.endpoint.deliver(request('MESSAGE', '44030500001320099999', body.replaceAll(DEV, '44030500001320099999')), HOME);
    expect(answers.map((a) => a.status)).toEqual([403]);
    expect(r.rejected).toEqual(['unregistered']);
    await settle();
    expect(r.alarms).toEqual([]);
    expect(r.endpoint.sent).toEqual([]);
    expect(r.errors).toEqual([]);
  });

  it.each(spoofs)('%s from the registered ID but another port is 403 source-mismatch', (_what, body) => {
    const r = rig();
    expect(r.endpoint.deliver(request('MESSAGE', DEV, body), { ...HOME, port: 5061 }).map((a) => a.status)).toEqual([403]);
    expect(r.endpoint.deliver(request('MESSAGE', DEV, body), { ...HOME, address: '10.0.0.6' }).map((a) => a.status)).toEqual([403]);
    expect(r.rejected).toEqual(['source-mismatch', 'source-mismatch']);
    expect(r.alarms).toEqual([]);
  });

  it('the registered ID over another transport is 403 transport-mismatch', () => {
    const r = rig();
    const answers = r.endpoint.deliver(request('MESSAGE', DEV, alarm('9')), { transport: 'tcp', address: HOME.address, port: HOME.port, connectionId: 'c9' });
    expect(answers.map((a) => a.status)).toEqual([403]);
    expect(r.rejected).toEqual(['transport-mismatch']);
  });

  it('NOTIFY and INFO from strangers are 403; from the device NOTIFY is 200', () => {
    const r = rig();
    expect(r.endpoint.deliver(request('NOTIFY', '44030500001320099999'), HOME)[0]!.status).toBe(403);
    expect(r.endpoint.deliver(request('INFO', '44030500001320099999'), HOME)[0]!.status).toBe(403);
    expect(r.endpoint.deliver(request('NOTIFY', DEV), { ...HOME, port: 1 })[0]!.status).toBe(403);
    expect(r.endpoint.deliver(request('NOTIFY', DEV), HOME)[0]!.status).toBe(200);
    expect(r.rejected).toEqual(['unregistered', 'unregistered', 'source-mismatch']);
  });

  it('the registered device at its registered source is served (alarm 200, stored, acknowledged)', async () => {
    const r = rig();
    expect(r.endpoint.deliver(request('MESSAGE', DEV, alarm('9')), HOME).map((a) => a.status)).toEqual([200]);
    expect(r.endpoint.deliver(request('MESSAGE', DEV, keepalive('10')), HOME).map((a) => a.status)).toEqual([200]);
    await settle();
    expect(r.alarms).toEqual([DEV]);
    expect(r.endpoint.sent.map((s) => s.method)).toEqual(['MESSAGE']);
    expect(r.rejected).toEqual([]);
  });

  it('logs one line per reason per interval, with the count it held back', async () => {
    const r = rig();
    for (let i = 0; i < 50; i++) r.endpoint.deliver(request('MESSAGE', `4403050000132009${String(i).padStart(4, '0')}`, keepalive('1')), HOME);
    for (let i = 0; i < 50; i++) r.endpoint.deliver(request('MESSAGE', DEV, keepalive('1')), { ...HOME, port: 7000 + i });
    await settle();
    expect(r.warnings.filter((m) => /rejected/.test(m))).toHaveLength(2);
    r.now.t += 60_000;
    r.endpoint.deliver(request('MESSAGE', '44030500001320090000', keepalive('1')), HOME);
    await settle();
    expect(r.warnings.filter((m) => /rejected/.test(m))).toHaveLength(3);
    expect(r.rejected).toHaveLength(101);
  });
});

describe('in-dialog requests', () => {
  it('a BYE for a live dialog from another host is 403; from the device it ends the dialog', async () => {
    const r = rig();
    const dialog = await r.signalling.dialogs.invite({ channelId: '44030500001310000001', destination: HOME, domain: '4403050000', sdpOffer: 'v=0', subject: 's', timeoutMs: 1000 });
    const byes: string[] = [];
    r.signalling.dialogs.on('remote-bye', (d) => byes.push(d.callId));
    const bye = (): SipRequest => {
      const req = request('BYE', '44030500001310000001');
      req.headers = req.headers.map(([n, v]) => (n === 'call-id' ? [n, dialog.callId] : [n, v]));
      return req;
    };
    expect(r.endpoint.deliver(bye(), { ...HOME, address: '10.0.0.66' }).map((a) => a.status)).toEqual([403]);
    expect(r.rejected).toEqual(['source-mismatch']);
    expect(byes).toEqual([]);
    expect(r.endpoint.deliver(bye(), { ...HOME, port: 5999 }).map((a) => a.status)).toEqual([200]);
    expect(byes).toEqual([dialog.callId]);
  });
});

describe('judgeSource', () => {
  const tcp: TransportSource = { transport: 'tcp', address: '10.0.0.5', port: 40000, connectionId: 'a' };
  it('follows the NAT rebinding policy', () => {
    expect(judgeSource(undefined, HOME, 'address')).toBe('unregistered');
    expect(judgeSource(HOME, HOME, 'off')).toBe('ok');
    expect(judgeSource(HOME, { ...HOME, port: 9 }, 'off')).toBe('source-mismatch');
    expect(judgeSource(HOME, { ...HOME, port: 9 }, 'port')).toBe('ok');
    expect(judgeSource(HOME, { ...HOME, address: '10.0.0.9', port: 9 }, 'port')).toBe('source-mismatch');
    expect(judgeSource(HOME, { ...HOME, address: '10.0.0.9', port: 9 }, 'address')).toBe('ok');
    expect(judgeSource(HOME, tcp, 'address')).toBe('transport-mismatch');
    expect(judgeSource(tcp, tcp, 'off')).toBe('ok');
    // A TCP device is bound to its connection: a new connection must register again, whatever the policy.
    expect(judgeSource(tcp, { ...tcp, connectionId: 'b' }, 'address')).toBe('source-mismatch');
  });
});

describe('total MANSCDP handling: every envelope gets a defined answer, no handler error', () => {
  const cases: Array<[string, string, number]> = [
    ['Alarm SN 0', alarm('0'), 400],
    ['Alarm SN negative', alarm('-5'), 400],
    ['Alarm SN missing', alarm('').replace('<SN></SN>', ''), 400],
    ['Alarm SN empty', alarm(''), 400],
    ['Alarm SN huge', alarm('99999999999999999999999'), 400],
    ['Alarm SN not a number', alarm('abc'), 400],
    ['Alarm SN decimal', alarm('1.5'), 400],
    ['Alarm DeviceID empty', alarm('9', ''), 400],
    ['Alarm DeviceID missing', alarm('9').replace(`<DeviceID>${DEV}</DeviceID>`, ''), 400],
    ['Alarm DeviceID over-long', alarm('9', '4'.repeat(300)), 400],
    ['Alarm DeviceID with spaces and symbols', alarm('9', 'a b<c'.replace('<', '&lt;')), 400],
    ['Alarm DeviceID non-digit but token', alarm('9', 'cam-01'), 200],
    ['Alarm, fine', alarm('9'), 200],
    ['CmdType missing', `<Notify><SN>1</SN><DeviceID>${DEV}</DeviceID></Notify>`, 400],
    ['CmdType empty', `<Notify><CmdType></CmdType><SN>1</SN><DeviceID>${DEV}</DeviceID></Notify>`, 400],
    ['unknown root', `<Hello><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>${DEV}</DeviceID></Hello>`, 400],
    ['empty body', '', 400],
    ['not XML', 'hello world', 400],
    ['UTF-16 body', Buffer.from(alarm('9'), 'utf16le').toString('latin1'), 400],
    ['Keepalive SN 0 (SN is never echoed)', keepalive('0'), 200],
    ['Keepalive SN missing', keepalive('').replace('<SN></SN>', ''), 200],
    ['Keepalive DeviceID empty (the sender is From)', keepalive('4', ''), 200],
    ['Catalog response SN 0', `<Response><CmdType>Catalog</CmdType><SN>0</SN><DeviceID>${DEV}</DeviceID><SumNum>1</SumNum></Response>`, 400],
    ['Catalog response SumNum junk', `<Response><CmdType>Catalog</CmdType><SN>3</SN><DeviceID>${DEV}</DeviceID><SumNum>x</SumNum><DeviceList Num="z"><Item/></DeviceList></Response>`, 200],
    ['DeviceStatus response empty DeviceID', `<Response><CmdType>DeviceStatus</CmdType><SN>3</SN><DeviceID></DeviceID></Response>`, 400],
    ['MediaStatus SN 0', `<Notify><CmdType>MediaStatus</CmdType><SN>0</SN><DeviceID>${DEV}</DeviceID><NotifyType>121</NotifyType></Notify>`, 400],
    ['MobilePosition, no fields', `<Notify><CmdType>MobilePosition</CmdType><SN>2</SN><DeviceID>${DEV}</DeviceID></Notify>`, 200],
    ['Query from a device (we are not a device)', `<Query><CmdType>Catalog</CmdType><SN>2</SN><DeviceID>${DEV}</DeviceID></Query>`, 200],
    ['Control SN 0', `<Control><CmdType>DeviceControl</CmdType><SN>0</SN><DeviceID>${DEV}</DeviceID></Control>`, 400],
  ];

  it.each(cases)('%s → %i', async (_what, body, status) => {
    const r = rig();
    const answers = r.endpoint.deliver(request('MESSAGE', DEV, body), HOME);
    await settle();
    expect(answers.map((a) => a.status)).toEqual([status]);
    if (status === 400) expect(answers[0]!.reason).not.toBe('');
    expect(r.errors).toEqual([]);
  });

  it('the body charset: GB2312 bytes and UTF-8 with a wrong declaration are both read', async () => {
    const r = rig();
    const iconv = (await import('iconv-lite')).default;
    const gb = iconv.encode(alarm('9').replace('<AlarmPriority>', '<AlarmDescription>南门</AlarmDescription><AlarmPriority>'), 'gb18030');
    expect(r.endpoint.deliver({ ...request('MESSAGE', DEV), body: gb }, HOME).map((a) => a.status)).toEqual([200]);
    const utf8 = Buffer.from(alarm('9').replace('<AlarmPriority>', '<AlarmDescription>南门</AlarmDescription><AlarmPriority>'));
    expect(r.endpoint.deliver({ ...request('MESSAGE', DEV), body: utf8 }, HOME).map((a) => a.status)).toEqual([200]);
    await settle();
    expect(r.alarms).toEqual([DEV, DEV]);
    expect(r.errors).toEqual([]);
  });

  it('a MESSAGE without a usable From is 400 and counted', () => {
    const r = rig();
    const req = request('MESSAGE', DEV, alarm('9'));
    req.headers = req.headers.map(([n, v]) => (n === 'from' ? [n, 'garbage'] : [n, v]));
    expect(r.endpoint.deliver(req, HOME).map((a) => a.status)).toEqual([400]);
    expect(r.rejected).toEqual(['bad-sender']);
  });
});

describe('REGISTER throttle', () => {
  const register = (id: string): SipRequest => request('REGISTER', id, '', [['expires', '3600']]);

  it('answers a source over its budget 503 with Retry-After, then drops until then; others are not touched', () => {
    const r = rig({ throttle: { ratePerSec: 2, burst: 5 } });
    const flood: TransportSource = { transport: 'udp', address: '10.9.9.9', port: 4000 };
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(...r.endpoint.deliver(register(`4403050000132000${String(i).padStart(4, '0')}`), flood).map((a) => a.status));
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    // The sixth gets 503 + Retry-After; the rest of the second are dropped (no answer at all).
    expect(statuses.slice(5)).toEqual([503]);
    expect(r.throttled).toEqual(['503', ...Array(14).fill('dropped')]);
    // Another source is unaffected.
    expect(r.endpoint.deliver(register(DEV), HOME).map((a) => a.status)).toEqual([200]);
    // A second later the flooding source has tokens again.
    r.now.t += 1000;
    expect(r.endpoint.deliver(register('44030500001320001111'), flood).map((a) => a.status)).toEqual([200]);
  });

  it('the 503 carries Retry-After', () => {
    const r = rig({ throttle: { ratePerSec: 1, burst: 1 } });
    r.endpoint.deliver(register(DEV), HOME);
    const [answer] = r.endpoint.deliver(register(DEV), HOME);
    expect(answer!.status).toBe(503);
    expect(answer!.headers).toContainEqual(['retry-after', '1']);
  });

  it('RegisterThrottle keeps its table bounded', () => {
    const t = new RegisterThrottle({ ratePerSec: 1, burst: 2, maxSources: 100 });
    for (let i = 0; i < 10_000; i++) t.take(`10.0.${i >> 8}.${i & 255}:5060`, 0);
    expect(t.size).toBeLessThanOrEqual(100);
  });
});

describe('RateLimitedLog', () => {
  it('one line per key per interval, then a summary of what it held back', () => {
    const lines: Array<{ key: string; suppressed: number }> = [];
    const log = new RateLimitedLog(10_000, (key, suppressed) => lines.push({ key, suppressed }));
    for (let i = 0; i < 5; i++) log.note('a', 0);
    log.note('b', 1);
    log.note('a', 10_001);
    expect(lines).toEqual([
      { key: 'a', suppressed: 0 },
      { key: 'b', suppressed: 0 },
      { key: 'a', suppressed: 4 },
    ]);
  });
});

describe('durable catalog: a part is acknowledged once its rows are stored', () => {
  const part = (sn: string, channelId: string): string =>
    `<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>${sn}</SN><DeviceID>${DEV}</DeviceID><SumNum>2</SumNum>` +
    `<DeviceList Num="1"><Item><DeviceID>${channelId}</DeviceID><Name>cam</Name><Status>ON</Status></Item></DeviceList></Response>`;

  it('holds each part\'s 200 OK until storePart settles, answers even when the store fails, and completes the query', async () => {
    const r = rig();
    const stored: string[][] = [];
    const gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    const storePart = (items: Array<{ deviceId: string }>): Promise<void> => {
      stored.push(items.map((i) => i.deviceId));
      return new Promise<void>((resolve, reject) => gates.push({ resolve, reject }));
    };
    const query = r.signalling.queryCatalog(DEV, HOME, undefined, 'GB2312', { storePart });
    await settle();
    const sn = /<SN>(\d+)<\/SN>/.exec(String(r.endpoint.sent[0]?.body))?.[1];
    expect(sn).toBeDefined();

    const first = r.endpoint.deliver(request('MESSAGE', DEV, part(sn!, '44030500001310000001')), HOME);
    expect(first).toEqual([]);
    expect(stored).toEqual([['44030500001310000001']]);
    await settle();
    expect(first, 'not before the rows are stored').toEqual([]);
    gates[0]!.resolve();
    await settle();
    expect(first.map((a) => a.status)).toEqual([200]);

    const second = r.endpoint.deliver(request('MESSAGE', DEV, part(sn!, '44030500001310000002')), HOME);
    expect(second).toEqual([]);
    gates[1]!.reject(new Error('store down'));
    await settle();
    expect(second.map((a) => a.status)).toEqual([200]);
    expect(r.warnings).toContain('catalog part not stored before its acknowledgement');

    const result = await query;
    expect(result.state).toBe('complete');
    expect(result.items.map((i) => i.deviceId).sort()).toEqual(['44030500001310000001', '44030500001310000002']);
    expect(r.errors).toEqual([]);
  });

  it('without storePart the part is answered at once (write at the end, the behaviour with commitWaitMs 0)', async () => {
    const r = rig();
    const query = r.signalling.queryCatalog(DEV, HOME, undefined, 'GB2312');
    await settle();
    const sn = /<SN>(\d+)<\/SN>/.exec(String(r.endpoint.sent[0]?.body))?.[1];
    expect(r.endpoint.deliver(request('MESSAGE', DEV, part(sn!, '44030500001310000001')), HOME).map((a) => a.status)).toEqual([200]);
    expect(r.endpoint.deliver(request('MESSAGE', DEV, part(sn!, '44030500001310000002')), HOME).map((a) => a.status)).toEqual([200]);
    expect((await query).state).toBe('complete');
  });
});

describe('durable alarms: an Alarm Notify is acknowledged once the alarm is stored', () => {
  it('holds the 200 OK and the Response MESSAGE until the gate settles; answers from memory when it fails', async () => {
    const gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    const r = rig({ alarmGate: () => new Promise<void>((resolve, reject) => gates.push({ resolve, reject })) });
    const first = r.endpoint.deliver(request('MESSAGE', DEV, alarm('41')), HOME);
    expect(r.alarms).toEqual([DEV]);
    await settle();
    expect(first, 'not before the alarm is stored').toEqual([]);
    expect(r.endpoint.sent).toEqual([]);
    gates[0]!.resolve();
    await settle();
    expect(first.map((a) => a.status)).toEqual([200]);
    expect(r.endpoint.sent.map((m) => m.method)).toEqual(['MESSAGE']);

    const second = r.endpoint.deliver(request('MESSAGE', DEV, alarm('42')), HOME);
    gates[1]!.reject(new Error('store down'));
    await settle();
    expect(second.map((a) => a.status)).toEqual([200]);
    expect(r.errors).toContain('alarm durability gate failed; answering from memory');
  });
});

describe('cascade: MESSAGEs from an upper platform', () => {
  const UPPER = '44000000002000000001';
  const UPPER_AT: TransportSource = { transport: 'udp', address: '10.9.9.9', port: 5060 };
  const SHARED = '44030500001310000001';
  const query = (cmd: string, target: string, sn = '7'): string => `<?xml version="1.0"?><Query><CmdType>${cmd}</CmdType><SN>${sn}</SN><DeviceID>${target}</DeviceID></Query>`;
  const upper: Pick<GbDirectory, 'upperPlatformAt' | 'upperMayQuery'> = {
    upperPlatformAt: (id, source) => id === UPPER && source.address === UPPER_AT.address && source.port === UPPER_AT.port,
    upperMayQuery: (_platform, target) => target === GW || target === SHARED,
  };

  it('a query for our ID or a shared channel is answered 200 and handed on; an unshared ID is 404', () => {
    const r = rig({ upper });
    const queries: string[] = [];
    r.signalling.on('upper-query', (e) => queries.push(`${e.platformId} ${e.cmdType} ${e.targetId} ${e.sn}`));
    expect(r.endpoint.deliver(request('MESSAGE', UPPER, query('Catalog', GW)), UPPER_AT).map((a) => a.status)).toEqual([200]);
    expect(r.endpoint.deliver(request('MESSAGE', UPPER, query('DeviceStatus', SHARED, '8')), UPPER_AT).map((a) => a.status)).toEqual([200]);
    expect(r.endpoint.deliver(request('MESSAGE', UPPER, query('DeviceInfo', '44030500001310000099', '9')), UPPER_AT).map((a) => a.status)).toEqual([404]);
    expect(queries).toEqual([`${UPPER} Catalog ${GW} 7`, `${UPPER} DeviceStatus ${SHARED} 8`]);
  });

  it('the same ID from another address is a stranger (403 as any unregistered sender), and bad bodies are 400', () => {
    const r = rig({ upper });
    const queries: string[] = [];
    r.signalling.on('upper-query', (e) => queries.push(e.cmdType));
    expect(r.endpoint.deliver(request('MESSAGE', UPPER, query('Catalog', GW)), { ...UPPER_AT, port: 5999 }).map((a) => a.status)).toEqual([403]);
    expect(r.endpoint.deliver(request('MESSAGE', UPPER, '<Query><CmdType>Catalog'), UPPER_AT).map((a) => a.status)).toEqual([400]);
    expect(r.endpoint.deliver(request('MESSAGE', UPPER, query('Catalog', GW, '0')), UPPER_AT).map((a) => a.status)).toEqual([400]);
    expect(queries).toEqual([]);
    expect(r.errors).toEqual([]);
  });

  it('SUBSCRIBE: Catalog, Alarm and MobilePosition (with its Interval) accepted with the granted Expires; unshared 404, strangers 403, bad Expires 400', () => {
    const r = rig({ upper });
    const subs: string[] = [];
    r.signalling.on('upper-subscribe', (e) => subs.push(`${e.event} ${e.targetId} ${e.expires} ${e.dialog.callId}${e.intervalSec !== undefined ? ` every ${e.intervalSec}` : ''}`));
    const subscribe = (cmd: string, target: string, extra: Array<[string, string]>, at = UPPER_AT, body = query(cmd, target)): Answer[] =>
      r.endpoint.deliver(request('SUBSCRIBE', UPPER, body, [['event', cmd], ['contact', `<sip:${UPPER}@10.9.9.9:5060>`], ...extra]), at);
    const ok = subscribe('Catalog', GW, [['expires', '7200']]);
    expect(ok.map((a) => a.status)).toEqual([200]);
    expect(ok[0]!.headers).toContainEqual(['expires', '7200']);
    // Clamped: at least 60 s, at most a day.
    expect(subscribe('Alarm', GW, [['expires', '5']])[0]!.headers).toContainEqual(['expires', '60']);
    expect(subscribe('Catalog', GW, [['expires', '999999']])[0]!.headers).toContainEqual(['expires', '86400']);
    expect(subscribe('Catalog', '44030500001310000099', []).map((a) => a.status)).toEqual([404]);
    // MobilePosition: the body's Interval (absent or junk = 5 s, clamped to 1–3600).
    const withInterval = (interval: string, target = SHARED): string => query('MobilePosition', target).replace('</Query>', `<Interval>${interval}</Interval></Query>`);
    expect(subscribe('MobilePosition', SHARED, [['expires', '600']], UPPER_AT, withInterval('2')).map((a) => a.status)).toEqual([200]);
    expect(subscribe('MobilePosition', GW, []).map((a) => a.status)).toEqual([200]);
    expect(subscribe('MobilePosition', GW, [], UPPER_AT, query('MobilePosition', GW).replace('</Query>', '<Interval>-3</Interval></Query>')).map((a) => a.status)).toEqual([200]);
    expect(subscribe('MobilePosition', '44030500001310000099', [], UPPER_AT, withInterval('1', '44030500001310000099')).map((a) => a.status)).toEqual([404]);
    expect(subscribe('Catalog', GW, [['expires', 'soon']]).map((a) => a.status)).toEqual([400]);
    expect(subscribe('Catalog', GW, [], { ...UPPER_AT, port: 5999 }).map((a) => a.status)).toEqual([403]);
    expect(subs).toEqual([
      `Catalog ${GW} 7200 c1`, `Alarm ${GW} 60 c1`, `Catalog ${GW} 86400 c1`,
      `MobilePosition ${SHARED} 600 c1 every 2`, `MobilePosition ${GW} 3600 c1 every 5`, `MobilePosition ${GW} 3600 c1 every 5`,
    ]);
    expect(r.errors).toEqual([]);
  });
});

describe('catalog NOTIFY from a device we subscribed to', () => {
  const notify = (events: string): string =>
    `<?xml version="1.0"?><Notify><CmdType>Catalog</CmdType><SN>3</SN><DeviceID>${DEV}</DeviceID><SumNum>1</SumNum><DeviceList Num="1">${events}</DeviceList></Notify>`;

  it('is handed to the domain and answered once applied; garbage is 400; strangers 403', async () => {
    const applied: string[] = [];
    let release: () => void = () => undefined;
    const r = rig({
      catalogNotified: (deviceId, items) => {
        applied.push(`${deviceId} ${items.map((i) => `${i.deviceId}:${i.event}`).join(',')}`);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    const answers = r.endpoint.deliver(request('NOTIFY', DEV, notify('<Item><DeviceID>44030500001310000007</DeviceID><Event>DEL</Event></Item>')), HOME);
    expect(answers).toEqual([]);
    expect(applied).toEqual([`${DEV} 44030500001310000007:DEL`]);
    release();
    await settle();
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(r.endpoint.deliver(request('NOTIFY', DEV, '<Notify><CmdType>Catalog'), HOME).map((a) => a.status)).toEqual([400]);
    expect(r.endpoint.deliver(request('NOTIFY', '44030500001320009999', notify('')), HOME).map((a) => a.status)).toEqual([403]);
    expect(r.errors).toEqual([]);
  });
});

describe('RecordInfo answers that never end', () => {
  const items = (from: number, n: number): string =>
    Array.from({ length: n }, (_, i) => {
      const h = String((from + i) % 24).padStart(2, '0');
      return `<Item><DeviceID>${DEV}</DeviceID><Name>rec</Name><StartTime>2026-12-01T${h}:00:00</StartTime><EndTime>2026-12-01T${h}:59:59</EndTime><Type>time</Type></Item>`;
    }).join('');
  const part = (sn: string, from: number, n: number, sumNum: number): string =>
    `<?xml version="1.0" encoding="GB2312"?><Response><CmdType>RecordInfo</CmdType><SN>${sn}</SN><DeviceID>${DEV}</DeviceID><Name>cam</Name>` +
    `<SumNum>${sumNum}</SumNum><RecordList Num="${n}">${items(from, n)}</RecordList></Response>`;

  it('a device claiming 10,000,000 items is cut off at the cap: complete false, a warning, every part answered 200', async () => {
    const r = rig({ maxRecordItems: 250 });
    const query = r.signalling.queryRecordInfo(DEV, DEV, HOME, { start: Date.UTC(2026, 11, 1), end: Date.UTC(2026, 11, 2) });
    await settle();
    const sn = /<SN>(\d+)<\/SN>/.exec(String(r.endpoint.sent[0]?.body))?.[1];
    expect(sn).toBeDefined();
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(...r.endpoint.deliver(request('MESSAGE', DEV, part(sn!, i * 40, 40, 10_000_000)), HOME).map((a) => a.status));
    const result = await query;
    expect(result.items).toHaveLength(250);
    expect(result.complete).toBe(false);
    expect(statuses).toEqual(Array(10).fill(200));
    expect(r.warnings).toContain('RecordInfo answer cut off: more items than a query keeps');
    expect(r.errors).toEqual([]);
  });
});
