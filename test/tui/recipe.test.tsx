import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import type { Prepared } from '../../ops/prepare.ts';
import { parseRecipe, type Recipe } from '../../ops/recipe.ts';
import { stateForRecipe } from '../../tui/app.tsx';
import { fromRecipe, toRecipe } from '../../tui/model/wizard.ts';
import { fixturePrepare, KEY, makeSession, renderApp } from './helpers.tsx';

process.env.TERM = 'linux';
afterEach(() => cleanup());

test('every example recipe survives the wizard unchanged (recipe -> choices -> recipe)', async () => {
  for (const name of ['linux-cidata', 'linux-esp-root', 'linux-swap', 'windows']) {
    const recipe = parseRecipe(JSON.parse(await readFile(new URL(`../../examples/${name}.json`, import.meta.url), 'utf8')));
    const state = fromRecipe(recipe, { facts: { path: recipe.target_disk } } as never);
    assert.deepEqual(parseRecipe(toRecipe(state)), recipe, name);
  }
});

test('the choices made at the console are the recipe the engine gets', async () => {
  const seen: Recipe[] = [];
  const h = makeSession();
  const real = fixturePrepare(() => h.disks);
  h.session.deps.prepare = async (recipe, opts): Promise<Prepared> => {
    seen.push(recipe);
    return real(recipe, opts);
  };
  const ui = renderApp(h);
  await ui.waitFor('SRV-0042');
  await ui.press(KEY.enter);
  await ui.waitFor('nvme0n1');
  await ui.press(KEY.enter);
  await ui.waitFor('Repositories (2)');
  await ui.press(KEY.enter);
  await ui.waitFor('Linux rootfs (zstd)');
  await ui.press(KEY.enter);
  await ui.waitFor('the planner accepts it');
  await ui.press(KEY.tab, KEY.down, KEY.down, KEY.down, KEY.enter);
  await ui.waitFor(/EFI \+ cidata \+ root\s+\(in use\)/);
  await ui.press('n');
  await ui.waitFor('Settings for the installed Linux system');
  await ui.type('web-01');
  await ui.press(KEY.enter);
  await ui.waitFor('WILL BE DESTROYED');
  assert.equal(seen.length, 1);
  assert.deepEqual(
    seen[0],
    parseRecipe({
      schema_version: '1',
      task_target: 'install-linux.target',
      target_disk: '/dev/sda',
      oci_url: 'registry.test:5000/os-images/debian:12',
      hostname: 'web-01',
      partition_layout: [
        { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
        { size: '16M', type_guid: '0700', format: 'vfat', label: 'cidata' },
        { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
      ],
    }),
  );
});

test('--recipe opens at Review with everything filled in; Esc goes back through Settings, Layout, Image, Disk', async () => {
  const h = makeSession();
  const recipe = parseRecipe({
    task_target: 'install-linux.target',
    target_disk: '/dev/nvme0n1',
    oci_url: 'registry.test:5000/os-images/debian:11',
    hostname: 'db-07',
    kernel_args: 'console=ttyS0,115200',
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
      { size: '8G', type_guid: '8200', format: 'swap', label: 'swap' },
      { size: '100%', type_guid: '8300', format: 'xfs', mountpoint: '/', label: 'root' },
    ],
    user_data: { content: '#cloud-config\nchpasswd: { expire: false }\npassword: s3cret-s3cret\n' },
  });
  const { state } = await stateForRecipe(h.session, recipe);
  assert.equal(state.screen, 'review');
  const ui = renderApp(h, state);
  await ui.waitFor('WILL BE DESTROYED');
  assert.match(ui.frame(), /Erase nvme0n1 \(960 GiB PM9A3 NVMe\) and install Linux\./);
  assert.match(ui.frame(), /\/dev\/nvme0n1p3 959 GiB ntfs "Windows"/);
  assert.match(ui.frame(), /Type the disk's name \(nvme0n1\)/);
  assert.ok(!ui.frame().includes('s3cret'));

  await ui.press(KEY.esc);
  await ui.waitFor('Settings for the installed Linux system');
  assert.match(ui.frame(), /Hostname\s+db-07/);
  assert.match(ui.frame(), /Kernel args\s+console=ttyS0,115200/);
  assert.match(ui.frame(), /User-data: the recipe's, inline \(\d+ bytes\)/);
  assert.ok(!ui.frame().includes('s3cret'));
  // Edit: the kernel args change, and the review shows the new plan.
  await ui.press(KEY.down, KEY.down, KEY.down);
  await ui.type(' quiet');
  await ui.press(KEY.esc);
  await ui.waitFor('Partitions for Linux on nvme0n1');
  await ui.waitFor('the planner accepts it');
  assert.match(ui.frame(), /2\s+8G\s+8\.0 GiB\s+8200\s+swap/);
  assert.match(ui.frame(), /3\s+100%\s+\S+ GiB\s+8300\s+xfs\s+\//);
  await ui.press(KEY.esc);
  await ui.waitFor('Tags of os-images/debian (2)');
  await ui.waitFor('Linux rootfs (gzip)');
  assert.match(ui.frame(), /► 11/, "the recipe's tag is selected");
  await ui.press(KEY.esc);
  await ui.waitFor('Repositories (2)');
  await ui.press(KEY.esc);
  await ui.waitFor('Install onto which disk?');
  await ui.waitFor(/► nvme0n1/);
  await ui.press(KEY.enter);
  await ui.waitFor('Tags of os-images/debian (2)');
  await ui.waitFor('Linux rootfs (gzip)');
  await ui.press(KEY.up);
  await ui.waitFor('Linux rootfs (zstd)');
  await ui.press(KEY.enter);
  await ui.waitFor('the planner accepts it');
  assert.match(ui.frame(), /2\s+8G\s+8\.0 GiB\s+8200\s+swap/, 'the same OS keeps the edited layout');
  await ui.press('n');
  await ui.waitFor('Settings');
  await ui.press(KEY.enter);
  await ui.waitFor('WILL BE DESTROYED');
  assert.match(ui.frame(), /from registry\.test:5000\/os-images\/debian:12/);
});

test('a recipe whose disk does not exist opens at the Disk screen', async () => {
  const h = makeSession();
  const recipe = parseRecipe({
    task_target: 'install-linux.target',
    target_disk: '/dev/sdz',
    oci_url: 'registry.test:5000/os-images/debian:12',
    partition_layout: [{ size: '100%', format: 'ext4', mountpoint: '/' }],
  });
  const { state, problem } = await stateForRecipe(h.session, recipe);
  assert.equal(state.screen, 'disk');
  assert.match(problem ?? '', /\/dev\/sdz does not exist/);
});
