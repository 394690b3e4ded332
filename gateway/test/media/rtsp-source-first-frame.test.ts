/**
 * An RTSP camera sends its first picture right behind the PLAY answer, often in the same TCP segment. That
 * picture — a keyframe when the camera starts sessions with one — must reach the Stream: losing it made every
 * RTSP play wait one more GOP (≈ 2 s to first frame instead of ≈ 1 s) and, when the SDP's parameters were already
 * known, left the stream service waiting for parameters that had been announced before it listened.
 * Peer: the simulator's RTSP server (every session starts with the loop's frame 0, a keyframe).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNalUnits } from '../../src/codecs/ps/annexb.js';
import type { AccessUnit } from '../../src/media/core/access-unit.js';
import { Stream } from '../../src/media/core/stream.js';
import { RtspSource } from '../../src/media/sources/rtsp/rtsp-source.js';
import { MediaLibrary, type VideoLoop } from '../../src/sim/media-source.js';
import { SimRtspServer } from '../../src/sim/onvif/rtsp-server.js';

/** The IDR slice NAL units (type 5) of an Annex-B H.264 access unit. */
function idrSlices(data: Buffer): Buffer[] {
  return findNalUnits(data)
    .map((n) => data.subarray(n.header, n.end))
    .filter((nal) => (nal[0]! & 0x1f) === 5);
}

describe('RTSP source: the first picture after PLAY', () => {
  const library = MediaLibrary.shared();
  let server: SimRtspServer;
  let loop: VideoLoop;

  beforeAll(async () => {
    loop = await library.videoLoop('h264', 'sub', null);
    server = new SimRtspServer(library);
    server.mount('/cam/sub', { codec: 'h264', profile: 'sub', audio: false, username: 'admin', password: 'pw-1' });
    await server.start();
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it.each(['tcp', 'udp'] as const)('over %s the stream gets the camera’s very first keyframe, and nothing is dropped before set-up', async (transport) => {
    let port = 46_000 + Math.floor(Math.random() * 1000) * 2;
    const source = await RtspSource.open({
      url: `rtsp://127.0.0.1:${server.listenPort}/cam/sub`,
      username: 'admin',
      password: 'pw-1',
      transport,
      timeoutMs: 10_000,
      allocateUdpPorts: async () => [port, (port += 2) - 1],
      udpBindHost: '127.0.0.1',
    });
    // The Stream subscribes only now, after open() resolved: what arrived meanwhile must still come through.
    const stream = new Stream({ id: `first-frame-${transport}`, source });
    const first = await new Promise<AccessUnit>((resolve) => {
      stream.on('keyframe', (unit) => resolve(unit));
    });
    try {
      expect(stream.parameters.find((t) => t.kind === 'video')).toMatchObject({ codec: 'h264', width: loop.width, height: loop.height });
      // Frame 0 of the loop, not the next GOP's keyframe (frame 25, whose picture differs: it shows a later time).
      const sent = idrSlices(Buffer.from(loop.frames[0]!.data));
      expect(sent.length).toBeGreaterThan(0);
      const got = (first.nalus ?? []).map((n) => Buffer.from(n.buffer, n.byteOffset, n.byteLength)).filter((nal) => (nal[0]! & 0x1f) === 5);
      expect(got.map((n) => n.toString('hex'))).toEqual(sent.map((n) => n.toString('hex')));
      expect(source.stats().dropped).toMatchObject({ unknownTrack: 0, beforeSetup: 0 });
    } finally {
      await stream.close('test done');
    }
  });
});
