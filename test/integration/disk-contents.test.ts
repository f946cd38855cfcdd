/**
 * What is on the target now, read from a real loop disk (GPT, vfat, ext4 made by mkfs with an os-release in it),
 * and the recipe's wipe guard refusing it before anything is written: the disk's bytes are hashed before and after.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PlanRefused } from '../../ops/plan.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import { prepareInstall } from '../../ops/prepare.ts';
import { parseRecipe } from '../../ops/recipe.ts';
import { buildHive } from '../../ops/windows/regf.ts';
import { attachLoop, makeDiskImage, sh, sha256File } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';

const TOOLS = ['losetup', 'sgdisk', 'partprobe', 'mkfs.ext4', 'mkfs.vfat', 'blkid', 'mount'];
const MACHINE = { uefi: true, efivars: true, filesystems: ['vfat' as const, 'ext4' as const], serial: 'T-1' };

const recipe = (disk: string, extra: Record<string, unknown> = {}) =>
  parseRecipe({
    task_target: 'install-linux.target',
    target_disk: disk,
    oci_url: 'registry.test:5000/os-images/debian:12',
    partition_layout: [
      { size: '64M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
      { size: '100%', format: 'ext4', mountpoint: '/' },
    ],
    ...extra,
  });

/** A loop disk of the test's own: GPT, an ESP (vfat) and an ext4 "root" holding `files`. Detached after the test. */
async function oldDisk(t: TestContext, files: Record<string, string>): Promise<{ loop: string; image: string }> {
  const work = await mkdtemp(join(tmpdir(), 'shoal-contents-'));
  const image = makeDiskImage(join(work, 'disk.img'), '160M');
  const tree = join(work, 'tree');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(tree, path, '..'), { recursive: true });
    await writeFile(join(tree, path), text);
  }
  await mkdir(tree, { recursive: true });
  sh(`sgdisk --new=1:1M:+32M --typecode=1:ef00 --new=2:0:0 --typecode=2:8300 ${image}`);
  const loop = attachLoop(image, { partscan: true });
  t.after(async () => {
    sh(`losetup -d ${loop}`);
    await rm(work, { recursive: true, force: true });
  });
  sh(`partprobe ${loop} || true`);
  for (let i = 0; i < 100 && !sh(`ls ${loop}p2 2>/dev/null || true`).trim(); i++) await new Promise((r) => setTimeout(r, 100));
  sh(`mkfs.vfat -n EFI ${loop}p1 >/dev/null && mkfs.ext4 -q -F -L root -d ${tree} ${loop}p2`);
  return { loop, image };
}

const DEBIAN = { 'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n' };

/** Our own mounts of the disk's partitions (the look inside must let go of them). */
const mountsOf = async (loop: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(` ${loop}p`));

test('the plan says what is on the disk now: partition table, filesystems and labels, the OS from os-release, space in use; nothing stays mounted', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const { loop } = await oldDisk(t, DEBIAN);
  const { plan } = await prepareInstall(recipe(loop), { machine: MACHINE });
  const root = plan.contents?.volumes.find((v) => v.device === `${loop}p2`);
  assert.deepEqual(root?.os, { kind: 'linux', id: 'debian', name: 'Debian GNU/Linux 12 (bookworm)' });
  assert.ok((root?.usedBytes ?? 0) > 0, 'the space in use is measured');
  const text = renderPlan(plan);
  assert.match(
    text,
    /ON THE DISK NOW:\n {2}GPT partition table\n {2}\S+p1 {2}32\.0 MiB {2}vfat {2}"EFI"\n {2}\S+p2 .* {2}ext4 {2}"root" {2}Debian GNU\/Linux 12 \(bookworm\) {2}[\d.]+ \w+ in use/,
  );
  assert.deepEqual(await mountsOf(loop), []);
});

test('a hostile os-release cannot put terminal escape sequences into the plan', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const { loop } = await oldDisk(t, { 'etc/os-release': 'PRETTY_NAME="\u001b]0;owned\u0007\u001b[2JEvil OS\u009b"\nID=evil\n' });
  const { plan } = await prepareInstall(recipe(loop), { machine: MACHINE });
  const text = renderPlan(plan);
  assert.match(text, /\]0;owned\[2JEvil OS/);
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
});

test('wipe "empty-or-same": a disk holding another OS is refused before anything is written (bytes unchanged); the same OS is allowed', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const { loop, image } = await oldDisk(t, DEBIAN);
  const before = await sha256File(image);
  const other = recipe(loop, { wipe: 'empty-or-same', oci_url: 'registry.test:5000/os-images/ubuntu-rootfs:22.04' });
  await assert.rejects(prepareInstall(other, { machine: MACHINE }), (e: Error) => {
    assert.ok(e instanceof PlanRefused, String(e));
    assert.match(e.message, /wipe "empty-or-same": \S+p2 holds Debian GNU\/Linux 12 \(bookworm\) \(ID debian\), not the OS being installed \(ubuntu rootfs/);
    return true;
  });
  assert.equal(await sha256File(image), before, 'the refused disk is byte for byte what it was');
  assert.deepEqual(await mountsOf(loop), []);
  const same = await prepareInstall(recipe(loop, { wipe: 'empty-or-same' }), { machine: MACHINE });
  assert.equal(same.plan.contents?.examined, true);
});

test('wipe "empty-or-same": data without an OS is refused; without the guard the same disk is planned for erasing as before', async (t) => {
  if (!skipUnless(t, TOOLS)) return;
  const { loop, image } = await oldDisk(t, { 'pgdata/PG_VERSION': '15\n' });
  const before = await sha256File(image);
  await assert.rejects(prepareInstall(recipe(loop, { wipe: 'empty-or-same' }), { machine: MACHINE }), /holds data but no OS: \S+p1 vfat "EFI", \S+p2 ext4 "root"/);
  assert.equal(await sha256File(image), before);
  const { plan } = await prepareInstall(recipe(loop), { machine: MACHINE });
  assert.match(renderPlan(plan), /WILL BE DESTROYED:/);
});

test('a Windows found by its SOFTWARE hive (NTFS mounted read-only, hivexget) is another OS to a Linux recipe with the guard', async (t) => {
  if (!skipUnless(t, [...TOOLS, 'mkntfs', 'ntfs-3g', 'hivexget'])) return;
  const { loop, image } = await oldDisk(t, {});
  const mnt = await mkdtemp(join(tmpdir(), 'shoal-ntfs-'));
  t.after(() => rm(mnt, { recursive: true, force: true }));
  sh(`mkntfs -Q -F -L Windows ${loop}p2 >/dev/null`);
  sh(`ntfs-3g ${loop}p2 ${mnt}`);
  try {
    await mkdir(join(mnt, 'Windows/System32/config'), { recursive: true });
    const product = { name: 'CurrentVersion', values: [{ name: 'ProductName', type: 'REG_SZ' as const, data: 'Windows Server 2022 Standard' }] };
    await writeFile(
      join(mnt, 'Windows/System32/config/SOFTWARE'),
      buildHive({ name: 'ROOT', children: [{ name: 'Microsoft', children: [{ name: 'Windows NT', children: [product] }] }] }),
    );
  } finally {
    sh(`umount ${mnt}`);
  }
  const before = await sha256File(image);
  await assert.rejects(
    prepareInstall(recipe(loop, { wipe: 'empty-or-same' }), { machine: MACHINE }),
    /\S+p2 holds Windows Server 2022 Standard \(ID windows\), not the OS being installed \(debian/,
  );
  assert.equal(await sha256File(image), before);
  assert.deepEqual(await mountsOf(loop), []);
});
