// The recipe's sgdisk type codes become GPT type GUIDs for sfdisk: the table, the recipe's refusal of a code with
// no GUID, and the sfdisk script read back from a disk image file (sfdisk and sgdisk run on a plain file, no root).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DiskFacts } from '../../ops/disks.ts';
import { GPT_TYPE_GUIDS, typeGuid } from '../../ops/gpt-types.ts';
import type { MachineFacts } from '../../ops/machine.ts';
import { sfdiskScript } from '../../ops/partition.ts';
import { makePlan } from '../../ops/plan.ts';
import { parseRecipe, RecipeError } from '../../ops/recipe.ts';
import { MiB } from '../../ops/sizes.ts';
import { skipUnless } from '../helpers/env.ts';

const machine: MachineFacts = { uefi: true, efivars: true, filesystems: ['vfat', 'ext4'], serial: 'SN1' };

test('the codes recipes use map to the GUIDs of the UEFI spec and the Discoverable Partitions Spec', () => {
  assert.equal(typeGuid('ef00'), 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  assert.equal(typeGuid('EF00'), 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  assert.equal(typeGuid('0700'), 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7');
  assert.equal(typeGuid('0c01'), 'e3c9e316-0b5c-4db8-817d-f92df00215ae');
  assert.equal(typeGuid('2700'), 'de94bba4-06d1-4d40-a16a-bfd50179d6ac');
  assert.equal(typeGuid('8200'), '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f');
  assert.equal(typeGuid('8300'), '0fc63daf-8483-4772-8e79-3d69d8477de4');
  assert.equal(typeGuid('8304'), '4f68bce3-e8cd-4db1-96e7-fbcaf984b709');
  assert.equal(typeGuid('ef02'), '21686148-6449-6e6f-744e-656564454649');
  assert.equal(typeGuid('4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709'), '4f68bce3-e8cd-4db1-96e7-fbcaf984b709');
  assert.equal(typeGuid('abcd'), undefined);
  assert.equal(typeGuid('constructor'), undefined, 'nothing from the object prototype');
});

test('a type code with no known GUID is refused by the recipe, naming the field; known codes and GUIDs pass', () => {
  const recipe = (type_guid: string) => ({
    task_target: 'install-linux.target',
    target_disk: '/dev/sda',
    oci_url: 'registry.test/os:1',
    partition_layout: [{ size: '100%', type_guid, format: 'ext4', mountpoint: '/' }],
  });
  assert.throws(
    () => parseRecipe(recipe('abcd')),
    (e: unknown) => e instanceof RecipeError && /\$\.partition_layout\[0\]\.type_guid: not a type code sgdisk knows/.test(e.message),
  );
  for (const ok of ['8300', 'EF00', '0fc63daf-8483-4772-8e79-3d69d8477de4', '12345678-1234-1234-1234-123456789abc']) {
    assert.equal(parseRecipe(recipe(ok)).partition_layout[0]!.type_guid, ok);
  }
});

test('every code in the table is the GUID sgdisk itself gives it', async (t) => {
  if (!skipUnless(t, ['sgdisk'])) return;
  const listed = new Set(execFileSync('sgdisk', ['-L'], { encoding: 'utf8' }).match(/(?<=^| {2})[0-9a-f]{4}(?= )/gm));
  assert.deepEqual([...listed].sort(), Object.keys(GPT_TYPE_GUIDS).sort(), 'the same codes as sgdisk -L');
  const dir = await mkdtemp(join(tmpdir(), 'gpt-types-'));
  try {
    const img = join(dir, 'types.img');
    const codes = Object.keys(GPT_TYPE_GUIDS);
    for (let from = 0; from < codes.length; from += 120) {
      const batch = codes.slice(from, from + 120);
      execFileSync('truncate', ['-s', '8M', img]);
      execFileSync('sgdisk', ['-o', '-a', '1', ...batch.flatMap((c, i) => [`--new=${i + 1}:${2048 + i * 8}:+7`, `--typecode=${i + 1}:${c}`]), img], { stdio: 'ignore' });
      const table = JSON.parse(execFileSync('sfdisk', ['--json', img], { encoding: 'utf8' })) as { partitiontable: { partitions: { type: string }[] } };
      batch.forEach((c, i) => assert.equal(table.partitiontable.partitions[i]!.type.toLowerCase(), GPT_TYPE_GUIDS[c], c));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the sfdisk script writes exactly the planned table, names with quotes, newlines and UTF-8 included', async (t) => {
  if (!skipUnless(t, ['sfdisk'])) return;
  const dir = await mkdtemp(join(tmpdir(), 'sfdisk-script-'));
  try {
    const img = join(dir, 'disk.img');
    await writeFile(img, '');
    execFileSync('truncate', ['-s', String(256 * MiB), img]);
    const disk: DiskFacts = { path: img, kind: 'image', name: 'disk.img', sizeBytes: 256 * MiB, sectorSize: 512, readOnly: false, partitions: [], inUse: [], bootMedium: false };
    const plan = makePlan(
      parseRecipe({
        task_target: 'install-linux.target',
        target_disk: img,
        oci_url: 'registry.test/os:1',
        partition_layout: [
          { size: '32M', type_guid: 'ef00', format: 'vfat', mountpoint: '/boot/efi' },
          { size: '16M', type_guid: '8200', format: 'swap', label: 'sw"ap\nx=1' },
          { size: '8M', format: 'none', label: 'données, "b"', bootable: true },
          { size: '100%', type_guid: '8300', format: 'ext4', mountpoint: '/', label: 'root' },
        ],
      }),
      disk,
      machine,
      { stopBefore: 'bootloader-linux.service' },
    );
    const script = sfdiskScript(plan);
    assert.equal(script.trimEnd().split('\n').length, 4 + plan.partitions.length, 'one line per partition, whatever the labels hold');
    execFileSync('sfdisk', ['--quiet', '--wipe', 'always', img], { input: script });
    const { partitiontable: read } = JSON.parse(execFileSync('sfdisk', ['--json', img], { encoding: 'utf8' })) as {
      partitiontable: { label: string; id: string; partitions: { start: number; size: number; type: string; uuid: string; name?: string; attrs?: string }[] };
    };
    assert.equal(read.label, 'gpt');
    assert.equal(read.id.toLowerCase(), plan.diskGuid);
    assert.deepEqual(
      read.partitions.map((p) => [p.start, p.size, p.type.toLowerCase(), p.uuid.toLowerCase(), p.name ?? '', p.attrs ?? '']),
      plan.partitions.map((p) => [
        p.startSector,
        p.endSector - p.startSector + 1,
        typeGuid(p.typeCode),
        p.partGuid,
        p.name,
        p.bootable && p.role !== 'esp' ? 'LegacyBIOSBootable' : '',
      ]),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
