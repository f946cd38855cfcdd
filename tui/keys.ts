import type { Key } from 'ink';
import type { Theme } from './theme.ts';

/**
 * Every key the console understands, defined once: how it is matched and how the status bar names it.
 * Screens pick from these and say what the key does there; the status bar shows exactly the active keys.
 */
export type KeyId =
  | 'move'
  | 'up'
  | 'down'
  | 'page'
  | 'home'
  | 'end'
  | 'enter'
  | 'back'
  | 'tab'
  | 'quit'
  | 'refresh'
  | 'next'
  | 'log'
  | 'abort'
  | 'retry'
  | 'reboot'
  | 'poweroff'
  | 'shell'
  | 'type'
  | 'credentials'
  | 'host'
  | 'add'
  | 'delete'
  | 'yes'
  | 'no'
  | 'interrupt';

interface KeyDef {
  show: (t: Theme) => string;
  match: (input: string, key: Key) => boolean;
}

const letter = (c: string): KeyDef => ({ show: () => c, match: (input, key) => !key.ctrl && !key.meta && input === c });

export const KEYS: Record<KeyId, KeyDef> = {
  move: { show: (t) => t.glyphs.arrows, match: (_, k) => k.upArrow || k.downArrow },
  up: { show: (t) => t.glyphs.keyUp, match: (_, k) => k.upArrow },
  down: { show: (t) => t.glyphs.keyDown, match: (_, k) => k.downArrow },
  page: { show: () => 'PgUp/PgDn', match: (_, k) => k.pageUp || k.pageDown },
  home: { show: () => 'Home', match: (_, k) => k.home },
  end: { show: () => 'End', match: (_, k) => k.end },
  enter: { show: () => 'Enter', match: (_, k) => k.return },
  back: { show: () => 'Esc', match: (_, k) => k.escape },
  tab: { show: () => 'Tab', match: (_, k) => k.tab },
  quit: letter('q'),
  refresh: letter('r'),
  next: letter('n'),
  log: letter('l'),
  abort: letter('a'),
  retry: letter('r'),
  reboot: letter('r'),
  poweroff: letter('p'),
  shell: letter('s'),
  type: letter('t'),
  credentials: letter('c'),
  host: letter('h'),
  add: letter('a'),
  delete: letter('x'),
  yes: { show: () => 'y', match: (input, k) => !k.ctrl && (input === 'y' || input === 'Y') },
  no: { show: () => 'n', match: (input, k) => k.escape || (!k.ctrl && (input === 'n' || input === 'N')) },
  interrupt: { show: () => 'Ctrl+C', match: (input, k) => k.ctrl && input === 'c' },
};

export interface Binding {
  key: KeyId;
  /** What the key does on this screen, for the status bar. */
  label: string;
  run: (input: string, key: Key) => void;
  /** Handled but not shown (Home/End, a second name for the same action). */
  hidden?: boolean;
}

/** The first binding whose key matches wins. */
export function dispatchKey(bindings: readonly Binding[], input: string, key: Key): boolean {
  const b = bindings.find((x) => KEYS[x.key].match(input, key));
  if (!b) return false;
  b.run(input, key);
  return true;
}

export const keyName = (id: KeyId, theme: Theme) => KEYS[id].show(theme);

/** Keys that move a list or a text viewport. */
export function movement(input: string, key: Key): 'up' | 'down' | 'pageUp' | 'pageDown' | 'home' | 'end' | undefined {
  void input;
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.pageUp) return 'pageUp';
  if (key.pageDown) return 'pageDown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  return undefined;
}
