/**
 * ONVIF requests our client sends and the answers it reads: Device (ver10), Media (ver10), Media2 (ver20),
 * PTZ (ver20), Imaging (ver20) and Events (ver10 PullPoint). Builders return the Body content; parsers take the first Body
 * element of a parsed envelope (codecs/soap) and are lenient: missing optional parts become defaults, a
 * missing required part is an OnvifDecodeError naming it.
 */
import { NS, allAt, at, attr, children, element, escapeXml, localName, textAt, type XmlNode } from '../soap/soap.js';

export class OnvifDecodeError extends Error {
  override readonly name = 'OnvifDecodeError';
}

function expect(node: XmlNode | undefined, what: string): XmlNode {
  if (!node) throw new OnvifDecodeError(`ONVIF answer without ${what}`);
  return node;
}

function num(text: string | undefined, fallback = 0): number {
  const n = text === undefined ? NaN : Number(text);
  return Number.isFinite(n) ? n : fallback;
}

// ---------------------------------------------------------------------------------------------------------
// Device service

export const device = {
  getSystemDateAndTime: (): string => '<tds:GetSystemDateAndTime/>',
  getDeviceInformation: (): string => '<tds:GetDeviceInformation/>',
  getCapabilities: (): string => '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>',
  getServices: (): string => '<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>',
  getNetworkInterfaces: (): string => '<tds:GetNetworkInterfaces/>',
};

/** The camera's UTC clock, or null when it sent none (then WS-Security uses our clock). */
export function parseSystemDateAndTime(message: XmlNode): Date | null {
  const utc = at(message, 'SystemDateAndTime/UTCDateTime');
  if (!utc) return null;
  const d = at(utc, 'Date');
  const t = at(utc, 'Time');
  const ms = Date.UTC(num(textAt(d, 'Year')), num(textAt(d, 'Month'), 1) - 1, num(textAt(d, 'Day'), 1), num(textAt(t, 'Hour')), num(textAt(t, 'Minute')), num(textAt(t, 'Second')));
  return Number.isFinite(ms) && num(textAt(d, 'Year')) > 1970 ? new Date(ms) : null;
}

export interface DeviceInformation {
  manufacturer: string;
  model: string;
  firmwareVersion: string;
  serialNumber: string;
  hardwareId: string;
}

export function parseDeviceInformation(message: XmlNode): DeviceInformation {
  return {
    manufacturer: textAt(message, 'Manufacturer') ?? '',
    model: textAt(message, 'Model') ?? '',
    firmwareVersion: textAt(message, 'FirmwareVersion') ?? '',
    serialNumber: textAt(message, 'SerialNumber') ?? '',
    hardwareId: textAt(message, 'HardwareId') ?? '',
  };
}

/** Service addresses by kind; each may be absent (a camera without PTZ has no PTZ XAddr). */
export interface ServiceAddresses {
  device?: string;
  media?: string;
  media2?: string;
  ptz?: string;
  events?: string;
  /** Imaging (ver20): focus and iris. */
  imaging?: string;
}

export function parseCapabilities(message: XmlNode): ServiceAddresses {
  const caps = expect(at(message, 'Capabilities'), 'Capabilities');
  const out: ServiceAddresses = {};
  const device = textAt(caps, 'Device/XAddr');
  const media = textAt(caps, 'Media/XAddr');
  const ptz = textAt(caps, 'PTZ/XAddr');
  const events = textAt(caps, 'Events/XAddr');
  const imaging = textAt(caps, 'Imaging/XAddr');
  if (imaging) out.imaging = imaging;
  if (device) out.device = device;
  if (media) out.media = media;
  if (ptz) out.ptz = ptz;
  if (events) out.events = events;
  // Media2 is announced under Extension by some firmware.
  const media2 = textAt(caps, 'Extension/Media2/XAddr');
  if (media2) out.media2 = media2;
  return out;
}

export function parseServices(message: XmlNode): ServiceAddresses {
  const out: ServiceAddresses = {};
  for (const service of children(message, 'Service')) {
    const ns = textAt(service, 'Namespace') ?? '';
    const xaddr = textAt(service, 'XAddr') ?? '';
    if (!xaddr) continue;
    if (ns === NS.tds) out.device = xaddr;
    else if (ns === NS.trt) out.media = xaddr;
    else if (ns === NS.tr2) out.media2 = xaddr;
    else if (ns === NS.tptz) out.ptz = xaddr;
    else if (ns === NS.tev) out.events = xaddr;
    else if (ns === NS.timg) out.imaging = xaddr;
  }
  return out;
}

