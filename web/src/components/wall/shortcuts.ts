/**
 * The keyboard of the wall and of a consultation session: ONE keymap for both screens (a key means the same
 * everywhere; a key whose action a screen does not have does nothing there) and one table that both decides
 * what a key does and feeds the on-screen cheat sheet, so the sheet can never list a shortcut that does not
 * exist (or miss one that does). The mapping is documented in docs/keyboard.md.
 */
import type { LayoutKind } from '../../api/types';
export type PtzDirection = 'up' | 'down' | 'left' | 'right' | 'up-left' | 'up-right' | 'down-left' | 'down-right';
export type ArrowKey = 'up' | 'down' | 'left' | 'right';

export type WallAction =
  | { kind: 'recall-view'; hotkey: number }
  | { kind: 'cycle-layout'; delta: 1 | -1 }
  | { kind: 'select-tile'; delta: 1 | -1 }
  | { kind: 'choose-layout'; layout: LayoutKind }
  | { kind: 'toggle-maximise' }
  /** True full screen (Fullscreen API): the whole screen, or (tile) the selected tile. */
  | { kind: 'fullscreen'; tile: boolean }
  | { kind: 'undo' }
  | { kind: 'follow-chair' }
  | { kind: 'toggle-lock' }
  | { kind: 'escape' }
  | { kind: 'toggle-tours' }
  | { kind: 'toggle-ptz-mode' }
  /** Held: the page combines held arrows into a direction and stops on release. */
  | { kind: 'ptz-arrow'; arrow: ArrowKey }
  | { kind: 'ptz-zoom'; zoom: 'in' | 'out' }
  | { kind: 'ptz-preset'; preset: number }
  | { kind: 'snapshot' }
  | { kind: 'clear-tile' }
  | { kind: 'cheat-sheet' };

/** The parts of a KeyboardEvent the keymap reads. */
export interface KeyInput {
  key: string;
  code: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
}

export interface KeyContext {
  /** PTZ mode is on and the selected tile has a camera: arrows, +/- and digits drive the camera. */
  ptzActive: boolean;
}

const ARROWS: Record<string, ArrowKey> = { ArrowUp: 'up', ArrowDown: 'down', ArrowLeft: 'left', ArrowRight: 'right' };

/** Digit 1–9 from the main row or the keypad, by physical key (Alt changes `key` on some layouts). */
function digitOf(input: KeyInput): number | null {
  const m = /^(?:Digit|Numpad)([1-9])$/.exec(input.code);
  if (m) return Number(m[1]);
  return /^[1-9]$/.test(input.key) ? Number(input.key) : null;
}

/** Digits 1–7 (outside PTZ mode) choose the fixed layouts in the order of the layout buttons. */
export const DIGIT_LAYOUTS: readonly LayoutKind[] = ['1', '4', '1+5', '1+7', '9', '16', '25'];

export function resolveKey(input: KeyInput, context: KeyContext): WallAction | null {
  // Undo of the last destructive change (clear wall, clear tile, layout change, recalled view).
  if ((input.ctrlKey || input.metaKey) && !input.altKey && !input.shiftKey && input.key.toLowerCase() === 'z') return { kind: 'undo' };
  // Other browser and system shortcuts (Ctrl+R, Ctrl+F, Cmd+…) stay theirs.
  if (input.ctrlKey || input.metaKey) return null;
  if (input.altKey) {
    const digit = digitOf(input);
    return digit === null ? null : { kind: 'recall-view', hotkey: digit };
  }
  const arrow = ARROWS[input.key];
  if (arrow) {
    if (context.ptzActive) return { kind: 'ptz-arrow', arrow };
    return { kind: 'select-tile', delta: arrow === 'right' || arrow === 'down' ? 1 : -1 };
  }
  if (context.ptzActive) {
    if (input.key === '+' || input.key === '=' || input.code === 'NumpadAdd') return { kind: 'ptz-zoom', zoom: 'in' };
    if (input.key === '-' || input.code === 'NumpadSubtract') return { kind: 'ptz-zoom', zoom: 'out' };
    const digit = digitOf(input);
    if (digit !== null) return { kind: 'ptz-preset', preset: digit };
  }
  const digit = digitOf(input);
  if (digit !== null) return digit <= DIGIT_LAYOUTS.length ? { kind: 'choose-layout', layout: DIGIT_LAYOUTS[digit - 1] } : null;
  switch (input.key) {
    case '?':
      return { kind: 'cheat-sheet' };
    case ' ':
      return { kind: 'toggle-tours' };
    case 'Escape':
      return { kind: 'escape' };
    case 'Enter':
      return { kind: 'toggle-maximise' };
    case 'Delete':
      return { kind: 'clear-tile' };
    case ']':
      return { kind: 'select-tile', delta: 1 };
    case '[':
      return { kind: 'select-tile', delta: -1 };
  }
  switch (input.key.toLowerCase()) {
    case 'l':
      return { kind: 'cycle-layout', delta: input.shiftKey ? -1 : 1 };
    case 'f':
      return { kind: 'fullscreen', tile: input.shiftKey };
    case 'c':
      return { kind: 'follow-chair' };
    case 'k':
      return { kind: 'toggle-lock' };
    case 'p':
      return { kind: 'toggle-ptz-mode' };
    case 's':
      return { kind: 'snapshot' };
  }
  return null;
}

