import type { DiskLock } from './disk-lock.ts';
import { now } from './event-time.ts';
import type { EventSink, InstallResult } from './events.ts';
import { run, spawn, redactText, type ExecOptions } from './exec.ts';
import { ImageSession } from './image-source.ts';
import type { Plan, StepName } from './plan.ts';
import { ProgressMeter } from './progress.ts';
import { secretLines } from './public-recipe.ts';

/** What the steps learn as they go and hand to the steps after them. */
export interface InstallState {
  /** The disk's block device (the loop device when the target is an image file). */
  device?: string;
  partitionDevices: Record<number, string>;
  fsUuids: Record<number, string>;
  /** A Linux target: the directory its root filesystem is mounted on, with the layout's other filesystems beneath. */
  targetRoot?: string;
  /** A Windows target: where the applied Windows volume is mounted (read-write), for the steps after the image's. */
  windowsMount?: string;
  /** The image this run installs and its registry connections. */
  image: ImageSession;
}

/** A failure that knows what the operator should do about it. */
export class StepError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

/** StepError and RegistryError say what to do; other errors (a command's stderr) speak for themselves. */
const hintOf = (e: unknown): string | undefined => {
  const hint = (e as { hint?: unknown } | undefined)?.hint;
  return typeof hint === 'string' ? hint : undefined;
};

export interface StepContext {
  plan: Plan;
  state: InstallState;
  step: StepName;
  signal: AbortSignal;
  exec(argv: string[], opts?: ExecOptions): Promise<{ stdout: string; stderr: string }>;
  spawn(argv: string[], opts?: ExecOptions): ReturnType<typeof spawn>;
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
  /** A progress meter; `phase`/`unit` label a second meter in the same step (the download is the unlabelled one). */
  meter(total: number | undefined, label?: { phase?: string; unit?: 'bytes' | 'files' }): ProgressMeter;
  /** Register an undo (unmount, detach, kill) that runs when the install ends, however it ends. */
  defer(label: string, undo: () => Promise<unknown>): void;
  inputs: InstallInputs;
}

export interface StepImpl {
  title: string;
  /** Checks that need the network or the image (does the tag exist? is wim_index there?), run before any step writes. */
  preflight?(ctx: StepContext): Promise<void>;
  run(ctx: StepContext): Promise<void>;
  /** When a retry starts after this step: pick up what it left (devices, UUIDs) without doing it again. */
  reattach?(ctx: StepContext): Promise<void>;
}

/** Secret or fetched inputs, resolved before the first write so a missing file fails early. */
export interface InstallInputs {
  userData?: Buffer;
  unattendXml?: Buffer;
  registryPassword?: string;
  plainHttp?: string[];
}

export interface RunOptions {
  steps: Record<StepName, StepImpl>;
  inputs?: InstallInputs;
  /** Retry: the steps before this one are taken as done by an earlier attempt of the same plan (see resumePoint in ops/steps/index.ts). */
  resumeFrom?: StepName;
  onEvent: EventSink;
  signal?: AbortSignal;
  /** Registry passwords, user-data, unattend.xml: scrubbed from every event as a last line of defence. */
  secrets?: string[];
  /** The install's hold on the disk: a step fails when the disk went away under it (an image file deleted). */
  disk?: Pick<DiskLock, 'checkIntact'>;
  /** The run's image session; a retry passes one holding the earlier attempt's resolved image. */
  image?: ImageSession;
}

/** Every string in the event through redactText: on the strings themselves, where a line break is a line break. */
function scrub<T>(value: T, secrets: readonly string[]): T {
  if (!secrets.length) return value;
  if (typeof value === 'string') return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => scrub(v, secrets)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)])) as T;
  return value;
}

function partitionsOf(plan: Plan, state: InstallState): InstallResult['partitions'] {
  return plan.partitions.map((p) => ({
    number: p.number,
    device: state.partitionDevices[p.number] ?? '',
    partGuid: p.partGuid,
    fsUuid: state.fsUuids[p.number],
    label: p.label,
    mountpoint: p.mountpoint,
  }));
}

async function unwind(cleanups: { label: string; undo: () => Promise<unknown> }[], log: (m: string, l: 'warn') => void) {
  for (const c of cleanups.reverse()) {
    try {
      await c.undo();
    } catch (e) {
      log(`cleanup "${c.label}" failed: ${(e as Error).message}`, 'warn');
    }
  }
}

/**
 * Resume where a retry may, then check every step first (nothing written), then run them in order; always release what was set up; report one result.
 */
