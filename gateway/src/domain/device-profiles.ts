/**
 * Vendor device profiles: quirks as data (device-profiles/*.yaml), not as `if (manufacturer === …)` code.
 *
 * A profile is picked per device from what we know about it — the REGISTER User-Agent first, then the
 * DeviceInfo manufacturer/model — and tells the rest of the gateway which charset to write, how to ask for a
 * sub-stream, where to send config commands, and so on. See device-profiles/README.md for the fields.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ManscdpCharset } from '../codecs/manscdp/charset.js';
// How far a device's source may move after REGISTER: defined where the signalling engine's source check applies it.
import { NAT_REBINDING_VALUES, type NatRebinding } from '../protocol/gb28181/source-trust.js';

export type { NatRebinding };

export type SubstreamAttributeName = 'streamnumber' | 'streamprofile' | 'stream' | 'streamMode';

/** SDP attribute selecting main/sub stream in a live INVITE: `a=<name>:<main|sub>`. */
export interface SubstreamSdpAttribute {
  name: SubstreamAttributeName;
  main: string;
  sub: string;
}

/** One alternative of `match`: every given pattern must match (case-insensitive regexes). */
export interface DeviceProfileRule {
  manufacturer?: RegExp;
  model?: RegExp;
  userAgent?: RegExp;
}

export interface DeviceProfile {
  name: string;
  description: string;
  /** Higher wins among matching profiles. */
  priority: number;
  /** Alternatives (any may match). `[{}]` matches every device; `[]` only applies when configured by name. */
  match: readonly DeviceProfileRule[];
  charset: ManscdpCharset;
  substreamSdpAttribute: SubstreamSdpAttribute;
  /** Which ID goes into <DeviceID> of DeviceConfig / ConfigDownload. */
  configCommandTarget: 'device' | 'channel';
  /** Accept RTP whose SSRC is 0 or differs from the offer, binding the stream by receive port. */
  allowZeroSsrc: boolean;
  defaultMediaTransport: 'udp' | 'tcp-passive' | 'tcp-active';
  /** Transcode H.265 to H.264 for the web wall. */
  transcodeH265: boolean;
  /** Element name of the force-keyframe DeviceControl: 2016 `IFameCmd` or 2022 `IFrameCmd`. */
  iframeCmdElement: 'IFameCmd' | 'IFrameCmd';
  /** Typical Catalog items per MESSAGE (sizes collection timeouts). */
  catalogItemsPerMessageHint: number;
  /** Where the device may send MESSAGE/NOTIFY/INFO from besides its REGISTER source (optional key, default 'off'). */
  natRebinding: NatRebinding;
  /** File the profile came from (for messages). */
  file: string;
}

export interface DeviceIdentity {
  manufacturer?: string | null;
  model?: string | null;
  userAgent?: string | null;
}

/** A profile file is wrong; `file` and `key` say where. */
export class DeviceProfileError extends Error {
  override readonly name = 'DeviceProfileError';
  constructor(
    readonly file: string,
    readonly key: string,
    problem: string,
  ) {
    super(`${file}: ${key ? `${key}: ` : ''}${problem}`);
  }
}

