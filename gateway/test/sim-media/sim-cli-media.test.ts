/**
 * `sharp-eyes sim --codec h265 --audio g711a`: the CLI runner hands codec and audio to the fleet. Uses the
 * default 10 s loops and the default cache directory (the first run on a machine pays a few seconds of
 * H.265 encoding; later runs read the cache).
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runSimulatorCli } from '../../src/sim/index.js';
import { PsDemuxer } from '../../src/codecs/ps/ps-demuxer.js';
import { openReceiver, playOffer, probePs, TestPlatform, waitUntil } from './test-platform.js';

describe('sharp-eyes sim --codec h265 --audio g711a', () => {
  let platform: TestPlatform | undefined;
  let stop: (() => Promise<void>) | undefined;

  afterAll(async () => {
    vi.restoreAllMocks();
    await stop?.();
    await platform?.close();
  });

  it('streams H.265 with G.711A audio to whoever INVITEs', async () => {
    platform = await TestPlatform.start();
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    stop = await runSimulatorCli({
      server: platform.server,
      devices: 1,
      channels: 1,
      transport: 'udp',
      password: 'unused',
      idPrefix: '44030500',
      keepaliveSec: 600,
      codec: 'h265',
      audio: 'g711a',
      quiet: true,
    });
    await waitUntil(() => platform!.bindings.size === 1, 10_000, () => 'device did not register');
    const [deviceId] = [...platform.bindings.keys()];
    const receiver = await openReceiver('udp');
    // The sub-stream keeps the one-time encode small.
    const offer = playOffer({ transport: 'udp', port: receiver.port, ssrc: '0200000777', substream: { attribute: 'streamnumber', value: '1' } });
    const dialog = await platform.invite(deviceId!, deviceId!, offer, `${deviceId}:0200000777,44030500002000000001:0`, 15_000);
    await receiver.collector.waitForPackets(60, 8_000);
    const ps = receiver.collector.psBytes();
    const streams = await probePs(ps);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'hevc', width: 640, height: 360 });
    const demuxer = new PsDemuxer();
    demuxer.push(ps);
    expect(demuxer.streams).toEqual({ video: 'h265', audio: 'g711a' });
    await platform.bye(dialog);
    await receiver.close();
  });
});
