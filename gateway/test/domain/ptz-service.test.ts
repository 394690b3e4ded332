import { describe, expect, it } from 'vitest';
import { PtzService } from '../../src/domain/control/ptz-service.js';
import { encodePtz } from '../../src/codecs/gb/ptz.js';
import { ValidationError } from '../../src/domain/services.js';

describe('PtzService.translate', () => {
  it('turns an up-right move into the brief\'s PTZCmd and always pairs it with a stop', () => {
    const t = PtzService.translate({ action: 'move', direction: 'up-right', speed: 0x80 });
    expect(encodePtz(t.command)).toBe('A50F0109808000BE');
    expect(encodePtz(t.stop!)).toBe('A50F0100000000B5');
    expect(t.durationMs).toBe(500);
  });

  it('zoom in at speed 1 and preset call match the brief', () => {
    expect(encodePtz(PtzService.translate({ action: 'move', zoom: 'in', zoomSpeed: 1 }).command)).toBe('A50F0110000010D5');
    expect(encodePtz(PtzService.translate({ action: 'preset', operation: 'call', preset: 1 }).command)).toBe('A50F0182000100' + '38');
  });

  it('rejects out-of-range values naming the field', () => {
    expect(() => PtzService.translate({ action: 'move', direction: 'left', speed: 999 })).toThrow(ValidationError);
    try {
      PtzService.translate({ action: 'preset', operation: 'set', preset: 0 });
    } catch (e) {
      expect((e as ValidationError).field).toBe('preset');
    }
    expect(() => PtzService.translate({ action: 'move' })).toThrow(/direction or zoom/);
  });
});
