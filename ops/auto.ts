/**
 * Auto mode: the unattended install at boot (`shoal-install auto`, started by shoal-install-auto.service when the
 * boot found a task ISO, or the settings say `shoal.auto`). The shoal.* settings (kernel command line, the task
 * ISO's shoal.conf, the image's defaults) + the task ISO's recipe -> a checked plan -> the runner, with
 * throttled plain lines on the console/journal, the JSON-lines log, and the Shoal status webhook at the end.
 * Everything is validated before a disk is touched; anything wrong before the first step is reported as
 * `provision-dispatcher.service`.
 */
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { now, type InstallResult } from './events.ts';
import { exists } from './exists.ts';
import { install } from './install.ts';
import { KernelArgsError, type KernelArgs } from './kargs.ts';
import { machineFacts, machineSerial, systemPower, type MachineFacts, type PowerAction } from './machine.ts';
import { classifyError, EXIT, type ErrorSource, type ExitCode } from './outcome.ts';
import { defaultLogPath } from './outputs/json-log.ts';
import { linePrinter } from './outputs/line-printer.ts';
import { openOutputs } from './outputs/outputs.ts';
import { renderPlan } from './plan-text.ts';
import type { StepName } from './plan.ts';
import type { DiskLock } from './disk-lock.ts';
import { prepareInstall, type Prepared } from './prepare.ts';
import { parseRecipe, parseRecipeText, RecipeError, type Recipe } from './recipe.ts';
import { DISPATCHER_STEP, makeStatusReport, postStatus, type PostOutcome, reportedBlobs, reportedTarget, type ReportedTarget, type WebhookTarget } from './report.ts';
import type { StepImpl } from './runner.ts';
import { imageSource, kernelSource, mergeSettings, settingOrigins, taskSource } from './settings.ts';
import { TASK_FILES, TaskIsoError, type Drive, type MountFn, type Task } from './task-iso.ts';
import { locateTask, readTaskFile, schemaIdOf } from './task-source.ts';
import { registryEndpoints, waitForRegistry } from './net-wait.ts';

export interface AutoOptions {
  /** Stands in for /proc/cmdline. */
  cmdlineFile?: string;
  /** Stands in for the image's defaults, /etc/shoal/shoal.conf. */
  defaultsFile?: string;
  /** A directory standing in for the mounted task ISO (recipe.json and its neighbours). */
  taskDir?: string;
  logPath?: string;
  /** The console (and, through systemd, the journal). Default: stdout. */
  write?: (line: string) => void;
  /** `systemctl poweroff|reboot` by default. */
  power?: (action: PowerAction) => Promise<void>;
  webhookRetryDelaysMs?: readonly number[];
  webhookTimeoutMs?: number;
  /** The drives that may hold the task ISO (default: every optical, removable or USB drive but the boot medium). */
  drives?: () => Promise<Drive[]>;
  mountPoint?: string;
  env?: NodeJS.ProcessEnv;
  steps?: Record<StepName, StepImpl>;
  machine?: MachineFacts;
  signal?: AbortSignal;
  progressEveryMs?: number;
  /** How often to look for the task ISO while waiting. */
  pollMs?: number;
  /** Mounts the task ISO read-only and returns the unmount; default `mount -o ro -t iso9660` (tests stand in for it). */
  mount?: MountFn;
}

export interface AutoOutcome {
  exitCode: number;
  status: 'success' | 'failed' | 'disabled';
  failedStep?: string;
  report?: PostOutcome;
  logPath?: string;
}

/** Something about the job itself (kernel args, task ISO, recipe, plan) is wrong: nothing was written. */
class DispatcherFailure extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'DispatcherFailure';
  }
}

