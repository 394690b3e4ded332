/**
 * The ONVIF driver's health probe against the simulated camera: GetSystemDateAndTime most of the time, the
 * authenticated GetDeviceInformation when it is due (every Nth probe, after a failed probe, after a call that was
 * refused elsewhere), so that a changed password still shows as auth-failed — and never once per interval.
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { OnvifDriver } from '../../src/domain/devices/drivers/onvif-driver.js';
import type { EndpointOf } from '../../src/domain/devices/drivers/driver.js';
import { OnvifCameraSim } from '../../src/sim/onvif/onvif-camera.js';

describe('ONVIF health probe', () => {
  const cams: OnvifCameraSim[] = [];
  const drivers: OnvifDriver[] = [];
  afterAll(async () => {
    await Promise.all(drivers.map((d) => d.close()));
    await Promise.all(cams.map((c) => c.close()));
  });

  async function setup(camOpts: ConstructorParameters<typeof OnvifCameraSim>[0], healthAuthEvery: number) {
    const cam = new OnvifCameraSim(camOpts);
    await cam.start();
    cams.push(cam);
    const driver = new OnvifDriver({ logger: pino({ level: 'silent' }), timeoutMs: 2_000, healthAuthEvery });
    drivers.push(driver);
    const endpoint: EndpointOf<'onvif'> = { protocol: 'onvif', host: '127.0.0.1', port: cam.port, username: cam.credentials.username, password: cam.credentials.password };
    const ops = (): Record<string, number> => ({ time: cam.opCounts.get('getsystemdateandtime') ?? 0, info: cam.opCounts.get('getdeviceinformation') ?? 0 });
    return { cam, driver, endpoint, probe: () => driver.probe('dev1', endpoint), ops };
  }

  it('probes with GetSystemDateAndTime and every Nth time with credentials; a changed password shows at that probe', async () => {
    const { cam, probe, ops } = await setup({}, 3);
    expect(await probe()).toEqual({ ok: true }); // connect: time, information, services
    const afterConnect = ops();
    expect(await probe()).toEqual({ ok: true });
    expect(await probe()).toEqual({ ok: true });
    expect(ops()).toEqual({ time: afterConnect.time + 2, info: afterConnect.info });
    expect(await probe()).toEqual({ ok: true });
    expect(ops()).toEqual({ time: afterConnect.time + 2, info: afterConnect.info + 1 });

    cam.setPassword('changed-on-the-camera');
    // The next two are unauthenticated and cannot tell; the third is the authenticated one.
    expect(await probe()).toEqual({ ok: true });
    expect(await probe()).toEqual({ ok: true });
    expect(cam.stats.authFailures).toBe(0);
    expect(await probe()).toMatchObject({ ok: false, reason: 'auth-failed' });
    expect(cam.stats.authFailures).toBe(1);
    // While refused, every probe is authenticated (one refusal per probe; the poller spaces those out).
    expect(await probe()).toMatchObject({ ok: false, reason: 'auth-failed' });
    expect(cam.stats.authFailures).toBe(2);
    expect(cam.stats.locked).toBe(false);
  });

  it('a refusal seen by another call (PTZ) makes the next probe authenticated', async () => {
    const { cam, driver, endpoint, probe } = await setup({}, 100);
    expect(await probe()).toEqual({ ok: true });
    cam.setPassword('changed-on-the-camera');
    const channel = { id: 'ch1', name: '', main: '', sub: '', profileToken: 'profile_1_main', ptz: true };
    await expect(driver.ptz.execute('dev1', endpoint, channel, { kind: 'home' })).rejects.toMatchObject({ reason: 'auth-failed' });
    expect(await probe()).toMatchObject({ ok: false, reason: 'auth-failed' });
  });

  it('after a failed probe the next one is authenticated (a camera that comes back may have been reset)', async () => {
    const { cam, probe } = await setup({}, 100);
    expect(await probe()).toEqual({ ok: true });
    const port = cam.port;
    await cam.close();
    expect(await probe()).toMatchObject({ ok: false, reason: 'unreachable' });
    const back = new OnvifCameraSim({ port, password: 'factory-default' });
    await back.start();
    cams.push(back);
    expect(await probe()).toMatchObject({ ok: false, reason: 'auth-failed' });
    expect(back.opCounts.get('getdeviceinformation')).toBe(1);
    expect(back.stats.authFailures).toBe(1);
  });

  it('a camera that wants credentials even for the time is probed with GetDeviceInformation', async () => {
    const { cam, probe, ops } = await setup({ timeNeedsAuth: true }, 100);
    expect(await probe()).toEqual({ ok: true });
    const before = ops();
    expect(await probe()).toEqual({ ok: true }); // tries the time once, falls back, remembers
    expect(await probe()).toEqual({ ok: true });
    expect(ops()).toEqual({ time: before.time + 1, info: before.info + 2 });
    cam.setPassword('changed');
    expect(await probe()).toMatchObject({ ok: false, reason: 'auth-failed' });
  });
});
