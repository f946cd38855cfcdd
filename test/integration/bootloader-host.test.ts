/**
 * bootloader-linux.service on the host, as far as this kernel allows, decided by the machine's facts
 * (/proc/filesystems and the module list, read by machineFacts as the installer reads them):
 * - where the kernel mounts vfat, the whole install runs on a loop disk, boot loader included, from the VM tests'
 *   Debian fixture (it has GRUB and a kernel; built once and cached), with /sys/firmware hidden from the installer
 *   so the host's firmware entries are never written: GRUB lands on the ESP's removable path and the log says no
 *   firmware entry was written;
 * - where it cannot, the planner refuses the ESP's /boot/efi naming vfat, and nothing is written.
 * The VM tier runs the boot loader for real in both cases and boots the result.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { machineFacts } from '../../ops/machine.ts';
import { resultOf, runCli } from '../helpers/cli.ts';
import { inspectImage, loopsOf, makeDiskImage, sha256File } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';
import { pushArtifact, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { buildFixtureRootfs } from '../vm/lib/fixture-os.ts';

let work: string | undefined;
let registry: TestRegistry | undefined;

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const recipe = (disk: string, ociUrl: string) => ({
  task_target: 'install-linux.target',
  target_disk: disk,
  oci_url: ociUrl,
  partition_layout: [
    { size: '128M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi', label: 'EFI' },
    { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
  ],
});

test('the boot loader step on this host: run whole where the kernel mounts vfat, else refused by the planner naming vfat', async (t) => {
  const vfat = (await machineFacts()).filesystems.includes('vfat');
  t.diagnostic(`this kernel ${vfat ? 'mounts' : 'cannot mount'} vfat`);
  work = await mkdtemp(join(tmpdir(), 'shoal-bootloader-host-'));
  const disk = makeDiskImage(join(work, 'disk.img'), vfat ? '4G' : '256M');
  const recipePath = join(work, 'recipe.json');

  if (!vfat) {
    if (!skipUnless(t, ['losetup'])) return;
    await writeFile(recipePath, JSON.stringify(recipe(disk, '127.0.0.1:9/os/fixture:1')));
    const before = await sha256File(disk);
    const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json'], { noFirmware: true });
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /this kernel cannot mount vfat \(needed for \/boot\/efi\)/);
    assert.equal(await sha256File(disk), before, 'nothing was written');
    return;
  }

  if (!skipUnless(t, ['docker-registry', 'skopeo', 'sgdisk', 'mkfs.vfat', 'mkfs.ext4', 'zstd', 'mmdebstrap', 'mdir'])) return;
  const tarball = await buildFixtureRootfs();
  registry = await startRegistry();
  await pushArtifact(registry, 'os/fixture:1', tarball, {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
    artifactType: 'application/vnd.shoal.rootfs.tar.zst',
    title: 'rootfs.tar.zst',
  });
  await writeFile(recipePath, JSON.stringify(recipe(disk, `${registry.host}/os/fixture:1`)));
  const run = await runCli(['install', '--recipe', recipePath, '--yes', '--json'], { noFirmware: true, timeoutMs: 900_000 });
  assert.equal(run.code, 0, run.stdout.slice(-4000) + run.stderr);
  assert.ok(
    resultOf(run)!.steps.some((s) => s.step === 'bootloader-linux.service'),
    'the boot loader step ran',
  );
  assert.ok(
    run.events.some((e) => e.type === 'log' && e.level === 'warn' && /no efivars: no firmware boot entry written/.test(e.message)),
    'the firmware was hidden: no entry written, a warning',
  );
  assert.deepEqual(run.leftMounted, [], 'nothing left mounted');
  assert.equal(loopsOf(disk), '', 'the loop device was detached');
  const img = await inspectImage(disk, join(work, 'inspect'));
  try {
    const esp = await img.mount(1, 'esp', 'vfat');
    const root = await img.mount(2, 'root', 'ext4');
    assert.ok(existsSync(join(esp, 'EFI/BOOT/BOOTX64.EFI')), 'GRUB on the removable path');
    assert.match(readFileSync(join(root, 'boot/grub/grub.cfg'), 'utf8'), new RegExp(`root=UUID=${img.blkid(2).UUID}`));
  } finally {
    await img.release();
  }
});
