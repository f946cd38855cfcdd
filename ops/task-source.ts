/**
 * Where auto mode's job comes from: a directory standing in for the task ISO (--task-dir), the task ISO itself
 * (found on any drive, or the one shoal.recipe= names), or shoal.recipe= as a file or a URL.
 */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fetchBody, readRegularFile } from './bounded-input.ts';
import type { RecipeSource } from './kargs.ts';
import { shownUrl } from './report.ts';
import { findTaskIso, namedDrives, readTaskDir, TASK_FILES, TASK_MOUNT, TaskIsoError, type Drive, type MountFn, type Task } from './task-iso.ts';

export interface LocateOptions {
  /** A directory standing in for the mounted task ISO; wins over everything else. */
  taskDir?: string;
  /** How long to wait for the task ISO's drive (shoal.task_wait). */
  waitSeconds: number;
  drives?: () => Promise<Drive[]>;
  mountPoint?: string;
  mount?: MountFn;
  pollMs?: number;
  signal?: AbortSignal;
}

export async function locateTask(source: RecipeSource | undefined, opts: LocateOptions, say: (m: string) => void): Promise<Task> {
  const none = async () => undefined;
  if (opts.taskDir) return readTaskDir(resolve(opts.taskDir), `the task directory ${resolve(opts.taskDir)}`, none);
  const find = { at: opts.mountPoint ?? TASK_MOUNT, waitSeconds: opts.waitSeconds, mount: opts.mount, pollMs: opts.pollMs, signal: opts.signal };
  if (!source) return findTaskIso({ ...find, drives: opts.drives }, say);
  switch (source.kind) {
    case 'device':
      return findTaskIso({ ...find, drives: namedDrives([source.device]), what: source.device }, say);
    case 'file': {
      const st = await stat(source.path).catch(() => undefined);
      if (st?.isDirectory()) return readTaskDir(source.path, source.path, none);
      const bytes = await readRegularFile(source.path, `shoal.recipe=${source.path}`).catch((e: Error) => {
        throw new TaskIsoError(e.message);
      });
      return { recipeText: bytes.toString('utf8'), from: source.path, dir: dirname(source.path), release: none };
    }
    case 'url': {
      const shown = shownUrl(source.url);
      const bytes = await fetchBody(source.url, 'shoal.recipe', { signal: opts.signal }).catch((e: Error) => {
        throw new TaskIsoError(e.message, undefined, `check that ${shown} serves the recipe`);
      });
      return { recipeText: bytes.toString('utf8'), from: shown, release: none };
    }
  }
}

/** One of the task ISO's small files (TASK_FILES), trimmed; none when there is no task directory or no such file. */
export const readTaskFile = async (dir: string | undefined, name: string): Promise<string | undefined> =>
  dir
    ? readRegularFile(join(dir, name), name).then(
        (b) => b.toString('utf8').trim(),
        () => undefined,
      )
    : undefined;

/** The `$id` of the recipe's schema.json beside it, for the status report. */
export async function schemaIdOf(dir: string | undefined): Promise<string | undefined> {
  const text = await readTaskFile(dir, TASK_FILES.schema);
  if (!text) return undefined;
  try {
    const id = (JSON.parse(text) as { $id?: unknown }).$id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
