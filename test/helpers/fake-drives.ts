/**
 * A stand-in for a machine's drives, for the unit tests of finding the task ISO: a sysfs tree laid out as the
 * kernel lays it out (/sys/block/NAME -> ../devices/.../block/NAME, /sys/dev/block/MAJ:MIN), /dev nodes as plain
 * files, a mountinfo that says where the boot medium is, and a mount that copies a directory playing the medium
 * (this kernel has no iso9660; the VM test mounts real ISOs).
 */
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { SysfsView } from '../../ops/task-iso.ts';

export interface FakeDisk {
  /** sr: a SCSI CD-ROM; usb: a USB disk (not flagged removable, as BMC virtual disks often are not); removable: an SD card reader, say; fixed: a SATA disk. */
  kind: 'sr' | 'usb' | 'removable' | 'fixed';
  devno: string;
  /** Files at the medium's root, or no medium in the drive. */
  medium?: Record<string, string> | 'none';
  /** Partition name -> its MAJ:MIN. */
  partitions?: Record<string, string>;
}

export interface FakeMachine {
  view: Required<SysfsView>;
  /** Where the task ISO gets mounted. */
  at: string;
  /** `mount NAME` / `umount NAME`, in order. */
  calls: string[];
  mount: (device: string, at: string) => Promise<() => Promise<void>>;
  /** A drive that shows up later (virtual media attached a few seconds after boot). */
  insert: (name: string, disk: FakeDisk) => Promise<void>;
}

const DEVICE_DIRS: Record<FakeDisk['kind'], string> = {
  sr: 'devices/pci0000:00/0000:00:03.0/virtio0/host2/target2:0:0/2:0:0:NUM',
  usb: 'devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:NUM',
  removable: 'devices/pci0000:00/0000:00:1d.0/host7/target7:0:0/7:0:0:NUM',
  fixed: 'devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:NUM',
};

/** `bootMounts`: mount point -> the MAJ:MIN mounted there (e.g. `/run/live/medium` -> `11:0`). */
export async function fakeMachine(base: string, disks: Record<string, FakeDisk>, bootMounts: Record<string, string> = {}): Promise<FakeMachine> {
  const sys = join(base, 'sys');
  const dev = join(base, 'dev');
  const at = join(base, 'mnt');
  const mountinfo = join(base, 'mountinfo');
  const media = new Map<string, string>();
  const calls: string[] = [];
  await mkdir(join(sys, 'block'), { recursive: true });
  await mkdir(join(sys, 'dev/block'), { recursive: true });
  await mkdir(dev, { recursive: true });
  await mkdir(at, { recursive: true });
  let n = 0;

  const insert = async (name: string, disk: FakeDisk) => {
    const dir = join(sys, DEVICE_DIRS[disk.kind].replace('NUM', String(n++)), 'block', name);
    await mkdir(join(dir, 'device'), { recursive: true });
    await writeFile(join(dir, 'removable'), `${disk.kind === 'sr' || disk.kind === 'removable' ? 1 : 0}\n`);
    await writeFile(join(dir, 'size'), `${disk.medium === 'none' ? 0 : 2048}\n`);
    await writeFile(join(dir, 'device/type'), `${disk.kind === 'sr' ? 5 : 0}\n`);
    await symlink(join('../../', relative(sys, dir)), join(sys, 'dev/block', disk.devno));
    for (const [part, devno] of Object.entries(disk.partitions ?? {})) {
      await mkdir(join(dir, part), { recursive: true });
      await writeFile(join(dir, part, 'partition'), '1\n');
      await symlink(join('../../', relative(sys, join(dir, part))), join(sys, 'dev/block', devno));
    }
    if (disk.medium && disk.medium !== 'none') {
      const content = join(base, `${name}.medium`);
      await mkdir(content, { recursive: true });
      for (const [f, text] of Object.entries(disk.medium)) await writeFile(join(content, f), text);
      media.set(join(dev, name), content);
    }
    // Last: a poll never sees a half-made drive.
    await writeFile(join(dev, name), '');
    await symlink(join('..', relative(sys, dir)), join(sys, 'block', name));
  };
  for (const [name, disk] of Object.entries(disks)) await insert(name, disk);
  await writeFile(
    mountinfo,
    Object.entries(bootMounts)
      .map(([point, devno], i) => `${30 + i} 1 ${devno} / ${point} ro,noatime shared:${i} - iso9660 /dev/x ro\n`)
      .join(''),
  );

  const mount = async (device: string, where: string) => {
    const name = relative(dev, device);
    calls.push(`mount ${name}`);
    const content = media.get(device);
    if (!content) throw new Error(`mount: ${device}: no medium found`);
    await cp(content, where, { recursive: true });
    return async () => {
      calls.push(`umount ${name}`);
      await rm(where, { recursive: true, force: true });
      await mkdir(where);
    };
  };
  return { view: { sysRoot: sys, devDir: dev, mountinfo }, at, calls, mount, insert };
}
