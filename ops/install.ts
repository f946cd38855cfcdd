/**
 * The one way into an install, for the CLI, auto mode and the console: a prepared plan run with its inputs and
 * secrets, every event to the outputs, and how it ended as a typed outcome with its exit code.
 */
import type { DiskLock } from './disk-lock.ts';
import type { ImageSession } from './image-source.ts';
import type { InstallResult } from './events.ts';
import { EXIT } from './outcome.ts';
import type { Outputs } from './outputs/outputs.ts';
import type { StepName } from './plan.ts';
import type { Prepared } from './prepare.ts';
import { runPlan, type StepImpl } from './runner.ts';
import { STEPS } from './steps/index.ts';

interface Ended {
  result: InstallResult;
  /** The step that failed; none when the run failed before its first step. */
  step?: StepName;
  message: string;
  /** The failed step's advice (StepError, RegistryError). */
  hint?: string;
}

export type InstallOutcome =
  | { status: 'done'; exitCode: typeof EXIT.ok; result: InstallResult }
  | ({ status: 'failed'; exitCode: typeof EXIT.failed } & Ended)
  | ({ status: 'interrupted'; exitCode: typeof EXIT.interrupted } & Ended);

export interface InstallOptions {
  /** Tests stand in for steps; the real ones by default. */
  steps?: Record<StepName, StepImpl>;
  /** Secrets besides the recipe's (auto mode's webhook secret): kept out of every event. */
  secrets?: readonly string[];
  /** A retry: start at this step (resumePoint in ops/steps/index.ts). */
  resumeFrom?: StepName;
  /** The hold on the disk, when not the one prepareInstall took (the console locks at its recheck). */
  disk?: DiskLock;
  /** The run's image session (a retry's holds the earlier attempt's image); a new one by default. */
  image?: ImageSession;
}

/** Runs to the end however it ends (the runner unwinds what it set up); releasing the disk and closing the outputs stay with the caller. */
export async function install(prepared: Prepared, outputs: Pick<Outputs, 'emit'>, signal: AbortSignal, opts: InstallOptions = {}): Promise<InstallOutcome> {
  let hint: string | undefined;
  const result = await runPlan(prepared.plan, {
    steps: opts.steps ?? STEPS,
    inputs: prepared.inputs,
    secrets: [...new Set([...prepared.secrets, ...(opts.secrets ?? [])])],
    resumeFrom: opts.resumeFrom,
    signal,
    disk: opts.disk ?? prepared.lock,
    image: opts.image,
    onEvent: (e) => {
      if (e.type === 'step-fail') hint = e.hint;
      outputs.emit(e);
    },
  });
  if (result.ok) return { status: 'done', exitCode: EXIT.ok, result };
  const ended: Ended = { result, step: result.failedStep, message: result.message ?? 'the install failed', hint };
  return signal.aborted ? { status: 'interrupted', exitCode: EXIT.interrupted, ...ended } : { status: 'failed', exitCode: EXIT.failed, ...ended };
}
