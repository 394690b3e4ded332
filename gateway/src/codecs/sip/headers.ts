/**
 * Header-name tables and parse/format helpers for the structured SIP header values the gateway needs
 * (Via, From/To/Contact name-addr, SIP URIs, CSeq). Pure functions; malformed input throws SipParseError
 * with reason 'bad-header' so callers that parse peer data only ever have to catch one error type.
 *
 * Parameter maps are `Map`s (not plain objects) on purpose: a peer-controlled name such as `__proto__`
 * must not be able to reach an object prototype.
 */
import { SipParseError } from './errors.js';

/** RFC 3261 §7.3.3 and later RFCs: one-letter compact forms → canonical lower-case long names. */
const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** Spelling we write on the wire; anything not listed gets Each-Word-Capitalised. */
const DISPLAY_NAMES: Readonly<Record<string, string>> = {
  via: 'Via',
  from: 'From',
  to: 'To',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  contact: 'Contact',
  'content-type': 'Content-Type',
  'content-length': 'Content-Length',
  'content-encoding': 'Content-Encoding',
  'content-disposition': 'Content-Disposition',
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  authorization: 'Authorization',
  'proxy-authorization': 'Proxy-Authorization',
  'authentication-info': 'Authentication-Info',
  'user-agent': 'User-Agent',
  server: 'Server',
  'max-forwards': 'Max-Forwards',
  expires: 'Expires',
  'min-expires': 'Min-Expires',
  'x-gb-ver': 'X-GB-ver',
  subject: 'Subject',
  date: 'Date',
  route: 'Route',
  'record-route': 'Record-Route',
  allow: 'Allow',
  'allow-events': 'Allow-Events',
  supported: 'Supported',
  require: 'Require',
  'proxy-require': 'Proxy-Require',
  unsupported: 'Unsupported',
  event: 'Event',
  'subscription-state': 'Subscription-State',
  'session-expires': 'Session-Expires',
  'refer-to': 'Refer-To',
  'referred-by': 'Referred-By',
  'retry-after': 'Retry-After',
  warning: 'Warning',
  reason: 'Reason',
  rseq: 'RSeq',
  rack: 'RAck',
  'mime-version': 'MIME-Version',
  'p-asserted-identity': 'P-Asserted-Identity',
  'call-info': 'Call-Info',
  'error-info': 'Error-Info',
  'alert-info': 'Alert-Info',
  'in-reply-to': 'In-Reply-To',
  'reply-to': 'Reply-To',
  accept: 'Accept',
  'accept-encoding': 'Accept-Encoding',
  'accept-language': 'Accept-Language',
  'accept-contact': 'Accept-Contact',
  'reject-contact': 'Reject-Contact',
  'request-disposition': 'Request-Disposition',
  'identity-info': 'Identity-Info',
  identity: 'Identity',
  organization: 'Organization',
  priority: 'Priority',
  timestamp: 'Timestamp',
  note: 'Note',
  'monitor-user-identification': 'Monitor-User-Identification',
};

/**
 * Headers whose comma-separated values are split into one [name, value] pair each (message.ts contract).
 * Only the name-addr/Via lists: splitting e.g. Date or WWW-Authenticate on commas would corrupt them.
 */
export const MULTI_VALUE_HEADERS: ReadonlySet<string> = new Set(['via', 'route', 'record-route', 'contact']);

/** Case-insensitive, compact-form-aware → canonical lower-case long name. */
export function canonicalHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower;
  return lower;
}

/** Canonical lower-case name → the capitalisation we put on the wire. */
export function displayHeaderName(canonical: string): string {
  const known = DISPLAY_NAMES[canonical];
  if (known !== undefined) return known;
  return canonical
    .split('-')
    .map((word) => (word.length > 0 ? word[0]!.toUpperCase() + word.slice(1) : word))
    .join('-');
}

