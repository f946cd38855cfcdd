// partition.service on a real loop disk that held another GPT: a damaged backup (or primary) GPT and old signatures
// in the new partitions leave exactly the planned table, and nothing of the old one.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resultOf, runCli } from '../helpers/cli.ts';
import { loopsOf, makeDiskImage, sh } from '../helpers/disk.ts';
import { skipUnless } from '../helpers/env.ts';

const TOOLS = ['losetup', 'sgdisk', 'sfdisk', 'partx', 'mkfs.ext4', 'blkid'];
const MiB = 1024 * 1024;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-partition-'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A 512 MiB disk with a three-partition GPT and an ext4 at 1 MiB, then one copy of its GPT overwritten. */
function oldDisk(name: string, damage: 'backup' | 'primary'): string {
  const disk = makeDiskImage(join(work, name), '512M');
  sh(`sgdisk --clear --new=1:2048:+100M --change-name=1:old-one --new=2:0:+100M --new=3:0:0 --typecode=3:8e00 ${disk} >/dev/null`);
  sh(`mkfs.ext4 -q -F -L oldfs -E offset=${MiB} ${disk} 32M`);
  // The header and the entries: the last 33 sectors, or sectors 1 to 33.
  const seek = damage === 'backup' ? 512 * 2048 - 33 : 1;
  sh(`dd if=/dev/urandom of=${disk} bs=512 seek=${seek} count=33 conv=notrunc status=none`);
  return disk;
}

for (const damage of ['backup', 'primary'] as const) {
  test(`a disk whose ${damage} GPT is damaged ends with exactly the planned table, old signatures gone`, async (t) => {
    if (!skipUnless(t, TOOLS)) return;
    const disk = oldDisk(`${damage}.img`, damage);
    assert.match(sh(`sgdisk --verify ${disk} 2>&1 || true`), /(corrupt|damaged|CRC|Problem)/i, 'the old GPT is damaged to begin with');
    const recipe = join(work, `${damage}.json`);
    await writeFile(
      recipe,
      JSON.stringify({
        task_target: 'install-linux.target',
        target_disk: disk,
        oci_url: 'registry.invalid/os/rootfs:1',
        partition_layout: [
          { size: '64M', format: 'none', label: 'scratch' },
          { size: '100%', format: 'ext4', mountpoint: '/', label: 'root' },
        ],
      }),
    );
    const r = await runCli(['install', '--recipe', recipe, '--yes', '--json', '--stop-before', 'image-linux.service']);
    const result = resultOf(r);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(result?.ok, r.stderr);
    assert.equal(loopsOf(disk), '', 'the loop device is detached');

    assert.match(sh(`sgdisk --verify ${disk}`), /No problems found/);
    const { partitiontable: gpt } = JSON.parse(sh(`sfdisk --json ${disk}`)) as {
      partitiontable: { label: string; partitions: { start: number; size: number; type: string; uuid: string; name: string }[] };
    };
    assert.equal(gpt.label, 'gpt');
    // 512 MiB of 512-byte sectors: the last usable sector is 1048542, and the root ends at the last whole MiB.
    assert.deepEqual(
      gpt.partitions.map((p) => [p.start, p.size, p.type.toLowerCase(), p.uuid.toLowerCase(), p.name]),
      [
        [2048, 64 * 2048, '0fc63daf-8483-4772-8e79-3d69d8477de4', result.partitions[0]!.partGuid, 'scratch'],
        [2048 + 64 * 2048, 1046528 - (2048 + 64 * 2048), '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', result.partitions[1]!.partGuid, 'root'],
      ],
    );
    // The old ext4 sat where the new (unformatted) first partition starts: wiped, not left for a later probe to find.
    assert.equal(sh(`blkid --probe --offset ${MiB} --output export ${disk} || true`).trim(), '', 'no signature left at 1 MiB');
    assert.match(sh(`blkid --probe --offset ${65 * MiB} --output export ${disk}`), new RegExp(`^UUID=${result.partitions[1]!.fsUuid}$`, 'm'));
  });
}