export async function runPlan(plan: Plan, opts: RunOptions): Promise<InstallResult> {
  const secrets = opts.secrets ?? [];
  const emit: EventSink = (e) => opts.onEvent(scrub(e, secrets));
  const signal = opts.signal ?? new AbortController().signal;
  const state: InstallState = { partitionDevices: {}, fsUuids: {}, image: opts.image ?? new ImageSession() };
  const cleanups: { label: string; undo: () => Promise<unknown> }[] = [];
  const startedAt = now();
  const done: InstallResult['steps'] = [];
  let failure: { step: StepName; message: string } | undefined;
  let unwinding = false;
  // The running step's meters, pulsed each second so that a stall is reported, not just a silence.
  const meters = new Set<ProgressMeter>();
  const heartbeat = setInterval(() => meters.forEach((m) => m.pulse()), 1000);
  heartbeat.unref();

  const contextFor = (step: StepName): StepContext => {
    const onCommand = (command: string) => emit({ type: 'command', at: now(), step, command });
    // Cleanups run after an abort too, so from then on commands no longer take the abort signal.
    const execOpts = (o: ExecOptions = {}): ExecOptions => ({ signal: unwinding ? undefined : signal, onCommand, ...o, redact: [...secrets, ...(o.redact ?? [])] });
    return {
      plan,
      state,
      step,
      signal,
      exec: (argv, o) => run(argv, execOpts(o)),
      spawn: (argv, o) => spawn(argv, execOpts(o)),
      log: (message, level = 'info') => emit({ type: 'log', at: now(), level, step, message }),
      meter: (total, label) => {
        const m = new ProgressMeter(total, (p) => emit({ type: 'progress', at: now(), step, ...p, ...label }));
        meters.add(m);
        return m;
      },
      defer: (label, undo) => cleanups.push({ label, undo }),
      inputs: opts.inputs ?? {},
    };
  };
  const attempt = async (step: StepName, body: () => Promise<void>): Promise<boolean> => {
    try {
      if (signal.aborted) throw new StepError('the install was aborted', 'start the install again when ready');
      await body();
      return true;
    } catch (e) {
      const message = signal.aborted ? `aborted during ${opts.steps[step].title.toLowerCase()}` : (e as Error).message;
      emit({ type: 'step-fail', at: now(), step, message, hint: hintOf(e) });
      failure = { step, message };
      return false;
    } finally {
      meters.clear();
    }
  };

  // How each secret input was read (README "Recipes"), by size and digest: the log's account of what went in.
  for (const line of secretLines(plan.recipe)) emit({ type: 'log', at: now(), level: 'info', message: line });
  for (const s of plan.skipped) emit({ type: 'step-skip', at: now(), step: s, reason: 'left out by --stop-before' });
  const first = opts.resumeFrom ? Math.max(0, plan.steps.indexOf(opts.resumeFrom)) : 0;
  const earlier = plan.steps.slice(0, first);
  const todo = plan.steps.slice(first);
  for (const step of earlier) {
    emit({ type: 'step-skip', at: now(), step, reason: 'done in the earlier attempt' });
    const reattach = opts.steps[step].reattach;
    if (reattach && !(await attempt(step, () => reattach(contextFor(step))))) break;
  }
  for (const step of failure ? [] : todo) {
    const check = opts.steps[step].preflight;
    if (check && !(await attempt(step, () => check(contextFor(step))))) break;
  }
  for (const step of failure ? [] : todo) {
    const impl = opts.steps[step];
    const t0 = Date.now();
    emit({ type: 'step-start', at: now(), step, title: impl.title });
    const body = async () => {
      await impl.run(contextFor(step));
      opts.disk?.checkIntact();
    };
    if (!(await attempt(step, body))) break;
    done.push({ step, durationMs: Date.now() - t0 });
    emit({ type: 'step-end', at: now(), step, durationMs: Date.now() - t0 });
  }
  clearInterval(heartbeat);
  unwinding = true;
  // The image session opened with the run, so it closes after everything the steps set up.
  await unwind([{ label: 'close the registry connections', undo: () => state.image.close() }, ...cleanups], (message, level) => emit({ type: 'log', at: now(), level, message }));
  const result: InstallResult = {
    ok: !failure,
    failedStep: failure?.step,
    message: failure?.message,
    startedAt,
    finishedAt: now(),
    steps: done,
    imageDigest: state.image.digest,
    blobs: state.image.blobs,
    partitions: partitionsOf(plan, state),
  };
  emit({ type: 'result', at: now(), result });
  // What callers print (auto mode's failure summary, the console's Failed screen) is as scrubbed as the event.
  return scrub(result, secrets);
}
