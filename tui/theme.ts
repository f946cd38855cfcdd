/**
 * The one place where the console decides what it may draw: glyphs, borders, spinner and colours per terminal.
 *
 * - `linux`: the kernel's virtual console (tty1 seen through a BMC's KVM). 16 colours, single-line box drawing,
 *   and only the glyphs the built-in font has (see LINUX_VT_GLYPHS); anything else prints as a square.
 * - `serial`: vt220/vt100 on ttyS0 or serial-over-LAN, or any terminal we do not recognise. ASCII only, no colour.
 * - `rich`: a developer's xterm-like terminal; nicer glyphs are fine.
 */
export type ConsoleKind = 'linux' | 'serial' | 'rich';

/** The non-ASCII characters the Linux VT's built-in font is known to have (docs/ARCHITECTURE.md, "Console"). */
export const LINUX_VT_GLYPHS = '─│┌┐└┘├┤┬┴┼═║╔╗█▄▀░▒▓■←↑→↓▲▼►◄•·√';

const RICH_TERM = /^(xterm|screen|tmux|rxvt|alacritty|kitty|foot|wezterm|vte|gnome|konsole|iterm|st-|contour)/i;

export function consoleKind(env: NodeJS.ProcessEnv = process.env): ConsoleKind {
  const term = (env.TERM ?? '').toLowerCase();
  if (term === 'linux') return 'linux';
  if (RICH_TERM.test(term)) return 'rich';
  return 'serial';
}

export type Colour = 'cyan' | 'green' | 'red' | 'yellow' | 'gray' | 'white' | 'blue' | 'magenta';

export interface Glyphs {
  pointer: string;
  done: string;
  failed: string;
  running: string;
  pending: string;
  skipped: string;
  disabled: string;
  barFull: string;
  barEmpty: string;
  ellipsis: string;
  bullet: string;
  rule: string;
  up: string;
  down: string;
  arrows: string;
  keyUp: string;
  left: string;
  right: string;
  keyDown: string;
  warn: string;
}

export interface Theme {
  kind: ConsoleKind;
  glyphs: Glyphs;
  border: 'single' | 'classic' | 'round';
  spinner: string[];
  /** How often spinners and elapsed times move (a serial line gets fewer frames). */
  tickMs: number;
  /** Semantic colours; undefined draws in the terminal's default colour (serial consoles get none). */
  colour: { accent?: Colour; ok?: Colour; bad?: Colour; warn?: Colour; muted?: Colour; key?: Colour };
  /** Whether dim/inverse attributes are worth using (a serial line may show neither). */
  attributes: boolean;
  /**
   * Whether the frame may fill the terminal's last column. A serial console is drawn changed lines only
   * (tui/run.tsx), each ended by erase-to-end-of-line; after a line that fills the last column the cursor waits
   * there to wrap, and the erase takes that column's character with it on the VT and xterm.
   */
  lastColumn: boolean;
}

const ASCII_SPINNER = ['|', '/', '-', '\\'];

const THEMES: Record<ConsoleKind, Theme> = {
  linux: {
    kind: 'linux',
    glyphs: {
      pointer: '►',
      done: '√',
      failed: 'x',
      running: '►',
      pending: '·',
      skipped: '-',
      disabled: '-',
      barFull: '█',
      barEmpty: '░',
      ellipsis: '..',
      bullet: '•',
      rule: '─',
      up: '▲',
      down: '▼',
      arrows: '↑↓',
      keyUp: '↑',
      left: '◄',
      right: '►',
      keyDown: '↓',
      warn: '!',
    },
    border: 'single',
    spinner: ASCII_SPINNER,
    tickMs: 250,
    colour: { accent: 'cyan', ok: 'green', bad: 'red', warn: 'yellow', muted: 'gray', key: 'cyan' },
    attributes: true,
    lastColumn: true,
  },
  serial: {
    kind: 'serial',
    glyphs: {
      pointer: '>',
      done: '+',
      failed: 'x',
      running: '>',
      pending: '.',
      skipped: '-',
      disabled: '-',
      barFull: '#',
      barEmpty: '.',
      ellipsis: '..',
      bullet: '*',
      rule: '-',
      up: '^',
      down: 'v',
      arrows: 'Up/Dn',
      keyUp: 'Up',
      left: '<',
      right: '>',
      keyDown: 'Dn',
      warn: '!',
    },
    border: 'classic',
    spinner: ASCII_SPINNER,
    tickMs: 500,
    colour: {},
    attributes: false,
    lastColumn: false,
  },
  rich: {
    kind: 'rich',
    glyphs: {
      pointer: '❯',
      done: '✔',
      failed: '✘',
      running: '▶',
      pending: '·',
      skipped: '–',
      disabled: '✕',
      barFull: '█',
      barEmpty: '░',
      ellipsis: '…',
      bullet: '•',
      rule: '─',
      up: '▲',
      down: '▼',
      arrows: '↑↓',
      keyUp: '↑',
      left: '◀',
      right: '▶',
      keyDown: '↓',
      warn: '⚠',
    },
    border: 'round',
    spinner: ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'],
    tickMs: 100,
    colour: { accent: 'cyan', ok: 'green', bad: 'red', warn: 'yellow', muted: 'gray', key: 'cyan' },
    attributes: true,
    lastColumn: true,
  },
};

export function themeFor(kind: ConsoleKind): Theme {
  return THEMES[kind];
}

/** Every character a frame may contain on this console: printable ASCII, plus the VT font's glyphs on `linux`. */
export function allowedCharacters(kind: ConsoleKind): (ch: string) => boolean {
  if (kind === 'rich') return (ch) => ch === '\n' || ch >= ' ';
  const extra = kind === 'linux' ? new Set(LINUX_VT_GLYPHS) : new Set<string>();
  return (ch) => (ch >= ' ' && ch <= '~') || ch === '\n' || extra.has(ch);
}
