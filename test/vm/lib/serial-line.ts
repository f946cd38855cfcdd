/**
 * The VM's serial line (ttyS0, a BMC's serial-over-LAN) as a technician's terminal: startVm offers it on a unix
 * socket (VmOptions.serialSocket), a tiny node bridge (no dependency) connects that socket to an 80x24 tmux pane,
 * so tmux is the terminal emulator: `send-keys` types on the line and `capture-pane -p` reads the screen.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { keepScreen, openTerminal, type Terminal, type TerminalOptions } from '../../helpers/tmux-terminal.ts';

export const SERIAL_TTY = 'ttyS0';

/** Serial line <-> the tmux pane's terminal: raw bytes both ways; the pane stays open when the line closes. */
const BRIDGE = `import { connect } from 'node:net';
const c = connect(process.argv[2]);
c.on('connect', () => {
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.pipe(c);
  c.pipe(process.stdout);
});
c.on('error', (e) => { process.stderr.write('bridge: ' + e.message + '\\n'); process.exit(1); });
c.on('close', () => process.exit(0));
`;

export interface SerialTerminal extends Terminal {
  /** Moves a list's pointer (`> `, the serial glyph) down to the line that matches, at most `max` steps. */
  pointAt(line: RegExp, max?: number): Promise<string>;
  /** Asserts the screen fits 80x24 and keeps it in the work directory, numbered in order. */
  keep(name: string, text?: string): Promise<string>;
}

/** Waits for the VM's serial socket, then opens a tmux terminal on it; every kept screen goes to `dir`. */
export async function attachSerialTerminal(session: string, socket: string, dir: string, stall?: TerminalOptions['stall']): Promise<SerialTerminal> {
  const bridge = join(dir, 'bridge.mjs');
  await writeFile(bridge, BRIDGE);
  for (const deadline = Date.now() + 15_000; !existsSync(socket); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`${socket} did not appear within 15 s`);
  }
  const term = openTerminal(session, `'${process.execPath}' '${bridge}' '${socket}'; echo '[serial line closed]'; sleep 3600`, {
    // A serial console redraws at most 4 times a second.
    keyDelayMs: 350,
    typeDelayMs: 500,
    stall,
  });
  let kept = 0;
  return {
    ...term,
    async pointAt(line: RegExp, max = 12): Promise<string> {
      for (let i = 0; ; i++) {
        const s = await term.settled();
        if (s.split('\n').some((l) => /> /.test(l) && line.test(l.slice(l.indexOf('> ') + 2)))) return s;
        if (i >= max) assert.fail(`the pointer never reached ${String(line)}; the screen:\n${s}`);
        await term.keys('Down');
        // The next look must see the move (a serial console redraws at most 4 times a second).
        for (const deadline = Date.now() + 3000; term.screen() === s && Date.now() < deadline;) await sleep(100);
      }
    },
    keep: (name, text = term.screen()) => keepScreen(name, text, [join(dir, `screen-${String(++kept).padStart(2, '0')}-${name}.txt`)]),
  };
}

/**
 * Waits for GRUB's menu on the serial line and moves its highlight to `title`, before GRUB's timeout boots the
 * default. The moves are counted on the menu's first picture (highlighted row to the title's row): GRUB redraws
 * only the rows that change, at places a terminal emulator may not agree with, so later pictures hold stale rows.
 */
async function highlightGrubEntry(term: Terminal, title: string, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !term.screen().includes(title); await sleep(100)) {
    if (Date.now() > deadline) assert.fail(`no GRUB menu with "${title}" on ${SERIAL_TTY} within ${timeoutMs / 1000} s; the terminal shows:\n${term.screen()}`);
  }
  const menu = term.screen();
  const rows = menu.split('\n');
  const highlighted = rows.findIndex((l) => /\*\S/.test(l));
  const wanted = rows.findIndex((l) => l.includes(title));
  assert.ok(highlighted >= 0 && wanted >= highlighted, `cannot tell GRUB's highlighted entry from "${title}" on the menu:\n${menu}`);
  for (let i = highlighted; i < wanted; i++) await term.keys('Down');
}

/**
 * Boots the GRUB menu entry titled `title` with `words` added to its kernel command line, as a technician does on
 * a serial console: `e` opens the entry in GRUB's editor with the cursor on its first line, Down moves to the line
 * that passes `kernelLine` (counted on the editor's picture), Ctrl-E goes to its end, Ctrl-X boots. Check the
 * words on the kernel's `Kernel command line:`.
 */
export async function bootGrubEntryWith(term: Terminal, title: string, words: string, kernelLine = /^\s*linux\s/, timeoutMs = 5 * 60_000): Promise<string> {
  await highlightGrubEntry(term, title, timeoutMs);
  await term.keys('e');
  const first = `setparams '${title}'`;
  for (const deadline = Date.now() + 10_000; !term.screen().includes(first); await sleep(100)) {
    if (Date.now() > deadline) assert.fail(`GRUB's editor did not open; the terminal shows:\n${term.screen()}`);
  }
  await sleep(500);
  const rows = term.screen().split('\n');
  const top = rows.findIndex((l) => l.includes(first));
  const kernel = rows.findIndex((l, i) => i > top && kernelLine.test(l));
  assert.ok(kernel > top, `no line passing ${String(kernelLine)} in GRUB's editor:\n${rows.join('\n')}`);
  for (let i = top; i < kernel; i++) await term.keys('Down');
  await term.keys('C-e');
  await term.type(` ${words}`);
  // The picture of a wrapped line is no proof (the firmware's terminal is 80x25, the pane 80x24): the booted
  // kernel's command line is, and the caller checks it.
  const edited = term.screen();
  await term.keys('C-x');
  return edited;
}
