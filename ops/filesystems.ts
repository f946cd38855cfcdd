import type { PlannedPartition } from './plan.ts';

/** FAT32 needs 65525 clusters; below this mkfs.vfat picks FAT12/16, which small volumes like cidata need. */
const FAT32_MIN_BYTES = 64 * 1024 * 1024;

/**
 * The mkfs command for a planned partition, or none for raw/none/MSR. UUIDs chosen by the plan are
 * passed in so fstab and boot entries are known before anything is written.
 * `startSector` is the partition's real start, which mkntfs cannot read on loop devices.
 */
export function mkfsCommand(p: PlannedPartition, device: string, startSector: number): string[] | undefined {
  const label = (flag: string) => (p.label ? [flag, p.label] : []);
  switch (p.format) {
    case 'vfat':
      return ['mkfs.vfat', ...(p.sizeBytes >= FAT32_MIN_BYTES ? ['-F', '32'] : []), ...(p.fsUuid ? ['-i', p.fsUuid.replace('-', '')] : []), ...label('-n'), device];
    case 'ext4':
      return ['mkfs.ext4', '-F', '-q', ...(p.fsUuid ? ['-U', p.fsUuid] : []), ...label('-L'), device];
    case 'xfs':
      return ['mkfs.xfs', '-f', '-q', ...(p.fsUuid ? ['-m', `uuid=${p.fsUuid}`] : []), ...label('-L'), device];
    case 'btrfs':
      return ['mkfs.btrfs', '-f', '-q', ...(p.fsUuid ? ['-U', p.fsUuid] : []), ...label('-L'), device];
    case 'swap':
      return ['mkswap', ...(p.fsUuid ? ['-U', p.fsUuid] : []), ...label('-L'), device];
    case 'ntfs':
      return ['mkfs.ntfs', '--fast', '--force', '-p', String(startSector), '-H', '255', '-S', '63', ...label('-L'), device];
    case 'raw':
    case 'none':
      return undefined;
  }
}

/** `blkid -o export` output -> its fields. */
export function parseBlkid(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
