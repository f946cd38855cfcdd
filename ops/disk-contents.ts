/**
 * What is on the target now, as the plan holds it (ops/disk-look.ts looks): the partition table, each filesystem
 * and its label, an OS found on it and the space in use. The recipe's `wipe` guard refuses a disk that holds
 * another OS, or data but no OS. Pure: no command, no mount.
 */
import { parseReference } from './oci/reference.ts';
import type { Recipe } from './recipe.ts';
import { formatBytes } from './sizes.ts';

export interface FoundOs {
  kind: 'linux' | 'windows';
  /** os-release ID (`debian`), or `windows`. */
  id: string;
  /** PRETTY_NAME, or the hive's ProductName. */
  name: string;
}

export interface FoundVolume {
  device: string;
  sizeBytes: number;
  fstype?: string;
  label?: string;
  usedBytes?: number;
  os?: FoundOs;
  /** Why it could not be looked into (a mount refused, an unknown filesystem). */
  note?: string;
}

export interface DiskContents {
  /** False when nothing was looked at (a disk image file, a disk in use): `note` says why. */
  examined: boolean;
  note?: string;
  partitionTable?: string;
  volumes: FoundVolume[];
}

/** Signatures of data that are not a filesystem of their own, but data all the same. */
const MEMBER_FS = ['LVM2_member', 'linux_raid_member', 'zfs_member', 'crypto_LUKS', 'bcache', 'VMFS_volume_member'];

/** One line per volume: `/dev/sdb2 ext4 "root" Debian GNU/Linux 12 (bookworm), 1.2 GiB in use`. */
export function describeContents(c: DiskContents): string[] {
  if (!c.examined) return [`(${c.note})`];
  const head = c.partitionTable ? `${c.partitionTable.toUpperCase()} partition table` : 'no partition table';
  if (!c.volumes.length) return [`${head}, no filesystem found`];
  return [
    head,
    ...c.volumes.map((v) =>
      [
        v.device,
        formatBytes(v.sizeBytes),
        v.fstype ?? 'no filesystem',
        v.label && `"${v.label}"`,
        v.os && `${v.os.name}`,
        v.usedBytes !== undefined && `${formatBytes(v.usedBytes)} in use`,
        v.note,
      ]
        .filter(Boolean)
        .join('  '),
    ),
  ];
}

/** The OS names found, for one line (the console's confirmation). */
export function contentsSummary(c: DiskContents): string {
  if (!c.examined) return c.note ?? 'not examined';
  const os = [...new Set(c.volumes.flatMap((v) => (v.os ? [v.os.name] : [])))];
  const fs = c.volumes.filter((v) => v.fstype);
  if (os.length) return `${os.join(' + ')} (${fs.length} filesystem(s))`;
  if (fs.length) return `data, no OS found: ${fs.map((v) => `${v.fstype}${v.label ? ` "${v.label}"` : ''}`).join(', ')}`;
  return 'nothing found (no filesystem)';
}

/**
 * The OS a recipe installs, as the guard compares it before anything is pulled: `windows`, or for Linux the words
 * of the last path component of oci_url's repository (`os-images/ubuntu-rootfs:22.04` -> ubuntu, rootfs).
 */
export function installedOsWords(recipe: Recipe): string[] {
  if (recipe.task_target === 'install-windows.target') return ['windows'];
  if (!recipe.oci_url) return [];
  try {
    const repo = parseReference(recipe.oci_url).repository;
    return (repo.split('/').pop() ?? '')
      .toLowerCase()
      .split(/[-_.]+/)
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Why the recipe's `wipe` guard refuses this disk; empty when it allows it (or there is no guard). */
export function wipeProblems(recipe: Recipe, path: string, c: DiskContents): string[] {
  const guard = recipe.wipe ?? 'any';
  if (guard === 'any') return [];
  if (!c.examined) return [`wipe "${guard}": what is on ${path} could not be examined (${c.note}), so it is not erased`];
  const data = c.volumes.filter((v) => v.fstype);
  if (guard === 'empty') {
    return data.length ? [`wipe "empty": ${path} is not empty: ${data.map((v) => `${v.device} ${v.fstype}${v.os ? ` (${v.os.name})` : ''}`).join(', ')}`] : [];
  }
  const words = installedOsWords(recipe);
  const oses = data.flatMap((v) => (v.os ? [{ v, os: v.os }] : []));
  const other = oses.filter(({ os }) => !words.includes(os.id));
  if (other.length) {
    return other.map(
      ({ v, os }) =>
        `wipe "empty-or-same": ${v.device} holds ${os.name} (ID ${os.id}), not the OS being installed (${words.join(' ') || 'unknown'} from ${recipe.oci_url ?? 'the recipe'})`,
    );
  }
  if (!oses.length && data.length) {
    const members = data.filter((v) => MEMBER_FS.includes(v.fstype!));
    const list = data.map((v) => `${v.device} ${v.fstype}${v.label ? ` "${v.label}"` : ''}${v.note ? ` (${v.note})` : ''}`).join(', ');
    return [`wipe "empty-or-same": ${path} holds data but no OS${members.length ? ' (RAID, LVM or encrypted members among it)' : ''}: ${list}`];
  }
  return [];
}
