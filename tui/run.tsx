/** Start the console installer (or the read-only watch) on this terminal; resolves with the exit code. */
import { render } from 'ink';
import { CONSOLE_EXIT, ensureTerminalSize, type ConsoleSession, type InstallRun } from '../ops/console-session.ts';
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

/**
 * SIGTERM (systemd stopping the unit), SIGHUP (the VT hung up) or SIGINT: abort a running install, wait for the
 * runner to unmount and detach what it set up, then leave with 130.
 */
function onSignals(stop: (signal: string) => void): () => void {
  const handlers = (['SIGTERM', 'SIGHUP', 'SIGINT'] as const).map((sig) => {
    const h = () => stop(sig);
    process.on(sig, h);
    return () => void process.off(sig, h);
  });
  return () => handlers.forEach((off) => off());
}

export async function runConsole(session: ConsoleSession, recipe?: Recipe): Promise<number> {
  const t = terminal();
  let initial;
  if (recipe) initial = (await stateForRecipe(session, recipe)).state;
  let code = 0;
  let running: InstallRun | undefined;
  const instance = render(
    <App session={session} kind={t.kind} size={t.fixed} initial={initial} onExit={(c) => (code = c)} onRun={(r) => (running = r)} />,
    t.options,
  );
  const off = onSignals((signal) => {
    code = CONSOLE_EXIT.quit;
    const run = running;
    if (!run) return instance.unmount();
    run.abort(`${signal}: the console is stopping`);
    const timeout = new Promise((resolve) => setTimeout(resolve, 60_000).unref());
    void Promise.race([run.done.catch(() => undefined), timeout]).then(() => instance.unmount());
  });
  try {
    await instance.waitUntilExit();
    // Leaving with an install still running (it cannot, but be sure): let the runner clean up first.
    if (running) {
      running.abort('the console is closing');
      await running.done.catch(() => undefined);
    }
  } finally {
    off();
  }
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
