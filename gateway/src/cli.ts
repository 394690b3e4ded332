/**
 * `sharp-eyes` command line: serve (the gateway), sim (the GB28181 device simulator) and demo (both, on
 * the embedded store, for a first look).
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, ConfigError, type DeepPartial, type GatewayConfig } from './config/load-config.js';
import { startGateway, type Gateway } from './app.js';
import { runSimulatorCli, type SimCliOptions } from './sim/sim-cli.js';
import { runUpperCli } from './sim/upper-cli.js';
import { OnvifFleet } from './sim/onvif/onvif-fleet.js';
import { RtmpPushers, apiToken, redactPublishUrl } from './sim/rtmp-pushers.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FFMPEG_INSTALL_HINT, missingMediaTools } from './media/ffmpeg/index.js';

function parseIntArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}-${max}`);
    return n;
  };
}

function loadOrExit(file: string | undefined, overrides?: DeepPartial<GatewayConfig>): GatewayConfig {
  try {
    return loadConfig({ file, env: process.env, overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sharp-eyes: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Stop cleanly on SIGINT/SIGTERM: flush the write-behind buffer, close sockets, exit 0. */
function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`sharp-eyes: ${signal}, shutting down\n`);
    stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        process.stderr.write(`sharp-eyes: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/**
 * ffmpeg/ffprobe are needed for every picture (the demo's cameras are encoded with it; the gateway transcodes and
 * takes snapshots with it). Missing ones are said in one line: the demo stops (every tile would fail), serve warns
 * and goes on (signalling, catalog and the API work without it).
 */
function checkMediaTools(command: 'demo' | 'serve'): void {
  const missing = missingMediaTools();
  if (missing.length === 0) return;
  const line = `sharp-eyes ${command}: ${missing.join('; ')} — ${FFMPEG_INSTALL_HINT}`;
  if (command === 'demo') {
    process.stderr.write(`${line}\n`);
    process.exit(1);
  }
  process.stderr.write(`${line} (live video and snapshots will fail until then)\n`);
}

/** Node's version is checked before anything else: an older Node fails later with obscure syntax or API errors. */
function checkNodeVersion(): void {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    process.stderr.write(`sharp-eyes: Node.js ${process.versions.node} is too old — install Node.js 20.19 or newer (https://nodejs.org or your distribution's nodejs 20 package)\n`);
    process.exit(1);
  }
}

async function serve(opts: { config?: string }): Promise<void> {
  checkNodeVersion();
  const config = loadOrExit(opts.config);
  checkMediaTools('serve');
  let gateway: Gateway;
  try {
    gateway = await startGateway(config);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      process.stderr.write(`sharp-eyes: cannot bind: ${e.message} (check sip.port / http.port)\n`);
      process.exit(1);
    }
    throw err;
  }
  stopOnSignals(() => gateway.close());
}

/** Known password of the demo's admin account (quick start only; `serve` never uses it). */
export const DEMO_ADMIN_PASSWORD = 'sharp-eyes-demo';

