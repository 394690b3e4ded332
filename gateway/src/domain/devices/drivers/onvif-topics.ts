/**
 * ONVIF event topics → the gateway's device event kinds, as data: vendors differ in which topic they raise and
 * which SimpleItem carries the state (IsMotion on the cell motion detector, State on the video source alarms,
 * LogicalState on digital inputs), so a new vendor's topic is one more row here, not code.
 *
 * A topic not in the table falls back to the codec's name-based guess (alarmKindOfTopic: "…Motion…" is motion,
 * "…SignalLoss…" video loss …) with "any item true/1/active" as the state — better an alarm from an unknown
 * firmware than none; the table keeps the known topics exact.
 */
import { alarmKindOfTopic, eventIsActive, type OnvifEvent } from '../../../codecs/onvif/messages.js';
import type { DeviceEvent, DeviceEventKind } from './driver.js';

export interface OnvifTopicRule {
  /** Topic without its namespace prefix (tns1:), compared case-insensitively. */
  topic: string;
  kind: DeviceEventKind;
  /** The Data items that carry the state, in the order they are looked for. */
  state: readonly string[];
}

export const ONVIF_TOPIC_RULES: readonly OnvifTopicRule[] = [
  // Profile S/T motion: the video source's own alarm, and the analytics cell motion rule.
  { topic: 'VideoSource/MotionAlarm', kind: 'motion', state: ['State'] },
  { topic: 'RuleEngine/CellMotionDetector/Motion', kind: 'motion', state: ['IsMotion'] },
  // Hikvision and Dahua firmware raise their motion rule under this one.
  { topic: 'RuleEngine/MotionRegionDetector/Motion', kind: 'motion', state: ['State', 'IsMotion'] },
  // Tamper: the image changed as a whole (covered, turned away) or became useless.
  { topic: 'VideoSource/GlobalSceneChange/ImagingService', kind: 'tamper', state: ['State'] },
  { topic: 'VideoSource/GlobalSceneChange/AnalyticsService', kind: 'tamper', state: ['State'] },
  { topic: 'VideoSource/GlobalSceneChange/RecordingService', kind: 'tamper', state: ['State'] },
  { topic: 'RuleEngine/TamperDetector/Tamper', kind: 'tamper', state: ['IsTamper', 'State'] },
  { topic: 'VideoSource/ImageTooBlurry/ImagingService', kind: 'tamper', state: ['State'] },
  { topic: 'VideoSource/ImageTooDark/ImagingService', kind: 'tamper', state: ['State'] },
  { topic: 'VideoSource/ImageTooBright/ImagingService', kind: 'tamper', state: ['State'] },
  // Video loss: State true = the signal is lost.
  { topic: 'VideoSource/SignalLoss', kind: 'video-loss', state: ['State'] },
  { topic: 'VideoSource/VideoLoss', kind: 'video-loss', state: ['State', 'Signal'] },
  // Alarm inputs (door contacts, panic buttons): LogicalState true = the input is active.
  { topic: 'Device/Trigger/DigitalInput', kind: 'digital-input', state: ['LogicalState'] },
  { topic: 'Device/IO/DigitalInput', kind: 'digital-input', state: ['LogicalState', 'State'] },
];

const BY_TOPIC = new Map(ONVIF_TOPIC_RULES.map((r) => [r.topic.toLowerCase(), r]));

/** The Source items that name a video source or an input, in the order they are preferred. */
const SOURCE_ITEMS = ['VideoSourceConfigurationToken', 'VideoSourceToken', 'Source', 'InputToken', 'RelayToken'];

const TRUE = new Set(['true', '1', 'active', 'on']);

/** An ONVIF notification → a device event, or null when the topic is not an alarm (configuration changes …). */
export function deviceEventOf(e: OnvifEvent, now: () => number = Date.now): DeviceEvent | null {
  const rule = BY_TOPIC.get(e.topic.toLowerCase());
  const kind = rule?.kind ?? alarmKindOfTopic(e.topic);
  if (!kind) return null;
  let active: boolean;
  if (rule) {
    const item = rule.state.find((name) => e.data[name] !== undefined);
    // A known topic without its state item says nothing about the state: not an edge.
    if (item === undefined) return null;
    active = TRUE.has(e.data[item]!.trim().toLowerCase());
  } else {
    active = eventIsActive(e);
  }
  const sourceItem = SOURCE_ITEMS.find((name) => e.source[name]);
  const sourceToken = sourceItem ? e.source[sourceItem]! : (Object.values(e.source)[0] ?? '');
  return { kind, active, sourceToken, topic: e.topic, time: (e.utcTime ?? new Date(now())).toISOString(), data: e.data };
}
