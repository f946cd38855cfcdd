/**
 * What is on the target now, for the plan and the typed confirmation: the partition table, each filesystem and
 * its label, an OS found on it (os-release in a Linux filesystem, the product name in a Windows SOFTWARE hive)
 * and the space in use. Each filesystem is mounted read-only (nosuid, nodev, noexec; no journal replay) on a
 * directory of its own and let go at once: the disk is untrusted, and nothing on it is written.
 * The `wipe` guard (recipe) then refuses a disk that holds another OS, or data but no OS.
 */
import { mkdtemp, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiskFacts } from './disks.ts';
import { run } from './exec.ts';
import { resolveInRoot } from './in-root.ts';
import { readOsRelease } from './linux/os-release.ts';
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

const LINUX_FS = ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs'];
/** Signatures of data that are not a filesystem of their own, but data all the same. */
const MEMBER_FS = ['LVM2_member', 'linux_raid_member', 'zfs_member', 'crypto_LUKS', 'bcache', 'VMFS_volume_member'];
const HIVE = 'Windows/System32/config/SOFTWARE';
/** A mount or a hive read of an untrusted disk must not hang the plan. */
const TIMEOUT_MS = 60_000;

/** Read-only, nothing executable or device-like honoured, and no journal replayed (which would write). */
export function inspectMountOptions(fstype: string): string[] {
  const base = ['ro', 'nosuid', 'nodev', 'noexec'];
  if (fstype === 'ext3' || fstype === 'ext4') base.push('noload');
  if (fstype === 'xfs' || fstype === 'btrfs') base.push(fstype === 'xfs' ? 'norecovery' : 'nologreplay');
  return base;
}

async function productName(root: string): Promise<string | undefined> {
  const hive = await resolveInRoot(root, HIVE).catch(() => undefined);
  if (!hive) return undefined;
  const { stdout } = await run(['hivexget', hive, 'Microsoft\\Windows NT\\CurrentVersion', 'ProductName'], { signal: AbortSignal.timeout(TIMEOUT_MS) }).catch(() => ({ stdout: '' }));
  return stdout.trim().slice(0, 200) || 'Windows (no product name in its SOFTWARE hive)';
}

/** Mount one volume read-only, look, let go. */
async function lookInside(v: FoundVolume): Promise<FoundVolume> {
  const fstype = v.fstype!;
  const type = fstype === 'ntfs' ? 'ntfs-3g' : fstype;
  const dir = await mkdtemp(join(tmpdir(), 'shoal-install-look-'));
  try {
    await run(['mount', '-t', type, '-o', inspectMountOptions(fstype).join(','), v.device, dir], { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    await rmdir(dir).catch(() => undefined);
    const why = (e as Error).message.split('\n').find((l) => l.trim())?.trim() ?? 'mount failed';
    return { ...v, note: `could not be mounted read-only to look inside (${why.slice(0, 160)})` };
  }
  try {
    const st = await statfs(dir);
    const usedBytes = (st.blocks - st.bfree) * st.bsize;
    if (fstype === 'ntfs') {
      const name = await productName(dir);
      return { ...v, usedBytes, ...(name ? { os: { kind: 'windows', id: 'windows', name } } : {}) };
    }
    const rel = await readOsRelease(dir).catch(() => ({}) as Record<string, string>);
    const id = rel.ID?.toLowerCase().replace(/[^a-z0-9._-]/g, '').slice(0, 64);
    if (!id) return { ...v, usedBytes };
    const name = (rel.PRETTY_NAME ?? rel.NAME ?? id).replace(/[\x00-\x1f\x7f]/g, '').slice(0, 120);
    return { ...v, usedBytes, os: { kind: 'linux', id, name } };
  } finally {
    await run(['umount', dir]).catch(() => run(['umount', '--lazy', dir]).catch(() => undefined));
    await rmdir(dir).catch(() => undefined);
  }
}

async function wholeDiskSignature(disk: DiskFacts): Promise<{ fstype?: string; label?: string }> {
  const { stdout } = await run(['blkid', '--probe', '--output', 'export', disk.path], { okExitCodes: [2], signal: AbortSignal.timeout(TIMEOUT_MS) });
  const kv = Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { fstype: kv.TYPE, label: kv.LABEL };
}

/** What is on the disk now. Mounts read-only, writes nothing; a disk in use or an image file is not looked into. */
export async function diskContents(disk: DiskFacts): Promise<DiskContents> {
  if (disk.kind === 'image') return { examined: false, note: 'a disk image file: its contents are not examined', volumes: [] };
  if (disk.inUse.length) return { examined: false, note: 'in use: not examined', partitionTable: disk.partitionTable, volumes: [] };
  let volumes: FoundVolume[] = disk.partitions.map((p) => ({ device: p.path, sizeBytes: p.sizeBytes, fstype: p.fstype, label: p.label }));
  if (!disk.partitions.length && !disk.partitionTable) {
    const whole = await wholeDiskSignature(disk).catch(() => ({}) as { fstype?: string });
    volumes = whole.fstype ? [{ device: disk.path, sizeBytes: disk.sizeBytes, ...whole }] : [];
  }
  const looked: FoundVolume[] = [];
  for (const v of volumes) {
    looked.push(v.fstype && (LINUX_FS.includes(v.fstype) || v.fstype === 'ntfs') ? await lookInside(v) : v);
  }
  return { examined: true, partitionTable: disk.partitionTable, volumes: looked };
}

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
    return (repo.split('/').pop() ?? '').toLowerCase().split(/[-_.]+/).filter(Boolean);
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
    return other.map(({ v, os }) => `wipe "empty-or-same": ${v.device} holds ${os.name} (ID ${os.id}), not the OS being installed (${words.join(' ') || 'unknown'} from ${recipe.oci_url ?? 'the recipe'})`);
  }
  if (!oses.length && data.length) {
    const members = data.filter((v) => MEMBER_FS.includes(v.fstype!));
    const list = data.map((v) => `${v.device} ${v.fstype}${v.label ? ` "${v.label}"` : ''}${v.note ? ` (${v.note})` : ''}`).join(', ');
    return [`wipe "empty-or-same": ${path} holds data but no OS${members.length ? ' (RAID, LVM or encrypted members among it)' : ''}: ${list}`];
  }
  return [];
}
