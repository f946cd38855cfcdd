import { lstat, readlink, rmdir } from 'node:fs/promises';
import type { PlannedPartition } from '../plan.ts';
import { StepError, type StepContext } from '../runner.ts';
import { inImage, mkdirInRoot, resolveInRoot } from '../in-root.ts';
import { runTempDir } from '../run-dir.ts';

const depth = (mountpoint: string) => (mountpoint === '/' ? 0 : mountpoint.split('/').length - 1);

/** Root first, then parents before children (`/boot` before `/boot/efi`). */
export function mountOrder(parts: PlannedPartition[]): PlannedPartition[] {
  return parts.filter((p) => p.mountpoint).sort((a, b) => depth(a.mountpoint!) - depth(b.mountpoint!));
}

export function mountOptions(p: PlannedPartition): string[] {
  return p.format === 'vfat' ? ['-t', 'vfat', '-o', 'umask=0077'] : ['-t', p.format];
}

/**
 * Mount every filesystem of the layout under `root`, each unmounted when the install ends. A mountpoint that a
 * filesystem mounted before it makes a symlink is followed within the target (as the installed system's own
 * mount would), never onto the host; one that lands on another partition's directory (the root's among them) would
 * hide that filesystem, and is refused.
 */
export async function mountLayout(ctx: StepContext, root: string): Promise<void> {
  const used = new Map<string, number>();
  for (const p of mountOrder(ctx.plan.partitions)) {
    const dir = await mkdirInRoot(root, p.mountpoint!);
    const where = inImage(root, dir);
    if (where !== p.mountpoint) {
      if (used.has(dir)) {
        throw new StepError(`${p.mountpoint} is a symlink in the image to ${where}, where partition ${used.get(dir)} is mounted: partition ${p.number} cannot be mounted there`);
      }
      ctx.log(`${p.mountpoint} is a symlink in the image: partition ${p.number} is mounted at ${where}`, 'warn');
    }
    used.set(dir, p.number);
    const dev = ctx.state.partitionDevices[p.number]!;
    await ctx.exec(['mount', ...mountOptions(p), dev, dir]);
    ctx.defer(`unmount ${dir}`, () => ctx.exec(['umount', dir]));
  }
}

/** Mount the layout under a directory of its own, once per install. */
export async function mountTarget(ctx: StepContext): Promise<string> {
  if (ctx.state.targetRoot) return ctx.state.targetRoot;
  const root = await runTempDir('target-');
  // Registered first, so it runs last: after every unmount below, the empty directory goes too.
  ctx.defer(`remove ${root}`, () => rmdir(root).catch(() => undefined));
  await mountLayout(ctx, root);
  ctx.state.targetRoot = root;
  return root;
}

/** A bind target must be the image's own directory: a symlink there would carry the mount somewhere else. */
async function bindTarget(root: string, dir: string): Promise<string> {
  const target = `${root}${dir}`;
  const st = await lstat(target).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    throw new StepError(
      `${dir} in the image is a symlink (to ${await readlink(target)}): the live ${dir} is bind-mounted there for grub-install, which needs a real directory`,
      `make ${dir} a directory in the image`,
    );
  }
  if (st && !st.isDirectory()) throw new StepError(`${dir} in the image is not a directory: the live ${dir} cannot be bind-mounted there for grub-install`);
  return mkdirInRoot(root, dir);
}

/** Bind the live /dev, /proc, /sys, /run (and efivars) into the target for chroot tools; undone at the end. */
export async function bindSystemDirs(ctx: StepContext, root: string, efivars: boolean): Promise<void> {
  for (const dir of ['/dev', '/proc', '/sys', '/run']) {
    const target = await bindTarget(root, dir);
    await ctx.exec(['mount', '--rbind', '--make-rslave', dir, target]);
    ctx.defer(`unmount ${target}`, () => ctx.exec(['umount', '--recursive', '--lazy', target]));
  }
  if (efivars) {
    // Inside the live /sys just bound, so resolved within the target like every other path.
    const target = await resolveInRoot(root, '/sys/firmware/efi/efivars');
    await ctx.exec(['mount', '-t', 'efivarfs', 'efivarfs', target], { okExitCodes: [32] });
  }
}