function badHeader(header: string, detail: string): SipParseError {
  return new SipParseError('bad-header', `${header}: ${detail}`, header);
}

/**
 * Split a header value on commas that are outside quoted strings, <...> and (comments).
 * Empty elements are dropped ("a, ,b" → ["a", "b"]).
 */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let inQuotes = false;
  let angle = 0;
  let paren = 0;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuotes) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inQuotes = false;
      continue;
    }
    if (ch === 0x22) inQuotes = true;
    else if (ch === 0x3c /* < */) angle++;
    else if (ch === 0x3e /* > */) angle = Math.max(0, angle - 1);
    else if (ch === 0x28 /* ( */) paren++;
    else if (ch === 0x29 /* ) */) paren = Math.max(0, paren - 1);
    else if (ch === 0x2c /* , */ && angle === 0 && paren === 0) {
      const part = value.slice(start, i).trim();
      if (part.length > 0) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last.length > 0) out.push(last);
  return out;
}

/** Split on `sep` outside double quotes (used for ;params). */
function splitOutsideQuotes(text: string, sep: number): string[] {
  const out: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inQuotes) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inQuotes = false;
    } else if (ch === 0x22) inQuotes = true;
    else if (ch === sep) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Remove surrounding double quotes and backslash escapes; returns the input trimmed when unquoted. */
export function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return v;
}

/** Quote a string for a header value, escaping backslash and double quote. */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Parse ";a=1;b;c="x y"" (leading ';' optional) into a Map with lower-case names.
 * A flag parameter without '=' maps to ''. Quoted values are unquoted.
 */
export function parseParams(text: string, header = 'params'): Map<string, string> {
  const params = new Map<string, string>();
  const body = text.trim().startsWith(';') ? text.trim().slice(1) : text;
  if (body.trim().length === 0) return params;
  for (const raw of splitOutsideQuotes(body, 0x3b /* ; */)) {
    const item = raw.trim();
    if (item.length === 0) continue;
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    if (name.length === 0 || /[\s"]/.test(name)) throw badHeader(header, `bad parameter "${item}"`);
    params.set(name, eq < 0 ? '' : unquote(item.slice(eq + 1)));
  }
  return params;
}

const TOKEN_VALUE = /^[A-Za-z0-9\-.!%*_+`'~:[\]]*$/;

/** Format a parameter map as ";a=1;b;c="x y"" (quoting only values that need it). */
export function formatParams(params: ReadonlyMap<string, string> | undefined): string {
  if (!params) return '';
  let out = '';
  for (const [name, value] of params) {
    if (value === '') out += `;${name}`;
    else out += `;${name}=${TOKEN_VALUE.test(value) ? value : quote(value)}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- host:port

export interface HostPort {
  /** Host name or address; IPv6 without brackets. */
  host: string;
  port: number | undefined;
}

function parsePort(text: string, header: string): number {
  if (!/^\d{1,5}$/.test(text)) throw badHeader(header, `bad port "${text}"`);
  const port = Number(text);
  if (port > 65535) throw badHeader(header, `bad port "${text}"`);
  return port;
}

/** "host", "host:port", "[v6]", "[v6]:port". */
export function parseHostPort(text: string, header = 'host'): HostPort {
  const t = text.trim();
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) throw badHeader(header, `bad IPv6 reference "${t}"`);
    const host = t.slice(1, close);
    const rest = t.slice(close + 1).trim();
    if (host.length === 0 || !/^[0-9A-Fa-f:.]+$/.test(host)) throw badHeader(header, `bad IPv6 reference "${t}"`);
    if (rest.length === 0) return { host, port: undefined };
    if (!rest.startsWith(':')) throw badHeader(header, `bad host "${t}"`);
    return { host, port: parsePort(rest.slice(1).trim(), header) };
  }
  const colon = t.indexOf(':');
  const host = (colon < 0 ? t : t.slice(0, colon)).trim();
  if (host.length === 0 || !/^[A-Za-z0-9\-._~%!$&'*+]+$/.test(host)) throw badHeader(header, `bad host "${t}"`);
  if (colon < 0) return { host, port: undefined };
  return { host, port: parsePort(t.slice(colon + 1).trim(), header) };
}

export function formatHostPort(host: string, port: number | undefined): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

// ---------------------------------------------------------------------------------------------- Via

export interface Via {
  /** "SIP/2.0" */
  protocol: string;
  /** Upper-case transport: "UDP", "TCP", "TLS", "WS"... */
  transport: string;
  host: string;
  port: number | undefined;
  /** Lower-case names; `rport` with no value maps to ''. */
  params: Map<string, string>;
}

/**
 * The last Via value parsed and its result. One request's top Via is read three times on its way (the parser's
 * check, the transaction key, the response's received/rport stamp), each time the same string; under a
 * registration storm those regex parses were ~4 % of the main thread. Callers get their own copy of params
 * (the stamp changes them).
 */
let lastViaValue: string | null = null;
let lastVia: Via | null = null;

/** One Via value (not a comma-joined list): "SIP/2.0/UDP 10.1.2.3:5060;rport;branch=z9hG4bK77". */
export function parseVia(value: string): Via {
  if (value === lastViaValue && lastVia) return { ...lastVia, params: new Map(lastVia.params) };
  const via = parseViaUncached(value);
  lastViaValue = value;
  lastVia = { ...via, params: new Map(via.params) };
  return via;
}

function parseViaUncached(value: string): Via {
  const m = /^\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;]+?)\s*(;.*)?$/s.exec(
    value,
  );
  if (!m) throw badHeader('via', `bad value "${value}"`);
  // Drop a trailing (comment) some stacks append after the params.
  const paramText = (m[5] ?? '').replace(/\s*\([^)]*\)\s*$/, '');
  const { host, port } = parseHostPort(m[4]!, 'via');
  return {
    protocol: `${m[1]!.toUpperCase()}/${m[2]!}`,
    transport: m[3]!.toUpperCase(),
    host,
    port,
    params: parseParams(paramText, 'via'),
  };
}

