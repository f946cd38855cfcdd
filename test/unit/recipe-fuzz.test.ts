/**
 * No input may end in a stack trace: whatever a recipe holds, parsing and planning end in a plan or in a known
 * refusal (RecipeError = bad input, exit 2; PlanRefused = does not fit this machine, exit 3). fast-check throws
 * arbitrary JSON and arbitrary field values at the parser and the planner, with canned disk facts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DiskFacts } from '../../ops/disks.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import { makePlan, PlanRefused } from '../../ops/plan.ts';
import { FORMATS, parseRecipe, parseRecipeText, RecipeError } from '../../ops/recipe.ts';
import { MiB } from '../../ops/sizes.ts';
import { runCli } from '../helpers/cli.ts';

const GiB = 1024 * MiB;
const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4', 'xfs', 'btrfs'], serial: 'SN123' };
const disk = (sizeBytes: number, sectorSize: number): DiskFacts => ({
  path: '/dev/sda',
  kind: 'block',
  name: 'sda',
  sizeBytes,
  sectorSize,
  readOnly: false,
  partitions: [],
  inUse: [],
  bootMedium: false,
});

type Outcome = 'plan' | 'bad input' | 'refused';

/** Parse, plan, and show the plan both ways; any error but the two known ones fails the property. */
function outcome(input: unknown, facts = disk(20 * GiB, 512), asText = false): Outcome {
  let recipe;
  try {
    recipe = asText ? parseRecipeText(input as string) : parseRecipe(input);
  } catch (e) {
    if (e instanceof RecipeError) return 'bad input';
    throw e;
  }
  try {
    const plan = makePlan(recipe, facts, machine);
    renderPlan(plan);
    JSON.stringify(plan);
    return 'plan';
  } catch (e) {
    if (e instanceof PlanRefused) return 'refused';
    throw e;
  }
}

const base = {
  task_target: 'install-linux.target',
  target_disk: '/dev/sda',
  oci_url: 'registry.example:8080/os/debian:12',
  partition_layout: [
    { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
    { size: '100%', format: 'ext4', mountpoint: '/' },
  ],
};

const RUNS = { numRuns: 2000 };

test('arbitrary JSON values and texts: a plan or a RecipeError, never another error', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => void outcome(v)),
    RUNS,
  );
  fc.assert(
    fc.property(fc.string(), (t) => void outcome(t, undefined, true)),
    RUNS,
  );
  fc.assert(
    fc.property(fc.json(), (t) => void outcome(t, undefined, true)),
    RUNS,
  );
});

test('a recipe object with any keys and values in it: a plan or a known refusal', () => {
  const anyRecipe = fc.dictionary(
    fc.constantFrom(...Object.keys(base), 'user_data', 'unattend_xml', 'registry', 'kernel_args', 'hostname', 'wim_index', 'schema_version', 'env', 'ks.cfg'),
    fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withDate: true, withSparseArray: true }),
  );
  fc.assert(
    fc.property(anyRecipe, (over) => void outcome({ ...base, ...over })),
    RUNS,
  );
});

