/**
 * PTZ stops per instruction family against simulated cameras: what the device receives as PTZCmd. Focus and
 * iris are halted by the FI stop (A50F0140000000F5), pan / tilt / zoom by the PTZ stop (A50F0100000000B5);
 * an explicit stop sends the one that matches the channel's last moving command (both when unknown), and
 * each family's auto-stop is its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from '../../src/sim/index.js';
import type { Device, Page } from '../../src/domain/model.js';
import { startHarness, type Harness } from '../support/gateway-harness.js';

const PTZ_STOP = 'A50F0100000000B5';
const FI_STOP = 'A50F0140000000F5';
const FOCUS_NEAR = 'A50F014280000077';
const IRIS_OPEN = 'A50F014400800079';
const UP_RIGHT = 'A50F0109808000BE';

describe('PTZ stop for pan/tilt/zoom and for focus/iris, at the simulator', () => {
  let h: Harness;
  let fleet: DeviceFleet;
  let cams: string[];

  beforeAll(async () => {
    h = await startHarness({ overrides: { sip: { password: 'ptz-pass', keepaliveIntervalSec: 5 } } });
    fleet = new DeviceFleet({ server: h.sipTarget, password: 'ptz-pass', devices: 4, keepaliveSec: 5, idPrefix: '44030500', firstSerial: 700 });
    await fleet.start();
    await fleet.waitForRegistered(4, 30_000);
    await h.waitFor(async () => (await h.api<Page<Device>>('/api/devices?status=online')).body.total === 4, 20_000, 'online');
    cams = fleet.devices.map((d) => d.channelIds[0]!);
    await h.waitFor(async () => (await h.api<{ total: number }>('/api/channels?kind=channel&limit=1')).body.total >= 4, 20_000, 'catalogs');
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop({ unregister: false });
    await h?.stop();
  });

  const ptz = (channelId: string, body: Record<string, unknown>) => h.api<{ sent: string[]; autoStopAfterMs: number | null }>(`/api/channels/${channelId}/ptz`, { body });
  const received = (channelId: string): string[] => fleet.ptzLog(channelId).map((e) => e.hex);
  const receivedExactly = (channelId: string, codes: string[], what: string) =>
    h.waitFor(() => (received(channelId).length >= codes.length ? received(channelId) : null), 10_000, what).then((log) => expect(log).toEqual(codes));

  it('a stop after focus reaches the camera as the FI stop', async () => {
    const cam = cams[0]!;
    // The answer also names the PTZ lease the API token now holds (users-roles: PTZ arbitration).
    expect((await ptz(cam, { action: 'focus', direction: 'near', speed: 0x80, durationMs: 30_000 })).body).toMatchObject({
      sent: [FOCUS_NEAR],
      autoStopAfterMs: 30_000,
      lease: { channelId: cam, holder: 'api-token' },
      takenOverFrom: null,
    });
    const stop = await ptz(cam, { action: 'stop' });
    expect(stop.status).toBe(200);
    expect(stop.body.sent).toEqual([FI_STOP]);
    await receivedExactly(cam, [FOCUS_NEAR, FI_STOP], 'focus and FI stop at the camera');
    expect(fleet.ptzLog(cam)[1]!.command).toEqual({ kind: 'fi', focus: null, iris: null, focusSpeed: 0, irisSpeed: 0 });
  });

  it('an iris step is stopped automatically with the FI stop; a stop after a move is the PTZ stop', async () => {
    const cam = cams[1]!;
    await ptz(cam, { action: 'iris', direction: 'open', speed: 0x80, durationMs: 200 });
    await receivedExactly(cam, [IRIS_OPEN, FI_STOP], 'iris and its auto-stop');
    await ptz(cam, { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 30_000 });
    expect((await ptz(cam, { action: 'stop' })).body.sent).toEqual([PTZ_STOP]);
    await receivedExactly(cam, [IRIS_OPEN, FI_STOP, UP_RIGHT, PTZ_STOP], 'move and PTZ stop');
  });

  it('a focus during a pan leaves the pan its own auto-stop; a stop while both move sends both', async () => {
    const cam = cams[2]!;
    // 2 s: the focus request surely comes before the pan's auto-stop, even on a loaded machine.
    await ptz(cam, { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 2000 });
    await ptz(cam, { action: 'focus', direction: 'near', speed: 0x80, durationMs: 30_000 });
    // The pan's auto-stop arrives although a focus came after it.
    await receivedExactly(cam, [UP_RIGHT, FOCUS_NEAR, PTZ_STOP], "the pan's auto-stop");
    // Only the focus is still moving, and it was the last: the FI stop.
    expect((await ptz(cam, { action: 'stop' })).body.sent).toEqual([FI_STOP]);
    await ptz(cam, { action: 'focus', direction: 'near', speed: 0x80, durationMs: 30_000 });
    await ptz(cam, { action: 'move', direction: 'up-right', speed: 0x80, durationMs: 30_000 });
    expect((await ptz(cam, { action: 'stop' })).body.sent).toEqual([PTZ_STOP, FI_STOP]);
    await receivedExactly(cam, [UP_RIGHT, FOCUS_NEAR, PTZ_STOP, FI_STOP, FOCUS_NEAR, UP_RIGHT, PTZ_STOP, FI_STOP], 'both stops');
  });

  it('a camera the gateway has not seen move gets both stops, PTZ first', async () => {
    const cam = cams[3]!;
    expect((await ptz(cam, { action: 'stop' })).body).toMatchObject({ sent: [PTZ_STOP, FI_STOP], autoStopAfterMs: null });
    await receivedExactly(cam, [PTZ_STOP, FI_STOP], 'both stops');
    expect(fleet.ptzLog(cam).every((e) => e.error === null)).toBe(true);
  });

  it('presets of a GB channel, or of a camera by its device ID, are 409 (kept by the device); an unknown channel is 404', async () => {
    const presets = (id: string) => h.api<{ error: string }>(`/api/channels/${id}/ptz/presets`);
    for (const id of [cams[0]!, fleet.devices[0]!.id]) {
      const r = await presets(id);
      expect(r.status, id).toBe(409);
      expect(JSON.stringify(r.body)).toContain(`channel ${id} is a GB28181 channel`);
    }
    const unknown = '44030500001310099999';
    const r = await presets(unknown);
    expect(r.status).toBe(404);
    expect(JSON.stringify(r.body)).toContain(`channel ${unknown} not found`);
  });
});