export function formatVia(via: Via): string {
  return `${via.protocol}/${via.transport} ${formatHostPort(via.host, via.port)}${formatParams(via.params)}`;
}

// ---------------------------------------------------------------------------------------------- name-addr

export interface NameAddr {
  /** Unquoted display name, '' when absent. */
  displayName: string;
  /** The URI exactly as written (without the angle brackets). */
  uri: string;
  /** Header parameters (tag, expires...), lower-case names. */
  params: Map<string, string>;
}

/**
 * From/To/Contact/Route values: `"Name" <sip:a@b>;tag=1`, `Name <sip:a@b>`, `<sip:a@b>;tag=1`, or the bare
 * addr-spec form `sip:a@b;tag=1` (where, per RFC 3261 §20.10, the ;params belong to the header, not the URI).
 */
export function parseNameAddr(value: string, header = 'name-addr'): NameAddr {
  const v = value.trim();
  if (v.length === 0) throw badHeader(header, 'empty value');
  let displayName = '';
  let rest = v;
  if (v.startsWith('"')) {
    let i = 1;
    for (; i < v.length; i++) {
      const ch = v.charCodeAt(i);
      if (ch === 0x5c) i++;
      else if (ch === 0x22) break;
    }
    if (i >= v.length) throw badHeader(header, 'unterminated display name');
    displayName = v.slice(1, i).replace(/\\(.)/g, '$1');
    rest = v.slice(i + 1).trimStart();
    if (!rest.startsWith('<')) throw badHeader(header, 'display name without <uri>');
  }
  const open = rest.indexOf('<');
  if (open >= 0) {
    const close = rest.indexOf('>', open);
    if (close < 0) throw badHeader(header, 'missing ">"');
    if (open > 0) displayName = rest.slice(0, open).trim();
    const uri = rest.slice(open + 1, close).trim();
    if (uri.length === 0) throw badHeader(header, 'empty URI');
    return { displayName, uri, params: parseParams(rest.slice(close + 1), header) };
  }
  if (v === '*') return { displayName: '', uri: '*', params: new Map() };
  const semi = rest.indexOf(';');
  const uri = (semi < 0 ? rest : rest.slice(0, semi)).trim();
  if (uri.length === 0 || /\s/.test(uri) || !uri.includes(':')) throw badHeader(header, `bad value "${v}"`);
  return { displayName: '', uri, params: semi < 0 ? new Map() : parseParams(rest.slice(semi), header) };
}

