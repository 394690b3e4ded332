/** POST/PATCH /api/devices bodies (device-input.ts), the ID plan (device-ids.ts) and RTMP publish signs. */
import { describe, expect, it } from 'vitest';
import { parseDevicePatch, parseNewDevice } from '../../src/domain/devices/device-input.js';
import { DeviceIdAllocator } from '../../src/domain/devices/device-ids.js';
import { signChannel, verifySign } from '../../src/domain/devices/drivers/rtmp-driver.js';
import { ValidationError } from '../../src/domain/services.js';

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).field;
  }
  throw new Error('expected a ValidationError');
}

describe('device bodies', () => {
  it('accepts the three shapes with their defaults', () => {
    expect(parseNewDevice({ protocol: 'onvif', host: '10.1.2.3', username: 'admin', password: 'x' })).toEqual({ protocol: 'onvif', host: '10.1.2.3', port: 80, username: 'admin', password: 'x' });
    expect(parseNewDevice({ protocol: 'rtsp', url: 'rtsp://h:554/p', transport: 'udp', name: '门口' })).toEqual({ protocol: 'rtsp', url: 'rtsp://h:554/p', transport: 'udp', name: '门口' });
    expect(parseNewDevice({ protocol: 'rtmp', civilCode: '44030600' })).toEqual({ protocol: 'rtmp', civilCode: '44030600' });
  });

  it('names the field of each refusal', () => {
    expect(fieldOf(() => parseNewDevice([]))).toBe('body');
    expect(fieldOf(() => parseNewDevice({}))).toBe('body.protocol');
    expect(fieldOf(() => parseNewDevice({ protocol: 'gb28181' }))).toBe('body.protocol');
    expect(fieldOf(() => parseNewDevice({ protocol: 'onvif', host: 'bad host!', username: 'a', password: 'b' }))).toBe('body.host');
    expect(fieldOf(() => parseNewDevice({ protocol: 'onvif', host: 'cam', username: 'a' }))).toBe('body.password');
    expect(fieldOf(() => parseNewDevice({ protocol: 'rtsp', url: 'rtsp://h/p', subUrl: 'http://h/p' }))).toBe('body.subUrl');
    expect(fieldOf(() => parseNewDevice({ protocol: 'rtsp', url: 'rtsp://h/p', transport: 'sctp' }))).toBe('body.transport');
    expect(fieldOf(() => parseNewDevice({ protocol: 'rtmp', name: 'a\u0001' }))).toBe('body.name');
    expect(fieldOf(() => parseDevicePatch('rtmp', { password: 'x' }))).toBe('body.password');
    expect(fieldOf(() => parseDevicePatch('rtsp', {}))).toBe('body');
    expect(parseDevicePatch('rtsp', { subUrl: null })).toEqual({ subUrl: null });
  });
});

describe('ID plan', () => {
  it('gives devices 132 and channels 131 on network 8, skipping IDs in use', () => {
    const taken = new Set(['44030500001328000001']);
    const ids = new DeviceIdAllocator('4403050000', (id) => taken.has(id));
    expect(ids.allocate('132')).toBe('44030500001328000002');
    expect(ids.allocate('131', '44030600')).toBe('44030600001318000001');
  });
});

describe('RTMP publish signs', () => {
  it('verifies only the sign of that channel under that key', () => {
    const sign = signChannel('key-1', '44030500001318000001');
    expect(verifySign('key-1', '44030500001318000001', sign)).toBe(true);
    expect(verifySign('key-2', '44030500001318000001', sign)).toBe(false);
    expect(verifySign('key-1', '44030500001318000002', sign)).toBe(false);
    expect(verifySign('key-1', '44030500001318000001', null)).toBe(false);
  });
});
