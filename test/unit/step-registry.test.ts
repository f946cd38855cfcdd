// The registry (ops/steps/index.ts) is the only list of steps: the plan's steps and their order, the plan text,
// the layout checks and where a retry may start all come from the step objects, so a step added to a registry
// shows up everywhere without a change to the planner, the plan text or the runner.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { DiskFacts } from '../../ops/disks.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import { makePlan, PlanRefused, type StepName } from '../../ops/plan.ts';
import { isWindows, parseRecipeText, type Recipe } from '../../ops/recipe.ts';
import { MiB } from '../../ops/sizes.ts';
import { ALL_STEPS, resumePoint, STEP_LIST } from '../../ops/steps/index.ts';
import type { Step } from '../../ops/steps/step.ts';

const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SN1' };
const disk: DiskFacts = {
  path: '/dev/sda',
  kind: 'block',
  name: 'sda',
  sizeBytes: 20 * 1024 * MiB,
  sectorSize: 512,
  readOnly: false,
  partitions: [],
  inUse: [],
  bootMedium: false,
};
const example = async (name: string): Promise<Recipe> => parseRecipeText(await readFile(new URL(`../../examples/${name}`, import.meta.url), 'utf8'));

/** A step no generic module knows of, after image-linux.service in the registry. */
const extra: Step = {
  name: 'extra-linux.service',
  title: 'A step only this test knows',
  wanted: (recipe) => !isWindows(recipe),
  resumable: true,
  describe: (plan, device) => [`do the extra thing to ${device} for ${plan.partitions.length} partitions`],
  async run() {},
};
const withExtra = (at: number, step: Step = extra): Step[] => [...STEP_LIST.slice(0, at), step, ...STEP_LIST.slice(at)];
const indexOf = (name: string) => STEP_LIST.findIndex((s) => s.name === name);

test('the plan runs the steps its recipe wants, in the registry order', async () => {
  const linux = await example('linux-cidata.json');
  assert.deepEqual(makePlan(linux, disk, machine).steps, ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service']);
  const registry = withExtra(indexOf('image-linux.service') + 1);
  const plan = makePlan(linux, disk, machine, { registry });
  assert.deepEqual(plan.steps, ['partition.service', 'image-linux.service', 'extra-linux.service', 'config-drive.service', 'bootloader-linux.service']);
  const unwanted = makePlan(linux, disk, machine, { registry: withExtra(1, { ...extra, wanted: () => false }) });
  assert.ok(!unwanted.steps.includes('extra-linux.service' as StepName), 'a step its recipe does not want is left out');
  const reversed = makePlan(linux, disk, machine, { registry: [...STEP_LIST].reverse() });
  assert.deepEqual(reversed.steps, plan.steps.filter((s: string) => s !== extra.name).reverse(), 'the order is the registry order');
});

test('the plan text takes each step title and lines from the step', async () => {
  const registry = withExtra(indexOf('config-drive.service'));
  const plan = makePlan(await example('linux-cidata.json'), disk, machine, { registry });
  const text = renderPlan(plan, registry);
  assert.match(text, /\nextra-linux\.service: A step only this test knows\n {2}\$ do the extra thing to \/dev\/sda for 3 partitions\n/);
  assert.ok(text.indexOf('image-linux.service:') < text.indexOf('extra-linux.service:'));
  assert.ok(text.indexOf('extra-linux.service:') < text.indexOf('config-drive.service:'));
  const partition = STEP_LIST[indexOf('partition.service')]!;
  for (const line of partition.describe!(plan, '/dev/sda')) assert.ok(text.includes(`  $ ${line}`), `partition.service's own line: ${line}`);
});

test("a step's layout problems refuse the plan, only when the plan runs it", async () => {
  const picky: Step = { ...extra, layoutProblems: (parts) => [`extra-linux.service cannot use ${parts.length} partitions`] };
  const recipe = await example('linux-cidata.json');
  const at = indexOf('config-drive.service');
  assert.throws(
    () => makePlan(recipe, disk, machine, { registry: withExtra(at, picky) }),
    (e: unknown) => e instanceof PlanRefused && /cannot use 3 partitions/.test(e.message),
  );
  assert.doesNotThrow(() => makePlan(recipe, disk, machine, { registry: withExtra(at, { ...picky, wanted: () => false }) }));
  assert.doesNotThrow(() => makePlan(recipe, disk, machine, { registry: withExtra(at, picky), stopBefore: 'extra-linux.service' as StepName }));
});

test('a retry starts at the failed step only where the step says it may', async () => {
  const registry = withExtra(indexOf('image-linux.service') + 1);
  const plan = makePlan(await example('linux-cidata.json'), disk, machine, { registry });
  const expected = Object.fromEntries(plan.steps.map((s) => [s, registry.find((r) => r.name === s)!.resumable ? s : undefined]));
  assert.deepEqual(Object.fromEntries(plan.steps.map((s) => [s, resumePoint(plan, s, registry)])), expected);
  assert.equal(resumePoint(plan, 'extra-linux.service' as StepName, registry), 'extra-linux.service');
  const flipped = registry.map((s) => ({ ...s, resumable: !s.resumable }));
  for (const s of plan.steps) assert.equal(resumePoint(plan, s, flipped), expected[s] ? undefined : s, s);
  assert.equal(resumePoint(plan, undefined, registry), undefined);
  assert.equal(resumePoint(plan, 'image-windows.service', registry), undefined, 'a step not in this plan');
});

test('the real registry: unique Shoal unit names, and the list the event schema and --stop-before use', () => {
  const names = STEP_LIST.map((s) => s.name);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^[a-z-]+\.service$/);
  assert.deepEqual(ALL_STEPS, names);
});
