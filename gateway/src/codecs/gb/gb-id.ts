/**
 * GB/T 28181 20-digit codes (2022 Annex E.1) and administrative-division (civil) codes.
 *
 *  digits 1-8   centre code: province(2) city(2) county(2) grass-roots unit(2); unused trailing levels are 0
 *  digits 9-10  industry code
 *  digits 11-13 type code (132 IPC, 118 NVR, 200 SIP server, 215 business group, …)
 *  digit  14    network id
 *  digits 15-20 serial
 *
 * Decoding never rejects an ID for an unknown type code: simulators register with invented types ("320"),
 * and the gateway must still serve them. Pure functions.
 *
 * Civil codes: two views are needed and both are provided.
 *  - `civilCodeOf(id)` is the 8-digit centre-code prefix exactly as in the ID ("44030500"); this is what
 *    `Device.civilCode` stores (see domain/model.ts).
 *  - `trimCivilCode(code)` cuts trailing all-zero levels to the real level ("44030500" → "440305",
 *    "34020000" → "3402"); `regionChain(code)` lists every level down to that one
 *    (["44", "4403", "440305"]) for per-region statistics. A unit code "00" means "no unit", so counting a
 *    device under "44030500" as well would double-count it; only real levels appear in the chain.
 *  - `parentRegion(code)` is the structural parent of a catalog region node: its code minus the last level
 *    ("44030501" → "440305", and also "44030500" → "440305"), as WVP derives it; trailing "00" levels of
 *    the result are cut, so the parent is always a real level.
 */

export const GB_ID_LENGTH = 20;

export type GbTypeCategory =
  | 'front-end-device' // 111–130: DVR, NVR, encoders…
  | 'front-end-peripheral' // 131–199: cameras, IPCs, alarm inputs…
  | 'platform' // 200–299: SIP server, gateways, business group, virtual org
  | 'central-user' // 300–399
  | 'terminal-user' // 400–499
  | 'external-server' // 500–599
  | 'extension' // 600–999
  | 'unknown'; // < 111

export interface GbIdDecoded {
  id: string;
  /** Digits 1-8. */
  centreCode: string;
  provinceCode: string;
  /** 4 digits, or null when the city level is "00". */
  cityCode: string | null;
  /** 6 digits, or null when unused. */
  countyCode: string | null;
  /** 8 digits (grass-roots unit), or null when unused. */
  unitCode: string | null;
  /** Centre code trimmed to its real level (see trimCivilCode). */
  civilCode: string;
  industryCode: string;
  industryName: string | null;
  typeCode: string;
  /** Name from table E.1, null for reserved/undefined codes such as "320". */
  typeName: string | null;
  typeCategory: GbTypeCategory;
  networkCode: string;
  networkName: string;
  serial: string;
}

/** Names from [STD22] table E.1 (same list as WVP's DeviceTypeEnum). */
const TYPE_NAMES: Record<string, string> = {
  '111': 'DVR',
  '112': 'video server',
  '113': 'encoder',
  '114': 'decoder',
  '115': 'video matrix',
  '116': 'audio matrix',
  '117': 'alarm controller',
  '118': 'NVR',
  '120': 'online video-image collection system',
  '121': 'checkpoint',
  '122': 'multi-lens device',
  '123': 'parking entrance controller',
  '124': 'personnel entrance controller',
  '125': 'security-inspection device',
  '130': 'HVR',
  '131': 'camera',
  '132': 'IPC',
  '133': 'monitor',
  '134': 'alarm input',
  '135': 'alarm output',
  '136': 'voice input',
  '137': 'voice output',
  '138': 'mobile transmission device',
  '139': 'other peripheral',
  '140': 'alarm output (relay)',
  '141': 'barrier gate',
  '142': 'smart door',
  '143': 'credential reader',
  '200': 'central signalling control server',
  '201': 'web application server',
  '202': 'media distribution server',
  '203': 'proxy server',
  '204': 'security server',
  '205': 'alarm server',
  '206': 'database server',
  '207': 'GIS server',
  '208': 'management server',
  '209': 'access gateway',
  '210': 'media storage server',
  '211': 'signalling security routing gateway',
  '215': 'business group',
  '216': 'virtual organisation',
  '300': 'central user',
  '400': 'terminal user',
  '500': 'integrated application platform',
  '501': 'operation and maintenance platform',
  '502': 'analysis system',
  '503': 'database',
  '505': 'analysis device',
};

/** Industry codes from table E.2 (40–59 map to GB/T 4754 sections A–T). */
const INDUSTRY_NAMES: Record<string, string> = {
  '00': 'public security road surface',
  '01': 'community',
  '02': 'internal',
  '03': 'other public security',
  '04': 'traffic road surface',
  '05': 'traffic checkpoint',
  '06': 'traffic internal',
  '07': 'other traffic',
  '08': 'city management',
  '09': 'health and environmental protection',
  '10': 'commodity inspection and customs',
  '11': 'education',
  '12': 'civil aviation',
  '13': 'railway',
  '14': 'shipping',
};

const NETWORK_NAMES: Record<string, string> = {
  '0': 'public-security video network',
  '1': 'public-security video network',
  '2': 'industry private network',
  '3': 'political-legal network',
  '4': 'public-security mobile network',
  '5': 'public-security information network',
  '6': 'e-government extranet',
  '7': 'Internet',
  '8': 'leased line',
  '9': 'reserved',
};

