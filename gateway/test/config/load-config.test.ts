import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type GatewayConfig, type LoadConfigOptions } from '../../src/config/load-config.js';
import { listLeafSpecs, envNameForPath } from '../../src/config/schema.js';
import { configuredPlatforms } from '../../src/config/platforms.js';

const scratchDir = mkdtempSync(join(tmpdir(), 'se-config-test-'));
afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

let fileCounter = 0;
function yamlFile(text: string): string {
  const file = join(scratchDir, `gateway-${++fileCounter}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Runs `load` and returns the ConfigError it must throw. */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}

const EXPECTED_DEFAULTS: GatewayConfig = {
  sip: {
    id: '44030500002000000001',
    domain: '4403050000',
    host: '0.0.0.0',
    advertisedHost: '',
    port: 5060,
    password: '12345678',
    unknownDevices: 'accept',
    registerExpiresMin: 60,
    registerExpiresMax: 86400,
    keepaliveIntervalSec: 60,
    keepaliveMissCount: 3,
    catalogOnRegister: true,
    catalogSubscription: 'platforms',
    alarmSubscription: 'platforms',
    mobilePositionSubscription: 'platforms',
    mobilePositionIntervalSec: 5,
    mobilePositionRetentionDays: 7,
    subscriptionExpiresSec: 3600,
    catalogTimeoutSec: 10,
    queryTimeoutSec: 10,
    maxMessageBytes: 65535,
    dateHeader: true,
    lockout: { maxFailures: 5, windowSec: 300, durationSec: 600 },
    natRebinding: 'profile',
    registerThrottle: { ratePerSec: 20, burst: 100 },
    devices: [],
  },
  http: { host: '0.0.0.0', port: 8080, apiTokens: [], kioskTokens: [], sessionTtlSec: 43200, wsMaxBufferedBytes: 1048576, tls: { certFile: '', keyFile: '' } },
  store: { mongoUrl: '', mongoDatabase: 'sharp_eyes', dataDir: './data', flushIntervalMs: 1000, commitWaitMs: 3000, operationTimeoutMs: 5000, maxQueuedWrites: 500_000 },
  media: {
    host: '',
    ports: '30000-30999',
    defaultTransport: 'profile',
    idleSec: 20,
    inviteTimeoutSec: 8,
    firstPacketTimeoutSec: 5,
    keyframeTimeoutSec: 6,
    rtpTimeoutSec: 10,
    transcodeH265: false,
    inProcessMuxer: true,
    segmentSeconds: 1,
    llhlsWindowSec: 0,
    llhlsIdleWindowSec: 10,
    tokenTtlSec: 21600,
    maxStreams: 1000,
  },
  admin: { username: 'admin', password: '' },
  access: {
    loginMaxFailuresPerUser: 5,
    loginMaxFailuresPerSource: 20,
    loginLockoutSec: 60,
    loginMaxLockoutSec: 3600,
    loginFailureWindowSec: 900,
    ptzLeaseSec: 30,
    auditRetentionDays: 180,
  },
  log: { level: 'info', pretty: false },
  health: {
    evaluateIntervalSec: 15,
    snapshotIntervalMin: 5,
    onlineRateTargetPermille: 980,
    intactRateTargetPermille: 950,
    expectedFps: 25,
    streamFailureWindowMin: 60,
    webhookTimeoutMs: 5000,
    webhookRetries: 3,
    webhookRetryBaseMs: 1000,
    timeZone: 'Asia/Shanghai',
    defaultOfflineRuleMinutes: 10,
    dailyReportTime: '07:30',
    reportRetentionDays: 180,
  },
  alarms: { escalateAfterMin: 10 },
  regions: { names: [] },
  devices: { idPrefix: '', pollIntervalSec: 30, pollMissesToOffline: 2, pollConcurrency: 64 },
  rtmp: { host: '0.0.0.0', port: 1935, advertisedHost: '' },
  onvif: { discoveryInterface: '', discoveryPort: 3702, events: true, eventSubscriptionSec: 60, eventPullTimeoutSec: 10, healthAuthEvery: 10 },
  cascade: { platforms: [], ptzRole: 'operator' },
  deviceProfilesDir: 'device-profiles',
};

describe('defaults', () => {
  it('loads the documented defaults with no file and an empty environment', () => {
    expect(loadConfig({ env: {} })).toEqual(EXPECTED_DEFAULTS);
  });

  it('returns independent objects, so mutating one result does not leak into the next', () => {
    const first = loadConfig({ env: {} });
    first.sip.devices.push({ id: '44030500001320000001' });
    first.http.apiTokens.push('x');
    first.sip.lockout.maxFailures = 99;
    expect(loadConfig({ env: {} })).toEqual(EXPECTED_DEFAULTS);
  });

  it('derives the domain from the final sip.id unless the domain is set', () => {
    expect(loadConfig({ env: { SE_SIP_ID: '34020000002000000001' } }).sip.domain).toBe('3402000000');
    const file = yamlFile('sip:\n  domain: "1234567890"\n');
    expect(loadConfig({ file, env: { SE_SIP_ID: '34020000002000000001' } }).sip.domain).toBe('1234567890');
  });

  it('treats an empty file (or comments only) as all defaults', () => {
    expect(loadConfig({ file: yamlFile(''), env: {} })).toEqual(EXPECTED_DEFAULTS);
    expect(loadConfig({ file: yamlFile('# nothing here\n'), env: {} })).toEqual(EXPECTED_DEFAULTS);
  });
});

describe('precedence: defaults < file < environment < overrides', () => {
  const file = yamlFile(
    [
      'sip:',
      '  port: 5070',
      '  keepaliveIntervalSec: 30',
      '  lockout:',
      '    maxFailures: 7',
      '  devices:',
      '    - id: "44030500001320000001"',
      '      password: "cam-pass"',
      'http:',
      '  apiTokens: ["file-token"]',
      'log:',
      '  level: debug',
    ].join('\n'),
  );

  it('file values replace defaults and leave other keys alone', () => {
    const config = loadConfig({ file, env: {} });
    expect(config.sip.port).toBe(5070);
    expect(config.sip.keepaliveIntervalSec).toBe(30);
    expect(config.sip.lockout).toEqual({ maxFailures: 7, windowSec: 300, durationSec: 600 });
    expect(config.sip.devices).toEqual([{ id: '44030500001320000001', password: 'cam-pass' }]);
    expect(config.log.level).toBe('debug');
    expect(config.sip.keepaliveMissCount).toBe(3);
  });

  it('environment beats the file, overrides beat the environment', () => {
    const env = { SE_SIP_PORT: '5080', SE_SIP_LOCKOUT_MAX_FAILURES: '9', SE_LOG_LEVEL: 'warn' };
    const fromEnv = loadConfig({ file, env });
    expect(fromEnv.sip.port).toBe(5080);
    expect(fromEnv.sip.lockout.maxFailures).toBe(9);
    expect(fromEnv.log.level).toBe('warn');
    expect(fromEnv.sip.keepaliveIntervalSec).toBe(30); // file value not touched by env

    const overridden = loadConfig({ file, env, overrides: { sip: { port: 5090, lockout: { windowSec: 60 } } } });
    expect(overridden.sip.port).toBe(5090);
    expect(overridden.sip.lockout).toEqual({ maxFailures: 9, windowSec: 60, durationSec: 600 });
  });

  it('lists are replaced, not merged', () => {
    const config = loadConfig({
      file,
      env: { SE_SIP_DEVICES: '[{"id":"44030500001320000002","noAuth":true}]' },
    });
    expect(config.sip.devices).toEqual([{ id: '44030500001320000002', noAuth: true }]);
    const overridden = loadConfig({ file, env: {}, overrides: { http: { apiTokens: ['o'] } } });
    expect(overridden.http.apiTokens).toEqual(['o']);
  });

  it('reads process.env when no env is given', () => {
    const previous = process.env.SE_SIP_KEEPALIVE_MISS_COUNT;
    process.env.SE_SIP_KEEPALIVE_MISS_COUNT = '6';
    try {
      expect(loadConfig().sip.keepaliveMissCount).toBe(6);
    } finally {
      if (previous === undefined) delete process.env.SE_SIP_KEEPALIVE_MISS_COUNT;
      else process.env.SE_SIP_KEEPALIVE_MISS_COUNT = previous;
    }
  });
});

describe('environment variables', () => {
  it.each([
    ['SE_SIP_ID', '34020000002000000009', (c: GatewayConfig) => c.sip.id],
    ['SE_SIP_DOMAIN', '3402000000', (c: GatewayConfig) => c.sip.domain],
    ['SE_SIP_HOST', '127.0.0.1', (c: GatewayConfig) => c.sip.host],
    ['SE_SIP_ADVERTISED_HOST', '192.0.2.10', (c: GatewayConfig) => c.sip.advertisedHost],
    ['SE_SIP_PASSWORD', 'p@ss word', (c: GatewayConfig) => c.sip.password],
    ['SE_MONGO_URL', 'mongodb://127.0.0.1:27017', (c: GatewayConfig) => c.store.mongoUrl],
    ['SE_DATA_DIR', '/var/lib/sharp-eyes', (c: GatewayConfig) => c.store.dataDir],
    ['SE_HTTP_HOST', '127.0.0.1', (c: GatewayConfig) => c.http.host],
  ])('%s sets its key verbatim', (name, value, read) => {
    expect(read(loadConfig({ env: { [name]: value } }))).toBe(value);
  });

  it('SE_SIP_PORT and SE_HTTP_PORT are parsed as integers', () => {
    const config = loadConfig({ env: { SE_SIP_PORT: '15060', SE_HTTP_PORT: ' 18080 ' } });
    expect(config.sip.port).toBe(15060);
    expect(config.http.port).toBe(18080);
  });

  it('SE_API_TOKEN appends one token to the tokens from the file and SE_HTTP_API_TOKENS', () => {
    const file = yamlFile('http:\n  apiTokens: ["from-file"]\n');
    expect(loadConfig({ file, env: { SE_API_TOKEN: 'from-env' } }).http.apiTokens).toEqual(['from-file', 'from-env']);
    expect(
      loadConfig({ file, env: { SE_HTTP_API_TOKENS: '["a","b"]', SE_API_TOKEN: 'c' } }).http.apiTokens,
    ).toEqual(['a', 'b', 'c']);
    // An empty SE_API_TOKEN (e.g. an unset compose variable) adds nothing; the same token is not listed twice.
    expect(loadConfig({ file, env: { SE_API_TOKEN: '' } }).http.apiTokens).toEqual(['from-file']);
    expect(loadConfig({ file, env: { SE_API_TOKEN: 'from-file' } }).http.apiTokens).toEqual(['from-file']);
  });

  it('the generic SE_STORE_* names work too, and agreeing duplicates are fine', () => {
    expect(loadConfig({ env: { SE_STORE_MONGO_URL: 'mongodb://h/x' } }).store.mongoUrl).toBe('mongodb://h/x');
    expect(loadConfig({ env: { SE_STORE_DATA_DIR: '/d', SE_DATA_DIR: '/d' } }).store.dataDir).toBe('/d');
  });

  it('an alias and its generic name with different values is an error naming both', () => {
    const err = configError(() => loadConfig({ env: { SE_MONGO_URL: 'mongodb://a', SE_STORE_MONGO_URL: 'mongodb://b' } }));
    expect(err.key).toBe('store.mongoUrl');
    expect(err.message).toContain('SE_MONGO_URL');
    expect(err.message).toContain('SE_STORE_MONGO_URL');
  });

  it('SE_MONGO_URL="" selects the embedded store even when the file names a MongoDB', () => {
    const file = yamlFile('store:\n  mongoUrl: "mongodb://db:27017"\n');
    expect(loadConfig({ file, env: { SE_MONGO_URL: '' } }).store.mongoUrl).toBe('');
  });

  it('every integer and boolean key is reachable by its generic SE_ name', () => {
    for (const { path, spec } of listLeafSpecs()) {
      const name = envNameForPath(path);
      if (spec.kind === 'integer') {
        const value = spec.default < spec.max ? spec.default + 1 : spec.default - 1;
        expect(readPath(loadConfig({ env: { [name]: String(value) } }), path), name).toBe(value);
      } else if (spec.kind === 'boolean') {
        const config = loadConfig({ env: { [name]: spec.default ? '0' : '1' } });
        expect(readPath(config, path), name).toBe(!spec.default);
      }
    }
  });

  it('booleans accept true/false/1/0 in any case', () => {
    expect(loadConfig({ env: { SE_LOG_PRETTY: 'TRUE' } }).log.pretty).toBe(true);
    expect(loadConfig({ env: { SE_SIP_DATE_HEADER: 'false' } }).sip.dateHeader).toBe(false);
    expect(loadConfig({ env: { SE_SIP_CATALOG_ON_REGISTER: '0' } }).sip.catalogOnRegister).toBe(false);
  });

  it('unknown SE_* variables are ignored', () => {
    expect(loadConfig({ env: { SE_SIMULATOR_DEVICES: '3', SE_SIP_KEEPALIVE: 'x' } })).toEqual(EXPECTED_DEFAULTS);
  });

  it.each([
    ['SE_SIP_PORT', 'abc', 'sip.port', 'must be an integer 0-65535 (got "abc")'],
    ['SE_SIP_PORT', '70000', 'sip.port', 'must be an integer 0-65535 (got 70000)'],
    ['SE_HTTP_PORT', '', 'http.port', 'must be an integer'],
    ['SE_SIP_KEEPALIVE_INTERVAL_SEC', '1.5', 'sip.keepaliveIntervalSec', 'must be an integer'],
    ['SE_SIP_CATALOG_ON_REGISTER', 'yes', 'sip.catalogOnRegister', 'must be true, false, 1 or 0'],
    ['SE_LOG_LEVEL', 'verbose', 'log.level', 'must be one of fatal, error, warn, info, debug, trace'],
    ['SE_SIP_ID', '4403050000200000000', 'sip.id', 'must be exactly 20 digits'],
    ['SE_SIP_DOMAIN', '440305', 'sip.domain', 'must be 10 digits'],
    ['SE_SIP_DEVICES', '{not json', 'sip.devices', 'must be a JSON array'],
    ['SE_SIP_DEVICES', '[{"id":"44030500001320000001","pasword":"x"}]', 'sip.devices[0].pasword', 'unknown key (did you mean "password"?)'],
    ['SE_SIP_DEVICES', '[{"id":44030500001320000001}]', 'sip.devices[0].id', 'must be a string'],
    ['SE_SIP_DEVICES', '[{"id":"44030500001320000001","natRebinding":"always"}]', 'sip.devices[0].natRebinding', 'must be one of off, port, address'],
    ['SE_SIP_NAT_REBINDING', 'sometimes', 'sip.natRebinding', 'must be one of profile, off, port, address'],
    ['SE_SIP_REGISTER_THROTTLE_BURST', '0', 'sip.registerThrottle.burst', 'must be an integer'],
    ['SE_HTTP_API_TOKENS', '"one"', 'http.apiTokens', 'must be a list of strings'],
    ['SE_MONGO_URL', 'http://db', 'store.mongoUrl', 'must be a mongodb://'],
  ])('%s=%j is rejected, naming the variable and the key', (name, value, key, problem) => {
    const err = configError(() => loadConfig({ env: { [name]: value } }));
    expect(err.key).toBe(key);
    expect(err.envVar).toBe(name);
    expect(err.message).toContain(`config: ${key}: ${problem}`);
    expect(err.message).toContain(`environment variable ${name}`);
  });
});

describe('unknown keys in the file', () => {
  it.each([
    ['top level', 'sipp:\n  port: 5060\n', 'sipp', 1, 'did you mean "sip"'],
    ['second level', 'sip:\n  port: 5060\n  keepaliveInterval: 30\n', 'sip.keepaliveInterval', 3, 'did you mean "keepaliveIntervalSec"'],
    ['third level', 'sip:\n  lockout:\n    maxFailure: 3\n', 'sip.lockout.maxFailure', 3, 'did you mean "maxFailures"'],
    ['snake_case spelling', 'store:\n  mongo_url: ""\n', 'store.mongo_url', 2, 'did you mean "mongoUrl"'],
    ['inside a list entry', 'sip:\n  devices:\n    - id: "44030500001320000001"\n      colour: red\n', 'sip.devices[0].colour', 4, 'known keys here: id, password, noAuth, profile, name'],
    ['nowhere near a real key', 'http:\n  zzz: 1\n', 'http.zzz', 2, 'known keys here: host, port'],
  ])('%s', (_label, text, key, line, hint) => {
    const file = yamlFile(text);
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe(key);
    expect(err.line).toBe(line);
    expect(err.message).toContain(`config: ${key}: unknown key`);
    expect(err.message).toContain(hint);
    expect(err.message).toContain(`${file} line ${line}`);
  });

  it('unknown keys in overrides are rejected as well', () => {
    const overrides = { sip: { portt: 1 } } as unknown as LoadConfigOptions['overrides'];
    expect(configError(() => loadConfig({ env: {}, overrides })).key).toBe('sip.portt');
  });
});

/** One upper platform in the file, fields appended by the cases. */
const UPPER = 'cascade:\n  platforms:\n    - id: "51000000002000000001"\n      domain: "5100000000"\n      host: 10.0.0.9\n      port: 5060\n      password: secret\n';

describe('upper platforms in the file (cascade.platforms)', () => {
  it('loads entries with ints, enums and lists, and leaves absent fields absent', () => {
    const config = loadConfig({
      file: yamlFile(UPPER + '      charset: UTF-8\n      shareRegions: ["4403", "440305"]\n      shareChannels: ["44030500001310000001"]\n'),
      env: {},
    });
    expect(config.cascade.platforms).toEqual([
      { id: '51000000002000000001', domain: '5100000000', host: '10.0.0.9', port: 5060, password: 'secret', charset: 'UTF-8', shareRegions: ['4403', '440305'], shareChannels: ['44030500001310000001'] },
    ]);
  });

  it('takes an ID mapping as "ours=upper" items, rebuilt into the platform\'s channelIds', () => {
    const config = loadConfig({ file: yamlFile(UPPER + '      shareAll: true\n      channelIds: ["44030500001310000001=51010200001310000007"]\n'), env: {} });
    expect(config.cascade.platforms[0]!.channelIds).toEqual(['44030500001310000001=51010200001310000007']);
    expect(configuredPlatforms(config.cascade.platforms)[0]!.channelIds).toEqual({ '44030500001310000001': '51010200001310000007' });
  });

  it('can be set from the environment as a JSON array', () => {
    const env = { SE_CASCADE_PLATFORMS: '[{"id":"51000000002000000001","domain":"5100000000","host":"10.0.0.9","port":5060,"password":"x","shareAll":true}]' };
    expect(loadConfig({ env }).cascade.platforms[0]).toMatchObject({ id: '51000000002000000001', shareAll: true });
  });
});

describe('bad values in the file', () => {
  it.each([
    ['sip:\n  port: abc\n', 'sip.port', 'must be an integer 0-65535 (got "abc")'],
    ['sip:\n  port: 70000\n', 'sip.port', 'must be an integer 0-65535 (got 70000)'],
    ['sip:\n  port: "5060"\n', 'sip.port', 'must be an integer'],
    ['sip:\n  id: 44030500002000000001\n', 'sip.id', 'must be a string (got 44030500002000000000, a rounded number; put the value in quotes)'],
    ['sip:\n  id: "4403050000200000000x"\n', 'sip.id', 'must be exactly 20 digits'],
    ['sip:\n  domain: "440305000"\n', 'sip.domain', 'must be 10 digits'],
    ['sip:\n  host:\n', 'sip.host', 'must be a string (got null; write "" for empty)'],
    ['sip:\n  host: ""\n', 'sip.host', 'must not be empty'],
    ['sip:\n  unknownDevices: maybe\n', 'sip.unknownDevices', 'must be one of accept, reject'],
    ['sip:\n  keepaliveIntervalSec: 0\n', 'sip.keepaliveIntervalSec', 'must be an integer 1-3600 (got 0)'],
    ['sip:\n  keepaliveMissCount: -1\n', 'sip.keepaliveMissCount', 'must be an integer 1-100'],
    ['sip:\n  lockout:\n    durationSec: 0\n', 'sip.lockout.durationSec', 'must be an integer 1-'],
    ['sip:\n  lockout: 5\n', 'sip.lockout', 'must be a mapping of keys (got a number)'],
    ['sip:\n  catalogOnRegister: "yes"\n', 'sip.catalogOnRegister', 'must be true or false (got "yes")'],
    ['sip:\n  devices:\n    - name: x\n', 'sip.devices[0].id', 'is required'],
    ['sip:\n  devices: {}\n', 'sip.devices', 'must be a list of device entries'],
    ['http:\n  apiTokens: ["ok", ""]\n', 'http.apiTokens[1]', 'must be a non-empty string'],
    ['store:\n  mongoUrl: "postgres://x"\n', 'store.mongoUrl', 'must be a mongodb:// or mongodb+srv:// URL'],
    ['store:\n  mongoDatabase: "a.b"\n', 'store.mongoDatabase', 'must be 1-63 characters'],
    ['log:\n  level: verbose\n', 'log.level', 'must be one of fatal, error, warn, info, debug, trace (got "verbose")'],
    ['deviceProfilesDir: 3\n', 'deviceProfilesDir', 'must be a string'],
    ['regions:\n  names:\n    - code: "4403x"\n      name: x\n', 'regions.names[0].code', 'must be a region code'],
    ['regions:\n  names:\n    - code: "440305001"\n', 'regions.names[0].name', 'is required'],
    [UPPER.replace('port: 5060', 'port: "5060"'), 'cascade.platforms[0].port', 'must be an integer 1-65535'],
    [UPPER + '      charset: latin1\n', 'cascade.platforms[0].charset', 'must be one of GB2312, GB18030, UTF-8'],
    [UPPER + '      shareRegions: "4403"\n', 'cascade.platforms[0].shareRegions', 'must be a list of strings'],
    [UPPER + '      transport: sctp\n', 'cascade.platforms[0].transport', 'must be one of udp, tcp'],
    [UPPER + '      shareAll: true\n      shareChannels: ["34020000001320000001"]\n', 'cascade.platforms[0].shareAll', 'shareAll shares everything'],
    [UPPER.replace('51000000002000000001', '44030500002000000001'), 'cascade.platforms[0].id', 'upper platform ID 44030500002000000001 is the gateway\'s own sip.id'],
    [UPPER + UPPER.replace('cascade:\n  platforms:\n', ''), 'cascade.platforms[1].id', 'duplicate upper platform ID 51000000002000000001'],
  ])('%j → %s', (text, key, problem) => {
    const err = configError(() => loadConfig({ file: yamlFile(text), env: {} }));
    expect(err.key).toBe(key);
    expect(err.message).toContain(`config: ${key}: ${problem}`);
    expect(err.line).toBeGreaterThan(0);
  });

  it('never echoes a secret value in the message', () => {
    const err = configError(() => loadConfig({ file: yamlFile('sip:\n  password: 87654321\n'), env: {} }));
    expect(err.key).toBe('sip.password');
    expect(err.message).toContain('put the value in quotes');
    expect(err.message).not.toContain('87654321');
  });

  it('registerExpiresMin above registerExpiresMax is an error naming the key that was set', () => {
    const file = yamlFile('sip:\n  registerExpiresMin: 7200\n  registerExpiresMax: 3600\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe('sip.registerExpiresMin');
    expect(err.message).toContain('must not exceed sip.registerExpiresMax');
    expect(err.line).toBe(2);
    // Equal values are allowed.
    expect(loadConfig({ env: { SE_SIP_REGISTER_EXPIRES_MIN: '3600', SE_SIP_REGISTER_EXPIRES_MAX: '3600' } }).sip.registerExpiresMin).toBe(3600);
  });

  it('duplicate device IDs are an error pointing at the second entry', () => {
    const file = yamlFile(
      'sip:\n  devices:\n    - id: "44030500001320000001"\n    - id: "44030500001320000002"\n    - id: "44030500001320000001"\n',
    );
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe('sip.devices[2].id');
    expect(err.message).toContain('duplicate device ID 44030500001320000001 (also sip.devices[0])');
    expect(err.line).toBe(5);
  });

  it('a device may not use the gateway\'s own ID', () => {
    const err = configError(() =>
      loadConfig({ env: {}, overrides: { sip: { devices: [{ id: '44030500002000000001' }] } } }),
    );
    expect(err.key).toBe('sip.devices[0].id');
  });

  it('http.tls needs both the certificate and the key: the missing one is named, the line of the other given', () => {
    const err = configError(() => loadConfig({ file: yamlFile('http:\n  tls:\n    certFile: /etc/se/cert.pem\n'), env: {} }));
    expect(err.key).toBe('http.tls.keyFile');
    expect(err.message).toContain('set together');
    expect(err.line).toBe(3);
    expect(configError(() => loadConfig({ env: { SE_HTTP_TLS_KEY_FILE: '/etc/se/key.pem' } })).key).toBe('http.tls.certFile');
    expect(loadConfig({ env: { SE_HTTP_TLS_CERT_FILE: '/c.pem', SE_HTTP_TLS_KEY_FILE: '/k.pem' } }).http.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
  });

  it('http.port equal to sip.port is allowed (different protocols)', () => {
    expect(loadConfig({ env: { SE_SIP_PORT: '8080', SE_HTTP_PORT: '8080' } }).http.port).toBe(8080);
  });

  it('bad override values are rejected too', () => {
    expect(configError(() => loadConfig({ env: {}, overrides: { http: { port: -1 } } })).key).toBe('http.port');
  });
});

describe('the file itself', () => {
  it('malformed YAML names the line', () => {
    const file = yamlFile('sip:\n  port: 5060\n  devices: [\n    {id: "1"\nhttp:\n  port: 1\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe('');
    expect(err.message).toMatch(/^config: malformed YAML: .+, column \d+ \(.+ line \d+\)$/);
    expect(err.line).toBeGreaterThanOrEqual(4);
    expect(err.file).toBe(file);
  });

  it('a key written twice is malformed, not silently last-wins', () => {
    const err = configError(() => loadConfig({ file: yamlFile('sip:\n  port: 1\n  port: 2\n'), env: {} }));
    expect(err.message).toContain('malformed YAML');
    expect(err.line).toBe(3);
  });

  it('a file that is not a mapping is rejected', () => {
    const err = configError(() => loadConfig({ file: yamlFile('- sip\n- http\n'), env: {} }));
    expect(err.message).toContain('must contain a mapping of keys (got a list)');
  });

  it('a missing file is an error naming the file', () => {
    const file = join(scratchDir, 'does-not-exist.yaml');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.message).toBe(`config: cannot read config file: file not found (${file})`);
    expect(err.file).toBe(file);
  });
});

function readPath(config: GatewayConfig, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const segment of path) node = (node as Record<string, unknown>)[segment];
  return node;
}
