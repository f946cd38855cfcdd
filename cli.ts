import { parseArgs } from 'node:util';
import { runAuto } from './ops/auto.ts';
import { runBoot } from './ops/boot-mode.ts';
import { now, streamLine } from './ops/events.ts';
import { install } from './ops/install.ts';
import { systemPower, type PowerAction } from './ops/machine.ts';
import { classifyError, EXIT } from './ops/outcome.ts';
import { DEFAULT_LOG_DIR, defaultLogPath } from './ops/outputs/json-log.ts';
import { linePrinter } from './ops/outputs/line-printer.ts';
import { openOutputs } from './ops/outputs/outputs.ts';
import { renderPlan } from './ops/plan-text.ts';
import { ALL_STEPS, type StepName } from './ops/plan.ts';
import { loadRecipeFile, prepareInstall, type PrepareOptions, type Prepared } from './ops/prepare.ts';
import { imageSource, kernelSource, mergeSettings } from './ops/settings.ts';

const USAGE = `shoal-install: install Linux or Windows onto this machine's disk from an OCI registry

Usage:
  shoal-install [--recipe FILE] [--disk FILE] [--registry HOST[:PORT]] [--plain-http HOST[:PORT]] [--stop-before STEP]
                [--log FILE]   the console installer (needs a terminal); with --recipe it opens at Review
  shoal-install watch [--log FILE]
                       show an install that auto mode runs, read-only (default: the newest log, waiting
                       for auto mode to open one)
  shoal-install plan --recipe FILE [--disk DEV] [--plain-http HOST[:PORT]] [--stop-before STEP] [--json]
  shoal-install install --recipe FILE --yes [--disk DEV] [--plain-http HOST[:PORT]] [--stop-before STEP]
                        [--json] [--log FILE]
  shoal-install auto [--cmdline FILE] [--defaults FILE] [--task-dir DIR] [--log FILE]
  shoal-install boot [--cmdline FILE] [--defaults FILE]
                       at boot (shoal-install-boot.service): auto mode if a task ISO is attached, else the
                       console installer on tty1; shoal.auto / shoal.auto=0 force either

  --recipe FILE        a Shoal recipe.json
  --disk DEV           install onto DEV instead of the recipe's target_disk (a block device or a disk image file)
  --yes                confirm that everything on the target disk may be destroyed
  --plain-http H[:P]   reach this registry over plain HTTP (repeatable; loopback always may)
  --stop-before STEP   leave out STEP and every step after it (${ALL_STEPS.join(', ')})
  --json               print events as JSON lines instead of text
  --registry H[:P]     console: the registry to browse (default: SHOAL_REGISTRY, else the recipe's)
  --cmdline FILE       auto, boot: read the shoal.* kernel arguments from FILE instead of /proc/cmdline
  --defaults FILE      auto, boot: the image's shoal.* defaults from FILE instead of /etc/shoal/shoal.conf
  --task-dir DIR       auto: use DIR as the task ISO (recipe.json, shoal.conf, webhook_secret...) instead of
                       finding and mounting it
  --log FILE           the JSON-lines log (default ${defaultLogPath(new Date(0)).replace(/install-.*/, 'install-<time>.jsonl')})

Exit codes: 0 done, 1 a step failed, 2 bad input (usage, recipe), 3 plan refused (disk in use, layout too big,
missing disk), 130 interrupted.
`;

class UsageError extends Error {}

const OPTIONS = {
  recipe: { type: 'string' },
  disk: { type: 'string' },
  yes: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  log: { type: 'string' },
  'plain-http': { type: 'string', multiple: true },
  'stop-before': { type: 'string' },
  registry: { type: 'string' },
  cmdline: { type: 'string' },
  defaults: { type: 'string' },
  'task-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

type Values = ReturnType<typeof parse>['values'];

function stopBefore(values: Values): StepName | undefined {
  const s = values['stop-before'];
  if (s === undefined) return undefined;
  if (!(ALL_STEPS as readonly string[]).includes(s)) throw new UsageError(`--stop-before: unknown step "${s}" (steps: ${ALL_STEPS.join(', ')})`);
  return s as StepName;
}

async function prepared(values: Values, extra: Pick<PrepareOptions, 'lock' | 'signal'> = {}) {
  if (!values.recipe) throw new UsageError('--recipe FILE is required');
  const recipe = await loadRecipeFile(values.recipe);
  return prepareInstall(recipe, { disk: values.disk, plainHttp: values['plain-http'], stopBefore: stopBefore(values), ...extra });
}

async function planCommand(values: Values): Promise<number> {
  const { plan } = await prepared(values);
  process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan));
  return EXIT.ok;
}

/** SIGINT/SIGTERM abort the run; the runner then unmounts, detaches and kills what it started. */
function abortOnSignals(): { signal: AbortSignal; interrupted: () => boolean; dispose: () => void } {
  const ctl = new AbortController();
  const onSignal = (name: string) => {
    process.stderr.write(`\n${name}: stopping the install and cleaning up...\n`);
    ctl.abort(new Error(name));
  };
  const int = () => onSignal('SIGINT');
  const term = () => onSignal('SIGTERM');
  process.on('SIGINT', int).on('SIGTERM', term);
  return {
    signal: ctl.signal,
    interrupted: () => ctl.signal.aborted,
    dispose: () => void process.off('SIGINT', int).off('SIGTERM', term),
  };
}

const STOPPED_EARLY = 'shoal-install: stopped before the install started: nothing was written\n';

