/**
 * The pure parts of ONVIF PTZ and events: PTZ orders → ONVIF calls with speeds scaled into the PTZ node's spaces, the iris step,
 * the preset number ↔ camera preset rule, topics → device events (table and fallback), device events → GB
 * alarm codes, and the rising-edge rule.
 */
import { describe, expect, it } from 'vitest';
import { GENERIC_SPACES, IRIS_STEPS, irisStep, onvifPtzCall, presetFor, presetNumber, scaleInto } from '../../src/domain/devices/drivers/onvif-driver.js';
import { ONVIF_TOPIC_RULES, deviceEventOf } from '../../src/domain/devices/drivers/onvif-topics.js';
import { GB_ALARM_OF_KIND, RisingEdges, alarmOfDeviceEvent } from '../../src/domain/alarms/device-event-alarms.js';
import { PtzService } from '../../src/domain/control/ptz-service.js';
import type { OnvifEvent } from '../../src/codecs/onvif/messages.js';

const order = (request: Parameters<typeof PtzService.translate>[0]) => PtzService.translate(request).command;

describe('PTZ orders → ONVIF calls', () => {
  it('scales a move speed 0–255 to a velocity 0–1 (left and down negative) and the zoom speed 0–15 to 0–1', () => {
    expect(onvifPtzCall(order({ action: 'move', direction: 'left', speed: 128 }))).toEqual({ call: 'ContinuousMove', velocity: { pan: -0.502, tilt: 0 } });
    expect(onvifPtzCall(order({ action: 'move', direction: 'down-right', speed: 255 }))).toEqual({ call: 'ContinuousMove', velocity: { pan: 1, tilt: -1 } });
    expect(onvifPtzCall(order({ action: 'move', direction: 'up', speed: 51 }))).toEqual({ call: 'ContinuousMove', velocity: { pan: 0, tilt: 0.2 } });
    expect(onvifPtzCall(order({ action: 'move', zoom: 'out', zoomSpeed: 15 }))).toEqual({ call: 'ContinuousMove', velocity: { zoom: -1 } });
    expect(onvifPtzCall(order({ action: 'move', direction: 'right', zoom: 'in', speed: 0, zoomSpeed: 3 }))).toEqual({ call: 'ContinuousMove', velocity: { pan: 0, tilt: 0, zoom: 0.2 } });
  });

  it('the PTZ stop is Stop; focus moves are signed fractions (near negative), iris is a step, the FI stop is FocusStop', () => {
    expect(onvifPtzCall(order({ action: 'stop' }))).toEqual({ call: 'Stop' });
    expect(onvifPtzCall(PtzService.translate({ action: 'move', direction: 'left' }).stop!)).toEqual({ call: 'Stop' });
    expect(onvifPtzCall(PtzService.translate({ action: 'focus', direction: 'far' }).stop!)).toEqual({ call: 'FocusStop' });
    expect(onvifPtzCall(order({ action: 'focus', direction: 'far', speed: 255 }))).toEqual({ call: 'Focus', fraction: 1 });
    expect(onvifPtzCall(order({ action: 'focus', direction: 'near', speed: 51 }))).toEqual({ call: 'Focus', fraction: -0.2 });
    expect(onvifPtzCall(order({ action: 'iris', direction: 'open' }))).toEqual({ call: 'Iris', direction: 'open' });
    expect(onvifPtzCall(order({ action: 'iris', direction: 'close' }))).toEqual({ call: 'Iris', direction: 'close' });
  });

  it("scales velocities into the node's ranges: full speed is the camera's max (or min) on each axis", () => {
    const narrow = { panTilt: { x: { min: -0.5, max: 0.5 }, y: { min: -0.25, max: 0.25 } }, zoom: { min: -4, max: 4 } };
    expect(onvifPtzCall(order({ action: 'move', direction: 'down-left', speed: 255 }), narrow)).toEqual({ call: 'ContinuousMove', velocity: { pan: -0.5, tilt: -0.25 } });
    expect(onvifPtzCall(order({ action: 'move', direction: 'up-right', speed: 128, zoom: 'in', zoomSpeed: 15 }), narrow)).toEqual({
      call: 'ContinuousMove',
      velocity: { pan: 0.251, tilt: 0.125, zoom: 4 },
    });
    // Generic spaces give the same answers as before the node was asked.
    expect(onvifPtzCall(order({ action: 'move', direction: 'left', speed: 128 }), GENERIC_SPACES)).toEqual({ call: 'ContinuousMove', velocity: { pan: -0.502, tilt: 0 } });
    // Asymmetric ranges: each direction scales to its own end; a range that cannot go negative stays at 0.
    expect(scaleInto(-1, { min: -2, max: 1 })).toBe(-2);
    expect(scaleInto(0.5, { min: -2, max: 1 })).toBe(0.5);
    expect(scaleInto(-1, { min: 0, max: 1 })).toBe(0);
    expect(scaleInto(3, { min: -1, max: 1 })).toBe(1);
  });

  it('leaves out an axis the node has no space for; a move only on such an axis is unsupported', () => {
    const noZoom = { panTilt: GENERIC_SPACES.panTilt, zoom: null };
    expect(onvifPtzCall(order({ action: 'move', direction: 'left', speed: 255, zoom: 'in', zoomSpeed: 15 }), noZoom)).toEqual({ call: 'ContinuousMove', velocity: { pan: -1, tilt: 0 } });
    expect(onvifPtzCall(order({ action: 'move', zoom: 'in', zoomSpeed: 15 }), noZoom)).toMatchObject({ call: 'unsupported', why: expect.stringMatching(/no zoom/) });
    const zoomOnly = { panTilt: null, zoom: GENERIC_SPACES.zoom };
    expect(onvifPtzCall(order({ action: 'move', direction: 'up', speed: 255 }), zoomOnly)).toMatchObject({ call: 'unsupported', why: expect.stringMatching(/cannot pan or tilt/) });
    expect(onvifPtzCall(order({ action: 'move', direction: 'up', zoom: 'out', zoomSpeed: 15 }), zoomOnly)).toEqual({ call: 'ContinuousMove', velocity: { zoom: -1 } });
  });

  it('iris steps are a tenth of the range, open is up (dB, 0 = open), kept within the range', () => {
    const range = { min: -22, max: 0 };
    expect(IRIS_STEPS).toBe(10);
    expect(irisStep(-11, range, 'open')).toBe(-8.8);
    expect(irisStep(-11, range, 'close')).toBe(-13.2);
    expect(irisStep(-1, range, 'open')).toBe(0);
    expect(irisStep(-21, range, 'close')).toBe(-22);
    // No iris reported (auto exposure): from the middle.
    expect(irisStep(null, range, 'open')).toBe(-8.8);
    // A reported value outside the range is brought into it first.
    expect(irisStep(5, range, 'close')).toBe(-2.2);
  });

  it('presets, home and relative', () => {
    expect(onvifPtzCall(order({ action: 'preset', operation: 'call', preset: 3 }))).toEqual({ call: 'Preset', action: 'call', preset: 3 });
    expect(onvifPtzCall(order({ action: 'home' }))).toEqual({ call: 'GotoHomePosition' });
    expect(onvifPtzCall(order({ action: 'relative', pan: -0.5 }))).toEqual({ call: 'RelativeMove', translation: { pan: -0.5, tilt: 0, zoom: 0 } });
  });

  it('a preset number is the camera preset named so, else the one with that token', () => {
    const hik = [
      { token: '1', name: 'Preset 1' },
      { token: '2', name: 'Preset 2' },
    ];
    expect(presetFor(hik, 2)).toEqual({ token: '2', name: 'Preset 2' });
    const ours = [
      { token: '1', name: '5' },
      { token: 'Preset_abc', name: '7' },
    ];
    // Named 5 by the gateway, given token 1 by the camera: 5 is that preset, 1 is not (its name says 5).
    expect(presetFor(ours, 5)).toEqual({ token: '1', name: '5' });
    expect(presetFor(ours, 7)?.token).toBe('Preset_abc');
    expect(presetFor(ours, 9)).toBeUndefined();
    expect(ours.map(presetNumber)).toEqual([5, 7]);
    expect(hik.map(presetNumber)).toEqual([1, 2]);
    expect(presetNumber({ token: 'tok', name: 'gate' })).toBeNull();
    expect(presetNumber({ token: '300', name: '' })).toBeNull();
  });
});