/** Held arrows → one of the 8 directions (opposites cancel); null when nothing is left to move. */
export function directionOfArrows(held: ReadonlySet<ArrowKey>): PtzDirection | null {
  const vertical = held.has('up') === held.has('down') ? null : held.has('up') ? 'up' : 'down';
  const horizontal = held.has('left') === held.has('right') ? null : held.has('left') ? 'left' : 'right';
  if (vertical && horizontal) return `${vertical}-${horizontal}`;
  return vertical ?? horizontal;
}

export type Screen = 'wall' | 'session';

/** Rows of the cheat sheet: the keys as printed, and the message key of what they do (wall.keys.*). */
export interface ShortcutRow {
  keys: string[];
  action: string;
  /** The screens where the key does something. */
  screens: readonly Screen[];
  /** Only while PTZ mode is on. */
  ptz?: boolean;
}

const BOTH: readonly Screen[] = ['wall', 'session'];
const WALL: readonly Screen[] = ['wall'];
const SESSION: readonly Screen[] = ['session'];

/**
 * Key names are printed as words; the arrow keys as their names (ArrowUp…), which the cheat sheet draws as SVG
 * arrows: arrow glyphs (← ↑) are missing from the fonts of Kylin/UOS PCs and show as boxes.
 */
export const SHORTCUT_ROWS: readonly ShortcutRow[] = [
  { keys: ['1 … 7'], action: 'chooseLayout', screens: BOTH },
  { keys: ['L', 'Shift+L'], action: 'cycleLayout', screens: BOTH },
  { keys: ['ArrowRight', 'ArrowDown', ']'], action: 'nextTile', screens: BOTH },
  { keys: ['ArrowLeft', 'ArrowUp', '['], action: 'previousTile', screens: BOTH },
  { keys: ['Enter'], action: 'maximise', screens: BOTH },
  { keys: ['F'], action: 'fullscreen', screens: BOTH },
  { keys: ['Shift+F'], action: 'fullscreenTile', screens: BOTH },
  { keys: ['Esc'], action: 'escape', screens: BOTH },
  { keys: ['Delete'], action: 'clearTile', screens: BOTH },
  { keys: ['Ctrl+Z'], action: 'undo', screens: WALL },
  { keys: ['Alt+1 … Alt+9'], action: 'recallView', screens: WALL },
  { keys: ['Space'], action: 'pauseTours', screens: WALL },
  { keys: ['S'], action: 'snapshot', screens: WALL },
  { keys: ['P'], action: 'ptzMode', screens: WALL },
  { keys: ['ArrowLeft', 'ArrowUp', 'ArrowRight', 'ArrowDown'], action: 'ptzMove', screens: WALL, ptz: true },
  { keys: ['+', '-'], action: 'ptzZoom', screens: WALL, ptz: true },
  { keys: ['1 … 9'], action: 'presetRecall', screens: WALL, ptz: true },
  { keys: ['C'], action: 'followChair', screens: SESSION },
  { keys: ['K'], action: 'lock', screens: SESSION },
  { keys: ['?'], action: 'cheatSheet', screens: BOTH },
];
