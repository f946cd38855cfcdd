import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { parseRecipe, parseRecipeText, RecipeError } from '../../ops/recipe.ts';

const examples = new URL('../../examples/', import.meta.url);
const base = {
  task_target: 'install-linux.target',
  target_disk: '/dev/sda',
  oci_url: 'r:8080/os/deb:12',
  partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/' }],
};

function problems(input: unknown): string[] {
  try {
    parseRecipe(input);
  } catch (e) {
    assert.ok(e instanceof RecipeError);
    return e.problems;
  }
  assert.fail('the recipe was accepted');
}

test('every example recipe from the Shoal docs parses', async () => {
  const files = (await readdir(examples)).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 4);
  for (const f of files) parseRecipeText(await readFile(new URL(f, examples), 'utf8'), f);
});

test('defaults: schema version 1, wim_index 1, format none', () => {
  const r = parseRecipe({ ...base, partition_layout: [{ size: '1G' }] });
  assert.equal(r.schema_version, '1');
  assert.equal(r.wim_index, 1);
  assert.equal(r.partition_layout[0]!.format, 'none');
});

test('all payload forms are accepted', () => {
  for (const user_data of ['#cloud-config\n', { content: 'x' }, { url: 'https://c/x' }, { path: '/run/x' }]) {
    assert.deepEqual(parseRecipe({ ...base, user_data }).user_data, user_data);
  }
});

test('errors name the JSON path and what was expected', () => {
  const p = problems({ ...base, partition_layout: [{ size: 'huge', format: 'zfs', colour: 'red' }] });
  assert.ok(
    p.some((x) => x.startsWith('$.partition_layout[0].size:') && x.includes('512M')),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => x.startsWith('$.partition_layout[0].format:')),
    p.join('\n'),
  );
  assert.ok(
    p.some((x) => x.includes('colour')),
    p.join('\n'),
  );
});

test('unknown top-level fields, missing target and bad versions are rejected', () => {
  assert.ok(problems({ ...base, extra: 1 }).some((x) => x.includes('extra')));
  const { task_target: _, ...noTarget } = base;
  assert.ok(problems(noTarget).some((x) => x.startsWith('$.task_target')));
  assert.ok(problems({ ...base, schema_version: '2' }).some((x) => x.startsWith('$.schema_version')));
  assert.ok(problems({ ...base, task_target: 'install-esxi.target' }).some((x) => x.includes('does not handle')));
  assert.ok(problems({ ...base, partition_layout: [] }).some((x) => x.startsWith('$.partition_layout')));
  assert.ok(problems({ ...base, user_data: { url: 'ftp://x/y' } }).some((x) => x.startsWith('$.user_data')));
  assert.ok(problems({ ...base, wim_index: 0 }).some((x) => x.startsWith('$.wim_index')));
});

test('text that is not JSON says so', () => {
  assert.throws(() => parseRecipeText('{', 'task.iso/recipe.json'), /recipe.json is not JSON/);
});

test('kernel_args that could run as shell in /etc/default/grub are refused', () => {
  assert.equal(parseRecipe({ ...base, kernel_args: 'console=ttyS0,115200 quiet net.ifnames=0' }).kernel_args, 'console=ttyS0,115200 quiet net.ifnames=0');
  for (const bad of ['$(reboot)', 'a`id`', 'x" GRUB_TIMEOUT="0', 'a\nb', 'a; b']) {
    assert.ok(
      problems({ ...base, kernel_args: bad }).some((x) => x.startsWith('$.kernel_args')),
      bad,
    );
  }
});
