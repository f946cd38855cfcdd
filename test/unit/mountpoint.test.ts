// Mountpoints are paths in the target: `..` would lead a mount out of it, and `/./var` beside `/var` would put two
// partitions on one directory. Both are bad input (exit 2, the field named), refused before anything is touched.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DiskFacts } from '../../ops/disks.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { makePlan, PlanRefused } from '../../ops/plan.ts';
import { parseRecipe, RecipeError, type Recipe } from '../../ops/recipe.ts';
import { runCli } from '../helpers/cli.ts';

const BAD = ['/../../../tmp/x', '/./var', '/var/', '//var', '/var/..', '/.', '/var/./lib', 'var', '/va r'];
const GOOD = ['/', '/var', '/boot/efi', '/srv/data.d', '/.hidden', '/..x'];

const recipe = (mountpoint: string) => ({
  task_target: 'install-linux.target',
  target_disk: '/dev/null-disk-of-this-test',
  oci_url: 'registry.test:5000/os/img:1',
  partition_layout: [
    { size: '1G', format: 'ext4', mountpoint: '/' },
    { size: '1G', format: 'ext4', mountpoint },
  ],
});

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-mountpoint-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('the schema refuses mountpoints with ".", "..", empty components or a trailing slash, naming the field', () => {
  for (const mp of BAD) {
    const err = (() => {
      try {
        parseRecipe(recipe(mp));
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof RecipeError, `${mp} was accepted`);
    assert.deepEqual(err.problems.length, 1, err.message);
    assert.match(err.problems[0]!, /^\$\.partition_layout\[1\]\.mountpoint: a normalised absolute path/, mp);
  }
  for (const mp of GOOD) assert.equal(parseRecipe(recipe(mp)).partition_layout[1]!.mountpoint, mp);
});

test('the plan compares mountpoints normalised, and refuses an unnormalised one that bypassed the schema', () => {
  const disk: DiskFacts = { path: '/dev/sda', kind: 'block', name: 'sda', sizeBytes: 8 * 2 ** 30, sectorSize: 512, readOnly: false, partitions: [], inUse: [], bootMedium: false };
  const machine: MachineFacts = { uefi: true, efivars: false, filesystems: ['ext4', 'vfat'], serial: 'S' };
  const base = parseRecipe(recipe('/var'));
  const raw = (a: string, b: string): Recipe => ({
    ...base,
    partition_layout: [base.partition_layout[0]!, { ...base.partition_layout[1]!, mountpoint: a }, { ...base.partition_layout[1]!, mountpoint: b }],
  });
  const refusal = (r: Recipe) => {
    try {
      makePlan(r, disk, machine, { stopBefore: 'bootloader-linux.service' });
    } catch (e) {
      assert.ok(e instanceof PlanRefused, String(e));
      return e.message;
    }
    assert.fail('the plan was accepted');
  };
  const twice = refusal(raw('/var', '/./var'));
  assert.match(twice, /two partitions are mounted at \/var \(2 and 3\)/);
  assert.match(twice, /partition_layout\[2\]\.mountpoint: \/\.\/var is not a normalised absolute path/);
  assert.match(refusal(raw('/srv', '/../../../tmp/x')), /partition_layout\[2\]\.mountpoint: \/\.\.\/\.\.\/\.\.\/tmp\/x is not a normalised/);
  assert.match(refusal(raw('/srv', '/srv/')), /two partitions are mounted at \/srv/);
  assert.equal(makePlan(raw('/srv', '/var'), disk, machine, { stopBefore: 'bootloader-linux.service' }).partitions.length, 3);
});

test('shoal-install plan: a bad mountpoint is exit 2 with the field named, before any disk is looked at', async () => {
  for (const mp of ['/../../../tmp/x', '/./var', '/var/', '//var']) {
    const file = join(work, 'recipe.json');
    await writeFile(file, JSON.stringify(recipe(mp)));
    const run = await runCli(['plan', '--recipe', file]);
    assert.equal(run.code, 2, `${mp}: ${run.stdout}${run.stderr}`);
    assert.match(run.stderr, /\$\.partition_layout\[1\]\.mountpoint: a normalised absolute path/, mp);
  }
});
