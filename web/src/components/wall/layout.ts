/**
 * Wall layout maths: how many tiles a layout kind has, where each tile sits on the grid, and the edits an
 * operator makes (change the layout, drop a camera, fill from a group, swap, maximise). Pure functions on
 * the shared `WallLayout` wire shape (saved views, tours and consultation sessions use the same one), so the
 * wall, the session screens and the unit tests agree on what a layout means.
 */
import type { LayoutKind, WallLayout, WallTile } from '../../api/types';

/** The fixed kinds in the order the layout-cycle shortcut walks them. */
export const FIXED_LAYOUT_KINDS: readonly LayoutKind[] = ['1', '4', '1+5', '1+7', '9', '16', '25'];
export const LAYOUT_KINDS: readonly LayoutKind[] = [...FIXED_LAYOUT_KINDS, 'custom'];
export const CUSTOM_MIN = 1;
export const CUSTOM_MAX = 8;

/** One tile's place on the grid, 0-based; a big tile spans several cells. */
export interface TileCell {
  index: number;
  col: number;
  row: number;
  colSpan: number;
  rowSpan: number;
}

export interface GridGeometry {
  cols: number;
  rows: number;
  cells: TileCell[];
}

export function isLayoutKind(value: unknown): value is LayoutKind {
  return typeof value === 'string' && (LAYOUT_KINDS as readonly string[]).includes(value);
}

function customSide(value: number | undefined): number {
  const n = Math.trunc(value ?? 0);
  return Math.min(CUSTOM_MAX, Math.max(CUSTOM_MIN, Number.isFinite(n) ? n : CUSTOM_MIN));
}

/** Tiles of a kind: 1, 4, 6, 8, 9, 16, 25, or cols×rows (each clamped to 1..8) for 'custom'. */
export function tileCount(kind: LayoutKind, cols?: number, rows?: number): number {
  switch (kind) {
    case '1':
      return 1;
    case '4':
      return 4;
    case '1+5':
      return 6;
    case '1+7':
      return 8;
    case '9':
      return 9;
    case '16':
      return 16;
    case '25':
      return 25;
    case 'custom':
      return customSide(cols) * customSide(rows);
  }
}

function squareGrid(side: number): GridGeometry {
  return uniformGrid(side, side);
}

function uniformGrid(cols: number, rows: number): GridGeometry {
  const cells: TileCell[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) cells.push({ index: cells.length, col, row, colSpan: 1, rowSpan: 1 });
  }
  return { cols, rows, cells };
}

/**
 * "1+N" on an n×n grid: one big tile of (n-1)×(n-1) cells top-left, then the small tiles down the right
 * column and along the bottom row, left to right — the reading order operators expect from client software.
 */
function bigPlusSmall(side: number): GridGeometry {
  const big = side - 1;
  const cells: TileCell[] = [{ index: 0, col: 0, row: 0, colSpan: big, rowSpan: big }];
  for (let row = 0; row < big; row++) cells.push({ index: cells.length, col: big, row, colSpan: 1, rowSpan: 1 });
  for (let col = 0; col < side; col++) cells.push({ index: cells.length, col, row: big, colSpan: 1, rowSpan: 1 });
  return { cols: side, rows: side, cells };
}

export function geometry(kind: LayoutKind, cols?: number, rows?: number): GridGeometry {
  switch (kind) {
    case '1':
      return squareGrid(1);
    case '4':
      return squareGrid(2);
    case '1+5':
      return bigPlusSmall(3);
    case '1+7':
      return bigPlusSmall(4);
    case '9':
      return squareGrid(3);
    case '16':
      return squareGrid(4);
    case '25':
      return squareGrid(5);
    case 'custom':
      return uniformGrid(customSide(cols), customSide(rows));
  }
}

export function layoutGeometry(layout: WallLayout): GridGeometry {
  return geometry(layout.kind, layout.cols, layout.rows);
}