const CHARSETS: readonly ManscdpCharset[] = ['GB2312', 'GB18030', 'UTF-8'];
const SUBSTREAM_NAMES: readonly SubstreamAttributeName[] = ['streamnumber', 'streamprofile', 'stream', 'streamMode'];
const TRANSPORTS = ['udp', 'tcp-passive', 'tcp-active'] as const;
const TARGETS = ['device', 'channel'] as const;
const IFRAME_ELEMENTS = ['IFameCmd', 'IFrameCmd'] as const;
const RULE_KEYS = ['manufacturer', 'model', 'userAgent'] as const;
const PROFILE_KEYS = [
  'name',
  'description',
  'priority',
  'match',
  'charset',
  'substreamSdpAttribute',
  'configCommandTarget',
  'allowZeroSsrc',
  'defaultMediaTransport',
  'transcodeH265',
  'iframeCmdElement',
  'catalogItemsPerMessageHint',
  'natRebinding',
];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate one parsed YAML document. Exported for tests and for profiles kept elsewhere than files. */
export function parseDeviceProfile(doc: unknown, file: string): DeviceProfile {
  if (!isPlainObject(doc)) throw new DeviceProfileError(file, '', 'must be a YAML mapping');
  for (const key of Object.keys(doc)) {
    if (!PROFILE_KEYS.includes(key)) throw new DeviceProfileError(file, key, `unknown key (known: ${PROFILE_KEYS.join(', ')})`);
  }
  const required = (key: string): unknown => {
    if (!(key in doc) || doc[key] === null || doc[key] === undefined) throw new DeviceProfileError(file, key, 'is required');
    return doc[key];
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], value: unknown): T => {
    if (value === undefined || value === null) throw new DeviceProfileError(file, key, 'is required');
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      throw new DeviceProfileError(file, key, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
    }
    return value as T;
  };
  const bool = (key: string): boolean => {
    const v = required(key);
    if (typeof v !== 'boolean') throw new DeviceProfileError(file, key, `must be true or false (got ${JSON.stringify(v)})`);
    return v;
  };
  const integer = (key: string, min: number): number => {
    const v = required(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new DeviceProfileError(file, key, `must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
    }
    return v;
  };

  const name = required('name');
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(name)) {
    throw new DeviceProfileError(file, 'name', `must be a simple name like "hikvision" (got ${JSON.stringify(name)})`);
  }
  const description = doc['description'] ?? '';
  if (typeof description !== 'string') throw new DeviceProfileError(file, 'description', 'must be a string');

  const sub = required('substreamSdpAttribute');
  if (!isPlainObject(sub)) throw new DeviceProfileError(file, 'substreamSdpAttribute', 'must be a mapping {name, main, sub}');
  for (const key of Object.keys(sub)) {
    if (!['name', 'main', 'sub'].includes(key)) throw new DeviceProfileError(file, `substreamSdpAttribute.${key}`, 'unknown key (known: name, main, sub)');
  }
  const subValue = (key: 'main' | 'sub'): string => {
    const v = sub[key];
    if ((typeof v !== 'string' && typeof v !== 'number') || String(v).trim() === '' || /\s/.test(String(v))) {
      throw new DeviceProfileError(file, `substreamSdpAttribute.${key}`, `must be a non-empty token (got ${JSON.stringify(v)})`);
    }
    return String(v);
  };

  return {
    name,
    description,
    priority: integer('priority', Number.MIN_SAFE_INTEGER),
    match: parseMatch(required('match'), file),
    charset: oneOf('charset', CHARSETS, required('charset')),
    substreamSdpAttribute: {
      name: oneOf('substreamSdpAttribute.name', SUBSTREAM_NAMES, sub['name']),
      main: subValue('main'),
      sub: subValue('sub'),
    },
    configCommandTarget: oneOf('configCommandTarget', TARGETS, required('configCommandTarget')),
    allowZeroSsrc: bool('allowZeroSsrc'),
    defaultMediaTransport: oneOf('defaultMediaTransport', TRANSPORTS, required('defaultMediaTransport')),
    transcodeH265: bool('transcodeH265'),
    iframeCmdElement: oneOf('iframeCmdElement', IFRAME_ELEMENTS, required('iframeCmdElement')),
    catalogItemsPerMessageHint: integer('catalogItemsPerMessageHint', 1),
    natRebinding: doc['natRebinding'] === undefined ? 'off' : oneOf('natRebinding', NAT_REBINDING_VALUES, doc['natRebinding']),
    file,
  };
}

function parseMatch(value: unknown, file: string): DeviceProfileRule[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((rule, i) => {
    const where = Array.isArray(value) ? `match[${i}]` : 'match';
    if (!isPlainObject(rule)) throw new DeviceProfileError(file, where, 'must be a mapping of manufacturer/model/userAgent patterns');
    const compiled: DeviceProfileRule = {};
    for (const [key, pattern] of Object.entries(rule)) {
      if (!(RULE_KEYS as readonly string[]).includes(key)) {
        throw new DeviceProfileError(file, `${where}.${key}`, `unknown key (known: ${RULE_KEYS.join(', ')})`);
      }
      if (typeof pattern !== 'string' || pattern === '') throw new DeviceProfileError(file, `${where}.${key}`, 'must be a non-empty regular expression string');
      try {
        compiled[key as (typeof RULE_KEYS)[number]] = new RegExp(pattern, 'i');
      } catch (err) {
        throw new DeviceProfileError(file, `${where}.${key}`, `invalid regular expression: ${(err as Error).message}`);
      }
    }
    return compiled;
  });
}

/**
 * Load and validate every *.yaml / *.yml in `dir` (sorted by file name). Throws DeviceProfileError naming
 * the file and key on the first problem, on duplicate names, and when no file is found.
 */
export function loadDeviceProfiles(dir: string): DeviceProfile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => /\.ya?ml$/i.test(f)).sort();
  } catch (err) {
    throw new DeviceProfileError(dir, '', `cannot read the profile directory: ${(err as Error).message}`);
  }
  if (names.length === 0) throw new DeviceProfileError(dir, '', 'no *.yaml device profiles found');
  const profiles: DeviceProfile[] = [];
  const byName = new Map<string, string>();
  for (const fileName of names) {
    const path = join(dir, fileName);
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new DeviceProfileError(path, '', `not valid YAML: ${(err as Error).message}`);
    }
    const profile = parseDeviceProfile(doc, path);
    const previous = byName.get(profile.name);
    if (previous) throw new DeviceProfileError(path, 'name', `"${profile.name}" is already defined in ${basename(previous)}`);
    byName.set(profile.name, path);
    profiles.push(profile);
  }
  return profiles;
}

function ruleMatches(rule: DeviceProfileRule, who: DeviceIdentity): boolean {
  const test = (pattern: RegExp | undefined, value: string | null | undefined): boolean =>
    pattern === undefined || (typeof value === 'string' && value.trim() !== '' && pattern.test(value.trim()));
  return test(rule.manufacturer, who.manufacturer) && test(rule.model, who.model) && test(rule.userAgent, who.userAgent);
}

/** True when the profile matches this device. */
export function profileMatches(profile: DeviceProfile, who: DeviceIdentity): boolean {
  return profile.match.some((rule) => ruleMatches(rule, who));
}

/**
 * Picks the profile for a device: the highest-priority matching profile; ties go to the profile loaded
 * first (file-name order). Needs a catch-all profile (an empty match rule) so there is always an answer.
 */
export class DeviceProfileMatcher {
  private readonly ordered: readonly DeviceProfile[];
  private readonly fallback: DeviceProfile;

  constructor(profiles: readonly DeviceProfile[]) {
    // Stable sort: equal priorities keep load order.
    this.ordered = [...profiles].sort((a, b) => b.priority - a.priority);
    const catchAll = [...this.ordered].reverse().find((p) => p.match.some((r) => Object.keys(r).length === 0));
    if (!catchAll) {
      throw new DeviceProfileError('device-profiles', 'match', 'no catch-all profile (one with `match: {}`, e.g. generic.yaml) was loaded');
    }
    this.fallback = catchAll;
  }

  match(who: DeviceIdentity): DeviceProfile {
    return this.ordered.find((p) => profileMatches(p, who)) ?? this.fallback;
  }

  get profiles(): readonly DeviceProfile[] {
    return this.ordered;
  }
}
