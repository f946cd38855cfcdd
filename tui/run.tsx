/** Start the console installer (or the read-only watch) on this terminal; resolves with the exit code. */
import { render } from 'ink';
import { ensureTerminalSize, type ConsoleSession } from '../ops/console-session.ts';
import type { InstallEvent } from '../ops/events.ts';
import type { Recipe } from '../ops/recipe.ts';
import { App, stateForRecipe } from './app.tsx';
import { MAX_EVENT_FPS } from './hooks/useInstallFeed.ts';
import { consoleKind } from './theme.ts';
import { WatchApp } from './watch.tsx';

const CLEAR = '\u001B[2J\u001B[H';

function terminal() {
  const stdout = process.stdout;
  const size = ensureTerminalSize(stdout);
  const kind = consoleKind(process.env);
  stdout.write(CLEAR);
  return {
    stdout,
    kind,
    // Each frame is redrawn whole (~2 KB at 80x24; Ink 6.8's incremental mode left stale lines on the VT in a
    // trial), so a serial line (115200 baud is ~11 KB/s) gets at most 4 frames a second, the VT and xterm 10.
    options: { stdout, stdin: process.stdin, exitOnCtrlC: false, patchConsole: true, maxFps: kind === 'serial' ? 4 : MAX_EVENT_FPS },
    fixed: size.guessed ? { columns: size.columns, rows: size.rows } : undefined,
  };
}

export async function runConsole(session: ConsoleSession, recipe?: Recipe): Promise<number> {
  const t = terminal();
  let initial;
  if (recipe) initial = (await stateForRecipe(session, recipe)).state;
  let code = 0;
  const instance = render(<App session={session} kind={t.kind} size={t.fixed} initial={initial} onExit={(c) => (code = c)} />, t.options);
  await instance.waitUntilExit();
  t.stdout.write(CLEAR);
  return code;
}

export async function runWatch(source: string, follow: (onEvent: (e: InstallEvent) => void, signal: AbortSignal) => Promise<void>): Promise<number> {
  const t = terminal();
  const ctl = new AbortController();
  const subscribe = (onEvent: (e: InstallEvent) => void) => {
    void follow(onEvent, ctl.signal).catch(() => undefined);
    return () => ctl.abort();
  };
  let code = 0;
  const instance = render(<WatchApp subscribe={subscribe} kind={t.kind} size={t.fixed} source={source} onExit={(c) => (code = c)} />, t.options);
  await instance.waitUntilExit();
  ctl.abort();
  t.stdout.write(CLEAR);
  return code;
}