async function demo(opts: { devices: number; channels: number; config?: string }): Promise<void> {
  checkNodeVersion();
  checkMediaTools('demo');
  const config = loadOrExit(opts.config, {
    store: { mongoUrl: '' },
    ...(process.env.SE_API_TOKEN ? {} : { http: { apiTokens: ['demo-token'] } }),
    // Readable lines on a terminal, JSON lines when piped or collected (unless SE_LOG_PRETTY says otherwise).
    ...(process.env.SE_LOG_PRETTY === undefined ? { log: { pretty: process.stdout.isTTY === true } } : {}),
  });
  // The quick start must let someone sign in to the wall without digging a generated password out of the
  // log: a demo data directory gets a known admin password unless one is configured (set on first start only).
  if (!config.admin.password) config.admin.password = DEMO_ADMIN_PASSWORD;
  const gateway = await startGateway(config);
  const stopSim = await runSimulatorCli({
    server: `127.0.0.1:${gateway.sipPort}`,
    devices: opts.devices,
    channels: opts.channels,
    transport: 'udp',
    password: config.sip.password,
    idPrefix: config.sip.id.slice(0, 8),
    keepaliveSec: Math.min(30, config.sip.keepaliveIntervalSec),
    nvrEvery: 4,
    // Every demo camera shows its own name and ID in the picture (encoded once per machine, cached on disk).
    personalisedChannels: opts.devices * Math.max(1, opts.channels),
    quiet: true,
  });
  const token = config.http.apiTokens[0] ?? '(set SE_API_TOKEN)';
  const onvif = await startDemoOnvif(gateway.httpUrl, config.http.apiTokens[0], join(config.store.dataDir, 'demo-onvif.json'));
  process.stdout.write(
    [
      '',
      'Sharp Eyes gateway demo is running.',
      `  Web wall:   ${gateway.httpUrl}/   sign in as ${config.admin.username}${config.admin.password === DEMO_ADMIN_PASSWORD ? ` / ${DEMO_ADMIN_PASSWORD} (demo password, on a fresh ./data)` : ' (the password you configured)'}`,
      `  API docs:   ${gateway.httpUrl}/docs`,
      `  Devices:    curl -H 'Authorization: Bearer ${token}' ${gateway.httpUrl}/api/devices`,
      `  Health:     ${gateway.httpUrl}/healthz      Metrics: ${gateway.httpUrl}/metrics`,
      `  SIP:        port ${gateway.sipPort} (UDP+TCP), ID ${config.sip.id}, domain ${config.sip.domain}`,
      `  Simulator:  ${opts.devices} devices on 127.0.0.1 (every 4th an NVR with ${opts.channels} channels)`,
      `  ONVIF:      ${onvif.added} ONVIF cameras added through POST /api/devices (protocol onvif)${onvif.error ? ` — not added: ${onvif.error}` : ''}`,
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  stopOnSignals(async () => {
    await onvif.fleet.stop();
    await stopSim();
    await gateway.close();
  });
}

const DEMO_ONVIF_CAMERAS = 4;

/**
 * The demo's ONVIF cameras, next to the GB ones: simulated cameras (no WS-Discovery: the demo must not probe or
 * answer on any network) added through the API like an integrator would. Their ports change at every start, so
 * the cameras the previous demo added (IDs kept in the data directory) are deleted first.
 */
async function startDemoOnvif(httpUrl: string, token: string | undefined, idsFile: string): Promise<{ fleet: OnvifFleet; added: number; error: string | null }> {
  const fleet = new OnvifFleet({ cameras: DEMO_ONVIF_CAMERAS, discoveryInterface: null, namePrefix: 'ONVIF 演示摄像机' });
  if (!token) return { fleet, added: 0, error: 'no API token' };
  const api = (path: string, method: string, body?: unknown): Promise<Response> =>
    fetch(`${httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  try {
    await fleet.start();
    const previous = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as unknown) : [];
    for (const id of Array.isArray(previous) ? previous : []) if (typeof id === 'string') await api(`/api/devices/${id}`, 'DELETE');
    const ids: string[] = [];
    for (const cam of fleet.cameras) {
      const r = await api('/api/devices', 'POST', { protocol: 'onvif', host: cam.host, port: cam.port, ...cam.credentials });
      // 409: the camera at this host:port is added already (an ID file lost between runs); keep that one.
      if (r.status === 201 || r.status === 409) {
        const body = (await r.json()) as { id?: string; existingId?: string };
        const id = body.id ?? body.existingId;
        if (id) ids.push(id);
      }
    }
    writeFileSync(idsFile, JSON.stringify(ids));
    return { fleet, added: ids.length, error: null };
  } catch (err) {
    return { fleet, added: 0, error: (err as Error).message };
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('sharp-eyes')
    .description('Video-network integration gateway for city public-video networks (GB/T 28181, ONVIF)')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the gateway (SIP on UDP+TCP, HTTP API, embedded store or MongoDB)')
    .option('-c, --config <file>', 'YAML configuration file (see config/gateway.example.yaml); SE_* environment variables override it')
    .action(serve);

  program
    .command('sim')
    .description('run simulated devices against a gateway: GB28181 (a real SIP peer), ONVIF cameras, RTMP pushers')
    .option('-s, --server <host:port>', 'gateway SIP address, e.g. 127.0.0.1:5060 (needed with -n)')
    .option('-n, --devices <n>', 'number of GB28181 devices (0 with --onvif or --rtmp only)', parseIntArg('--devices', 0, 200_000))
    .option('-m, --channels <m>', 'channels per NVR (IPCs have 1)', parseIntArg('--channels', 1, 10_000), 4)
    .option('-t, --transport <udp|tcp>', 'SIP transport', 'udp')
    .option('-p, --password <pw>', 'digest password', '12345678')
    .option('--id-prefix <code>', '8-digit civil code that starts every device ID', '44030500')
    .option('--keepalive <sec>', 'keepalive interval in seconds', parseIntArg('--keepalive', 1, 3600), 60)
    .option('--expires <sec>', 'registration expiry in seconds', parseIntArg('--expires', 60, 86_400), 3600)
    .option('--nvr-every <k>', 'every k-th device is an NVR with --channels channels (0 = none)', parseIntArg('--nvr-every', 0, 1_000_000), 0)
    .option('--platform-channels <n>', 'instead of devices: one lower platform with a region/group tree of n channels', parseIntArg('--platform-channels', 1, 1_000_000))
    .option('--rate <per-second>', 'registrations per second (0 = as fast as possible)', parseIntArg('--rate', 0, 1_000_000), 0)
    .option('--alarm-every <sec>', 'each device raises an alarm every n seconds (0 = never)', parseIntArg('--alarm-every', 0, 86_400), 0)
    .option('--local-host <ip>', 'local address to bind', '127.0.0.1')
    .option('--codec <h264|h265>', 'video codec the cameras stream when INVITEd', 'h264')
    .option('--audio <g711a|aac>', 'add audio to the PS stream: G.711A, or AAC-LC in ADTS (16 kHz mono)')
    .option('--quiet', 'only print a summary')
    .option('--onvif <n>', 'also run n ONVIF cameras (device, media, media2, PTZ, events over HTTP, RTSP with real video; add them with POST /api/devices)', parseIntArg('--onvif', 0, 10_000), 0)
    .option('--onvif-discovery-port <port>', 'WS-Discovery port the ONVIF cameras answer on (on 127.0.0.1 only)', parseIntArg('--onvif-discovery-port', 1, 65_535), 3702)
    .option('--rtmp <n>', 'also run n RTMP pushers (H.264 + AAC); their devices are created (or reused, by name) through the gateway API (--api)', parseIntArg('--rtmp', 0, 1_000), 0)
    .option('--rtmp-url <url>', 'push to this publish URL instead (repeat for several; no API needed)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--rtmp-name <prefix>', 'name prefix of the RTMP devices: "<prefix> 1", "<prefix> 2", …', 'RTMP 模拟推流')
    .option('--api <url>', 'gateway HTTP API for --rtmp', 'http://127.0.0.1:8080')
    .option('--api-token <token>', 'bearer token for --api (or SE_API_TOKEN)')
    .option('--api-user <name>', 'log in to --api as this admin (with --api-password, or SE_API_PASSWORD)')
    .option('--api-password <pw>', 'password of --api-user')
    .option('--upper', 'also run an upper platform (provincial level) the gateway cascades to: digest REGISTER, keepalives, Catalog query, INVITE')
    .option('--upper-id <id>', '20-digit SIP ID of the upper platform', '44000000002000000001')
    .option('--upper-domain <domain>', 'its SIP domain and digest realm (default: the first 10 digits of --upper-id)')
    .option('--upper-password <pw>', 'the password the gateway must register with', '12345678')
    .option('--port <port>', 'SIP port of the upper platform, UDP and TCP (0 = any free port)', parseIntArg('--port', 0, 65_535), 15060)
    .option('--upper-subscribe', 'SUBSCRIBE to the gateway\'s catalog after querying it and print each NOTIFY item')
    .option('--upper-play <n>', 'INVITE the first n online channels of the catalog and check their video with ffprobe', parseIntArg('--upper-play', 0, 10_000), 0)
    .option('--upper-play-transport <t>', 'media transport of those INVITEs: udp, tcp-passive (the gateway connects) or tcp-active (we connect)', 'udp')
    .option('--upper-play-sec <s>', 'seconds of video collected before the ffprobe check', parseIntArg('--upper-play-sec', 1, 600), 3)
    .option('--upper-playback <n>', 'play back the recordings of the first n online channels (s=Playback; PAUSE, PLAY Range, Scale 2, then to the end) and check them with ffprobe', parseIntArg('--upper-playback', 0, 1_000), 0)
    .option('--upper-playback-span <s>', 'seconds of recording each playback asks for (the span that ended an hour ago)', parseIntArg('--upper-playback-span', 2, 3_600), 20)
    .option('--upper-download', 'make those playbacks s=Download at a=downloadspeed 4')
    .action(async (o: Record<string, unknown>) => {
      const rtmpUrls = (o.rtmpUrl as string[] | undefined) ?? [];
      const gbDevices = (o.devices as number | undefined) ?? 0;
      const upperOn = o.upper === true;
      if (gbDevices === 0 && o.onvif === 0 && o.rtmp === 0 && rtmpUrls.length === 0 && !upperOn) {
        process.stderr.write('sharp-eyes sim: nothing to simulate: give -n (GB28181 devices), --onvif, --rtmp or --upper\n');
        process.exit(2);
      }
      if (gbDevices > 0 && o.server === undefined) {
        process.stderr.write('sharp-eyes sim: -s/--server (the gateway SIP address) is required with -n\n');
        process.exit(2);
      }
      if (o.codec !== 'h264' && o.codec !== 'h265') {
        process.stderr.write('sharp-eyes sim: --codec must be h264 or h265\n');
        process.exit(2);
      }
      if (o.audio !== undefined && o.audio !== 'g711a' && o.audio !== 'aac') {
        process.stderr.write('sharp-eyes sim: --audio must be g711a or aac\n');
        process.exit(2);
      }
      if (o.transport !== 'udp' && o.transport !== 'tcp') {
        process.stderr.write('sharp-eyes sim: --transport must be udp or tcp\n');
        process.exit(2);
      }
      if (!/^\d{8}$/.test(String(o.idPrefix))) {
        process.stderr.write('sharp-eyes sim: --id-prefix must be an 8-digit civil code\n');
        process.exit(2);
      }
      const simOptions: SimCliOptions = {
        server: String(o.server),
        devices: gbDevices,
        channels: o.channels as number,
        transport: o.transport,
        password: String(o.password),
        idPrefix: String(o.idPrefix),
        keepaliveSec: o.keepalive as number,
        expiresSec: o.expires as number,
        nvrEvery: o.nvrEvery as number,
        platformChannels: o.platformChannels as number | undefined,
        ratePerSecond: o.rate as number,
        alarmEverySec: o.alarmEvery as number,
        localHost: String(o.localHost),
        codec: o.codec,
        audio: o.audio === 'g711a' || o.audio === 'aac' ? o.audio : undefined,
        quiet: o.quiet === true,
      };
      if (upperOn) {
        if (!/^\d{20}$/.test(String(o.upperId))) {
          process.stderr.write('sharp-eyes sim: --upper-id must be a 20-digit SIP ID\n');
          process.exit(2);
        }
        if (!['udp', 'tcp-passive', 'tcp-active'].includes(String(o.upperPlayTransport))) {
          process.stderr.write('sharp-eyes sim: --upper-play-transport must be udp, tcp-passive or tcp-active\n');
          process.exit(2);
        }
      }
      const stopGb = gbDevices > 0 ? await runSimulatorCli(simOptions) : async () => undefined;
      const stopUpper = upperOn
        ? await runUpperCli({
            id: String(o.upperId),
            domain: o.upperDomain === undefined ? String(o.upperId).slice(0, 10) : String(o.upperDomain),
            password: String(o.upperPassword),
            host: String(o.localHost),
            port: o.port as number,
            catalog: true,
            subscribe: o.upperSubscribe === true,
            play: o.upperPlay as number,
            playTransport: o.upperPlayTransport as 'udp' | 'tcp-passive' | 'tcp-active',
            playSec: o.upperPlaySec as number,
            playback: o.upperPlayback as number,
            playbackSpanSec: o.upperPlaybackSpan as number,
            download: o.upperDownload === true,
          })
        : async () => undefined;
      const onvifCount = o.onvif as number;
      let onvif: OnvifFleet | null = null;
      if (onvifCount > 0) {
        // WS-Discovery answers only on the loopback address, never on the machine's real network.
        onvif = new OnvifFleet({ cameras: onvifCount, host: String(o.localHost), discoveryInterface: '127.0.0.1', discoveryPort: o.onvifDiscoveryPort as number });
        await onvif.start();
        for (const cam of onvif.cameras) {
          const { username, password } = cam.credentials;
          process.stdout.write(`sharp-eyes sim: ONVIF camera ${cam.host}:${cam.port} (${username} / ${password})\n`);
        }
        process.stdout.write(`sharp-eyes sim: ${onvifCount} ONVIF cameras ready; WS-Discovery on 127.0.0.1:${String(o.onvifDiscoveryPort)}\n`);
      }
      let rtmp: RtmpPushers | null = null;
      if ((o.rtmp as number) > 0 || rtmpUrls.length > 0) {
        const apiUrl = String(o.api).replace(/\/+$/, '');
        try {
          const token =
            rtmpUrls.length > 0
              ? ''
              : await apiToken(apiUrl, {
                  token: (o.apiToken as string | undefined) ?? process.env.SE_API_TOKEN,
                  username: o.apiUser as string | undefined,
                  password: (o.apiPassword as string | undefined) ?? process.env.SE_API_PASSWORD,
                });
          rtmp = new RtmpPushers({
            urls: rtmpUrls,
            count: o.rtmp as number,
            api: { baseUrl: apiUrl, token },
            namePrefix: String(o.rtmpName),
            log: (line) => process.stdout.write(`sharp-eyes sim: ${line}\n`),
          });
          if (rtmpUrls.length === 0) process.stdout.write(`sharp-eyes sim: creating (or reusing) ${String(o.rtmp)} RTMP devices through ${apiUrl}/api/devices/import\n`);
          for (const t of await rtmp.start()) {
            process.stdout.write(`sharp-eyes sim: RTMP pusher "${t.name}"${t.deviceId ? ` (device ${t.deviceId})` : ''} → ${redactPublishUrl(t.publishUrl)}\n`);
          }
          process.stdout.write(`sharp-eyes sim: ${rtmp.targets.length} RTMP pushers publishing H.264 + AAC (Ctrl+C stops them; the devices stay)\n`);
        } catch (err) {
          process.stderr.write(`sharp-eyes sim: RTMP pushers not started: ${err instanceof Error ? err.message : String(err)}\n`);
          await rtmp?.stop();
          await onvif?.stop();
          await stopGb();
          await stopUpper();
          process.exit(1);
        }
      }
      stopOnSignals(async () => {
        await stopUpper();
        await rtmp?.stop();
        await onvif?.stop();
        await stopGb();
      });
    });

  program
    .command('demo')
    .description('run the gateway on the embedded store with simulated demo devices (quick start)')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('-n, --devices <n>', 'number of simulated devices', parseIntArg('--devices', 1, 10_000), 24)
    .option('-m, --channels <m>', 'channels per simulated NVR', parseIntArg('--channels', 1, 256), 8)
    .action(demo);

  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`sharp-eyes: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
