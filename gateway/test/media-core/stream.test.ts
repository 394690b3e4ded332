/**
 * The core Stream: fan-out to readers, late joiners start at the last keyframe, a reader that cannot keep up or
 * throws is cut without touching the others, and close runs once, in order (source, readers, owned resources
 * last-first).
 */
import { describe, expect, it } from 'vitest';
import { Stream } from '../../src/media/core/stream.js';
import { RecordingReader, ScriptedSource, VIDEO } from './fakes.js';

describe('Stream', () => {
  it('closes once, whoever asks: the BYE first, then source, readers, and what it owns (last first)', async () => {
    const journal: string[] = [];
    const source = new ScriptedSource(journal);
    const stream = new Stream({ id: 's1', source });
    const a = new RecordingReader('a', journal);
    const b = new RecordingReader('b', journal);
    stream.addReader(a);
    stream.addReader(b);
    stream.own('ssrc', () => {
      journal.push('ssrc');
    });
    stream.own('output', async () => {
      journal.push('output');
    });
    stream.own(
      'dialog',
      async () => {
        journal.push('bye');
      },
      { beforeSource: true },
    );
    const closed: string[] = [];
    stream.on('closed', ({ reason }) => closed.push(reason));
    const first = stream.close('no viewers');
    const second = stream.close('again');
    expect(second).toBe(first);
    await Promise.all([first, second, stream.close('third')]);
    expect(journal).toEqual(['bye', 'source', 'reader:a', 'reader:b', 'output', 'ssrc']);
    expect(closed).toEqual(['no viewers']);
    expect(a.closeReasons).toEqual(['no viewers']);
    expect(source.closedWith).toBe('no viewers');
    expect(stream.reason).toBe('no viewers');
    // Something handed over after the close is released at once, and readers can no longer join.
    stream.own('late', () => {
      journal.push('late');
    });
    await new Promise((r) => setImmediate(r));
    expect(journal.at(-1)).toBe('late');
    expect(() => stream.addReader(new RecordingReader('c'))).toThrow(/closed/);
  });

  it('a failing release does not stop the ones after it', async () => {
    const journal: string[] = [];
    const stream = new Stream({ id: 's2', source: new ScriptedSource(journal) });
    stream.own('first', () => {
      journal.push('first');
    });
    stream.own('broken', () => {
      throw new Error('bye failed');
    });
    await stream.close('done');
    expect(journal).toEqual(['source', 'first']);
  });

  it('fans units out in order and gives a late reader the parameters and the GOP from its keyframe', () => {
    const source = new ScriptedSource();
    const stream = new Stream({ id: 's3', source });
    const early = new RecordingReader('early');
    stream.addReader(early);
    source.announce([VIDEO], 0);
    source.video(0, false); // before any keyframe: nobody can decode it
    source.video(3600, true);
    source.video(7200, false);
    source.video(10800, false);
    expect(early.parameters).toEqual([{ tracks: [VIDEO], epoch: 0 }]);
    expect(early.units.map((u) => u.dts)).toEqual([3600, 7200, 10800]);
    const late = new RecordingReader('late');
    stream.addReader(late);
    expect(late.parameters).toEqual([{ tracks: [VIDEO], epoch: 0 }]);
    expect(late.units.map((u) => u.dts)).toEqual([3600, 7200, 10800]);
    source.video(14400, false);
    expect(late.units.map((u) => u.dts)).toEqual([3600, 7200, 10800, 14400]);
    expect(stream.lastKeyframe()?.unit.dts).toBe(3600);
    const stats = stream.stats();
    expect(stats).toMatchObject({ videoUnits: 5, keyframes: 1 });
    expect(stats.readers.map((r) => [r.kind, r.units])).toEqual([
      ['early', 4],
      ['late', 4],
    ]);
  });

  it('a new epoch goes to every reader, which then restarts at the next keyframe', () => {
    const source = new ScriptedSource();
    const stream = new Stream({ id: 's4', source });
    const reader = new RecordingReader('r');
    stream.addReader(reader);
    source.announce([VIDEO], 0);
    source.video(0, true);
    source.video(3600, false);
    const bigger = { ...VIDEO, width: 1280, height: 720 };
    source.announce([bigger], 1);
    source.video(900_000, false); // belongs to the new epoch but cannot start it
    source.video(903_600, true);
    expect(reader.parameters.map((p) => p.epoch)).toEqual([0, 1]);
    expect(reader.units.map((u) => u.dts)).toEqual([0, 3600, 903_600]);
    expect(stream.lastKeyframe()?.video.width).toBe(1280);
  });

  it('cuts a reader whose backlog passes the bound, and one that throws, and keeps feeding the rest', async () => {
    const source = new ScriptedSource();
    const stream = new Stream({ id: 's5', source, maxReaderBacklog: 1000 });
    const slow = new RecordingReader('slow');
    const broken = new RecordingReader('broken');
    const healthy = new RecordingReader('healthy');
    const cut: Array<{ kind: string; reason: string; cut: boolean }> = [];
    stream.on('reader-closed', (e) => cut.push({ kind: e.kind, reason: e.reason, cut: e.cut }));
    for (const r of [slow, broken, healthy]) stream.addReader(r);
    source.announce([VIDEO], 0);
    source.video(0, true);
    slow.pending = 5000;
    broken.throwOnUnit = true;
    source.video(3600, false);
    source.video(7200, false);
    await new Promise((r) => setImmediate(r));
    expect(cut.map((c) => c.kind).sort()).toEqual(['broken', 'slow']);
    expect(cut.every((c) => c.cut)).toBe(true);
    expect(cut.find((c) => c.kind === 'slow')?.reason).toMatch(/cannot keep up: 5000 bytes/);
    expect(slow.closeReasons).toHaveLength(1);
    expect(slow.units).toHaveLength(2); // the unit that pushed it over was the last
    expect(healthy.units.map((u) => u.dts)).toEqual([0, 3600, 7200]);
    expect(stream.stats()).toMatchObject({ readersCut: 2 });
    expect(stream.readerStats().map((r) => r.kind)).toEqual(['healthy']);
  });

  it('closes itself with the reason when its source ends', async () => {
    const source = new ScriptedSource();
    const stream = new Stream({ id: 's6', source });
    const reader = new RecordingReader('r');
    stream.addReader(reader);
    const closed = new Promise<string>((resolve) => stream.once('closed', ({ reason }) => resolve(reason)));
    source.emit('ended', 'the device ended the stream (BYE)');
    expect(await closed).toBe('the device ended the stream (BYE)');
    expect(reader.closeReasons).toEqual(['the device ended the stream (BYE)']);
  });
});
