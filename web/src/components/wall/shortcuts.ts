/**
 * The wall's keyboard: one table that both decides what a key does and feeds the on-screen cheat sheet, so
 * the sheet can never list a shortcut that does not exist (or miss one that does).
 */
export type PtzDirection = 'up' | 'down' | 'left' | 'right' | 'up-left' | 'up-right' | 'down-left' | 'down-right';
export type ArrowKey = 'up' | 'down' | 'left' | 'right';

export type WallAction =
  | { kind: 'recall-view'; hotkey: number }
  | { kind: 'cycle-layout'; delta: 1 | -1 }
  | { kind: 'select-tile'; delta: 1 | -1 }
  | { kind: 'toggle-maximise' }
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

export function resolveKey(input: KeyInput, context: KeyContext): WallAction | null {
  // Browser and system shortcuts (Ctrl+R, Ctrl+F, Cmd+…) stay theirs.
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
      return { kind: 'toggle-maximise' };
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

/** Rows of the cheat sheet: the keys as printed, and the message key of what they do (wall.keys.*). */
export interface ShortcutRow {
  keys: string[];
  action: string;
  /** Only while PTZ mode is on. */
  ptz?: boolean;
}

export const SHORTCUT_ROWS: readonly ShortcutRow[] = [
  { keys: ['Alt+1 … Alt+9'], action: 'recallView' },
  { keys: ['L', 'Shift+L'], action: 'cycleLayout' },
  { keys: ['→', '↓', ']'], action: 'nextTile' },
  { keys: ['←', '↑', '['], action: 'previousTile' },
  { keys: ['Enter', 'F', '⧉ ×2'], action: 'maximise' },
  { keys: ['Esc'], action: 'escape' },
  { keys: ['Space'], action: 'pauseTours' },
  { keys: ['P'], action: 'ptzMode' },
  { keys: ['← ↑ → ↓'], action: 'ptzMove', ptz: true },
  { keys: ['+', '-'], action: 'ptzZoom', ptz: true },
  { keys: ['1 … 9'], action: 'presetRecall', ptz: true },
  { keys: ['S'], action: 'snapshot' },
  { keys: ['Delete'], action: 'clearTile' },
  { keys: ['?'], action: 'cheatSheet' },
];
