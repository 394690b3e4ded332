/**
 * MANSCDP (GB/T 28181 MESSAGE / NOTIFY / SUBSCRIBE bodies): envelope decoding, typed readers for the
 * messages the gateway consumes, and encoders for what it (and the device simulator) sends.
 *
 * Readers are lenient — unknown elements are kept, missing ones become '' / null, element names are
 * case-insensitive — because devices differ; encoders are strict (valid SN, hex PTZ code, well-formed XML).
 * Pure: bytes in, objects out.
 */
import type { CatalogNodeKind } from '../../domain/model.js';
import { gbTypeCodeOf, isRegionId, isSubCountyRegionId } from '../gb/gb-id.js';
import { decodeBody, encodeBody, type ManscdpCharset } from './charset.js';
import {
  DEFAULT_MAX_XML_BYTES,
  el,
  flattenNode,
  ManscdpError,
  type ManscdpNode,
  nodesAt,
  parseXml,
  textAt,
  writeXmlDocument,
  type XmlElementSpec,
} from './xml.js';

// Re-exported so most callers need only this module.
export { ManscdpError, childOf, childrenOf, el, nodeAt, nodesAt, textAt } from './xml.js';
export type { ManscdpErrorCode, ManscdpNode, XmlElementSpec } from './xml.js';
export type { ManscdpCharset } from './charset.js';

export const MANSCDP_CONTENT_TYPE = 'Application/MANSCDP+xml';

/** Charset used when a caller does not say: what nearly every device declares and expects. */
export const DEFAULT_MANSCDP_CHARSET: ManscdpCharset = 'GB2312';

export type ManscdpRoot = 'Query' | 'Control' | 'Notify' | 'Response';

export interface ManscdpMessage {
  root: ManscdpRoot;
  /**
   * Known command types in the standard's spelling ('keepalive' / 'KEEPALIVE' → 'Keepalive'), so plain
   * `===` comparisons work; unknown ones (e.g. DJI 'DataTransfer') trimmed but as sent.
   */
  cmdType: string;
  /** 0 when absent or not an integer (the standard requires ≥ 1; such answers cannot be correlated). */
  sn: number;
  deviceId: string;
  /** Detected body charset ('UTF-8' | 'GB18030'); see `asciiOnly`. */
  charset: 'UTF-8' | 'GB18030';
  /** True when the body was plain ASCII, i.e. it tells nothing about the device's charset. */
  asciiOnly: boolean;
  /** The root element; read it with childOf/nodeAt/textAt/nodesAt from ./xml.js. */
  fields: ManscdpNode;
}

export interface DecodeManscdpOptions {
  /** Byte limit; default 2 MiB (TCP bodies). Use a smaller one for UDP if you like. */
  maxBytes?: number;
}

const KNOWN_CMD_TYPES = new Map<string, string>(
  [
    'Keepalive', 'Catalog', 'DeviceInfo', 'DeviceStatus', 'RecordInfo', 'Alarm', 'MobilePosition',
    'DeviceControl', 'DeviceConfig', 'ConfigDownload', 'PresetQuery', 'MediaStatus', 'Broadcast',
    'HomePositionQuery', 'CruiseTrackListQuery', 'CruiseTrackQuery', 'PTZPosition', 'SDCardStatus',
    'DeviceUpgradeResult', 'UploadSnapShotFinished', 'VideoUploadNotify',
  ].map((c) => [c.toLowerCase(), c]),
);

const ROOTS = new Map<string, ManscdpRoot>([
  ['query', 'Query'],
  ['control', 'Control'],
  ['notify', 'Notify'],
  ['response', 'Response'],
]);

