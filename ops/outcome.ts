/**
 * What an error means for whoever started the install (the CLI, auto mode, the console): its exit code and the
 * reasons to show. One classification, so that the same refusal is exit 3 on every path (README: exit codes).
 */
import { DiskError } from './disks.ts';
import { KernelArgsError } from './kargs.ts';
import { NetworkUnreachable } from './net-wait.ts';
import { PlanRefused } from './plan.ts';
import { RecipeError } from './recipe.ts';
import { TaskIsoError } from './task-iso.ts';

/** Exit codes of `shoal-install install` and `shoal-install auto`, also in the README. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, refused: 3, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Where the error comes from: it decides the exit code, and auto mode's advice on what to fix. `unexpected` is a
 * bug (the CLI lets it through with its stack, auto mode reports it).
 */
export type ErrorSource = 'settings' | 'task' | 'recipe' | 'refused' | 'network' | 'interrupted' | 'unexpected';

export interface ClassifiedError {
  source: ErrorSource;
  exitCode: ExitCode;
  message: string;
  /** The recipe's problems, the plan's refusals, the settings' problems; else the message alone. */
  reasons: string[];
  /** The error's own advice (a network that never answered, a recipe URL that served nothing). */
  hint?: string;
  /** A task ISO that was found but is unusable: its webhook_secret still counts. */
  taskDir?: string;
}

const SOURCE_EXIT: Record<ErrorSource, ExitCode> = {
  settings: EXIT.badInput,
  task: EXIT.badInput,
  recipe: EXIT.badInput,
  refused: EXIT.refused,
  network: EXIT.failed,
  interrupted: EXIT.interrupted,
  unexpected: EXIT.failed,
};

const classified = (source: ErrorSource, message: string, extra: Partial<ClassifiedError> = {}): ClassifiedError => ({
  source,
  exitCode: SOURCE_EXIT[source],
  message,
  reasons: [message],
  ...extra,
});

/** `signal`: the install's abort; once it fired, whatever the error, the run was interrupted. */
export function classifyError(e: unknown, signal?: AbortSignal): ClassifiedError {
  const message = e instanceof Error ? e.message : String(e);
  if (signal?.aborted) return classified('interrupted', message);
  if (e instanceof RecipeError) return classified('recipe', message, { reasons: e.problems });
  if (e instanceof KernelArgsError) return classified('settings', message, { reasons: e.problems });
  if (e instanceof TaskIsoError) return classified('task', message, { ...(e.dir === undefined ? {} : { taskDir: e.dir }), ...(e.hint === undefined ? {} : { hint: e.hint }) });
  if (e instanceof PlanRefused) return classified('refused', message, { reasons: e.reasons });
  if (e instanceof DiskError) return classified('refused', message);
  if (e instanceof NetworkUnreachable) return classified('network', message, { hint: e.hint });
  return classified('unexpected', message);
}