describe('ONVIF topics → device events', () => {
  const event = (topic: string, data: Record<string, string>, source: Record<string, string> = { VideoSourceConfigurationToken: 'vsc_1' }): OnvifEvent => ({
    topic,
    utcTime: new Date('2026-12-05T08:00:00Z'),
    operation: 'Changed',
    source,
    data,
  });

  it('maps the known topics with their own state item', () => {
    expect(deviceEventOf(event('RuleEngine/CellMotionDetector/Motion', { IsMotion: 'true' }))).toEqual({
      kind: 'motion',
      active: true,
      sourceToken: 'vsc_1',
      topic: 'RuleEngine/CellMotionDetector/Motion',
      time: '2026-12-05T08:00:00.000Z',
      data: { IsMotion: 'true' },
    });
    expect(deviceEventOf(event('VideoSource/MotionAlarm', { State: 'false' }, { Source: 'vs_1' }))).toMatchObject({ kind: 'motion', active: false, sourceToken: 'vs_1' });
    expect(deviceEventOf(event('VideoSource/GlobalSceneChange/ImagingService', { State: 'true' }))).toMatchObject({ kind: 'tamper', active: true });
    expect(deviceEventOf(event('VideoSource/SignalLoss', { State: 'true' }))).toMatchObject({ kind: 'video-loss', active: true });
    expect(deviceEventOf(event('Device/Trigger/DigitalInput', { LogicalState: 'true' }, { InputToken: 'DI_2' }))).toMatchObject({ kind: 'digital-input', active: true, sourceToken: 'DI_2' });
    // Case of the topic as some firmware sends it.
    expect(deviceEventOf(event('ruleengine/cellmotiondetector/motion', { IsMotion: '1' }))).toMatchObject({ kind: 'motion', active: true });
  });

  it('a known topic without its state item is no edge; an unknown topic falls back to the name; configuration topics are not alarms', () => {
    expect(deviceEventOf(event('RuleEngine/CellMotionDetector/Motion', { Other: 'true' }))).toBeNull();
    expect(deviceEventOf(event('VendorX/SmartMotion/Human', { Active: 'true' }))).toMatchObject({ kind: 'motion', active: true });
    expect(deviceEventOf(event('Monitoring/ProcessorUsage', { Value: '1' }))).toBeNull();
  });

  it('every row of the table names a kind the alarm mapping knows and at least one state item', () => {
    for (const rule of ONVIF_TOPIC_RULES) {
      expect(GB_ALARM_OF_KIND[rule.kind], rule.topic).toBeDefined();
      expect(rule.state.length, rule.topic).toBeGreaterThan(0);
    }
  });
});

