/**
 * SOAP 1.2 envelopes for ONVIF, both directions (our client and our camera simulator): parse an envelope into
 * its header, the first body element and a fault; write envelopes; WS-Security UsernameToken (PasswordDigest)
 * and WS-Addressing headers. Pure: no I/O, no clocks (times are passed in).
 *
 * Why by hand on our safe XML reader instead of the `onvif` npm package or a WSDL-driven SOAP library: ONVIF
 * uses a handful of fixed messages, and what cameras get wrong (wrong or missing host in addresses, faults sent
 * with HTTP 200, SOAP 1.1 envelopes, prefixes that vary by vendor) is easier to absorb in a small lenient reader
 * that matches on local names. The `onvif` package (agsh/onvif) parses with xml2js into untyped objects, keeps a
 * full Cam object per device, and has open issues with XAddr hosts (#231) and PullPoint addressing (#158); a
 * WSDL-driven client would load ~2 MB of schemas per process and reject the off-spec answers we must accept.
 *
 * Hostile XML: the reader is the MANSCDP one (codecs/manscdp/xml.ts): DTDs refused before parsing, entities
 * decoded by us (no expansion), nesting and size capped.
 */
import { createHash } from 'node:crypto';
import { ManscdpError, parseXml, type ManscdpNode } from '../manscdp/xml.js';

export type XmlNode = ManscdpNode;

export type SoapErrorCode = 'too-large' | 'malformed-xml' | 'dtd-forbidden' | 'not-soap';

/** A document that is not a usable SOAP envelope; `code` is stable for metrics and device status reasons. */
export class SoapError extends Error {
  override readonly name = 'SoapError';
  constructor(
    readonly code: SoapErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SoapFault {
  /** Local part of the fault code: "Sender" / "Receiver" (SOAP 1.2) or "Client" / "Server" (1.1). */
  code: string;
  /** Local part of the innermost subcode, e.g. "NotAuthorized", "ActionNotSupported", "InvalidArgVal". */
  subcode: string;
  reason: string;
}

export interface SoapEnvelope {
  header: XmlNode | undefined;
  /** The first element inside Body (the message), undefined for an empty body. */
  message: XmlNode | undefined;
  fault: SoapFault | null;
  /** SOAP 1.2 or 1.1 by the envelope's namespace (cameras still answer 1.1 now and then). */
  version: '1.2' | '1.1';
}

export const NS = {
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsa: 'http://www.w3.org/2005/08/addressing',
  passwordDigest: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest',
  passwordText: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText',
  base64: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tr2: 'http://www.onvif.org/ver20/media/wsdl',
  tptz: 'http://www.onvif.org/ver20/ptz/wsdl',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  timg: 'http://www.onvif.org/ver20/imaging/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  wstop: 'http://docs.oasis-open.org/wsn/t-1',
  tns1: 'http://www.onvif.org/ver10/topics',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
  wsa2004: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  dn: 'http://www.onvif.org/ver10/network/wsdl',
} as const;

/** Envelopes larger than this are refused before parsing (a GetProfiles answer of a 64-channel NVR is ~200 KB). */
export const DEFAULT_MAX_SOAP_CHARS = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Reading (by local name, case-insensitive: prefixes differ between vendors)

/** Lower-cased local name: "tds:GetDeviceInformationResponse" → "getdeviceinformationresponse". */
export function localName(node: XmlNode): string {
  const i = node.key.indexOf(':');
  return i < 0 ? node.key : node.key.slice(i + 1);
}

export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node) return undefined;
  const want = name.toLowerCase();
  return node.children.find((c) => localName(c) === want);
}

export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  if (!node) return [];
  const want = name.toLowerCase();
  return node.children.filter((c) => localName(c) === want);
}

/** First element along a '/'-separated path of local names. */
export function at(node: XmlNode | undefined, path: string): XmlNode | undefined {
  let current = node;
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    current = child(current, segment);
    if (!current) return undefined;
  }
  return current;
}

/** Every element at the path, across branches. */
export function allAt(node: XmlNode | undefined, path: string): XmlNode[] {
  let level: XmlNode[] = node ? [node] : [];
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    level = level.flatMap((n) => children(n, segment));
  }
  return level;
}

export function textAt(node: XmlNode | undefined, path: string): string | undefined {
  return at(node, path)?.text;
}

