import { describe, expect, it } from 'vitest';
import {
  assignAll,
  changeKind,
  changeKindKeeping,
  cycleKind,
  emptyLayout,
  fillTiles,
  geometry,
  neighbourTile,
  normaliseLayout,
  placeChannel,
  swapTiles,
  tileCount,
  type TileCell,
} from '../src/components/wall/layout';
import type { LayoutKind } from '../src/api/types';

/** Every grid cell is covered by exactly one tile (no gaps, no overlaps). */
function coverage(cols: number, rows: number, cells: TileCell[]): number[][] {
  const grid = Array.from({ length: rows }, () => Array.from({ length: cols }, () => 0));
  for (const c of cells) {
    for (let r = c.row; r < c.row + c.rowSpan; r++) for (let k = c.col; k < c.col + c.colSpan; k++) grid[r][k]++;
  }
  return grid;
}

describe('wall layout geometry', () => {
  const expected: [LayoutKind, number, number][] = [
    ['1', 1, 1],
    ['4', 4, 2],
    ['1+5', 6, 3],
    ['1+7', 8, 4],
    ['9', 9, 3],
    ['16', 16, 4],
    ['25', 25, 5],
  ];
  it.each(expected)('%s has %i tiles on a %i-wide square grid that they cover exactly once', (kind, count, side) => {
    const g = geometry(kind);
    expect(tileCount(kind)).toBe(count);
    expect(g.cells).toHaveLength(count);
    expect([g.cols, g.rows]).toEqual([side, side]);
    expect(coverage(g.cols, g.rows, g.cells).flat().every((n) => n === 1)).toBe(true);
    expect(g.cells.map((c) => c.index)).toEqual([...Array(count).keys()]);
  });

  it('1+5: one 2×2 tile top-left, then the right column, then the bottom row', () => {
    const cells = geometry('1+5').cells.map(({ col, row, colSpan, rowSpan }) => [col, row, colSpan, rowSpan]);
    expect(cells).toEqual([
      [0, 0, 2, 2],
      [2, 0, 1, 1],
      [2, 1, 1, 1],
      [0, 2, 1, 1],
      [1, 2, 1, 1],
      [2, 2, 1, 1],
    ]);
  });

  it('1+7: one 3×3 tile on a 4×4 grid', () => {
    const [big, ...small] = geometry('1+7').cells;
    expect(big).toMatchObject({ col: 0, row: 0, colSpan: 3, rowSpan: 3 });
    expect(small.map((c) => [c.col, c.row])).toEqual([
      [3, 0],
      [3, 1],
      [3, 2],
      [0, 3],
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it('custom grids are cols×rows, clamped to 1..8 each', () => {
    expect(tileCount('custom', 3, 2)).toBe(6);
    const g = geometry('custom', 3, 2);
    expect([g.cols, g.rows]).toEqual([3, 2]);
    expect(g.cells[4]).toMatchObject({ col: 1, row: 1 });
    expect(tileCount('custom', 20, 0)).toBe(8);
    expect(emptyLayout('custom', 12, 2)).toMatchObject({ cols: 8, rows: 2 });
    expect(emptyLayout('custom', 12, 2).tiles).toHaveLength(16);
  });
});

describe('wall layout edits', () => {
  const four = () => assignAll(emptyLayout('4'), ['a', 'b', 'c', null]);

  it('places and swaps cameras without touching the input', () => {
    const before = four();
    const placed = placeChannel(before, 3, 'd');
    expect(placed.tiles.map((t) => t.channelId)).toEqual(['a', 'b', 'c', 'd']);
    expect(before.tiles[3].channelId).toBeNull();
    expect(swapTiles(placed, 0, 3).tiles.map((t) => t.channelId)).toEqual(['d', 'b', 'c', 'a']);
    expect(swapTiles(placed, 0, 9)).toBe(placed);
    expect(placeChannel(placed, -1, 'x')).toBe(placed);
  });

  it('fills from the drop tile, wraps round, and says how many did not fit', () => {
    const { layout, placed, left } = fillTiles(emptyLayout('4'), ['a', 'b', 'c', 'd', 'e', 'f'], 2);
    expect(layout.tiles.map((t) => t.channelId)).toEqual(['c', 'd', 'a', 'b']);
    expect([placed, left]).toEqual([4, 2]);
    const few = fillTiles(four(), ['x'], 3);
    expect(few.layout.tiles.map((t) => t.channelId)).toEqual(['a', 'b', 'c', 'x']);
  });

  it('changing the kind keeps cameras and packs those that no longer fit into empty tiles', () => {
    const nine = assignAll(emptyLayout('9'), ['a', null, 'c', 'd', 'e', null, null, 'h', null]);
    const small = changeKind({ ...nine, maximised: 7 }, '4');
    expect(small.tiles.map((t) => t.channelId)).toEqual(['a', 'e', 'c', 'd']);
    expect(small.maximised).toBeNull();
    const big = changeKind(four(), '16');
    expect(big.tiles).toHaveLength(16);
    expect(big.tiles.slice(0, 4).map((t) => t.channelId)).toEqual(['a', 'b', 'c', null]);
  });

  it('9 → 4 → 9 keeps all nine cameras in their tiles (the hidden ones are remembered)', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const nine = { kind: '9' as const, tiles: ids.map((channelId) => ({ channelId })), maximised: null };
    const four = changeKindKeeping(nine, [], '4');
    expect(four.layout.tiles.map((t) => t.channelId)).toEqual(['a', 'b', 'c', 'd']);
    expect(four.hidden).toEqual(['e', 'f', 'g', 'h', 'i']);
    const one = changeKindKeeping(four.layout, four.hidden, '1');
    expect(one.hidden).toEqual(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    const back = changeKindKeeping(one.layout, one.hidden, '9');
    expect(back.layout.tiles.map((t) => t.channelId)).toEqual(ids);
    expect(back.hidden).toEqual([]);
  });

  it('an empty shown tile is filled from the hidden ones, and a camera already on show is not restored twice', () => {
    const nine = { kind: '9' as const, tiles: ['a', null, 'c', 'd', 'e', 'f', null, null, null].map((channelId) => ({ channelId })), maximised: null };
    const four = changeKindKeeping(nine, [], '4');
    expect(four.layout.tiles.map((t) => t.channelId)).toEqual(['a', 'e', 'c', 'd']);
    expect(four.hidden).toEqual([null, 'f']);
    // The operator puts f on tile 0 meanwhile: going back shows f once.
    const edited = { ...four.layout, tiles: four.layout.tiles.map((t, i) => (i === 0 ? { channelId: 'f' } : t)) };
    const back = changeKindKeeping(edited, four.hidden, '9');
    expect(back.layout.tiles.map((t) => t.channelId)).toEqual(['f', 'e', 'c', 'd', null, null, null, null, null]);
  });

  it('next/previous tile wraps, and starts at an end without a selection', () => {
    const l = four();
    expect(neighbourTile(l, 3, 1)).toBe(0);
    expect(neighbourTile(l, 0, -1)).toBe(3);
    expect(neighbourTile(l, null, 1)).toBe(0);
    expect(neighbourTile(l, null, -1)).toBe(3);
  });

  it('the layout cycle walks the fixed kinds and wraps', () => {
    expect(cycleKind('1')).toBe('4');
    expect(cycleKind('25')).toBe('1');
    expect(cycleKind('1', -1)).toBe('25');
    expect(cycleKind('custom')).toBe('1');
  });
});

describe('layouts from the wire', () => {
  it('rejects what cannot be rendered and repairs what can', () => {
    expect(normaliseLayout(null)).toBeNull();
    expect(normaliseLayout({ kind: '7', tiles: [] })).toBeNull();
    expect(normaliseLayout({ kind: '4' })).toBeNull();
    const repaired = normaliseLayout({ kind: '4', tiles: [{ channelId: 'a' }, { channelId: 5 }, null], maximised: 9 });
    expect(repaired).toEqual({ kind: '4', tiles: [{ channelId: 'a' }, { channelId: null }, { channelId: null }, { channelId: null }], maximised: null });
    const custom = normaliseLayout({ kind: 'custom', cols: 2, rows: 1, tiles: [{ channelId: 'a' }, { channelId: 'b' }, { channelId: 'c' }], maximised: 1 });
    expect(custom).toEqual({ kind: 'custom', cols: 2, rows: 1, tiles: [{ channelId: 'a' }, { channelId: 'b' }], maximised: 1 });
  });
});
