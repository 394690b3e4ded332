/**
 * Loads the gateway configuration: defaults ← YAML file ← environment ← overrides, validated against the
 * schema table in schema.ts. Every problem is a ConfigError naming the key (and the file line or the
 * environment variable it came from), so a typo stops the gateway at start instead of being ignored.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import {
  CONFIG_SCHEMA,
  ConfigError,
  envNameForPath,
  listLeafSpecs,
  type DeepPartial,
  type GatewayConfig,
  type GroupSpec,
  type ItemFieldSpec,
  type LeafSpec,
  type ObjectListSpec,
} from './schema.js';

export { ConfigError, describeConfigKeys, envNameForPath } from './schema.js';
export type { ConfigKeyDescription, DeepPartial, DeviceConfigEntry, GatewayConfig, LogLevel, UnknownDevicePolicy } from './schema.js';

export interface LoadConfigOptions {
  /** YAML file; absent = defaults and environment only. A named file that cannot be read is an error. */
  file?: string;
  /** Environment to read `SE_*` variables from; defaults to process.env. Pass `{}` for a hermetic load. */
  env?: NodeJS.ProcessEnv;
  /** Applied last (tests, CLI flags). Arrays replace, they are not merged. */
  overrides?: DeepPartial<GatewayConfig>;
}

/** Where a value came from, for error messages. */
interface Origin {
  envVar?: string;
  file?: string;
  line?: number;
}
type PathSegment = string | number;
/** Resolves the origin of a value at a path (list indexes included) within one source. */
type Locate = (path: readonly PathSegment[]) => Origin;

/** The config while it is being assembled: plain nested records, typed as GatewayConfig only once validated. */
type ConfigTree = Record<string, unknown>;

export function loadConfig(opts: LoadConfigOptions = {}): GatewayConfig {
  const tree = buildDefaults(CONFIG_SCHEMA);
  // Origin of each leaf that was set by a source, so cross-field errors can point at the right line/variable.
  const origins = new Map<string, Locate>();

  if (opts.file !== undefined) {
    const { data, locate } = readYamlFile(opts.file);
    if (data !== null && data !== undefined) {
      if (!isPlainObject(data)) {
        throw new ConfigError('', `the file must contain a mapping of keys (got ${describeType(data)})`, { file: opts.file });
      }
      applyGroup(tree, CONFIG_SCHEMA, data, [], locate, origins);
    }
  }

  applyEnvironment(tree, opts.env ?? process.env, origins);

  if (opts.overrides !== undefined) {
    const noOrigin: Locate = () => ({});
    if (!isPlainObject(opts.overrides)) throw new ConfigError('', 'overrides must be an object');
    applyGroup(tree, CONFIG_SCHEMA, opts.overrides, [], noOrigin, origins);
  }

  const config = tree as unknown as GatewayConfig; // every leaf has been checked against the table, which is typed by GatewayConfig
  if (config.sip.domain === '') config.sip.domain = config.sip.id.slice(0, 10);
  checkCrossFields(config, origins);
  return config;
}

// ---------------------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------------------

function buildDefaults(group: GroupSpec): ConfigTree {
  const tree: ConfigTree = {};
  for (const [name, spec] of Object.entries(group.fields)) {
    if (spec.kind === 'group') tree[name] = buildDefaults(spec);
    else if (spec.kind === 'stringList') tree[name] = [...spec.default];
    else if (spec.kind === 'objectList') tree[name] = [];
    else tree[name] = spec.default;
  }
  return tree;
}

// ---------------------------------------------------------------------------------------------------------
// YAML file
// ---------------------------------------------------------------------------------------------------------

function readYamlFile(file: string): { data: unknown; locate: Locate } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : code;
    throw new ConfigError('', `cannot read config file: ${reason}`, { file });
  }

  const lineCounter = new LineCounter();
  // uniqueKeys: a key written twice is almost always a copy-paste mistake; the default (last wins) would hide it.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const position = firstError.linePos?.[0];
    // yaml's pretty message is "<what> at line L, column C:\n\n<snippet>"; keep the first part, the line goes in the suffix.
    const what = firstError.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    const column = position ? `, column ${position.col}` : '';
    throw new ConfigError('', `malformed YAML: ${what}${column}`, { file, line: position?.line });
  }

  const locate: Locate = (path) => {
    const line = findLine(doc.contents, path, lineCounter);
    return line === undefined ? { file } : { file, line };
  };
  // toJS() also resolves aliases; its maxAliasCount guard stops "billion laughs" documents.
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    throw new ConfigError('', `malformed YAML: ${(err as Error).message}`, { file });
  }
  return { data, locate };
}