export interface NetworkInterface {
  token: string;
  name: string;
  mac: string;
  ipv4: string[];
}

export function parseNetworkInterfaces(message: XmlNode): NetworkInterface[] {
  return children(message, 'NetworkInterfaces').map((n) => ({
    token: attr(n, 'token') ?? '',
    name: textAt(n, 'Info/Name') ?? '',
    mac: textAt(n, 'Info/HwAddress') ?? '',
    ipv4: [...allAt(n, 'IPv4/Config/Manual'), ...allAt(n, 'IPv4/Config/FromDHCP')].map((a) => textAt(a, 'Address') ?? '').filter(Boolean),
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Media (ver10) and Media2 (ver20)

export interface MediaProfile {
  token: string;
  name: string;
  videoSourceToken: string;
  /** The configuration's token: events name the source by it (RuleEngine topics) as often as by the source token. */
  videoSourceConfigurationToken: string;
  encoding: string;
  width: number;
  height: number;
  /** PTZ configuration present: the profile can be steered. */
  ptz: boolean;
  /** The PTZ configuration's node ('' when absent or not named): its spaces bound the velocities. */
  ptzNodeToken: string;
}

export const media = {
  getProfiles: (): string => '<trt:GetProfiles/>',
  getStreamUri: (profileToken: string, transport: 'tcp' | 'udp'): string =>
    `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>${transport === 'tcp' ? 'RTSP' : 'UDP'}</tt:Protocol></tt:Transport></trt:StreamSetup>` +
    `<trt:ProfileToken>${escapeXml(profileToken)}</trt:ProfileToken></trt:GetStreamUri>`,
  getSnapshotUri: (profileToken: string): string => `<trt:GetSnapshotUri><trt:ProfileToken>${escapeXml(profileToken)}</trt:ProfileToken></trt:GetSnapshotUri>`,
};

export const media2 = {
  getProfiles: (): string => '<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>',
  /** Media2 protocols: RtspUnicast (RTP over UDP), RTSP (interleaved over TCP). */
  getStreamUri: (profileToken: string, transport: 'tcp' | 'udp'): string =>
    `<tr2:GetStreamUri><tr2:Protocol>${transport === 'tcp' ? 'RTSP' : 'RtspUnicast'}</tr2:Protocol><tr2:ProfileToken>${escapeXml(profileToken)}</tr2:ProfileToken></tr2:GetStreamUri>`,
  getSnapshotUri: (profileToken: string): string => `<tr2:GetSnapshotUri><tr2:ProfileToken>${escapeXml(profileToken)}</tr2:ProfileToken></tr2:GetSnapshotUri>`,
};

export function parseProfiles(message: XmlNode): MediaProfile[] {
  return children(message, 'Profiles').map((p) => {
    // ver10: VideoSourceConfiguration / VideoEncoderConfiguration; ver20: Configurations/VideoSource, /VideoEncoder.
    const source = at(p, 'VideoSourceConfiguration') ?? at(p, 'Configurations/VideoSource');
    const encoder = at(p, 'VideoEncoderConfiguration') ?? at(p, 'Configurations/VideoEncoder');
    const ptz = at(p, 'PTZConfiguration') ?? at(p, 'Configurations/PTZ');
    return {
      token: attr(p, 'token') ?? '',
      name: textAt(p, 'Name') ?? attr(p, 'token') ?? '',
      videoSourceToken: textAt(source, 'SourceToken') ?? attr(source, 'token') ?? '',
      videoSourceConfigurationToken: attr(source, 'token') ?? '',
      encoding: (textAt(encoder, 'Encoding') ?? '').toUpperCase(),
      width: num(textAt(encoder, 'Resolution/Width')),
      height: num(textAt(encoder, 'Resolution/Height')),
      ptz: ptz !== undefined,
      ptzNodeToken: textAt(ptz, 'NodeToken') ?? '',
    };
  });
}

/** GetStreamUri / GetSnapshotUri, ver10 (MediaUri/Uri) or ver20 (Uri). */
export function parseUri(message: XmlNode): string {
  const uri = textAt(message, 'MediaUri/Uri') ?? textAt(message, 'Uri');
  if (!uri) throw new OnvifDecodeError(`ONVIF ${message.name} without a Uri`);
  return uri;
}

// ---------------------------------------------------------------------------------------------------------
// PTZ (ver20). Translations are in the generic spaces (pan/tilt −1…1, zoom −1…1 or 0…1); velocities in the node's
// continuous velocity spaces (GetNodes), which the caller scales into.

export interface PtzVector {
  pan?: number;
  tilt?: number;
  zoom?: number;
}

function vector(tag: 'Velocity' | 'Translation' | 'Speed', v: PtzVector): string {
  // Velocities are already scaled into the camera node's ranges (which may exceed −1…1): only rounded here.
  const c = tag === 'Velocity' ? (x: number): number => Math.round(x * 1000) / 1000 : clamp;
  const parts: string[] = [];
  if (v.pan !== undefined || v.tilt !== undefined) parts.push(element('tt:PanTilt', null, { x: c(v.pan ?? 0), y: c(v.tilt ?? 0) }));
  if (v.zoom !== undefined) parts.push(element('tt:Zoom', null, { x: c(v.zoom) }));
  return `<tptz:${tag}>${parts.join('')}</tptz:${tag}>`;
}

function clamp(x: number): number {
  return Math.round(Math.max(-1, Math.min(1, x)) * 1000) / 1000;
}

const profile = (token: string): string => `<tptz:ProfileToken>${escapeXml(token)}</tptz:ProfileToken>`;

export const ptz = {
  continuousMove: (token: string, velocity: PtzVector, timeoutSec?: number): string =>
    `<tptz:ContinuousMove>${profile(token)}${vector('Velocity', velocity)}${timeoutSec ? `<tptz:Timeout>PT${timeoutSec}S</tptz:Timeout>` : ''}</tptz:ContinuousMove>`,
  stop: (token: string, panTilt = true, zoom = true): string =>
    `<tptz:Stop>${profile(token)}<tptz:PanTilt>${panTilt}</tptz:PanTilt><tptz:Zoom>${zoom}</tptz:Zoom></tptz:Stop>`,
  relativeMove: (token: string, translation: PtzVector, speed?: PtzVector): string =>
    `<tptz:RelativeMove>${profile(token)}${vector('Translation', translation)}${speed ? vector('Speed', speed) : ''}</tptz:RelativeMove>`,
  gotoPreset: (token: string, presetToken: string): string => `<tptz:GotoPreset>${profile(token)}<tptz:PresetToken>${escapeXml(presetToken)}</tptz:PresetToken></tptz:GotoPreset>`,
  setPreset: (token: string, name: string, presetToken?: string): string =>
    `<tptz:SetPreset>${profile(token)}<tptz:PresetName>${escapeXml(name)}</tptz:PresetName>${presetToken ? `<tptz:PresetToken>${escapeXml(presetToken)}</tptz:PresetToken>` : ''}</tptz:SetPreset>`,
  getPresets: (token: string): string => `<tptz:GetPresets>${profile(token)}</tptz:GetPresets>`,
  removePreset: (token: string, presetToken: string): string =>
    `<tptz:RemovePreset>${profile(token)}<tptz:PresetToken>${escapeXml(presetToken)}</tptz:PresetToken></tptz:RemovePreset>`,
  gotoHomePosition: (token: string): string => `<tptz:GotoHomePosition>${profile(token)}</tptz:GotoHomePosition>`,
  getNode: (nodeToken: string): string => `<tptz:GetNode><tptz:NodeToken>${escapeXml(nodeToken)}</tptz:NodeToken></tptz:GetNode>`,
  getNodes: (): string => '<tptz:GetNodes/>',
  getConfiguration: (configToken: string): string => `<tptz:GetConfiguration><tptz:PTZConfigurationToken>${escapeXml(configToken)}</tptz:PTZConfigurationToken></tptz:GetConfiguration>`,
};

/** A velocity range of a PTZ node's space (ONVIF Core: tt:Space1DDescription / Space2DDescription). */
export interface Range {
  min: number;
  max: number;
}

/** What a PTZ node allows for ContinuousMove: pan/tilt x and y ranges, zoom x range; null = no such space. */
export interface PtzNodeSpaces {
  token: string;
  panTilt: { x: Range; y: Range } | null;
  zoom: Range | null;
}

function rangeOf(node: XmlNode | undefined): Range | null {
  const min = Number(textAt(node, 'Min'));
  const max = Number(textAt(node, 'Max'));
  return node && Number.isFinite(min) && Number.isFinite(max) && max > min ? { min, max } : null;
}

/** The continuous velocity spaces of a node (GetNode's PTZNode or one of GetNodes' PTZNode). */
export function parsePtzNode(node: XmlNode): PtzNodeSpaces {
  const spaces = at(node, 'SupportedPTZSpaces');
  // A node may list several spaces of a kind (the generic one plus e.g. degrees per second). Our ContinuousMove
  // names no space, so the camera reads it in its default space, which is the generic one where listed: prefer it.
  const pick = (kind: string): XmlNode | undefined => {
    const all = children(spaces, kind);
    return all.find((sp) => /VelocityGenericSpace$/.test(textAt(sp, 'URI') ?? '')) ?? all[0];
  };
  const pt = pick('ContinuousPanTiltVelocitySpace');
  const x = rangeOf(at(pt, 'XRange'));
  const y = rangeOf(at(pt, 'YRange'));
  return { token: attr(node, 'token') ?? '', panTilt: x && y ? { x, y } : null, zoom: rangeOf(at(pick('ContinuousZoomVelocitySpace'), 'XRange')) };
}

export function parsePtzNodes(message: XmlNode): PtzNodeSpaces[] {
  return children(message, 'PTZNode').map(parsePtzNode);
}

/** GetConfiguration: the node token of a PTZ configuration. */
export function parsePtzConfigurationNode(message: XmlNode): string {
  return textAt(message, 'PTZConfiguration/NodeToken') ?? '';
}

// ---------------------------------------------------------------------------------------------------------
// Imaging (ver20): focus moves and iris settings of a video source.

export const imaging = {
  getImagingSettings: (source: string): string => `<timg:GetImagingSettings><timg:VideoSourceToken>${escapeXml(source)}</timg:VideoSourceToken></timg:GetImagingSettings>`,
  getOptions: (source: string): string => `<timg:GetOptions><timg:VideoSourceToken>${escapeXml(source)}</timg:VideoSourceToken></timg:GetOptions>`,
  getMoveOptions: (source: string): string => `<timg:GetMoveOptions><timg:VideoSourceToken>${escapeXml(source)}</timg:VideoSourceToken></timg:GetMoveOptions>`,
  /** Continuous focus move; speed in the camera's MoveOptions Continuous/Speed range (sign: + far, − near). */
  moveFocus: (source: string, speed: number): string =>
    `<timg:Move><timg:VideoSourceToken>${escapeXml(source)}</timg:VideoSourceToken><timg:Focus><tt:Continuous><tt:Speed>${Math.round(speed * 1000) / 1000}</tt:Speed></tt:Continuous></timg:Focus></timg:Move>`,
  stop: (source: string): string => `<timg:Stop><timg:VideoSourceToken>${escapeXml(source)}</timg:VideoSourceToken></timg:Stop>`,
  /** Exposure in manual mode with this iris (dB, ONVIF's unit: 0 fully open, lower is more closed). */
  setIris: (source: string, iris: number): string =>
    `<timg:SetImagingSettings><timg:VideoSourceToken>${escapeXml(source)}</timg:VideoSourceToken><timg:ImagingSettings>` +
    `<tt:Exposure><tt:Mode>MANUAL</tt:Mode><tt:Iris>${Math.round(iris * 1000) / 1000}</tt:Iris></tt:Exposure>` +
    `</timg:ImagingSettings><timg:ForcePersistence>false</timg:ForcePersistence></timg:SetImagingSettings>`,
};

/** GetMoveOptions: the continuous focus speed range, null when the camera cannot move focus continuously. */
export function parseFocusMoveOptions(message: XmlNode): Range | null {
  return rangeOf(at(message, 'MoveOptions/Continuous/Speed'));
}

/** GetOptions: the iris range (Exposure/Iris Min/Max), null when the camera cannot set the iris. */
export function parseIrisOptions(message: XmlNode): Range | null {
  return rangeOf(at(message, 'ImagingOptions/Exposure/Iris'));
}

/** GetImagingSettings: exposure mode and iris (null when the settings carry none). */
export function parseExposure(message: XmlNode): { mode: string; iris: number | null } {
  const exposure = at(message, 'ImagingSettings/Exposure');
  const iris = textAt(exposure, 'Iris');
  return { mode: (textAt(exposure, 'Mode') ?? '').toUpperCase(), iris: iris === undefined || !Number.isFinite(Number(iris)) ? null : Number(iris) };
}

export interface PtzPreset {
  token: string;
  name: string;
}

export function parsePresets(message: XmlNode): PtzPreset[] {
  return children(message, 'Preset').map((p) => ({ token: attr(p, 'token') ?? '', name: textAt(p, 'Name') ?? '' }));
}

export function parseSetPreset(message: XmlNode): string {
  return expect(at(message, 'PresetToken'), 'PresetToken').text;
}

// ---------------------------------------------------------------------------------------------------------
// Events: PullPoint subscription (ONVIF Core §9.1 "Real-time Pull-Point Notification Interface")

export const events = {
  createPullPointSubscription: (terminationSec: number): string =>
    `<tev:CreatePullPointSubscription><tev:InitialTerminationTime>PT${terminationSec}S</tev:InitialTerminationTime></tev:CreatePullPointSubscription>`,
  pullMessages: (timeoutSec: number, limit: number): string =>
    `<tev:PullMessages><tev:Timeout>PT${timeoutSec}S</tev:Timeout><tev:MessageLimit>${limit}</tev:MessageLimit></tev:PullMessages>`,
  renew: (terminationSec: number): string => `<wsnt:Renew><wsnt:TerminationTime>PT${terminationSec}S</wsnt:TerminationTime></wsnt:Renew>`,
  unsubscribe: (): string => '<wsnt:Unsubscribe/>',
};

export const EVENT_ACTIONS = {
  pullMessages: 'http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest',
  renew: 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest',
  unsubscribe: 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest',
} as const;

export interface PullPointSubscription {
  address: string;
  currentTime: Date | null;
  terminationTime: Date | null;
}

function dateOrNull(text: string | undefined): Date | null {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

export function parseCreatePullPointSubscription(message: XmlNode): PullPointSubscription {
  const address = expect(at(message, 'SubscriptionReference/Address'), 'SubscriptionReference/Address').text;
  return { address, currentTime: dateOrNull(textAt(message, 'CurrentTime')), terminationTime: dateOrNull(textAt(message, 'TerminationTime')) };
}

export interface OnvifEvent {
  /** Topic without its dialect prefix, e.g. "RuleEngine/CellMotionDetector/Motion", "VideoSource/ImageTooBlurry". */
  topic: string;
  utcTime: Date | null;
  /** "Initialized" | "Changed" | "Deleted" (PropertyOperation), '' when absent. */
  operation: string;
  source: Record<string, string>;
  data: Record<string, string>;
}

function simpleItems(node: XmlNode | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of children(node, 'SimpleItem')) {
    const name = attr(item, 'Name');
    if (name) out[name] = attr(item, 'Value') ?? '';
  }
  return out;
}

export function parsePullMessages(message: XmlNode): { currentTime: Date | null; terminationTime: Date | null; events: OnvifEvent[] } {
  const out: OnvifEvent[] = [];
  for (const n of children(message, 'NotificationMessage')) {
    const rawTopic = textAt(n, 'Topic') ?? '';
    const m = at(n, 'Message/Message') ?? at(n, 'Message');
    out.push({
      topic: rawTopic.replace(/^[A-Za-z0-9]+:/, '').replace(/\/\/?\.$/, ''),
      utcTime: dateOrNull(attr(m, 'UtcTime')),
      operation: attr(m, 'PropertyOperation') ?? '',
      source: simpleItems(at(m, 'Source')),
      data: simpleItems(at(m, 'Data')),
    });
  }
  return { currentTime: dateOrNull(textAt(message, 'CurrentTime')), terminationTime: dateOrNull(textAt(message, 'TerminationTime')), events: out };
}

/** The alarm kind an ONVIF event topic means, or null for topics that are not alarms (e.g. configuration). */
export function alarmKindOfTopic(topic: string): 'motion' | 'tamper' | 'video-loss' | 'digital-input' | null {
  const t = topic.toLowerCase();
  if (t.includes('motion')) return 'motion';
  if (t.includes('tamper') || t.includes('imagetooblurry') || t.includes('imagetoodark') || t.includes('imagetoobright') || t.includes('globalscenechange')) return 'tamper';
  if (t.includes('signalloss') || t.includes('videoloss') || t.includes('lostvideosource')) return 'video-loss';
  if (t.includes('digitalinput') || t.includes('logicalstate')) return 'digital-input';
  return null;
}

/** True when an event's data says the condition is active (IsMotion=true, State=true, LogicalState=true …). */
export function eventIsActive(e: OnvifEvent): boolean {
  for (const v of Object.values(e.data)) {
    const s = v.toLowerCase();
    if (s === 'true' || s === '1' || s === 'active') return true;
  }
  return false;
}

/** The local name of a parsed message, for dispatching on the camera side. */
export function messageName(message: XmlNode | undefined): string {
  return message ? localName(message) : '';
}
