import type { PlannedPartition } from '../plan.ts';

/** fsck pass: root first, other ext filesystems after; xfs and btrfs are never fscked at boot. */
function passOf(p: PlannedPartition): number {
  if (p.format !== 'ext4' && p.format !== 'vfat') return 0;
  return p.mountpoint === '/' ? 1 : 2;
}

function optionsOf(p: PlannedPartition): string {
  if (p.format === 'vfat') return 'umask=0077';
  if (p.mountpoint === '/' && p.format === 'ext4') return 'errors=remount-ro';
  return 'defaults';
}

/** fstab naming every mounted filesystem and swap by UUID, in mount order. */
export function renderFstab(parts: PlannedPartition[], uuids: Record<number, string>, ordered: PlannedPartition[]): string {
  const lines = ["# Written by shoal-install from the recipe's partition layout.", '# <file system> <mount point> <type> <options> <dump> <pass>'];
  for (const p of ordered) lines.push(`UUID=${uuids[p.number]} ${p.mountpoint} ${p.format} ${optionsOf(p)} 0 ${passOf(p)}`);
  for (const p of parts.filter((q) => q.format === 'swap')) lines.push(`UUID=${uuids[p.number]} none swap sw 0 0`);
  return `${lines.join('\n')}\n`;
}
