import { describe, expect, it } from 'vitest';
import { SHORTCUT_ROWS, directionOfArrows, resolveKey, type ArrowKey, type KeyInput } from '../src/components/wall/shortcuts';
import { PtzHold, type PtzRequest } from '../src/components/wall/ptz-hold';
import { freshAlarms, mergeAlarms, unacknowledgedCount } from '../src/components/wall/alarm-list';
import type { AlarmEvent } from '../src/api/types';

const key = (k: string, extra: Partial<KeyInput> = {}): KeyInput => ({
  key: k,
  code: /^[0-9]$/.test(k) ? `Digit${k}` : '',
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  ...extra,
});
const off = { ptzActive: false };
const on = { ptzActive: true };

describe('wall keymap', () => {
  it('Alt+1…9 recall views by physical key, whatever Alt makes of the character', () => {
    expect(resolveKey(key('¡', { code: 'Digit1', altKey: true }), off)).toEqual({ kind: 'recall-view', hotkey: 1 });
    expect(resolveKey(key('9', { altKey: true }), on)).toEqual({ kind: 'recall-view', hotkey: 9 });
    expect(resolveKey(key('0', { altKey: true }), off)).toBeNull();
    expect(resolveKey(key('1', { ctrlKey: true }), off)).toBeNull();
  });

  it('arrows select tiles, or drive the camera in PTZ mode', () => {
    expect(resolveKey(key('ArrowRight'), off)).toEqual({ kind: 'select-tile', delta: 1 });
    expect(resolveKey(key('ArrowUp'), off)).toEqual({ kind: 'select-tile', delta: -1 });
    expect(resolveKey(key('ArrowLeft'), on)).toEqual({ kind: 'ptz-arrow', arrow: 'left' });
  });

  it('+/- zoom and digits call presets only in PTZ mode', () => {
    expect(resolveKey(key('+'), on)).toEqual({ kind: 'ptz-zoom', zoom: 'in' });
    expect(resolveKey(key('-', { code: 'NumpadSubtract' }), on)).toEqual({ kind: 'ptz-zoom', zoom: 'out' });
    expect(resolveKey(key('3'), on)).toEqual({ kind: 'ptz-preset', preset: 3 });
    expect(resolveKey(key('+'), off)).toBeNull();
  });

  it('the single keys', () => {
    expect(resolveKey(key(' '), off)).toEqual({ kind: 'toggle-tours' });
    expect(resolveKey(key('?', { shiftKey: true }), off)).toEqual({ kind: 'cheat-sheet' });
    expect(resolveKey(key('Escape'), on)).toEqual({ kind: 'escape' });
    expect(resolveKey(key('L', { shiftKey: true }), off)).toEqual({ kind: 'cycle-layout', delta: -1 });
    expect(resolveKey(key('l'), off)).toEqual({ kind: 'cycle-layout', delta: 1 });
    expect(resolveKey(key('f'), off)).toEqual({ kind: 'fullscreen', tile: false });
    expect(resolveKey(key('F', { shiftKey: true }), off)).toEqual({ kind: 'fullscreen', tile: true });
    expect(resolveKey(key('Enter'), off)).toEqual({ kind: 'toggle-maximise' });
    expect(resolveKey(key('c'), off)).toEqual({ kind: 'follow-chair' });
    expect(resolveKey(key('k'), off)).toEqual({ kind: 'toggle-lock' });
    expect(resolveKey(key('z', { ctrlKey: true }), off)).toEqual({ kind: 'undo' });
    expect(resolveKey(key('p'), off)).toEqual({ kind: 'toggle-ptz-mode' });
    expect(resolveKey(key('s'), off)).toEqual({ kind: 'snapshot' });
    expect(resolveKey(key('x'), off)).toBeNull();
  });

  it('one keymap for wall and session: digits outside PTZ mode choose the layout on both screens', () => {
    expect(resolveKey(key('1'), off)).toEqual({ kind: 'choose-layout', layout: '1' });
    expect(resolveKey(key('5'), off)).toEqual({ kind: 'choose-layout', layout: '9' });
    expect(resolveKey(key('7'), off)).toEqual({ kind: 'choose-layout', layout: '25' });
    expect(resolveKey(key('8'), off)).toBeNull();
    // No key appears twice in the sheet with two meanings.
    const seen = new Map<string, string>();
    for (const row of SHORTCUT_ROWS.filter((r) => !r.ptz)) {
      for (const k of row.keys) {
        expect(seen.get(k) ?? row.action, k).toBe(row.action);
        seen.set(k, row.action);
      }
    }
  });

  it('the cheat sheet lists every action the keymap can produce', () => {
    const listed = new Set(SHORTCUT_ROWS.map((r) => r.action));
    for (const action of ['recallView', 'cycleLayout', 'nextTile', 'previousTile', 'maximise', 'escape', 'pauseTours', 'ptzMode', 'ptzMove', 'ptzZoom', 'presetRecall', 'snapshot', 'clearTile', 'cheatSheet', 'chooseLayout', 'fullscreen', 'fullscreenTile', 'undo', 'followChair', 'lock']) {
      expect(listed.has(action), action).toBe(true);
    }
  });

  it('held arrows combine into the 8 directions; opposites cancel', () => {
    const d = (...keys: ArrowKey[]) => directionOfArrows(new Set(keys));
    expect(d('up')).toBe('up');
    expect(d('up', 'right')).toBe('up-right');
    expect(d('down', 'left')).toBe('down-left');
    expect(d('left', 'right')).toBeNull();
    expect(d('left', 'right', 'down')).toBe('down');
    expect(d()).toBeNull();
  });
});

