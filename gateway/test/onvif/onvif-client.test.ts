/**
 * The gateway's ONVIF client against the ONVIF camera simulator (itself checked by onvif-zeep) and against
 * hostile HTTP servers: clock offset applied to WS-Security, addresses rewritten to the host we reached,
 * snapshot behind HTTP digest, PTZ, PullPoint events that survive a camera reboot, and every failure named.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OnvifClient, OnvifError } from '../../src/protocol/onvif/onvif-client.js';
import { PullPointSession } from '../../src/protocol/onvif/pull-point.js';
import { IdleClosingAgent, httpExchange } from '../../src/protocol/onvif/soap-http.js';
import { OnvifCameraSim } from '../../src/sim/onvif/onvif-camera.js';
import type { OnvifEvent } from '../../src/codecs/onvif/messages.js';

async function failure(p: Promise<unknown>): Promise<OnvifError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OnvifError) return err;
    throw err;
  }
  throw new Error('expected an OnvifError');
}

function clientFor(cam: OnvifCameraSim, password = cam.credentials.password): OnvifClient {
  return new OnvifClient({ host: '127.0.0.1', port: cam.port, username: cam.credentials.username, password, timeoutMs: 5_000 });
}

describe('ONVIF client against the simulated camera', () => {
  const cams: OnvifCameraSim[] = [];
  const start = async (opts: ConstructorParameters<typeof OnvifCameraSim>[0]): Promise<OnvifCameraSim> => {
    const cam = new OnvifCameraSim(opts);
    await cam.start();
    cams.push(cam);
    return cam;
  };
  afterAll(async () => {
    await Promise.all(cams.map((c) => c.close()));
  });

  it('connects to a camera whose clock is 10 minutes ahead and that announces 127.0.1.1 everywhere', async () => {
    const cam = await start({ announcedHost: '127.0.1.1', clockOffsetMs: 600_000, clockToleranceSec: 30, manufacturer: 'Hik', model: 'DS-2CD', encoding: 'H265', rtspPort: 8554 });
    const client = clientFor(cam);
    const c = await client.connect();
    expect(c.info).toMatchObject({ manufacturer: 'Hik', model: 'DS-2CD', serialNumber: cam.info.serialNumber });
    expect(Math.abs(c.clockOffsetMs - 600_000)).toBeLessThanOrEqual(2_000);
    // Every address is rewritten to where we reached the camera, keeping path and port.
    expect(c.services).toMatchObject({
      media: `http://127.0.0.1:${cam.port}/onvif/media_service`,
      media2: `http://127.0.0.1:${cam.port}/onvif/media2_service`,
      ptz: `http://127.0.0.1:${cam.port}/onvif/ptz_service`,
      events: `http://127.0.0.1:${cam.port}/onvif/events_service`,
    });
    const profiles = await client.profiles();
    expect(profiles.map((p) => [p.token, p.encoding, p.width, p.height, p.ptz])).toEqual([
      ['profile_1_main', 'H265', 1280, 720, true],
      ['profile_1_sub', 'H264', 640, 360, true],
    ]);
    expect(await client.streamUri('profile_1_main')).toBe('rtsp://127.0.0.1:8554/onvif/profile_1_main');
    const snapshotUri = await client.snapshotUri('profile_1_sub');
    expect(snapshotUri).toBe(`http://127.0.0.1:${cam.port}/onvif/snapshot/profile_1_sub.jpg`);
    // Behind HTTP digest: the client answers the challenge.
    const jpeg = await client.snapshot(snapshotUri);
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(cam.stats.authFailures).toBe(0);
  });

  it('steers PTZ with the generic spaces, sets and calls presets, goes home', async () => {
    const cam = await start({});
    const client = clientFor(cam);
    await client.connect();
    await client.continuousMove('profile_1_main', { pan: -0.5, tilt: 0.25, zoom: 1 });
    await client.stop('profile_1_main');
    await client.relativeMove('profile_1_main', { pan: 0.1, tilt: 0 });
    const token = await client.setPreset('profile_1_main', '东门');
    expect(await client.presets('profile_1_main')).toEqual([{ token, name: '东门' }]);
    await client.gotoPreset('profile_1_main', token);
    await client.gotoHome('profile_1_main');
    expect(cam.ptzLog).toEqual([
      { op: 'ContinuousMove', profile: 'profile_1_main', pan: -0.5, tilt: 0.25, zoom: 1 },
      { op: 'Stop', profile: 'profile_1_main' },
      { op: 'RelativeMove', profile: 'profile_1_main', pan: 0.1, tilt: 0 },
      { op: 'SetPreset', profile: 'profile_1_main', preset: token },
      { op: 'GotoPreset', profile: 'profile_1_main', preset: token },
      { op: 'GotoHomePosition', profile: 'profile_1_main' },
    ]);
    const unknown = await failure(client.gotoPreset('profile_1_main', 'no-such-preset'));
    expect(unknown.reason).toBe('soap-fault');
    expect(unknown.detail.fault?.subcode).toBe('NoToken');
  });

  it('a wrong password is auth-failed after exactly one refused call (no retry that would lock the account)', async () => {
    const cam = await start({ lockAfterFailures: 3 });
    const client = clientFor(cam, 'not-the-password');
    const err = await failure(client.connect());
    expect(err.reason).toBe('auth-failed');
    expect(cam.stats.authFailures).toBe(1);
    expect(cam.stats.locked).toBe(false);
  });

  it('a camera that reports local time as UTC (8 h off) is clock-skew, not a mystery', async () => {
    const cam = await start({ reportedClockErrorMs: 8 * 3600_000, clockToleranceSec: 60 });
    const err = await failure(clientFor(cam).connect());
    expect(err.reason).toBe('clock-skew');
    expect(err.message).toMatch(/clock is 2(8799|8800|8801) s off ours/);
  });

  it('PullPoint: events arrive; after a camera reboot the subscription is re-created and events flow again', async () => {
    const cam = await start({});
    const client = clientFor(cam);
    await client.connect();
    const session = new PullPointSession(client, { pullTimeoutSec: 2, terminationSec: 60, backoffBaseMs: 100 });
    const received: OnvifEvent[] = [];
    const subscribed: number[] = [];
    session.on('event', (e) => received.push(e));
    session.on('subscribed', (s) => subscribed.push(s.count));
    session.start();
    const until = async (check: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!check()) throw new Error(`timed out waiting for ${what}`);
    };
    await until(() => cam.stats.subscriptions === 1, 'the first subscription');
    cam.emitEvent('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'true' });
    await until(() => received.length === 1, 'the motion event');
    expect(received[0]).toMatchObject({ topic: 'RuleEngine/CellMotionDetector/Motion', data: { IsMotion: 'true' }, source: { VideoSourceConfigurationToken: 'vsc_1' } });
    cam.reboot();
    await until(() => subscribed.length === 2 && cam.stats.subscriptions === 1, 'a new subscription after the reboot');
    cam.emitEvent('tns1:VideoSource/ImageTooBlurry/AnalyticsService', { State: 'true' });
    await until(() => received.length === 2, 'the tamper event');
    expect(received[1]!.topic).toBe('VideoSource/ImageTooBlurry/AnalyticsService');
    await session.close();
    expect(cam.stats.subscriptions).toBe(0);
  });

  it('PullPoint with a password changed on the camera stops at auth-failed instead of retrying', async () => {
    const cam = await start({});
    const client = clientFor(cam);
    await client.connect();
    const session = new PullPointSession(client, { pullTimeoutSec: 1, backoffBaseMs: 50 });
    const failures: Array<{ reason: string; retryInMs: number | null }> = [];
    session.on('failed', (f) => failures.push(f));
    cam.setPassword('changed-by-someone');
    session.start();
    for (let i = 0; i < 200 && failures.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(failures).toEqual([expect.objectContaining({ reason: 'auth-failed', retryInMs: null })]);
    const refused = cam.stats.authFailures;
    await new Promise((r) => setTimeout(r, 300));
    expect(cam.stats.authFailures).toBe(refused);
    await session.close();
  });
});

describe('ONVIF client against servers that are not well-behaved cameras', () => {
  let server: Server;
  let port = 0;
  let reply: (body: string) => { status: number; type: string; body: string } = () => ({ status: 200, type: 'text/plain', body: '' });
  /** When set, answers instead of `reply` (headers, broken bodies, closed connections). */
  let raw: ((req: IncomingMessage, res: ServerResponse, body: string) => void) | null = null;
  const requests: Array<{ url: string; authorization: string | undefined }> = [];
  let silent: TcpServer;
  let silentPort = 0;
  const held: Socket[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
        if (raw) return raw(req, res, body);
        const r = reply(body);
        res.writeHead(r.status, { 'content-type': r.type }).end(r.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    // Accepts connections and never answers (a camera that hangs, or a black-holed path).
    silent = createTcpServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as AddressInfo).port;
  });
  afterEach(() => {
    reply = () => ({ status: 200, type: 'text/plain', body: '' });
    raw = null;
    requests.length = 0;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => silent.close(() => r()));
  });

  const client = (p = port, timeoutMs = 2_000): OnvifClient => new OnvifClient({ host: '127.0.0.1', port: p, username: 'u', password: 'p', timeoutMs, maxAnswerBytes: 64 * 1024 });

  it('nobody listening, or nobody answering: unreachable, within the timeout', async () => {
    const closed = createTcpServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect((await failure(client(closedPort).syncClock())).reason).toBe('unreachable');
    const hung = await failure(client(silentPort, 500).syncClock());
    expect(hung.reason).toBe('unreachable');
    expect(hung.message).toMatch(/no answer within 500 ms/);
  });

  it('an HTML error page, a bare XML document, an entity bomb and an oversized answer are bad answers', async () => {
    reply = () => ({ status: 200, type: 'text/html', body: '<html><body><h1>Login</h1></body></html>' });
    expect((await failure(client().syncClock())).reason).toBe('bad-answer');
    reply = () => ({ status: 500, type: 'text/html', body: 'Internal Server Error' });
    expect((await failure(client().syncClock())).reason).toBe('bad-answer');
    reply = () => ({
      status: 200,
      type: 'application/soap+xml',
      body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&b;</s:Body></s:Envelope>',
    });
    const bomb = await failure(client().syncClock());
    expect(bomb.reason).toBe('bad-answer');
    expect(bomb.message).toMatch(/DTD/);
    reply = () => ({ status: 200, type: 'application/soap+xml', body: `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>${'x'.repeat(100_000)}</s:Body></s:Envelope>` });
    expect((await failure(client().syncClock())).message).toMatch(/limit 65536|more than 65536/);
    reply = () => ({ status: 200, type: 'application/soap+xml', body: '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><tds:GetSystemDateAndTimeResp' });
    expect((await failure(client().syncClock())).reason).toBe('bad-answer');
  });

  const TIME_ANSWER =
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>1</tt:Hour><tt:Minute>2</tt:Minute><tt:Second>3</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>12</tt:Month><tt:Day>6</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>';

  it('a redirect is not followed; an answer that breaks off, or dribbles past the timeout, is unreachable', async () => {
    raw = (_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
    const redirected = await failure(client().syncClock());
    expect(redirected.reason).toBe('bad-answer');
    expect(requests.map((r) => r.url)).toEqual(['/onvif/device_service']);
    raw = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/soap+xml', 'content-length': 5000 });
      res.write(TIME_ANSWER.slice(0, 100));
      setImmediate(() => res.socket?.destroy());
    };
    const cut = await failure(client().syncClock());
    expect(cut.reason).toBe('unreachable');
    expect(cut.message).toMatch(/broke off/);
    raw = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/soap+xml' });
      // A byte every 100 ms: never idle for the 300 ms timeout, never done.
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 100);
    };
    const started = performance.now();
    const dribbled = await failure(client(port, 300).syncClock());
    expect(dribbled.reason).toBe('unreachable');
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('answers HTTP Basic and Digest challenges once, and a 401 loop is auth-failed', async () => {
    raw = (req, res) => {
      if (!req.headers.authorization) return res.writeHead(401, { 'www-authenticate': 'Basic realm="cam"' }).end();
      res.writeHead(200, { 'content-type': 'application/soap+xml' }).end(TIME_ANSWER);
    };
    expect(await client().syncClock()).toEqual(new Date(Date.UTC(2026, 11, 6, 1, 2, 3)));
    expect(requests.at(-1)!.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    requests.length = 0;
    // Both challenges offered: the digest one is answered.
    raw = (req, res) => {
      if (!req.headers.authorization?.startsWith('Digest ')) {
        res.setHeader('www-authenticate', ['Basic realm="cam"', 'Digest realm="cam", nonce="abc", qop="auth"']);
        return res.writeHead(401).end();
      }
      res.writeHead(200, { 'content-type': 'application/soap+xml' }).end(TIME_ANSWER);
    };
    await client().syncClock();
    expect(requests.at(-1)!.authorization).toMatch(/^Digest username="u", realm="cam", nonce="abc", uri="\/onvif\/device_service", response="[0-9a-f]{32}"/);
    requests.length = 0;
    raw = (_req, res) => res.writeHead(401, { 'www-authenticate': 'Digest realm="cam", nonce="n2"' }).end();
    expect((await failure(client().deviceInformation())).reason).toBe('auth-failed');
    expect(requests.length).toBeLessThanOrEqual(4); // the call and its one digest round, and once more after re-reading the clock
  });

  it('a kept-alive connection the camera drops as we reuse it is replaced once, not reported as unreachable', async () => {
    const served = new WeakSet<object>();
    raw = (req, res) => {
      // The second request on a connection finds it closed (a camera's idle timeout firing at that moment).
      if (served.has(req.socket)) return void req.socket.destroy();
      served.add(req.socket);
      res.writeHead(200, { 'content-type': 'application/soap+xml', 'keep-alive': 'timeout=30' }).end(TIME_ANSWER);
    };
    const c = client();
    await c.syncClock();
    await c.syncClock();
    expect(requests).toHaveLength(3);
    // Only once: a camera that drops every request is unreachable.
    raw = (req) => void req.socket.destroy();
    expect((await failure(c.syncClock())).reason).toBe('unreachable');
  });

  it('the Agent keeps one idle connection per camera for a short while only, and not at all when the camera says 1 s', async () => {
    const agent = new IdleClosingAgent(300, { maxSockets: 4, maxFreeSockets: 1 });
    const connections = new Set<object>();
    raw = (req, res) => {
      connections.add(req.socket);
      res.writeHead(200, { 'content-type': 'application/soap+xml' }).end(TIME_ANSWER);
    };
    const exchange = () => httpExchange({ method: 'POST', url: `http://127.0.0.1:${port}/onvif/device_service`, body: '<x/>', headers: {}, timeoutMs: 2_000, maxBytes: 65_536, agent });
    await exchange();
    expect(agent.idleSockets).toBe(1);
    await exchange();
    expect(connections.size).toBe(1); // the second call reused it
    const idleSince = performance.now();
    while (agent.idleSockets > 0 && performance.now() - idleSince < 3_000) await new Promise((r) => setTimeout(r, 20));
    expect(agent.idleSockets).toBe(0);
    expect(performance.now() - idleSince).toBeGreaterThanOrEqual(250);
    await exchange();
    expect(connections.size).toBe(2);
    raw = (_req, res) => res.writeHead(200, { 'content-type': 'application/soap+xml', 'keep-alive': 'timeout=1' }).end(TIME_ANSWER);
    await exchange();
    expect(agent.idleSockets).toBe(0);
    agent.destroy();
  });

  it('a fault sent with HTTP 200 and SOAP 1.1 is still a fault with its reason', async () => {
    reply = () => ({
      status: 200,
      type: 'text/xml',
      body: '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>Action not implemented</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>',
    });
    const err = await failure(client().deviceInformation());
    expect(err.reason).toBe('soap-fault');
    expect(err.message).toMatch(/Server: Action not implemented/);
  });
});
