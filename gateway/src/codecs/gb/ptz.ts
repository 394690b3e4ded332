/**
 * PTZCmd: the 8-byte front-end control code of GB/T 28181 Annex A.3, written as 16 upper-case hex chars.
 *
 *  byte1 0xA5
 *  byte2 (version << 4) | ((0xA + 0x5 + version) % 16)   version 0 → 0x0F
 *  byte3 address low 8 bits (the <DeviceID> addresses the camera; everyone sends 1)
 *  byte4 instruction code
 *  byte5 data1, byte6 data2
 *  byte7 (data3 << 4) | address high 4 bits
 *  byte8 (byte1 + … + byte7) % 256
 *
 * Instruction families (byte4):
 *  PTZ    00xx xxxx  bit5 zoom out, bit4 zoom in, bit3 up, bit2 down, bit1 left, bit0 right;
 *                    data1 pan speed, data2 tilt speed, data3 zoom speed (0–15); all zero = stop
 *  FI     0100 xxxx  bit3 iris close, bit2 iris open, bit1 focus near, bit0 focus far;
 *                    data1 focus speed, data2 iris speed; 0x40 = stop
 *  preset 0x81 set / 0x82 call / 0x83 delete; data2 = preset 1–255
 *  cruise 0x84 add point (data1 group, data2 preset), 0x85 delete point (data2 0 = whole cruise),
 *         0x86 speed and 0x87 dwell seconds (12-bit: data2 low 8 bits, data3 high 4 bits), 0x88 start
 *  scan   0x89 data1 group, data2 0 start / 1 set left bound / 2 set right bound; 0x8A speed (12-bit)
 *  aux    0x8C on / 0x8D off, data1 = switch number (1 = wiper)
 * Cruise and scan stop with the PTZ stop code.
 */

export type PtzCommand =
  | {
      kind: 'move';
      pan: 'left' | 'right' | null;
      tilt: 'up' | 'down' | null;
      zoom: 'in' | 'out' | null;
      /** 0–255 */
      panSpeed: number;
      /** 0–255 */
      tiltSpeed: number;
      /** 0–15 */
      zoomSpeed: number;
    }
  | { kind: 'stop' }
  | {
      kind: 'fi';
      focus: 'near' | 'far' | null;
      iris: 'open' | 'close' | null;
      /** 0–255 */
      focusSpeed: number;
      /** 0–255 */
      irisSpeed: number;
    }
  | { kind: 'preset'; action: 'set' | 'call' | 'delete'; /** 1–255 */ preset: number }
  /** `preset` 0 with delete-point deletes the whole cruise. */
  | { kind: 'cruise'; action: 'add-point' | 'delete-point'; group: number; preset: number }
  /** Speed or dwell time (seconds), both 12-bit (0–4095). */
  | { kind: 'cruise'; action: 'speed' | 'dwell'; group: number; value: number }
  | { kind: 'cruise'; action: 'start'; group: number }
  | { kind: 'scan'; action: 'start' | 'set-left' | 'set-right'; group: number }
  /** 12-bit scan speed. */
  | { kind: 'scan'; action: 'speed'; group: number; value: number }
  | { kind: 'aux'; action: 'on' | 'off'; /** switch number, 1 = wiper */ switchNo: number };

export interface PtzFrame {
  command: PtzCommand;
  /** 12-bit device address (byte3 + low nibble of byte7); 1 by convention. */
  address: number;
}

const VERSION = 0;

