/**
 * The wall layout shared by saved views, tours and consultation sessions (the shape is a contract with the
 * web client): a kind, the tiles in order, and which tile is maximised.
 *
 * "1+5" is one big tile (2×2 cells) at the top left and 5 small ones in a 3×3 grid; "1+7" one big tile
 * (3×3 cells) and 7 small ones in a 4×4 grid; "custom" is a cols×rows grid of 1..8 each.
 *
 * validateLayout checks untrusted input completely (it also guards layouts that arrive over the session
 * WebSocket, where no JSON schema runs) and names the offending field.
 */
import { ValidationError } from '../services.js';

export type LayoutKind = '1' | '4' | '1+5' | '1+7' | '9' | '16' | '25' | 'custom';

export interface WallTile {
  /** null = empty tile. */
  channelId: string | null;
}

export interface WallLayout {
  kind: LayoutKind;
  /** 'custom' only, 1..8 each; tile count = cols * rows. */
  cols?: number;
  rows?: number;
  /** Tile order; length = the tile count of the kind. */
  tiles: WallTile[];
  /** Index of the maximised tile (shown with the main stream), or null. */
  maximised: number | null;
}

export const LAYOUT_KINDS: readonly LayoutKind[] = ['1', '4', '1+5', '1+7', '9', '16', '25', 'custom'];

/** Tiles per fixed kind. */
export const TILE_COUNTS: Readonly<Record<Exclude<LayoutKind, 'custom'>, number>> = {
  '1': 1,
  '4': 4,
  '1+5': 6,
  '1+7': 8,
  '9': 9,
  '16': 16,
  '25': 25,
};

export const CUSTOM_GRID_MAX = 8;
/** The most tiles any layout has (an 8×8 custom grid). */
export const MAX_TILES = CUSTOM_GRID_MAX * CUSTOM_GRID_MAX;

/** Channel IDs as the rest of the API accepts them: 2–20 digits (catalog node IDs). */
export const CHANNEL_ID = /^[0-9]{2,20}$/;

/** Tiles of a kind; for 'custom' the cols × rows given (null when they are missing or out of range). */
export function tileCountOf(kind: LayoutKind, cols?: number, rows?: number): number | null {
  if (kind !== 'custom') return TILE_COUNTS[kind];
  if (!isGridSize(cols) || !isGridSize(rows)) return null;
  return cols * rows;
}

function isGridSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= CUSTOM_GRID_MAX;
}

export function isLayoutKind(value: unknown): value is LayoutKind {
  return typeof value === 'string' && (LAYOUT_KINDS as readonly string[]).includes(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A checked copy of `input` (only the known fields), or a ValidationError naming the field under `field`
 * (e.g. "body.layout.tiles.3.channelId").
 */
export function validateLayout(input: unknown, field: string): WallLayout {
  if (!isPlainObject(input)) throw new ValidationError(`${field} must be an object`, field);
  for (const key of Object.keys(input)) {
    if (!['kind', 'cols', 'rows', 'tiles', 'maximised'].includes(key)) throw new ValidationError(`${field}.${key} is not allowed here`, `${field}.${key}`);
  }
  const { kind, cols, rows, tiles, maximised } = input;
  if (!isLayoutKind(kind)) throw new ValidationError(`${field}.kind must be one of: ${LAYOUT_KINDS.join(', ')}`, `${field}.kind`);
  if (kind === 'custom') {
    if (!isGridSize(cols)) throw new ValidationError(`${field}.cols must be an integer 1–${CUSTOM_GRID_MAX} for a custom layout`, `${field}.cols`);
    if (!isGridSize(rows)) throw new ValidationError(`${field}.rows must be an integer 1–${CUSTOM_GRID_MAX} for a custom layout`, `${field}.rows`);
  } else {
    if (cols !== undefined) throw new ValidationError(`${field}.cols is only allowed with kind "custom"`, `${field}.cols`);
    if (rows !== undefined) throw new ValidationError(`${field}.rows is only allowed with kind "custom"`, `${field}.rows`);
  }
  const count = tileCountOf(kind, cols as number | undefined, rows as number | undefined) as number;
  if (!Array.isArray(tiles)) throw new ValidationError(`${field}.tiles must be an array`, `${field}.tiles`);
  if (tiles.length !== count) {
    throw new ValidationError(`${field}.tiles must have ${count} tiles for layout ${kind === 'custom' ? `${cols}×${rows}` : `"${kind}"`} (got ${tiles.length})`, `${field}.tiles`);
  }
  const checkedTiles: WallTile[] = tiles.map((tile: unknown, i) => {
    const at = `${field}.tiles.${i}`;
    if (!isPlainObject(tile)) throw new ValidationError(`${at} must be an object`, at);
    for (const key of Object.keys(tile)) {
      if (key !== 'channelId') throw new ValidationError(`${at}.${key} is not allowed here`, `${at}.${key}`);
    }
    const channelId = tile.channelId;
    if (channelId !== null && (typeof channelId !== 'string' || !CHANNEL_ID.test(channelId))) {
      throw new ValidationError(`${at}.channelId must be a channel ID (2–20 digits) or null`, `${at}.channelId`);
    }
    return { channelId };
  });
  if (maximised !== null && (typeof maximised !== 'number' || !Number.isInteger(maximised) || maximised < 0 || maximised >= count)) {
    throw new ValidationError(`${field}.maximised must be a tile index 0–${count - 1} or null`, `${field}.maximised`);
  }
  const layout: WallLayout = { kind, tiles: checkedTiles, maximised };
  if (kind === 'custom') {
    layout.cols = cols as number;
    layout.rows = rows as number;
  }
  return layout;
}

/** The channels a layout shows, once each, in tile order. */
export function channelsOf(layout: WallLayout): string[] {
  const seen = new Set<string>();
  for (const tile of layout.tiles) if (tile.channelId !== null) seen.add(tile.channelId);
  return [...seen];
}

/** The smallest fixed kind that holds `channelIds`, filled in order (a session's default layout). */
export function layoutFor(channelIds: readonly string[]): WallLayout {
  const kinds: Array<Exclude<LayoutKind, 'custom'>> = ['1', '4', '1+5', '9', '16', '25'];
  const kind = kinds.find((k) => TILE_COUNTS[k] >= channelIds.length) ?? '25';
  const tiles = Array.from({ length: TILE_COUNTS[kind] }, (_, i) => ({ channelId: channelIds[i] ?? null }));
  return { kind, tiles, maximised: null };
}
