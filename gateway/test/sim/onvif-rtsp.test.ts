/**
 * A simulated ONVIF camera end to end, as the gateway will meet one: discovered profiles → GetStreamUri →
 * RTSP (the simulator's server, digest auth) → pictures. ffprobe reads the same RTSP URL as an independent
 * client; our RTSP client and depacketizer get decodable pictures of the right codec and size.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VideoDepacketizer, type DepacketizedPicture } from '../../src/codecs/rtp/payload/video.js';
import { OnvifClient } from '../../src/protocol/onvif/onvif-client.js';
import { RtspClient } from '../../src/protocol/rtsp/rtsp-client.js';
import { MediaLibrary } from '../../src/sim/media-source.js';
import { OnvifCameraSim } from '../../src/sim/onvif/onvif-camera.js';
import { SimRtspServer } from '../../src/sim/onvif/rtsp-server.js';

const run = promisify(execFile);

describe('simulated ONVIF camera with its RTSP stream', () => {
  let rtsp: SimRtspServer;
  let cam: OnvifCameraSim;
  const library = MediaLibrary.shared();

  beforeAll(async () => {
    rtsp = new SimRtspServer(library);
    await rtsp.start();
    cam = new OnvifCameraSim({ rtspPort: rtsp.listenPort, rtspPrefix: '/onvif/c1', encoding: 'H265', password: 'cam-pass-1' });
    await cam.start();
    for (const p of cam.profiles) rtsp.mount(p.path, { codec: p.codec, profile: p.sub ? 'sub' : 'main', audio: !p.sub, username: 'admin', password: 'cam-pass-1' });
    await Promise.all([library.videoLoop('h265', 'main', null), library.videoLoop('h264', 'sub', null), library.audioLoop()]);
  }, 180_000);

  afterAll(async () => {
    await cam?.close();
    await rtsp?.close();
  });

  it('ffprobe plays the stream URI the camera gives (H.265 main with G.711A, H.264 sub)', async () => {
    const client = new OnvifClient({ host: '127.0.0.1', port: cam.port, username: 'admin', password: 'cam-pass-1' });
    await client.connect();
    const main = await client.streamUri('profile_1_main');
    const withCreds = main.replace('rtsp://', 'rtsp://admin:cam-pass-1@');
    const { stdout } = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_streams', '-of', 'json', withCreds], { timeout: 30_000 });
    const streams = (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width?: number }> }).streams;
    expect(streams.map((s) => s.codec_name)).toEqual(['hevc', 'pcm_alaw']);
    expect(streams[0]!.width).toBe(1280);
  });

  it.each(['tcp', 'udp'] as const)('our RTSP client gets whole pictures of the sub stream over %s; a wrong password is refused', async (transport) => {
    const client = new OnvifClient({ host: '127.0.0.1', port: cam.port, username: 'admin', password: 'cam-pass-1' });
    await client.connect();
    const uri = await client.streamUri('profile_1_sub', transport);
    let port = 44_000 + Math.floor(Math.random() * 2000) * 2;
    const rtspClient = new RtspClient({ url: uri, username: 'admin', password: 'cam-pass-1', transport, allocateUdpPorts: async () => [port, (port += 2) - 1], udpBindHost: '127.0.0.1' });
    const dep = new VideoDepacketizer('h264');
    const pictures: DepacketizedPicture[] = [];
    const enough = new Promise<void>((resolve) => {
      rtspClient.on('rtp', ({ packet }) => {
        pictures.push(...dep.push(packet));
        if (pictures.filter((p) => p.keyframe).length >= 2) resolve();
      });
    });
    const { tracks } = await rtspClient.start();
    expect(tracks.map((t) => t.media.encoding)).toEqual(['H264']);
    await enough;
    await rtspClient.close();
    expect(pictures.length).toBeGreaterThanOrEqual(26);
    expect(pictures.every((p) => !p.damaged)).toBe(true);
    const refused = await new RtspClient({ url: uri, username: 'admin', password: 'wrong' }).start().then(() => null, (e: unknown) => e);
    expect(refused).toMatchObject({ reason: 'auth-failed' });
  });
});
