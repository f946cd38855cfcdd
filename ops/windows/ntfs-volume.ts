// The Windows partition before and after wimapply. wimlib's NTFS-3G mode writes the raw volume and does not
// check that nothing has it mounted (docs/windows.md): a mounted volume would be corrupted, so we check.
// Afterwards ntfs-3g mounts it (FUSE: this kernel has no ntfs driver) to place unattend.xml and read boot files.
import { constants } from 'node:fs';
import { open, readFile, realpath, rmdir, stat } from 'node:fs/promises';
import { parseMountinfo } from '../mountinfo.ts';
import { runTempDir } from '../run-dir.ts';
import { StepError, type StepContext } from '../runner.ts';

/** Refuse unless `device` is neither mounted, nor swap, nor held open exclusively (by a mount, RAID, device-mapper). */
export async function assertNotMounted(device: string): Promise<void> {
  const real = await realpath(device);
  const st = await stat(real);
  const devNumber = `${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;
  const rows = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const sources = await Promise.all(rows.map((r) => (r.source.startsWith('/') ? realpath(r.source).catch(() => r.source) : r.source)));
  const hit = rows.find((r, i) => sources[i] === real || (r.devNumber === devNumber && r.fstype !== 'devtmpfs'));
  const what = `wimapply writes ${device} as a raw NTFS volume`;
  if (hit) throw new StepError(`${device} is mounted at ${hit.mountpoint} (${hit.fstype}): ${what}`, `unmount it first (umount ${hit.mountpoint})`);
  const swaps = (await readFile('/proc/swaps', 'utf8').catch(() => ''))
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0]);
  if (swaps.includes(real) || swaps.includes(device)) throw new StepError(`${device} is active swap: ${what}`, `swapoff ${device}`);
  // O_EXCL on a block device fails with EBUSY while a filesystem, md or dm holds it: catches what mountinfo cannot name.
  const fd = await open(real, constants.O_RDONLY | constants.O_EXCL).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EBUSY') throw new StepError(`${device} is in use (busy): ${what}`, 'see lsblk and /sys/class/block/*/holders for what holds it');
    throw e;
  });
  await fd.close();
}

/** How the plan shows the mount directory, which gets a random name at run time. */
export const WINDOWS_MOUNT_SHOWN = '/run/shoal-install/windows-XXXX';

export const ntfsMountCommand = (device: string, dir: string, readOnly: boolean) => ['ntfs-3g', ...(readOnly ? ['-o', 'ro'] : []), device, dir];

/**
 * Mount the Windows volume with ntfs-3g for the rest of the install (unmounted, then its directory removed, when
 * the install ends). `umount` of a fuseblk mount returns once ntfs-3g has synced the volume.
 */
export async function mountNtfs(ctx: StepContext, device: string, readOnly: boolean): Promise<string> {
  const dir = await runTempDir('windows-');
  await ctx.exec(ntfsMountCommand(device, dir, readOnly));
  ctx.defer(`unmount ${dir}`, async () => {
    await ctx.exec(['umount', dir]);
    await rmdir(dir);
  });
  return dir;
}
