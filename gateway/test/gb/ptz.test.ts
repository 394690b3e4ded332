import { describe, expect, it } from 'vitest';
import { decodePtz, decodePtzFrame, encodePtz, type PtzCommand } from '../../src/codecs/gb/ptz.js';

const move = (over: Partial<Extract<PtzCommand, { kind: 'move' }>>): PtzCommand => ({
  kind: 'move',
  pan: null,
  tilt: null,
  zoom: null,
  panSpeed: 0,
  tiltSpeed: 0,
  zoomSpeed: 0,
  ...over,
});

const fi = (over: Partial<Extract<PtzCommand, { kind: 'fi' }>>): PtzCommand => ({
  kind: 'fi',
  focus: null,
  iris: null,
  focusSpeed: 0,
  irisSpeed: 0,
  ...over,
});

// Every row of the brief's §3.9 worked-example table (address 1).
const BRIEF_VECTORS: Array<[string, PtzCommand, string]> = [
  ['stop', { kind: 'stop' }, 'A50F0100000000B5'],
  ['right, pan 0x1F', move({ pan: 'right', panSpeed: 0x1f }), 'A50F01011F0000D5'],
  ['left, pan 0x1F', move({ pan: 'left', panSpeed: 0x1f }), 'A50F01021F0000D6'],
  ['down, tilt 0x1F', move({ tilt: 'down', tiltSpeed: 0x1f }), 'A50F0104001F00D8'],
  ['up, tilt 0x1F', move({ tilt: 'up', tiltSpeed: 0x1f }), 'A50F0108001F00DC'],
  ['zoom in, speed 1', move({ zoom: 'in', zoomSpeed: 1 }), 'A50F0110000010D5'],
  ['zoom out, speed 1', move({ zoom: 'out', zoomSpeed: 1 }), 'A50F0120000010E5'],
  ['up+right 0x80/0x80', move({ pan: 'right', tilt: 'up', panSpeed: 0x80, tiltSpeed: 0x80 }), 'A50F0109808000BE'],
  [
    'right+up+zoom-out 0x40/0x40 zoom 5',
    move({ pan: 'right', tilt: 'up', zoom: 'out', panSpeed: 0x40, tiltSpeed: 0x40, zoomSpeed: 5 }),
    'A50F0129404050AE',
  ],
  ['FI stop', fi({}), 'A50F0140000000F5'],
  ['focus near 0x80', fi({ focus: 'near', focusSpeed: 0x80 }), 'A50F014280000077'],
  ['iris open 0x80', fi({ iris: 'open', irisSpeed: 0x80 }), 'A50F014400800079'],
  ['set preset 1', { kind: 'preset', action: 'set', preset: 1 }, 'A50F018100010037'],
  ['call preset 1', { kind: 'preset', action: 'call', preset: 1 }, 'A50F018200010038'],
  ['delete preset 1', { kind: 'preset', action: 'delete', preset: 1 }, 'A50F018300010039'],
  ['start cruise group 1', { kind: 'cruise', action: 'start', group: 1 }, 'A50F01880100003E'],
  ['aux 1 (wiper) on', { kind: 'aux', action: 'on', switchNo: 1 }, 'A50F018C01000042'],
  ['aux 1 (wiper) off', { kind: 'aux', action: 'off', switchNo: 1 }, 'A50F018D01000043'],
];

describe('PTZCmd brief vectors', () => {
  for (const [label, command, hex] of BRIEF_VECTORS) {
    it(`${label}: encodes to ${hex} and decodes back`, () => {
      expect(encodePtz(command)).toBe(hex);
      expect(decodePtz(hex)).toEqual(command);
      expect(decodePtz(hex.toLowerCase())).toEqual(command);
    });
  }
});