describe('device events → alarms', () => {
  it('uses the GB alarm method/type of the kind, the channel as source, the topic in the description and raw', () => {
    const e = deviceEventOf({ topic: 'VideoSource/SignalLoss', utcTime: null, operation: 'Changed', source: { Source: 'vs_1' }, data: { State: 'true' } }, () => Date.parse('2026-12-05T09:00:00Z'))!;
    expect(alarmOfDeviceEvent('44030500001320000001', '44030500001310000001', e)).toEqual({
      deviceId: '44030500001320000001',
      sourceId: '44030500001310000001',
      priority: 2,
      method: 2,
      type: 1,
      description: 'video loss (VideoSource/SignalLoss, vs_1)',
      alarmTime: '2026-12-05T09:00:00.000Z',
      longitude: null,
      latitude: null,
      raw: { Topic: 'VideoSource/SignalLoss', Kind: 'video-loss', Source: 'vs_1', State: 'true' },
    });
    expect(GB_ALARM_OF_KIND.motion).toMatchObject({ method: 5, type: 2 });
  });

  it('only an off → on change rises, per device and condition', () => {
    const edges = new RisingEdges();
    expect(edges.rise('d1', 'motion/vsc_1', true)).toBe(true);
    expect(edges.rise('d1', 'motion/vsc_1', true)).toBe(false);
    expect(edges.rise('d1', 'motion/vsc_2', true)).toBe(true);
    expect(edges.rise('d2', 'motion/vsc_1', true)).toBe(true);
    expect(edges.rise('d1', 'motion/vsc_1', false)).toBe(false);
    expect(edges.rise('d1', 'motion/vsc_1', true)).toBe(true);
    edges.forget('d1');
    expect(edges.rise('d1', 'motion/vsc_2', true)).toBe(true);
  });
});