export function emptyLayout(kind: LayoutKind, cols?: number, rows?: number): WallLayout {
  const count = tileCount(kind, cols, rows);
  const layout: WallLayout = { kind, tiles: Array.from({ length: count }, () => ({ channelId: null })), maximised: null };
  if (kind === 'custom') {
    layout.cols = customSide(cols);
    layout.rows = customSide(rows);
  }
  return layout;
}

/**
 * Switch to another kind keeping the cameras: tile i keeps its camera while it exists. Cameras that no
 * longer fit are packed into the empty tiles that remain, so going from 16 to 9 drops the fewest cameras.
 */
export function changeKind(layout: WallLayout, kind: LayoutKind, cols?: number, rows?: number): WallLayout {
  return changeKindKeeping(layout, [], kind, cols, rows).layout;
}

/**
 * Cameras of tiles the current layout does not show, by tile index counted on from the last shown tile
 * (hidden[0] was tile `layout.tiles.length`). A screen keeps this beside its layout so that 9 → 4 → 9 brings
 * all nine cameras back in their places instead of losing five (issue 12, defect 8).
 */
export type HiddenTiles = (string | null)[];

/**
 * `changeKind` that also remembers what it hides: the shown tiles are taken from the current tiles followed by
 * the hidden ones, empty shown tiles are filled from what would be hidden (as changeKind does), and the rest
 * becomes the new hidden list. A remembered camera that is already on a shown tile is not brought back twice.
 */
export function changeKindKeeping(layout: WallLayout, hidden: readonly (string | null)[], kind: LayoutKind, cols?: number, rows?: number): { layout: WallLayout; hidden: HiddenTiles } {
  const next = emptyLayout(kind, cols, rows);
  const count = next.tiles.length;
  const all: (string | null)[] = [...layout.tiles.map((t) => t.channelId), ...hidden];
  const shown = all.slice(0, count);
  while (shown.length < count) shown.push(null);
  const rest = all.slice(count);
  for (let i = 0; i < count; i++) {
    if (shown[i] !== null) continue;
    const from = rest.findIndex((id) => id !== null);
    if (from < 0) break;
    shown[i] = rest[from];
    rest[from] = null;
  }
  // Only cameras that came back from memory (beyond the old tiles) are checked for duplicates.
  const onShow = new Set(shown.slice(0, Math.min(count, layout.tiles.length)).filter((id): id is string => id !== null));
  for (let i = layout.tiles.length; i < count; i++) {
    const id = shown[i];
    if (id === null) continue;
    if (onShow.has(id)) shown[i] = null;
    else onShow.add(id);
  }
  shown.forEach((channelId, i) => (next.tiles[i] = { channelId }));
  while (rest.length > 0 && rest[rest.length - 1] === null) rest.pop();
  next.maximised = layout.maximised !== null && layout.maximised < count ? layout.maximised : null;
  return { layout: next, hidden: rest };
}

function withTiles(layout: WallLayout, tiles: WallTile[]): WallLayout {
  return { ...layout, tiles };
}

function inRange(layout: WallLayout, index: number): boolean {
  return Number.isInteger(index) && index >= 0 && index < layout.tiles.length;
}

/** Put a camera (or nothing) on one tile. */
export function placeChannel(layout: WallLayout, index: number, channelId: string | null): WallLayout {
  if (!inRange(layout, index)) return layout;
  return withTiles(
    layout,
    layout.tiles.map((tile, i) => (i === index ? { channelId } : tile)),
  );
}

/** Swap two tiles' cameras (drag a tile onto another). */
export function swapTiles(layout: WallLayout, a: number, b: number): WallLayout {
  if (!inRange(layout, a) || !inRange(layout, b) || a === b) return layout;
  const tiles = layout.tiles.map((tile) => ({ ...tile }));
  [tiles[a], tiles[b]] = [tiles[b], tiles[a]];
  return withTiles(layout, tiles);
}