/** Decode a MANSCDP body. Throws ManscdpError (too-large, dtd-forbidden, malformed-xml, not-manscdp). */
export function decodeManscdp(bytes: Buffer, opts: DecodeManscdpOptions = {}): ManscdpMessage {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  if (bytes.length > maxBytes) {
    throw new ManscdpError('too-large', `MANSCDP body of ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  }
  const body = decodeBody(bytes);
  const root = parseXml(body.text, { maxChars: maxBytes });
  const rootName = ROOTS.get(root.key);
  if (!rootName) throw new ManscdpError('not-manscdp', `unexpected MANSCDP root element <${root.name}>`);
  const sentCmdType = textAt(root, 'CmdType') ?? '';
  const cmdType = KNOWN_CMD_TYPES.get(sentCmdType.toLowerCase()) ?? sentCmdType;
  if (cmdType === '') throw new ManscdpError('not-manscdp', `<${root.name}> has no CmdType`);
  return {
    root: rootName,
    cmdType,
    sn: parseInteger(textAt(root, 'SN')) ?? 0,
    deviceId: textAt(root, 'DeviceID') ?? '',
    charset: body.charset,
    asciiOnly: body.asciiOnly,
    fields: root,
  };
}

/** Why an envelope cannot be acted on (answered, correlated, stored); see `envelopeProblem`. */
export type EnvelopeProblem = 'bad-sn' | 'bad-device-id';

/** A device ID as devices send it: GB IDs are 20 digits, test devices and platforms use other tokens. */
export const DEVICE_ID_PATTERN = /^[0-9A-Za-z_.-]{1,64}$/;

/**
 * Checks the envelope a decoded message must have before anything acts on it: SN an integer ≥ 1 (GB 2022
 * A.2.2 `SNType minInclusive 1`; `decodeManscdp` gives 0 for a missing, negative, huge or non-integer SN) and
 * a DeviceID that is an ID (non-empty, ≤ 64 token characters). Null when the envelope is usable. Total:
 * every message gets an answer, so callers can reply 400 instead of failing later in an encoder.
 */
export function envelopeProblem(m: Pick<ManscdpMessage, 'sn' | 'deviceId'>): EnvelopeProblem | null {
  if (!Number.isSafeInteger(m.sn) || m.sn < 1) return 'bad-sn';
  if (!DEVICE_ID_PATTERN.test(m.deviceId.trim())) return 'bad-device-id';
  return null;
}

/** Case-insensitive CmdType comparison. */
export function isCmdType(m: ManscdpMessage, cmdType: string): boolean {
  return m.cmdType.toLowerCase() === cmdType.toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------
// Value parsing (lenient)

/** Integer from trimmed text; null when absent, empty or not an integer. */
export function parseInteger(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (!/^[+-]?\d{1,15}$/.test(t)) return null;
  return Number(t);
}

/** Decimal number; null when absent, empty or unparseable ("0" stays 0). */
export function parseDecimal(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function parseCoordinate(text: string | undefined, limit: number): number | null {
  const n = parseDecimal(text);
  return n !== null && Math.abs(n) <= limit ? n : null;
}

/** Envelope elements, left out of the `raw`/`extra` maps of the readers. */
const ENVELOPE = new Set(['cmdtype', 'sn', 'deviceid']);

/** Every leaf field of a message body except the envelope, flattened ('Info.AlarmType' → '2'). */
export function rawFields(m: ManscdpMessage): Record<string, string> {
  return flattenNode(m.fields, undefined, (p) => ENVELOPE.has(p));
}

// ---------------------------------------------------------------------------------------------------------
// Keepalive

export interface KeepaliveNotify {
  deviceId: string;
  sn: number;
  /** Upper-cased Status: 'OK' or 'ERROR' per the standard ('' when absent). */
  status: string;
  /** Info/DeviceID entries: faulty sub-devices reported by the device. */
  faultyDeviceIds: string[];
}

export function readKeepalive(m: ManscdpMessage): KeepaliveNotify {
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    status: (textAt(m.fields, 'Status') ?? '').toUpperCase(),
    faultyDeviceIds: nodesAt(m.fields, 'Info/DeviceID')
      .map((n) => n.text)
      .filter((id) => id !== ''),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Catalog

export type CatalogStatus = 'ON' | 'OFF';

/** Catalog subscription NOTIFY events (2022 Annex N). */
export type CatalogEvent = 'ON' | 'OFF' | 'VLOST' | 'DEFECT' | 'ADD' | 'DEL' | 'UPDATE';

/**
 * One Catalog item (region, system, business group, virtual org, device or channel), 2016 and 2022 fields.
 * Typed fields are '' / null when absent; every other element is kept in `extra` so nothing a device sent
 * is lost. A typed field whose text could not be parsed is null and its raw text is kept in `extra`.
 */
export interface CatalogItem {
  deviceId: string;
  name: string;
  manufacturer: string;
  model: string;
  owner: string;
  civilCode: string;
  block: string;
  address: string;
  parental: number | null;
  /** ParentID split on '/' (2022 allows several parents: device/system and virtual org). */
  parentIds: string[];
  safetyWay: number | null;
  registerWay: number | null;
  secrecy: number | null;
  ipAddress: string;
  port: number | null;
  /** ON/OFF, also accepting ONLINE/OFFLINE in any case; null when absent or unrecognised. */
  status: CatalogStatus | null;
  longitude: number | null;
  latitude: number | null;
  /** Item-level BusinessGroupID (2022) or Info/BusinessGroupID (2016). */
  businessGroupId: string;
  /** Info/PTZType: 1 dome, 2 half-dome, 3 fixed bullet, 4 remote bullet, … */
  ptzType: number | null;
  /** Catalog NOTIFY event of this item (null in a query Response). */
  event: CatalogEvent | null;
  /** Every other leaf element, flattened: 'Info.Resolution', 'Info.DownloadSpeed', 'StreamNum', … */
  extra: Record<string, string>;
}

/** Spelling used for `extra` keys, so 'INFO/resolution' and 'Info/Resolution' land on the same key. */
const CANONICAL_NAMES = new Map<string, string>(
  [
    // item (2016 + 2022)
    'DeviceID', 'Name', 'Manufacturer', 'Model', 'Owner', 'CivilCode', 'Block', 'Address', 'Parental',
    'ParentID', 'SafetyWay', 'RegisterWay', 'SecurityLevelCode', 'CertNum', 'Certifiable', 'ErrCode',
    'EndTime', 'Secrecy', 'IPAddress', 'Port', 'Password', 'Status', 'Longitude', 'Latitude',
    'BusinessGroupID', 'Event', 'Info',
    // Info (2016 + 2022)
    'PTZType', 'PositionType', 'PhotoelectricImagingType', 'CapturePositionType', 'RoomType', 'UseType',
    'SupplyLightType', 'DirectionType', 'Resolution', 'StreamNumberList', 'DownloadSpeed',
    'SVCSpaceSupportMode', 'SVCTimeSupportMode', 'SSVCRatioSupportList', 'MobileDeviceType',
    'HorizontalFieldAngle', 'VerticalFieldAngle', 'MaxViewDistance', 'GrassrootsCode', 'PointType',
    'PointCommonName', 'MAC', 'FunctionType', 'EncodeType', 'InstallTime', 'ManagementUnit', 'ContactInfo',
    'RecordSaveDays', 'IndustrialClassification',
  ].map((n) => [n.toLowerCase(), n]),
);

const canonicalName = (lower: string): string | undefined => CANONICAL_NAMES.get(lower);

const CATALOG_EVENTS: readonly CatalogEvent[] = ['ON', 'OFF', 'VLOST', 'DEFECT', 'ADD', 'DEL', 'UPDATE'];

function normaliseStatus(text: string | undefined): CatalogStatus | null {
  const t = (text ?? '').trim().toUpperCase();
  if (t === 'ON' || t === 'ONLINE') return 'ON';
  if (t === 'OFF' || t === 'OFFLINE') return 'OFF';
  return null;
}

/** Decode one <Item> of a Catalog Response/Notify. */
export function readCatalogItem(item: ManscdpNode): CatalogItem {
  // Typed fields are consumed from the flattened map; what remains is `extra`.
  const flat = flattenNode(item, canonicalName);
  const take = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      if (Object.hasOwn(flat, k)) {
        const v = flat[k];
        delete flat[k];
        return v;
      }
    }
    return undefined;
  };
  // A typed number: null + raw text kept in extra when unparseable, so nothing is silently dropped.
  const takeNumber = (key: string, parse: (t: string | undefined) => number | null, ...alt: string[]): number | null => {
    const raw = take(key, ...alt);
    const n = parse(raw);
    if (n === null && raw !== undefined && raw !== '') flat[key] = raw;
    return n;
  };
  const str = (key: string, ...alt: string[]): string => take(key, ...alt) ?? '';

  const statusRaw = take('Status');
  const status = normaliseStatus(statusRaw);
  if (status === null && statusRaw !== undefined && statusRaw !== '') flat['Status'] = statusRaw;

  const eventRaw = take('Event');
  const eventUpper = (eventRaw ?? '').toUpperCase() as CatalogEvent;
  const event = CATALOG_EVENTS.includes(eventUpper) ? eventUpper : null;
  if (event === null && eventRaw !== undefined && eventRaw !== '') flat['Event'] = eventRaw;

  // An empty <Info/> carries nothing; do not let it show up as an 'Info' extra.
  if (flat['Info'] === '') delete flat['Info'];
  // ParentID: '/'-separated (2022); a few devices repeat the element instead.
  const parentTexts: string[] = [];
  for (const key of Object.keys(flat)) {
    if (/^ParentID(\[\d+\])?$/.test(key)) parentTexts.push(take(key) ?? '');
  }
  return {
    deviceId: str('DeviceID'),
    name: str('Name'),
    manufacturer: str('Manufacturer'),
    model: str('Model'),
    owner: str('Owner'),
    civilCode: str('CivilCode'),
    block: str('Block'),
    address: str('Address'),
    parental: takeNumber('Parental', parseInteger),
    parentIds: parentTexts
      .flatMap((t) => t.split('/'))
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    safetyWay: takeNumber('SafetyWay', parseInteger),
    registerWay: takeNumber('RegisterWay', parseInteger),
    secrecy: takeNumber('Secrecy', parseInteger),
    ipAddress: str('IPAddress'),
    port: takeNumber('Port', parseInteger),
    status,
    longitude: takeNumber('Longitude', (t) => parseCoordinate(t, 180)),
    latitude: takeNumber('Latitude', (t) => parseCoordinate(t, 90)),
    businessGroupId: str('BusinessGroupID', 'Info.BusinessGroupID'),
    ptzType: takeNumber('Info.PTZType', parseInteger, 'PTZType'),
    event,
    extra: flat,
  };
}

export interface CatalogResponse {
  /** DeviceID of the answer (the queried node). */
  deviceId: string;
  sn: number;
  /** Grand total across all parts; null when the device omitted it (then count and time out). */
  sumNum: number | null;
  /** `DeviceList Num` of this message, if given. */
  listNum: number | null;
  items: CatalogItem[];
}

/** Read a Catalog Response (query answer) or Catalog Notify (subscription); items from every DeviceList. */
export function readCatalogResponse(m: ManscdpMessage): CatalogResponse {
  const lists = nodesAt(m.fields, 'DeviceList');
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    sumNum: parseInteger(textAt(m.fields, 'SumNum')),
    listNum: lists.length > 0 ? parseInteger(lists[0].attrs['num']) : null,
    items: nodesAt(m.fields, 'DeviceList/Item').map(readCatalogItem),
  };
}

/**
 * Kind of a catalog node, from its ID: ≤ 8 characters (civil codes) or 9–19 digits (township 9, village
 * 12, grid 13–19: isSubCountyRegionId) → region; 20-digit type 215 → business group, 216 → virtual org,
 * 200 → system (platform), 111–130 → device (DVR/NVR/encoder…), anything else (131–199 cameras and
 * peripherals, unknown or invalid types) → channel. All-digit IDs of 10 or 11 digits are malformed codes;
 * like malformed short ones they are regions (containers), never playable channels.
 */
export function classifyCatalogItem(item: Pick<CatalogItem, 'deviceId'>): CatalogNodeKind {
  const id = item.deviceId.trim();
  if (isRegionId(id) || isSubCountyRegionId(id)) return 'region';
  if ((id.length > 0 && id.length <= 8) || /^\d{10,11}$/.test(id)) return 'region';
  const type = gbTypeCodeOf(id);
  if (type === null) return 'channel';
  if (type === '215') return 'business-group';
  if (type === '216') return 'virtual-org';
  if (type === '200') return 'system';
  const n = Number(type);
  if (n >= 111 && n <= 130) return 'device';
  return 'channel';
}

// ---------------------------------------------------------------------------------------------------------
// DeviceInfo / DeviceStatus

export interface DeviceInfoResponse {
  deviceId: string;
  sn: number;
  /** Upper-cased Result ('OK' / 'ERROR'; '' when absent). */
  result: string;
  deviceName: string;
  manufacturer: string;
  model: string;
  /** `Firmware` (also accepts the standard's OCR spelling `FirmWare` — names are case-insensitive). */
  firmware: string;
  /** Number of channels, null when absent. */
  channel: number | null;
  raw: Record<string, string>;
}

export function readDeviceInfo(m: ManscdpMessage): DeviceInfoResponse {
  const f = m.fields;
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    result: (textAt(f, 'Result') ?? '').toUpperCase(),
    deviceName: textAt(f, 'DeviceName') ?? '',
    manufacturer: textAt(f, 'Manufacturer') ?? '',
    model: textAt(f, 'Model') ?? '',
    firmware: textAt(f, 'Firmware') ?? '',
    channel: parseInteger(textAt(f, 'Channel')),
    raw: rawFields(m),
  };
}

export interface AlarmInputStatus {
  deviceId: string;
  /** ONDUTY / OFFDUTY / ALARM (upper-cased). */
  dutyStatus: string;
}

export interface DeviceStatusResponse {
  deviceId: string;
  sn: number;
  result: string;
  /** ONLINE / OFFLINE (upper-cased; '' when absent). */
  online: string;
  /** OK / ERROR. */
  status: string;
  encode: string;
  record: string;
  deviceTime: string;
  reason: string;
  alarmStatus: AlarmInputStatus[];
  raw: Record<string, string>;
}

export function readDeviceStatus(m: ManscdpMessage): DeviceStatusResponse {
  const f = m.fields;
  const upper = (path: string): string => (textAt(f, path) ?? '').toUpperCase();
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    result: upper('Result'),
    online: upper('Online'),
    status: upper('Status'),
    encode: upper('Encode'),
    record: upper('Record'),
    deviceTime: textAt(f, 'DeviceTime') ?? '',
    reason: textAt(f, 'Reason') ?? '',
    alarmStatus: nodesAt(f, 'Alarmstatus/Item').map((item) => ({
      deviceId: textAt(item, 'DeviceID') ?? '',
      dutyStatus: (textAt(item, 'DutyStatus') ?? '').toUpperCase(),
    })),
    raw: rawFields(m),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Alarm

export interface AlarmNotify {
  /** Alarm source (channel or alarm input). */
  deviceId: string;
  sn: number;
  /** 1–4 (1 highest). */
  priority: number | null;
  /** 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other. */
  method: number | null;
  /** Info/AlarmType (meaning depends on method); also accepted at top level. */
  type: number | null;
  /** Info/AlarmTypeParam/EventType (intrusion: 1 enter, 2 leave). */
  eventType: number | null;
  description: string;
  /** AlarmTime as sent (Beijing local time, no zone). */
  time: string;
  longitude: number | null;
  latitude: number | null;
  /** Every field except the envelope, e.g. 'Info.AlarmType', Dahua's 'AlarmInfo'. */
  raw: Record<string, string>;
}

export function readAlarmNotify(m: ManscdpMessage): AlarmNotify {
  const f = m.fields;
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    priority: parseInteger(textAt(f, 'AlarmPriority')),
    method: parseInteger(textAt(f, 'AlarmMethod')),
    type: parseInteger(textAt(f, 'Info/AlarmType') ?? textAt(f, 'AlarmType')),
    eventType: parseInteger(textAt(f, 'Info/AlarmTypeParam/EventType')),
    description: textAt(f, 'AlarmDescription') ?? '',
    time: textAt(f, 'AlarmTime') ?? '',
    longitude: parseCoordinate(textAt(f, 'Longitude'), 180),
    latitude: parseCoordinate(textAt(f, 'Latitude'), 90),
    raw: rawFields(m),
  };
}

// ---------------------------------------------------------------------------------------------------------
// MobilePosition

export interface MobilePosition {
  deviceId: string;
  /** CaptureTime (2022 item) or Time (2016 flat form / 2022 message level). */
  time: string;
  longitude: number | null;
  latitude: number | null;
  /** km/h */
  speed: number | null;
  /** degrees from north, 0–360 */
  direction: number | null;
  altitude: number | null;
  height: number | null;
}

export interface MobilePositionNotify {
  deviceId: string;
  sn: number;
  /** 'flat' = 2016 single position, 'list' = 2022 DeviceList form. */
  form: 'flat' | 'list';
  positions: MobilePosition[];
}

function readPosition(node: ManscdpNode, fallbackId: string, fallbackTime: string): MobilePosition {
  return {
    deviceId: textAt(node, 'DeviceID') || fallbackId,
    time: textAt(node, 'CaptureTime') || textAt(node, 'Time') || fallbackTime,
    longitude: parseCoordinate(textAt(node, 'Longitude'), 180),
    latitude: parseCoordinate(textAt(node, 'Latitude'), 90),
    speed: parseDecimal(textAt(node, 'Speed')),
    direction: parseDecimal(textAt(node, 'Direction')),
    altitude: parseDecimal(textAt(node, 'Altitude')),
    height: parseDecimal(textAt(node, 'Height')),
  };
}

/** Accepts the 2016 flat form and the 2022 list form. */
export function readMobilePosition(m: ManscdpMessage): MobilePositionNotify {
  const items = nodesAt(m.fields, 'DeviceList/Item');
  const messageTime = textAt(m.fields, 'Time') ?? '';
  if (items.length > 0) {
    return {
      deviceId: m.deviceId,
      sn: m.sn,
      form: 'list',
      positions: items.map((item) => readPosition(item, m.deviceId, messageTime)),
    };
  }
  return { deviceId: m.deviceId, sn: m.sn, form: 'flat', positions: [readPosition(m.fields, m.deviceId, messageTime)] };
}

// ---------------------------------------------------------------------------------------------------------
// Smaller readers

/**
 * MediaStatus Notify (GB 9.9.2, A.2.5.4): a device's in-dialog MESSAGE about a playback/download stream;
 * NotifyType 121 = the file (the requested span) has been sent completely. Null when absent or not a number.
 */
export function readMediaStatus(m: ManscdpMessage): { deviceId: string; sn: number; notifyType: number | null } {
  return { deviceId: m.deviceId, sn: m.sn, notifyType: parseInteger(textAt(m.fields, 'NotifyType')) };
}

/** Upper-cased <Result> of a Response ('' when absent). */
export function readResult(m: ManscdpMessage): string {
  return (textAt(m.fields, 'Result') ?? '').toUpperCase();
}

export interface PresetEntry {
  presetId: number | null;
  presetName: string;
}

export function readPresetList(m: ManscdpMessage): { deviceId: string; sn: number; sumNum: number | null; presets: PresetEntry[] } {
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    sumNum: parseInteger(textAt(m.fields, 'SumNum')),
    presets: nodesAt(m.fields, 'PresetList/Item').map((item) => ({
      presetId: parseInteger(textAt(item, 'PresetID')),
      presetName: textAt(item, 'PresetName') ?? '',
    })),
  };
}

export interface RecordItem {
  deviceId: string;
  name: string;
  filePath: string;
  address: string;
  startTime: string;
  endTime: string;
  secrecy: number | null;
  /** time / alarm / manual / all */
  type: string;
  recorderId: string;
  fileSize: number | null;
  extra: Record<string, string>;
}

export function readRecordInfoResponse(m: ManscdpMessage): {
  deviceId: string;
  sn: number;
  name: string;
  sumNum: number | null;
  items: RecordItem[];
} {
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    name: textAt(m.fields, 'Name') ?? '',
    sumNum: parseInteger(textAt(m.fields, 'SumNum')),
    items: nodesAt(m.fields, 'RecordList/Item').map((item) => {
      const known = ['deviceid', 'name', 'filepath', 'address', 'starttime', 'endtime', 'secrecy', 'type', 'recorderid', 'filesize'];
      return {
        deviceId: textAt(item, 'DeviceID') ?? '',
        name: textAt(item, 'Name') ?? '',
        filePath: textAt(item, 'FilePath') ?? '',
        address: textAt(item, 'Address') ?? '',
        startTime: textAt(item, 'StartTime') ?? '',
        endTime: textAt(item, 'EndTime') ?? '',
        secrecy: parseInteger(textAt(item, 'Secrecy')),
        type: textAt(item, 'Type') ?? '',
        recorderId: textAt(item, 'RecorderID') ?? '',
        fileSize: parseInteger(textAt(item, 'FileSize')),
        extra: flattenNode(item, undefined, (p) => known.includes(p)),
      };
    }),
  };
}

export interface DeviceControlRequest {
  deviceId: string;
  sn: number;
  /** PTZCmd hex, upper-cased; null when absent. */
  ptzCmd: string | null;
  teleBoot: string | null;
  recordCmd: string | null;
  guardCmd: string | null;
  alarmCmd: string | null;
  /** IFameCmd (2016 spelling, what WVP sends) or IFrameCmd (2022). */
  iframeCmd: string | null;
  raw: Record<string, string>;
}

/** Read a DeviceControl (used by the device simulator). */
export function readDeviceControl(m: ManscdpMessage): DeviceControlRequest {
  const f = m.fields;
  const opt = (path: string): string | null => textAt(f, path) ?? null;
  return {
    deviceId: m.deviceId,
    sn: m.sn,
    ptzCmd: opt('PTZCmd')?.toUpperCase() ?? null,
    teleBoot: opt('TeleBoot'),
    recordCmd: opt('RecordCmd'),
    guardCmd: opt('GuardCmd'),
    alarmCmd: opt('AlarmCmd'),
    iframeCmd: opt('IFameCmd') ?? opt('IFrameCmd'),
    raw: rawFields(m),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Encoders

/**
 * Command-specific fields: either a record (order kept; null/undefined skipped) or element specs (for
 * nesting and attributes, built with `el` from ./xml.js).
 */
export type ManscdpFields =
  | Readonly<Record<string, string | number | null | undefined>>
  | readonly XmlElementSpec[];

function fieldsToElements(fields: ManscdpFields | undefined): XmlElementSpec[] {
  if (!fields) return [];
  if (Array.isArray(fields)) return [...(fields as readonly XmlElementSpec[])];
  const out: XmlElementSpec[] = [];
  for (const [name, value] of Object.entries(fields as Record<string, string | number | null | undefined>)) {
    if (value !== null && value !== undefined) out.push(el(name, value));
  }
  return out;
}

function checkSn(sn: number): void {
  if (!Number.isSafeInteger(sn) || sn < 1) throw new RangeError(`sn must be an integer ≥ 1, got ${sn}`);
}

function checkDeviceId(deviceId: string): void {
  if (deviceId.trim() === '') throw new RangeError('deviceId must not be empty');
}

/** Any MANSCDP document: <root><CmdType/><SN/><DeviceID/>…fields</root>, encoded in `charset`. */
export function encodeManscdp(
  root: ManscdpRoot,
  cmdType: string,
  sn: number,
  deviceId: string,
  fields?: ManscdpFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  checkSn(sn);
  checkDeviceId(deviceId);
  const doc = el(root, [el('CmdType', cmdType), el('SN', sn), el('DeviceID', deviceId), ...fieldsToElements(fields)]);
  return encodeBody(writeXmlDocument(doc, charset), charset);
}

export type QueryCmdType =
  | 'Catalog'
  | 'DeviceInfo'
  | 'DeviceStatus'
  | 'PresetQuery'
  | 'RecordInfo'
  | 'Alarm'
  | 'MobilePosition'
  | 'ConfigDownload'
  | (string & {});

/** <Query>: Catalog / DeviceInfo / DeviceStatus / PresetQuery (and RecordInfo etc. via `extra`). */
export function encodeQuery(
  cmdType: QueryCmdType,
  sn: number,
  deviceId: string,
  extra?: ManscdpFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeManscdp('Query', cmdType, sn, deviceId, extra, charset);
}

/** Generic <Control> (DeviceControl / DeviceConfig), e.g. fields {TeleBoot: 'Boot'}. */
export function encodeControl(
  cmdType: string,
  sn: number,
  deviceId: string,
  fields?: ManscdpFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeManscdp('Control', cmdType, sn, deviceId, fields, charset);
}

/** DeviceControl with PTZCmd (16 hex chars, see ../gb/ptz.ts) and ControlPriority 5, as WVP sends. */
export function encodePtzControl(
  deviceId: string,
  sn: number,
  ptzHex: string,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  if (!/^[0-9A-Fa-f]{16}$/.test(ptzHex)) throw new RangeError(`ptzHex must be 16 hex characters, got ${JSON.stringify(ptzHex)}`);
  return encodeControl(
    'DeviceControl',
    sn,
    deviceId,
    [el('PTZCmd', ptzHex.toUpperCase()), el('Info', [el('ControlPriority', 5)])],
    charset,
  );
}

/** Generic <Response> (e.g. Result OK for an Alarm notify, or a simulator's answer). */
export function encodeResponse(
  cmdType: string,
  sn: number,
  deviceId: string,
  fields?: ManscdpFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeManscdp('Response', cmdType, sn, deviceId, fields, charset);
}

/** Generic <Notify>. */
export function encodeNotify(
  cmdType: string,
  sn: number,
  deviceId: string,
  fields?: ManscdpFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeManscdp('Notify', cmdType, sn, deviceId, fields, charset);
}

export function encodeKeepalive(
  deviceId: string,
  sn: number,
  opts: { status?: 'OK' | 'ERROR'; faultyDeviceIds?: readonly string[] } = {},
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  const fields: XmlElementSpec[] = [el('Status', opts.status ?? 'OK')];
  if (opts.faultyDeviceIds && opts.faultyDeviceIds.length > 0) {
    fields.push(el('Info', opts.faultyDeviceIds.map((id) => el('DeviceID', id))));
  }
  return encodeNotify('Keepalive', sn, deviceId, fields, charset);
}

/** Build nested elements from flattened 'A.B[1]' keys (the inverse of flattenNode). */
function extraToElements(extra: Readonly<Record<string, string>>): XmlElementSpec[] {
  interface Branch {
    name: string;
    text: string | null;
    children: Branch[];
  }
  const root: Branch = { name: '', text: null, children: [] };
  for (const [key, value] of Object.entries(extra)) {
    let node = root;
    for (const segment of key.split('.')) {
      const m = /^(.*?)(?:\[(\d+)\])?$/.exec(segment);
      const name = m?.[1] ?? segment;
      const index = m?.[2] ? Number(m[2]) : 0;
      const sameName = node.children.filter((c) => c.name === name);
      while (sameName.length <= index) {
        const created: Branch = { name, text: null, children: [] };
        node.children.push(created);
        sameName.push(created);
      }
      node = sameName[index];
    }
    node.text = value;
  }
  const toSpec = (b: Branch): XmlElementSpec =>
    b.children.length > 0 ? el(b.name, b.children.map(toSpec)) : el(b.name, b.text ?? '');
  return root.children.map(toSpec);
}

/** Elements for one catalog item in the standard's order; empty strings and nulls are left out. */
export function catalogItemToElements(item: CatalogItem): XmlElementSpec {
  const children: XmlElementSpec[] = [];
  const put = (name: string, value: string | number | null): void => {
    if (value !== null && value !== '') children.push(el(name, value));
  };
  put('DeviceID', item.deviceId);
  put('Name', item.name);
  put('Manufacturer', item.manufacturer);
  put('Model', item.model);
  put('Owner', item.owner);
  put('CivilCode', item.civilCode);
  put('Block', item.block);
  put('Address', item.address);
  put('Parental', item.parental);
  put('ParentID', item.parentIds.join('/'));
  put('SafetyWay', item.safetyWay);
  put('RegisterWay', item.registerWay);
  put('Secrecy', item.secrecy);
  put('IPAddress', item.ipAddress);
  put('Port', item.port);
  put('Status', item.status);
  put('Longitude', item.longitude);
  put('Latitude', item.latitude);
  put('BusinessGroupID', item.businessGroupId);
  const extra = { ...item.extra };
  if (item.ptzType !== null) extra['Info.PTZType'] = String(item.ptzType);
  // Info first-level keys before others keeps Info.PTZType ahead of other Info fields.
  const ordered: Record<string, string> = {};
  if (Object.hasOwn(extra, 'Info.PTZType')) ordered['Info.PTZType'] = extra['Info.PTZType'];
  for (const [k, v] of Object.entries(extra)) if (!Object.hasOwn(ordered, k)) ordered[k] = v;
  children.push(...extraToElements(ordered));
  put('Event', item.event);
  return el('Item', children);
}

/** One part of a (possibly multi-part) Catalog Response: `sumNum` = grand total, Num = items here. */
export function encodeCatalogResponse(
  deviceId: string,
  sn: number,
  sumNum: number,
  items: readonly CatalogItem[],
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeResponse('Catalog', sn, deviceId, catalogBody(sumNum, items), charset);
}

/** Catalog NOTIFY body for subscriptions (items carry `event`; SumNum = Num per Annex N). */
export function encodeCatalogNotify(
  deviceId: string,
  sn: number,
  items: readonly CatalogItem[],
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeNotify('Catalog', sn, deviceId, catalogBody(items.length, items), charset);
}

function catalogBody(sumNum: number, items: readonly CatalogItem[]): XmlElementSpec[] {
  if (!Number.isSafeInteger(sumNum) || sumNum < 0) throw new RangeError(`sumNum must be an integer ≥ 0, got ${sumNum}`);
  const fields = [el('SumNum', sumNum)];
  // Zero results: SumNum 0 and no list [Annex M].
  if (items.length > 0) fields.push(el('DeviceList', items.map(catalogItemToElements), { Num: items.length }));
  return fields;
}

/** One recording in a RecordInfo answer (times as GB local time text, e.g. 2026-12-05T08:00:00). */
export interface RecordItemFields {
  deviceId: string;
  name: string;
  startTime: string;
  endTime: string;
  filePath?: string;
  address?: string;
  secrecy?: number;
  type?: string;
  recorderId?: string;
  fileSize?: number | null;
}

/** One part of a RecordInfo answer: SumNum is the grand total, the list holds this part's items (Annex M). */
export function encodeRecordInfoResponse(
  deviceId: string,
  sn: number,
  name: string,
  sumNum: number,
  items: readonly RecordItemFields[],
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  if (!Number.isSafeInteger(sumNum) || sumNum < 0) throw new RangeError(`sumNum must be an integer ≥ 0, got ${sumNum}`);
  const fields: XmlElementSpec[] = [el('Name', name), el('SumNum', sumNum)];
  if (items.length > 0) {
    fields.push(
      el(
        'RecordList',
        items.map((item) => {
          const children = [el('DeviceID', item.deviceId), el('Name', item.name)];
          if (item.filePath) children.push(el('FilePath', item.filePath));
          if (item.address) children.push(el('Address', item.address));
          children.push(el('StartTime', item.startTime), el('EndTime', item.endTime), el('Secrecy', item.secrecy ?? 0), el('Type', item.type ?? 'time'));
          if (item.recorderId) children.push(el('RecorderID', item.recorderId));
          if (item.fileSize !== undefined && item.fileSize !== null) children.push(el('FileSize', item.fileSize));
          return el('Item', children);
        }),
        { Num: items.length },
      ),
    );
  }
  return encodeResponse('RecordInfo', sn, deviceId, fields, charset);
}

export interface DeviceInfoFields {
  deviceName: string;
  manufacturer: string;
  model: string;
  firmware: string;
  channel?: number | null;
  result?: 'OK' | 'ERROR';
}

export function encodeDeviceInfoResponse(
  deviceId: string,
  sn: number,
  info: DeviceInfoFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  return encodeResponse(
    'DeviceInfo',
    sn,
    deviceId,
    {
      DeviceName: info.deviceName,
      Result: info.result ?? 'OK',
      Manufacturer: info.manufacturer,
      Model: info.model,
      Firmware: info.firmware,
      Channel: info.channel ?? null,
    },
    charset,
  );
}

export interface DeviceStatusFields {
  online: 'ONLINE' | 'OFFLINE';
  status: 'OK' | 'ERROR';
  result?: 'OK' | 'ERROR';
  encode?: 'ON' | 'OFF';
  record?: 'ON' | 'OFF';
  deviceTime?: string;
  reason?: string;
  alarmStatus?: readonly AlarmInputStatus[];
}

export function encodeDeviceStatusResponse(
  deviceId: string,
  sn: number,
  status: DeviceStatusFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  const fields: XmlElementSpec[] = [el('Result', status.result ?? 'OK'), el('Online', status.online), el('Status', status.status)];
  if (status.reason) fields.push(el('Reason', status.reason));
  if (status.encode) fields.push(el('Encode', status.encode));
  if (status.record) fields.push(el('Record', status.record));
  if (status.deviceTime) fields.push(el('DeviceTime', status.deviceTime));
  if (status.alarmStatus && status.alarmStatus.length > 0) {
    fields.push(
      el(
        'Alarmstatus',
        status.alarmStatus.map((a) => el('Item', [el('DeviceID', a.deviceId), el('DutyStatus', a.dutyStatus)])),
        { Num: status.alarmStatus.length },
      ),
    );
  }
  return encodeResponse('DeviceStatus', sn, deviceId, fields, charset);
}

export interface AlarmFields {
  priority: number;
  method: number;
  /** Beijing local time without zone, e.g. 2026-03-01T09:31:02. */
  time: string;
  type?: number | null;
  eventType?: number | null;
  description?: string;
  longitude?: number | null;
  latitude?: number | null;
}

export function encodeAlarmNotify(
  deviceId: string,
  sn: number,
  alarm: AlarmFields,
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  const fields: XmlElementSpec[] = [
    el('AlarmPriority', alarm.priority),
    el('AlarmMethod', alarm.method),
    el('AlarmTime', alarm.time),
  ];
  if (alarm.description) fields.push(el('AlarmDescription', alarm.description));
  if (alarm.longitude !== null && alarm.longitude !== undefined) fields.push(el('Longitude', alarm.longitude));
  if (alarm.latitude !== null && alarm.latitude !== undefined) fields.push(el('Latitude', alarm.latitude));
  if (alarm.type !== null && alarm.type !== undefined) {
    const info: XmlElementSpec[] = [el('AlarmType', alarm.type)];
    if (alarm.eventType !== null && alarm.eventType !== undefined) {
      info.push(el('AlarmTypeParam', [el('EventType', alarm.eventType)]));
    }
    fields.push(el('Info', info));
  }
  return encodeNotify('Alarm', sn, deviceId, fields, charset);
}

/** MobilePosition NOTIFY: 'flat' (2016, first position only) or 'list' (2022). */
export function encodeMobilePositionNotify(
  deviceId: string,
  sn: number,
  positions: readonly MobilePosition[],
  form: 'flat' | 'list' = 'list',
  charset: ManscdpCharset = DEFAULT_MANSCDP_CHARSET,
): Buffer {
  const values = (p: MobilePosition): XmlElementSpec[] =>
    (
      [
        ['Longitude', p.longitude],
        ['Latitude', p.latitude],
        ['Speed', p.speed],
        ['Direction', p.direction],
        ['Altitude', p.altitude],
        ['Height', p.height],
      ] as const
    )
      .filter(([, v]) => v !== null)
      .map(([n, v]) => el(n, v));
  if (form === 'flat') {
    const p = positions[0];
    if (!p) throw new RangeError('positions must not be empty');
    return encodeNotify('MobilePosition', sn, deviceId, [el('Time', p.time), ...values(p)], charset);
  }
  const items = positions.map((p) => el('Item', [el('DeviceID', p.deviceId), el('CaptureTime', p.time), ...values(p)]));
  const fields: XmlElementSpec[] = [el('SumNum', positions.length), el('DeviceList', items, { Num: positions.length })];
  return encodeNotify('MobilePosition', sn, deviceId, fields, charset);
}
