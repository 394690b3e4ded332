/**
 * Composition root: builds every part of the gateway from a validated config, in dependency order, and
 * tears them down in reverse. Nothing else in the code base constructs services; everything below this
 * file receives its collaborators.
 */
import { networkInterfaces } from 'node:os';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve as resolvePath, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type GatewayConfig } from './config/schema.js';
import { createStore } from './store/index.js';
import type { GatewayStore } from './domain/store.js';
import { GatewayEvents } from './domain/events.js';
import { WriteBehind, withTimeout } from './domain/write-behind.js';
import { DeviceRegistry } from './domain/registry/device-registry.js';
import { TreeIndex } from './domain/catalog/tree-index.js';
import { TreeViews } from './domain/catalog/tree-views.js';
import { configuredRegionNames, loadRegionDataset, RegionNames } from './domain/catalog/region-names.js';
import { CatalogService } from './domain/catalog/catalog-service.js';
import { AlarmService, type IncomingAlarm } from './domain/alarms/alarm-service.js';
import { AlarmEscalation } from './domain/alarms/alarm-escalation.js';
import { AuthService } from './domain/auth/auth-service.js';
import { PtzLeaseConflict, PtzService } from './domain/control/ptz-service.js';
import { UserService } from './domain/auth/user-service.js';
import { ScopedCatalog } from './domain/auth/scoped-catalog.js';
import { AuditLog } from './domain/audit/audit-log.js';
import { StatsService } from './domain/stats.js';
import { ConflictError, NotFoundError, UpstreamError, type GatewayServices } from './domain/services.js';
import { loadDeviceProfiles } from './domain/device-profiles.js';
import { SipTransport } from './transport/sip-transport.js';
import { SipEndpoint } from './protocol/sip-endpoint.js';
import { GbSignalling, type GbDirectory } from './protocol/gb28181/gb-signalling.js';
import { GatewayMetrics } from './observability/metrics.js';
import { buildHttpServer } from './api/http-server.js';
import { StreamService, type StreamTarget } from './domain/streams/stream-service.js';
import { loginGrant, sessionGrant } from './domain/streams/media-grants.js';
import { ViewService } from './domain/views/view-service.js';
import { TourService } from './domain/views/tour-service.js';
import { PlatformService } from './domain/cascade/platform-service.js';
import { configuredPlatforms } from './config/platforms.js';
import { CatalogNotifier } from './domain/cascade/catalog-notifier.js';
import { DeviceSubscriptions } from './domain/devices/device-subscriptions.js';
import { PositionService } from './domain/positions/position-service.js';
import { MobilePositionNotifier } from './domain/cascade/position-notifier.js';
import type { CatalogItem } from './codecs/manscdp/messages.js';
import { CascadeResponder } from './domain/cascade/cascade-responder.js';
import { UpwardLegs } from './domain/cascade/upward-legs.js';
import { recordsPage } from './domain/streams/recordings.js';
import { UpperRegistration } from './protocol/gb28181/upper-registration.js';
import { SessionService } from './domain/sessions/session-service.js';
import { HealthService } from './domain/health/health-service.js';
import { TreeViewsGrouping } from './domain/health/grouping.js';
import { ProtocolDevices } from './domain/devices/protocol-devices.js';
import { DeviceImports } from './domain/devices/device-import.js';
import { OnvifDriver } from './domain/devices/drivers/onvif-driver.js';
import { RtspDriver } from './domain/devices/drivers/rtsp-driver.js';
import { RtmpDriver } from './domain/devices/drivers/rtmp-driver.js';
import { GbDriver } from './domain/devices/drivers/gb-driver.js';
import { GbProfiles } from './domain/devices/drivers/gb-profiles.js';
import { RtmpIngestServer } from './protocol/rtmp/rtmp-ingest.js';

/** Repository (package) root: dist/app.js and gateway/src/app.ts both sit two levels below it or one. */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/app.js → repo root is one up; gateway/src/app.ts → two up.
  return here.endsWith(`${'/'}dist`) ? resolvePath(here, '..') : resolvePath(here, '..', '..');
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly httpUrl: string;
  readonly services: GatewayServices;
  readonly store: GatewayStore;
  /** Escalation of unacknowledged alarms; its timer calls `tick()`, tests call it with the time they want. */
  readonly alarmEscalation: AlarmEscalation;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Where the web page is served from (defaults to web/dist when built, else web/). */
  webRoot?: string;
}

function firstLanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** web/dist once `npm run build:web` (part of `npm ci`'s prepare step) has built the wall, else web/ itself. */
function builtWebRoot(root: string): string {
  const built = resolvePath(root, 'web', 'dist');
  return existsSync(resolvePath(built, 'index.html')) ? built : resolvePath(root, 'web');
}

export function advertisedSipHost(config: GatewayConfig): string {
  if (config.sip.advertisedHost) return config.sip.advertisedHost;
  if (config.sip.host && config.sip.host !== '0.0.0.0' && config.sip.host !== '::') return config.sip.host;
  return firstLanAddress();
}

export function createLogger(config: GatewayConfig): Logger {
  return pino({
    level: config.log.level,
    base: { service: 'sharp-eyes' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // pino-pretty runs in pino's transport worker thread, so pretty printing never blocks the event loop.
    ...(config.log.pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true } } }
      : {}),
  });
}

