import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import { parseRecipe, type RecipeInput } from '../../ops/recipe.ts';
import { fromRecipe } from '../../tui/model/wizard.ts';
import { assertFrames, KEY, makeSession, renderApp, type Harness } from './helpers.tsx';

process.env.TERM = 'linux';
afterEach(() => cleanup());

const RECIPE: RecipeInput = {
  task_target: 'install-linux.target',
  target_disk: '/dev/sda',
  oci_url: 'registry.test:5000/os-images/debian:12',
  partition_layout: [
    { size: '512M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
    { size: '16M', type_guid: '0700', format: 'vfat', label: 'cidata' },
    { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
  ],
  user_data: '#cloud-config\npassword: hunter2-very-secret\n',
  hostname: 'web-01',
};

async function atReview(h: Harness, recipe = RECIPE) {
  const disk = await h.session.disk('/dev/sda');
  const ui = renderApp(h, fromRecipe(parseRecipe(recipe), disk));
  await ui.waitFor(/WILL BE DESTROYED|The plan was refused/);
  return ui;
}

test('install: steps, progress bar with bytes, rate and ETA, the running command, the log tail, the full log', async () => {
  const h = makeSession({ script: { holdImage: true, imageBytes: 300 * 1024 * 1024 } });
  const ui = await atReview(h);
  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('Installing Linux onto sda from registry.test:5000/os-images/debian:12');
  await ui.waitFor(/300 MiB of 300 MiB/);
  const f = ui.frame();
  assert.match(f, /√ partition\.service\s+Partition and format the disk\s+\d/);
  assert.match(f, /[|/\\-] image-linux\.service\s+Pull the image and unpack it onto the disk/);
  assert.match(f, /· config-drive\.service\s+Write the cloud-init NoCloud seed/);
  assert.match(f, /· bootloader-linux\.service/);
  assert.match(f, /█{20,}\s+100%/);
  assert.match(f, /iB\/s\s+ETA \d\d:\d\d/);
  assert.match(f, /\$ sh -c 'exit 0' tar --extract/);
  assert.match(f, /── log ─+/);
  assert.match(f, /l full log\s+a abort/);
  assert.ok(!f.includes('hunter2'), 'user-data never on screen');

  await ui.press('l');
  await ui.waitFor('Full log:');
  assert.match(ui.frame(), /==> partition\.service: Partition and format the disk/);
  assert.match(ui.frame(), /\$ true partition\.service/);
  assert.match(ui.frame(), /<== partition\.service done in/);
  assert.match(ui.frame(), /Esc close/);
  await ui.press(KEY.esc);
  await ui.waitFor('l full log');

  // Abort asks first; "keep going" changes nothing.
  await ui.press('a');
  await ui.waitFor('Abort the install? The disk is left partly written');
  assert.match(ui.frame(), /y abort\s+n keep going/);
  await ui.press('n');
  await ui.waitFor('a abort');
  assert.deepEqual(h.script.cleaned, []);
  await ui.press(KEY.ctrlC);
  await ui.waitFor('Abort the install?');
  await ui.press('y');
  await ui.waitFor('The install failed at image-linux.service');
  assert.match(ui.frame(), /aborted during pull the image and unpack it onto the disk/);
  assert.deepEqual(h.script.cleaned, ['detach the disk'], 'the runner released what the steps set up');
  assert.deepEqual(h.script.ran, ['partition.service', 'image-linux.service']);
  assertFrames(ui.frames, 'linux');
});

test('a failed step shows the step, the error, the hint and the log tail; retry starts again at the failed step', async () => {
  const h = makeSession({
    script: {
      fail: {
        step: 'config-drive.service',
        message: 'mcopy -i /dev/sda2 failed with exit code 1:\nplain floppy: device "/dev/sda2" busy',
        hint: 'something holds /dev/sda2 open; check with fuser',
      },
    },
  });
  const ui = await atReview(h);
  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('The install failed at config-drive.service');
  const f = ui.frame();
  assert.match(f, /config-drive\.service \(Write the cloud-init NoCloud[\s│]+seed\)\./);
  assert.match(f, /Error\s+mcopy -i \/dev\/sda2 failed with exit code 1:/);
  assert.match(f, /plain floppy: device "\/dev\/sda2" busy/);
  assert.match(f, /What to do\s+something holds \/dev\/sda2 open; check with fuser/);
  assert.match(f, /last log lines/);
  assert.match(f, /FAILED config-drive\.service/);
  assert.match(f, /r retry\s+Esc change the plan\s+l full log\s+s shell\s+q quit/);

  await ui.press('r');
  await ui.waitFor('Run the same plan again?');
  await ui.press('y');
  await ui.waitFor('Installed Linux onto sda');
  assert.deepEqual(h.script.ran, ['partition.service', 'image-linux.service', 'config-drive.service', 'config-drive.service', 'bootloader-linux.service']);
  await ui.press('s');
  await ui.waitFor(() => h.exits.length > 0);
  assert.deepEqual(h.exits, [10], 'a shell is exit code 10');
  assertFrames(ui.frames, 'linux');
});

test('after a failure, Esc goes back to the plan to change it', async () => {
  const h = makeSession({ script: { fail: { step: 'image-linux.service', message: 'registry.test:5000/os-images/debian:12: manifest unknown (HTTP 404)' } } });
  const ui = await atReview(h);
  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('The install failed at image-linux.service');
  await ui.press(KEY.esc);
  await ui.waitFor('WILL BE DESTROYED');
  await ui.press(KEY.esc);
  await ui.waitFor('Settings for the installed Linux system');
  assert.match(ui.frame(), /Hostname\s+web-01/);
  assert.match(ui.frame(), /User-data: the recipe's, inline \(\d+ bytes\)/);
  assert.ok(!ui.frame().includes('hunter2'));
});

test('a disk that was mounted after the review is refused at the confirmation; nothing runs', async () => {
  const h = makeSession();
  const ui = await atReview(h);
  h.disks[0]!.inUse.push('/dev/sda2 is mounted at /mnt');
  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('Refused: /dev/sda is in use: /dev/sda2 is mounted at /mnt');
  assert.deepEqual(h.script.ran, []);
  assert.match(ui.frame(), /\[Review\]/);
});

test('a plan the engine refuses shows its reasons and offers no confirmation', async () => {
  const h = makeSession();
  const ui = await atReview(h, { ...RECIPE, user_data: { path: '/nonexistent/user-data' } });
  void ui;
  await ui.waitFor('The plan was refused; nothing will be written:');
  assert.match(ui.frame(), /user_data: cannot read \/nonexistent\/user-data \(ENOENT\)/);
  assert.ok(!ui.frame().includes('Enter erase'), 'no Enter to install');
  assert.match(ui.frame(), /Nothing can be installed until the plan is accepted\./);
  await ui.type('sda');
  await ui.press(KEY.enter);
  assert.deepEqual(h.script.ran, []);
});

test('--stop-before: the skipped steps show as skipped and the Done screen says the disk will not boot', async () => {
  const h = makeSession({ stopBefore: 'bootloader-linux.service' });
  const ui = await atReview(h);
  assert.match(ui.frame(), /Erase sda/);
  // Page down to the end of the plan, however long it is (the name field keeps Home/End for itself).
  for (let i = 0; i < 20 && !ui.frame().includes('bootloader-linux.service: skipped'); i++) await ui.press(KEY.pageDown);
  await ui.waitFor('bootloader-linux.service: skipped (--stop-before)');
  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('Installed Linux onto sda');
  assert.match(ui.frame(), /Some steps were left out \(--stop-before\): the disk will not boot as it is\./);
  assert.match(ui.frame(), /- bootloader-linux\.service\s+skipped: left out by --stop-before/);
  assert.deepEqual(h.script.ran, ['partition.service', 'image-linux.service', 'config-drive.service']);
});
