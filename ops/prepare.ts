import { readFile } from 'node:fs/promises';
import { inspectDisk } from './disks.ts';
import { machineFacts, type MachineFacts } from './machine.ts';
import { resolvePayload, secretTexts } from './payload.ts';
import { makePlan, type Plan, type PlanOptions } from './plan.ts';
import { parseRecipeText, RecipeError, type Recipe } from './recipe.ts';
import type { InstallInputs } from './runner.ts';

export interface Prepared {
  plan: Plan;
  inputs: InstallInputs;
  secrets: string[];
}

export interface PrepareOptions extends PlanOptions {
  /** Overrides the recipe's target_disk (CLI `--disk`, kernel `shoal.disk=`). */
  disk?: string;
  plainHttp?: string[];
  machine?: MachineFacts;
}

export async function loadRecipeFile(path: string): Promise<Recipe> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new RecipeError([`cannot read ${path}: ${e.code ?? e.message}`]);
  });
  return parseRecipeText(text, path);
}

async function resolveInputs(recipe: Recipe, plainHttp: string[] | undefined): Promise<InstallInputs> {
  const get = async (p: Recipe['user_data'], what: string) => {
    if (p === undefined) return undefined;
    return resolvePayload(p, what).catch((e: Error) => {
      throw new RecipeError([e.message]);
    });
  };
  const password = await get(recipe.registry?.password, 'registry.password');
  return {
    userData: await get(recipe.user_data, 'user_data'),
    unattendXml: await get(recipe.unattend_xml, 'unattend_xml'),
    registryPassword: password?.toString('utf8').trim(),
    plainHttp: [...(recipe.registry?.plain_http ?? []), ...(plainHttp ?? [])],
  };
}

/** Recipe -> a checked plan and its resolved inputs. Reads the machine; writes nothing. */
export async function prepareInstall(recipe: Recipe, opts: PrepareOptions = {}): Promise<Prepared> {
  const effective: Recipe = opts.disk ? { ...recipe, target_disk: opts.disk } : recipe;
  const inputs = await resolveInputs(effective, opts.plainHttp);
  const disk = await inspectDisk(effective.target_disk);
  const plan = makePlan(effective, disk, opts.machine ?? (await machineFacts()), opts);
  return { plan, inputs, secrets: secretTexts([inputs.userData, inputs.unattendXml, inputs.registryPassword]) };
}