/** 1-based line of the deepest node along `path` (the key for mapping entries, so the line an operator edits). */
function findLine(root: unknown, path: readonly PathSegment[], lineCounter: LineCounter): number | undefined {
  let node: unknown = root;
  let offset: number | undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as YamlNode).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (!item) break;
      offset = (item as YamlNode).range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

// ---------------------------------------------------------------------------------------------------------
// Applying one source (file, env JSON, overrides) onto the tree
// ---------------------------------------------------------------------------------------------------------

function applyGroup(
  target: ConfigTree,
  group: GroupSpec,
  input: Record<string, unknown>,
  path: readonly string[],
  locate: Locate,
  origins: Map<string, Locate>,
): void {
  for (const [name, value] of Object.entries(input)) {
    const keyPath = [...path, name];
    const spec = group.fields[name];
    if (!spec || !Object.hasOwn(group.fields, name)) {
      throw new ConfigError(formatKey(keyPath), unknownKeyMessage(name, Object.keys(group.fields)), locate(keyPath));
    }
    if (value === undefined) continue; // only possible in overrides: DeepPartial allows explicit undefined
    if (spec.kind === 'group') {
      if (!isPlainObject(value)) {
        throw new ConfigError(formatKey(keyPath), `must be a mapping of keys (got ${describeType(value)})`, locate(keyPath));
      }
      applyGroup(target[name] as ConfigTree, spec, value, keyPath, locate, origins);
    } else {
      target[name] = checkLeaf(spec, value, keyPath, locate);
      origins.set(formatKey(keyPath), (sub) => locate([...keyPath, ...sub]));
    }
  }
}

/** Validates one value against its spec and returns a fresh copy (the tree never aliases caller objects). */
function checkLeaf(spec: LeafSpec | ItemFieldSpec, value: unknown, path: readonly PathSegment[], locate: Locate): unknown {
  const fail = (problem: string, at: readonly PathSegment[] = path): never => {
    throw new ConfigError(formatKey(at), problem, locate(at));
  };
  const got = (v: unknown): string => describeGot(v, spec.secret === true);

  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') {
        // Unquoted digits are the classic YAML trap here: a 20-digit ID becomes a rounded float.
        const hint = typeof value === 'number' ? '; put the value in quotes' : value === null ? '; write "" for empty' : '';
        return fail(`must be a string (got ${got(value)}${hint})`);
      }
      if (spec.pattern && !spec.pattern.test(value)) return fail(`must be ${spec.patternHint ?? `a string matching ${spec.pattern}`} (got ${got(value)})`);
      if (spec.minLength && value.length < spec.minLength) return fail('must not be empty');
      return value;
    }
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        return fail(`must be one of ${spec.values.join(', ')} (got ${got(value)})`);
      }
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) {
        return fail(`must be an integer ${spec.min}-${spec.max} (got ${got(value)})`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') return fail(`must be true or false (got ${got(value)})`);
      return value;
    case 'stringList': {
      if (!Array.isArray(value)) return fail(`must be a list of strings (got ${got(value)})`);
      value.forEach((item: unknown, index) => {
        if (typeof item !== 'string' || item === '') fail(`must be a non-empty string (got ${got(item)})`, [...path, index]);
      });
      return [...(value as string[])];
    }
    case 'objectList':
      return checkObjectList(spec, value, path, locate);
  }
}

