/**
 * An 80x24 tmux pane as a technician's terminal: `send-keys` types, `capture-pane -p` reads the screen.
 *
 * A frame reaches the pane in pieces (a VT write or a serial line is not atomic), so a capture can hold half a
 * frame. Every look through `settled`/`waitFor` therefore waits for a whole one: both box borders on screen and the
 * same picture twice, bounded so a screen that never stops moving (a download) is still read. `catchFrame` is for a
 * moving screen: the first whole frame that shows what is asked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });

/** The installer's box borders in every glyph set: VT (┌└), serial (+), xterm (╭╰). */
const BORDER = /^[┌└+╭╰][─-]{20,}[┐┘+╮╯]$/;

/** True when the capture holds a whole frame of the installer: its top and bottom borders. */
function wholeFrame(screen: string): boolean {
  return screen.split('\n').filter((l) => BORDER.test(l)).length >= 2;
}

export interface TerminalOptions {
  /** Pause after each key, so the console draws in between (a serial console redraws at most 4 times a second). */
  keyDelayMs: number;
  /** Pause after typed text. */
  typeDelayMs: number;
  /** How long a screen may stand still before `waitFor` presses its nudge keys, and who hears of it. */
  stall?: { ms: number; report(what: string, keys: string[]): void };
}

export interface WaitOptions {
  timeoutMs?: number;
  /** Keys that change nothing the caller relies on, pressed when the screen stands still (see `stall`). */
  nudge?: string[];
}

export interface Terminal {
  readonly session: string;
  /** The pane as it is now, possibly mid-frame. */
  screen(): string;
  /** The pane once a whole frame is on it. */
  settled(timeoutMs?: number): Promise<string>;
  keys(...keys: string[]): Promise<void>;
  type(text: string): Promise<void>;
  waitFor(what: string | RegExp, options?: WaitOptions): Promise<string>;
  /** The first whole frame that passes `test`, read without waiting for a still picture: for a screen that keeps moving. */
  catchFrame(what: string, test: (screen: string) => boolean, timeoutMs?: number): Promise<string>;
  kill(): void;
}

/** Opens a detached 80x24 session running the shell `command`. */
export function openTerminal(session: string, command: string, options: TerminalOptions): Terminal {
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', command);
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  const term: Terminal = {
    session,
    screen,
    async settled(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      let s = screen();
      let whole = wholeFrame(s) ? s : undefined;
      for (;;) {
        await sleep(150);
        const again = screen();
        if (wholeFrame(again)) {
          if (again === s) return again;
          whole = again;
        }
        if (Date.now() > deadline) return whole ?? again;
        s = again;
      }
    },
    async keys(...keys: string[]) {
      for (const k of keys) {
        tmux('send-keys', '-t', session, k);
        await sleep(options.keyDelayMs);
      }
    },
    async type(text: string) {
      tmux('send-keys', '-t', session, '-l', text);
      await sleep(options.typeDelayMs);
    },
    async waitFor(what, { timeoutMs = 30_000, nudge = [] } = {}) {
      const deadline = Date.now() + timeoutMs;
      let still = { screen: '', since: Date.now() };
      for (;;) {
        const s = await term.settled();
        if (typeof what === 'string' ? s.includes(what) : what.test(s)) return s;
        if (Date.now() > deadline) assert.fail(`timed out (${timeoutMs / 1000} s) waiting for ${String(what)}; the terminal shows:\n${s}`);
        if (s !== still.screen) still = { screen: s, since: Date.now() };
        else if (nudge.length && options.stall && Date.now() - still.since > options.stall.ms) {
          options.stall.report(String(what), nudge);
          await term.keys(...nudge);
          still = { screen: s, since: Date.now() };
        }
        await sleep(100);
      }
    },
    async catchFrame(what, test, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = screen();
        if (wholeFrame(s) && test(s)) return s;
        if (Date.now() > deadline) assert.fail(`timed out (${timeoutMs / 1000} s) waiting for ${what}; the terminal shows:\n${s}`);
        await sleep(50);
      }
    },
    kill() {
      try {
        execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    },
  };
  return term;
}

/** Asserts the screen fits 80x24 and writes it to each of `files`. */
export async function keepScreen(name: string, text: string, files: string[]): Promise<string> {
  const lines = text.replace(/\s+$/, '').split('\n');
  assert.ok(lines.length <= 24, `${name}: ${lines.length} lines`);
  for (const l of lines) assert.ok([...l].length <= 80, `${name}: a line is wider than 80 columns`);
  for (const file of files) await writeFile(file, `${text.replace(/\s+$/, '')}\n`);
  return text;
}