describe('press-and-hold PTZ', () => {
  function rig(fail = false) {
    const sent: [string, PtzRequest][] = [];
    const timers = new Map<number, () => void>();
    let next = 1;
    const errors: unknown[] = [];
    const hold = new PtzHold(
      async (channelId, request) => {
        sent.push([channelId, request]);
        if (fail && request.action !== 'stop') throw new Error('409 device offline');
      },
      {
        setInterval: (fn) => {
          timers.set(next, fn);
          return next++;
        },
        clearInterval: (h) => timers.delete(h as number),
      },
      { refreshMs: 1000, durationMs: 1500, onError: (e) => errors.push(e) },
    );
    const fire = () => [...timers.values()].forEach((fn) => fn());
    return { hold, sent, timers, fire, errors };
  }

  it('sends the move with a self-stop, refreshes it while held, and always stops on release', async () => {
    const { hold, sent, timers, fire } = rig();
    hold.press('c1', { action: 'move', direction: 'up-right', speed: 128 });
    fire();
    fire();
    await hold.release();
    expect(sent).toEqual([
      ['c1', { action: 'move', direction: 'up-right', speed: 128, durationMs: 1500 }],
      ['c1', { action: 'move', direction: 'up-right', speed: 128, durationMs: 1500 }],
      ['c1', { action: 'move', direction: 'up-right', speed: 128, durationMs: 1500 }],
      ['c1', { action: 'stop' }],
    ]);
    expect(timers.size).toBe(0);
    expect(hold.active).toBe(false);
    // A second release sends nothing more.
    await hold.release();
    expect(sent).toHaveLength(4);
  });

  it('a failed move is reported and the stop still goes out', async () => {
    const { hold, sent, errors } = rig(true);
    hold.press('c1', { action: 'focus', direction: 'near' });
    await hold.release();
    expect(errors).toHaveLength(1);
    expect(sent.at(-1)).toEqual(['c1', { action: 'stop' }]);
  });

  it('holding another camera stops the first one', async () => {
    const { hold, sent } = rig();
    hold.press('c1', { action: 'move', zoom: 'in' });
    hold.press('c2', { action: 'iris', direction: 'open' });
    await hold.release();
    expect(sent.map(([c, r]) => `${c}:${r.action}`)).toEqual(['c1:move', 'c1:stop', 'c2:iris', 'c2:stop']);
  });

  it('requests go out one after another (a stop never overtakes its move)', async () => {
    const order: string[] = [];
    let finishMove: () => void = () => undefined;
    const hold = new PtzHold(
      (_c, r) => {
        order.push(`start ${r.action}`);
        if (r.action === 'move') return new Promise<void>((res) => (finishMove = () => { order.push('end move'); res(); }));
        return Promise.resolve();
      },
      { setInterval: () => 1, clearInterval: () => undefined },
    );
    hold.press('c1', { action: 'move', direction: 'left' });
    const released = hold.release();
    await Promise.resolve();
    expect(order).toEqual(['start move']);
    finishMove();
    await released;
    expect(order).toEqual(['start move', 'end move', 'start stop']);
  });
});

describe('alarm list', () => {
  const alarm = (id: string, receivedAt: number, acknowledgedAt: number | null = null): AlarmEvent => ({
    id,
    sourceId: 'c',
    deviceId: 'd',
    priority: 1,
    method: 5,
    type: 2,
    description: '',
    alarmTime: '',
    receivedAt,
    acknowledgedAt,
    acknowledgedBy: acknowledgedAt ? 'op' : null,
    note: null,
  });

  it('merges pushes into the reloaded page, newest first, without duplicates, bounded', () => {
    const list = mergeAlarms([alarm('a', 1), alarm('b', 2)], [alarm('c', 3), alarm('a', 1)]);
    expect(list.map((a) => a.id)).toEqual(['c', 'b', 'a']);
    expect(mergeAlarms(list, [alarm('d', 4)], 2).map((a) => a.id)).toEqual(['d', 'c']);
  });

  it('an acknowledgement replaces the record; a stale push does not undo it', () => {
    const acked = mergeAlarms([alarm('a', 1)], [alarm('a', 1, 5)]);
    expect(unacknowledgedCount(acked)).toBe(0);
    expect(unacknowledgedCount(mergeAlarms(acked, [alarm('a', 1)]))).toBe(0);
  });

  it('fresh alarms are the unacknowledged ones not seen before', () => {
    expect(freshAlarms([alarm('a', 1)], [alarm('a', 1), alarm('b', 2), alarm('c', 3, 4)]).map((a) => a.id)).toEqual(['b']);
  });
});