/** Attribute by local name (attributes are lower-cased by the reader; prefixes ignored). */
export function attr(node: XmlNode | undefined, name: string): string | undefined {
  if (!node) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(node.attrs)) {
    const i = k.indexOf(':');
    if ((i < 0 ? k : k.slice(i + 1)) === want) return v;
  }
  return undefined;
}

export function parseEnvelope(text: string, maxChars = DEFAULT_MAX_SOAP_CHARS): SoapEnvelope {
  let root: XmlNode;
  try {
    root = parseXml(text, { maxChars });
  } catch (err) {
    if (err instanceof ManscdpError) {
      const code: SoapErrorCode = err.code === 'too-large' || err.code === 'dtd-forbidden' ? err.code : 'malformed-xml';
      throw new SoapError(code, err.message.replace(/^XML body/, 'SOAP body'));
    }
    throw err;
  }
  if (localName(root) !== 'envelope') {
    // An HTML error page or a bare XML document: say what it was, briefly.
    throw new SoapError('not-soap', `expected a SOAP Envelope, got <${root.name}>`);
  }
  const version = Object.values(root.attrs).includes(NS.soap11) ? '1.1' : '1.2';
  const header = child(root, 'Header');
  const body = child(root, 'Body');
  if (!body) throw new SoapError('not-soap', 'SOAP Envelope without a Body');
  const message = body.children[0];
  const fault = message && localName(message) === 'fault' ? readFault(message) : null;
  return { header, message, fault, version };
}

function lastSegment(value: string): string {
  const i = value.lastIndexOf(':');
  return (i < 0 ? value : value.slice(i + 1)).trim();
}

function readFault(node: XmlNode): SoapFault {
  // SOAP 1.2: Code/Value, Code/Subcode/Value (nested), Reason/Text. SOAP 1.1: faultcode, faultstring.
  const code = textAt(node, 'Code/Value') ?? textAt(node, 'faultcode') ?? '';
  let subcode = '';
  let sub = at(node, 'Code/Subcode');
  while (sub) {
    subcode = textAt(sub, 'Value') ?? subcode;
    sub = child(sub, 'Subcode');
  }
  const reason = textAt(node, 'Reason/Text') ?? textAt(node, 'faultstring') ?? textAt(node, 'Detail/Text') ?? '';
  return { code: lastSegment(code), subcode: lastSegment(subcode), reason };
}

// ---------------------------------------------------------------------------------------------------------
// Writing