function check(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${field} must be an integer ${min}-${max}, got ${value}`);
  }
  return value;
}

interface Bytes {
  code: number;
  data1: number;
  data2: number;
  data3: number;
}

function commandBytes(cmd: PtzCommand): Bytes {
  switch (cmd.kind) {
    case 'stop':
      return { code: 0, data1: 0, data2: 0, data3: 0 };
    case 'move': {
      let code = 0;
      if (cmd.pan === 'right') code |= 0x01;
      else if (cmd.pan === 'left') code |= 0x02;
      if (cmd.tilt === 'down') code |= 0x04;
      else if (cmd.tilt === 'up') code |= 0x08;
      if (cmd.zoom === 'in') code |= 0x10;
      else if (cmd.zoom === 'out') code |= 0x20;
      return {
        code,
        data1: check('panSpeed', cmd.panSpeed, 0, 255),
        data2: check('tiltSpeed', cmd.tiltSpeed, 0, 255),
        data3: check('zoomSpeed', cmd.zoomSpeed, 0, 15),
      };
    }
    case 'fi': {
      let code = 0x40;
      if (cmd.focus === 'far') code |= 0x01;
      else if (cmd.focus === 'near') code |= 0x02;
      if (cmd.iris === 'open') code |= 0x04;
      else if (cmd.iris === 'close') code |= 0x08;
      return {
        code,
        data1: check('focusSpeed', cmd.focusSpeed, 0, 255),
        data2: check('irisSpeed', cmd.irisSpeed, 0, 255),
        data3: 0,
      };
    }
    case 'preset': {
      const code = { set: 0x81, call: 0x82, delete: 0x83 }[cmd.action];
      return { code, data1: 0, data2: check('preset', cmd.preset, 1, 255), data3: 0 };
    }
    case 'cruise': {
      const group = check('group', cmd.group, 0, 255);
      switch (cmd.action) {
        case 'add-point':
          return { code: 0x84, data1: group, data2: check('preset', cmd.preset, 1, 255), data3: 0 };
        case 'delete-point':
          return { code: 0x85, data1: group, data2: check('preset', cmd.preset, 0, 255), data3: 0 };
        case 'speed':
        case 'dwell': {
          const value = check(cmd.action === 'speed' ? 'speed' : 'dwell', cmd.value, 0, 0xfff);
          return { code: cmd.action === 'speed' ? 0x86 : 0x87, data1: group, data2: value & 0xff, data3: value >> 8 };
        }
        case 'start':
          return { code: 0x88, data1: group, data2: 0, data3: 0 };
      }
      break;
    }
    case 'scan': {
      const group = check('group', cmd.group, 0, 255);
      if (cmd.action === 'speed') {
        const value = check('speed', cmd.value, 0, 0xfff);
        return { code: 0x8a, data1: group, data2: value & 0xff, data3: value >> 8 };
      }
      const data2 = { start: 0, 'set-left': 1, 'set-right': 2 }[cmd.action];
      return { code: 0x89, data1: group, data2, data3: 0 };
    }
    case 'aux':
      return { code: cmd.action === 'on' ? 0x8c : 0x8d, data1: check('switchNo', cmd.switchNo, 0, 255), data2: 0, data3: 0 };
  }
  // Unreachable for well-typed input; guards JS callers passing an unknown kind.
  throw new RangeError(`unknown PTZ command ${JSON.stringify(cmd)}`);
}

/** Encode to 16 upper-case hex chars. Throws RangeError naming the offending field. */
export function encodePtz(cmd: PtzCommand, address = 1): string {
  check('address', address, 0, 0xfff);
  const b = commandBytes(cmd);
  const bytes = [
    0xa5,
    (VERSION << 4) | ((0xa + 0x5 + VERSION) % 16),
    address & 0xff,
    b.code,
    b.data1,
    b.data2,
    ((b.data3 & 0x0f) << 4) | ((address >> 8) & 0x0f),
  ];
  bytes.push(bytes.reduce((sum, x) => sum + x, 0) % 256);
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

/** Decode a PTZCmd; throws RangeError on a bad length, header, checksum or instruction code. */
export function decodePtzFrame(hex: string): PtzFrame {
  const text = hex.trim();
  if (!/^[0-9A-Fa-f]{16}$/.test(text)) throw new RangeError(`PTZCmd must be 16 hex characters, got ${JSON.stringify(hex)}`);
  const bytes = [...Buffer.from(text, 'hex')];
  if (bytes[0] !== 0xa5) throw new RangeError(`PTZCmd must start with A5, got ${text.slice(0, 2)}`);
  const version = bytes[1] >> 4;
  if ((bytes[1] & 0x0f) !== (0xa + 0x5 + version) % 16) throw new RangeError(`PTZCmd byte 2 check nibble is wrong: ${text.slice(2, 4)}`);
  const sum = bytes.slice(0, 7).reduce((s, x) => s + x, 0) % 256;
  if (sum !== bytes[7]) throw new RangeError(`PTZCmd checksum is ${text.slice(14)}, expected ${sum.toString(16).toUpperCase().padStart(2, '0')}`);
  const [, , addrLow, code, data1, data2, byte7] = bytes;
  const data3 = byte7 >> 4;
  const address = ((byte7 & 0x0f) << 8) | addrLow;
  return { command: decodeCommand(code, data1, data2, data3, text), address };
}

/** Decode a PTZCmd to its command (address dropped). */
export function decodePtz(hex: string): PtzCommand {
  return decodePtzFrame(hex).command;
}

function decodeCommand(code: number, data1: number, data2: number, data3: number, text: string): PtzCommand {
  if ((code & 0xc0) === 0x00) {
    if (code === 0 && data1 === 0 && data2 === 0 && data3 === 0) return { kind: 'stop' };
    if ((code & 0x03) === 0x03 || (code & 0x0c) === 0x0c || (code & 0x30) === 0x30) {
      throw new RangeError(`PTZCmd ${text} sets both directions of one axis`);
    }
    return {
      kind: 'move',
      pan: code & 0x01 ? 'right' : code & 0x02 ? 'left' : null,
      tilt: code & 0x04 ? 'down' : code & 0x08 ? 'up' : null,
      zoom: code & 0x10 ? 'in' : code & 0x20 ? 'out' : null,
      panSpeed: data1,
      tiltSpeed: data2,
      zoomSpeed: data3,
    };
  }
  if ((code & 0xf0) === 0x40) {
    if ((code & 0x03) === 0x03 || (code & 0x0c) === 0x0c) throw new RangeError(`PTZCmd ${text} sets both directions of focus or iris`);
    return {
      kind: 'fi',
      focus: code & 0x01 ? 'far' : code & 0x02 ? 'near' : null,
      iris: code & 0x04 ? 'open' : code & 0x08 ? 'close' : null,
      focusSpeed: data1,
      irisSpeed: data2,
    };
  }
  const twelveBit = (data3 << 8) | data2;
  switch (code) {
    case 0x81:
      return { kind: 'preset', action: 'set', preset: data2 };
    case 0x82:
      return { kind: 'preset', action: 'call', preset: data2 };
    case 0x83:
      return { kind: 'preset', action: 'delete', preset: data2 };
    case 0x84:
      return { kind: 'cruise', action: 'add-point', group: data1, preset: data2 };
    case 0x85:
      return { kind: 'cruise', action: 'delete-point', group: data1, preset: data2 };
    case 0x86:
      return { kind: 'cruise', action: 'speed', group: data1, value: twelveBit };
    case 0x87:
      return { kind: 'cruise', action: 'dwell', group: data1, value: twelveBit };
    case 0x88:
      return { kind: 'cruise', action: 'start', group: data1 };
    case 0x89: {
      const action = (['start', 'set-left', 'set-right'] as const)[data2];
      if (!action) throw new RangeError(`PTZCmd ${text}: scan data2 must be 0, 1 or 2`);
      return { kind: 'scan', action, group: data1 };
    }
    case 0x8a:
      return { kind: 'scan', action: 'speed', group: data1, value: twelveBit };
    case 0x8c:
      return { kind: 'aux', action: 'on', switchNo: data1 };
    case 0x8d:
      return { kind: 'aux', action: 'off', switchNo: data1 };
  }
  throw new RangeError(`PTZCmd ${text}: unknown instruction code 0x${code.toString(16).toUpperCase().padStart(2, '0')}`);
}
