import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { partitionDevice, type DiskFacts } from '../../ops/disks.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { renderPlan } from '../../ops/plan-text.ts';
import { makePlan, PlanRefused } from '../../ops/plan.ts';
import { parseRecipe, parseRecipeText, type Recipe } from '../../ops/recipe.ts';
import { MiB } from '../../ops/sizes.ts';

const GiB = 1024 * MiB;
const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4', 'xfs'], serial: 'SN123' };
const disk = (over: Partial<DiskFacts> = {}): DiskFacts => ({
  path: '/dev/sda',
  kind: 'block',
  name: 'sda',
  sizeBytes: 20 * GiB,
  sectorSize: 512,
  readOnly: false,
  partitions: [],
  inUse: [],
  bootMedium: false,
  ...over,
});
const example = async (name: string): Promise<Recipe> => parseRecipeText(await readFile(new URL(`../../examples/${name}`, import.meta.url), 'utf8'));

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PlanRefused, String(e));
    return e.message;
  }
  assert.fail('the plan was accepted');
}

test('partition device names follow the kernel', () => {
  assert.equal(partitionDevice('/dev/sda', 1), '/dev/sda1');
  assert.equal(partitionDevice('/dev/vdb', 3), '/dev/vdb3');
  assert.equal(partitionDevice('/dev/nvme0n1', 2), '/dev/nvme0n1p2');
  assert.equal(partitionDevice('/dev/loop0', 1), '/dev/loop0p1');
  assert.equal(partitionDevice('/dev/mmcblk0', 1), '/dev/mmcblk0p1');
});

test('ESP + cidata + root: aligned to 1 MiB, rest of disk to root, types and roles right', async () => {
  const plan = makePlan(await example('linux-cidata.json'), disk(), machine);
  const [esp, cidata, root] = plan.partitions;
  assert.equal(esp!.startSector, 2048);
  assert.equal(esp!.sizeBytes, 512 * MiB);
  assert.equal(cidata!.startSector, 2048 + 512 * 2048);
  assert.equal(cidata!.role, 'cidata');
  assert.equal(root!.role, 'root');
  assert.equal((root!.endSector + 1) % 2048, 0);
  const totalSectors = (20 * GiB) / 512;
  assert.ok(root!.endSector <= totalSectors - 34, 'room for the backup GPT');
  assert.ok(root!.endSector > totalSectors - 2048 - 34);
  for (const p of plan.partitions) assert.equal(p.startSector % 2048, 0);
  assert.deepEqual(plan.steps, ['partition.service', 'image-linux.service', 'config-drive.service', 'bootloader-linux.service']);
  assert.match(esp!.fsUuid!, /^[0-9A-F]{4}-[0-9A-F]{4}$/);
  assert.match(root!.fsUuid!, /^[0-9a-f-]{36}$/);
});

