/**
 * Which wall tiles play over the low-latency path (live fMP4 over a WebSocket into MSE) instead of hls.js:
 * the tile an operator steers — PTZ mode on with the tile selected, or a PTZ command sent to it in the last
 * STEER_HOLD_MS — the maximised tile, and the tiles the operator pinned with the tile's lightning button.
 * The rest stay on HLS: 25 MSE sockets with a frame per message each would cost a wall PC more than 25 hls.js
 * players fetching 1 s segments, and only a picture someone steers needs sub-second latency.
 * Pure so it is unit-tested (web/test/wall-low-latency.test.ts); WallPage owns the state.
 */

/** localStorage key of the pinned tiles (indices), kept across a wall PC's browser restart like the layout. */
export const LOW_LATENCY_KEY = 'sharp-eyes.wall.lowLatency';
/** After the last PTZ command from the panel, the steered tile stays on the low-latency path this long. */
export const STEER_HOLD_MS = 30_000;
const MAX_TILES = 64;

export interface LowLatencyInputs {
  tileCount: number;
  maximised: number | null;
  /** The selected tile while PTZ (keyboard) mode is on, else null. */
  ptzTile: number | null;
  /** The tile a PTZ command was sent to recently, else null. */
  steeredTile: number | null;
  pinned: readonly number[];
}

export function lowLatencyTiles(inputs: LowLatencyInputs): Set<number> {
  const out = new Set<number>();
  const add = (index: number | null): void => {
    if (index !== null && Number.isInteger(index) && index >= 0 && index < inputs.tileCount) out.add(index);
  };
  add(inputs.maximised);
  add(inputs.ptzTile);
  add(inputs.steeredTile);
  for (const index of inputs.pinned) add(index);
  return out;
}

/** Pinned tiles from storage; anything that is not a list of small non-negative integers is dropped. */
export function parsePinned(raw: string | null): number[] {
  let value: unknown;
  try {
    value = JSON.parse(raw ?? '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  const ok = value.filter((v): v is number => Number.isInteger(v) && v >= 0 && v < MAX_TILES);
  return [...new Set(ok)].sort((a, b) => a - b);
}

export function togglePinned(pinned: readonly number[], index: number): number[] {
  return pinned.includes(index) ? pinned.filter((i) => i !== index) : [...pinned, index].sort((a, b) => a - b);
}

/** Pins after tiles `a` and `b` swapped cameras: the setting follows the camera it was made for. */
export function swapPinned(pinned: readonly number[], a: number, b: number): number[] {
  return pinned.map((i) => (i === a ? b : i === b ? a : i)).sort((x, y) => x - y);
}