/**
 * Fill tiles with cameras starting at `from` and wrapping round (a group dropped on tile 5 fills 5, 6, …
 * then 0, 1, …), at most one camera per tile. Returns the layout and how many cameras did not fit.
 */
export function fillTiles(layout: WallLayout, channelIds: readonly string[], from = 0): { layout: WallLayout; placed: number; left: number } {
  const count = layout.tiles.length;
  const start = inRange(layout, from) ? from : 0;
  const tiles = layout.tiles.map((tile) => ({ ...tile }));
  const placed = Math.min(count, channelIds.length);
  for (let k = 0; k < placed; k++) tiles[(start + k) % count] = { channelId: channelIds[k] };
  return { layout: withTiles(layout, tiles), placed, left: channelIds.length - placed };
}

/** Replace every tile's camera in order (a wall tour step), empty tiles after the list ends. */
export function assignAll(layout: WallLayout, channelIds: readonly (string | null)[]): WallLayout {
  return withTiles(
    layout,
    layout.tiles.map((_, i) => ({ channelId: channelIds[i] ?? null })),
  );
}

export function setMaximised(layout: WallLayout, index: number | null): WallLayout {
  if (index !== null && !inRange(layout, index)) return layout;
  return { ...layout, maximised: index };
}

/** Next (delta 1) or previous (delta -1) tile, wrapping; from no selection, the first or last. */
export function neighbourTile(layout: WallLayout, index: number | null, delta: number): number {
  const count = layout.tiles.length;
  if (count === 0) return 0;
  if (index === null || !inRange(layout, index)) return delta >= 0 ? 0 : count - 1;
  return (((index + delta) % count) + count) % count;
}

/** The layout-cycle shortcut: 1 → 4 → 1+5 → … → 25 → 1 (a custom grid continues with 1). */
export function cycleKind(kind: LayoutKind, delta = 1): LayoutKind {
  const at = FIXED_LAYOUT_KINDS.indexOf(kind);
  const n = FIXED_LAYOUT_KINDS.length;
  if (at < 0) return delta >= 0 ? FIXED_LAYOUT_KINDS[0] : FIXED_LAYOUT_KINDS[n - 1];
  return FIXED_LAYOUT_KINDS[(((at + delta) % n) + n) % n];
}

export function firstEmptyTile(layout: WallLayout): number | null {
  const i = layout.tiles.findIndex((t) => t.channelId === null);
  return i < 0 ? null : i;
}

export function channelsOf(layout: WallLayout): string[] {
  return layout.tiles.flatMap((t) => (t.channelId ? [t.channelId] : []));
}

/**
 * A layout from the wire (a saved view, a session, localStorage) made safe to render: unknown kinds and
 * malformed tiles are rejected (null), a tile list of the wrong length is padded or cut, a maximised index
 * out of range is dropped. Saved data outlives the code that wrote it.
 */
export function normaliseLayout(value: unknown): WallLayout | null {
  if (!value || typeof value !== 'object') return null;
  const raw = value as Record<string, unknown>;
  if (!isLayoutKind(raw.kind)) return null;
  if (!Array.isArray(raw.tiles)) return null;
  const cols = typeof raw.cols === 'number' ? raw.cols : undefined;
  const rows = typeof raw.rows === 'number' ? raw.rows : undefined;
  const layout = emptyLayout(raw.kind, cols, rows);
  raw.tiles.slice(0, layout.tiles.length).forEach((tile: unknown, i) => {
    const id = tile && typeof tile === 'object' ? (tile as Record<string, unknown>).channelId : null;
    layout.tiles[i] = { channelId: typeof id === 'string' && id.length > 0 ? id : null };
  });
  const max = raw.maximised;
  layout.maximised = typeof max === 'number' && Number.isInteger(max) && max >= 0 && max < layout.tiles.length ? max : null;
  return layout;
}
