// One classification of errors and one way into an install (ops/outcome.ts, ops/install.ts), shared by the CLI,
// auto mode and the console: the README's exit codes follow from these.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DiskError, type DiskFacts } from '../../ops/disks.ts';
import { DiskBusy } from '../../ops/disk-lock.ts';
import type { InstallEvent } from '../../ops/events.ts';
import { install } from '../../ops/install.ts';
import { KernelArgsError } from '../../ops/kargs.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { NetworkUnreachable } from '../../ops/net-wait.ts';
import { classifyError, EXIT } from '../../ops/outcome.ts';
import { makePlan, PlanRefused, type StepName } from '../../ops/plan.ts';
import type { Prepared } from '../../ops/prepare.ts';
import { parseRecipeText, RecipeError } from '../../ops/recipe.ts';
import { StepError, type StepImpl } from '../../ops/runner.ts';
import { STEPS } from '../../ops/steps/index.ts';
import { TaskIsoError } from '../../ops/task-iso.ts';

test('every error maps to the README exit code, with its reasons one a line', () => {
  const recipe = classifyError(new RecipeError(['oci_url: required', 'partition_layout: empty']));
  assert.deepEqual([recipe.source, recipe.exitCode, recipe.reasons], ['recipe', EXIT.badInput, ['oci_url: required', 'partition_layout: empty']]);
  assert.deepEqual(classifyError(new KernelArgsError(['shoal.disk: not a path'])).reasons, ['shoal.disk: not a path']);
  assert.equal(classifyError(new KernelArgsError(['x'])).exitCode, EXIT.badInput);
  const refused = classifyError(new PlanRefused(['the layout needs 30 GiB, the disk has 20 GiB']));
  assert.deepEqual([refused.source, refused.exitCode, refused.reasons], ['refused', EXIT.refused, ['the layout needs 30 GiB, the disk has 20 GiB']]);
  assert.equal(classifyError(new DiskError('/dev/sdz: no such disk')).exitCode, EXIT.refused);
  assert.equal(classifyError(new DiskBusy('/dev/sda is held by pid 7')).exitCode, EXIT.refused, 'another install holds the disk');
  const task = classifyError(new TaskIsoError('no recipe.json', '/run/shoal/task', 'attach it'));
  assert.deepEqual([task.source, task.exitCode, task.taskDir, task.hint], ['task', EXIT.badInput, '/run/shoal/task', 'attach it']);
  const net = classifyError(new NetworkUnreachable('registry:5000 never answered', 'check the cable'));
  assert.deepEqual([net.source, net.exitCode, net.hint], ['network', EXIT.failed, 'check the cable']);
  const bug = classifyError(new TypeError('x is undefined'));
  assert.deepEqual([bug.source, bug.exitCode, bug.reasons], ['unexpected', EXIT.failed, ['x is undefined']]);
});

test('once the signal fired, any error is an interrupt (exit 130)', () => {
  const ctl = new AbortController();
  ctl.abort(new Error('SIGTERM'));
  for (const e of [new RecipeError(['x']), new PlanRefused(['y']), new Error('AbortError')]) {
    const c = classifyError(e, ctl.signal);
    assert.deepEqual([c.source, c.exitCode], ['interrupted', EXIT.interrupted]);
  }
});

const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SN1' };
const disk: DiskFacts = { path: '/dev/sda', kind: 'block', name: 'sda', sizeBytes: 20 * 1024 ** 3, sectorSize: 512, readOnly: false, partitions: [], inUse: [], bootMedium: false };

async function prepared(): Promise<Prepared> {
  const recipe = parseRecipeText(await readFile(new URL('../../examples/linux-esp-root.json', import.meta.url), 'utf8'));
  return { plan: makePlan(recipe, disk, machine), inputs: {}, secrets: ['hunter2'] };
}

/** Every planned step stood in for; `run` decides what the stand-ins do. */
const standIns = (run: (step: StepName, signal: AbortSignal) => Promise<void>) =>
  Object.fromEntries(Object.entries(STEPS).map(([name, s]) => [name, { title: s.title, run: (ctx) => run(name as StepName, ctx.signal) } satisfies StepImpl])) as Record<
    StepName,
    StepImpl
  >;

test('install(): done, failed with the step and its advice, or interrupted; every event to the outputs, the secrets scrubbed', async () => {
  const ready = await prepared();
  const seen: InstallEvent[] = [];
  const outputs = { emit: (e: InstallEvent) => void seen.push(e) };

  const done = await install(ready, outputs, new AbortController().signal, { steps: standIns(async () => undefined) });
  assert.deepEqual([done.status, done.exitCode, done.result.ok], ['done', EXIT.ok, true]);
  assert.equal(seen.at(-1)?.type, 'result');

  const failing = ready.plan.steps[1]!;
  const failed = await install(ready, outputs, new AbortController().signal, {
    steps: standIns(async (step) => {
      if (step === failing) throw new StepError('the registry said hunter2 is wrong', 'check registry.password');
    }),
  });
  assert.equal(failed.status, 'failed');
  if (failed.status !== 'failed') return;
  assert.deepEqual([failed.exitCode, failed.step, failed.hint], [EXIT.failed, failing, 'check registry.password']);
  assert.doesNotMatch(failed.message, /hunter2/, 'the recipe secret is scrubbed from the outcome');

  const ctl = new AbortController();
  const interrupted = await install(ready, { emit: () => undefined }, ctl.signal, {
    secrets: ['webhook-s3cret'],
    steps: standIns(async (step, signal) => {
      if (step !== failing) return;
      ctl.abort(new Error('SIGTERM'));
      signal.throwIfAborted();
    }),
  });
  assert.deepEqual([interrupted.status, interrupted.exitCode], ['interrupted', EXIT.interrupted]);
  assert.ok(!JSON.stringify(seen).includes('hunter2'), 'no event carries the recipe secret');
});
