/**
 * The GB source over a real UDP port: a camera streams H.264 PS over RTP, restarts with another SSRC (it
 * ignores y=, so the profile allows SSRC 0) and another resolution; the Stream's readers see a new epoch with
 * the new parameters, starting at a keyframe, and the source says what it dropped. Closing the stream closes
 * the source and gives the port back to the pool.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isKeyframeAccessUnit } from '../../src/codecs/ps/annexb.js';
import { PsMuxer } from '../../src/codecs/ps/ps-muxer.js';
import { RtpPacketizer } from '../../src/codecs/rtp/rtp.js';
import { Stream } from '../../src/media/core/stream.js';
import { PortPool } from '../../src/media/port-pool.js';
import { GbPsSource } from '../../src/media/sources/gb28181/gb-ps-source.js';
import { freeConsecutivePorts, LOOPBACK, UdpSender, waitUntil } from '../media/rtp-helpers.js';
import { RecordingReader } from './fakes.js';
import { encodeH264 } from './media-fixtures.js';

const SSRC = 100000042;

function rtpOf(units: Buffer[], ssrc: number, firstSeq: number, firstPts: number): Buffer[] {
  const mux = new PsMuxer({ video: 'h264' });
  const rtp = new RtpPacketizer({ ssrc, payloadType: 96, initialSequence: firstSeq });
  return units.flatMap((au, i) => rtp.packetize(mux.muxVideo(au, firstPts + i * 3600, isKeyframeAccessUnit(au, 'h264')), firstPts + i * 3600, true));
}

describe('GB28181 source', () => {
  let before: Buffer[];
  let after: Buffer[];

  beforeAll(async () => {
    [before, after] = await Promise.all([
      encodeH264({ width: 640, height: 360, seconds: 2, bframes: 0 }).then((v) => v.units),
      encodeH264({ width: 320, height: 240, seconds: 2, bframes: 0 }).then((v) => v.units),
    ]);
  }, 180_000);

  it('a camera that restarts with a new SSRC and resolution gives a new epoch, not a broken stream', async () => {
    const [port] = await freeConsecutivePorts(1);
    const pool = new PortPool(port!, port!);
    const source = await GbPsSource.open(pool, { transport: 'udp', host: LOOPBACK, expectedSsrc: SSRC, allowZeroSsrc: true, reorderMaxDelayMs: 200 });
    expect(source.localPort).toBe(port);
    expect(pool.free).toBe(0);
    const stream = new Stream({ id: 'restart', source });
    const reader = new RecordingReader('recorder');
    stream.addReader(reader);
    const sender = await UdpSender.open();
    try {
      await sender.send(rtpOf(before, SSRC, 1000, 10_000), port!);
      await waitUntil(() => reader.units.length >= before.length - 2, 'the first stream arrived');
      // Restarted camera: SSRC 0, new sequence numbers, a new clock and a smaller picture.
      await sender.send(rtpOf(after, 0, 40_000, 3_000_000_000), port!);
      await waitUntil(() => reader.units.filter((u) => u.epoch > 0).length >= after.length - 2, 'the restarted stream arrived');
    } finally {
      sender.close();
    }
    const sizes = reader.parameters.map((p) => {
      const v = p.tracks.find((t) => t.kind === 'video');
      return v?.kind === 'video' ? `${p.epoch}:${v.width}x${v.height}` : `${p.epoch}:?`;
    });
    expect(sizes[0]).toBe('0:640x360');
    expect(sizes.at(-1)).toMatch(/^[1-9]\d*:320x240$/);
    const newEpoch = reader.parameters.at(-1)!.epoch;
    const firstNew = reader.units.find((u) => u.epoch === newEpoch)!;
    expect(firstNew.keyframe).toBe(true);
    const stats = source.stats();
    expect(stats.receiver.ssrcChanges).toBe(1);
    expect(stats.restarts).toBeGreaterThanOrEqual(1);
    expect(stats.epoch).toBe(newEpoch);
    expect(stats.videoUnits).toBe(reader.units.length);
    await stream.close('test over');
    expect(pool.free).toBe(1);
    expect(reader.closeReasons).toEqual(['test over']);
  });
});
