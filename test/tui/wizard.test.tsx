import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup } from 'ink-testing-library';
import { assertFrames, KEY, makeSession, renderApp } from './helpers.tsx';

process.env.TERM = 'linux';
afterEach(() => cleanup());

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly tech@console';

test('the whole wizard on the Linux VT: machine, disk, image, layout, settings, review, install, done, reboot', async () => {
  const h = makeSession();
  const ui = renderApp(h);

  await ui.waitFor('SRV-0042');
  const machine = ui.frame();
  for (const s of ['Dell Inc. PowerEdge R650', 'UEFI, boot entries can be written', '64.0 GiB', 'eno1', '10.0.0.42/24', 'aa:bb:cc:00:00:02']) {
    assert.ok(machine.includes(s), `machine screen shows ${s}`);
  }
  await ui.waitFor('registry.test:5000 answers (2 repositories)');
  assert.match(ui.frame(), /Enter choose a disk\s+r refresh\s+q quit/);

  await ui.press(KEY.enter);
  await ui.waitFor('nvme0n1');
  const disks = ui.frame();
  assert.match(disks, /► sda\s+480 GiB\s+sata\s+SAMSUNG MZ7LH480\s+S45NNA0M123456/);
  assert.match(disks, /- sdb\s+8\.0 GiB\s+usb\s+Virtual Media\s+boot medium/);
  assert.match(disks, /- sdc\s+32\.0 GiB\s+usb\s+Write Protected\s+read-only/);
  assert.match(disks, /nvme0n1\s+960 GiB\s+nvme/);
  assert.match(disks, /WWN 0x5002538e40a1b2c3/);
  assert.match(disks, /Found: Linux\?: ext4 "root", EFI/);
  assert.match(disks, /sda2\s+479 GiB\s+ext4\s+"root"\s+Linux filesystem/);

  // The boot medium is greyed, shows why, and Enter refuses it.
  await ui.press(KEY.down);
  await ui.waitFor("Cannot be chosen: it is the running system's boot medium");
  await ui.press(KEY.enter);
  await ui.waitFor("sdb cannot be chosen: it is the running system's boot medium");
  assert.match(ui.frame(), /\[Disk\]/, 'still on the Disk screen');
  // So is the read-only one.
  await ui.press(KEY.down, KEY.enter);
  await ui.waitFor('sdc cannot be chosen: the disk is read-only');
  // The Windows NVMe is free, and says what is on it.
  await ui.press(KEY.down);
  await ui.waitFor('Found: Windows?: NTFS "Windows", EFI');

  await ui.press(KEY.up, KEY.up, KEY.up, KEY.enter);
  await ui.waitFor('Repositories (2)');
  assert.match(ui.frame(), /► os-images\/debian/);
  await ui.press(KEY.enter);
  await ui.waitFor('Tags of os-images/debian (2)');
  await ui.waitFor('Linux rootfs (zstd)');
  const image = ui.frame();
  for (const s of [
    'registry.test:5000/os-images/debian:12',
    '312 MiB',
    'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.shoal.rootfs.tar.zst',
    'debian-12-rootfs.tar.zst',
    'sha256:ab12ab12',
  ]) {
    assert.ok(image.includes(s), `image details show ${s}`);
  }
  await ui.press(KEY.down);
  await ui.waitFor('Linux rootfs (gzip)');
  await ui.press(KEY.up);
  await ui.waitFor('Linux rootfs (zstd)');
  await ui.press(KEY.enter);

  await ui.waitFor('Partitions for Linux on sda (480 GiB)');
  await ui.waitFor('the planner accepts it');
  const layout = ui.frame();
  assert.match(layout, /EFI \+ root\s+\(in use\)\s+fits/);
  assert.match(layout, /EFI \+ swap \+ root\s+fits/);
  assert.match(layout, /1\s+512M\s+512 MiB\s+ef00\s+vfat\s+\/boot\/efi\s+EFI/);
  assert.match(layout, /2\s+100%\s+479 GiB\s+8300\s+ext4\s+\/\s+root/);
  assert.ok(!layout.includes('Windows'), 'only Linux presets for a Linux image');

  // Edit the ESP to something that cannot fit: the planner's refusal shows while typing, then undo it.
  await ui.press(KEY.enter);
  await ui.waitFor('Edit partition 1');
  await ui.press(KEY.ctrlU);
  await ui.type('2000G');
  await ui.waitFor('Refused by the planner:');
  await ui.waitFor(/partition_layout\[0\] \(2000G\) does not fit/);
  await ui.press(KEY.esc);
  await ui.waitFor('the planner accepts it');
  assert.match(ui.frame(), /1\s+512M\s+512 MiB/);

  // Add a partition, see it, delete it again.
  await ui.press('a');
  await ui.waitFor(/2\s+10G\s+10\.0 GiB\s+8300\s+ext4/);
  await ui.press('x');
  await ui.waitFor(() => !/10\.0 GiB/.test(ui.frame()));

  await ui.press('n');
  await ui.waitFor('Settings for the installed Linux system');
  await ui.type('web-01');
  await ui.press(KEY.down);
  await ui.type(SSH_KEY);
  await ui.waitFor('User-data: cloud-config with this SSH key');
  await ui.press(KEY.down, KEY.down);
  await ui.type('console=ttyS0,115200');

  await ui.press(KEY.enter);
  await ui.waitFor('WILL BE DESTROYED');
  const review = ui.frame();
  assert.match(review, /Erase sda \(480 GiB SAMSUNG MZ7LH480\) and install Linux\./);
  assert.match(review, /Install Linux from registry\.test:5000\/os-images\/debian:12/);
  assert.match(review, /Target disk: \/dev\/sda/);
  assert.match(review, /\/dev\/sda1 512 MiB vfat "EFI"/);
  assert.match(review, /Type the disk's name \(sda\) to erase it and install:/);
  assert.ok(!review.includes('AAAAC3NzaC1lZDI1NTE5'), 'user-data is never shown');

  // The plan scrolls: the partition commands are further down.
  await ui.press(KEY.pageDown);
  await ui.waitFor('sfdisk');

  // A wrong name is refused and nothing runs.
  await ui.type('sdb');
  await ui.press(KEY.enter);
  await ui.waitFor(`Refused: "sdb" is not this disk's name (sda). Nothing was written.`);
  assert.deepEqual(h.script.ran, []);

  await ui.type('sda');
  await ui.press(KEY.enter);
  await ui.waitFor('Installed Linux onto sda');
  assert.deepEqual(h.script.ran, ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service']);
  const done = ui.frame();
  assert.match(done, /√ partition\.service\s+\d/);
  assert.match(done, /√ bootloader-linux\.service/);
  assert.match(done, /sha256:(ab12){16}/);
  assert.match(done, /The disk is ready to boot\./);
  assert.match(done, /r reboot\s+p power off\s+s shell\s+l log/);
  await ui.press(KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down);
  await ui.waitFor('PARTUUID');
  await ui.waitFor(/UUID [0-9a-f-]{36}/);

  await ui.press('r');
  await ui.waitFor('Reboot now?');
  await ui.press('y');
  await ui.waitFor(() => h.exits.length > 0);
  assert.deepEqual(h.power, ['reboot']);
  assert.deepEqual(h.exits, [0]);

  assertFrames(ui.frames, 'linux');
});

test('Esc walks back through the wizard and keeps every choice', async () => {
  const h = makeSession();
  const ui = renderApp(h);
  await ui.waitFor('SRV-0042');
  await ui.press(KEY.enter);
  await ui.waitFor('nvme0n1');
  await ui.press(KEY.down, KEY.down, KEY.down);
  await ui.waitFor('Found: Windows?');
  await ui.press(KEY.enter);
  await ui.waitFor('Repositories (2)');
  await ui.press(KEY.down, KEY.enter);
  await ui.waitFor('Tags of os-images/windows-server (1)');
  await ui.waitFor('Windows WIM');
  await ui.press(KEY.enter);
  await ui.waitFor('Partitions for Windows on nvme0n1');
  await ui.waitFor('the planner accepts it');
  assert.match(ui.frame(), /EFI \+ MSR \+ Windows/);
  assert.match(ui.frame(), /3\s+100%\s+\S+ GiB\s+0700\s+ntfs/);
  await ui.press('n');
  await ui.waitFor('Settings for the installed Windows system');
  assert.match(ui.frame(), /unattend\.xml/);
  assert.match(ui.frame(), /WIM index/);
  assert.ok(!ui.frame().includes('SSH public key'), 'no SSH key for Windows');

  await ui.press(KEY.esc);
  await ui.waitFor('Partitions for Windows on nvme0n1');
  await ui.press(KEY.esc);
  await ui.waitFor('Tags of os-images/windows-server (1)');
  assert.match(ui.frame(), /► 2022/, 'the chosen image is still selected');
  assert.match(ui.frame(), /Esc repos\s+t type ref\s+h registry\s+c login\s+q quit/);
  await ui.press(KEY.esc);
  await ui.waitFor('Repositories (2)');
  await ui.press(KEY.esc);
  await ui.waitFor('Install onto which disk?');
  await ui.waitFor(/► nvme0n1/);
  await ui.press(KEY.esc);
  await ui.waitFor('This machine');
  await ui.press('q');
  await ui.waitFor('Quit the installer? Nothing has been written.');
  assert.match(ui.frame(), /y quit\s+n stay/);
  await ui.press('n');
  await ui.waitFor('Enter: choose the disk');
  await ui.press(KEY.ctrlC);
  await ui.waitFor('Quit the installer?');
  await ui.press('y');
  await ui.waitFor(() => h.exits.length > 0);
  assert.deepEqual(h.exits, [130]);
  assertFrames(ui.frames, 'linux');
});
