/**
 * Our ONVIF camera simulator against an independent ONVIF client: python-onvif-zeep (WSDL-driven, via zeep),
 * installed by scripts/setup-test-env.sh into .tools/onvif-venv. If the simulator's answers did not follow the
 * ONVIF schemas, zeep would refuse them; if its WS-Security check were lax, the wrong password would pass.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnvifCameraSim } from '../../src/sim/onvif/onvif-camera.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../../..');
const PYTHON = join(ROOT, '.tools/onvif-venv/bin/python');

interface ZeepReport {
  utc: { Date: { Year: number } };
  info: { Manufacturer: string; Model: string; SerialNumber: string; HardwareId: string };
  xaddrs: Record<string, string>;
  services: string[];
  interfaces: string[];
  profiles: Array<{ token: string; encoding: string; width: number; height: number; ptz: boolean }>;
  streamUri: string;
  snapshotUri: string;
  presetToken: string;
  presets: Array<{ token: string; name: string }>;
  subscription: string;
  pulled: number;
  presetsAfterRemove: number;
  nodes: Array<{ token: string; panTilt: { x: { Min: number; Max: number }; y: { Min: number; Max: number } } | null; zoom: { Min: number; Max: number } | null }>;
  node: ZeepReport['nodes'][number];
  exposureBefore: { mode: string; iris: number };
  irisRange: { Min: number; Max: number };
  focusSpeedRange: { Min: number; Max: number };
  exposureAfter: { mode: string; iris: number };
  events: Array<{ topic: string; items: Record<string, string> }>;
  renewed: string;
  pullAfterUnsubscribe: string;
  wrongPassword: string;
}

describe('ONVIF camera simulator, read by onvif-zeep', () => {
  let cam: OnvifCameraSim;
  let report: ZeepReport;

  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: run "bash scripts/setup-test-env.sh" (it creates the onvif-zeep venv)`);
    // The camera's clock runs 90 s ahead: onvif-zeep (adjust_time) must sign with the camera's time, as we do.
    cam = new OnvifCameraSim({
      name: '南山实验学校 东门',
      manufacturer: 'SimVendor',
      model: 'IPC-2T',
      hardware: 'HW-9',
      videoSources: 2,
      rtspPort: 8554,
      clockOffsetMs: 90_000,
      clockToleranceSec: 30,
      // A node narrower than the generic spaces and without zoom: zeep must read the ranges as configured.
      ptzSpaces: { panTilt: { x: { min: -0.5, max: 0.5 }, y: { min: -0.5, max: 0.5 } }, zoom: null },
    });
    await cam.start();
    const client = run(PYTHON, [join(ROOT, 'test-fixtures/onvif/zeep_client.py'), cam.host, String(cam.port), 'admin', 'admin12345'], { timeout: 120_000 });
    // The client's second subscription holds a PullMessages for 10 s: raise a motion event once that pull is in.
    const raiser = setInterval(() => {
      const pulls = cam.eventLog.filter((c) => c.op === 'PullMessages');
      const subscriptions = new Set(cam.eventLog.filter((c) => c.op === 'PullMessages').map((c) => c.subscription));
      if (subscriptions.size >= 2 && pulls.length >= 2) {
        clearInterval(raiser);
        cam.raise('motion');
      }
    }, 20);
    let stdout: string;
    try {
      ({ stdout } = await client);
    } finally {
      clearInterval(raiser);
    }
    report = JSON.parse(stdout.trim().split('\n').pop()!) as ZeepReport;
  }, 180_000);

  afterAll(async () => {
    await cam?.close();
  });

  it('device service: time, information, capabilities with every service address, services, interfaces', () => {
    expect(report.utc.Date.Year).toBeGreaterThanOrEqual(2026);
    expect(report.info).toMatchObject({ Manufacturer: 'SimVendor', Model: 'IPC-2T', HardwareId: 'HW-9', SerialNumber: cam.info.serialNumber });
    const base = `http://127.0.0.1:${cam.port}`;
    expect(report.xaddrs).toMatchObject({
      'http://www.onvif.org/ver10/media/wsdl': `${base}/onvif/media_service`,
      'http://www.onvif.org/ver20/ptz/wsdl': `${base}/onvif/ptz_service`,
      'http://www.onvif.org/ver20/imaging/wsdl': `${base}/onvif/imaging_service`,
      'http://www.onvif.org/ver10/events/wsdl': `${base}/onvif/events_service`,
    });
    expect(report.services).toEqual(expect.arrayContaining(['http://www.onvif.org/ver10/media/wsdl', 'http://www.onvif.org/ver20/media/wsdl']));
    expect(report.interfaces).toEqual(['eth0']);
  });

  it('media: a main and a sub profile per video source, stream and snapshot URIs', () => {
    expect(report.profiles).toEqual([
      { token: 'profile_1_main', encoding: 'H264', width: 1280, height: 720, ptz: true },
      { token: 'profile_1_sub', encoding: 'H264', width: 640, height: 360, ptz: true },
      { token: 'profile_2_main', encoding: 'H264', width: 1280, height: 720, ptz: true },
      { token: 'profile_2_sub', encoding: 'H264', width: 640, height: 360, ptz: true },
    ]);
    expect(report.streamUri).toBe('rtsp://127.0.0.1:8554/onvif/profile_1_main');
    expect(report.snapshotUri).toBe(`http://127.0.0.1:${cam.port}/onvif/snapshot/profile_1_main.jpg`);
  });

  it('PTZ: the moves, preset and home reach the camera in order', () => {
    expect(report.presets).toEqual([{ token: report.presetToken, name: 'gate' }]);
    expect(cam.ptzLog.map((c) => c.op)).toEqual(['ContinuousMove', 'Stop', 'SetPreset', 'GotoPreset', 'GotoHomePosition', 'RelativeMove', 'RemovePreset']);
    expect(cam.ptzLog[0]).toEqual({ op: 'ContinuousMove', profile: 'profile_1_main', pan: 0.5, tilt: -0.25 });
    expect(cam.ptzLog[5]).toMatchObject({ pan: 0.1, tilt: 0.2 });
    expect(report.presetsAfterRemove).toBe(0);
  });

  it('PTZ GetNodes/GetNode: the continuous velocity ranges as configured (pan/tilt ±0.5, no zoom space)', () => {
    const node = { token: 'ptznode_1', panTilt: { x: { Min: -0.5, Max: 0.5 }, y: { Min: -0.5, Max: 0.5 } }, zoom: null };
    expect(report.nodes).toEqual([node, { ...node, token: 'ptznode_2' }]);
    expect(report.node).toEqual(node);
    expect(cam.nodeCalls).toEqual(['GetNodes', 'GetNode(ptznode_1)']);
  });

  it('Imaging: settings, options, move options, a focus Move and Stop, a manual iris set and read back', () => {
    expect(report.exposureBefore).toEqual({ mode: 'AUTO', iris: 0 });
    expect(report.irisRange).toEqual({ Min: -22, Max: 0 });
    expect(report.focusSpeedRange).toEqual({ Min: -1, Max: 1 });
    expect(report.exposureAfter).toEqual({ mode: 'MANUAL', iris: -4.4 });
    expect(cam.imagingLog.map((c) => c.op)).toEqual(['GetImagingSettings', 'GetOptions', 'GetMoveOptions', 'Move', 'Stop', 'SetImagingSettings', 'GetImagingSettings']);
    expect(cam.imagingLog[3]).toEqual({ op: 'Move', source: 'vs_1', focusSpeed: -0.5 });
    expect(cam.imagingLog[5]).toEqual({ op: 'SetImagingSettings', source: 'vs_1', mode: 'MANUAL', iris: -4.4 });
  });

  it('events: a PullPoint subscription at a subscription address, messages pulled', () => {
    expect(report.subscription).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${cam.port}/onvif/subscription/[0-9a-f]+$`));
    expect(report.pulled).toBe(0);
  });

  it('events: a raised motion event is a NotificationMessage zeep reads; Renew and Unsubscribe work, a pull after it faults', () => {
    expect(report.events).toEqual([{ topic: 'tns1:RuleEngine/CellMotionDetector/Motion', items: { VideoSourceConfigurationToken: 'vsc_1', IsMotion: 'true' } }]);
    expect(Date.parse(report.renewed)).toBeGreaterThan(Date.now());
    expect(report.pullAfterUnsubscribe).toMatch(/unknown or has expired/);
    expect(cam.eventLog.map((c) => c.op)).toEqual(expect.arrayContaining(['CreatePullPointSubscription', 'PullMessages', 'Renew', 'Unsubscribe']));
  });

  it('a wrong password is refused with NotAuthorized', () => {
    expect(report.wrongPassword).toMatch(/requires authorization \(wrong-password\)/);
    expect(cam.stats.authFailures).toBeGreaterThan(0);
  });
});