function checkObjectList(spec: ObjectListSpec, value: unknown, path: readonly PathSegment[], locate: Locate): unknown[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(formatKey(path), `must be a list of ${spec.itemName} entries (got ${describeType(value)})`, locate(path));
  }
  return value.map((item: unknown, index) => {
    const itemPath = [...path, index];
    if (!isPlainObject(item)) {
      throw new ConfigError(formatKey(itemPath), `must be a mapping with keys ${Object.keys(spec.fields).join(', ')} (got ${describeType(item)})`, locate(itemPath));
    }
    const entry: Record<string, unknown> = {};
    for (const [name, fieldValue] of Object.entries(item)) {
      const field = spec.fields[name];
      const fieldPath = [...itemPath, name];
      if (!field || !Object.hasOwn(spec.fields, name)) {
        throw new ConfigError(formatKey(fieldPath), unknownKeyMessage(name, Object.keys(spec.fields)), locate(fieldPath));
      }
      if (fieldValue === undefined) continue;
      entry[name] = checkLeaf(field, fieldValue, fieldPath, locate);
    }
    for (const [name, field] of Object.entries(spec.fields)) {
      if (!field.optional && !(name in entry)) {
        throw new ConfigError(formatKey([...itemPath, name]), 'is required', locate(itemPath));
      }
    }
    return entry;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

/**
 * Every key can be set by `SE_<PATH_IN_SNAKE_CASE>` plus the documented aliases. Other `SE_*` variables are
 * ignored on purpose: other tools (simulator, scripts) share the prefix.
 */
function applyEnvironment(tree: ConfigTree, env: NodeJS.ProcessEnv, origins: Map<string, Locate>): void {
  for (const { path, spec } of listLeafSpecs()) {
    const key = formatKey(path);
    const names = [...new Set([...(spec.envAliases ?? []), envNameForPath(path)])];
    const present = names.filter((name) => env[name] !== undefined);
    if (present.length === 0) continue;
    const [envVar, ...others] = present;
    const raw = env[envVar] as string;
    for (const other of others) {
      if (env[other] !== raw) {
        throw new ConfigError(key, `set by both ${envVar} and ${other} with different values; set only one`, { envVar });
      }
    }
    const locate: Locate = () => ({ envVar });
    setLeaf(tree, path, checkLeaf(spec, parseEnvValue(spec, raw, key, envVar), path, locate));
    origins.set(key, locate);
  }

  // SE_API_TOKEN adds one token to whatever the file/SE_HTTP_API_TOKENS configured (handy for container secrets).
  for (const { path, spec } of listLeafSpecs()) {
    if (spec.kind !== 'stringList' || !spec.envAppend) continue;
    const token = env[spec.envAppend]?.trim();
    if (!token) continue;
    const list = getLeaf(tree, path) as string[];
    if (!list.includes(token)) list.push(token);
  }
}

/** Turns an environment string into the JS value the spec expects; values that do not parse are passed on as the
 * raw string so checkLeaf reports them with the same wording as a bad file value. */
function parseEnvValue(spec: LeafSpec, raw: string, key: string, envVar: string): unknown {
  switch (spec.kind) {
    case 'string':
    case 'enum':
      return raw; // verbatim: "" is meaningful for several keys (advertisedHost, mongoUrl)
    case 'integer': {
      const trimmed = raw.trim();
      return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : raw;
    }
    case 'boolean': {
      const normalized = raw.trim().toLowerCase();
      if (normalized === 'true' || normalized === '1') return true;
      if (normalized === 'false' || normalized === '0') return false;
      throw new ConfigError(key, `must be true, false, 1 or 0 (got ${describeGot(raw, spec.secret === true)})`, { envVar });
    }
    case 'stringList':
    case 'objectList':
      try {
        return JSON.parse(raw) as unknown;
      } catch (err) {
        throw new ConfigError(key, `must be a JSON array (${(err as Error).message})`, { envVar });
      }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cross-field checks
// ---------------------------------------------------------------------------------------------------------

function checkCrossFields(config: GatewayConfig, origins: Map<string, Locate>): void {
  const where = (key: string, sub: readonly PathSegment[] = []): Origin => origins.get(key)?.(sub) ?? {};
  const { sip } = config;

  const { certFile, keyFile } = config.http.tls;
  if ((certFile === '') !== (keyFile === '')) {
    const key = certFile === '' ? 'http.tls.certFile' : 'http.tls.keyFile';
    throw new ConfigError(key, 'http.tls.certFile and http.tls.keyFile are set together (both for HTTPS, neither for HTTP)', where(certFile === '' ? 'http.tls.keyFile' : 'http.tls.certFile'));
  }

  if (sip.registerExpiresMin > sip.registerExpiresMax) {
    const key = origins.has('sip.registerExpiresMin') ? 'sip.registerExpiresMin' : 'sip.registerExpiresMax';
    throw new ConfigError(
      key,
      `sip.registerExpiresMin (${sip.registerExpiresMin}) must not exceed sip.registerExpiresMax (${sip.registerExpiresMax})`,
      where(key),
    );
  }
  const firstIndexById = new Map<string, number>();
  sip.devices.forEach((device, index) => {
    const key = `sip.devices[${index}].id`;
    const earlier = firstIndexById.get(device.id);
    if (earlier !== undefined) {
      throw new ConfigError(key, `duplicate device ID ${device.id} (also sip.devices[${earlier}])`, where('sip.devices', [index, 'id']));
    }
    if (device.id === sip.id) {
      throw new ConfigError(key, `device ID ${device.id} is the gateway's own sip.id`, where('sip.devices', [index, 'id']));
    }
    firstIndexById.set(device.id, index);
  });

  const platformIndexById = new Map<string, number>();
  config.cascade.platforms.forEach((platform, index) => {
    const at = (field: string): Origin => where('cascade.platforms', [index, field]);
    const earlier = platformIndexById.get(platform.id);
    if (earlier !== undefined) {
      throw new ConfigError(`cascade.platforms[${index}].id`, `duplicate upper platform ID ${platform.id} (also cascade.platforms[${earlier}])`, at('id'));
    }
    if (platform.id === sip.id) {
      throw new ConfigError(`cascade.platforms[${index}].id`, `upper platform ID ${platform.id} is the gateway's own sip.id: a platform cannot cascade to itself`, at('id'));
    }
    if (platform.shareAll && (platform.shareRegions?.length || platform.shareGroups?.length || platform.shareChannels?.length)) {
      throw new ConfigError(`cascade.platforms[${index}].shareAll`, 'shareAll shares everything; remove shareRegions/shareGroups/shareChannels or set shareAll: false', at('shareAll'));
    }
    platformIndexById.set(platform.id, index);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `['sip', 'devices', 2, 'id']` → `sip.devices[2].id`. */
function formatKey(path: readonly PathSegment[]): string {
  return path.reduce<string>((key, segment) => {
    if (typeof segment === 'number') return `${key}[${segment}]`;
    return key ? `${key}.${segment}` : segment;
  }, '');
}

function setLeaf(tree: ConfigTree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const segment of path.slice(0, -1)) node = node[segment] as ConfigTree;
  node[path[path.length - 1]] = value;
}

function getLeaf(tree: ConfigTree, path: readonly string[]): unknown {
  let node: unknown = tree;
  for (const segment of path) node = (node as ConfigTree)[segment];
  return node;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** The offending value for a message; secrets are reduced to their type so they never reach a log. */
function describeGot(value: unknown, secret: boolean): string {
  if (secret && value !== null && typeof value !== 'object') return `a ${typeof value}, value hidden`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number') return Number.isSafeInteger(value) || !Number.isInteger(value) ? String(value) : `${value}, a rounded number`;
  if (typeof value === 'boolean') return String(value);
  return describeType(value);
}

function unknownKeyMessage(name: string, known: readonly string[]): string {
  const suggestion = closestKey(name, known);
  return suggestion ? `unknown key (did you mean "${suggestion}"?)` : `unknown key (known keys here: ${known.join(', ')})`;
}

/** Best guess for a mistyped key: same letters ignoring case/underscores, or within a small edit distance. */
function closestKey(name: string, known: readonly string[]): string | undefined {
  const normalize = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const wanted = normalize(name);
  const exact = known.find((candidate) => normalize(candidate) === wanted);
  if (exact) return exact;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, normalize(candidate));
    if (distance <= Math.max(1, Math.floor(candidate.length / 4)) && (!best || distance < best.distance)) {
      best = { key: candidate, distance };
    }
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
