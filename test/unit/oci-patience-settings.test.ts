// Where the registry patience is set: the recipe's registry block, overridden by shoal.* settings (README
// "Registry patience"), and what the registry client gets from them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { patienceOf } from '../../ops/image-source.ts';
import { parseKernelArgs } from '../../ops/kargs.ts';
import { parseRecipe, RecipeError } from '../../ops/recipe.ts';

const RECIPE = {
  task_target: 'install-linux.target',
  target_disk: '/dev/sda',
  oci_url: 'controller:8080/os/debian:12',
  partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/' }],
};

test('the recipe: registry.low_speed_limit/low_speed_time/retries/busy_patience are read and checked, each named', () => {
  const r = parseRecipe({ ...RECIPE, registry: { low_speed_limit: 50, low_speed_time: 10, retries: 4, busy_patience: 600 } });
  assert.deepEqual(patienceOf(r.registry), {
    retry: { attempts: 4, busyPatienceMs: 600_000 },
    lowSpeed: { bytesPerSecond: 50 * 1024, seconds: 10 },
  });
  for (const [field, bad] of [
    ['low_speed_limit', -1],
    ['low_speed_time', 0],
    ['retries', 0],
    ['retries', 1.5],
    ['busy_patience', '60'],
  ] as const) {
    assert.throws(
      () => parseRecipe({ ...RECIPE, registry: { [field]: bad } }),
      (e: unknown) => e instanceof RecipeError && e.problems.some((p) => p.startsWith(`$.registry.${field}:`)),
      `${field}: ${bad}`,
    );
  }
});

test('registry.mirrors: HOST or HOST:PORT, no scheme or path, at most 8', () => {
  assert.deepEqual(parseRecipe({ ...RECIPE, registry: { mirrors: ['cache.rack7:5000', '10.0.0.5'] } }).registry?.mirrors, ['cache.rack7:5000', '10.0.0.5']);
  for (const bad of [['http://cache:5000'], ['cache/os'], Array.from({ length: 9 }, (_, i) => `c${i}:5000`)]) {
    assert.throws(
      () => parseRecipe({ ...RECIPE, registry: { mirrors: bad } }),
      (e: unknown) => e instanceof RecipeError && e.problems.some((p) => p.startsWith('$.registry.mirrors')),
    );
  }
});

test('no patience fields: the client keeps its defaults (10 KiB/s for 30 s; attempts and busy patience unset)', () => {
  assert.deepEqual(patienceOf(undefined), { retry: {}, lowSpeed: { bytesPerSecond: 10 * 1024, seconds: 30 } });
  assert.deepEqual(patienceOf(parseRecipe({ ...RECIPE, registry: { low_speed_limit: 0 } }).registry).lowSpeed, { bytesPerSecond: 0, seconds: 30 });
});

test('the shoal.* settings: registry_low_speed_limit/_time, registry_retries, busy_patience; bad values are problems naming the key', () => {
  const { args, problems } = parseKernelArgs('quiet shoal.registry_low_speed_limit=1 shoal.registry_low_speed_time=5 shoal.registry_retries=3 shoal.busy_patience=60');
  assert.deepEqual(problems, []);
  assert.deepEqual(args.registryOverrides, { low_speed_limit: 1, low_speed_time: 5, retries: 3, busy_patience: 60 });
  assert.equal(args.busyPatienceSeconds, 60);
  assert.deepEqual(parseKernelArgs('shoal.auto').args.registryOverrides, {});
  assert.deepEqual(parseKernelArgs('shoal.registry_mirror=cache.rack7:5000,[fd00::5]:5000').args.registryOverrides, { mirrors: ['cache.rack7:5000', '[fd00::5]:5000'] });
  for (const word of [
    'shoal.registry_mirror=http://cache:5000',
    'shoal.registry_low_speed_limit=fast',
    'shoal.registry_low_speed_time=0',
    'shoal.registry_retries=0',
    'shoal.registry_retries=101',
    'shoal.busy_patience=-5',
    'shoal.busy_patience',
  ]) {
    const key = word.split('=')[0]!;
    const { problems: p } = parseKernelArgs(word);
    assert.equal(p.length, 1, `${word}: ${p.join('; ')}`);
    assert.ok(p[0]!.startsWith(key), p[0]);
  }
});