async function installCommand(values: Values): Promise<number> {
  // From the start: a signal while the recipe's payloads are fetched or the disk is checked is an interrupt too.
  const aborting = abortOnSignals();
  try {
    // Only a confirmed install locks the disk; without --yes it just shows the plan.
    const ready = await prepared(values, { lock: values.yes, signal: aborting.signal }).catch((e: unknown) => {
      if (classifyError(e, aborting.signal).source === 'interrupted') return undefined;
      throw e;
    });
    if (!ready) {
      process.stderr.write(STOPPED_EARLY);
      return EXIT.interrupted;
    }
    try {
      return await installPrepared(values, ready, aborting);
    } finally {
      ready.lock?.release();
    }
  } finally {
    aborting.dispose();
  }
}

async function installPrepared(values: Values, ready: Prepared, aborting: ReturnType<typeof abortOnSignals>): Promise<number> {
  const { plan } = ready;
  if (!values.yes) {
    process.stderr.write(renderPlan(plan));
    throw new UsageError(`nothing was written: add --yes to confirm that everything on ${plan.disk.path} may be destroyed`);
  }
  if (aborting.interrupted()) {
    process.stderr.write(STOPPED_EARLY);
    return EXIT.interrupted;
  }
  const logPath = values.log ?? defaultLogPath();
  const face = values.json ? (e: Parameters<typeof streamLine>[0]) => void process.stdout.write(`${streamLine(e)}\n`) : linePrinter((l) => process.stdout.write(`${l}\n`));
  const outputs = openOutputs({ logPath, faces: [face] });
  // The plan is not printed here: its warnings (such as what a dead install left and was cleared) go to the log.
  for (const message of plan.warnings) outputs.emit({ type: 'log', at: now(), level: 'warn', message });
  let exitCode: number;
  try {
    exitCode = (await install(ready, outputs, aborting.signal)).exitCode;
  } finally {
    await outputs.close();
  }
  if (!values.json) process.stdout.write(`Full log: ${logPath}\n`);
  return exitCode;
}

/** Unattended install at boot (README: Auto mode); ops/auto.ts reports every failure itself, so its exit code is final. */
async function autoCommand(values: Values): Promise<number> {
  const aborting = abortOnSignals();
  try {
    // Once the install is over, the shutdown it asks for sends SIGTERM: that is not an interrupted install.
    const power = (action: PowerAction) => {
      aborting.dispose();
      return systemPower(action);
    };
    return (await runAuto({ cmdlineFile: values.cmdline, defaultsFile: values.defaults, taskDir: values['task-dir'], logPath: values.log, signal: aborting.signal, power }))
      .exitCode;
  } finally {
    aborting.dispose();
  }
}

/** No command: the console installer on this terminal (tui/). Its exit codes are CONSOLE_EXIT (10 = give me a shell). */
async function consoleCommand(values: Values): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      'shoal-install: the console installer needs a terminal, and stdin or stdout is not one.\n' +
        'For an unattended install use "shoal-install install --recipe FILE --yes" or "shoal-install auto"; "shoal-install --help" lists all.\n',
    );
    return EXIT.badInput;
  }
  const { ConsoleSession } = await import('./ops/console-session.ts');
  const { runConsole } = await import('./tui/run.tsx');
  const recipe = values.recipe ? await loadRecipeFile(values.recipe) : undefined;
  // A technician's boot has no task ISO, but the kernel command line (edited at the boot menu) or the image's
  // defaults may name the controller's plain-HTTP registry: shoal.plain_http counts for the console too.
  const settings = mergeSettings([(await kernelSource()).source, await imageSource()]);
  const session = new ConsoleSession({
    extraDisks: values.disk ? [values.disk] : [],
    registry: values.registry,
    plainHttp: [...(values['plain-http'] ?? []), ...(settings.args.plainHttp ?? [])],
    stopBefore: stopBefore(values),
    logFile: values.log,
  });
  try {
    return await runConsole(session, recipe && values.disk ? { ...recipe, target_disk: values.disk } : recipe);
  } finally {
    await session.close();
  }
}

/** The Install screen, read-only, following an install's JSON-lines log (auto mode writes one). */
async function watchCommand(values: Values): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write('shoal-install: watch needs a terminal; "tail -f" the JSON-lines log instead\n');
    return EXIT.badInput;
  }
  const { followLatestLog, followLog } = await import('./ops/outputs/log-follower.ts');
  const { runWatch } = await import('./tui/run.tsx');
  const path = values.log;
  if (path) return runWatch(path, (onEvent, signal) => followLog(path, onEvent, signal));
  return runWatch(`the newest log in ${DEFAULT_LOG_DIR}`, (onEvent, signal) => followLatestLog(onEvent, signal));
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    const [command, ...rest] = positionals;
    if (values.help || command === 'help') {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (command === 'plan') return await planCommand(values);
    if (command === 'install') return await installCommand(values);
    if (command === 'auto') return await autoCommand(values);
    if (command === 'boot') return (await runBoot({ cmdlineFile: values.cmdline, defaultsFile: values.defaults })).exitCode;
    if (command === undefined) return await consoleCommand(values);
    if (command === 'watch') return await watchCommand(values);
    throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`shoal-install: ${e.message}\n\n${USAGE}`);
      return EXIT.badInput;
    }
    const failure = classifyError(e);
    if (failure.source === 'unexpected') throw e;
    process.stderr.write(`shoal-install: ${failure.message}\n`);
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv.slice(2));
