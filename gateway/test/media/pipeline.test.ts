/**
 * The media layer end to end on loopback: a "camera" muxes H.264 + G.711A into PS, packetizes it into RTP and
 * sends it over UDP slightly out of order with duplicates and a foreign stream on the same port; the gateway
 * side reorders (RtpReceiver), demuxes (PsDemuxer) and packages (HlsPackager); ffprobe checks the result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isKeyframeAccessUnit, splitAnnexBAccessUnits } from '../../src/codecs/ps/annexb.js';
import { PsDemuxer } from '../../src/codecs/ps/ps-demuxer.js';
import { PsMuxer } from '../../src/codecs/ps/ps-muxer.js';
import { RtpPacketizer } from '../../src/codecs/rtp/rtp.js';
import { activeFfmpegProcesses, HlsPackager, probeFile, runMediaTool } from '../../src/media/ffmpeg/index.js';
import { HlsOutput } from '../../src/media/hls-output.js';
import { RtpReceiver } from '../../src/media/rtp-receiver.js';
import { LOOPBACK, shuffleLocally, UdpSender } from './rtp-helpers.js';

const SSRC = 200000017;
const FRAMES = 75; // 3 s at 25 fps

describe('RTP/PS → HLS pipeline', () => {
  let workDir: string;
  let video: Buffer[];
  let alaw: Buffer;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'se-pipeline-'));
    const quiet = ['-hide_banner', '-loglevel', 'error'];
    const [h264, audio] = await Promise.all([
      runMediaTool('ffmpeg', [...quiet, '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '3', '-c:v', 'libx264',
        '-preset', 'ultrafast', '-g', '25', '-bf', '0', '-f', 'h264', '-'], { timeoutMs: 90_000 }),
      runMediaTool('ffmpeg', [...quiet, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000', '-t', '3', '-f', 'alaw',
        '-ar', '8000', '-ac', '1', '-'], { timeoutMs: 90_000 }),
    ]);
    video = splitAnnexBAccessUnits(h264, 'h264');
    alaw = audio;
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('delivers a camera stream sent over UDP, out of order and with an intruder, as playable HLS', async () => {
    const registryBefore = activeFfmpegProcesses();
    const receiver = await RtpReceiver.open({
      transport: 'udp', host: LOOPBACK, port: 0, expectedSsrc: SSRC, allowZeroSsrc: false, reorderMaxDelayMs: 500,
    });
    const output = await HlsOutput.create(path.join(workDir, 'media'), 'pipeline');
    const packager = new HlsPackager();
    const errors: Error[] = [];
    packager.on('error', (err) => errors.push(err));
    receiver.on('error', (err) => errors.push(err));
    const firstSegment = new Promise<void>((resolve) => packager.once('first-segment', () => resolve()));

    // Gateway side: PS bytes in order → ES frames → ffmpeg, started once the stream's codecs are known.
    const demuxer = new PsDemuxer();
    receiver.on('payload', (ps) => {
      for (const frame of demuxer.push(ps)) {
        if (!packager.pid && frame.kind === 'video') {
          const streams = demuxer.streams;
          packager.start({
            dir: output.dir, video: streams.video!, audio: streams.audio, transcodeH265ToH264: false,
            segmentSeconds: 1, listSize: 10,
          });
        }
        if (frame.kind === 'video') packager.writeVideo(frame.data, frame.keyframe);
        else packager.writeAudio(frame.data);
      }
    });

    // Camera side: one PS pack per frame (+ 40 ms of audio), RTP packets of ≤ 1400 bytes, like GB devices.
    const muxer = new PsMuxer({ video: 'h264', audio: 'g711a' });
    const camera = new RtpPacketizer({ ssrc: SSRC, payloadType: 96, initialSequence: 65_000 });
    const intruder = new RtpPacketizer({ ssrc: SSRC + 1, payloadType: 96, initialSequence: 65_000 });
    const sender = await UdpSender.open();
    const started = Date.now();
    let duplicates = 0;
    for (let i = 0; i < FRAMES; i++) {
      const pts = 3600 * i;
      const au = video[i]!;
      const ps = Buffer.concat([
        muxer.muxVideo(au, pts, isKeyframeAccessUnit(au, 'h264')),
        muxer.muxAudio(alaw.subarray(i * 320, (i + 1) * 320), pts),
      ]);
      const packets = shuffleLocally(camera.packetize(ps, pts), 3, i + 1);
      if (i % 10 === 3) {
        packets.splice(1, 0, packets[0]!);
        duplicates++;
      }
      const noise = intruder.packetize(Buffer.alloc(300, 0x47), pts);
      await sender.send([...packets, ...noise], receiver.localPort);
      await sleep(Math.max(0, started + (i + 1) * 40 - Date.now()));
    }
    await firstSegment;
    await sleep(600); // let the receiver's hold time release the last packets
    // The demuxer completes a frame when the next one starts; the stream's end flushes the last.
    for (const frame of demuxer.flush()) {
      if (frame.kind === 'video') packager.writeVideo(frame.data, frame.keyframe);
    }
    await packager.finish();

    expect(errors).toEqual([]);
    expect(receiver.stats).toMatchObject({ lost: 0, duplicates, resyncs: 0 });
    expect(receiver.stats.foreignSsrcDropped).toBeGreaterThanOrEqual(FRAMES);
    expect(demuxer.stats.resyncs).toBe(0);
    expect(packager.stats).toMatchObject({ videoFramesWritten: FRAMES, framesBeforeKeyframe: 0, videoFramesDropped: 0 });

    const probe = await probeFile(output.playlistPath);
    expect(probe.video).toMatchObject({ codec: 'h264', width: 640, height: 360, frames: FRAMES });
    expect(probe.audio).toMatchObject({ codec: 'aac', sampleRate: 8000 });

    sender.close();
    await packager.close();
    await receiver.close();
    await output.remove();
    expect(activeFfmpegProcesses()).toBe(registryBefore);
  });
});