/** What to fix, by where the error came from (ops/outcome.ts), unless the error says itself. */
const HINT: Partial<Record<ErrorSource, string>> = {
  settings: 'fix the shoal.* settings (kernel command line, shoal.conf on the task ISO, /etc/shoal/shoal.conf; the README\'s "Settings" lists them) and boot the job again',
  task: "attach the job's task ISO as virtual media (recipe.json at its root), or name the recipe with shoal.recipe=",
  recipe: 'fix recipe.json on the task ISO (or the shoal.* overrides) and start the job again',
  refused:
    'the recipe does not fit this machine: check target_disk (or shoal.disk=, target_disk_hints) against `lsblk` and the partition sizes; a "wipe" refusal means the disk holds what the guard keeps: choose another disk, or clear that one on purpose',
};

/** The recipe with the kernel's overrides and the task ISO's credential files folded in, checked again by zod. */
async function effectiveRecipe(recipe: Recipe, args: KernelArgs, dir: string | undefined): Promise<Recipe> {
  const registry = { ...recipe.registry, ...args.registryOverrides };
  if (registry.password === undefined && dir && (await exists(join(dir, TASK_FILES.registryPassword)))) {
    registry.password = { path: join(dir, TASK_FILES.registryPassword) };
  }
  if (registry.username === undefined) registry.username = await readTaskFile(dir, TASK_FILES.registryUsername);
  if (args.registryCa !== undefined) {
    if (!isAbsolute(args.registryCa) && !dir) {
      throw new DispatcherFailure(`shoal.registry_ca=${args.registryCa}: a relative path needs the task ISO`, HINT.settings!, EXIT.badInput);
    }
    registry.ca_file = isAbsolute(args.registryCa) ? args.registryCa : join(dir!, args.registryCa);
  }
  const merged: Record<string, unknown> = { ...recipe };
  if (Object.values(registry).some((v) => v !== undefined)) merged.registry = JSON.parse(JSON.stringify(registry));
  if (args.image !== undefined) merged.oci_url = args.image;
  if (args.diskHints !== undefined) merged.target_disk_hints = args.diskHints;
  if (args.kargs !== undefined) merged.kernel_args = args.kargs;
  try {
    return parseRecipe(merged);
  } catch (e) {
    if (e instanceof RecipeError) throw new RecipeError(e.problems.map((p) => `${p} (after the shoal.* overrides)`));
    throw e;
  }
}

/** The target disk may show up a little after boot (USB, RAID controllers): wait for its node, bounded. */
async function waitForDisk(path: string | undefined, seconds: number, opts: AutoOptions, say: (m: string) => void): Promise<void> {
  if (!path?.startsWith('/dev/') || (await exists(path))) return;
  // Without udev no /dev/disk/by-* link ever appears: the name is resolved from the disks' facts instead.
  if (path.startsWith('/dev/disk/') && !(await exists('/dev/disk'))) return;
  say(`waiting up to ${seconds} s for ${path} to appear`);
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline && !(await exists(path))) await sleep(Math.min(opts.pollMs ?? 1000, 1000), undefined, { signal: opts.signal });
}

// --- the run ---------------------------------------------------------------------------------------------------

/** An error before the first step, in auto mode's words (the console summary, the log, the report). */
function classify(e: unknown, signal?: AbortSignal): DispatcherFailure {
  if (signal?.aborted) return new DispatcherFailure('auto mode was stopped (SIGINT/SIGTERM) before the install started', 'start the job again', EXIT.interrupted);
  if (e instanceof DispatcherFailure) return e;
  const c = classifyError(e);
  if (c.source === 'unexpected') {
    return new DispatcherFailure(`unexpected error before the install started: ${(e as Error).stack ?? String(e)}`, 'this is a bug in shoal-install: keep the log', EXIT.failed);
  }
  return new DispatcherFailure(c.message, c.hint ?? HINT[c.source] ?? '', c.exitCode);
}

const TAIL_LINES = 15;

