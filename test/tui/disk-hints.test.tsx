import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import type { MachineFacts } from '../../ops/machine.ts';
import type { PrepareOptions } from '../../ops/prepare.ts';
import { parseRecipe, type Recipe } from '../../ops/recipe.ts';
import { stateForRecipe } from '../../tui/app.tsx';
import { fixturePrepare, KEY, makeSession, renderApp, type Harness } from './helpers.tsx';

process.env.TERM = 'linux';
afterEach(() => cleanup());

const hinted = (hints: Record<string, unknown>): Recipe =>
  parseRecipe({
    task_target: 'install-linux.target',
    target_disk_hints: hints,
    oci_url: 'registry.test:5000/os-images/debian:12',
    partition_layout: [
      { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
      { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
    ],
  });

/** The fixture disks with the by-path names udev would give them, and a plan that found an old Debian on sda. */
function session(): Harness {
  let h: Harness | undefined;
  const prepare = async (recipe: Recipe, opts: PrepareOptions) => {
    const prepared = await fixturePrepare(() => h!.disks)(recipe, opts as { machine?: MachineFacts });
    prepared.plan.contents = {
      examined: true,
      partitionTable: 'gpt',
      volumes: [{ device: '/dev/sda2', sizeBytes: 479 * 1024 ** 3, fstype: 'ext4', label: 'root', os: { kind: 'linux', id: 'debian', name: 'Debian GNU/Linux 11 (bullseye)' } }],
    };
    return prepared;
  };
  h = makeSession({ deps: { prepare } });
  h.disks[0]!.byPath = ['pci-0000:00:17.0-ata-1'];
  h.disks[3]!.byPath = ['pci-0000:3b:00.0-nvme-1'];
  return h;
}

test('a recipe with hints opens at Review on the disk they chose, the confirmation says what is on it; the Disk screen marks the choice and the ruled-out disks with why', async () => {
  const h = session();
  const { state } = await stateForRecipe(h.session, hinted({ serial: 'S45NNA0M123456' }));
  assert.equal(state.screen, 'review');
  assert.equal(state.disk?.facts.path, '/dev/sda');
  const ui = renderApp(h, state);
  await ui.waitFor('ON THE DISK NOW');
  assert.match(ui.frame(), /chosen: the only disk matching serial:S45NNA0M123456/);
  assert.match(ui.frame(), /On sda now \(will be erased\): Debian GNU\/Linux 11 \(bullseye\)/);
  assert.match(ui.frame(), /Type the disk's name \(sda\)/);

  await ui.press(KEY.esc);
  await ui.waitFor('Settings');
  await ui.press(KEY.esc);
  await ui.waitFor('Partitions for Linux');
  await ui.press(KEY.esc);
  await ui.waitFor('Tags of os-images/debian');
  await ui.press(KEY.esc);
  await ui.waitFor('Repositories');
  await ui.press(KEY.esc);
  await ui.waitFor('Install onto which disk?');
  await ui.waitFor(/\* sda .*chosen by hints/);
  assert.match(ui.frame(), /x nvme0n1 .*ruled out/);
  assert.match(ui.frame(), /serial S45NNA0M123456 +WWN 0x5002538e40a1b2c3 +transport sata/);
  assert.match(ui.frame(), /by-path pci-0000:00:17\.0-ata-1/);
  assert.match(ui.frame(), /Chosen by the recipe's hints: the only disk matching serial:S45NNA0M123456/);
  await ui.waitFor(() => /► \* sda/.test(ui.frame()));
  await ui.press(KEY.down, KEY.down, KEY.down);
  await ui.waitFor(/► x nvme0n1/);
  assert.match(ui.frame(), /Ruled out by the recipe's hints: serial is "NV123", not "S45NNA0M123456"/);
  assert.match(ui.frame(), /by-path pci-0000:3b:00\.0-nvme-1/);
  await ui.press(KEY.up, KEY.up);
  await ui.waitFor(/► x sdb/);
  assert.match(ui.frame(), /Ruled out by the recipe's hints: the running system's boot medium/);
});

test('hints that match two disks open the console at the Disk screen, both marked as matching and neither chosen', async () => {
  const h = session();
  const { state, problem } = await stateForRecipe(h.session, hinted({ size: '>= 400G' }));
  assert.equal(state.screen, 'disk');
  assert.match(problem ?? '', /match 2 disks[\s\S]*\/dev\/sda: 480 GiB[\s\S]*\/dev\/nvme0n1: 960 GiB/);
  const ui = renderApp(h, state);
  await ui.waitFor(/\? sda .*matches hints/);
  assert.match(ui.frame(), /\? nvme0n1 .*matches hints/);
  assert.match(ui.frame(), /x sdc .*ruled out/);
  assert.doesNotMatch(ui.frame(), /chosen by hints/);
  assert.match(ui.frame(), /Matches the recipe's hints: matches size:>=400G, as another disk does/);
});