describe('PTZCmd other instructions round-trip', () => {
  const commands: PtzCommand[] = [
    { kind: 'cruise', action: 'add-point', group: 2, preset: 7 },
    { kind: 'cruise', action: 'delete-point', group: 2, preset: 0 },
    { kind: 'cruise', action: 'speed', group: 2, value: 0xabc },
    { kind: 'cruise', action: 'dwell', group: 3, value: 4095 },
    { kind: 'scan', action: 'start', group: 1 },
    { kind: 'scan', action: 'set-left', group: 1 },
    { kind: 'scan', action: 'set-right', group: 1 },
    { kind: 'scan', action: 'speed', group: 1, value: 300 },
    fi({ focus: 'far', iris: 'close', focusSpeed: 1, irisSpeed: 255 }),
    move({ pan: 'left', tilt: 'down', zoom: 'in', panSpeed: 255, tiltSpeed: 255, zoomSpeed: 15 }),
    // speeds without a direction are kept (not collapsed into "stop")
    move({ panSpeed: 3 }),
  ];
  for (const command of commands) {
    it(JSON.stringify(command), () => {
      const hex = encodePtz(command);
      expect(hex).toMatch(/^A50F[0-9A-F]{12}$/);
      expect(decodePtz(hex)).toEqual(command);
    });
  }

  it('puts 12-bit values in byte6 (low 8 bits) and the high nibble of byte7', () => {
    expect(encodePtz({ kind: 'cruise', action: 'dwell', group: 1, value: 0x123 }).slice(8, 14)).toBe('012310');
  });

  it('carries a 12-bit address in byte3 and the low nibble of byte7', () => {
    const hex = encodePtz({ kind: 'stop' }, 0x2ab);
    expect(hex.slice(4, 6)).toBe('AB');
    expect(hex.slice(12, 14)).toBe('02');
    expect(decodePtzFrame(hex)).toEqual({ command: { kind: 'stop' }, address: 0x2ab });
  });
});

describe('PTZCmd validation', () => {
  const badCases: Array<[PtzCommand, string]> = [
    [move({ pan: 'left', panSpeed: 256 }), 'panSpeed'],
    [move({ tilt: 'up', tiltSpeed: -1 }), 'tiltSpeed'],
    [move({ zoom: 'in', zoomSpeed: 16 }), 'zoomSpeed'],
    [move({ pan: 'left', panSpeed: 1.5 }), 'panSpeed'],
    [fi({ focus: 'near', focusSpeed: 300 }), 'focusSpeed'],
    [fi({ iris: 'open', irisSpeed: 300 }), 'irisSpeed'],
    [{ kind: 'preset', action: 'call', preset: 0 }, 'preset'],
    [{ kind: 'preset', action: 'set', preset: 256 }, 'preset'],
    [{ kind: 'cruise', action: 'dwell', group: 1, value: 4096 }, 'dwell'],
    [{ kind: 'cruise', action: 'speed', group: 1, value: -1 }, 'speed'],
    [{ kind: 'cruise', action: 'start', group: 256 }, 'group'],
    [{ kind: 'scan', action: 'speed', group: 1, value: 5000 }, 'speed'],
    [{ kind: 'aux', action: 'on', switchNo: 999 }, 'switchNo'],
  ];
  for (const [command, field] of badCases) {
    it(`rejects ${JSON.stringify(command)} naming ${field}`, () => {
      expect(() => encodePtz(command)).toThrow(RangeError);
      expect(() => encodePtz(command)).toThrow(new RegExp(`^${field} must be`));
    });
  }

  it('rejects bad frames on decode', () => {
    expect(() => decodePtz('A50F0100000000B6')).toThrow(/checksum/);
    expect(() => decodePtz('A60F0100000000B6')).toThrow(/A5/);
    expect(() => decodePtz('A50E0100000000B4')).toThrow(/check nibble/);
    expect(() => decodePtz('A50F01')).toThrow(/16 hex/);
    expect(() => decodePtz('A50F01FF000000B4')).toThrow(/unknown instruction/);
    expect(() => decodePtz('A50F0103000000B8')).toThrow(/both directions/);
  });
});