/** Strings built from the characters that matter to sizes, paths, GUIDs and image references. */
const text = (chars: string, maxLength = 40) => fc.string({ unit: fc.constantFrom(...chars), maxLength });
/** Mostly plausible values (so that many recipes get as far as the planner), sometimes anything. */
const mostly = <T, U>(plausible: fc.Arbitrary<T>, wild: fc.Arbitrary<U>) => fc.oneof({ arbitrary: plausible, weight: 19 }, { arbitrary: wild, weight: 1 });
const sizeText = mostly(
  fc.oneof(
    fc.constantFrom('0.4K', '1K', '100%', '1.5G', '1 G', ' 1G ', '16T', '100000T'),
    fc.tuple(fc.nat({ max: 2000 }), fc.constantFrom('', '.0', '.0001', '.5'), fc.constantFrom('K', 'M', 'G', 'GiB', 'mB')).map(([n, f, u]) => `${n}${f}${u}`),
  ),
  fc.oneof(
    fc.constantFrom('0G', '0.0001K', '0M', '1e3G', `${'9'.repeat(400)}T`, '0.0000001T', '8E', '50%'),
    fc.tuple(fc.double(), fc.constantFrom('K', 'M', 'G', 'T', 'X', '')).map(([n, u]) => `${n}${u}`),
    text('0123456789.KMGTiB% -eE'),
  ),
);
const partition = fc.record(
  {
    size: sizeText,
    type_guid: mostly(
      fc.constantFrom('ef00', '8300', '0c01', '0700', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'e3c9e316-0b5c-4db8-817d-f92df00215ae'),
      text('0123456789abcdefABCDEF-', 40),
    ),
    format: mostly(fc.constantFrom(...FORMATS), fc.string()),
    label: mostly(fc.constantFrom('cidata', 'CIDATA', 'root', 'EFI', 'ü'.repeat(12), 'a b', '$(x)', 'x'.repeat(32)), fc.string({ maxLength: 40 })),
    mountpoint: mostly(fc.constantFrom('/', '/boot/efi', '/var', '/home'), fc.oneof(fc.constantFrom('/./var', '/../x', '//', '/var/', '/var/../var'), text('/.ab -\\\n', 30))),
    bootable: fc.boolean(),
  },
  { requiredKeys: ['size'] },
);
const fields = fc.record(
  {
    partition_layout: mostly(
      fc.oneof(
        fc.array(partition, { minLength: 1, maxLength: 4 }).map((extra) => [base.partition_layout[0], ...extra]),
        partition.map((changed) => [base.partition_layout[0], { ...base.partition_layout[1], ...changed }]),
      ),
      fc.array(fc.anything(), { maxLength: 3 }),
    ),
    task_target: mostly(fc.constantFrom('install-linux.target', 'install-windows.target'), fc.constantFrom('x.target', '')),
    target_disk: mostly(fc.constantFrom('/dev/sda', '/dev/nvme0n1', '/tmp/disk.img', '/'), fc.string()),
    oci_url: mostly(
      fc.constantFrom('r:8080/a/b:1', `r/a@sha256:${'a'.repeat(64)}`, 'r:99999/a:b', 'R:1/A:B', 'localhost/a', 'a', ':', '@', 'r/a:b@sha256:x'),
      text('abc019:/@.-_+sha256', 80),
    ),
    kernel_args: mostly(fc.constantFrom('console=ttyS0', 'quiet splash', 'a=b=c'), fc.string()),
    hostname: mostly(fc.constantFrom('node-1', 'a.b.c'), fc.string()),
    wim_index: mostly(fc.integer({ min: 1, max: 5 }), fc.oneof(fc.integer(), fc.double())),
  },
  { requiredKeys: ['partition_layout'] },
);
const facts = fc
  .tuple(mostly(fc.constantFrom(20 * GiB, 2 * GiB, 2 ** 50), fc.oneof(fc.nat(), fc.constantFrom(0, 1, MiB, 3 * MiB, 2 ** 60))), fc.constantFrom(512, 4096))
  .map(([size, sector]) => disk(size, sector));

test('arbitrary sizes, mountpoints, labels, type GUIDs, formats, kernel args, disks and references: a plan or a known refusal', () => {
  fc.assert(
    fc.property(fields, facts, (over, d) => void outcome({ ...base, ...over }, d)),
    { numRuns: 5000 },
  );
});

test('a zero or sub-byte size is bad input naming the field, not a crash', () => {
  for (const size of ['0G', '0.0001K', '0M']) {
    const recipe = { ...base, partition_layout: [base.partition_layout[0], { size, format: 'ext4', mountpoint: '/' }] };
    assert.equal(outcome(recipe), 'bad input', size);
    assert.throws(
      () => parseRecipe(recipe),
      (e: unknown) => e instanceof RecipeError && /\$\.partition_layout\[1\]\.size: "[^"]+" is not a positive size/.test(e.message),
    );
  }
  const huge = { ...base, partition_layout: [{ size: `${'9'.repeat(400)}T`, format: 'ext4', mountpoint: '/' }] };
  assert.throws(() => parseRecipe(huge), /partition_layout\[0\]\.size: .* is larger than any disk/);
});

test('the planner refuses a zero size even in a recipe object that skipped the parser', () => {
  const recipe = { ...parseRecipe(base), partition_layout: [{ size: '0G', format: 'ext4' as const, mountpoint: '/' }] };
  assert.throws(
    () => makePlan(recipe, disk(20 * GiB, 512), machine),
    (e: unknown) => e instanceof PlanRefused && /partition_layout\[0\]\.size: "0G" is not a positive size/.test(e.message),
  );
});

test('shoal-install plan with a zero size: exit 2, the field named, no stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-fuzz-'));
  try {
    const path = join(dir, 'recipe.json');
    await writeFile(path, JSON.stringify({ ...base, partition_layout: [base.partition_layout[0], { size: '0.0001K', format: 'ext4', mountpoint: '/' }] }));
    const r = await runCli(['plan', '--recipe', path, '--disk', join(dir, 'disk.img')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /partition_layout\[1\]\.size: "0\.0001K" is not a positive size/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
