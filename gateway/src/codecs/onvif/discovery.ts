/**
 * WS-Discovery (2005/04, as ONVIF uses it): the Probe a client multicasts to 239.255.255.250:3702 and the
 * ProbeMatches a device answers by unicast. Pure builders and a lenient reader: some cameras answer without
 * the ProbeMatches wrapper, with SOAP 1.1, or with scopes across several lines.
 */
import { NS, allAt, children, escapeXml, localName, parseEnvelope, textAt, type XmlNode } from '../soap/soap.js';

export const WS_DISCOVERY_ADDRESS = '239.255.255.250';
export const WS_DISCOVERY_PORT = 3702;
const PROBE_ACTION = 'http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe';
const PROBE_MATCHES_ACTION = 'http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches';
const DISCOVERY_TO = 'urn:schemas-xmlsoap-org:ws:2005:04:discovery';

export function buildProbe(messageId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="${NS.soap12}" xmlns:a="${NS.wsa2004}" xmlns:d="${NS.wsd}" xmlns:dn="${NS.dn}">` +
    `<s:Header><a:Action s:mustUnderstand="1">${PROBE_ACTION}</a:Action><a:MessageID>urn:uuid:${escapeXml(messageId)}</a:MessageID>` +
    `<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>` +
    `<a:To s:mustUnderstand="1">${DISCOVERY_TO}</a:To></s:Header>` +
    `<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`
  );
}

export interface ProbeRequest {
  messageId: string;
  /** Types asked for ('' = any). */
  types: string;
}

/** Device side: a Probe, or null for anything else arriving on the discovery port. */
export function parseProbe(text: string): ProbeRequest | null {
  try {
    const env = parseEnvelope(text, 64 * 1024);
    if (!env.message || localName(env.message) !== 'probe') return null;
    return { messageId: (textAt(env.header, 'MessageID') ?? '').replace(/^urn:uuid:/, ''), types: textAt(env.message, 'Types') ?? '' };
  } catch {
    return null;
  }
}

export interface ProbeMatch {
  /** Endpoint reference address, usually urn:uuid:… — the device's stable identity. */
  endpoint: string;
  types: string[];
  scopes: string[];
  xaddrs: string[];
  metadataVersion: number;
}

export interface DiscoveredScopes {
  name: string;
  hardware: string;
  location: string;
}

export function buildProbeMatches(opts: { relatesTo: string; messageId: string; match: ProbeMatch }): string {
  const m = opts.match;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="${NS.soap12}" xmlns:a="${NS.wsa2004}" xmlns:d="${NS.wsd}" xmlns:dn="${NS.dn}">` +
    `<s:Header><a:MessageID>urn:uuid:${escapeXml(opts.messageId)}</a:MessageID><a:RelatesTo>urn:uuid:${escapeXml(opts.relatesTo)}</a:RelatesTo>` +
    `<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:Action>${PROBE_MATCHES_ACTION}</a:Action></s:Header>` +
    `<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>${escapeXml(m.endpoint)}</a:Address></a:EndpointReference>` +
    `<d:Types>${m.types.map(escapeXml).join(' ')}</d:Types><d:Scopes>${m.scopes.map(escapeXml).join(' ')}</d:Scopes>` +
    `<d:XAddrs>${m.xaddrs.map(escapeXml).join(' ')}</d:XAddrs><d:MetadataVersion>${m.metadataVersion}</d:MetadataVersion>` +
    `</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`
  );
}

const split = (s: string | undefined): string[] => (s ?? '').split(/\s+/).filter(Boolean);

function readMatch(node: XmlNode): ProbeMatch {
  return {
    endpoint: textAt(node, 'EndpointReference/Address') ?? '',
    types: split(textAt(node, 'Types')),
    scopes: split(textAt(node, 'Scopes')),
    xaddrs: split(textAt(node, 'XAddrs')),
    metadataVersion: Number(textAt(node, 'MetadataVersion') ?? 0) || 0,
  };
}

/** Client side: the matches in one answer datagram ([] for anything that is not a usable answer). */
export function parseProbeMatches(text: string): ProbeMatch[] {
  let env;
  try {
    env = parseEnvelope(text, 64 * 1024);
  } catch {
    return [];
  }
  const body = env.message;
  if (!body) return [];
  const name = localName(body);
  const matches = name === 'probematches' ? children(body, 'ProbeMatch') : name === 'probematch' ? [body] : allAt(body, 'ProbeMatch');
  return matches.map(readMatch).filter((m) => m.xaddrs.length > 0 || m.endpoint !== '');
}

/** onvif://www.onvif.org/name/Lobby%20Cam → name "Lobby Cam"; likewise hardware and location. */
export function readScopes(scopes: readonly string[]): DiscoveredScopes {
  const pick = (kind: string): string => {
    const prefix = `onvif://www.onvif.org/${kind}/`;
    const found = scopes.find((s) => s.toLowerCase().startsWith(prefix));
    if (!found) return '';
    try {
      return decodeURIComponent(found.slice(prefix.length));
    } catch {
      return found.slice(prefix.length);
    }
  };
  return { name: pick('name'), hardware: pick('hardware'), location: pick('location') };
}

