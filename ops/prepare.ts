import { InputError, readRegularFile } from './bounded-input.ts';
import { lockDisk, type DiskLock } from './disk-lock.ts';
import { diskContents } from './disk-look.ts';
import type { DiskHints } from './disk-hints.ts';
import { chooseTarget } from './disk-target.ts';
import { DiskError, inspectDisk } from './disks.ts';
import { machineFacts, type MachineFacts } from './machine.ts';
import { resolvePayload, resolveSecretText, secretTexts } from './payload.ts';
import { makePlan, type Plan, type PlanOptions } from './plan.ts';
import { parseRecipeText, RecipeError, type Payload, type Recipe } from './recipe.ts';
import type { InstallInputs } from './runner.ts';
import { clearStaleInstall } from './stale-install.ts';

export interface Prepared {
  plan: Plan;
  inputs: InstallInputs;
  secrets: string[];
  /** With `lock`: this install's hold on the disk, until the caller releases it after the run. */
  lock?: DiskLock;
}

export interface PrepareOptions extends PlanOptions {
  /** Overrides the recipe's target_disk (CLI `--disk`, kernel `shoal.disk=`). */
  disk?: string;
  /** Overrides the recipe's target_disk_hints (kernel `shoal.disk_hints=`). */
  diskHints?: DiskHints;
  plainHttp?: string[];
  machine?: MachineFacts;
  /**
   * Lock the disk for an install (CLI install, auto mode) before inspecting it, so that no other install can
   * start between the check and the end of the run; what a dead install left on it is cleared first.
   * `plan` and the console's review look without it.
   */
  lock?: boolean;
  /** Stops fetching payloads (SIGINT/SIGTERM before the install started). */
  signal?: AbortSignal;
}

export async function loadRecipeFile(path: string): Promise<Recipe> {
  const bytes = await readRegularFile(path, 'the recipe').catch((e: Error) => {
    throw e instanceof InputError ? new RecipeError([e.message]) : e;
  });
  return parseRecipeText(bytes.toString('utf8'), path);
}

async function resolveInputs(recipe: Recipe, plainHttp: string[] | undefined, signal?: AbortSignal): Promise<InstallInputs> {
  const bad = (e: Error) => {
    throw new RecipeError([e.message]);
  };
  const get = async (p: Payload | undefined, what: string) => (p === undefined ? undefined : resolvePayload(p, what, signal).catch(bad));
  const password = recipe.registry?.password;
  return {
    userData: await get(recipe.user_data, 'user_data'),
    unattendXml: await get(recipe.unattend_xml, 'unattend_xml'),
    // A password is taken literally: never decoded, whatever it looks like.
    registryPassword: password === undefined ? undefined : await resolveSecretText(password, 'registry.password', signal).catch(bad),
    plainHttp: [...(recipe.registry?.plain_http ?? []), ...(plainHttp ?? [])],
  };
}

/** The disk's lock (none when it is not a file or a block device: inspectDisk says so), and what a dead install left on it cleared. */
async function holdDisk(path: string): Promise<{ lock?: DiskLock; notes: string[] }> {
  const lock = await lockDisk(path);
  if (!lock) return { notes: [] };
  const notes = await clearStaleInstall(path, lock.kind).catch((e: Error) => [`could not clear what an earlier install left on ${path}: ${e.message}`]);
  return { lock, notes };
}

/**
 * Recipe -> a checked plan and its resolved inputs. Reads the machine; writes nothing, except that with
 * `lock` it clears what a dead install left mounted on the disk.
 */
export async function prepareInstall(recipe: Recipe, opts: PrepareOptions = {}): Promise<Prepared> {
  const effective: Recipe = {
    ...recipe,
    ...(opts.disk ? { target_disk: opts.disk } : {}),
    ...(opts.diskHints ? { target_disk_hints: opts.diskHints } : {}),
  };
  const inputs = await resolveInputs(effective, opts.plainHttp, opts.signal);
  const target = await chooseTarget(effective.target_disk, effective.target_disk_hints);
  const held = opts.lock ? await holdDisk(target.path) : undefined;
  try {
    const disk = await inspectDisk(target.path);
    const contents = await diskContents(disk);
    const payloads = { user_data: inputs.userData, unattend_xml: inputs.unattendXml };
    const plan = makePlan(effective, disk, opts.machine ?? (await machineFacts()), { ...opts, payloads, target, contents });
    if (held && !held.lock) throw new DiskError(`${disk.path} could not be locked for the install`);
    plan.warnings.unshift(...(held?.notes ?? []));
    return { plan, inputs, secrets: secretTexts([inputs.userData, inputs.unattendXml, inputs.registryPassword]), lock: held?.lock };
  } catch (e) {
    held?.lock?.release();
    throw e;
  }
}
