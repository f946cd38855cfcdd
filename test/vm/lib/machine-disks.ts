/**
 * A server with three disks on three buses, each with its own serial (and the SCSI one a WWN) and size: the blank
 * install target on virtio-blk, another OS on a SCSI disk (virtio-scsi, beside the virtual CDs) and a data disk on
 * NVMe. What a recipe's target_disk_hints and the `wipe` guard choose among, and what must keep its bytes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256File } from '../../helpers/disk.ts';
import type { VmDisk } from './qemu.ts';
import { blankDisk, TARGET_DISK_BYTES } from './scenario.ts';
import { sh } from './sh.ts';

const MiB = 2 ** 20;

export const TARGET_SERIAL = 'SHOAL-VIRTIO-0001';
export const OTHER_OS_SERIAL = 'SHOAL-SCSI-0002';
export const OTHER_OS_WWN = '0x5000c500a1b2c3d4';
export const DATA_SERIAL = 'SHOAL-NVME-0003';
/**
 * Sizes apart, the non-targets small enough to hash quickly: the target 4 GiB; the other OS 1.5 GiB, where the
 * recipe's layout fits (a refusal onto it is the guard's alone); the data disk 256 MiB.
 */
export const OTHER_OS_BYTES = 1536 * MiB;
export const DATA_BYTES = 256 * MiB;
/** What the guest calls them: the only virtio-blk disk, the only SCSI disk (the CDs are sr0, sr1), the only NVMe one. */
export const GUEST = { target: '/dev/vda', otherOs: '/dev/sda', data: '/dev/nvme0n1' } as const;
/** The other OS's os-release, as the `wipe` guard reads it. */
export const OTHER_OS = { id: 'fedora', name: 'Fedora Linux 40 (Server Edition)' } as const;

export interface MachineDisks {
  target: string;
  otherOs: string;
  data: string;
  /** In this order: virtio-blk, SCSI, NVMe. */
  vmDisks: VmDisk[];
}

/**
 * A GPT disk image with one ext4 partition (1 MiB in, to 1 MiB before the end) holding `files`; no loop device:
 * mkfs.ext4 writes the filesystem at the partition's offset and populates it from a directory.
 */
async function ext4Disk(path: string, bytes: number, label: string, files: Record<string, string>): Promise<string> {
  await blankDisk(path, bytes);
  const partBytes = bytes - 2 * MiB;
  await sh(['sgdisk', '--new', `1:2048:+${partBytes / 1024}K`, '--typecode', '1:8300', '--change-name', `1:${label}`, path]);
  const tree = await mkdtemp(join(dirname(path), '.tree-'));
  try {
    for (const [at, content] of Object.entries(files)) {
      await mkdir(dirname(join(tree, at)), { recursive: true });
      await writeFile(join(tree, at), content);
    }
    await sh(['mkfs.ext4', '-q', '-F', '-L', label, '-d', tree, '-E', `offset=${MiB}`, path, `${partBytes / 1024}k`]);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
  return path;
}

/** The three disks in `dir`: a blank target, another OS (Fedora's os-release in an ext4 partition), and a data disk (ext4, no OS). */
export async function makeMachineDisks(dir: string): Promise<MachineDisks> {
  const target = await blankDisk(join(dir, 'target.img'), TARGET_DISK_BYTES);
  const otherOs = await ext4Disk(join(dir, 'other-os.img'), OTHER_OS_BYTES, 'fedora-root', {
    'etc/os-release': `NAME="Fedora Linux"\nID=${OTHER_OS.id}\nVERSION_ID=40\nPRETTY_NAME="${OTHER_OS.name}"\n`,
    'home/admin/notes.txt': 'data that must survive a reinstall elsewhere\n',
  });
  const data = await ext4Disk(join(dir, 'data.img'), DATA_BYTES, 'data', { 'projects/readme.txt': 'a data disk, no OS\n' });
  return {
    target,
    otherOs,
    data,
    vmDisks: [
      { path: target, format: 'raw', bus: 'virtio', serial: TARGET_SERIAL },
      { path: otherOs, format: 'raw', bus: 'scsi', serial: OTHER_OS_SERIAL, wwn: OTHER_OS_WWN },
      { path: data, format: 'raw', bus: 'nvme', serial: DATA_SERIAL },
    ],
  };
}

/** Each disk's digest, to compare before and after a run. */
export async function diskDigests(disks: Record<string, string>): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(Object.entries(disks).map(async ([k, path]) => [k, await sha256File(path)] as const)));
}