test('the plan text names the disk, what is destroyed and the exact commands', async () => {
  const plan = makePlan(
    await example('linux-swap.json'),
    disk({
      path: '/dev/nvme0n1',
      name: 'nvme0n1',
      model: 'Samsung PM9A3',
      partitions: [{ path: '/dev/nvme0n1p1', sizeBytes: GiB, fstype: 'ext4', label: 'old', mountpoints: [] }],
    }),
    machine,
  );
  const text = renderPlan(plan);
  assert.match(text, /Target disk: \/dev\/nvme0n1 \(20\.0 GiB, Samsung PM9A3/);
  assert.match(text, /WILL BE DESTROYED:\n {2}\/dev\/nvme0n1p1 1\.0 GiB ext4 "old"/);
  assert.match(text, /\$ sfdisk --quiet --wipe always --wipe-partitions always --no-reread --no-tell-kernel \/dev\/nvme0n1 <<'EOF'\n {2}\$ label: gpt\n/);
  assert.match(text, new RegExp(`\\$ label-id: ${plan.diskGuid}\n`));
  assert.match(text, /\$ start=2048, size=1048576, type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, uuid=[0-9a-f-]+, name="EFI"\n/);
  assert.match(text, new RegExp(`\\$ mkswap -U ${plan.partitions[1]!.fsUuid} -L swap /dev/nvme0n1p2`));
  assert.match(text, /\$ mkfs\.ext4 -F -q -U [0-9a-f-]+ -L root \/dev\/nvme0n1p3/);
  assert.match(text, /bootloader-linux\.service/);
});

test('a layout bigger than the disk is refused with the sizes', () => {
  const recipe = parseRecipe({
    task_target: 'install-linux.target',
    target_disk: '/dev/sda',
    oci_url: 'r:1/a:b',
    partition_layout: [
      { size: '512M', format: 'vfat', type_guid: 'ef00', mountpoint: '/boot/efi' },
      { size: '30G', format: 'ext4', mountpoint: '/' },
    ],
  });
  assert.match(
    refusal(() => makePlan(recipe, disk(), machine)),
    /partition_layout\[1\] \(30G\) does not fit.*20\.0 GiB of \/dev\/sda/,
  );
});

test('disks in use, read-only disks and the boot medium are refused with the reason', async () => {
  const r = await example('linux-esp-root.json');
  assert.match(
    refusal(() => makePlan(r, disk({ inUse: ["it is the running system's boot medium (/dev/sda2 is mounted at /)"] }), machine)),
    /boot medium/,
  );
  assert.match(
    refusal(() => makePlan(r, disk({ readOnly: true }), machine)),
    /read-only/,
  );
});

test('layout mistakes are refused: 100% not last, duplicate mountpoints, no root, swap mounted, long labels', () => {
  const make = (partition_layout: unknown[]) =>
    refusal(() => makePlan(parseRecipe({ task_target: 'install-linux.target', target_disk: '/dev/sda', oci_url: 'r:1/a:b', partition_layout }), disk(), machine));
  assert.match(
    make([
      { size: '100%', format: 'ext4', mountpoint: '/' },
      { size: '1G', format: 'swap' },
    ]),
    /only the last partition/,
  );
  assert.match(
    make([
      { size: '1G', format: 'ext4', mountpoint: '/' },
      { size: '1G', format: 'ext4', mountpoint: '/' },
    ]),
    /two partitions are mounted at \//,
  );
  assert.match(make([{ size: '1G', format: 'ext4', mountpoint: '/srv' }]), /no partition is mounted at \//);
  assert.match(make([{ size: '1G', format: 'swap', mountpoint: '/' }]), /swap, which cannot be mounted/);
  assert.match(
    make([
      { size: '1G', format: 'vfat', label: 'MUCH-TOO-LONG', mountpoint: '/boot/efi' },
      { size: '1G', format: 'ext4', mountpoint: '/' },
    ]),
    /longer than vfat allows/,
  );
});

test('an ESP the kernel cannot mount is refused; --stop-before the bootloader lifts the ESP checks', async () => {
  const r = await example('linux-esp-root.json');
  const noVfat = { ...machine, filesystems: ['ext4' as const] };
  assert.match(
    refusal(() => makePlan(r, disk(), noVfat)),
    /this kernel cannot mount vfat/,
  );
  const noEsp = parseRecipe({
    ...r,
    partition_layout: [
      { size: '64M', format: 'vfat', type_guid: 'ef00' },
      { size: '100%', format: 'ext4', mountpoint: '/' },
    ],
  });
  assert.match(
    refusal(() => makePlan(noEsp, disk(), noVfat)),
    /must be mounted at \/boot\/efi/,
  );
  const plan = makePlan(noEsp, disk(), noVfat, { stopBefore: 'bootloader-linux.service' });
  assert.deepEqual(plan.steps, ['partition.service', 'image-linux.service']);
  assert.deepEqual(plan.skipped, ['bootloader-linux.service']);
  assert.ok(plan.warnings.some((w) => w.includes('not be bootable')));
});

test('an image reference that cannot be parsed is refused before anything runs', async () => {
  const r = { ...(await example('linux-esp-root.json')), oci_url: 'no-registry-here' };
  assert.match(
    refusal(() => makePlan(r, disk(), machine)),
    /oci_url/,
  );
});

test('Windows: ESP, MSR and NTFS get their types; a 4Kn disk aligns in 4096-byte sectors', async () => {
  const plan = makePlan(await example('windows.json'), disk({ sectorSize: 4096 }), machine);
  assert.deepEqual(
    plan.partitions.map((p) => [p.role, p.typeCode]),
    [
      ['esp', 'ef00'],
      ['msr', '0c01'],
      ['windows', '0700'],
    ],
  );
  assert.equal(plan.partitions[0]!.startSector, 256);
  assert.deepEqual(plan.steps, ['partition.service', 'image-windows.service', 'bootloader-windows.service']);
});