/** Run auto mode to the end: install, report, then power off/reboot on success or stay up on failure. */
export async function runAuto(opts: AutoOptions = {}): Promise<AutoOutcome> {
  const write = opts.write ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const startedAt = now();
  const kernel = (await kernelSource(opts.cmdlineFile)).source;
  const image = await imageSource(opts.defaultsFile);
  // Until the task ISO is found, what the kernel command line and the image say decides where to look for it.
  const base = mergeSettings([kernel, image]);
  let args = base.args;
  if (args.auto === false) {
    write(`shoal-install auto: shoal.auto=0 (from ${base.from.get('auto')!.label}): auto mode is off, nothing to do`);
    return { exitCode: EXIT.ok, status: 'disabled' };
  }

  const logPath = opts.logPath ?? defaultLogPath();
  const tail: string[] = [];
  const console_ = (line: string) => {
    for (const l of line.split('\n')) {
      tail.push(l);
      if (tail.length > TAIL_LINES) tail.shift();
    }
    write(line);
  };
  const outputs = openOutputs({ logPath, faces: [linePrinter(console_, opts.progressEveryMs ?? 3000)] });
  const emit = outputs.emit;
  const say = (message: string, level: 'info' | 'warn' | 'error' = 'info') => emit({ type: 'log', at: now(), level, message });

  let task: Task | undefined;
  let recipe: Recipe | undefined;
  let schemaId: string | undefined;
  let webhook: WebhookTarget | undefined;
  let failure: { step: string; message: string; hint?: string; exitCode: ExitCode } | undefined;
  let result: InstallResult | undefined;
  let diskLock: DiskLock | undefined;
  let chosenDisk: ReportedTarget | undefined;
  /** Every secret known so far (the webhook secret, then the recipe's): kept out of the runner's events and the webhook's lines. */
  const knownSecrets: string[] = [];

  try {
    write(`shoal-install auto ${startedAt}: log ${logPath}`);

    try {
      // The task ISO is looked for even when the settings are wrong: the webhook secret lives there.
      let missing: unknown;
      const locate = { ...opts, waitSeconds: args.taskWaitSeconds };
      task = await locateTask(args.recipe, locate, (m) => say(m)).catch((e: unknown) => void (missing = e));
      const taskDir = task?.dir ?? (missing instanceof TaskIsoError ? missing.dir : undefined);
      const settings = mergeSettings([kernel, taskDir ? await taskSource(taskDir) : undefined, image]);
      args = settings.args;
      for (const w of settings.warnings) say(w, 'warn');
      for (const line of settingOrigins(settings)) say(line);
      if (args.auto === undefined) say('shoal.auto is not set: auto mode runs because the boot found a task ISO (or it was started by hand)');
      const serial = args.serial ?? (await machineSerial(opts.env ?? process.env));
      say(`machine serial: ${serial}${args.serial ? ' (shoal.serial)' : ''}`);
      const secret = (await readTaskFile(taskDir, TASK_FILES.webhookSecret)) || args.webhookSecret;
      if (secret) knownSecrets.push(secret);
      if (args.webhook) webhook = { url: args.webhook, serial, secret };
      else say('no shoal.webhook= (kernel command line, shoal.conf on the task ISO or in the image): the outcome will not be reported to a controller', 'warn');
      if (settings.problems.length) throw new KernelArgsError(settings.problems);
      if (!task) throw missing;
      say(`recipe from ${task.from}`);
      schemaId = await schemaIdOf(task.dir);
      const fromIso = parseRecipeText(task.recipeText, TASK_FILES.recipe);
      recipe = fromIso;
      recipe = await effectiveRecipe(fromIso, args, task.dir);
      const disk = args.disk ?? recipe.target_disk;
      await waitForDisk(disk, args.taskWaitSeconds, opts, (m) => say(m));
      // Before the recipe's payloads are fetched and the image is pulled: DHCP may still be at work.
      const plain = [...(recipe.registry?.plain_http ?? []), ...(args.plainHttp ?? [])];
      const sources = registryEndpoints(recipe.oci_url, recipe.registry?.mirrors ?? [], plain);
      if (args.netWaitSeconds > 0) await waitForRegistry(sources, args.netWaitSeconds, { say, signal: opts.signal, pollMs: opts.pollMs });
      const machine = { ...(opts.machine ?? (await machineFacts())), serial };
      const prepared: Prepared = await prepareInstall(recipe, { disk: args.disk, plainHttp: args.plainHttp, machine, lock: true, signal: opts.signal });
      diskLock = prepared.lock;
      chosenDisk = reportedTarget(prepared.plan);
      knownSecrets.push(...prepared.secrets);
      for (const w of prepared.plan.warnings) say(w, 'warn');
      write(renderPlan(prepared.plan).trimEnd());

      const outcome = await install(prepared, outputs, opts.signal ?? new AbortController().signal, { steps: opts.steps, secrets: knownSecrets });
      result = outcome.result;
      if (outcome.status !== 'done') failure = { step: outcome.step ?? DISPATCHER_STEP, message: outcome.message, hint: outcome.hint, exitCode: outcome.exitCode };
    } catch (e) {
      const f = classify(e, opts.signal);
      failure = { step: DISPATCHER_STEP, message: f.message, hint: f.hint, exitCode: f.exitCode };
      // The console gets the summary below; the log gets the error as an event.
      outputs.toLog({ type: 'log', at: now(), level: 'error', message: `${f.message}\n  what to do: ${f.hint}` });
      // Followers of the log (the console's watch mode) wait for a result: give them one (the console has the summary).
      outputs.toLog({ type: 'result', at: now(), result: { ok: false, message: f.message, startedAt, finishedAt: now(), steps: [], partitions: [] } });
    }

    if (failure) printFailure(write, failure, tail, logPath);

    let report: PostOutcome | undefined;
    if (webhook) {
      const body = makeStatusReport({
        status: failure ? 'failed' : 'success',
        failed_step: failure?.step,
        task_target: recipe?.task_target,
        started_at: startedAt,
        finished_at: now(),
        schema_id: schemaId ?? (recipe ? recipe.schema_version : undefined),
        target_disk: chosenDisk,
        image_digest: result?.imageDigest,
        blobs: reportedBlobs(result?.blobs, knownSecrets),
      });
      // Stopped by a signal (shutdown, Ctrl+C): one quick attempt, no retries that would hold the shutdown up.
      const stopping = opts.signal?.aborted === true;
      report = await postStatus(webhook, body, {
        retryDelaysMs: stopping ? [] : opts.webhookRetryDelaysMs,
        busyPatienceMs: stopping ? 0 : args.busyPatienceSeconds === undefined ? undefined : args.busyPatienceSeconds * 1000,
        timeoutMs: opts.webhookTimeoutMs,
        signal: stopping ? undefined : opts.signal,
        log: (m, level) => say(m, level),
        redact: knownSecrets,
      }).catch((e: Error) => ({ delivered: false as const, attempts: 0, permanent: false, reason: e.message }));
      if (!report.delivered) write(`The controller was NOT told about this outcome: ${report.reason}`);
    }

    if (failure) {
      write('This machine stays up for inspection (log in on another console, e.g. Alt+F2).');
      return { exitCode: failure.exitCode, status: 'failed', failedStep: failure.step, report, logPath };
    }
    await outputs.close();
    if (args.after) {
      write(`Install finished: ${args.after === 'poweroff' ? 'powering off' : 'rebooting'} (shoal.${args.after}).`);
      await (opts.power ?? systemPower)(args.after).catch((e: Error) => write(`systemctl ${args.after} failed: ${e.message}`));
    } else {
      write('Install finished: staying up (add shoal.poweroff or shoal.reboot to the kernel command line to change this).');
    }
    return { exitCode: EXIT.ok, status: 'success', report, logPath };
  } finally {
    diskLock?.release();
    await task?.release();
    await outputs.close();
  }
}

function printFailure(write: (l: string) => void, f: { step: string; message: string; hint?: string }, tail: string[], logPath: string) {
  const rule = '='.repeat(72);
  write(
    [
      '',
      rule,
      `INSTALL FAILED at ${f.step}`,
      ...f.message.split('\n').map((l) => `  ${l}`),
      ...(f.hint ? [`  what to do: ${f.hint}`] : []),
      '',
      `Last ${tail.length} log lines:`,
      ...tail.map((l) => `  | ${l}`),
      '',
      `Full log: ${logPath}`,
      '          journalctl -b -u shoal-install-auto.service',
      rule,
    ].join('\n'),
  );
}