/** The certificate and key of http.tls, or null for plain HTTP. */
function readTlsFiles(tls: GatewayConfig['http']['tls']): { cert: Buffer; key: Buffer } | null {
  if (!tls.certFile) return null;
  const read = (key: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return { cert: read('http.tls.certFile', tls.certFile), key: read('http.tls.keyFile', tls.keyFile) };
}

export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config);
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.error({ err }, 'error while shutting down');
      }
    }
    closers.length = 0;
  };

  try {
    // Read before any port is bound: a missing certificate stops the start like any other config error.
    const tls = readTlsFiles(config.http.tls);
    mkdirSync(config.store.dataDir, { recursive: true });
    const root = packageRoot();
    // GB28181 device profiles and the per-device policies from sip.devices (domain/devices/drivers/gb-profiles.ts).
    const profiles = new GbProfiles(loadDeviceProfiles(resolvePath(root, config.deviceProfilesDir)), config.sip, logger);

    const metrics = new GatewayMetrics();
    const store = createStore({
      mongoUrl: config.store.mongoUrl,
      mongoDatabase: config.store.mongoDatabase,
      dataDir: config.store.dataDir,
      logger: logger.child({ component: 'store' }),
      operationTimeoutMs: config.store.operationTimeoutMs,
    });
    await store.init();
    closers.push(() => store.close());
    logger.info({ store: store.description }, 'store ready');

    const events = new GatewayEvents();
    const writer = new WriteBehind(
      store,
      { flushIntervalMs: config.store.flushIntervalMs, operationTimeoutMs: config.store.operationTimeoutMs, maxQueued: config.store.maxQueuedWrites },
      logger.child({ component: 'write-behind' }),
      {
        onBatchWritten: (op, _items, seconds) => metrics.storeWrite(op, seconds),
        onBatchFailed: (op) => metrics.storeWriteFailed(op),
        onDropped: (kind, count) => metrics.storeQueueDroppedRows(kind, count),
        onNotDurable: (outcome) => metrics.storeAckNotDurable(outcome),
      },
    );
    metrics.setStoreQueueProvider(() => ({ queued: writer.queued, degraded: writer.health().state === 'degraded' }));
    writer.start();
    closers.push(() => writer.close());

    const registry = new DeviceRegistry(
      store,
      writer,
      events,
      { keepaliveIntervalSec: config.sip.keepaliveIntervalSec, keepaliveMissCount: config.sip.keepaliveMissCount },
      logger.child({ component: 'registry' }),
    );
    await registry.load();
    closers.push(() => registry.close());
    metrics.setDeviceCountsProvider(() => registry.counts());
    // GB28181's rules (registration, profiles, addressing, channel resolution); its signalling engine is connected below.
    const gb = new GbDriver({ registry, profiles, sip: config.sip, channels: store, logger });

    const auth = new AuthService(
      store,
      {
        staticTokens: config.http.apiTokens,
        sessionTtlSec: config.http.sessionTtlSec,
        admin: config.admin,
        loginGuard: {
          maxFailuresPerUser: config.access.loginMaxFailuresPerUser,
          maxFailuresPerSource: config.access.loginMaxFailuresPerSource,
          lockoutSec: config.access.loginLockoutSec,
          maxLockoutSec: config.access.loginMaxLockoutSec,
          failureWindowSec: config.access.loginFailureWindowSec,
        },
      },
      logger.child({ component: 'auth' }),
    );
    await auth.bootstrap();
    const users = new UserService(store, logger.child({ component: 'users' }));
    const audit = new AuditLog(store.records, { retentionDays: config.access.auditRetentionDays }, logger.child({ component: 'audit' }), () => metrics.auditWriteFailed());
    audit.start();
    closers.push(() => audit.close());
    auth.audit = audit;
    auth.onLogin = (result) => metrics.apiLogin(result);
    const tokenPurge = setInterval(() => void store.purgeExpiredSessionTokens(Date.now()).catch(() => undefined), 3600_000);
    tokenPurge.unref();
    closers.push(() => clearInterval(tokenPurge));

    // ---- SIP
    const transport = new SipTransport({
      host: config.sip.host,
      port: config.sip.port,
      maxMessageBytes: config.sip.maxMessageBytes,
      logger: logger.child({ component: 'sip-transport' }),
    });
    transport.on('parse-error', (err) => metrics.parseError(err.reason));
    transport.on('message', (msg) => {
      if (msg.kind === 'request') metrics.sipMessage('in', 'request', msg.method, '');
      else metrics.sipMessage('in', 'response', '', String(msg.status));
    });
    transport.on('connection-closed', (source) => {
      if (source.connectionId) registry.connectionClosed(source.connectionId);
    });
    await transport.listen();
    closers.push(() => transport.close());
    const advertisedHost = advertisedSipHost(config);

    const endpoint = new SipEndpoint({
      transport,
      localId: config.sip.id,
      localDomain: config.sip.domain,
      advertisedHost,
      advertisedPort: transport.port,
      userAgent: 'sharp-eyes-gateway',
      logger: logger.child({ component: 'sip' }),
    });
    endpoint.on('response-sent', (status, method) => metrics.sipMessage('out', 'response', method, String(status)));
    closers.push(() => endpoint.close());

    // Built once the catalog and streams exist; SIP traffic that arrives before that is not in its history.
    let health: HealthService | null = null;
    let cascade: CascadeResponder | undefined;
    let applyCatalogNotify: ((deviceId: string, items: CatalogItem[]) => Promise<unknown>) | undefined;
    const directory: GbDirectory = {
      credentialsFor: (deviceId) => gb.credentialsFor(deviceId),
      keepalive(deviceId, source) {
        const accepted = gb.keepalive(deviceId, source);
        if (accepted) health?.keepaliveArrived(deviceId);
        return accepted;
      },
      checkSource: (deviceId, source) => gb.checkSource(deviceId, source),
      // Group commit (docs/durability.md): the 200 OK waits until the registration is durable, at most
      // store.commitWaitMs; while the store is down it is answered from memory (counted as not durable).
      ...(config.store.commitWaitMs > 0
        ? { registrationDurable: () => writer.whenDurable(config.store.commitWaitMs), alarmDurable: () => writer.whenDurable(config.store.commitWaitMs) }
        : {}),
      // Cascade (set once the platforms are loaded below): an upper platform's MESSAGEs are queries to us.
      upperPlatformAt: (senderId, source) => cascade?.platformAt(senderId, source) ?? false,
      upperMayQuery: (platformId, targetId) => cascade?.mayQuery(platformId, targetId) ?? false,
      // Catalog NOTIFYs of our subscriptions: answered once applied (set once the catalog service exists below).
      catalogNotified: (deviceId, items) => (applyCatalogNotify ? applyCatalogNotify(deviceId, items) : Promise.resolve()),
    };
    const signalling = new GbSignalling({
      endpoint,
      directory,
      sipId: config.sip.id,
      domain: config.sip.domain,
      registerExpiresMin: config.sip.registerExpiresMin,
      registerExpiresMax: config.sip.registerExpiresMax,
      dateHeader: config.sip.dateHeader,
      lockout: config.sip.lockout,
      queryTimeoutMs: config.sip.queryTimeoutSec * 1000,
      catalogIdleTimeoutMs: config.sip.catalogTimeoutSec * 1000,
      maxBodyBytes: 2 * 1024 * 1024,
      registerThrottle: config.sip.registerThrottle,
      logger: logger.child({ component: 'gb28181' }),
    });
    signalling.on('rejected', (e) => metrics.sipRequestRejected(e.reason));
    signalling.on('throttled', (e) => metrics.sipRegisterThrottled(e.outcome));
    closers.push(() => signalling.close());
    signalling.on('auth-failure', (e) => {
      metrics.authFailure(e.reason);
      if (e.reason !== 'stale-nonce') logger.warn({ deviceId: e.deviceId, source: `${e.source.address}:${e.source.port}`, reason: e.reason }, 'REGISTER refused');
      if (e.reason !== 'stale-nonce') health?.signallingError(e.deviceId, `registration refused: ${e.reason}`);
    });
    signalling.on('lockout', () => metrics.lockout());

    gb.connect(signalling);
    signalling.on('registered', (e) => gb.registered(e));
    signalling.on('unregistered', (e) => gb.unregistered(e));

    const tree = new TreeIndex();
    // Region and group views of the same catalog (the web wall's trees; per-region/group aggregation).
    const treeViews = new TreeViews(tree, new RegionNames(loadRegionDataset(), configuredRegionNames(config.regions.names)));
    const catalog = new CatalogService(
      store,
      writer,
      registry,
      tree,
      // Catalog and DeviceInfo queries (DeviceInfo re-matches the device's profile) go through the GB driver.
      gb,
      events,
      { catalogOnRegister: config.sip.catalogOnRegister, maxConcurrentQueries: 32, maxQueuedQueries: 200_000, partCommitWaitMs: config.store.commitWaitMs },
      logger.child({ component: 'catalog' }),
      { itemsStored: (n) => metrics.catalogItems(n), partNotDurable: () => metrics.storeAckNotDurable('catalog-part') },
    );
    await catalog.load();
    closers.push(() => catalog.close());
    applyCatalogNotify = (deviceId, items) => catalog.applyNotify(deviceId, items);
    // Subscriptions to lower platforms' (and, if configured, devices') catalog changes, alarms and mobile
    // positions (device-subscriptions.ts), each package with its own policy.
    const subscribePort = {
      subscribe: (event: 'Catalog' | 'Alarm' | 'MobilePosition', deviceId: string, expiresSec: number, dialog: Parameters<typeof gb.subscribe>[3]) =>
        gb.subscribe(event, deviceId, expiresSec, dialog, { intervalSec: config.sip.mobilePositionIntervalSec }),
    };
    for (const [event, policy] of [
      ['Catalog', config.sip.catalogSubscription],
      ['Alarm', config.sip.alarmSubscription],
      ['MobilePosition', config.sip.mobilePositionSubscription],
    ] as const) {
      const subscriptions = new DeviceSubscriptions(events, subscribePort, { event, policy, expiresSec: config.sip.subscriptionExpiresSec }, logger.child({ component: 'subscriptions' }));
      closers.push(() => subscriptions.close());
    }
    // Mobile positions (GB MobilePosition): from our subscriptions' NOTIFYs and from MESSAGEs sent unasked.
    const positions = new PositionService(
      {
        records: store.records,
        deviceOfChannel: (channelId) => gb.deviceOfChannel(channelId),
        onPosition: (position) => events.emit('channel-position', position),
        count: (outcome) => metrics.mobilePosition(outcome),
        logger: logger.child({ component: 'positions' }),
      },
      { retentionDays: config.sip.mobilePositionRetentionDays },
    );
    await positions.load();
    closers.push(() => positions.close());
    signalling.on('mobile-position', (e) => {
      positions.receive(e.deviceId, e.notify).catch((err: unknown) => logger.warn({ err, deviceId: e.deviceId }, 'mobile position not taken'));
    });

    const alarms = new AlarmService(writer, events, logger.child({ component: 'alarms' }));
    /** The one way into the alarm pipeline, for GB alarms and the events of added (ONVIF) devices alike. */
    const receiveAlarm = (alarm: IncomingAlarm): void => {
      metrics.alarmReceived();
      alarms.received(alarm);
    };
    signalling.on('alarm', (e) => receiveAlarm(gb.alarmOf(e)));

    const ptz = new PtzService(
      {
        resolve: async (channelId) => {
          const added = protocolDevices?.ptzTarget(channelId);
          if (added) return added;
          return gb.ptzTarget(channelId);
        },
        send: async (target, hex, order) => {
          // Added devices (ONVIF) take the order through their driver; GB devices the PTZCmd over SIP.
          if (protocolDevices?.has(target.deviceId)) return protocolDevices.ptz(target.channelId, order);
          if (!hex) throw new ConflictError(`${order.kind} is not a GB28181 PTZ command (channel ${target.channelId}); it is available on ONVIF channels`);
          await gb.sendPtz(target.channelId, target.deviceId, hex);
        },
      },
      logger.child({ component: 'ptz' }),
      { leaseMs: config.access.ptzLeaseSec * 1000 },
    );
    closers.push(() => ptz.close());

    // ---- live video
    const [portMin, portMax] = config.media.ports.split('-').map(Number);
    if (!(portMin > 0 && portMax >= portMin && portMax <= 65535)) {
      throw new Error(`config: media.ports: "${config.media.ports}" is not a valid range (min ≤ max, 1-65535)`);
    }
    const mediaDir = resolvePath(config.store.dataDir, 'media');
    mkdirSync(mediaDir, { recursive: true });
    // Devices added through the API (ONVIF, RTSP, RTMP); built below, once the stream service exists.
    let protocolDevices: ProtocolDevices | null = null;
    const streams = new StreamService(
      {
        resolve: async (channelId): Promise<StreamTarget | null> => {
          const added = protocolDevices?.streamTarget(channelId);
          if (added) return added;
          return gb.streamTarget(channelId);
        },
        invite: (target, sdpOffer, subject, timeoutMs) =>
          signalling.dialogs.invite({ channelId: target.channelId, destination: target.destination, domain: config.sip.domain, sdpOffer, subject, timeoutMs }),
        bye: (dialog) => signalling.dialogs.bye(dialog),
        info: (dialog, body, contentType) => signalling.dialogs.info(dialog, body, contentType),
      },
      {
        sipId: config.sip.id,
        domain: config.sip.domain,
        mediaHost: config.media.host || advertisedHost,
        bindHost: config.sip.host,
        portRange: [portMin, portMax],
        mediaDir,
        defaultTransport: config.media.defaultTransport,
        idleSec: config.media.idleSec,
        inviteTimeoutSec: config.media.inviteTimeoutSec,
        firstPacketTimeoutSec: config.media.firstPacketTimeoutSec,
        keyframeTimeoutSec: config.media.keyframeTimeoutSec,
        rtpTimeoutSec: config.media.rtpTimeoutSec,
        transcodeH265: config.media.transcodeH265,
        inProcessMuxer: config.media.inProcessMuxer,
        segmentSeconds: config.media.segmentSeconds,
        llhlsWindowSec: config.media.llhlsWindowSec,
        llhlsIdleWindowSec: config.media.llhlsIdleWindowSec,
        tokenTtlSec: config.media.tokenTtlSec,
        maxStreams: config.media.maxStreams,
      },
      logger.child({ component: 'streams' }),
    );
    signalling.dialogs.on('remote-bye', (dialog) => streams.remoteBye(dialog));
    // In-dialog MESSAGEs: MediaStatus 121 ends a playback or download stream (GbDriver.dialogMessage).
    signalling.dialogs.on('dialog-message', (dialog, req) => {
      const meaning = gb.dialogMessage(dialog.callId, req.body);
      if (meaning === 'unreadable') metrics.sipRequestRejected('bad-body');
      else if (meaning === 'end-of-file') streams.endOfFile(dialog.callId);
    });
    streams.on('stream-status', (view) => events.emit('stream-status', view));
    streams.on('stream-failed', (failure) => {
      metrics.streamFailed(failure.step);
      events.emit('stream-failed', failure);
    });
    metrics.setStreamCountProvider(() => streams.active);
    metrics.setStreamTotalsProvider(() => {
      const t = { bitrateKbps: 0, packets: 0, packetsLost: 0, foreignSsrcDropped: 0, viewers: 0, frames: 0, bytes: 0, droppedFrames: 0, listeners: 0, audioRenditions: 0 };
      for (const v of streams.list()) {
        t.frames += v.frames;
        t.bytes += v.bytes;
        t.droppedFrames += v.droppedFrames;
        t.bitrateKbps += v.bitrateKbps;
        t.packets += v.packets;
        t.packetsLost += v.packetsLost;
        t.foreignSsrcDropped += v.foreignSsrcDropped;
        t.viewers += v.viewers;
        t.listeners += v.listeners;
        if (v.audioRendition) t.audioRenditions++;
      }
      return t;
    });
    metrics.setStreamReadersProvider(() => streams.list().flatMap((v) => v.readers));
    let announced = new Set<string>();
    streams.on('stream-status', (view) => {
      // Time to first frame, once per stream, when it starts playing.
      if (view.state === 'playing' && view.timeToFirstFrameMs !== null && !announced.has(view.streamId)) {
        announced.add(view.streamId);
        metrics.streamStarted(view.timeToFirstFrameMs);
      }
      if (view.state === 'closed' || view.state === 'failed') announced.delete(view.streamId);
      if (announced.size > 100_000) announced = new Set();
    });
    closers.push(() => streams.close());

    // ---- devices added through the API: drivers, RTMP ingest, liveness polling (docs/devices.md)
    const rtmpDriver = new RtmpDriver({
      keyOfChannel: (channelId) => protocolDevices?.keyOfChannel(channelId) ?? null,
      publishing: (deviceId, _channelId, isLive, reason) => protocolDevices?.publishing(deviceId, isLive, reason),
    });
    const ingest = new RtmpIngestServer({ host: config.rtmp.host, port: config.rtmp.port, authorize: (req) => rtmpDriver.authorize(req) });
    ingest.on('publish', (p) => rtmpDriver.onPublish(p));
    ingest.on('metadata', (p, meta) => rtmpDriver.onMetadata(p, meta));
    ingest.on('tag', (p, tag) => rtmpDriver.onTag(p, tag));
    ingest.on('unpublish', (p, reason) => rtmpDriver.onUnpublish(p, reason));
    ingest.on('refused', (r) => logger.info({ remote: r.remote, reason: r.reason }, 'RTMP connection refused'));
    try {
      await ingest.listen();
      closers.push(() => ingest.close());
    } catch (err) {
      // RTMP is one way in among several: a taken port must not keep GB28181 cameras from registering.
      logger.error({ err: (err as Error).message, port: config.rtmp.port }, 'RTMP ingest not listening (rtmp.port, SE_RTMP_PORT); RTMP devices cannot publish');
    }
    const rtmpHost = config.rtmp.advertisedHost || advertisedHost;
    const added = new ProtocolDevices(
      {
        records: store.records,
        registry,
        catalog,
        drivers: {
          onvif: new OnvifDriver({
            logger: logger.child({ component: 'onvif' }),
            events: { terminationSec: config.onvif.eventSubscriptionSec, pullTimeoutSec: config.onvif.eventPullTimeoutSec },
            healthAuthEvery: config.onvif.healthAuthEvery,
            onEventFeed: (what, reason) => metrics.onvifEventFeed(what, reason),
          }),
          rtsp: new RtspDriver({ logger: logger.child({ component: 'rtsp' }) }),
          rtmp: rtmpDriver,
        },
        idTaken: (id) => registry.get(id) !== undefined || tree.has(id),
        stopStreams: (channelIds, why) => streams.stopChannels(channelIds, why),
        flushWrites: () => writer.flush(),
        deleteDeviceRows: (deviceId) => store.deleteDevice(deviceId),
        alarm: receiveAlarm,
        deviceEvent: (kind, raised) => metrics.deviceEvent(kind, raised),
        logger: logger.child({ component: 'devices' }),
      },
      {
        idPrefix: config.devices.idPrefix || config.sip.id.slice(0, 10),
        pollIntervalMs: config.devices.pollIntervalSec * 1000,
        missesToOffline: config.devices.pollMissesToOffline,
        pollConcurrency: config.devices.pollConcurrency,
        rtmpBaseUrl: () => `rtmp://${rtmpHost.includes(':') ? `[${rtmpHost}]` : rtmpHost}:${ingest.port || config.rtmp.port}`,
        events: config.onvif.events,
      },
    );
    await added.load();
    protocolDevices = added;
    const imports = new DeviceImports({
      match: (input) => added.match(input),
      add: (input) => added.add(input),
      // A re-imported file means "make it so": its new credentials apply even when the camera refuses them
      // (it then shows offline, auth-failed), unlike a PATCH, which is refused then (docs/devices.md).
      update: (deviceId, patch) => added.update(deviceId, { ...patch, force: true }),
      progress: (progress) => events.emit('import-progress', progress),
      // An add describes the device like a probe does: the poller's bound on probes in flight fits.
      concurrency: config.devices.pollConcurrency,
    });
    closers.push(() => added.close());
    /** GB-only operations (SIP queries, GB PTZ) refuse added devices instead of sending SIP to an HTTP port. */
    const gbOnly = (deviceId: string, what: string): void => {
      if (added.has(deviceId)) throw new ConflictError(`${what} is a GB28181 operation; device ${deviceId} is ${registry.get(deviceId)?.protocol ?? 'not GB28181'}`);
    };

    // Per-region figures on the region tree's top-level nodes, as the wall and the health console show them.
    const stats = new StatsService(registry, tree, treeViews);
    /** Resolve an online device for a live query, or throw the error the API maps to 404/409. */
    const onlineDevice = (deviceId: string): void => {
      const device = registry.get(deviceId);
      if (!device) throw new NotFoundError(`device ${deviceId} not found`);
      if (device.status !== 'online') throw new ConflictError(`device ${deviceId} is offline (since ${new Date(device.statusChangedAt).toISOString()})`);
    };
    const live = async <T>(deviceId: string, what: string, query: () => Promise<T>): Promise<T> => {
      // DeviceInfo / DeviceStatus are SIP queries: an added (ONVIF/RTSP/RTMP) device has no SIP side.
      if (protocolDevices?.has(deviceId)) throw new ConflictError(`${what} is a GB28181 query; device ${deviceId} is ${registry.get(deviceId)?.protocol ?? 'not GB28181'}`);
      onlineDevice(deviceId);
      try {
        return await query();
      } catch (err) {
        throw new UpstreamError(`${what} query to device ${deviceId} failed: ${(err as Error).message}`);
      }
    };
    let httpReady = false;

    // ---- wall: saved views and tours
    const views = new ViewService(store.records);
    const tours = new TourService(store.records);
    const sessions = new SessionService(store.records, logger.child({ component: 'sessions' }), {}, {
      joinFailed: (reason) => metrics.sessionJoinFailed(reason),
    });
    await sessions.load();
    // Media access follows the session: its end (or a point's removal) stops the guests' video at once.
    sessions.on('event', (event) => {
      if (event.type === 'ended') streams.revoke(sessionGrant(event.sessionId));
      else if (event.type === 'removed') streams.revoke(sessionGrant(event.sessionId, event.data.participantId));
    });
    sessions.on('guest-left', ({ sessionId, participantId }) => streams.revoke(sessionGrant(sessionId, participantId)));
    closers.push(() => sessions.close());

    // ---- maintenance health console and alert rules
    health = new HealthService(
      {
        store,
        registry,
        tree,
        events,
        streams,
        // The dashboard's region / group nodes are the wall tree's nodes, with its names and counts.
        grouping: new TreeViewsGrouping(treeViews),
        logger: logger.child({ component: 'health' }),
        metrics: {
          delivery: (outcome) => metrics.healthWebhookDelivery(outcome),
          retry: () => metrics.healthWebhookRetry(),
          notification: (event) => metrics.healthAlertNotification(event),
          probe: (outcome) => metrics.healthProbe(outcome),
        },
      },
      {
        keepaliveIntervalSec: config.sip.keepaliveIntervalSec,
        expectedFps: config.health.expectedFps,
        streamFailureWindowMin: config.health.streamFailureWindowMin,
        onlineRateTarget: config.health.onlineRateTargetPermille / 1000,
        intactRateTarget: config.health.intactRateTargetPermille / 1000,
        evaluateIntervalSec: config.health.evaluateIntervalSec,
        snapshotIntervalMin: config.health.snapshotIntervalMin,
        timeZone: config.health.timeZone,
        defaultOfflineRuleMinutes: config.health.defaultOfflineRuleMinutes,
        dailyReportTime: config.health.dailyReportTime,
        reportRetentionDays: config.health.reportRetentionDays,
        webhook: { timeoutMs: config.health.webhookTimeoutMs, retries: config.health.webhookRetries, retryBaseMs: config.health.webhookRetryBaseMs },
      },
    );
    const healthService = health;
    await healthService.start();
    closers.push(() => healthService.close());

    // Alarms nobody acknowledges are raised through the health alerts, with or without an alarm desk open.
    const alarmEscalation = new AlarmEscalation(
      {
        listAlarms: (q) => store.listAlarms(q),
        escalate: async (list, afterMin, at) => (await healthService.escalateAlarms(list, afterMin, at)).length,
        alreadyEscalated: (id) => healthService.alarmEscalated(id),
        resolve: async (id, at) => {
          await healthService.alarmAcknowledged(id, at);
        },
      },
      events,
      logger.child({ component: 'alarm-escalation' }),
      { escalateAfterMin: config.alarms.escalateAfterMin },
    );
    alarmEscalation.start();
    closers.push(() => alarmEscalation.close());

    // Every catalog read goes through the caller's channel scope (domain/auth/scoped-catalog.ts).
    const scoped = new ScopedCatalog(
      {
        listDevices: async (q) => registry.list(q),
        getDevice: async (id) => registry.get(id) ?? null,
        listChannels: (q) => store.listChannels(q),
        getChannel: (id) => store.getChannel(id),
        treeChildren: (parent, page, view) => treeViews.children(view, parent, page),
        treeSearch: (view, q, limit) => treeViews.search(view, q, limit),
        stats: () => stats.compute(),
        listStatusEvents: (q) => store.listStatusEvents(q),
        // Alarms are announced on the WebSocket when they arrive and written a moment later: a list read waits
        // (briefly) for what is queued, so a desk that reloads on the announcement finds the alarm.
        listAlarms: async (q) => {
          await writer.whenDurable(1_000, { acknowledgement: false });
          return store.listAlarms(q);
        },
        getAlarm: async (id) => {
          await writer.whenDurable(1_000, { acknowledgement: false });
          return store.getAlarm(id);
        },
      },
      { index: tree, views: treeViews },
    );

    // ---- cascade: the upper platforms this gateway registers with (registration and keepalive; docs/cascade.md)
    const platforms = new PlatformService(
      store.records,
      (platform, onStatus) => {
        const link = new UpperRegistration(endpoint, {
          platformId: platform.id,
          domain: platform.domain,
          destination: { transport: platform.transport, address: platform.host, port: platform.port },
          localId: platform.localId ?? config.sip.id,
          localDomain: config.sip.domain,
          password: platform.password,
          expiresSec: platform.expires,
          keepaliveSec: platform.keepaliveSec,
          keepaliveMisses: platform.keepaliveMisses,
          charset: platform.charset,
          nextSn: () => signalling.nextSn(),
        });
        link.on('status', onStatus);
        return link;
      },
      (event) => events.emit('platform-status', event),
      logger.child({ component: 'cascade' }),
      config.sip.id,
    );
    // An ID mapping may not hand the upper platform an ID one of our channels already has (platform-service.ts).
    platforms.isOurChannel = (id) => tree.record(id)?.kind === 'channel';
    await platforms.load(configuredPlatforms(config.cascade.platforms));
    closers.push(() => platforms.close());
    cascade = new CascadeResponder(
      platforms,
      { index: tree, views: treeViews },
      {
        send: (platform, fromId, body) =>
          signalling.sendToUpper(platform.id, platform.domain, fromId, { transport: platform.transport, address: platform.host, port: platform.port }, body),
        isOnline: (platformId) => platforms.isOnline(platformId),
        nextSn: () => signalling.nextSn(),
        queryRecords: async (channelId, window) => {
          const deviceId = await gb.deviceOfChannel(channelId);
          if (!deviceId || !registry.isOnline(deviceId)) throw new Error(`the device of ${channelId} is not online`);
          return (await gb.records(deviceId, channelId, window)).items;
        },
        notify: (dialog, state, body) => signalling.sendNotify(dialog, state, body),
      },
      { gatewayId: config.sip.id, gatewayName: 'sharp-eyes gateway', firmware: process.env.npm_package_version ?? 'unknown' },
      logger.child({ component: 'cascade' }),
    );
    const responder = cascade;
    signalling.on('upper-query', (e) => void responder.answer(e));
    // Catalog / Alarm subscriptions from upper platforms: changes NOTIFYed in their dialogs (catalog-notifier.ts).
    const notifier = new CatalogNotifier(platforms, responder, tree, { notify: (dialog, state, body) => signalling.sendNotify(dialog, state, body), nextSn: () => signalling.nextSn() }, logger.child({ component: 'cascade' }));
    responder.alarmDialogOf = (platformId) => notifier.alarmDialogOf(platformId);
    // MobilePosition subscriptions from above: the positions our devices report, of shared channels, NOTIFYed at
    // the subscription's interval (position-notifier.ts).
    // Fed by the position service with the positions it accepted (a device reports only for its own channels).
    const upwardPositions = new MobilePositionNotifier(platforms, responder, { notify: (dialog, state, body) => signalling.sendNotify(dialog, state, body), nextSn: () => signalling.nextSn() }, logger.child({ component: 'cascade' }));
    events.on('channel-position', (p) =>
      upwardPositions.reported(p.deviceId, [{ deviceId: p.id, time: p.time, longitude: p.longitude, latitude: p.latitude, speed: p.speed, direction: p.direction, altitude: p.altitude, height: null }]),
    );
    platforms.subscriptionsOf = (platformId) => [...notifier.eventsOf(platformId), ...upwardPositions.eventsOf(platformId)];
    signalling.on('upper-subscribe', (e) => {
      if (e.event === 'Catalog' || e.event === 'Alarm') notifier.subscribed({ ...e, event: e.event });
      else upwardPositions.subscribed({ ...e, intervalSec: e.intervalSec ?? 5 });
    });
    closers.push(() => notifier.close());
    closers.push(() => upwardPositions.close());
    events.on('alarm', (alarm) => responder.forwardAlarm(alarm));
    // Upward streams: an upper platform's INVITE for a shared channel becomes a viewer of the channel's stream
    // plus an RTP/PS sender to it (one source serves the wall and every upper request).
    const upward = new UpwardLegs(
      platforms,
      responder,
      streams,
      {
        mediaHost: config.media.host || advertisedHost,
        bindHost: config.sip.host,
        localIdOf: (platformId) => {
          const platform = platforms.record(platformId);
          return platform ? responder.localIdOf(platform) : config.sip.id;
        },
        sendInDialog: (leg, method, cseq, content) => signalling.sendUpperInDialog(leg, method, cseq, content),
        nextSn: () => signalling.nextSn(),
        refused: (reason) => metrics.cascadeUpperRefused(reason),
      },
      logger.child({ component: 'cascade-media' }),
    );
    signalling.on('upper-invite', (e) => {
      void upward.invite(e).catch((err: unknown) => {
        logger.error({ err, platformId: e.platformId }, 'upper INVITE failed');
        e.reply(500, 'Server Internal Error');
      });
    });
    signalling.on('upper-bye', (e) => upward.bye(e));
    platforms.upwardLegsOf = (platformId) => upward.list().filter((leg) => leg.platformId === platformId).length;
    // A link that was online and no longer is (the platform forgot us — it restarted — or stopped answering):
    // its INVITE dialogs are gone, so its upward legs end rather than stream into the void (WVP #1927).
    const lastLinkStatus = new Map<string, string>();
    events.on('platform-status', (e) => {
      const before = lastLinkStatus.get(e.platformId);
      lastLinkStatus.set(e.platformId, e.status);
      if (before === 'online' && e.status !== 'online') {
        const ended = upward.endPlatform(e.platformId, `link to the upper platform lost (${e.lastError ?? e.status})`);
        if (ended > 0) logger.info({ platformId: e.platformId, ended, status: e.status }, 'upward streams of a lost upper platform ended');
      }
    });
    // MANSRTSP playback control from above, relayed to the device of that leg's playback.
    signalling.on('upper-info', (e) => {
      void upward.info(e).catch((err: unknown) => {
        logger.error({ err, platformId: e.platformId }, 'upper INFO failed');
        e.reply(500, 'Server Internal Error');
      });
    });
    // What a leak would show: legs, device media dialogs and RTP ports held (each back to 0 when nothing plays).
    metrics.setCascadeMediaProvider(() => ({ legs: upward.counts(), mediaDialogs: signalling.dialogs.size, mediaPorts: streams.portsInUse }));
    // PTZ from above, relayed to the channel's device (GB or ONVIF) through the PTZ service: the platform takes the
    // camera's lease like a local user of the role `cascade.ptzRole`, so it neither fights a local operator who holds
    // the camera nor keeps one of a higher role out (docs/cascade.md). A refused command goes nowhere (logged).
    signalling.on('upper-control', (e) => {
      const actor = { username: `platform:${e.platformId}`, role: config.cascade.ptzRole };
      // The platform names the channel by its ID mapping; the camera is ours (mayQuery let only shared IDs through).
      const channelId = responder.channelOf(e.platformId, e.targetId);
      if (channelId === null) return;
      ptz.relay(channelId, e.ptzCmd, actor).then(
        (r) => {
          metrics.cascadePtzCommand('relayed');
          logger.info({ platformId: e.platformId, channelId, upperId: e.targetId, ptzCmd: e.ptzCmd, takenOverFrom: r.takenOverFrom }, 'PTZ from the upper platform relayed');
        },
        (err: unknown) => {
          const holder = err instanceof PtzLeaseConflict ? err.lease.holder : undefined;
          metrics.cascadePtzCommand(holder ? 'lease-held' : 'refused');
          logger.warn({ platformId: e.platformId, channelId, upperId: e.targetId, ptzCmd: e.ptzCmd, holder, err: (err as Error).message }, 'PTZ from the upper platform not relayed');
        },
      );
    });
    closers.push(() => upward.close());

    const services: GatewayServices = {
      events,
      platforms,
      streams,
      views,
      tours,
      sessions,
      health: healthService,
      readiness: async () => {
        const queue = writer.health();
        const answers = await withTimeout('ping', Math.min(2000, config.store.operationTimeoutMs), () => store.ping()).catch(() => false);
        return { sip: transport.port > 0, http: httpReady, store: answers && queue.state === 'ok', storeDetail: queue.state === 'ok' && !answers ? { ...queue, reason: 'ping failed' } : queue };
      },
      // Live device state has one source of truth, the registry (the scoped catalog reads it): list and detail
      // agree, and both keep answering while the store is down.
      listDevices: (q, p) => scoped.listDevices(q, p),
      getDevice: (id, p) => scoped.getDevice(id, p),
      listChannels: (q, p) => scoped.listChannels(q, p),
      getChannel: (id, p) => scoped.getChannel(id, p),
      onvifDiscovery: {
        defaultInterface: config.onvif.discoveryInterface,
        port: config.onvif.discoveryPort,
        addedAt: (host, port) => added.onvifDeviceAt(host, port),
      },
      addedDevices: {
        add: (input) => added.add(input),
        update: (deviceId, patch) => added.update(deviceId, patch),
        remove: (deviceId) => added.remove(deviceId),
        get: (deviceId) => added.describeAdded(deviceId),
        import: (rows, importId) => imports.run(rows, importId),
      },
      requestCatalog: async (deviceId) => {
        gbOnly(deviceId, 'a catalog query');
        onlineDevice(deviceId);
        catalog.request(deviceId);
        return { deviceId, accepted: true };
      },
      treeChildren: (parent, page, view = 'catalog', p) => scoped.treeChildren(parent, page, view, p),
      treeSearch: (view, q, limit, p) => scoped.treeSearch(view, q, limit, p),
      stats: (p) => scoped.stats(p),
      queryDeviceInfo: (deviceId) =>
        live(deviceId, 'DeviceInfo', async () => {
          const { raw: _raw, sn: _sn, ...info } = await gb.deviceInfo(deviceId);
          return info;
        }),
      listRecords: async (channelId, window, p) => {
        scoped.assertChannelInScope(channelId, p);
        const deviceId = await gb.deviceOfChannel(channelId);
        if (!deviceId) throw new NotFoundError(`channel ${channelId} not found`);
        return live(deviceId, 'RecordInfo', async () => {
          const r = await gb.records(deviceId, channelId, window);
          return recordsPage(r.items, r.complete);
        });
      },
      queryDeviceStatus: (deviceId) =>
        live(deviceId, 'DeviceStatus', async () => {
          const { raw: _raw, sn: _sn, ...status } = await gb.deviceStatus(deviceId);
          return status;
        }),
      listStatusEvents: (q, p) => scoped.listStatusEvents(q, p),
      // Each alarm says whether the gateway escalated it: the wall and the alarm desk mark those without a rule of their own.
      listAlarms: async (q, p) => {
        const page = await scoped.listAlarms(q, p);
        return { ...page, items: page.items.map((a) => ({ ...a, escalatedAt: a.id !== undefined ? (health?.alarmEscalatedAt(a.id) ?? null) : null })) };
      },
      acknowledgeAlarm: async (id, by, note, p) => {
        await writer.flush();
        if (!(await scoped.alarmVisible(id, p))) return null;
        const alarm = await store.acknowledgeAlarm(id, by, note, Date.now());
        if (alarm) events.emit('alarm-acknowledged', alarm);
        return alarm;
      },
      ptz: async (channelId, request, p) => {
        scoped.assertChannelInScope(channelId, p);
        return ptz.execute(channelId, request, p);
      },
      ptzPresets: async (channelId, p) => {
        scoped.assertChannelInScope(channelId, p);
        if (!added.ptzTarget(channelId)) {
          if ((await gb.deviceOfChannel(channelId)) === null) throw new NotFoundError(`channel ${channelId} not found`);
          throw new ConflictError(`channel ${channelId} is a GB28181 channel: its presets are not kept by the gateway (GB PTZ presets are numbers 1–255 called with {"action":"preset"})`);
        }
        return added.ptzPresets(channelId);
      },
      ptzLease: async (channelId, p) => {
        scoped.assertChannelInScope(channelId, p);
        return ptz.leaseOf(channelId);
      },
      channelPosition: async (channelId, p) => {
        scoped.assertChannelInScope(channelId, p);
        return positions.latestOf(channelId);
      },
      channelTrack: async (channelId, window, p) => {
        scoped.assertChannelInScope(channelId, p);
        return positions.trackOf(channelId, window.start, window.end);
      },
      releasePtz: async (channelId, p) => {
        scoped.assertChannelInScope(channelId, p);
        return ptz.release(channelId, p);
      },
      assertChannelInScope: (channelId, p) => scoped.assertChannelInScope(channelId, p),
      channelScopeOf: (p) => scoped.scopeOf(p),
      users,
      audit,
      login: (u, p, source) => auth.login(u, p, source),
      logout: async (t) => {
        await auth.logout(t);
        // Signing out ends the video that login opened, not only future requests.
        streams.revoke(loginGrant(t));
      },
      authenticate: (t) => auth.authenticate(t),
      getUser: (u) => store.getUser(u),
    };

    // ---- HTTP
    const webRoot = options.webRoot ?? builtWebRoot(root);
    const http: FastifyInstance = await buildHttpServer({
      services,
      metrics,
      logger: logger.child({ component: 'http' }),
      apiTokens: config.http.apiTokens,
      kioskTokens: config.http.kioskTokens,
      wsMaxBufferedBytes: config.http.wsMaxBufferedBytes,
      webRoot,
      tls,
    });
    await http.listen({ host: config.http.host, port: config.http.port });
    closers.push(() => http.close());
    httpReady = true;
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    const httpHost = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;

    logger.info(
      {
        sip: `${config.sip.host}:${transport.port} (udp+tcp)`,
        advertisedHost,
        sipId: config.sip.id,
        domain: config.sip.domain,
        http: `${tls ? 'https' : 'http'}://${httpHost}:${httpPort}`,
        store: store.description,
        devices: registry.counts(),
      },
      'gateway ready',
    );

    let closing: Promise<void> | null = null;
    return {
      config,
      logger,
      sipPort: transport.port,
      httpPort,
      httpUrl: `${tls ? 'https' : 'http'}://${httpHost}:${httpPort}`,
      services,
      store,
      alarmEscalation,
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
