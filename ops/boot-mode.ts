/**
 * What the maintenance OS runs at boot, with no kernel argument (a Shoal controller cannot set one): when a task
 * ISO with recipe.json is attached, auto mode, with its progress on tty1; otherwise the console installer on tty1.
 * The settings force either way: `shoal.auto` / `shoal.auto=0` on the kernel command line or in the image's
 * shoal.conf, `shoal.auto=0` in the task ISO's. shoal-install-boot.service runs this once and starts the units.
 */
import { run } from './exec.ts';
import { imageSource, kernelSource, mergeSettings, taskSource } from './settings.ts';
import { findTaskIso, TaskIsoError, type FindOptions, type Task } from './task-iso.ts';

/** The units each mode starts. */
export const MODE_UNITS = {
  auto: ['shoal-install-auto.service', 'shoal-install-watch.service'],
  console: ['shoal-install-console.service'],
} as const;
export type BootMode = keyof typeof MODE_UNITS;

export interface BootDecision {
  mode: BootMode;
  /** Why, for the console and the journal. */
  reason: string;
}

/**
 * With no drive to wait for (none at all, or each one checked), give up this soon: a machine without virtual
 * media must not keep its technician waiting, while a BMC's USB CD-ROM still has a few seconds to show up.
 */
const DETECT_GRACE_SECONDS = 5;

/** `systemd.wants=shoal-install-serial@ttyS0.service`: a technician asked for the installer on a serial line. */
const SERIAL_UNIT = /^shoal-install-serial@[^\s/]+\.service$/;

export interface BootOptions {
  /** Stands in for /proc/cmdline. */
  cmdlineFile?: string;
  /** Stands in for /etc/shoal/shoal.conf. */
  defaultsFile?: string;
  /** How to look for the task ISO (drives, mount, mount point, poll interval); the wait comes from shoal.detect_wait. */
  find?: Omit<FindOptions, 'waitSeconds'>;
  say?: (message: string) => void;
}

export async function decideBootMode(opts: BootOptions = {}): Promise<BootDecision> {
  const say = opts.say ?? (() => undefined);
  const { source: kernel, words } = await kernelSource(opts.cmdlineFile);
  // The task ISO's shoal.conf cannot say where to look for the task ISO: only these two can.
  const base = mergeSettings([kernel, await imageSource(opts.defaultsFile)]);
  // Auto mode refuses a job with bad settings and reports it; the choice of mode goes on with what is valid.
  for (const problem of base.problems) say(`not valid, left out of this choice: ${problem}`);
  const { auto, recipe, detectWaitSeconds } = base.args;
  if (auto !== undefined) return { mode: auto ? 'auto' : 'console', reason: `shoal.auto${auto ? '' : '=0'} from ${base.from.get('auto')!.label}` };
  if (recipe) return { mode: 'auto', reason: `shoal.recipe from ${base.from.get('recipe')!.label} names the job's recipe` };
  const serial = words.find((w) => w.key === 'systemd.wants' && SERIAL_UNIT.test(w.value ?? ''));
  if (serial) return { mode: 'console', reason: `the kernel command line starts the console installer on a serial line (systemd.wants=${serial.value})` };

  let task: Task;
  try {
    task = await findTaskIso({ graceSeconds: DETECT_GRACE_SECONDS, ...opts.find, waitSeconds: detectWaitSeconds }, say);
  } catch (e) {
    if (e instanceof TaskIsoError) return { mode: 'console', reason: e.message };
    throw e;
  }
  try {
    const conf = await taskSource(task.dir!);
    if (conf?.values.auto === false) return { mode: 'console', reason: `recipe.json on ${task.from}, but its shoal.conf says shoal.auto=0` };
    return { mode: 'auto', reason: `recipe.json on ${task.from}` };
  } finally {
    await task.release();
  }
}

export interface RunBootOptions extends BootOptions {
  /** Default: `systemctl start --no-block UNIT...` (the boot must not wait for the install). */
  start?: (units: readonly string[]) => Promise<void>;
  write?: (line: string) => void;
}

/** Decide and start the units. Whatever goes wrong in deciding, a technician still gets the console installer. */
export async function runBoot(opts: RunBootOptions = {}): Promise<{ exitCode: number; decision: BootDecision }> {
  const write = opts.write ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const say = (m: string) => write(`shoal-install boot: ${m}`);
  let decision: BootDecision;
  try {
    decision = await decideBootMode({ ...opts, say });
  } catch (e) {
    decision = { mode: 'console', reason: `could not look for a task ISO (${(e as Error).message})` };
  }
  const units = MODE_UNITS[decision.mode];
  say(`${decision.mode === 'auto' ? 'auto mode' : 'the console installer'}: ${decision.reason}; starting ${units.join(' ')}`);
  try {
    await (opts.start ?? ((u) => run(['systemctl', 'start', '--no-block', ...u]).then(() => undefined)))(units);
    return { exitCode: 0, decision };
  } catch (e) {
    say(`could not start ${units.join(' ')}: ${(e as Error).message}`);
    return { exitCode: 1, decision };
  }
}
