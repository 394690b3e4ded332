/**
 * The simulator's recording sender (sim/history-sender.ts): recording-time PTS, pacing by scale × download speed,
 * pause keeps the position, a seek lands on the keyframe at or before the target, the end fires once.
 */
import { describe, expect, it } from 'vitest';
import { HistoryStream } from '../../src/sim/history-sender.js';
import type { RtpSink } from '../../src/sim/media-sender.js';
import type { VideoLoop } from '../../src/sim/media-source.js';
import { parseRtp } from '../../src/codecs/rtp/rtp.js';

const loop: VideoLoop = {
  codec: 'h264',
  profile: 'main',
  width: 1280,
  height: 720,
  fps: 25,
  gop: 25,
  // 2 s of "video": a keyframe every 25 frames.
  frames: Array.from({ length: 50 }, (_, i) => ({ data: Buffer.from([0, 0, 0, 1, i % 25 === 0 ? 0x65 : 0x41, i]), keyframe: i % 25 === 0 })),
  durationMs: 2000,
  channelId: null,
  bytes: 300,
};

function sink(): RtpSink & { packets: Buffer[] } {
  const packets: Buffer[] = [];
  return { packets, closed: false, send: (p: Buffer) => (packets.push(p), true), close: () => undefined };
}

const SPAN_START = Date.parse('2026-12-05T08:00:00Z');

describe('HistoryStream', () => {
  it('sends the span at fps × speed with recording-time timestamps and ends once', () => {
    const out = sink();
    let ends = 0;
    const s = new HistoryStream({ video: loop, ssrc: 1, sink: out, spanStartMs: SPAN_START, spanMs: 4000, speed: 4, onEnd: () => ends++ });
    s.start(0);
    s.pump(0);
    expect(s.stats.videoFrames).toBe(1);
    const first = parseRtp(out.packets[0]!);
    expect(first.timestamp).toBe(Math.round(SPAN_START * 90) % 2 ** 33 % 2 ** 32);
    s.pump(100); // 100 ms at 4× = 10 frames due
    expect(s.stats.videoFrames).toBe(11);
    for (let t = 110; t <= 1100; t += 10) s.pump(t);
    expect(s.stats.videoFrames).toBe(100); // 4 s at 25 fps
    expect(ends).toBe(1);
    s.pump(2000);
    expect(ends).toBe(1);
  });

  it('pause keeps the position; a seek lands on the keyframe before the target; scale changes the pace', () => {
    const out = sink();
    const s = new HistoryStream({ video: loop, ssrc: 1, sink: out, spanStartMs: SPAN_START, spanMs: 600_000, speed: 1, onEnd: () => undefined });
    s.start(0);
    s.pump(1000);
    const sent = s.stats.videoFrames;
    s.pause();
    s.pump(5000);
    expect(s.stats.videoFrames).toBe(sent);
    s.play(5000);
    s.pump(5000);
    expect(s.stats.videoFrames).toBe(sent + 1); // continues, no burst of the paused time
    s.play(6000, { offsetSec: 30.7 });
    expect(s.positionSec).toBe(30);
    const before = out.packets.length;
    s.pump(6000);
    expect(parseRtp(out.packets[before]!).timestamp).toBe(Math.round((SPAN_START + 30_000) * 90) % 2 ** 33 % 2 ** 32);
    s.play(6000, { scale: 2 });
    s.pump(6000);
    const atScale = s.stats.videoFrames;
    s.pump(6400); // 400 ms at 2× = 20 frames
    expect(s.stats.videoFrames - atScale).toBe(20);
    expect(s.scale).toBe(2);
  });
});
