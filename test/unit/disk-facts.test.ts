/**
 * lsblk -> disk facts, the part the disk guard reads: partitions, mounts, the boot medium, swap and holders, from
 * the canned lsblk output of test/fixtures/lsblk/ (shared with the disk-hints tests) with mounts and swap set
 * per case; the machine is never read.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { disksOf, parseLsblk, type DiskContext, type LsblkDevice } from '../../ops/disks.ts';

const sata = () => parseLsblk(readFileSync(new URL('../fixtures/lsblk/sata.json', import.meta.url), 'utf8'));
const quiet: DiskContext = { swaps: [], holders: async () => [], sysfs: async () => ({}) };

async function facts(edit: (devices: LsblkDevice[]) => void = () => {}, ctx: Partial<DiskContext> = {}) {
  const devices = sata();
  edit(devices);
  const disks = await disksOf(devices, { ...quiet, ...ctx });
  return { sda: disks.find((d) => d.name === 'sda')!, sdb: disks.find((d) => d.name === 'sdb')! };
}

const part = (devices: LsblkDevice[], name: string) => devices.flatMap((d) => d.children ?? []).find((c) => c.name === name)!;

test('a disk nothing uses: size, sector size, table and partitions mapped, no reason in inUse', async () => {
  const { sda, sdb } = await facts();
  assert.deepEqual(
    {
      path: sda.path,
      kind: sda.kind,
      sizeBytes: sda.sizeBytes,
      sectorSize: sda.sectorSize,
      readOnly: sda.readOnly,
      table: sda.partitionTable,
      inUse: sda.inUse,
      boot: sda.bootMedium,
    },
    { path: '/dev/sda', kind: 'block', sizeBytes: 480103981056, sectorSize: 512, readOnly: false, table: 'gpt', inUse: [], boot: false },
  );
  assert.deepEqual(sda.partitions, [
    { path: '/dev/sda1', sizeBytes: 536870912, fstype: 'vfat', label: 'EFI', uuid: '9A1B-2C3D', typeName: 'EFI System', mountpoints: [] },
    { path: '/dev/sda2', sizeBytes: 479565037568, fstype: 'ext4', label: 'root', uuid: '3b0c7e9a-5d2f-4a61-8e1b-7c9d0f2a4b6e', typeName: 'Linux filesystem', mountpoints: [] },
  ]);
  assert.equal(sdb.partitionTable, undefined, "lsblk's null pttype is no table");
  assert.deepEqual(sdb.partitions, []);
});

test('a mounted partition is a reason, on that disk only', async () => {
  const { sda, sdb } = await facts((d) => (part(d, 'sda2').mountpoints = ['/srv/data']));
  assert.deepEqual(sda.inUse, ['/dev/sda2 is mounted at /srv/data']);
  assert.equal(sda.bootMedium, false);
  assert.deepEqual(sdb.inUse, []);
});

test('the running system booted from it: the boot medium, named with the mount that says so', async () => {
  const { sda } = await facts((d) => {
    part(d, 'sda2').mountpoints = ['/'];
    part(d, 'sda1').mountpoints = ['/boot/efi'];
  });
  assert.equal(sda.bootMedium, true);
  assert.deepEqual(sda.inUse, ["it is the running system's boot medium (/dev/sda1 is mounted at /boot/efi)", '/dev/sda2 is mounted at /']);
});

test('active swap on a partition, and a partition held by device-mapper, RAID or LVM, are reasons', async () => {
  const { sda, sdb } = await facts(undefined, { swaps: ['/dev/sda2'], holders: async (name) => (name === 'sdb' ? ['md0'] : []) });
  assert.deepEqual(sda.inUse, ['/dev/sda2 is active swap']);
  assert.deepEqual(sdb.inUse, ['/dev/sdb is held by md0 (RAID, LVM or device-mapper)']);
});

test('what a dead install left mounted is named as that, with the command that clears it', async () => {
  const { sda } = await facts((d) => (part(d, 'sda2').mountpoints = ['/run/shoal-install/target-abc']));
  assert.ok(
    sda.inUse.some((r) => /left mounted by an install that did not finish.*umount --recursive \/run\/shoal-install\/target-abc$/.test(r)),
    sda.inUse.join('\n'),
  );
});

test('lsblk output that is not what we read is refused, not guessed at', () => {
  assert.throws(() => parseLsblk('{"blockdevices":[{"name":"sda","path":"/dev/sda","type":"disk","size":"big","ro":false}]}'));
  assert.throws(() => parseLsblk('{}'));
});
