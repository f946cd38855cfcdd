/**
 * The maintenance VM's second serial line (ttyS1) as a technician's terminal: qemu exposes it as a chardev socket
 * on the host, a tiny node bridge (no dependency) connects that socket to an 80x24 tmux pane, so tmux is the
 * terminal emulator: `send-keys` types on the line and `capture-pane -p` reads the screen.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { keepScreen, openTerminal, type Terminal, type TerminalOptions } from '../../helpers/tmux-terminal.ts';

export const SERIAL_TTY = 'ttyS1';

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

/** qemu arguments that make the guest's ttyS1 a socket at `socket` (ttyS0 stays the logged console). */
export function serialLineArgs(socket: string): string[] {
  return ['-chardev', `socket,id=${SERIAL_TTY},path=${socket},server=on,wait=off`, '-serial', `chardev:${SERIAL_TTY}`];
}

/**
 * A drop-in for a unit that draws on a terminal. TTYRows/TTYColumns: the line's size for systemd 252 (bookworm),
 * which knows no systemd.tty.rows.* kernel option. StandardError and ExecStopPost: should the program die, its
 * error and exit status reach ttyS0, which the test logs. `lines` come first (e.g. another TTYPath or ExecStart).
 */
export function serialDropIn(unit: string, lines: string[] = []): string {
  return [
    '[Service]',
    ...lines,
    'TTYRows=24',
    'TTYColumns=80',
    'StandardError=journal+console',
    `ExecStopPost=/bin/sh -c 'echo "${unit}: $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS" >/dev/console'`,
    '',
  ].join('\n');
}

export interface SerialTerminal extends Terminal {
  /** Moves a list's pointer (`> `, the serial glyph) down to the line that matches, at most `max` steps. */
  pointAt(line: RegExp, max?: number): Promise<string>;
  /** Asserts the screen fits 80x24 and keeps it in the work directory, numbered in order. */
  keep(name: string, text?: string): Promise<string>;
}

/** Waits for qemu's socket, then opens a tmux terminal on it; every kept screen goes to `dir`. */
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
        for (const deadline = Date.now() + 3000; term.screen() === s && Date.now() < deadline; ) await sleep(100);
      }
    },
    keep: (name, text = term.screen()) => keepScreen(name, text, [join(dir, `screen-${String(++kept).padStart(2, '0')}-${name}.txt`)]),
  };
}

/**
 * Every distinct screen on the guest's ttyS1 while `running` (the VM) runs, looked at every 300 ms through a
 * terminal attached to `socket`; the terminal is closed when the VM is done.
 */
export async function screensWhile<T>(session: string, socket: string, dir: string, running: Promise<T>): Promise<{ value: T; screens: string[] }> {
  let done = false;
  const finished = running.finally(() => (done = true));
  let term: SerialTerminal;
  try {
    term = await attachSerialTerminal(session, socket, dir);
  } catch (e) {
    await finished.catch(() => undefined);
    throw e;
  }
  const screens: string[] = [];
  try {
    while (!done) {
      const s = term.screen();
      if (s !== screens.at(-1)) screens.push(s);
      await Promise.race([sleep(300), finished.catch(() => undefined)]);
    }
    return { value: await finished, screens };
  } finally {
    term.kill();
  }
}
