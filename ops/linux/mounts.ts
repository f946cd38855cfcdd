import { mkdir, mkdtemp, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PlannedPartition } from '../plan.ts';
import type { StepContext } from '../runner.ts';

const depth = (mountpoint: string) => (mountpoint === '/' ? 0 : mountpoint.split('/').length - 1);

/** Root first, then parents before children (`/boot` before `/boot/efi`). */
export function mountOrder(parts: PlannedPartition[]): PlannedPartition[] {
  return parts.filter((p) => p.mountpoint).sort((a, b) => depth(a.mountpoint!) - depth(b.mountpoint!));
}

export function mountOptions(p: PlannedPartition): string[] {
  return p.format === 'vfat' ? ['-t', 'vfat', '-o', 'umask=0077'] : ['-t', p.format];
}

async function makeTargetDir(): Promise<string> {
  await mkdir('/run/shoal-install', { recursive: true, mode: 0o700 }).catch(() => undefined);
  return mkdtemp('/run/shoal-install/target-').catch(() => mkdtemp('/tmp/shoal-install-target-'));
}

/** Mount every filesystem of the layout under one directory, each unmounted when the install ends. */
export async function mountTarget(ctx: StepContext): Promise<string> {
  if (ctx.state.targetRoot) return ctx.state.targetRoot;
  const root = await makeTargetDir();
  // Registered first, so it runs last: after every unmount below, the empty directory goes too.
  ctx.defer(`remove ${root}`, () => rmdir(root).catch(() => undefined));
  for (const p of mountOrder(ctx.plan.partitions)) {
    const dir = join(root, p.mountpoint!);
    await mkdir(dir, { recursive: true });
    const dev = ctx.state.partitionDevices[p.number]!;
    await ctx.exec(['mount', ...mountOptions(p), dev, dir]);
    ctx.defer(`unmount ${dir}`, () => ctx.exec(['umount', dir]));
  }
  ctx.state.targetRoot = root;
  return root;
}

/** Bind the live /dev, /proc, /sys, /run (and efivars) into the target for chroot tools; undone at the end. */
export async function bindSystemDirs(ctx: StepContext, root: string, efivars: boolean): Promise<void> {
  for (const dir of ['/dev', '/proc', '/sys', '/run']) {
    const target = join(root, dir);
    await mkdir(target, { recursive: true });
    await ctx.exec(['mount', '--rbind', '--make-rslave', dir, target]);
    ctx.defer(`unmount ${target}`, () => ctx.exec(['umount', '--recursive', '--lazy', target]));
  }
  if (efivars) {
    const target = join(root, '/sys/firmware/efi/efivars');
    await ctx.exec(['mount', '-t', 'efivarfs', 'efivarfs', target], { okExitCodes: [32] });
  }
}
