import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PtzLeaseConflict, PtzService, type PtzPort } from '../../src/domain/control/ptz-service.js';
import { encodePtz as encodeGb, type PtzCommand } from '../../src/codecs/gb/ptz.js';
import type { PtzOrder } from '../../src/domain/control/ptz-service.js';

/** The orders these tests translate are GB commands (home and relative are tested on their own). */
const encodePtz = (order: PtzOrder): string => encodeGb(order as PtzCommand);
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

  it('home and relative are orders of their own (no PTZCmd), in the PTZ family, without an auto-stop', () => {
    expect(PtzService.translate({ action: 'home' })).toEqual({ command: { kind: 'home' }, stop: null, durationMs: 0, family: 'ptz' });
    expect(PtzService.translate({ action: 'relative', pan: 0.25, zoom: -0.1 })).toEqual({ command: { kind: 'relative', pan: 0.25, tilt: 0, zoom: -0.1 }, stop: null, durationMs: 0, family: 'ptz' });
    expect(() => PtzService.translate({ action: 'relative' })).toThrow(ValidationError);
    expect(() => PtzService.translate({ action: 'relative', tilt: 1.5 })).toThrow(/tilt must be a number -1…1/);
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

describe('PtzService stops per family', () => {
  const PTZ_STOP = 'A50F0100000000B5';
  const FI_STOP = 'A50F0140000000F5';
  const FOCUS_NEAR = 'A50F014280000077';
  const IRIS_OPEN = 'A50F014400800079';
  const UP_RIGHT = 'A50F0109808000BE';

  function service(): { ptz: PtzService; sent: Array<[string, string]> } {
    const sent: Array<[string, string]> = [];
    const port: PtzPort = {
      resolve: async (channelId) => ({ channelId, deviceId: 'd', deviceOnline: true }),
      send: async (target, hex) => void sent.push([target.channelId, hex]),
    };
    return { ptz: new PtzService(port, pino({ level: 'silent' })), sent };
  }

  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('focus and iris carry the FI stop as their auto-stop; a move the PTZ stop', async () => {
    const { ptz, sent } = service();
    expect(encodePtz(PtzService.translate({ action: 'focus', direction: 'near', speed: 0x80 }).stop!)).toBe(FI_STOP);
    expect(PtzService.translate({ action: 'iris', direction: 'open' }).family).toBe('fi');
    await ptz.execute('c1', { action: 'iris', direction: 'open', speed: 0x80, durationMs: 400 });
    await ptz.execute('c2', { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 400 });
    await vi.advanceTimersByTimeAsync(400);
    expect(sent).toEqual([['c1', IRIS_OPEN], ['c2', UP_RIGHT], ['c1', FI_STOP], ['c2', PTZ_STOP]]);
    ptz.close();
  });

  it('a stop after focus sends the FI stop, after a move the PTZ stop, and cancels that auto-stop', async () => {
    const { ptz, sent } = service();
    await ptz.execute('c1', { action: 'focus', direction: 'near', speed: 0x80, durationMs: 1000 });
    expect(await ptz.execute('c1', { action: 'stop' })).toEqual({ sent: [FI_STOP], autoStopAfterMs: null, lease: null, takenOverFrom: null });
    await ptz.execute('c2', { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 1000 });
    expect((await ptz.execute('c2', { action: 'stop' })).sent).toEqual([PTZ_STOP]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toEqual([['c1', FOCUS_NEAR], ['c1', FI_STOP], ['c2', UP_RIGHT], ['c2', PTZ_STOP]]);
    // The last moving command is remembered after its auto-stop too.
    expect((await ptz.execute('c1', { action: 'stop' })).sent).toEqual([FI_STOP]);
    ptz.close();
  });

  it('a channel the gateway has not seen move gets both stops', async () => {
    const { ptz, sent } = service();
    expect((await ptz.execute('c1', { action: 'stop' })).sent).toEqual([PTZ_STOP, FI_STOP]);
    // A preset set moves nothing: still unknown. A preset call is a PTZ motion.
    await ptz.execute('c1', { action: 'preset', operation: 'set', preset: 2 });
    expect((await ptz.execute('c1', { action: 'stop' })).sent).toEqual([PTZ_STOP, FI_STOP]);
    await ptz.execute('c1', { action: 'preset', operation: 'call', preset: 2 });
    expect((await ptz.execute('c1', { action: 'stop' })).sent).toEqual([PTZ_STOP]);
    expect(sent.map(([, hex]) => hex)).toEqual([PTZ_STOP, FI_STOP, 'A50F0181000200' + '38', PTZ_STOP, FI_STOP, 'A50F0182000200' + '39', PTZ_STOP]);
  });

  it('a focus does not cancel a pan in progress: each family keeps its auto-stop, and a stop halts both', async () => {
    const { ptz, sent } = service();
    await ptz.execute('c1', { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 300 });
    await ptz.execute('c1', { action: 'focus', direction: 'near', speed: 0x80, durationMs: 600 });
    await vi.advanceTimersByTimeAsync(300);
    expect(sent.map(([, hex]) => hex)).toEqual([UP_RIGHT, FOCUS_NEAR, PTZ_STOP]);
    await vi.advanceTimersByTimeAsync(300);
    expect(sent.map(([, hex]) => hex)).toEqual([UP_RIGHT, FOCUS_NEAR, PTZ_STOP, FI_STOP]);

    // Both moving: the stop sends both codes, whichever came last, and no auto-stop follows.
    sent.length = 0;
    await ptz.execute('c1', { action: 'focus', direction: 'near', speed: 0x80, durationMs: 1000 });
    await ptz.execute('c1', { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 1000 });
    expect((await ptz.execute('c1', { action: 'stop' })).sent).toEqual([PTZ_STOP, FI_STOP]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent.map(([, hex]) => hex)).toEqual([FOCUS_NEAR, UP_RIGHT, PTZ_STOP, FI_STOP]);
  });

  it('a channel without pan/tilt/zoom (noPanTiltZoom): focus, iris and stop go through, the rest is a 409 before any lease', async () => {
    const sent: string[] = [];
    const port: PtzPort = {
      resolve: async (channelId) => ({ channelId, deviceId: 'd', deviceOnline: true, noPanTiltZoom: 'no PTZ configuration' }),
      send: async (_target, hex) => void sent.push(hex),
    };
    const ptz = new PtzService(port, pino({ level: 'silent' }));
    const actor = { username: 'op1', role: 'operator' as const };
    for (const request of [{ action: 'move', direction: 'left' }, { action: 'preset', operation: 'call', preset: 1 }, { action: 'home' }, { action: 'relative', pan: 0.5 }] as const) {
      await expect(ptz.execute('c1', request, actor)).rejects.toThrow(/no PTZ configuration/);
    }
    expect(ptz.leaseOf('c1')).toBeNull();
    await ptz.execute('c1', { action: 'focus', direction: 'near', speed: 0x80, durationMs: 30_000 }, actor);
    expect(ptz.leaseOf('c1')).toMatchObject({ holder: 'op1' });
    // Never seen move on the PTZ family, yet the stop sends only the FI stop: there is no head to stop.
    expect((await ptz.execute('c1', { action: 'stop' }, actor)).sent).toEqual([FI_STOP]);
    expect((await ptz.execute('c2', { action: 'stop' }, actor)).sent).toEqual([FI_STOP]);
    expect(sent).toEqual([FOCUS_NEAR, FI_STOP, FI_STOP]);
    ptz.close();
  });

  it('a failing stop still tries the other one and reports the failure', async () => {
    const sent: string[] = [];
    const port: PtzPort = {
      resolve: async (channelId) => ({ channelId, deviceId: 'd', deviceOnline: true }),
      send: async (_target, hex) => {
        sent.push(hex);
        if (hex === PTZ_STOP) throw new Error('no answer');
      },
    };
    const ptz = new PtzService(port, pino({ level: 'silent' }));
    await expect(ptz.execute('c1', { action: 'stop' })).rejects.toThrow('no answer');
    expect(sent).toEqual([PTZ_STOP, FI_STOP]);
  });
});

describe('PtzService arbitration (one user steers a camera at a time)', () => {
  function service(): { ptz: PtzService; sent: string[]; advance: (ms: number) => void } {
    let now = 1_700_000_000_000;
    const sent: string[] = [];
    const port: PtzPort = {
      resolve: async (channelId) => ({ channelId, deviceId: 'd', deviceOnline: true }),
      send: async (_target, hex) => void sent.push(hex),
    };
    return { ptz: new PtzService(port, pino({ level: 'silent' }), { leaseMs: 30_000 }, () => now), sent, advance: (ms) => (now += ms) };
  }
  const alice = { username: 'alice', role: 'operator' as const };
  const bob = { username: 'bob', role: 'operator' as const };
  const root = { username: 'root', role: 'admin' as const };
  const preset = { action: 'preset' as const, operation: 'call' as const, preset: 1 };

  it('the first user takes the lease; an equal role gets a conflict naming the holder and sends nothing', async () => {
    const { ptz, sent, advance } = service();
    const first = await ptz.execute('c1', preset, alice);
    expect(first.lease).toEqual({ channelId: 'c1', holder: 'alice', role: 'operator', since: 1_700_000_000_000, expiresAt: 1_700_000_030_000 });
    advance(10_000);
    const err = await ptz.execute('c1', { action: 'stop' }, bob).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PtzLeaseConflict);
    expect((err as PtzLeaseConflict).details).toEqual({ holder: first.lease });
    expect(sent).toHaveLength(1);
    // Another camera is free.
    expect((await ptz.execute('c2', preset, bob)).lease?.holder).toBe('bob');
    // Each command renews the holder's lease, keeping `since`.
    expect((await ptz.execute('c1', preset, alice)).lease).toMatchObject({ since: 1_700_000_000_000, expiresAt: 1_700_000_040_000 });
  });

  it('the lease lapses after leaseMs without a command; a higher role takes over at once', async () => {
    const { ptz, advance } = service();
    await ptz.execute('c1', preset, alice);
    advance(30_000);
    expect(ptz.leaseOf('c1')).toBeNull();
    const bobs = await ptz.execute('c1', preset, bob);
    expect(bobs.takenOverFrom).toBeNull();
    const taken = await ptz.execute('c1', preset, root);
    expect(taken.takenOverFrom).toEqual({ holder: 'bob', role: 'operator' });
    expect(ptz.leaseOf('c1')?.holder).toBe('root');
    await expect(ptz.execute('c1', preset, bob)).rejects.toBeInstanceOf(PtzLeaseConflict);
    expect(() => ptz.release('c1', bob)).toThrow(PtzLeaseConflict);
    expect(ptz.release('c1', root)).toBe(true);
    expect((await ptz.execute('c1', preset, bob)).lease?.holder).toBe('bob');
  });
});

describe('PtzService.relay: PTZ from an upper platform takes the same lease (cascade)', () => {
  const UP_RIGHT = 'A50F0109808000BE';
  const PTZ_STOP = 'A50F0100000000B5';
  function service(): { ptz: PtzService; sent: Array<{ hex: string; kind: string }>; advance: (ms: number) => void } {
    let now = 1_700_000_000_000;
    const sent: Array<{ hex: string; kind: string }> = [];
    const port: PtzPort = {
      resolve: async (channelId) => (channelId === 'gone' ? null : { channelId, deviceId: 'd', deviceOnline: true }),
      send: async (_target, hex, order) => void sent.push({ hex, kind: order.kind }),
    };
    return { ptz: new PtzService(port, pino({ level: 'silent' }), { leaseMs: 30_000 }, () => now), sent, advance: (ms) => (now += ms) };
  }
  const platform = { username: 'platform:44000000002000000001', role: 'operator' as const };
  const alice = { username: 'alice', role: 'operator' as const };
  const viewer = { username: 'vic', role: 'viewer' as const };
  const root = { username: 'root', role: 'admin' as const };
  const preset = { action: 'preset' as const, operation: 'call' as const, preset: 1 };

  it('a local operator holding the camera wins over the platform (same role): nothing is sent', async () => {
    const { ptz, sent } = service();
    await ptz.execute('c1', preset, alice);
    const err = await ptz.relay('c1', UP_RIGHT, platform).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PtzLeaseConflict);
    expect((err as PtzLeaseConflict).lease.holder).toBe('alice');
    expect(sent).toHaveLength(1);
  });

  it('the platform takes a free camera: the PTZCmd goes as received (decoded for the port), no auto-stop; the lease then keeps an equal local role out and yields to a higher one', async () => {
    const { ptz, sent, advance } = service();
    const r = await ptz.relay('c1', UP_RIGHT, platform);
    expect(r).toMatchObject({ sent: [UP_RIGHT], autoStopAfterMs: null, takenOverFrom: null, lease: { holder: platform.username, role: 'operator' } });
    expect(sent).toEqual([{ hex: UP_RIGHT, kind: 'move' }]);
    await expect(ptz.execute('c1', preset, alice)).rejects.toBeInstanceOf(PtzLeaseConflict);
    // Its own stop renews its lease; the lease lapses like anyone's.
    await ptz.relay('c1', PTZ_STOP, platform);
    advance(30_000);
    expect((await ptz.execute('c1', preset, alice)).lease?.holder).toBe('alice');
    // A local admin takes it from the platform, and the platform is refused while the admin steers.
    await ptz.relay('c2', UP_RIGHT, platform);
    expect((await ptz.execute('c2', preset, root)).takenOverFrom).toEqual({ holder: platform.username, role: 'operator' });
    await expect(ptz.relay('c2', UP_RIGHT, platform)).rejects.toBeInstanceOf(PtzLeaseConflict);
  });

  it('the platform takes over from a lower local role; a PTZCmd that does not decode or an unknown channel is refused', async () => {
    const { ptz, sent } = service();
    await ptz.execute('c1', preset, viewer);
    expect((await ptz.relay('c1', UP_RIGHT, platform)).takenOverFrom).toEqual({ holder: 'vic', role: 'viewer' });
    await expect(ptz.relay('c1', 'ZZ0F01', platform)).rejects.toBeInstanceOf(ValidationError);
    await expect(ptz.relay('gone', UP_RIGHT, platform)).rejects.toThrow(/not found/);
    expect(sent).toHaveLength(2);
  });
});