/** True for a 20-digit code. */
export function isGbId(id: string): boolean {
  return /^\d{20}$/.test(id);
}

/** True for an administrative-region (civil) code: 2, 4, 6 or 8 digits, the levels a 20-digit ID carries. */
export function isRegionId(code: string): boolean {
  return /^(\d{2}){1,4}$/.test(code);
}

/**
 * True for a code below the county in the statistical division scheme that 2022 Annex E.3 continues the
 * county code with (`Info/GrassrootsCode`): township/street 9 digits, village/community 12, and grid
 * (网格) codes that extend the village code, 13–19 digits. Such codes name region nodes too, but they are
 * not civil codes: their 8-digit prefix means nothing, so civilCodeOf / regionChain do not read them.
 */
export function isSubCountyRegionId(code: string): boolean {
  return /^(\d{9}|\d{12,19})$/.test(code);
}

/** Type code (digits 11-13) of a 20-digit ID, or null for anything else. */
export function gbTypeCodeOf(id: string): string | null {
  return isGbId(id) ? id.slice(10, 13) : null;
}

export function gbTypeCategory(typeCode: string): GbTypeCategory {
  const n = Number(typeCode);
  if (!/^\d{3}$/.test(typeCode) || n < 111) return 'unknown';
  if (n <= 130) return 'front-end-device';
  if (n <= 199) return 'front-end-peripheral';
  if (n <= 299) return 'platform';
  if (n <= 399) return 'central-user';
  if (n <= 499) return 'terminal-user';
  if (n <= 599) return 'external-server';
  return 'extension';
}

export function gbTypeName(typeCode: string): string | null {
  return Object.hasOwn(TYPE_NAMES, typeCode) ? TYPE_NAMES[typeCode] : null;
}

function industryName(code: string): string | null {
  if (Object.hasOwn(INDUSTRY_NAMES, code)) return INDUSTRY_NAMES[code];
  const n = Number(code);
  if (n >= 40 && n <= 59) return `GB/T 4754 section ${String.fromCharCode(0x41 + n - 40)}`;
  if (n >= 90) return 'custom';
  return null;
}

/** Decode a 20-digit ID; null if it is not 20 digits. Unknown type codes are decoded, not rejected. */
export function decodeGbId(id: string): GbIdDecoded | null {
  if (!isGbId(id)) return null;
  const centre = id.slice(0, 8);
  const typeCode = id.slice(10, 13);
  const networkCode = id.slice(13, 14);
  const level = (len: number): string | null => (centre.slice(len - 2, len) === '00' ? null : centre.slice(0, len));
  return {
    id,
    centreCode: centre,
    provinceCode: centre.slice(0, 2),
    cityCode: level(4),
    countyCode: level(6),
    unitCode: level(8),
    civilCode: trimCivilCode(centre),
    industryCode: id.slice(8, 10),
    industryName: industryName(id.slice(8, 10)),
    typeCode,
    typeName: gbTypeName(typeCode),
    typeCategory: gbTypeCategory(typeCode),
    networkCode,
    networkName: NETWORK_NAMES[networkCode],
    serial: id.slice(14),
  };
}

/**
 * The 8-digit centre-code prefix of a 20-digit ID ("44030500001320000017" → "44030500"), as stored in
 * Device.civilCode. For a region code (2–8 digits) the code itself; '' for anything else.
 */
export function civilCodeOf(id: string): string {
  if (isGbId(id)) return id.slice(0, 8);
  if (isRegionId(id)) return id;
  return '';
}

/** Cut trailing "00" levels: "44030500" → "440305", "34020000" → "3402", "11010101" unchanged. */
export function trimCivilCode(code: string): string {
  let c = code;
  while (c.length > 2 && c.endsWith('00') && c.length % 2 === 0) c = c.slice(0, -2);
  return c;
}

/**
 * Region levels a civil code (or a 20-digit ID) belongs to, province first, down to its real level:
 * "44030500" → ["44","4403","440305"]; "44030501" → ["44","4403","440305","44030501"]. Empty for
 * anything that is neither a region code nor a 20-digit ID.
 */
export function regionChain(codeOrId: string): string[] {
  const code = trimCivilCode(civilCodeOf(codeOrId));
  if (code === '') return [];
  const chain: string[] = [];
  for (let len = 2; len <= code.length; len += 2) chain.push(code.slice(0, len));
  return chain;
}

/**
 * Structural parent of a catalog region node: the code minus its last level, with trailing "00" levels of
 * the result cut so a parent is always a real level. "44030501" → "440305", "44030500" → "440305" (as WVP
 * derives it: first 6 digits), "440305" → "4403", "44000000" → "44", "44" → null. Null for input that is
 * not a 2/4/6/8-digit region code.
 */
export function parentRegion(code: string): string | null {
  if (!isRegionId(code) || code.length <= 2) return null;
  return trimCivilCode(code.slice(0, -2));
}

/** SIP domain of an ID by convention: its first 10 digits ("34020000002000000001" → "3402000000"). */
export function sipDomainOf(id: string): string {
  return isGbId(id) ? id.slice(0, 10) : '';
}

/** Digits 4–8 of the domain (server) ID: the d2–d6 part of a y= SSRC (Annex G). */
export function ssrcDomainDigits(serverId: string): string {
  if (!isGbId(serverId)) throw new RangeError(`server ID must be 20 digits, got ${JSON.stringify(serverId)}`);
  return serverId.slice(3, 8);
}
