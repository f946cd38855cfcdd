/** Start the console installer (or the read-only watch) on this terminal; resolves with the exit code. */
import { render } from 'ink';
import { CONSOLE_EXIT, ensureTerminalSize, type ConsoleSession, type InstallRun } from '../ops/console-session.ts';
import type { InstallEvent } from '../ops/events.ts';
import type { Recipe } from '../ops/recipe.ts';
import { App, stateForRecipe } from './app.tsx';
import { MAX_EVENT_FPS } from './hooks/useInstallFeed.ts';
import { consoleKind, type ConsoleKind } from './theme.ts';
import { WatchApp } from './watch.tsx';

const CLEAR = '\u001B[2J\u001B[H';

/**
 * Ink's options for a console of this kind. The VT and xterm redraw each frame whole (~2 KB at 80x24), up to
 * 10 a second. A serial line (115200 baud carries ~11 KB/s; SOL is often slower) gets only the lines that
 * changed, at most 4 times a second: a write to a tty blocks the event loop, and the download with it. The theme
 * keeps that frame off the last column. Ink 6.8 drew changed lines one line too low (fixed in Ink 7, which needs
 * Node 22): patches/ink+6.8.0.patch carries upstream's one-line fix, applied by `npm ci`.
 */
export function renderOptions(kind: ConsoleKind, stdout: NodeJS.WriteStream, stdin: NodeJS.ReadStream) {
  return {
    stdout,
    stdin,
    exitOnCtrlC: false,
    // console.* output is moved above the frame on the real terminal only (the bench draws to a counting stream).
    patchConsole: stdout === process.stdout,
    maxFps: kind === 'serial' ? 4 : MAX_EVENT_FPS,
    incrementalRendering: kind === 'serial',
  };
}

function terminal() {
  const stdout = process.stdout;
  const size = ensureTerminalSize(stdout);
  const kind = consoleKind(process.env);
  stdout.write(CLEAR);
  return {
    stdout,
    kind,
    options: renderOptions(kind, stdout, process.stdin),
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

/**
 * A bug that escapes the screens (a throw in a render, a rejected promise nobody awaited) would otherwise end the
 * process with a stack trace in the journal and leave the technician looking at a login prompt.
 */
function onCrash(crash: (error: unknown) => void): () => void {
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  return () => {
    process.off('uncaughtException', crash);
    process.off('unhandledRejection', crash);
  };
}

/** What the technician reads on this console after a crash, in place of the installer. */
function crashReport(error: unknown, installing: boolean): string {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return [
    'shoal-install stopped unexpectedly. This is a bug in the installer:',
    `  ${what}`,
    installing ? 'The install was stopped and its mounts released. The disk is partly written\nand will not boot as it is.' : 'Nothing was written to any disk.',
    "The details are in the journal: journalctl -b -u 'shoal-install*'",
    'Run shoal-install to start again.',
    '',
  ].join('\n');
}

/** Let the runner unmount and detach what it set up, for at most a minute. */
async function stopInstall(run: InstallRun, why: string): Promise<void> {
  run.abort(why);
  const timeout = new Promise((resolve) => setTimeout(resolve, 60_000).unref());
  await Promise.race([run.done.catch(() => undefined), timeout]);
}

export async function runConsole(session: ConsoleSession, recipe?: Recipe): Promise<number> {
  const t = terminal();
  let initial;
  if (recipe) initial = (await stateForRecipe(session, recipe)).state;
  let code = 0;
  let running: InstallRun | undefined;
  let crashed: { error: unknown; installing: boolean } | undefined;
  const instance = render(<App session={session} kind={t.kind} size={t.fixed} initial={initial} onExit={(c) => (code = c)} onRun={(r) => (running = r)} />, t.options);
  const leave = (why: string) => {
    const run = running;
    if (!run) return instance.unmount();
    void stopInstall(run, why).then(() => instance.unmount());
  };
  const offSignals = onSignals((signal) => {
    code = CONSOLE_EXIT.quit;
    leave(`${signal}: the console is stopping`);
  });
  const offCrash = onCrash((error) => {
    if (crashed) return;
    crashed = { error, installing: running !== undefined };
    code = CONSOLE_EXIT.failed;
    leave('the console installer stopped unexpectedly');
  });
  try {
    await instance.waitUntilExit().catch((error: unknown) => {
      crashed ??= { error, installing: running !== undefined };
      code = CONSOLE_EXIT.failed;
    });
    // Leaving with an install still running (it cannot, but be sure): let the runner clean up first.
    if (running) {
      running.abort('the console is closing');
      await running.done.catch(() => undefined);
    }
  } finally {
    offSignals();
    offCrash();
  }
  t.stdout.write(CLEAR);
  if (crashed) {
    process.stderr.write(`shoal-install: the console crashed: ${crashed.error instanceof Error ? crashed.error.stack : String(crashed.error)}\n`);
    t.stdout.write(crashReport(crashed.error, crashed.installing));
  }
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