export function formatNameAddr(addr: { displayName?: string; uri: string; params?: ReadonlyMap<string, string> }): string {
  const display = addr.displayName ? `${quote(addr.displayName)} ` : '';
  return `${display}<${addr.uri}>${formatParams(addr.params)}`;
}

/** The tag parameter of a From/To value, or undefined (also undefined when the value is unparsable). */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const tag = parseNameAddr(value).params.get('tag');
    return tag === '' ? undefined : tag;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------- URI

export interface SipUri {
  /** Lower-case: "sip", "sips", "tel"... */
  scheme: string;
  /** User part ('' when absent); for non-SIP schemes the whole opaque part before ';'. */
  user: string;
  password: string | undefined;
  /** '' for non-SIP schemes. IPv6 without brackets. */
  host: string;
  port: number | undefined;
  params: Map<string, string>;
  /** Raw "?a=b&c=d" part without the '?', '' when absent. */
  headers: string;
}

export function parseUri(uri: string): SipUri {
  const u = uri.trim();
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(u);
  if (!m) throw badHeader('uri', `bad URI "${uri}"`);
  const scheme = m[1]!.toLowerCase();
  let rest = m[2]!;
  if (/\s/.test(rest) || rest.length === 0) throw badHeader('uri', `bad URI "${uri}"`);
  let headers = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    const semi = rest.indexOf(';');
    return {
      scheme,
      user: semi < 0 ? rest : rest.slice(0, semi),
      password: undefined,
      host: '',
      port: undefined,
      params: semi < 0 ? new Map() : parseParams(rest.slice(semi), 'uri'),
      headers,
    };
  }
  let user = '';
  let password: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) {
      user = userinfo.slice(0, colon);
      password = userinfo.slice(colon + 1);
    } else user = userinfo;
    if (user.length === 0) throw badHeader('uri', `empty user in "${uri}"`);
  }
  const semi = rest.indexOf(';');
  const { host, port } = parseHostPort(semi < 0 ? rest : rest.slice(0, semi), 'uri');
  return { scheme, user, password, host, port, params: semi < 0 ? new Map() : parseParams(rest.slice(semi), 'uri'), headers };
}

export function formatUri(uri: SipUri): string {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') {
    return `${uri.scheme}:${uri.user}${formatParams(uri.params)}${uri.headers ? `?${uri.headers}` : ''}`;
  }
  const userinfo = uri.user ? `${uri.user}${uri.password !== undefined ? `:${uri.password}` : ''}@` : '';
  return `${uri.scheme}:${userinfo}${formatHostPort(uri.host, uri.port)}${formatParams(uri.params)}${
    uri.headers ? `?${uri.headers}` : ''
  }`;
}

// ---------------------------------------------------------------------------------------------- CSeq

export interface CSeq {
  seq: number;
  /** As written (methods are case-sensitive in SIP). */
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*$/.exec(value);
  if (!m) throw badHeader('cseq', `bad value "${value}"`);
  const seq = Number(m[1]);
  if (seq > 0xffffffff) throw badHeader('cseq', `sequence number out of range "${value}"`);
  return { seq, method: m[2]! };
}

export function formatCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}