const ILLEGAL_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function escapeXml(value: string | number | boolean): string {
  return String(value)
    .replace(ILLEGAL_XML_CHARS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `<name attrs>content</name>` with escaped text content (pass `raw` for already-built XML). */
export function element(name: string, content: string | number | boolean | { raw: string } | null = null, attrs: Record<string, string | number> = {}): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  if (content === null) return `<${name}${a}/>`;
  const inner = typeof content === 'object' ? content.raw : escapeXml(content);
  return `<${name}${a}>${inner}</${name}>`;
}

/** Namespace declarations every ONVIF envelope of ours carries (prefixes as ONVIF's own examples use them). */
const ENVELOPE_NAMESPACES = [
  ['s', NS.soap12],
  ['tds', NS.tds],
  ['trt', NS.trt],
  ['tr2', NS.tr2],
  ['tptz', NS.tptz],
  ['tev', NS.tev],
  ['timg', NS.timg],
  ['tt', NS.tt],
  ['wsnt', NS.wsnt],
  ['wsa', NS.wsa],
  ['tns1', NS.tns1],
] as const;

export function buildEnvelope(body: string, header = ''): string {
  const xmlns = ENVELOPE_NAMESPACES.map(([p, u]) => ` xmlns:${p}="${u}"`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope${xmlns}>${header ? `<s:Header>${header}</s:Header>` : ''}<s:Body>${body}</s:Body></s:Envelope>`;
}

export interface FaultSpec {
  code: 'Sender' | 'Receiver';
  /** Qualified subcode, e.g. "ter:NotAuthorized", "ter:ActionNotSupported". */
  subcode: string;
  reason: string;
}

export function buildFault(fault: FaultSpec): string {
  const body =
    // Every prefix a subcode may use must be declared, or a strict client (zeep) cannot read the fault at all.
    `<s:Fault xmlns:ter="http://www.onvif.org/ver10/error" xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2">` +
    `<s:Code><s:Value>s:${fault.code}</s:Value><s:Subcode><s:Value>${escapeXml(fault.subcode)}</s:Value></s:Subcode></s:Code>` +
    `<s:Reason><s:Text xml:lang="en">${escapeXml(fault.reason)}</s:Text></s:Reason></s:Fault>`;
  return buildEnvelope(body);
}

// ---------------------------------------------------------------------------------------------------------
// WS-Security UsernameToken (OASIS Username Token Profile 1.0): Digest = Base64(SHA1(nonce + created + password)).

export function passwordDigest(nonce: Uint8Array, created: string, password: string): string {
  return createHash('sha1').update(nonce).update(created, 'utf8').update(password, 'utf8').digest('base64');
}

export interface UsernameTokenInput {
  username: string;
  password: string;
  /** 16 random bytes per message (the caller draws them). */
  nonce: Uint8Array;
  /** The camera's clock, not ours: our time + the device's measured offset (ISO 8601 UTC). */
  created: Date;
}

/** ISO 8601 UTC with milliseconds dropped (several cameras reject fractional seconds in Created). */
export function wsuTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function usernameTokenHeader(t: UsernameTokenInput): string {
  const created = wsuTime(t.created);
  return (
    `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}">` +
    `<wsse:UsernameToken><wsse:Username>${escapeXml(t.username)}</wsse:Username>` +
    `<wsse:Password Type="${NS.passwordDigest}">${passwordDigest(t.nonce, created, t.password)}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${NS.base64}">${Buffer.from(t.nonce).toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

/** WS-Addressing request headers (PullMessages/Renew/Unsubscribe go to a subscription address, agsh/onvif #158). */
export function wsAddressingHeader(opts: { action: string; to: string; messageId: string }): string {
  return (
    `<wsa:Action s:mustUnderstand="1">${escapeXml(opts.action)}</wsa:Action>` +
    `<wsa:MessageID>urn:uuid:${escapeXml(opts.messageId)}</wsa:MessageID>` +
    `<wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>` +
    `<wsa:To s:mustUnderstand="1">${escapeXml(opts.to)}</wsa:To>`
  );
}

export type UsernameTokenCheck =
  | { ok: true; username: string }
  | { ok: false; reason: 'missing' | 'unknown-user' | 'wrong-password' | 'stale' | 'replayed' | 'malformed' };

/**
 * Camera side (our simulator): check a request's UsernameToken. `passwordOf` returns the user's password or
 * undefined; `now` and `toleranceSec` bound Created (cameras typically allow ±5 min); `seenNonce` reports and
 * records nonces to refuse replays.
 */
export function verifyUsernameToken(
  header: XmlNode | undefined,
  passwordOf: (username: string) => string | undefined,
  now: Date,
  toleranceSec: number,
  seenNonce: (nonce: string) => boolean,
): UsernameTokenCheck {
  const token = at(header, 'Security/UsernameToken');
  if (!token) return { ok: false, reason: 'missing' };
  const username = textAt(token, 'Username') ?? '';
  const passwordNode = child(token, 'Password');
  const nonceB64 = textAt(token, 'Nonce');
  const created = textAt(token, 'Created');
  if (!username || !passwordNode) return { ok: false, reason: 'malformed' };
  const password = passwordOf(username);
  if (password === undefined) return { ok: false, reason: 'unknown-user' };
  const type = attr(passwordNode, 'Type') ?? NS.passwordText;
  if (type.endsWith('#PasswordText')) return passwordNode.text === password ? { ok: true, username } : { ok: false, reason: 'wrong-password' };
  if (!nonceB64 || !created) return { ok: false, reason: 'malformed' };
  const createdMs = Date.parse(created);
  if (Number.isNaN(createdMs)) return { ok: false, reason: 'malformed' };
  if (Math.abs(createdMs - now.getTime()) > toleranceSec * 1000) return { ok: false, reason: 'stale' };
  const nonce = Buffer.from(nonceB64, 'base64');
  if (passwordDigest(nonce, created, password) !== passwordNode.text) return { ok: false, reason: 'wrong-password' };
  if (seenNonce(nonceB64)) return { ok: false, reason: 'replayed' };
  return { ok: true, username };
}
